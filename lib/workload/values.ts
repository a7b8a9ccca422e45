// This module uses no Deno APIs.
import { invalidArgument } from "../errors/mod.ts";
import { parseSize } from "../units/mod.ts";
import type { Rng } from "./rng.ts";

/** How value sizes are chosen. */
export type ValueSize =
  | { kind: "fixed"; size: number }
  | { kind: "range"; min: number; max: number }
  | { kind: "list"; sizes: number[]; weights: number[] };

/** Largest value membench generates (Redis' default proto-max-bulk-len is 512 MiB). */
export const MAX_VALUE_SIZE = 64 * 1024 * 1024;

/**
 * Parses a size spec: `32` or `4KiB` (fixed), `32-1024` (uniform range, memtier
 * `--data-size-range`), `32:0.7,1024:0.3` (weighted list, memtier `--data-size-list`).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseValueSize("32-64"), { kind: "range", min: 32, max: 64 });
 * ```
 */
export function parseValueSize(input: string | number, flag = "data-size"): ValueSize {
  if (typeof input === "number") return checked({ kind: "fixed", size: input }, flag, input);
  const s = input.trim();
  try {
    if (s.includes(",") || s.includes(":")) {
      const sizes: number[] = [];
      const weights: number[] = [];
      for (const part of s.split(",")) {
        const [size, weight] = part.split(":");
        const w = weight === undefined ? 1 : Number(weight);
        if (!(w > 0)) throw invalidArgument(flag, "weights must be numbers > 0", input);
        sizes.push(parseSize(size!));
        weights.push(w);
      }
      return checked({ kind: "list", sizes, weights }, flag, input);
    }
    const range = /^([^-]+)-([^-]+)$/.exec(s);
    if (range) {
      return checked(
        { kind: "range", min: parseSize(range[1]!), max: parseSize(range[2]!) },
        flag,
        input,
      );
    }
    return checked({ kind: "fixed", size: parseSize(s) }, flag, input);
  } catch (e) {
    if (e instanceof Error && e.message.startsWith(`Cannot use '${flag}'`)) throw e;
    throw invalidArgument(flag, "expected SIZE, MIN-MAX or SIZE:WEIGHT,SIZE:WEIGHT", input);
  }
}

function checked(v: ValueSize, flag: string, input: unknown): ValueSize {
  const all = v.kind === "fixed" ? [v.size] : v.kind === "range" ? [v.min, v.max] : v.sizes;
  for (const n of all) {
    if (!Number.isInteger(n) || n < 0 || n > MAX_VALUE_SIZE) {
      throw invalidArgument(flag, `sizes must be integers in 0..${MAX_VALUE_SIZE}`, input);
    }
  }
  if (v.kind === "range" && v.min > v.max) {
    throw invalidArgument(flag, "the range's minimum is larger than its maximum", input);
  }
  return v;
}

/** The largest size a spec can produce. */
export function maxValueSize(v: ValueSize): number {
  return v.kind === "fixed" ? v.size : v.kind === "range" ? v.max : Math.max(...v.sizes);
}

/** Returns a function that draws the next value size. */
export function valueSizer(v: ValueSize, rng: Rng): () => number {
  switch (v.kind) {
    case "fixed": {
      const size = v.size;
      return () => size;
    }
    case "range": {
      const { min } = v;
      const span = v.max - v.min + 1;
      return () => min + rng.nextInt(span);
    }
    case "list": {
      const total = v.weights.reduce((a, b) => a + b, 0);
      const cdf = v.weights.map((_, i) =>
        v.weights.slice(0, i + 1).reduce((a, b) => a + b, 0) / total
      );
      const sizes = v.sizes;
      return () => {
        const u = rng.next();
        for (let i = 0; i < cdf.length; i++) if (u < cdf[i]!) return sizes[i]!;
        return sizes[sizes.length - 1]!;
      };
    }
  }
}
