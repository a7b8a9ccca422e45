// This module uses no Deno APIs.
/**
 * Byte helpers shared by the protocol codecs: decimal digits written in place, number parsing
 * from byte ranges, and readable names for bytes in error messages. Private to lib/protocol.
 *
 * @module
 */

/**
 * Writes `value` in decimal, zero-padded to `width` digits. Values wider than the slot keep
 * their low digits (the caller bounds ids by the keyspace, which sets the width).
 */
export function writeDigits(out: Uint8Array, pos: number, width: number, value: number): void {
  let v = value;
  for (let i = pos + width - 1; i >= pos; i--) {
    const q = Math.floor(v / 10);
    out[i] = 48 + (v - q * 10);
    v = q;
  }
}

/** Number of decimal digits of a non-negative integer. */
export function decimalWidth(value: number): number {
  let w = 1;
  while (value >= 10) {
    value = Math.floor(value / 10);
    w++;
  }
  return w;
}

/** Writes a non-negative integer in decimal (no padding); returns the position after it. */
export function writeDecimal(out: Uint8Array, pos: number, value: number): number {
  const w = decimalWidth(value);
  writeDigits(out, pos, w, value);
  return pos + w;
}

/**
 * Parses an unsigned decimal in `b[s, e)`; -1 when it is empty, has a non-digit, or exceeds
 * 2^53 (callers treat -1 as malformed). No allocation.
 */
export function parseUint(b: Uint8Array, s: number, e: number): number {
  if (e <= s || e - s > 16) return e - s > 16 && allDigits(b, s, e) ? parseBig(b, s, e) : -1;
  let v = 0;
  for (let i = s; i < e; i++) {
    const c = b[i]! - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

/** Parses a signed decimal in `b[s, e)`; NaN when malformed. */
export function parseInt(b: Uint8Array, s: number, e: number): number {
  if (e > s && b[s] === 45) {
    const v = parseUint(b, s + 1, e);
    return v < 0 ? NaN : -v;
  }
  const v = parseUint(b, s, e);
  return v < 0 ? NaN : v;
}

function allDigits(b: Uint8Array, s: number, e: number): boolean {
  for (let i = s; i < e; i++) if (b[i]! < 48 || b[i]! > 57) return false;
  return true;
}

// 64-bit values (CAS tokens, counters) beyond 2^53 lose precision as numbers; they are kept
// approximately, which is all a load generator or a profile needs of them.
function parseBig(b: Uint8Array, s: number, e: number): number {
  if (e - s > 20) return -1;
  let v = 0;
  for (let i = s; i < e; i++) v = v * 10 + (b[i]! - 48);
  return v;
}

/** True when `b[s, e)` holds exactly the ASCII text `word`. */
export function bytesEqual(b: Uint8Array, s: number, e: number, word: string): boolean {
  if (e - s !== word.length) return false;
  for (let i = 0; i < word.length; i++) if (b[s + i] !== word.charCodeAt(i)) return false;
  return true;
}

/** `'a' (0x61)` or `0x00`: a byte named for an error message. */
export function describeByte(c: number): string {
  const h = c.toString(16).padStart(2, "0");
  return c >= 32 && c < 127 ? `'${String.fromCharCode(c)}' (0x${h})` : `0x${h}`;
}

const latin1 = new TextDecoder("latin1");

/** Text of `b[s, e)` as Latin-1 (bytes map 1:1 to characters), for messages and rare paths. */
export function latin1Text(b: Uint8Array, s: number, e: number): string {
  return latin1.decode(b.subarray(s, e));
}

/**
 * Value bytes for load generation: views of a repeated fill pattern, one cached view per length,
 * so that writing a value of a length seen before allocates nothing.
 */
export class FillPattern {
  #fill: Uint8Array;
  #big = new Uint8Array(0);
  #views: Uint8Array[] = [];

  /** @param fill The bytes to repeat; not empty. */
  constructor(fill: Uint8Array) {
    this.#fill = fill;
  }

  /** `length` bytes of the pattern. */
  view(length: number): Uint8Array {
    let v = this.#views[length];
    if (v !== undefined) return v;
    if (this.#big.length < length) {
      const big = new Uint8Array(Math.max(length, this.#big.length * 2, 64));
      for (let i = 0; i < big.length; i++) big[i] = this.#fill[i % this.#fill.length]!;
      this.#big = big;
      this.#views = [];
    }
    v = this.#big.subarray(0, length);
    this.#views[length] = v;
    return v;
  }
}
