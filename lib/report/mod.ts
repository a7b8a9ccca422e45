/**
 * Pure renderers from results to text, CSV, JSON and HdrHistogram logs.
 *
 * @module
 */
export * from "./bench_report.ts";
export * from "./analysis_report.ts";
export * from "./replay_report.ts";
export * from "./scenario_report.ts";
export * from "./scenario_phase_report.ts";
export * from "./progress_report.ts";
export * from "./record_report.ts";
export * from "./profile_report.ts";
export * from "./dataset_report.ts";
export * from "./history_report.ts";
export * from "./synthetic_report.ts";
export * from "./server_report.ts";
export * from "./vector_report.ts";
export * from "./merge_report.ts";
export * from "./schemas.ts";
