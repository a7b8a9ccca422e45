// This module uses no Deno APIs.
import { MembenchError } from "../errors/mod.ts";
import {
  AsciiRequestParser,
  AsciiResponseParser,
  BinaryParser,
  BinOp,
  BinStatus,
  MC_OP_NAMES,
  McOp,
  McStatus,
} from "../protocol/memcache/mod.ts";
import { RespDecoder, type RespValue } from "../protocol/resp/mod.ts";
import { type EventFields, NO_VALUE, type ProfileProtocol, Status } from "../profile/mod.ts";

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

interface Pending {
  t: number;
  op: string;
  keyHi: number;
  keyLo: number;
  keyLen: number;
  valueLen: number;
  flags: number;
  ttl: number;
  /** 0 single, >0 group id of a multi-key read (all keys of one request). */
  group: number;
  quiet: boolean;
  /** What a quiet request means when nothing comes back. */
  silent: number;
  opaque: number;
  /** Binary: the request's opcode; ascii: 0. */
  opcode: number;
  read: boolean;
  status: number;
  respValueLen: number;
  slot: number;
}

/** A protocol session for one TCP connection: feed both directions, get paired events. */
/** What the shared reply loop needs of an incremental memcached parser. */
interface ChunkParser {
  parse(b: Uint8Array, s: number, e: number): number;
  reset(): void;
}

function startsAsciiReply(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 48 && c <= 57);
}

function startsBinaryReply(c: number): boolean {
  return c === 0x81;
}

export abstract class Session {
  /** Protocol. */
  abstract readonly protocol: ProfileProtocol;
  /** Counters. */
  readonly stats: SessionStats = {
    requests: 0,
    responses: 0,
    unparsed: 0,
    unpaired: 0,
    protocolErrors: 0,
  };
  protected pending: Pending[] = [];
  protected emit: EventCallback;
  protected hasher: KeyHasher;
  /** After a gap: server bytes are dropped until a request that follows the gap is seen. */
  protected waitForRequest = false;
  protected lastRequestUs = 0;
  /** Set per direction when its parser was reset after a gap: the next bytes must resync. */
  protected resync = { client: false, server: false };
  #group = 0;

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

  protected push(p: Pending): void {
    this.pending.push(p);
  }

  protected out(p: Pending, status: number, tUs: number, valueLen?: number): void {
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
    extra: Partial<Pending>,
  ): Pending {
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
      silent: Status.Ok,
      opaque: 0,
      opcode: 0,
      read: false,
      status: Status.None,
      respValueLen: NO_VALUE,
      slot,
      ...extra,
    };
  }
}

const KEY_READS = new Set<number>([McOp.Get, McOp.Gets, McOp.Gat, McOp.Gats]);

/** memcached text and meta (one ASCII connection may mix both). */
export class McAsciiSession extends Session {
  readonly protocol: ProfileProtocol;
  #req = new AsciiRequestParser("client stream");
  #res = new AsciiResponseParser("server stream");

  constructor(emit: EventCallback, hasher: KeyHasher, meta: boolean) {
    super(emit, hasher);
    this.protocol = meta ? "memcache-meta" : "memcache-text";
  }

  protected resetParser(side: "client" | "server"): void {
    if (side === "client") this.#req.reset();
    else this.#res.reset();
    this.resync[side] = true;
  }

  client(buf: Uint8Array, off: number, len: number, t: number): void {
    let at = off;
    const end = off + len;
    const p = this.#req;
    for (;;) {
      if (this.resync.client) {
        // Resume here if the chunk starts a command (packets usually start at one), else at the
        // next line start.
        if (!startsCommand(buf, at, end)) {
          const nl = buf.indexOf(10, at);
          if (nl < 0 || nl >= end) {
            this.stats.unparsed += end - at;
            return;
          }
          this.stats.unparsed += nl + 1 - at;
          at = nl + 1;
        }
        this.resync.client = false;
      }
      try {
        at = p.parse(buf, at, end);
      } catch {
        // The request at `at` is bad (a value length past the maximum, a line too long…): skip
        // the rest of its line and resynchronise after it. Parsing it again would throw again.
        this.stats.protocolErrors++;
        this.resetParser("client");
        const nl = buf.indexOf(10, at);
        const next = nl < 0 || nl >= end ? end : nl + 1;
        this.stats.unparsed += next - at;
        at = next;
        continue;
      }
      if (at < 0) return;
      this.#onRequest(p, t);
    }
  }

  #onRequest(p: AsciiRequestParser, t: number): void {
    this.waitForRequest = false;
    const name = p.op === McOp.Other ? "other" : MC_OP_NAMES[p.op]!;
    const base: Partial<Pending> = {
      ...(p.clientFlags >= 0 ? { flags: p.clientFlags } : {}),
      ...(p.ttl >= 0 ? { ttl: p.ttl } : {}),
      ...(p.valueLength >= 0 ? { valueLen: p.valueLength } : {}),
    };
    if (KEY_READS.has(p.op) && p.keyCount > 0) {
      const g = this.nextGroup();
      for (let i = 0; i < p.keyCount; i++) {
        this.push(
          this.request(t, name, { b: p.src, s: p.keyStart(i), e: p.keyEnd(i) }, {
            ...base,
            group: g,
            read: true,
          }),
        );
      }
      return;
    }
    const key = p.keyCount > 0 ? { b: p.src, s: p.keyStart(0), e: p.keyEnd(0) } : undefined;
    const meta = p.meta;
    const req = this.request(t, name, key, {
      ...base,
      read: p.op === McOp.MetaGet,
      quiet: meta && p.noreply,
      silent: p.op === McOp.MetaGet
        ? Status.Miss
        : p.op === McOp.MetaSet
        ? Status.Stored
        : p.op === McOp.MetaDelete
        ? Status.Deleted
        : Status.Ok,
      opaque: p.opaqueToken >= 0
        ? hashOpaque(p.src, p.tokS[p.opaqueToken]! + 1, p.tokE[p.opaqueToken]!)
        : 0,
    });
    if (p.noreply && !meta) {
      // Text noreply: the server answers nothing (errors aside); the outcome is unknown.
      this.out(req, Status.None, NaN);
      return;
    }
    if (p.op === McOp.Quit) {
      this.out(req, Status.Ok, NaN);
      return;
    }
    this.push(req);
  }

  // Bound once: the shared reply loop calls it for every reply.
  #reply = (p: AsciiResponseParser, t: number) => this.#onResponse(p, t);

  server(buf: Uint8Array, off: number, len: number, t: number): void {
    // After a gap, a chunk that starts with a reply word (upper case or a digit) resyncs.
    this.parseReplies(this.#res, startsAsciiReply, this.#reply, buf, off, len, t);
  }

  #onResponse(p: AsciiResponseParser, t: number): void {
    const st = p.status;
    if (st === McStatus.Stat) return; // part of a stats reply, ended by END
    const pend = this.pending;
    // Quiet meta requests that this reply cannot be for answered nothing: their silent outcome.
    const opq = p.opaqueToken >= 0
      ? hashOpaque(p.src, p.tokS[p.opaqueToken]! + 1, p.tokE[p.opaqueToken]!)
      : 0;
    while (pend.length > 0 && pend[0]!.quiet && !quietCanAnswer(pend[0]!, st, opq)) {
      const q = pend.shift()!;
      this.out(q, q.silent, NaN);
    }
    const head = pend[0];
    if (!head) {
      this.stats.unpaired++;
      return;
    }
    const isErr = st === McStatus.Error || st === McStatus.ClientError ||
      st === McStatus.ServerError;
    if (head.group > 0) {
      const g = head.group;
      if (st === McStatus.Value) {
        const k = p.key()!;
        this.hasher.hashKey(k, 0, k.length);
        for (const q of pend) {
          if (q.group !== g) break;
          if (
            q.status === Status.None && q.keyHi === this.hasher.hi && q.keyLo === this.hasher.lo
          ) {
            q.status = Status.Hit;
            q.respValueLen = p.valueLength;
            break;
          }
        }
        return;
      }
      if (st === McStatus.End || isErr) {
        while (pend.length > 0 && pend[0]!.group === g) {
          const q = pend.shift()!;
          const s = isErr ? Status.Error : q.status === Status.Hit ? Status.Hit : Status.Miss;
          this.out(q, s, t, s === Status.Hit ? q.respValueLen : NO_VALUE);
        }
        return;
      }
      this.stats.unpaired++;
      return;
    }
    if (head.op === "stats" && !isErr && st !== McStatus.End) return;
    pend.shift();
    if (st === McStatus.MetaNoop && head.op === "mn") {
      this.out(head, Status.Ok, t);
      return;
    }
    const status = asciiStatus(st, head);
    const valueLen = st === McStatus.MetaValue || st === McStatus.Value
      ? p.valueLength
      : head.read
      ? NO_VALUE
      : head.valueLen;
    this.out(head, status, t, valueLen);
  }
}

const COMMAND_WORD =
  /^(get|gets|gat|gats|set|add|replace|append|prepend|cas|delete|incr|decr|touch|flush_all|version|verbosity|stats|quit|mg|ms|md|ma|mn|me)[ \r\n]/;

function startsCommand(b: Uint8Array, s: number, e: number): boolean {
  let w = "";
  for (let i = s; i < Math.min(e, s + 12); i++) w += String.fromCharCode(b[i]!);
  return COMMAND_WORD.test(w);
}

function quietCanAnswer(q: Pending, st: number, opaque: number): boolean {
  if (opaque !== 0 && q.opaque !== 0) return opaque === q.opaque;
  if (st === McStatus.MetaNoop) return false;
  if (st === McStatus.Error || st === McStatus.ClientError || st === McStatus.ServerError) {
    return true;
  }
  switch (q.op) {
    case "mg":
      return st === McStatus.MetaValue || st === McStatus.MetaHeader;
    case "ms":
      return st === McStatus.MetaNotStored || st === McStatus.MetaExists ||
        st === McStatus.MetaNotFound;
    case "md":
    case "ma":
      return st === McStatus.MetaNotFound || st === McStatus.MetaExists ||
        st === McStatus.MetaNotStored ||
        st === McStatus.MetaValue;
    default:
      return true;
  }
}

function asciiStatus(st: number, head: Pending): number {
  switch (st) {
    case McStatus.Value:
    case McStatus.MetaValue:
      return head.read ? Status.Hit : Status.Ok;
    case McStatus.MetaHeader:
      return head.op === "mg"
        ? Status.Hit
        : head.op === "ms"
        ? Status.Stored
        : head.op === "md"
        ? Status.Deleted
        : Status.Ok;
    case McStatus.End:
    case McStatus.MetaMiss:
      return Status.Miss;
    case McStatus.Stored:
      return Status.Stored;
    case McStatus.NotStored:
    case McStatus.MetaNotStored:
      return Status.NotStored;
    case McStatus.Exists:
    case McStatus.MetaExists:
      return Status.Exists;
    case McStatus.NotFound:
    case McStatus.MetaNotFound:
      return Status.NotFound;
    case McStatus.Deleted:
      return Status.Deleted;
    case McStatus.Touched:
      return Status.Touched;
    case McStatus.Error:
    case McStatus.ClientError:
    case McStatus.ServerError:
      return Status.Error;
    default:
      return Status.Ok;
  }
}

// A small non-cryptographic digest of an opaque token (opaques are not secrets; only equality
// matters).
function hashOpaque(b: Uint8Array, s: number, e: number): number {
  let h = 0x811c9dc5;
  for (let i = s; i < e; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
  return (h >>> 0) || 1;
}

/** memcached binary protocol, paired by opaque (and quiet-opcode rules when opaques repeat). */
export class McBinarySession extends Session {
  readonly protocol: ProfileProtocol = "memcache-binary";
  #req = new BinaryParser("requests", "client stream");
  #res = new BinaryParser("responses", "server stream");

  protected resetParser(side: "client" | "server"): void {
    if (side === "client") this.#req.reset();
    else this.#res.reset();
    this.resync[side] = true;
  }

  client(buf: Uint8Array, off: number, len: number, t: number): void {
    let at = off;
    const end = off + len;
    if (this.resync.client) {
      if (buf[at] !== 0x80) {
        this.stats.unparsed += len;
        return;
      }
      this.resync.client = false;
    }
    const p = this.#req;
    for (;;) {
      try {
        at = p.parse(buf, at, end);
      } catch {
        this.stats.protocolErrors++;
        this.stats.unparsed += end - at;
        this.resetParser("client");
        return;
      }
      if (at < 0) return;
      this.waitForRequest = false;
      const name = p.op === McOp.Other ? `opcode_0x${p.opcode.toString(16)}` : MC_OP_NAMES[p.op]!;
      const read = p.op === McOp.Get || p.op === McOp.Gat;
      const noKey = p.opcode === BinOp.SaslAuth || p.opcode === BinOp.SaslStep; // the mechanism, not a key
      const req = this.request(
        t,
        name,
        noKey ? undefined : { b: p.src, s: p.keyStart, e: p.keyStart + p.keyLength },
        {
          ...(p.clientFlags >= 0 ? { flags: p.clientFlags } : {}),
          ...(p.ttl >= 0 && p.ttl !== 0xffffffff ? { ttl: p.ttl } : {}),
          ...(p.valueLength > 0 || p.op === McOp.Set ? { valueLen: p.valueLength } : {}),
          read,
          quiet: p.quiet,
          silent: read
            ? Status.Miss
            : p.op === McOp.Delete
            ? Status.Deleted
            : p.op === McOp.Set || p.op === McOp.Add || p.op === McOp.Replace ||
                p.op === McOp.Append || p.op === McOp.Prepend
            ? Status.Stored
            : Status.Ok,
          opaque: p.opaque,
          opcode: p.opcode,
        },
      );
      if (p.opcode === BinOp.Quit || p.opcode === BinOp.QuitQ) this.out(req, Status.Ok, NaN);
      else this.push(req);
    }
  }

  #reply = (p: BinaryParser, t: number) => this.#onResponse(p, t);

  server(buf: Uint8Array, off: number, len: number, t: number): void {
    this.parseReplies(this.#res, startsBinaryReply, this.#reply, buf, off, len, t);
  }

  #onResponse(p: BinaryParser, t: number): void {
    const pend = this.pending;
    // The request it answers: same opaque and opcode; quiet ones before it answered nothing.
    let i = pend.findIndex((q) => q.opaque === p.opaque && q.opcode === p.opcode);
    if (i < 0) i = pend.findIndex((q) => q.opcode === p.opcode);
    if (i < 0) {
      this.stats.unpaired++;
      return;
    }
    for (let j = 0; j < i; j++) {
      const q = pend[0]!;
      if (!q.quiet) break;
      pend.shift();
      this.out(q, q.silent, NaN);
    }
    i = pend.findIndex((q) => q.opaque === p.opaque && q.opcode === p.opcode);
    if (i < 0) i = 0;
    const q = pend[i]!;
    if (q.opcode === BinOp.Stat && p.keyLength > 0) return; // more statistics follow
    pend.splice(i, 1);
    const s = p.status;
    let status: number;
    if (s === BinStatus.NoError) {
      status = q.read
        ? Status.Hit
        : q.silent === Status.Deleted
        ? Status.Deleted
        : q.silent === Status.Stored
        ? Status.Stored
        : q.op === "touch"
        ? Status.Touched
        : Status.Ok;
    } else if (s === BinStatus.KeyNotFound) status = q.read ? Status.Miss : Status.NotFound;
    else if (s === BinStatus.KeyExists) status = Status.Exists;
    else if (s === BinStatus.ItemNotStored) status = Status.NotStored;
    else status = Status.Error;
    this.out(
      q,
      status,
      t,
      q.read ? (status === Status.Hit ? p.valueLength : NO_VALUE) : q.valueLen,
    );
  }
}

// RESP commands whose first argument is not a key.
const RESP_NO_KEY = new Set([
  "ping",
  "echo",
  "auth",
  "hello",
  "select",
  "info",
  "config",
  "client",
  "command",
  "multi",
  "exec",
  "discard",
  "watch",
  "unwatch",
  "quit",
  "flushall",
  "flushdb",
  "dbsize",
  "time",
  "save",
  "bgsave",
  "lastsave",
  "debug",
  "monitor",
  "slowlog",
  "script",
  "subscribe",
  "psubscribe",
  "unsubscribe",
  "punsubscribe",
  "ssubscribe",
  "sunsubscribe",
  "publish",
  "spublish",
  "pubsub",
  "cluster",
  "readonly",
  "readwrite",
  "memory",
  "latency",
  "role",
  "replicaof",
  "slaveof",
  "acl",
  "module",
  "function",
  "eval",
  "evalsha",
  "eval_ro",
  "evalsha_ro",
  "fcall",
  "fcall_ro",
  "wait",
  "shutdown",
  "swapdb",
  "randomkey",
  "keys",
  "scan",
  "reset",
  "failover",
  "lolwut",
  "object",
  "sync",
  "psync",
]);
// Commands with one key per argument (one event per key).
const RESP_EACH_KEY = new Set(["mget", "del", "unlink", "exists", "touch"]);
const RESP_READS = new Set([
  "get",
  "getex",
  "getdel",
  "getrange",
  "hget",
  "hgetall",
  "hmget",
  "lindex",
  "lrange",
  "smembers",
  "srandmember",
  "zrange",
  "zrangebyscore",
  "zscore",
  "mget",
  "strlen",
  "llen",
  "scard",
  "hlen",
  "exists",
  "type",
  "ttl",
  "pttl",
  "lpop",
  "rpop",
  "spop",
  "zpopmin",
  "zpopmax",
  "sismember",
  "hexists",
  "getset",
]);
const utf8 = new TextDecoder();

/** RESP2/RESP3, paired in order; pushes and subscribe messages are not replies. */
export class RespSession extends Session {
  protocol: ProfileProtocol = "resp2";
  #req = new RespDecoder({ requests: true, name: "client stream" });
  #res = new RespDecoder({ name: "server stream" });
  #replyOff = false;
  #skipNext = false;
  #subscribed = false;

  protected resetParser(side: "client" | "server"): void {
    if (side === "client") this.#req = new RespDecoder({ requests: true, name: "client stream" });
    else this.#res = new RespDecoder({ name: "server stream" });
    this.resync[side] = true;
  }

  client(buf: Uint8Array, off: number, len: number, t: number): void {
    let chunk = buf.subarray(off, off + len);
    if (this.resync.client) {
      // Resume at the next line that starts an array of bulk strings.
      const i = findArrayStart(chunk);
      if (i < 0) {
        this.stats.unparsed += len;
        return;
      }
      this.stats.unparsed += i;
      chunk = chunk.subarray(i);
      this.resync.client = false;
    }
    this.#req.feed(chunk);
    for (;;) {
      let v: RespValue | undefined;
      try {
        v = this.#req.next();
      } catch {
        this.stats.protocolErrors++;
        this.resetParser("client");
        return;
      }
      if (v === undefined) return;
      this.#onRequest(v, t);
    }
  }

  #onRequest(v: RespValue, t: number): void {
    this.waitForRequest = false;
    if (v.type !== "array" || v.value.length === 0) return;
    const args = v.value.map((a) => a.type === "bulk" ? a.value : new Uint8Array(0));
    const word = utf8.decode(args[0]!).toLowerCase();
    // Only known command names leave the capture: a desynchronised stream or an odd client
    // must not turn key or value bytes into an op name.
    const name = REDIS_COMMANDS.has(word) || RESP_NO_KEY.has(word) ? word : "other";
    if (name === "hello" && args[1] && utf8.decode(args[1]) === "3") this.protocol = "resp3";
    let expectReply = !this.#replyOff && !this.#skipNext;
    if (this.#skipNext) this.#skipNext = false;
    if (name === "client" && args[1] && utf8.decode(args[1]).toLowerCase() === "reply") {
      const mode = args[2] ? utf8.decode(args[2]).toLowerCase() : "";
      if (mode === "off") {
        this.#replyOff = true;
        expectReply = false;
      } else if (mode === "skip") {
        this.#skipNext = true;
        expectReply = false;
      } else if (mode === "on") {
        this.#replyOff = false;
        expectReply = true;
      }
    }
    if (name === "subscribe" || name === "psubscribe" || name === "ssubscribe") {
      this.#subscribed = true;
    }
    const read = RESP_READS.has(name);
    const ttl = respTtl(name, args);
    const make = (key: Uint8Array | undefined, valueLen: number, group: number) =>
      this.request(t, name, key ? { b: key, s: 0, e: key.length } : undefined, {
        read,
        group,
        ttl,
        valueLen,
      });
    const reqs: Pending[] = [];
    if (RESP_NO_KEY.has(name) || args.length < 2) reqs.push(make(undefined, NO_VALUE, 0));
    else if (RESP_EACH_KEY.has(name)) {
      const g = this.nextGroup();
      for (let i = 1; i < args.length; i++) reqs.push(make(args[i], NO_VALUE, g));
    } else if (name === "mset" || name === "msetnx") {
      const g = this.nextGroup();
      for (let i = 1; i + 1 < args.length; i += 2) reqs.push(make(args[i], args[i + 1]!.length, g));
    } else {
      const valueArg = name === "setex" || name === "psetex" ? 3 : 2;
      const hasValue =
        /^(set|setnx|setex|psetex|getset|append|lpush|rpush|lpushx|rpushx|sadd|hset|hsetnx|zadd|setrange)$/
          .test(name);
      let vlen = NO_VALUE;
      if (hasValue) {
        vlen = 0;
        for (let i = valueArg; i < args.length; i++) vlen += args[i]!.length;
        if (name === "set") vlen = args[2]?.length ?? 0;
      }
      reqs.push(make(args[1], vlen, 0));
    }
    if (!expectReply) {
      for (const r of reqs) this.out(r, Status.None, NaN);
      return;
    }
    for (const r of reqs) this.push(r);
  }

  server(buf: Uint8Array, off: number, len: number, t: number): void {
    if (this.waitForRequest) {
      this.stats.unparsed += len;
      this.#res = new RespDecoder({ name: "server stream" });
      return;
    }
    const chunk = buf.subarray(off, off + len);
    if (this.resync.server) {
      const c = chunk[0]!;
      if (!"+-:$*_#,(!=%~|>".includes(String.fromCharCode(c))) {
        this.stats.unparsed += len;
        return;
      }
      this.resync.server = false;
    }
    this.#res.feed(chunk);
    for (;;) {
      let v: RespValue | undefined;
      try {
        v = this.#res.next();
      } catch {
        this.stats.protocolErrors++;
        this.gap("server", 0, t);
        return;
      }
      if (v === undefined) return;
      this.stats.responses++;
      this.#onReply(v, t);
    }
  }

  #onReply(v: RespValue, t: number): void {
    if (v.type === "push") return; // out of band
    if (this.#subscribed && (v.type === "array") && v.value[0]?.type === "bulk") {
      const kind = utf8.decode(v.value[0].value).toLowerCase();
      if (kind === "message" || kind === "pmessage" || kind === "smessage") return;
    }
    const pend = this.pending;
    const head = pend[0];
    if (!head) {
      this.stats.unpaired++;
      return;
    }
    if (head.group > 0) {
      const g = head.group;
      const items = v.type === "array" ? v.value : undefined;
      let i = 0;
      while (pend.length > 0 && pend[0]!.group === g) {
        const q = pend.shift()!;
        if (v.type === "error") this.out(q, Status.Error, t);
        else if (items) {
          const it = items[i++];
          const hit = it !== undefined && it.type !== "null";
          this.out(
            q,
            hit ? Status.Hit : Status.Miss,
            t,
            hit && it.type === "bulk" ? it.value.length : NO_VALUE,
          );
        } else this.out(q, Status.Ok, t);
      }
      return;
    }
    pend.shift();
    this.out(head, respStatus(head, v), t, head.read ? respValueLen(v) : head.valueLen);
  }
}

function respStatus(q: Pending, v: RespValue): number {
  if (v.type === "error") return Status.Error;
  const empty = v.type === "null" ||
    ((v.type === "array" || v.type === "set" || v.type === "map") && v.value.length === 0);
  if (q.read) return empty ? Status.Miss : Status.Hit;
  if (v.type === "null") return Status.NotStored; // SET NX/XX that did not apply
  if (q.op === "set" || q.op === "setex" || q.op === "psetex" || q.op === "mset") {
    return Status.Stored;
  }
  return Status.Ok;
}

function respValueLen(v: RespValue): number {
  if (v.type === "bulk" || v.type === "verbatim") return v.value.length;
  return NO_VALUE;
}

function respTtl(name: string, args: Uint8Array[]): number {
  const num = (i: number) => Number(utf8.decode(args[i] ?? new Uint8Array(0)));
  if (name === "setex" || name === "expire" || name === "getex") {
    return Number.isFinite(num(2)) ? num(2) : -1;
  }
  if (name === "psetex" || name === "pexpire") {
    return Number.isFinite(num(2)) ? Math.ceil(num(2) / 1000) : -1;
  }
  if (name === "set") {
    for (let i = 3; i + 1 < args.length; i++) {
      const o = utf8.decode(args[i]!).toLowerCase();
      if (o === "ex") return num(i + 1);
      if (o === "px") return Math.ceil(num(i + 1) / 1000);
    }
  }
  return -1;
}

// The index of "*<digits>\r\n" at a line start in `b`, or -1.
function findArrayStart(b: Uint8Array): number {
  for (let i = 0; i < b.length; i++) {
    if (b[i] !== 42 || (i > 0 && b[i - 1] !== 10)) continue;
    let j = i + 1;
    while (j < b.length && b[j]! >= 48 && b[j]! <= 57) j++;
    if (j > i + 1 && b[j] === 13) return i;
  }
  return -1;
}

/** Ports that suggest a protocol. */
export const DEFAULT_PORTS: Record<number, "memcache" | "resp"> = {
  11211: "memcache",
  6379: "resp",
};

/**
 * Guesses a connection's protocol from the server port and the client's first bytes.
 *
 * @returns The protocol, or undefined when the bytes say nothing yet.
 */
export function detectProtocol(
  first: Uint8Array,
  serverPort: number,
  hint?: "memcache" | "resp",
): ProfileProtocol | undefined {
  if (first.length === 0) return undefined;
  const c = first[0]!;
  if (c === 0x80) return "memcache-binary";
  if (c === 42) return "resp2"; // '*'
  const family = hint ?? DEFAULT_PORTS[serverPort];
  const head = first.subarray(0, Math.min(first.length, 16));
  // A text command's first word must be whole before it says anything ("m" may become "mg").
  if (first.length < 16 && !head.some((b) => b === 32 || b === 13 || b === 10)) return undefined;
  const word = utf8.decode(head).split(/[ \r\n]/)[0]!;
  const isMeta = /^m[gsdane]$/.test(word);
  const isText =
    /^(get|gets|gat|gats|set|add|replace|append|prepend|cas|delete|incr|decr|touch|flush_all|version|verbosity|stats|quit)$/
      .test(word);
  if (family === "memcache" || ((isMeta || isText) && family !== "resp")) {
    return isMeta ? "memcache-meta" : "memcache-text";
  }
  // Inline RESP is plain words: without a port hint, only a real command name counts (fuzz or
  // another protocol on an odd port must not be taken for RESP).
  if (family === "resp" || REDIS_COMMANDS.has(word.toLowerCase())) return "resp2";
  return undefined;
}

const REDIS_COMMANDS: Set<string> = new Set(
  (
    "append auth bgsave bitcount bitop bitpos blmove blpop brpop bzpopmax bzpopmin client cluster " +
    "command config copy dbsize decr decrby del discard dump echo eval evalsha exec exists expire " +
    "expireat flushall flushdb geoadd geodist geopos georadius geosearch get getbit getdel getex " +
    "getrange getset hdel hello hexists hget hgetall hincrby hincrbyfloat hkeys hlen hmget hmset " +
    "hscan hset hsetnx hstrlen hvals incr incrby incrbyfloat info keys lastsave lindex linsert " +
    "llen lmove lpop lpos lpush lpushx lrange lrem lset ltrim memory mget migrate monitor move " +
    "mset msetnx multi object persist pexpire pexpireat pfadd pfcount pfmerge ping psetex " +
    "psubscribe pttl publish pubsub punsubscribe quit randomkey readonly readwrite rename " +
    "renamenx replicaof reset restore role rpop rpoplpush rpush rpushx sadd save scan scard " +
    "script sdiff sdiffstore select set setbit setex setnx setrange sinter sinterstore " +
    "sismember slaveof slowlog smembers smove sort spop srandmember srem sscan strlen subscribe " +
    "sunion sunionstore swapdb time touch ttl type unlink unsubscribe unwatch wait watch xack " +
    "xadd xautoclaim xclaim xdel xgroup xinfo xlen xpending xrange xread xreadgroup xrevrange " +
    "xtrim zadd zcard zcount zincrby zinterstore zlexcount zpopmax zpopmin zrange zrangebylex " +
    "zrangebyscore zrank zrem zremrangebyrank zremrangebyscore zrevrange zrevrank zscan zscore " +
    "zunionstore"
  ).split(" "),
);

/** Makes the session for a protocol. */
export function newSession(
  protocol: ProfileProtocol,
  emit: EventCallback,
  hasher: KeyHasher,
): Session {
  switch (protocol) {
    case "memcache-text":
    case "memcache-meta":
      return new McAsciiSession(emit, hasher, protocol === "memcache-meta");
    case "memcache-binary":
      return new McBinarySession(emit, hasher);
    case "resp2":
    case "resp3":
      return new RespSession(emit, hasher);
    default:
      throw new MembenchError("invalid_argument", `Cannot decode protocol ${protocol}`);
  }
}
