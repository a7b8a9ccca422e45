import { MembenchError } from "../errors/mod.ts";
import { PositionalFile, readFloat32, toInt32 } from "./_file.ts";
import {
  datasetError,
  type DistanceMetric,
  ELEMENT_BYTES,
  type ElementType,
  type MetadataRows,
  type MetadataTable,
  METRICS,
  type VectorMatrix,
} from "./types.ts";

/**
 * membench's binary dataset format, which is valkey-search-benchmark's layout so that files
 * interoperate. All numbers little-endian. A 4096-byte packed header:
 *
 * | byte | field | |
 * |---|---|---|
 * | 0 | u32 magic | `0xDECDB001` |
 * | 4 | u32 version | 1 (2 is read too) |
 * | 8 | 256 bytes name | UTF-8, NUL-padded |
 * | 264 | u8 metric | 0 L2, 1 IP, 2 COSINE |
 * | 265 | u8 dtype | 0 float32, 1 float16 |
 * | 266 | u8 has_metadata | 1 when the vector metadata section is present |
 * | 267 | u8 padding | 0 |
 * | 268 | u32 dim | |
 * | 272 | u64 num_vectors | |
 * | 280 | u64 num_queries | |
 * | 288 | u32 num_neighbors | ground-truth depth (0: none) |
 * | 292 | u32 vocab_size | tags in the vocabulary |
 * | 296 | u64 offsets | vectors, queries, ground truth, vector metadata, query metadata, vocabulary (0: absent) |
 * | 344 | reserved | zeros up to 4096 |
 *
 * Sections: vectors and queries are rows of `dim` values of `dtype`; the ground truth is
 * `num_queries x num_neighbors` u64 vector ids, nearest first (`2^64 - 1` pads a row when
 * fewer vectors qualified). A metadata section (membench's layout; readers that ignore the
 * metadata offsets read the rest unchanged) is: u32 `tag_words` W, u32 `numeric_fields` F, the
 * tag field's name (32 bytes NUL-padded), F numeric field names (32 bytes each), then one
 * record per row: a W-word u32 bitset of tags (bit i = vocabulary entry i) and F float64
 * values. The vocabulary is `vocab_size` entries of u16 byte length + UTF-8 bytes.
 */
export const BINARY_MAGIC = 0xDECDB001;
/** Size of the header. */
export const BINARY_HEADER_BYTES = 4096;
const NAME_BYTES = 256;
const FIELD_NAME_BYTES = 32;

/** The decoded header of a binary dataset. */
export interface BinaryHeader {
  version: number;
  name: string;
  metric: DistanceMetric;
  dtype: "float32" | "float16";
  hasMetadata: boolean;
  dim: number;
  numVectors: number;
  numQueries: number;
  numNeighbors: number;
  vocabSize: number;
  vectorsOffset: number;
  queriesOffset: number;
  groundTruthOffset: number;
  vectorMetadataOffset: number;
  queryMetadataOffset: number;
  vocabOffset: number;
}

/** Layout of a metadata section: what a writer is given. */
export interface MetadataSchema {
  /** Name of the tag field. @default {"tag"} */
  tagField?: string;
  /** Tag names; bit i of a row's bitset is `vocabulary[i]`. */
  vocabulary: readonly string[];
  /** Numeric field names. */
  numericFields: readonly string[];
}

function metadataHeaderBytes(numeric: number): number {
  return 8 + FIELD_NAME_BYTES * (1 + numeric);
}

function metadataRecordBytes(tagWords: number, numeric: number): number {
  return tagWords * 4 + numeric * 8;
}

/**
 * Decodes and checks a header against the file size.
 *
 * @throws {MembenchError} `file` naming the header field's byte and the problem (wrong magic,
 * unknown version, metric or dtype, or a section past the end of the file).
 */
export function decodeBinaryHeader(
  path: string,
  bytes: Uint8Array,
  fileSize: number,
): BinaryHeader {
  if (bytes.length < BINARY_HEADER_BYTES || fileSize < BINARY_HEADER_BYTES) {
    throw datasetError(path, 0, `file has ${fileSize} bytes, the header alone needs 4096`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, BINARY_HEADER_BYTES);
  const magic = dv.getUint32(0, true);
  if (magic !== BINARY_MAGIC) {
    throw datasetError(
      path,
      0,
      `wrong magic 0x${magic.toString(16).toUpperCase().padStart(8, "0")} (expected 0xDECDB001)`,
    );
  }
  const version = dv.getUint32(4, true);
  if (version !== 1 && version !== 2) throw datasetError(path, 4, `unknown version ${version}`);
  const nameRaw = bytes.subarray(8, 8 + NAME_BYTES);
  const nul = nameRaw.indexOf(0);
  const name = new TextDecoder().decode(nul < 0 ? nameRaw : nameRaw.subarray(0, nul));
  const metricCode = dv.getUint8(264);
  const metric = METRICS[metricCode];
  if (metric === undefined) throw datasetError(path, 264, `unknown metric code ${metricCode}`);
  const dtypeCode = dv.getUint8(265);
  if (dtypeCode > 1) throw datasetError(path, 265, `unknown dtype code ${dtypeCode}`);
  const u64 = (at: number) => {
    const v = dv.getBigUint64(at, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw datasetError(path, at, `value ${v} is too large`);
    }
    return Number(v);
  };
  const h: BinaryHeader = {
    version,
    name,
    metric,
    dtype: dtypeCode === 1 ? "float16" : "float32",
    hasMetadata: dv.getUint8(266) === 1,
    dim: dv.getUint32(268, true),
    numVectors: u64(272),
    numQueries: u64(280),
    numNeighbors: dv.getUint32(288, true),
    vocabSize: dv.getUint32(292, true),
    vectorsOffset: u64(296),
    queriesOffset: u64(304),
    groundTruthOffset: u64(312),
    vectorMetadataOffset: u64(320),
    queryMetadataOffset: u64(328),
    vocabOffset: u64(336),
  };
  if (h.dim < 1) throw datasetError(path, 268, "dimension is 0");
  const rowBytes = h.dim * (h.dtype === "float16" ? 2 : 4);
  const section = (field: number, label: string, offset: number, bytes: number) => {
    if (bytes === 0) return;
    if (offset < BINARY_HEADER_BYTES) {
      throw datasetError(path, field, `${label} offset ${offset} points into the header`);
    }
    if (offset + bytes > fileSize) {
      throw datasetError(
        path,
        field,
        `${label} offset ${offset} + ${bytes} bytes is past the end of the file (${fileSize} bytes)`,
      );
    }
  };
  section(296, "vectors", h.vectorsOffset, h.numVectors * rowBytes);
  section(304, "queries", h.queriesOffset, h.numQueries * rowBytes);
  section(312, "ground truth", h.groundTruthOffset, h.numQueries * h.numNeighbors * 8);
  if (h.hasMetadata) section(320, "vector metadata", h.vectorMetadataOffset, 8);
  if (h.queryMetadataOffset !== 0) section(328, "query metadata", h.queryMetadataOffset, 8);
  if (h.vocabSize > 0) section(336, "vocabulary", h.vocabOffset, 2 * h.vocabSize);
  return h;
}

/** Encodes a header (the inverse of {@linkcode decodeBinaryHeader}). */
export function encodeBinaryHeader(h: BinaryHeader): Uint8Array {
  const out = new Uint8Array(BINARY_HEADER_BYTES);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, BINARY_MAGIC, true);
  dv.setUint32(4, h.version, true);
  const name = new TextEncoder().encode(h.name);
  if (name.length >= NAME_BYTES) {
    throw new MembenchError(
      "invalid_argument",
      `Cannot use dataset name: must be under ${NAME_BYTES} bytes: current value is ${
        JSON.stringify(h.name)
      }`,
    );
  }
  out.set(name, 8);
  dv.setUint8(264, METRICS.indexOf(h.metric));
  dv.setUint8(265, h.dtype === "float16" ? 1 : 0);
  dv.setUint8(266, h.hasMetadata ? 1 : 0);
  dv.setUint32(268, h.dim, true);
  dv.setBigUint64(272, BigInt(h.numVectors), true);
  dv.setBigUint64(280, BigInt(h.numQueries), true);
  dv.setUint32(288, h.numNeighbors, true);
  dv.setUint32(292, h.vocabSize, true);
  dv.setBigUint64(296, BigInt(h.vectorsOffset), true);
  dv.setBigUint64(304, BigInt(h.queriesOffset), true);
  dv.setBigUint64(312, BigInt(h.groundTruthOffset), true);
  dv.setBigUint64(320, BigInt(h.vectorMetadataOffset), true);
  dv.setBigUint64(328, BigInt(h.queryMetadataOffset), true);
  dv.setBigUint64(336, BigInt(h.vocabOffset), true);
  return out;
}

class BinaryMatrix implements VectorMatrix {
  readonly name: string;
  readonly rows: number;
  readonly dim: number;
  readonly elementType: ElementType;
  #file: PositionalFile;
  #offset: number;

  constructor(
    file: PositionalFile,
    label: string,
    offset: number,
    rows: number,
    dim: number,
    type: ElementType,
  ) {
    this.#file = file;
    this.name = `${file.path} (${label})`;
    this.#offset = offset;
    this.rows = rows;
    this.dim = dim;
    this.elementType = type;
  }

  #raw(start: number, n: number, dest?: Uint8Array): Promise<Uint8Array> {
    if (start < 0 || n < 0 || start + n > this.rows) {
      throw new RangeError(
        `Cannot read rows ${start}..${start + n} of ${this.name}: it has ${this.rows} rows`,
      );
    }
    const row = this.dim * ELEMENT_BYTES[this.elementType];
    return this.#file.read(this.#offset + start * row, n * row, dest);
  }

  read(start: number, n: number, into?: Float32Array): Promise<Float32Array> {
    return readFloat32((d) => this.#raw(start, n, d), this.elementType, n * this.dim, into);
  }

  async readInts(start: number, n: number): Promise<Int32Array> {
    const raw = await this.#raw(start, n);
    if (this.elementType === "int64") {
      // u64 ids; 2^64 - 1 (read as -1) pads.
      const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      const out = new Int32Array(n * this.dim);
      for (let i = 0; i < out.length; i++) {
        const v = dv.getBigUint64(i * 8, true);
        if (v === 0xFFFFFFFFFFFFFFFFn) out[i] = -1;
        else if (v > 2147483647n) {
          throw datasetError(
            this.#file.path,
            this.#offset + (start * this.dim + i) * 8,
            `id ${v} does not fit in int32`,
          );
        } else out[i] = Number(v);
      }
      return out;
    }
    const r = toInt32(raw, this.elementType, n * this.dim);
    if (typeof r === "number") {
      throw datasetError(this.#file.path, this.#offset, "value is not an int32 id");
    }
    return r;
  }
}

class BinaryMetadata implements MetadataTable {
  readonly tagField: string;
  readonly vocabulary: readonly string[];
  readonly numericFields: readonly string[];
  readonly rows: number;
  readonly tagWords: number;
  #file: PositionalFile;
  #dataOffset: number;
  #record: number;

  constructor(
    file: PositionalFile,
    tagField: string,
    vocabulary: readonly string[],
    numericFields: readonly string[],
    rows: number,
    tagWords: number,
    dataOffset: number,
  ) {
    this.#file = file;
    this.tagField = tagField;
    this.vocabulary = vocabulary;
    this.numericFields = numericFields;
    this.rows = rows;
    this.tagWords = tagWords;
    this.#dataOffset = dataOffset;
    this.#record = metadataRecordBytes(tagWords, numericFields.length);
  }

  async read(start: number, n: number): Promise<MetadataRows> {
    if (start < 0 || n < 0 || start + n > this.rows) {
      throw new RangeError(`Cannot read metadata rows ${start}..${start + n} of ${this.rows}`);
    }
    const W = this.tagWords, F = this.numericFields.length;
    const raw = await this.#file.read(this.#dataOffset + start * this.#record, n * this.#record);
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const tags = new Uint32Array(n * W), numbers = new Float64Array(n * F);
    for (let r = 0; r < n; r++) {
      const at = r * this.#record;
      for (let w = 0; w < W; w++) tags[r * W + w] = dv.getUint32(at + 4 * w, true);
      for (let f = 0; f < F; f++) numbers[r * F + f] = dv.getFloat64(at + 4 * W + 8 * f, true);
    }
    return { tags, numbers };
  }
}

function fieldName(bytes: Uint8Array): string {
  const nul = bytes.indexOf(0);
  return new TextDecoder().decode(nul < 0 ? bytes : bytes.subarray(0, nul));
}

/** A binary dataset file open for reading. */
export class BinaryDataset implements Disposable {
  readonly path: string;
  readonly header: BinaryHeader;
  readonly vectors: VectorMatrix;
  readonly queries: VectorMatrix | undefined;
  readonly neighbors: VectorMatrix | undefined;
  readonly metadata: MetadataTable | undefined;
  readonly queryMetadata: MetadataTable | undefined;
  readonly vocabulary: readonly string[];
  #file: PositionalFile;

  private constructor(
    file: PositionalFile,
    header: BinaryHeader,
    vocabulary: readonly string[],
    metadata: MetadataTable | undefined,
    queryMetadata: MetadataTable | undefined,
  ) {
    this.#file = file;
    this.path = file.path;
    this.header = header;
    this.vocabulary = vocabulary;
    this.metadata = metadata;
    this.queryMetadata = queryMetadata;
    const h = header;
    this.vectors = new BinaryMatrix(file, "vectors", h.vectorsOffset, h.numVectors, h.dim, h.dtype);
    this.queries = h.numQueries > 0
      ? new BinaryMatrix(file, "queries", h.queriesOffset, h.numQueries, h.dim, h.dtype)
      : undefined;
    this.neighbors = h.numQueries > 0 && h.numNeighbors > 0
      ? new BinaryMatrix(
        file,
        "ground truth",
        h.groundTruthOffset,
        h.numQueries,
        h.numNeighbors,
        "int64",
      )
      : undefined;
  }

  /**
   * Opens and checks a binary dataset: header, section bounds, metadata and vocabulary.
   *
   * @throws {MembenchError} `file` naming the byte offset and the problem.
   */
  static async open(path: string): Promise<BinaryDataset> {
    const file = await PositionalFile.open(path);
    try {
      if (file.size < BINARY_HEADER_BYTES) {
        throw datasetError(path, 0, `file has ${file.size} bytes, the header alone needs 4096`);
      }
      const h = decodeBinaryHeader(path, await file.read(0, BINARY_HEADER_BYTES), file.size);
      const vocabulary = await readVocabulary(file, h);
      const meta = async (field: number, label: string, offset: number, rows: number) => {
        const pre = await file.read(offset, 8);
        const pdv = new DataView(pre.buffer);
        const W = pdv.getUint32(0, true), F = pdv.getUint32(4, true);
        if (W !== Math.ceil(h.vocabSize / 32)) {
          throw datasetError(
            path,
            offset,
            `${label} has ${W} tag words per row, but the vocabulary of ${h.vocabSize} needs ${
              Math.ceil(h.vocabSize / 32)
            }`,
          );
        }
        if (F > 1024) throw datasetError(path, offset + 4, `${F} numeric fields is implausible`);
        const headBytes = metadataHeaderBytes(F);
        const need = headBytes + rows * metadataRecordBytes(W, F);
        if (offset + need > file.size) {
          throw datasetError(
            path,
            field,
            `${label} offset ${offset} + ${need} bytes is past the end of the file (${file.size} bytes)`,
          );
        }
        const names = await file.read(offset + 8, FIELD_NAME_BYTES * (1 + F));
        const tagField = fieldName(names.subarray(0, FIELD_NAME_BYTES)) || "tag";
        const numeric: string[] = [];
        for (let f = 0; f < F; f++) {
          numeric.push(
            fieldName(names.subarray(FIELD_NAME_BYTES * (1 + f), FIELD_NAME_BYTES * (2 + f))),
          );
        }
        return new BinaryMetadata(file, tagField, vocabulary, numeric, rows, W, offset + headBytes);
      };
      const md = h.hasMetadata
        ? await meta(320, "vector metadata", h.vectorMetadataOffset, h.numVectors)
        : undefined;
      const qmd = h.queryMetadataOffset !== 0 && h.numQueries > 0
        ? await meta(328, "query metadata", h.queryMetadataOffset, h.numQueries)
        : undefined;
      return new BinaryDataset(file, h, vocabulary, md, qmd);
    } catch (e) {
      file.close();
      throw e;
    }
  }

  close(): void {
    this.#file.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

async function readVocabulary(file: PositionalFile, h: BinaryHeader): Promise<string[]> {
  if (h.vocabSize === 0) return [];
  const out: string[] = [];
  // Entries are short; read the rest of the file from the vocabulary on, in pieces.
  let at = h.vocabOffset;
  const dec = new TextDecoder("utf-8", { fatal: true });
  for (let i = 0; i < h.vocabSize; i++) {
    if (at + 2 > file.size) {
      throw datasetError(file.path, at, `vocabulary entry ${i} of ${h.vocabSize} is cut short`);
    }
    const len = new DataView((await file.read(at, 2)).buffer).getUint16(0, true);
    if (at + 2 + len > file.size) {
      throw datasetError(file.path, at, `vocabulary entry ${i} (${len} bytes) is cut short`);
    }
    try {
      out.push(dec.decode(await file.read(at + 2, len)));
    } catch (e) {
      throw datasetError(file.path, at + 2, `vocabulary entry ${i} is not UTF-8`, e);
    }
    at += 2 + len;
  }
  return out;
}

/** What a binary dataset will hold; sizes are fixed up front so sections can be written in any order. */
export interface BinaryWriterOptions {
  /** Dataset name (under 256 bytes). @default {""} */
  name?: string;
  metric: DistanceMetric;
  /** Stored element type. @default {"float32"} */
  dtype?: "float32" | "float16";
  dim: number;
  numVectors: number;
  /** @default {0} */
  numQueries?: number;
  /** Ground-truth depth. @default {0} */
  numNeighbors?: number;
  /** Per-vector metadata layout (and vocabulary). */
  metadata?: MetadataSchema;
  /** Whether queries have metadata too (same layout). @default {false} */
  queryMetadata?: boolean;
}

/**
 * Writes a binary dataset. Offsets are computed from the declared sizes, so each section can be
 * written in pieces, in any order; the header is written at {@linkcode BinaryDatasetWriter.close}.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const path = await Deno.makeTempFile({ suffix: ".mbv" });
 * const w = await BinaryDatasetWriter.create(path, { metric: "L2", dim: 2, numVectors: 2 });
 * await w.writeVectors(0, new Float32Array([1, 2, 3, 4]));
 * await w.close();
 * using ds = await BinaryDataset.open(path);
 * assert.deepEqual([...await ds.vectors.read(0, 2)], [1, 2, 3, 4]);
 * await Deno.remove(path);
 * ```
 */
export class BinaryDatasetWriter {
  readonly path: string;
  readonly header: BinaryHeader;
  #file: Deno.FsFile;
  #schema: MetadataSchema | undefined;
  #tagWords: number;

  private constructor(
    path: string,
    file: Deno.FsFile,
    header: BinaryHeader,
    schema: MetadataSchema | undefined,
  ) {
    this.path = path;
    this.#file = file;
    this.header = header;
    this.#schema = schema;
    this.#tagWords = Math.ceil((schema?.vocabulary.length ?? 0) / 32);
  }

  /** Creates (or truncates) `path` with room for every declared section. */
  static async create(path: string, o: BinaryWriterOptions): Promise<BinaryDatasetWriter> {
    const dtype = o.dtype ?? "float32";
    const nq = o.numQueries ?? 0, nn = o.numNeighbors ?? 0;
    for (const [k, v] of [["dim", o.dim], ["numVectors", o.numVectors], ["numQueries", nq]]) {
      if (!Number.isInteger(v) || (v as number) < (k === "dim" ? 1 : 0)) {
        throw new MembenchError(
          "invalid_argument",
          `Cannot write ${path}: '${k}' must be an integer >= ${
            k === "dim" ? 1 : 0
          }: current value is ${v}`,
        );
      }
    }
    const schema = o.metadata;
    for (const [i, f] of (schema?.numericFields ?? []).entries()) {
      if (new TextEncoder().encode(f).length >= FIELD_NAME_BYTES || f === "") {
        throw new MembenchError(
          "invalid_argument",
          `Cannot use numeric field ${i} ${JSON.stringify(f)}: names are 1 to 31 bytes`,
        );
      }
    }
    const rowBytes = o.dim * (dtype === "float16" ? 2 : 4);
    const align = (x: number) => Math.ceil(x / 8) * 8;
    let at = BINARY_HEADER_BYTES;
    const take = (bytes: number) => {
      if (bytes === 0) return 0;
      const off = at;
      at = align(at + bytes);
      return off;
    };
    const W = Math.ceil((schema?.vocabulary.length ?? 0) / 32);
    const F = schema?.numericFields.length ?? 0;
    const mdBytes = (rows: number) => metadataHeaderBytes(F) + rows * metadataRecordBytes(W, F);
    const vocabBytes = (schema?.vocabulary ?? []).reduce(
      (s, t) => s + 2 + new TextEncoder().encode(t).length,
      0,
    );
    const h: BinaryHeader = {
      version: 1,
      name: o.name ?? "",
      metric: o.metric,
      dtype,
      hasMetadata: schema !== undefined,
      dim: o.dim,
      numVectors: o.numVectors,
      numQueries: nq,
      numNeighbors: nq > 0 ? nn : 0,
      vocabSize: schema?.vocabulary.length ?? 0,
      vectorsOffset: take(o.numVectors * rowBytes) || BINARY_HEADER_BYTES,
      queriesOffset: take(nq * rowBytes),
      groundTruthOffset: take(nq * nn * 8),
      vectorMetadataOffset: schema ? take(mdBytes(o.numVectors)) : 0,
      queryMetadataOffset: schema && o.queryMetadata && nq > 0 ? take(mdBytes(nq)) : 0,
      vocabOffset: take(vocabBytes),
    };
    encodeBinaryHeader(h); // checks the name before the file is created
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { write: true, create: true, truncate: true });
    } catch (e) {
      throw new MembenchError("file", `Cannot create ${path}: ${(e as Error).message}`, {
        cause: e,
      });
    }
    const w = new BinaryDatasetWriter(path, file, h, schema);
    try {
      await file.truncate(at);
      if (schema) {
        const header = (offset: number) => {
          const b = new Uint8Array(metadataHeaderBytes(F));
          const dv = new DataView(b.buffer);
          dv.setUint32(0, W, true);
          dv.setUint32(4, F, true);
          b.set(new TextEncoder().encode(schema.tagField ?? "tag").subarray(0, 31), 8);
          for (const [i, f] of schema.numericFields.entries()) {
            b.set(new TextEncoder().encode(f), 8 + FIELD_NAME_BYTES * (1 + i));
          }
          return w.#writeAt(offset, b);
        };
        await header(h.vectorMetadataOffset);
        if (h.queryMetadataOffset) await header(h.queryMetadataOffset);
        const vb = new Uint8Array(vocabBytes);
        let p = 0;
        for (const t of schema.vocabulary) {
          const e = new TextEncoder().encode(t);
          if (e.length > 0xffff) throw new RangeError(`Tag ${t.slice(0, 20)}… is too long`);
          new DataView(vb.buffer).setUint16(p, e.length, true);
          vb.set(e, p + 2);
          p += 2 + e.length;
        }
        if (vb.length) await w.#writeAt(h.vocabOffset, vb);
      }
    } catch (e) {
      file.close();
      throw e;
    }
    return w;
  }

  async #writeAt(offset: number, bytes: Uint8Array): Promise<void> {
    await this.#file.seek(offset, Deno.SeekMode.Start);
    let off = 0;
    while (off < bytes.length) off += await this.#file.write(bytes.subarray(off));
  }

  #encodeRows(values: ArrayLike<number>, rows: number): Uint8Array {
    const n = rows * this.header.dim;
    if (values.length !== n) {
      throw new RangeError(
        `Cannot write ${values.length} values as ${rows} rows of ${this.header.dim}`,
      );
    }
    if (this.header.dtype === "float16") {
      const f = Float16Array.from(values as ArrayLike<number>);
      return new Uint8Array(f.buffer);
    }
    const f = values instanceof Float32Array ? values : Float32Array.from(values);
    return new Uint8Array(f.buffer, f.byteOffset, f.byteLength);
  }

  #check(label: string, start: number, rows: number, total: number): void {
    if (!Number.isInteger(start) || start < 0 || start + rows > total) {
      throw new RangeError(`Cannot write ${label} rows ${start}..${start + rows} of ${total}`);
    }
  }

  /** Writes vectors `[start, start + values.length / dim)`. */
  writeVectors(start: number, values: ArrayLike<number>): Promise<void> {
    const rows = values.length / this.header.dim;
    this.#check("vector", start, rows, this.header.numVectors);
    const rowBytes = this.header.dim * (this.header.dtype === "float16" ? 2 : 4);
    return this.#writeAt(
      this.header.vectorsOffset + start * rowBytes,
      this.#encodeRows(values, rows),
    );
  }

  /** Writes queries `[start, …)`. */
  writeQueries(start: number, values: ArrayLike<number>): Promise<void> {
    const rows = values.length / this.header.dim;
    this.#check("query", start, rows, this.header.numQueries);
    const rowBytes = this.header.dim * (this.header.dtype === "float16" ? 2 : 4);
    return this.#writeAt(
      this.header.queriesOffset + start * rowBytes,
      this.#encodeRows(values, rows),
    );
  }

  /** Writes ground-truth rows `[start, …)`: `numNeighbors` ids per query; negative ids pad. */
  writeGroundTruth(start: number, ids: ArrayLike<number>): Promise<void> {
    const k = this.header.numNeighbors;
    const rows = ids.length / k;
    this.#check("ground truth", start, rows, this.header.numQueries);
    const b = new Uint8Array(ids.length * 8);
    const dv = new DataView(b.buffer);
    for (let i = 0; i < ids.length; i++) {
      const v = ids[i]!;
      dv.setBigUint64(i * 8, v < 0 ? 0xFFFFFFFFFFFFFFFFn : BigInt(v), true);
    }
    return this.#writeAt(this.header.groundTruthOffset + start * k * 8, b);
  }

  /** Writes metadata rows `[start, …)` of the vectors (or of the queries). */
  writeMetadata(
    start: number,
    rows: MetadataRows,
    of: "vectors" | "queries" = "vectors",
  ): Promise<void> {
    const schema = this.#schema;
    const offset = of === "vectors"
      ? this.header.vectorMetadataOffset
      : this.header.queryMetadataOffset;
    if (!schema || !offset) {
      throw new MembenchError("invalid_argument", `Cannot write ${of} metadata: none was declared`);
    }
    const W = this.#tagWords, F = schema.numericFields.length;
    const n = W > 0 ? rows.tags.length / W : rows.numbers.length / F;
    this.#check(
      `${of} metadata`,
      start,
      n,
      of === "vectors" ? this.header.numVectors : this.header.numQueries,
    );
    const rec = metadataRecordBytes(W, F);
    const b = new Uint8Array(n * rec);
    const dv = new DataView(b.buffer);
    for (let r = 0; r < n; r++) {
      for (let w = 0; w < W; w++) dv.setUint32(r * rec + 4 * w, rows.tags[r * W + w]!, true);
      for (let f = 0; f < F; f++) {
        dv.setFloat64(r * rec + 4 * W + 8 * f, rows.numbers[r * F + f]!, true);
      }
    }
    return this.#writeAt(offset + metadataHeaderBytes(F) + start * rec, b);
  }

  /** Writes the header and closes the file. */
  async close(): Promise<void> {
    try {
      await this.#writeAt(0, encodeBinaryHeader(this.header));
    } finally {
      this.#file.close();
    }
  }
}

/**
 * Fills the ground-truth section of an existing binary dataset (declared with its depth when
 * the file was written): `num_queries * num_neighbors` ids, negative ids as padding.
 *
 * @throws {MembenchError} `invalid_argument` when the count does not match the header.
 */
export async function writeBinaryGroundTruth(path: string, ids: ArrayLike<number>): Promise<void> {
  let h: BinaryHeader;
  {
    using ds = await BinaryDataset.open(path);
    h = ds.header;
  }
  if (ids.length !== h.numQueries * h.numNeighbors) {
    throw new MembenchError(
      "invalid_argument",
      `Cannot write ${ids.length} ids into ${path}: its header declares ${h.numQueries} x ${h.numNeighbors}`,
    );
  }
  const bytes = new Uint8Array(ids.length * 8);
  const dv = new DataView(bytes.buffer);
  for (let i = 0; i < ids.length; i++) {
    const v = ids[i]!;
    dv.setBigUint64(i * 8, v < 0 ? 0xFFFFFFFFFFFFFFFFn : BigInt(v), true);
  }
  const f = await Deno.open(path, { write: true });
  try {
    await f.seek(h.groundTruthOffset, Deno.SeekMode.Start);
    let off = 0;
    while (off < bytes.length) off += await f.write(bytes.subarray(off));
  } finally {
    f.close();
  }
}
