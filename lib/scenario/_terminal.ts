// deno-lint-ignore-file no-console
/**
 * The scenario's terminal output. `lib/` never prints, with this one exception: `scenario()` is
 * the entry point of a scenario file, which is a program of its own, so it reports to the
 * terminal like the CLI does. Everything printed here comes from pure renderers in `report/`.
 *
 * @module
 */
import type { Analysis } from "../analyze/mod.ts";
import type { BenchResult } from "../bench/mod.ts";
import type { RecordResult } from "../capture/mod.ts";
import type { ReplayResult } from "../replay/mod.ts";
import {
  formatBenchText,
  formatReplayText,
  formatScenarioText,
  formatThresholdLine,
} from "../report/mod.ts";
import type { PhaseRecord, ScenarioResult } from "./types.ts";

/** Where a scenario's progress and summary go. */
export interface ScenarioPrinter {
  /** A progress line. */
  line(text: string): void;
  /** A phase ended. */
  phase(rec: PhaseRecord, result: unknown): void;
  /** The run ended. */
  summary(result: ScenarioResult): void;
}

function phaseText(rec: PhaseRecord, result: unknown): string {
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
      const r = result as RecordResult;
      return `recorded ${r.events} events on ${r.connections} connections into ${r.output}` +
        ` (${r.packets} packets, ${r.gaps} gaps)`;
    }
    default:
      return `${rec.kind} ${rec.name}: ${rec.state} in ${Math.round(rec.durationMs)} ms`;
  }
}

/** A printer for `print: "full" | "summary" | "none"`. */
export function terminalPrinter(mode: string): ScenarioPrinter {
  const full = mode === "full" || (mode !== "summary" && mode !== "none");
  return {
    line(text) {
      if (full) console.log(text);
    },
    phase(rec, result) {
      if (!full) return;
      console.log(phaseText(rec, result));
      if (rec.state !== "error") {
        for (const t of rec.thresholds) console.log(formatThresholdLine(t));
      }
    },
    summary(result) {
      if (mode === "none") return;
      const text = formatScenarioText(result);
      if (result.status === "invalid" || result.status === "error") console.error(text);
      else console.log(text);
    },
  };
}
