// This module uses no Deno APIs.
import { MembenchError } from "../../errors/mod.ts";
import { describeByte } from "../_bytes.ts";
import {
  BIN_HEADER,
  BIN_REQUEST,
  BIN_RESPONSE,
  BinOp,
  binOpInfo,
  MC_MAX_VALUE,
  McOp,
} from "./types.ts";

const S_HEAD = 0; // collecting header + extras + key
const S_VALUE = 1; // skipping the value

/**
 * Incremental parser of memcached **binary** packets in one direction (requests or responses).
 * Each successful {@linkcode BinaryParser.parse} leaves one packet's header fields, its decoded
 * extras and a view of its key on the parser; the value is skipped by the next calls (its length
 * and stream offset are kept). Header, extras and key are copied only when they straddle chunks
 * (at most 24 + 255 + 65,535 bytes); nothing else is buffered. A wrong magic byte or lengths
 * that do not add up throw a `protocol` error with the byte offset.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { BinOp, McOp } from "./types.ts";
 * const pkt = encodeBinary({ opcode: BinOp.GetK, key: "k1", opaque: 7 });
 * const p = new BinaryParser("requests");
 * assert.equal(p.parse(pkt, 0, pkt.length), pkt.length);
 * assert.deepEqual([p.opcode, p.op, p.opaque, new TextDecoder().decode(p.key())], [BinOp.GetK, McOp.Get, 7, "k1"]);
 * ```
 */
export class BinaryParser {
  /** Stream offset of the last packet. */
  offset = 0;
  /** Opcode. */
  opcode = 0;
  /** The operation ({@linkcode McOp}); `Other` for an opcode memcached does not define. */
  op: McOp = McOp.Other;
  /** A quiet opcode (GETQ, SETQ, …). */
  quiet = false;
  /** Response status (responses); vbucket id (requests). */
  status = 0;
  /** Opaque, echoed by the server: pairs responses with requests. */
  opaque = 0;
  /** CAS (approximate above 2^53). */
  cas = 0;
  /** Data type byte. */
  dataType = 0;
  /** Key length. */
  keyLength = 0;
  /** Extras length. */
  extrasLength = 0;
  /** Value length (body minus extras and key). */
  valueLength = 0;
  /** Stream offset of the value. */
  valueOffset = 0;
  /** Client flags from the extras (set family requests, get responses); -1 when absent. */
  clientFlags = -1;
  /** Expiration from the extras (set family, touch, gat, incr/decr, flush); -1 when absent. */
  ttl = -1;
  /** Incr/decr delta from the extras; -1 when absent. */
  delta = -1;
  /** Where the key lives: the caller's chunk or the parser's buffer. */
  src: Uint8Array = new Uint8Array(0);
  /** Start of the key in `src`. */
  keyStart = 0;

  #magic: number;
  #what: string;
  #name: string;
  #state = S_HEAD;
  #head = new Uint8Array(BIN_HEADER + 64);
  #headLen = 0;
  #need = BIN_HEADER; // bytes of header+extras+key wanted (24 until the header is read)
  #skip = 0;
  #pos = 0;

  /**
   * @param direction Which packets to expect: client requests (magic 0x80) or server responses (0x81).
   * @param name Names the stream in errors.
   */
  constructor(direction: "requests" | "responses", name = `binary ${direction} stream`) {
    this.#magic = direction === "requests" ? BIN_REQUEST : BIN_RESPONSE;
    this.#what = direction === "requests" ? "binary request" : "binary response";
    this.#name = name;
  }

  /** Stream offset just after the last byte consumed. */
  get position(): number {
    return this.#pos;
  }

  /** True when no partial packet is buffered. */
  get atBoundary(): boolean {
    return this.#state === S_HEAD && this.#headLen === 0;
  }

  /** The key as a view (valid until the next parse call). */
  key(): Uint8Array {
    return this.src.subarray(this.keyStart, this.keyStart + this.keyLength);
  }

  /** Starts afresh at stream offset `offset`. */
  reset(offset = 0): void {
    this.#state = S_HEAD;
    this.#headLen = 0;
    this.#need = BIN_HEADER;
    this.#skip = 0;
    this.#pos = offset;
  }

  /**
   * Throws when the stream ends inside a packet.
   *
   * @throws {MembenchError} `protocol` naming what was cut.
   */
  end(): void {
    if (this.#state === S_VALUE) {
      throw this.#fail(0, `stream ends inside a value (${this.#skip} bytes missing)`);
    }
    if (this.#headLen > 0) {
      throw this.#fail(
        0,
        `stream ends inside a packet header (${this.#headLen} of ${this.#need} bytes)`,
      );
    }
  }

  /**
   * Parses `buf[from, to)` up to the next complete header+extras+key. Returns the index just
   * past it (the value is skipped by the following calls), or -1 when the range is used up.
   *
   * @throws {MembenchError} `protocol` with the stream offset on malformed input.
   */
  parse(buf: Uint8Array, from: number, to: number): number {
    let p = from;
    while (p < to) {
      if (this.#state === S_VALUE) {
        p = this.finishPayload(buf, p, to);
        if (p < 0) return -1;
        continue;
      }
      // Fast path: the whole header, extras and key are inside this chunk: read them in place.
      if (this.#headLen === 0 && to - p >= BIN_HEADER) {
        const need = this.#checkHeader(buf, p);
        if (to - p >= need) {
          this.#decode(buf, p);
          p += need;
          this.#pos += need;
          this.#afterHead();
          return p;
        }
      }
      // Slow path: collect the fixed header, then extras and key, into the header buffer.
      if (this.#headLen < BIN_HEADER) {
        p = this.#collect(buf, p, to, BIN_HEADER);
        if (this.#headLen < BIN_HEADER) continue;
        this.#need = this.#checkHeader(this.#head, 0, this.#pos - BIN_HEADER);
      }
      p = this.#collect(buf, p, to, this.#need);
      if (this.#headLen < this.#need) continue;
      this.#decode(this.#head, 0);
      this.#headLen = 0;
      this.#need = BIN_HEADER;
      this.#afterHead();
      return p;
    }
    return -1;
  }

  /**
   * Consumes the rest of the last packet's value from `buf[from, to)`. Returns the index just
   * past it (or `from` when nothing is pending), or -1 when the range ends first.
   */
  finishPayload(_buf: Uint8Array, from: number, to: number): number {
    if (this.#state !== S_VALUE) return from;
    const avail = to - from;
    if (avail < this.#skip) {
      this.#skip -= avail;
      this.#pos += avail;
      return -1;
    }
    const p = from + this.#skip;
    this.#pos += this.#skip;
    this.#skip = 0;
    this.#state = S_HEAD;
    return p;
  }

  // Validates a header at b[o]; returns header + extras + key length.
  #checkHeader(b: Uint8Array, o: number, streamOffset = this.#pos): number {
    if (b[o] !== this.#magic) {
      throw this.#failAt(
        streamOffset,
        `expected magic 0x${this.#magic.toString(16)}, found ${describeByte(b[o]!)}`,
      );
    }
    const keyLen = (b[o + 2]! << 8) | b[o + 3]!;
    const extLen = b[o + 4]!;
    const body = ((b[o + 8]! << 24) >>> 0) + ((b[o + 9]! << 16) | (b[o + 10]! << 8) | b[o + 11]!);
    if (keyLen + extLen > body) {
      throw this.#failAt(
        streamOffset,
        `key (${keyLen}) and extras (${extLen}) are longer than the body (${body})`,
      );
    }
    if (body > MC_MAX_VALUE) throw this.#failAt(streamOffset, `body length ${body} is too large`);
    return BIN_HEADER + extLen + keyLen;
  }

  #decode(b: Uint8Array, o: number): void {
    const opcode = b[o + 1]!;
    this.opcode = opcode;
    const info = binOpInfo(opcode);
    this.op = info?.op ?? McOp.Other;
    this.quiet = info?.quiet ?? false;
    this.keyLength = (b[o + 2]! << 8) | b[o + 3]!;
    this.extrasLength = b[o + 4]!;
    this.dataType = b[o + 5]!;
    this.status = (b[o + 6]! << 8) | b[o + 7]!;
    const body = ((b[o + 8]! << 24) >>> 0) + ((b[o + 9]! << 16) | (b[o + 10]! << 8) | b[o + 11]!);
    this.opaque = ((b[o + 12]! << 24) >>> 0) +
      ((b[o + 13]! << 16) | (b[o + 14]! << 8) | b[o + 15]!);
    this.cas = u32(b, o + 16) * 4294967296 + u32(b, o + 20);
    this.valueLength = body - this.extrasLength - this.keyLength;
    this.src = b;
    this.keyStart = o + BIN_HEADER + this.extrasLength;
    this.clientFlags = -1;
    this.ttl = -1;
    this.delta = -1;
    const x = o + BIN_HEADER;
    const el = this.extrasLength;
    if (this.#magic === BIN_REQUEST) {
      switch (opcode) {
        case BinOp.Set:
        case BinOp.Add:
        case BinOp.Replace:
        case BinOp.SetQ:
        case BinOp.AddQ:
        case BinOp.ReplaceQ:
          if (el >= 8) {
            this.clientFlags = u32(b, x);
            this.ttl = u32(b, x + 4);
          }
          break;
        case BinOp.Increment:
        case BinOp.Decrement:
        case BinOp.IncrementQ:
        case BinOp.DecrementQ:
          if (el >= 20) {
            this.delta = u32(b, x) * 4294967296 + u32(b, x + 4);
            this.ttl = u32(b, x + 16);
          }
          break;
        case BinOp.Touch:
        case BinOp.Gat:
        case BinOp.GatQ:
        case BinOp.GatK:
        case BinOp.GatKQ:
        case BinOp.Flush:
        case BinOp.FlushQ:
          if (el >= 4) this.ttl = u32(b, x);
          break;
      }
    } else if (el >= 4) {
      this.clientFlags = u32(b, x);
    }
  }

  #afterHead(): void {
    this.offset = this.#pos - BIN_HEADER - this.extrasLength - this.keyLength;
    this.valueOffset = this.#pos;
    if (this.valueLength > 0) {
      this.#skip = this.valueLength;
      this.#state = S_VALUE;
    }
  }

  // Copies up to `upTo - headLen` bytes into the header buffer; returns the new position.
  #collect(buf: Uint8Array, p: number, to: number, upTo: number): number {
    const take = Math.min(upTo - this.#headLen, to - p);
    if (take <= 0) return p;
    this.#ensure(this.#headLen + take);
    this.#head.set(buf.subarray(p, p + take), this.#headLen);
    this.#headLen += take;
    this.#pos += take;
    return p + take;
  }

  #ensure(n: number): void {
    if (n <= this.#head.length) return;
    const nb = new Uint8Array(Math.max(n, this.#head.length * 2));
    nb.set(this.#head.subarray(0, this.#headLen));
    this.#head = nb;
  }

  #fail(rel: number, what: string): MembenchError {
    return this.#failAt(this.#pos + rel, what);
  }

  #failAt(at: number, what: string): MembenchError {
    return new MembenchError(
      "protocol",
      `Malformed memcached ${this.#what} in ${this.#name} at byte ${at}: ${what}`,
    );
  }
}

function u32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) >>> 0) + ((b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!);
}

/** A binary packet to encode. Strings are UTF-8. */
export interface BinaryPacket {
  /** 0x80 request (default) or 0x81 response. */
  magic?: number;
  /** Opcode ({@linkcode BinOp}). */
  opcode: number;
  /** Key. */
  key?: string | Uint8Array;
  /** Extras bytes (see {@linkcode binaryExtras}). */
  extras?: Uint8Array;
  /** Value. */
  value?: string | Uint8Array;
  /** Opaque. @default {0} */
  opaque?: number;
  /** CAS. @default {0} */
  cas?: number;
  /** Status (responses) or vbucket (requests). @default {0} */
  status?: number;
}

const utf8 = new TextEncoder();

/**
 * Encodes one binary packet.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { BinOp, McOp } from "./types.ts";
 * const b = encodeBinary({ opcode: BinOp.Noop, opaque: 1 });
 * assert.equal(b.length, 24);
 * assert.equal(b[0], 0x80);
 * ```
 */
export function encodeBinary(pkt: BinaryPacket): Uint8Array {
  const key = typeof pkt.key === "string" ? utf8.encode(pkt.key) : pkt.key ?? new Uint8Array(0);
  const value = typeof pkt.value === "string"
    ? utf8.encode(pkt.value)
    : pkt.value ?? new Uint8Array(0);
  const extras = pkt.extras ?? new Uint8Array(0);
  if (key.length > 0xffff) {
    throw new MembenchError(
      "invalid_argument",
      `Cannot encode binary packet: key is ${key.length} bytes`,
    );
  }
  if (extras.length > 0xff) {
    throw new MembenchError(
      "invalid_argument",
      `Cannot encode binary packet: extras are ${extras.length} bytes`,
    );
  }
  const body = extras.length + key.length + value.length;
  const out = new Uint8Array(BIN_HEADER + body);
  const v = new DataView(out.buffer);
  out[0] = pkt.magic ?? BIN_REQUEST;
  out[1] = pkt.opcode;
  v.setUint16(2, key.length);
  out[4] = extras.length;
  v.setUint16(6, pkt.status ?? 0);
  v.setUint32(8, body);
  v.setUint32(12, pkt.opaque ?? 0);
  const cas = pkt.cas ?? 0;
  v.setUint32(16, Math.floor(cas / 4294967296));
  v.setUint32(20, cas % 4294967296);
  out.set(extras, BIN_HEADER);
  out.set(key, BIN_HEADER + extras.length);
  out.set(value, BIN_HEADER + extras.length + key.length);
  return out;
}

/**
 * Extras for a binary request: `set` family (flags, expiration), `incr` family (delta, initial,
 * expiration), `touch`/`gat`/`flush` (expiration), `verbosity` (level).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { BinOp, McOp } from "./types.ts";
 * assert.equal(binaryExtras({ flags: 1, ttl: 60 }).length, 8);
 * assert.equal(binaryExtras({ delta: 1, initial: 0, ttl: 0xffffffff }).length, 20);
 * ```
 */
export function binaryExtras(
  e: { flags: number; ttl: number } | { delta: number; initial: number; ttl: number } | {
    ttl: number;
  } | { level: number },
): Uint8Array {
  if ("flags" in e) {
    const b = new Uint8Array(8);
    const v = new DataView(b.buffer);
    v.setUint32(0, e.flags);
    v.setUint32(4, e.ttl);
    return b;
  }
  if ("delta" in e) {
    const b = new Uint8Array(20);
    const v = new DataView(b.buffer);
    v.setUint32(0, Math.floor(e.delta / 4294967296));
    v.setUint32(4, e.delta % 4294967296);
    v.setUint32(8, Math.floor(e.initial / 4294967296));
    v.setUint32(12, e.initial % 4294967296);
    v.setUint32(16, e.ttl);
    return b;
  }
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, "ttl" in e ? e.ttl : e.level);
  return b;
}
