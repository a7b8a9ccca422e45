// This module uses no Deno APIs.
/**
 * Merging the results of a run's shards (`--shard I/N` on several processes, machines or pods)
 * into the result one run would have given: counts add up, latency histograms merge from their
 * encoded form (so the merged percentiles are those of one histogram over every sample, never
 * averages of percentiles), per-second series align on the wall clock, and the servers' own
 * figures are taken once (shard 0's).
 *
 * @module
 */
import { MembenchError } from "../errors/mod.ts";
import type { CommandMetricsData } from "../metrics/mod.ts";
import { checkShardSet, type CommandSpec, shardIncomplete } from "../workload/mod.ts";
import { addNodeResults, buildTestResult } from "./bench.ts";
import type { ShardResultLike } from "./_merge.ts";
import type { NodeCounts } from "./_cluster.ts";
import { assessTest } from "./verdict.ts";
import type { BenchConfig, BenchResult, MergeSummary, TestResult } from "./types.ts";

/** Options for {@linkcode mergeBenchResults}. */
export interface MergeOptions {
  /** Shards expected; by default the count the results carry. */
  shards?: number;
  /**
   * Merge what is there when a shard is missing, failed or was interrupted (listed in
   * `shards.missing` / `shards.failed`); otherwise that is an error naming the shard.
   * @default {false}
   */
  allowIncomplete?: boolean;
}

// Settings that may differ between shards of one run: how each machine ran its part.
const PER_SHARD: ReadonlyArray<keyof BenchConfig> = ["shard", "threads", "io"];

/**
 * Merges the results of a run's shards into one result, as if one process had run it.
 *
 * @example Usage
 * ```ts ignore
 * const parts = await Promise.all(files.map(async (f) => JSON.parse(await Deno.readTextFile(f))));
 * const merged = mergeBenchResults(parts, { shards: 4 });
 * console.log(merged.tests[0]!.serviceTime);
 * ```
 * @throws {MembenchError} `invalid_argument` when the results are not shards of one run (no
 *   shard, different settings, a shard twice); `incomplete` naming the missing or failed shards
 *   unless `allowIncomplete`.
 */
export function mergeBenchResults(
  results: readonly BenchResult[],
  options: MergeOptions = {},
): BenchResult {
  if (results.length === 0) {
    throw new MembenchError("invalid_argument", "Cannot merge: no shard results given");
  }
  for (const [i, r] of results.entries()) {
    if (r === null || typeof r !== "object" || !Array.isArray(r.tests) || !r.config) {
      throw new MembenchError(
        "invalid_argument",
        `Cannot merge result ${i + 1}: it is not a membench bench result`,
      );
    }
    if (r.config.shard === undefined) {
      throw new MembenchError(
        "invalid_argument",
        `Cannot merge result ${i + 1}: it is not a shard (run with --shard I/N)`,
      );
    }
  }
  const { count, order, missing, failed } = checkShardSet(
    results.map((r) => ({
      shard: r.config.shard!,
      settings: comparable(r.config),
      incomplete: shardIncomplete(r) ??
        (r.tests.length < r.config.tests.length
          ? `ran ${r.tests.length} of ${r.config.tests.length} tests`
          : undefined),
      failureCode: r.failure?.code,
    })),
    { what: "bench", shards: options.shards, allowIncomplete: options.allowIncomplete },
  );
  const sorted = order.map((i) => results[i]!);

  // The series align on the wall clock: each shard's seconds are shifted by how much later than
  // the earliest shard it began measuring.
  const first = sorted[0]!;
  const tests: TestResult[] = [];
  const testCount = Math.max(...sorted.map((r) => r.tests.length));
  for (let ti = 0; ti < testCount; ti++) {
    const parts = sorted.map((r) => r.tests[ti]).filter((t): t is TestResult => t !== undefined);
    tests.push(mergeTest(parts, first.config));
  }
  const firstStarts = sorted.map((r) => r.tests[0]?.measureStartMs).filter((x): x is number =>
    x !== undefined
  );
  const offsets = sorted.map((r) => r.clock?.offsetMs).filter((x): x is number => x !== undefined);
  const summary: MergeSummary = {
    count,
    merged: sorted.map((r) => r.config.shard!.index),
    missing,
    failed,
    startSpreadMs: firstStarts.length > 1 ? Math.max(...firstStarts) - Math.min(...firstStarts) : 0,
    ...(offsets.length > 1 ? { clockSkewMs: Math.max(...offsets) - Math.min(...offsets) } : {}),
  };
  const { shard: _shard, ...config } = first.config;
  const setup = new Map<string, BenchResult["setup"][number]>();
  for (const r of sorted) {
    for (const s of r.setup) {
      const k = `${s.command}\u0000${s.why}`;
      const e = setup.get(k);
      if (e) e.calls += s.calls;
      else setup.set(k, { ...s });
    }
  }
  const merged: BenchResult = {
    version: first.version,
    startedAt: sorted.map((r) => r.startedAt).sort()[0]!,
    config: { ...config, threads: sorted.reduce((a, r) => a + r.config.threads, 0) },
    setup: [...setup.values()],
    tests,
    interrupted: sorted.some((r) => r.interrupted),
    shards: summary,
  };
  const failure = sorted.find((r) => r.failure)?.failure;
  if (failure) merged.failure = failure;
  return merged;
}

function mergeTest(parts: TestResult[], config: BenchConfig): TestResult {
  const t0 = parts[0]!;
  for (const p of parts) {
    if (p.name !== t0.name || p.commands.length !== t0.commands.length) {
      throw new MembenchError(
        "invalid_argument",
        `Cannot merge test '${p.name}' with '${t0.name}': the shards ran different tests`,
      );
    }
  }
  const starts = parts.map((p) => p.measureStartMs);
  const known = starts.filter((x): x is number => x !== undefined);
  const origin = known.length > 0 ? Math.min(...known) : 0;
  // Node lists by address: each shard discovered the cluster itself.
  const addresses = [...new Set(parts.flatMap((p) => (p.nodes ?? []).map((n) => n.address)))];
  const shards: ShardResultLike[] = parts.map((p) => {
    const lateMs = p.measureStartMs === undefined ? 0 : p.measureStartMs - origin;
    const shift = Math.round(lateMs / 1000);
    const commands: CommandMetricsData[] = p.commands.map((c, ci) => {
      const h = p.histograms[ci];
      if (h === undefined) {
        throw new MembenchError(
          "invalid_argument",
          `Cannot merge test '${p.name}': its result has no histograms (written by an older membench?)`,
        );
      }
      return {
        name: c.name,
        count: c.count,
        errors: c.errors,
        ...(c.firstErrors ? { firstErrors: c.firstErrors } : {}),
        hits: c.hits ?? 0,
        misses: c.misses ?? 0,
        late: c.late,
        lateClient: c.lateClient,
        service: h.service,
        ...(h.response !== undefined ? { response: h.response } : {}),
        series: h.series.map((s) => ({ ...s, second: s.second + shift })),
      };
    });
    const nodes: NodeCounts[] | undefined = p.nodes === undefined ? undefined : addresses.map(
      (address) => {
        const i = p.nodes!.findIndex((n) => n.address === address);
        const n = p.nodes![i];
        const role = n?.role ??
          parts.flatMap((q) => q.nodes ?? []).find((m) => m.address === address)!.role;
        return {
          address,
          role,
          requests: n?.requests ?? 0,
          errors: n?.errors ?? 0,
          moved: n?.redirects.moved ?? 0,
          ask: n?.redirects.ask ?? 0,
          tryagain: n?.redirects.tryagain ?? 0,
          clusterdown: n?.redirects.clusterdown ?? 0,
          ...(n && p.nodeHistograms?.[i] !== undefined ? { service: p.nodeHistograms[i] } : {}),
          ...(n?.joinedAfterMs !== undefined && p.measureStartMs !== undefined
            ? { joinedMs: p.measureStartMs + n.joinedAfterMs }
            : {}),
        };
      },
    );
    return {
      commands,
      // The merged test lasts from the earliest start to the latest end.
      measuredUs: (p.durationMs + lateMs) * 1000,
      measureStartMs: p.measureStartMs,
      warmupRequests: p.warmupRequests,
      sent: p.sent,
      abandoned: p.abandoned,
      reconnects: p.reconnects,
      interrupted: false,
      fatal: p.failure,
      ...(nodes ? { nodes } : {}),
    };
  });
  // The commands as the run defined them: name, command and whether reads count hits.
  const specs = t0.commands.map((c) => ({
    name: c.name,
    command: c.command,
    hits: c.hits === undefined ? "none" : "read",
  })) as unknown as CommandSpec[]; // buildTestResult reads name, command and hits only
  const test = buildTestResult(t0.name, specs, shards, config.ratePerSec);
  if (parts.some((p) => p.nodes)) addNodeResults(test, shards, config.rfr ?? "primary");
  // The servers' own figures: taken once, by shard 0 (it saw every shard's traffic).
  const server = parts.find((p) => p.server)?.server;
  if (server) test.server = server;
  assessTest(test, config.protocol); // no successful request over every shard: why, and a hint
  return test;
}

// The settings every shard of a run shares.
function comparable(c: BenchConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(c)) {
    if (!(PER_SHARD as readonly string[]).includes(k)) out[k] = v;
  }
  return out;
}
