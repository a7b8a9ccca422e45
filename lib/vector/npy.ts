import { PositionalFile, readFloat32, toInt32 } from "./_file.ts";
import { datasetError, ELEMENT_BYTES, type ElementType, type VectorMatrix } from "./types.ts";

const NPY_MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

// numpy dtype strings (descr) we read; '|' and '=' mean "no byte order" / native (little here).
const DESCR: Record<string, ElementType> = {
  f4: "float32",
  f2: "float16",
  f8: "float64",
  u1: "uint8",
  i1: "int8",
  i4: "int32",
  i8: "int64",
};

/**
 * A NumPy `.npy` file holding a C-order 2-D array (float32, float16, float64, uint8, int8,
 * int32 or int64, little-endian), read by position after its header. A 1-D array is one column.
 */
export class NpyMatrix implements VectorMatrix, Disposable {
  readonly name: string;
  readonly rows: number;
  readonly dim: number;
  readonly elementType: ElementType;
  /** Byte offset of the data. */
  readonly dataOffset: number;
  #file: PositionalFile;

  private constructor(
    file: PositionalFile,
    type: ElementType,
    rows: number,
    dim: number,
    dataOffset: number,
  ) {
    this.#file = file;
    this.name = file.path;
    this.elementType = type;
    this.rows = rows;
    this.dim = dim;
    this.dataOffset = dataOffset;
  }

  /**
   * Opens and checks a `.npy` file: magic, version, header dict, dtype, order, and that the file
   * holds all the data its shape promises.
   *
   * @throws {MembenchError} `file` naming the offset and the problem.
   */
  static async open(path: string): Promise<NpyMatrix> {
    const file = await PositionalFile.open(path);
    try {
      if (file.size < 10) throw datasetError(path, 0, `file has ${file.size} bytes, no header`);
      const pre = await file.read(0, 12 <= file.size ? 12 : 10);
      for (let i = 0; i < 6; i++) {
        if (pre[i] !== NPY_MAGIC[i]) throw datasetError(path, 0, "not a .npy file (bad magic)");
      }
      const major = pre[6]!;
      if (major < 1 || major > 3) throw datasetError(path, 6, `unknown .npy version ${major}`);
      const dv = new DataView(pre.buffer);
      const lenBytes = major === 1 ? 2 : 4;
      const hlen = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
      const hstart = 8 + lenBytes;
      const headerBytes = await file.read(hstart, hlen);
      const header = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(headerBytes);
      const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
      const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
      const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
      if (descr === undefined || fortran === undefined || shapeText === undefined) {
        throw datasetError(path, hstart, `cannot parse the header ${JSON.stringify(header)}`);
      }
      const m = /^([<>|=])([a-z]\d+)$/.exec(descr);
      const type = m ? DESCR[m[2]!] : undefined;
      if (!m || type === undefined || (m[1] === ">" && ELEMENT_BYTES[type] > 1)) {
        throw datasetError(
          path,
          hstart,
          `dtype '${descr}' is not supported (little-endian f4, f2, f8, u1, i1, i4, i8)`,
        );
      }
      if (fortran === "True") {
        throw datasetError(path, hstart, "Fortran-order arrays are not supported (save C order)");
      }
      const shape = shapeText.split(",").map((s) => s.trim()).filter((s) => s !== "").map(Number);
      if (shape.length < 1 || shape.length > 2 || shape.some((x) => !Number.isInteger(x))) {
        throw datasetError(path, hstart, `shape (${shapeText}) is not a 1-D or 2-D array`);
      }
      const rows = shape[0]!, dim = shape[1] ?? 1;
      const dataOffset = hstart + hlen;
      const need = rows * dim * ELEMENT_BYTES[type];
      if (dataOffset + need > file.size) {
        throw datasetError(
          path,
          file.size,
          `file ends at byte ${file.size} but shape (${rows}, ${dim}) needs ${need} bytes of ` +
            `data from byte ${dataOffset}`,
        );
      }
      return new NpyMatrix(file, type, rows, dim, dataOffset);
    } catch (e) {
      file.close();
      throw e;
    }
  }

  #raw(start: number, n: number, dest?: Uint8Array): Promise<Uint8Array> {
    if (start < 0 || n < 0 || start + n > this.rows) {
      throw new RangeError(
        `Cannot read rows ${start}..${start + n} of ${this.name}: it has ${this.rows} rows`,
      );
    }
    const row = this.dim * ELEMENT_BYTES[this.elementType];
    return this.#file.read(this.dataOffset + start * row, n * row, dest);
  }

  read(start: number, n: number, into?: Float32Array): Promise<Float32Array> {
    return readFloat32((d) => this.#raw(start, n, d), this.elementType, n * this.dim, into);
  }

  async readInts(start: number, n: number): Promise<Int32Array> {
    const r = toInt32(await this.#raw(start, n), this.elementType, n * this.dim);
    if (typeof r === "number") {
      throw datasetError(
        this.name,
        this.dataOffset + (start * this.dim + r) * ELEMENT_BYTES[this.elementType],
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
