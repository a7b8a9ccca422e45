import { MembenchError } from "../errors/mod.ts";
import {
  binaryExtras,
  BinOp,
  McAsciiReplyScanner,
  McBinaryReplyScanner,
  type McUnitEnd,
  type WirePart,
  WireTemplate,
} from "../protocol/memcache/mod.ts";
import {
  CommandTemplate,
  ReplyScanner,
  type TemplateArg,
  type TemplatePart,
} from "../protocol/resp/mod.ts";
import {
  openMemcache,
  type ReplyReader,
  RespConnection,
  type Target,
  type Transport,
} from "../net/mod.ts";
import { COMMON_FORMS, type CommonOp, type ProtocolName } from "../protocol/mod.ts";
import type { CommandSpec } from "../workload/mod.ts";

/** memcached-specific workload settings. */
export interface McWorkload {
  /** Keys per read request (get/gets/gat/gats); 1 is a single-key get. */
  multiget: number;
  /** Writes without a reply: text `noreply`, meta `q`, binary quiet opcodes; fenced by mn/NOOP. */
  noreply: boolean;
  /** Expiry in seconds for writes, touch and gat (0 = never). */
  ttl: number;
  /** Client flags stored with values. */
  flags: number;
}

/** A request shape the engine renders per request. */
export interface WireRequest {
  /** Number of key-id slots. */
  readonly digitSlots: number;
  /** Whether it carries a value. */
  readonly hasData: boolean;
  /** Upper bound of its size for a value of `dataLength` bytes. */
  maxLength(dataLength: number): number;
  /** Writes one request; returns the position after it. */
  render(out: Uint8Array, pos: number, ids: ArrayLike<number>, dataLength: number): number;
}

/** How hits are counted: 0 none, 1 by reply kind, 2 per key, 3 non-empty aggregate. */
export type HitCode = 0 | 1 | 2 | 3;

/** A compiled command: its request shape and how to count its hits. */
export interface CompiledRequest {
  /** The request. */
  request: WireRequest;
  /** Hit counting. */
  hits: HitCode;
}

/** What a protocol gives the engine. */
export interface Dialect {
  /** Compiles every command of a run; index = the command's index in the mix. */
  compile(specs: readonly CommandSpec[]): CompiledRequest[];
  /** Connects (and authenticates); `readOnly` (RESP, cluster replicas) sends READONLY. */
  open(target: Target, readOnly?: boolean): Promise<Transport>;
  /** A reply reader for one connection. */
  replies(name: string): ReplyReader;
}

/** Settings a dialect needs. */
export interface DialectConfig {
  /** Protocol. */
  protocol: ProtocolName;
  /** Key prefix of `__key__` / memcached keys. */
  keyPrefix: string;
  /** Keys. */
  keyspace: number;
  /** RESP3 (RESP only). */
  resp3: boolean;
  /** CLIENT SETNAME (RESP only). */
  clientName: string | undefined;
  /** Connect timeout. */
  connectTimeoutMs: number;
  /** Reply timeout for handshakes. */
  requestTimeoutMs: number;
  /** memcached settings. */
  memcache: McWorkload;
  /** Open libc sockets for the io_uring loop instead of Deno connections. */
  socket?: boolean;
}

const KEY_RAND_WIDTH = 12;

/** Compiles a workload command into a RESP template for a keyspace. */
export function compileCommand(
  spec: CommandSpec,
  keyPrefix: string,
  keyspace: number,
): CommandTemplate {
  const keyWidth = String(Math.max(0, keyspace - 1)).length;
  const args: TemplateArg[] = spec.args.map((parts) => {
    const out: TemplatePart[] = [];
    for (const p of parts) {
      if ("literal" in p) out.push({ literal: p.literal });
      else if (p.slot === "key") out.push({ literal: keyPrefix }, { digits: keyWidth });
      else if (p.slot === "rand") out.push({ digits: KEY_RAND_WIDTH });
      else out.push({ data: true });
    }
    return out.filter((p) => !("literal" in p) || p.literal.length > 0);
  });
  return new CommandTemplate(args);
}

function hitCode(spec: CommandSpec): HitCode {
  return spec.hits === "value" ? 1 : spec.hits === "keys" ? 2 : spec.hits === "nonempty" ? 3 : 0;
}

/** The dialect for a protocol. */
export function makeDialect(cfg: DialectConfig): Dialect {
  if (cfg.protocol === "resp") {
    return {
      compile: (specs) =>
        specs.map((s) => ({
          request: compileCommand(s, cfg.keyPrefix, cfg.keyspace),
          hits: hitCode(s),
        })),
      open: async (target, readOnly) => {
        const c = await RespConnection.open(target, {
          resp3: cfg.resp3,
          connectTimeoutMs: cfg.connectTimeoutMs,
          requestTimeoutMs: cfg.requestTimeoutMs,
          socket: cfg.socket ?? false,
          ...(cfg.clientName !== undefined ? { clientName: cfg.clientName } : {}),
        });
        if (readOnly) {
          const r = await c.command(["READONLY"]);
          if (r.type === "error") {
            c.close();
            throw new MembenchError("server", `${c.name}: READONLY failed: ${r.value}`);
          }
        }
        return c.transport;
      },
      replies: (name) => new ReplyScanner(name),
    };
  }
  const units: McUnitEnd[] = [];
  const binary = cfg.protocol === "memcache-binary";
  return {
    compile: (specs) =>
      specs.map((s) => {
        const c = compileMemcache(cfg.protocol, s, cfg.keyPrefix, cfg.keyspace, cfg.memcache);
        units.push(c.end);
        return { request: new WireTemplate(c.parts), hits: c.hits };
      }),
    open: (target) =>
      openMemcache(target, {
        protocol: binary ? "binary" : "text",
        connectTimeoutMs: cfg.connectTimeoutMs,
        requestTimeoutMs: cfg.requestTimeoutMs,
        socket: cfg.socket ?? false,
      }),
    replies: (name) =>
      binary ? new McBinaryReplyScanner(units, name) : new McAsciiReplyScanner(units, name),
  };
}

const BIN_WRITE: Record<string, [number, number]> = {
  set: [BinOp.Set, BinOp.SetQ],
  add: [BinOp.Add, BinOp.AddQ],
  replace: [BinOp.Replace, BinOp.ReplaceQ],
  append: [BinOp.Append, BinOp.AppendQ],
  prepend: [BinOp.Prepend, BinOp.PrependQ],
  delete: [BinOp.Delete, BinOp.DeleteQ],
  incr: [BinOp.Increment, BinOp.IncrementQ],
  decr: [BinOp.Decrement, BinOp.DecrementQ],
};

/**
 * The wire form of a memcached test in one protocol: the request pieces, what ends its reply,
 * and how its hits are counted. Keys are the prefix and a zero-padded id (incr/decr use
 * `counter:`); a multi-get asks for `multiget` keys in one unit (text `get k1 k2 …`, meta
 * quiet `mg … q` then `mn`, binary GETKQ … then NOOP).
 */
export function compileMemcache(
  protocol: ProtocolName,
  spec: CommandSpec,
  keyPrefix: string,
  keyspace: number,
  o: McWorkload,
): { parts: WirePart[]; end: McUnitEnd; hits: HitCode } {
  const width = String(Math.max(0, keyspace - 1)).length;
  const name = spec.command;
  const counter = name === "incr" || name === "decr";
  const prefix = counter ? "counter:" : keyPrefix;
  const key = (): WirePart[] => [{ literal: prefix }, { digits: width }];
  const keyLen = new TextEncoder().encode(prefix).length + width;
  const read = name === "get" || name === "gets" || name === "gat" || name === "gats";
  const n = read ? o.multiget : 1;
  const quiet = o.noreply && !read && name !== "version";
  const writeHits: HitCode = name === "set" ? 0 : 1;
  const P: WirePart[] = [];
  const lit = (s: string) => P.push({ literal: s });

  if (protocol === "memcache-text") {
    if (read) {
      lit(name === "gat" || name === "gats" ? `${name} ${o.ttl}` : name);
      for (let i = 0; i < n; i++) lit(" "), P.push(...key());
      lit("\r\n");
      return { parts: P, end: { kind: "end", keys: n }, hits: n > 1 ? 2 : 1 };
    }
    const nr = quiet ? " noreply" : "";
    if (name === "version") {
      lit("version\r\n");
      return { parts: P, end: { kind: "line" }, hits: 0 };
    }
    if (name === "delete") lit("delete "), P.push(...key()), lit(`${nr}\r\n`);
    else if (counter) lit(`${name} `), P.push(...key()), lit(` 1${nr}\r\n`);
    else if (name === "touch") lit("touch "), P.push(...key()), lit(` ${o.ttl}${nr}\r\n`);
    else {
      lit(`${name} `), P.push(...key()), lit(` ${o.flags} ${o.ttl} `);
      P.push({ dataLength: true }), lit(`${nr}\r\n`), P.push({ data: true }), lit("\r\n");
    }
    if (!quiet) return { parts: P, end: { kind: "line" }, hits: writeHits };
    // Text noreply hides every outcome but errors: a trailing mn fences the unit.
    lit("mn\r\n");
    return { parts: P, end: { kind: "mn", keys: 0 }, hits: 0 };
  }

  if (protocol === "memcache-meta") {
    if (read) {
      const flags = (name === "gets" || name === "gats" ? " v c" : " v") +
        (name === "gat" || name === "gats" ? ` T${o.ttl}` : "");
      for (let i = 0; i < n; i++) {
        lit("mg "), P.push(...key()), lit(`${flags}${n > 1 ? " q" : ""}\r\n`);
      }
      if (n === 1) return { parts: P, end: { kind: "line" }, hits: 1 };
      lit("mn\r\n");
      return { parts: P, end: { kind: "mn", keys: n }, hits: 2 };
    }
    if (name === "version") {
      lit("version\r\n");
      return { parts: P, end: { kind: "line" }, hits: 0 };
    }
    const q = quiet ? " q" : "";
    if (name === "delete") lit("md "), P.push(...key()), lit(`${q}\r\n`);
    else if (counter) lit("ma "), P.push(...key()), lit(`${name === "decr" ? " MD" : ""}${q}\r\n`);
    else if (name === "touch") lit("mg "), P.push(...key()), lit(` T${o.ttl}${q}\r\n`);
    else {
      lit("ms "), P.push(...key()), lit(" "), P.push({ dataLength: true });
      const metaMode = COMMON_FORMS[name as CommonOp]?.metaMode;
      const mode = metaMode ? ` ${metaMode}` : "";
      lit(` T${o.ttl} F${o.flags}${mode}${q}\r\n`), P.push({ data: true }), lit("\r\n");
    }
    if (!quiet) return { parts: P, end: { kind: "line" }, hits: writeHits };
    lit("mn\r\n");
    // A quiet touch hides its miss (EN) but shows its hit (HD): one key, counted like a read.
    return { parts: P, end: { kind: "mn", keys: name === "touch" ? 1 : 0 }, hits: writeHits };
  }

  // Binary: header (magic, opcode, key length, extras length, data type, vbucket), body
  // length (extras + key + value), opaque and CAS (zero), extras, key, value.
  const header = (opcode: number, extras: Uint8Array, withKey: boolean, data: boolean) => {
    const kl = withKey ? keyLen : 0;
    P.push({ literal: Uint8Array.of(0x80, opcode, kl >> 8, kl & 255, extras.length, 0, 0, 0) });
    P.push({ bodyLength: extras.length + kl, withData: data }, { literal: new Uint8Array(12) });
    if (extras.length > 0) P.push({ literal: extras });
    if (withKey) P.push(...key());
    if (data) P.push({ data: true });
  };
  const none = new Uint8Array(0);
  if (read) {
    const gat = name === "gat" || name === "gats";
    const ex = gat ? binaryExtras({ ttl: o.ttl }) : none;
    if (n === 1) {
      const op = gat ? BinOp.Gat : BinOp.Get;
      header(op, ex, true, false);
      return { parts: P, end: { kind: "opcode", opcode: op, keys: 1 }, hits: 1 };
    }
    for (let i = 0; i < n; i++) header(gat ? BinOp.GatKQ : BinOp.GetKQ, ex, true, false);
    header(BinOp.Noop, none, false, false);
    return { parts: P, end: { kind: "opcode", opcode: BinOp.Noop, keys: n }, hits: 2 };
  }
  if (name === "version") {
    header(BinOp.Version, none, false, false);
    return { parts: P, end: { kind: "opcode", opcode: BinOp.Version, keys: 0 }, hits: 0 };
  }
  if (name === "touch") {
    header(BinOp.Touch, binaryExtras({ ttl: o.ttl }), true, false);
    return { parts: P, end: { kind: "opcode", opcode: BinOp.Touch, keys: 0 }, hits: 1 };
  }
  const [plain, q] = BIN_WRITE[name]!;
  const op = quiet ? q : plain;
  const extras = counter
    ? binaryExtras({ delta: 1, initial: 0, ttl: 0xffffffff }) // no auto-create: a miss is a miss
    : name === "set" || name === "add" || name === "replace"
    ? binaryExtras({ flags: o.flags, ttl: o.ttl })
    : none;
  const data = !counter && name !== "delete";
  header(op, extras, true, data);
  if (!quiet) return { parts: P, end: { kind: "opcode", opcode: op, keys: 0 }, hits: writeHits };
  header(BinOp.Noop, none, false, false);
  return { parts: P, end: { kind: "opcode", opcode: BinOp.Noop, keys: 0 }, hits: writeHits };
}
