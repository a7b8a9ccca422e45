// This module uses no Deno APIs.
import type {
  BenchRepeatResult,
  BenchResult,
  CommandResult,
  Spread,
  TestResult,
} from "../bench/mod.ts";
import { decodeHistogram, writeHdrLog } from "../metrics/mod.ts";
import { formatRate, formatUs } from "../units/mod.ts";
import { formatServerReport } from "./server_report.ts";
import { withSchema } from "./schemas.ts";

/** Which latency figure a test reports first: response time in open loop, else service time. */
function headline(c: CommandResult) {
  return c.responseTime ?? c.serviceTime;
}

/** Options of the bench text report. */
export interface BenchTextOptions {
  /**
   * The percentile columns, e.g. `[50, 99, 99.9, 99.99]` (memtier `--print-percentiles`), read
   * from the encoded histograms. @default {[50, 90, 99, 99.9]}
   */
  percentiles?: number[];
}

/**
 * A text report: one table per test with throughput, latency percentiles, hits and errors, the
 * first error of each kind and, for a test in which no request succeeded, why and a hint. It
 * says which latency figure each table shows.
 */
export function formatBenchText(r: BenchResult, options: BenchTextOptions = {}): string {
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
  for (const t of r.tests) lines.push("", ...testTable(t, options.percentiles));
  if (r.failure) lines.push("", `FAILED: ${r.failure.message}`);
  if (r.interrupted) lines.push("", "Interrupted: the results above are partial.");
  return lines.join("\n") + "\n";
}

function testTable(t: TestResult, percentiles: number[] | undefined): string[] {
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
  const pcts = percentiles ?? [50, 90, 99, 99.9];
  const header = [
    "command",
    "ops/s",
    ...pcts.map((p) => `p${p}`),
    "max",
    "hits",
    "misses",
    "errors",
  ];
  const rows: string[][] = [header];
  for (const c of t.commands) {
    const l = headline(c);
    const h = t.histograms.find((x) => x.name === c.name);
    rows.push([
      c.name,
      formatRate(c.opsPerSec),
      ...latencyCells(pcts, l, percentiles && h ? h.response ?? h.service : undefined),
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
        ...latencyCells(pcts, s, percentiles && h ? h.service : undefined),
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
  // The first error of each kind, as the server (or the parser) said it.
  for (const c of t.commands) {
    for (const [code, text] of Object.entries(c.firstErrors ?? {})) {
      const who = t.commands.length > 1 ? `${c.name} ` : "";
      out.push(`   first ${who}${code} error (${c.errors[code] ?? 0}x): ${text}`);
    }
  }
  if (t.allFailed) {
    out.push(`   FAILED: ${t.allFailed.message}`);
    if (t.allFailed.hint) out.push(`   hint: ${t.allFailed.hint}`);
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

// The percentile cells of a row: from the summary for the usual four, else from the histogram.
function latencyCells(
  pcts: number[],
  l: CommandResult["serviceTime"],
  encoded: string | undefined,
): string[] {
  if (encoded === undefined) {
    const known: Record<number, number> = { 50: l.p50Us, 90: l.p90Us, 99: l.p99Us, 99.9: l.p999Us };
    return pcts.map((p) => formatUs(known[p] ?? NaN));
  }
  const h = decodeHistogram(encoded);
  try {
    return pcts.map((p) => formatUs(h.totalCount > 0 ? h.getValueAtPercentile(p) : 0));
  } finally {
    h.destroy();
  }
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
      (p50 !== undefined ? `, p50=${(p50 / 1000).toFixed(3)} msec` : "") +
      (t.errors > 0 ? `, ${t.errors} errors` : "");
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

/**
 * Cluster mode (and a primary with replicas): one CSV row per test and node, as membench counted
 * it: requests, ops/s, share of the test's requests, service-time percentiles, errors and the
 * redirections the node answered with. The header alone when no test has per-node figures.
 */
export function formatNodeCsv(r: BenchResult): string {
  const rows = [[
    "test",
    "node",
    "role",
    "requests",
    "ops_per_sec",
    "share",
    "p50_us",
    "p90_us",
    "p99_us",
    "p999_us",
    "max_us",
    "mean_us",
    "errors",
    "moved",
    "ask",
    "tryagain",
    "clusterdown",
  ]];
  for (const t of r.tests) {
    for (const n of t.nodes ?? []) {
      const l = n.serviceTime;
      rows.push([
        t.name,
        n.address,
        n.role,
        String(n.requests),
        n.opsPerSec.toFixed(2),
        n.share.toFixed(4),
        String(l.p50Us),
        String(l.p90Us),
        String(l.p99Us),
        String(l.p999Us),
        String(l.maxUs),
        String(l.meanUs),
        String(n.errors),
        String(n.redirects.moved),
        String(n.redirects.ask),
        String(n.redirects.tryagain),
        String(n.redirects.clusterdown),
      ]);
    }
  }
  return rows.map((r) => r.map(csvCell).join(",")).join("\n") + "\n";
}

function csvCell(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * JSON: everything but the encoded histograms (those go to the HDR log), except for a run shard,
 * whose result keeps them for the merge.
 */
export function formatBenchJson(r: BenchResult): string {
  // A run shard's result is for merging: it keeps the encoded histograms (per command and per
  // second) that an exact merge needs, on one line (NDJSON, so that pods' logs can be merged).
  if (r.config.shard !== undefined) {
    const shard = withSchema("bench-result", { ...r, tests: r.tests.map(withErrorKinds) });
    return JSON.stringify(shard) + "\n";
  }
  return JSON.stringify(
    withSchema("bench-result", {
      ...r,
      tests: r.tests.map(({ histograms: _h, nodeHistograms: _n, ...t }) => withErrorKinds(t)),
    }),
    null,
    2,
  ) + "\n";
}

/**
 * A test with `errorsByKind` after `errors`: the test's errors by kind, summed over its
 * commands (`errors` stays the count, as `commands[].errorCount`; `commands[].errors` is by
 * kind).
 */
function withErrorKinds<T extends Pick<TestResult, "errors" | "commands">>(
  t: T,
): T & { errorsByKind: Record<string, number> } {
  const errorsByKind: Record<string, number> = {};
  for (const c of t.commands) {
    for (const [k, n] of Object.entries(c.errors)) errorsByKind[k] = (errorsByKind[k] ?? 0) + n;
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(t)) {
    out[k] = v;
    if (k === "errors") out["errorsByKind"] = errorsByKind;
  }
  return out as T & { errorsByKind: Record<string, number> };
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

function spreadCells(s: Spread, f: (x: number) => string): string[] {
  const cv = s.mean > 0 ? ` (${((s.stdev / s.mean) * 100).toFixed(1)}%)` : "";
  return [f(s.median), f(s.min), f(s.max), `${f(s.stdev)}${cv}`];
}

/**
 * The aggregate of repeated runs (memtier `--run-count`): per test, ops/s and p99 over the runs
 * as median, min, max and standard deviation (with its share of the mean), and p50's median.
 */
export function formatBenchRepeatText(r: BenchRepeatResult): string {
  const runs = r.requested === Infinity
    ? `${r.completed} runs`
    : `${r.completed} of ${r.requested} runs`;
  const lines = [`== aggregate over ${runs}`];
  const rows = [[
    "test",
    "runs",
    "ops/s median",
    "min",
    "max",
    "stdev",
    "p99 median",
    "min",
    "max",
    "stdev",
    "p50 median",
    "errors",
  ]];
  for (const a of r.aggregate) {
    rows.push([
      a.name,
      String(a.runs),
      ...spreadCells(a.opsPerSec, formatRate),
      ...spreadCells(a.p99Us, formatUs),
      formatUs(a.p50Us.median),
      String(a.errors),
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((x) => x[i]!.length)));
  for (const row of rows) {
    lines.push(
      "   " + row.map((c, i) => i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)).join("  "),
    );
  }
  if (r.failure) lines.push(`FAILED: ${r.failure.message}`);
  if (r.interrupted) lines.push("Interrupted: the last run is partial and not in the aggregate.");
  return lines.join("\n") + "\n";
}

/** Repeated runs as JSON: each run (without the encoded histograms) and the aggregate. */
export function formatBenchRepeatJson(r: BenchRepeatResult): string {
  return JSON.stringify(
    withSchema("bench-repeat", {
      ...r,
      requested: r.requested === Infinity ? null : r.requested,
      runs: r.runs.map((run) => ({
        ...run,
        tests: run.tests.map(({ histograms: _h, nodeHistograms: _n, ...t }) => withErrorKinds(t)),
      })),
    }),
    null,
    2,
  ) + "\n";
}

/** The aggregate of repeated runs as CSV, one row per test; latencies in µs. */
export function formatBenchRepeatCsv(r: BenchRepeatResult): string {
  const head = ["test", "runs"];
  for (const f of ["ops_per_sec", "p50_us", "p99_us"]) {
    head.push(`${f}_median`, `${f}_min`, `${f}_max`, `${f}_mean`, `${f}_stdev`);
  }
  head.push("requests", "errors");
  const rows = [head];
  for (const a of r.aggregate) {
    const row = [a.name, String(a.runs)];
    for (const s of [a.opsPerSec, a.p50Us, a.p99Us]) {
      row.push(...[s.median, s.min, s.max, s.mean, s.stdev].map((x) => String(+x.toFixed(2))));
    }
    row.push(String(a.requests), String(a.errors));
    rows.push(row);
  }
  return rows.map((x) => x.map(csvCell).join(",")).join("\n") + "\n";
}
