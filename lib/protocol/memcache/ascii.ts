// This module uses no Deno APIs.
import { MembenchError } from "../../errors/mod.ts";
import { bytesEqual, describeByte, latin1Text, parseInt, parseUint } from "../_bytes.ts";
import { MC_MAX_LINE, MC_MAX_VALUE, McOp, McStatus } from "./types.ts";

const CR = 13;
const LF = 10;
const SP = 32;

const S_LINE = 0; // reading a line
const S_DATA = 1; // skipping a value payload
const S_CR = 2; // after a payload, expecting CR
const S_LF = 3; // after a payload's CR, expecting LF

/**
 * The framing shared by the text/meta request and response parsers: lines (CRLF or LF), each
 * optionally followed by a value payload of a known length and CRLF. A line that spans chunks is
 * copied into a bounded buffer; a payload is skipped by arithmetic and never copied. After a
 * successful parse the line is `src[lineStart, lineEnd)` (CR removed), split into tokens.
 */
abstract class AsciiFramer {
  /** Stream offset of the start of the last element's line. */
  offset = 0;
  /** Bytes of the last element's line, including its line end. */
  lineLength = 0;
  /** Where the last element's tokens live: the caller's chunk or the parser's line buffer. */
  src: Uint8Array = new Uint8Array(0);
  /** Start of each token in `src`. */
  tokS: Int32Array = new Int32Array(16);
  /** End of each token in `src`. */
  tokE: Int32Array = new Int32Array(16);
  /** Number of tokens. */
  ntok = 0;
  /** Length of the value payload that follows the last element's line; -1 when none. */
  valueLength = -1;
  /** Stream offset of that payload. */
  valueOffset = -1;

  #state = S_LINE;
  #partial = new Uint8Array(256);
  #partialLen = 0;
  #skip = 0;
  #pos = 0; // stream offset of the chunk start given to the current parse call
  #name: string;
  #what: string;

  constructor(name: string, what: string) {
    this.#name = name;
    this.#what = what;
  }

  /** Stream offset just after the last byte consumed. */
  get position(): number {
    return this.#pos;
  }

  /** True when no partial line or payload is buffered: a clean element boundary. */
  get atBoundary(): boolean {
    return this.#state === S_LINE && this.#partialLen === 0;
  }

  /** Starts afresh at stream offset `offset` (a new connection, or resynchronising after a gap). */
  reset(offset = 0): void {
    this.#state = S_LINE;
    this.#partialLen = 0;
    this.#skip = 0;
    this.#pos = offset;
  }

  /**
   * Throws when the stream ends inside an element (call when the connection ends).
   *
   * @throws {MembenchError} `protocol` naming what was cut and where.
   */
  end(): void {
    if (this.#state !== S_LINE) {
      throw this.fail(0, `stream ends inside a value payload (${this.#skip} bytes missing)`);
    }
    if (this.#partialLen > 0) {
      throw this.fail(
        0,
        `stream ends inside a line (${this.#partialLen} bytes without a line end)`,
      );
    }
  }

  /**
   * Parses `buf[from, to)` up to the end of the next element. Returns the index just past its
   * line (its payload, if any, is skipped by the following calls), or -1 when the range is used
   * up without completing one; partial state is kept for the next chunk.
   *
   * @throws {MembenchError} `protocol` with the stream offset on malformed input.
   */
  parse(buf: Uint8Array, from: number, to: number): number {
    let p = from;
    while (p < to) {
      if (this.#state !== S_LINE) {
        p = this.finishPayload(buf, p, to);
        if (p < 0) return -1;
        continue;
      }
      // S_LINE. Fast path: find the LF natively; a line inside the chunk is parsed in place.
      const nl = buf.indexOf(LF, p);
      const lineEnd = nl < 0 || nl >= to ? to : nl;
      // The same limit, reported at the line's start, however the line was split.
      if (this.#partialLen + lineEnd - p > MC_MAX_LINE) {
        throw this.fail(
          -this.#partialLen,
          `line longer than ${MC_MAX_LINE} bytes without a line end`,
        );
      }
      if (nl < 0 || nl >= to) {
        this.#appendPartial(buf, p, to);
        this.#pos += to - p;
        return -1;
      }
      let src = buf;
      let s = p;
      let e = nl;
      const lineStartPos = this.#pos - this.#partialLen;
      if (this.#partialLen > 0) {
        this.#appendPartial(buf, p, nl);
        src = this.#partial;
        s = 0;
        e = this.#partialLen;
        this.#partialLen = 0;
      }
      if (e > s && src[e - 1] === CR) e--;
      this.#pos += nl + 1 - p;
      p = nl + 1;
      this.offset = lineStartPos;
      this.lineLength = this.#pos - lineStartPos;
      this.src = src;
      this.valueLength = -1;
      this.valueOffset = -1;
      this.#tokenize(src, s, e);
      if (this.ntok === 0) continue; // an empty line: memcached ignores it too
      this.onLine(lineStartPos);
      if (this.valueLength >= 0) {
        if (this.valueLength > MC_MAX_VALUE) {
          throw this.fail(0, `value length ${this.valueLength} is larger than ${MC_MAX_VALUE}`);
        }
        this.valueOffset = this.#pos;
        this.#skip = this.valueLength;
        this.#state = S_DATA;
      }
      return p;
    }
    return -1;
  }

  /**
   * Consumes the rest of the last element's payload and its CRLF from `buf[from, to)`. Returns
   * the index just past it (or `from` when nothing is pending), or -1 when the range ends first.
   *
   * @throws {MembenchError} `protocol` when the payload is not followed by CRLF.
   */
  finishPayload(buf: Uint8Array, from: number, to: number): number {
    let p = from;
    while (this.#state !== S_LINE) {
      if (p >= to) return -1;
      const st = this.#state;
      if (st === S_DATA) {
        // Fast path: skip the payload by arithmetic, never byte by byte.
        const avail = to - p;
        if (avail < this.#skip) {
          this.#skip -= avail;
          this.#pos += avail;
          return -1;
        }
        p += this.#skip;
        this.#pos += this.#skip;
        this.#skip = 0;
        this.#state = S_CR;
        continue;
      }
      const want = st === S_CR ? CR : LF;
      if (buf[p] !== want) {
        throw this.fail(
          0,
          `value payload is not followed by CRLF (found ${describeByte(buf[p]!)})`,
        );
      }
      p++;
      this.#pos++;
      this.#state = st === S_CR ? S_LF : S_LINE;
    }
    return p;
  }

  /** Interprets the tokens of a complete line; sets the subclass' fields and `valueLength`. */
  protected abstract onLine(lineOffset: number): void;

  /** A `protocol` error at `rel` bytes after the current position. */
  protected fail(rel: number, what: string): MembenchError {
    return new MembenchError(
      "protocol",
      `Malformed memcached ${this.#what} in ${this.#name} at byte ${this.#pos + rel}: ${what}`,
    );
  }

  /** A `protocol` error about the current line (offset of its start). */
  protected failLine(what: string): MembenchError {
    return new MembenchError(
      "protocol",
      `Malformed memcached ${this.#what} in ${this.#name} at byte ${this.offset}: ${what}`,
    );
  }

  /** Token `i` as text (for messages and rare paths; allocates). */
  token(i: number): string {
    return latin1Text(this.src, this.tokS[i]!, this.tokE[i]!);
  }

  /** True when token `i` is exactly `word`. */
  tokenIs(i: number, word: string): boolean {
    return bytesEqual(this.src, this.tokS[i]!, this.tokE[i]!, word);
  }

  /** Token `i` as an unsigned number; -1 when it is not one. */
  tokenUint(i: number): number {
    return parseUint(this.src, this.tokS[i]!, this.tokE[i]!);
  }

  /** Token `i` as a signed number; NaN when it is not one. */
  tokenInt(i: number): number {
    return parseInt(this.src, this.tokS[i]!, this.tokE[i]!);
  }

  #appendPartial(buf: Uint8Array, s: number, e: number): void {
    const n = e - s;
    if (n === 0) return;
    const need = this.#partialLen + n; // at most MC_MAX_LINE: parse() checks it first
    if (need > this.#partial.length) {
      const nb = new Uint8Array(Math.min(MC_MAX_LINE, Math.max(need, this.#partial.length * 2)));
      nb.set(this.#partial.subarray(0, this.#partialLen));
      this.#partial = nb;
    }
    this.#partial.set(buf.subarray(s, e), this.#partialLen);
    this.#partialLen = need;
  }

  #tokenize(src: Uint8Array, s: number, e: number): void {
    let n = 0;
    let i = s;
    while (i < e) {
      while (i < e && src[i] === SP) i++;
      if (i >= e) break;
      const ts = i;
      while (i < e && src[i] !== SP) i++;
      if (n === this.tokS.length) {
        const ns = new Int32Array(n * 2);
        ns.set(this.tokS);
        this.tokS = ns;
        const ne = new Int32Array(n * 2);
        ne.set(this.tokE);
        this.tokE = ne;
      }
      this.tokS[n] = ts;
      this.tokE[n] = i;
      n++;
    }
    this.ntok = n;
  }
}

/** Meta flags as a bit set: bit (c - 'A') for upper case, bit 26 + (c - 'a') for lower case. */
export function metaFlagBit(letter: string): number {
  const c = letter.charCodeAt(0);
  return c >= 97 ? 2 ** (26 + c - 97) : 2 ** (c - 65);
}

/**
 * Incremental parser of memcached text and meta **requests** (what a client sends), for the
 * capture decoder and tests. Feed chunks split anywhere; each successful
 * {@linkcode AsciiRequestParser.parse} leaves one request's fields on the parser. Keys are
 * positions in `src` (`key(i)` gives a view); values are skipped, their length and stream offset
 * kept. A command the server would reject (unknown name, bad number) is still returned, with
 * `malformed` saying why, as the server answers it and goes on; only framing that cannot be
 * followed (a line over 64 KiB, a payload without CRLF, bytes that are not a command) throws.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { McOp, McStatus } from "./types.ts";
 * const p = new AsciiRequestParser();
 * const b = new TextEncoder().encode("get a bb\r\nset k 5 0 3 noreply\r\nxyz\r\n");
 * let at = p.parse(b, 0, b.length);
 * assert.equal(p.op, McOp.Get);
 * assert.equal(p.keyCount, 2);
 * assert.equal(new TextDecoder().decode(p.key(1)), "bb");
 * at = p.parse(b, at, b.length);
 * assert.deepEqual([p.op, p.valueLength, p.clientFlags, p.noreply], [McOp.Set, 3, 5, true]);
 * ```
 */
export class AsciiRequestParser extends AsciiFramer {
  /** The operation. */
  op: McOp = McOp.Other;
  /** True for meta commands (mg, ms, md, ma, mn, me). */
  meta = false;
  /** Token index of the first key. */
  firstKey = 0;
  /** Number of keys (several for get/gets/gat/gats). */
  keyCount = 0;
  /** Client flags of a storage command (text) or meta `F`; -1 when absent. */
  clientFlags = -1;
  /** Expiry/TTL: text exptime, gat/touch exptime, meta `T` (or `N` vivify); -1 when absent. */
  ttl = -1;
  /** CAS unique of `cas`, meta `C`/`E`; -1 when absent. */
  cas = -1;
  /** incr/decr amount, meta `D`; -1 when absent. */
  delta = -1;
  /** Text `noreply` or meta `q`: no reply on success. */
  noreply = false;
  /** Meta `b`: keys are base64. */
  base64Key = false;
  /** Meta flags present, as {@linkcode metaFlagBit} bits. */
  metaFlags = 0;
  /** Meta `M` mode token's first byte (ms: E A P R S; ma: I + D -); 0 when absent. */
  metaMode = 0;
  /** Token index of the meta `O` opaque (its value starts one byte in); -1 when absent. */
  opaqueToken = -1;
  /** Why the server will reject this request; undefined when it is well-formed. */
  malformed: string | undefined = undefined;

  constructor(name = "request stream") {
    super(name, "request");
  }

  /** Key `i` as a view into `src` (valid until the next parse call). */
  key(i: number): Uint8Array {
    const t = this.firstKey + i;
    return this.src.subarray(this.tokS[t]!, this.tokE[t]!);
  }

  /** Start of key `i` in `src`. */
  keyStart(i: number): number {
    return this.tokS[this.firstKey + i]!;
  }

  /** End of key `i` in `src`. */
  keyEnd(i: number): number {
    return this.tokE[this.firstKey + i]!;
  }

  /** The meta opaque token's text without the `O`; undefined when absent. */
  opaque(): string | undefined {
    if (this.opaqueToken < 0) return undefined;
    return this.token(this.opaqueToken).slice(1);
  }

  /** The command word as sent (for `Other`). */
  commandName(): string {
    return this.token(0);
  }

  protected onLine(): void {
    this.op = McOp.Other;
    this.meta = false;
    this.firstKey = 1;
    this.keyCount = 0;
    this.clientFlags = -1;
    this.ttl = -1;
    this.cas = -1;
    this.delta = -1;
    this.noreply = false;
    this.base64Key = false;
    this.metaFlags = 0;
    this.metaMode = 0;
    this.opaqueToken = -1;
    this.malformed = undefined;
    const src = this.src;
    const s = this.tokS[0]!;
    const len = this.tokE[0]! - s;
    // A command word is lower-case letters and '_'; anything else is not memcached text.
    if (len > 24) throw this.failLine(`command word is ${len} bytes long`);
    for (let i = s; i < s + len; i++) {
      const c = src[i]!;
      if (!((c >= 97 && c <= 122) || c === 95 || (c >= 65 && c <= 90))) {
        throw this.failLine(`expected a command word, found ${describeByte(c)}`);
      }
    }
    const c0 = src[s]!;
    if (len === 2 && c0 === 109) {
      this.#meta(src[s + 1]!);
      return;
    }
    const n = this.ntok;
    switch (len) {
      case 3:
        if (this.tokenIs(0, "get")) return this.#retrieval(McOp.Get, 1);
        if (this.tokenIs(0, "gat")) return this.#gat(McOp.Gat);
        if (this.tokenIs(0, "set")) return this.#storage(McOp.Set);
        if (this.tokenIs(0, "add")) return this.#storage(McOp.Add);
        if (this.tokenIs(0, "cas")) return this.#storage(McOp.Cas);
        break;
      case 4:
        if (this.tokenIs(0, "gets")) return this.#retrieval(McOp.Gets, 1);
        if (this.tokenIs(0, "gats")) return this.#gat(McOp.Gats);
        if (this.tokenIs(0, "incr")) return this.#arith(McOp.Incr);
        if (this.tokenIs(0, "decr")) return this.#arith(McOp.Decr);
        if (this.tokenIs(0, "quit")) {
          this.op = McOp.Quit;
          return;
        }
        break;
      case 5:
        if (this.tokenIs(0, "touch")) {
          this.op = McOp.Touch;
          this.#keys(1, 1);
          this.ttl = n > 2 ? this.tokenInt(2) : -1;
          this.noreply = n > 3 && this.tokenIs(n - 1, "noreply");
          if (n < 3 || Number.isNaN(this.ttl)) this.malformed = "touch needs a key and an exptime";
          return;
        }
        if (this.tokenIs(0, "stats")) {
          this.op = McOp.Stats;
          return;
        }
        break;
      case 6:
        if (this.tokenIs(0, "append")) return this.#storage(McOp.Append);
        if (this.tokenIs(0, "delete")) {
          this.op = McOp.Delete;
          this.#keys(1, 1);
          this.noreply = n > 2 && this.tokenIs(n - 1, "noreply");
          if (n < 2) this.malformed = "delete needs a key";
          return;
        }
        break;
      case 7:
        if (this.tokenIs(0, "replace")) return this.#storage(McOp.Replace);
        if (this.tokenIs(0, "prepend")) return this.#storage(McOp.Prepend);
        if (this.tokenIs(0, "version")) {
          this.op = McOp.Version;
          return;
        }
        break;
      case 9:
        if (this.tokenIs(0, "flush_all")) {
          this.op = McOp.FlushAll;
          this.noreply = n > 1 && this.tokenIs(n - 1, "noreply");
          // flush_all [delay] [noreply]: the delay is there whether or not noreply follows.
          if (n > (this.noreply ? 2 : 1)) this.ttl = this.tokenInt(1);
          return;
        }
        if (this.tokenIs(0, "verbosity")) {
          this.op = McOp.Verbosity;
          this.noreply = n > 1 && this.tokenIs(n - 1, "noreply");
          return;
        }
        break;
    }
    this.keyCount = 0;
    this.malformed = `unknown command ${JSON.stringify(this.commandName())}`;
  }

  #keys(first: number, count: number): void {
    this.firstKey = first;
    this.keyCount = Math.max(0, Math.min(count, this.ntok - first));
  }

  #retrieval(op: McOp, first: number): void {
    this.op = op;
    this.#keys(first, this.ntok - first);
    if (this.keyCount === 0) this.malformed = "retrieval without a key";
  }

  #gat(op: McOp): void {
    this.op = op;
    this.ttl = this.ntok > 1 ? this.tokenInt(1) : -1;
    this.#keys(2, this.ntok - 2);
    if (this.keyCount === 0 || Number.isNaN(this.ttl)) {
      this.malformed = "gat needs an exptime and a key";
    }
  }

  #arith(op: McOp): void {
    this.op = op;
    this.#keys(1, 1);
    const n = this.ntok;
    this.delta = n > 2 ? this.tokenUint(2) : -1;
    this.noreply = n > 3 && this.tokenIs(n - 1, "noreply");
    if (n < 3 || this.delta < 0) this.malformed = "incr/decr needs a key and a numeric delta";
  }

  // <cmd> <key> <flags> <exptime> <bytes> [casunique] [noreply]
  #storage(op: McOp): void {
    this.op = op;
    this.#keys(1, 1);
    const n = this.ntok;
    const need = op === McOp.Cas ? 6 : 5;
    if (n < need) {
      this.malformed = `${this.commandName()} needs ${need - 1} arguments`;
      return;
    }
    this.clientFlags = this.tokenUint(2);
    this.ttl = this.tokenInt(3);
    const bytes = this.tokenInt(4);
    if (op === McOp.Cas) this.cas = this.tokenUint(5);
    this.noreply = n > need && this.tokenIs(n - 1, "noreply");
    if (Number.isNaN(bytes) || bytes < 0) {
      // memcached answers CLIENT_ERROR and reads the next line as a command: no payload here.
      this.malformed = "bad data length";
      return;
    }
    if (this.clientFlags < 0 || Number.isNaN(this.ttl)) this.malformed = "bad command line format";
    this.valueLength = bytes;
  }

  #meta(c1: number): void {
    this.meta = true;
    let flagsFrom = 2;
    switch (c1) {
      case 103: // mg
        this.op = McOp.MetaGet;
        this.#keys(1, 1);
        break;
      case 115: // ms <key> <datalen> <flags>*
        this.op = McOp.MetaSet;
        this.#keys(1, 1);
        flagsFrom = 3;
        break;
      case 100: // md
        this.op = McOp.MetaDelete;
        this.#keys(1, 1);
        break;
      case 97: // ma
        this.op = McOp.MetaArithmetic;
        this.#keys(1, 1);
        break;
      case 110: // mn
        this.op = McOp.MetaNoop;
        this.keyCount = 0;
        return;
      case 101: // me
        this.op = McOp.MetaDebug;
        this.#keys(1, 1);
        return;
      default:
        this.malformed = `unknown command ${JSON.stringify(this.commandName())}`;
        return;
    }
    if (this.keyCount === 0) {
      this.malformed = "meta command without a key";
      return;
    }
    for (let t = flagsFrom; t < this.ntok; t++) this.#metaFlag(t);
    if (this.op === McOp.MetaSet) {
      const bytes = this.ntok > 2 ? this.tokenInt(2) : NaN;
      if (Number.isNaN(bytes) || bytes < 0) {
        this.malformed = "bad data length";
        return;
      }
      this.valueLength = bytes;
    }
  }

  #metaFlag(t: number): void {
    const s = this.tokS[t]!;
    const c = this.src[s]!;
    if (!((c >= 65 && c <= 90) || (c >= 97 && c <= 122))) {
      this.malformed = `bad meta flag ${describeByte(c)}`;
      return;
    }
    // 52 flag letters do not fit 32-bit bit operations: keep the set in a double's mantissa.
    const bit = c >= 97 ? 2 ** (26 + c - 97) : 2 ** (c - 65);
    if (Math.floor(this.metaFlags / bit) % 2 === 0) this.metaFlags += bit;
    const e = this.tokE[t]!;
    switch (c) {
      case 113: // q
        this.noreply = true;
        break;
      case 98: // b
        this.base64Key = true;
        break;
      case 84: // T ttl
      case 78: // N vivify ttl
        this.ttl = parseInt(this.src, s + 1, e);
        break;
      case 70: // F flags
        this.clientFlags = parseUint(this.src, s + 1, e);
        break;
      case 67: // C compare cas
      case 69: // E explicit cas
        this.cas = parseUint(this.src, s + 1, e);
        break;
      case 68: // D delta
        this.delta = parseUint(this.src, s + 1, e);
        break;
      case 77: // M mode
        this.metaMode = e > s + 1 ? this.src[s + 1]! : 0;
        break;
      case 79: // O opaque
        this.opaqueToken = t;
        break;
    }
  }
}

/**
 * Incremental parser of memcached text and meta **responses**, for the load engine, replay and
 * the capture decoder. Each successful {@linkcode AsciiResponseParser.parse} leaves one reply
 * line's fields on the parser (`VALUE`/`VA` lines with their payload length; the payload is
 * skipped by the next calls). Nothing is allocated per reply. Lines that are not memcached
 * replies throw a `protocol` error with the byte offset.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { McOp, McStatus } from "./types.ts";
 * const p = new AsciiResponseParser();
 * const b = new TextEncoder().encode("VALUE k 0 2\r\nhi\r\nEND\r\nHD c9\r\n");
 * const seen: number[] = [];
 * for (let at = 0; (at = p.parse(b, at, b.length)) >= 0;) seen.push(p.status);
 * assert.deepEqual(seen, [McStatus.Value, McStatus.End, McStatus.MetaHeader]);
 * assert.equal(p.cas, 9);
 * ```
 */
export class AsciiResponseParser extends AsciiFramer {
  /** What the line said. */
  status: McStatus = McStatus.Other;
  /** Token index of the key (`VALUE key`, meta `k` flag, `ME key`); -1 when absent. */
  keyToken = -1;
  /** Client flags (`VALUE`, meta `f`); -1 when absent. */
  clientFlags = -1;
  /** CAS (`VALUE … cas`, meta `c`); -1 when absent. */
  cas = -1;
  /** TTL (meta `t`); -1 when absent or infinite. */
  ttl = -1;
  /** The number of a `Number` line (incr/decr result). */
  number = -1;
  /** Token index of the meta `O` opaque; -1 when absent. */
  opaqueToken = -1;
  /** Meta `k` returns a key without the `k`: the key starts this many bytes into its token. */
  keySkip = 0;

  constructor(name = "response stream") {
    super(name, "response");
  }

  /** The key as a view into `src`, or undefined when the line carries none. */
  key(): Uint8Array | undefined {
    if (this.keyToken < 0) return undefined;
    return this.src.subarray(this.tokS[this.keyToken]! + this.keySkip, this.tokE[this.keyToken]!);
  }

  /** The meta opaque's text without the `O`; undefined when absent. */
  opaque(): string | undefined {
    if (this.opaqueToken < 0) return undefined;
    return this.token(this.opaqueToken).slice(1);
  }

  /** The whole line as text (error messages, VERSION, STAT), without its line end. */
  text(): string {
    return latin1Text(this.src, this.tokS[0]!, this.tokE[this.ntok - 1]!);
  }

  /** The text after the first word (the message of an error, the version string). */
  message(): string {
    if (this.ntok < 2) return "";
    return latin1Text(this.src, this.tokS[1]!, this.tokE[this.ntok - 1]!);
  }

  /** True for ERROR, CLIENT_ERROR, SERVER_ERROR. */
  get isError(): boolean {
    const s = this.status;
    return s === McStatus.Error || s === McStatus.ClientError || s === McStatus.ServerError;
  }

  protected onLine(): void {
    this.status = McStatus.Other;
    this.keyToken = -1;
    this.keySkip = 0;
    this.clientFlags = -1;
    this.cas = -1;
    this.ttl = -1;
    this.number = -1;
    this.opaqueToken = -1;
    const src = this.src;
    const s = this.tokS[0]!;
    const len = this.tokE[0]! - s;
    const c0 = src[s]!;
    if (c0 >= 48 && c0 <= 57) {
      const v = this.tokenUint(0);
      if (v < 0 || this.ntok !== 1) throw this.failLine("a number reply must be digits only");
      this.status = McStatus.Number;
      this.number = v;
      return;
    }
    if (c0 < 65 || c0 > 90) {
      throw this.failLine(`expected a reply word, found ${describeByte(c0)}`);
    }
    if (len === 2) {
      const c1 = src[s + 1]!;
      switch (c0 * 256 + c1) {
        case 0x5641: // VA <size> <flags>*
          this.status = McStatus.MetaValue;
          {
            const size = this.ntok > 1 ? this.tokenUint(1) : -1;
            if (size < 0) throw this.failLine("VA without a value size");
            this.#metaFlags(2);
            this.valueLength = size;
          }
          return;
        case 0x4844: // HD
          this.status = McStatus.MetaHeader;
          this.#metaFlags(1);
          return;
        case 0x454e: // EN
          this.status = McStatus.MetaMiss;
          this.#metaFlags(1);
          return;
        case 0x4e46: // NF
          this.status = McStatus.MetaNotFound;
          this.#metaFlags(1);
          return;
        case 0x4e53: // NS
          this.status = McStatus.MetaNotStored;
          this.#metaFlags(1);
          return;
        case 0x4558: // EX
          this.status = McStatus.MetaExists;
          this.#metaFlags(1);
          return;
        case 0x4d4e: // MN
          this.status = McStatus.MetaNoop;
          return;
        case 0x4d45: // ME <key> k=v…
          this.status = McStatus.MetaDebug;
          if (this.ntok > 1) this.keyToken = 1;
          return;
        case 0x4f4b: // OK
          this.status = McStatus.Ok;
          return;
      }
    }
    switch (c0) {
      case 86: // V
        if (this.tokenIs(0, "VALUE")) {
          // VALUE <key> <flags> <bytes> [<cas unique>]
          if (this.ntok < 4) throw this.failLine("VALUE needs a key, flags and a length");
          this.status = McStatus.Value;
          this.keyToken = 1;
          this.clientFlags = this.tokenUint(2);
          const bytes = this.tokenUint(3);
          if (bytes < 0 || this.clientFlags < 0) {
            throw this.failLine("VALUE with a bad length or flags");
          }
          if (this.ntok > 4) this.cas = this.tokenUint(4);
          this.valueLength = bytes;
          return;
        }
        if (this.tokenIs(0, "VERSION")) {
          this.status = McStatus.Version;
          return;
        }
        break;
      case 69: // E
        if (this.tokenIs(0, "END")) {
          this.status = McStatus.End;
          return;
        }
        if (this.tokenIs(0, "ERROR")) {
          this.status = McStatus.Error;
          return;
        }
        if (this.tokenIs(0, "EXISTS")) {
          this.status = McStatus.Exists;
          return;
        }
        break;
      case 83: // S
        if (this.tokenIs(0, "STORED")) {
          this.status = McStatus.Stored;
          return;
        }
        if (this.tokenIs(0, "STAT")) {
          this.status = McStatus.Stat;
          return;
        }
        if (this.tokenIs(0, "SERVER_ERROR")) {
          this.status = McStatus.ServerError;
          return;
        }
        break;
      case 78: // N
        if (this.tokenIs(0, "NOT_FOUND")) {
          this.status = McStatus.NotFound;
          return;
        }
        if (this.tokenIs(0, "NOT_STORED")) {
          this.status = McStatus.NotStored;
          return;
        }
        break;
      case 68: // D
        if (this.tokenIs(0, "DELETED")) {
          this.status = McStatus.Deleted;
          return;
        }
        break;
      case 84: // T
        if (this.tokenIs(0, "TOUCHED")) {
          this.status = McStatus.Touched;
          return;
        }
        break;
      case 67: // C
        if (this.tokenIs(0, "CLIENT_ERROR")) {
          this.status = McStatus.ClientError;
          return;
        }
        break;
    }
    // Other upper-case replies (RESET, ITEM, …) are passed through as Other.
    for (let i = s; i < s + len; i++) {
      const c = src[i]!;
      if (!((c >= 65 && c <= 90) || c === 95 || (c >= 48 && c <= 57))) {
        throw this.failLine(`expected a reply word, found ${describeByte(c)}`);
      }
    }
  }

  #metaFlags(from: number): void {
    const src = this.src;
    for (let t = from; t < this.ntok; t++) {
      const s = this.tokS[t]!;
      const e = this.tokE[t]!;
      switch (src[s]) {
        case 107: // k<key>
          this.keyToken = t;
          this.keySkip = 1;
          break;
        case 79: // O<opaque>
          this.opaqueToken = t;
          break;
        case 99: // c<cas>
          this.cas = parseUint(src, s + 1, e);
          break;
        case 102: // f<flags>
          this.clientFlags = parseUint(src, s + 1, e);
          break;
        case 116: // t<ttl>
          this.ttl = parseInt(src, s + 1, e);
          break;
      }
    }
  }
}
