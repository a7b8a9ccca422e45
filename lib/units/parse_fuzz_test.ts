// Property-based tests of the unit parsers: any string gives a finite value or a MembenchError
// quoting it, and expressions built from the documented units give the expected base value.
// Budget and replay: tests/fuzz_helpers.ts.
import * as fc from "fast-check";
import assert from "node:assert/strict";
import { parseDurationMs, parseRatePerSec, parseSize } from "./parse.ts";
import { expectTyped, fuzz } from "../../tests/fuzz_helpers.ts";

// Words the parsers know, and near misses, so that random strings often look like units.
const FRAGMENTS = [
  ..."0123456789",
  ".",
  " ",
  "\t",
  "/",
  "-",
  "+",
  "e",
  "us",
  "µs",
  "ms",
  "s",
  "m",
  "min",
  "h",
  "k",
  "K",
  "M",
  "b",
  "kb",
  "KiB",
  "MiB",
  "gib",
  "GB",
  "/s",
  "/m",
  "/min",
  "/h",
];

/** Random strings: unicode noise, unit-ish fragments, and very long numbers. */
const anyString = fc.oneof(
  fc.string({ unit: "binary", maxLength: 30 }),
  fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 12 }).map((a) => a.join("")),
  fc.tuple(
    fc.string({ unit: fc.constantFrom(..."0123456789"), minLength: 300, maxLength: 400 }),
    fc.constantFrom("", "s", "ms", "h", "k", "/s", "k/s", "KiB", ".5"),
  ).map(([d, u]) => d + u),
);

const PARSERS = [
  { name: "parseDurationMs", kind: "duration", parse: parseDurationMs, min: 0, integer: false },
  { name: "parseSize", kind: "size", parse: parseSize, min: 0, integer: true },
  {
    name: "parseRatePerSec",
    kind: "rate",
    parse: parseRatePerSec,
    min: Number.MIN_VALUE,
    integer: false,
  },
] as const;

for (const p of PARSERS) {
  Deno.test(`${p.name}() returns a finite value or throws a MembenchError quoting any string`, () => {
    fuzz(
      `${p.name} any string`,
      fc.property(anyString, (s) => {
        let v: number | undefined;
        const e = expectTyped(
          () => {
            v = p.parse(s);
          },
          "invalid_argument",
          new RegExp(`^Cannot parse ${p.kind} `),
        );
        if (e) {
          assert.ok(e.message.includes(JSON.stringify(s)), e.message);
          return;
        }
        assert.ok(Number.isFinite(v), `${JSON.stringify(s)} gave ${v}`);
        assert.ok(v! >= p.min, `${JSON.stringify(s)} gave ${v}`);
        if (p.integer) assert.ok(Number.isInteger(v), `${JSON.stringify(s)} gave ${v}`);
      }),
      { runs: 300 },
    );
  });

  Deno.test(`${p.name}() takes any number: a finite value or a MembenchError`, () => {
    fuzz(
      `${p.name} any number`,
      fc.property(fc.oneof(fc.double(), fc.integer(), fc.nat()), (n) => {
        let v: number | undefined;
        const e = expectTyped(
          () => {
            v = p.parse(n);
          },
          "invalid_argument",
          new RegExp(`^Cannot parse ${p.kind} `),
        );
        if (!e) assert.ok(Number.isFinite(v) && v! >= p.min, `${n} gave ${v}`);
      }),
    );
  });
}

const approx = (got: number, want: number, what: string) =>
  assert.ok(
    Math.abs(got - want) <= 1e-9 * Math.max(1, Math.abs(want)),
    `${what}: got ${got}, want ${want}`,
  );

// A decimal as written ("12", "0.5", "3.25") and its value.
const decimal = fc.tuple(
  fc.oneof(fc.nat({ max: 9 }), fc.nat({ max: 100_000 })),
  fc.option(fc.nat({ max: 999 }), { nil: undefined }),
)
  .map(([i, f]) => f === undefined ? `${i}` : `${i}.${String(f).padStart(3, "0")}`);

// Units from the doc comments, in milliseconds.
const DURATION_MS: Record<string, number> = {
  us: 0.001,
  "µs": 0.001,
  ms: 1,
  s: 1000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
};

Deno.test("parseDurationMs() gives the sum of its parts in ms, and a bare number is seconds", () => {
  const part = fc.tuple(decimal, fc.constantFrom(...Object.keys(DURATION_MS)));
  fuzz(
    "parseDurationMs round trip",
    fc.property(
      fc.oneof(
        fc.array(part, { minLength: 1, maxLength: 4 }).map((ps) => ({
          text: ps.map(([d, u]) => d + u).join(""),
          ms: ps.reduce((t, [d, u]) => t + Number(d) * DURATION_MS[u]!, 0),
        })),
        decimal.map((d) => ({ text: d, ms: Number(d) * 1000 })),
      ),
      fc.constantFrom("", " ", "\t "),
      ({ text, ms }, pad) => approx(parseDurationMs(pad + text + pad), ms, text),
    ),
  );
});

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  B: 1,
  k: 1000,
  KB: 1000,
  KiB: 1024,
  M: 1e6,
  MB: 1e6,
  MiB: 1024 ** 2,
  G: 1e9,
  GB: 1e9,
  GiB: 1024 ** 3,
};

Deno.test("parseSize() gives bytes for every unit, in any letter case", () => {
  fuzz(
    "parseSize round trip",
    fc.property(
      fc.nat({ max: 1_000_000 }),
      fc.constantFrom(...Object.keys(SIZE_UNITS)),
      fc.boolean(),
      fc.constantFrom("", " "),
      (n, unit, lower, sp) => {
        const u = lower ? unit.toLowerCase() : unit;
        assert.equal(parseSize(`${sp}${n}${sp}${u}${sp}`), n * SIZE_UNITS[unit]!);
      },
    ),
  );
});

Deno.test("parseSize() takes a fraction only when it makes whole bytes", () => {
  fuzz(
    "parseSize fractions",
    fc.property(decimal, fc.constantFrom(...Object.keys(SIZE_UNITS)), (d, unit) => {
      const want = Number(d) * SIZE_UNITS[unit]!;
      let got: number | undefined;
      const e = expectTyped(
        () => {
          got = parseSize(d + unit);
        },
        "invalid_argument",
        /^Cannot parse size /,
      );
      if (Number.isInteger(want)) assert.equal(got, want, d + unit);
      else assert.ok(e, `${d}${unit} gave ${got} bytes`);
    }),
  );
});

Deno.test("parseRatePerSec() gives operations per second for every scale and period", () => {
  const SCALE: Record<string, number> = { "": 1, k: 1e3, K: 1e3, m: 1e6, M: 1e6 };
  const PER: Record<string, number> = { "": 1, "/s": 1, "/m": 60, "/min": 60, "/h": 3600 };
  fuzz(
    "parseRatePerSec round trip",
    fc.property(
      decimal.filter((d) => Number(d) > 0),
      fc.constantFrom(...Object.keys(SCALE)),
      fc.constantFrom(...Object.keys(PER)),
      (d, scale, per) => {
        approx(parseRatePerSec(`${d}${scale}${per}`), Number(d) * SCALE[scale]! / PER[per]!, d);
      },
    ),
  );
});
