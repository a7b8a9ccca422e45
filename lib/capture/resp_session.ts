// This module uses no Deno APIs.
import {
  ArgKind,
  argKinds,
  type CommandInfo,
  commandKeys,
  respCallOf,
  respCommand,
} from "../protocol/mod.ts";
import { RespDecoder, type RespValue } from "../protocol/resp/mod.ts";
import { ArgWord, lexBoundPrefix, NO_VALUE, Status, writeStreamId } from "../profile/mod.ts";
import { type EventCallback, type KeyHasher, type PendingRequest, Session } from "./session.ts";

const utf8 = new TextDecoder();

/**
 * RESP2/RESP3, paired in order; pushes and subscribe messages are not replies. What a command's
 * keys, value, TTL and hit rule are comes from the command catalogue; one event per key for
 * commands whose keys are each an operation (MGET, DEL, MSET).
 */
export class RespSession extends Session {
  readonly protocol = "resp";
  override respVersion: 2 | 3 | undefined;
  #req = new RespDecoder({ requests: true, name: "client stream" });
  #res = new RespDecoder({ name: "server stream" });
  #replyOff = false;
  #skipNext = false;
  #subscribed = false;
  #keys: number[] = []; // key argument indexes of the request being read
  // Scratch for the argument words of a request (reused; one copy per request leaves).
  #kinds = new Uint8Array(64);
  #tokens = new Int32Array(64);
  #argKeys: number[] = [];
  #words = new Uint32Array(256);
  #values = 0; // Value arguments of the last #argWords, and their bytes
  #valueBytes = 0;

  /** `respVersion`: what the connection speaks at the start (3 after a HELLO 3 not captured). */
  constructor(emit: EventCallback, hasher: KeyHasher, respVersion: 2 | 3 = 2) {
    super(emit, hasher);
    this.respVersion = respVersion;
  }

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
    // Only commands the catalogue knows leave the capture by name: a desynchronised stream or an
    // odd client must not turn key or value bytes into an op name.
    const info = respCommand(utf8.decode(args[0]!).toLowerCase());
    // A container's listed subcommand is the op (`config|get`, as INFO commandstats names it).
    const call = info ? respCallOf(info, args) : undefined;
    const name = call?.name ?? "other";
    if (name === "hello" && args[1] && utf8.decode(args[1]) === "3") this.respVersion = 3;
    let expectReply = !this.#replyOff && !this.#skipNext;
    if (this.#skipNext) this.#skipNext = false;
    if (info?.name === "client" && args[1] && utf8.decode(args[1]).toLowerCase() === "reply") {
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
    const extra: Partial<PendingRequest> = {
      read: info !== undefined && info.hits !== "none",
      ttl: info ? respTtl(info, args) : -1,
      okStatus: info?.common === "set" ? Status.Stored : Status.Ok,
    };
    const make = (key: Uint8Array | undefined, valueLen: number, group: number) =>
      this.request(t, name, key ? { b: key, s: 0, e: key.length } : undefined, {
        ...extra,
        group,
        valueLen,
      });
    const keys = this.#keys;
    const n = info ? commandKeys(info, args, keys) : 0;
    const reqs: PendingRequest[] = [];
    if (n === 0) reqs.push(make(undefined, NO_VALUE, 0));
    else if (info!.eachKey) {
      // One event per key, answered together (MGET's array, DEL's count).
      const g = this.nextGroup();
      const pairs = info!.value?.kind === "pairs";
      for (let i = 0; i < n; i++) {
        const k = keys[i]!;
        reqs.push(make(args[k], pairs && k + 1 < args.length ? args[k + 1]!.length : NO_VALUE, g));
      }
    } else reqs.push(make(args[keys[0]!], respValueArgs(info!, args), 0));
    // The arguments, for replay to send the same call (not a container's unlisted subcommand).
    if (n === 0 || !info!.eachKey) {
      if (call !== undefined && call.subcommands === undefined && !NO_ARGS.has(call.name)) {
        const r0 = reqs[0]!;
        r0.args = this.#argWords(call, args, n > 0 ? keys[0]! : -1);
        // The value length is the values' (HSET's, not its field names'; none for SADD, whose
        // members are hashed): what replay sends as values, and what analysis calls sizes.
        if (info!.value?.kind === "rest") {
          r0.valueLen = this.#values > 0 ? this.#valueBytes : NO_VALUE;
        }
      }
    }
    if (!expectReply) {
      // CLIENT REPLY OFF/SKIP: no reply comes. Behind requests still waiting for theirs, it
      // waits its turn, so that the profile keeps the order in which requests were sent.
      for (const r of reqs) {
        r.noreply = true;
        if (this.pending.length === 0) this.out(r, Status.None, NaN);
        else this.push(r);
      }
      return;
    }
    for (const r of reqs) this.push(r);
  }

  // The argument words of one request (see the profile's ArgWord): option words as token
  // indexes, numbers as numbers, keys, fields, members and anything else as keyed hashes,
  // values as lengths. No argument byte is kept.
  #argWords(
    call: CommandInfo,
    args: readonly Uint8Array[],
    keyAt: number,
  ): Uint32Array | undefined {
    const argc = args.length;
    if (this.#kinds.length < argc) {
      this.#kinds = new Uint8Array(argc * 2);
      this.#tokens = new Int32Array(argc * 2);
    }
    if (this.#words.length < argc * 5) this.#words = new Uint32Array(argc * 10);
    const kinds = this.#kinds;
    argKinds(call, args, kinds, this.#tokens, this.#argKeys);
    const w = this.#words;
    const h = this.hasher;
    let n = 0;
    this.#values = 0;
    this.#valueBytes = 0;
    for (let i = 0; i < argc; i++) {
      const a = args[i]!;
      let k = kinds[i]!;
      if (k === ArgKind.Name) continue;
      if (k === ArgKind.Number) {
        const v = numberArg(a);
        if (v === v) {
          w[n++] = (numberExclusive << 3) | ArgWord.Number;
          NUM[0] = v;
          w[n++] = NUM_WORDS[0]!;
          w[n++] = NUM_WORDS[1]!;
          continue;
        }
        k = ArgKind.Hash; // not a number: hashed like any other argument
      }
      if (k === ArgKind.StreamId) {
        // A stream ID as its numbers (format 2.2); anything else there is hashed.
        const end = writeStreamId(a, w, n);
        if (end >= 0) {
          n = end;
          continue;
        }
        k = ArgKind.Hash;
      } else if (k === ArgKind.Bound) {
        // A lex bound: its bracket kept, its member hashed as a member (format 2.2).
        const p = lexBoundPrefix(a);
        if (p >= 0) {
          let hi = 0;
          let lo = 0;
          if (a.length > 1) {
            h.hashKey(a, 1, a.length);
            hi = h.hi;
            lo = h.lo;
          }
          w[n++] = ((((Math.min(a.length - 1, 0x7ffffff) << 2) | p) << 3) | ArgWord.Bound) >>> 0;
          w[n++] = hi;
          w[n++] = lo;
          continue;
        }
        k = ArgKind.Hash;
      }
      if (k === ArgKind.Token) w[n++] = (this.#tokens[i]! << 3) | ArgWord.Token;
      else if (k === ArgKind.Value) {
        w[n++] = ArgWord.Value;
        w[n++] = a.length;
        this.#values++;
        this.#valueBytes += a.length;
      } else if (k === ArgKind.Key && i === keyAt) w[n++] = ArgWord.Key;
      else {
        let hi = 0;
        let lo = 0;
        if (a.length > 0) {
          h.hashKey(a, 0, a.length);
          hi = h.hi;
          lo = h.lo;
        }
        const kind = k === ArgKind.Key ? ArgWord.OtherKey : ArgWord.Hash;
        w[n++] = ((Math.min(a.length, 0x1fffffff) << 3) | kind) >>> 0;
        w[n++] = hi;
        w[n++] = lo;
      }
    }
    // `CMD key` and `CMD key value` (GET, INCR, SET, APPEND, ...) are what replay rebuilds from
    // the event's key and value length alone: no words, so that such traffic costs no more room.
    if (argc === 2 && n === 1 && w[0] === ArgWord.Key) return undefined;
    const v = call.value;
    if (
      argc === 3 && n === 3 && w[0] === ArgWord.Key && w[1] === ArgWord.Value &&
      v?.kind === "one" && v.at === 2 && call.hits === "none"
    ) return undefined;
    return w.slice(0, n);
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
    // Requests sent with replies off that waited their turn: this reply is not theirs.
    while (pend.length > 0 && pend[0]!.noreply) this.out(pend.shift()!, Status.None, NaN);
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

// The status of a reply: a read's hit or miss (a null or an empty aggregate is a miss, as the
// catalogue's "value" and "nonempty" rules say), an error, or the request's success status.
function respStatus(q: PendingRequest, v: RespValue): number {
  if (v.type === "error") return Status.Error;
  const empty = v.type === "null" ||
    ((v.type === "array" || v.type === "set" || v.type === "map") && v.value.length === 0);
  if (q.read) return empty ? Status.Miss : Status.Hit;
  if (v.type === "null") return Status.NotStored; // SET NX/XX that did not apply
  return q.okStatus;
}

function respValueLen(v: RespValue): number {
  if (v.type === "bulk" || v.type === "verbatim") return v.value.length;
  return NO_VALUE;
}

// The value length a request carries where the catalogue says, or NO_VALUE.
function respValueArgs(info: CommandInfo, args: readonly Uint8Array[]): number {
  const v = info.value;
  if (v === undefined || v.kind === "pairs") return NO_VALUE;
  if (v.kind === "one") return args[v.at]?.length ?? 0;
  let n = 0;
  for (let i = v.at; i < args.length; i++) n += args[i]!.length;
  return n;
}

// The TTL in seconds a request sets where the catalogue says, or -1.
function respTtl(info: CommandInfo, args: readonly Uint8Array[]): number {
  const t = info.ttl;
  if (t === undefined) return -1;
  const num = (i: number) => Number(utf8.decode(args[i] ?? new Uint8Array(0)));
  const seconds = (v: number, ms: boolean) =>
    Number.isFinite(v) ? (ms ? Math.ceil(v / 1000) : v) : -1;
  if (t.kind === "arg") return seconds(num(t.at), t.unit === "ms");
  for (let i = t.from; i + 1 < args.length; i++) {
    const a = args[i]!;
    if (a.length !== 2 || (a[1]! | 0x20) !== 120) continue; // "ex" or "px"
    const c = a[0]! | 0x20;
    if (c === 101) return seconds(num(i + 1), false);
    if (c === 112) return seconds(num(i + 1), true);
  }
  return -1;
}

// Commands whose arguments carry credentials (AUTH, HELLO ... AUTH, MIGRATE ... AUTH): not even
// their hashes are kept; replay never sends them with arguments.
const NO_ARGS = new Set(["auth", "hello", "migrate"]);

const NUM = new Float64Array(1);
const NUM_WORDS = new Uint32Array(NUM.buffer);
// Set by numberArg: 1 when the number was written exclusive, `(1.5`.
let numberExclusive = 0;

// A number argument as Redis reads one (integers, decimals, exponents, inf; `(` for an
// exclusive bound), or NaN when the argument is no number. Only integers are read without
// building a string.
function numberArg(b: Uint8Array): number {
  let s = 0;
  numberExclusive = 0;
  if (b.length > 0 && b[0] === 40) {
    numberExclusive = 1;
    s = 1;
  }
  const len = b.length - s;
  if (len === 0 || len > 40) return NaN;
  let neg = false;
  let i = s;
  if (b[i] === 45 || b[i] === 43) {
    neg = b[i] === 45;
    i++;
  }
  let v = 0;
  let digits = 0;
  for (; i < b.length; i++) {
    const d = b[i]! - 48;
    if (d < 0 || d > 9) break;
    v = v * 10 + d;
    digits++;
  }
  if (i === b.length && digits > 0 && digits <= 15) return neg ? -v : v;
  const text = utf8.decode(b.subarray(s)).toLowerCase();
  if (text === "inf" || text === "+inf" || text === "infinity" || text === "+infinity") {
    return Infinity;
  }
  if (text === "-inf" || text === "-infinity") return -Infinity;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/.test(text)) return NaN;
  return Number(text);
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
