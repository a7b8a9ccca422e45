// This module uses no Deno APIs.
import type { MetricChange, RunDetail, RunRow } from "../scenario/history.ts";
import { formatUs } from "../units/mod.ts";
import { withSchema } from "./schemas.ts";

/** A metric value in its unit: times, ratios as percent, rates per second, plain numbers. */
function formatMetric(kind: string, v: number): string {
  if (kind === "time") return formatUs(v);
  if (kind === "ratio") return `${(v * 100).toFixed(2)}%`;
  if (kind === "rate") return `${Math.round(v).toLocaleString("en-US")}/s`;
  return Number.isInteger(v) ? v.toLocaleString("en-US") : v.toFixed(4);
}

/** One run as a line of `membench history list`. */
export function formatRunLine(r: RunRow): string {
  const secs = r.durationMs === undefined ? "-" : `${(r.durationMs / 1000).toFixed(1)} s`;
  return `${String(r.id).padStart(5)}  ${r.startedAt.slice(0, 19).replace("T", " ")}  ${
    r.scenario.padEnd(20)
  } ${r.status.padEnd(12)} ${String(r.exitCode ?? "-").padStart(4)}  ${
    secs.padStart(8)
  }  ${r.passed} ok, ${r.failed} failed`;
}

/** `membench history list` as text: a header and one line a run. */
export function formatRunList(rows: readonly RunRow[]): string {
  return [
    "  run  started (UTC)          scenario             status       exit      time  checks",
    ...rows.map(formatRunLine),
  ].join("\n");
}

/**
 * `membench history show` as text: the run, how to run it again, phases, checks, journal.
 *
 * @param deno The Deno command for the "run again" line (the one running membench: a bare
 *   `deno` may not be on PATH).
 */
export function formatRunDetail(r: RunDetail, deno = "deno"): string {
  const lines = [formatRunLine(r)];
  if (r.module) {
    // The same target as then (it may have come from MEMBENCH_TARGET).
    const o = r.options as { target?: unknown } | undefined;
    const env = typeof o?.target === "string" ? `MEMBENCH_TARGET=${o.target} ` : "";
    lines.push(`run again: ${env}${deno} run -A ${r.module.replace(/^file:\/\//, "")}`);
  }
  lines.push(`options: ${JSON.stringify(r.options)}`);
  for (const p of r.phases) {
    lines.push(`phase ${p.name} (${p.kind}): ${p.state} in ${(p.durationMs / 1000).toFixed(2)} s`);
  }
  for (const c of r.checks) {
    lines.push(
      `  ${c.pass ? "ok    " : "FAILED"} ${c.phase ? `${c.phase}: ` : ""}${c.name}${
        c.detail ? ` (${c.detail})` : ""
      }`,
    );
  }
  lines.push("journal:");
  for (const j of r.journal) {
    lines.push(`  ${j.at}  ${j.kind.padEnd(12)} ${JSON.stringify(j.data)}`);
  }
  return lines.join("\n");
}

/**
 * `membench history compare` as text: one line per figure the two runs share, largest relative
 * change first; a change the bad way by more than 5% is marked `worse`, the good way `better`.
 */
export function formatRunComparison(
  a: number,
  b: number,
  changes: readonly MetricChange[],
): string {
  const regressions = changes.filter((c) => c.regression).length;
  const lines = [
    `run ${a} -> run ${b}: ${changes.length} shared metrics, ${regressions} worse by more than 5%`,
  ];
  const w = Math.min(48, Math.max(20, ...changes.map((c) => c.phase.length + c.metric.length + 1)));
  for (const c of changes) {
    const pct = c.change === undefined
      ? ""
      : `${c.change >= 0 ? "+" : ""}${(c.change * 100).toFixed(1)}%`;
    const mark = c.regression
      ? "  worse"
      : c.better && c.change !== undefined && Math.abs(c.change) > 0.05
      ? "  better"
      : "";
    lines.push(
      `  ${`${c.phase}.${c.metric}`.padEnd(w)} ${formatMetric(c.kind, c.a).padStart(14)} -> ${
        formatMetric(c.kind, c.b).padStart(14)
      }  ${pct.padStart(8)}${mark}`,
    );
  }
  return lines.join("\n");
}

/** `membench history list --json`: `{ schema, runs }`, newest first (`membench/history-list@1`). */
export function formatRunListJson(rows: readonly RunRow[]): string {
  return JSON.stringify(withSchema("history-list", { runs: rows }), null, 2) + "\n";
}

/** `membench history show --json`: the run with its phases, checks and journal. */
export function formatRunDetailJson(r: RunDetail): string {
  return JSON.stringify(withSchema("history-run", r), null, 2) + "\n";
}

/**
 * `membench history compare --json`: `{ schema, a, b, changes }`, the changes in the order the
 * text shows them (`membench/history-compare@1`).
 */
export function formatRunComparisonJson(a: number, b: number, changes: MetricChange[]): string {
  return JSON.stringify(withSchema("history-compare", { a, b, changes }), null, 2) + "\n";
}
