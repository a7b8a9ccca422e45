/**
 * Scenarios: the DSL that composes bench, record, analyze and replay phases as plain async
 * TypeScript, with checks, thresholds, a run journal and a results history; and helpers for
 * self-contained runs (a local server on a free port).
 *
 * @module
 */
export * from "./local_server.ts";
export * from "./scenario.ts";
export * from "./run_file.ts";
export { type ScenarioOptions, type ScenarioServer, validateScenarioOptions } from "./options.ts";
export type { Run } from "./handle.ts";
export type { PhaseOptions } from "./phase.ts";
export type { BenchPhaseOptions } from "./phases/bench.ts";
export type { RecordPhaseOptions } from "./phases/record.ts";
export type { AnalyzePhaseOptions } from "./phases/analyze.ts";
export type { ReplayPhaseOptions, ReplayPhaseResult } from "./phases/replay.ts";
export type {
  VectorDeletePhaseOptions,
  VectorLoadPhaseOptions,
  VectorOptimizeFrontierOptions,
  VectorOptimizePhaseOptions,
  VectorOptimizePhaseResult,
  VectorQueryPhaseOptions,
  VectorUpdatePhaseOptions,
} from "./phases/vector.ts";
export type { ScenarioPrinter } from "./_terminal.ts";
export type {
  CheckRecord,
  PhaseRecord,
  PhaseState,
  ScenarioResult,
  ScenarioStatus,
} from "./types.ts";
export * from "./threshold.ts";
export * from "./metrics.ts";
export {
  type MetricNames,
  metricNamesOf,
  type MetricPhaseKind,
  type MetricSegments,
} from "./metric_names.ts";
export * from "./redact.ts";
export * from "./history.ts";
export * from "./server_info.ts";
