/**
 * Server-side metrics: snapshots of every node a run touches (Redis/Valkey `INFO everything`,
 * `FT.INFO`, memcached `stats` and `stats slabs`) before, during and after it; field
 * definitions (counter, gauge, text); per-node and aggregated figures over the window, server
 * time per call, nodes out of line; saved snapshots and their comparison.
 *
 * @module
 */
export * from "./fields.ts";
export * from "./flatten.ts";
export * from "./snapshot.ts";
export * from "./report.ts";
export * from "./monitor.ts";
export * from "./saved.ts";
