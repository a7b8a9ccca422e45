// deno-lint-ignore-file no-console
/**
 * The scenario's terminal output. `lib/` never prints, with this one exception: `scenario()` is
 * the entry point of a scenario file, which is a program of its own, so it reports to the
 * terminal like the CLI does. Everything printed here comes from pure renderers in `report/`.
 *
 * @module
 */
import { formatScenarioPhaseText, formatScenarioText, formatThresholdLine } from "../report/mod.ts";
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

/** A printer that prints nothing (`runScenario`). */
export const silentPrinter: ScenarioPrinter = { line() {}, phase() {}, summary() {} };

/** A printer for `print: "full" | "summary" | "none"`. */
export function terminalPrinter(mode: string): ScenarioPrinter {
  const full = mode === "full" || (mode !== "summary" && mode !== "none");
  return {
    line(text) {
      if (full) console.log(text);
    },
    phase(rec, result) {
      if (!full) return;
      console.log(formatScenarioPhaseText(rec, result));
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
