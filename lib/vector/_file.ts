// Positional reads on a Deno.FsFile, and conversion of stored numbers to float32 / int32.
// Private to lib/vector.
import { MembenchError } from "../errors/mod.ts";
import { datasetError, type ElementType } from "./types.ts";

/**
 * A file read by position (seek + read). Random access costs two system calls and no scan;
 * resident memory is what the caller asks for, whatever the file's size.
 *
 * Reads are synchronous: from the page cache a random row costs about 2 µs that way against
 * 25-80 µs through the async path, and 4 MiB blocks stream at 6-9 GB/s against 3.7 GB/s
 * (measured on this machine, bench/groundtruth_compare.ts). An mmap through Deno.dlopen was
 * about 1 µs a row, but a file truncated under a mapping kills the process with SIGBUS, and
 * malformed files must give errors, so positional reads stay.
 */
export class PositionalFile {
  readonly path: string;
  readonly size: number;
  #file: Deno.FsFile;

  private constructor(path: string, file: Deno.FsFile, size: number) {
    this.path = path;
    this.#file = file;
    this.size = size;
  }

  static async open(path: string): Promise<PositionalFile> {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { read: true });
    } catch (e) {
      throw new MembenchError("file", `Cannot open dataset ${path}: ${(e as Error).message}`, {
        cause: e,
      });
    }
    try {
      const st = await file.stat();
      if (!st.isFile) throw new Error("not a regular file");
      return new PositionalFile(path, file, st.size);
    } catch (e) {
      file.close();
      throw new MembenchError("file", `Cannot open dataset ${path}: ${(e as Error).message}`, {
        cause: e,
      });
    }
  }

  /**
   * Reads exactly `length` bytes at `offset` into `into` (or a new array).
   *
   * @throws {MembenchError} `file` naming the offset when the file ends first.
   */
  read(offset: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
    try {
      return Promise.resolve(this.readSync(offset, length, into));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** {@linkcode PositionalFile.read}, synchronously. */
  readSync(offset: number, length: number, into?: Uint8Array): Uint8Array {
    if (offset + length > this.size) {
      throw datasetError(
        this.path,
        this.size,
        `file ends at byte ${this.size}, but ${length} bytes are needed at byte ${offset}`,
      );
    }
    const buf = into ?? new Uint8Array(length);
    this.#file.seekSync(offset, Deno.SeekMode.Start);
    let got = 0;
    while (got < length) {
      const n = this.#file.readSync(buf.subarray(got, length));
      if (n === null) {
        throw datasetError(this.path, offset + got, "file ends early (was it cut short?)");
      }
      got += n;
    }
    return buf;
  }

  close(): void {
    try {
      this.#file.close();
    } catch {
      // already closed
    }
  }
}

/**
 * The bytes of `into` that `n` stored float32 values can be read into directly, or undefined
 * when there is no `into` or the stored type needs converting.
 *
 * @throws {RangeError} When `into` is shorter than `n`.
 */
export function float32Bytes(
  into: Float32Array | undefined,
  type: ElementType,
  n: number,
): Uint8Array | undefined {
  if (into === undefined) return undefined;
  if (into.length < n) {
    throw new RangeError(`Cannot read ${n} values into an array of ${into.length}`);
  }
  return type === "float32" ? new Uint8Array(into.buffer, into.byteOffset, n * 4) : undefined;
}

/**
 * `count` stored values as float32, from `raw` (which reads the stored bytes, into `dest` when
 * given): float32 goes straight into `into` when there is one, anything else is converted.
 */
export async function readFloat32(
  raw: (dest?: Uint8Array) => Promise<Uint8Array>,
  type: ElementType,
  count: number,
  into?: Float32Array,
): Promise<Float32Array> {
  const direct = float32Bytes(into, type, count);
  const bytes = await raw(direct);
  return direct ? into!.subarray(0, count) : toFloat32(bytes, type, count, into);
}

/**
 * Little-endian stored numbers to float32. `bytes` must hold `n` elements from offset 0; it is
 * the caller's to give away (aligned float32 comes back as a view of it).
 */
export function toFloat32(
  bytes: Uint8Array,
  type: ElementType,
  n: number,
  into?: Float32Array,
): Float32Array {
  const aligned = (k: number) => bytes.byteOffset % k === 0;
  // Fast path: aligned float32 that the caller hands over is returned as a view, no copy.
  if (type === "float32" && into === undefined && aligned(4)) {
    return new Float32Array(bytes.buffer, bytes.byteOffset, n);
  }
  const out = into ?? new Float32Array(n);
  switch (type) {
    case "float32":
      if (aligned(4)) out.set(new Float32Array(bytes.buffer, bytes.byteOffset, n));
      else out.set(new Float32Array(bytes.slice(0, n * 4).buffer));
      return out;
    case "float16": {
      const src = aligned(2)
        ? new Float16Array(bytes.buffer, bytes.byteOffset, n)
        : new Float16Array(bytes.slice(0, n * 2).buffer);
      for (let i = 0; i < n; i++) out[i] = src[i]!;
      return out;
    }
    case "float64": {
      const src = aligned(8)
        ? new Float64Array(bytes.buffer, bytes.byteOffset, n)
        : new Float64Array(bytes.slice(0, n * 8).buffer);
      for (let i = 0; i < n; i++) out[i] = src[i]!;
      return out;
    }
    case "uint8":
      for (let i = 0; i < n; i++) out[i] = bytes[i]!;
      return out;
    case "int8":
      for (let i = 0; i < n; i++) out[i] = (bytes[i]! << 24) >> 24;
      return out;
    case "int32": {
      const src = aligned(4)
        ? new Int32Array(bytes.buffer, bytes.byteOffset, n)
        : new Int32Array(bytes.slice(0, n * 4).buffer);
      for (let i = 0; i < n; i++) out[i] = src[i]!;
      return out;
    }
    case "int64": {
      const dv = new DataView(bytes.buffer, bytes.byteOffset, n * 8);
      for (let i = 0; i < n; i++) out[i] = Number(dv.getBigInt64(i * 8, true));
      return out;
    }
  }
}

/**
 * Little-endian stored integers to int32 (neighbour ids).
 *
 * @returns the ids, or the index of the first value that is not an int32 (negative ids are
 * kept: ann-benchmarks pads with -1).
 */
export function toInt32(bytes: Uint8Array, type: ElementType, n: number): Int32Array | number {
  const out = new Int32Array(n);
  switch (type) {
    case "int32":
      out.set(new Int32Array(bytes.slice(0, n * 4).buffer));
      return out;
    case "uint8":
      out.set(bytes.subarray(0, n));
      return out;
    case "int8":
      for (let i = 0; i < n; i++) out[i] = (bytes[i]! << 24) >> 24;
      return out;
    case "int64": {
      const dv = new DataView(bytes.buffer, bytes.byteOffset, n * 8);
      for (let i = 0; i < n; i++) {
        const v = dv.getBigInt64(i * 8, true);
        if (v > 2147483647n || v < -2147483648n) return i;
        out[i] = Number(v);
      }
      return out;
    }
    default: {
      const f = toFloat32(bytes, type, n);
      for (let i = 0; i < n; i++) {
        const v = f[i]!;
        if (!Number.isInteger(v) || v > 2147483647 || v < -2147483648) return i;
        out[i] = v;
      }
      return out;
    }
  }
}
