// This module uses no Deno APIs.
import type { ServerChange, ServerReport } from "../monitor/mod.ts";

const fmt = (n: number, digits = 0) =>
  Number.isFinite(n)
    ? n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : "-";

function bytes(n: number): string {
  const a = Math.abs(n);
  if (a >= 1 << 30) return `${(n / (1 << 30)).toFixed(2)} GiB`;
  if (a >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (a >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`;
  return `${n} B`;
}

// A node's figure: a counter's rate, a gauge's last value or growth.
function rateOf(r: ServerReport, node: number, name: string): number {
  const f = r.nodes[node]!.fields[name];
  return f?.kind === "counter" ? f.rate : NaN;
}

function gauge(r: ServerReport, node: number, name: string): { last: number; growth: number } {
  const f = r.nodes[node]!.fields[name];
  return f?.kind === "gauge" ? f : { last: NaN, growth: NaN };
}

/**
 * The servers' side of a run as text: one line per node (commands/s, CPU, memory and its growth,
 * hits and misses, evictions, clients), server time per call next to the client's mean service
 * time for the same command (the difference is network and client), nodes out of line, and
 * snapshots that failed.
 *
 * @param client Mean client service time per command (lower-case name), µs.
 */
export function formatServerReport(r: ServerReport, client: Record<string, number> = {}): string {
  const out: string[] = [];
  out.push(
    `server side over ${fmt(r.windowS, 1)} s (${r.nodes.length} node${
      r.nodes.length === 1 ? "" : "s"
    }):`,
  );
  r.nodes.forEach((n, i) => {
    if (n.kind === "redis") {
      const cpu = (rateOf(r, i, "cpu.used_cpu_user") + rateOf(r, i, "cpu.used_cpu_sys")) * 100;
      const mem = gauge(r, i, "memory.used_memory");
      const hits = rateOf(r, i, "stats.keyspace_hits");
      const misses = rateOf(r, i, "stats.keyspace_misses");
      const ev = n.fields["stats.evicted_keys"];
      // The peak: at the end of the window the load's connections are gone. A load shorter than
      // the metrics interval has no snapshot during it, and its peak is unknown, not 1.
      const cl = n.fields["clients.connected_clients"];
      const clients = cl?.kind !== "gauge"
        ? "-"
        : n.timeline.length >= 2
        ? `${fmt(cl.max)} at most`
        : "not sampled during the load";
      out.push(
        `  ${n.node}: ${fmt(rateOf(r, i, "stats.total_commands_processed"))} cmd/s, cpu ${
          fmt(cpu)
        }%, used_memory ${bytes(mem.last)} (${mem.growth >= 0 ? "+" : ""}${bytes(mem.growth)}), ` +
          `hits ${fmt(hits)}/s misses ${fmt(misses)}/s, evicted ${
            ev?.kind === "counter" ? fmt(ev.delta) : "-"
          }, clients ${clients}`,
      );
    } else {
      const cpu = (rateOf(r, i, "stats.rusage_user") + rateOf(r, i, "stats.rusage_system")) * 100;
      const mem = gauge(r, i, "stats.bytes");
      const ev = n.fields["stats.evictions"];
      out.push(
        `  ${n.node}: get ${fmt(rateOf(r, i, "stats.cmd_get"))}/s set ${
          fmt(rateOf(r, i, "stats.cmd_set"))
        }/s, cpu ${fmt(cpu)}%, bytes ${bytes(mem.last)} (${mem.growth >= 0 ? "+" : ""}${
          bytes(mem.growth)
        }), hits ${fmt(rateOf(r, i, "stats.get_hits"))}/s misses ${
          fmt(rateOf(r, i, "stats.get_misses"))
        }/s, evictions ${ev?.kind === "counter" ? fmt(ev.delta) : "-"}`,
      );
    }
    for (const e of n.errors.slice(0, 3)) out.push(`    snapshot failed: ${e.error}`);
    if (n.errors.length > 3) out.push(`    … ${n.errors.length - 3} more failed snapshots`);
  });
  // Server time per call, mean over nodes, next to the client's.
  const perCall: Record<string, number[]> = {};
  for (const n of r.nodes) {
    for (const [c, v] of Object.entries(n.usecPerCall)) (perCall[c] ??= []).push(v);
  }
  const cmds = Object.keys(perCall).filter((c) => client[c] !== undefined).sort();
  if (cmds.length > 0) {
    out.push("  per command: server µs/call | client service µs | difference (network + client)");
    for (const c of cmds) {
      const s = perCall[c]!.reduce((a, b) => a + b, 0) / perCall[c]!.length;
      const m = client[c]!;
      out.push(
        `    ${c.padEnd(10)} ${fmt(s, 2).padStart(10)} | ${fmt(m, 1).padStart(10)} | ${
          fmt(m - s, 1).padStart(10)
        }`,
      );
    }
  }
  if (r.imbalance.length > 0) {
    for (const x of r.imbalance) {
      out.push(
        `  imbalance: ${x.node} ${x.field} ${x.measure} ${fmt(x.value, 1)} vs mean ${
          fmt(x.mean, 1)
        } (${x.deviationPct >= 0 ? "+" : ""}${
          fmt(x.deviationPct, 0)
        }%, threshold ${r.imbalanceThresholdPct}%)`,
      );
    }
  } else if (r.nodes.length > 1) {
    out.push(`  balanced: largest deviation from the nodes' mean ${fmt(r.imbalanceMaxPct, 0)}%`);
  }
  return out.join("\n") + "\n";
}

/** The changes between a saved snapshot and this run, one line each. */
export function formatServerChanges(
  cmp: { parts: Array<{ part: string; changes: ServerChange[] }>; missing: string[] },
  label?: string,
): string {
  const out: string[] = [`server figures against ${label ?? "the saved snapshot"}:`];
  for (const { part, changes } of cmp.parts) {
    if (changes.length === 0) {
      out.push(`  ${part}: no change over 5%`);
      continue;
    }
    out.push(`  ${part}:`);
    for (const c of changes.slice(0, 20)) {
      const pct = Number.isFinite(c.changePct)
        ? `${c.changePct >= 0 ? "+" : ""}${fmt(c.changePct, 1)}%`
        : "new";
      out.push(`    ${c.field} ${c.figure}: ${fmt(c.before, 2)} -> ${fmt(c.after, 2)} (${pct})`);
    }
    if (changes.length > 20) out.push(`    … ${changes.length - 20} more`);
  }
  for (const m of cmp.missing) out.push(`  ${m}: only in one of the two`);
  return out.join("\n") + "\n";
}

const CSV_HEADER = [
  "part",
  "node",
  "field",
  "kind",
  "before",
  "after",
  "delta",
  "rate",
  "first",
  "last",
  "min",
  "max",
  "growth",
  "value",
];

function csvCell(v: string | number | undefined): string {
  if (v === undefined) return "";
  const s = String(v);
  return /[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/**
 * Server figures as CSV, one row per part (a bench test, `replay`), node and field: counters
 * fill before/after/delta/rate, gauges first/last/min/max/growth, texts value; per-command
 * server time per call comes as `cmd.<c>.usec_per_call` rows of kind `derived`.
 */
export function formatServerCsv(reports: Record<string, ServerReport>): string {
  const rows = [CSV_HEADER.join(",")];
  for (const [part, r] of Object.entries(reports)) {
    for (const n of r.nodes) {
      for (const [field, f] of Object.entries(n.fields)) {
        const cells: Array<string | number | undefined> = [part, n.node, field, f.kind];
        if (f.kind === "counter") cells.push(f.before, f.after, f.delta, f.rate);
        else cells.push(undefined, undefined, undefined, undefined);
        if (f.kind === "gauge") cells.push(f.first, f.last, f.min, f.max, f.growth);
        else cells.push(undefined, undefined, undefined, undefined, undefined);
        cells.push(f.kind === "text" ? f.value : undefined);
        rows.push(cells.map(csvCell).join(","));
      }
      for (const [c, v] of Object.entries(n.usecPerCall)) {
        const cells: Array<string | number | undefined> = [
          part,
          n.node,
          `cmd.${c}.usec_per_call`,
          "derived",
        ];
        for (let i = 0; i < 9; i++) cells.push(undefined);
        cells.push(v);
        rows.push(cells.map(csvCell).join(","));
      }
    }
  }
  return rows.join("\n") + "\n";
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

// One line chart of a figure over time for every node: each point carries its numbers.
function lineChart(
  id: string,
  title: string,
  series: Array<{ node: string; points: Array<[number, number]> }>,
): string {
  const W = 640, H = 200, L = 60, B = 24;
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) return `<p>${esc(title)}: no samples.</p>`;
  const x0 = Math.min(...all.map((p) => p[0])), x1 = Math.max(...all.map((p) => p[0]), x0 + 1);
  const y1 = Math.max(...all.map((p) => p[1]), 1);
  const X = (x: number) => L + ((x - x0) / (x1 - x0)) * (W - L - 10);
  const Y = (y: number) => H - B - (y / y1) * (H - B - 10);
  const colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"];
  const parts = series.map((s, i) => {
    const c = colors[i % colors.length]!;
    const path = s.points.map((p, k) =>
      `${k ? "L" : "M"}${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`
    )
      .join("");
    const dots = s.points.map((p) =>
      `<circle class="point" data-series="${esc(title)}" data-node="${esc(s.node)}" data-x="${
        p[0]
      }" data-y="${p[1]}" cx="${X(p[0]).toFixed(1)}" cy="${Y(p[1]).toFixed(1)}" r="2" fill="${c}"/>`
    ).join("");
    return `<path d="${path}" fill="none" stroke="${c}"/>${dots}<text x="${W - 150}" y="${
      14 + 12 * i
    }" fill="${c}" font-size="11">${esc(s.node)}</text>`;
  }).join("");
  return `<figure><figcaption>${
    esc(title)
  }</figcaption><svg id="${id}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${
    esc(title)
  }"><line x1="${L}" y1="${H - B}" x2="${W - 10}" y2="${
    H - B
  }" stroke="#888"/><line x1="${L}" y1="10" x2="${L}" y2="${
    H - B
  }" stroke="#888"/><text x="4" y="14" font-size="10">${
    fmt(y1, y1 < 10 ? 2 : 0)
  }</text><text x="4" y="${H - B}" font-size="10">0</text>${parts}</svg></figure>`;
}

/**
 * The server figures as a self-contained HTML page: per part (a bench test, `replay`) a table per
 * node (the figures of the text report, each cell carrying its number in `data-value`) and charts
 * of each node's command rate, CPU and memory over time. The reports are embedded as JSON.
 */
export function formatServerHtml(reports: Record<string, ServerReport>): string {
  const sections = Object.entries(reports).map(([part, r], pi) => {
    const rows = r.nodes.map((n) => {
      const f = n.fields;
      const counter = (k: string) => (f[k]?.kind === "counter" ? f[k].rate : NaN);
      const gaugeLast = (k: string) => (f[k]?.kind === "gauge" ? f[k].last : NaN);
      const redis = n.kind === "redis";
      const ops = redis
        ? counter("stats.total_commands_processed")
        : counter("stats.cmd_get") + counter("stats.cmd_set");
      const cpu = redis
        ? counter("cpu.used_cpu_user") + counter("cpu.used_cpu_sys")
        : counter("stats.rusage_user") + counter("stats.rusage_system");
      const mem = redis ? gaugeLast("memory.used_memory") : gaugeLast("stats.bytes");
      const cell = (name: string, v: number, text: string) =>
        `<td class="fig" data-node="${esc(n.node)}" data-name="${name}" data-value="${
          Number.isFinite(v) ? v : ""
        }">${esc(text)}</td>`;
      return `<tr><th>${esc(n.node)}</th>${cell("ops_per_sec", ops, fmt(ops))}${
        cell("cpu", cpu, `${fmt(cpu * 100)}%`)
      }${cell("memory", mem, bytes(mem))}${
        cell("errors", n.errors.length, String(n.errors.length))
      }</tr>`;
    }).join("");
    const imb = r.imbalance.map((x) =>
      `<li>${esc(x.node)} ${esc(x.field)} ${x.measure}: ${fmt(x.value, 1)} vs mean ${
        fmt(x.mean, 1)
      } (${x.deviationPct >= 0 ? "+" : ""}${fmt(x.deviationPct)}%)</li>`
    ).join("");
    const series = (pick: (t: ServerReport["nodes"][number]["timeline"][number]) => number) =>
      r.nodes.map((n) => ({
        node: n.node,
        points: n.timeline.map((t) => [(t.tUs - r.fromUs) / 1e6, pick(t)] as [number, number]),
      }));
    return `<section><h2>${esc(part)}</h2><p>${fmt(r.windowS, 1)} s, ${r.nodes.length} node(s)</p>
<table><tr><th>node</th><th>commands/s</th><th>CPU</th><th>memory</th><th>failed snapshots</th></tr>${rows}</table>
${imb ? `<p>Out of line (threshold ${r.imbalanceThresholdPct}%):</p><ul>${imb}</ul>` : ""}
${lineChart(`ops-${pi}`, "commands per second", series((t) => t.opsPerSec))}
${lineChart(`cpu-${pi}`, "CPU (share of a core)", series((t) => t.cpu))}
${lineChart(`mem-${pi}`, "memory (bytes)", series((t) => t.memory))}</section>`;
  }).join("\n");
  const json = JSON.stringify(reports).replaceAll("<", "\\u003c");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>membench server figures</title>
<style>body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}figure{margin:1em 0}</style>
</head><body><h1>membench server figures</h1>
${sections}
<script type="application/json" id="server-figures">${json}</script>
</body></html>
`;
}
