/**
 * Pure renderers from results to text, CSV, JSON and HdrHistogram logs.
 *
 * @module
 */
export * from "./bench_report.ts";
export * from "./analysis_report.ts";
export * from "./replay_report.ts";
export * from "./scenario_report.ts";
