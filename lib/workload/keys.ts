// This module uses no Deno APIs.
import { invalidArgument } from "../errors/mod.ts";
import type { Rng } from "./rng.ts";

/** How keys are drawn from the keyspace `[0, keyspace)`. */
export type KeyPattern =
  | { kind: "sequential" }
  | { kind: "uniform" }
  | { kind: "zipf"; exponent: number }
  | { kind: "gaussian"; mean?: number; stddev?: number };

/** Draws key ids. */
export interface KeyGenerator {
  /** The next id in `[0, keyspace)`. */
  next(): number;
}

/**
 * Parses a key pattern as written on the command line: `sequential` (or memtier's `S`),
 * `uniform` (`R`, `random`), `zipf:0.99` (`Z:0.99`), `gaussian`, `gaussian:MEAN:STDDEV` (`G`).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseKeyPattern("zipf:1.2"), { kind: "zipf", exponent: 1.2 });
 * ```
 */
export function parseKeyPattern(input: string): KeyPattern {
  const [name = "", ...rest] = input.split(":");
  const n = name.toLowerCase();
  if (n === "sequential" || n === "s") return { kind: "sequential" };
  if (n === "uniform" || n === "random" || n === "r") return { kind: "uniform" };
  if (n === "zipf" || n === "z") {
    const exponent = rest.length > 0 ? Number(rest[0]) : 0.99;
    if (!(exponent > 0) || rest.length > 1) {
      throw invalidArgument("key-pattern", "zipf takes an exponent > 0, as in zipf:0.99", input);
    }
    return { kind: "zipf", exponent };
  }
  if (n === "gaussian" || n === "g") {
    if (rest.length === 0) return { kind: "gaussian" };
    const [mean, stddev] = rest.map(Number);
    if (rest.length !== 2 || !(mean! >= 0) || !(stddev! > 0)) {
      throw invalidArgument(
        "key-pattern",
        "gaussian takes MEAN:STDDEV, as in gaussian:5000:800",
        input,
      );
    }
    return { kind: "gaussian", mean: mean!, stddev: stddev! };
  }
  throw invalidArgument(
    "key-pattern",
    "expected sequential, uniform, zipf[:EXPONENT] or gaussian[:MEAN:STDDEV]",
    input,
  );
}

/**
 * Makes a key generator. Same arguments, same sequence.
 *
 * @param pattern The distribution.
 * @param keyspace Number of distinct keys.
 * @param rng The random stream (one per client).
 * @param stream For `sequential`: this client's index and the number of clients, so that clients
 *   interleave over the keyspace (client c takes c, c+n, c+2n, …) instead of repeating each other.
 */
export function keyGenerator(
  pattern: KeyPattern,
  keyspace: number,
  rng: Rng,
  stream: { index: number; count: number } = { index: 0, count: 1 },
): KeyGenerator {
  if (!Number.isInteger(keyspace) || keyspace < 1) {
    throw invalidArgument("keyspace", "must be an integer >= 1", keyspace);
  }
  switch (pattern.kind) {
    case "sequential": {
      let i = stream.index % keyspace;
      const step = stream.count;
      return {
        next() {
          const v = i;
          i = (i + step) % keyspace;
          return v;
        },
      };
    }
    case "uniform":
      return { next: () => rng.nextInt(keyspace) };
    case "gaussian": {
      const mean = pattern.mean ?? keyspace / 2;
      const sd = pattern.stddev ?? keyspace / 6;
      return {
        next() {
          for (;;) {
            const v = Math.round(mean + sd * rng.nextGaussian());
            if (v >= 0 && v < keyspace) return v;
          }
        },
      };
    }
    case "zipf": {
      const z = new ZipfSampler(keyspace, pattern.exponent, rng);
      return { next: () => z.sample() - 1 };
    }
  }
}

/**
 * Zipf sampler over ranks `1..n` with P(k) ∝ k^-s, by rejection-inversion (W. Hörmann and
 * G. Derflinger, "Rejection-inversion to generate variates from monotone discrete
 * distributions", ACM TOMACS 6(3), 1996). O(1) memory and expected time per sample, for any
 * s > 0 and any n: no table of the keyspace is built.
 */
export class ZipfSampler {
  #n: number;
  #s: number;
  #rng: Rng;
  #hx0: number;
  #hn: number;
  #t: number;

  constructor(n: number, exponent: number, rng: Rng) {
    this.#n = n;
    this.#s = exponent;
    this.#rng = rng;
    this.#hx0 = this.#h(1.5) - 1;
    this.#hn = this.#h(n + 0.5);
    this.#t = 2 - this.#hInv(this.#h(2.5) - Math.pow(2, -exponent));
  }

  /** A rank in `[1, n]`; rank 1 is the most popular. */
  sample(): number {
    for (;;) {
      const u = this.#hn + this.#rng.next() * (this.#hx0 - this.#hn);
      const x = this.#hInv(u);
      let k = Math.floor(x + 0.5);
      if (k < 1) k = 1;
      else if (k > this.#n) k = this.#n;
      if (k - x <= this.#t || u >= this.#h(k + 0.5) - Math.pow(k, -this.#s)) return k;
    }
  }

  // H(x) = ∫ x^-s, written with helpers that stay accurate when s is close to 1.
  #h(x: number): number {
    const lx = Math.log(x);
    return helper2((1 - this.#s) * lx) * lx;
  }

  #hInv(x: number): number {
    let t = x * (1 - this.#s);
    if (t < -1) t = -1;
    return Math.exp(helper1(t) * x);
  }
}

// log(1+x)/x, accurate near 0.
function helper1(x: number): number {
  return Math.abs(x) > 1e-8 ? Math.log1p(x) / x : 1 - x * (0.5 - x * (1 / 3 - 0.25 * x));
}

// (exp(x)-1)/x, accurate near 0.
function helper2(x: number): number {
  return Math.abs(x) > 1e-8 ? Math.expm1(x) / x : 1 + x * 0.5 * (1 + x / 3 * (1 + 0.25 * x));
}
