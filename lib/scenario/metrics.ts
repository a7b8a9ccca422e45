// This module uses no Deno APIs.
import type { Analysis, Distribution } from "../analyze/mod.ts";
import type { BenchResult, TestResult } from "../bench/mod.ts";
import type { RecordResult } from "../capture/mod.ts";
import { decodeHistogram, type LatencySummary } from "../metrics/mod.ts";
import type { ServerReport } from "../monitor/mod.ts";
import type { ReplayResult } from "../replay/mod.ts";
import type { VectorLoadResult, VectorQueryResult } from "../vector/mod.ts";
import type { VectorFrontierResult, VectorOptimizeResult } from "../vector/mod.ts";

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
  /** Set on a short name: the full name of the same figure. */
  aliasOf?: string;
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
        ? { ...list[0]!.metric, aliasOf: list[0]!.full }
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

// The servers' figures of a phase (`serverMetrics`): `server.<section>.<field>` and, without
// the section, `server.<field>`: counters as their delta (and `.rate`), gauges as their last
// value (and `.growth`, `.max`), summed over nodes; `server.cmd.<command>.usec_per_call` (server
// time per call, mean over nodes); `server.imbalance.max` (largest deviation from the nodes'
// mean, a ratio); `server.errors` (failed snapshots).
function putServer(b: MetricBuilder, prefix: string, r: ServerReport | undefined): void {
  if (r === undefined) return;
  // Full names under the prefix (a bench test's name); short ones without it and without the
  // INFO section stand for them while they are unambiguous.
  const put = (name: string, value: number | undefined, kind: MetricKind, short?: string) => {
    b.put(`${prefix}server.${name}`, value, kind);
    for (const n of [short, prefix ? name : undefined]) {
      if (n !== undefined) b.alias(`server.${n}`, `${prefix}server.${name}`);
    }
    if (short !== undefined && prefix) {
      b.alias(`${prefix}server.${short}`, `${prefix}server.${name}`);
    }
  };
  const kindOf = (field: string): MetricKind =>
    /memory|bytes|_sz_|malloced/.test(field) ? "bytes" : "count";
  for (const [field, a] of Object.entries(r.aggregate)) {
    const kind = kindOf(field);
    const dot = field.indexOf(".");
    const short = dot > 0 && !field.startsWith("cmd.") ? field.slice(dot + 1) : undefined;
    const sfx = (k: string) => (short === undefined ? undefined : `${short}${k}`);
    if (a.delta) {
      put(field, a.delta.sum, kind, sfx(""));
      put(`${field}.rate`, a.rate!.sum, "rate", sfx(".rate"));
    } else if (a.last) {
      put(field, a.last.sum, field.endsWith("ratio") ? "number" : kind, sfx(""));
      put(`${field}.growth`, a.growth!.sum, kind, sfx(".growth"));
      put(`${field}.max`, a.last.max, kind, sfx(".max"));
    }
  }
  const perCall: Record<string, number[]> = {};
  for (const n of r.nodes) {
    for (const [c, v] of Object.entries(n.usecPerCall)) (perCall[c] ??= []).push(v);
  }
  for (const [c, vs] of Object.entries(perCall)) {
    put(`cmd.${c}.usec_per_call`, vs.reduce((x, y) => x + y, 0) / vs.length, "number");
  }
  put("imbalance.max", r.imbalanceMaxPct / 100, "ratio");
  put("errors", r.nodes.reduce((a, n) => a + n.errors.length, 0), "count");
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
 * had one command. In cluster mode, per test under `<test>.` and over the run: `node.max_share`
 * (the largest node's share of requests, 0..1; the run's is the largest of its tests),
 * `node.skew` (that share over the fair share of the serving nodes; 1 is even) and
 * `redirects.moved`, `redirects.ask`, `redirects.tryagain`, `redirects.clusterdown` (summed).
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
  let maxShare = -1, skew = 0;
  const redirects: Record<string, number> = {};
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
    putServer(b, `${tname}.`, t.server);
    if (t.cluster) {
      const c = t.cluster;
      b.put(`${tname}.node.max_share`, c.maxShare, "ratio");
      b.put(`${tname}.node.skew`, c.skew, "number");
      maxShare = Math.max(maxShare, c.maxShare);
      skew = Math.max(skew, c.skew);
      for (const [k, v] of Object.entries(c.redirects)) {
        b.put(`${tname}.redirects.${k}`, v, "count");
        redirects[k] = (redirects[k] ?? 0) + v;
      }
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
  if (maxShare >= 0) {
    b.put("node.max_share", maxShare, "ratio");
    b.put("node.skew", skew, "number");
    for (const [k, v] of Object.entries(redirects)) b.put(`redirects.${k}`, v, "count");
  }
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
  const cl = r.cluster;
  if (cl) {
    // Into a cluster: the busiest node's share, the skew, redirections and CROSSSLOT requests.
    const total = cl.nodes.reduce((a, n) => a + n.requests, 0);
    b.put(
      "node.max_share",
      total > 0 ? Math.max(...cl.nodes.map((n) => n.requests)) / total : 0,
      "ratio",
    );
    b.put("node.skew", cl.skew, "number");
    b.put("redirects.moved", cl.nodes.reduce((a, n) => a + n.moved, 0), "count");
    b.put("redirects.ask", cl.nodes.reduce((a, n) => a + n.ask, 0), "count");
    b.put("cross_slot", cl.crossSlot, "count");
  }
  putServer(b, "", r.server);
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

/**
 * The named figures of a vec-load, vec-update or vec-delete phase: `load.vectors` (requests the
 * server answered without error), `load.requests` (sent), `load.errors`, `load.duration` (first
 * send to last reply), `load.vectors_per_s` (vectors indexed per second: answered over load time
 * plus index build time), `load.requests_per_s` (answered over load time), `load.p50` …
 * `load.max` (HSET or DEL service time), `index.build_time` (last reply to the index settled),
 * `index.failures` (new `hash_indexing_failures`), `index.num_docs`, `index.bytes` and
 * `index.vector_bytes` (FT.INFO sizes), `memory.growth` (`used_memory` after minus before),
 * `reconnects`, and `errors` (as `load.errors`).
 */
export function vectorLoadMetrics(r: VectorLoadResult): MetricSet {
  const b = new MetricBuilder();
  const errors = Object.values(r.errors).reduce((a, n) => a + n, 0);
  b.put("load.vectors", r.ok, "count");
  b.put("load.requests", r.sent, "count");
  b.put("load.errors", errors, "count");
  b.put("errors", errors, "count");
  b.put("load.duration", r.loadMs * 1000, "time");
  b.put("load.vectors_per_s", r.vectorsPerSec, "rate");
  b.put("load.requests_per_s", r.requestsPerSec, "rate");
  putPercentiles(b, "load", r.latency.service);
  b.put("index.build_time", r.indexWaitMs * 1000, "time");
  b.put("index.failures", r.indexFailures, "count");
  b.put("index.num_docs", r.numDocs, "count");
  b.put("index.bytes", r.memory.indexBytes, "bytes");
  b.put("index.vector_bytes", r.memory.vectorIndexBytes, "bytes");
  b.put("memory.growth", r.memory.growth, "bytes");
  b.put("reconnects", r.reconnects, "count");
  putServer(b, "", r.server);
  return b.done();
}

/**
 * The named figures of a vec-query phase: `recall.mean`, `recall.min`, `recall.p5`,
 * `recall.p50`, `recall.p95` (recall@k, ratios 0..1, over the queries answered without error);
 * `query.p50` … `query.p9999`, `query.min`, `query.mean`, `query.max` (response time from the
 * intended send in open loop, else service time), `query.service.p99` …; `qps` (answered per
 * second), `queries` (sent), `completed`, `errors`, `error_rate`, `timeouts` (replies that were a
 * query timeout), `partial` (replies with fewer than min(k, matching keys) results: cut short by
 * the server's timeout), `partial_ratio`, `late` (open loop), `reconnects`, `truth.matched`.
 */
export function vectorQueryMetrics(r: VectorQueryResult): MetricSet {
  const b = new MetricBuilder();
  const errors = Object.values(r.errors).reduce((a, n) => a + n, 0);
  if (r.recall.scored > 0) {
    b.put("recall.mean", r.recall.mean, "ratio");
    b.put("recall.min", r.recall.min, "ratio");
    b.put("recall.p5", r.recall.p5, "ratio");
    b.put("recall.p50", r.recall.p50, "ratio");
    b.put("recall.p95", r.recall.p95, "ratio");
  }
  b.put("recall.scored", r.recall.scored, "count");
  const open = r.latency.response !== undefined;
  putLatency(b, "query", r.summary);
  putPercentiles(b, "query", open ? r.latency.response : r.latency.service);
  putPercentiles(b, "query.service", r.latency.service);
  b.put("qps", r.qps, "rate");
  b.put("queries", r.sent, "count");
  b.put("completed", r.completed, "count");
  b.put("errors", errors, "count");
  b.put("error_rate", r.completed > 0 ? errors / r.completed : 0, "ratio");
  b.put("timeouts", r.timeouts, "count");
  b.put("partial", r.partial, "count");
  b.put("partial_ratio", r.completed > 0 ? r.partial / r.completed : 0, "ratio");
  b.put("late", r.late, "count");
  b.put("reconnects", r.reconnects, "count");
  b.put("truth.matched", r.truth.matched, "count");
  putServer(b, "", r.server);
  return b.done();
}

/**
 * The named figures of a vector optimize phase. The optimizer: `optimize.feasible` (1 when a
 * setting meets the target, else 0), `optimize.ef_runtime` (the smallest EF_RUNTIME meeting
 * it), `optimize.recall`, `optimize.recall_low`, `optimize.recall_high` (the judged recall
 * statistic at that EF_RUNTIME and its bootstrap interval, ratios), `optimize.best_recall` (the
 * highest seen, also when infeasible), `optimize.clients`, `optimize.pipeline`, `optimize.qps`
 * and `optimize.p99` (the throughput choice), `optimize.steps` (measurements made),
 * `load.vectors_per_s`, `load.build_time`, `memory.growth`. The frontier: `frontier.points`,
 * `frontier.size` (points on the Pareto frontier), `frontier.max_recall`,
 * `frontier.qps_at_recall_90`, `frontier.qps_at_recall_95`, `frontier.qps_at_recall_99` (the
 * most QPS of a point whose mean recall reaches 0.90 / 0.95 / 0.99; 0 when none does).
 */
export function vectorOptimizeMetrics(
  r: VectorOptimizeResult,
  f?: VectorFrontierResult,
): MetricSet {
  const b = new MetricBuilder();
  b.put("optimize.feasible", r.status === "complete" ? 1 : 0, "number");
  b.put("optimize.steps", r.steps.length, "count");
  if (r.bestRecall) b.put("optimize.best_recall", r.bestRecall.interval.estimate, "ratio");
  if (r.status === "complete") {
    b.put("optimize.ef_runtime", r.efRuntime, "number");
    b.put("optimize.recall", r.recall?.estimate, "ratio");
    b.put("optimize.recall_low", r.recall?.low, "ratio");
    b.put("optimize.recall_high", r.recall?.high, "ratio");
    b.put("optimize.clients", r.clients, "number");
    b.put("optimize.pipeline", r.pipeline, "number");
    b.put("optimize.qps", r.qps, "rate");
    if (r.p99Ms !== undefined) b.put("optimize.p99", r.p99Ms * 1000, "time");
  }
  if (r.load) {
    b.put("load.vectors_per_s", r.load.vectorsPerSec, "rate");
    b.put("load.build_time", r.load.buildMs * 1000, "time");
    b.put("memory.growth", r.load.memoryBytes, "bytes");
  }
  if (f) {
    b.put("frontier.points", f.points.length, "count");
    b.put("frontier.size", f.frontier.length, "count");
    b.put(
      "frontier.max_recall",
      f.points.reduce((m, p) => Math.max(m, p.recall.estimate), 0),
      "ratio",
    );
    b.put("frontier.qps_at_recall_90", f.qpsAtRecall90, "rate");
    b.put("frontier.qps_at_recall_95", f.qpsAtRecall95, "rate");
    b.put("frontier.qps_at_recall_99", f.qpsAtRecall99, "rate");
  }
  return b.done();
}

/** The named figures of any phase result, told apart by shape. */
export function metricsOfAny(
  r: BenchResult | ReplayResult | Analysis | RecordResult | VectorLoadResult | VectorQueryResult,
): MetricSet {
  if ("kind" in r && r.kind === "vector-query") return vectorQueryMetrics(r);
  if ("kind" in r && typeof r.kind === "string" && r.kind.startsWith("vector-")) {
    return vectorLoadMetrics(r as VectorLoadResult);
  }
  if ("tests" in r) return benchMetrics(r);
  if ("fidelity" in r) return replayMetrics(r);
  if ("keys" in r && "totals" in r) return analysisMetrics(r);
  return recordMetrics(r as RecordResult);
}

/**
 * Which way a metric is better, from its name and kind: `higher` for throughput, hit ratios and
 * recall; `lower` for times, errors, lateness, reconnects, timeouts and failures; undefined when
 * neither is clear (counts of requests, sizes).
 */
export function metricDirection(metric: string, kind: MetricKind): "higher" | "lower" | undefined {
  const last = metric.slice(metric.lastIndexOf(".") + 1);
  if (/hit_ratio|recall|^ops$|qps|per_s|\.ops$|^pass$/.test(metric) || kind === "rate") {
    return /late|error|miss|evict|reject|fail/.test(metric) ? "lower" : "higher";
  }
  if (kind === "time") return "lower";
  if (
    /error|late|lateness|reconnect|timeout|partial|fail|evict|reject|miss|skipped|abandoned|imbalance|skew|max_share|size_ks|rate_error|_diff$/
      .test(metric) || last === "growth"
  ) return "lower";
  return undefined;
}
