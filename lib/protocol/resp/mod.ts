/**
 * RESP2/RESP3 codec: a command encoder and fixed-shape command templates, an incremental value
 * decoder for replies and for requests (capture), and a resumable reply scanner for the load
 * engine's hot path. No I/O: bytes in, bytes or events out.
 *
 * @module
 */
export * from "./types.ts";
export * from "./encoder.ts";
export * from "./decoder.ts";
export * from "./scanner.ts";
export * from "./value_reader.ts";
