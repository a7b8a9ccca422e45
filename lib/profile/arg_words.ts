// This module uses no Deno APIs.
/**
 * Argument words of format 2.2 that say more than one number: stream IDs and lex range bounds
 * (see {@linkcode ArgWord}). Writing them allocates nothing.
 *
 * @module
 */
import { ArgWord } from "./spec.ts";

/** Bits of a `StreamId` word's upper bits. */
export const StreamIdBits = {
  /** Written `(1-0`: an exclusive range bound. */
  Exclusive: 1,
  /** Has a sequence part (`1-5`; without it, `1`). */
  Seq: 2,
  /** The sequence part is `*` (`1-*`: the server picks it). */
  SeqAuto: 4,
  /** `-`: the smallest ID. */
  Min: 8,
  /** `+`: the largest ID. */
  Max: 16,
} as const;

/** The bracket of a `Bound` word (its upper bits' low 2 bits). */
export const BOUND_PREFIXES = "[(-+";

const F64 = new Float64Array(1);
const U32 = new Uint32Array(F64.buffer);

// A decimal integer of b[s, e) (at most 20 digits), or -1.
function digits(b: Uint8Array, s: number, e: number): number {
  if (e <= s || e - s > 20) return -1;
  let v = 0;
  for (let i = s; i < e; i++) {
    const d = b[i]! - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

/**
 * Writes a stream ID argument (`1526919030474-55`, `1`, `1-*`, `-`, `+`, `(1-0`) into `w` at
 * `n` as one `StreamId` word, then the milliseconds and the sequence as f64s (low word first):
 * 5 words. Returns the new end, or -1 when `a` is no stream ID (`w` needs room for 5 words).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const w = new Uint32Array(5);
 * assert.equal(writeStreamId(new TextEncoder().encode("(12-3"), w, 0), 5);
 * assert.equal(streamIdText(w, 0), "(12-3");
 * assert.equal(writeStreamId(new TextEncoder().encode("x-1"), w, 0), -1);
 * ```
 */
export function writeStreamId(a: Uint8Array, w: Uint32Array, n: number): number {
  let bits = 0;
  let ms = 0;
  let seq = 0;
  if (a.length === 1 && a[0] === 45) bits = StreamIdBits.Min;
  else if (a.length === 1 && a[0] === 43) bits = StreamIdBits.Max;
  else {
    let s = 0;
    if (a[0] === 40) {
      bits |= StreamIdBits.Exclusive;
      s = 1;
    }
    const dash = a.indexOf(45, s);
    ms = digits(a, s, dash < 0 ? a.length : dash);
    if (ms < 0) return -1;
    if (dash >= 0) {
      bits |= StreamIdBits.Seq;
      if (a.length === dash + 2 && a[dash + 1] === 42) bits |= StreamIdBits.SeqAuto;
      else {
        seq = digits(a, dash + 1, a.length);
        if (seq < 0) return -1;
      }
    }
  }
  w[n++] = (bits << 3) | ArgWord.StreamId;
  F64[0] = ms;
  w[n++] = U32[0]!;
  w[n++] = U32[1]!;
  F64[0] = seq;
  w[n++] = U32[0]!;
  w[n++] = U32[1]!;
  return n;
}

/** The text of the `StreamId` word at `w[i]` (5 words), as the client wrote it. */
export function streamIdText(w: Uint32Array, i: number): string {
  const bits = w[i]! >>> 3;
  if (bits & StreamIdBits.Min) return "-";
  if (bits & StreamIdBits.Max) return "+";
  U32[0] = w[i + 1]!;
  U32[1] = w[i + 2]!;
  let s = (bits & StreamIdBits.Exclusive ? "(" : "") + BigInt(F64[0]!).toString();
  if (bits & StreamIdBits.SeqAuto) s += "-*";
  else if (bits & StreamIdBits.Seq) {
    U32[0] = w[i + 3]!;
    U32[1] = w[i + 4]!;
    s += "-" + BigInt(F64[0]!).toString();
  }
  return s;
}

/**
 * The bracket of a lex range bound (`[m` 0, `(m` 1, `-` 2, `+` 3), or -1 when `a` is none. A
 * `[` or `(` bound's member follows its bracket; `-` and `+` have none.
 */
export function lexBoundPrefix(a: Uint8Array): number {
  if (a.length === 0) return -1;
  const p = BOUND_PREFIXES.indexOf(String.fromCharCode(a[0]!));
  if (p < 0 || (p >= 2 && a.length !== 1)) return -1;
  return p;
}
