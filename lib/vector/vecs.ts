import { MembenchError } from "../errors/mod.ts";
import { PositionalFile, toFloat32, toInt32 } from "./_file.ts";
import { datasetError, ELEMENT_BYTES, type ElementType, type VectorMatrix } from "./types.ts";

/** The three TEXMEX layouts: a little-endian int32 dimension, then that many values. */
export type VecsKind = "fvecs" | "ivecs" | "bvecs";

const VECS_TYPE: Record<VecsKind, ElementType> = {
  fvecs: "float32",
  ivecs: "int32",
  bvecs: "uint8",
};

/** Largest dimension a vecs header may claim before we call the file malformed. */
const MAX_DIM = 1 << 20;

/** The vecs kind a path's extension names, if any. */
export function vecsKindOf(path: string): VecsKind | undefined {
  const m = /\.(fvecs|ivecs|bvecs)$/i.exec(path);
  return m ? m[1]!.toLowerCase() as VecsKind : undefined;
}

/**
 * A TEXMEX fvecs / ivecs / bvecs file (SIFT, GIST, BIGANN): each record is a little-endian int32
 * dimension followed by that many float32 / int32 / uint8 values. Records have one size, so
 * record `i` is read at `i * (4 + dim * size)` without a scan. A dimension that changes mid-file
 * is reported when the record holding it is read (every record is checked as it is read).
 */
export class VecsMatrix implements VectorMatrix, Disposable {
  readonly name: string;
  readonly rows: number;
  readonly dim: number;
  readonly elementType: ElementType;
  readonly kind: VecsKind;
  /** Bytes per record, the dimension word included. */
  readonly recordBytes: number;
  #file: PositionalFile;
  #scratch = new Uint8Array(0);

  private constructor(file: PositionalFile, kind: VecsKind, dim: number) {
    this.#file = file;
    this.name = file.path;
    this.kind = kind;
    this.dim = dim;
    this.elementType = VECS_TYPE[kind];
    this.recordBytes = 4 + dim * ELEMENT_BYTES[this.elementType];
    this.rows = Math.floor(file.size / this.recordBytes);
  }

  /**
   * Opens a vecs file, checking its first dimension and that its size is a whole number of
   * records.
   *
   * @param path The file.
   * @param kind The layout; by default from the extension.
   * @throws {MembenchError} `file` naming the offset of a truncated record or a bad dimension.
   */
  static async open(path: string, kind?: VecsKind): Promise<VecsMatrix> {
    const k = kind ?? vecsKindOf(path);
    if (!k) {
      throw new MembenchError(
        "invalid_argument",
        `Cannot tell the layout of ${path}: expected a .fvecs, .ivecs or .bvecs file`,
      );
    }
    const file = await PositionalFile.open(path);
    try {
      if (file.size < 4) throw datasetError(path, 0, `file has ${file.size} bytes, no record`);
      const head = await file.read(0, 4);
      const dim = new DataView(head.buffer).getInt32(0, true);
      if (dim < 1 || dim > MAX_DIM) {
        throw datasetError(path, 0, `dimension ${dim} is not between 1 and ${MAX_DIM}`);
      }
      const m = new VecsMatrix(file, k, dim);
      const rest = file.size - m.rows * m.recordBytes;
      if (rest !== 0) {
        throw datasetError(
          path,
          m.rows * m.recordBytes,
          `truncated record: ${rest} bytes of a ${m.recordBytes}-byte record (dimension ${dim})`,
        );
      }
      return m;
    } catch (e) {
      file.close();
      throw e;
    }
  }

  async #records(start: number, n: number, dest?: Uint8Array): Promise<Uint8Array> {
    if (start < 0 || n < 0 || start + n > this.rows) {
      throw new RangeError(
        `Cannot read rows ${start}..${start + n} of ${this.name}: it has ${this.rows} rows`,
      );
    }
    const rec = this.recordBytes;
    const raw = await this.#file.read(start * rec, n * rec, dest?.subarray(0, n * rec));
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let i = 0; i < n; i++) {
      const d = dv.getInt32(i * rec, true);
      if (d !== this.dim) {
        throw datasetError(
          this.name,
          (start + i) * rec,
          `dimension changes from ${this.dim} to ${d} in record ${start + i}`,
        );
      }
    }
    return raw;
  }

  /** Values of rows `[start, start + n)` with the dimension words removed, as stored. */
  async #values(start: number, n: number): Promise<Uint8Array> {
    const raw = await this.#records(start, n);
    const rowBytes = this.recordBytes - 4;
    const out = new Uint8Array(n * rowBytes);
    for (let i = 0; i < n; i++) {
      const from = i * this.recordBytes + 4;
      out.set(raw.subarray(from, from + rowBytes), i * rowBytes);
    }
    return out;
  }

  async read(start: number, n: number, into?: Float32Array): Promise<Float32Array> {
    const d = this.dim;
    if (into !== undefined && this.elementType === "float32") {
      if (into.length < n * d) {
        throw new RangeError(`Cannot read ${n * d} values into an array of ${into.length}`);
      }
      // Records into one reused scratch buffer, then the rows without their dimension words.
      const need = n * this.recordBytes;
      if (this.#scratch.length < need) this.#scratch = new Uint8Array(need);
      const raw = await this.#records(start, n, this.#scratch);
      const all = new Float32Array(raw.buffer, raw.byteOffset, need / 4);
      for (let i = 0; i < n; i++) into.set(all.subarray(i * (d + 1) + 1, (i + 1) * (d + 1)), i * d);
      return into.subarray(0, n * d);
    }
    if (into !== undefined) {
      return toFloat32(await this.#values(start, n), this.elementType, n * d, into);
    }
    if (this.elementType === "float32") {
      // Fast path: squeeze the dimension words out in place (rows only move down), no copy.
      const raw = await this.#records(start, n);
      const d = this.dim;
      const all = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
      for (let i = 0; i < n; i++) all.copyWithin(i * d, i * (d + 1) + 1, (i + 1) * (d + 1));
      return all.subarray(0, n * d);
    }
    return toFloat32(await this.#values(start, n), this.elementType, n * this.dim);
  }

  async readInts(start: number, n: number): Promise<Int32Array> {
    const r = toInt32(await this.#values(start, n), this.elementType, n * this.dim);
    if (typeof r === "number") {
      const row = Math.floor(r / this.dim);
      throw datasetError(
        this.name,
        (start + row) * this.recordBytes + 4 + (r % this.dim) * ELEMENT_BYTES[this.elementType],
        "value is not an int32 id",
      );
    }
    return r;
  }

  close(): void {
    this.#file.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Writes a TEXMEX file row by row, buffered.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const path = await Deno.makeTempFile({ suffix: ".fvecs" });
 * const w = await VecsWriter.create(path, "fvecs", 2);
 * await w.write(new Float32Array([1, 2, 3, 4]));
 * await w.close();
 * using m = await VecsMatrix.open(path);
 * assert.deepEqual([...await m.read(1, 1)], [3, 4]);
 * await Deno.remove(path);
 * ```
 */
export class VecsWriter {
  readonly path: string;
  readonly kind: VecsKind;
  readonly dim: number;
  #file: Deno.FsFile;
  #buf: Uint8Array;
  #used = 0;
  #rows = 0;

  private constructor(path: string, file: Deno.FsFile, kind: VecsKind, dim: number) {
    this.path = path;
    this.#file = file;
    this.kind = kind;
    this.dim = dim;
    this.#buf = new Uint8Array(Math.max(1 << 20, 4 + dim * 4));
  }

  /** Creates (or truncates) `path`. */
  static async create(path: string, kind: VecsKind, dim: number): Promise<VecsWriter> {
    if (!Number.isInteger(dim) || dim < 1) {
      throw new MembenchError("invalid_argument", `Cannot write ${path}: dimension ${dim} < 1`);
    }
    try {
      const f = await Deno.open(path, { write: true, create: true, truncate: true });
      return new VecsWriter(path, f, kind, dim);
    } catch (e) {
      throw new MembenchError("file", `Cannot create ${path}: ${(e as Error).message}`, {
        cause: e,
      });
    }
  }

  /** Rows written so far. */
  get rows(): number {
    return this.#rows;
  }

  /** Appends rows (`values.length` a multiple of `dim`), converting to the file's type. */
  async write(values: ArrayLike<number>): Promise<void> {
    const d = this.dim, n = values.length / d;
    if (!Number.isInteger(n)) {
      throw new RangeError(`Cannot write ${values.length} values as rows of ${d}`);
    }
    const size = ELEMENT_BYTES[VECS_TYPE[this.kind]];
    const rec = 4 + d * size;
    for (let r = 0; r < n; r++) {
      if (this.#used + rec > this.#buf.length) await this.#flush();
      const dv = new DataView(this.#buf.buffer, this.#used, rec);
      dv.setInt32(0, d, true);
      const base = r * d;
      if (this.kind === "fvecs") {
        for (let i = 0; i < d; i++) dv.setFloat32(4 + 4 * i, values[base + i]!, true);
      } else if (this.kind === "ivecs") {
        for (let i = 0; i < d; i++) dv.setInt32(4 + 4 * i, values[base + i]!, true);
      } else {
        for (let i = 0; i < d; i++) dv.setUint8(4 + i, values[base + i]!);
      }
      this.#used += rec;
      this.#rows++;
    }
  }

  async #flush(): Promise<void> {
    let off = 0;
    while (off < this.#used) off += await this.#file.write(this.#buf.subarray(off, this.#used));
    this.#used = 0;
  }

  /** Flushes and closes. */
  async close(): Promise<void> {
    try {
      await this.#flush();
    } finally {
      this.#file.close();
    }
  }
}
