// This module uses no Deno APIs.
import { MembenchError } from "../../errors/mod.ts";
import { RespDecoder } from "./decoder.ts";
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
  NULL,
  PUSH,
  SET,
  SIMPLE,
  VERBATIM,
} from "./types.ts";
import type { RespValue } from "./types.ts";

// The reply kinds of the connection engine's ReplyReader (net/pipeline.ts), by value: protocol/
// may not import net/.
const KIND_VALUE = 0;
const KIND_NULL = 1;
const KIND_ERROR = 2;
const KIND_PUSH = 3;

/**
 * A reply reader for the connection engine that decodes every reply into a
 * {@linkcode RespValue}, for schedulers that need a reply's content (a vector query's ids and
 * scores), not only where it ends. It has the engine's `ReplyReader` shape: the engine calls
 * `scan(buf, from, to)` once per read chunk and again after each completed reply until it
 * returns -1; replies may straddle chunks (the decoder keeps the partial bytes). After a
 * successful `scan`, {@linkcode RespValueReader.value} is the reply.
 *
 * Costs: the decoder copies each chunk once and builds one object per value; use the scanner
 * (`ReplyScanner`) where the content does not matter.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const r = new RespValueReader();
 * const bytes = new TextEncoder().encode("*2\r\n:1\r\n$3\r\nabc\r\n-ERR no\r\n");
 * // A reply split over two chunks, then a second reply in the same chunk.
 * assert.equal(r.scan(bytes, 0, 10), -1);
 * const end = r.scan(bytes, 10, bytes.length);
 * assert.equal(end, 17);
 * assert.equal(r.value?.type, "array");
 * assert.equal(r.scan(bytes, end, bytes.length), bytes.length);
 * assert.equal(r.kind, 2);
 * assert.equal(r.errorCode(), "ERR");
 * assert.equal(r.scan(bytes, bytes.length, bytes.length), -1);
 * ```
 */
export class RespValueReader {
  /** 0 value, 1 null, 2 error, 3 push (the engine's REPLY_* constants). */
  kind = KIND_VALUE;
  /** Elements of the last aggregate reply (0 for scalars). */
  elements = 0;
  /** Always 0: nulls inside replies are in {@linkcode RespValueReader.value}. */
  nulls = 0;
  /** The last completed reply. */
  value: RespValue | undefined = undefined;
  #decoder: RespDecoder;
  #name: string;
  // Bytes of the current chunk were fed; the engine is draining the replies they completed.
  #draining = false;
  // Stream offset of the first byte of the chunk being drained, and its index in that chunk.
  #chunkStream = 0;
  #chunkFrom = 0;
  #fed = 0;

  constructor(name = "RESP reply stream") {
    this.#name = name;
    this.#decoder = new RespDecoder({ name });
  }

  /**
   * Index just past the next reply completed in `buf[from, to)`, or -1. The first call for a
   * chunk feeds all of it; the calls that follow (from the index returned) pull the replies it
   * completed.
   *
   * @throws {MembenchError} `protocol` naming the stream offset on malformed input.
   */
  scan(buf: Uint8Array, from: number, to: number, _unit?: number): number {
    if (!this.#draining) {
      this.#chunkStream = this.#fed;
      this.#chunkFrom = from;
      if (to > from) this.#decoder.feed(buf.subarray(from, to));
      this.#fed += to - from;
      this.#draining = true;
    }
    const v = this.#decoder.next();
    if (v === undefined) {
      this.#draining = false;
      return -1;
    }
    this.value = v;
    switch (v.type) {
      case "error":
        this.kind = KIND_ERROR;
        break;
      case "null":
        this.kind = KIND_NULL;
        break;
      case "push":
        this.kind = KIND_PUSH;
        break;
      default:
        this.kind = KIND_VALUE;
    }
    this.elements = v.type === "array" || v.type === "set" || v.type === "push"
      ? v.value.length
      : v.type === "map"
      ? v.value.length
      : 0;
    // The reply ends inside this chunk (earlier chunks' replies were drained before it came).
    return this.#chunkFrom + (this.#decoder.offset - this.#chunkStream);
  }

  /** A fresh stream (after a reconnect). */
  reset(): void {
    this.#decoder = new RespDecoder({ name: this.#name });
    this.#draining = false;
    this.#fed = 0;
    this.#chunkStream = 0;
    this.value = undefined;
  }

  /** The first word of the last error reply (`ERR`, `WRONGTYPE`, …). */
  errorCode(): string {
    const v = this.value;
    if (v === undefined || v.type !== "error") return "";
    const sp = v.value.indexOf(" ");
    return sp < 0 ? v.value : v.value.slice(0, sp);
  }

  /** The text of the last error reply. */
  errorText(): string {
    const v = this.value;
    return v !== undefined && v.type === "error" ? v.value : "";
  }
}

const MAX_NEST = 128;
const INCOMPLETE = -1;
const RESULTS = new TextEncoder().encode("results");
const WARNING = new TextEncoder().encode("warning");
const ID = new TextEncoder().encode("id");
const latin1 = new TextDecoder("latin1");

/**
 * A reply reader for the connection engine that reads FT.SEARCH replies in place: it keeps only
 * what a recall score needs, the document ids as integers (keys `prefix + digits`; -1 for a key
 * of another shape) and whether the server said the query timed out. It builds no value tree
 * and copies nothing while a reply lies whole in the read chunk, which is the common case; a
 * reply cut by the chunk's end is kept (copied) and parsed again when the rest comes. Replies:
 * the RESP2 array (`[total, id, [fields], …]`, or `[total, id, …]` with NOCONTENT) and the RESP3
 * map (`results`: maps with `id`; `warning`: a timeout). Any other reply is skipped whole, and
 * errors keep their text.
 *
 * After a successful `scan`: {@linkcode RespSearchReader.kind}, and for a value
 * {@linkcode RespSearchReader.count} ids in {@linkcode RespSearchReader.ids} and
 * {@linkcode RespSearchReader.timedOut}.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const r = new RespSearchReader(new TextEncoder().encode("v:"), 4);
 * const bytes = new TextEncoder().encode("*3\r\n:2\r\n$3\r\nv:7\r\n$3\r\nv:3\r\n-ERR no\r\n");
 * assert.equal(r.scan(bytes, 0, 10), -1); // a reply cut short: kept
 * const end = r.scan(bytes, 10, bytes.length);
 * assert.deepEqual([end, r.kind, r.count, r.ids[0], r.ids[1]], [26, 0, 2, 7, 3]);
 * assert.equal(r.scan(bytes, end, bytes.length), bytes.length);
 * assert.deepEqual([r.kind, r.errorCode()], [2, "ERR"]);
 * ```
 */
export class RespSearchReader {
  /** 0 value, 1 null, 2 error, 3 push (the engine's REPLY_* constants). */
  kind = KIND_VALUE;
  /** Top-level elements of the last reply. */
  elements = 0;
  /** Always 0. */
  nulls = 0;
  /** Ids of the last reply (`count` of them). */
  readonly ids: Int32Array;
  /** Ids written for the last reply. */
  count = 0;
  /** The last reply said the query timed out. */
  timedOut = false;
  readonly #prefix: Uint8Array;
  readonly #name: string;
  #error = "";
  // A reply cut by the chunk's end, kept until the rest comes.
  #pend = new Uint8Array(0);
  #pendLen = 0;
  // Stream offset of the chunk being read (for messages).
  #stream = 0;

  /**
   * @param prefix The key prefix of the documents (ids are the digits after it).
   * @param maxIds Ids kept per reply (k).
   */
  constructor(prefix: Uint8Array, maxIds: number, name = "FT.SEARCH reply stream") {
    this.#prefix = prefix;
    this.ids = new Int32Array(maxIds);
    this.#name = name;
  }

  /**
   * Index just past the next reply completed in `buf[from, to)`, or -1 (the rest of the chunk is
   * kept until more comes).
   *
   * @throws {MembenchError} `protocol` naming the stream on malformed input.
   */
  scan(buf: Uint8Array, from: number, to: number, _unit?: number): number {
    if (this.#pendLen > 0) {
      const old = this.#pendLen;
      this.#keep(buf, from, to);
      const r = this.#top(this.#pend, 0, this.#pendLen);
      if (r === INCOMPLETE) return -1;
      this.#pendLen = 0;
      this.#stream += r;
      return from + (r - old);
    }
    if (from >= to) return -1;
    const r = this.#top(buf, from, to);
    if (r === INCOMPLETE) {
      this.#keep(buf, from, to);
      return -1;
    }
    this.#stream += r - from;
    return r;
  }

  #keep(buf: Uint8Array, from: number, to: number): void {
    const need = this.#pendLen + (to - from);
    if (need > this.#pend.length) {
      const next = new Uint8Array(Math.max(need, this.#pend.length * 2, 4096));
      next.set(this.#pend.subarray(0, this.#pendLen));
      this.#pend = next;
    }
    this.#pend.set(buf.subarray(from, to), this.#pendLen);
    this.#pendLen = need;
  }

  /** A fresh stream (after a reconnect). */
  reset(): void {
    this.#pendLen = 0;
    this.#stream = 0;
    this.count = 0;
    this.timedOut = false;
  }

  /** The first word of the last error reply (`ERR`, `WRONGTYPE`, …). */
  errorCode(): string {
    if (this.kind !== KIND_ERROR) return "";
    const sp = this.#error.indexOf(" ");
    return sp < 0 ? this.#error : this.#error.slice(0, sp);
  }

  /** The text of the last error reply. */
  errorText(): string {
    return this.kind === KIND_ERROR ? this.#error : "";
  }

  #bad(what: string, at: number): never {
    throw new MembenchError(
      "protocol",
      `${this.#name}: ${what} near stream offset ${this.#stream + at}`,
    );
  }

  // Index of the CR ending the line that starts at `p`, or -1.
  #eol(b: Uint8Array, p: number, end: number): number {
    // Lines here are short (a length, an id): a plain loop beats indexOf's call.
    for (let i = p; i + 1 < end; i++) {
      if (b[i] === 13) {
        if (b[i + 1] !== 10) this.#bad("a CR without LF", i);
        return i;
      }
    }
    return -1;
  }

  // The signed integer in b[p, e).
  #int(b: Uint8Array, p: number, e: number): number {
    let neg = false;
    if (b[p] === 45) {
      neg = true;
      p++;
    }
    if (p >= e) this.#bad("an empty length", p);
    let v = 0;
    for (; p < e; p++) {
      const c = b[p]! - 48;
      if (c < 0 || c > 9) this.#bad("a bad length", p);
      v = v * 10 + c;
    }
    return neg ? -v : v;
  }

  // One top-level reply at `p`: its end, or INCOMPLETE.
  #top(b: Uint8Array, p: number, end: number): number {
    this.count = 0;
    this.timedOut = false;
    this.elements = 0;
    let t = b[p]!;
    while (t === ATTRIBUTE) {
      // An attribute map annotates the reply after it: skip the map alone.
      const eol = this.#eol(b, p + 1, end);
      if (eol < 0) return INCOMPLETE;
      const n = 2 * this.#int(b, p + 1, eol);
      p = eol + 2;
      for (let i = 0; i < n; i++) {
        p = this.#skip(b, p, end, 1);
        if (p === INCOMPLETE) return INCOMPLETE;
      }
      if (p >= end) return INCOMPLETE;
      t = b[p]!;
    }
    const eol = this.#eol(b, p + 1, end);
    if (eol < 0) return INCOMPLETE;
    switch (t) {
      case ERROR:
        this.kind = KIND_ERROR;
        this.#error = latin1.decode(b.subarray(p + 1, eol));
        return eol + 2;
      case BLOB_ERROR: {
        const n = this.#int(b, p + 1, eol);
        const s = eol + 2;
        if (s + n + 2 > end) return INCOMPLETE;
        this.kind = KIND_ERROR;
        this.#error = latin1.decode(b.subarray(s, s + n));
        return s + n + 2;
      }
      case NULL:
        this.kind = KIND_NULL;
        return eol + 2;
      case ARRAY: {
        const n = this.#int(b, p + 1, eol);
        if (n < 0) {
          this.kind = KIND_NULL;
          return eol + 2;
        }
        this.kind = KIND_VALUE;
        this.elements = n;
        return this.#resp2(b, eol + 2, end, n);
      }
      case MAP: {
        const n = this.#int(b, p + 1, eol);
        this.kind = KIND_VALUE;
        this.elements = n;
        return this.#resp3(b, eol + 2, end, n);
      }
      case PUSH: {
        const q = this.#skip(b, p, end, 0);
        if (q !== INCOMPLETE) this.kind = KIND_PUSH;
        return q;
      }
      case BULK:
        if (this.#int(b, p + 1, eol) < 0) {
          this.kind = KIND_NULL;
          return eol + 2;
        }
        // falls through
      default: {
        const q = this.#skip(b, p, end, 0);
        if (q !== INCOMPLETE) this.kind = KIND_VALUE;
        return q;
      }
    }
  }

  // RESP2: [total, key, [fields]?, key, …]; a lone status naming a timeout.
  #resp2(b: Uint8Array, p: number, end: number, n: number): number {
    for (let i = 0; i < n; i++) {
      if (p >= end) return INCOMPLETE;
      const t = b[p]!;
      if (i === 0 && t === SIMPLE) {
        const eol = this.#eol(b, p + 1, end);
        if (eol < 0) return INCOMPLETE;
        if (n === 1 && /timeout/i.test(latin1.decode(b.subarray(p + 1, eol)))) {
          this.timedOut = true;
        }
        p = eol + 2;
        continue;
      }
      if (i > 0 && (t === BULK || t === SIMPLE || t === VERBATIM)) {
        const q = this.#string(b, p, end, true);
        if (q === INCOMPLETE) return INCOMPLETE;
        p = q;
        continue;
      }
      const q = this.#skip(b, p, end, 0);
      if (q === INCOMPLETE) return INCOMPLETE;
      p = q;
    }
    return p;
  }

  // RESP3: a map with `results` (maps with `id`) and `warning` (strings).
  #resp3(b: Uint8Array, p: number, end: number, n: number): number {
    for (let i = 0; i < n; i++) {
      if (p >= end) return INCOMPLETE;
      const key = this.#keyIs(b, p, end);
      if (key.end === INCOMPLETE) return INCOMPLETE;
      p = key.end;
      if (p >= end) return INCOMPLETE;
      const t = b[p]!;
      const agg = t === ARRAY || t === SET;
      if (key.is === 1 && agg) {
        const eol = this.#eol(b, p + 1, end);
        if (eol < 0) return INCOMPLETE;
        const m = this.#int(b, p + 1, eol);
        p = eol + 2;
        for (let d = 0; d < m; d++) {
          if (p >= end) return INCOMPLETE;
          const q = b[p] === MAP ? this.#doc(b, p, end) : this.#skip(b, p, end, 0);
          if (q === INCOMPLETE) return INCOMPLETE;
          p = q;
        }
        continue;
      }
      if (key.is === 2 && agg) {
        const eol = this.#eol(b, p + 1, end);
        if (eol < 0) return INCOMPLETE;
        const m = this.#int(b, p + 1, eol);
        p = eol + 2;
        for (let w = 0; w < m; w++) {
          if (p >= end) return INCOMPLETE;
          const s = this.#span(b, p, end);
          if (s.end === INCOMPLETE) return INCOMPLETE;
          if (s.from >= 0 && /timeout/i.test(latin1.decode(b.subarray(s.from, s.to)))) {
            this.timedOut = true;
          }
          p = s.end;
        }
        continue;
      }
      const q = this.#skip(b, p, end, 0);
      if (q === INCOMPLETE) return INCOMPLETE;
      p = q;
    }
    return p;
  }

  // One result map: the value of its `id` is a key.
  #doc(b: Uint8Array, p: number, end: number): number {
    const eol = this.#eol(b, p + 1, end);
    if (eol < 0) return INCOMPLETE;
    const n = this.#int(b, p + 1, eol);
    p = eol + 2;
    for (let i = 0; i < n; i++) {
      if (p >= end) return INCOMPLETE;
      const k = this.#span(b, p, end);
      if (k.end === INCOMPLETE) return INCOMPLETE;
      p = k.end;
      if (p >= end) return INCOMPLETE;
      const isId = k.from >= 0 && same(b, k.from, k.to, ID);
      const t = b[p]!;
      const q = isId && (t === BULK || t === SIMPLE || t === VERBATIM)
        ? this.#string(b, p, end, true)
        : this.#skip(b, p, end, 0);
      if (q === INCOMPLETE) return INCOMPLETE;
      p = q;
    }
    return p;
  }

  // Whether the string at `p` is `results` (1), `warning` (2) or else (0), and its end.
  #keyIs(b: Uint8Array, p: number, end: number): { is: number; end: number } {
    const s = this.#span(b, p, end);
    if (s.end === INCOMPLETE || s.from < 0) return { is: 0, end: s.end };
    return {
      is: same(b, s.from, s.to, RESULTS) ? 1 : same(b, s.from, s.to, WARNING) ? 2 : 0,
      end: s.end,
    };
  }

  // The bytes of a string value at `p` (from -1 when it is not a string) and its end.
  #span(b: Uint8Array, p: number, end: number): { from: number; to: number; end: number } {
    const t = b[p]!;
    if (t === SIMPLE) {
      const eol = this.#eol(b, p + 1, end);
      if (eol < 0) return { from: -1, to: -1, end: INCOMPLETE };
      return { from: p + 1, to: eol, end: eol + 2 };
    }
    if (t === BULK || t === VERBATIM) {
      const eol = this.#eol(b, p + 1, end);
      if (eol < 0) return { from: -1, to: -1, end: INCOMPLETE };
      const n = this.#int(b, p + 1, eol);
      if (n < 0) return { from: -1, to: -1, end: eol + 2 };
      const s = eol + 2;
      if (s + n + 2 > end) return { from: -1, to: -1, end: INCOMPLETE };
      // A verbatim string's first four bytes are its format (`txt:`).
      return { from: t === VERBATIM ? s + 4 : s, to: s + n, end: s + n + 2 };
    }
    return { from: -1, to: -1, end: this.#skip(b, p, end, 0) };
  }

  // A string at `p`; as a key id into `ids` when `record`. Its end, or INCOMPLETE.
  #string(b: Uint8Array, p: number, end: number, record: boolean): number {
    const t = b[p]!;
    let from: number, to: number, next: number;
    const eol = this.#eol(b, p + 1, end);
    if (eol < 0) return INCOMPLETE;
    if (t === SIMPLE) {
      from = p + 1;
      to = eol;
      next = eol + 2;
    } else {
      const n = this.#int(b, p + 1, eol);
      if (n < 0) return eol + 2;
      from = eol + 2;
      to = from + n;
      next = to + 2;
      if (next > end) return INCOMPLETE;
      if (t === VERBATIM) from += 4;
    }
    if (record && this.count < this.ids.length) this.ids[this.count++] = this.#keyId(b, from, to);
    return next;
  }

  // The id in `prefix + digits` at b[from, to), or -1.
  #keyId(b: Uint8Array, from: number, to: number): number {
    const pre = this.#prefix;
    const p = pre.length;
    if (to - from <= p || to - from - p > 15) return -1;
    for (let i = 0; i < p; i++) if (b[from + i] !== pre[i]) return -1;
    let v = 0;
    for (let i = from + p; i < to; i++) {
      const c = b[i]! - 48;
      if (c < 0 || c > 9) return -1;
      v = v * 10 + c;
    }
    return v;
  }

  // Skips one whole value at `p`: its end, or INCOMPLETE.
  #skip(b: Uint8Array, p: number, end: number, depth: number): number {
    if (depth > MAX_NEST) this.#bad("nesting deeper than 128", p);
    if (p >= end) return INCOMPLETE;
    const t = b[p]!;
    const eol = this.#eol(b, p + 1, end);
    if (eol < 0) return INCOMPLETE;
    switch (t) {
      case SIMPLE:
      case ERROR:
      case INTEGER:
      case NULL:
      case BOOLEAN:
      case DOUBLE:
      case BIGNUM:
        return eol + 2;
      case BULK:
      case BLOB_ERROR:
      case VERBATIM: {
        const n = this.#int(b, p + 1, eol);
        if (n < 0) return eol + 2;
        const q = eol + 2 + n + 2;
        return q > end ? INCOMPLETE : q;
      }
      case ARRAY:
      case SET:
      case PUSH:
      case MAP:
      case ATTRIBUTE: {
        let n = this.#int(b, p + 1, eol);
        if (n < 0) return eol + 2;
        if (t === MAP || t === ATTRIBUTE) n *= 2;
        let q = eol + 2;
        for (let i = 0; i < n; i++) {
          q = this.#skip(b, q, end, depth + 1);
          if (q === INCOMPLETE) return INCOMPLETE;
        }
        // An attribute annotates the value after it.
        return t === ATTRIBUTE ? this.#skip(b, q, end, depth + 1) : q;
      }
      default:
        this.#bad(`an unknown type byte 0x${t.toString(16).padStart(2, "0")}`, p);
    }
  }
}

function same(b: Uint8Array, from: number, to: number, word: Uint8Array): boolean {
  if (to - from !== word.length) return false;
  for (let i = 0; i < word.length; i++) {
    const c = b[from + i]!;
    // ASCII case-insensitive: `Results`, `ID`.
    if ((c | 0x20) !== word[i]) return false;
  }
  return true;
}
