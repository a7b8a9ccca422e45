// This module uses no Deno APIs.
import type { Analysis, Distribution } from "../analyze/mod.ts";
import type { BenchResult, TestResult } from "../bench/mod.ts";
import type { RecordResult } from "../capture/mod.ts";
import { decodeHistogram, type LatencySummary } from "../metrics/mod.ts";
import type { ReplayResult } from "../replay/mod.ts";

/** What a metric measures, which decides the units a threshold may use. */
export type MetricKind = "time" | "ratio" | "count" | "rate" | "bytes" | "number";

/** One named figure of a phase result. Times are µs, ratios 0..1, rates per second. */
export interface Metric {
  /** The value in base units. */
  value: number;
  /** What it measures. */
  kind: MetricKind;
  /** Set when the short name fits several figures: the full names to use instead. */
  ambiguous?: string[];
}

/** Named figures of a phase result, for thresholds: `"get.p99"`, `"hit_ratio"`, `"ops"`, … */
export type MetricSet = Record<string, Metric>;

/** Percentiles offered for bench commands (from the HDR histograms). */
const BENCH_PERCENTILES = [50, 75, 90, 95, 99, 99.9, 99.99];

class MetricBuilder {
  readonly set: MetricSet = {};
  #aliases = new Map<string, Array<{ full: string; metric: Metric }>>();

  put(name: string, value: number | undefined, kind: MetricKind): void {
    if (value === undefined || Number.isNaN(value)) return;
    this.set[name] = { value, kind };
  }

  /** A short name for `full`; two different figures under one short name make it ambiguous. */
  alias(short: string, full: string): void {
    const metric = this.set[full];
    if (!metric || short === full) return;
    const list = this.#aliases.get(short) ?? [];
    list.push({ full, metric });
    this.#aliases.set(short, list);
  }

  done(): MetricSet {
    for (const [short, list] of this.#aliases) {
      if (this.set[short] !== undefined) continue; // a direct figure wins over an alias
      this.set[short] = list.length === 1
        ? { ...list[0]!.metric }
        : { value: NaN, kind: list[0]!.metric.kind, ambiguous: list.map((a) => a.full) };
    }
    return this.set;
  }
}

function putLatency(b: MetricBuilder, prefix: string, s: LatencySummary | undefined): void {
  if (!s || s.count === 0) return;
  b.put(`${prefix}.min`, s.minUs, "time");
  b.put(`${prefix}.mean`, s.meanUs, "time");
  b.put(`${prefix}.p50`, s.p50Us, "time");
  b.put(`${prefix}.p90`, s.p90Us, "time");
  b.put(`${prefix}.p99`, s.p99Us, "time");
  b.put(`${prefix}.p999`, s.p999Us, "time");
  b.put(`${prefix}.max`, s.maxUs, "time");
}

function putPercentiles(b: MetricBuilder, prefix: string, encoded: string | undefined): void {
  if (!encoded) return;
  const h = decodeHistogram(encoded);
  try {
    if (h.totalCount === 0) return;
    for (const p of BENCH_PERCENTILES) {
      b.put(`${prefix}.p${String(p).replace(".", "")}`, h.getValueAtPercentile(p), "time");
    }
  } finally {
    h.destroy();
  }
}

function putDistribution(b: MetricBuilder, prefix: string, d: Distribution, kind: MetricKind) {
  if (d.count === 0) return;
  b.put(`${prefix}.min`, d.min, kind);
  b.put(`${prefix}.mean`, d.mean, kind);
  b.put(`${prefix}.p50`, d.p50, kind);
  b.put(`${prefix}.p90`, d.p90, kind);
  b.put(`${prefix}.p99`, d.p99, kind);
  b.put(`${prefix}.p999`, d.p999, kind);
  b.put(`${prefix}.max`, d.max, kind);
}

/** A name usable as a metric segment: the command name, else the server command. */
function segmentOf(name: string, command: string): string {
  return /^[A-Za-z0-9_\-@:]+$/.test(name) ? name.toLowerCase() : command.toLowerCase();
}

/**
 * The named figures of a bench result. Per command, under `<command>.` (and `<test>.<command>.`
 * when a command runs in several tests): `p50` … `p9999`, `min`, `mean`, `max` (response time
 * in open loop, else service time), `service.p99` …, `response.p99` …, `ops`, `count`,
 * `errors`, `error_rate`, `late`, `late_client`, and for reads `hits`, `misses`, `hit_ratio`. Per
 * test, under `<test>.`: `ops`, `requests`, `errors`, `late`. Over the whole run: `ops`,
 * `requests`, `errors`, `error_rate`, `late`, `late_ratio` (late sends of all), `late_client` and
 * `client_late_ratio` (late sends that waited while their connection had a free slot: membench
 * itself behind), `reconnects`, `hit_ratio`, and `p50` … `max` when the run
 * had one command.
 *
 * @example Usage
 * ```ts ignore
 * const m = benchMetrics(await bench({ tests: ["get"] }));
 * m["get.p99"]; // { value: 310, kind: "time" }
 * ```
 */
export function benchMetrics(r: BenchResult): MetricSet {
  const b = new MetricBuilder();
  let requests = 0, errors = 0, late = 0, lateClient = 0, reconnects = 0, durationMs = 0;
  let hits = 0, misses = 0;
  let single: { t: TestResult; i: number } | undefined;
  for (const t of r.tests) {
    const tname = segmentOf(t.name, t.name);
    requests += t.requests;
    errors += t.errors;
    late += t.late;
    lateClient += t.lateClient ?? 0;
    reconnects += t.reconnects;
    durationMs += t.durationMs;
    for (const [i, c] of t.commands.entries()) {
      const seg = segmentOf(c.name, c.command);
      const full = `${tname}.${seg}`;
      const open = c.responseTime !== undefined;
      const h = t.histograms[i];
      putLatency(b, full, open ? c.responseTime : c.serviceTime);
      putPercentiles(b, full, open ? h?.response : h?.service);
      putLatency(b, `${full}.service`, c.serviceTime);
      putPercentiles(b, `${full}.service`, h?.service);
      if (open) {
        putLatency(b, `${full}.response`, c.responseTime);
        putPercentiles(b, `${full}.response`, h?.response);
      }
      b.put(`${full}.ops`, c.opsPerSec, "rate");
      b.put(`${full}.count`, c.count, "count");
      b.put(`${full}.errors`, c.errorCount, "count");
      b.put(`${full}.error_rate`, c.count > 0 ? c.errorCount / c.count : 0, "ratio");
      b.put(`${full}.late`, c.late, "count");
      b.put(`${full}.late_client`, c.lateClient ?? 0, "count");
      if (c.hits !== undefined) {
        hits += c.hits;
        misses += c.misses ?? 0;
        b.put(`${full}.hits`, c.hits, "count");
        b.put(`${full}.misses`, c.misses, "count");
        b.put(`${full}.hit_ratio`, c.hitRatio, "ratio");
      }
      // The short name (`get.p99`) stands for the one test that ran the command; with several
      // such tests it is ambiguous and the message lists the full names.
      for (const k of Object.keys(b.set)) {
        if (k.startsWith(full + ".")) b.alias(seg + k.slice(full.length), k);
      }
      single = single === undefined ? { t, i } : { t, i: -1 };
    }
    const only = t.commands.length === 1 ? t.commands[0]! : undefined;
    if (!only || segmentOf(only.name, only.command) !== tname) {
      b.put(`${tname}.ops`, t.opsPerSec, "rate");
      b.put(`${tname}.requests`, t.requests, "count");
      b.put(`${tname}.errors`, t.errors, "count");
      b.put(`${tname}.late`, t.late, "count");
    }
  }
  b.put("requests", requests, "count");
  b.put("ops", durationMs > 0 ? requests / (durationMs / 1000) : 0, "rate");
  b.put("errors", errors, "count");
  b.put("error_rate", requests > 0 ? errors / requests : 0, "ratio");
  b.put("late", late, "count");
  b.put("late_ratio", requests > 0 ? late / requests : 0, "ratio");
  b.put("late_client", lateClient, "count");
  b.put("client_late_ratio", requests > 0 ? lateClient / requests : 0, "ratio");
  b.put("reconnects", reconnects, "count");
  if (hits + misses > 0) b.put("hit_ratio", hits / (hits + misses), "ratio");
  if (single && single.i >= 0) {
    const c = single.t.commands[single.i]!;
    putLatency(b, "latency", c.responseTime ?? c.serviceTime);
    for (const k of Object.keys(b.set)) {
      if (k.startsWith("latency.")) b.alias(k.slice("latency.".length), k);
    }
  }
  return b.done();
}

/**
 * The named figures of a replay: `sent`, `completed`, `errors`, `late`, `skipped`, `loops`,
 * `ops` (completed per second), `hit_ratio` (replayed reads), `lateness.p50`, `lateness.p99`,
 * `lateness.max`; per op `<op>.p50` … `<op>.max`, `<op>.sent`, `<op>.errors`, `<op>.hit_ratio`,
 * `<op>.recorded_hit_ratio`; and the fidelity figures `fidelity.size_ks`, `fidelity.rate_error`,
 * `fidelity.mix_diff` and `fidelity.hit_ratio_diff` (largest over ops), `fidelity.pass` (1 or 0).
 */
export function replayMetrics(r: ReplayResult): MetricSet {
  const b = new MetricBuilder();
  b.put("sent", r.sent, "count");
  b.put("completed", r.completed, "count");
  b.put("errors", r.errors, "count");
  b.put("error_rate", r.sent > 0 ? r.errors / r.sent : 0, "ratio");
  b.put("late", r.late, "count");
  b.put("loops", r.loops, "count");
  b.put("skipped", Object.values(r.skipped).reduce((a, n) => a + n, 0), "count");
  b.put("ops", r.durationMs > 0 ? r.completed / (r.durationMs / 1000) : 0, "rate");
  b.put("lateness.p50", r.lateness.p50Us, "time");
  b.put("lateness.p99", r.lateness.p99Us, "time");
  b.put("lateness.max", r.lateness.maxUs, "time");
  let hits = 0, misses = 0;
  for (const c of r.commands) {
    const p = c.op.toLowerCase();
    putLatency(b, p, c.responseTime ?? c.serviceTime);
    putLatency(b, `${p}.service`, c.serviceTime);
    b.put(`${p}.sent`, c.sent, "count");
    b.put(`${p}.recorded`, c.recorded, "count");
    const errs = Object.values(c.errors).reduce((a, n) => a + n, 0);
    b.put(`${p}.errors`, errs, "count");
    if (c.hits !== undefined && c.misses !== undefined) {
      hits += c.hits;
      misses += c.misses;
      if (c.hits + c.misses > 0) b.put(`${p}.hit_ratio`, c.hits / (c.hits + c.misses), "ratio");
    }
    const rh = c.recordedHits ?? 0, rm = c.recordedMisses ?? 0;
    if (rh + rm > 0) b.put(`${p}.recorded_hit_ratio`, rh / (rh + rm), "ratio");
  }
  if (hits + misses > 0) b.put("hit_ratio", hits / (hits + misses), "ratio");
  const f = r.fidelity;
  b.put("fidelity.size_ks", f.sizeKs, "number");
  b.put("fidelity.rate_error", f.rateError, "number");
  b.put("fidelity.mix_diff", Math.max(0, ...f.mix.map((m) => m.diff)), "ratio");
  b.put("fidelity.hit_ratio_diff", Math.max(0, ...f.hitRatio.map((h) => h.diff)), "ratio");
  b.put("fidelity.pass", f.pass ? 1 : 0, "number");
  return b.done();
}

/**
 * The named figures of an analysis: `events`, `connections`, `events_per_sec`, `duration`
 * (time), `keys` (distinct), `hit_ratio` (all reads), `one_hit_wonder_ratio`, `zipf.exponent`,
 * `zipf.r2`, `key_bytes.p50` …, `value_bytes.p50` …, `latency.p50` … (wire response time), and
 * per command `<op>.count`, `<op>.share`, `<op>.hit_ratio`, `<op>.value_bytes.p99` …,
 * `<op>.latency.p99` ….
 */
export function analysisMetrics(a: Analysis): MetricSet {
  const b = new MetricBuilder();
  b.put("events", a.totals.events, "count");
  b.put("connections", a.totals.connections, "count");
  b.put("events_per_sec", a.totals.eventsPerSec, "rate");
  b.put("duration", a.totals.durationUs, "time");
  b.put("keys", a.keys.distinct, "count");
  b.put("one_hit_wonder_ratio", a.keys.oneHitWonderRatio, "ratio");
  b.put("zipf.exponent", a.keys.zipf.exponent, "number");
  b.put("zipf.r2", a.keys.zipf.r2, "number");
  const hit = a.totals.statuses["hit"] ?? 0;
  const miss = a.totals.statuses["miss"] ?? 0;
  if (hit + miss > 0) b.put("hit_ratio", hit / (hit + miss), "ratio");
  putDistribution(b, "key_bytes", a.overall.keyLength, "bytes");
  putDistribution(b, "value_bytes", a.overall.valueLength, "bytes");
  putDistribution(b, "latency", a.overall.latencyUs, "time");
  for (const [op, c] of Object.entries(a.commands)) {
    b.put(`${op}.count`, c.count, "count");
    b.put(`${op}.share`, c.share, "ratio");
    b.put(`${op}.hit_ratio`, c.hitRatio, "ratio");
    putDistribution(b, `${op}.key_bytes`, c.keyLength, "bytes");
    putDistribution(b, `${op}.value_bytes`, c.valueLength, "bytes");
    putDistribution(b, `${op}.latency`, c.latencyUs, "time");
  }
  return b.done();
}

/**
 * The named figures of a recording: `events`, `connections`, `packets`, `gaps`, `lost_bytes`,
 * `protocol_errors`, `unpaired`, `undetected`, `duration`, and `<op>.count` per op.
 */
export function recordMetrics(r: RecordResult): MetricSet {
  const b = new MetricBuilder();
  b.put("events", r.events, "count");
  b.put("connections", r.connections, "count");
  b.put("packets", r.packets, "count");
  b.put("gaps", r.gaps, "count");
  b.put("lost_bytes", r.lostBytes, "bytes");
  b.put("protocol_errors", r.protocolErrors, "count");
  b.put("unpaired", r.unpairedResponses, "count");
  b.put("undetected", r.undetected, "count");
  b.put("duration", r.durationUs, "time");
  for (const [op, n] of Object.entries(r.eventsPerCommand)) b.put(`${op}.count`, n, "count");
  return b.done();
}

/** The named figures of any phase result, told apart by shape. */
export function metricsOfAny(
  r: BenchResult | ReplayResult | Analysis | RecordResult,
): MetricSet {
  if ("tests" in r) return benchMetrics(r);
  if ("fidelity" in r) return replayMetrics(r);
  if ("keys" in r && "totals" in r) return analysisMetrics(r);
  return recordMetrics(r as RecordResult);
}
