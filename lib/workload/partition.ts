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
import { type ErrorCode, MembenchError } from "../errors/mod.ts";

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

/** One result offered to a merge, as {@linkcode checkShardSet} sees it. */
export interface ShardPart {
  /** Which shard it says it is. */
  shard: ShardSpec;
  /** The settings every shard of one run shares (compared as JSON). */
  settings: Record<string, unknown>;
  /** Why the shard did not do all of its part, if it did not (failed, interrupted, cut short). */
  incomplete?: string | undefined;
  /** The failure's code, for the exit code a single run would have given. */
  failureCode?: string | undefined;
}

/**
 * Why a shard's result is incomplete, as {@linkcode checkShardSet} wants it: its failure (code
 * and message) or an interrupt; undefined for a whole one.
 */
export function shardIncomplete(
  r: { failure?: { code: string; message: string } | undefined; interrupted?: boolean },
): string | undefined {
  return r.failure
    ? `${r.failure.code}: ${r.failure.message}`
    : r.interrupted
    ? "interrupted"
    : undefined;
}

/** What {@linkcode checkShardSet} found. */
export interface ShardSetCheck {
  /** Shards expected. */
  count: number;
  /** Positions of the parts in shard order. */
  order: number[];
  /** Shard indices not given. */
  missing: number[];
  /** Shards that did not do all of their part, with why. */
  failed: Array<{ index: number; reason: string }>;
}

/**
 * Checks that results are the shards of one run before a merge: each is a shard of the same
 * count, none is given twice, they share their settings, and (unless `allowIncomplete`) none is
 * missing or incomplete. Every merge (bench, replay, vector) asks this one question the same way.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const part = (index: number) => ({ shard: { index, count: 3 }, settings: { seed: 1 } });
 * assert.deepEqual(checkShardSet([part(2), part(0), part(1)], { what: "bench" }).order, [1, 2, 0]);
 * assert.throws(() => checkShardSet([part(0), part(2)], { what: "bench" }), /missing shard 1/);
 * ```
 * @throws {MembenchError} `invalid_argument` when the parts are not shards of one run; for a
 *   missing shard `file`, for an incomplete one its failure code (else `interrupted`), each
 *   naming the shards, unless `allowIncomplete`.
 */
export function checkShardSet(
  parts: readonly ShardPart[],
  o: { what: string; shards?: number | undefined; allowIncomplete?: boolean | undefined },
): ShardSetCheck {
  if (parts.length === 0) {
    throw new MembenchError("invalid_argument", `Cannot merge ${o.what} results: none given`);
  }
  const order = parts.map((_, i) => i).sort((a, b) =>
    parts[a]!.shard.index - parts[b]!.shard.index
  );
  const first = parts[order[0]!]!;
  const count = o.shards ?? first.shard.count;
  const reference = flatSettings(first.settings);
  const seen = new Set<number>();
  for (const i of order) {
    const p = parts[i]!;
    const s = p.shard;
    if (s.count !== count) {
      throw new MembenchError(
        "invalid_argument",
        `Cannot merge shard ${s.index}/${s.count}: expected shards of ${count}`,
      );
    }
    if (seen.has(s.index)) {
      throw new MembenchError(
        "invalid_argument",
        `Cannot merge: shard ${s.index}/${count} is given twice`,
      );
    }
    seen.add(s.index);
    const mine = flatSettings(p.settings);
    const keys = new Set([...Object.keys(reference), ...Object.keys(mine)]);
    const diff = [...keys].filter((k) => reference[k] !== mine[k]).map((k) =>
      `${k}: ${reference[k] ?? "-"} vs ${mine[k] ?? "-"}`
    );
    if (diff.length > 0) {
      throw new MembenchError(
        "invalid_argument",
        `Cannot merge shard ${s.index}/${count}: its settings differ from shard ${first.shard.index}'s (${
          diff.join(", ")
        }): these are not shards of one run`,
      );
    }
  }
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !seen.has(i));
  const failed = order.flatMap((i) => {
    const p = parts[i]!;
    return p.incomplete === undefined ? [] : [{ index: p.shard.index, reason: p.incomplete }];
  });
  if ((missing.length > 0 || failed.length > 0) && !o.allowIncomplete) {
    const said = [
      ...(missing.length > 0
        ? [`missing shard${missing.length > 1 ? "s" : ""} ${missing.join(", ")}`]
        : []),
      ...failed.map((f) => `shard ${f.index} failed (${f.reason})`),
    ];
    // The exit code one run would give: a lost server is a connection failure, Ctrl+C an
    // interruption; a missing shard's result is missing input.
    const code = missing.length > 0
      ? "file"
      : order.map((i) => parts[i]!.failureCode).find((c) => c !== undefined) ?? "interrupted";
    throw new MembenchError(
      code as ErrorCode,
      `Cannot merge ${count} ${o.what} shards: ${said.join("; ")}`,
      { hint: "--allow-incomplete merges what is there" },
    );
  }
  return { count, order, missing, failed };
}

function flatSettings(x: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(x)) if (v !== undefined) out[k] = JSON.stringify(v);
  return out;
}
