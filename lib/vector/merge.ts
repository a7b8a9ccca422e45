// This module uses no Deno APIs.
/**
 * Merging the results of a vector phase's run shards (`shard: "I/N"` on vec-load, vec-query or
 * vec-run, on several processes, machines or pods) into the result one run would have given:
 * counts add up; recall is the mean over every scored query (from the shards' sums) and its
 * percentiles come from the merged recall bins; latency percentiles come from the merged HDR
 * histograms (never averages of percentiles); rates are over the merged wall-clock window; the
 * per-second series align on the wall clock; the server's own figures are shard 0's.
 *
 * @module
 */
import { MembenchError } from "../errors/mod.ts";
import { checkShardSet, shardIncomplete } from "../workload/mod.ts";
import { type CommandMetricsData, mergeCommandMetrics, summarizeEncoded } from "../metrics/mod.ts";
import type {
  RecallSummary,
  VectorLoadResult,
  VectorMergeSummary,
  VectorQueryResult,
  VectorShardInfo,
} from "./search_types.ts";
import type { LoadedSegment } from "./truth.ts";

const RECALL_BINS = 10_000;

/** Options for the vector merges. */
export interface VectorMergeOptions {
  /** Shards expected; by default the count the results carry. */
  shards?: number;
  /**
   * Merge what is there when a shard is missing, failed or was interrupted (listed in
   * `shards.missing` / `shards.failed`); otherwise that is an error naming the shard.
   * @default {false}
   */
  allowIncomplete?: boolean;
}

/** What a recall summary is made of: the scored queries' sum, extremes and bins. */
export interface RecallParts {
  scored: number;
  sum: number;
  min: number;
  max: number;
  ties: number;
  /** `[bin, queries]`: recall `bin / 10000`. */
  bins: ReadonlyArray<readonly [number, number]>;
}

/**
 * A recall summary from its parts: mean `sum / scored`, p5/p50/p95 the smallest bin whose
 * cumulative count reaches the rank, the 21-bucket histogram; `keepParts` keeps `sum` and
 * `bins` (a shard's result, for a merge). vec-query and the merge both build their summary
 * here, so a merged summary is computed exactly as one run's.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const r = recallSummaryOf({ scored: 4, sum: 3.5, min: 0.5, max: 1, ties: 0, bins: [[5000, 1], [10000, 3]] });
 * assert.equal(r.mean, 0.875);
 * assert.equal(r.p50, 1);
 * assert.equal(r.histogram[20], 3);
 * ```
 */
export function recallSummaryOf(p: RecallParts, keepParts = false): RecallSummary {
  const n = p.scored;
  const bins = [...p.bins].sort((a, b) => a[0] - b[0]);
  const at = (q: number) => {
    if (n === 0) return 0;
    const rank = Math.max(1, Math.ceil((q / 100) * n));
    let seen = 0;
    for (const [bin, c] of bins) {
      seen += c;
      if (seen >= rank) return bin / RECALL_BINS;
    }
    return 1;
  };
  const histogram = new Array<number>(21).fill(0);
  for (const [bin, c] of bins) {
    if (c === 0) continue;
    histogram[bin >= RECALL_BINS ? 20 : Math.floor((bin / RECALL_BINS) * 20)]! += c;
  }
  return {
    scored: n,
    mean: n ? p.sum / n : 0,
    min: n ? p.min : 0,
    p5: at(5),
    p50: at(50),
    p95: at(95),
    max: n ? p.max : 0,
    ties: p.ties,
    histogram,
    ...(keepParts ? { sum: p.sum, bins: bins.map(([b, c]) => [b, c] as [number, number]) } : {}),
  };
}

interface Sharded {
  kind: string;
  shard?: VectorShardInfo;
  interrupted: boolean;
  failure?: { code: string; message: string };
}

// Checks that the results are shards of one run; returns them in shard order and the summary.
function checkShards<T extends Sharded>(
  results: readonly T[],
  what: string,
  kinds: readonly string[],
  settings: (r: T) => Record<string, unknown>,
  o: VectorMergeOptions,
): { sorted: T[]; summary: VectorMergeSummary } {
  if (results.length === 0) {
    throw new MembenchError("invalid_argument", `Cannot merge ${what} results: none given`);
  }
  for (const [i, r] of results.entries()) {
    if (r === null || typeof r !== "object" || !kinds.includes(r.kind)) {
      throw new MembenchError(
        "invalid_argument",
        `Cannot merge result ${i + 1}: it is not a ${what} result (kind ${
          JSON.stringify((r as { kind?: unknown } | null)?.kind)
        })`,
      );
    }
    if (r.shard === undefined) {
      throw new MembenchError(
        "invalid_argument",
        `Cannot merge result ${i + 1}: it is not a shard (run with --shard I/N)`,
      );
    }
  }
  const { count, order, missing, failed } = checkShardSet(
    results.map((r) => ({
      shard: r.shard!,
      settings: settings(r),
      incomplete: shardIncomplete(r),
      failureCode: r.failure?.code,
    })),
    { what, shards: o.shards, allowIncomplete: o.allowIncomplete },
  );
  const sorted = order.map((i) => results[i]!);
  const starts = sorted.map((r) => r.shard!.firstSendMs).filter((x) => x > 0);
  return {
    sorted,
    summary: {
      count,
      merged: sorted.map((r) => r.shard!.index),
      missing,
      failed,
      startSpreadMs: starts.length > 1 ? Math.max(...starts) - Math.min(...starts) : 0,
    },
  };
}

function addErrors(parts: ReadonlyArray<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of parts) for (const [k, v] of Object.entries(p)) out[k] = (out[k] ?? 0) + v;
  return out;
}

// The shards' latency, their per-second series shifted onto the earliest shard's clock.
function mergeLatency(
  parts: ReadonlyArray<{ latency: CommandMetricsData; shard?: VectorShardInfo }>,
): CommandMetricsData {
  const origin = Math.min(...parts.map((p) => p.shard!.startMs));
  return mergeCommandMetrics(parts.map((p) => {
    const shift = Math.round((p.shard!.startMs - origin) / 1000);
    return {
      ...p.latency,
      series: p.latency.series.map((s) => ({ ...s, second: s.second + shift })),
    };
  }));
}

function window(parts: ReadonlyArray<{ shard?: VectorShardInfo }>): {
  first: number;
  last: number;
  end: number;
} {
  const sent = parts.filter((p) => p.shard!.firstSendMs > 0);
  if (sent.length === 0) {
    const end = Math.max(...parts.map((p) => p.shard!.endMs));
    return { first: 0, last: 0, end };
  }
  return {
    first: Math.min(...sent.map((p) => p.shard!.firstSendMs)),
    last: Math.max(...sent.map((p) => p.shard!.lastReplyMs)),
    end: Math.max(...parts.map((p) => p.shard!.endMs)),
  };
}

/**
 * Merges the results of a vec-query phase's shards into one result, as if one process had run
 * every client: sent, completed, errors, partial replies and timeouts add up; recall is the mean
 * over all scored queries (the shards' recall sums over their scored counts) with percentiles
 * and histogram from the merged recall bins; latency from the merged encoded histograms; QPS
 * over the merged wall-clock window (first send to last reply of any shard).
 *
 * @example Usage
 * ```ts ignore
 * const parts = await Promise.all(files.map(async (f) => JSON.parse(await Deno.readTextFile(f))));
 * const merged = mergeVectorQueryResults(parts);
 * console.log(merged.recall.mean, merged.summary.p99Us);
 * ```
 * @throws {MembenchError} `invalid_argument` when the results are not shards of one query phase
 *   (no shard, other settings, a shard twice, a result without recall bins); `file` naming a
 *   missing shard and the failed shard's code naming a failed one, unless `allowIncomplete`.
 */
export function mergeVectorQueryResults(
  results: readonly VectorQueryResult[],
  options: VectorMergeOptions = {},
): VectorQueryResult {
  const { sorted, summary } = checkShards(results, "vec-query", ["vector-query"], (r) => ({
    platform: r.platform,
    target: r.target,
    index: r.index,
    k: r.k,
    efRuntime: r.efRuntime,
    filter: r.filter,
    query: r.query,
    openLoop: r.openLoop,
    truth: [r.truth.matched, r.truth.depth, r.truth.queries],
  }), options);
  for (const r of sorted) {
    if (r.recall.bins === undefined || r.recall.sum === undefined) {
      throw new MembenchError(
        "invalid_argument",
        `Cannot merge vec-query shard ${r.shard!.index}: its result has no recall bins ` +
          "(written by an older membench?)",
      );
    }
  }
  const first = sorted[0]!;
  const latency = mergeLatency(sorted);
  const w = window(sorted);
  const durationMs = w.first > 0 ? Math.max(0, w.last - w.first) : 0;
  const completed = sorted.reduce((a, r) => a + r.completed, 0);
  const scoredParts = sorted.filter((r) => r.recall.scored > 0);
  const bins = new Map<number, number>();
  for (const r of sorted) for (const [b, c] of r.recall.bins!) bins.set(b, (bins.get(b) ?? 0) + c);
  const recall = recallSummaryOf({
    scored: sorted.reduce((a, r) => a + r.recall.scored, 0),
    sum: sorted.reduce((a, r) => a + r.recall.sum!, 0),
    min: scoredParts.length ? Math.min(...scoredParts.map((r) => r.recall.min)) : 0,
    max: scoredParts.length ? Math.max(...scoredParts.map((r) => r.recall.max)) : 0,
    ties: sorted.reduce((a, r) => a + r.recall.ties, 0),
    bins: [...bins.entries()],
  });
  const rates = sorted.map((r) => r.ratePerSec).filter((x): x is number => x !== undefined);
  const server = sorted.find((r) => r.server)?.server;
  const failure = sorted.find((r) => r.failure)?.failure;
  const {
    shard: _s,
    server: _v,
    failure: _f,
    ratePerSec: _r,
    ...base
  } = first;
  return {
    ...base,
    sent: sorted.reduce((a, r) => a + r.sent, 0),
    completed,
    errors: addErrors(sorted.map((r) => r.errors)),
    partial: sorted.reduce((a, r) => a + r.partial, 0),
    timeouts: sorted.reduce((a, r) => a + r.timeouts, 0),
    ...(rates.length > 0 ? { ratePerSec: rates.reduce((a, x) => a + x, 0) } : {}),
    late: sorted.reduce((a, r) => a + r.late, 0),
    durationMs,
    qps: durationMs > 0 ? completed / (durationMs / 1000) : 0,
    latency,
    summary: summarizeEncoded(
      first.openLoop && latency.response ? latency.response : latency.service,
    ),
    recall,
    truth: { ...first.truth, elapsedMs: Math.max(...sorted.map((r) => r.truth.elapsedMs)) },
    reconnects: sorted.reduce((a, r) => a + r.reconnects, 0),
    interrupted: sorted.some((r) => r.interrupted),
    ...(server ? { server } : {}),
    ...(failure ? { failure } : {}),
    shards: summary,
  };
}

/**
 * Merges the results of a vec-load phase's shards into one result, as if one process had
 * written every row: requests, sends and successes add up; load time is the merged wall-clock
 * window (first HSET of any shard to the last reply of any), index wait from there to the last
 * shard's settled index; vectors/s and HSETs/s over those windows; the index figures (documents,
 * memory after, sizes) from the shard that finished last, `used_memory` before from the first;
 * the segments are all shards' rows.
 *
 * @throws {MembenchError} as {@linkcode mergeVectorQueryResults}.
 */
export function mergeVectorLoadResults(
  results: readonly VectorLoadResult[],
  options: VectorMergeOptions = {},
): VectorLoadResult {
  const { sorted, summary } = checkShards(
    results,
    "vec-load",
    ["vector-load", "vector-update", "vector-delete"],
    (r) => ({
      kind: r.kind,
      platform: r.platform,
      target: r.target,
      index: r.index,
      prefix: r.prefix,
      field: r.field,
      algorithm: r.algorithm,
      type: r.type,
      dim: r.dim,
      metric: r.metric,
      runSegments: r.shard?.runSegments,
    }),
    options,
  );
  const first = sorted[0]!;
  const last = sorted.reduce((a, r) => (r.shard!.endMs > a.shard!.endMs ? r : a), first);
  const w = window(sorted);
  const loadMs = w.first > 0 ? Math.max(0, w.last - w.first) : 0;
  const waited = sorted.some((r) => r.indexWaitMs > 0);
  const indexWaitMs = waited && w.first > 0 ? Math.max(0, w.end - Math.max(w.last, w.first)) : 0;
  const ok = sorted.reduce((a, r) => a + r.ok, 0);
  const total = (loadMs + indexWaitMs) / 1000;
  const creator = sorted.find((r) => r.shard!.index === 0);
  const before = Math.min(...sorted.map((r) => r.memory.before));
  const server = sorted.find((r) => r.server)?.server;
  const failure = sorted.find((r) => r.failure)?.failure;
  const {
    shard: _s,
    server: _v,
    failure: _f,
    ftCreate: _c,
    ...base
  } = first;
  return {
    ...base,
    ...(creator?.ftCreate ? { ftCreate: creator.ftCreate } : {}),
    dropped: creator?.dropped ?? false,
    requested: sorted.reduce((a, r) => a + r.requested, 0),
    sent: sorted.reduce((a, r) => a + r.sent, 0),
    ok,
    errors: addErrors(sorted.map((r) => r.errors)),
    loadMs,
    indexWaitMs,
    vectorsPerSec: total > 0 ? ok / total : 0,
    requestsPerSec: loadMs > 0 ? ok / (loadMs / 1000) : 0,
    numDocs: last.numDocs,
    // Each shard counts the server's new indexing failures: the latest count has them all.
    indexFailures: Math.max(...sorted.map((r) => r.indexFailures)),
    memory: {
      ...last.memory,
      before,
      growth: last.memory.after - before,
    },
    latency: mergeLatency(sorted),
    segments: mergeSegments(sorted.flatMap((r) => r.segments)),
    reconnects: sorted.reduce((a, r) => a + r.reconnects, 0),
    interrupted: sorted.some((r) => r.interrupted),
    ...(server ? { server } : {}),
    ...(failure ? { failure } : {}),
    shards: summary,
  };
}

// Segments in key order, neighbours that continue each other joined.
function mergeSegments(parts: readonly LoadedSegment[]): LoadedSegment[] {
  const sorted = [...parts].filter((s) => s.count > 0).sort((a, b) => a.keyStart - b.keyStart);
  const out: LoadedSegment[] = [];
  for (const s of sorted) {
    const p = out[out.length - 1];
    if (
      p && p.keyStart + p.count === s.keyStart && p.vectorStart + p.count === s.vectorStart
    ) {
      out[out.length - 1] = { ...p, count: p.count + s.count };
    } else out.push({ ...s });
  }
  return out;
}
