// This module uses no Deno APIs.
/**
 * Vector search results (`membench vec load|query|run`) as text, JSON and CSV, and the live line
 * of a running vector phase.
 *
 * @module
 */
import type {
  RecallSummary,
  VectorLoadResult,
  VectorProgress,
  VectorQueryResult,
  VectorRunResult,
} from "../vector/mod.ts";
import type {
  FrontierPoint,
  RecallInterval,
  RecallVerdict,
  VectorFrontierResult,
  VectorOptimizeResult,
} from "../vector/mod.ts";
import { formatRate, formatUs } from "../units/mod.ts";
import { withSchema } from "./schemas.ts";

const n = (x: number) => x.toLocaleString("en-US");
const mib = (b: number) => Number.isFinite(b) ? `${(b / 2 ** 20).toFixed(1)} MiB` : "n/a";
const secs = (ms: number) => ms < 1000 ? `${Math.round(ms)}ms` : `${(ms / 1000).toFixed(1)}s`;

/**
 * The live line of a running vector phase: done/total, percent, rate, ETA, errors.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(
 *   formatVectorProgress({ phase: "load", done: 2500, total: 10000, elapsedMs: 1000, ratePerSec: 2500, etaMs: 3000, errors: 0 }),
 *   "vec-load   2,500/10,000 vectors  25.0%  2,500/s  elapsed 1.0s  ETA 3.0s",
 * );
 * ```
 */
export function formatVectorProgress(p: VectorProgress): string {
  if (p.phase === "index") {
    const pct = p.percentIndexed !== undefined ? `${(p.percentIndexed * 100).toFixed(1)}% ` : "";
    return `indexing   ${pct}${n(p.done)} documents  elapsed ${secs(p.elapsedMs)}${
      p.errors > 0 ? `  ${n(p.errors)} failures` : ""
    }`;
  }
  const what = p.phase === "load" ? "vectors" : "queries";
  const label = p.phase === "load" ? "vec-load  " : "vec-query ";
  const done = p.total !== undefined
    ? `${n(p.done)}/${n(p.total)} ${what}`
    : `${n(p.done)} ${what}`;
  const pct = p.total !== undefined && p.total > 0
    ? `  ${(Math.min(1, p.done / p.total) * 100).toFixed(1)}%`
    : "";
  const eta = p.etaMs !== undefined ? `  ETA ${secs(p.etaMs)}` : "";
  return `${label} ${done}${pct}  ${formatRate(p.ratePerSec)}/s  elapsed ${
    secs(p.elapsedMs)
  }${eta}${p.errors > 0 ? `  ${n(p.errors)} errors` : ""}`;
}

function errorsText(errors: Record<string, number>): string {
  const e = Object.entries(errors);
  return e.length === 0 ? "none" : e.map(([k, v]) => `${k} ${n(v)}`).join(", ");
}

/** A load (or update, delete) as text. */
export function formatVectorLoadText(r: VectorLoadResult): string {
  const verb = r.kind === "vector-load"
    ? "vec-load"
    : r.kind === "vector-update"
    ? "vec-update"
    : "vec-delete";
  const lines = [
    `${verb} ${r.target} index ${r.index} (${r.algorithm} ${r.type} dim ${r.dim} ${r.metric}, ` +
    `prefix ${r.prefix}, field ${r.field})`,
    `  platform       ${r.platform}${r.platformDetected ? " (detected)" : " (named)"}`,
  ];
  if (r.ftCreate) lines.push(`  created        ${r.ftCreate.join(" ")}`);
  if (r.dropped) lines.push("  dropped first  yes (FT.DROPINDEX … DD)");
  lines.push(
    `  requests       ${n(r.ok)} ok of ${n(r.sent)} sent (${n(r.requested)} planned); errors ${
      errorsText(r.errors)
    }`,
    `  load time      ${secs(r.loadMs)} (${formatRate(r.requestsPerSec)} requests/s)`,
    `  index build    ${secs(r.indexWaitMs)} after the last reply; ${
      formatRate(r.vectorsPerSec)
    } vectors/s indexed`,
    `  documents      ${n(r.numDocs)} in the index; indexing failures ${n(r.indexFailures)}${
      r.indexFailures > 0 ? " (hash_indexing_failures: vectors of the wrong length or type)" : ""
    }`,
    `  memory         used_memory ${mib(r.memory.before)} -> ${mib(r.memory.after)} (${
      r.memory.growth >= 0 ? "+" : ""
    }${mib(r.memory.growth)})${
      r.memory.vectorIndexBytes !== undefined
        ? `; vector index ${mib(r.memory.vectorIndexBytes)}`
        : ""
    }${r.memory.indexBytes !== undefined ? `; index total ${mib(r.memory.indexBytes)}` : ""}`,
  );
  if (r.reconnects > 0) lines.push(`  reconnects     ${r.reconnects}`);
  if (r.interrupted) lines.push("  interrupted    yes (partial)");
  if (r.failure) lines.push(`  FAILED         ${r.failure.message}`);
  return lines.join("\n");
}

/** The recall histogram as bars: one line per non-empty 0.05 bucket. */
export function formatRecallHistogram(r: RecallSummary, width = 40): string[] {
  const max = Math.max(1, ...r.histogram);
  const out: string[] = [];
  r.histogram.forEach((c, i) => {
    if (c === 0) return;
    const label = i === 20 ? "      1.00" : `[${(i / 20).toFixed(2)},${((i + 1) / 20).toFixed(2)})`;
    const bar = "#".repeat(Math.max(1, Math.round((c / max) * width)));
    out.push(`    ${label.padStart(11)} ${String(c).padStart(8)} ${bar}`);
  });
  return out;
}

/** A query phase as text: recall (summary and histogram), latency, qps, partial and timeouts. */
export function formatVectorQueryText(r: VectorQueryResult): string {
  const s = r.summary;
  const latencyKind = r.openLoop ? "response time from the intended send" : "service time";
  const lines = [
    `vec-query ${r.target} index ${r.index} k ${r.k}${
      r.efRuntime !== undefined ? ` EF_RUNTIME ${r.efRuntime}` : ""
    }${r.filter !== undefined ? ` filter ${r.filter}` : ""}`,
    `  platform       ${r.platform}${r.platformDetected ? " (detected)" : " (named)"}`,
    `  query          ${r.query}`,
    `  queries        ${n(r.completed)} answered of ${n(r.sent)} sent in ${secs(r.durationMs)}; ${
      r.openLoop
        ? `open loop at ${formatRate(r.ratePerSec ?? 0)}/s (${n(r.late)} late)`
        : "closed loop"
    }`,
    `  throughput     ${formatRate(r.qps)} queries/s`,
    `  latency        (${latencyKind}) p50 ${formatUs(s.p50Us)}  p90 ${formatUs(s.p90Us)}  p99 ${
      formatUs(s.p99Us)
    }  p99.9 ${formatUs(s.p999Us)}  max ${formatUs(s.maxUs)}  mean ${formatUs(s.meanUs)}`,
    `  ${`recall@${r.k}`.padEnd(15)}mean ${r.recall.mean.toFixed(4)}  min ${
      r.recall.min.toFixed(2)
    }  p5 ${r.recall.p5.toFixed(2)}  p50 ${r.recall.p50.toFixed(2)}  p95 ${
      r.recall.p95.toFixed(2)
    }  max ${r.recall.max.toFixed(2)}  (${n(r.recall.scored)} scored; ${
      n(r.recall.ties)
    } results counted by ties at the k-th distance)`,
    `  truth          exact over ${n(r.truth.matched)} vectors held${
      r.filter !== undefined ? " that pass the filter" : ""
    } (${n(r.truth.queries)} queries, ${secs(r.truth.elapsedMs)})`,
    `  partial        ${n(r.partial)} replies with fewer than min(k, matching) results; timeouts ${
      n(r.timeouts)
    }; errors ${errorsText(r.errors)}`,
    "  recall histogram",
    ...formatRecallHistogram(r.recall),
  ];
  if (r.reconnects > 0) lines.push(`  reconnects     ${r.reconnects}`);
  if (r.interrupted) lines.push("  interrupted    yes (partial)");
  if (r.failure) lines.push(`  FAILED         ${r.failure.message}`);
  return lines.join("\n");
}

/** A whole `vec run` (or load, or query) as text: each phase, a summary table, the checks. */
export function formatVectorRunText(r: VectorRunResult): string {
  const parts: string[] = [];
  if (r.load) parts.push(formatVectorLoadText(r.load));
  for (const q of r.queries) parts.push(formatVectorQueryText(q));
  if (r.queries.length > 1) {
    const rows = r.queries.map((q) =>
      `  ${String(q.efRuntime ?? "-").padStart(10)} ${q.recall.mean.toFixed(4).padStart(11)} ${
        q.recall.p5.toFixed(2).padStart(9)
      } ${formatRate(q.qps).padStart(10)} ${formatUs(q.summary.p50Us).padStart(9)} ${
        formatUs(q.summary.p99Us).padStart(9)
      }`
    );
    parts.push(
      [
        "summary",
        `  ${"EF_RUNTIME".padStart(10)} ${"recall mean".padStart(11)} ${"recall p5".padStart(9)} ${
          "qps".padStart(10)
        } ${"p50".padStart(9)} ${"p99".padStart(9)}`,
        ...rows,
      ].join("\n"),
    );
  }
  const tail: string[] = [];
  if (r.cleanedUp) tail.push("cleanup: index dropped with its hashes (FT.DROPINDEX … DD)");
  for (const c of r.checks) tail.push(`FAILED check: ${c}`);
  if (r.minRecall !== undefined && r.checks.length === 0 && r.queries.length > 0) {
    tail.push(`recall check: every phase's mean recall >= ${r.minRecall}`);
  }
  if (tail.length) parts.push(tail.join("\n"));
  return parts.join("\n\n") + "\n";
}

/** A vector run as JSON (the latency histograms encoded as HdrHistogram base64). */
export function formatVectorRunJson(r: VectorRunResult): string {
  return JSON.stringify(withSchema("vector-run", r), null, 2) + "\n";
}

const CSV_HEADER = [
  "phase",
  "index",
  "k",
  "ef_runtime",
  "filter",
  "sent",
  "completed",
  "errors",
  "partial",
  "timeouts",
  "duration_ms",
  "qps",
  "p50_us",
  "p99_us",
  "p999_us",
  "max_us",
  "recall_mean",
  "recall_min",
  "recall_p5",
  "recall_p50",
  "vectors_per_s",
  "index_wait_ms",
  "index_failures",
  "memory_growth_bytes",
];

function csvCell(v: string | number | undefined): string {
  if (v === undefined) return "";
  const s = String(v);
  return /[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** A vector run as CSV: one row per phase (load, then each query phase). */
export function formatVectorRunCsv(r: VectorRunResult): string {
  const rows: string[] = [CSV_HEADER.join(",")];
  const errs = (e: Record<string, number>) => Object.values(e).reduce((a, b) => a + b, 0);
  if (r.load) {
    const l = r.load;
    rows.push(
      [
        l.kind,
        l.index,
        undefined,
        undefined,
        undefined,
        l.sent,
        l.ok + errs(l.errors),
        errs(l.errors),
        undefined,
        undefined,
        l.loadMs.toFixed(1),
        l.requestsPerSec.toFixed(1),
        undefined,
        undefined,
        undefined,
        undefined,
        undefined,
        undefined,
        undefined,
        undefined,
        l.vectorsPerSec.toFixed(1),
        l.indexWaitMs.toFixed(1),
        l.indexFailures,
        l.memory.growth,
      ].map(csvCell).join(","),
    );
  }
  for (const q of r.queries) {
    rows.push(
      [
        q.kind,
        q.index,
        q.k,
        q.efRuntime,
        q.filter,
        q.sent,
        q.completed,
        errs(q.errors),
        q.partial,
        q.timeouts,
        q.durationMs.toFixed(1),
        q.qps.toFixed(1),
        q.summary.p50Us,
        q.summary.p99Us,
        q.summary.p999Us,
        q.summary.maxUs,
        q.recall.mean.toFixed(6),
        q.recall.min.toFixed(4),
        q.recall.p5.toFixed(4),
        q.recall.p50.toFixed(4),
        undefined,
        undefined,
        undefined,
        undefined,
      ].map(csvCell).join(","),
    );
  }
  return rows.join("\n") + "\n";
}

const esc = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );

// The recall histogram of one query phase as SVG bars (one per 0.05 bucket, 1.00 last); each bar
// carries its bucket and count in `data-` attributes.
function recallChart(id: string, q: VectorQueryResult): string {
  const W = 640, H = 220, L = 48, B = 36, T = 12;
  const bins = q.recall.histogram;
  const max = Math.max(1, ...bins);
  const bw = (W - L - 8) / bins.length;
  const parts = [
    `<svg id="${id}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="recall histogram">`,
    `<line class="grid" x1="${L}" y1="${H - B}" x2="${W - 8}" y2="${H - B}" stroke="#999"/>`,
  ];
  bins.forEach((c, i) => {
    const h = (c / max) * (H - B - T);
    const x = L + i * bw;
    const label = i === 20 ? "1.00" : (i / 20).toFixed(2);
    parts.push(
      `<rect class="bar" data-bucket="${label}" data-value="${c}" x="${(x + 1).toFixed(1)}" y="${
        (H - B - h).toFixed(1)
      }" width="${(bw - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${
        i === 20 ? "#3a9a5b" : "#3b6fb6"
      }"><title>${label}: ${c}</title></rect>`,
    );
    if (i % 4 === 0 || i === 20) {
      parts.push(
        `<text class="tick" x="${(x + bw / 2).toFixed(1)}" y="${
          H - B + 14
        }" text-anchor="middle">${label}</text>`,
      );
    }
  });
  parts.push(
    `<text class="tick" x="${L - 6}" y="${T + 10}" text-anchor="end">${n(max)}</text>`,
    `<text class="axis" x="${(W + L) / 2}" y="${
      H - 4
    }" text-anchor="middle">recall@${q.k} per query</text>`,
    "</svg>",
  );
  return parts.join("");
}

/**
 * A vector run as one self-contained HTML page (no scripts, no network): the load's figures,
 * a summary of the query phases, and per phase the recall histogram (SVG, counts in `data-`
 * attributes) and the latency percentiles. The whole result is embedded as JSON.
 */
export function formatVectorRunHtml(r: VectorRunResult): string {
  const l = r.load;
  const load = l
    ? `<section id="load"><h2>Load</h2><table><tbody>
<tr><td>index</td><td>${
      esc(`${l.index} (${l.algorithm} ${l.type} dim ${l.dim} ${l.metric})`)
    }</td></tr>
<tr><td>platform</td><td>${esc(l.platform)}</td></tr>
<tr><td>vectors</td><td data-value="${l.ok}">${n(l.ok)} of ${n(l.requested)}</td></tr>
<tr><td>load time</td><td data-value="${l.loadMs}">${secs(l.loadMs)}</td></tr>
<tr><td>index build</td><td data-value="${l.indexWaitMs}">${secs(l.indexWaitMs)}</td></tr>
<tr><td>vectors/s</td><td data-value="${l.vectorsPerSec}">${formatRate(l.vectorsPerSec)}</td></tr>
<tr><td>indexing failures</td><td data-value="${l.indexFailures}">${n(l.indexFailures)}</td></tr>
<tr><td>memory growth</td><td data-value="${l.memory.growth}">${mib(l.memory.growth)}</td></tr>
</tbody></table></section>`
    : "";
  const rows = r.queries.map((q) =>
    `<tr><td>${q.efRuntime ?? "-"}</td><td>${q.k}</td><td>${esc(q.filter ?? "")}</td><td>${
      q.recall.mean.toFixed(4)
    }</td><td>${q.recall.p5.toFixed(2)}</td><td>${q.recall.min.toFixed(2)}</td><td>${
      formatRate(q.qps)
    }</td><td>${esc(formatUs(q.summary.p50Us))}</td><td>${esc(formatUs(q.summary.p99Us))}</td><td>${
      n(q.partial)
    }</td><td>${n(q.timeouts)}</td></tr>`
  ).join("");
  const phases = r.queries.map((q, i) =>
    `<section class="phase" id="query-${i}"><h2>Query${
      q.efRuntime !== undefined ? ` EF_RUNTIME ${q.efRuntime}` : ""
    }</h2><p><code>${esc(q.query)}</code> — ${n(q.completed)} queries, ${formatRate(q.qps)}/s, ${
      q.openLoop ? "open loop (response time)" : "closed loop (service time)"
    }</p>
${recallChart(`chart-recall-${i}`, q)}
<table><thead><tr><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th><th>mean</th></tr></thead><tbody><tr>${
      [
        q.summary.p50Us,
        q.summary.p90Us,
        q.summary.p99Us,
        q.summary.p999Us,
        q.summary.maxUs,
        q.summary.meanUs,
      ]
        .map((x) => `<td>${esc(formatUs(x))}</td>`).join("")
    }</tr></tbody></table></section>`
  ).join("\n");
  const checks = r.checks.length ? `<p class="warn">${r.checks.map(esc).join("<br>")}</p>` : "";
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>membench vector search</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1000px;color:#222;padding:0 16px}
h1{font-size:20px}h2{font-size:16px;margin:24px 0 6px}
table{border-collapse:collapse}td,th{padding:3px 10px;text-align:right;border-bottom:1px solid #ddd}td:first-child,th:first-child{text-align:left}
.tick{font-size:11px;fill:#555}.axis{font-size:12px;fill:#333}.warn{background:#fff3cd;padding:8px;border:1px solid #e0c36a}
svg{max-width:100%;height:auto}
</style></head><body>
<h1>membench vector search${r.pass ? "" : " — FAILED"}</h1>
${checks}
${load}
<section id="summary"><h2>Query phases</h2><table><thead><tr><th>EF_RUNTIME</th><th>k</th><th>filter</th><th>recall mean</th><th>p5</th><th>min</th><th>qps</th><th>p50</th><th>p99</th><th>partial</th><th>timeouts</th></tr></thead><tbody>${rows}</tbody></table></section>
${phases}
<script type="application/json" id="result">${
    JSON.stringify(withSchema("vector-run", r)).replace(/</g, "\\u003c")
  }</script>
</body></html>
`;
}

// --- The optimizer and the frontier (`membench vec optimize|frontier`) ---

const pct2 = (x: number) => `${(x * 100).toFixed(2)}%`;
const ciText = (c: RecallInterval) => `${pct2(c.estimate)} [${pct2(c.low)}, ${pct2(c.high)}]`;
const truthText = (t: VectorOptimizeResult["truth"]) =>
  `exact truth computed on the fly over what the server holds: ${n(t.queries)} queries, k ${t.k}, ${
    secs(t.elapsedMs)
  }${
    t.datasetHasTruth
      ? " (the dataset's own ground truth is not used)"
      : " (the dataset has no ground truth)"
  }`;

/** The optimizer's result as text: the choice, then the evidence of each step. */
export function formatVectorOptimizeText(r: VectorOptimizeResult): string {
  const lines = [
    `vec optimize  ${r.status.toUpperCase()}  index ${r.index.name}${
      r.index.m !== undefined ? ` M ${r.index.m}` : ""
    }${r.index.efConstruction !== undefined ? ` EF_CONSTRUCTION ${r.index.efConstruction}` : ""}`,
    `target   recall@${r.k} ${r.target.statistic} >= ${pct2(r.target.recall)} (${
      r.target.accept === "lower-bound" ? "the interval's lower bound" : "within noise accepted"
    })${r.target.p99Ms !== undefined ? `, p99 <= ${r.target.p99Ms} ms` : ""}${
      r.target.qps !== undefined ? `, ${n(r.target.qps)} QPS` : ""
    }; EF_RUNTIME ${r.minEfSearch}..${r.maxEfSearch}`,
    `truth    ${truthText(r.truth)}`,
  ];
  if (r.load) {
    lines.push(
      `load     ${n(r.load.vectors)} vectors in ${secs(r.load.buildMs)} (${
        formatRate(r.load.vectorsPerSec)
      }/s), memory +${mib(r.load.memoryBytes)}`,
    );
  }
  lines.push(`result   ${r.message}`);
  if (r.bestRecall && r.status !== "complete") {
    lines.push(
      `best     EF_RUNTIME ${r.bestRecall.efRuntime}: recall ${r.bestRecall.interval.statistic} ${
        ciText(r.bestRecall.interval)
      }`,
    );
  }
  if (r.grid) {
    lines.push("", "build grid (the index rebuilt for each)");
    lines.push(
      "     M  EF_CONSTR  build      memory       status       EF  recall [95% CI]              qps",
    );
    for (const g of r.grid) {
      lines.push(
        `  ${String(g.m ?? "-").padStart(4)}  ${String(g.efConstruction ?? "-").padStart(9)}  ${
          (g.load ? secs(g.load.buildMs) : "-").padEnd(9)
        }  ${(g.load ? mib(g.load.memoryBytes) : "-").padEnd(11)}  ${g.status.padEnd(11)}  ${
          String(g.efRuntime ?? "-").padStart(4)
        }  ${(g.recall ? ciText(g.recall) : "-").padEnd(27)}  ${
          g.qps !== undefined ? formatRate(g.qps) : "-"
        }`,
      );
    }
  }
  lines.push("", "steps");
  lines.push(
    "  phase        EF  clients  pipe  recall mean [95% CI]       p5      qps     p99      verdict",
  );
  for (const s of r.steps) {
    const p = s.point;
    lines.push(
      `  ${s.phase.padEnd(11)} ${String(p.efRuntime).padStart(4)}  ${
        String(p.clients).padStart(7)
      }  ${String(p.pipeline).padStart(4)}  ${ciText(p.recall).padEnd(25)} ${
        p.recallP5.estimate.toFixed(2).padStart(5)
      }  ${formatRate(p.qps).padStart(7)}  ${formatUs(p.p99Ms * 1000).padStart(7)}  ${
        s.verdict ? DECISION[s.verdict] : ""
      }`,
    );
    if (s.note) lines.push(`               ${s.note}`);
    // Each round of a recall step: what it sent and the pooled interval after it.
    if (s.rounds && s.rounds.length > 1) {
      for (const rd of s.rounds) {
        lines.push(
          `               round ${rd.round}  queries ${rd.from}..${rd.to - 1} (${rd.source})  n ${
            n(rd.queries)
          }  ${rd.interval.statistic} ${ciText(rd.interval)}  ${DECISION[rd.verdict]}: ${rd.note}`,
        );
      }
    }
    // Each run of a repeated throughput step (the step shows the median's figures).
    if (s.runs && s.runs.length > 1) {
      lines.push(
        `               runs  QPS ${s.runs.map((x) => formatRate(x.qps)).join(", ")}; p99 ${
          s.runs.map((x) => formatUs(x.p99Ms * 1000)).join(", ")
        }; QPS spread ${pct2(s.spread ?? 0)}${s.noisy ? " (noisy)" : ""}`,
      );
    }
  }
  return lines.join("\n") + "\n";
}

// The verdict of a recall step or round, as the report words it.
const DECISION: Record<RecallVerdict, string> = {
  "met": "meets",
  "within-noise": "within noise",
  "below": "fails",
};

/** The optimizer's result as JSON. */
export function formatVectorOptimizeJson(r: VectorOptimizeResult): string {
  return JSON.stringify(withSchema("vector-optimize", r), null, 2) + "\n";
}

/** The frontier as text: one line per point, frontier points starred. */
export function formatVectorFrontierText(r: VectorFrontierResult): string {
  const lines = [
    `vec frontier  index ${r.index.name}${r.index.m !== undefined ? ` M ${r.index.m}` : ""}${
      r.index.efConstruction !== undefined ? ` EF_CONSTRUCTION ${r.index.efConstruction}` : ""
    }  recall@${r.k}`,
    `truth    ${truthText(r.truth)}`,
    `frontier EF_RUNTIME ${r.frontier.join(", ")}; QPS at recall >= 0.90: ${
      Math.round(r.qpsAtRecall90)
    }, >= 0.95: ${Math.round(r.qpsAtRecall95)}, >= 0.99: ${Math.round(r.qpsAtRecall99)}`,
    "",
    "     EF  recall mean [95% CI]        p5      qps     p50     p99  clients",
  ];
  for (const p of r.points) {
    lines.push(
      `${p.pareto ? "*" : " "} ${String(p.efRuntime).padStart(5)}  ${ciText(p.recall).padEnd(25)} ${
        p.recallP5.estimate.toFixed(2).padStart(5)
      }  ${formatRate(p.qps).padStart(7)}  ${formatUs(p.p50Ms * 1000).padStart(6)}  ${
        formatUs(p.p99Ms * 1000).padStart(6)
      }  ${String(p.clients).padStart(7)}${p.refined ? "  (refined)" : ""}`,
    );
  }
  if (r.failure) lines.push("", `failed: ${r.failure.message}`);
  if (r.interrupted) lines.push("", "interrupted: the points measured so far");
  lines.push("", "* on the Pareto frontier (no point has both more recall and more QPS)");
  return lines.join("\n") + "\n";
}

/** The frontier as JSON. */
export function formatVectorFrontierJson(r: VectorFrontierResult): string {
  return JSON.stringify(withSchema("vector-frontier", r), null, 2) + "\n";
}

const FRONTIER_CSV = [
  "ef_runtime",
  "m",
  "ef_construction",
  "clients",
  "pipeline",
  "recall_mean",
  "recall_low",
  "recall_high",
  "recall_p5",
  "recall_p5_low",
  "recall_p5_high",
  "qps",
  "p50_ms",
  "p99_ms",
  "completed",
  "errors",
  "pareto",
  "refined",
];

/** The frontier as CSV: one row per point, with its `pareto` flag. */
export function formatVectorFrontierCsv(r: VectorFrontierResult): string {
  const rows = [FRONTIER_CSV.join(",")];
  for (const p of r.points) {
    rows.push(
      [
        p.efRuntime,
        p.m,
        p.efConstruction,
        p.clients,
        p.pipeline,
        p.recall.estimate,
        p.recall.low,
        p.recall.high,
        p.recallP5.estimate,
        p.recallP5.low,
        p.recallP5.high,
        p.qps,
        p.p50Ms,
        p.p99Ms,
        p.completed,
        p.errors,
        p.pareto ? 1 : 0,
        p.refined ? 1 : 0,
      ].map(csvCell).join(","),
    );
  }
  return rows.join("\n") + "\n";
}

// Recall (x, linear) against QPS (y, log10) as SVG in the ann-benchmarks style: every point a
// circle labelled with its settings, the Pareto frontier a polyline; the figures in `data-`
// attributes, written as JSON writes them.
function frontierChart(r: VectorFrontierResult): string {
  const W = 760, H = 420, L = 64, R = 16, T = 16, B = 44;
  const pts = r.points.filter((p) => p.qps > 0);
  const rs = pts.map((p) => p.recall.estimate);
  let x0 = Math.min(...rs, 1), x1 = Math.max(...rs, 0);
  if (!(x1 > x0)) [x0, x1] = [Math.max(0, x0 - 0.05), Math.min(1, x1 + 0.05) || 1];
  const pad = (x1 - x0) * 0.05;
  x0 = Math.max(0, x0 - pad);
  x1 = Math.min(1, x1 + pad);
  if (!(x1 > x0)) x1 = x0 + 0.01;
  const qs = pts.map((p) => Math.log10(p.qps));
  const y0 = Math.floor(Math.min(...qs, 1)), y1 = Math.ceil(Math.max(...qs, y0 + 1));
  const sx = (x: number) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
  const sy = (q: number) => H - B - ((Math.log10(q) - y0) / ((y1 - y0) || 1)) * (H - B - T);
  const parts = [
    `<svg id="chart-frontier" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="recall against queries per second">`,
    `<rect x="${L}" y="${T}" width="${W - L - R}" height="${
      H - B - T
    }" fill="none" stroke="#bbb"/>`,
  ];
  for (let e = y0; e <= y1; e++) {
    const y = sy(10 ** e).toFixed(1);
    parts.push(
      `<line class="grid" x1="${L}" y1="${y}" x2="${W - R}" y2="${y}" stroke="#eee"/>`,
      `<text class="tick" data-qps="${10 ** e}" x="${
        L - 6
      }" y="${y}" text-anchor="end" dominant-baseline="middle">${formatRate(10 ** e)}</text>`,
    );
  }
  for (let i = 0; i <= 5; i++) {
    const x = x0 + ((x1 - x0) * i) / 5;
    parts.push(
      `<text class="tick" x="${sx(x).toFixed(1)}" y="${H - B + 16}" text-anchor="middle">${
        x.toFixed(3)
      }</text>`,
    );
  }
  const front = pts.filter((p) => p.pareto).sort((a, b) => a.recall.estimate - b.recall.estimate);
  parts.push(
    `<polyline class="frontier" data-ef="${front.map((p) => p.efRuntime).join(",")}" points="${
      front.map((p) => `${sx(p.recall.estimate).toFixed(1)},${sy(p.qps).toFixed(1)}`).join(" ")
    }" fill="none" stroke="#d0542c" stroke-width="2"/>`,
  );
  for (const p of pts) {
    const x = sx(p.recall.estimate), y = sy(p.qps);
    const label = `EF ${p.efRuntime}${p.m !== undefined ? ` M ${p.m}` : ""}${
      p.efConstruction !== undefined ? ` EFC ${p.efConstruction}` : ""
    } c${p.clients}`;
    parts.push(
      `<line class="ci" x1="${sx(p.recall.low).toFixed(1)}" y1="${y.toFixed(1)}" x2="${
        sx(p.recall.high).toFixed(1)
      }" y2="${y.toFixed(1)}" stroke="#9bb3d9"/>`,
      `<circle class="point" data-ef="${p.efRuntime}" data-recall="${p.recall.estimate}" data-recall-low="${p.recall.low}" data-recall-high="${p.recall.high}" data-qps="${p.qps}" data-p99-ms="${p.p99Ms}" data-pareto="${p.pareto}" cx="${
        x.toFixed(1)
      }" cy="${y.toFixed(1)}" r="4" fill="${p.pareto ? "#d0542c" : "#3b6fb6"}"><title>${
        esc(label)
      }: recall ${p.recall.estimate.toFixed(4)}, ${Math.round(p.qps)} QPS</title></circle>`,
      `<text class="label" x="${(x + 6).toFixed(1)}" y="${(y - 6).toFixed(1)}">${
        esc(label)
      }</text>`,
    );
  }
  parts.push(
    `<text class="axis" x="${(W + L) / 2}" y="${
      H - 6
    }" text-anchor="middle">recall@${r.k} (mean)</text>`,
    `<text class="axis" transform="rotate(-90)" x="${
      -(H - B + T) / 2
    }" y="14" text-anchor="middle">queries per second (log)</text>`,
    "</svg>",
  );
  return parts.join("");
}

/**
 * The frontier as one self-contained HTML page (no scripts run, no network): the recall / QPS
 * chart (recall on x, QPS on a log y axis, the Pareto frontier drawn, each point labelled with
 * its settings, its figures in `data-` attributes), a table of the points, and the whole result
 * embedded as JSON.
 */
export function formatVectorFrontierHtml(r: VectorFrontierResult): string {
  const row = (p: FrontierPoint) =>
    `<tr class="${p.pareto ? "pareto" : ""}"><td>${p.efRuntime}</td><td>${
      ciText(p.recall)
    }</td><td>${p.recallP5.estimate.toFixed(2)}</td><td>${formatRate(p.qps)}</td><td>${
      esc(formatUs(p.p50Ms * 1000))
    }</td><td>${esc(formatUs(p.p99Ms * 1000))}</td><td>${p.clients}</td><td>${
      p.pareto ? "yes" : ""
    }</td></tr>`;
  const warn = r.failure
    ? `<p class="warn">Failed: ${esc(r.failure.message)}</p>`
    : r.interrupted
    ? `<p class="warn">Interrupted: the points measured so far</p>`
    : "";
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>membench vector frontier</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1000px;color:#222;padding:0 16px}
h1{font-size:20px}h2{font-size:16px;margin:24px 0 6px}
table{border-collapse:collapse}td,th{padding:3px 10px;text-align:right;border-bottom:1px solid #ddd}td:first-child,th:first-child{text-align:left}
tr.pareto td{font-weight:600}
.tick{font-size:11px;fill:#555}.axis{font-size:12px;fill:#333}.label{font-size:10px;fill:#444}.warn{background:#fff3cd;padding:8px;border:1px solid #e0c36a}
svg{max-width:100%;height:auto}
</style></head><body>
<h1>membench vector frontier</h1>
${warn}
<p>Index ${esc(r.index.name)}${r.index.m !== undefined ? ` M ${r.index.m}` : ""}${
    r.index.efConstruction !== undefined ? ` EF_CONSTRUCTION ${r.index.efConstruction}` : ""
  }; ${
    esc(truthText(r.truth))
  }. QPS at recall &ge; 0.95: <span id="qps-at-recall-95" data-value="${r.qpsAtRecall95}">${
    Math.round(r.qpsAtRecall95)
  }</span>.</p>
${frontierChart(r)}
<section id="points"><h2>Points</h2><table><thead><tr><th>EF_RUNTIME</th><th>recall mean [95% CI]</th><th>p5</th><th>qps</th><th>p50</th><th>p99</th><th>clients</th><th>frontier</th></tr></thead><tbody>${
    r.points.map(row).join("")
  }</tbody></table></section>
<script type="application/json" id="result">${
    JSON.stringify(withSchema("vector-frontier", r)).replace(/</g, "\\u003c")
  }</script>
</body></html>
`;
}
