/**
 * The recall / QPS frontier, in the style of ann-benchmarks: EF_RUNTIME swept over log-spaced
 * values (refined around the knee), each point measured for recall (mean, p5, bootstrap
 * intervals), QPS and latency, and the Pareto frontier of the points (none better on both recall
 * and QPS).
 *
 * @module
 */
import { MembenchError } from "../errors/mod.ts";
import { resolveIndexSpec } from "./index_spec.ts";
import {
  measureTunePoint,
  openTuneSession,
  type OptimizeGrid,
  type TuneLoad,
  type TuneOptions,
  type TunePoint,
  tuneProblems,
  type TuneSession,
  type TuneTruth,
} from "./optimize.ts";

/**
 * `count` integers from `min` to `max`, spaced evenly on a log scale, without repeats.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.deepEqual(logSpaced(10, 1000, 3), [10, 100, 1000]);
 * ```
 */
export function logSpaced(min: number, max: number, count: number): number[] {
  if (!(Number.isInteger(min) && Number.isInteger(max) && min >= 1 && max >= min)) {
    throw new MembenchError(
      "invalid_argument",
      `Cannot space EF_RUNTIME values from ${min} to ${max}: need integers with 1 <= min <= max`,
    );
  }
  const out = new Set<number>();
  const n = Math.max(1, Math.floor(count));
  for (let i = 0; i < n; i++) {
    out.add(n === 1 ? max : Math.round(min * Math.pow(max / min, i / (n - 1))));
  }
  return [...out].sort((a, b) => a - b);
}

/** Whether `a` dominates `b`: at least as good on recall and QPS, better on one. */
export function dominates(
  a: { recall: number; qps: number },
  b: { recall: number; qps: number },
): boolean {
  return a.recall >= b.recall && a.qps >= b.qps && (a.recall > b.recall || a.qps > b.qps);
}

/**
 * The indices of the points no other point dominates (on mean recall and QPS), by recall
 * ascending.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const pts = [{ recall: 0.5, qps: 100 }, { recall: 0.4, qps: 90 }, { recall: 0.9, qps: 50 }];
 * assert.deepEqual(paretoFrontier(pts), [0, 2]);
 * ```
 */
export function paretoFrontier(points: readonly { recall: number; qps: number }[]): number[] {
  const order = points.map((_, i) => i).sort((a, b) =>
    points[b]!.recall - points[a]!.recall || points[b]!.qps - points[a]!.qps
  );
  // Highest recall first: a point is on the frontier when its QPS beats every point of higher
  // (or equal) recall kept before it.
  const kept: number[] = [];
  let bestQps = -Infinity;
  for (const i of order) {
    const p = points[i]!;
    if (p.qps > bestQps) {
      kept.push(i);
      bestQps = p.qps;
    }
  }
  return kept.sort((a, b) => points[a]!.recall - points[b]!.recall || a - b);
}

/**
 * The knee of a recall / QPS curve: the point farthest from the chord between its ends, with
 * recall and log QPS scaled to 0..1. Returns an index into `points` (sorted by EF_RUNTIME), or -1
 * below three points.
 */
export function kneeIndex(points: readonly { recall: number; qps: number }[]): number {
  if (points.length < 3) return -1;
  const xs = points.map((p) => p.recall);
  const ys = points.map((p) => Math.log10(Math.max(p.qps, 1e-9)));
  const span = (a: number[]) => (Math.max(...a) - Math.min(...a)) || 1;
  const sx = span(xs), sy = span(ys);
  const x0 = xs[0]! / sx, y0 = ys[0]! / sy;
  const x1 = xs[xs.length - 1]! / sx, y1 = ys[ys.length - 1]! / sy;
  const len = Math.hypot(x1 - x0, y1 - y0) || 1;
  let best = -1, bestD = -1;
  for (let i = 1; i < points.length - 1; i++) {
    const x = xs[i]! / sx, y = ys[i]! / sy;
    const d = Math.abs((x1 - x0) * (y0 - y) - (x0 - x) * (y1 - y0)) / len;
    if (d > bestD) {
      bestD = d;
      best = i;
    }
  }
  return best;
}

/** Options for {@linkcode vectorFrontier}. */
export interface VectorFrontierOptions extends TuneOptions {
  /** EF_RUNTIME values to measure; log-spaced from `minEfSearch` to `maxEfSearch` when absent. */
  efRuntime?: readonly number[];
  /** @default k */
  minEfSearch?: number;
  /** @default {1024} */
  maxEfSearch?: number;
  /** Log-spaced values. @default {8} */
  points?: number;
  /** Extra values between the knee and its neighbours. @default {2} */
  refine?: number;
  /** Clients and pipeline of every measurement. @default 4, 1 */
  clients?: number;
  pipeline?: number;
  /**
   * Each point sends queries for this long, ms; when absent, the query set `repeats` times
   * (by default enough passes for 2000 queries).
   */
  durationMs?: number;
  /** Called after each point (awaited). */
  onPoint?: (point: TunePoint) => void | Promise<void>;
  /**
   * Build parameters to sweep too: each M x EF_CONSTRUCTION loaded (the index rebuilt) and swept;
   * the frontier is over every build's points. Needs `load`.
   */
  grid?: OptimizeGrid;
}

/** One frontier point: a measurement and whether it is on the Pareto frontier. */
export interface FrontierPoint extends TunePoint {
  /** Whether no other point has both higher (or equal) recall and higher (or equal) QPS. */
  pareto: boolean;
  /** Added around the knee. */
  refined: boolean;
}

/** What {@linkcode vectorFrontier} measured. */
export interface VectorFrontierResult {
  kind: "vector-frontier";
  k: number;
  index: { name: string; m?: number; efConstruction?: number };
  /** Every point, by build (M, EF_CONSTRUCTION), then EF_RUNTIME. */
  points: FrontierPoint[];
  /** EF_RUNTIME of the frontier's points, by recall. */
  frontier: number[];
  /** The highest QPS of a point whose mean recall is at least 0.95 (0 when none is). */
  qpsAtRecall95: number;
  /** The same at 0.9 and 0.99. */
  qpsAtRecall90: number;
  qpsAtRecall99: number;
  truth: TuneTruth;
  /** The (first) load. */
  load?: TuneLoad;
  /** With a grid: each build and what loading it cost. */
  builds?: Array<{ m?: number; efConstruction?: number; load?: TuneLoad }>;
  interrupted: boolean;
  failure?: { code: string; message: string };
}

/** The highest QPS among points whose mean recall reaches `recall` (0 when none does). */
export function qpsAtRecall(points: readonly TunePoint[], recall: number): number {
  let best = 0;
  for (const p of points) if (p.recall.estimate >= recall && p.qps > best) best = p.qps;
  return best;
}

/** Marks each point's `pareto` flag and returns the frontier's EF_RUNTIME values by recall. */
export function markFrontier(points: FrontierPoint[]): number[] {
  const idx = paretoFrontier(points.map((p) => ({ recall: p.recall.estimate, qps: p.qps })));
  for (const p of points) p.pareto = false;
  for (const i of idx) points[i]!.pareto = true;
  return idx.map((i) => points[i]!.efRuntime);
}

/**
 * Sweeps EF_RUNTIME (log-spaced, then refined around the knee of recall against log QPS) on one
 * loaded index with one exact truth, and returns every point and the Pareto frontier.
 *
 * A point that fails (the index gone, the server lost) ends the sweep with `failure` and the
 * points measured so far.
 *
 * @throws {MembenchError} `invalid_argument` for bad options (before any load), and what the load
 * and the truth throw.
 */
export async function vectorFrontier(
  options: VectorFrontierOptions,
): Promise<VectorFrontierResult> {
  const o = options;
  if (o === null || typeof o !== "object") {
    throw new MembenchError("invalid_argument", "Cannot use the options: expected an object");
  }
  const problems: string[] = [];
  tuneProblems(o, problems);
  const min = o.minEfSearch ?? o.k ?? 10;
  const max = o.maxEfSearch ?? 1024;
  if (!(Number.isInteger(min) && Number.isInteger(max) && min >= 1 && max >= min)) {
    problems.push(
      `Cannot sweep EF_RUNTIME from ${min} to ${max}: need integers with 1 <= minEfSearch <= maxEfSearch`,
    );
  }
  if (o.points !== undefined && !(Number.isInteger(o.points) && o.points >= 2 && o.points <= 64)) {
    problems.push(
      `Cannot use 'points': must be an integer from 2 to 64: current value is ${o.points}`,
    );
  }
  if (o.refine !== undefined && !(Number.isInteger(o.refine) && o.refine >= 0 && o.refine <= 16)) {
    problems.push(
      `Cannot use 'refine': must be an integer from 0 to 16: current value is ${o.refine}`,
    );
  }
  for (const v of o.efRuntime ?? []) {
    if (!(Number.isInteger(v) && v >= 1 && v <= 1_000_000)) {
      problems.push(
        `Cannot use EF_RUNTIME ${v}: must be an integer from 1 to 1000000`,
      );
    }
  }
  if (o.durationMs !== undefined && !(o.durationMs > 0)) {
    problems.push(
      `Cannot use 'durationMs': must be a number > 0: current value is ${o.durationMs}`,
    );
  }
  if (o.grid !== undefined && o.load === false) {
    problems.push("Cannot use a build grid without a load: each build rebuilds the index");
  }
  if (problems.length) throw new MembenchError("invalid_argument", problems.join("\n"));
  const builds = o.grid ? gridOf(o) : [undefined];
  let out: VectorFrontierResult | undefined;
  for (const build of builds) {
    const bo: VectorFrontierOptions = build ? { ...o, index: { ...o.index, ...build } } : o;
    let s: TuneSession;
    try {
      s = await openTuneSession(bo);
    } catch (e) {
      // A later build that cannot be loaded ends the sweep with the points so far.
      if (out === undefined || !(e instanceof MembenchError) || e.code === "invalid_argument") {
        throw e;
      }
      if (e.code === "interrupted") out.interrupted = true;
      else out.failure = { code: e.code, message: e.message };
      break;
    }
    out ??= newResult(s);
    if (build) {
      (out.builds ??= []).push({ ...build, ...(s.load ? { load: s.load } : {}) });
    }
    const stop = await sweepBuild(bo, s, out, min, max);
    if (stop) break;
  }
  const r = out!;
  r.points.sort((a, b) =>
    (a.m ?? 0) - (b.m ?? 0) || (a.efConstruction ?? 0) - (b.efConstruction ?? 0) ||
    a.efRuntime - b.efRuntime
  );
  r.frontier = markFrontier(r.points);
  r.qpsAtRecall95 = qpsAtRecall(r.points, 0.95);
  r.qpsAtRecall90 = qpsAtRecall(r.points, 0.9);
  r.qpsAtRecall99 = qpsAtRecall(r.points, 0.99);
  return r;
}

function gridOf(o: VectorFrontierOptions): Array<{ m?: number; efConstruction?: number }> {
  const ms: Array<number | undefined> = o.grid?.m?.length ? [...o.grid.m] : [o.index?.m];
  const efcs: Array<number | undefined> = o.grid?.efConstruction?.length
    ? [...o.grid.efConstruction]
    : [o.index?.efConstruction];
  return ms.flatMap((m) =>
    efcs.map((efConstruction) => ({
      ...(m !== undefined ? { m } : {}),
      ...(efConstruction !== undefined ? { efConstruction } : {}),
    }))
  );
}

function newResult(s: TuneSession): VectorFrontierResult {
  const spec = resolveIndexSpec({ ...s.index, dim: s.ds.base.dim, metric: s.metric });
  return {
    kind: "vector-frontier",
    k: s.k,
    index: {
      name: spec.name,
      ...(s.index.m !== undefined ? { m: s.index.m } : {}),
      ...(s.index.efConstruction !== undefined ? { efConstruction: s.index.efConstruction } : {}),
    },
    points: [],
    frontier: [],
    qpsAtRecall95: 0,
    qpsAtRecall90: 0,
    qpsAtRecall99: 0,
    truth: {
      computed: true,
      datasetHasTruth: s.ds.neighbors !== undefined,
      queries: s.truth.queries,
      k: s.k,
      elapsedMs: s.truth.elapsedMs,
    },
    ...(s.load ? { load: s.load } : {}),
    interrupted: false,
  };
}

// One build's sweep into `out`; true when the sweep must stop (interrupted, failed).
async function sweepBuild(
  o: VectorFrontierOptions,
  s: TuneSession,
  out: VectorFrontierResult,
  min: number,
  max: number,
): Promise<boolean> {
  const mine: FrontierPoint[] = [];
  const measure = async (ef: number, refined: boolean) => {
    if (mine.some((p) => p.efRuntime === ef)) return;
    const { point, query } = await measureTunePoint(s, {
      efRuntime: ef,
      clients: o.clients ?? 4,
      pipeline: o.pipeline ?? 1,
      // At least ~2000 queries a point, so that QPS is not a few milliseconds' worth.
      repeats: o.repeats ?? Math.max(1, Math.ceil(2000 / s.numQueries)),
      seed: o.seed ?? 1,
      ...(o.durationMs !== undefined ? { durationMs: o.durationMs } : {}),
      ...(o.confidence !== undefined ? { confidence: o.confidence } : {}),
      ...(o.resamples !== undefined ? { resamples: o.resamples } : {}),
    });
    const fp: FrontierPoint = { ...point, pareto: false, refined };
    mine.push(fp);
    out.points.push(fp);
    await o.onPoint?.(fp);
    if (query.interrupted) throw new MembenchError("interrupted", "Interrupted");
  };
  try {
    const efs = o.efRuntime && o.efRuntime.length > 0
      ? [...new Set(o.efRuntime)].sort((a, b) => a - b)
      : logSpaced(min, max, o.points ?? 8);
    for (const ef of efs) await measure(ef, false);
    // Refine around the knee: values spaced geometrically between it and each neighbour.
    const refine = o.refine ?? 2;
    if (refine > 0 && !(o.efRuntime && o.efRuntime.length > 0)) {
      const sorted = [...mine].sort((a, b) => a.efRuntime - b.efRuntime);
      const knee = kneeIndex(sorted.map((p) => ({ recall: p.recall.estimate, qps: p.qps })));
      if (knee > 0) {
        const extra = new Set<number>();
        for (const nb of [sorted[knee - 1]!, sorted[knee + 1]!]) {
          const a = Math.min(nb.efRuntime, sorted[knee]!.efRuntime);
          const b = Math.max(nb.efRuntime, sorted[knee]!.efRuntime);
          for (let j = 1; j <= refine; j++) {
            const v = Math.round(a * Math.pow(b / a, j / (refine + 1)));
            if (v > a && v < b) extra.add(v);
          }
        }
        for (const ef of [...extra].sort((x, y) => x - y)) await measure(ef, true);
      }
    }
    return false;
  } catch (e) {
    if (!(e instanceof MembenchError)) throw e;
    if (e.code === "interrupted") out.interrupted = true;
    else out.failure = { code: e.code, message: e.message };
    return true;
  } finally {
    s.close();
  }
}
