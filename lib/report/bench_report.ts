// This module uses no Deno APIs.
import type { BenchResult, CommandResult, TestResult } from "../bench/mod.ts";
import { writeHdrLog } from "../metrics/mod.ts";
import { formatRate, formatUs } from "../units/mod.ts";
import { formatServerReport } from "./server_report.ts";

/** Which latency figure a test reports first: response time in open loop, else service time. */
function headline(c: CommandResult) {
  return c.responseTime ?? c.serviceTime;
}

/**
 * A text report: one table per test with throughput, latency percentiles, hits and errors. It
 * says which latency figure each table shows.
 */
export function formatBenchText(r: BenchResult): string {
  const lines: string[] = [];
  const cfg = r.config;
  lines.push(
    `membench ${r.version}  ${cfg.targets.join(", ")}${cfg.tls ? " (TLS)" : ""}${
      cfg.resp3 ? " RESP3" : ""
    }  ` +
      `clients=${cfg.clients} pipeline=${cfg.pipeline} threads=${cfg.threads} keyspace=${cfg.keyspace} ` +
      `seed=${cfg.seed}`,
  );
  for (const s of r.setup) lines.push(`setup: ${s.command} x${s.calls} (${s.why})`);
  for (const t of r.tests) lines.push("", ...testTable(t));
  if (r.failure) lines.push("", `FAILED: ${r.failure.message}`);
  if (r.interrupted) lines.push("", "Interrupted: the results above are partial.");
  return lines.join("\n") + "\n";
}

function testTable(t: TestResult): string[] {
  const open = t.loop === "open";
  const out: string[] = [];
  out.push(
    `== ${t.name}: ${formatRate(t.opsPerSec)} ops/s, ${
      t.requests.toLocaleString("en-US")
    } requests in ` +
      `${(t.durationMs / 1000).toFixed(2)} s` +
      (open
        ? `, open loop at ${formatRate(t.targetRatePerSec ?? 0)}/s target, ${t.late} late sends${
          t.late > 0 ? ` (${t.lateClient ?? 0} while a connection was free: membench behind)` : ""
        }`
        : ", closed loop") +
      (t.errors > 0 ? `, ${t.errors} errors` : "") +
      (t.reconnects > 0 ? `, ${t.reconnects} reconnects` : "") +
      (t.warmupRequests > 0 ? ` (+${t.warmupRequests} warm-up)` : ""),
  );
  out.push(
    open
      ? "   latency = response time from the intended send time (no coordinated omission); service time below"
      : "   latency = service time (request written -> reply read)",
  );
  const header = [
    "command",
    "ops/s",
    "p50",
    "p90",
    "p99",
    "p99.9",
    "max",
    "hits",
    "misses",
    "errors",
  ];
  const rows: string[][] = [header];
  for (const c of t.commands) {
    const l = headline(c);
    rows.push([
      c.name,
      formatRate(c.opsPerSec),
      formatUs(l.p50Us),
      formatUs(l.p90Us),
      formatUs(l.p99Us),
      formatUs(l.p999Us),
      formatUs(l.maxUs),
      c.hits === undefined ? "-" : String(c.hits),
      c.misses === undefined ? "-" : String(c.misses),
      c.errorCount === 0 ? "0" : Object.entries(c.errors).map(([k, v]) => `${k}:${v}`).join(" "),
    ]);
    if (open) {
      const s = c.serviceTime;
      rows.push([
        "  service",
        "",
        formatUs(s.p50Us),
        formatUs(s.p90Us),
        formatUs(s.p99Us),
        formatUs(s.p999Us),
        formatUs(s.maxUs),
        "",
        "",
        "",
      ]);
    }
  }
  const widths = header.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) {
    out.push(
      "   " +
        r.map((cell, i) => i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)).join(
          "  ",
        ),
    );
  }
  if (t.failure) out.push(`   failed: ${t.failure.message}`);
  if (t.cluster && t.nodes) out.push(...nodeTable(t));
  if (t.server) {
    const client: Record<string, number> = {};
    for (const c of t.commands) client[c.command] = c.serviceTime.meanUs;
    out.push(...formatServerReport(t.server, client).trimEnd().split("\n").map((l) => `   ${l}`));
  }
  return out;
}

// Cluster mode: what each node took (membench's counts), the skew and the redirections.
function nodeTable(t: TestResult): string[] {
  const c = t.cluster!;
  const r = c.redirects;
  // Service time per node: a redirected request counts from its first send.
  const out = [
    `   cluster: ${c.primaries} primaries, ${c.nodes} nodes, reads from ${c.rfr}; max share ` +
    `${(c.maxShare * 100).toFixed(1)}%, skew ${c.skew.toFixed(2)}; redirects: moved ${r.moved}, ` +
    `ask ${r.ask}, tryagain ${r.tryagain}, clusterdown ${r.clusterdown}`,
  ];
  const rows = [[
    "node",
    "role",
    "requests",
    "ops/s",
    "share",
    "p50",
    "p99",
    "errors",
    "moved",
    "ask",
    "tryagain",
    "clusterdown",
  ]];
  for (const n of t.nodes!) {
    rows.push([
      n.address,
      n.role,
      String(n.requests),
      formatRate(n.opsPerSec),
      `${(n.share * 100).toFixed(1)}%`,
      formatUs(n.serviceTime.p50Us),
      formatUs(n.serviceTime.p99Us),
      String(n.errors),
      String(n.redirects.moved),
      String(n.redirects.ask),
      String(n.redirects.tryagain),
      String(n.redirects.clusterdown),
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const row of rows) {
    out.push(
      "   " + row.map((cell, i) => i < 2 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))
        .join("  "),
    );
  }
  return out;
}

/** redis-benchmark's `-q` form: one line per test. */
export function formatBenchQuiet(r: BenchResult): string {
  return r.tests.map((t) => {
    const p50 = t.commands.length === 1 ? headline(t.commands[0]!).p50Us : undefined;
    return `${t.name.toUpperCase()}: ${t.opsPerSec.toFixed(2)} requests per second` +
      (p50 !== undefined ? `, p50=${(p50 / 1000).toFixed(3)} msec` : "");
  }).join("\n") + "\n";
}

/** CSV, one row per command per test; latencies in µs; the `latency` column names the figure. */
export function formatBenchCsv(r: BenchResult): string {
  const rows = [
    [
      "test",
      "command",
      "loop",
      "latency",
      "requests",
      "ops_per_sec",
      "p50_us",
      "p90_us",
      "p99_us",
      "p999_us",
      "max_us",
      "mean_us",
      "hits",
      "misses",
      "errors",
      "late",
      "late_client",
    ],
  ];
  for (const t of r.tests) {
    for (const c of t.commands) {
      const l = headline(c);
      rows.push([
        t.name,
        c.name,
        t.loop,
        c.responseTime ? "response" : "service",
        String(c.count),
        c.opsPerSec.toFixed(2),
        String(l.p50Us),
        String(l.p90Us),
        String(l.p99Us),
        String(l.p999Us),
        String(l.maxUs),
        String(l.meanUs),
        String(c.hits ?? ""),
        String(c.misses ?? ""),
        String(c.errorCount),
        String(c.late),
        String(c.lateClient ?? 0),
      ]);
    }
  }
  return rows.map((r) => r.map(csvCell).join(",")).join("\n") + "\n";
}

function csvCell(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** JSON: everything but the encoded histograms (those go to the HDR log). */
export function formatBenchJson(r: BenchResult): string {
  return JSON.stringify(
    { ...r, tests: r.tests.map(({ histograms: _h, ...t }) => t) },
    null,
    2,
  ) + "\n";
}

/**
 * An HdrHistogram interval log of every test and command, one interval per second, tagged
 * `<test>.<command>.service` and `<test>.<command>.response`.
 */
export function formatBenchHdrLog(r: BenchResult): string {
  const intervals: Array<{ tag: string; startSec: number; lengthSec: number; encoded: string }> =
    [];
  let offset = 0;
  for (const t of r.tests) {
    for (const h of t.histograms) {
      const tag = `${t.name}.${h.name}`.replace(/[\s,=]/g, "_");
      for (const s of h.series) {
        intervals.push({
          tag: `${tag}.service`,
          startSec: offset + s.second,
          lengthSec: 1,
          encoded: s.service,
        });
        if (s.response) {
          intervals.push({
            tag: `${tag}.response`,
            startSec: offset + s.second,
            lengthSec: 1,
            encoded: s.response,
          });
        }
      }
    }
    offset += Math.ceil(t.durationMs / 1000);
  }
  intervals.sort((a, b) => a.startSec - b.startSec);
  return writeHdrLog(Date.parse(r.startedAt), intervals);
}
