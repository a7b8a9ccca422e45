/**
 * Scenarios: the DSL that composes bench, record, analyze and replay phases as plain async
 * TypeScript, with checks, thresholds, a run journal and a results history; and helpers for
 * self-contained runs (a local server on a free port).
 *
 * @module
 */
export * from "./local_server.ts";
export * from "./scenario.ts";
export * from "./threshold.ts";
export * from "./metrics.ts";
export * from "./redact.ts";
export * from "./history.ts";
export * from "./server_info.ts";
