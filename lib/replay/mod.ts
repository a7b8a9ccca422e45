/**
 * Replay: exact replay of a profile (one connection per recorded connection, recorded order and
 * pace, keys rebuilt from their hashes, values of their recorded sizes) and the fidelity report
 * that compares a replay with its recording.
 *
 * @module
 */
export * from "./types.ts";
export * from "./requests.ts";
export * from "./replay.ts";
export * from "./fidelity.ts";
export * from "./verify.ts";
export * from "./synthetic.ts";
export * from "./merge.ts";
