// This module uses no Deno APIs.
/**
 * The protocol session base: what every per-connection session (memcached text/meta in
 * `mc_ascii_session.ts`, memcached binary in `mc_binary_session.ts`, RESP in `resp_session.ts`)
 * shares: the queue of requests waiting for their replies, gap and resynchronisation handling,
 * keyed hashing of keys, and the events it reports.
 *
 * @module
 */
import { OPTION_WORDS, type ProtocolName } from "../protocol/mod.ts";
import { type EventFields, NO_VALUE, Shape, Status } from "../profile/mod.ts";

/** Hashes keys for a session, so that no key byte outlives the packet it came in. */
export interface KeyHasher {
  /** Hashes `b[s, e)` into `hi`/`lo`. */
  hashKey(b: Uint8Array, s: number, e: number): void;
  /** High half of the last hash. */
  hi: number;
  /** Low half of the last hash. */
  lo: number;
  /** Cluster slot of the last key, or -1 when slots are not kept. */
  slot: number;
}

/**
 * One paired transaction, as a session reports it: a profile event before the recorder gives
 * it a connection, an op index and a sequence number. `op` is the op name (`get`, `mg`, `hget`,
 * …), `latency` is NaN without a response, and `slot` is -1 until the recorder sets it.
 */
export type SessionEvent = Omit<EventFields, "conn" | "op" | "seq"> & { op: string };

/** Where a session sends its events. */
export type EventCallback = (e: SessionEvent) => void;

/** Counters a session keeps. */
export interface SessionStats {
  /** Requests parsed. */
  requests: number;
  /** Responses parsed. */
  responses: number;
  /** Bytes that could not be parsed and were skipped while resynchronising. */
  unparsed: number;
  /** Responses with no request to pair with (dropped). */
  unpaired: number;
  /** Protocol errors met (each followed by a resynchronisation). */
  protocolErrors: number;
}

/**
 * A request waiting for its reply, as a session keeps it: the event it becomes, and what the
 * reply pairing needs.
 */
export interface PendingRequest {
  /** Request time, µs since the capture start. */
  t: number;
  /** Op name. */
  op: string;
  /** Key hash, high 32 bits (0 without a key). */
  keyHi: number;
  /** Key hash, low 32 bits. */
  keyLo: number;
  /** Key length (0 = no key). */
  keyLen: number;
  /** Request value length, or NO_VALUE. */
  valueLen: number;
  /** Client flags. */
  flags: number;
  /** TTL in seconds, or -1. */
  ttl: number;
  /** 0 single, >0 group id of a multi-key request (all keys of one request). */
  group: number;
  /** Answers nothing on success (meta `q`, binary quiet opcodes). */
  quiet: boolean;
  /** Text `noreply`: no reply is ever its own (it waits in `pending` only to keep its place). */
  noreply: boolean;
  /** What a quiet request means when nothing comes back. */
  silent: number;
  /** Binary opaque, or a digest of a meta `O` token; 0 when none. */
  opaque: number;
  /** Binary: the request's opcode; ascii: 0. */
  opcode: number;
  /** Its reply counts a hit or a miss (the command catalogue's hit rule). */
  read: boolean;
  /** A multi-key read's outcome for this key, once its value arrived. */
  status: number;
  /** The value length of that reply. */
  respValueLen: number;
  /** Cluster slot of the key, or -1. */
  slot: number;
  /** The status of a plain success reply (Stored for a SET-like RESP command, else Ok). */
  okStatus: number;
  /** The request's argument words (profile `ArgWord`s, tokens from `OPTION_WORDS`), or none. */
  args: Uint32Array | undefined;
}

/** What the shared reply loop needs of an incremental memcached parser. */
interface ChunkParser {
  parse(b: Uint8Array, s: number, e: number): number;
  reset(): void;
}

/** A protocol session for one TCP connection: feed both directions, get paired events. */
export abstract class Session {
  /** Protocol. */
  abstract readonly protocol: ProtocolName;
  /** The RESP version the connection speaks (2 until HELLO 3); undefined for memcached. */
  respVersion: 2 | 3 | undefined = undefined;
  /** Counters. */
  readonly stats: SessionStats = {
    requests: 0,
    responses: 0,
    unparsed: 0,
    unpaired: 0,
    protocolErrors: 0,
  };
  protected pending: PendingRequest[] = [];
  protected emit: EventCallback;
  protected hasher: KeyHasher;
  /** After a gap: server bytes are dropped until a request that follows the gap is seen. */
  protected waitForRequest = false;
  protected lastRequestUs = 0;
  /** Set per direction when its parser was reset after a gap: the next bytes must resync. */
  protected resync = { client: false, server: false };
  #group = 0;
  #lastGroup = 0;

  constructor(emit: EventCallback, hasher: KeyHasher) {
    this.emit = emit;
    this.hasher = hasher;
  }

  /** Client bytes, in order. */
  abstract client(buf: Uint8Array, off: number, len: number, tUs: number): void;
  /** Server bytes, in order. */
  abstract server(buf: Uint8Array, off: number, len: number, tUs: number): void;
  /** Resets the parsers of one direction after a gap. */
  protected abstract resetParser(side: "client" | "server"): void;

  /** Bytes were lost in one direction: pending requests end unanswered and both sides resync. */
  gap(side: "client" | "server", _lost: number, _tUs: number): void {
    this.flushPending(Status.None);
    this.resetParser(side);
    this.resetParser(side === "client" ? "server" : "client");
    this.waitForRequest = true;
  }

  /** The connection ended: pending requests are emitted (quiet ones with their silent outcome). */
  finish(): void {
    this.flushPending(Status.None);
  }

  /**
   * Server bytes through an incremental memcached parser (text/meta or binary): dropped while a
   * gap waits for the next request, resynchronised at a chunk whose first byte `startsReply`,
   * each reply handed to `onReply`; garbage is a protocol error and a gap.
   */
  protected parseReplies<P extends ChunkParser>(
    p: P,
    startsReply: (c: number) => boolean,
    onReply: (p: P, t: number) => void,
    buf: Uint8Array,
    off: number,
    len: number,
    t: number,
  ): void {
    if (this.waitForRequest) {
      this.stats.unparsed += len;
      p.reset();
      return;
    }
    let at = off;
    const end = off + len;
    if (this.resync.server) {
      if (!startsReply(buf[at]!)) {
        this.stats.unparsed += len;
        return;
      }
      this.resync.server = false;
    }
    for (;;) {
      try {
        at = p.parse(buf, at, end);
      } catch {
        this.stats.protocolErrors++;
        this.stats.unparsed += end - at;
        this.gap("server", 0, t);
        return;
      }
      if (at < 0) return;
      this.stats.responses++;
      onReply(p, t);
    }
  }

  protected nextGroup(): number {
    return ++this.#group;
  }

  protected push(p: PendingRequest): void {
    this.pending.push(p);
  }

  protected out(p: PendingRequest, status: number, tUs: number, valueLen?: number): void {
    // The keys of one multi-key request leave together, in order: all but the first say so.
    const more = p.group > 0 && p.group === this.#lastGroup;
    this.#lastGroup = p.group;
    this.emit({
      t: p.t,
      op: p.op,
      keyHi: p.keyHi,
      keyLo: p.keyLo,
      keyLen: p.keyLen,
      valueLen: valueLen ?? p.valueLen,
      flags: p.flags,
      ttl: p.ttl,
      status,
      latency: Number.isNaN(tUs) ? NaN : tUs - p.t,
      slot: p.slot,
      shape: (more ? Shape.More : 0) | (p.quiet || p.noreply ? Shape.Quiet : 0),
      args: p.args,
      tokens: p.args ? OPTION_WORDS : undefined,
    });
  }

  protected flushPending(status: number): void {
    for (const p of this.pending) {
      this.out(p, p.quiet && status === Status.None ? p.silent : status, NaN, p.valueLen);
    }
    this.pending.length = 0;
  }

  protected request(
    t: number,
    op: string,
    key: { b: Uint8Array; s: number; e: number } | undefined,
    extra: Partial<PendingRequest>,
  ): PendingRequest {
    let hi = 0;
    let lo = 0;
    let len = 0;
    let slot = -1;
    if (key && key.e > key.s) {
      this.hasher.hashKey(key.b, key.s, key.e);
      hi = this.hasher.hi;
      lo = this.hasher.lo;
      slot = this.hasher.slot;
      len = key.e - key.s;
    }
    this.stats.requests++;
    this.lastRequestUs = t;
    return {
      t,
      op,
      keyHi: hi,
      keyLo: lo,
      keyLen: len,
      valueLen: NO_VALUE,
      flags: 0,
      ttl: -1,
      group: 0,
      quiet: false,
      noreply: false,
      silent: Status.Ok,
      opaque: 0,
      opcode: 0,
      read: false,
      status: Status.None,
      respValueLen: NO_VALUE,
      slot,
      okStatus: Status.Ok,
      args: undefined,
      ...extra,
    };
  }
}
