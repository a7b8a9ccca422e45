import { MembenchError } from "../errors/mod.ts";
import type { KernelKind } from "./_dots_wasm.ts";
import { keyToDistance, type TopKResult, TopKSearch, type TopKSetup } from "./_topk.ts";
import { VectorFilter } from "./filter.ts";
import type { DistanceMetric, MetadataTable, VectorMatrix } from "./types.ts";

/** Options for {@linkcode computeGroundTruth}. */
export interface GroundTruthOptions {
  /** Neighbours per query. */
  k: number;
  /** Distance metric. @default {"L2"} */
  metric?: DistanceMetric;
  /** First base vector that will be loaded. @default {0} */
  vectorOffset?: number;
  /** How many base vectors will be loaded from `vectorOffset`. @default {all the rest} */
  numVectors?: number;
  /** Only vectors whose metadata match (see {@linkcode VectorFilter}); needs `metadata`. */
  filter?: string | VectorFilter;
  /** The base vectors' metadata, for `filter`. */
  metadata?: MetadataTable;
  /**
   * Web Workers to spread the queries over; 0 computes in the calling thread.
   * @default {navigator.hardwareConcurrency}
   */
  threads?: number;
  /** Base vectors per block streamed through the workers. @default {16384} */
  blockRows?: number;
  /** Compute every distance in float64 instead of screening with float32 SIMD. @default {false} */
  exact?: boolean;
  /** Kernel for the screening pass. @default {"wasm-simd"} */
  kernel?: KernelKind;
  /** Stops the computation (rejects with an `interrupted` error). */
  signal?: AbortSignal;
  /** Called after each block. */
  onProgress?: (p: GroundTruthProgress) => void;
}

/** Progress of a ground-truth computation. */
export interface GroundTruthProgress {
  /** `scan`: the main pass; `recheck`: the exact pass for uncertain queries. */
  phase: "scan" | "recheck";
  /** Base vectors read so far in this phase. */
  done: number;
  total: number;
}

/** Exact nearest neighbours of every query among the vectors that will be loaded. */
export interface GroundTruth {
  metric: DistanceMetric;
  k: number;
  queries: number;
  /** `queries * k` absolute vector ids (indices in the file), nearest first; -1 pads. */
  ids: Int32Array;
  /** Distances matching `ids` (L2 Euclidean, IP `1 - q·v`, COSINE `1 - cos`); Infinity pads. */
  distances: Float64Array;
  vectorOffset: number;
  numVectors: number;
  /** The filter expression, if any. */
  filter?: string;
  /** Vectors in the range that passed the filter (all of them without one). */
  matched: number;
  /** Queries whose screened result was not certified and were recomputed in float64. */
  recheckedQueries: number;
  /** What computed the screening pass (`exact` when every distance was float64). */
  kernel: KernelKind | "exact";
  threads: number;
  elapsedMs: number;
}

interface Shard {
  init(setup: TopKSetup): Promise<KernelKind | undefined>;
  block(vectors: Float32Array, ids: Int32Array, norms: Float64Array, n: number): Promise<void>;
  finish(maxNorm: number): Promise<TopKResult>;
  close(): void;
}

class LocalShard implements Shard {
  #search: TopKSearch | undefined;
  init(setup: TopKSetup) {
    this.#search = new TopKSearch(setup);
    return Promise.resolve(this.#search.kernelKind);
  }
  block(vectors: Float32Array, ids: Int32Array, norms: Float64Array, n: number) {
    this.#search!.add(vectors, ids, norms, n);
    return Promise.resolve();
  }
  finish(maxNorm: number) {
    return Promise.resolve(this.#search!.finish(maxNorm));
  }
  close() {}
}

class WorkerShard implements Shard {
  #w: Worker;
  #waiting:
    | { resolve: (m: Record<string, unknown>) => void; reject: (e: Error) => void }
    | undefined;
  #failed: Error | undefined;

  constructor(index: number) {
    this.#w = new Worker(new URL("./_gt_worker.ts", import.meta.url), { type: "module" });
    this.#w.onmessage = (e: MessageEvent<Record<string, unknown>>) => {
      const w = this.#waiting;
      this.#waiting = undefined;
      if (e.data.type === "error") {
        const err = new MembenchError(
          "internal",
          `Ground-truth worker ${index} failed: ${e.data.message}`,
        );
        this.#failed = err;
        w?.reject(err);
      } else w?.resolve(e.data);
    };
    this.#w.onerror = (e) => {
      e.preventDefault();
      const err = new MembenchError(
        "internal",
        `Ground-truth worker ${index} failed: ${e.message}`,
      );
      this.#failed = err;
      this.#waiting?.reject(err);
      this.#waiting = undefined;
    };
  }

  #ask(msg: unknown): Promise<Record<string, unknown>> {
    if (this.#failed) return Promise.reject(this.#failed);
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject };
      this.#w.postMessage(msg);
    });
  }

  async init(setup: TopKSetup) {
    const r = await this.#ask({ type: "init", setup });
    return r.kernel as KernelKind | undefined;
  }
  async block(vectors: Float32Array, ids: Int32Array, norms: Float64Array, n: number) {
    await this.#ask({ type: "block", vectors, ids, norms, n });
  }
  async finish(maxNorm: number) {
    const r = await this.#ask({ type: "finish", maxNorm });
    return r as unknown as TopKResult;
  }
  close() {
    this.#w.terminate();
  }
}

interface BlockBuffers {
  vectors: Float32Array;
  ids: Int32Array;
  norms: Float64Array;
}

function sharedBuffers(rows: number, dp: number): BlockBuffers {
  return {
    vectors: new Float32Array(new SharedArrayBuffer(rows * dp * 4)),
    ids: new Int32Array(new SharedArrayBuffer(rows * 4)),
    norms: new Float64Array(new SharedArrayBuffer(rows * 8)),
  };
}

/**
 * Exact top-k nearest neighbours of each query, restricted to the base vectors that will be
 * loaded (`[vectorOffset, vectorOffset + numVectors)`) and to those whose metadata pass
 * `filter`. A benchmark that loads the first 100k vectors of a 1M file scores against this,
 * not against the file's 1M ground truth.
 *
 * Ties are broken deterministically: neighbours are ordered by their float64 distance, then by
 * the lower vector id. The base is streamed once in blocks (bounded memory, whatever the file's
 * size) through Web Workers that each own a share of the queries; a float32 SIMD screen keeps a
 * margin of candidates whose float64 distances are certified against an error bound, and any
 * query that cannot be certified (exact ties at rank k, say) is recomputed in float64 in a
 * second pass (see `_topk.ts`).
 *
 * @param base The base vectors.
 * @param queries The query vectors (a matrix in a file, or rows of `base.dim` float32).
 * @param options k, metric, range, filter, threads.
 * @returns ids (absolute indices in the file) and distances, `k` per query.
 * @throws {MembenchError} `invalid_argument` for a bad k, range or filter; `file` for a
 * malformed file; `interrupted` when `signal` aborts.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const base = {
 *   name: "mem", rows: 4, dim: 2, elementType: "float32" as const,
 *   read: (s: number, n: number) => Promise.resolve(new Float32Array([0, 0, 1, 0, 2, 0, 3, 0]).slice(s * 2, (s + n) * 2)),
 *   readInts: () => Promise.reject(new Error("unused")),
 * };
 * const gt = await computeGroundTruth(base, new Float32Array([2.1, 0]), { k: 2, threads: 0 });
 * assert.deepEqual([...gt.ids], [2, 3]);
 * ```
 */
export async function computeGroundTruth(
  base: VectorMatrix,
  queries: VectorMatrix | Float32Array,
  options: GroundTruthOptions,
): Promise<GroundTruth> {
  const started = performance.now();
  const o = options;
  const metric = o.metric ?? "L2";
  const dim = base.dim;
  const check = (name: string, v: number | undefined, min: number, max: number) => {
    if (v !== undefined && (!Number.isInteger(v) || v < min || v > max)) {
      throw new MembenchError(
        "invalid_argument",
        `Cannot use '${name}': must be an integer from ${min} to ${max}: current value is ${v}`,
      );
    }
  };
  check("k", o.k, 1, 100_000);
  check("vectorOffset", o.vectorOffset, 0, base.rows);
  const offset = o.vectorOffset ?? 0;
  check("numVectors", o.numVectors, 0, base.rows - offset);
  const count = o.numVectors ?? base.rows - offset;
  check("threads", o.threads, 0, 256);
  check("blockRows", o.blockRows, 1, 1 << 22);
  let filter: VectorFilter | undefined;
  if (o.filter !== undefined) {
    if (!o.metadata) {
      throw new MembenchError(
        "invalid_argument",
        `Cannot filter ${base.name}: the dataset has no metadata`,
        { hint: "only membench binary datasets carry metadata (see membench dataset generate)" },
      );
    }
    filter = typeof o.filter === "string" ? VectorFilter.parse(o.filter, o.metadata) : o.filter;
  }
  let q: Float32Array;
  if (queries instanceof Float32Array) {
    if (queries.length % dim) {
      throw new MembenchError(
        "invalid_argument",
        `Cannot use ${queries.length} query values as rows of dimension ${dim}`,
      );
    }
    q = queries;
  } else {
    if (queries.dim !== dim) {
      throw new MembenchError(
        "invalid_argument",
        `Cannot search ${base.name} (dimension ${dim}) with ${queries.name} (dimension ${queries.dim})`,
      );
    }
    q = await queries.read(0, queries.rows);
  }
  const nq = q.length / dim;
  const dp = Math.ceil(dim / 4) * 4;
  const padded = new Float32Array(nq * dp);
  for (let i = 0; i < nq; i++) padded.set(q.subarray(i * dim, (i + 1) * dim), i * dp);

  const threads = Math.min(o.threads ?? navigator.hardwareConcurrency ?? 1, Math.max(nq, 1));
  const blockRows = o.blockRows ?? 16384;
  const exact = o.exact ?? false;
  const shards: Shard[] = threads === 0
    ? [new LocalShard()]
    : Array.from({ length: threads }, (_, i) => new WorkerShard(i));
  const bufs = [sharedBuffers(blockRows, dp), sharedBuffers(blockRows, dp)];
  const k = o.k;
  const ids = new Int32Array(nq * k).fill(-1);
  const keys = new Float64Array(nq * k).fill(Infinity);
  let matched = 0, maxNorm = 0, kernel: KernelKind | "exact" = exact ? "exact" : "wasm-simd";
  let recheck: number[] = [];

  // One pass over the base for a subset of the queries; returns each shard's result.
  const pass = async (
    phase: "scan" | "recheck",
    which: number[],
    exactPass: boolean,
  ): Promise<void> => {
    const per = Math.ceil(which.length / shards.length);
    const parts = shards.map((_, i) => which.slice(i * per, (i + 1) * per));
    const inits = await Promise.all(shards.map((s, i) => {
      const part = parts[i]!;
      const qs = new Float32Array(part.length * dp);
      for (const [j, qi] of part.entries()) qs.set(padded.subarray(qi * dp, (qi + 1) * dp), j * dp);
      return s.init({
        metric,
        k,
        dim,
        dp,
        queries: qs,
        nq: part.length,
        exact: exactPass,
        ...(o.kernel ? { kernel: o.kernel } : {}),
      });
    }));
    if (phase === "scan" && !exact) kernel = inits.find((x) => x !== undefined) ?? kernel;
    let pending: Promise<unknown> | undefined;
    let done = 0, n = 0;
    const readBuf = new Float32Array(Math.min(blockRows, count) * dim);
    for (let start = offset, b = 0; start < offset + count; start += blockRows, b++) {
      if (o.signal?.aborted) throw new MembenchError("interrupted", "Ground truth interrupted");
      const rows = Math.min(blockRows, offset + count - start);
      const buf = bufs[b % 2]!;
      const vec = await base.read(start, rows, readBuf); // copied into the workers' buffers below
      const mask = filter ? filter.mask(await o.metadata!.read(start, rows), rows) : undefined;
      n = 0;
      for (let r = 0; r < rows; r++) {
        if (mask && !mask[r]) continue;
        const src = vec.subarray(r * dim, (r + 1) * dim);
        buf.vectors.set(src, n * dp);
        if (dp !== dim) buf.vectors.fill(0, n * dp + dim, (n + 1) * dp);
        let s = 0;
        for (let t = 0; t < dim; t++) s += src[t]! * src[t]!;
        const norm = Math.sqrt(s);
        buf.norms[n] = norm;
        buf.ids[n] = start + r;
        if (phase === "scan") {
          if (norm > maxNorm) maxNorm = norm;
          matched++;
        }
        n++;
      }
      if (pending) await pending;
      const blockN = n;
      pending = Promise.all(shards.map((s) => s.block(buf.vectors, buf.ids, buf.norms, blockN)));
      done += rows;
      o.onProgress?.({ phase, done, total: count });
    }
    if (pending) await pending;
    const results = await Promise.all(shards.map((s) => s.finish(maxNorm)));
    const uncertain: number[] = [];
    for (const [i, r] of results.entries()) {
      const part = parts[i]!;
      for (const [j, qi] of part.entries()) {
        ids.set(r.ids.subarray(j * k, (j + 1) * k), qi * k);
        keys.set(r.keys.subarray(j * k, (j + 1) * k), qi * k);
      }
      for (const j of r.uncertain) uncertain.push(part[j]!);
    }
    if (phase === "scan" && uncertain.length > 0) {
      recheck = uncertain.sort((a, b) => a - b);
    }
  };

  try {
    await pass("scan", Array.from({ length: nq }, (_, i) => i), exact);
    if (recheck.length > 0) await pass("recheck", recheck, true);
  } finally {
    for (const s of shards) s.close();
  }
  const distances = new Float64Array(keys.length);
  for (let i = 0; i < keys.length; i++) distances[i] = keyToDistance(metric, keys[i]!);
  return {
    metric,
    k,
    queries: nq,
    ids,
    distances,
    vectorOffset: offset,
    numVectors: count,
    ...(filter ? { filter: filter.source } : {}),
    matched,
    recheckedQueries: recheck.length,
    kernel,
    threads,
    elapsedMs: performance.now() - started,
  };
}
