// This module uses no Deno APIs.
// Type bytes from the RESP3 specification
// (https://github.com/redis/redis-specifications/blob/master/protocol/RESP3.md); RESP2 uses the
// first five.

/** `+` simple string */
export const SIMPLE = 43;
/** `-` simple error */
export const ERROR = 45;
/** `:` integer */
export const INTEGER = 58;
/** `$` bulk string */
export const BULK = 36;
/** `*` array */
export const ARRAY = 42;
/** `_` null (RESP3) */
export const NULL = 95;
/** `#` boolean (RESP3) */
export const BOOLEAN = 35;
/** `,` double (RESP3) */
export const DOUBLE = 44;
/** `(` big number (RESP3) */
export const BIGNUM = 40;
/** `!` blob error (RESP3) */
export const BLOB_ERROR = 33;
/** `=` verbatim string (RESP3) */
export const VERBATIM = 61;
/** `%` map (RESP3) */
export const MAP = 37;
/** `~` set (RESP3) */
export const SET = 126;
/** `|` attribute (RESP3) */
export const ATTRIBUTE = 124;
/** `>` push (RESP3) */
export const PUSH = 62;

/** Largest bulk string we accept (Redis' default proto-max-bulk-len, 512 MiB). */
export const MAX_BULK_LENGTH = 512 * 1024 * 1024;
/** Largest element count we accept for one aggregate. */
export const MAX_AGGREGATE_LENGTH = 1 << 30;
/** Deepest nesting we accept. */
export const MAX_DEPTH = 128;
/** Longest line (simple string, error, number, inline command) we buffer before failing. */
export const MAX_LINE_LENGTH = 64 * 1024;

/** A decoded RESP value. Bulk payloads are views into the decoder's buffer (never copied). */
export type RespValue =
  | { type: "simple"; value: string; attributes?: RespMap }
  | { type: "error"; value: string; attributes?: RespMap }
  | { type: "integer"; value: number | bigint; attributes?: RespMap }
  | { type: "bulk"; value: Uint8Array; attributes?: RespMap }
  | { type: "verbatim"; format: string; value: Uint8Array; attributes?: RespMap }
  | { type: "null"; attributes?: RespMap }
  | { type: "boolean"; value: boolean; attributes?: RespMap }
  | { type: "double"; value: number; attributes?: RespMap }
  | { type: "bignum"; value: bigint; attributes?: RespMap }
  | { type: "array"; value: RespValue[]; attributes?: RespMap }
  | { type: "set"; value: RespValue[]; attributes?: RespMap }
  | { type: "map"; value: RespMap; attributes?: RespMap }
  | { type: "push"; value: RespValue[]; attributes?: RespMap };

/** Map entries in wire order. */
export type RespMap = Array<[RespValue, RespValue]>;
