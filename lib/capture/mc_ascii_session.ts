// This module uses no Deno APIs.
import {
  AsciiRequestParser,
  AsciiResponseParser,
  MC_OP_NAMES,
  McOp,
  McStatus,
} from "../protocol/memcache/mod.ts";
import { type CommandInfo, memcacheCommand, metaFlagWord } from "../protocol/mod.ts";
import { ArgWord, NO_VALUE, Status } from "../profile/mod.ts";
import { type EventCallback, type KeyHasher, type PendingRequest, Session } from "./session.ts";

// The catalogue entry of each McOp, looked up once (McOp.Other has none).
const MC_INFO: ReadonlyArray<CommandInfo | undefined> = MC_OP_NAMES.map((n) => memcacheCommand(n));

// A number's f64 as two u32 words (low first), as the profile's Number words keep it.
const NUM = new Float64Array(1);
const NUM_WORDS = new Uint32Array(NUM.buffer);

function startsAsciiReply(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 48 && c <= 57);
}

/** memcached text and meta (one ASCII connection may mix both). */
export class McAsciiSession extends Session {
  readonly protocol: "memcache-text" | "memcache-meta";
  #req = new AsciiRequestParser("client stream");
  #res = new AsciiResponseParser("server stream");
  #words = new Uint32Array(32);

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
    const info = MC_INFO[p.op];
    const name = info?.name ?? "other";
    const base: Partial<PendingRequest> = {
      ...(p.clientFlags >= 0 ? { flags: p.clientFlags } : {}),
      ...(p.ttl >= 0 ? { ttl: p.ttl } : {}),
      ...(p.valueLength >= 0 ? { valueLen: p.valueLength } : {}),
    };
    // get, gets, gat, gats: each key is a read of its own, paired by its VALUE line or END.
    if (info?.eachKey && p.keyCount > 0) {
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
      read: info?.class === "read", // mg (the get family is handled above)
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
    if (meta && p.keyCount > 0 && p.op !== McOp.MetaDebug) req.args = this.#metaWords(p);
    if (p.noreply && !meta) {
      // Text noreply: the server answers nothing (errors aside); the outcome is unknown. Behind
      // requests still waiting for their replies it waits its turn (as a request that no reply
      // answers), so that the profile keeps the order in which requests were sent.
      req.noreply = true;
      if (this.pending.length === 0) this.out(req, Status.None, NaN);
      else {
        req.quiet = true;
        req.silent = Status.None;
        this.push(req);
      }
      return;
    }
    if (p.op === McOp.Quit) {
      this.out(req, Status.Ok, NaN);
      return;
    }
    this.push(req);
  }

  // A meta request's words (the profile's ArgWord): the key, ms's data length as a value, then
  // each flag in order: its letter as an option word (a mode flag whole: `MA`), followed by its
  // number (`T60`, `F5`, `D2`, `N30`), or, for another token, its keyed hash. The opaque's
  // value (`O123`) is dropped: the server only echoes it back, replay makes its own.
  #metaWords(p: AsciiRequestParser): Uint32Array {
    const n = p.ntok;
    if (this.#words.length < n * 3 + 2) this.#words = new Uint32Array(n * 6 + 4);
    const w = this.#words;
    let k = 0;
    w[k++] = ArgWord.Key;
    let from = 2;
    if (p.op === McOp.MetaSet) {
      w[k++] = ArgWord.Value;
      w[k++] = Math.max(0, p.valueLength);
      from = 3;
    }
    const b = p.src;
    for (let t = from; t < n; t++) {
      const s = p.tokS[t]!;
      const e = p.tokE[t]!;
      const c = b[s]!;
      const mode = c === 77 && e - s === 2 ? metaFlagWord(c, b[s + 1]!) : -1;
      if (mode >= 0) {
        w[k++] = (mode << 3) | ArgWord.Token;
        continue;
      }
      const id = metaFlagWord(c);
      if (id < 0) continue; // not a flag: memcached refused the request; its shape says enough
      w[k++] = (id << 3) | ArgWord.Token;
      if (e - s === 1 || c === 79) continue; // O: the opaque's value is dropped
      let v = 0;
      let i = s + 1;
      for (; i < e && i - s < 16; i++) {
        const d = b[i]! - 48;
        if (d < 0 || d > 9) break;
        v = v * 10 + d;
      }
      if (i === e) {
        w[k++] = ArgWord.Number;
        NUM[0] = v;
        w[k++] = NUM_WORDS[0]!;
        w[k++] = NUM_WORDS[1]!;
      } else {
        this.hasher.hashKey(b, s + 1, e);
        w[k++] = (((e - s - 1) << 3) | ArgWord.Hash) >>> 0;
        w[k++] = this.hasher.hi;
        w[k++] = this.hasher.lo;
      }
    }
    return w.slice(0, k);
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

// Whether `b[s, e)` starts with a text or meta command word and a space or line end.
function startsCommand(b: Uint8Array, s: number, e: number): boolean {
  let w = "";
  for (let i = s; i < Math.min(e, s + 16); i++) {
    const c = b[i]!;
    if (c === 32 || c === 13 || c === 10) {
      const form = memcacheCommand(w)?.form;
      return form === "text" || form === "meta";
    }
    w += String.fromCharCode(c);
  }
  return false;
}

function quietCanAnswer(q: PendingRequest, st: number, opaque: number): boolean {
  if (q.noreply) return false; // text noreply: no reply is ever its own
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

function asciiStatus(st: number, head: PendingRequest): number {
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
