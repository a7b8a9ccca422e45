// This module uses no Deno APIs.
/**
 * Merging replay shards (`replay --shard I/N`, each replaying its range of the connections)
 * into the result one replay would have given: counts add up, latency percentiles come from the
 * merged histograms, the lateness from the merged lateness histogram, and fidelity is judged
 * again on the whole.
 *
 * @module
 */
import { MembenchError } from "../errors/mod.ts";
import { checkShardSet, shardIncomplete } from "../workload/mod.ts";
import { LogHistogram } from "../analyze/mod.ts";
import { mergeEncoded, summarize } from "../metrics/mod.ts";
import { fidelityOf } from "./fidelity.ts";
import type { ReplayClusterReport, ReplayCommand, ReplayResult } from "./types.ts";

/** Options for {@linkcode mergeReplayResults}. */
export interface ReplayMergeOptions {
  /** Shards expected; by default the count the results carry. */
  shards?: number;
  /** Merge what is there when a shard is missing, failed or was interrupted. @default {false} */
  allowIncomplete?: boolean;
}

/**
 * Merges the results of a replay's shards into one result.
 *
 * @throws {MembenchError} `invalid_argument` when the results are not shards of one replay;
 *   the failed shard's code (or `file` for a missing one) naming it, unless `allowIncomplete`.
 */
export function mergeReplayResults(
  results: readonly ReplayResult[],
  options: ReplayMergeOptions = {},
): ReplayResult & { shards: { count: number; merged: number[]; missing: number[] } } {
  if (results.length === 0) {
    throw new MembenchError("invalid_argument", "Cannot merge: no replay results given");
  }
  for (const [i, r] of results.entries()) {
    if (!r.config?.shard || !r.shardData) {
      throw new MembenchError(
        "invalid_argument",
        `Cannot merge replay result ${i + 1}: it is not a shard (replay with --shard I/N)`,
      );
    }
  }
  const { count, order, missing } = checkShardSet(
    results.map((r) => {
      const { shard: _s, io: _io, ...rest } = r.config;
      return {
        shard: r.config.shard!,
        settings: { ...rest, profile: rest.profile.replace(/ \(truncated\)$/, "") },
        incomplete: shardIncomplete(r),
        failureCode: r.failure?.code,
      };
    }),
    { what: "replay", shards: options.shards, allowIncomplete: options.allowIncomplete },
  );
  const sorted = order.map((i) => results[i]!);

  const first = sorted[0]!;
  const sum = (f: (r: ReplayResult) => number) => sorted.reduce((a, r) => a + f(r), 0);
  // Per op, in the order of first appearance.
  const ops = [...new Set(sorted.flatMap((r) => r.commands.map((c) => c.op)))];
  const commands: ReplayCommand[] = ops.map((op) => {
    const cs = sorted.map((r) => r.commands.find((c) => c.op === op)).filter((c) =>
      c !== undefined
    ) as ReplayCommand[];
    const add = (f: (c: ReplayCommand) => number | undefined) =>
      cs.reduce((a, c) => a + (f(c) ?? 0), 0);
    const errors: Record<string, number> = {};
    for (const c of cs) {
      for (const [k, v] of Object.entries(c.errors)) errors[k] = (errors[k] ?? 0) + v;
    }
    const hists = sorted.map((r) => r.shardData!.ops.find((o) => o.op === op)).filter((h) =>
      h !== undefined
    );
    const service = mergeEncoded(hists.map((h) => h!.service));
    const responses = hists.map((h) => h!.response).filter((x): x is string => x !== undefined);
    const c: ReplayCommand = {
      op,
      recorded: add((c) => c.recorded),
      sent: add((c) => c.sent),
      completed: add((c) => c.completed),
      errors,
      serviceTime: summarize(service),
      late: add((c) => c.late),
    };
    service.destroy();
    if (responses.length > 0) {
      const h = mergeEncoded(responses);
      c.responseTime = summarize(h);
      h.destroy();
    }
    if (cs.some((x) => x.recordedErrors !== undefined)) {
      c.recordedErrors = add((x) => x.recordedErrors);
    }
    if (cs.some((x) => x.recordedQuiet !== undefined)) {
      c.recordedQuiet = add((x) => x.recordedQuiet);
      c.quiet = add((x) => x.quiet);
    }
    if (cs.some((x) => x.recordedHits !== undefined)) {
      c.recordedHits = add((x) => x.recordedHits);
      c.recordedMisses = add((x) => x.recordedMisses);
      c.hits = add((x) => x.hits);
      c.misses = add((x) => x.misses);
    }
    return c;
  });
  const lateness = new LogHistogram();
  for (const r of sorted) lateness.addData(r.shardData!.lateness);
  const skipped: Record<string, number> = {};
  for (const r of sorted) {
    for (const [k, v] of Object.entries(r.skipped)) skipped[k] = (skipped[k] ?? 0) + v;
  }
  const addSeries = (get: (r: ReplayResult) => number[]) => {
    const out: number[] = [];
    for (const r of sorted) get(r).forEach((v, i) => out[i] = (out[i] ?? 0) + v);
    return Array.from(out, (v) => v ?? 0);
  };
  const { shard: _shard, ...config } = first.config;
  const merged: ReplayResult = {
    ...first,
    config: { ...config, profile: first.config.profile },
    loops: Math.min(...sorted.map((r) => r.loops)),
    durationMs: Math.max(...sorted.map((r) => r.durationMs)),
    sent: sum((r) => r.sent),
    completed: sum((r) => r.completed),
    skipped,
    errors: sum((r) => r.errors),
    late: sum((r) => r.late),
    reconnects: sum((r) => r.reconnects),
    commands,
    lateness: {
      p50Us: lateness.percentile(50),
      p99Us: lateness.percentile(99),
      maxUs: lateness.count > 0 ? lateness.summary().max : 0,
      perConnection: sorted.flatMap((r) => r.lateness.perConnection).sort((a, b) =>
        a.conn - b.conn
      ),
    },
    rate: {
      replayed: addSeries((r) => r.rate.replayed),
      recorded: addSeries((r) => r.rate.recorded),
    },
    sizes: {
      recorded: first.sizes.recorded,
      replayed: sorted.flatMap((r) => r.sizes.replayed).slice(0, 100_000),
    },
    interrupted: sorted.some((r) => r.interrupted),
  };
  delete merged.shardData;
  delete merged.verification;
  // Into a cluster: per node and routing counts summed over the shards (nodes by address).
  delete merged.cluster;
  const parts = sorted.flatMap((r) => r.cluster ? [r.cluster] : []);
  if (parts.length > 0) {
    const nodes = new Map<string, ReplayClusterReport["nodes"][number]>();
    for (const p of parts) {
      for (const n of p.nodes) {
        const m = nodes.get(n.address);
        if (m === undefined) nodes.set(n.address, { ...n });
        else {
          m.requests += n.requests;
          m.moved += n.moved;
          m.ask += n.ask;
        }
      }
    }
    const list = [...nodes.values()];
    const primaries = list.filter((n) => n.role === "primary").map((n) => n.requests);
    const total = primaries.reduce((a, b) => a + b, 0);
    const add = (f: (c: ReplayClusterReport) => number) => parts.reduce((a, c) => a + f(c), 0);
    merged.cluster = {
      nodes: list,
      slotsKept: parts.some((c) => c.slotsKept),
      recordedSlot: add((c) => c.recordedSlot),
      ownSlot: add((c) => c.ownSlot),
      keyless: add((c) => c.keyless),
      crossSlot: add((c) => c.crossSlot),
      resent: add((c) => c.resent ?? 0),
      skew: total === 0 ? 0 : Math.max(...primaries) / (total / primaries.length),
    };
  }
  delete merged.failure;
  const failure = sorted.find((r) => r.failure)?.failure;
  if (failure) merged.failure = failure;
  // The servers' figures: shard 0's window saw every shard's traffic.
  const server = sorted.find((r) => r.server)?.server;
  if (server) merged.server = server;
  else delete merged.server;
  merged.fidelity = fidelityOf(merged, first.shardData!.thresholds, first.shardData!.sameProtocol);
  return {
    ...merged,
    shards: { count, merged: sorted.map((r) => r.config.shard!.index), missing },
  };
}
