// This module uses no Deno APIs.
/**
 * The JSON output contracts: every JSON document membench writes (`--json FILE`, `--json -`)
 * starts with `"schema": "membench/<kind>@<major>"`, and the JSON Schema (draft 2020-12) of each
 * kind is here, with `$id` equal to that same string.
 *
 * Versioning: within a major, fields are only added (consumers must ignore fields they do not
 * know; the schemas allow them); removing or renaming a field, or changing its type or meaning,
 * makes a new major. {@linkcode SCHEMA_VERSIONS} holds each kind's current major.
 *
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(schemaId("bench-result"), "membench/bench-result@1");
 * assert.equal(SCHEMAS["bench-result"].$id, "membench/bench-result@1");
 * ```
 *
 * @module
 */
import analysis from "./schemas/analysis.schema.json" with { type: "json" };
import benchRepeat from "./schemas/bench-repeat.schema.json" with { type: "json" };
import benchResult from "./schemas/bench-result.schema.json" with { type: "json" };
import datasetConvert from "./schemas/dataset-convert.schema.json" with { type: "json" };
import datasetInfo from "./schemas/dataset-info.schema.json" with { type: "json" };
import groundTruth from "./schemas/ground-truth.schema.json" with { type: "json" };
import historyCompare from "./schemas/history-compare.schema.json" with { type: "json" };
import historyList from "./schemas/history-list.schema.json" with { type: "json" };
import historyRun from "./schemas/history-run.schema.json" with { type: "json" };
import profileInfo from "./schemas/profile-info.schema.json" with { type: "json" };
import profileVerify from "./schemas/profile-verify.schema.json" with { type: "json" };
import recordSummary from "./schemas/record-summary.schema.json" with { type: "json" };
import replayResult from "./schemas/replay-result.schema.json" with { type: "json" };
import scenarioSummary from "./schemas/scenario-summary.schema.json" with { type: "json" };
import vectorFrontier from "./schemas/vector-frontier.schema.json" with { type: "json" };
import vectorOptimize from "./schemas/vector-optimize.schema.json" with { type: "json" };
import vectorRun from "./schemas/vector-run.schema.json" with { type: "json" };

/**
 * Each JSON result kind and its current major version. The commands that write them:
 * `bench-result` (bench, merge; a run shard's one line too), `bench-repeat` (bench --run-count),
 * `replay-result`, `record-summary`, `analysis`, `profile-info`, `profile-verify`,
 * `history-list`, `history-run` (history show), `history-compare`, `dataset-info`,
 * `dataset-convert`, `ground-truth` (dataset truth), `vector-run` (vec load, query, run),
 * `vector-optimize`, `vector-frontier`, `scenario-summary` (the JSON file a scenario run writes).
 */
export const SCHEMA_VERSIONS = {
  "bench-result": 1,
  "bench-repeat": 1,
  "replay-result": 1,
  "record-summary": 1,
  "analysis": 1,
  "profile-info": 1,
  "profile-verify": 1,
  "history-list": 1,
  "history-run": 1,
  "history-compare": 1,
  "dataset-info": 1,
  "dataset-convert": 1,
  "ground-truth": 1,
  "vector-run": 1,
  "vector-optimize": 1,
  "vector-frontier": 1,
  "scenario-summary": 1,
} as const;

/** A JSON result kind (`bench-result`, `replay-result`, ...). */
export type SchemaKind = keyof typeof SCHEMA_VERSIONS;

/** A JSON Schema document as membench ships it. */
export interface JsonSchema {
  /** `membench/<kind>@<major>`: the value of the `schema` field of the documents it describes. */
  readonly $id: string;
  /** The JSON Schema dialect. */
  readonly $schema: string;
  /** What the document is. */
  readonly title: string;
  /** Which command writes it and how to read it. */
  readonly description: string;
  /** The rest of the schema. */
  readonly [key: string]: unknown;
}

/** The JSON Schema of each kind, `$id` = {@linkcode schemaId} of the kind. */
export const SCHEMAS: Readonly<Record<SchemaKind, JsonSchema>> = {
  "bench-result": benchResult,
  "bench-repeat": benchRepeat,
  "replay-result": replayResult,
  "record-summary": recordSummary,
  "analysis": analysis,
  "profile-info": profileInfo,
  "profile-verify": profileVerify,
  "history-list": historyList,
  "history-run": historyRun,
  "history-compare": historyCompare,
  "dataset-info": datasetInfo,
  "dataset-convert": datasetConvert,
  "ground-truth": groundTruth,
  "vector-run": vectorRun,
  "vector-optimize": vectorOptimize,
  "vector-frontier": vectorFrontier,
  "scenario-summary": scenarioSummary,
};

/** The `schema` value of a kind's documents: `membench/<kind>@<major>`. */
export function schemaId(kind: SchemaKind): string {
  return `membench/${kind}@${SCHEMA_VERSIONS[kind]}`;
}

/**
 * `data` with `"schema": "membench/<kind>@<major>"` as its first key (a `schema` it already has,
 * from a result read back, is replaced).
 */
export function withSchema<T extends object>(
  kind: SchemaKind,
  data: T,
): { schema: string } & Omit<T, "schema"> {
  const { schema: _old, ...rest } = data as T & { schema?: unknown };
  return { schema: schemaId(kind), ...rest };
}
