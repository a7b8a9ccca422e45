import {
  type CommandMetricsData,
  mergeCommandMetrics,
  mergeEncoded,
  summarize,
  summarizeEncoded,
} from "../metrics/mod.ts";
import type { SecondResult } from "./types.ts";
import type { NodeCounts } from "./_cluster.ts";

export { mergeCommandMetrics, summarizeEncoded };

/** The parts of a shard result that merging needs. */
export interface ShardResultLike {
  commands: CommandMetricsData[];
  measuredUs: number;
  /** Wall-clock time (epoch ms) when measuring began, when known. */
  measureStartMs?: number | undefined;
  warmupRequests: number;
  sent: number;
  abandoned: number;
  reconnects: number;
  interrupted: boolean;
  fatal: { code: string; message: string } | undefined;
  /** Cluster mode: per node counts. */
  nodes?: NodeCounts[] | undefined;
}

/** Per-second totals over all commands, with percentiles of the test's main latency figure. */
export function secondSeriesOf(merged: CommandMetricsData[]): SecondResult[] {
  const bySecond = new Map<number, { ops: number; errors: number; hists: string[] }>();
  for (const m of merged) {
    for (const s of m.series) {
      let e = bySecond.get(s.second);
      if (!e) bySecond.set(s.second, e = { ops: 0, errors: 0, hists: [] });
      e.ops += s.ops;
      e.errors += s.errors;
      e.hists.push(s.response ?? s.service);
    }
  }
  return [...bySecond.entries()].sort((a, b) => a[0] - b[0]).map(([second, e]) => {
    const h = mergeEncoded(e.hists);
    const sum = summarize(h);
    h.destroy();
    return {
      second,
      ops: e.ops,
      errors: e.errors,
      p50Us: sum.p50Us,
      p99Us: sum.p99Us,
      maxUs: sum.maxUs,
    };
  });
}
