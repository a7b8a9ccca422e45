// This module uses no Deno APIs.

/**
 * A small, fast, seeded PRNG (sfc32: Chris Doty-Humphrey's Small Fast Counter, 32-bit). The same
 * seed gives the same sequence on every machine; streams for different clients are derived with
 * {@linkcode Rng.derive} so that they do not overlap in practice.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const a = new Rng(42), b = new Rng(42);
 * assert.equal(a.next(), b.next());
 * ```
 */
export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed: number) {
    // splitmix32 expands the seed into the four state words.
    let s = seed >>> 0 ^ Math.floor(seed / 2 ** 32) >>> 0;
    const mix = () => {
      s = (s + 0x9e3779b9) | 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#a = mix();
    this.#b = mix();
    this.#c = mix();
    this.#d = mix();
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /** A new generator whose stream depends on this seed and `stream` (a client index). */
  static derive(seed: number, stream: number): Rng {
    return new Rng(hash32(seed, stream));
  }

  /** Uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  next(): number {
    const hi = this.nextUint32() >>> 5;
    const lo = this.nextUint32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform integer in [0, n). */
  nextInt(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Standard normal (Box–Muller). */
  nextGaussian(): number {
    let u = 0;
    while (u === 0) u = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  /** Exponential with the given mean. */
  nextExponential(mean: number): number {
    let u = 0;
    while (u === 0) u = this.next();
    return -Math.log(u) * mean;
  }
}

/** Mixes two numbers into a 32-bit seed. */
export function hash32(a: number, b: number): number {
  let h = Math.imul((a >>> 0) ^ 0x27d4eb2d, 0x165667b1) ^ Math.floor(a / 2 ** 32);
  h = Math.imul(h ^ (b >>> 0), 0x85ebca77);
  h ^= h >>> 15;
  h = Math.imul(h, 0xc2b2ae3d);
  return (h ^ (h >>> 16)) >>> 0;
}
