/**
 * Scenarios: helpers for self-contained runs (a local server on a free port). The scenario DSL
 * grows here.
 *
 * @module
 */
export * from "./local_server.ts";
