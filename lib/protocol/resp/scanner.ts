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
  SET,
  SIMPLE,
  VERBATIM,
} from "./types.ts";

/** What a completed top-level reply was, as far as a load generator cares. */
export const ReplyKind = {
  /** Any non-null, non-error value. */
  Value: 0,
  /** `$-1`, `*-1` or `_`: a miss for reads. */
  Null: 1,
  /** `-ERR …` or `!n` blob error. */
  Error: 2,
  /** An out-of-band RESP3 push message (not the reply to a request). */
  Push: 3,
} as const;
/** One of the {@linkcode ReplyKind} values. */
export type ReplyKind = typeof ReplyKind[keyof typeof ReplyKind];

const S_TYPE = 0; // expecting a type byte
const S_LINE = 1; // inside a line that is skipped (simple string, integer, double, …)
const S_NUM = 2; // inside a length line ($ * % ~ | > = !)
const S_BULK = 3; // skipping a bulk payload and its CRLF
const S_ERRLINE = 4; // inside an error line, copying its text
const S_LF = 5; // after a CR, expecting LF

const ERR_CAP = 256;
const latin1 = new TextDecoder("latin1");

/**
 * A resumable RESP2/RESP3 reply scanner for the load engine's hot path. It does not build
 * values: it finds where each top-level reply ends and classifies it (value, null, error, push),
 * counts the elements and nulls of a top-level aggregate (hits of an MGET), and keeps the first
 * 256 bytes of an error's text. Its state survives between chunks, so the caller may reuse its
 * read buffer right after each call. Nothing is allocated per reply.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const s = new ReplyScanner();
 * const bytes = new TextEncoder().encode("+OK\r\n$-1\r\n-ERR x\r\n");
 * let p = 0;
 * const kinds: number[] = [];
 * while ((p = s.scan(bytes, p, bytes.length)) >= 0) kinds.push(s.kind);
 * assert.deepEqual(kinds, [0, 1, 2]);
 * assert.equal(s.errorText(), "ERR x");
 * ```
 */
export class ReplyScanner {
  /** Kind of the reply completed by the last successful {@linkcode ReplyScanner.scan}. */
  kind: ReplyKind = ReplyKind.Value;
  /** Element count of the last top-level aggregate reply (0 for scalars). */
  elements = 0;
  /** Null elements directly inside the last top-level aggregate reply. */
  nulls = 0;

  #state = S_TYPE;
  #after = S_TYPE; // state to enter after the LF of a line
  #type = 0;
  #num = 0;
  #neg = false;
  #digits = 0;
  #lineLen = 0;
  #skip = 0;
  #depth = 0;
  #remaining = new Float64Array(MAX_DEPTH + 1);
  #isAttr = new Uint8Array(MAX_DEPTH + 1);
  #topKind: ReplyKind = ReplyKind.Value;
  #topElements = 0;
  #topNulls = 0;
  #pendingAttr = false; // a top-level attribute was seen; the reply follows
  #errBuf = new Uint8Array(ERR_CAP);
  #errLen = 0;
  #offset = 0; // stream offset of the chunk start passed to scan
  #name: string;

  constructor(name = "RESP reply stream") {
    this.#name = name;
  }

  /** The text of the last error reply (first 256 bytes). */
  errorText(): string {
    return latin1.decode(this.#errBuf.subarray(0, this.#errLen));
  }

  /** The first word of the last error reply (`ERR`, `WRONGTYPE`, `MOVED`, …). */
  errorCode(): string {
    const t = this.errorText();
    const sp = t.indexOf(" ");
    return sp < 0 ? t : t.slice(0, sp);
  }

  /** Stream offset just after the last byte scanned. */
  get offset(): number {
    return this.#offset;
  }

  /** Resets to the start of a fresh stream (after a reconnect). */
  reset(): void {
    this.#state = S_TYPE;
    this.#depth = 0;
    this.#pendingAttr = false;
    this.#offset = 0;
  }

  /**
   * Scans `buf[from, to)`. Returns the index just past the first top-level reply completed in
   * that range (read {@linkcode ReplyScanner.kind} then), or -1 when the range was used up
   * without completing one; the partial state is kept for the next chunk.
   *
   * @throws {MembenchError} `protocol` with the stream offset on malformed input.
   */
  scan(buf: Uint8Array, from: number, to: number): number {
    let p = from;
    while (p < to) {
      const state = this.#state;
      if (state === S_BULK) {
        // Fast path: skip the whole payload by arithmetic, never byte by byte.
        const avail = to - p;
        if (avail < this.#skip) {
          // The chunk may end between the CR and the LF: check the CR here, the LF comes next.
          const cr = p + this.#skip - 2;
          if (cr >= p && cr < to && buf[cr] !== 13) {
            throw this.#fail(cr - from, "bulk payload is not followed by CRLF");
          }
          this.#skip -= avail;
          this.#offset += to - from;
          return -1;
        }
        p += this.#skip;
        // The CRLF may straddle chunks: check the part of it that is in this chunk.
        if (
          (p - 2 >= from && buf[p - 2] !== 13) || (p - 1 >= from && buf[p - 1] !== 10)
        ) {
          throw this.#fail(p - 2 - from, "bulk payload is not followed by CRLF");
        }
        this.#state = S_TYPE;
        if (this.#valueDone()) return this.#done(p, from);
        continue;
      }
      if (state === S_TYPE) {
        const t = buf[p]!;
        this.#type = t;
        p++;
        switch (t) {
          case SIMPLE:
          case INTEGER:
          case DOUBLE:
          case BIGNUM:
          case BOOLEAN:
          case NULL:
            this.#state = S_LINE;
            this.#lineLen = 0;
            continue;
          case ERROR:
            this.#state = S_ERRLINE;
            if (this.#depth === 0) this.#errLen = 0;
            this.#lineLen = 0;
            continue;
          case BULK:
          case VERBATIM:
          case BLOB_ERROR:
          case ARRAY:
          case MAP:
          case SET:
          case ATTRIBUTE:
          case PUSH:
            this.#state = S_NUM;
            this.#num = 0;
            this.#neg = false;
            this.#digits = 0;
            continue;
          default:
            throw this.#fail(p - 1 - from, `unknown type byte ${describe(t)}`);
        }
      }
      if (state === S_LINE) {
        // Fast path: find the LF natively.
        const nl = buf.indexOf(10, p);
        const end = nl < 0 || nl >= to ? to : nl;
        // The same limit, at the same place (the line's start), however the line was split.
        if (this.#lineLen + end - p > MAX_LINE_LENGTH) {
          throw this.#fail(p - this.#lineLen - from, "line too long");
        }
        if (end === to) {
          this.#lineLen += to - p;
          this.#offset += to - from;
          return -1;
        }
        p = nl + 1;
        if (this.#type === NULL) this.#markNull();
        this.#state = S_TYPE;
        if (this.#valueDone()) return this.#done(p, from);
        continue;
      }
      if (state === S_ERRLINE) {
        const c = buf[p++]!;
        if (c === 10) {
          if (this.#depth === 0) {
            if (this.#errLen > 0 && this.#errBuf[this.#errLen - 1] === 13) this.#errLen--;
            this.#topKind = ReplyKind.Error;
          }
          this.#state = S_TYPE;
          if (this.#valueDone()) return this.#done(p, from);
        } else if (this.#depth === 0 && this.#errLen < ERR_CAP) {
          this.#errBuf[this.#errLen++] = c;
        }
        continue;
      }
      if (state === S_NUM) {
        const c = buf[p++]!;
        if (c >= 48 && c <= 57) {
          this.#num = this.#num * 10 + (c - 48);
          if (++this.#digits > 15) throw this.#fail(p - 1 - from, "length has too many digits");
        } else if (c === 45 && this.#digits === 0 && !this.#neg) {
          this.#neg = true;
        } else if (c === 13) {
          this.#state = S_LF;
        } else {
          throw this.#fail(p - 1 - from, `expected a digit in a length, found ${describe(c)}`);
        }
        continue;
      }
      // S_LF: end of a length line
      if (buf[p] !== 10) throw this.#fail(p - from, "CR not followed by LF");
      p++;
      if (this.#digits === 0) throw this.#fail(p - 1 - from, "empty length");
      const n = this.#neg ? -this.#num : this.#num;
      const t = this.#type;
      if (t === BULK || t === VERBATIM || t === BLOB_ERROR) {
        if (n === -1 && t === BULK) {
          this.#markNull();
          this.#state = S_TYPE;
          if (this.#valueDone()) return this.#done(p, from);
          continue;
        }
        if (n < 0 || n > MAX_BULK_LENGTH) throw this.#fail(p - from, `bad bulk length ${n}`);
        if (t === BLOB_ERROR && this.#depth === 0) {
          this.#topKind = ReplyKind.Error;
          this.#errLen = 0;
          // Blob errors are rare: copy what this chunk has of the text.
          const end = Math.min(to, p + n, p + ERR_CAP);
          for (let i = p; i < end; i++) this.#errBuf[this.#errLen++] = buf[i]!;
        }
        this.#skip = n + 2;
        this.#state = S_BULK;
        continue;
      }
      // Aggregates.
      if (n === -1 && (t === ARRAY || t === SET || t === PUSH)) {
        this.#markNull();
        this.#state = S_TYPE;
        if (this.#valueDone()) return this.#done(p, from);
        continue;
      }
      if (n < 0 || n > MAX_AGGREGATE_LENGTH) {
        throw this.#fail(p - from, `bad aggregate length ${n}`);
      }
      if (this.#depth === 0) {
        if (t === PUSH) this.#topKind = ReplyKind.Push;
        if (t !== ATTRIBUTE) {
          this.#topElements = n;
          this.#topNulls = 0;
        }
      }
      const count = t === MAP || t === ATTRIBUTE ? n * 2 : n;
      this.#state = S_TYPE;
      if (count === 0) {
        if (t === ATTRIBUTE) continue; // an empty attribute: the value follows
        if (this.#valueDone()) return this.#done(p, from);
        continue;
      }
      if (this.#depth >= MAX_DEPTH) throw this.#fail(p - from, `nesting deeper than ${MAX_DEPTH}`);
      this.#remaining[this.#depth] = count;
      this.#isAttr[this.#depth] = t === ATTRIBUTE ? 1 : 0;
      this.#depth++;
    }
    this.#offset += to - from;
    return -1;
  }

  #markNull(): void {
    if (this.#depth === 0) this.#topKind = ReplyKind.Null;
    // Directly inside the top-level aggregate; not inside an attribute that precedes the reply.
    else if (this.#depth === 1 && this.#isAttr[0] === 0) this.#topNulls++;
  }

  // A value finished. Pops finished aggregates; true when a top-level reply is complete.
  #valueDone(): boolean {
    let d = this.#depth;
    while (d > 0) {
      const r = --this.#remaining[d - 1]!;
      if (r > 0) {
        this.#depth = d;
        return false;
      }
      d--;
      if (this.#isAttr[d] === 1) {
        // The attribute is done; the value it describes follows and counts in its place.
        this.#depth = d;
        return false;
      }
    }
    this.#depth = 0;
    return true;
  }

  #done(p: number, from: number): number {
    this.kind = this.#topKind;
    this.elements = this.#topElements;
    this.nulls = this.#topNulls;
    this.#topKind = ReplyKind.Value;
    this.#topElements = 0;
    this.#topNulls = 0;
    this.#offset += p - from;
    return p;
  }

  #fail(rel: number, what: string): MembenchError {
    return new MembenchError(
      "protocol",
      `Malformed RESP in ${this.#name} at byte ${this.#offset + rel}: ${what}`,
    );
  }
}

function describe(c: number): string {
  const h = c.toString(16).padStart(2, "0");
  return c >= 32 && c < 127 ? `'${String.fromCharCode(c)}' (0x${h})` : `0x${h}`;
}
