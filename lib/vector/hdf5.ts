// HDF5 through h5wasm (the HDF5 C library compiled to WebAssembly, from npm). On Deno it uses the
// Node build, whose file system reads the host file by position (Emscripten NODERAWFS), so a
// dataset is read one hyperslab at a time and never loaded whole. Chunked and gzip-compressed
// datasets are decoded by HDF5 itself; float16 arrives as raw halves and is converted here.
import { MembenchError } from "../errors/mod.ts";
import { float32Bytes, PositionalFile, toFloat32, toInt32 } from "./_file.ts";
import { contiguousExtent } from "./_hdf5_layout.ts";
import { datasetError, ELEMENT_BYTES, type ElementType, type VectorMatrix } from "./types.ts";

type H5 = typeof import("h5wasm/node");
type H5Module = Awaited<H5["ready"]>;

let loading: Promise<{ h5: H5; M: H5Module }> | undefined;

/** Loads h5wasm once, with HDF5's error stack turned into exceptions instead of stderr output. */
function h5wasm(): Promise<{ h5: H5; M: H5Module }> {
  loading ??= (async () => {
    const h5 = await import("h5wasm/node");
    const M = await h5.ready;
    M.activate_throwing_error_handler();
    return { h5, M };
  })();
  return loading;
}

/** The last "minor:" line of an HDF5 error stack: the most specific reason. */
function hdf5Reason(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  const minors = [...text.matchAll(/minor:\s*(.+)/g)].map((m) => m[1]!.trim());
  const last = [...text.matchAll(/in \w+\(\): (.+)/g)].map((m) => m[1]!.trim()).at(-1);
  return last ?? minors.at(-1) ?? text.split("\n")[0]!;
}

const SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]; // \x89HDF\r\n\x1a\n

/** Whether a file starts with (or has at 512, 1024, …) the HDF5 signature. */
export async function isHdf5(path: string): Promise<boolean> {
  const f = await PositionalFile.open(path);
  try {
    return await findSignature(f) !== undefined;
  } finally {
    f.close();
  }
}

async function findSignature(f: PositionalFile): Promise<number | undefined> {
  // The superblock is at 0 or at 512, 1024, 2048, … when a user block precedes it.
  for (let at = 0; at + 8 <= f.size; at = at === 0 ? 512 : at * 2) {
    const b = await f.read(at, 8);
    if (SIGNATURE.every((x, i) => b[i] === x)) return at;
  }
  return undefined;
}

/** An open HDF5 file (read only). */
export class Hdf5File implements Disposable {
  readonly path: string;
  #file: InstanceType<H5["File"]>;
  #M: H5Module;
  #buf = 0;
  #bufBytes = 0;
  #ranks = new Map<string, number>();
  #open = true;
  #raw: PositionalFile;
  #superblock: number;
  // Per dataset: where its rows are when stored contiguously and unfiltered (checked against
  // h5wasm's reading), or null to read through h5wasm.
  #extents = new Map<string, { offset: number; size: number } | null>();

  private constructor(
    path: string,
    file: InstanceType<H5["File"]>,
    M: H5Module,
    raw: PositionalFile,
    superblock: number,
  ) {
    this.path = path;
    this.#file = file;
    this.#M = M;
    this.#raw = raw;
    this.#superblock = superblock;
  }

  /**
   * Opens an HDF5 file.
   *
   * @throws {MembenchError} `file` when it is missing or not HDF5 (no signature at byte 0).
   */
  static async open(path: string): Promise<Hdf5File> {
    const f = await PositionalFile.open(path);
    let superblock: number | undefined;
    try {
      superblock = await findSignature(f);
      if (superblock === undefined) {
        throw datasetError(path, 0, "not an HDF5 file (no HDF5 signature at byte 0 or 512·2ⁿ)");
      }
      const { h5, M } = await h5wasm();
      try {
        return new Hdf5File(path, new h5.File(path, "r"), M, f, superblock);
      } catch (e) {
        throw datasetError(path, 0, `HDF5 cannot open it: ${hdf5Reason(e)}`, e);
      }
    } catch (e) {
      f.close();
      throw e;
    }
  }

  /** Names of the objects at the root. */
  keys(): string[] {
    return this.#file.keys();
  }

  /** A root attribute as a string or number, if present. */
  attr(name: string): string | number | undefined {
    try {
      const a = this.#file.attrs[name];
      if (a === undefined) return undefined;
      const v = a.value;
      if (typeof v === "bigint") return Number(v);
      if (typeof v === "string" || typeof v === "number") return v;
      if (ArrayBuffer.isView(v) && (v as ArrayLike<number>).length === 1) {
        return Number((v as ArrayLike<number>)[0]);
      }
      if (Array.isArray(v) && v.length === 1) return String(v[0]);
      return undefined;
    } catch {
      return undefined;
    }
  }

  /** Whether a root dataset of that name exists. */
  has(name: string): boolean {
    return this.keys().includes(name);
  }

  /**
   * A 1-D or 2-D numeric dataset.
   *
   * @throws {MembenchError} `file` naming the dataset when it is missing or not a numeric array.
   */
  matrix(name: string): Hdf5Matrix {
    const path = `/${name}`;
    if (!this.has(name)) {
      throw datasetError(
        this.path,
        path,
        `no dataset '${name}' (the file has ${this.keys().join(", ") || "nothing"})`,
      );
    }
    let meta;
    try {
      meta = this.#M.get_dataset_metadata(this.#file.file_id, path);
    } catch (e) {
      throw datasetError(this.path, path, `not a dataset: ${hdf5Reason(e)}`, e);
    }
    const shape = meta.shape ?? [];
    let type: ElementType | undefined;
    if (meta.type === 1) {
      type = meta.size === 4
        ? "float32"
        : meta.size === 2
        ? "float16"
        : meta.size === 8
        ? "float64"
        : undefined;
    } else if (meta.type === 0) {
      type = meta.size === 1
        ? (meta.signed ? "int8" : "uint8")
        : meta.size === 4 && meta.signed
        ? "int32"
        : meta.size === 8 && meta.signed
        ? "int64"
        : undefined;
    }
    if (type === undefined || (!meta.littleEndian && meta.size > 1)) {
      throw datasetError(
        this.path,
        path,
        `element type (class ${meta.type}, ${meta.size} bytes, ${
          meta.littleEndian ? "little" : "big"
        }-endian) is not supported`,
      );
    }
    if (shape.length < 1 || shape.length > 2) {
      throw datasetError(this.path, path, `shape [${shape.join(", ")}] is not 1-D or 2-D`);
    }
    return new Hdf5Matrix(this, path, type, shape[0]!, shape[1] ?? 1);
  }

  /**
   * Reads raw bytes of a hyperslab (rows `[start, start + n)`, all columns), into `dest` when
   * given. @internal
   */
  readRows(
    path: string,
    start: number,
    n: number,
    dim: number,
    size: number,
    dest?: Uint8Array,
  ): Uint8Array {
    if (!this.#open) throw new MembenchError("internal", `HDF5 file ${this.path} is closed`);
    const M = this.#M;
    const bytes = n * dim * size;
    if (bytes === 0) return new Uint8Array(0);
    // One buffer in the WebAssembly heap, kept and grown: a block read costs HDF5's copy into it
    // and one copy out, no allocation.
    if (bytes > this.#bufBytes) {
      if (this.#buf) M._free(this.#buf);
      this.#buf = M._malloc(bytes);
      this.#bufBytes = this.#buf ? bytes : 0;
      if (!this.#buf) {
        throw new MembenchError("internal", `Cannot allocate ${bytes} bytes for HDF5`);
      }
    }
    const extent = this.#extent(path, dim, size);
    if (extent) return this.#raw.readSync(extent.offset + start * dim * size, bytes, dest);
    const ptr = this.#buf;
    try {
      const count = dim === 1 && this.#rank(path) === 1 ? [BigInt(n)] : [BigInt(n), BigInt(dim)];
      const offset = count.length === 1 ? [BigInt(start)] : [BigInt(start), 0n];
      const strides = count.map(() => 1n);
      M.get_dataset_data(this.#file.file_id, path, count, offset, strides, BigInt(ptr));
      if (dest) {
        dest.set(M.HEAPU8.subarray(ptr, ptr + bytes));
        return dest;
      }
      return M.HEAPU8.slice(ptr, ptr + bytes);
    } catch (e) {
      throw datasetError(this.path, path, `rows ${start}..${start + n}: ${hdf5Reason(e)}`, e);
    }
  }

  // The contiguous extent of a dataset, found once, and trusted only when its size is the
  // dataset's and its first, middle and last rows equal what HDF5 itself reads.
  #extent(path: string, dim: number, size: number): { offset: number; size: number } | null {
    let e = this.#extents.get(path);
    if (e !== undefined) return e;
    this.#extents.set(path, null); // while checking, and whenever the check fails: h5wasm
    const found = contiguousExtent(this.#raw, this.#superblock, path.replace(/^\//, ""));
    e = null;
    const rowBytes = dim * size;
    if (found && rowBytes > 0 && found.size % rowBytes === 0) {
      const rows = found.size / rowBytes;
      const same = [0, Math.floor(rows / 2), rows - 1].every((row) => {
        const viaHdf5 = this.readRows(path, row, 1, dim, size);
        const direct = this.#raw.readSync(found.offset + row * rowBytes, rowBytes);
        return viaHdf5.length === direct.length && viaHdf5.every((b, i) => b === direct[i]);
      });
      if (same && rows > 0) e = found;
    }
    this.#extents.set(path, e);
    return e;
  }

  /** The checked contiguous extent of a dataset, or null when it is read through HDF5. @internal */
  directExtent(path: string, dim: number, size: number): { offset: number; size: number } | null {
    return this.#extent(path, dim, size);
  }

  // A dataset's rank, asked of HDF5 once per path (not on every block).
  #rank(path: string): number {
    let r = this.#ranks.get(path);
    if (r === undefined) {
      r = this.#M.get_dataset_metadata(this.#file.file_id, path).shape?.length ?? 0;
      this.#ranks.set(path, r);
    }
    return r;
  }

  close(): void {
    if (!this.#open) return;
    this.#open = false;
    if (this.#buf) this.#M._free(this.#buf);
    this.#buf = 0;
    this.#bufBytes = 0;
    this.#raw.close();
    try {
      this.#file.close();
    } catch {
      // already closed
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** A numeric dataset inside an HDF5 file, read one hyperslab of rows at a time. */
export class Hdf5Matrix implements VectorMatrix {
  readonly name: string;
  readonly rows: number;
  readonly dim: number;
  readonly elementType: ElementType;
  #file: Hdf5File;
  #path: string;

  constructor(file: Hdf5File, path: string, type: ElementType, rows: number, dim: number) {
    this.#file = file;
    this.#path = path;
    this.name = `${file.path}:${path}`;
    this.elementType = type;
    this.rows = rows;
    this.dim = dim;
  }

  /**
   * Whether rows are read straight from the file (a contiguous, unfiltered dataset whose place
   * in the file was found and checked against HDF5's own reading) rather than through h5wasm.
   */
  get direct(): boolean {
    return this.#file.directExtent(this.#path, this.dim, ELEMENT_BYTES[this.elementType]) !==
      null;
  }

  #raw(start: number, n: number, dest?: Uint8Array): Uint8Array {
    if (start < 0 || n < 0 || start + n > this.rows) {
      throw new RangeError(
        `Cannot read rows ${start}..${start + n} of ${this.name}: it has ${this.rows} rows`,
      );
    }
    const size = ELEMENT_BYTES[this.elementType];
    return this.#file.readRows(this.#path, start, n, this.dim, size, dest);
  }

  read(start: number, n: number, into?: Float32Array): Promise<Float32Array> {
    try {
      const direct = float32Bytes(into, this.elementType, n * this.dim);
      const raw = this.#raw(start, n, direct);
      return Promise.resolve(
        direct
          ? into!.subarray(0, n * this.dim)
          : toFloat32(raw, this.elementType, n * this.dim, into),
      );
    } catch (e) {
      return Promise.reject(e);
    }
  }

  readInts(start: number, n: number): Promise<Int32Array> {
    try {
      const r = toInt32(this.#raw(start, n), this.elementType, n * this.dim);
      if (typeof r === "number") {
        throw datasetError(
          this.#file.path,
          `${this.#path}[${start + Math.floor(r / this.dim)}]`,
          "value is not an int32 id",
        );
      }
      return Promise.resolve(r);
    } catch (e) {
      return Promise.reject(e);
    }
  }
}
