// This module uses no Deno APIs.
import { BinaryParser, BinOp, BinStatus, MC_OP_NAMES, McOp } from "../protocol/memcache/mod.ts";
import { memcacheCommand } from "../protocol/mod.ts";
import { NO_VALUE, Status } from "../profile/mod.ts";
import { Session } from "./session.ts";

// Per McOp: whether the catalogue makes it a read (get, gat: a hit or a miss), looked up once.
const MC_READ: readonly boolean[] = MC_OP_NAMES.map((n) => memcacheCommand(n)?.class === "read");

function startsBinaryReply(c: number): boolean {
  return c === 0x81;
}

/** memcached binary protocol, paired by opaque (and quiet-opcode rules when opaques repeat). */
export class McBinarySession extends Session {
  readonly protocol = "memcache-binary";
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
      const read = MC_READ[p.op]!;
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
