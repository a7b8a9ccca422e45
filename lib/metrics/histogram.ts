// This module uses no Deno APIs.
import { Buffer } from "node:buffer";
import { deflateSync, inflateSync } from "node:zlib";
import * as hdr from "hdr-histogram-js";

/** An HDR histogram of latencies in microseconds. */
export type Histogram = hdr.Histogram;

/** Highest latency tracked exactly: one hour, in µs. Larger values are clamped. */
export const MAX_TRACKABLE_US = 3_600_000_000;

/** A new latency histogram: µs, 3 significant digits, 1 µs to 1 h. */
export function newHistogram(): Histogram {
  return hdr.build({
    bitBucketSize: 32,
    lowestDiscernibleValue: 1,
    highestTrackableValue: MAX_TRACKABLE_US,
    numberOfSignificantValueDigits: 3,
    useWebAssembly: false,
  });
}

// Values below this many µs are counted in a plain array by LatencyRecorder.
const DIRECT_US = 16_384;

/**
 * A latency histogram with a cheap hot path: each value below 16,384 µs is counted in a plain
 * array (about 3 ns), and the counts are moved into the HDR histogram when it is read
 * ({@linkcode histogram}). hdr-histogram-js's `recordValue` costs about 40 ns here (a log2 and
 * a pow per value), twice per request in a cluster run. The HDR histogram ends up exactly as if
 * every value had been recorded in it: the same counts in the same buckets, the same minimum
 * and maximum. Larger values go to the histogram directly.
 *
 * @example
 * ```ts
 * import { LatencyRecorder } from "./histogram.ts";
 * const r = new LatencyRecorder();
 * r.record(120.4);
 * r.record(20_000);
 * const h = r.histogram;
 * console.assert(h.totalCount === 2 && h.minNonZeroValue === 120 && h.maxValue >= 20_000);
 * r.destroy();
 * ```
 */
export class LatencyRecorder {
  readonly #h: Histogram = newHistogram();
  readonly #direct = new Uint32Array(DIRECT_US);
  #lo = DIRECT_US;
  #hi = -1;

  /** Records one latency in µs (rounded; clamped to 0 .. {@linkcode MAX_TRACKABLE_US}). */
  record(us: number): void {
    const v = us <= 0 ? 0 : us < MAX_TRACKABLE_US ? Math.round(us) : MAX_TRACKABLE_US;
    if (v < DIRECT_US) {
      this.#direct[v]!++;
      if (v < this.#lo) this.#lo = v;
      if (v > this.#hi) this.#hi = v;
    } else this.#h.recordValue(v);
  }

  /** The HDR histogram with everything recorded so far. */
  get histogram(): Histogram {
    if (this.#hi >= this.#lo) {
      const d = this.#direct, h = this.#h;
      for (let v = this.#lo; v <= this.#hi; v++) {
        const c = d[v]!;
        if (c !== 0) h.recordValueWithCount(v, c);
      }
      d.fill(0, this.#lo, this.#hi + 1);
      this.#lo = DIRECT_US;
      this.#hi = -1;
    }
    return this.#h;
  }

  /** Forgets everything recorded. */
  reset(): void {
    if (this.#hi >= this.#lo) this.#direct.fill(0, this.#lo, this.#hi + 1);
    this.#lo = DIRECT_US;
    this.#hi = -1;
    this.#h.reset();
  }

  /** Frees the histogram. */
  destroy(): void {
    this.#h.destroy();
  }
}

/** Latency percentiles in µs. */
export interface LatencySummary {
  /** Number of samples. */
  count: number;
  /** Smallest, in µs. */
  minUs: number;
  /** Mean, in µs. */
  meanUs: number;
  /** Median, in µs. */
  p50Us: number;
  /** 90th percentile, in µs. */
  p90Us: number;
  /** 99th percentile, in µs. */
  p99Us: number;
  /** 99.9th percentile, in µs. */
  p999Us: number;
  /** Largest, in µs. */
  maxUs: number;
}

/** Percentiles of a histogram. */
export function summarize(h: Histogram): LatencySummary {
  if (h.totalCount === 0) {
    return { count: 0, minUs: 0, meanUs: 0, p50Us: 0, p90Us: 0, p99Us: 0, p999Us: 0, maxUs: 0 };
  }
  return {
    count: h.totalCount,
    minUs: h.minNonZeroValue === Number.MAX_SAFE_INTEGER ? 0 : h.minNonZeroValue,
    meanUs: Math.round(h.mean * 10) / 10,
    p50Us: h.getValueAtPercentile(50),
    p90Us: h.getValueAtPercentile(90),
    p99Us: h.getValueAtPercentile(99),
    p999Us: h.getValueAtPercentile(99.9),
    maxUs: h.maxValue,
  };
}

/** Encodes a histogram in HdrHistogram's compressed base64 form (mergeable, log-compatible). */
export function encodeHistogram(h: Histogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}

/** Decodes {@linkcode encodeHistogram}'s form into a new histogram. */
export function decodeHistogram(encoded: string): Histogram {
  const h = hdr.decodeFromCompressedBase64(encoded, 32, false);
  return h;
}

/**
 * Sums encoded histograms into one. The parts are read straight into one array of counts (the
 * V2 compressed encoding: a deflated header and zig-zag LEB128 counts with runs of zeros), and
 * the sum is recorded into a new histogram once: decoding each part into a histogram of its own
 * costs about 0.5 ms (a 190 KB counts array allocated and walked), which made merging the
 * per-second histograms of 100 shards of a minute take seconds. A part this reader does not
 * know (another layout or encoding) is decoded by hdr-histogram-js as before.
 */
export function mergeEncoded(encoded: readonly string[]): Histogram {
  const total = newHistogram();
  const acc = new CountSum();
  try {
    for (const e of encoded) {
      if (acc.add(e)) continue;
      const h = decodeHistogram(e);
      total.add(h);
      h.destroy();
    }
    acc.recordInto(total);
  } finally {
    acc.clear(); // the count array is shared: never leave counts in it (a part may throw)
  }
  return total;
}

/**
 * The encoded sum of encoded histograms: {@linkcode mergeEncoded} then
 * {@linkcode encodeHistogram}, without building a histogram when every part has
 * newHistogram()'s layout (the counts are summed and written in the same V2 compressed form
 * hdr-histogram-js writes: what merging per-second histograms over many shards needs).
 */
export function mergeEncodedToEncoded(encoded: readonly string[]): string {
  if (encoded.length === 1) return encoded[0]!;
  const acc = new CountSum();
  try {
    for (const e of encoded) {
      if (acc.add(e)) continue;
      // A part of another layout: the slow path for all of them.
      acc.clear();
      const h = mergeEncoded(encoded);
      const out = encodeHistogram(h);
      h.destroy();
      return out;
    }
    return acc.encode();
  } finally {
    acc.clear();
  }
}

// Counts by index of histograms with newHistogram()'s layout (3 significant digits, lowest
// discernible value 1): index -> value as HdrHistogram's valueFromIndex.
const SUB_BUCKET_HALF_COUNT_MAGNITUDE = 10;
const SUB_BUCKET_HALF_COUNT = 1 << SUB_BUCKET_HALF_COUNT_MAGNITUDE;
const COMPRESSED_COOKIE = 0x1c849304;
const V2_COOKIE = 0x1c849303;
const V2_HEADER = 40;

function valueFromIndex(index: number): number {
  let bucket = (index >> SUB_BUCKET_HALF_COUNT_MAGNITUDE) - 1;
  let sub = (index & (SUB_BUCKET_HALF_COUNT - 1)) + SUB_BUCKET_HALF_COUNT;
  if (bucket < 0) {
    sub -= SUB_BUCKET_HALF_COUNT;
    bucket = 0;
  }
  return sub * 2 ** bucket;
}

function bucketWidth(index: number): number {
  return 2 ** Math.max(0, (index >> SUB_BUCKET_HALF_COUNT_MAGNITUDE) - 1);
}

// One count array for every merge (mergeEncoded is synchronous): allocating and zeroing half a
// megabyte per merge was a third of a 100-shard merge's time. Only the touched range is cleared.
let shared = new Float64Array(1 << 16);

class CountSum {
  counts = shared;
  lo = Infinity;
  hi = -1;

  // Adds one encoded histogram; false when it is not in the layout this reader knows.
  add(encoded: string): boolean {
    let raw: Uint8Array;
    try {
      const bytes = Buffer.from(encoded, "base64");
      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      if (bytes.length < 8 || (dv.getInt32(0) & ~0xf0) !== COMPRESSED_COOKIE) return false;
      raw = inflateSync(bytes.subarray(8, 8 + dv.getInt32(4)));
    } catch {
      return false;
    }
    // Header: cookie, payload length, normalizing index offset (written as 1 by
    // hdr-histogram-js and not used), significant digits, lowest discernible value, highest
    // trackable value, double conversion ratio.
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    if (
      raw.length < V2_HEADER || (dv.getInt32(0) & ~0xf0) !== (V2_COOKIE & ~0xf0) ||
      dv.getInt32(12) !== 3 || Number(dv.getBigInt64(16)) !== 1
    ) {
      return false;
    }
    const end = V2_HEADER + dv.getInt32(4);
    if (end > raw.length) return false;
    let index = 0;
    let p = V2_HEADER;
    while (p < end) {
      // LEB128, up to 9 bytes (the 9th carries 8 bits).
      let v = 0;
      let scale = 1;
      let k = 0;
      for (;;) {
        const b = raw[p++]!;
        if (k === 8) {
          v += b * scale;
          break;
        }
        v += (b & 0x7f) * scale;
        scale *= 128;
        k++;
        if ((b & 0x80) === 0) break;
      }
      // Zig-zag: even n -> n/2, odd n -> -(n+1)/2 (a run of zero counts).
      const n = v % 2 === 0 ? v / 2 : -(v + 1) / 2;
      if (n < 0) {
        index += -n;
        continue;
      }
      if (n > 0) {
        if (index >= this.counts.length) {
          const grown = new Float64Array(Math.max(index + 1, this.counts.length * 2));
          grown.set(this.counts);
          this.counts = shared = grown;
        }
        this.counts[index]! += n;
        if (index < this.lo) this.lo = index;
        if (index > this.hi) this.hi = index;
      }
      index++;
    }
    return true;
  }

  // Records the sum. Each count goes in at its bucket's lowest value, the top bucket's at its
  // highest, so that the minimum and maximum are those hdr-histogram-js gives a decoded
  // histogram (the lowest and highest equivalent values of its first and last buckets).
  recordInto(h: Histogram): void {
    for (let i = this.lo; i <= this.hi; i++) {
      const c = this.counts[i]!;
      if (c === 0) continue;
      const v = valueFromIndex(i);
      h.recordValueWithCount(i === this.hi ? v + bucketWidth(i) - 1 : v, c);
    }
    this.clear();
  }

  clear(): void {
    if (this.hi >= this.lo) this.counts.fill(0, this.lo, this.hi + 1);
    this.lo = Infinity;
    this.hi = -1;
  }

  // The sum in the V2 compressed encoding, as hdr-histogram-js writes it: counts from index 0 to
  // the highest non-zero one as zig-zag LEB128, a run of zeros as its negated length; a 40-byte
  // header; deflated; behind the compressed cookie and length; base64. Clears the sum.
  encode(): string {
    const top = this.hi;
    const body = new Uint8Array(V2_HEADER + 9 * Math.max(1, 2 * (top + 1)));
    let p = V2_HEADER;
    const put = (n: number) => {
      // Zig-zag: n >= 0 -> 2n, n < 0 -> -2n - 1; then LEB128, 9 bytes at most.
      let v = n >= 0 ? n * 2 : -n * 2 - 1;
      for (let k = 0; k < 8; k++) {
        if (v < 128) {
          body[p++] = v;
          return;
        }
        body[p++] = (v % 128) | 0x80;
        v = Math.floor(v / 128);
      }
      body[p++] = v;
    };
    const c = this.counts;
    let i = 0;
    while (i <= top) {
      const n = c[i++]!;
      if (n !== 0) {
        put(n);
        continue;
      }
      let zeros = 1;
      while (i <= top && c[i] === 0) {
        zeros++;
        i++;
      }
      put(zeros > 1 ? -zeros : 0);
    }
    const dv = new DataView(body.buffer);
    dv.setInt32(0, V2_COOKIE | 0x10);
    dv.setInt32(4, p - V2_HEADER);
    dv.setInt32(8, 1); // normalizing index offset, as hdr-histogram-js writes it
    dv.setInt32(12, 3);
    dv.setBigInt64(16, 1n);
    dv.setBigInt64(24, BigInt(MAX_TRACKABLE_US));
    dv.setBigInt64(32, 1n); // the conversion ratio, written as hdr-histogram-js writes it
    const z = deflateSync(body.subarray(0, p));
    const out = new Uint8Array(8 + z.length);
    const odv = new DataView(out.buffer);
    odv.setInt32(0, COMPRESSED_COOKIE | 0x10);
    odv.setInt32(4, z.length);
    out.set(z, 8);
    this.clear();
    return Buffer.from(out.buffer, out.byteOffset, out.byteLength).toString("base64");
  }
}

/**
 * Writes interval histograms as an HdrHistogram log (version 1.3), which HdrHistogram's
 * HistogramLogProcessor and plotters read. Values are µs; the max column is in ms.
 *
 * @param intervals One entry per tagged interval; `startSec` is seconds since `startEpochMs`.
 */
export function writeHdrLog(
  startEpochMs: number,
  intervals: ReadonlyArray<{ tag: string; startSec: number; lengthSec: number; encoded: string }>,
): string {
  let out = "";
  const w = new hdr.HistogramLogWriter((s: string) => {
    out += s;
  });
  w.outputLogFormatVersion();
  w.outputComment("membench latency log; values in microseconds, Interval_Max in milliseconds");
  w.outputStartTime(startEpochMs);
  w.outputLegend();
  for (const i of intervals) {
    const h = decodeHistogram(i.encoded);
    h.tag = i.tag;
    w.outputIntervalHistogram(h, i.startSec, i.startSec + i.lengthSec, 1000);
    h.destroy();
  }
  return out;
}
