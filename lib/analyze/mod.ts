/**
 * Analysis of a profile in one streaming pass: command mix, statuses and hit ratios, size, TTL
 * and latency distributions, rates over time, per-connection figures, key popularity with a
 * Zipf fit, one-hit wonders, working set, reuse times and compulsory misses.
 *
 * @module
 */
export * from "./log_histogram.ts";
export * from "./key_table.ts";
export * from "./analyze.ts";
