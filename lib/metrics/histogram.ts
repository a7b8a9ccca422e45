// This module uses no Deno APIs.
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

/** Sums encoded histograms into one. */
export function mergeEncoded(encoded: readonly string[]): Histogram {
  const total = newHistogram();
  for (const e of encoded) {
    const h = decodeHistogram(e);
    total.add(h);
    h.destroy();
  }
  return total;
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
