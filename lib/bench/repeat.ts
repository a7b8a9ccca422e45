/**
 * `benchRepeat()`: the whole bench run several times (memtier's `--run-count`, redis-benchmark's
 * `-l` loop), each run's result and the spread of each test's throughput and latency over them.
 *
 * @module
 */
import { MembenchError } from "../errors/mod.ts";
import { mergeEncoded, summarize } from "../metrics/mod.ts";
import { bench } from "./bench.ts";
import type { BenchOptions, BenchResult, TestResult } from "./types.ts";

/** Options for {@linkcode benchRepeat}: bench's, and how many runs. */
export interface BenchRepeatOptions extends BenchOptions {
  /** Runs; `Infinity` runs until `signal` aborts (redis-benchmark `-l`). @default {1} */
  runs?: number;
  /** Called after each run, with its index from 0. */
  onRun?: (result: BenchResult, index: number) => void;
  /**
   * Keep every run's full result in `runs` (`false` keeps only the figures the aggregate needs,
   * for an endless loop). @default {true}
   */
  keepRuns?: boolean;
}

/** A figure over the runs. */
export interface Spread {
  /** Smallest. */
  min: number;
  /** Median (the mean of the two middle values for an even count). */
  median: number;
  /** Largest. */
  max: number;
  /** Mean. */
  mean: number;
  /** Sample standard deviation (n - 1); 0 for one run. */
  stdev: number;
}

/** One test over the runs that completed it. */
export interface RepeatTestSummary {
  /** Test name, or `mix`. */
  name: string;
  /** Runs that completed the test. */
  runs: number;
  /** Requests per second, per run. */
  opsPerSec: Spread;
  /** Median latency of each run (response time in open loop, else service time), µs. */
  p50Us: Spread;
  /** 99th percentile of each run, same figure, µs. */
  p99Us: Spread;
  /** Errors, all runs. */
  errors: number;
  /** Requests, all runs. */
  requests: number;
}

/** The result of {@linkcode benchRepeat}. */
export interface BenchRepeatResult {
  /** Each run's result, in order (empty with `keepRuns: false`). */
  runs: BenchResult[];
  /** Runs that completed (an interrupted run is not one). */
  completed: number;
  /** Runs asked for. */
  requested: number;
  /** Per test, the spread over the completed runs. */
  aggregate: RepeatTestSummary[];
  /** Stopped by the signal. */
  interrupted: boolean;
  /** Set when a run ended because every connection failed (the runs stopped there). */
  failure?: { code: string; message: string };
  /** The first run's warnings. */
  warnings?: string[];
}

/**
 * Runs {@linkcode bench} `runs` times with the same options and returns each run and the spread
 * of each test's ops/s, p50 and p99 over the runs (min, median, max, mean, standard deviation).
 * The runs stop early when the signal aborts, when a run ends because every connection failed,
 * or when a test of a run made no successful request (the next runs would fail the same way).
 *
 * @example Usage
 * ```ts ignore
 * const r = await benchRepeat({ target: "127.0.0.1:6379", tests: ["get"], runs: 5 });
 * console.log(r.aggregate[0]!.opsPerSec.median, r.aggregate[0]!.opsPerSec.stdev);
 * ```
 * @throws {MembenchError} as {@linkcode bench}; `invalid_argument` for a bad `runs`.
 */
export async function benchRepeat(options: BenchRepeatOptions = {}): Promise<BenchRepeatResult> {
  const { runs: asked = 1, onRun, keepRuns = true, ...benchOptions } = options;
  if (!(asked === Infinity || (Number.isInteger(asked) && asked >= 1))) {
    throw new MembenchError(
      "invalid_argument",
      `Cannot use 'runs': must be an integer >= 1 (or Infinity): current value is ${asked}`,
    );
  }
  const out: BenchRepeatResult = {
    runs: [],
    completed: 0,
    requested: asked,
    aggregate: [],
    interrupted: false,
  };
  const figures = new Map<
    string,
    { ops: number[]; p50: number[]; p99: number[]; errors: number; requests: number }
  >();
  for (let i = 0; i < asked; i++) {
    if (benchOptions.signal?.aborted) {
      out.interrupted = true;
      break;
    }
    const r = await bench(benchOptions);
    if (i === 0 && r.warnings) out.warnings = r.warnings;
    if (keepRuns) out.runs.push(r);
    onRun?.(r, i);
    if (r.interrupted) {
      out.interrupted = true;
      break;
    }
    if (r.failure) {
      out.failure = r.failure;
      break;
    }
    out.completed++;
    for (const t of r.tests) {
      let f = figures.get(t.name);
      if (!f) figures.set(t.name, f = { ops: [], p50: [], p99: [], errors: 0, requests: 0 });
      const l = headlineOf(t);
      f.ops.push(t.opsPerSec);
      f.p50.push(l.p50Us);
      f.p99.push(l.p99Us);
      f.errors += t.errors;
      f.requests += t.requests;
    }
    if (r.tests.some((t) => t.allFailed)) break;
  }
  out.aggregate = [...figures.entries()].map(([name, f]) => ({
    name,
    runs: f.ops.length,
    opsPerSec: spreadOf(f.ops),
    p50Us: spreadOf(f.p50),
    p99Us: spreadOf(f.p99),
    errors: f.errors,
    requests: f.requests,
  }));
  return out;
}

// The test's headline latency over all its commands: response time in open loop, else service.
function headlineOf(t: TestResult): { p50Us: number; p99Us: number } {
  if (t.commands.length === 1) {
    const c = t.commands[0]!;
    const l = c.responseTime ?? c.serviceTime;
    return { p50Us: l.p50Us, p99Us: l.p99Us };
  }
  const h = mergeEncoded(t.histograms.map((x) => x.response ?? x.service));
  const s = summarize(h);
  h.destroy();
  return { p50Us: s.p50Us, p99Us: s.p99Us };
}

/**
 * Min, median, max, mean and sample standard deviation of `xs`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const s = spreadOf([1, 2, 3, 10]);
 * assert.deepEqual([s.min, s.median, s.max, s.mean], [1, 2.5, 10, 4]);
 * assert.equal(s.stdev.toFixed(3), "4.082");
 * ```
 */
export function spreadOf(xs: readonly number[]): Spread {
  if (xs.length === 0) return { min: 0, median: 0, max: 0, mean: 0, stdev: 0 };
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  const mean = s.reduce((a, b) => a + b, 0) / n;
  const median = n % 2 === 1 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
  const variance = n > 1 ? s.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1) : 0;
  return { min: s[0]!, median, max: s[n - 1]!, mean, stdev: Math.sqrt(variance) };
}
