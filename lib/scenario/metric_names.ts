// This module uses no Deno APIs.
/**
 * The metric names a phase kind can produce, known before the phase runs, so that a threshold
 * or warning on a misspelt metric (`get.p99x`, `erors`) is reported with the options' problems,
 * before any load, with the nearest name. The names follow `scenario/metrics.ts`.
 *
 * What can be checked before the run and what cannot:
 * - fixed names (`ops`, `errors`, `recall.mean`, `load.vectors_per_s`, …) are checked exactly;
 * - a bench phase's `<command>.` and `<test>.` segments are checked against its `tests` or
 *   `mix` (the commands it will send), when the phase's options resolve;
 * - the `<op>.` segment of replay, analyze and record metrics comes from the profile or the
 *   capture, which is read only when the phase runs: any segment is accepted there, and only
 *   what follows it (`<op>.p99`, `<op>.hit_ratio`, …) is checked;
 * - `server.*` names are the servers' own INFO / stats fields, which depend on the server's
 *   version and settings: they are not checked (a missing one fails its threshold after the
 *   phase, with the nearest names the server reported).
 *
 * @module
 */
import { nearestName } from "../errors/mod.ts";
import type { PhaseRecord } from "./types.ts";

/** A phase kind that has metrics. */
export type MetricPhaseKind = Exclude<PhaseRecord["kind"], "step">;

/** What a phase knows of its own segment names before it runs (bench: tests and commands). */
export interface MetricSegments {
  /** Test names as metrics spell them (`set`, `mix`). */
  tests?: readonly string[];
  /** Command names as metrics spell them (`get`, `lrange_100`). */
  commands?: readonly string[];
}

// Latency statistics: putLatency writes these, putPercentiles the p-values.
const LAT = ["min", "mean", "p50", "p90", "p99", "p999", "max"];
const PCT = ["p50", "p75", "p90", "p95", "p99", "p999", "p9999"];
const BLAT = [...new Set([...LAT, ...PCT])];
const REDIRECTS = ["moved", "ask", "tryagain", "clusterdown"];

// A pattern is segments joined by "."; `{x}` is one of the list X (which may itself hold dots),
// `*` one free segment (a command or op the profile decides), `**` one or more free segments.
const LISTS: Record<string, readonly string[]> = {
  lat: LAT,
  blat: BLAT,
  pct: PCT,
  redirect: REDIRECTS,
  cmdleaf: [
    ...BLAT,
    ...BLAT.map((s) => `service.${s}`),
    ...BLAT.map((s) => `response.${s}`),
    "ops",
    "count",
    "errors",
    "error_rate",
    "late",
    "late_client",
    "hits",
    "misses",
    "hit_ratio",
  ],
  testleaf: ["ops", "requests", "errors", "late", "node.max_share", "node.skew"],
  replayleaf: [
    ...LAT,
    ...LAT.map((s) => `service.${s}`),
    "sent",
    "recorded",
    "errors",
    "hit_ratio",
    "recorded_hit_ratio",
  ],
  analyzeleaf: [
    "count",
    "share",
    "hit_ratio",
    ...LAT.map((s) => `key_bytes.${s}`),
    ...LAT.map((s) => `value_bytes.${s}`),
    ...LAT.map((s) => `latency.${s}`),
  ],
};

const SERVER = "server.**";
const LOAD_PATTERNS = [
  "load.vectors",
  "load.requests",
  "load.errors",
  "errors",
  "load.duration",
  "load.vectors_per_s",
  "load.requests_per_s",
  "load.{pct}",
  "index.build_time",
  "index.failures",
  "index.num_docs",
  "index.bytes",
  "index.vector_bytes",
  "memory.growth",
  "reconnects",
  SERVER,
];

const PATTERNS: Record<MetricPhaseKind, readonly string[]> = {
  bench: [
    "requests",
    "ops",
    "errors",
    "error_rate",
    "late",
    "late_ratio",
    "late_client",
    "client_late_ratio",
    "reconnects",
    "hit_ratio",
    "node.max_share",
    "node.skew",
    "redirects.{redirect}",
    "latency.{lat}",
    "{lat}",
    "{cmd}.{cmdleaf}",
    "{test}.{testleaf}",
    "{test}.redirects.{redirect}",
    "{test}.{cmd}.{cmdleaf}",
    "{test}.server.**",
    SERVER,
  ],
  replay: [
    "sent",
    "completed",
    "errors",
    "error_rate",
    "late",
    "loops",
    "skipped",
    "ops",
    "lateness.p50",
    "lateness.p99",
    "lateness.max",
    "hit_ratio",
    "fidelity.size_ks",
    "fidelity.rate_error",
    "fidelity.mix_diff",
    "fidelity.hit_ratio_diff",
    "fidelity.pass",
    "node.max_share",
    "node.skew",
    "redirects.moved",
    "redirects.ask",
    "cross_slot",
    "*.{replayleaf}",
    SERVER,
  ],
  analyze: [
    "events",
    "connections",
    "events_per_sec",
    "duration",
    "keys",
    "one_hit_wonder_ratio",
    "zipf.exponent",
    "zipf.r2",
    "hit_ratio",
    "key_bytes.{lat}",
    "value_bytes.{lat}",
    "latency.{lat}",
    "*.{analyzeleaf}",
  ],
  record: [
    "events",
    "connections",
    "packets",
    "gaps",
    "lost_bytes",
    "protocol_errors",
    "unpaired",
    "undetected",
    "duration",
    "*.count",
  ],
  "vector-load": LOAD_PATTERNS,
  "vector-update": LOAD_PATTERNS,
  "vector-delete": LOAD_PATTERNS,
  "vector-query": [
    "recall.mean",
    "recall.min",
    "recall.p5",
    "recall.p50",
    "recall.p95",
    "recall.scored",
    "query.{blat}",
    "query.service.{blat}",
    "qps",
    "queries",
    "completed",
    "errors",
    "error_rate",
    "timeouts",
    "partial",
    "partial_ratio",
    "late",
    "reconnects",
    "truth.matched",
    SERVER,
  ],
  "vector-optimize": [
    "optimize.feasible",
    "optimize.steps",
    "optimize.best_recall",
    "optimize.ef_runtime",
    "optimize.recall",
    "optimize.recall_low",
    "optimize.recall_high",
    "optimize.clients",
    "optimize.pipeline",
    "optimize.qps",
    "optimize.p99",
    "load.vectors_per_s",
    "load.build_time",
    "memory.growth",
    "frontier.points",
    "frontier.size",
    "frontier.max_recall",
    "frontier.qps_at_recall_90",
    "frontier.qps_at_recall_95",
    "frontier.qps_at_recall_99",
  ],
};

const SEGMENT = "[A-Za-z0-9_\\-@:]+";

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

// `{test}` and `{cmd}` are the bench's own names when known, else any segment.
function lists(seg: MetricSegments): Record<string, readonly string[] | undefined> {
  return { ...LISTS, test: seg.tests, cmd: seg.commands };
}

function toRegExp(pattern: string, seg: MetricSegments): RegExp {
  const l = lists(seg);
  const body = pattern.split(".").map((part) => {
    if (part === "**") return `${SEGMENT}(?:\\.${SEGMENT})*`;
    if (part === "*") return SEGMENT;
    const m = /^\{(\w+)\}$/.exec(part);
    if (!m) return escape(part);
    const alts = l[m[1]!];
    return alts === undefined ? SEGMENT : `(?:${alts.map(escape).join("|")})`;
  }).join("\\.");
  return new RegExp(`^${body}$`);
}

// Every concrete name of a pattern (for suggestions); a free segment takes the name's own
// segment at that place, so that `gte.p99x` suggests `gte.p99` for replay's `*.{replayleaf}`.
function expand(pattern: string, seg: MetricSegments, name: string): string[] {
  const l = lists(seg);
  const given = name.split(".");
  let out = [""];
  for (const [i, part] of pattern.split(".").entries()) {
    if (part === "**") return []; // server fields: nothing to suggest before the run
    const m = /^\{(\w+)\}$/.exec(part);
    const alts = part === "*" ? [given[i] ?? ""] : m ? (l[m[1]!] ?? [given[i] ?? ""]) : [part];
    out = out.flatMap((o) => alts.map((a) => (o === "" ? a : `${o}.${a}`)));
    if (out.length > 20_000) return [];
  }
  return out;
}

/** The metric names of a phase kind: a checker and the nearest known name of a misspelt one. */
export interface MetricNames {
  /** Whether `name` can be one of the phase's metrics. */
  has(name: string): boolean;
  /** The nearest name the phase can produce, if one is close. */
  nearest(name: string): string | undefined;
}

/**
 * The metric names a phase of `kind` can produce, with its bench segments when known.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const names = metricNamesOf("bench", { tests: ["set", "get"], commands: ["set", "get"] });
 * assert.equal(names.has("get.p99"), true);
 * assert.equal(names.has("gte.p99"), false);
 * assert.equal(names.nearest("get.p99x"), "get.p99");
 * assert.equal(names.has("server.used_memory.max"), true);
 * ```
 */
export function metricNamesOf(kind: MetricPhaseKind, segments: MetricSegments = {}): MetricNames {
  const patterns = PATTERNS[kind];
  const res = patterns.map((p) => toRegExp(p, segments));
  return {
    has: (name) => res.some((r) => r.test(name)),
    nearest: (name) => nearestName(name, patterns.flatMap((p) => expand(p, segments, name))),
  };
}

/**
 * Whether a metric name is one that some phase kind can produce (for thresholds set by phase
 * name in the scenario's options, whose phase kind is known only when the phase runs), and the
 * nearest such name.
 */
export function anyPhaseMetric(name: string): { known: boolean; nearest?: string } {
  const kinds = Object.keys(PATTERNS) as MetricPhaseKind[];
  if (kinds.some((k) => metricNamesOf(k).has(name))) return { known: true };
  const candidates = kinds.map((k) => metricNamesOf(k).nearest(name)).filter((n) =>
    n !== undefined
  );
  const near = nearestName(name, candidates);
  return near === undefined ? { known: false } : { known: false, nearest: near };
}

/** A name usable as a metric segment, as `scenario/metrics.ts` spells it. */
export function metricSegment(name: string, command: string): string {
  return /^[A-Za-z0-9_\-@:]+$/.test(name) ? name.toLowerCase() : command.toLowerCase();
}

/**
 * One problem for each threshold or warning whose metric the phase cannot produce, with the
 * nearest name it can.
 */
export function metricNameProblems(
  what: string,
  list: ReadonlyArray<{ source: string; metric: string; advisory?: boolean }>,
  names: MetricNames,
): string[] {
  const out: string[] = [];
  for (const t of list) {
    if (names.has(t.metric)) continue;
    const near = names.nearest(t.metric);
    out.push(
      `Cannot use ${t.advisory ? "warning" : "threshold"} ${JSON.stringify(t.source)} of ${what}: ${
        what.split(" ")[0]
      } phases have no metric named ${t.metric}${near ? ` (did you mean ${near}?)` : ""}`,
    );
  }
  return out;
}
