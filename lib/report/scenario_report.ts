// This module uses no Deno APIs.
import type { PhaseRecord, ScenarioResult } from "../scenario/types.ts";
import type { ThresholdResult } from "../scenario/threshold.ts";
import { formatUs } from "../units/mod.ts";

/** A threshold value in the unit its metric is measured in. */
function showValue(t: ThresholdResult): string {
  if (t.value === undefined) return "";
  switch (t.kind) {
    case "time":
      return formatUs(t.value);
    case "ratio":
      return `${(t.value * 100).toFixed(2)}%`;
    case "rate":
      return `${Math.round(t.value).toLocaleString("en-US")}/s`;
    case "bytes":
      return `${Math.round(t.value)} B`;
    default:
      return Number.isInteger(t.value) ? String(t.value) : t.value.toFixed(4);
  }
}

/** One threshold verdict as a line: mark, phase, text, and the value seen or the reason. */
export function formatThresholdLine(t: ThresholdResult & { phase?: string }): string {
  const seen = t.reason ? t.reason : `value ${showValue(t)}`;
  const mark = t.pass ? "ok    " : t.advisory ? "WARN  " : "FAILED";
  const what = t.advisory && t.pass ? ", a warning" : "";
  return `${mark} ${t.phase ? `${t.phase}: ` : ""}${t.threshold} (${seen}${what})${
    !t.pass && t.note ? `\n         ${t.note}` : ""
  }`;
}

function seconds(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

function limitsText(verdicts: ThresholdResult[]): string {
  const th = verdicts.filter((t) => !t.advisory);
  const warned = verdicts.filter((t) => t.advisory && !t.pass).length;
  const parts = [];
  if (th.length > 0) parts.push(`${th.filter((t) => t.pass).length}/${th.length} thresholds`);
  if (warned > 0) parts.push(`${warned} warning${warned === 1 ? "" : "s"}`);
  return parts.length ? parts.join(", ") : "-";
}

function phaseLine(p: PhaseRecord): string {
  const th = p.state === "error" ? p.error.message.split("\n")[0]! : limitsText(p.thresholds);
  return `  ${p.name.padEnd(16)} ${p.kind.padEnd(8)} ${p.state.padEnd(12)} ${
    seconds(p.durationMs).padStart(8)
  }   ${th}`;
}

/**
 * The end-of-run summary of a scenario as text: outcome, phases, thresholds, checks, where the
 * JSON summary and the history are, and the exit code.
 *
 * @example Usage
 * ```ts ignore
 * console.log(formatScenarioText(await runScenario("x", {}, async () => {})));
 * ```
 */
export function formatScenarioText(r: ScenarioResult): string {
  const L: string[] = [];
  L.push("");
  L.push(
    `scenario ${r.scenario}: ${r.status.toUpperCase()} in ${seconds(r.durationMs)}${
      r.status === "invalid" ? "" : ` (seed ${r.seed})`
    }`, // an invalid run settled on no seed
  );
  if (r.problems) {
    L.push(`${r.problems.length} problem(s) with the options; nothing was run:`);
    for (const p of r.problems) L.push(`  - ${p.replace(/\n/g, "\n    ")}`);
  }
  if (r.phases.length > 0) {
    L.push(
      `  ${"phase".padEnd(16)} ${"kind".padEnd(8)} ${"state".padEnd(12)} ${"time".padStart(8)}`,
    );
    for (const p of r.phases) L.push(phaseLine(p));
  }
  const limits = r.thresholds.filter((t) => !t.advisory);
  if (limits.length > 0) {
    L.push("thresholds:");
    for (const t of limits) L.push(`  ${formatThresholdLine(t)}`);
  }
  const warned = r.thresholds.filter((t) => t.advisory && !t.pass);
  if (warned.length > 0) {
    L.push("warnings (reported, not failing the run):");
    for (const t of warned) L.push(`  ${formatThresholdLine(t).replace(/\n/g, "\n  ")}`);
  }
  if (r.checks.length > 0) {
    L.push("checks:");
    for (const c of r.checks) {
      L.push(`  ${c.pass ? "ok    " : "FAILED"} ${c.name}${c.detail ? ` (${c.detail})` : ""}`);
    }
  }
  if (r.error) {
    L.push(`error (${r.error.code}): ${r.error.message}`);
    if (r.error.hint) L.push(`  hint: ${r.error.hint}`);
  }
  if (r.summaryPath) {
    L.push(
      `summary: ${r.summaryPath}${
        r.history ? ` (run ${r.history.runId} in ${r.history.path})` : ""
      }`,
    );
  }
  L.push(`exit code ${r.exitCode}`);
  return L.join("\n");
}
