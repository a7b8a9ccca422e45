/**
 * The vector search optimizer: the cheapest EF_RUNTIME whose recall meets a target (a binary
 * search judged on a bootstrap confidence interval over queries), then the client count and
 * pipeline that give the most QPS at that EF_RUNTIME within a p99 bound. valkey-search-benchmark's
 * optimizer is the model (feasibility -> recall search -> throughput -> complete).
 *
 * The measuring pieces ({@linkcode openTuneSession}, {@linkcode measureTunePoint}) are shared
 * with the frontier sweep (`frontier.ts`): the dataset is loaded once and one exact truth serves
 * every measurement.
 *
 * @module
 */
import { MembenchError } from "../errors/mod.ts";
import { Rng } from "../workload/mod.ts";
import { openDataset, type VectorDataset } from "./dataset.ts";
import { resolveIndexSpec } from "./index_spec.ts";
import { vectorLoad } from "./load.ts";
import { vectorQuery } from "./query.ts";
import type {
  VectorConnectOptions,
  VectorIndexOptions,
  VectorQueryResult,
} from "./search_types.ts";
import { type LoadedSegment, type VectorTruth, vectorTruth } from "./truth.ts";
import type { DistanceMetric, VectorMatrix } from "./types.ts";

/** Which recall figure a target is judged on: the mean over queries, or its 5th percentile. */
export type RecallStatistic = "mean" | "p5";

/** A recall figure with its bootstrap confidence interval over queries. */
export interface RecallInterval {
  statistic: RecallStatistic;
  /** The figure over the queries as measured. */
  estimate: number;
  /** Lower and upper bounds of the percentile bootstrap interval. */
  low: number;
  high: number;
  /** e.g. 0.95. */
  confidence: number;
  /** Bootstrap resamples. */
  resamples: number;
  /** Queries the figure is over. */
  queries: number;
}

/** Options for {@linkcode bootstrapRecall}. */
export interface BootstrapOptions {
  /** @default {"mean"} */
  statistic?: RecallStatistic;
  /** @default {0.95} */
  confidence?: number;
  /** @default {1000} */
  resamples?: number;
  /** The resampling seed: the same seed draws the same resamples for every measurement. @default {1} */
  seed?: number;
}

function statisticOf(values: ArrayLike<number>, statistic: RecallStatistic, tmp: Float64Array) {
  const n = values.length;
  if (statistic === "mean") {
    let s = 0;
    for (let i = 0; i < n; i++) s += values[i]!;
    return s / n;
  }
  for (let i = 0; i < n; i++) tmp[i] = values[i]!;
  const a = tmp.subarray(0, n).sort();
  // The rank rule of vec-query's recall.p5.
  return a[Math.max(1, Math.ceil(0.05 * n)) - 1]!;
}

/**
 * A recall figure (mean or p5) over per-query recalls, with a seeded percentile bootstrap
 * interval over queries. Measurements in query-id order with the same seed use the same resamples
 * (paired), so a recall that rises query by query gives bounds that rise too.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const ci = bootstrapRecall([1, 1, 0.9, 0.8], { seed: 7 });
 * assert.equal(ci.estimate, 0.925);
 * assert.ok(ci.low <= ci.estimate && ci.estimate <= ci.high);
 * ```
 *
 * @throws {MembenchError} `invalid_argument` for no values or bad options.
 */
export function bootstrapRecall(
  values: readonly number[],
  options: BootstrapOptions = {},
): RecallInterval {
  const statistic = options.statistic ?? "mean";
  const confidence = options.confidence ?? 0.95;
  const resamples = options.resamples ?? 1000;
  const n = values.length;
  if (n === 0) {
    throw new MembenchError(
      "invalid_argument",
      "Cannot bootstrap recall: no query was scored",
    );
  }
  if (!(confidence > 0 && confidence < 1)) {
    throw new MembenchError(
      "invalid_argument",
      `Cannot use 'confidence': must be between 0 and 1: current value is ${confidence}`,
    );
  }
  if (!Number.isInteger(resamples) || resamples < 10 || resamples > 1_000_000) {
    throw new MembenchError(
      "invalid_argument",
      `Cannot use 'resamples': must be an integer from 10 to 1000000: current value is ${resamples}`,
    );
  }
  const tmp = new Float64Array(n);
  const sample = new Float64Array(n);
  const estimate = statisticOf(values, statistic, tmp);
  const rng = new Rng(options.seed ?? 1);
  const stats = new Float64Array(resamples);
  for (let b = 0; b < resamples; b++) {
    for (let i = 0; i < n; i++) sample[i] = values[rng.nextInt(n)]!;
    stats[b] = statisticOf(sample, statistic, tmp);
  }
  stats.sort();
  const alpha = (1 - confidence) / 2;
  const low = stats[Math.min(resamples - 1, Math.floor(alpha * resamples))]!;
  const high = stats[Math.max(0, Math.ceil((1 - alpha) * resamples) - 1)]!;
  return {
    statistic,
    estimate,
    low: Math.min(low, estimate),
    high: Math.max(high, estimate),
    confidence,
    resamples,
    queries: n,
  };
}

/**
 * How a recall interval stands against a target: `met` when its lower bound reaches it,
 * `within-noise` when only the upper bound does (the target lies inside the interval), `below`
 * otherwise.
 */
export type RecallVerdict = "met" | "within-noise" | "below";

/** {@linkcode RecallVerdict} of an interval against a target. */
export function judgeRecall(ci: RecallInterval, target: number): RecallVerdict {
  if (ci.low >= target) return "met";
  if (ci.high >= target) return "within-noise";
  return "below";
}

/** One measurement at one setting. */
export interface TunePoint {
  efRuntime: number;
  /** Build parameters of the index measured. */
  m?: number;
  efConstruction?: number;
  clients: number;
  pipeline: number;
  /** Mean recall@k and its bootstrap interval. */
  recall: RecallInterval;
  /** 5th percentile of recall@k and its bootstrap interval. */
  recallP5: RecallInterval;
  qps: number;
  p50Ms: number;
  p99Ms: number;
  completed: number;
  /** Failed queries. */
  errors: number;
}

/** Build and measurement options shared by the optimizer and the frontier. */
export interface TuneOptions extends VectorConnectOptions {
  /** A dataset path or an open dataset (it needs query vectors). */
  dataset: string | VectorDataset;
  metric?: DistanceMetric;
  /** The index (HNSW); loaded with the dataset unless `load` is false. */
  index?: VectorIndexOptions;
  /** Load the dataset (dropping an index of the same name first). @default {true} */
  load?: boolean;
  /** Rows to load. @default all */
  numVectors?: number;
  /** recall@k. @default {10} */
  k?: number;
  /** Use the first n query vectors. @default all */
  numQueries?: number;
  /** Bootstrap: confidence and resamples, seeded by `seed`. @default 0.95, 1000 */
  confidence?: number;
  resamples?: number;
  /** Seeds the bootstrap and the query order. @default {1} */
  seed?: number;
  /** Each recall measurement sends every query this many times. @default {1} */
  repeats?: number;
  /** Ground-truth worker threads. */
  truthThreads?: number;
}

/** What a tuning session loaded and the truth it scores against. */
export interface TuneSession {
  readonly ds: VectorDataset;
  readonly metric: DistanceMetric;
  readonly connect: VectorConnectOptions;
  readonly index: VectorIndexOptions;
  readonly k: number;
  readonly numQueries: number;
  readonly truth: VectorTruth;
  readonly segments?: readonly LoadedSegment[];
  /** The load, when the session loaded. */
  readonly load?: TuneLoad;
  /** Closes the dataset when the session opened it. */
  close(): void;
}

/** What loading the index cost. */
export interface TuneLoad {
  vectors: number;
  /** Load plus index wait, ms. */
  buildMs: number;
  vectorsPerSec: number;
  /** `used_memory` growth, bytes. */
  memoryBytes: number;
  /** FT.INFO's vector index size, when reported. */
  vectorIndexBytes?: number;
}

/** Where the truth came from: exact, always computed on the fly over what the server holds. */
export interface TuneTruth {
  computed: true;
  /** Whether the dataset ships its own ground truth (not used: the truth is over what is held). */
  datasetHasTruth: boolean;
  queries: number;
  k: number;
  elapsedMs: number;
}

/** The connection options out of a tuning option set. */
export function connectOptions(o: VectorConnectOptions): VectorConnectOptions {
  const keys: Array<keyof VectorConnectOptions> = [
    "target",
    "password",
    "user",
    "resp3",
    "io",
    "clients",
    "pipeline",
    "connectTimeoutMs",
    "requestTimeoutMs",
    "reconnect",
    "platform",
    "signal",
    "onProgress",
  ];
  const out: Record<string, unknown> = {};
  for (const key of keys) if (o[key] !== undefined) out[key] = o[key];
  return out as VectorConnectOptions;
}

/** Checks the shared tuning options; pushes one sentence per problem. */
export function tuneProblems(o: TuneOptions, problems: string[]): void {
  const int = (name: string, v: unknown, min: number, max: number) => {
    if (v !== undefined && (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max)) {
      problems.push(
        `Cannot use '${name}': must be an integer from ${min} to ${max}: current value is ${
          JSON.stringify(v)
        }`,
      );
    }
  };
  if (o.dataset === undefined) problems.push("Cannot tune vector search: 'dataset' is missing");
  int("k", o.k, 1, 10_000);
  int("numQueries", o.numQueries, 1, 100_000_000);
  int("numVectors", o.numVectors, 1, Number.MAX_SAFE_INTEGER);
  int("repeats", o.repeats, 1, 1000);
  int("resamples", o.resamples, 10, 1_000_000);
  if (o.confidence !== undefined && !(o.confidence > 0 && o.confidence < 1)) {
    problems.push(
      `Cannot use 'confidence': must be between 0 and 1: current value is ${o.confidence}`,
    );
  }
  if (o.index?.algorithm !== undefined && o.index.algorithm !== "HNSW") {
    problems.push(
      `Cannot tune EF_RUNTIME on a ${o.index.algorithm} index: the optimizer and the frontier need HNSW`,
    );
  }
}

/**
 * Opens the dataset, loads it into an HNSW index (unless `load` is false: the server then holds
 * rows `[0, numVectors)` under key ids equal to rows) and computes one exact truth over what the
 * server holds.
 *
 * @throws {MembenchError} what {@linkcode vectorLoad} and {@linkcode vectorTruth} throw;
 * `invalid_argument` for a dataset without query vectors; `server` when the load fails.
 */
export async function openTuneSession(o: TuneOptions): Promise<TuneSession> {
  let ds: VectorDataset;
  let close = () => {};
  if (typeof o.dataset === "string") {
    ds = await openDataset(o.dataset, o.metric ? { metric: o.metric } : {});
    close = () => ds.close();
  } else ds = o.dataset;
  try {
    if (!ds.queries) {
      throw new MembenchError(
        "invalid_argument",
        `Cannot tune vector search with ${ds.path}: it has no query vectors`,
      );
    }
    const metric = o.metric ?? ds.metric ?? "L2";
    const connect = connectOptions(o);
    const index: VectorIndexOptions = { ...o.index, algorithm: "HNSW" };
    const k = o.k ?? 10;
    let segments: LoadedSegment[] | undefined;
    let load: TuneLoad | undefined;
    if (o.load !== false) {
      const l = await vectorLoad({
        ...connect,
        pipeline: 16,
        dataset: ds,
        metric,
        index,
        dropBefore: true,
        ...(o.numVectors !== undefined ? { numVectors: o.numVectors } : {}),
      });
      if (l.failure) {
        throw new MembenchError(
          "server",
          `Cannot tune vector search: the load failed: ${l.failure.message}`,
        );
      }
      if (l.interrupted) throw new MembenchError("interrupted", "Interrupted during the load");
      segments = l.segments;
      load = {
        vectors: l.ok,
        buildMs: l.loadMs + l.indexWaitMs,
        vectorsPerSec: l.vectorsPerSec,
        memoryBytes: l.memory.growth,
        ...(l.memory.vectorIndexBytes !== undefined
          ? { vectorIndexBytes: l.memory.vectorIndexBytes }
          : {}),
      };
    } else if (o.numVectors !== undefined) {
      segments = [{ keyStart: 0, vectorStart: 0, count: Math.min(o.numVectors, ds.base.rows) }];
    }
    const numQueries = Math.min(o.numQueries ?? ds.queries.rows, ds.queries.rows);
    const truth = await vectorTruth(ds, {
      k,
      metric,
      queries: await ds.queries.read(0, numQueries),
      ...(segments ? { loaded: segments } : {}),
      ...(o.truthThreads !== undefined ? { threads: o.truthThreads } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
    });
    return {
      ds,
      metric,
      connect,
      index,
      k,
      numQueries,
      truth,
      ...(segments ? { segments } : {}),
      ...(load ? { load } : {}),
      close,
    };
  } catch (e) {
    close();
    throw e;
  }
}

/** One measurement's settings. */
export interface MeasureOptions {
  efRuntime: number;
  clients?: number;
  pipeline?: number;
  /** Send for this long (throughput); otherwise every query `repeats` times. */
  durationMs?: number;
  repeats?: number;
  confidence?: number;
  resamples?: number;
  seed?: number;
}

/**
 * Measures one setting: vec-query at `efRuntime` with every query sent `repeats` times (or for
 * `durationMs`), recall mean and p5 with bootstrap intervals, QPS and latency.
 *
 * @throws {MembenchError} what {@linkcode vectorQuery} throws (a missing index included), and
 * `server` when no query was answered or the phase failed.
 */
export async function measureTunePoint(
  s: TuneSession,
  options: MeasureOptions,
): Promise<{ point: TunePoint; query: VectorQueryResult }> {
  const clients = options.clients ?? s.connect.clients ?? 4;
  const pipeline = options.pipeline ?? 1;
  const q = await vectorQuery({
    ...s.connect,
    clients,
    pipeline,
    dataset: s.ds,
    metric: s.metric,
    index: s.index,
    k: s.k,
    numQueries: s.numQueries,
    efRuntime: options.efRuntime,
    truth: s.truth,
    keepPerQuery: true,
    ...(s.segments ? { segments: s.segments } : {}),
    ...(options.durationMs !== undefined
      ? { durationMs: options.durationMs }
      : { requests: s.numQueries * (options.repeats ?? 1) }),
    ...(options.seed !== undefined ? { seed: options.seed } : {}),
  });
  checkAnswered(q, options.efRuntime, true);
  const per = q.recall.perQuery ?? [];
  const errors = q.completed - q.recall.scored + (q.sent - q.completed);
  const bo = {
    seed: options.seed ?? 1,
    ...(options.confidence !== undefined ? { confidence: options.confidence } : {}),
    ...(options.resamples !== undefined ? { resamples: options.resamples } : {}),
  };
  const empty = (st: RecallStatistic) => emptyInterval(st, options.confidence);
  return {
    point: {
      efRuntime: options.efRuntime,
      ...(s.index.m !== undefined ? { m: s.index.m } : {}),
      ...(s.index.efConstruction !== undefined ? { efConstruction: s.index.efConstruction } : {}),
      clients,
      pipeline,
      recall: per.length ? bootstrapRecall(per, { ...bo, statistic: "mean" }) : empty("mean"),
      recallP5: per.length ? bootstrapRecall(per, { ...bo, statistic: "p5" }) : empty("p5"),
      qps: q.qps,
      p50Ms: q.summary.p50Us / 1000,
      p99Ms: q.summary.p99Us / 1000,
      completed: q.completed,
      errors: Math.max(0, errors),
    },
    query: q,
  };
}

/**
 * Adaptive re-measurement of a recall step. A step's first round sends `firstQueries` queries of
 * the pool (the session's `numQueries`); while the pooled interval of the judged statistic
 * straddles the target (or is wider than `maxWidth`), another round sends fresh queries, as many
 * as the step has pooled so far (the pool then doubles, the interval narrows by about √2), until
 * the query set is exhausted; then rounds repeat queries already sent, `firstQueries` at a time
 * through the set (each query's recall is averaged over its passes, so the count of distinct
 * queries, the bootstrap's n, does not grow).
 * A repeat pass that gives every query the recall it had ends the rounds: the search is
 * deterministic there and no repeat can narrow the interval.
 */
export interface RemeasureOptions {
  /** Queries in a step's first round. @default a quarter of the pool, from 25 to 1000 (the pool when smaller) */
  firstQueries?: number;
  /** Most rounds per step, the first included (1: no re-measurement, and the first round is then the whole pool unless `firstQueries` says). @default {4} */
  maxRounds?: number;
  /** Most queries sent for one step across its rounds (each repeat counted). @default twice the pool x repeats */
  maxQueries?: number;
  /** Also re-measure while the interval is wider than this (high - low, recall units). */
  maxWidth?: number;
  /** Throughput steps: repeat each timed run, judging the median. @default one run a step */
  throughput?: ThroughputRemeasure;
}

/**
 * Throughput steps in repeated runs: at least `runs`, and more, up to `maxRuns`, while the runs'
 * QPS spread ((max - min) / median) is above `maxSpread`; the step stands for its median run (by
 * QPS), and a step still above the spread at `maxRuns` is marked noisy.
 */
export interface ThroughputRemeasure {
  /** @default {3} */
  runs?: number;
  /** @default twice `runs` */
  maxRuns?: number;
  /** @default {0.1} */
  maxSpread?: number;
}

/** One timed run of a throughput step. */
export interface ThroughputRun {
  qps: number;
  p50Ms: number;
  p99Ms: number;
  completed: number;
}

/** (max - min) / median of a list of figures (0 for one, or a median of 0). */
export function qpsSpread(values: readonly number[]): number {
  if (values.length < 2) return 0;
  const a = [...values].sort((x, y) => x - y);
  const median = a.length % 2
    ? a[(a.length - 1) / 2]!
    : (a[a.length / 2 - 1]! + a[a.length / 2]!) / 2;
  return median > 0 ? (a[a.length - 1]! - a[0]!) / median : 0;
}

/** One round of a recall step: what it sent and the pooled interval after it. */
export interface RecallRound {
  /** 1-based. */
  round: number;
  /** `fresh`: queries not sent before in this step; `repeat`: the query set was exhausted. */
  source: "fresh" | "repeat";
  /** Query rows sent, `[from, to)` of the pool, each `repeats` times. */
  from: number;
  to: number;
  /** Distinct queries pooled after the round (the bootstrap's n). */
  queries: number;
  /** Queries sent by the step so far (answered or not). */
  sent: number;
  /** The judged statistic over the pooled queries, with its bootstrap interval. */
  interval: RecallInterval;
  verdict: RecallVerdict;
  /** Why another round follows, or why the rounds stop. */
  note: string;
}

/** What {@linkcode measureRecall} judges against. */
export interface RecallRuleOptions {
  efRuntime: number;
  /** The recall target the interval is judged against. */
  targetRecall: number;
  /** @default {"mean"} */
  recallStatistic?: RecallStatistic;
  /** `false`: one round of the whole pool. @default {} (the defaults of {@linkcode RemeasureOptions}) */
  remeasure?: RemeasureOptions | false;
  /** Every query of a round is sent over one connection with this many in flight. @default {4} */
  pipeline?: number;
  /** Each query of a round is sent this many times (its recall averaged). @default {1} */
  repeats?: number;
  confidence?: number;
  resamples?: number;
  seed?: number;
}

/** What {@linkcode measureRecall} measured: the pooled point, its rounds and the verdict. */
export interface RecallMeasurement {
  /** Recall (mean and p5) over the pooled queries; QPS over every round; latency of the largest. */
  point: TunePoint;
  rounds: RecallRound[];
  /** The verdict of the last round. */
  verdict: RecallVerdict;
  interrupted: boolean;
}

/**
 * The first-round size and budget of a step over a pool of `pool` queries, each sent `repeats`
 * times a round (`maxQueries` counts every query sent).
 */
export function remeasurePlan(
  pool: number,
  r: RemeasureOptions | false | undefined,
  repeats = 1,
): { first: number; maxRounds: number; maxQueries: number; maxWidth: number | undefined } {
  if (r === false) {
    return { first: pool, maxRounds: 1, maxQueries: pool * repeats, maxWidth: undefined };
  }
  const maxQueries = r?.maxQueries ?? 2 * pool * repeats;
  const first = Math.max(
    1,
    Math.min(
      pool,
      r?.firstQueries ??
        (r?.maxRounds === 1 ? pool : Math.max(25, Math.min(1000, Math.ceil(pool / 4)))),
      Math.floor(maxQueries / repeats),
    ),
  );
  return { first, maxRounds: r?.maxRounds ?? 4, maxQueries, maxWidth: r?.maxWidth };
}

/** Checks {@linkcode RemeasureOptions}; pushes one sentence per problem. */
export function remeasureProblems(r: unknown, problems: string[]): void {
  if (r === undefined || r === false) return;
  if (r === null || typeof r !== "object") {
    problems.push("Cannot use 'remeasure': expected an object of re-measurement options or false");
    return;
  }
  const o = r as Record<string, unknown>;
  const known = ["firstQueries", "maxRounds", "maxQueries", "maxWidth", "throughput"];
  for (const key of Object.keys(o)) {
    if (!known.includes(key)) {
      problems.push(`Cannot use 'remeasure.${key}': the options are ${known.join(", ")}`);
    }
  }
  const int = (name: string, min: number, max: number) => {
    const v = o[name];
    if (v !== undefined && (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max)) {
      problems.push(
        `Cannot use 'remeasure.${name}': must be an integer from ${min} to ${max}: current value is ${
          JSON.stringify(v)
        }`,
      );
    }
  };
  int("firstQueries", 1, 100_000_000);
  int("maxRounds", 1, 64);
  int("maxQueries", 1, 1_000_000_000);
  if (o.maxWidth !== undefined && !(typeof o.maxWidth === "number" && o.maxWidth > 0)) {
    problems.push(
      `Cannot use 'remeasure.maxWidth': must be a number > 0: current value is ${
        JSON.stringify(o.maxWidth)
      }`,
    );
  }
  const t = o.throughput;
  if (t === undefined) return;
  if (t === null || typeof t !== "object") {
    problems.push(
      "Cannot use 'remeasure.throughput': expected an object (runs, maxRuns, maxSpread)",
    );
    return;
  }
  const tt = t as Record<string, unknown>;
  for (const key of Object.keys(tt)) {
    if (!["runs", "maxRuns", "maxSpread"].includes(key)) {
      problems.push(
        `Cannot use 'remeasure.throughput.${key}': the options are runs, maxRuns, maxSpread`,
      );
    }
  }
  for (const name of ["runs", "maxRuns"]) {
    const v = tt[name];
    if (v !== undefined && (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > 100)) {
      problems.push(
        `Cannot use 'remeasure.throughput.${name}': must be an integer from 1 to 100: current value is ${
          JSON.stringify(v)
        }`,
      );
    }
  }
  if (
    typeof tt.runs === "number" && typeof tt.maxRuns === "number" && tt.maxRuns < tt.runs
  ) {
    problems.push(
      `Cannot use 'remeasure.throughput.maxRuns' ${tt.maxRuns}: it is below 'runs' ${tt.runs}`,
    );
  }
  if (tt.maxSpread !== undefined && !(typeof tt.maxSpread === "number" && tt.maxSpread > 0)) {
    problems.push(
      `Cannot use 'remeasure.throughput.maxSpread': must be a number > 0: current value is ${
        JSON.stringify(tt.maxSpread)
      }`,
    );
  }
}

// The session's dataset with its query set narrowed to rows [from, from + count), and the truth
// of those rows: vec-query then sends exactly that window.
function windowOf(s: TuneSession, from: number, count: number) {
  const q = s.ds.queries!;
  const queries: VectorMatrix = {
    name: `${q.name} rows ${from}..${from + count - 1}`,
    rows: count,
    dim: q.dim,
    elementType: q.elementType,
    read: (start, n, into) => q.read(from + start, n, into),
    readInts: (start, n) => q.readInts(from + start, n),
  };
  const ds: VectorDataset = { ...s.ds, queries, close() {}, [Symbol.dispose]() {} };
  const d = s.truth.depth;
  const truth: VectorTruth = {
    ...s.truth,
    queries: count,
    ids: s.truth.ids.subarray(from * d, (from + count) * d),
    distances: s.truth.distances.subarray(from * d, (from + count) * d),
  };
  return { ds, truth };
}

/**
 * Measures recall at one EF_RUNTIME in rounds, judged against a target: each round sends a window
 * of the pool over one connection (`pipeline` in flight, each query exactly `repeats` times), and
 * the rounds go on while the pooled interval straddles the target or is wider than `maxWidth`,
 * within `maxRounds` and `maxQueries` (see {@linkcode RemeasureOptions}). Same session, same
 * options, same rounds: the index answers a query the same way each time, so the optimizer and a
 * brute sweep applying this rule agree.
 *
 * @throws {MembenchError} `connection` or `server` when a round fails (the index lost included),
 * or no query of the first round was answered.
 */
export async function measureRecall(
  s: TuneSession,
  o: RecallRuleOptions,
): Promise<RecallMeasurement> {
  const problems: string[] = [];
  remeasureProblems(o.remeasure, problems);
  if (problems.length) throw new MembenchError("invalid_argument", problems.join("\n"));
  const statistic = o.recallStatistic ?? "mean";
  const pool = s.numQueries;
  const repeats = o.repeats ?? 1;
  const plan = remeasurePlan(pool, o.remeasure, repeats);
  const pipeline = o.pipeline ?? 4;
  const seed = o.seed ?? 1;
  const bo = {
    seed,
    ...(o.confidence !== undefined ? { confidence: o.confidence } : {}),
    ...(o.resamples !== undefined ? { resamples: o.resamples } : {}),
  };
  // Each query's recall summed over its passes, by row of the pool; `extra` holds the recalls of
  // a round some of whose queries went unanswered (they cannot be told apart, so never repeated).
  const sum = new Float64Array(pool);
  const cnt = new Uint32Array(pool);
  const extra: number[] = [];
  let paired = true;
  const pooled = () => {
    const v: number[] = [];
    for (let q = 0; q < pool; q++) if (cnt[q]! > 0) v.push(sum[q]! / cnt[q]!);
    return v.concat(extra);
  };
  const rounds: RecallRound[] = [];
  let fresh = 0; // the next row never sent
  let cursor = 0; // the next row to repeat
  let sent = 0, completed = 0, errors = 0, busyMs = 0;
  let largest: VectorQueryResult | undefined;
  let interrupted = false;
  for (let r = 1;; r++) {
    const n = pooled().length;
    const want = r === 1 ? plan.first : Math.max(1, n);
    const source: RecallRound["source"] = fresh < pool ? "fresh" : "repeat";
    const from = source === "fresh" ? fresh : cursor;
    const count = Math.max(
      1,
      Math.min(
        want,
        pool - from,
        Math.floor((plan.maxQueries - sent) / repeats),
        source === "repeat" ? plan.first : Infinity,
      ),
    );
    const w = windowOf(s, from, count);
    const q = await vectorQuery({
      ...s.connect,
      clients: 1,
      pipeline,
      dataset: w.ds,
      metric: s.metric,
      index: s.index,
      k: s.k,
      numQueries: count,
      requests: count * repeats,
      efRuntime: o.efRuntime,
      truth: w.truth,
      keepPerQuery: true,
      seed,
      ...(s.segments ? { segments: s.segments } : {}),
    });
    checkAnswered(q, o.efRuntime, r === 1);
    sent += q.sent;
    completed += q.completed;
    errors += Math.max(0, q.completed - q.recall.scored + (q.sent - q.completed));
    busyMs += q.durationMs;
    if (!largest || q.completed > largest.completed) largest = q;
    const per = q.recall.perQuery ?? [];
    let same = per.length === count;
    if (per.length === count) {
      for (let i = 0; i < count; i++) {
        const row = from + i;
        if (cnt[row]! > 0 && sum[row]! / cnt[row]! !== per[i]!) same = false;
        sum[row]! += per[i]!;
        cnt[row]!++;
      }
    } else {
      paired = false;
      extra.push(...per);
    }
    if (source === "fresh") fresh = from + count;
    else cursor = (from + count) % pool;
    const values = pooled();
    const interval = values.length
      ? bootstrapRecall(values, { ...bo, statistic })
      : emptyInterval(statistic, o.confidence);
    const verdict = judgeRecall(interval, o.targetRecall);
    const width = interval.high - interval.low;
    const round: RecallRound = {
      round: r,
      source,
      from,
      to: from + count,
      queries: values.length,
      sent,
      interval,
      verdict,
      note: "",
    };
    rounds.push(round);
    if (q.interrupted) {
      interrupted = true;
      round.note = "interrupted";
      break;
    }
    const straddles = verdict === "within-noise";
    const wide = plan.maxWidth !== undefined && width > plan.maxWidth;
    if (!straddles && !wide) {
      round.note = verdict === "met"
        ? "the interval is above the target"
        : "the interval is below the target";
      break;
    }
    const why = straddles
      ? "the interval straddles the target"
      : `the interval is wider than ${pct(plan.maxWidth!)}`;
    const stop = (reason: string) => (round.note = `${why}; ${reason}`);
    if (source === "repeat" && same) {
      stop("this repeat gave every query the recall it had: no repeat can narrow the interval");
      break;
    }
    if (fresh >= pool && !paired) {
      stop(
        "the query set is exhausted, and repeats cannot be paired with queries (some went unanswered)",
      );
      break;
    }
    if (r >= plan.maxRounds) {
      stop(`the step's ${plan.maxRounds} rounds are spent`);
      break;
    }
    if (plan.maxQueries - sent < repeats) {
      stop(`the step's budget of ${plan.maxQueries} queries is spent`);
      break;
    }
    round.note = `${why}: re-measure with ${
      fresh < pool ? "fresh queries" : "repeats (the query set is exhausted)"
    }`;
  }
  const values = pooled();
  const mk = (st: RecallStatistic) =>
    values.length
      ? bootstrapRecall(values, { ...bo, statistic: st })
      : emptyInterval(st, o.confidence);
  const last = rounds[rounds.length - 1]!;
  return {
    point: {
      efRuntime: o.efRuntime,
      ...(s.index.m !== undefined ? { m: s.index.m } : {}),
      ...(s.index.efConstruction !== undefined ? { efConstruction: s.index.efConstruction } : {}),
      clients: 1,
      pipeline,
      recall: mk("mean"),
      recallP5: mk("p5"),
      qps: busyMs > 0 ? completed / (busyMs / 1000) : 0,
      p50Ms: largest!.summary.p50Us / 1000,
      p99Ms: largest!.summary.p99Us / 1000,
      completed,
      errors,
    },
    rounds,
    verdict: last.verdict,
    interrupted,
  };
}

// A phase that failed, answered nothing, or failed some queries (an error reply, a timeout, a
// lost request: the index dropped mid-step, say) ends the measurement: a figure over the queries
// that happened to succeed would be judged as if it were the setting's.
function checkAnswered(q: VectorQueryResult, ef: number, first: boolean): void {
  if (q.failure) {
    throw new MembenchError(
      q.failure.code === "connection" ? "connection" : "server",
      `Cannot measure EF_RUNTIME ${ef}: ${q.failure.message}`,
    );
  }
  const codes = Object.entries(q.errors).map(([c, n]) => `${n} ${c}`).join(", ");
  if (first && (q.recall.perQuery ?? []).length === 0 && !q.interrupted) {
    throw new MembenchError(
      "server",
      `Cannot measure recall at EF_RUNTIME ${ef} on index ${q.index}: no query was answered${
        codes ? ` (${codes})` : ""
      }`,
    );
  }
  let failed = 0;
  for (const n of Object.values(q.errors)) failed += n;
  if (failed > 0) {
    throw new MembenchError(
      "server",
      `Cannot measure EF_RUNTIME ${ef} on index ${q.index}: ${failed} of ${q.sent} queries failed (${codes})`,
      { hint: "was the index dropped or the server overloaded during the step?" },
    );
  }
}

// The interval of no query (a measurement interrupted before any reply).
function emptyInterval(statistic: RecallStatistic, confidence: number | undefined): RecallInterval {
  return {
    statistic,
    estimate: 0,
    low: 0,
    high: 0,
    confidence: confidence ?? 0.95,
    resamples: 0,
    queries: 0,
  };
}

/** Options for {@linkcode vectorOptimize}. */
export interface VectorOptimizeOptions extends TuneOptions {
  /** The recall to reach, 0..1. */
  targetRecall: number;
  /** Judge the target on the mean recall or its 5th percentile. @default {"mean"} */
  recallStatistic?: RecallStatistic;
  /**
   * `lower-bound`: a setting meets the target when its interval's lower bound does;
   * `within-noise`: also when the target lies inside the interval. @default {"lower-bound"}
   */
  accept?: "lower-bound" | "within-noise";
  /** The smallest EF_RUNTIME tried. @default k (EF_RUNTIME below k searches as k) */
  minEfSearch?: number;
  /** The largest EF_RUNTIME tried. @default {4096} */
  maxEfSearch?: number;
  /** Throughput: stop raising clients / pipeline when p99 passes this, ms. */
  targetP99Ms?: number;
  /** Throughput: stop when QPS reaches this. */
  targetQps?: number;
  /** Throughput: skip the step (`false`). @default {true} */
  throughput?: boolean;
  /** Throughput: the most clients and pipeline depth tried. @default 64, 8 */
  maxClients?: number;
  maxPipeline?: number;
  /** Throughput: each step runs this long, ms. @default {2000} */
  stepDurationMs?: number;
  /** Throughput: QPS must rise by this fraction to count as rising. @default {0.05} */
  minGain?: number;
  /** Throughput: stop after this many steps in a row that do not raise QPS. @default {2} */
  patience?: number;
  /**
   * Recall steps: re-measure with more queries while the interval straddles the target (or is
   * wider than `maxWidth`); `false`: every step one round of the whole pool (`numQueries`).
   * Each round goes over one connection with `clients` (default 4) x `pipeline` in flight.
   * @default {} (see {@linkcode RemeasureOptions})
   */
  remeasure?: RemeasureOptions | false;
  /** Called after each measured step (awaited). */
  onStep?: (step: OptimizeStep) => void | Promise<void>;
  /**
   * Build parameters to try: each M x EF_CONSTRUCTION is loaded (the index rebuilt) and searched;
   * the feasible build with the most QPS at its smallest EF_RUNTIME is rebuilt and optimized in
   * full. Needs `load`.
   */
  grid?: OptimizeGrid;
}

/** The build-parameter grid: M and EF_CONSTRUCTION values, the index rebuilt for each. */
export interface OptimizeGrid {
  m?: readonly number[];
  efConstruction?: readonly number[];
}

/** One build of the grid: what it cost and its smallest EF_RUNTIME meeting the target. */
export interface GridEntry {
  m?: number;
  efConstruction?: number;
  status: VectorOptimizeResult["status"];
  message: string;
  /** Build time, vectors/s, memory. */
  load?: TuneLoad;
  efRuntime?: number;
  recall?: RecallInterval;
  /** QPS and p99 of the recall step at `efRuntime` (the recall search's clients). */
  qps?: number;
  p99Ms?: number;
  /** Measurements made. */
  steps?: number;
  /** The highest recall seen (the judged statistic). */
  bestRecall?: number;
}

/** One measured step of the optimizer, with the reason it was taken. */
export interface OptimizeStep {
  phase: "feasibility" | "recall" | "throughput";
  point: TunePoint;
  /** Recall steps: the verdict on the judged statistic (of the pooled rounds). */
  verdict?: RecallVerdict;
  /** Recall steps: each round of the measurement, the pooled interval after it. */
  rounds?: RecallRound[];
  /** Throughput steps with `remeasure.throughput`: every run (`point` is the median's). */
  runs?: ThroughputRun[];
  /** The runs' QPS spread, (max - min) / median. */
  spread?: number;
  /** Whether the spread stayed above `maxSpread` after `maxRuns`. */
  noisy?: boolean;
  /** What the step showed, one sentence. */
  note: string;
}

/** What {@linkcode vectorOptimize} chose, and why. */
export interface VectorOptimizeResult {
  kind: "vector-optimize";
  /**
   * `complete`: a setting meets the target; `infeasible`: none up to `maxEfSearch` does;
   * `failed`: a step failed (`failure`); `interrupted`.
   */
  status: "complete" | "infeasible" | "failed" | "interrupted";
  /** One sentence: the choice, or why there is none. */
  message: string;
  target: {
    recall: number;
    statistic: RecallStatistic;
    accept: "lower-bound" | "within-noise";
    p99Ms?: number;
    qps?: number;
  };
  k: number;
  index: { name: string; m?: number; efConstruction?: number };
  minEfSearch: number;
  maxEfSearch: number;
  /** The chosen EF_RUNTIME (complete). */
  efRuntime?: number;
  /** The recall at the chosen EF_RUNTIME. */
  recall?: RecallInterval;
  /** Whether the chosen recall only meets the target within noise. */
  withinNoise?: boolean;
  /** The throughput choice. */
  clients?: number;
  pipeline?: number;
  qps?: number;
  p99Ms?: number;
  /** The highest recall measured (names what an infeasible target came closest to). */
  bestRecall?: { efRuntime: number; interval: RecallInterval };
  steps: OptimizeStep[];
  truth: TuneTruth;
  load?: TuneLoad;
  /** With a grid: every build, in order. */
  grid?: GridEntry[];
  failure?: { code: string; message: string };
}

/** Checks the optimizer's own options. */
function optimizeProblems(o: VectorOptimizeOptions): string[] {
  const problems: string[] = [];
  tuneProblems(o, problems);
  if (!(typeof o.targetRecall === "number" && o.targetRecall > 0 && o.targetRecall <= 1)) {
    problems.push(
      `Cannot use 'targetRecall': must be a number above 0 and at most 1: current value is ${o.targetRecall}`,
    );
  }
  const int = (name: string, v: unknown, min: number, max: number) => {
    if (v !== undefined && (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max)) {
      problems.push(
        `Cannot use '${name}': must be an integer from ${min} to ${max}: current value is ${
          JSON.stringify(v)
        }`,
      );
    }
  };
  int("minEfSearch", o.minEfSearch, 1, 1_000_000);
  int("maxEfSearch", o.maxEfSearch, 1, 1_000_000);
  int("maxClients", o.maxClients, 1, 4096);
  int("maxPipeline", o.maxPipeline, 1, 1024);
  int("patience", o.patience, 1, 16);
  remeasureProblems(o.remeasure, problems);
  if (o.grid !== undefined) {
    if (o.load === false) {
      problems.push("Cannot use a build grid without a load: each build rebuilds the index");
    }
    for (
      const [name, list] of [["grid.m", o.grid.m], [
        "grid.efConstruction",
        o.grid.efConstruction,
      ]] as const
    ) {
      for (const v of list ?? []) int(name, v, 1, 1_000_000);
    }
  }
  const min = o.minEfSearch ?? o.k ?? 10;
  const max = o.maxEfSearch ?? 4096;
  if (Number.isInteger(min) && Number.isInteger(max) && min > max) {
    problems.push(
      `Cannot search EF_RUNTIME from ${min} to ${max}: 'minEfSearch' is above 'maxEfSearch'`,
    );
  }
  if (
    o.recallStatistic !== undefined && o.recallStatistic !== "mean" && o.recallStatistic !== "p5"
  ) {
    problems.push(
      `Cannot use 'recallStatistic': must be "mean" or "p5": current value is ${
        JSON.stringify(o.recallStatistic)
      }`,
    );
  }
  if (o.accept !== undefined && o.accept !== "lower-bound" && o.accept !== "within-noise") {
    problems.push(
      `Cannot use 'accept': must be "lower-bound" or "within-noise": current value is ${
        JSON.stringify(o.accept)
      }`,
    );
  }
  for (const [name, v] of [["targetP99Ms", o.targetP99Ms], ["targetQps", o.targetQps]] as const) {
    if (v !== undefined && !(typeof v === "number" && v > 0)) {
      problems.push(`Cannot use '${name}': must be a number > 0: current value is ${v}`);
    }
  }
  if (o.stepDurationMs !== undefined && !(o.stepDurationMs > 0)) {
    problems.push(
      `Cannot use 'stepDurationMs': must be a number > 0: current value is ${o.stepDurationMs}`,
    );
  }
  if (o.minGain !== undefined && !(o.minGain >= 0 && o.minGain < 10)) {
    problems.push(`Cannot use 'minGain': must be from 0 to 10: current value is ${o.minGain}`);
  }
  return problems;
}

/** Whether a point meets a recall target under a rule. */
export function meetsRecall(
  point: TunePoint,
  target: number,
  statistic: RecallStatistic = "mean",
  accept: "lower-bound" | "within-noise" = "lower-bound",
): boolean {
  const v = judgeRecall(statistic === "mean" ? point.recall : point.recallP5, target);
  return v === "met" || (accept === "within-noise" && v === "within-noise");
}

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;

function describe(ci: RecallInterval): string {
  return `recall ${ci.statistic} ${pct(ci.estimate)} (${Math.round(ci.confidence * 100)}% CI ${
    pct(ci.low)
  }..${pct(ci.high)})`;
}

/**
 * Finds the smallest EF_RUNTIME in `[minEfSearch, maxEfSearch]` whose recall (mean or p5) meets
 * `targetRecall` under the interval rule, then the clients and pipeline with the most QPS at it.
 *
 * Feasibility: one measurement at `minEfSearch` (the index answers and recall is measurable).
 * Recall search: `maxEfSearch` is measured next; when it misses, the result is `infeasible`,
 * naming the best recall seen. Otherwise a binary search over the integers between the largest
 * value known to miss and the smallest known to meet: at most `ceil(log2(range)) + 2`
 * measurements, each EF_RUNTIME measured once. Each recall step is measured in rounds
 * ({@linkcode measureRecall}): while its interval straddles the target, more queries (fresh,
 * then repeats once the set is exhausted) within `remeasure`'s budget; its verdict is the last
 * round's, and a step left within noise is said so. Throughput: at the chosen EF_RUNTIME, clients
 * double (then the pipeline) until `patience` steps in a row do not raise QPS by `minGain`, p99
 * passes `targetP99Ms` or `targetQps` is met; at most `log2(maxClients) + log2(maxPipeline) + 1`
 * steps. The choice is the last step that raised QPS by `minGain` within the p99 bound.
 *
 * A step that fails (the index gone, the server lost, any query failed) ends the search with
 * status `failed` and the steps measured so far.
 *
 * @throws {MembenchError} `invalid_argument` for bad options (all at once, before any load), and
 * what the load and the truth throw.
 */
export async function vectorOptimize(
  options: VectorOptimizeOptions,
): Promise<VectorOptimizeResult> {
  const o = options;
  if (o === null || typeof o !== "object") {
    throw new MembenchError("invalid_argument", "Cannot use the options: expected an object");
  }
  const problems = optimizeProblems(o);
  if (problems.length) throw new MembenchError("invalid_argument", problems.join("\n"));
  if (o.grid) return await optimizeGrid(o, o.grid);
  const s = await openTuneSession(o);
  try {
    return await optimizeOn(o, s);
  } finally {
    s.close();
  }
}

/** Every M x EF_CONSTRUCTION of a grid, in order (a missing list keeps the index's value). */
function gridBuilds(
  o: VectorOptimizeOptions,
  grid: OptimizeGrid,
): Array<{ m?: number; efConstruction?: number }> {
  const ms: Array<number | undefined> = grid.m?.length ? [...grid.m] : [o.index?.m];
  const efcs: Array<number | undefined> = grid.efConstruction?.length
    ? [...grid.efConstruction]
    : [o.index?.efConstruction];
  const out: Array<{ m?: number; efConstruction?: number }> = [];
  for (const m of ms) {
    for (const efConstruction of efcs) {
      out.push({
        ...(m !== undefined ? { m } : {}),
        ...(efConstruction !== undefined ? { efConstruction } : {}),
      });
    }
  }
  return out;
}

// The grid: each build loaded (the index rebuilt) and searched for its smallest EF_RUNTIME; the
// feasible build with the most QPS there is rebuilt and optimized in full (throughput included).
async function optimizeGrid(
  o: VectorOptimizeOptions,
  grid: OptimizeGrid,
): Promise<VectorOptimizeResult> {
  const entries: GridEntry[] = [];
  const results: VectorOptimizeResult[] = [];
  for (const b of gridBuilds(o, grid)) {
    const oo: VectorOptimizeOptions = { ...o, index: { ...o.index, ...b }, throughput: false };
    let s: TuneSession;
    try {
      s = await openTuneSession(oo);
    } catch (e) {
      if (!(e instanceof MembenchError) || e.code === "invalid_argument") throw e;
      entries.push({
        ...b,
        status: e.code === "interrupted" ? "interrupted" : "failed",
        message: e.message,
      });
      if (e.code === "interrupted") break;
      continue;
    }
    try {
      const r = await optimizeOn(oo, s);
      results.push(r);
      const chosen = r.efRuntime !== undefined
        ? r.steps.find((st) => st.point.efRuntime === r.efRuntime)?.point
        : undefined;
      entries.push({
        ...b,
        status: r.status,
        message: r.message,
        ...(s.load ? { load: s.load } : {}),
        ...(r.efRuntime !== undefined ? { efRuntime: r.efRuntime } : {}),
        ...(r.recall ? { recall: r.recall } : {}),
        ...(chosen ? { qps: chosen.qps, p99Ms: chosen.p99Ms } : {}),
        steps: r.steps.length,
        ...(r.bestRecall ? { bestRecall: r.bestRecall.interval.estimate } : {}),
      });
      if (r.status === "interrupted") break;
    } finally {
      s.close();
    }
  }
  const feasible = entries.filter((e) => e.status === "complete");
  const best = feasible.reduce<GridEntry | undefined>(
    (a, e) => a === undefined || (e.qps ?? 0) > (a.qps ?? 0) ? e : a,
    undefined,
  );
  if (best === undefined) {
    // Nothing met the target: the result of the build that came closest, with the grid.
    const closest = results.reduce<VectorOptimizeResult | undefined>(
      (a, r) =>
        a === undefined || (r.bestRecall?.interval.estimate ?? -1) >
            (a.bestRecall?.interval.estimate ?? -1)
          ? r
          : a,
      undefined,
    );
    if (closest === undefined) {
      const e = entries.find((x) => x.status === "failed");
      throw new MembenchError(
        "server",
        `Cannot optimize: no build of the grid could be loaded${e ? `: ${e.message}` : ""}`,
      );
    }
    closest.grid = entries;
    closest.message = `No build of the grid (${entries.length}) meets the target; closest: M ${
      closest.index.m ?? "default"
    } EF_CONSTRUCTION ${closest.index.efConstruction ?? "default"}: ${closest.message}`;
    return closest;
  }
  const r = await optimizeOnce({
    ...o,
    index: {
      ...o.index,
      ...(best.m !== undefined ? { m: best.m } : {}),
      ...(best.efConstruction !== undefined ? { efConstruction: best.efConstruction } : {}),
    },
  }, entries);
  r.message = `Of ${entries.length} builds, M ${best.m ?? "default"} EF_CONSTRUCTION ${
    best.efConstruction ?? "default"
  } gives the most QPS at its smallest EF_RUNTIME meeting the target (${
    Math.round(best.qps ?? 0)
  } QPS); rebuilt: ${r.message}`;
  return r;
}

// One full optimization of `o.index` (loaded afresh), carrying the grid's entries.
async function optimizeOnce(
  o: VectorOptimizeOptions,
  entries: GridEntry[],
): Promise<VectorOptimizeResult> {
  const { grid: _g, ...one } = o;
  const s = await openTuneSession(one);
  try {
    const r = await optimizeOn(one, s);
    r.grid = entries;
    return r;
  } finally {
    s.close();
  }
}

async function optimizeOn(o: VectorOptimizeOptions, s: TuneSession): Promise<VectorOptimizeResult> {
  const statistic = o.recallStatistic ?? "mean";
  const accept = o.accept ?? "lower-bound";
  const minEf = o.minEfSearch ?? s.k;
  const maxEf = o.maxEfSearch ?? 4096;
  const spec = resolveIndexSpec({ ...s.index, dim: s.ds.base.dim, metric: s.metric });
  const out: VectorOptimizeResult = {
    kind: "vector-optimize",
    status: "complete",
    message: "",
    target: {
      recall: o.targetRecall,
      statistic,
      accept,
      ...(o.targetP99Ms !== undefined ? { p99Ms: o.targetP99Ms } : {}),
      ...(o.targetQps !== undefined ? { qps: o.targetQps } : {}),
    },
    k: s.k,
    index: {
      name: spec.name,
      ...(s.index.m !== undefined ? { m: s.index.m } : {}),
      ...(s.index.efConstruction !== undefined ? { efConstruction: s.index.efConstruction } : {}),
    },
    minEfSearch: minEf,
    maxEfSearch: maxEf,
    steps: [],
    truth: {
      computed: true,
      datasetHasTruth: s.ds.neighbors !== undefined,
      queries: s.truth.queries,
      k: s.k,
      elapsedMs: s.truth.elapsedMs,
    },
    ...(s.load ? { load: s.load } : {}),
  };
  const judged = (p: TunePoint) => statistic === "mean" ? p.recall : p.recallP5;
  const seen = new Map<number, TunePoint>();
  const note = (p: TunePoint, v: RecallVerdict) =>
    `EF_RUNTIME ${p.efRuntime}: ${describe(judged(p))} ${
      v === "met" ? "meets" : v === "within-noise" ? "is within noise of" : "is below"
    } ${pct(o.targetRecall)}`;
  const record = async (st: OptimizeStep, interrupted: boolean) => {
    out.steps.push(st);
    const point = st.point;
    if (
      out.bestRecall === undefined || judged(point).estimate > out.bestRecall.interval.estimate
    ) out.bestRecall = { efRuntime: point.efRuntime, interval: judged(point) };
    await o.onStep?.(st);
    if (interrupted) throw new MembenchError("interrupted", "Interrupted");
    return point;
  };
  // A throughput step: one timed run, or with `remeasure.throughput` at least `runs` and more (up
  // to `maxRuns`) while the runs' QPS spread is above `maxSpread`; the median run stands.
  const tr = o.remeasure ? o.remeasure.throughput : undefined;
  const step = async (phase: OptimizeStep["phase"], m: MeasureOptions, text?: string) => {
    const minRuns = tr ? tr.runs ?? 3 : 1;
    const maxRuns = tr ? Math.max(minRuns, tr.maxRuns ?? 2 * minRuns) : 1;
    const maxSpread = tr?.maxSpread ?? 0.1;
    const points: TunePoint[] = [];
    let interrupted = false;
    let spread = 0;
    while (points.length < maxRuns) {
      const { point, query } = await measureTunePoint(s, {
        repeats: o.repeats ?? 1,
        seed: o.seed ?? 1,
        ...(o.confidence !== undefined ? { confidence: o.confidence } : {}),
        ...(o.resamples !== undefined ? { resamples: o.resamples } : {}),
        ...m,
      });
      points.push(point);
      if (query.interrupted) {
        interrupted = true;
        break;
      }
      spread = qpsSpread(points.map((p) => p.qps));
      if (points.length >= minRuns && spread <= maxSpread) break;
    }
    // The median run by QPS (the lower of the middle two for an even count).
    const byQps = [...points].sort((a, b) => a.qps - b.qps);
    const point = byQps[Math.floor((byQps.length - 1) / 2)]!;
    const verdict = judgeRecall(judged(point), o.targetRecall);
    const st: OptimizeStep = {
      phase,
      point,
      ...(phase !== "throughput" ? { verdict } : {}),
      note: text ?? note(point, verdict),
      ...(tr
        ? {
          runs: points.map((p) => ({
            qps: p.qps,
            p50Ms: p.p50Ms,
            p99Ms: p.p99Ms,
            completed: p.completed,
          })),
          spread,
          noisy: !interrupted && spread > maxSpread,
        }
        : {}),
    };
    return await record(st, interrupted);
  };
  // A recall step: measured in rounds until its interval is clear of the target (or the budget
  // is spent); the verdict is the last round's.
  const recallAt = async (ef: number, phase: "feasibility" | "recall") => {
    const have = seen.get(ef);
    if (have) return have;
    const m = await measureRecall(s, {
      efRuntime: ef,
      targetRecall: o.targetRecall,
      recallStatistic: statistic,
      pipeline: (s.connect.clients ?? 4) * (s.connect.pipeline ?? 1),
      repeats: o.repeats ?? 1,
      seed: o.seed ?? 1,
      ...(o.remeasure !== undefined ? { remeasure: o.remeasure } : {}),
      ...(o.confidence !== undefined ? { confidence: o.confidence } : {}),
      ...(o.resamples !== undefined ? { resamples: o.resamples } : {}),
    });
    const rounds = m.rounds.length > 1
      ? ` after ${m.rounds.length} rounds (${m.rounds[m.rounds.length - 1]!.queries} queries)`
      : "";
    const p = await record({
      phase,
      point: m.point,
      verdict: m.verdict,
      rounds: m.rounds,
      note: note(m.point, m.verdict) + rounds,
    }, m.interrupted);
    seen.set(ef, p);
    return p;
  };
  const meets = (p: TunePoint) => meetsRecall(p, o.targetRecall, statistic, accept);
  try {
    // Feasibility: the index answers and recall is measurable.
    const first = await recallAt(minEf, "feasibility");
    let hi: number;
    let lo: number;
    if (meets(first)) {
      hi = minEf;
      lo = minEf - 1;
    } else {
      const top = await recallAt(maxEf, "recall");
      if (!meets(top)) {
        const best = out.bestRecall!;
        out.status = "infeasible";
        out.message =
          `Infeasible: no EF_RUNTIME from ${minEf} to ${maxEf} reaches recall@${s.k} ${statistic} ${
            pct(o.targetRecall)
          }${accept === "lower-bound" ? " at the interval's lower bound" : ""}; the best seen is ${
            describe(best.interval)
          } at EF_RUNTIME ${best.efRuntime}`;
        return out;
      }
      hi = maxEf;
      lo = minEf;
    }
    // Binary search: lo misses, hi meets; each step halves (lo, hi], so it ends.
    const bound = Math.ceil(Math.log2(Math.max(2, maxEf - minEf + 1))) + 2;
    for (let i = 0; i < bound && hi - lo > 1; i++) {
      const mid = lo + Math.floor((hi - lo) / 2);
      if (meets(await recallAt(mid, "recall"))) hi = mid;
      else lo = mid;
    }
    const chosen = seen.get(hi)!;
    out.efRuntime = hi;
    out.recall = judged(chosen);
    out.withinNoise = judgeRecall(judged(chosen), o.targetRecall) === "within-noise";
    out.clients = chosen.clients;
    out.pipeline = chosen.pipeline;
    out.qps = chosen.qps;
    out.p99Ms = chosen.p99Ms;
    // Throughput at the chosen EF_RUNTIME.
    if (o.throughput !== false) await throughputOn(o, hi, step, out);
    out.message = `EF_RUNTIME ${hi} is the smallest from ${minEf} to ${maxEf} whose ${
      describe(out.recall)
    } ${out.withinNoise ? "is within noise of" : "meets"} the target ${
      pct(o.targetRecall)
    }; ${out.clients} clients x pipeline ${out.pipeline} give ${
      Math.round(out.qps ?? 0)
    } QPS at p99 ${(out.p99Ms ?? 0).toFixed(2)} ms`;
    return out;
  } catch (e) {
    if (!(e instanceof MembenchError)) throw e;
    if (e.code === "interrupted") {
      out.status = "interrupted";
      out.message = `Interrupted after ${out.steps.length} steps`;
    } else {
      out.status = "failed";
      out.failure = { code: e.code, message: e.message };
      out.message = `Failed after ${out.steps.length} steps: ${e.message}`;
    }
    return out;
  }
}

async function throughputOn(
  o: VectorOptimizeOptions,
  ef: number,
  step: (
    phase: OptimizeStep["phase"],
    m: MeasureOptions,
    text?: string,
  ) => Promise<TunePoint>,
  out: VectorOptimizeResult,
): Promise<void> {
  const maxClients = o.maxClients ?? 64;
  const maxPipeline = o.maxPipeline ?? 8;
  const gain = o.minGain ?? 0.05;
  const durationMs = o.stepDurationMs ?? 2000;
  const patience = o.patience ?? 2;
  let clients = 1;
  let pipeline = 1;
  let best: TunePoint | undefined;
  let flat = 0;
  const bound = Math.ceil(Math.log2(maxClients)) + Math.ceil(Math.log2(maxPipeline)) + 1;
  for (let i = 0; i < bound; i++) {
    const m = { efRuntime: ef, clients, pipeline, durationMs };
    const p = await step("throughput", m, "");
    const st = out.steps[out.steps.length - 1]!;
    const label = `${clients} clients x pipeline ${pipeline}: ${Math.round(p.qps)} QPS, p99 ${
      p.p99Ms.toFixed(2)
    } ms${
      st.runs && st.runs.length > 1
        ? ` (the median of ${st.runs.length} runs, QPS spread ${pct(st.spread ?? 0)}${
          st.noisy ? ": noisy" : ""
        })`
        : ""
    }`;
    if (o.targetP99Ms !== undefined && p.p99Ms > o.targetP99Ms) {
      st.note = `${label}: p99 passes ${o.targetP99Ms} ms; stop`;
      if (!best) best = p; // nothing within the bound: the lightest load measured
      break;
    }
    if (best && p.qps < best.qps * (1 + gain)) {
      // Not worth the extra load: the last step that raised QPS stays the choice. One flat step
      // may be noise (the machine is shared): stop after `patience` in a row.
      flat++;
      st.note = `${label}: QPS not rising (less than +${Math.round(gain * 100)}% over ${
        Math.round(best.qps)
      })`;
      if (flat >= patience) {
        st.note += `; stop, keeping ${best.clients} clients x pipeline ${best.pipeline}`;
        break;
      }
    } else {
      best = p;
      flat = 0;
      st.note = `${label}: QPS rising`;
      if (o.targetQps !== undefined && p.qps >= o.targetQps) {
        st.note = `${label}: meets ${o.targetQps} QPS; stop`;
        break;
      }
    }
    if (clients < maxClients) clients = Math.min(maxClients, clients * 2);
    else if (pipeline < maxPipeline) pipeline = Math.min(maxPipeline, pipeline * 2);
    else {
      st.note += "; at the most clients and pipeline allowed; stop";
      break;
    }
  }
  if (best) {
    out.clients = best.clients;
    out.pipeline = best.pipeline;
    out.qps = best.qps;
    out.p99Ms = best.p99Ms;
  }
}
