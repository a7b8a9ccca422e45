import { MembenchError } from "../errors/mod.ts";
import { computeGroundTruth } from "./groundtruth.ts";
import type { VectorDataset } from "./dataset.ts";
import type { DistanceMetric } from "./types.ts";

/**
 * What a run stored: keys `prefix + keyStart … prefix + (keyStart + count - 1)` hold the
 * dataset's vectors `vectorStart …` in order. A load makes one segment (key id = vector index);
 * an update that writes other vectors under existing keys and a delete split them, so that the
 * ground truth is always computed over what the server holds.
 */
export interface LoadedSegment {
  /** First key id. */
  keyStart: number;
  /** The dataset row stored under `keyStart`. */
  vectorStart: number;
  /** Keys in the segment. */
  count: number;
}

/** Keys held by a set of segments. */
export function loadedCount(loaded: readonly LoadedSegment[]): number {
  let n = 0;
  for (const s of loaded) n += s.count;
  return n;
}

/**
 * The segments after keys `[from, from + count)` were deleted.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const after = removeKeys([{ keyStart: 0, vectorStart: 0, count: 10 }], 4, 2);
 * assert.deepEqual(after, [
 *   { keyStart: 0, vectorStart: 0, count: 4 },
 *   { keyStart: 6, vectorStart: 6, count: 4 },
 * ]);
 * ```
 */
export function removeKeys(
  loaded: readonly LoadedSegment[],
  from: number,
  count: number,
): LoadedSegment[] {
  const end = from + count;
  const out: LoadedSegment[] = [];
  for (const s of loaded) {
    const sEnd = s.keyStart + s.count;
    if (sEnd <= from || s.keyStart >= end) {
      out.push({ ...s });
      continue;
    }
    if (s.keyStart < from) {
      out.push({ keyStart: s.keyStart, vectorStart: s.vectorStart, count: from - s.keyStart });
    }
    if (sEnd > end) {
      out.push({
        keyStart: end,
        vectorStart: s.vectorStart + (end - s.keyStart),
        count: sEnd - end,
      });
    }
  }
  return out;
}

/** The segments after keys `[keyStart, keyStart + count)` were (over)written with rows `vectorStart…`. */
export function writeKeys(
  loaded: readonly LoadedSegment[],
  seg: LoadedSegment,
): LoadedSegment[] {
  const out = removeKeys(loaded, seg.keyStart, seg.count);
  out.push({ ...seg });
  out.sort((a, b) => a.keyStart - b.keyStart);
  return out;
}

/** Exact neighbours of each query among the keys a server holds, by key id. */
export interface VectorTruth {
  metric: DistanceMetric;
  /** Neighbours that count (recall@k). */
  k: number;
  /** Neighbours kept per query: k plus a margin in which ties at the k-th distance are found. */
  depth: number;
  /** Queries. */
  queries: number;
  /** `queries * depth` key ids, nearest first (then lower key id); -1 pads. */
  ids: Int32Array;
  /** Distances matching `ids` (L2 Euclidean, IP `1 - q·v`, COSINE `1 - cos`). */
  distances: Float64Array;
  /** Keys held that pass the filter (all keys without one). */
  matched: number;
  /** The filter, if any. */
  filter?: string;
  /** Time to compute, ms. */
  elapsedMs: number;
}

/** Options for {@linkcode vectorTruth}. */
export interface VectorTruthOptions {
  /** recall@k. */
  k: number;
  /** What the server holds. @default the whole dataset, key id = row */
  loaded?: readonly LoadedSegment[];
  /** A metadata filter (RediSearch syntax), the one sent with the queries. */
  filter?: string;
  /** @default the dataset's, else L2 */
  metric?: DistanceMetric;
  /** The query vectors; by default the dataset's. */
  queries?: Float32Array;
  /** Worker threads (see computeGroundTruth). */
  threads?: number;
  signal?: AbortSignal;
}

/** Extra depth beyond k in which ties at the k-th distance are looked for. */
export function tieMargin(k: number): number {
  return Math.max(10, k);
}

/**
 * Exact ground truth of the dataset's queries over what the server holds (`loaded`), and over
 * the filter: one exact pass per segment (`computeGroundTruth`, which streams the file), merged
 * by distance, then key id. Kept to depth `k + tieMargin(k)` so that results tied with the k-th
 * neighbour can count as correct.
 *
 * @throws {MembenchError} `invalid_argument` for a dataset without queries or a bad filter.
 */
export async function vectorTruth(
  ds: VectorDataset,
  options: VectorTruthOptions,
): Promise<VectorTruth> {
  const t0 = performance.now();
  const k = options.k;
  if (!Number.isInteger(k) || k < 1) {
    throw new MembenchError(
      "invalid_argument",
      `Cannot use 'k': must be an integer >= 1: current value is ${k}`,
    );
  }
  let queries = options.queries;
  if (queries === undefined) {
    if (!ds.queries) {
      throw new MembenchError(
        "invalid_argument",
        `Cannot compute recall: ${ds.path} has no query vectors`,
        {
          hint:
            "use a dataset with queries (fvecs with a _query sibling, HDF5 test, membench binary)",
        },
      );
    }
    queries = await ds.queries.read(0, ds.queries.rows);
  }
  const dim = ds.base.dim;
  const nq = queries.length / dim;
  const metric = options.metric ?? ds.metric ?? "L2";
  const loaded = options.loaded ?? [{ keyStart: 0, vectorStart: 0, count: ds.base.rows }];
  const depth = k + tieMargin(k);
  const ids = new Int32Array(nq * depth).fill(-1);
  const dists = new Float64Array(nq * depth).fill(Infinity);
  let matched = 0;
  const segs = loaded.filter((s) => s.count > 0);
  const parts = [];
  for (const s of segs) {
    if (s.vectorStart < 0 || s.vectorStart + s.count > ds.base.rows) {
      throw new MembenchError(
        "invalid_argument",
        `Cannot use rows ${s.vectorStart}..${
          s.vectorStart + s.count - 1
        } of ${ds.path}: it has ${ds.base.rows} vectors`,
      );
    }
    const gt = await computeGroundTruth(ds.base, queries, {
      k: Math.min(depth, s.count),
      metric,
      vectorOffset: s.vectorStart,
      numVectors: s.count,
      ...(options.filter !== undefined ? { filter: options.filter } : {}),
      ...(ds.metadata ? { metadata: ds.metadata } : {}),
      ...(options.threads !== undefined ? { threads: options.threads } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    matched += gt.matched;
    parts.push({ s, gt });
  }
  // Merge: per query, the depth nearest over all segments (distance, then key id).
  const candIds: number[] = [];
  const candD: number[] = [];
  const order: number[] = [];
  for (let q = 0; q < nq; q++) {
    candIds.length = 0;
    candD.length = 0;
    for (const { s, gt } of parts) {
      for (let j = 0; j < gt.k; j++) {
        const id = gt.ids[q * gt.k + j]!;
        if (id < 0) break;
        candIds.push(id - s.vectorStart + s.keyStart);
        candD.push(gt.distances[q * gt.k + j]!);
      }
    }
    order.length = 0;
    for (let i = 0; i < candIds.length; i++) order.push(i);
    order.sort((a, b) => candD[a]! - candD[b]! || candIds[a]! - candIds[b]!);
    for (let j = 0; j < Math.min(depth, order.length); j++) {
      ids[q * depth + j] = candIds[order[j]!]!;
      dists[q * depth + j] = candD[order[j]!]!;
    }
  }
  return {
    metric,
    k,
    depth,
    queries: nq,
    ids,
    distances: dists,
    matched,
    ...(options.filter !== undefined ? { filter: options.filter } : {}),
    elapsedMs: performance.now() - t0,
  };
}

/** Relative tolerance under which a distance equals the k-th (float32 rounding on the server). */
export const TIE_TOLERANCE = 4e-6;

/**
 * Recall of one query's results against the truth. A returned key counts as correct when it is
 * among the exact k nearest, or when its exact distance is within float32 rounding of the k-th
 * nearest's (`|d - d_k| <= 4e-6 * max(|d_k|, 1)`): a tie, which any of the tied keys may fill.
 * Ties are looked for in the truth's margin (`depth - k` further neighbours). Duplicate keys
 * count once; the denominator is `min(k, keys that pass the filter)`. The result goes into
 * `out` (no allocation per query).
 */
export function scoreQuery(
  truth: VectorTruth,
  q: number,
  ids: Int32Array,
  n: number,
  out: RecallScore,
): void {
  const { k, depth } = truth;
  const base = q * depth;
  let valid = 0;
  while (valid < k && truth.ids[base + valid]! >= 0) valid++;
  out.denominator = valid;
  out.correct = 0;
  out.ties = 0;
  if (valid === 0) return;
  const dk = truth.distances[base + valid - 1]!;
  const tol = TIE_TOLERANCE * Math.max(Math.abs(dk), 1);
  for (let i = 0; i < n && i < k; i++) {
    const id = ids[i]!;
    if (id < 0) continue;
    let dup = false;
    for (let j = 0; j < i; j++) {
      if (ids[j] === id) {
        dup = true;
        break;
      }
    }
    if (dup) continue;
    for (let j = 0; j < depth; j++) {
      const t = truth.ids[base + j]!;
      if (t < 0) break;
      if (t !== id) continue;
      if (j < valid) out.correct++;
      else if (truth.distances[base + j]! <= dk + tol) {
        out.correct++;
        out.ties++;
      }
      break;
    }
  }
  if (out.correct > valid) out.correct = valid;
}

/** One query's recall, written by {@linkcode scoreQuery} (reused: no allocation per query). */
export interface RecallScore {
  correct: number;
  denominator: number;
  /** Of `correct`, results beyond the exact k that tie with the k-th. */
  ties: number;
}
