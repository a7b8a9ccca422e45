import { MembenchError } from "../errors/mod.ts";
import { Rng } from "../workload/mod.ts";
import { BinaryDataset, BinaryDatasetWriter, writeBinaryGroundTruth } from "./binary.ts";
import { computeGroundTruth, type GroundTruth } from "./groundtruth.ts";
import type { DistanceMetric } from "./types.ts";

/** A tag and the share of vectors that carry it (its selectivity in `@tag:{name}`). */
export interface TagSpec {
  name: string;
  /** Probability in [0, 1] that a vector has the tag (independently of the other tags). */
  share: number;
}

/** A numeric field, uniform in `[min, max)`: `@name:[a b]` selects about `(b - a) / (max - min)`. */
export interface NumericSpec {
  name: string;
  min: number;
  max: number;
}

/** Options for {@linkcode generateDataset}. */
export interface GenerateOptions {
  dim: number;
  /** Base vectors. */
  count: number;
  /** Query vectors (drawn from the same mixture, another stream). */
  queries: number;
  /** Gaussian components. @default {16} */
  clusters?: number;
  /** @default {"L2"} */
  metric?: DistanceMetric;
  /** Tags and their shares. @default {[]} */
  tags?: TagSpec[];
  /** Name of the tag field. @default {"tag"} */
  tagField?: string;
  /** Numeric fields. @default {[]} */
  numeric?: NumericSpec[];
  /** Same seed, same bytes. @default {1} */
  seed?: number;
  /** Ground-truth depth (0: none). @default {100} */
  k?: number;
  /** @default {"synthetic"} */
  name?: string;
  /** Standard deviation of the cluster centres' coordinates. @default {4} */
  centerSpread?: number;
  /** Standard deviation of points around their centre. @default {1} */
  clusterSpread?: number;
  /** Threads for the ground truth. */
  threads?: number;
  signal?: AbortSignal;
  onProgress?: (
    p: { phase: "vectors" | "queries" | "groundtruth"; done: number; total: number },
  ) => void;
}

/** What {@linkcode generateDataset} wrote. */
export interface GenerateResult {
  path: string;
  dim: number;
  vectors: number;
  queries: number;
  metric: DistanceMetric;
  groundTruth?: GroundTruth;
}

/**
 * Parses `red:0.5,green:0.1` into tag specs.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseTagSpecs("red:0.5,blue:0.01"), [{ name: "red", share: 0.5 }, { name: "blue", share: 0.01 }]);
 * ```
 */
export function parseTagSpecs(text: string): TagSpec[] {
  return text.split(",").map((s) => s.trim()).filter((s) => s !== "").map((item) => {
    const m = /^([^:]+):([0-9.eE+-]+%?)$/.exec(item);
    const share = m ? (m[2]!.endsWith("%") ? Number(m[2]!.slice(0, -1)) / 100 : Number(m[2])) : NaN;
    if (!m || !(share >= 0 && share <= 1)) {
      throw new MembenchError(
        "invalid_argument",
        `Cannot use tag ${JSON.stringify(item)}: expected NAME:SHARE with SHARE in [0, 1] (or a %)`,
      );
    }
    return { name: m[1]!.trim(), share };
  });
}

/**
 * Parses `price:0:100,year:1990:2025` into numeric field specs.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseNumericSpecs("price:0:100"), [{ name: "price", min: 0, max: 100 }]);
 * ```
 */
export function parseNumericSpecs(text: string): NumericSpec[] {
  return text.split(",").map((s) => s.trim()).filter((s) => s !== "").map((item) => {
    const [name, a, b, ...rest] = item.split(":");
    const min = Number(a), max = Number(b);
    if (!name || rest.length || a === undefined || b === undefined || !(min < max)) {
      throw new MembenchError(
        "invalid_argument",
        `Cannot use numeric field ${JSON.stringify(item)}: expected NAME:MIN:MAX with MIN < MAX`,
      );
    }
    return { name, min, max };
  });
}

/**
 * Generates a synthetic dataset in membench's binary format: vectors from a seeded Gaussian
 * mixture (uniform weights; centres N(0, centerSpread²), points N(centre, clusterSpread²)),
 * queries from the same mixture on another stream, tags with the chosen shares and uniform
 * numeric fields, and the exact ground truth. The same options and seed give the same bytes.
 *
 * @throws {MembenchError} `invalid_argument` for bad sizes or specs.
 */
export async function generateDataset(
  path: string,
  options: GenerateOptions,
): Promise<GenerateResult> {
  const o = options;
  const bad = (name: string, rule: string, v: unknown): never => {
    throw new MembenchError(
      "invalid_argument",
      `Cannot use '${name}': ${rule}: current value is ${JSON.stringify(v)}`,
    );
  };
  const intMin = (name: string, v: number | undefined, min: number) => {
    if (v !== undefined && (!Number.isInteger(v) || v < min)) {
      bad(name, `must be an integer >= ${min}`, v);
    }
  };
  intMin("dim", o.dim, 1);
  intMin("count", o.count, 1);
  intMin("queries", o.queries, 0);
  intMin("clusters", o.clusters, 1);
  intMin("k", o.k, 0);
  const k = Math.min(o.k ?? 100, o.count);
  const tags = o.tags ?? [], numeric = o.numeric ?? [];
  const names = new Set<string>();
  for (const t of tags) {
    if (names.has(t.name)) bad("tags", "tag names must be distinct", t.name);
    names.add(t.name);
  }
  const metric = o.metric ?? "L2";
  const seed = o.seed ?? 1;
  const clusters = o.clusters ?? 16;
  const dim = o.dim;
  const cs = o.centerSpread ?? 4, ps = o.clusterSpread ?? 1;
  const hasMeta = tags.length > 0 || numeric.length > 0;
  const w = await BinaryDatasetWriter.create(path, {
    name: o.name ?? "synthetic",
    metric,
    dim,
    numVectors: o.count,
    numQueries: o.queries,
    numNeighbors: o.queries > 0 ? k : 0,
    ...(hasMeta
      ? {
        metadata: {
          tagField: o.tagField ?? "tag",
          vocabulary: tags.map((t) => t.name),
          numericFields: numeric.map((f) => f.name),
        },
      }
      : {}),
  });
  let closed = false;
  try {
    const centres = new Float64Array(clusters * dim);
    const rc = Rng.derive(seed, 1);
    for (let i = 0; i < centres.length; i++) centres[i] = rc.nextGaussian() * cs;
    const emit = async (
      rng: Rng,
      total: number,
      write: (at: number, v: Float32Array) => Promise<void>,
      phase: "vectors" | "queries",
    ) => {
      const block = Math.max(1, Math.floor((4 << 20) / (dim * 4)));
      for (let s = 0; s < total; s += block) {
        if (o.signal?.aborted) throw new MembenchError("interrupted", "Generation interrupted");
        const n = Math.min(block, total - s);
        const v = new Float32Array(n * dim);
        for (let r = 0; r < n; r++) {
          const c = rng.nextInt(clusters);
          for (let t = 0; t < dim; t++) {
            v[r * dim + t] = centres[c * dim + t]! + rng.nextGaussian() * ps;
          }
        }
        await write(s, v);
        o.onProgress?.({ phase, done: s + n, total });
      }
    };
    await emit(Rng.derive(seed, 2), o.count, (at, v) => w.writeVectors(at, v), "vectors");
    if (o.queries > 0) {
      await emit(Rng.derive(seed, 3), o.queries, (at, v) => w.writeQueries(at, v), "queries");
    }
    if (hasMeta) {
      const rm = Rng.derive(seed, 4);
      const W = Math.ceil(tags.length / 32), F = numeric.length;
      const block = 65536;
      for (let s = 0; s < o.count; s += block) {
        const n = Math.min(block, o.count - s);
        const t = new Uint32Array(n * W), nums = new Float64Array(n * F);
        for (let r = 0; r < n; r++) {
          for (const [i, tag] of tags.entries()) {
            if (rm.next() < tag.share) {
              t[r * W + (i >>> 5)] = t[r * W + (i >>> 5)]! | (1 << (i & 31));
            }
          }
          for (const [f, spec] of numeric.entries()) {
            nums[r * F + f] = spec.min + rm.next() * (spec.max - spec.min);
          }
        }
        await w.writeMetadata(s, { tags: t, numbers: nums });
      }
    }
    await w.close();
    closed = true;
  } finally {
    if (!closed) await w.close().catch(() => {});
  }
  let gt: GroundTruth | undefined;
  if (o.queries > 0 && k > 0) {
    using ds = await BinaryDataset.open(path);
    gt = await computeGroundTruth(ds.vectors, ds.queries!, {
      k,
      metric,
      ...(o.threads !== undefined ? { threads: o.threads } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
      onProgress: (p) => o.onProgress?.({ phase: "groundtruth", done: p.done, total: p.total }),
    });
  }
  if (gt) await writeBinaryGroundTruth(path, gt.ids);
  return {
    path,
    dim,
    vectors: o.count,
    queries: o.queries,
    metric,
    ...(gt ? { groundTruth: gt } : {}),
  };
}
