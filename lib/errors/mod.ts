/**
 * One error type for all of membench: a stable machine-readable `code`, a message that names the
 * input and the place, and an optional hint. Library code throws it; only `cli/` turns it into
 * a message and an exit code.
 *
 * @module
 */
export * from "./error.ts";
export * from "./exit_codes.ts";
export * from "./nearest_name.ts";
