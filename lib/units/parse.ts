// This module uses no Deno APIs.
import { MembenchError } from "../errors/mod.ts";

const DURATION_UNITS: Record<string, number> = {
  us: 1e-3,
  "µs": 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
};

/**
 * Parses a duration such as `"250ms"`, `"10s"`, `"1m30s"` or `"2h"` into milliseconds. A bare
 * number is seconds, as in redis-benchmark and memtier (`--test-time 10`).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(parseDurationMs("1m30s"), 90_000);
 * assert.equal(parseDurationMs("5"), 5000);
 * ```
 * @throws {MembenchError} `invalid_argument` naming the input.
 */
export function parseDurationMs(input: string | number): number {
  if (typeof input === "number") {
    if (!Number.isFinite(input) || input < 0) throw badUnit("duration", input);
    return finite("duration", input, input * 1000);
  }
  const s = input.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return finite("duration", input, Number(s) * 1000);
  const re = /(\d+(?:\.\d+)?)(us|µs|ms|s|min|m|h)/y;
  let total = 0;
  let pos = 0;
  while (pos < s.length) {
    re.lastIndex = pos;
    const m = re.exec(s);
    if (!m) throw badUnit("duration", input);
    total += Number(m[1]) * DURATION_UNITS[m[2]!]!;
    pos = re.lastIndex;
  }
  if (s.length === 0) throw badUnit("duration", input);
  return finite("duration", input, total);
}

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1000,
  kb: 1000,
  kib: 1024,
  m: 1e6,
  mb: 1e6,
  mib: 1024 * 1024,
  g: 1e9,
  gb: 1e9,
  gib: 1024 ** 3,
};

/**
 * Parses a byte size such as `"32"`, `"4KiB"`, `"1k"` or `"2MB"` into bytes.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(parseSize("4KiB"), 4096);
 * assert.equal(parseSize("100"), 100);
 * ```
 * @throws {MembenchError} `invalid_argument` naming the input.
 */
export function parseSize(input: string | number): number {
  if (typeof input === "number") {
    if (!Number.isInteger(input) || input < 0) throw badUnit("size", input);
    return input;
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(input);
  const mult = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || mult === undefined) throw badUnit("size", input);
  const v = Number(m[1]) * mult;
  if (!Number.isInteger(v)) throw badUnit("size", input);
  return v;
}

/**
 * Parses a rate such as `"50000"`, `"50k/s"`, `"1.5k"` or `"300/m"` into operations per second.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(parseRatePerSec("50k/s"), 50_000);
 * assert.equal(parseRatePerSec("120/m"), 2);
 * ```
 * @throws {MembenchError} `invalid_argument` naming the input.
 */
export function parseRatePerSec(input: string | number): number {
  if (typeof input === "number") {
    if (!Number.isFinite(input) || input <= 0) throw badUnit("rate", input);
    return input;
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*(?:\/\s*(s|m|min|h))?\s*$/.exec(input);
  if (!m) throw badUnit("rate", input);
  let v = Number(m[1]);
  if (m[2] === "k" || m[2] === "K") v *= 1e3;
  if (m[2] === "m" || m[2] === "M") v *= 1e6;
  if (m[3] === "m" || m[3] === "min") v /= 60;
  if (m[3] === "h") v /= 3600;
  if (v <= 0) throw badUnit("rate", input);
  return finite("rate", input, v);
}

/** Formats microseconds for humans: `850µs`, `1.25ms`, `2.50s`. */
export function formatUs(us: number): string {
  if (us < 1000) return `${Math.round(us)}µs`;
  if (us < 1_000_000) return `${(us / 1000).toFixed(2)}ms`;
  return `${(us / 1_000_000).toFixed(2)}s`;
}

/** Formats a count per second with thousands separators, no decimals. */
export function formatRate(perSec: number): string {
  return Math.round(perSec).toLocaleString("en-US");
}

// Hundreds of digits make Infinity, which no caller can use: say so instead.
function finite(kind: string, input: string | number, v: number): number {
  if (Number.isFinite(v)) return v;
  throw new MembenchError(
    "invalid_argument",
    `Cannot parse ${kind} ${JSON.stringify(input)}: the number is too large`,
  );
}

function badUnit(kind: string, input: unknown): MembenchError {
  const examples: Record<string, string> = {
    duration: `"500ms", "10s", "1m30s" or seconds as a number`,
    size: `"32", "4KiB", "1k", "2MB"`,
    rate: `"50000", "50k/s", "300/m"`,
    "start time": `an ISO 8601 time with a zone (2026-11-30T01:00:00Z) or +DURATION (+30s)`,
  };
  return new MembenchError(
    "invalid_argument",
    `Cannot parse ${kind} ${JSON.stringify(input)}: expected ${examples[kind]}`,
  );
}

/**
 * A wall-clock time as epoch ms: a `Date`, epoch ms, an ISO 8601 time with a zone
 * (`2026-11-30T01:00:00Z`), or `+DURATION` from `nowMs` (`+30s`).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(parseWallClock("2026-11-30T01:00:00Z"), Date.UTC(2026, 10, 30, 1));
 * assert.equal(parseWallClock("+30s", 1000), 31_000);
 * assert.throws(() => parseWallClock("tomorrow"), /ISO 8601/);
 * ```
 * @throws {MembenchError} `invalid_argument` when it is none of these.
 */
export function parseWallClock(
  input: Date | number | string,
  nowMs: number = Date.now(),
): number {
  if (input instanceof Date) {
    if (Number.isNaN(input.getTime())) throw badUnit("start time", input);
    return input.getTime();
  }
  if (typeof input === "number") {
    if (!Number.isFinite(input) || input < 0) throw badUnit("start time", input);
    return input;
  }
  const t = input.trim();
  if (t.startsWith("+")) return nowMs + parseDurationMs(t.slice(1));
  // A zone is required: a time without one means another moment on each machine of a run.
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)$/i.test(t)) {
    throw new MembenchError(
      "invalid_argument",
      `Cannot read the start time '${input}': expected an ISO 8601 time with a zone ` +
        "(2026-11-30T01:00:00Z) or +DURATION (+30s)",
    );
  }
  const ms = Date.parse(t);
  if (Number.isNaN(ms)) throw badUnit("start time", input);
  return ms;
}
