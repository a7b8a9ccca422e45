// This module uses no Deno APIs.
import { MembenchError } from "../../errors/mod.ts";
import {
  ARRAY,
  ATTRIBUTE,
  BIGNUM,
  BLOB_ERROR,
  BOOLEAN,
  BULK,
  DOUBLE,
  ERROR,
  INTEGER,
  MAP,
  MAX_AGGREGATE_LENGTH,
  MAX_BULK_LENGTH,
  MAX_DEPTH,
  MAX_LINE_LENGTH,
  NULL,
  PUSH,
  type RespMap,
  type RespValue,
  SET,
  SIMPLE,
  VERBATIM,
} from "./types.ts";

/** Options for {@linkcode RespDecoder}. */
export interface RespDecoderOptions {
  /**
   * Decode client requests instead of server replies: accept inline commands (`PING\r\n`) as
   * Redis does, returned as arrays of bulk strings.
   * @default {false}
   */
  requests?: boolean;
  /** Name of the stream for error messages, such as `"127.0.0.1:6379 reply"`. */
  name?: string;
}

const NEED_MORE = Symbol("need more");
type Parsed = RespValue | typeof NEED_MORE;
const latin1 = new TextDecoder("latin1");
const utf8 = new TextDecoder();

/**
 * Incremental RESP2/RESP3 decoder. Feed it chunks split anywhere; pull complete values with
 * {@linkcode RespDecoder.next}. Bulk payloads are views into the decoder's buffer and stay valid
 * after later feeds: the buffer is never written over, a new one is allocated when it fills.
 * Malformed input throws a `protocol` {@linkcode MembenchError} naming the byte offset in the
 * stream. Memory is bounded by one value (lines are capped at 64 KiB, bulks at 512 MiB).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const d = new RespDecoder();
 * d.feed(new TextEncoder().encode("$5\r\nhel"));
 * assert.equal(d.next(), undefined);
 * d.feed(new TextEncoder().encode("lo\r\n:7\r\n"));
 * const v = d.next();
 * assert.equal(v?.type, "bulk");
 * assert.deepEqual(d.next(), { type: "integer", value: 7 });
 * ```
 */
export class RespDecoder {
  #buf = new Uint8Array(0);
  #start = 0;
  #end = 0;
  #base = 0; // stream offset of #buf[0]
  #need = 0; // do not try to parse again until #end reaches this
  #requests: boolean;
  #name: string;

  constructor(options: RespDecoderOptions = {}) {
    this.#requests = options.requests ?? false;
    this.#name = options.name ?? "RESP stream";
  }

  /** Stream offset of the first byte not yet returned as part of a value. */
  get offset(): number {
    return this.#base + this.#start;
  }

  /** Bytes buffered but not yet returned as part of a value. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /** Appends bytes. The decoder copies them, so the caller may reuse `chunk`. */
  feed(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (this.#end + chunk.length > this.#buf.length) {
      // Never move bytes in place: earlier views must stay valid. Start a new buffer with the
      // unconsumed tail instead.
      const keep = this.#end - this.#start;
      const size = Math.max(4096, (keep + chunk.length) * 2);
      const nb = new Uint8Array(size);
      nb.set(this.#buf.subarray(this.#start, this.#end));
      this.#base += this.#start;
      this.#need -= this.#start;
      this.#buf = nb;
      this.#start = 0;
      this.#end = keep;
    }
    this.#buf.set(chunk, this.#end);
    this.#end += chunk.length;
  }

  /** Returns the next complete value, or `undefined` when more bytes are needed. */
  next(): RespValue | undefined {
    if (this.#start === this.#end || this.#end < this.#need) return undefined;
    this.#pos = this.#start;
    this.#depth = 0;
    const v = this.#requests ? this.#parseRequest() : this.#parse();
    if (v === NEED_MORE) return undefined;
    this.#start = this.#pos;
    this.#need = 0;
    return v;
  }

  /** Throws if a partial value is buffered (call at end of stream). */
  end(): void {
    if (this.#start !== this.#end) {
      throw this.#error(this.#start, `stream ended inside a value (${this.buffered} bytes left)`);
    }
  }

  #pos = 0;
  #depth = 0;

  #error(at: number, what: string): MembenchError {
    return new MembenchError(
      "protocol",
      `Malformed RESP in ${this.#name} at byte ${this.#base + at}: ${what}`,
    );
  }

  // Returns the index of the '\r' ending the line starting at #pos, or -1 if not buffered yet.
  #lineEnd(): number {
    const buf = this.#buf;
    const from = this.#pos;
    const nl = buf.subarray(from, this.#end).indexOf(10);
    if (nl < 0) {
      if (this.#end - from > MAX_LINE_LENGTH) {
        throw this.#error(from, `line longer than ${MAX_LINE_LENGTH} bytes without CRLF`);
      }
      return -1;
    }
    const lf = from + nl;
    // The same limit whether the line came in one chunk or several.
    if (nl > MAX_LINE_LENGTH) {
      throw this.#error(from, `line longer than ${MAX_LINE_LENGTH} bytes without CRLF`);
    }
    if (lf === from || buf[lf - 1] !== 13) throw this.#error(lf, "line ends with LF without CR");
    return lf - 1;
  }

  #parseInt(from: number, to: number): number {
    const buf = this.#buf;
    let i = from;
    let neg = false;
    if (buf[i] === 45 || buf[i] === 43) {
      neg = buf[i] === 45;
      i++;
    }
    if (i >= to) throw this.#error(from, "expected a number, found an empty line");
    let v = 0;
    for (; i < to; i++) {
      const c = buf[i]!;
      if (c < 48 || c > 57) {
        throw this.#error(i, `expected a digit, found ${describeByte(c)}`);
      }
      v = v * 10 + (c - 48);
    }
    return neg ? -v : v;
  }

  #parse(): Parsed {
    if (this.#pos >= this.#end) return NEED_MORE;
    const at = this.#pos;
    const type = this.#buf[at]!;
    this.#pos = at + 1;
    switch (type) {
      case SIMPLE:
      case ERROR:
      case INTEGER:
      case DOUBLE:
      case BIGNUM:
      case BOOLEAN:
      case NULL:
        return this.#parseLineValue(type);
      case BULK:
      case VERBATIM:
      case BLOB_ERROR:
        return this.#parseBulk(type, at);
      case ARRAY:
      case SET:
      case PUSH:
      case MAP:
      case ATTRIBUTE:
        return this.#parseAggregate(type, at);
      default:
        throw this.#error(at, `unknown type byte ${describeByte(type)}`);
    }
  }

  #parseLineValue(type: number): Parsed {
    const cr = this.#lineEnd();
    if (cr < 0) return NEED_MORE;
    const from = this.#pos;
    this.#pos = cr + 2;
    const buf = this.#buf;
    switch (type) {
      case SIMPLE:
        return { type: "simple", value: utf8.decode(buf.subarray(from, cr)) };
      case ERROR:
        return { type: "error", value: utf8.decode(buf.subarray(from, cr)) };
      case INTEGER: {
        const v = this.#parseInt(from, cr);
        if (Number.isSafeInteger(v)) return { type: "integer", value: v };
        return { type: "integer", value: BigInt(latin1.decode(buf.subarray(from, cr))) };
      }
      case BIGNUM: {
        const text = latin1.decode(buf.subarray(from, cr));
        if (!/^[+-]?\d+$/.test(text)) throw this.#error(from, `bad big number ${q(text)}`);
        return { type: "bignum", value: BigInt(text) };
      }
      case DOUBLE: {
        const text = latin1.decode(buf.subarray(from, cr));
        const v = text === "inf" ? Infinity : text === "-inf" ? -Infinity : Number(text);
        if (text === "nan") return { type: "double", value: NaN };
        if (text.length === 0 || Number.isNaN(v)) throw this.#error(from, `bad double ${q(text)}`);
        return { type: "double", value: v };
      }
      case BOOLEAN: {
        if (cr - from !== 1 || (buf[from] !== 116 && buf[from] !== 102)) {
          throw this.#error(from, "boolean must be #t or #f");
        }
        return { type: "boolean", value: buf[from] === 116 };
      }
      default: // NULL
        if (cr !== from) throw this.#error(from, "null must be an empty line");
        return { type: "null" };
    }
  }

  #parseBulk(type: number, at: number): Parsed {
    const cr = this.#lineEnd();
    if (cr < 0) return NEED_MORE;
    const len = this.#parseInt(this.#pos, cr);
    if (len === -1 && type === BULK) {
      this.#pos = cr + 2;
      return { type: "null" };
    }
    if (len < 0 || len > MAX_BULK_LENGTH) {
      throw this.#error(at + 1, `bad bulk length ${len}`);
    }
    const from = cr + 2;
    const to = from + len;
    if (to + 2 > this.#end) {
      this.#need = to + 2;
      return NEED_MORE;
    }
    if (this.#buf[to] !== 13 || this.#buf[to + 1] !== 10) {
      throw this.#error(to, `bulk of ${len} bytes is not followed by CRLF`);
    }
    this.#pos = to + 2;
    const payload = this.#buf.subarray(from, to);
    if (type === BLOB_ERROR) return { type: "error", value: utf8.decode(payload) };
    if (type === VERBATIM) {
      if (len < 4 || payload[3] !== 58) throw this.#error(from, "verbatim string lacks 'fmt:'");
      return {
        type: "verbatim",
        format: latin1.decode(payload.subarray(0, 3)),
        value: payload.subarray(4),
      };
    }
    return { type: "bulk", value: payload };
  }

  #parseAggregate(type: number, at: number): Parsed {
    const cr = this.#lineEnd();
    if (cr < 0) return NEED_MORE;
    const n = this.#parseInt(this.#pos, cr);
    this.#pos = cr + 2;
    if (n === -1 && (type === ARRAY || type === SET || type === PUSH)) return { type: "null" };
    if (n < 0 || n > MAX_AGGREGATE_LENGTH) throw this.#error(at + 1, `bad aggregate length ${n}`);
    if (++this.#depth > MAX_DEPTH) throw this.#error(at, `nesting deeper than ${MAX_DEPTH}`);
    let result: RespValue;
    if (type === MAP || type === ATTRIBUTE) {
      const entries: RespMap = [];
      for (let i = 0; i < n; i++) {
        const k = this.#parse();
        if (k === NEED_MORE) return NEED_MORE;
        const v = this.#parse();
        if (v === NEED_MORE) return NEED_MORE;
        entries.push([k, v]);
      }
      if (type === ATTRIBUTE) {
        // An attribute describes the value that follows it. It counts as a level of nesting
        // until that value is read, so that a chain of attributes is bounded like any nesting
        // (and cannot take the parser off the stack).
        const v = this.#parse();
        if (v === NEED_MORE) return NEED_MORE;
        v.attributes = entries;
        this.#depth--;
        return v;
      }
      result = { type: "map", value: entries };
    } else {
      const items: RespValue[] = [];
      for (let i = 0; i < n; i++) {
        const v = this.#parse();
        if (v === NEED_MORE) return NEED_MORE;
        items.push(v);
      }
      result = {
        type: type === ARRAY ? "array" : type === SET ? "set" : "push",
        value: items,
      };
    }
    this.#depth--;
    return result;
  }

  // Requests are arrays of bulk strings, or inline commands: words separated by spaces.
  #parseRequest(): Parsed {
    const buf = this.#buf;
    for (;;) {
      if (buf[this.#pos] === ARRAY) return this.#parse();
      const cr = this.#lineEnd();
      if (cr < 0) return NEED_MORE;
      const from = this.#pos;
      this.#pos = cr + 2;
      const words: RespValue[] = [];
      let i = from;
      while (i < cr) {
        while (i < cr && (buf[i] === 32 || buf[i] === 9)) i++;
        const s = i;
        while (i < cr && buf[i] !== 32 && buf[i] !== 9) i++;
        if (i > s) words.push({ type: "bulk", value: buf.subarray(s, i) });
      }
      if (words.length > 0) return { type: "array", value: words };
      // Redis ignores empty inline lines; so do we. They are consumed here, one after another
      // in this loop (a long run of them must not recurse).
      this.#start = this.#pos;
      if (this.#pos >= this.#end) return NEED_MORE;
    }
  }
}

function describeByte(c: number): string {
  return c >= 32 && c < 127 ? `'${String.fromCharCode(c)}' (0x${hex(c)})` : `0x${hex(c)}`;
}

function hex(c: number): string {
  return c.toString(16).padStart(2, "0");
}

function q(s: string): string {
  return JSON.stringify(s.length > 40 ? s.slice(0, 40) + "…" : s);
}

/** Text of a bulk, simple or verbatim value; `undefined` for other types. */
export function respText(v: RespValue | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (v.type === "simple" || v.type === "error") return v.value;
  if (v.type === "bulk" || v.type === "verbatim") return utf8.decode(v.value);
  if (v.type === "integer" || v.type === "double" || v.type === "bignum") return String(v.value);
  return undefined;
}
