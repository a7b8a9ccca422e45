// This module uses no Deno APIs.

const SUB = 64; // sub-buckets per doubling above the exact range
const EXACT = 2 * SUB; // values below this are their own bucket
const MAX_EXP = 52;

/** A {@linkcode LogHistogram} as plain data: its non-empty buckets `[index, count]` and totals. */
export interface LogHistogramData {
  /** Samples. */
  n: number;
  /** Sum of the samples. */
  sum: number;
  /** Smallest and largest (0 when empty). */
  min: number;
  max: number;
  /** Non-empty buckets. */
  buckets: Array<[number, number]>;
}

/** A distribution as analysis reports it. */
export interface Distribution {
  /** Samples. */
  count: number;
  /** Smallest. */
  min: number;
  /** Largest. */
  max: number;
  /** Mean. */
  mean: number;
  /** Median (lower bound of its bucket: exact below 128, else within 1.6%). */
  p50: number;
  /** 90th percentile. */
  p90: number;
  /** 99th percentile. */
  p99: number;
  /** 99.9th percentile. */
  p999: number;
  /** The CDF at up to 64 points: [value, fraction of samples ≤ value]. */
  cdf: Array<[number, number]>;
}

/**
 * A log-linear histogram for non-negative values: exact below 128, then 64 buckets per power of
 * two (1.6% resolution), up to 2^52. Recording is a handful of integer operations, so a
 * single-threaded pass can afford several per event.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const h = new LogHistogram();
 * for (const v of [10, 20, 30, 4096]) h.record(v);
 * assert.equal(h.summary().p50, 20);
 * assert.equal(h.summary().max, 4096);
 * ```
 */
export class LogHistogram {
  #counts = new Float64Array(EXACT + (MAX_EXP - 6) * SUB);
  #n = 0;
  #sum = 0;
  #min = Infinity;
  #max = -Infinity;

  /** Adds a value (negative values count as 0; fractions are truncated). */
  record(value: number): void {
    const v = value > 0 ? Math.floor(value) : 0;
    this.#counts[bucketOf(v)]!++;
    this.#n++;
    this.#sum += v;
    if (v < this.#min) this.#min = v;
    if (v > this.#max) this.#max = v;
  }

  /** Samples recorded. */
  get count(): number {
    return this.#n;
  }

  /** The value at percentile `p` (0..100): the lower bound of the bucket holding it. */
  percentile(p: number): number {
    if (this.#n === 0) return 0;
    const target = Math.max(1, Math.ceil((p / 100) * this.#n));
    let seen = 0;
    const c = this.#counts;
    for (let i = 0; i < c.length; i++) {
      seen += c[i]!;
      if (seen >= target) return Math.min(this.#max, Math.max(this.#min, lowerBound(i)));
    }
    return this.#max;
  }

  /** The non-empty buckets and totals, as plain data (for merging elsewhere). */
  toData(): LogHistogramData {
    const buckets: Array<[number, number]> = [];
    const c = this.#counts;
    for (let i = 0; i < c.length; i++) if (c[i]! > 0) buckets.push([i, c[i]!]);
    return {
      n: this.#n,
      sum: this.#sum,
      min: this.#n > 0 ? this.#min : 0,
      max: this.#n > 0 ? this.#max : 0,
      buckets,
    };
  }

  /** Adds the samples of {@linkcode LogHistogram.toData}'s data. */
  addData(d: LogHistogramData): void {
    if (d.n === 0) return;
    for (const [i, n] of d.buckets) this.#counts[i] = (this.#counts[i] ?? 0) + n;
    this.#n += d.n;
    this.#sum += d.sum;
    if (d.min < this.#min) this.#min = d.min;
    if (d.max > this.#max) this.#max = d.max;
  }

  /** The summary, with a CDF sampled at up to 64 points. */
  summary(): Distribution {
    if (this.#n === 0) {
      return { count: 0, min: 0, max: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, cdf: [] };
    }
    const cdf: Array<[number, number]> = [];
    const c = this.#counts;
    const used: number[] = [];
    for (let i = 0; i < c.length; i++) if (c[i]! > 0) used.push(i);
    const step = Math.max(1, Math.ceil(used.length / 64));
    let seen = 0;
    let j = 0;
    for (let i = 0; i < c.length; i++) {
      if (c[i] === 0) continue;
      seen += c[i]!;
      if (j++ % step === 0 || seen === this.#n) {
        cdf.push([Math.min(this.#max, upperBound(i)), round4(seen / this.#n)]);
      }
    }
    return {
      count: this.#n,
      min: this.#min,
      max: this.#max,
      mean: Math.round((this.#sum / this.#n) * 100) / 100,
      p50: this.percentile(50),
      p90: this.percentile(90),
      p99: this.percentile(99),
      p999: this.percentile(99.9),
      cdf,
    };
  }
}

function bucketOf(v: number): number {
  if (v < EXACT) return v;
  if (v < 2147483648) {
    // Fast path: integer shifts for values that fit 31 bits (sizes, most latencies).
    const e = 31 - Math.clz32(v);
    return EXACT + (e - 7) * SUB + ((v >>> (e - 6)) - SUB);
  }
  const e = Math.min(MAX_EXP, Math.floor(Math.log2(v)));
  const sub = Math.floor(v / 2 ** (e - 6)) - SUB;
  return EXACT + (e - 7) * SUB + Math.min(SUB - 1, sub);
}

function lowerBound(i: number): number {
  if (i < EXACT) return i;
  const e = 7 + Math.floor((i - EXACT) / SUB);
  const sub = (i - EXACT) % SUB;
  return (SUB + sub) * 2 ** (e - 6);
}

function upperBound(i: number): number {
  if (i < EXACT) return i;
  const e = 7 + Math.floor((i - EXACT) / SUB);
  return lowerBound(i) + 2 ** (e - 6) - 1;
}

function round4(x: number): number {
  return Math.round(x * 10000) / 10000;
}
