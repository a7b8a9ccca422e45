// This module uses no Deno APIs.
import {
  binaryExtras,
  BinOp,
  encodeBinary,
  encodeMcCommand,
  type McUnitEnd,
} from "../protocol/memcache/mod.ts";
import {
  type CommandFamily,
  COMMON_FORMS,
  type CommonOp,
  commonOp,
  findCommand,
  type ProtocolName,
} from "../protocol/mod.ts";
import { encodeCommand, type RespArg } from "../protocol/resp/mod.ts";
import { ArgWord, BOUND_PREFIXES, streamIdText } from "../profile/mod.ts";
import { keySlot, SLOTS } from "../cluster/mod.ts";

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/**
 * A deterministic key of `length` characters for a recorded key hash (and a copy number when
 * connections are multiplied with separate key spaces): the same hash always gives the same key,
 * so the key set and its reuse pattern survive. Characters are safe for memcached's text
 * protocol. Keys shorter than 11 characters hold fewer than 64 bits, so very short recorded keys
 * may collide as the originals could.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(synthesizeKey(0x12345678, 0x9abcdef0, 12), synthesizeKey(0x12345678, 0x9abcdef0, 12));
 * assert.equal(synthesizeKey(1, 2, 30).length, 30);
 * assert.notEqual(synthesizeKey(1, 2, 8, 0), synthesizeKey(1, 2, 8, 1));
 * ```
 */
export function synthesizeKey(
  hi: number,
  lo: number,
  length: number,
  copy = 0,
  slot = -1,
): string {
  const len = Math.max(1, Math.min(250, length));
  const b = new Uint8Array(len);
  writeSynthesizedKey(b, 0, hi, lo, len, copy, slot);
  return String.fromCharCode(...b);
}

const ALPHABET_CODES = Uint8Array.from(ALPHABET, (c) => c.charCodeAt(0));

/** Keys at least this long can carry a recorded cluster slot (their last 3 characters). */
export const SLOT_KEY_MIN = 3;

// Per slot, 3 key characters whose CRC16 (low 14 bits) is that slot (built on first use: 64^3
// candidates cover all 16384 slots).
let slotSuffixes: Uint8Array | undefined;

function slotSuffixTable(): Uint8Array {
  if (slotSuffixes) return slotSuffixes;
  const t = new Uint8Array(SLOTS * 3);
  const seen = new Uint8Array(SLOTS);
  const b = new Uint8Array(3);
  let left = SLOTS;
  for (let i = 0; i < 64 && left > 0; i++) {
    for (let j = 0; j < 64 && left > 0; j++) {
      for (let k = 0; k < 64 && left > 0; k++) {
        b[0] = ALPHABET_CODES[i]!;
        b[1] = ALPHABET_CODES[j]!;
        b[2] = ALPHABET_CODES[k]!;
        const s = keySlot(b);
        if (seen[s] === 1) continue;
        seen[s] = 1;
        t.set(b, s * 3);
        left--;
      }
    }
  }
  if (left > 0) throw new Error(`slot suffixes: ${left} slots without 3 characters`);
  return slotSuffixes = t;
}

/**
 * 3 key characters whose CRC16 is cluster slot `slot` on their own: what
 * {@linkcode writeSynthesizedKey} builds a slot-keeping key's last 3 characters from.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { keySlot } from "../cluster/mod.ts";
 * assert.equal(keySlot(slotSuffix(12182)), 12182);
 * ```
 */
export function slotSuffix(slot: number): string {
  const t = slotSuffixTable();
  return String.fromCharCode(t[slot * 3]!, t[slot * 3 + 1]!, t[slot * 3 + 2]!);
}

/**
 * Writes the key {@linkcode synthesizeKey} makes into `out` at `pos` (`len` bytes, 1..250). With
 * a cluster `slot` (0..16383) and `len` >= {@linkcode SLOT_KEY_MIN}, the key's last 3 characters
 * are chosen so that the whole key hashes to that slot (no hash tag; the length is kept and the
 * first `len - 3` characters still come from the hash, so a key keeps one name wherever it
 * appears, its slot being a function of the original key). The CRC16 Redis Cluster uses (XMODEM,
 * initial value 0) is linear: crc(P + S) = crc(P + "\0\0\0") xor crc(S), so S is the suffix
 * of the slot `slot xor crc(P + "\0\0\0")`.
 */
export function writeSynthesizedKey(
  out: Uint8Array,
  pos: number,
  hi: number,
  lo: number,
  len: number,
  copy = 0,
  slot = -1,
): void {
  let a = (hi ^ Math.imul(copy + 1, 0x9e3779b1)) >>> 0;
  let b = (lo ^ Math.imul(copy + 1, 0x85ebca6b)) >>> 0;
  for (let i = 0; i < len; i++) {
    if (i > 0 && i % 10 === 0) {
      // Re-mix for longer keys (after 60 bits are used).
      a = Math.imul(a ^ (a >>> 15), 0x2c1b3c6d) >>> 0;
      b = Math.imul(b ^ (b >>> 13), 0x297a2d39) >>> 0;
    }
    const bits = i % 10 < 5 ? (a >>> ((i % 5) * 6)) & 63 : (b >>> ((i % 5) * 6)) & 63;
    out[pos + i] = ALPHABET_CODES[bits]!;
  }
  if (slot >= 0 && slot < SLOTS && len >= SLOT_KEY_MIN) {
    // The last 3 characters: crc(P + 000) first, then the suffix that moves it to `slot`. Keys
    // of 3 to 10 characters keep fewer hash bits (14 of the slot plus 6 per other character).
    const end = pos + len;
    out[end - 3] = 0;
    out[end - 2] = 0;
    out[end - 1] = 0;
    const want = (slot ^ keySlot(out, pos, end)) & (SLOTS - 1);
    const t = slotSuffixTable();
    out[end - 3] = t[want * 3]!;
    out[end - 2] = t[want * 3 + 1]!;
    out[end - 1] = t[want * 3 + 2]!;
  }
}

// The common operations the text fast path writes: a key, and for storage a value.
const TEXT_FAST = new Set<CommonOp>([
  "get",
  "gets",
  "set",
  "add",
  "replace",
  "append",
  "prepend",
  "delete",
]);

/** How an op is written on the text fast path; computed once per op, not per event. */
export interface TextFastPlan {
  /** The text command's bytes (`get`, `set`, …). */
  cmd: Uint8Array;
  /** A read: hits and misses are counted. */
  read: boolean;
  /** A storage command: flags, TTL, length and a value follow the key. */
  store: boolean;
  /** Index into {@linkcode MC_UNITS}. */
  unit: number;
}

/**
 * The text fast-path plan of an op, or undefined when the op's common operation (in the command
 * catalogue) is not one of get, gets, set, add, replace, append, prepend, delete (the caller then
 * uses {@linkcode buildRequest}); see {@linkcode canonicalOp} for `family`.
 */
export function textFastPlan(op: string, family?: CommandFamily): TextFastPlan | undefined {
  // A meta set or arithmetic may carry a mode flag (`MA`, `MD`) that makes it another text
  // command: built one by one from its words.
  if (op === "ms" || op === "ma") return undefined;
  const c = canonicalOp(op, family);
  if (c === undefined || !TEXT_FAST.has(c)) return undefined;
  const cmd = COMMON_FORMS[c].text;
  const read = c === "get" || c === "gets";
  return {
    cmd: Uint8Array.from(cmd, (c) => c.charCodeAt(0)),
    read,
    store: !read && c !== "delete",
    unit: read ? 1 : 0,
  };
}

function uintWidth(v: number): number {
  let w = 1;
  while (v >= 10) {
    v = Math.floor(v / 10);
    w++;
  }
  return w;
}

function putUint(out: Uint8Array, pos: number, v: number): number {
  const w = uintWidth(v);
  for (let i = pos + w - 1; i >= pos; i--) {
    const q = Math.floor(v / 10);
    out[i] = 48 + v - q * 10;
    v = q;
  }
  return pos + w;
}

/** Bytes {@linkcode writeTextFast} will write for an event (0 when the event has no key). */
export function textFastSize(
  plan: TextFastPlan,
  keyLen: number,
  valueLen: number,
  flags: number,
  ttl: number,
): number {
  if (keyLen <= 0) return 0;
  const head = plan.cmd.length + 1 + Math.min(250, keyLen) + 2;
  if (!plan.store) return head;
  const vl = Math.max(0, valueLen);
  return head + 3 + uintWidth(flags) + uintWidth(Math.max(0, ttl)) + uintWidth(vl) + vl + 2;
}

/**
 * Writes the memcached text request of a common event into `out` at `pos`, the synthesized key
 * in place and no string built: the replay's hot path for text targets. `out` must have
 * {@linkcode textFastSize} bytes free at `pos`. Returns the position after the request.
 */
export function writeTextFast(
  out: Uint8Array,
  pos: number,
  plan: TextFastPlan,
  hi: number,
  lo: number,
  keyLen: number,
  copy: number,
  valueLen: number,
  flags: number,
  ttl: number,
  fill: (n: number) => Uint8Array,
): number {
  let p = pos;
  out.set(plan.cmd, p);
  p += plan.cmd.length;
  out[p++] = 32;
  const len = Math.min(250, keyLen);
  writeSynthesizedKey(out, p, hi, lo, len, copy);
  p += len;
  if (plan.store) {
    const vl = Math.max(0, valueLen);
    out[p++] = 32;
    p = putUint(out, p, flags);
    out[p++] = 32;
    p = putUint(out, p, Math.max(0, ttl));
    out[p++] = 32;
    p = putUint(out, p, vl);
    out[p++] = 13;
    out[p++] = 10;
    out.set(fill(vl), p);
    p += vl;
  }
  out[p++] = 13;
  out[p++] = 10;
  return p;
}

/** A request to replay, encoded, with how its reply ends and how to count it. */
export interface ReplayRequest {
  /** Wire bytes. */
  bytes: Uint8Array;
  /** Index into the protocol's unit table (memcached), or 0. */
  unit: number;
  /** Whether a miss/hit is counted (reads) . */
  read: boolean;
  /** Written quiet (meta `q`) or noreply: no reply of its own unless it fails. */
  quiet?: boolean;
}

/** Fields of one event a request is built from. */
export interface ReplayEvent {
  /** Op name as recorded. */
  op: string;
  /** Key (empty when none). */
  key: string;
  /** Value length (writes), or -1. */
  valueLen: number;
  /** TTL or -1. */
  ttl: number;
  /** Client flags. */
  flags: number;
  /** Recorded quiet or noreply: written so again where the target protocol can. */
  quiet?: boolean;
  /** The request's argument words (profile format 2.1), or none. */
  args?: Uint32Array | undefined;
  /** The profile's token table, which `args` token indexes refer to. */
  tokens?: readonly string[] | undefined;
  /** The key space copy (separate key spaces): other keys of the request are made in it too. */
  copy?: number;
  /**
   * The recorded cluster slot of the request's keys (replay into a cluster): other keys of the
   * request are put in it too. -1 or undefined: none.
   */
  slot?: number;
}

// Commands whose recorded arguments are not replayed (a password, a protocol switch, replies
// turned off, a connection that stops taking commands, a script known only by its hash): the op
// alone decides, as before 2.1 (most are then skipped and named).
const ARGS_NOT_REPLAYED = new Set([
  "auth",
  "eval",
  "eval_ro",
  "evalsha",
  "evalsha_ro",
  "fcall",
  "fcall_ro",
  "hello",
  "client|reply",
  "client|kill",
  "monitor",
  "sync",
  "psync",
  "shutdown",
  "quit",
  "reset",
  "subscribe",
  "psubscribe",
  "ssubscribe",
  "replicaof",
  "slaveof",
  "failover",
]);

/**
 * Commands a replay never sends, whatever was recorded: they would stop or reconfigure the target
 * (SHUTDOWN, REPLICAOF, FAILOVER, DEBUG, cluster membership), kill or pause other clients, or turn
 * the connection into a stream of pushes that are not replies (MONITOR, SUBSCRIBE, SYNC). They are
 * skipped and named, as a command that cannot be rebuilt is.
 */
export const NEVER_REPLAYED: ReadonlySet<string> = new Set([
  "shutdown",
  "replicaof",
  "slaveof",
  "failover",
  "debug",
  "monitor",
  "sync",
  "psync",
  "subscribe",
  "psubscribe",
  "ssubscribe",
  "client|kill",
  "client|pause",
  "cluster|failover",
  "cluster|reset",
  "cluster|forget",
  "cluster|meet",
  "cluster|addslots",
  "cluster|addslotsrange",
  "cluster|delslots",
  "cluster|delslotsrange",
  "cluster|setslot",
  "cluster|replicate",
  "module|load",
  "module|unload",
]);

const NUM = new Float64Array(1);
const NUM_WORDS = new Uint32Array(NUM.buffer);

function numberText(v: number): string {
  if (v === Infinity) return "+inf";
  if (v === -Infinity) return "-inf";
  return String(v);
}

/**
 * The RESP request of an event with recorded arguments (format 2.1), rebuilt word by word: the
 * op's words, then each argument as recorded (the key, option words, numbers, synthesized
 * fields and members of their recorded length from their keyed hash, values of their length).
 * Undefined when a word is not one the format defines or the call would not fit the command's
 * arity.
 */
export function buildFromArgs(
  e: ReplayEvent,
  fill: (n: number) => Uint8Array,
): ReplayRequest | undefined {
  const info = findCommand(e.op, "resp");
  const w = e.args;
  if (info === undefined || w === undefined) return undefined;
  const tokens = e.tokens ?? [];
  const args: RespArg[] = e.op.split("|").map((x) => x.toUpperCase());
  for (let i = 0; i < w.length;) {
    const x = w[i++]!;
    const up = x >>> 3;
    switch (x & 7) {
      case ArgWord.Key:
        if (e.key === "") return undefined;
        args.push(e.key);
        break;
      case ArgWord.Token: {
        const t = tokens[up];
        if (t === undefined) return undefined;
        args.push(t.toUpperCase());
        break;
      }
      case ArgWord.Number:
        if (i + 2 > w.length) return undefined;
        NUM_WORDS[0] = w[i++]!;
        NUM_WORDS[1] = w[i++]!;
        args.push((up & 1 ? "(" : "") + numberText(NUM[0]!));
        break;
      case ArgWord.Hash:
      case ArgWord.OtherKey: {
        if (i + 2 > w.length) return undefined;
        const b = new Uint8Array(up);
        const other = (x & 7) === ArgWord.OtherKey;
        const copy = other ? e.copy ?? 0 : 0;
        const slot = other ? e.slot ?? -1 : -1;
        if (up > 0) writeSynthesizedKey(b, 0, w[i]!, w[i + 1]!, up, copy, slot);
        i += 2;
        args.push(b);
        break;
      }
      case ArgWord.Value:
        if (i + 1 > w.length) return undefined;
        args.push(fill(w[i++]!));
        break;
      case ArgWord.StreamId:
        if (i + 4 > w.length) return undefined;
        args.push(streamIdText(w, i - 1));
        i += 4;
        break;
      case ArgWord.Bound: {
        // The bracket as recorded; the member made from its hash as a Hash word's is, so that
        // it names the member ZADD's replay added.
        if (i + 2 > w.length) return undefined;
        const p = up & 3;
        const len = up >>> 2;
        if (p >= 2) args.push(BOUND_PREFIXES[p]!);
        else {
          const b = new Uint8Array(1 + len);
          b[0] = BOUND_PREFIXES.charCodeAt(p);
          if (len > 0) writeSynthesizedKey(b, 1, w[i]!, w[i + 1]!, len, 0);
          args.push(b);
        }
        i += 2;
        break;
      }
      default:
        return undefined;
    }
  }
  if (!arityAllows(info.arity, args.length)) return undefined;
  return { bytes: encodeCommand(args), unit: 0, read: e.op === "get" };
}

/**
 * `cmd key rest\r\n[value\r\n]` written byte by byte: keys made by {@linkcode synthesizeKey} are
 * ASCII, so no text encoder is needed on this hot path.
 */
function asciiLine(cmd: string, key: string, rest: string, value?: Uint8Array): Uint8Array {
  const n = cmd.length + 1 + key.length + rest.length + 2 + (value ? value.length + 2 : 0);
  const out = new Uint8Array(n);
  let p = 0;
  for (let i = 0; i < cmd.length; i++) out[p++] = cmd.charCodeAt(i);
  out[p++] = 32;
  for (let i = 0; i < key.length; i++) out[p++] = key.charCodeAt(i);
  for (let i = 0; i < rest.length; i++) out[p++] = rest.charCodeAt(i);
  out[p++] = 13;
  out[p++] = 10;
  if (value) {
    out.set(value, p);
    p += value.length;
    out[p++] = 13;
    out[p++] = 10;
  }
  return out;
}

/** The unit table shared by all memcached replay requests (indices used in `unit`). */
export const MC_UNITS: McUnitEnd[] = [
  { kind: "line" }, // 0: one reply line
  { kind: "end", keys: 1 }, // 1: text get family, one key
  { kind: "opcode", opcode: BinOp.Get, keys: 1 }, // 2
  { kind: "opcode", opcode: BinOp.Set, keys: 0 }, // 3
  { kind: "opcode", opcode: BinOp.Add, keys: 0 }, // 4
  { kind: "opcode", opcode: BinOp.Replace, keys: 0 }, // 5
  { kind: "opcode", opcode: BinOp.Append, keys: 0 }, // 6
  { kind: "opcode", opcode: BinOp.Prepend, keys: 0 }, // 7
  { kind: "opcode", opcode: BinOp.Delete, keys: 0 }, // 8
  { kind: "opcode", opcode: BinOp.Increment, keys: 0 }, // 9
  { kind: "opcode", opcode: BinOp.Decrement, keys: 0 }, // 10
  { kind: "opcode", opcode: BinOp.Touch, keys: 0 }, // 11
  { kind: "opcode", opcode: BinOp.Gat, keys: 1 }, // 12
  { kind: "opcode", opcode: BinOp.Version, keys: 0 }, // 13
  { kind: "opcode", opcode: BinOp.Noop, keys: 0 }, // 14
  { kind: "mn", keys: 0 }, // 15: replies up to MN (quiet requests and the mn that fences them)
];

/** The {@linkcode MC_UNITS} index of an `mn` fence: every reply up to `MN`. */
export const MN_UNIT = 15;

/**
 * The {@linkcode MC_UNITS} index of a text multi-get of `keys` keys (reply lines up to `END`),
 * added to the table the first time it is asked for (the reply scanners read the same table).
 */
export function multiGetUnit(keys: number): number {
  const i = MC_UNITS.findIndex((u) => u.kind === "end" && u.keys === keys);
  if (i >= 0) return i;
  MC_UNITS.push({ kind: "end", keys });
  return MC_UNITS.length - 1;
}

/** `get k1 k2 ...\r\n` (or `gets`): one memcached text multi-get, as the client sent it. */
export function buildTextMultiGet(op: string, keys: readonly string[]): ReplayRequest | undefined {
  const plan = textFastPlan(op, "memcache");
  if (plan === undefined || !plan.read || keys.length === 0) return undefined;
  const cmd = String.fromCharCode(...plan.cmd);
  return { bytes: asciiLine(cmd, keys.join(" "), ""), unit: multiGetUnit(keys.length), read: true };
}

/** `mn\r\n`: the fence sent after quiet requests whose recorded fence is not the next request. */
export const MN_FENCE: Uint8Array = Uint8Array.from([109, 110, 13, 10]);

/** The {@linkcode MC_UNITS} index of a binary NOOP: every response up to the NOOP's. */
export const NOOP_UNIT = 14;

/**
 * The fence a replay to `target` sends after quiet requests (meta and text: `mn`; binary: NOOP),
 * and its unit: every reply up to the fence's is the quiet requests' (a hit, a failure).
 */
export function quietFence(target: ProtocolName): { bytes: Uint8Array; unit: number } {
  return target === "memcache-binary"
    ? { bytes: encodeBinary({ opcode: BinOp.Noop }), unit: NOOP_UNIT }
    : { bytes: MN_FENCE, unit: MN_UNIT };
}

// The quiet opcode of each binary request opcode that has one (touch has none).
const BINARY_QUIET: ReadonlyMap<number, number> = new Map([
  [BinOp.Get, BinOp.GetKQ],
  [BinOp.Gat, BinOp.GatKQ],
  [BinOp.Set, BinOp.SetQ],
  [BinOp.Add, BinOp.AddQ],
  [BinOp.Replace, BinOp.ReplaceQ],
  [BinOp.Append, BinOp.AppendQ],
  [BinOp.Prepend, BinOp.PrependQ],
  [BinOp.Delete, BinOp.DeleteQ],
  [BinOp.Increment, BinOp.IncrementQ],
  [BinOp.Decrement, BinOp.DecrementQ],
]);

interface BinaryShape {
  opcode: number;
  read: boolean;
  /** A value of the recorded length is sent. */
  value: boolean;
  extras: "none" | "ttl" | "store" | "counter";
  /** Index into MC_UNITS: the reply ends at this opcode. */
  unit: number;
}

function binaryShape(c: CommonOp, read: boolean, value: boolean, extras: BinaryShape["extras"]) {
  const opcode = COMMON_FORMS[c].binary;
  const unit = MC_UNITS.findIndex((u) => u.kind === "opcode" && u.opcode === opcode);
  return { opcode, read, value, extras, unit };
}

// The binary request of each common operation (noop aside): opcodes from the catalogue.
const BINARY: Partial<Record<CommonOp, BinaryShape>> = {
  get: binaryShape("get", true, false, "none"),
  gets: binaryShape("gets", true, false, "none"),
  gat: binaryShape("gat", true, false, "ttl"),
  set: binaryShape("set", false, true, "store"),
  cas: binaryShape("cas", false, true, "store"),
  add: binaryShape("add", false, true, "store"),
  replace: binaryShape("replace", false, true, "store"),
  append: binaryShape("append", false, true, "none"),
  prepend: binaryShape("prepend", false, true, "none"),
  delete: binaryShape("delete", false, false, "none"),
  incr: binaryShape("incr", false, false, "counter"),
  decr: binaryShape("decr", false, false, "counter"),
  touch: binaryShape("touch", false, false, "ttl"),
};

/**
 * The common operation of a recorded op name, or undefined when it has none, from the command
 * catalogue: as `family` knows the name when it does (RESP's TOUCH sets no TTL, memcached's
 * touch does), else as any family does (a profile may mix protocols).
 */
export function canonicalOp(op: string, family?: CommandFamily): CommonOp | undefined {
  if (family !== undefined && findCommand(op, family) !== undefined) return commonOp(op, family);
  return commonOp(op);
}

const te = new TextEncoder();

// A RESP command's arity as COMMAND INFO gives it: n exactly, or at least -n when negative.
function arityAllows(arity: number, n: number): boolean {
  return arity >= 0 ? n === arity : n >= -arity;
}

/**
 * The RESP request of one multi-key call (MGET, MSET, DEL k1 k2, EXISTS, ...), rebuilt as one
 * command: `op`'s words, then each key, followed by a value of its recorded length when the
 * command takes key/value pairs. Undefined when the command is not a multi-key one the catalogue
 * knows.
 */
export function buildMultiKeyRequest(
  op: string,
  keys: readonly string[],
  valueLens: readonly number[],
  fill: (n: number) => Uint8Array,
): ReplayRequest | undefined {
  const info = findCommand(op, "resp");
  if (info === undefined || !info.eachKey || keys.length === 0) return undefined;
  const pairs = info.value?.kind === "pairs";
  const args: RespArg[] = op.split("|").map((w) => w.toUpperCase());
  keys.forEach((k, i) => {
    args.push(k);
    if (pairs) args.push(fill(Math.max(0, valueLens[i] ?? 0)));
  });
  if (!arityAllows(info.arity, args.length)) return undefined;
  return { bytes: encodeCommand(args), unit: 0, read: info.hits !== "none" };
}

/**
 * Builds the request for one recorded event in the target protocol. Same-family RESP commands
 * without a common operation are rebuilt as `COMMAND key [value]`; the others are written as the
 * command catalogue's common operation in the target protocol ({@linkcode COMMON_FORMS}: get,
 * set with TTL, add, replace, append, delete, incr, decr, touch). Returns undefined for events
 * that cannot be rebuilt (no key, or an op with no equivalent).
 */
export function buildRequest(
  e: ReplayEvent,
  target: ProtocolName,
  sourceIsResp: boolean,
  fill: (n: number) => Uint8Array,
): ReplayRequest | undefined {
  if (NEVER_REPLAYED.has(e.op)) return undefined;
  if (target === "resp" && sourceIsResp && e.args !== undefined && !ARGS_NOT_REPLAYED.has(e.op)) {
    return buildFromArgs(e, fill);
  }
  const meta = !sourceIsResp && e.args !== undefined && e.tokens !== undefined &&
    META_OPS.has(e.op);
  if (meta && target === "memcache-meta") return buildMetaFromArgs(e, fill);
  const m = meta ? metaShape(e) : undefined;
  const c = m?.op ?? canonicalOp(e.op, sourceIsResp ? "resp" : "memcache");
  if (target === "resp") {
    // A RESP command replayed to RESP is itself, never its common operation's command (INCRBY is
    // not INCR, SETEX is not SET).
    if (sourceIsResp && (c === undefined || COMMON_FORMS[c].resp.toLowerCase() !== e.op)) {
      // `COMMAND [SUB] [key] [value]`, when that is a call the command's arity allows; anything
      // else (HSET's fields, CONFIG GET's pattern, ...) cannot be rebuilt from a version 1 or 2
      // event and is skipped (counted and named by the caller), never sent changed.
      // The TTL the catalogue places (EXPIRE's, PEXPIRE's, SETEX's argument; GETEX's option) is
      // a recorded number and goes back in its place, in the command's unit.
      const args: RespArg[] = e.op.split("|").map((w) => w.toUpperCase());
      if (e.key) args.push(e.key);
      const info = findCommand(e.op, "resp");
      const t = info?.ttl;
      const ttlArg = e.key !== "" && t?.kind === "arg" && t.at === args.length && e.ttl >= 0;
      if (ttlArg) args.push(t.unit === "ms" ? e.ttl * 1000 : e.ttl);
      // A read's recorded value length is its reply's: only a command that takes a value
      // (the catalogue's value argument) is sent one.
      const withValue = e.key !== "" && e.valueLen >= 0 && info?.value !== undefined;
      if (info === undefined || !arityAllows(info.arity, args.length + (withValue ? 1 : 0))) {
        return undefined;
      }
      if (withValue) args.push(fill(e.valueLen));
      if (e.key !== "" && t?.kind === "options" && t.from === args.length && e.ttl > 0) {
        args.push("EX", e.ttl);
      }
      return { bytes: encodeCommand(args), unit: 0, read: false };
    }
    if (c === undefined) return undefined;
    const f = COMMON_FORMS[c];
    if (c === "noop") return { bytes: encodeCommand([f.resp]), unit: 0, read: false };
    if (!e.key) return undefined;
    switch (c) {
      case "get":
      case "gets":
      case "gat":
        return { bytes: encodeCommand([f.resp, e.key]), unit: 0, read: true };
      case "set":
      case "add":
      case "replace":
      case "append":
      case "prepend":
      case "cas": {
        const args: RespArg[] = [f.resp, e.key, fill(Math.max(0, e.valueLen))];
        if (c === "set" && e.ttl > 0) args.push("EX", e.ttl);
        if (f.respOption) args.push(f.respOption);
        return { bytes: encodeCommand(args), unit: 0, read: false };
      }
      case "delete":
      case "incr":
      case "decr":
        return { bytes: encodeCommand([f.resp, e.key]), unit: 0, read: false };
      case "touch":
        return {
          bytes: encodeCommand([f.resp, e.key, Math.max(1, e.ttl)]),
          unit: 0,
          read: false,
        };
    }
  }
  if (c === undefined) return undefined;
  const f = COMMON_FORMS[c];
  const ttl = Math.max(0, e.ttl);
  if (c === "noop") {
    if (target === "memcache-binary") {
      return { bytes: encodeBinary({ opcode: f.binary }), unit: 14, read: false };
    }
    // A recorded mn stays mn (the fence of quiet requests: every reply up to MN is its own).
    if (e.op === "mn") return { bytes: MN_FENCE, unit: MN_UNIT, read: false };
    return { bytes: te.encode(`${f.text}\r\n`), unit: 0, read: false };
  }
  if (!e.key) return undefined;
  const v = () => fill(Math.max(0, e.valueLen));
  const nr = e.quiet === true && target === "memcache-text" ? " noreply" : "";
  if (target === "memcache-text") {
    switch (c) {
      case "get":
      case "gets":
        return { bytes: asciiLine(f.text, e.key, ""), unit: 1, read: true };
      case "gat":
        return { bytes: encodeMcCommand([f.text, ttl, e.key]), unit: 1, read: true };
      case "set":
      case "add":
      case "replace":
      case "append":
      case "prepend":
      case "cas": {
        const value = v();
        return {
          bytes: asciiLine(f.text, e.key, ` ${e.flags} ${ttl} ${value.length}${nr}`, value),
          unit: 0,
          read: false,
          quiet: nr !== "",
        };
      }
      case "delete":
        return { bytes: asciiLine(f.text, e.key, nr), unit: 0, read: false, quiet: nr !== "" };
      case "incr":
      case "decr":
        return {
          bytes: asciiLine(f.text, e.key, ` ${m?.delta ?? 1}${nr}`),
          unit: 0,
          read: false,
          quiet: nr !== "",
        };
      case "touch":
        return {
          bytes: asciiLine(f.text, e.key, ` ${ttl}${nr}`),
          unit: 0,
          read: false,
          quiet: nr !== "",
        };
    }
  }
  if (target === "memcache-meta") {
    const mode = f.metaMode ? [f.metaMode] : [];
    if (e.quiet) mode.push("q");
    const quiet = e.quiet === true;
    switch (c) {
      case "get":
      case "gets":
        return {
          bytes: encodeMcCommand([f.meta, e.key, "v", "f", ...mode]),
          unit: 0,
          read: true,
          quiet,
        };
      case "gat":
        return {
          bytes: encodeMcCommand([f.meta, e.key, "v", `T${ttl}`, ...mode]),
          unit: 0,
          read: true,
          quiet,
        };
      case "set":
      case "add":
      case "replace":
      case "append":
      case "prepend":
      case "cas": {
        const value = v();
        return {
          bytes: encodeMcCommand(
            [f.meta, e.key, value.length, `T${ttl}`, `F${e.flags}`, ...mode],
            value,
          ),
          unit: 0,
          read: false,
          quiet,
        };
      }
      case "delete":
        return { bytes: encodeMcCommand([f.meta, e.key, ...mode]), unit: 0, read: false, quiet };
      case "incr":
      case "decr":
        return { bytes: encodeMcCommand([f.meta, e.key, ...mode]), unit: 0, read: false, quiet };
      case "touch":
        return {
          bytes: encodeMcCommand([f.meta, e.key, `T${ttl}`, ...mode]),
          unit: 0,
          read: false,
          quiet,
        };
    }
  }
  // Binary: one table row per common op.
  const b = BINARY[c];
  if (b === undefined) return undefined;
  const extras = b.extras === "store"
    ? binaryExtras({ flags: e.flags, ttl })
    : b.extras === "ttl"
    ? binaryExtras({ ttl })
    : b.extras === "counter"
    ? binaryExtras({ delta: 1, initial: 0, ttl: 0xffffffff }) // never auto-create
    : undefined;
  // Recorded quiet (GETKQ, SETQ, ... fenced by NOOP): sent quiet again, where an opcode is.
  const quietOp = e.quiet === true ? BINARY_QUIET.get(b.opcode) : undefined;
  return {
    bytes: encodeBinary({
      opcode: quietOp ?? b.opcode,
      key: e.key,
      ...(b.value ? { value: v() } : {}),
      ...(extras ? { extras } : {}),
    }),
    unit: b.unit,
    read: b.read,
    ...(quietOp !== undefined ? { quiet: true } : {}),
  };
}

// The meta commands whose recorded flags (profile format 2.1 words) are replayed.
const META_OPS = new Set(["mg", "ms", "md", "ma"]);
// What a meta mode flag makes of ms and ma in another protocol.
const META_MODES: Record<string, CommonOp> = {
  ME: "add",
  Me: "add",
  MA: "append",
  Ma: "append",
  MP: "prepend",
  Mp: "prepend",
  MR: "replace",
  Mr: "replace",
  MS: "set",
  Ms: "set",
  MI: "incr",
  Mi: "incr",
  "M+": "incr",
  MD: "decr",
  Md: "decr",
  "M-": "decr",
};

/**
 * Walks a meta request's words: calls `flag` with each flag's word and its number (or NaN), or
 * its hashed token's length and low hash word; `value` with ms's data length.
 */
function metaWords(
  e: ReplayEvent,
  flag: (word: string, num: number, hashLen: number, hash: number) => void,
  value?: (len: number) => void,
): void {
  const w = e.args!;
  const tokens = e.tokens!;
  for (let i = 0; i < w.length;) {
    const kind = w[i]! & 7;
    if (kind === ArgWord.Key) i++;
    else if (kind === ArgWord.Value) {
      value?.(w[i + 1]!);
      i += 2;
    } else if (kind === ArgWord.Token) {
      const word = tokens[w[i]! >>> 3] ?? "";
      i++;
      const next = i < w.length ? w[i]! & 7 : -1;
      if (next === ArgWord.Number) {
        NUM_WORDS[0] = w[i + 1]!;
        NUM_WORDS[1] = w[i + 2]!;
        flag(word, NUM[0]!, -1, 0);
        i += 3;
      } else if (next === ArgWord.Hash) {
        flag(word, NaN, w[i]! >>> 3, w[i + 2]!);
        i += 3;
      } else flag(word, NaN, -1, 0);
    } else if (kind === ArgWord.Number || kind === ArgWord.Hash || kind === ArgWord.OtherKey) {
      i += 3;
    } else i++;
  }
}

/** A meta ms/ma's mode as a common op, and ma's delta (`D`), for other protocols. */
function metaShape(e: ReplayEvent): { op?: CommonOp; delta?: number } {
  const out: { op?: CommonOp; delta?: number } = {};
  metaWords(e, (word, num) => {
    if (word.length === 2 && word[0] === "M" && META_MODES[word]) {
      const mode = META_MODES[word]!;
      // ms modes are store ops, ma modes counter ops: a mode foreign to its command is ignored.
      if ((e.op === "ma") === (mode === "incr" || mode === "decr")) out.op = mode;
    } else if (word === "D" && num === num) out.delta = num;
  });
  return out;
}

let metaOpaque = 0;

/**
 * A recorded meta request (mg, ms, md, ma with its 2.1 words) rebuilt with the same flags in
 * the same order: option letters as they were, numbers as recorded (`T60`, `F5`, `D2`), the
 * data length and value of ms at their recorded size, an opaque of replay's own where the
 * client sent one (`O<n>`), a key in base64 where the client used `b`.
 */
function buildMetaFromArgs(e: ReplayEvent, fill: (n: number) => Uint8Array): ReplayRequest {
  const flags: Array<string | number> = [];
  let quiet = false;
  let base64 = false;
  let valueLen = -1;
  metaWords(e, (word, num, hashLen, hash) => {
    if (word === "q") quiet = true;
    if (word === "b") base64 = true;
    if (word === "O") flags.push(`O${(metaOpaque = (metaOpaque + 1) >>> 0)}`);
    else if (num === num) flags.push(`${word}${num}`);
    else if (hashLen >= 0) {
      // A token that was neither a number nor a flag word: its hash, at its recorded length.
      let h = (hash >>> 0).toString(36);
      while (h.length < hashLen) h += h;
      flags.push(`${word}${h.slice(0, hashLen)}`);
    } else flags.push(word);
  }, (len) => valueLen = len);
  let key = e.key;
  if (base64) {
    // The recorded key was base64 of about 3/4 of its length: the replay key's prefix, encoded.
    key = btoa(key.slice(0, Math.max(1, Math.floor(key.length * 3 / 4))));
  }
  const head: Array<string | number> = [e.op, key];
  if (e.op === "ms") {
    const value = fill(Math.max(0, valueLen >= 0 ? valueLen : e.valueLen));
    return {
      bytes: encodeMcCommand([...head, value.length, ...flags], value),
      unit: 0,
      read: false,
      quiet,
    };
  }
  return {
    bytes: encodeMcCommand([...head, ...flags]),
    unit: 0,
    read: e.op === "mg",
    quiet,
  };
}
