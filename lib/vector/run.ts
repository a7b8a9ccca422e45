import { MembenchError } from "../errors/mod.ts";
import { openControl } from "./_conn.ts";
import { openDataset, type VectorDataset } from "./dataset.ts";
import { resolveIndexSpec } from "./index_spec.ts";
import { vectorLoad } from "./load.ts";
import { vectorQuery } from "./query.ts";
import type {
  VectorConnectOptions,
  VectorIndexOptions,
  VectorLoadOptions,
  VectorLoadResult,
  VectorQueryOptions,
  VectorQueryResult,
} from "./search_types.ts";
import { dropIndex } from "./server.ts";
import type { LoadedSegment } from "./truth.ts";
import { vectorTruth } from "./truth.ts";
import type { DistanceMetric } from "./types.ts";
import type { ShardSpec } from "../workload/mod.ts";
import {
  mergeVectorLoadResults,
  mergeVectorQueryResults,
  type VectorMergeOptions,
} from "./merge.ts";
import type { VectorMergeSummary } from "./search_types.ts";

/** Load options of {@linkcode vectorRun}: vec-load's own, without what the run shares. */
export type VectorRunLoadOptions = Omit<
  VectorLoadOptions,
  keyof VectorConnectOptions | "dataset" | "metric" | "index"
>;

/** Query options of {@linkcode vectorRun}: vec-query's own, with a list of EF_RUNTIME values. */
export type VectorRunQueryOptions =
  & Omit<
    VectorQueryOptions,
    keyof VectorConnectOptions | "dataset" | "metric" | "index" | "efRuntime" | "segments" | "truth"
  >
  & {
    /** One query phase per value (HNSW); one phase without EF_RUNTIME when absent or empty. */
    efRuntime?: readonly number[];
  };

/** Options for {@linkcode vectorRun}. */
export interface VectorRunOptions extends VectorConnectOptions {
  /** A dataset path or an open dataset. */
  dataset: string | VectorDataset;
  /** The metric when the dataset does not say. @default the dataset's, else L2 */
  metric?: DistanceMetric;
  /** The index (created by the load unless `load.skipCreate`). */
  index?: VectorIndexOptions;
  /** Load the dataset (vec-load); `false` skips the load and queries what the server holds. */
  load?: VectorRunLoadOptions | false;
  /**
   * Query it (vec-query, once per EF_RUNTIME); `false` loads only. Without a load, the server is
   * taken to hold rows `[vectorOffset, vectorOffset + numVectors)` under key ids equal to rows.
   */
  query?: VectorRunQueryOptions | false;
  /** Without a load: the rows the server holds. @default {0} */
  vectorOffset?: number;
  /** Without a load: how many rows the server holds. @default all from vectorOffset */
  numVectors?: number;
  /** Load and query connection counts and pipelines, when they differ from the shared ones. */
  loadPipeline?: number;
  /** Drop the index and its hashes (`FT.DROPINDEX … DD`) at the end. @default {false} */
  cleanup?: boolean;
  /** The run fails (`pass` false) when a query phase's mean recall is below this. */
  minRecall?: number;
  /**
   * Run shard `I/N`: the load writes this shard's part of the rows and the queries come from
   * this shard's clients (see `VectorLoadOptions.shard` and `VectorQueryOptions.shard`); the
   * queries are scored against the whole run's rows. Only shard 0 creates and drops the index.
   */
  shard?: ShardSpec | string;
}

/** What {@linkcode vectorRun} did. */
export interface VectorRunResult {
  kind: "vector-run";
  /** The load, when there was one. */
  load?: VectorLoadResult;
  /** One query phase per EF_RUNTIME value. */
  queries: VectorQueryResult[];
  /** Whether the index was dropped at the end (`cleanup`). */
  cleanedUp: boolean;
  /** `minRecall`, when given. */
  minRecall?: number;
  /**
   * False when a check failed: a query phase's mean recall below `minRecall`, or documents left
   * out of the index (`load.indexFailures`) without `allowIndexFailures`.
   */
  pass: boolean;
  /** One sentence per failed check. */
  checks: string[];
  interrupted: boolean;
  /** The first phase failure (lost connections, the index wait, index failures). */
  failure?: { code: string; message: string };
  /** A merged result: the shards it came from. */
  shards?: VectorMergeSummary;
}

/**
 * A whole vector search benchmark, as `membench vec run` does it: vec-load (FT.CREATE checked
 * against the platform first), then vec-query once per EF_RUNTIME value against one exact truth
 * over what was loaded (and the filter), then the cleanup; stops at the first failed phase or an
 * interrupt, keeping what was measured.
 *
 * @throws {MembenchError} `invalid_argument` for bad options (before any load), and what
 * {@linkcode vectorLoad} and {@linkcode vectorQuery} throw.
 */
export async function vectorRun(options: VectorRunOptions): Promise<VectorRunResult> {
  const o = options;
  if (o === null || typeof o !== "object") {
    throw new MembenchError("invalid_argument", "Cannot use the options: expected an object");
  }
  if (o.dataset === undefined) {
    throw new MembenchError(
      "invalid_argument",
      "Cannot run a vector benchmark: 'dataset' is missing",
    );
  }
  if (
    o.minRecall !== undefined &&
    !(typeof o.minRecall === "number" && o.minRecall >= 0 && o.minRecall <= 1)
  ) {
    throw new MembenchError(
      "invalid_argument",
      `Cannot use 'minRecall': must be a number from 0 to 1: current value is ${o.minRecall}`,
    );
  }
  let ds: VectorDataset;
  let close = () => {};
  if (typeof o.dataset === "string") {
    ds = await openDataset(o.dataset, o.metric ? { metric: o.metric } : {});
    close = () => ds.close();
  } else ds = o.dataset;
  try {
    return await runOn(o, ds);
  } finally {
    close();
  }
}

function connectOf(o: VectorRunOptions): VectorConnectOptions {
  const { dataset: _d, metric: _m, index: _i, load: _l, query: _q, vectorOffset: _vo, ...rest } = o;
  const {
    numVectors: _nv,
    loadPipeline: _lp,
    cleanup: _c,
    minRecall: _r,
    shard: _s,
    ...connect
  } = rest;
  return connect;
}

async function runOn(o: VectorRunOptions, ds: VectorDataset): Promise<VectorRunResult> {
  const connect = connectOf(o);
  const metric = o.metric ?? ds.metric ?? "L2";
  const out: VectorRunResult = {
    kind: "vector-run",
    queries: [],
    cleanedUp: false,
    pass: true,
    checks: [],
    interrupted: false,
    ...(o.minRecall !== undefined ? { minRecall: o.minRecall } : {}),
  };
  let segments: LoadedSegment[] | undefined;
  if (o.load !== false && o.load !== undefined) {
    const l = await vectorLoad({
      ...connect,
      ...(o.loadPipeline !== undefined ? { pipeline: o.loadPipeline } : {}),
      ...o.load,
      ...(o.shard !== undefined ? { shard: o.shard } : {}),
      dataset: ds,
      metric,
      ...(o.index ? { index: o.index } : {}),
    });
    out.load = l;
    // A shard's queries are scored against what all shards loaded.
    segments = l.shard?.runSegments ?? l.segments;
    if (l.indexFailures > 0 && !o.load.allowIndexFailures) {
      out.pass = false;
      out.checks.push(
        `${l.indexFailures} of ${l.requested} documents were left out of index ${l.index} (hash_indexing_failures)`,
      );
    }
    if (l.interrupted) out.interrupted = true;
    if (l.failure) out.failure = l.failure;
  } else if (o.vectorOffset !== undefined || o.numVectors !== undefined) {
    const offset = o.vectorOffset ?? 0;
    const count = o.numVectors ?? Math.max(0, ds.base.rows - offset);
    if (offset < 0 || offset + count > ds.base.rows) {
      throw new MembenchError(
        "invalid_argument",
        `Cannot use rows [${offset}, ${offset + count}) of ${ds.path}: it has ${ds.base.rows}`,
      );
    }
    segments = [{ keyStart: offset, vectorStart: offset, count }];
  }
  if (o.query !== false && o.query !== undefined && !out.interrupted && !out.failure) {
    const { efRuntime, ...q } = o.query;
    const efs: Array<number | undefined> = efRuntime && efRuntime.length > 0
      ? [...efRuntime]
      : [undefined];
    const k = q.k ?? 10;
    // One truth for every EF_RUNTIME value.
    const nq = ds.queries ? Math.min(q.numQueries ?? ds.queries.rows, ds.queries.rows) : 0;
    const truth = ds.queries
      ? await vectorTruth(ds, {
        k,
        metric,
        queries: await ds.queries.read(0, nq),
        ...(segments ? { loaded: segments } : {}),
        ...(q.filter !== undefined ? { filter: q.filter } : {}),
        ...(q.truthThreads !== undefined ? { threads: q.truthThreads } : {}),
        ...(o.signal ? { signal: o.signal } : {}),
      })
      : undefined;
    for (const ef of efs) {
      const r = await vectorQuery({
        ...connect,
        ...q,
        ...(o.shard !== undefined ? { shard: o.shard } : {}),
        dataset: ds,
        metric,
        ...(o.index ? { index: o.index } : {}),
        ...(segments ? { segments } : {}),
        ...(truth ? { truth } : {}),
        ...(ef !== undefined ? { efRuntime: ef } : {}),
      });
      out.queries.push(r);
      if (o.minRecall !== undefined && r.recall.mean < o.minRecall) {
        out.pass = false;
        out.checks.push(
          `recall@${r.k} mean ${r.recall.mean.toFixed(4)}${
            ef !== undefined ? ` at EF_RUNTIME ${ef}` : ""
          } is below ${o.minRecall}`,
        );
      }
      if (r.interrupted) out.interrupted = true;
      if (r.failure) out.failure ??= r.failure;
      if (r.interrupted || r.failure) break;
    }
  }
  // Only shard 0 drops the index (it created it).
  const shard0 = out.load?.shard === undefined || out.load.shard.index === 0;
  if (o.cleanup && !out.interrupted && shard0 && !isLaterShard(o.shard)) {
    // Shard 0 drops the index once the other shards' load and query connections are gone.
    if (o.shard !== undefined) await untilOthersDone(connect);
    out.cleanedUp = await vectorDropIndex({ ...connect, ...(o.index ? { index: o.index } : {}) });
  }
  return out;
}

/**
 * Drops a vector index and (with `deleteDocs`, the default) its hashes: `FT.DROPINDEX name DD`.
 * Returns false when there was no such index.
 *
 * @throws {MembenchError} `server` when the server refuses; `connection`.
 */
export async function vectorDropIndex(
  options: VectorConnectOptions & { index?: VectorIndexOptions; deleteDocs?: boolean },
): Promise<boolean> {
  const spec = resolveIndexSpec({ ...options.index, dim: 0, metric: "L2" });
  const { control } = await openControl(options);
  try {
    return await dropIndex(control, spec.name, options.deleteDocs ?? true);
  } finally {
    control.close();
  }
}

function isLaterShard(shard: ShardSpec | string | undefined): boolean {
  if (shard === undefined) return false;
  if (typeof shard === "string") return !/^\s*0\s*\//.test(shard);
  return shard.index !== 0;
}

/**
 * Merges the results of a vec-run's shards (`shard: "I/N"`, or `membench vec … --shard I/N`)
 * into one: the load phases with {@linkcode mergeVectorLoadResults}, each query phase (one per
 * EF_RUNTIME, in order) with {@linkcode mergeVectorQueryResults}; the recall check
 * (`minRecall`) and the index failures check are judged again on the merged figures.
 *
 * @throws {MembenchError} as the phase merges; `invalid_argument` when the shards ran other
 *   phases.
 */
export function mergeVectorRunResults(
  results: readonly VectorRunResult[],
  options: VectorMergeOptions = {},
): VectorRunResult {
  if (results.length === 0) {
    throw new MembenchError("invalid_argument", "Cannot merge vec-run results: none given");
  }
  for (const [i, r] of results.entries()) {
    if (r === null || typeof r !== "object" || r.kind !== "vector-run") {
      throw new MembenchError(
        "invalid_argument",
        `Cannot merge result ${i + 1}: it is not a vec run result`,
      );
    }
  }
  const first = results[0]!;
  const phases = Math.max(...results.map((r) => r.queries.length));
  const loads = results.flatMap((r) => r.load ? [r.load] : []);
  if (loads.length !== 0 && loads.length !== results.length) {
    throw new MembenchError(
      "invalid_argument",
      "Cannot merge vec-run results: some shards loaded and others did not",
    );
  }
  const out: VectorRunResult = {
    kind: "vector-run",
    queries: [],
    cleanedUp: results.some((r) => r.cleanedUp),
    pass: true,
    checks: [],
    interrupted: false,
    ...(first.minRecall !== undefined ? { minRecall: first.minRecall } : {}),
  };
  let summary: VectorMergeSummary | undefined;
  if (loads.length > 0) {
    const l = mergeVectorLoadResults(loads, options);
    out.load = l;
    summary = l.shards;
    // Index failures fail the run unless allowed: a shard that was not allowed them said so.
    const judged = results.some((r) => r.checks.some((c) => /hash_indexing_failures/.test(c)));
    if (l.indexFailures > 0 && judged) {
      out.pass = false;
      out.checks.push(
        `${l.indexFailures} of ${l.requested} documents were left out of index ${l.index} (hash_indexing_failures)`,
      );
    }
    if (l.interrupted) out.interrupted = true;
    if (l.failure) out.failure = l.failure;
  }
  for (let i = 0; i < phases; i++) {
    const parts = results.map((r) => r.queries[i]).filter((q): q is VectorQueryResult =>
      q !== undefined
    );
    // A shard that stopped before this phase is missing from it (named by the merge).
    const q = mergeVectorQueryResults(parts, options);
    out.queries.push(q);
    summary ??= q.shards;
    if (out.minRecall !== undefined && q.recall.mean < out.minRecall) {
      out.pass = false;
      out.checks.push(
        `recall@${q.k} mean ${q.recall.mean.toFixed(4)}${
          q.efRuntime !== undefined ? ` at EF_RUNTIME ${q.efRuntime}` : ""
        } is below ${out.minRecall}`,
      );
    }
    if (q.interrupted) out.interrupted = true;
    if (q.failure) out.failure ??= q.failure;
  }
  if (summary) out.shards = summary;
  return out;
}

/**
 * Waits (at most 10 minutes, or until the signal) until no other vec-load or vec-query
 * connection (`CLIENT LIST`, name `membench-vector`) is open on the server: the other shards of
 * the run are done with the index.
 */
async function untilOthersDone(o: VectorConnectOptions): Promise<void> {
  const { control } = await openControl(o);
  try {
    const deadline = Date.now() + 600_000;
    while (Date.now() < deadline && !o.signal?.aborted) {
      const list = await control.text(["CLIENT", "LIST"]);
      if (!/(^|\s)name=membench-vector(\s|$)/m.test(list)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    control.close();
  }
}
