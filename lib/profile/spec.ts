// This module uses no Deno APIs.
/**
 * The membench profile format, version 2 (2.1). A profile is what `record` writes and `analyze` and
 * `replay` read: who talked to a cache, with which commands, on which (hashed) keys, with which
 * sizes and outcomes, when. No key or value byte is ever in it.
 *
 * Layout:
 *
 * ```text
 * magic      8 bytes  "MBPROF" 0x00 0x02  (0x02 = format version 2; version 1 is read too)
 * frame*     u32le payload length | u8 kind | payload (msgpack) | u32le CRC-32 of the payload
 * trailer    16 bytes "MBPEND" 0x00 0x00 | u64le file offset of the footer frame
 * ```
 *
 * Frame kinds: 1 header (first), 2 connections (new or closed connections since the last such
 * frame), 3 events (one block, column by column), 4 footer (last, before the trailer). Every
 * frame is self-delimiting and checksummed, so a file cut anywhere (a crash, Ctrl+C, a full
 * disk) is readable up to its last whole frame; the reader says it was truncated.
 *
 * An events frame holds `count` events as columns of little-endian typed arrays stored as
 * bytes: `t` (f64, µs since the capture start), `conn` (u32), `op` (u16, index into the op
 * table), `keyHi`/`keyLo` (u32 each: the 64-bit keyed hash of the key; 0/0 with `keyLen` 0 when
 * the command has no key), `keyLen` (u16), `valueLen` (u32; 0xffffffff = none), `flags` (u32,
 * client flags), `ttl` (i32; -1 = none), `status` (u8, {@linkcode Status}), `latency` (f32, µs
 * from request to response on the wire; NaN = no response seen), `slot` (i16, Redis cluster
 * slot when kept, else -1), `seq` (u32, the event's position in its connection, for
 * pipelining and order), and, from version 2, `shape` (u8, {@linkcode Shape} bits: whether the
 * event is another key of the previous event's request (MGET, MSET, DEL k1 k2, a memcached
 * multi-get), and whether the request was sent quiet or noreply). Version 1 files (no `shape`)
 * stay readable: their events read with `shape` 0, one request per event.
 *
 * Format 2.1 (the header's `formatVersion` 2.1; the magic still says 2, so that a 2.0 reader
 * reads these files, without the arguments) adds the request's arguments: the column `argc`
 * (u16, how many u32 words of `argv` the event has; 0 = none kept) and, per frame, `argv` (u32
 * words, the events' words one after the other) and the token table (`tokenBase`, `newTokens`,
 * as the op table; all of it in the footer's `tokens`). An event's words describe the arguments
 * after the op's own words (`config|get` is `CONFIG GET`), in order, one {@linkcode ArgWord}
 * each: its kind in the low 3 bits, and
 *
 * - `Key` (0): the event's key (its `keyHi`/`keyLo`/`keyLen`);
 * - `Token` (1): an option word of the command catalogue (NX, EX, WITHSCORES, `*`), its index
 *   in the token table in the upper bits;
 * - `Number` (2): a number the command defines (TTL, count, range, increment, score), the
 *   upper bits 1 when it was exclusive (`(1.5`), then 2 words: the f64, low word first;
 * - `Hash` (3): a field, member or any other argument: its length in the upper bits, then the
 *   keyed hash (high, low), with the key's salt: one field hashes alike wherever it appears;
 * - `Value` (4): a value, then 1 word: its length;
 * - `OtherKey` (5): another key of the request (RENAME's destination, WATCH's others): as `Hash`;
 * - `StreamId` (6, format 2.2): a stream ID (`1-5`, `1`, `1-*`, `-`, `+`, `(1-0`): its
 *   `StreamIdBits` in the upper bits, then the milliseconds and the sequence as f64s (4 words);
 * - `Bound` (7, format 2.2): a lex range bound: in the upper bits the member's length times 4
 *   plus its bracket (`[` 0, `(` 1, `-` 2, `+` 3), then the member's keyed hash (high, low), as
 *   `Hash` hashes it (a ZADD member and its bound hash alike).
 *
 * A memcached meta request (mg, ms, md, ma) keeps its flags the same way: `Key`, ms's data
 * length as a `Value`, then each flag in order as a `Token` (the flag letter: `v`, `q`, `T`, `O`;
 * a mode flag whole: `MA`, `M+`), followed by a `Number` for a numeric value (`T60`, `F5`,
 * `D2`, `N30`) or a `Hash` for any other value; an opaque's value (`O123`) is not kept: the
 * server echoes it, and replay sends one of its own. Meta events without words (older files)
 * replay as before.
 *
 * No argument byte is kept but option words and numbers. Files without `argc` (1, 2.0) read with
 * `argc` 0: replay rebuilds their requests from the op, key, value and TTL as before.
 *
 * @module
 */

import type { ProtocolName } from "../protocol/mod.ts";

/** File magic: "MBPROF", 0, version. */
export const PROFILE_MAGIC: Uint8Array = new Uint8Array([
  0x4d,
  0x42,
  0x50,
  0x52,
  0x4f,
  0x46,
  0x00,
  0x02,
]);
/** Trailer magic: "MBPEND", 0, 0. */
export const TRAILER_MAGIC: Uint8Array = new Uint8Array([
  0x4d,
  0x42,
  0x50,
  0x45,
  0x4e,
  0x44,
  0x00,
  0x00,
]);
/** Format version this code writes (it reads this one and {@linkcode PROFILE_MIN_VERSION}). */
export const PROFILE_VERSION = 2;
/**
 * The minor version this code writes: 2.1 adds the request arguments (`argc`, `argv`), 2.2 the
 * `StreamId` and `Bound` argument words.
 */
export const PROFILE_MINOR = 2;
/** Kinds of an argument word (format 2.1), in the low 3 bits of its first word. */
export const ArgWord = {
  Key: 0,
  Token: 1,
  Number: 2,
  Hash: 3,
  Value: 4,
  OtherKey: 5,
  StreamId: 6,
  Bound: 7,
} as const;
/** The oldest format version this code reads. */
export const PROFILE_MIN_VERSION = 1;
/** Bits of an event's `shape` column (format version 2). */
export const Shape = {
  /** Another key of the previous event's request (same connection): one multi-key request. */
  More: 1,
  /** Sent quiet (meta `q`, binary quiet opcodes) or noreply (text `noreply`, CLIENT REPLY). */
  Quiet: 2,
} as const;
/** Frame kinds. */
export const FrameKind = { Header: 1, Connections: 2, Events: 3, Footer: 4 } as const;
/** Largest frame payload a reader accepts (a block of events is far smaller). */
export const MAX_FRAME = 64 * 1024 * 1024;

/** Outcome of an event. */
export const Status = {
  /** No response was seen (capture ended, noreply, or the response was lost). */
  None: 0,
  /** A read found its key. */
  Hit: 1,
  /** A read did not. */
  Miss: 2,
  Stored: 3,
  NotStored: 4,
  /** CAS mismatch / add on an existing key. */
  Exists: 5,
  NotFound: 6,
  Deleted: 7,
  Touched: 8,
  /** Success without a more precise meaning (OK, +OK, HD, a number, an array…). */
  Ok: 9,
  /** An error reply. */
  Error: 10,
} as const;
/** One of the {@linkcode Status} codes. */
export type Status = typeof Status[keyof typeof Status];

/** Names of {@linkcode Status} codes, as analysis and JSON show them. */
export const STATUS_NAMES: readonly string[] = [
  "none",
  "hit",
  "miss",
  "stored",
  "not_stored",
  "exists",
  "not_found",
  "deleted",
  "touched",
  "ok",
  "error",
];

/**
 * What profiles written before membench had one protocol name said for RESP connections:
 * `resp2` and `resp3`. The reader turns them into protocol `resp` and a `respVersion`.
 */
export const LEGACY_RESP_PROTOCOLS: ReadonlyMap<string, 2 | 3> = new Map<string, 2 | 3>()
  .set("resp2", 2)
  .set("resp3", 3);

/** The header: first frame of every profile. */
export interface ProfileHeader {
  /** {@linkcode PROFILE_VERSION}, with the minor version as a fraction (2.1). */
  formatVersion: number;
  /** membench version that wrote it. */
  tool: string;
  /** When the capture started (ISO 8601). */
  createdAt: string;
  /** Capture start on the epoch clock, µs: event times are relative to it. */
  startUs: number;
  /** What was captured, without host names or addresses (`pcap file`, `live lo port 11211`). */
  source: string;
  /** How keys were anonymized. */
  anonymization: {
    /** The keyed hash. */
    scheme: "siphash-2-4";
    /** First 16 hex digits of SHA-256("membench salt fingerprint" + salt): joins profiles made with one salt. */
    saltFingerprint: string;
    /** Key tokens hashed one by one (namespace kept), 0 = off. */
    keepTokens: number;
    /** Delimiter of those tokens. */
    tokenDelimiter: string;
    /** Whether Redis cluster slots were kept. */
    keepSlots: boolean;
  };
}

/** A connection, renumbered (no addresses). */
export interface ProfileConnection {
  /** Id used by events. */
  id: number;
  /** Protocol detected (or forced). */
  protocol: ProtocolName;
  /** RESP connections: the RESP version spoken (3 after HELLO 3), else absent. */
  respVersion?: 2 | 3;
  /** First packet, µs since the start. */
  openUs: number;
  /** Last packet, µs since the start (set when the connection closed or the capture ended). */
  closeUs?: number;
  /** Whether the capture saw its SYN (else it started mid-connection). */
  sawOpen: boolean;
  /** Whether it ended with FIN or RST inside the capture. */
  sawClose: boolean;
}

/** The footer: totals and an index of event frames. */
export interface ProfileFooter {
  /** Events in the file. */
  events: number;
  /** Event frames, with the file offset and first event time of each. */
  blocks: Array<{ offset: number; count: number; firstUs: number; lastUs: number }>;
  /** Ops named in the op table, in index order. */
  ops: string[];
  /** The token table of argument words (format 2.1), in index order. */
  tokens?: string[];
  /** Events per op name. */
  opCounts: Record<string, number>;
  /** Connections. */
  connections: number;
  /** Capture statistics (packets, bytes, gaps, drops…), as the recorder reports them. */
  capture: Record<string, number>;
  /** Last event time, µs since the start. */
  endUs: number;
}

/** One block of events, column by column. */
export interface EventBlock {
  /** Number of events. */
  count: number;
  /** µs since the start. */
  t: Float64Array;
  /** Connection id. */
  conn: Uint32Array;
  /** Op index. */
  op: Uint16Array;
  /** High 32 bits of the key hash. */
  keyHi: Uint32Array;
  /** Low 32 bits of the key hash. */
  keyLo: Uint32Array;
  /** Key length in bytes (0 = no key). */
  keyLen: Uint16Array;
  /** Value length (request value for writes, response value for reads); 0xffffffff = none. */
  valueLen: Uint32Array;
  /** Client flags. */
  flags: Uint32Array;
  /** TTL in seconds; -1 = none. */
  ttl: Int32Array;
  /** {@linkcode Status}. */
  status: Uint8Array;
  /** Wire response time, µs; NaN = none. */
  latency: Float32Array;
  /** Cluster slot or -1. */
  slot: Int16Array;
  /** Position of the event in its connection. */
  seq: Uint32Array;
  /** {@linkcode Shape} bits (all 0 in a version 1 file). */
  shape: Uint8Array;
  /** Words of `argv` per event (all 0 before format 2.1). */
  argc: Uint16Array;
  /** The events' argument words ({@linkcode ArgWord}), one event after the other. */
  argv: Uint32Array;
  /** Where each event's words start in `argv` (`count + 1` entries). */
  argOff: Uint32Array;
}

/** Value length meaning "no value". */
export const NO_VALUE = 0xffffffff;

/** The columns of an {@linkcode EventBlock}, with their typed-array constructors. */
export const COLUMNS = [
  ["t", Float64Array],
  ["conn", Uint32Array],
  ["op", Uint16Array],
  ["keyHi", Uint32Array],
  ["keyLo", Uint32Array],
  ["keyLen", Uint16Array],
  ["valueLen", Uint32Array],
  ["flags", Uint32Array],
  ["ttl", Int32Array],
  ["status", Uint8Array],
  ["latency", Float32Array],
  ["slot", Int16Array],
  ["seq", Uint32Array],
  ["shape", Uint8Array],
  ["argc", Uint16Array],
] as const;

/** One event, as a plain object (for dumps and tests; blocks are the fast path). */
export interface ProfileEvent {
  /** µs since the start. */
  t: number;
  /** Connection id. */
  conn: number;
  /** Op name. */
  op: string;
  /** Key hash as 16 hex digits ("" without a key). */
  key: string;
  /** Key length. */
  keyLen: number;
  /** Value length or -1. */
  valueLen: number;
  /** Client flags. */
  flags: number;
  /** TTL or -1. */
  ttl: number;
  /** Status name. */
  status: string;
  /** Wire latency µs, or null. */
  latencyUs: number | null;
  /** Cluster slot or -1. */
  slot: number;
  /** Position in its connection. */
  seq: number;
}

/** An empty block with room for `n` events. */
export function newEventBlock(n: number): EventBlock {
  return {
    count: 0,
    t: new Float64Array(n),
    conn: new Uint32Array(n),
    op: new Uint16Array(n),
    keyHi: new Uint32Array(n),
    keyLo: new Uint32Array(n),
    keyLen: new Uint16Array(n),
    valueLen: new Uint32Array(n),
    flags: new Uint32Array(n),
    ttl: new Int32Array(n),
    status: new Uint8Array(n),
    latency: new Float32Array(n),
    slot: new Int16Array(n),
    seq: new Uint32Array(n),
    shape: new Uint8Array(n),
    argc: new Uint16Array(n),
    argv: new Uint32Array(4 * n),
    argOff: new Uint32Array(n + 1),
  };
}

/** The argument words of event `i` of a block, or undefined when it has none (a view). */
export function eventArgs(b: EventBlock, i: number): Uint32Array | undefined {
  const n = b.argc[i]!;
  if (n === 0) return undefined;
  const at = b.argOff[i]!;
  return b.argv.subarray(at, at + n);
}

// Slicing-by-4 tables: four bytes per step instead of one.
const CRC_TABLES = (() => {
  const t = new Uint32Array(4 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    for (let k = 1; k < 4; k++) {
      t[k * 256 + n] = (t[(k - 1) * 256 + n]! >>> 8) ^ t[t[(k - 1) * 256 + n]! & 0xff]!;
    }
  }
  return t;
})();

/**
 * CRC-32 (IEEE 802.3, as zlib and PNG use).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
 * ```
 */
export function crc32(b: Uint8Array): number {
  const t = CRC_TABLES;
  let c = 0xffffffff;
  let i = 0;
  const n4 = b.length & ~3;
  for (; i < n4; i += 4) {
    c ^= b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24);
    c = t[768 + (c & 0xff)]! ^ t[512 + ((c >>> 8) & 0xff)]! ^ t[256 + ((c >>> 16) & 0xff)]! ^
      t[c >>> 24]!;
  }
  for (; i < b.length; i++) c = t[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
