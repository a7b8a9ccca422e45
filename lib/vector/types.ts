import { MembenchError } from "../errors/mod.ts";

/**
 * Distance metrics, named as valkey-search and RediSearch name them. Distances are reported as:
 * `L2` the Euclidean distance (not squared, as TEXMEX and ann-benchmarks ship them), `IP`
 * `1 - q·v`, `COSINE` `1 - q·v / (|q| |v|)` (a zero vector is at distance 1 from everything).
 */
export type DistanceMetric = "L2" | "IP" | "COSINE";

/** The metrics, in the order of their codes in the binary format (0 L2, 1 IP, 2 COSINE). */
export const METRICS: readonly DistanceMetric[] = ["L2", "IP", "COSINE"];

/** How numbers are stored in a file. Readers hand vectors out as float32 whatever this is. */
export type ElementType = "float32" | "float16" | "float64" | "uint8" | "int8" | "int32" | "int64";

/** Bytes per element of each {@linkcode ElementType}. */
export const ELEMENT_BYTES: Readonly<Record<ElementType, number>> = {
  float32: 4,
  float16: 2,
  float64: 8,
  uint8: 1,
  int8: 1,
  int32: 4,
  int64: 8,
};

/** The file formats membench reads. */
export type DatasetFormat = "fvecs" | "ivecs" | "bvecs" | "hdf5" | "npy" | "membench";

/**
 * A metric from what users and files call it: `L2`, `euclidean`, `IP`, `dot`,
 * `inner_product`, `COSINE`, `angular` (case ignored).
 *
 * @throws {MembenchError} `invalid_argument` for anything else (hamming, jaccard, …).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(parseMetric("euclidean"), "L2");
 * assert.equal(parseMetric("angular"), "COSINE");
 * ```
 */
export function parseMetric(name: string, what = "metric"): DistanceMetric {
  switch (name.trim().toLowerCase()) {
    case "l2":
    case "euclidean":
      return "L2";
    case "ip":
    case "dot":
    case "inner_product":
    case "innerproduct":
      return "IP";
    case "cosine":
    case "angular":
      return "COSINE";
    default:
      throw new MembenchError(
        "invalid_argument",
        `Cannot use ${what} ${
          JSON.stringify(name)
        }: expected L2 (euclidean), IP (dot) or COSINE (angular)`,
      );
  }
}

/**
 * The error for a malformed dataset file: names the file, the byte offset and the problem.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const e = datasetError("a.fvecs", 516, "truncated record");
 * assert.equal(e.message, "Cannot read dataset a.fvecs at byte 516: truncated record");
 * assert.equal(e.code, "file");
 * ```
 */
export function datasetError(
  path: string,
  at: number | string,
  problem: string,
  cause?: unknown,
): MembenchError {
  const place = typeof at === "number" ? `at byte ${at}` : `at ${at}`;
  return new MembenchError("file", `Cannot read dataset ${path} ${place}: ${problem}`, {
    ...(cause !== undefined ? { cause } : {}),
  });
}

/**
 * A 2-D array of numbers in a file (vectors, query vectors, neighbour ids or distances), read by
 * position: no reader scans a file to hand out a row.
 */
export interface VectorMatrix {
  /** Where it lives, for messages: a path, or `path:/dataset` inside an HDF5 file. */
  readonly name: string;
  /** Number of rows. */
  readonly rows: number;
  /** Values per row. */
  readonly dim: number;
  /** How the values are stored. */
  readonly elementType: ElementType;
  /**
   * Rows `[start, start + n)` as float32, row after row. With `into` (at least `n * dim` long)
   * the rows are written there and a view of it is returned: a streaming reader reuses one
   * buffer instead of allocating a block per read.
   *
   * @throws {MembenchError} `file` naming the byte offset when the file is malformed there.
   */
  read(start: number, n: number, into?: Float32Array): Promise<Float32Array>;
  /** Rows `[start, start + n)` as int32 (neighbour ids); fails if a value does not fit. */
  readInts(start: number, n: number): Promise<Int32Array>;
}

/** Per-vector metadata for filtered search: one tag field over a vocabulary, numeric fields. */
export interface MetadataTable {
  /** Name of the tag field (`@tag:{…}` in a filter). */
  readonly tagField: string;
  /** The tags; a row's bitset bit `i` is `vocabulary[i]`. */
  readonly vocabulary: readonly string[];
  /** Names of the numeric fields, in column order. */
  readonly numericFields: readonly string[];
  /** Rows (one per vector). */
  readonly rows: number;
  /** 32-bit words of tag bitset per row: `ceil(vocabulary.length / 32)`. */
  readonly tagWords: number;
  /** Rows `[start, start + n)`: tag bitsets (`n * tagWords`) and numbers (`n * numericFields`). */
  read(start: number, n: number): Promise<MetadataRows>;
}

/** Metadata of consecutive rows. */
export interface MetadataRows {
  /** `tagWords` little-endian u32 words per row. */
  tags: Uint32Array;
  /** `numericFields.length` values per row. */
  numbers: Float64Array;
}
