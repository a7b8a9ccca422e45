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
      dataset: ds,
      metric,
      ...(o.index ? { index: o.index } : {}),
    });
    out.load = l;
    segments = l.segments;
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
  if (o.cleanup && !out.interrupted) {
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
