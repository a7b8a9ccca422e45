/**
 * Metrics: HDR latency histograms in µs (hdr-histogram-js), per-command counters, per-second
 * series, merging across workers in encoded form, and HdrHistogram logs.
 *
 * @module
 */
export * from "./histogram.ts";
export * from "./command_metrics.ts";
