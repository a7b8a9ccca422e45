// Property-based tests of the threshold grammar: any string gives a threshold with a finite
// limit or a MembenchError quoting it and naming a column, and expressions generated from the
// grammar in parseThreshold's doc comment parse to the expected metric and base-unit value.
// Budget and replay: tests/fuzz_helpers.ts.
import * as fc from "fast-check";
import assert from "node:assert/strict";
import { parseThreshold, type Threshold } from "./threshold.ts";
import { expectTyped, fuzz } from "../../tests/fuzz_helpers.ts";

const COMPARATORS = ["<", "<=", ">", ">=", "==", "!="] as const;

const FRAGMENTS = [
  "get",
  "set",
  "ops",
  "hit_ratio",
  "value_bytes",
  "latency",
  "p99",
  "p(",
  "p(99.9)",
  ")",
  ".",
  "@",
  ":",
  "-",
  ...COMPARATORS,
  "=",
  "!",
  " ",
  "\t",
  ..."0123456789",
  "99999999999999999999999999999999999999999999999999",
  "e",
  "ms",
  "µs",
  "s",
  "%",
  "KiB",
  "k",
  "M",
  "/s",
  "k/s",
  "x",
];

const anyString = fc.oneof(
  fc.string({ unit: "binary", maxLength: 30 }),
  fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 14 }).map((a) => a.join("")),
  // A well-formed threshold with a limit of hundreds of digits.
  fc.tuple(
    fc.constantFrom("ops > ", "get.p99 < ", "hit_ratio >= ", "value_bytes.max <= "),
    fc.string({ unit: fc.constantFrom(..."0123456789"), minLength: 300, maxLength: 400 }),
    fc.constantFrom("", "ms", "%", "k", "KiB", "GiB", "M/s"),
  ).map((p) => p.join("")),
);

function check(t: Threshold, input: string): void {
  assert.equal(t.source, input);
  assert.ok(Number.isFinite(t.value), `${JSON.stringify(input)} gave the limit ${t.value}`);
  assert.ok(COMPARATORS.includes(t.comparator as typeof COMPARATORS[number]));
  assert.match(t.metric, /^[A-Za-z0-9_\-@:]+(\.[A-Za-z0-9_\-@:]+)*$/);
}

Deno.test("parseThreshold() returns a finite limit or a MembenchError naming a column, for any string", () => {
  fuzz(
    "parseThreshold any string",
    fc.property(anyString, (s) => {
      let t: Threshold | undefined;
      const e = expectTyped(
        () => {
          t = parseThreshold(s);
        },
        "invalid_argument",
        /\(at column \d+\)$/,
      );
      if (e) {
        assert.ok(e.message.startsWith(`Cannot parse threshold ${JSON.stringify(s)}: `), e.message);
        const col = Number(/\(at column (\d+)\)$/.exec(e.message)![1]);
        assert.ok(col >= 1 && col <= s.length + 1, `column ${col} of ${s.length}: ${e.message}`);
        return;
      }
      check(t!, s);
    }),
    { runs: 400 },
  );
});

// The grammar, from the doc comment of parseThreshold.
const TIME: Record<string, number> = { ns: 0.001, us: 1, "µs": 1, ms: 1000, s: 1e6 };
const BYTES: Record<string, number> = {
  B: 1,
  KB: 1e3,
  KiB: 1024,
  MB: 1e6,
  MiB: 1024 ** 2,
  GB: 1e9,
  GiB: 1024 ** 3,
};
const SCALE: Record<string, number> = { k: 1e3, M: 1e6, "k/s": 1e3, "M/s": 1e6, "/s": 1 };
const UNITS = ["", "%", ...Object.keys(TIME), ...Object.keys(BYTES), ...Object.keys(SCALE)];

function expected(unit: string): { factor: number; expects: Threshold["expects"] } {
  if (unit in TIME) return { factor: TIME[unit]!, expects: "time" };
  if (unit === "%") return { factor: 0.01, expects: "ratio" };
  if (unit in BYTES) return { factor: BYTES[unit]!, expects: "bytes" };
  if (unit in SCALE) return { factor: SCALE[unit]!, expects: unit.endsWith("/s") ? "rate" : "any" };
  return { factor: 1, expects: "any" };
}

// "A metric whose last segment is a latency statistic must be given a time unit; sizes take a
// bare number or a byte unit", and a time unit needs a time metric (a statistic, or a name that
// says latency, lateness or time).
function isTimeStat(metric: string): boolean {
  const last = metric.slice(metric.lastIndexOf(".") + 1);
  return /^(p\d+|min|mean|max)$/.test(last) && !/bytes|size|length|requests|depth/.test(metric);
}

const word = fc.string({
  unit: fc.constantFrom(..."abcdefghijklmnopqrstuvwxyzABCXYZ0123456789_-@:"),
  minLength: 1,
  maxLength: 8,
});
// p(N), 0 < N <= 100, written with or without a fraction: [text, normalized segment].
const percentile = fc.oneof(
  fc.constant(["p(100)", "p100"]),
  fc.tuple(
    fc.integer({ min: 1, max: 99 }),
    fc.option(fc.string({ unit: fc.constantFrom(..."0123456789"), minLength: 1, maxLength: 3 }), {
      nil: undefined,
    }),
  ).map(([i, f]) => {
    const frac = (f ?? "").replace(/0+$/, "");
    return [`p(${i}${f === undefined ? "" : "." + f})`, `p${i}${frac}`];
  }),
);
const segment = fc.oneof(
  { weight: 4, arbitrary: word.map((w) => [w, w]) },
  {
    weight: 1,
    arbitrary: fc.constantFrom("p50", "p99", "p999", "min", "mean", "max").map((w) => [w, w]),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom("latency", "value_bytes", "lateness").map((w) => [w, w]),
  },
  { weight: 1, arbitrary: percentile },
);
const decimal = fc.oneof(
  fc.nat({ max: 1_000_000 }).map(String),
  fc.tuple(
    fc.nat({ max: 9999 }),
    fc.string({ unit: fc.constantFrom(..."0123456789"), minLength: 1, maxLength: 4 }),
  )
    .map(([i, f]) => `${i}.${f}`),
  fc.string({ unit: fc.constantFrom(..."0123456789"), minLength: 1, maxLength: 4 }).map((f) =>
    `.${f}`
  ),
);
const space = fc.constantFrom("", " ", "  ", "\t");

Deno.test("parseThreshold() reads generated thresholds into the metric and the base-unit limit", () => {
  fuzz(
    "parseThreshold round trip",
    fc.property(
      fc.array(segment, { minLength: 1, maxLength: 4 }),
      fc.constantFrom(...COMPARATORS),
      fc.boolean(),
      decimal,
      fc.constantFrom(...UNITS),
      fc.tuple(space, space, space, space, fc.constantFrom("", " ")),
      (segs, comparator, negative, num, unit, [s0, s1, s2, s3, gap]) => {
        const metric = segs.map(([, n]) => n).join(".");
        const value = (negative ? "-" : "") + num;
        const input = `${s0}${segs.map(([t]) => t).join(".")}${s1}${comparator}${s2}${value}${
          unit === "" ? "" : gap + unit
        }${s3}`;
        const { factor, expects } = expected(unit);
        const valid = (!isTimeStat(metric) || expects === "time") &&
          (expects !== "time" || isTimeStat(metric) || /latency|lateness|time/.test(metric));
        let t: Threshold | undefined;
        const e = expectTyped(
          () => {
            t = parseThreshold(input);
          },
          "invalid_argument",
          /\(at column \d+\)$/,
        );
        if (!valid) {
          assert.ok(e, `${JSON.stringify(input)} should be refused: the unit does not fit`);
          assert.match(e.message, /is a time: give a time unit|is not a time, but/);
          return;
        }
        assert.equal(e, undefined, `${JSON.stringify(input)}: ${e?.message}`);
        check(t!, input);
        assert.equal(t!.metric, metric, input);
        assert.equal(t!.comparator, comparator, input);
        assert.equal(t!.unit, unit, input);
        assert.equal(t!.expects, expects, input);
        const want = Number(value) * factor;
        assert.ok(
          Math.abs(t!.value - want) <= 1e-9 + 1e-12 * Math.abs(want),
          `${JSON.stringify(input)}: limit ${t!.value}, want ${want}`,
        );
      },
    ),
    { runs: 400 },
  );
});
