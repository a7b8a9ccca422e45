// This module uses no Deno APIs.
/**
 * Run shards: one run split over N processes (or machines, or Kubernetes pods) so that the N
 * shards together do exactly what one run would. Clients are split into contiguous ranges of
 * global client indices; every client's key and size stream is derived from the run's seed and
 * its global index, so a shard's streams are those the same clients had in one run. Counts
 * (requests, connections of a profile, queries) are split by the same cumulative rounding, so the
 * shares always add up to the total.
 *
 * @module
 */
import { MembenchError } from "../errors/mod.ts";

/** Shard `index` (0-based) of `count`. */
export interface ShardSpec {
  /** 0-based. */
  index: number;
  /** Number of shards, at least 1. */
  count: number;
}

/**
 * Parses `"I/N"` (0-based I < N).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseShardSpec("2/4"), { index: 2, count: 4 });
 * assert.throws(() => parseShardSpec("4/4"), /0\.\.3/);
 * ```
 * @throws {MembenchError} `invalid_argument` naming what is wrong.
 */
export function parseShardSpec(text: string, what = "shard"): ShardSpec {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (!m) {
    throw new MembenchError(
      "invalid_argument",
      `Cannot use '${what}': expected I/N (shard I of N, I from 0): current value is '${text}'`,
    );
  }
  const index = Number(m[1]);
  const count = Number(m[2]);
  checkShardSpec({ index, count }, what);
  return { index, count };
}

/**
 * Checks a shard spec.
 *
 * @throws {MembenchError} `invalid_argument` naming what is wrong.
 */
export function checkShardSpec(s: ShardSpec, what = "shard"): void {
  if (!Number.isSafeInteger(s.count) || s.count < 1) {
    throw new MembenchError(
      "invalid_argument",
      `Cannot use '${what}': the shard count must be a positive integer: current value is ${s.count}`,
    );
  }
  if (!Number.isSafeInteger(s.index) || s.index < 0 || s.index >= s.count) {
    throw new MembenchError(
      "invalid_argument",
      `Cannot use '${what}': the shard index must be in 0..${
        s.count - 1
      }: current value is ${s.index}`,
    );
  }
}

/**
 * The shard from the environment, as a pod sees it: `MEMBENCH_SHARD=I/N`, else Kubernetes'
 * `JOB_COMPLETION_INDEX` (an Indexed Job) with `MEMBENCH_SHARDS=N`; undefined when neither is set.
 * The caller passes the environment (the library does not read it).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.deepEqual(shardFromEnv({ JOB_COMPLETION_INDEX: "3", MEMBENCH_SHARDS: "8" }), {
 *   index: 3,
 *   count: 8,
 * });
 * assert.equal(shardFromEnv({}), undefined);
 * ```
 * @throws {MembenchError} `invalid_argument` when the variables are malformed or only half set.
 */
export function shardFromEnv(env: Record<string, string | undefined>): ShardSpec | undefined {
  const direct = env.MEMBENCH_SHARD;
  if (direct !== undefined && direct !== "") return parseShardSpec(direct, "MEMBENCH_SHARD");
  const index = env.JOB_COMPLETION_INDEX;
  const count = env.MEMBENCH_SHARDS;
  if ((index === undefined || index === "") && (count === undefined || count === "")) {
    return undefined;
  }
  if (count === undefined || count === "") {
    // A Job's pods all have JOB_COMPLETION_INDEX; without a count it says nothing about sharding.
    return undefined;
  }
  if (index === undefined || index === "") {
    throw new MembenchError(
      "invalid_argument",
      "Cannot use 'MEMBENCH_SHARDS' without a shard index: set MEMBENCH_SHARD=I/N, or run in an " +
        "Indexed Job (JOB_COMPLETION_INDEX)",
    );
  }
  return parseShardSpec(`${index}/${count}`, "JOB_COMPLETION_INDEX/MEMBENCH_SHARDS");
}

/**
 * Shard `spec`'s part of `total` things: `[start, start + count)`. The parts of all shards are
 * contiguous, disjoint and cover `0..total`; sizes differ by at most one.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const parts = [0, 1, 2].map((index) => shardRange(10, { index, count: 3 }));
 * assert.deepEqual(parts, [{ start: 0, count: 4 }, { start: 4, count: 3 }, { start: 7, count: 3 }]);
 * ```
 */
export function shardRange(total: number, spec: ShardSpec): { start: number; count: number } {
  const base = Math.floor(total / spec.count);
  const extra = total % spec.count;
  const start = spec.index * base + Math.min(spec.index, extra);
  return { start, count: base + (spec.index < extra ? 1 : 0) };
}

/**
 * The part of `total` that the things `[start, start + count)` of `of` get when `total` is dealt
 * out as one run deals it: `floor(total / of)` each, and one more to each of the first
 * `total % of`. So a range's share is the sum of its members' own shares, and contiguous ranges
 * covering `of` add up to `total` exactly (the requests of a run shard's or a thread's clients).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const shares = [0, 1, 2].map((i) => dealtShare(100, shardRange(7, { index: i, count: 3 }), 7));
 * assert.deepEqual(shares, [44, 28, 28]);
 * ```
 */
export function dealtShare(
  total: number,
  range: { start: number; count: number },
  of: number,
): number {
  const each = Math.floor(total / of);
  const extra = total % of;
  return range.count * each +
    Math.max(0, Math.min(range.start + range.count, extra) - range.start);
}
