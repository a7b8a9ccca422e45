import { Packr } from "msgpackr";
import { MembenchError } from "../errors/mod.ts";
import {
  COLUMNS,
  crc32,
  type EventBlock,
  FrameKind,
  newEventBlock,
  PROFILE_MAGIC,
  PROFILE_MINOR,
  PROFILE_VERSION,
  type ProfileConnection,
  type ProfileFooter,
  type ProfileHeader,
  TRAILER_MAGIC,
} from "./spec.ts";

const packr = new Packr({ useRecords: false, variableMapSize: true });

/** Where a profile goes: a file, or anything with the same `write`. */
export interface ProfileSink {
  /** Writes some of `p`; returns the number of bytes written. */
  write(p: Uint8Array): Promise<number>;
  /** Closes the sink. */
  close(): void;
}

/** Options for {@linkcode ProfileWriter}. */
export interface ProfileWriterOptions {
  /** Events per block (frame). @default {8192} */
  blockSize?: number;
}

/** The fields of one event, as {@linkcode ProfileWriter.append} takes them. */
export interface EventFields {
  /** µs since the start. */
  t: number;
  /** Connection id. */
  conn: number;
  /** Op index from {@linkcode ProfileWriter.op}. */
  op: number;
  /** Key hash, high 32 bits. */
  keyHi: number;
  /** Key hash, low 32 bits. */
  keyLo: number;
  /** Key length (0 = none). */
  keyLen: number;
  /** Value length, or {@linkcode NO_VALUE}. */
  valueLen: number;
  /** Client flags. */
  flags: number;
  /** TTL or -1. */
  ttl: number;
  /** Status code. */
  status: number;
  /** Wire latency µs, or NaN. */
  latency: number;
  /** Cluster slot or -1. */
  slot: number;
  /** Position in its connection. */
  seq: number;
  /** {@linkcode Shape} bits; 0 (a request of its own, not quiet) when absent. */
  shape?: number;
  /** The request's argument words ({@linkcode ArgWord}, format 2.1); none when absent. */
  args?: Uint32Array | undefined;
  /**
   * The token table the `args` token indexes refer to (the same array from event to event: the
   * writer keeps the table it saw last, which may only grow).
   */
  tokens?: readonly string[] | undefined;
}

/**
 * Streams a profile to a sink: the header first, then blocks of events column by column, with
 * the connections they refer to written before them, and a footer and trailer on
 * {@linkcode ProfileWriter.close}. `append` is synchronous and cheap; a full block is encoded
 * and written in the background, in order. Await {@linkcode ProfileWriter.drain} now and then
 * for backpressure. Whatever happens to the process, the file holds a readable prefix: every
 * frame is complete and checksummed before the next one starts.
 */
export class ProfileWriter {
  #sink: ProfileSink;
  #block: EventBlock;
  #blockSize: number;
  #ops: string[] = [];
  #opIndex = new Map<string, number>();
  #opsWritten = 0;
  #opCounts: number[] = [];
  #pendingConns: ProfileConnection[] = [];
  #connIds = new Set<number>();
  #offset = 0;
  #chain: Promise<void> = Promise.resolve();
  #failed: unknown;
  #events = 0;
  #blocks: ProfileFooter["blocks"] = [];
  #lastUs = 0;
  #closed = false;
  #name: string;
  #argn = 0;
  #tokens: readonly string[] = [];
  #tokensWritten = 0;

  /**
   * Starts a profile: writes the magic and the header.
   *
   * @param sink Where the bytes go.
   * @param header Everything but the format version.
   * @param name The file name, for errors.
   */
  constructor(
    sink: ProfileSink,
    header: Omit<ProfileHeader, "formatVersion">,
    name = "profile",
    options: ProfileWriterOptions = {},
  ) {
    this.#sink = sink;
    this.#name = name;
    this.#blockSize = options.blockSize ?? 8192;
    this.#block = newEventBlock(this.#blockSize);
    this.#emit(PROFILE_MAGIC);
    this.#frame(FrameKind.Header, {
      ...header,
      formatVersion: PROFILE_VERSION + PROFILE_MINOR / 10,
    });
  }

  /**
   * Creates (or truncates) a file and starts a profile in it.
   *
   * @throws {MembenchError} `file` when the file cannot be created.
   */
  static async create(
    path: string,
    header: Omit<ProfileHeader, "formatVersion">,
    options: ProfileWriterOptions = {},
  ): Promise<ProfileWriter> {
    let f: Deno.FsFile;
    try {
      f = await Deno.open(path, { write: true, create: true, truncate: true });
    } catch (e) {
      throw new MembenchError("file", `Cannot create profile ${path}: ${(e as Error).message}`);
    }
    return new ProfileWriter(f, header, path, options);
  }

  /** Events appended so far. */
  get events(): number {
    return this.#events;
  }

  /** The index of an op name, added to the op table on first use. */
  op(name: string): number {
    let i = this.#opIndex.get(name);
    if (i === undefined) {
      i = this.#ops.length;
      if (i > 0xffff) throw new MembenchError("internal", "Cannot add op: the op table is full");
      this.#ops.push(name);
      this.#opIndex.set(name, i);
      this.#opCounts.push(0);
    }
    return i;
  }

  /** Records a connection (new, or again with its close time); written before the next block. */
  connection(c: ProfileConnection): void {
    this.#pendingConns.push({ ...c });
  }

  /** Appends one event. */
  append(e: EventFields): void {
    const b = this.#block;
    const i = b.count;
    b.t[i] = e.t;
    b.conn[i] = e.conn;
    b.op[i] = e.op;
    b.keyHi[i] = e.keyHi;
    b.keyLo[i] = e.keyLo;
    b.keyLen[i] = e.keyLen;
    b.valueLen[i] = e.valueLen;
    b.flags[i] = e.flags;
    b.ttl[i] = e.ttl;
    b.status[i] = e.status;
    b.latency[i] = e.latency;
    b.slot[i] = e.slot;
    b.seq[i] = e.seq;
    b.shape[i] = e.shape ?? 0;
    const a = e.args;
    if (a !== undefined && a.length > 0 && a.length <= 0xffff) {
      if (this.#argn + a.length > b.argv.length) {
        const grown = new Uint32Array(Math.max(b.argv.length * 2, this.#argn + a.length));
        grown.set(b.argv.subarray(0, this.#argn));
        b.argv = grown;
      }
      b.argv.set(a, this.#argn);
      this.#argn += a.length;
      b.argc[i] = a.length;
      if (e.tokens !== undefined && e.tokens !== this.#tokens) this.#tokens = e.tokens;
    } else b.argc[i] = 0;
    b.count = i + 1;
    this.#opCounts[e.op]!++;
    this.#events++;
    if (e.t > this.#lastUs) this.#lastUs = e.t;
    if (b.count === this.#blockSize) this.#flushBlock();
  }

  /** Writes what is buffered (connections and a partial block) as frames. */
  flush(): void {
    this.#flushBlock();
  }

  /** Resolves when everything handed to the sink so far is written. */
  async drain(): Promise<void> {
    await this.#chain;
    if (this.#failed !== undefined) throw this.#failed;
  }

  /**
   * Writes the last block, the footer and the trailer, and closes the sink.
   *
   * @param capture Capture statistics to keep in the footer.
   */
  async close(capture: Record<string, number> = {}): Promise<ProfileFooter> {
    if (this.#closed) throw new MembenchError("internal", "Cannot close profile twice");
    this.#closed = true;
    this.#flushBlock();
    const opCounts: Record<string, number> = {};
    this.#ops.forEach((n, i) => opCounts[n] = this.#opCounts[i]!);
    const footer: ProfileFooter = {
      events: this.#events,
      blocks: this.#blocks,
      ops: [...this.#ops],
      tokens: this.#tokens.slice(),
      opCounts,
      connections: this.#connIds.size,
      capture,
      endUs: this.#lastUs,
    };
    const footerAt = this.#offset;
    this.#frame(FrameKind.Footer, footer);
    const trailer = new Uint8Array(16);
    trailer.set(TRAILER_MAGIC);
    new DataView(trailer.buffer).setBigUint64(8, BigInt(footerAt), true);
    this.#emit(trailer);
    try {
      await this.drain();
    } finally {
      try {
        this.#sink.close();
      } catch { /* already closed */ }
    }
    return footer;
  }

  /** Closes the sink without a footer (the file stays readable up to its last frame). */
  async abort(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#chain;
    } finally {
      try {
        this.#sink.close();
      } catch { /* already closed */ }
    }
  }

  #flushBlock(): void {
    if (this.#pendingConns.length > 0) {
      for (const c of this.#pendingConns) this.#connIds.add(c.id);
      this.#frame(FrameKind.Connections, { connections: this.#pendingConns });
      this.#pendingConns = [];
    }
    const b = this.#block;
    if (b.count === 0) return;
    const n = b.count;
    const cols: Record<string, Uint8Array> = {};
    let first = Infinity;
    let last = -Infinity;
    for (let i = 0; i < n; i++) {
      const t = b.t[i]!;
      if (t < first) first = t;
      if (t > last) last = t;
    }
    for (const [name] of COLUMNS) {
      const a = b[name];
      cols[name] = new Uint8Array(a.buffer, 0, n * a.BYTES_PER_ELEMENT).slice();
    }
    cols.argv = new Uint8Array(b.argv.buffer, 0, this.#argn * 4).slice();
    const newOps = this.#ops.slice(this.#opsWritten);
    const newTokens = this.#tokens.slice(this.#tokensWritten);
    this.#blocks.push({ offset: this.#offset, count: n, firstUs: first, lastUs: last });
    this.#frame(FrameKind.Events, {
      count: n,
      opBase: this.#opsWritten,
      newOps,
      tokenBase: this.#tokensWritten,
      newTokens,
      cols,
    });
    this.#opsWritten = this.#ops.length;
    this.#tokensWritten = this.#tokens.length;
    this.#argn = 0;
    b.count = 0;
  }

  #frame(kind: number, payload: unknown): void {
    const body = packr.pack(payload) as Uint8Array;
    const out = new Uint8Array(5 + body.length + 4);
    const v = new DataView(out.buffer);
    v.setUint32(0, body.length, true);
    out[4] = kind;
    out.set(body, 5);
    v.setUint32(5 + body.length, crc32(body), true);
    this.#emit(out);
  }

  #emit(bytes: Uint8Array): void {
    this.#offset += bytes.length;
    this.#chain = this.#chain.then(async () => {
      if (this.#failed !== undefined) return;
      try {
        let off = 0;
        while (off < bytes.length) off += await this.#sink.write(bytes.subarray(off));
      } catch (e) {
        this.#failed = new MembenchError(
          "file",
          `Cannot write profile ${this.#name}: ${(e as Error).message}`,
          { cause: e },
        );
      }
    });
  }
}
