import { MembenchError } from "../errors/mod.ts";
import { SipHash24 } from "./siphash.ts";

/** Options for {@linkcode Anonymizer.create}. */
export interface AnonymizerOptions {
  /**
   * The salt (any bytes; a string is UTF-8, or hex after `hex:`). Fresh random bytes when
   * absent: then profiles of different captures cannot be joined.
   */
  salt?: Uint8Array | string;
  /**
   * Keep the namespace structure: the first N delimiter-separated tokens of a key are hashed on
   * their own into the high 32 bits, so keys that share them share those bits. 0 = off.
   * @default {0}
   */
  keepTokens?: number;
  /** Token delimiter for `keepTokens`. @default {":"} */
  tokenDelimiter?: string;
  /** Keep each key's Redis cluster hash slot. @default {false} */
  keepSlots?: boolean;
}

const te = new TextEncoder();

/**
 * Turns keys into a keyed 64-bit hash (SipHash-2-4 under a key derived from the salt) and
 * nothing else: the salt is never kept in a readable form or written, only its fingerprint,
 * which lets profiles made with the same salt be joined. Values are never seen here at all.
 * `hashKey` allocates nothing.
 */
export class Anonymizer {
  /** First 16 hex digits of SHA-256("membench salt fingerprint\0" + salt). */
  readonly fingerprint: string;
  /** See {@linkcode AnonymizerOptions.keepTokens}. */
  readonly keepTokens: number;
  /** See {@linkcode AnonymizerOptions.tokenDelimiter}. */
  readonly tokenDelimiter: string;
  /** See {@linkcode AnonymizerOptions.keepSlots}. */
  readonly keepSlots: boolean;
  /** High 32 bits of the last hash. */
  hi = 0;
  /** Low 32 bits of the last hash. */
  lo = 0;
  #sip: SipHash24;
  #delim: number;

  private constructor(key: Uint8Array, fingerprint: string, o: AnonymizerOptions) {
    this.#sip = new SipHash24(key);
    this.fingerprint = fingerprint;
    this.keepTokens = o.keepTokens ?? 0;
    this.tokenDelimiter = o.tokenDelimiter ?? ":";
    this.keepSlots = o.keepSlots ?? false;
    this.#delim = this.tokenDelimiter.charCodeAt(0);
  }

  /**
   * Derives the hash key and the fingerprint from the salt.
   *
   * @throws {MembenchError} `invalid_argument` for an empty salt, bad hex, or a bad option.
   */
  static async create(o: AnonymizerOptions = {}): Promise<Anonymizer> {
    const salt = o.salt === undefined
      ? crypto.getRandomValues(new Uint8Array(32))
      : parseSalt(o.salt);
    if (o.keepTokens !== undefined && (!Number.isInteger(o.keepTokens) || o.keepTokens < 0)) {
      throw new MembenchError(
        "invalid_argument",
        `Cannot use 'keepTokens': must be an integer >= 0: current value is ${o.keepTokens}`,
      );
    }
    if (o.tokenDelimiter !== undefined && te.encode(o.tokenDelimiter).length !== 1) {
      throw new MembenchError(
        "invalid_argument",
        "Cannot use 'tokenDelimiter': must be one ASCII character",
      );
    }
    const key = new Uint8Array(
      await crypto.subtle.digest("SHA-256", concat(te.encode("membench key\0"), salt)),
    )
      .subarray(0, 16);
    const fp = new Uint8Array(
      await crypto.subtle.digest("SHA-256", concat(te.encode("membench salt fingerprint\0"), salt)),
    );
    salt.fill(0);
    const hex = Array.from(fp.subarray(0, 8), (b) => b.toString(16).padStart(2, "0")).join("");
    return new Anonymizer(key, hex, o);
  }

  /** Hashes the key `b[s, e)` into `hi`/`lo`. */
  hashKey(b: Uint8Array, s: number, e: number): void {
    const sip = this.#sip;
    sip.hash(b, s, e);
    if (this.keepTokens === 0) {
      this.hi = sip.hi;
      this.lo = sip.lo;
      return;
    }
    const lo = sip.lo;
    // Namespace kept: the high half is the hash of the first N tokens (with their delimiters).
    let cut = s;
    let seen = 0;
    while (cut < e) {
      if (b[cut] === this.#delim && ++seen === this.keepTokens) break;
      cut++;
    }
    sip.hash(b, s, cut);
    this.hi = sip.hi;
    this.lo = lo;
  }

  /** The last hash as 16 hex digits. */
  hex(): string {
    return this.hi.toString(16).padStart(8, "0") + this.lo.toString(16).padStart(8, "0");
  }
}

/**
 * Parses a salt: `hex:0011…` as hex, anything else as UTF-8 text.
 *
 * @throws {MembenchError} `invalid_argument` for an empty salt or bad hex.
 */
export function parseSalt(input: Uint8Array | string): Uint8Array {
  if (input instanceof Uint8Array) {
    if (input.length === 0) {
      throw new MembenchError("invalid_argument", "Cannot use the salt: it is empty");
    }
    return input.slice();
  }
  if (input.startsWith("hex:")) {
    const h = input.slice(4);
    if (h.length === 0 || h.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(h)) {
      throw new MembenchError(
        "invalid_argument",
        "Cannot use the salt: 'hex:' must be followed by an even number of hex digits",
      );
    }
    return Uint8Array.from(
      { length: h.length / 2 },
      (_, i) => parseInt(h.slice(2 * i, 2 * i + 2), 16),
    );
  }
  if (input.length === 0) {
    throw new MembenchError("invalid_argument", "Cannot use the salt: it is empty");
  }
  return te.encode(input);
}

const CRC16 = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 8;
    for (let k = 0; k < 8; k++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff;
    t[i] = c;
  }
  return t;
})();

/**
 * CRC-16/XMODEM, the checksum Redis Cluster uses for key slots.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(crc16(new TextEncoder().encode("123456789"), 0, 9), 0x31c3);
 * ```
 */
export function crc16(b: Uint8Array, s: number, e: number): number {
  let c = 0;
  for (let i = s; i < e; i++) c = ((c << 8) & 0xffff) ^ CRC16[((c >> 8) ^ b[i]!) & 0xff]!;
  return c;
}

/**
 * The Redis Cluster hash slot of the key `b[s, e)`: CRC-16 mod 16384 of the key, or of its hash
 * tag (the text between the first `{` and the next `}`, when not empty).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const k = (s: string) => new TextEncoder().encode(s);
 * const a = k("{user1000}.following");
 * const b = k("{user1000}.followers");
 * assert.equal(clusterSlot(a, 0, a.length), clusterSlot(b, 0, b.length));
 * ```
 */
export function clusterSlot(b: Uint8Array, s: number, e: number): number {
  const open = b.indexOf(123, s);
  if (open >= 0 && open < e) {
    const close = b.indexOf(125, open + 1);
    if (close >= 0 && close < e && close > open + 1) return crc16(b, open + 1, close) & 16383;
  }
  return crc16(b, s, e) & 16383;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
