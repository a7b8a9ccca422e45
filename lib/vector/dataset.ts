import { createHash } from "node:crypto";
import { MembenchError } from "../errors/mod.ts";
import { PositionalFile } from "./_file.ts";
import { BINARY_MAGIC, BinaryDataset } from "./binary.ts";
import { computeGroundTruth, type GroundTruth, type GroundTruthOptions } from "./groundtruth.ts";
import { Hdf5File } from "./hdf5.ts";
import { NpyMatrix } from "./npy.ts";
import { vecsKindOf, VecsMatrix } from "./vecs.ts";
import {
  datasetError,
  type DatasetFormat,
  type DistanceMetric,
  type ElementType,
  type MetadataTable,
  parseMetric,
  type VectorMatrix,
} from "./types.ts";

/** Options for {@linkcode openDataset}. */
export interface OpenDatasetOptions {
  /** Query vectors in another file (fvecs/bvecs/npy); by default `<stem>_query.<ext>` beside a `<stem>_base.<ext>`. */
  queryFile?: string;
  /** Ground-truth ids in another file (ivecs/npy); by default `<stem>_groundtruth.<ext>`. */
  groundTruthFile?: string;
  /** The metric, overriding what the file says (fvecs/npy files say nothing). */
  metric?: DistanceMetric;
}

/** Where a dataset's metric came from. */
export type MetricSource = "file" | "option" | "unknown";

/**
 * A vector dataset in any supported format: base vectors, and when present query vectors,
 * ground-truth neighbours and distances, and metadata. Everything is read by position on
 * demand; opening reads headers only.
 */
export interface VectorDataset extends Disposable {
  readonly path: string;
  readonly format: DatasetFormat;
  /** The dataset's name (binary header), or the file's stem. */
  readonly name: string;
  /** The metric, or undefined when neither the file nor the options say (callers default to L2). */
  readonly metric: DistanceMetric | undefined;
  readonly metricSource: MetricSource;
  readonly base: VectorMatrix;
  readonly queries: VectorMatrix | undefined;
  /** Ground-truth ids, one row per query, nearest first; `dim` is the depth. */
  readonly neighbors: VectorMatrix | undefined;
  readonly distances: VectorMatrix | undefined;
  readonly metadata: MetadataTable | undefined;
  readonly queryMetadata: MetadataTable | undefined;
  /** Every file the dataset was read from. */
  readonly files: readonly string[];
  close(): void;
}

function stemOf(path: string): string {
  const base = path.split("/").at(-1) ?? path;
  return base.replace(/\.[^.]+$/, "").replace(/_base$/, "");
}

async function exists(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

/** The format of a file, from its first bytes (HDF5, membench binary, .npy) or its extension. */
export async function detectFormat(path: string): Promise<DatasetFormat> {
  const f = await PositionalFile.open(path);
  try {
    const head = await f.read(0, Math.min(8, f.size));
    if (
      head.length >= 8 && head[0] === 0x89 && head[1] === 0x48 && head[2] === 0x44 &&
      head[3] === 0x46
    ) {
      return "hdf5";
    }
    if (head.length >= 4 && new DataView(head.buffer).getUint32(0, true) === BINARY_MAGIC) {
      return "membench";
    }
    if (
      head.length >= 6 && head[0] === 0x93 &&
      String.fromCharCode(...head.subarray(1, 6)) === "NUMPY"
    ) {
      return "npy";
    }
    const kind = vecsKindOf(path);
    if (kind) return kind;
    if (/\.(hdf5|h5)$/i.test(path)) return "hdf5";
    if (/\.(mbv|bin)$/i.test(path)) return "membench";
    if (/\.npy$/i.test(path)) return "npy";
    throw new MembenchError(
      "file",
      `Cannot tell the format of ${path}: not HDF5, membench binary or .npy by content, and not .fvecs/.ivecs/.bvecs by name`,
    );
  } finally {
    f.close();
  }
}

async function openMatrix(path: string): Promise<VectorMatrix & { close(): void }> {
  const fmt = await detectFormat(path);
  if (fmt === "npy") return await NpyMatrix.open(path);
  if (fmt === "fvecs" || fmt === "ivecs" || fmt === "bvecs") {
    return await VecsMatrix.open(path, fmt);
  }
  throw new MembenchError(
    "invalid_argument",
    `Cannot use ${path} as a side file: expected .fvecs, .ivecs, .bvecs or .npy`,
  );
}

/**
 * Opens a dataset in any supported format: TEXMEX fvecs/ivecs/bvecs (with `_query` and
 * `_groundtruth` siblings), ann-benchmarks HDF5 (`train`, `test`, `neighbors`, `distances`,
 * `distance` attribute), NumPy `.npy`, or membench's binary format.
 *
 * @throws {MembenchError} `file` naming the file, the offset (or HDF5 object) and the problem.
 */
export async function openDataset(
  path: string,
  options: OpenDatasetOptions = {},
): Promise<VectorDataset> {
  const format = await detectFormat(path);
  const closers: Array<{ close(): void }> = [];
  try {
    let d: Omit<VectorDataset, "close" | typeof Symbol.dispose | "metricSource" | "metric"> & {
      metric: DistanceMetric | undefined;
    };
    if (format === "membench") {
      const b = await BinaryDataset.open(path);
      closers.push(b);
      d = {
        path,
        format,
        name: b.header.name || stemOf(path),
        metric: b.header.metric,
        base: b.vectors,
        queries: b.queries,
        neighbors: b.neighbors,
        distances: undefined,
        metadata: b.metadata,
        queryMetadata: b.queryMetadata,
        files: [path],
      };
    } else if (format === "hdf5") {
      const h = await Hdf5File.open(path);
      closers.push(h);
      const hint = "ann-benchmarks files hold train, test, neighbors and distances";
      const need = (name: string) => {
        try {
          return h.matrix(name);
        } catch (e) {
          if (e instanceof MembenchError) {
            throw new MembenchError("file", e.message, { hint, cause: e });
          }
          throw e;
        }
      };
      const train = need("train");
      const test = need("test");
      const neighbors = need("neighbors");
      const distances = h.has("distances") ? h.matrix("distances") : undefined;
      const attr = h.attr("distance");
      d = {
        path,
        format,
        name: stemOf(path),
        metric: typeof attr === "string"
          ? parseMetric(attr, `distance attribute of ${path}`)
          : undefined,
        base: train,
        queries: test,
        neighbors,
        distances,
        metadata: undefined,
        queryMetadata: undefined,
        files: [path],
      };
    } else {
      const base = await openMatrix(path);
      closers.push(base);
      if (format === "ivecs") {
        throw new MembenchError(
          "invalid_argument",
          `Cannot use ${path} as base vectors: ivecs holds ids`,
        );
      }
      const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/") + 1) : "";
      const ext = path.slice(path.lastIndexOf(".") + 1);
      const sibling = /_base\.[^.]+$/.test(path);
      const stem = dir + stemOf(path);
      const find = async (explicit: string | undefined, names: string[]) => {
        if (explicit !== undefined) return explicit;
        if (!sibling) return undefined;
        for (const n of names) if (await exists(n)) return n;
        return undefined;
      };
      const qPath = await find(options.queryFile, [
        `${stem}_query.${ext}`,
        `${stem}_queries.${ext}`,
      ]);
      const gPath = await find(options.groundTruthFile, [
        `${stem}_groundtruth.ivecs`,
        `${stem}_groundtruth.npy`,
      ]);
      const dPath = gPath === undefined ? undefined : await find(undefined, [
        `${stem}_groundtruth_distances.fvecs`,
        `${stem}_groundtruth_distances.npy`,
      ]);
      const files = [path];
      const side = async (p: string | undefined) => {
        if (p === undefined) return undefined;
        const m = await openMatrix(p);
        closers.push(m);
        files.push(p);
        return m;
      };
      d = {
        path,
        format,
        name: stemOf(path),
        metric: undefined,
        base,
        queries: await side(qPath),
        neighbors: await side(gPath),
        distances: await side(dPath),
        metadata: undefined,
        queryMetadata: undefined,
        files,
      };
    }
    if (d.queries && d.queries.dim !== d.base.dim) {
      throw datasetError(
        d.queries.name,
        0,
        `query dimension ${d.queries.dim} differs from the base's ${d.base.dim} (${d.base.name})`,
      );
    }
    if (d.neighbors && d.queries && d.neighbors.rows !== d.queries.rows) {
      throw datasetError(
        d.neighbors.name,
        0,
        `${d.neighbors.rows} ground-truth rows for ${d.queries.rows} queries`,
      );
    }
    if (d.neighbors && !d.queries) {
      throw new MembenchError(
        "file",
        `Cannot use ground truth ${d.neighbors.name} without queries`,
      );
    }
    const metric = options.metric ?? d.metric;
    const metricSource: MetricSource = options.metric ? "option" : d.metric ? "file" : "unknown";
    const close = () => {
      for (const c of closers) c.close();
    };
    return { ...d, metric, metricSource, close, [Symbol.dispose]: close };
  } catch (e) {
    for (const c of closers) c.close();
    throw e;
  }
}

/** Options for {@linkcode datasetGroundTruth}. */
export type DatasetGroundTruthOptions = Omit<GroundTruthOptions, "metadata">;

/**
 * Exact ground truth of a dataset's queries over the vectors that will be loaded (see
 * {@linkcode computeGroundTruth}), with the dataset's metric unless one is given.
 *
 * @throws {MembenchError} `invalid_argument` when the dataset has no queries.
 */
export function datasetGroundTruth(
  ds: VectorDataset,
  options: DatasetGroundTruthOptions,
): Promise<GroundTruth> {
  if (!ds.queries) {
    throw new MembenchError(
      "invalid_argument",
      `Cannot compute ground truth: ${ds.path} has no queries`,
    );
  }
  return computeGroundTruth(ds.base, ds.queries, {
    ...options,
    metric: options.metric ?? ds.metric ?? "L2",
    ...(ds.metadata ? { metadata: ds.metadata } : {}),
  });
}

/** What {@linkcode datasetInfo} reports. */
export interface DatasetInfo {
  path: string;
  format: DatasetFormat;
  name: string;
  dim: number;
  vectors: number;
  queries: number;
  elementType: ElementType;
  metric: DistanceMetric | undefined;
  metricSource: MetricSource;
  /** Neighbours per query in the shipped ground truth (0: none). */
  groundTruthDepth: number;
  hasDistances: boolean;
  metadata?: {
    tagField: string;
    vocabulary: readonly string[];
    numericFields: readonly string[];
    queryMetadata: boolean;
  };
  /** Each file with its size and SHA-256 (when asked for). */
  files: Array<{ path: string; bytes: number; sha256?: string }>;
  /** Whether every row was read back and checked. */
  verified: boolean;
}

/** Options for {@linkcode datasetInfo}. */
export interface DatasetInfoOptions extends OpenDatasetOptions {
  /** SHA-256 of every file (one streaming read each). @default {true} */
  checksum?: boolean;
  /** Read every row of every matrix, which finds malformed records anywhere. @default {true} */
  verify?: boolean;
}

/** SHA-256 of a file, streamed. */
export async function sha256File(path: string): Promise<string> {
  const h = createHash("sha256");
  using f = await Deno.open(path, { read: true });
  const buf = new Uint8Array(1 << 20);
  for (;;) {
    const n = await f.read(buf);
    if (n === null) break;
    h.update(buf.subarray(0, n));
  }
  return h.digest("hex");
}

/** Reads every row of a matrix in blocks (the readers check each record as they go). */
export async function verifyMatrix(m: VectorMatrix, rowsPerRead = 0): Promise<void> {
  const rows = rowsPerRead || Math.max(1, Math.floor((8 << 20) / Math.max(1, m.dim * 4)));
  const buf = new Float32Array(Math.min(rows, m.rows) * m.dim);
  for (let s = 0; s < m.rows; s += rows) await m.read(s, Math.min(rows, m.rows - s), buf);
}

/**
 * Format, dimension, counts, element type, metric, ground-truth depth, metadata fields and
 * checksums of a dataset; with `verify`, every row is read back, so a malformed record anywhere
 * is reported with its offset.
 *
 * @throws {MembenchError} `file` for a malformed dataset.
 */
export async function datasetInfo(
  path: string,
  options: DatasetInfoOptions = {},
): Promise<DatasetInfo> {
  using ds = await openDataset(path, options);
  const verify = options.verify ?? true;
  if (verify) {
    for (const m of [ds.base, ds.queries, ds.distances]) if (m) await verifyMatrix(m);
    if (ds.neighbors) {
      for (let s = 0; s < ds.neighbors.rows; s += 4096) {
        await ds.neighbors.readInts(s, Math.min(4096, ds.neighbors.rows - s));
      }
    }
  }
  const files: DatasetInfo["files"] = [];
  for (const f of ds.files) {
    const bytes = (await Deno.stat(f)).size;
    files.push({
      path: f,
      bytes,
      ...(options.checksum ?? true ? { sha256: await sha256File(f) } : {}),
    });
  }
  return {
    path,
    format: ds.format,
    name: ds.name,
    dim: ds.base.dim,
    vectors: ds.base.rows,
    queries: ds.queries?.rows ?? 0,
    elementType: ds.base.elementType,
    metric: ds.metric,
    metricSource: ds.metricSource,
    groundTruthDepth: ds.neighbors?.dim ?? 0,
    hasDistances: ds.distances !== undefined,
    ...(ds.metadata
      ? {
        metadata: {
          tagField: ds.metadata.tagField,
          vocabulary: ds.metadata.vocabulary,
          numericFields: ds.metadata.numericFields,
          queryMetadata: ds.queryMetadata !== undefined,
        },
      }
      : {}),
    files,
    verified: verify,
  };
}
