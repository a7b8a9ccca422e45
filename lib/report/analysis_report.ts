// This module uses no Deno APIs.
import type { Analysis } from "../analyze/mod.ts";
import { formatUs } from "../units/mod.ts";
import { withSchema } from "./schemas.ts";

const n = (x: number) => Math.round(x).toLocaleString("en-US");
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/** The analysis as a text summary for the terminal. */
export function formatAnalysisText(a: Analysis): string {
  const L: string[] = [];
  L.push(
    `profile ${a.profile.path} (${a.profile.source}; salt fingerprint ${a.profile.saltFingerprint})`,
  );
  if (a.profile.partial) L.push(`PARTIAL: ${a.profile.warning}`);
  L.push(
    `${n(a.totals.events)} events, ${n(a.totals.connections)} connections, ${
      (a.totals.durationUs / 1e6).toFixed(1)
    } s, ` +
      `${n(a.totals.eventsPerSec)} events/s, ${n(a.totals.requests)} requests`,
  );
  L.push("");
  const rows: string[][] = [[
    "command",
    "events",
    "share",
    "requests",
    "keys",
    "hit ratio",
    "key p50",
    "value p50",
    "value p99",
    "latency p50",
    "latency p99",
    "statuses",
  ]];
  for (const [name, c] of Object.entries(a.commands).sort((x, y) => y[1].count - x[1].count)) {
    rows.push([
      name,
      n(c.count),
      pct(c.share),
      n(c.requests),
      n(c.keys),
      c.hitRatio === undefined ? "-" : pct(c.hitRatio),
      c.keyLength.count ? n(c.keyLength.p50) : "-",
      c.valueLength.count ? n(c.valueLength.p50) : "-",
      c.valueLength.count ? n(c.valueLength.p99) : "-",
      c.latencyUs.count ? formatUs(c.latencyUs.p50) : "-",
      c.latencyUs.count ? formatUs(c.latencyUs.p99) : "-",
      Object.entries(c.statuses).map(([k, v]) => `${k}:${v}`).join(" "),
    ]);
  }
  L.push(...table(rows));
  const k = a.keys;
  L.push("");
  L.push(
    `keys: ${n(k.distinct)} distinct (${k.method}${
      k.method === "exact" ? "" : `, ${n(k.exactKeys)} counted exactly`
    }), ` +
      `${n(k.accesses)} accesses, ${n(k.oneHitWonders)} one-hit wonders (${
        pct(k.oneHitWonderRatio)
      })`,
  );
  L.push(
    `popularity: Zipf exponent ${k.zipf.exponent} (R² ${k.zipf.r2}, over ${
      n(k.zipf.ranksUsed)
    } ranks)`,
  );
  if (k.top.length > 0) {
    L.push(
      `top keys: ${
        k.top.slice(0, 5).map((t) => `${t.key} ${n(t.count)} (${pct(t.share)})`).join(", ")
      }`,
    );
  }
  L.push(
    `reuse time: p50 ${formatUs(k.reuseTimeUs.p50)}, p90 ${
      formatUs(k.reuseTimeUs.p90)
    }; compulsory misses ${n(k.compulsoryMisses)} ` +
      `(${pct(k.compulsoryMissRatio)} of read misses)`,
  );
  if (k.note) L.push(`note: ${k.note}`);
  const c = a.connections;
  L.push(
    `connections: requests p50 ${n(c.requests.p50)} max ${
      n(c.requests.max)
    }; pipeline depth p50 ${c.maxPipelineDepth.p50} ` +
      `max ${c.maxPipelineDepth.max}; lifetime p50 ${formatUs(c.lifetimeUs.p50)}`,
  );
  const o = a.overall;
  L.push(
    `sizes: key p50 ${n(o.keyLength.p50)} p99 ${n(o.keyLength.p99)}; value p50 ${
      n(o.valueLength.p50)
    } p99 ${n(o.valueLength.p99)} ` +
      `max ${n(o.valueLength.max)}; TTL p50 ${n(o.ttl.p50)} s (${
        n(o.ttl.count)
      } writes with a TTL)`,
  );
  return L.join("\n") + "\n";
}

function table(rows: string[][]): string[] {
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) =>
    r.map((c, i) => (i === 0 || i === r.length - 1 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join(
      "  ",
    ).trimEnd()
  );
}

/** The analysis as JSON (everything). */
export function formatAnalysisJson(a: Analysis): string {
  return JSON.stringify(withSchema("analysis", a), null, 2) + "\n";
}

// ---- HTML with inline SVG charts (no scripts, no network) ----

const esc = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );

interface Series {
  name: string;
  points: Array<[number, number]>;
  color: string;
  dashed?: boolean;
}

const W = 640;
const H = 300;
const M = { l: 64, r: 16, t: 36, b: 40 };

function niceTicks(lo: number, hi: number, log: boolean): number[] {
  if (log) {
    const out: number[] = [];
    for (
      let e = Math.floor(Math.log10(Math.max(lo, 1e-9)));
      e <= Math.ceil(Math.log10(Math.max(hi, 1)));
      e++
    ) {
      out.push(10 ** e);
    }
    return out;
  }
  const span = hi - lo || 1;
  const step = 10 ** Math.floor(Math.log10(span / 5));
  const mult = [1, 2, 5, 10].find((m) => span / (step * m) <= 6) ?? 10;
  const s = step * mult;
  const out: number[] = [];
  for (let v = Math.ceil(lo / s) * s; v <= hi + 1e-9; v += s) out.push(Math.round(v * 1e6) / 1e6);
  return out;
}

function fmtTick(v: number): string {
  if (v >= 1e9) return `${v / 1e9}G`;
  if (v >= 1e6) return `${v / 1e6}M`;
  if (v >= 1e3) return `${v / 1e3}k`;
  return String(v);
}

function lineChart(
  id: string,
  title: string,
  series: Series[],
  o: { logX?: boolean; logY?: boolean; xLabel: string; yLabel: string; markers?: boolean },
): string {
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) return `<section><h2>${esc(title)}</h2><p>No data.</p></section>`;
  const tx = (v: number) => (o.logX ? Math.log10(Math.max(v, 1e-9)) : v);
  const ty = (v: number) => (o.logY ? Math.log10(Math.max(v, 1e-9)) : v);
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]);
  let x0 = Math.min(...xs), x1 = Math.max(...xs);
  let y0 = o.logY ? Math.min(...ys.filter((y) => y > 0)) : Math.min(0, ...ys), y1 = Math.max(...ys);
  if (x0 === x1) x1 = x0 + 1;
  if (y0 === y1) y1 = y0 + 1;
  if (o.logX) x0 = Math.max(x0, 1e-9);
  if (o.logY) y0 = Math.max(y0, 1e-9);
  const X = (v: number) => M.l + ((tx(v) - tx(x0)) / (tx(x1) - tx(x0) || 1)) * (W - M.l - M.r);
  const Y = (v: number) => H - M.b - ((ty(v) - ty(y0)) / (ty(y1) - ty(y0) || 1)) * (H - M.t - M.b);
  const parts: string[] = [];
  parts.push(
    `<svg id="${id}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${
      esc(title)
    }">`,
  );
  for (const t of niceTicks(x0, x1, !!o.logX)) {
    if (t < x0 || t > x1) continue;
    parts.push(
      `<line class="grid" x1="${X(t)}" x2="${X(t)}" y1="${M.t}" y2="${
        H - M.b
      }"/><text class="tick" x="${X(t)}" y="${H - M.b + 14}" text-anchor="middle">${
        fmtTick(t)
      }</text>`,
    );
  }
  for (const t of niceTicks(y0, y1, !!o.logY)) {
    if (t < y0 || t > y1) continue;
    parts.push(
      `<line class="grid" x1="${M.l}" x2="${W - M.r}" y1="${Y(t)}" y2="${
        Y(t)
      }"/><text class="tick" x="${M.l - 6}" y="${Y(t) + 4}" text-anchor="end">${fmtTick(t)}</text>`,
    );
  }
  parts.push(
    `<text class="axis" x="${(M.l + W - M.r) / 2}" y="${H - 6}" text-anchor="middle">${
      esc(o.xLabel)
    }</text>`,
  );
  parts.push(
    `<text class="axis" x="14" y="${
      (M.t + H - M.b) / 2
    }" text-anchor="middle" transform="rotate(-90 14 ${(M.t + H - M.b) / 2})">${
      esc(o.yLabel)
    }</text>`,
  );
  series.forEach((s, si) => {
    const pts = s.points.filter((p) => (!o.logX || p[0] > 0) && (!o.logY || p[1] > 0));
    parts.push(
      `<polyline class="series" data-series="${
        esc(s.name)
      }" fill="none" stroke="${s.color}" stroke-width="2"${
        s.dashed ? ' stroke-dasharray="6 4"' : ""
      } points="${pts.map((p) => `${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join(" ")}"/>`,
    );
    if (o.markers) {
      for (const p of pts) {
        parts.push(
          `<circle class="point" data-series="${esc(s.name)}" data-x="${p[0]}" data-y="${
            p[1]
          }" cx="${X(p[0]).toFixed(1)}" cy="${Y(p[1]).toFixed(1)}" r="2.5" fill="${s.color}"/>`,
        );
      }
    }
    // Legends in a row above the plot, clear of the curves.
    const lx = M.l + series.slice(0, si).reduce((acc, x) => acc + x.name.length * 7 + 24, 0);
    parts.push(
      `<rect x="${lx}" y="${M.t - 20}" width="12" height="3" fill="${s.color}"/>` +
        `<text class="legend" x="${lx + 16}" y="${M.t - 15}" fill="${s.color}">${
          esc(s.name)
        }</text>`,
    );
  });
  parts.push("</svg>");
  return `<section><h2>${esc(title)}</h2>${parts.join("")}</section>`;
}

function barChart(
  id: string,
  title: string,
  bars: Array<{ label: string; value: number; note?: string }>,
  unit: string,
): string {
  if (bars.length === 0) return `<section><h2>${esc(title)}</h2><p>No data.</p></section>`;
  const max = Math.max(...bars.map((b) => b.value), 1);
  const rowH = 24;
  const h = bars.length * rowH + 20;
  const parts = [
    `<svg id="${id}" viewBox="0 0 ${W} ${h}" width="${W}" height="${h}" role="img" aria-label="${
      esc(title)
    }">`,
  ];
  bars.forEach((b, i) => {
    const y = 10 + i * rowH;
    const w = (b.value / max) * (W - 260);
    parts.push(
      `<text class="tick" x="150" y="${y + 15}" text-anchor="end">${esc(b.label)}</text>` +
        `<rect class="bar" data-label="${
          esc(b.label)
        }" data-value="${b.value}" x="158" y="${y}" width="${w.toFixed(1)}" height="${
          rowH - 6
        }" fill="#3b6fb6"/>` +
        `<text class="tick" x="${164 + w}" y="${y + 15}">${esc(n(b.value))}${unit}${
          b.note ? ` ${esc(b.note)}` : ""
        }</text>`,
    );
  });
  parts.push("</svg>");
  return `<section><h2>${esc(title)}</h2>${parts.join("")}</section>`;
}

const COLORS = ["#3b6fb6", "#d1603d", "#3a9a5b", "#8d5ab8", "#c19a2b", "#2b9bb0"];

/**
 * The analysis as one self-contained HTML page (no scripts, no network): a summary and SVG
 * charts of the command mix, size CDFs, rate over time, popularity on log-log axes with the
 * fitted Zipf line, working set over time and latency percentiles. Every chart carries its
 * numbers in `data-` attributes, and the whole analysis is embedded as JSON.
 */
export function formatAnalysisHtml(a: Analysis): string {
  const cmds = Object.entries(a.commands).sort((x, y) => y[1].count - x[1].count);
  const mix = barChart(
    "chart-mix",
    "Command mix",
    cmds.map(([k, c]) => ({ label: k, value: c.count, note: `(${pct(c.share)})` })),
    "",
  );
  // A CDF starts at 0 just before its first value, so that a single size still draws a step.
  const cdf = (c: Array<[number, number]>): Array<[number, number]> =>
    c.length > 0 ? [[c[0]![0], 0], ...c] : [];
  const sizes = lineChart("chart-sizes", "Key and value sizes (CDF)", [
    { name: "key length", points: cdf(a.overall.keyLength.cdf), color: COLORS[0]! },
    { name: "value length", points: cdf(a.overall.valueLength.cdf), color: COLORS[1]! },
  ], { logX: true, xLabel: "bytes", yLabel: "fraction ≤ x" });
  const rateSeries: Series[] = [{
    name: "all",
    points: a.rate.overall.map((v, i) => [i, v]),
    color: "#222",
  }];
  cmds.slice(0, 5).forEach(([k], i) =>
    rateSeries.push({
      name: k,
      points: (a.rate.perCommand[k] ?? []).map((v, j) => [j, v]),
      color: COLORS[i % COLORS.length]!,
      dashed: true,
    })
  );
  const rate = lineChart("chart-rate", "Requests per second", rateSeries, {
    xLabel: "seconds since start",
    yLabel: "events/s",
  });
  const rf = a.keys.rankFrequency;
  const zipfLine: Array<[number, number]> = rf.length > 0 && a.keys.zipf.exponent > 0
    ? [[1, rf[0]![1]], [
      rf[rf.length - 1]![0],
      rf[0]![1] * rf[rf.length - 1]![0] ** -a.keys.zipf.exponent,
    ]]
    : [];
  const pop = lineChart(
    "chart-popularity",
    `Key popularity (Zipf exponent ${a.keys.zipf.exponent}, R² ${a.keys.zipf.r2})`,
    [
      { name: "accesses by rank", points: rf, color: COLORS[0]! },
      {
        name: `fit: s = ${a.keys.zipf.exponent}`,
        points: zipfLine,
        color: COLORS[1]!,
        dashed: true,
      },
    ],
    { logX: true, logY: true, xLabel: "rank", yLabel: "accesses", markers: true },
  );
  const ws = lineChart("chart-working-set", "Working set", [
    {
      name: "distinct keys (cumulative)",
      points: a.keys.workingSet.cumulative.map((v, i) => [i, v]),
      color: COLORS[2]!,
    },
    {
      name: "distinct keys per second",
      points: a.keys.workingSet.perInterval.map((v, i) => [i, v]),
      color: COLORS[3]!,
    },
  ], { xLabel: "seconds since start", yLabel: "keys" });
  const lat = barChart(
    "chart-latency",
    "Wire response time by command (p50 / p99)",
    cmds.filter(([, c]) => c.latencyUs.count > 0).flatMap(([k, c]) => [
      { label: `${k} p50`, value: c.latencyUs.p50 },
      { label: `${k} p99`, value: c.latencyUs.p99 },
    ]),
    " µs",
  );
  const rows = cmds.map(([k, c]) =>
    `<tr data-command="${esc(k)}"><td>${esc(k)}</td><td>${n(c.count)}</td><td>${
      pct(c.share)
    }</td><td>${n(c.requests)}</td><td>${n(c.keys)}</td><td>${
      c.hitRatio === undefined ? "-" : pct(c.hitRatio)
    }</td><td>${c.valueLength.count ? n(c.valueLength.p50) : "-"}</td><td>${
      c.valueLength.count ? n(c.valueLength.p99) : "-"
    }</td><td>${c.latencyUs.count ? esc(formatUs(c.latencyUs.p50)) : "-"}</td><td>${
      c.latencyUs.count ? esc(formatUs(c.latencyUs.p99)) : "-"
    }</td></tr>`
  ).join("");
  const k = a.keys;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>membench analysis: ${esc(a.profile.path)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1000px;color:#222;padding:0 16px}
h1{font-size:20px}h2{font-size:16px;margin:24px 0 6px}
table{border-collapse:collapse}td,th{padding:3px 10px;text-align:right;border-bottom:1px solid #ddd}td:first-child,th:first-child{text-align:left}
.grid{stroke:#eee}.tick{font-size:11px;fill:#555}.axis{font-size:12px;fill:#333}.legend{font-size:12px}
.warn{background:#fff3cd;padding:8px;border:1px solid #e0c36a}.facts li{margin:2px 0}
svg{max-width:100%;height:auto}
</style></head><body>
<h1>membench analysis</h1>
<p>${esc(a.profile.path)} — ${esc(a.profile.source)}; salt fingerprint <code>${
    esc(a.profile.saltFingerprint)
  }</code></p>
${
    a.profile.partial
      ? `<p class="warn">Partial analysis: ${
        esc(a.profile.warning ?? "the profile is truncated")
      }</p>`
      : ""
  }
<ul class="facts">
<li id="fact-events" data-value="${a.totals.events}">${n(a.totals.events)} events over ${
    (a.totals.durationUs / 1e6).toFixed(1)
  } s (${n(a.totals.eventsPerSec)} events/s), ${n(a.totals.connections)} connections</li>
<li id="fact-keys" data-value="${k.distinct}">${n(k.distinct)} distinct keys (${k.method}), ${
    n(k.oneHitWonders)
  } one-hit wonders (${pct(k.oneHitWonderRatio)})</li>
<li id="fact-zipf" data-value="${k.zipf.exponent}">Zipf exponent ${k.zipf.exponent} (R² ${k.zipf.r2})</li>
<li id="fact-compulsory" data-value="${k.compulsoryMisses}">${
    n(k.compulsoryMisses)
  } compulsory misses (${pct(k.compulsoryMissRatio)} of read misses)</li>
${k.note ? `<li>${esc(k.note)}</li>` : ""}
</ul>
<table><thead><tr><th>command</th><th>events</th><th>share</th><th>requests</th><th>keys</th><th>hit ratio</th><th>value p50</th><th>value p99</th><th>latency p50</th><th>latency p99</th></tr></thead><tbody>${rows}</tbody></table>
${mix}
${sizes}
${rate}
${pop}
${ws}
${lat}
<script type="application/json" id="analysis">${
    JSON.stringify(withSchema("analysis", a)).replace(/</g, "\\u003c")
  }</script>
</body></html>
`;
}
