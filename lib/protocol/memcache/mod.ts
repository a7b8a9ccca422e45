/**
 * memcached codecs: text, meta and binary. Incremental request and response parsers (capture,
 * replay, the load engine) that accept chunks split anywhere and report keys as positions and
 * values as lengths, and encoders (a generic command encoder and fixed-shape templates for the
 * hot path). No I/O.
 *
 * @module
 */
export * from "./types.ts";
export * from "./ascii.ts";
export * from "./binary.ts";
export * from "./encoder.ts";
export * from "./reply_scanner.ts";
