// This module uses no Deno APIs.
import type { Analysis } from "../analyze/mod.ts";
import type { BenchResult } from "../bench/mod.ts";
import type { ReplayResult } from "../replay/mod.ts";
import type { CheckRecord, PhaseRecord } from "../scenario/types.ts";
import type { VectorOptimizePhaseResult } from "../scenario/phases/vector.ts";
import { formatBenchText } from "./bench_report.ts";
import { formatReplayText } from "./replay_report.ts";

/** The figures of a record phase's result (capture's `RecordResult`) that its line shows. */
interface Recorded {
  events: number;
  connections: number;
  output: string;
  packets: number;
  gaps: number;
}

/**
 * A scenario phase's report as the terminal shows it when the phase ends: the bench or replay
 * report, a line for an analyze or a record phase, the error of a failed one.
 *
 * @example Usage
 * ```ts ignore
 * console.log(formatScenarioPhaseText(rec, rec.state === "error" ? undefined : rec.result));
 * ```
 */
export function formatScenarioPhaseText(rec: PhaseRecord, result: unknown): string {
  if (rec.state === "error") return `${rec.kind} ${rec.name}: error: ${rec.error.message}`;
  switch (rec.kind) {
    case "bench":
      return formatBenchText(result as BenchResult);
    case "replay":
      return formatReplayText(result as ReplayResult);
    case "analyze": {
      const a = result as Analysis;
      const hit = a.totals.statuses["hit"] ?? 0, miss = a.totals.statuses["miss"] ?? 0;
      return `analyzed ${a.profile.path}: ${a.totals.events} events on ${a.totals.connections} connections, ` +
        `${Object.keys(a.commands).length} commands, ${a.keys.distinct} keys` +
        (hit + miss > 0 ? `, hit ratio ${((hit / (hit + miss)) * 100).toFixed(1)}%` : "");
    }
    case "record": {
      const r = result as Recorded;
      return `recorded ${r.events} events on ${r.connections} connections into ${r.output}` +
        ` (${r.packets} packets, ${r.gaps} gaps)`;
    }
    case "vector-optimize": {
      const r = result as VectorOptimizePhaseResult;
      const f = r.frontier;
      return `vector-optimize ${rec.name}: ${r.optimize.message}` +
        (f
          ? `\nfrontier: ${f.points.length} points, ${f.frontier.length} on the Pareto frontier; ` +
            `QPS at recall >= 0.95: ${Math.round(f.qpsAtRecall95)}`
          : "");
    }
    default:
      return `${rec.kind} ${rec.name}: ${rec.state} in ${Math.round(rec.durationMs)} ms`;
  }
}

/** A check's verdict as the terminal shows it when it is made. */
export function formatCheckLine(c: CheckRecord): string {
  return `check ${c.name} ... ${c.pass ? "ok" : "FAILED"}${c.detail ? ` (${c.detail})` : ""}`;
}
