// This module uses no Deno APIs.
import { AsciiResponseParser } from "./ascii.ts";
import { BinaryParser } from "./binary.ts";
import { BinOp, BinStatus, binStatusName, MC_STATUS_NAMES, McStatus } from "./types.ts";

/**
 * How a client knows the reply to one of its requests is complete. A request unit may be several
 * wire commands: a quiet write and the `mn` (or binary NOOP) that fences it, or a binary
 * multi-get (GETKQ × N then NOOP).
 */
export type McUnitEnd =
  /** Text/meta: one reply line (and its payload) completes the unit. */
  | { kind: "line" }
  /** Text: reply lines until `END` (get, gets, gat, gats); `VALUE` lines are hits. */
  | { kind: "end"; keys: number }
  /** Meta or quiet text: reply lines until `MN`; `VA`/`HD` are hits, `EN`/`NF`/`NS`/`EX` misses. */
  | { kind: "mn"; keys: number }
  /** Binary: responses until one with this opcode. */
  | { kind: "opcode"; opcode: number; keys: number };

/** What a completed unit was (same numbers as the RESP scanner's ReplyKind). */
export const McReplyKind = {
  /** A success: hit, stored, deleted, touched, a number. */
  Value: 0,
  /** A miss: not found, not stored, exists. */
  Null: 1,
  /** An error reply. */
  Error: 2,
} as const;

const ERR_CAP = 64;

/** The load engine's view of a memcached reply stream. */
interface McScannerState {
  kind: number;
  elements: number;
  nulls: number;
}

/**
 * Finds where the reply to each request unit ends in a text/meta reply stream and classifies
 * it, for the load engine's hot path. The caller passes the index of the unit at the head of its
 * in-flight queue; nothing is allocated per reply.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const s = new McAsciiReplyScanner([{ kind: "end", keys: 2 }, { kind: "line" }]);
 * const b = new TextEncoder().encode("VALUE a 0 1\r\nx\r\nEND\r\nNOT_FOUND\r\n");
 * let at = s.scan(b, 0, b.length, 0);
 * assert.deepEqual([s.kind, s.elements, s.nulls], [McReplyKind.Value, 2, 1]);
 * at = s.scan(b, at, b.length, 1);
 * assert.equal(s.kind, McReplyKind.Null);
 * ```
 */
export class McAsciiReplyScanner implements McScannerState {
  /** Kind of the unit completed by the last successful scan. */
  kind: number = McReplyKind.Value;
  /** Keys the unit asked for (multi-get), else 0. */
  elements = 0;
  /** Of those, misses. */
  nulls = 0;
  #p: AsciiResponseParser;
  #units: McUnitEnd[];
  #hits = 0;
  #misses = 0;
  #error = "";
  #failed = false; // the current unit saw an error reply
  #pendingAt = -1; // >= 0 while the last reply's payload is still arriving
  #lastBuf: Uint8Array = new Uint8Array(0);
  #lastTo = 0;

  /**
   * @param units What ends the reply of each unit, by unit index.
   * @param name Names the stream in errors.
   */
  constructor(units: McUnitEnd[], name = "memcached reply stream") {
    this.#units = units;
    this.#p = new AsciiResponseParser(name);
  }

  /** The error word of the last error reply (`ERROR`, `CLIENT_ERROR`, `SERVER_ERROR`). */
  errorCode(): string {
    return this.#error;
  }

  /** Resets to the start of a fresh stream (after a reconnect). */
  reset(): void {
    this.#p.reset();
    this.#hits = 0;
    this.#misses = 0;
    this.#error = "";
    this.#failed = false;
    this.#pendingAt = -1;
  }

  /**
   * Scans `buf[from, to)` for the end of the reply to unit `unit`. Returns the index just past
   * it, or -1 when the range was used up first (state is kept).
   *
   * @throws {MembenchError} `protocol` on a malformed reply.
   */
  scan(buf: Uint8Array, from: number, to: number, unit: number): number {
    const p = this.#p;
    if (this.#pendingAt >= 0) return this.#finish(buf, from, to);
    const u = this.#units[unit]!;
    this.#lastBuf = buf;
    this.#lastTo = to;
    let at = from;
    while ((at = p.parse(buf, at, to)) >= 0) {
      const st = p.status;
      if (st === McStatus.Error || st === McStatus.ClientError || st === McStatus.ServerError) {
        this.#error = MC_STATUS_NAMES[st]!;
        this.#failed = true;
        if (u.kind !== "mn") return this.#done(at, McReplyKind.Error, 0);
        continue;
      }
      if (u.kind === "line") {
        const miss = st === McStatus.NotFound || st === McStatus.NotStored ||
          st === McStatus.Exists || st === McStatus.MetaMiss || st === McStatus.MetaNotFound ||
          st === McStatus.MetaNotStored || st === McStatus.MetaExists;
        return this.#done(at, miss ? McReplyKind.Null : McReplyKind.Value, 0);
      }
      if (u.kind === "end") {
        if (st === McStatus.Value) this.#hits++;
        else if (st === McStatus.End) return this.#finishKeys(at, u.keys);
        continue;
      }
      // "mn": quiet pipeline up to MN.
      if (st === McStatus.MetaNoop) return this.#finishKeys(at, u.kind === "mn" ? u.keys : 0);
      if (st === McStatus.MetaValue || st === McStatus.MetaHeader) this.#hits++;
      else this.#misses++;
    }
    return -1;
  }

  #finishKeys(at: number, keys: number): number {
    if (this.#failed && this.#hits === 0 && this.#misses === 0 && keys === 0) {
      return this.#done(at, McReplyKind.Error, 0);
    }
    if (keys > 0) {
      const hits = Math.min(this.#hits, keys);
      return this.#done(at, hits > 0 ? McReplyKind.Value : McReplyKind.Null, keys, keys - hits);
    }
    return this.#done(at, this.#misses > 0 ? McReplyKind.Null : McReplyKind.Value, 0);
  }

  // A unit is complete once the payload of its last reply is in too, so that its latency
  // covers the whole reply.
  #done(at: number, kind: number, elements: number, nulls = 0): number {
    this.kind = kind;
    this.elements = elements;
    this.nulls = nulls;
    this.#hits = 0;
    this.#misses = 0;
    this.#failed = false;
    this.#pendingAt = 0;
    return this.#finish(this.#lastBuf, at, this.#lastTo);
  }

  #finish(buf: Uint8Array, from: number, to: number): number {
    const end = this.#p.finishPayload(buf, from, to);
    if (end < 0) return -1;
    this.#pendingAt = -1;
    return end;
  }
}

/**
 * The binary-protocol counterpart of {@linkcode McAsciiReplyScanner}: a unit's reply ends with
 * the response whose opcode is the unit's terminal opcode (its own for a plain request, NOOP
 * after quiet ones). Status 0 is a hit, not-found/not-stored/exists a miss, anything else an
 * error named by {@linkcode binStatusName}.
 */
export class McBinaryReplyScanner implements McScannerState {
  /** Kind of the unit completed by the last successful scan. */
  kind: number = McReplyKind.Value;
  /** Keys the unit asked for (multi-get), else 0. */
  elements = 0;
  /** Of those, misses. */
  nulls = 0;
  #p: BinaryParser;
  #units: McUnitEnd[];
  #hits = 0;
  #misses = 0;
  #error = "";
  #failed = false;
  #pending = false;

  /**
   * @param units What ends the reply of each unit (`opcode` entries).
   * @param name Names the stream in errors.
   */
  constructor(units: McUnitEnd[], name = "memcached binary reply stream") {
    this.#units = units;
    this.#p = new BinaryParser("responses", name);
  }

  /** The name of the last error status. */
  errorCode(): string {
    return this.#error.slice(0, ERR_CAP);
  }

  /** Resets to the start of a fresh stream. */
  reset(): void {
    this.#p.reset();
    this.#hits = 0;
    this.#misses = 0;
    this.#error = "";
    this.#failed = false;
    this.#pending = false;
  }

  /**
   * Scans for the end of the reply to unit `unit`; see {@linkcode McAsciiReplyScanner.scan}.
   *
   * @throws {MembenchError} `protocol` on a malformed reply.
   */
  scan(buf: Uint8Array, from: number, to: number, unit: number): number {
    const p = this.#p;
    if (this.#pending) {
      const end = p.finishPayload(buf, from, to);
      if (end >= 0) this.#pending = false;
      return end;
    }
    let at = from;
    while ((at = p.parse(buf, at, to)) >= 0) {
      const u = this.#units[unit]!;
      const terminal = u.kind === "opcode" ? u.opcode : -1;
      const keys = u.kind === "opcode" ? u.keys : 0;
      const s = p.status;
      const isEnd = p.opcode === terminal;
      if (s === BinStatus.NoError) {
        if (p.opcode !== BinOp.Noop) this.#hits++;
      } else if (
        s === BinStatus.KeyNotFound || s === BinStatus.ItemNotStored || s === BinStatus.KeyExists
      ) {
        this.#misses++;
      } else {
        this.#error = binStatusName(s);
        this.#failed = true;
      }
      if (!isEnd) continue;
      let kind: number;
      if (this.#failed) kind = McReplyKind.Error;
      else if (keys > 0) kind = this.#hits > 0 ? McReplyKind.Value : McReplyKind.Null;
      else kind = this.#misses > 0 ? McReplyKind.Null : McReplyKind.Value;
      this.kind = kind;
      this.elements = keys;
      this.nulls = keys > 0 ? keys - Math.min(this.#hits, keys) : 0;
      this.#hits = 0;
      this.#misses = 0;
      this.#failed = false;
      // Complete once the terminal response's value is in too.
      const end = p.finishPayload(buf, at, to);
      if (end < 0) this.#pending = true;
      return end;
    }
    return -1;
  }
}
