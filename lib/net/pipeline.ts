// This module uses no Deno APIs.
import type { MembenchError } from "../errors/mod.ts";
import type { Target } from "./target.ts";
import type { Transport } from "./transport_type.ts";

/** Reply kinds, as every {@linkcode ReplyReader} reports them. */
export const REPLY_VALUE = 0;
/** A null bulk, an empty multi-get, a memcached miss. */
export const REPLY_NULL = 1;
/** An error reply. */
export const REPLY_ERROR = 2;
/** A RESP3 push: out of band, answers no request. */
export const REPLY_PUSH = 3;

/** The engine's view of a reply stream: one call per completed request unit. */
export interface ReplyReader {
  /** {@linkcode REPLY_VALUE}, {@linkcode REPLY_NULL}, {@linkcode REPLY_ERROR} or {@linkcode REPLY_PUSH}. */
  kind: number;
  /** Keys of a multi-key read. */
  elements: number;
  /** Of those, misses. */
  nulls: number;
  /** Index past the next completed reply, or -1; `unit` says what the head request ends with. */
  scan(buf: Uint8Array, from: number, to: number, unit: number): number;
  /** Fresh stream after a reconnect. */
  reset(): void;
  /** Error word of the last error reply. */
  errorCode(): string;
}

function pow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/**
 * One pipelined connection, as the engine drives it: the double-buffered output (requests are
 * written into `out` at `outLen`; a write swaps `out` and `spare`), the read buffer, and the
 * in-flight ring of typed arrays (per request: the scheduler's op, the reply unit, the actual and
 * intended send times and one scheduler flag). No object per request.
 */
export class PipelinedConnection {
  /** Index in the whole run (over workers). */
  readonly index: number;
  /** Index in its engine. */
  readonly local: number;
  /** Where it connects (the router's choice). */
  target: Target;
  /** The open stream; undefined while (re)connecting. */
  transport: Transport | undefined = undefined;
  /** The protocol's reply scanner. */
  readonly scanner: ReplyReader;
  /** Requests not yet written. */
  out: Uint8Array;
  /** The buffer a write in progress is sending. */
  spare: Uint8Array;
  /** Bytes in `out`. */
  outLen = 0;
  /** Whether a write is in progress. */
  writing = false;
  /** Receive buffer. */
  readonly rbuf: Uint8Array;
  /** In flight, per slot: the scheduler's op (a command index). */
  op: Int32Array;
  /** In flight, per slot: what the reply ends with (for the scanner). */
  unit: Int32Array;
  /** In flight, per slot: when the write carrying it started (µs, nowUs), or -1 before. */
  sent: Float64Array;
  /** In flight, per slot: when it was due (µs, nowUs); 0 when nothing was scheduled. */
  intended: Float64Array;
  /** In flight, per slot: one byte for the scheduler. */
  flag: Uint8Array;
  /** Slot of the oldest request in flight. */
  head = 0;
  /** Requests in flight (written or waiting in `out`). */
  inflight = 0;
  #mask: number;
  /** Gave up for good (reconnects exhausted) or finished. */
  dead = false;
  /** Why the connection was last lost. */
  error: MembenchError | undefined = undefined;
  /** Reconnects of this connection. */
  reconnects = 0;
  // io_uring: the socket, buffer addresses, the send in flight, and a generation that tells a
  // completion of an earlier connection from one of the current.
  /** @internal */ fd = -1;
  /** @internal */ gen = 0;
  /** @internal */ outAddr = 0;
  /** @internal */ spareAddr = 0;
  /** @internal */ rbufAddr = 0;
  /** @internal */ sendAddr = 0;
  /** @internal */ sendLeft = 0;
  /** @internal */ finished = false;

  /**
   * @param capacity In-flight requests it starts with room for (grows when needed).
   * @param outSize Output buffer size it starts with (grows when needed).
   */
  constructor(
    index: number,
    local: number,
    target: Target,
    scanner: ReplyReader,
    capacity: number,
    outSize: number,
  ) {
    this.index = index;
    this.local = local;
    this.target = target;
    this.scanner = scanner;
    // Over 64 bytes, so that the buffers live off the JS heap and keep their address (io_uring).
    this.out = new Uint8Array(Math.max(256, outSize));
    this.spare = new Uint8Array(Math.max(256, outSize));
    this.rbuf = new Uint8Array(Math.max(64 * 1024, outSize));
    const cap = pow2(Math.max(2, capacity));
    this.#mask = cap - 1;
    this.op = new Int32Array(cap);
    this.unit = new Int32Array(cap);
    this.sent = new Float64Array(cap);
    this.intended = new Float64Array(cap);
    this.flag = new Uint8Array(cap);
  }

  /** Makes room for `n` more bytes in `out`; returns where they go (`outLen`). */
  reserve(n: number): number {
    if (this.outLen + n > this.out.length) {
      const nb = new Uint8Array(Math.max(this.out.length * 2, this.outLen + n));
      nb.set(this.out.subarray(0, this.outLen));
      this.out = nb;
      this.outAddr = 0; // the engine takes the new address
    }
    return this.outLen;
  }

  /** Adds a request to the in-flight ring (its bytes are in `out` already); returns its slot. */
  push(op: number, unit: number, intended: number, flag: number): number {
    if (this.inflight > this.#mask) this.#grow();
    const s = (this.head + this.inflight) & this.#mask;
    this.op[s] = op;
    this.unit[s] = unit;
    this.intended[s] = intended;
    this.sent[s] = -1;
    this.flag[s] = flag;
    this.inflight++;
    return s;
  }

  /** The slot the next push takes (to set its flag early). */
  nextSlot(): number {
    if (this.inflight > this.#mask) this.#grow();
    return (this.head + this.inflight) & this.#mask;
  }

  /** Removes the oldest request; returns its slot (read it before the next push). */
  shift(): number {
    const s = this.head;
    this.head = (s + 1) & this.#mask;
    this.inflight--;
    return s;
  }

  /** What the oldest request's reply ends with (0 with nothing in flight). */
  headUnit(): number {
    return this.inflight > 0 ? this.unit[this.head]! : 0;
  }

  #grow(): void {
    const cap = (this.#mask + 1) * 2;
    const h = this.head, n = this.inflight, m = this.#mask;
    const move = <A extends Int32Array | Float64Array | Uint8Array>(from: A, to: A): A => {
      for (let k = 0; k < n; k++) to[k] = from[(h + k) & m]!;
      return to;
    };
    this.op = move(this.op, new Int32Array(cap));
    this.unit = move(this.unit, new Int32Array(cap));
    this.sent = move(this.sent, new Float64Array(cap));
    this.intended = move(this.intended, new Float64Array(cap));
    this.flag = move(this.flag, new Uint8Array(cap));
    this.head = 0;
    this.#mask = cap - 1;
  }
}
