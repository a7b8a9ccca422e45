// This module uses no Deno APIs.
import { RespDecoder } from "./decoder.ts";
import type { RespValue } from "./types.ts";

// The reply kinds of the connection engine's ReplyReader (net/pipeline.ts), by value: protocol/
// may not import net/.
const KIND_VALUE = 0;
const KIND_NULL = 1;
const KIND_ERROR = 2;
const KIND_PUSH = 3;

/**
 * A reply reader for the connection engine that decodes every reply into a
 * {@linkcode RespValue}, for schedulers that need a reply's content (a vector query's ids and
 * scores), not only where it ends. It has the engine's `ReplyReader` shape: the engine calls
 * `scan(buf, from, to)` once per read chunk and again after each completed reply until it
 * returns -1; replies may straddle chunks (the decoder keeps the partial bytes). After a
 * successful `scan`, {@linkcode RespValueReader.value} is the reply.
 *
 * Costs: the decoder copies each chunk once and builds one object per value; use the scanner
 * (`ReplyScanner`) where the content does not matter.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const r = new RespValueReader();
 * const bytes = new TextEncoder().encode("*2\r\n:1\r\n$3\r\nabc\r\n-ERR no\r\n");
 * // A reply split over two chunks, then a second reply in the same chunk.
 * assert.equal(r.scan(bytes, 0, 10), -1);
 * const end = r.scan(bytes, 10, bytes.length);
 * assert.equal(end, 17);
 * assert.equal(r.value?.type, "array");
 * assert.equal(r.scan(bytes, end, bytes.length), bytes.length);
 * assert.equal(r.kind, 2);
 * assert.equal(r.errorCode(), "ERR");
 * assert.equal(r.scan(bytes, bytes.length, bytes.length), -1);
 * ```
 */
export class RespValueReader {
  /** 0 value, 1 null, 2 error, 3 push (the engine's REPLY_* constants). */
  kind = KIND_VALUE;
  /** Elements of the last aggregate reply (0 for scalars). */
  elements = 0;
  /** Always 0: nulls inside replies are in {@linkcode RespValueReader.value}. */
  nulls = 0;
  /** The last completed reply. */
  value: RespValue | undefined = undefined;
  #decoder: RespDecoder;
  #name: string;
  // Bytes of the current chunk were fed; the engine is draining the replies they completed.
  #draining = false;
  // Stream offset of the first byte of the chunk being drained, and its index in that chunk.
  #chunkStream = 0;
  #chunkFrom = 0;
  #fed = 0;

  constructor(name = "RESP reply stream") {
    this.#name = name;
    this.#decoder = new RespDecoder({ name });
  }

  /**
   * Index just past the next reply completed in `buf[from, to)`, or -1. The first call for a
   * chunk feeds all of it; the calls that follow (from the index returned) pull the replies it
   * completed.
   *
   * @throws {MembenchError} `protocol` naming the stream offset on malformed input.
   */
  scan(buf: Uint8Array, from: number, to: number, _unit?: number): number {
    if (!this.#draining) {
      this.#chunkStream = this.#fed;
      this.#chunkFrom = from;
      if (to > from) this.#decoder.feed(buf.subarray(from, to));
      this.#fed += to - from;
      this.#draining = true;
    }
    const v = this.#decoder.next();
    if (v === undefined) {
      this.#draining = false;
      return -1;
    }
    this.value = v;
    switch (v.type) {
      case "error":
        this.kind = KIND_ERROR;
        break;
      case "null":
        this.kind = KIND_NULL;
        break;
      case "push":
        this.kind = KIND_PUSH;
        break;
      default:
        this.kind = KIND_VALUE;
    }
    this.elements = v.type === "array" || v.type === "set" || v.type === "push"
      ? v.value.length
      : v.type === "map"
      ? v.value.length
      : 0;
    // The reply ends inside this chunk (earlier chunks' replies were drained before it came).
    return this.#chunkFrom + (this.#decoder.offset - this.#chunkStream);
  }

  /** A fresh stream (after a reconnect). */
  reset(): void {
    this.#decoder = new RespDecoder({ name: this.#name });
    this.#draining = false;
    this.#fed = 0;
    this.#chunkStream = 0;
    this.value = undefined;
  }

  /** The first word of the last error reply (`ERR`, `WRONGTYPE`, …). */
  errorCode(): string {
    const v = this.value;
    if (v === undefined || v.type !== "error") return "";
    const sp = v.value.indexOf(" ");
    return sp < 0 ? v.value : v.value.slice(0, sp);
  }

  /** The text of the last error reply. */
  errorText(): string {
    const v = this.value;
    return v !== undefined && v.type === "error" ? v.value : "";
  }
}
