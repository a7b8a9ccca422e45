// This module uses no Deno APIs.
import type { MetricChange, RunDetail, RunRow } from "../scenario/history.ts";
import { formatUs } from "../units/mod.ts";

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

/** `membench history show` as text: the run, how to run it again, phases, checks, journal. */
export function formatRunDetail(r: RunDetail): string {
  const lines = [formatRunLine(r)];
  if (r.module) lines.push(`run again: deno run -A ${r.module.replace(/^file:\/\//, "")}`);
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

/** `membench history compare` as text: the metrics two runs share, with the change. */
export function formatRunComparison(
  a: number,
  b: number,
  changes: readonly MetricChange[],
): string {
  const lines = [`run ${a} -> run ${b}: ${changes.length} shared metrics`];
  for (const c of changes) {
    lines.push(
      `  ${`${c.phase}.${c.metric}`.padEnd(36)} ${formatMetric(c.kind, c.a).padStart(14)} -> ${
        formatMetric(c.kind, c.b).padStart(14)
      }  ${
        c.change === undefined ? "" : `${c.change >= 0 ? "+" : ""}${(c.change * 100).toFixed(1)}%`
      }`,
    );
  }
  return lines.join("\n");
}
