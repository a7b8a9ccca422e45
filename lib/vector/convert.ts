import { MembenchError } from "../errors/mod.ts";
import { BinaryDataset, BinaryDatasetWriter, writeBinaryGroundTruth } from "./binary.ts";
import { openDataset, type OpenDatasetOptions, type VectorDataset } from "./dataset.ts";
import { computeGroundTruth, type GroundTruth } from "./groundtruth.ts";
import { VecsMatrix, VecsWriter } from "./vecs.ts";
import type { DistanceMetric, VectorMatrix } from "./types.ts";

/** Progress of a conversion, by phase. */
export interface ConvertProgress {
  phase: "vectors" | "queries" | "metadata" | "groundtruth";
  done: number;
  total: number;
}

/** Options for {@linkcode convertDataset}. */
export interface ConvertOptions extends OpenDatasetOptions {
  /** Output format; by default fvecs for a `.fvecs` output, else membench's binary format. */
  format?: "membench" | "fvecs";
  /**
   * Queries to keep: the first N of the input's queries, or, when the input has none, the last
   * N base vectors held out as queries (and dropped from the base).
   */
  queries?: number;
  /** Compute exact ground truth of this depth (otherwise the input's is copied, if any). */
  gt?: number;
  /** Dataset name in the binary header. @default {the input's name} */
  name?: string;
  /** Element type written to a binary dataset. @default {"float32"} */
  dtype?: "float32" | "float16";
  /** Rows per read. @default {16384} */
  blockRows?: number;
  /** Threads for the ground truth. @default {navigator.hardwareConcurrency} */
  threads?: number;
  signal?: AbortSignal;
  onProgress?: (p: ConvertProgress) => void;
}

/** What {@linkcode convertDataset} wrote. */
export interface ConvertResult {
  format: "membench" | "fvecs";
  /** Files written (base first). */
  files: string[];
  vectors: number;
  queries: number;
  dim: number;
  metric: DistanceMetric;
  /** Ground-truth depth written (0: none). */
  groundTruthDepth: number;
  /** Whether the ground truth was computed (true) or copied from the input (false). */
  groundTruthComputed: boolean;
  /** Whether queries were held out of the base. */
  heldOut: boolean;
  /** The computed ground truth, when computed. */
  groundTruth?: GroundTruth;
}

/** File names of an fvecs output: `<stem>_base.fvecs` gives `<stem>_query.fvecs`, … */
export function fvecsSiblings(
  out: string,
): { query: string; groundTruth: string; distances: string } {
  const stem = out.replace(/\.fvecs$/i, "").replace(/_base$/, "");
  return {
    query: `${stem}_query.fvecs`,
    groundTruth: `${stem}_groundtruth.ivecs`,
    distances: `${stem}_groundtruth_distances.fvecs`,
  };
}

async function copyRows(
  from: VectorMatrix,
  start: number,
  count: number,
  block: number,
  write: (at: number, values: Float32Array) => Promise<void>,
  progress: (done: number) => void,
  signal?: AbortSignal,
): Promise<void> {
  // One block buffer for the whole copy: each block is written before the next is read.
  const buf = new Float32Array(Math.min(block, count) * from.dim);
  for (let s = 0; s < count; s += block) {
    if (signal?.aborted) throw new MembenchError("interrupted", "Conversion interrupted");
    const n = Math.min(block, count - s);
    await write(s, await from.read(start + s, n, buf));
    progress(s + n);
  }
}

/**
 * Converts any readable dataset to membench's binary format (valkey-search-benchmark's layout)
 * or to TEXMEX fvecs/ivecs, streaming in blocks.
 *
 * @param input A dataset file (any format {@linkcode openDataset} reads).
 * @param output The output path; `.fvecs` writes `<stem>_base.fvecs` style siblings.
 * @throws {MembenchError} `invalid_argument` for impossible options, `file` for a malformed input.
 */
export async function convertDataset(
  input: string,
  output: string,
  options: ConvertOptions = {},
): Promise<ConvertResult> {
  const o = options;
  const format = o.format ?? (/\.fvecs$/i.test(output) ? "fvecs" : "membench");
  const block = o.blockRows ?? 16384;
  for (const [k, v] of [["queries", o.queries], ["gt", o.gt]] as const) {
    if (v !== undefined && (!Number.isInteger(v) || v < (k === "gt" ? 1 : 0))) {
      throw new MembenchError(
        "invalid_argument",
        `Cannot use '${k}': must be an integer >= ${k === "gt" ? 1 : 0}: current value is ${v}`,
      );
    }
  }
  using ds = await openDataset(input, o);
  const metric = o.metric ?? ds.metric ?? "L2";
  const plan = planRows(ds, o.queries);
  const dim = ds.base.dim;
  const gtDepth = o.gt ??
    (plan.heldOut ? 0 : (ds.neighbors?.dim ?? 0));
  const copyGt = o.gt === undefined && !plan.heldOut && ds.neighbors !== undefined &&
    plan.queries > 0;
  const progress = (phase: ConvertProgress["phase"], total: number) => (done: number) =>
    o.onProgress?.({ phase, done, total });
  const q = plan.queries;
  let gt: GroundTruth | undefined;

  if (format === "membench") {
    const md = ds.metadata;
    const w = await BinaryDatasetWriter.create(output, {
      name: o.name ?? ds.name,
      metric,
      dtype: o.dtype ?? "float32",
      dim,
      numVectors: plan.vectors,
      numQueries: q,
      numNeighbors: q > 0 ? gtDepth : 0,
      ...(md
        ? {
          metadata: {
            tagField: md.tagField,
            vocabulary: md.vocabulary,
            numericFields: md.numericFields,
          },
          queryMetadata: ds.queryMetadata !== undefined && !plan.heldOut,
        }
        : {}),
    });
    let closed = false;
    try {
      await copyRows(
        ds.base,
        0,
        plan.vectors,
        block,
        (at, v) => w.writeVectors(at, v),
        progress("vectors", plan.vectors),
        o.signal,
      );
      if (q > 0) {
        const src = plan.heldOut ? ds.base : ds.queries!;
        await copyRows(
          src,
          plan.queryStart,
          q,
          block,
          (at, v) => w.writeQueries(at, v),
          progress("queries", q),
          o.signal,
        );
      }
      if (md) {
        const p = progress("metadata", plan.vectors);
        for (let s = 0; s < plan.vectors; s += block) {
          const n = Math.min(block, plan.vectors - s);
          await w.writeMetadata(s, await md.read(s, n));
          p(s + n);
        }
        if (ds.queryMetadata && !plan.heldOut) {
          for (let s = 0; s < q; s += block) {
            await w.writeMetadata(
              s,
              await ds.queryMetadata.read(s, Math.min(block, q - s)),
              "queries",
            );
          }
        }
      }
      if (copyGt) {
        for (let s = 0; s < q; s += 4096) {
          const n = Math.min(4096, q - s);
          await w.writeGroundTruth(s, await ds.neighbors!.readInts(s, n));
        }
      }
      await w.close();
      closed = true;
      if (o.gt !== undefined && q > 0) {
        using out = await BinaryDataset.open(output);
        gt = await computeGroundTruth(out.vectors, out.queries!, {
          k: o.gt,
          metric,
          ...(o.threads !== undefined ? { threads: o.threads } : {}),
          ...(o.signal ? { signal: o.signal } : {}),
          onProgress: (p) => o.onProgress?.({ phase: "groundtruth", done: p.done, total: p.total }),
        });
        await writeBinaryGroundTruth(output, gt.ids);
      }
    } finally {
      if (!closed) await w.close().catch(() => {});
    }
    return {
      format,
      files: [output],
      vectors: plan.vectors,
      queries: q,
      dim,
      metric,
      groundTruthDepth: q > 0 ? gtDepth : 0,
      groundTruthComputed: gt !== undefined,
      heldOut: plan.heldOut,
      ...(gt ? { groundTruth: gt } : {}),
    };
  }

  // fvecs / ivecs
  const sib = fvecsSiblings(output);
  const files = [output];
  const wb = await VecsWriter.create(output, "fvecs", dim);
  try {
    await copyRows(
      ds.base,
      0,
      plan.vectors,
      block,
      (_at, v) => wb.write(v),
      progress("vectors", plan.vectors),
      o.signal,
    );
  } finally {
    await wb.close();
  }
  if (q > 0) {
    const wq = await VecsWriter.create(sib.query, "fvecs", dim);
    files.push(sib.query);
    try {
      const src = plan.heldOut ? ds.base : ds.queries!;
      await copyRows(
        src,
        plan.queryStart,
        q,
        block,
        (_at, v) => wq.write(v),
        progress("queries", q),
        o.signal,
      );
    } finally {
      await wq.close();
    }
  }
  if (q > 0 && (copyGt || o.gt !== undefined)) {
    let ids: Int32Array, dist: Float32Array | undefined;
    let depth: number;
    if (o.gt !== undefined) {
      using base = await VecsMatrix.open(output);
      using qs = await VecsMatrix.open(sib.query);
      gt = await computeGroundTruth(base, qs, {
        k: o.gt,
        metric,
        ...(o.threads !== undefined ? { threads: o.threads } : {}),
        ...(o.signal ? { signal: o.signal } : {}),
        onProgress: (p) => o.onProgress?.({ phase: "groundtruth", done: p.done, total: p.total }),
      });
      ids = gt.ids;
      dist = Float32Array.from(gt.distances);
      depth = o.gt;
    } else {
      ids = await ds.neighbors!.readInts(0, q);
      dist = ds.distances ? await ds.distances.read(0, q) : undefined;
      depth = ds.neighbors!.dim;
    }
    const wg = await VecsWriter.create(sib.groundTruth, "ivecs", depth);
    files.push(sib.groundTruth);
    await wg.write(ids);
    await wg.close();
    if (dist) {
      const wd = await VecsWriter.create(sib.distances, "fvecs", depth);
      files.push(sib.distances);
      await wd.write(dist);
      await wd.close();
    }
  }
  return {
    format,
    files,
    vectors: plan.vectors,
    queries: q,
    dim,
    metric,
    groundTruthDepth: q > 0 && (copyGt || o.gt !== undefined) ? (o.gt ?? ds.neighbors!.dim) : 0,
    groundTruthComputed: gt !== undefined,
    heldOut: plan.heldOut,
    ...(gt ? { groundTruth: gt } : {}),
  };
}

function planRows(
  ds: VectorDataset,
  queries: number | undefined,
): { vectors: number; queries: number; queryStart: number; heldOut: boolean } {
  const rows = ds.base.rows;
  if (ds.queries) {
    const q = queries ?? ds.queries.rows;
    if (q > ds.queries.rows) {
      throw new MembenchError(
        "invalid_argument",
        `Cannot keep ${q} queries: ${ds.queries.name} has ${ds.queries.rows}`,
      );
    }
    return { vectors: rows, queries: q, queryStart: 0, heldOut: false };
  }
  const q = queries ?? 0;
  if (q >= rows) {
    throw new MembenchError(
      "invalid_argument",
      `Cannot hold out ${q} queries from ${rows} vectors: at least one must stay in the base`,
    );
  }
  return { vectors: rows - q, queries: q, queryStart: rows - q, heldOut: q > 0 };
}
