/**
 * The profile format: what `record` writes and `analyze` and `replay` read. A versioned stream
 * of checksummed msgpack frames (header, connections, column-wise event blocks, footer) that is
 * readable up to its last whole frame when cut short. It owns its event schema: op names are a
 * string table, statuses its own codes; of wire protocols it knows only their names
 * (`ProtocolName`, with a connection's RESP version apart).
 *
 * @module
 */
export * from "./spec.ts";
export * from "./arg_words.ts";
export * from "./writer.ts";
export * from "./reader.ts";
