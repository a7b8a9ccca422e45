// This module uses no Deno APIs.
import { MembenchError } from "../errors/mod.ts";
import type { VectorAlgorithm, VectorType, VssPlatform } from "./platform.ts";
import type { DistanceMetric } from "./types.ts";

/** A vector index as FT.CREATE makes it. */
/** The index a vector phase uses when none is named. */
export const DEFAULT_INDEX_NAME = "membench_idx";

export interface VectorIndexSpec {
  /** Index name. @default {DEFAULT_INDEX_NAME} */
  name?: string;
  /** Key prefix of the indexed hashes; keys are `prefix + id`. @default {"vec:"} */
  prefix?: string;
  /** The vector field of the hashes. @default {"vec"} */
  field?: string;
  /** @default {"HNSW"} */
  algorithm?: VectorAlgorithm;
  /** Element type of the stored vectors. @default {"FLOAT32"} */
  type?: VectorType;
  /** Dimension (the dataset's when loading). */
  dim: number;
  /** DISTANCE_METRIC (the dataset's when loading). */
  metric: DistanceMetric;
  /** HNSW: edges per node. Platform default (16) when absent. */
  m?: number;
  /** HNSW: EF_CONSTRUCTION. */
  efConstruction?: number;
  /** HNSW: the index's default EF_RUNTIME. */
  efRuntime?: number;
  /** HNSW: EPSILON (range queries; RediSearch only). */
  epsilon?: number;
  /** INITIAL_CAP. */
  initialCap?: number;
  /** FLAT: BLOCK_SIZE (RediSearch only). */
  blockSize?: number;
  /** `HASH` (loaded with HSET) or `JSON`. @default {"HASH"} */
  on?: "HASH" | "JSON";
  /** A TAG field (the dataset's tag metadata), with `,` as separator. */
  tagField?: string;
  /** NUMERIC fields (the dataset's numeric metadata). */
  numericFields?: readonly string[];
}

/** A {@linkcode VectorIndexSpec} with its defaults filled in. */
export type ResolvedIndexSpec =
  & Required<
    Pick<VectorIndexSpec, "name" | "prefix" | "field" | "algorithm" | "type" | "on">
  >
  & VectorIndexSpec;

/** Bytes per element of each vector type. */
export const VECTOR_TYPE_BYTES: Readonly<Record<VectorType, number>> = {
  FLOAT32: 4,
  FLOAT64: 8,
  FLOAT16: 2,
  BFLOAT16: 2,
};

/** The spec with defaults. */
export function resolveIndexSpec(spec: VectorIndexSpec): ResolvedIndexSpec {
  return {
    ...spec,
    name: spec.name ?? DEFAULT_INDEX_NAME,
    prefix: spec.prefix ?? "vec:",
    field: spec.field ?? "vec",
    algorithm: spec.algorithm ?? "HNSW",
    type: spec.type ?? "FLOAT32",
    on: spec.on ?? "HASH",
  };
}

/**
 * Every problem with an index spec on a platform, one sentence each naming the platform and the
 * option (empty when it is fine): an option the platform does not have, a type or metric it does
 * not take, a value out of range.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { vssPlatform } from "./platform.ts";
 * const p = indexSpecProblems({ dim: 4, metric: "L2", type: "FLOAT64" }, vssPlatform("valkey-search"));
 * assert.deepEqual(p, [
 *   "Cannot use TYPE FLOAT64 on valkey-search 1.x (Valkey): it takes FLOAT32 (https://valkey.io/commands/ft.create)",
 * ]);
 * ```
 */
export function indexSpecProblems(spec: VectorIndexSpec, platform: VssPlatform): string[] {
  const s = resolveIndexSpec(spec);
  const out: string[] = [];
  const where = `on ${platform.title}`;
  const doc = platform.sources[0]!;
  const int = (name: string, v: number | undefined, min: number, max = 2 ** 31 - 1) => {
    if (v !== undefined && (!Number.isInteger(v) || v < min || v > max)) {
      out.push(`Cannot use ${name} ${v}: must be an integer from ${min} to ${max}`);
    }
  };
  for (const [what, v] of [["index name", s.name], ["prefix", s.prefix], ["field", s.field]]) {
    if (typeof v !== "string" || (what !== "prefix" && v === "") || /\s/.test(v)) {
      out.push(`Cannot use ${what} ${JSON.stringify(v)}: must be a word without spaces`);
    }
  }
  if (s.algorithm !== "HNSW" && s.algorithm !== "FLAT") {
    out.push(`Cannot use algorithm ${JSON.stringify(s.algorithm)}: expected HNSW or FLAT`);
  }
  if (!platform.types.includes(s.type)) {
    out.push(
      `Cannot use TYPE ${s.type} ${where}: it takes ${platform.types.join(", ")} (${doc})`,
    );
  }
  if (s.metric !== "L2" && s.metric !== "IP" && s.metric !== "COSINE") {
    out.push(`Cannot use DISTANCE_METRIC ${JSON.stringify(s.metric)}: expected L2, IP or COSINE`);
  }
  int("DIM", s.dim, 1, platform.maxDim);
  if (s.on === "JSON") {
    out.push(
      `Cannot use ON JSON: membench loads vectors as hashes (HSET); ${
        platform.onJson ? "" : `${platform.title} has no JSON indexes either; `
      }use ON HASH`,
    );
  } else if (s.on !== "HASH") out.push(`Cannot use ON ${s.on}: expected HASH`);
  const params = s.algorithm === "FLAT" ? platform.flatParams : platform.hnswParams;
  const given: Array<[string, number | undefined]> = [
    ["M", s.m],
    ["EF_CONSTRUCTION", s.efConstruction],
    ["EF_RUNTIME", s.efRuntime],
    ["EPSILON", s.epsilon],
    ["INITIAL_CAP", s.initialCap],
    ["BLOCK_SIZE", s.blockSize],
  ];
  for (const [name, v] of given) {
    if (v === undefined) continue;
    if (!params.includes(name)) {
      const other = s.algorithm === "FLAT" ? platform.hnswParams : platform.flatParams;
      out.push(
        `Cannot use ${name} with ${s.algorithm} ${where}: ${
          other.includes(name)
            ? `it is an ${s.algorithm === "FLAT" ? "HNSW" : "FLAT"} parameter`
            : "the platform has no such parameter"
        } (${doc})`,
      );
      continue;
    }
    if (name === "EPSILON") {
      if (!(typeof v === "number" && v > 0)) out.push(`Cannot use EPSILON ${v}: must be > 0`);
    } else if (name === "M") int("M", v, 1, platform.maxM);
    else if (name === "EF_CONSTRUCTION" || name === "EF_RUNTIME") {
      int(name, v, 1, platform.maxEf);
    } else int(name, v, 1);
  }
  if (s.tagField !== undefined && (s.tagField === "" || /\s/.test(s.tagField))) {
    out.push(`Cannot use tag field ${JSON.stringify(s.tagField)}: must be a word`);
  }
  for (const f of s.numericFields ?? []) {
    if (f === "" || /\s/.test(f)) out.push(`Cannot use numeric field ${JSON.stringify(f)}`);
  }
  const names = [s.field, ...(s.tagField ? [s.tagField] : []), ...(s.numericFields ?? [])];
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) out.push(`Cannot use field name ${JSON.stringify(dup)} twice`);
  return out;
}

/**
 * The FT.CREATE arguments of an index spec, after checking it against the platform.
 *
 * @throws {MembenchError} `invalid_argument` listing every problem
 * ({@linkcode indexSpecProblems}) before anything reaches the server.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { vssPlatform } from "./platform.ts";
 * const args = ftCreateArgs(
 *   { name: "i", prefix: "v:", dim: 128, metric: "L2", m: 24, tagField: "tag" },
 *   vssPlatform("redisearch-2.6"),
 * );
 * assert.deepEqual(args, [
 *   "FT.CREATE", "i", "ON", "HASH", "PREFIX", "1", "v:", "SCHEMA",
 *   "vec", "VECTOR", "HNSW", "8", "TYPE", "FLOAT32", "DIM", "128", "DISTANCE_METRIC", "L2", "M", "24",
 *   "tag", "TAG", "SEPARATOR", ",",
 * ]);
 * ```
 */
export function ftCreateArgs(spec: VectorIndexSpec, platform: VssPlatform): string[] {
  const problems = indexSpecProblems(spec, platform);
  if (problems.length > 0) {
    throw new MembenchError("invalid_argument", problems.join("\n"), {
      hint: `platform ${platform.name}: see ${platform.sources.join(", ")}`,
    });
  }
  const s = resolveIndexSpec(spec);
  const attrs: string[] = ["TYPE", s.type, "DIM", String(s.dim), "DISTANCE_METRIC", s.metric];
  const opt = (name: string, v: number | undefined) => {
    if (v !== undefined) attrs.push(name, String(v));
  };
  opt("M", s.m);
  opt("EF_CONSTRUCTION", s.efConstruction);
  opt("EF_RUNTIME", s.efRuntime);
  opt("EPSILON", s.epsilon);
  opt("INITIAL_CAP", s.initialCap);
  opt("BLOCK_SIZE", s.blockSize);
  const args = ["FT.CREATE", s.name, "ON", s.on];
  if (s.prefix !== "") args.push("PREFIX", "1", s.prefix);
  args.push("SCHEMA", s.field, "VECTOR", s.algorithm, String(attrs.length), ...attrs);
  if (s.tagField) args.push(s.tagField, "TAG", "SEPARATOR", ",");
  for (const f of s.numericFields ?? []) args.push(f, "NUMERIC");
  return args;
}
