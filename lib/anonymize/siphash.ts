// This module uses no Deno APIs.
/**
 * SipHash-2-4 (Aumasson and Bernstein, 2012): a keyed 64-bit PRF, fast on short inputs such as
 * cache keys. 64-bit words are kept as 32-bit halves so that nothing is allocated per hash.
 *
 * @module
 */

/**
 * A SipHash-2-4 instance for one 128-bit key. {@linkcode SipHash24.hash} leaves the 64-bit
 * result in `hi` and `lo`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * // Test vector from the SipHash paper: key 00..0f, message 00..0e.
 * const h = new SipHash24(Uint8Array.from({ length: 16 }, (_, i) => i));
 * h.hash(Uint8Array.from({ length: 15 }, (_, i) => i), 0, 15);
 * assert.equal(h.hex(), "a129ca6149be45e5");
 * ```
 */
export class SipHash24 {
  /** High 32 bits of the last result. */
  hi = 0;
  /** Low 32 bits of the last result. */
  lo = 0;
  #k0h: number;
  #k0l: number;
  #k1h: number;
  #k1l: number;
  // State v0..v3 as (hi, lo) pairs.
  #v = new Uint32Array(8);

  /** @param key 16 bytes. */
  constructor(key: Uint8Array) {
    if (key.length !== 16) {
      throw new RangeError(`Cannot key SipHash: the key must be 16 bytes, not ${key.length}`);
    }
    this.#k0l = le32(key, 0);
    this.#k0h = le32(key, 4);
    this.#k1l = le32(key, 8);
    this.#k1h = le32(key, 12);
  }

  /** Hashes `b[s, e)`. */
  hash(b: Uint8Array, s: number, e: number): void {
    const v = this.#v;
    // v0 = k0 ^ "somepseudorandomlygeneratedbytes"[0..8] etc.
    v[0] = this.#k0h ^ 0x736f6d65;
    v[1] = this.#k0l ^ 0x70736575;
    v[2] = this.#k1h ^ 0x646f7261;
    v[3] = this.#k1l ^ 0x6e646f6d;
    v[4] = this.#k0h ^ 0x6c796765;
    v[5] = this.#k0l ^ 0x6e657261;
    v[6] = this.#k1h ^ 0x74656462;
    v[7] = this.#k1l ^ 0x79746573;
    const len = e - s;
    const end = s + (len & ~7);
    for (let i = s; i < end; i += 8) this.#absorb(le32(b, i + 4), le32(b, i));
    // Last block: the remaining bytes, and the length in the top byte.
    let mh = (len & 0xff) << 24;
    let ml = 0;
    const left = len & 7;
    for (let j = 0; j < left; j++) {
      const c = b[end + j]!;
      if (j < 4) ml |= c << (8 * j);
      else mh |= c << (8 * (j - 4));
    }
    this.#absorb(mh >>> 0, ml >>> 0);
    v[5] = (v[5]! ^ 0xff) >>> 0; // v2 ^= 0xff
    for (let r = 0; r < 4; r++) this.#round();
    this.hi = (v[0]! ^ v[2]! ^ v[4]! ^ v[6]!) >>> 0;
    this.lo = (v[1]! ^ v[3]! ^ v[5]! ^ v[7]!) >>> 0;
  }

  /** The last result as 16 hex digits. */
  hex(): string {
    return this.hi.toString(16).padStart(8, "0") + this.lo.toString(16).padStart(8, "0");
  }

  #absorb(mh: number, ml: number): void {
    const v = this.#v;
    v[6] = (v[6]! ^ mh) >>> 0;
    v[7] = (v[7]! ^ ml) >>> 0;
    this.#round();
    this.#round();
    v[0] = (v[0]! ^ mh) >>> 0;
    v[1] = (v[1]! ^ ml) >>> 0;
  }

  // One SipRound on (v0, v1, v2, v3) held as hi/lo pairs in v[0..7].
  #round(): void {
    const v = this.#v;
    // v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32)
    add(v, 0, 2);
    rotl(v, 2, 13);
    xor(v, 2, 0);
    swap32(v, 0);
    // v2 += v3; v3 = rotl(v3, 16); v3 ^= v2
    add(v, 4, 6);
    rotl(v, 6, 16);
    xor(v, 6, 4);
    // v0 += v3; v3 = rotl(v3, 21); v3 ^= v0
    add(v, 0, 6);
    rotl(v, 6, 21);
    xor(v, 6, 0);
    // v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32)
    add(v, 4, 2);
    rotl(v, 2, 17);
    xor(v, 2, 4);
    swap32(v, 4);
  }
}

function le32(b: Uint8Array, i: number): number {
  return (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0;
}

// a += b (64-bit), words at v[a] (hi), v[a+1] (lo).
function add(v: Uint32Array, a: number, b: number): void {
  const lo = v[a + 1]! + v[b + 1]!;
  v[a] = (v[a]! + v[b]! + (lo > 0xffffffff ? 1 : 0)) >>> 0;
  v[a + 1] = lo >>> 0;
}

function xor(v: Uint32Array, a: number, b: number): void {
  v[a] = (v[a]! ^ v[b]!) >>> 0;
  v[a + 1] = (v[a + 1]! ^ v[b + 1]!) >>> 0;
}

function rotl(v: Uint32Array, a: number, n: number): void {
  const h = v[a]!;
  const l = v[a + 1]!;
  if (n < 32) {
    v[a] = ((h << n) | (l >>> (32 - n))) >>> 0;
    v[a + 1] = ((l << n) | (h >>> (32 - n))) >>> 0;
  } else {
    const m = n - 32;
    v[a] = ((l << m) | (h >>> (32 - m))) >>> 0;
    v[a + 1] = ((h << m) | (l >>> (32 - m))) >>> 0;
  }
}

function swap32(v: Uint32Array, a: number): void {
  const h = v[a]!;
  v[a] = v[a + 1]!;
  v[a + 1] = h;
}
