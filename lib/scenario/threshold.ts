// This module uses no Deno APIs.
import { MembenchError } from "../errors/mod.ts";
import type { Metric, MetricSet } from "./metrics.ts";

/** A comparison operator of a threshold. */
export type Comparator = "<" | "<=" | ">" | ">=" | "==" | "!=";

/** A parsed threshold: `metric comparator value`, with the value in the metric's base unit. */
export interface Threshold {
  /** The text as written. */
  source: string;
  /** Metric name, percentile calls normalized (`get.p(99.9)` becomes `get.p999`). */
  metric: string;
  /** The comparison. */
  comparator: Comparator;
  /** The limit in base units: µs for times, a fraction for `%`, per second for rates. */
  value: number;
  /** The unit written after the number, if any (`ms`, `%`, `k`, …). */
  unit: string;
  /** What the unit says the metric must be; `any` for a bare number or a plain k/M. */
  expects: "time" | "ratio" | "rate" | "bytes" | "any";
}

/** The verdict on one threshold. */
export interface ThresholdResult {
  /** The text as written. */
  threshold: string;
  /** The metric's value (base units), when it could be found. */
  value?: number;
  /** The metric's kind, when found. */
  kind?: Metric["kind"];
  /** The limit in base units. */
  limit: number;
  /** Passed. */
  pass: boolean;
  /** Why it failed without a comparison (unknown or ambiguous metric, unit mismatch). */
  reason?: string;
  /** A warning: reported, never failing the phase or the run. */
  advisory?: boolean;
  /** What a failed warning means, for the metrics that have a known cause. */
  note?: string;
}

const COMPARATORS: readonly Comparator[] = ["<=", ">=", "==", "!=", "<", ">"];
const TIME_UNITS: Record<string, number> = { ns: 0.001, us: 1, "µs": 1, ms: 1000, s: 1e6 };
const SCALE_UNITS: Record<string, number> = { k: 1e3, M: 1e6 };
const BYTE_UNITS: Record<string, number> = {
  B: 1,
  KB: 1e3,
  KiB: 1024,
  MB: 1e6,
  MiB: 1024 ** 2,
  GB: 1e9,
  GiB: 1024 ** 3,
};
/** Last segments that name a latency statistic (unless the metric is a size or a recall). */
const TIME_STAT = /^(p\d+|min|mean|max)$/;

function isTimeName(metric: string): boolean {
  const last = metric.slice(metric.lastIndexOf(".") + 1);
  // Server figures (`server.used_memory.max`, `server.imbalance.max`) are not latencies.
  return TIME_STAT.test(last) &&
    !/bytes|size|length|requests|depth|recall|(^|\.)server\./.test(metric);
}

/**
 * Parses a threshold such as `"get.p99 < 2ms"`, `"hit_ratio >= 0.9"`, `"hit_ratio >= 90%"`,
 * `"ops > 50k"` or `"errors == 0"`. The grammar (ABNF, whitespace optional around the
 * comparator):
 *
 * ```text
 * threshold  = metric comparator value
 * metric     = segment *("." segment)
 * segment    = 1*(ALPHA / DIGIT / "_" / "-" / "@" / ":") / "p(" decimal ")"
 * comparator = "<" / "<=" / ">" / ">=" / "==" / "!="
 * value      = ["-"] decimal [unit]                  ; a space may separate them
 * decimal    = 1*DIGIT ["." 1*DIGIT] / "." 1*DIGIT
 * unit       = "ns" / "us" / "µs" / "ms" / "s"      ; a time, converted to µs
 *            / "%"                                   ; a ratio: 90% is 0.9
 *            / "B" / "KB" / "KiB" / "MB" / "MiB" / "GB" / "GiB"   ; a size in bytes
 *            / ("k" / "M") ["/s"] / "/s"             ; a count or rate, ×1,000 or ×1,000,000
 * ```
 *
 * `p(99.9)` is the same as `p999` (99.9th percentile), `p(95)` as `p95`. A metric whose last
 * segment is a latency statistic (`p50`, `p99`, `p999`, `min`, `mean`, `max`) must be given
 * a time unit, so that `get.p99 < 2` cannot silently mean 2 µs; sizes (`value_bytes.p99`) take
 * a bare number of bytes or a byte unit.
 *
 * @throws {MembenchError} `invalid_argument` quoting the input and naming the column.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const t = parseThreshold("get.p(99.9) < 2ms");
 * assert.equal(t.metric, "get.p999");
 * assert.equal(t.value, 2000);
 * assert.throws(() => parseThreshold("get.p99 < 2"), /give a time unit/);
 * ```
 */
export function parseThreshold(input: string): Threshold {
  const fail = (at: number, why: string): never => {
    throw new MembenchError(
      "invalid_argument",
      `Cannot parse threshold ${JSON.stringify(input)}: ${why} (at column ${at + 1})`,
      { hint: 'write it as "metric < value", for example "get.p99 < 2ms" or "hit_ratio >= 0.9"' },
    );
  };
  if (typeof input !== "string") {
    throw new MembenchError(
      "invalid_argument",
      `Cannot parse threshold ${String(input)}: expected a string`,
    );
  }
  let i = 0;
  const n = input.length;
  const skip = () => {
    while (i < n && (input[i] === " " || input[i] === "\t")) i++;
  };
  skip();
  // metric
  const segments: string[] = [];
  for (;;) {
    const start = i;
    if (input.startsWith("p(", i)) {
      const close = input.indexOf(")", i);
      const num = close < 0 ? "" : input.slice(i + 2, close);
      if (!/^\d+(\.\d+)?$/.test(num) || Number(num) <= 0 || Number(num) >= 100 && num !== "100") {
        fail(i, "a percentile is written p(N) with 0 < N <= 100, such as p(99.9)");
      }
      // Trailing zeros of the fraction say nothing: p(99.90) is p(99.9), p999.
      segments.push("p" + num.replace(/(\.\d*?)0+$/, "$1").replace(/\.$/, "").replace(".", ""));
      i = close + 1;
    } else {
      while (i < n && /[A-Za-z0-9_\-@:]/.test(input[i]!)) i++;
      if (i === start) {
        fail(i, i >= n ? "the metric name is missing" : `unexpected ${JSON.stringify(input[i])}`);
      }
      segments.push(input.slice(start, i));
    }
    if (input[i] !== ".") break;
    i++;
  }
  const metric = segments.join(".");
  skip();
  const opAt = i;
  const comparator = COMPARATORS.find((c) => input.startsWith(c, i));
  if (!comparator) {
    fail(
      opAt,
      i >= n
        ? "the comparator is missing (one of < <= > >= == !=)"
        : `expected one of < <= > >= == != after the metric, found ${JSON.stringify(input[i])}`,
    );
  }
  i += comparator!.length;
  skip();
  const numAt = i;
  const m = /^-?(\d+(\.\d+)?|\.\d+)/.exec(input.slice(i));
  if (!m) fail(numAt, i >= n ? "the value is missing" : "expected a number");
  let value = Number(m![0]);
  i += m![0].length;
  const afterNumber = i;
  skip(); // "2 ms" reads as "2ms"
  const unitAt = i;
  // A unit ends at a non-letter, so "2 msec" is an unknown unit, not "ms" plus garbage.
  const unitMatch = /^(ns|us|µs|ms|s|%|GiB|GB|MiB|MB|KiB|KB|B|k\/s|M\/s|k|M|\/s)(?![A-Za-z])/.exec(
    input.slice(i),
  );
  const unit = unitMatch ? unitMatch[0] : "";
  i += unit.length;
  skip();
  if (i < n) {
    const word = /^[A-Za-z]+/.exec(input.slice(unitAt))?.[0];
    fail(
      i,
      unit === "" && word !== undefined && (unitAt === afterNumber || unitAt + word.length >= n)
        ? `unknown unit ${JSON.stringify(word)} (use ns, us, ms, s, %, B, KiB, MiB, k, M or /s)`
        : `unexpected ${JSON.stringify(input.slice(i))} after the value`,
    );
  }
  let expects: Threshold["expects"] = "any";
  if (unit in TIME_UNITS) {
    value *= TIME_UNITS[unit]!;
    expects = "time";
  } else if (unit === "%") {
    value /= 100;
    expects = "ratio";
  } else if (unit in BYTE_UNITS) {
    value *= BYTE_UNITS[unit]!;
    expects = "bytes";
  } else if (unit !== "") {
    const scale = SCALE_UNITS[unit[0]!] ?? 1;
    value *= scale;
    expects = unit.endsWith("/s") ? "rate" : "any";
  }
  if (isTimeName(metric) && expects !== "time") {
    fail(
      unitAt,
      `${metric} is a time: give a time unit (us, ms or s) after ${m![0]}`,
    );
  }
  if (expects === "time" && !isTimeName(metric) && !/latency|lateness|time/.test(metric)) {
    fail(unitAt, `${metric} is not a time, but the value has the time unit ${unit}`);
  }
  const limit = round9(value);
  if (!Number.isFinite(limit)) fail(numAt, "the value is too large");
  return { source: input, metric, comparator: comparator!, value: limit, unit, expects };
}

/**
 * Evaluates a threshold against a set of metrics. Never throws: a metric that is missing,
 * ambiguous or of the wrong kind makes a failed result with the reason.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const metrics = { "get.p99": { value: 850, kind: "time" as const } };
 * assert.equal(evaluateThreshold(parseThreshold("get.p99 < 1ms"), metrics).pass, true);
 * assert.equal(evaluateThreshold(parseThreshold("set.p99 < 1ms"), metrics).pass, false);
 * ```
 */
export function evaluateThreshold(t: Threshold, metrics: MetricSet): ThresholdResult {
  const base = { threshold: t.source, limit: t.value };
  const m = metrics[t.metric];
  if (m === undefined) {
    return {
      ...base,
      pass: false,
      reason: `no metric named ${t.metric}${suggest(t.metric, metrics)}`,
    };
  }
  if (m.ambiguous) {
    return {
      ...base,
      pass: false,
      reason: `${t.metric} is ambiguous: write one of ${m.ambiguous.join(", ")}`,
    };
  }
  if (t.expects === "time" && m.kind !== "time") {
    return { ...base, pass: false, reason: `${t.metric} is a ${m.kind}, not a time` };
  }
  if (t.expects === "ratio" && m.kind !== "ratio") {
    return { ...base, pass: false, reason: `${t.metric} is a ${m.kind}, not a ratio: drop the %` };
  }
  if (t.expects === "bytes" && m.kind !== "bytes") {
    return { ...base, pass: false, reason: `${t.metric} is a ${m.kind}, not a size in bytes` };
  }
  if (t.expects === "rate" && m.kind !== "rate") {
    return { ...base, pass: false, reason: `${t.metric} is a ${m.kind}, not a rate: drop the /s` };
  }
  if (m.kind === "time" && t.expects !== "time") {
    return {
      ...base,
      pass: false,
      reason: `${t.metric} is a time: give a time unit (us, ms or s)`,
    };
  }
  const v = m.value;
  let pass: boolean;
  switch (t.comparator) {
    case "<":
      pass = v < t.value;
      break;
    case "<=":
      pass = v <= t.value;
      break;
    case ">":
      pass = v > t.value;
      break;
    case ">=":
      pass = v >= t.value;
      break;
    case "==":
      pass = v === t.value;
      break;
    case "!=":
      pass = v !== t.value;
      break;
  }
  if (!Number.isFinite(v)) pass = false;
  return { ...base, value: v, kind: m.kind, pass };
}

function suggest(name: string, metrics: MetricSet): string {
  const names = Object.keys(metrics).filter((k) => !metrics[k]!.ambiguous);
  const tail = name.split(".").pop()!;
  const head = name.split(".")[0]!;
  let near = names.filter((k) => k.endsWith("." + tail) || k === tail);
  if (near.length === 0) near = names.filter((k) => k.startsWith(head + "."));
  if (near.length === 0) near = names.filter((k) => !k.includes("."));
  return near.length > 0 ? `; some that exist: ${near.slice(0, 8).join(", ")}` : "";
}

function round9(x: number): number {
  return Math.round(x * 1e9) / 1e9;
}

/** What a metric says when a warning on it fails, for the metrics whose cause is known. */
const WARNING_NOTES: Array<[RegExp, string]> = [
  [
    /(^|\.)(late_client|client_late_ratio)$/,
    "membench itself fell behind: these sends waited while their connection had a free slot " +
    "(a busy machine, or too few clients for the rate); latency from the intended send time " +
    "includes that delay",
  ],
  [
    /(^|\.)(late|late_ratio)$/,
    "sends left later than due: membench was busy, or every slot of their connection was " +
    "waiting on the server; client_late_ratio is membench's own share",
  ],
  [
    /(^|\.)lateness\.(p\d+|mean|max)$/,
    "the replay fell behind the recorded schedule: membench was busy, or the server answered " +
    "more slowly than the recorded one (compare the latency per op)",
  ],
];

/**
 * Marks a verdict as a warning: it never fails the phase or the run, and a failed one carries a
 * note on what its metric means when that is known.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { evaluateThreshold, parseThreshold, warningVerdict } from "./threshold.ts";
 * const t = parseThreshold("late_ratio < 5%");
 * const v = warningVerdict(t, evaluateThreshold(t, { late_ratio: { value: 0.2, kind: "ratio" } }));
 * assert.equal(v.pass, false);
 * assert.equal(v.advisory, true);
 * assert.match(v.note!, /membench was busy, or every slot of their connection was waiting/);
 * ```
 */
export function warningVerdict(t: Threshold, v: ThresholdResult): ThresholdResult {
  const note = v.pass ? undefined : WARNING_NOTES.find(([re]) => re.test(t.metric))?.[1];
  return { ...v, advisory: true, ...(note ? { note } : {}) };
}
