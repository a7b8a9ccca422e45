// This module uses no Deno APIs.
/**
 * The command catalogue, read: look a command up by name, find its keys in a request's
 * arguments, tell its common operation. The rows are in `command_table.ts`; lookups are maps
 * built once, and {@linkcode commandKeys} allocates nothing, so capture's and replay's hot paths
 * may call them per request.
 *
 * @module
 */
import { MEMCACHE_COMMANDS, RESP_COMMANDS } from "./command_table.ts";
import type { ArgSpec, CommandFamily, CommandInfo, CommonOp } from "./command_types.ts";

// Commands and the subcommands containers list (`config|get`, as recorded op names say them).
const RESP_BY_NAME: ReadonlyMap<string, CommandInfo> = new Map(
  RESP_COMMANDS.flatMap((c) => [c, ...(c.subcommands ?? [])]).map((c) => [c.name, c]),
);
const MEMCACHE_BY_NAME: ReadonlyMap<string, CommandInfo> = new Map(
  MEMCACHE_COMMANDS.map((c) => [c.name, c]),
);

/**
 * The RESP command of a lower-case name (a listed subcommand as `container|sub`), or undefined
 * when membench does not know it.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(respCommand("mget")?.hits, "keys");
 * assert.equal(respCommand("MGET"), undefined); // names are lower case
 * ```
 */
export function respCommand(name: string): CommandInfo | undefined {
  return RESP_BY_NAME.get(name);
}

/**
 * The memcached command of a lower-case name (text, meta, or a binary opcode's name), or
 * undefined.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(memcacheCommand("mg")?.form, "meta");
 * assert.equal(memcacheCommand("gat")?.firstKey, 2); // gat <exptime> <key>*
 * ```
 */
export function memcacheCommand(name: string): CommandInfo | undefined {
  return MEMCACHE_BY_NAME.get(name);
}

/**
 * A command by lower-case name in one family, or, without a family, the memcached command of
 * that name and else the RESP one. Names both families use (get, set, incr, decr, append,
 * touch, quit) agree on everything analysis reads (`stores`); they differ in `common` only for
 * touch (memcached touch sets a TTL, Redis' TOUCH does not), so pass the family when you have it.
 */
export function findCommand(name: string, family?: CommandFamily): CommandInfo | undefined {
  if (family === "resp") return RESP_BY_NAME.get(name);
  if (family === "memcache") return MEMCACHE_BY_NAME.get(name);
  return MEMCACHE_BY_NAME.get(name) ?? RESP_BY_NAME.get(name);
}

/**
 * The common operation a recorded op name stands for (`mget` -> get, `md` -> delete,
 * `setex` -> set), or undefined when it has none; see {@linkcode findCommand} for `family`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(commonOp("unlink", "resp"), "delete");
 * assert.equal(commonOp("touch", "resp"), undefined); // Redis' TOUCH sets no TTL
 * assert.equal(commonOp("touch"), "touch"); // memcached's touch
 * ```
 */
export function commonOp(name: string, family?: CommandFamily): CommonOp | undefined {
  return findCommand(name, family)?.common;
}

/**
 * The subcommand entry a container's call names (`OBJECT ENCODING k` -> `object|encoding`), or
 * undefined when the call names none the catalogue lists (its keys are then none).
 */
export function subcommandOf(
  info: CommandInfo,
  args: readonly Uint8Array[],
): CommandInfo | undefined {
  const subs = info.subcommands;
  const word = args[1];
  if (!subs || word === undefined) return undefined;
  for (const s of subs) {
    if (wordIs(word, s.name, s.name.indexOf("|") + 1)) return s;
  }
  return undefined;
}

/**
 * Finds the keys of one request: writes the indexes of its key arguments into `out` (from 0,
 * in Redis' `COMMAND GETKEYS` order) and returns how many. `args[0]` is the command name. Fixed
 * positions come first, then the keys the arguments locate (`movable`); a container's
 * subcommand gives its own; shard channels are not keys. A short request gives the keys it does
 * hold; a key count that is no number or runs past the arguments, none. Allocates nothing once
 * `out` has room for the longest request's keys.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const args = ["EVAL", "return 1", "2", "k1", "k2", "argv"].map((s) => new TextEncoder().encode(s));
 * const out: number[] = [];
 * assert.equal(commandKeys(respCommand("eval")!, args, out), 2);
 * assert.deepEqual(out, [3, 4]);
 * ```
 */
export function commandKeys(
  info: CommandInfo,
  args: readonly Uint8Array[],
  out: number[],
): number {
  if (info.subcommands) {
    const sub = subcommandOf(info, args);
    return sub ? commandKeys(sub, args, out) : 0;
  }
  if (info.channels) return 0;
  const argc = args.length;
  let n = 0;
  if (info.firstKey > 0) {
    const last = info.lastKey < 0 ? argc + info.lastKey : info.lastKey;
    for (let i = info.firstKey; i <= last && i < argc; i += info.keyStep) out[n++] = i;
  }
  const m = info.movable;
  if (!m) return n;
  switch (m.kind) {
    case "numkeys": {
      // A count that is no number or runs past the arguments: a malformed request, no keys.
      const count = m.at < argc ? decimal(args[m.at]!) : -1;
      if (count < 0 || count > argc - m.at - 1) return 0;
      for (let i = m.at + 1; i <= m.at + count; i++) out[n++] = i;
      return n;
    }
    case "keyword": {
      // The last STORE (or STOREDIST) wins, as in Redis.
      let at = -1;
      for (let i = Math.max(1, info.firstKey + 1); i + 1 < argc; i++) {
        for (const w of m.words) if (wordIs(args[i]!, w, 0)) at = i + 1;
      }
      if (at > 0) out[n++] = at;
      return n;
    }
    case "streams": {
      for (let i = 1; i < argc; i++) {
        if (!wordIs(args[i]!, "streams", 0)) continue;
        // Keys, then as many IDs: the first half (rounded down, as Redis) are keys.
        const keys = Math.floor((argc - i - 1) / 2);
        for (let k = 0; k < keys; k++) out[n++] = i + 1 + k;
        return n;
      }
      return n;
    }
    case "keys-after": {
      if (info.firstKey >= argc || args[info.firstKey]!.length !== 0) return n;
      for (let i = m.from; i < argc; i++) {
        if (!wordIs(args[i]!, m.word, 0)) continue;
        n = 0;
        for (let k = i + 1; k < argc; k++) out[n++] = k;
        return n;
      }
      return n;
    }
  }
}

// Whether `arg` is `word` from `from` on, ignoring ASCII case (`word` is lower-case letters).
function wordIs(arg: Uint8Array, word: string, from: number): boolean {
  if (arg.length !== word.length - from) return false;
  for (let i = 0; i < arg.length; i++) {
    if ((arg[i]! | 0x20) !== word.charCodeAt(from + i)) return false;
  }
  return true;
}

// A non-negative decimal argument, or -1 when it is not one.
function decimal(b: Uint8Array): number {
  if (b.length === 0 || b.length > 9) return -1;
  let v = 0;
  for (let i = 0; i < b.length; i++) {
    const d = b[i]! - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

/** What capture keeps of one request argument ({@linkcode argKinds}). */
export const ArgKind = {
  /** The command name (and a container's subcommand): the op name says it. */
  Name: 0,
  /** A key (keyed hash + length). */
  Key: 1,
  /** A field, member or any argument the catalogue does not classify: keyed hash + length. */
  Hash: 2,
  /** A value: its length only. */
  Value: 3,
  /** A number the command defines (TTL, count, range, increment, score): kept as a number. */
  Number: 4,
  /** An option word of the catalogue (NX, EX, WITHSCORES, `*`): kept as its index. */
  Token: 5,
  /** A stream ID (`1-1`, `1`, `1-*`, `-`, `+`, `(1-0`): kept as its numbers. */
  StreamId: 6,
  /** A lex range bound (`[m`, `(m`, `-`, `+`): the bracket kept, the member hashed. */
  Bound: 7,
} as const;

interface CompiledSpec {
  fixed: string;
  repeat: string;
  then: string;
  words: string[];
  ids: number[];
  pats: string[];
}

const WORD_IDS = new Map<string, number>();
const WORDS: string[] = [];
const COMPILED = new Map<CommandInfo, CompiledSpec>();
function compile(info: CommandInfo, spec: ArgSpec): void {
  const c: CompiledSpec = {
    fixed: spec.fixed,
    repeat: spec.repeat ?? "",
    then: spec.then ?? "",
    words: [],
    ids: [],
    pats: [],
  };
  for (const [w, pat] of Object.entries(spec.options ?? {})) {
    let id = WORD_IDS.get(w);
    if (id === undefined) {
      id = WORDS.length;
      WORDS.push(w);
      WORD_IDS.set(w, id);
    }
    c.words.push(w);
    c.ids.push(id);
    c.pats.push(pat);
  }
  COMPILED.set(info, c);
}
for (const c of RESP_COMMANDS) {
  for (const e of [c, ...(c.subcommands ?? [])]) if (e.args) compile(e, e.args);
}

/**
 * The catalogue's option words, by the index {@linkcode argKinds} gives a token (stable for
 * one build of membench; a profile keeps the table it was written with).
 */
export const OPTION_WORDS: readonly string[] = WORDS;

function internWord(w: string): number {
  let id = WORD_IDS.get(w);
  if (id === undefined) {
    id = WORDS.length;
    WORDS.push(w);
    WORD_IDS.set(w, id);
  }
  return id;
}
// memcached meta flags as option words: each flag letter (`v`, `q`, `T`, `O`, ...), and each
// mode flag whole (`MA`, `ME`, `M+`, ...), by ASCII code.
const META_FLAG_IDS = new Int32Array(128).fill(-1);
const META_MODE_IDS = new Int32Array(128).fill(-1);
for (let c = 65; c <= 122; c++) {
  if (c <= 90 || c >= 97) META_FLAG_IDS[c] = internWord(String.fromCharCode(c));
}
for (const m of "EeAaPpRrSsIiDd+-") META_MODE_IDS[m.charCodeAt(0)] = internWord(`M${m}`);

/**
 * The {@linkcode OPTION_WORDS} index of a memcached meta flag: the flag letter's word (`T`, `q`,
 * `O`, ...) for an ASCII letter `c`, or, with `mode`, the mode flag's whole word (`MA` for
 * append, `M+` for increment); -1 when there is none. Allocates nothing.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(OPTION_WORDS[metaFlagWord(84)], "T");
 * assert.equal(OPTION_WORDS[metaFlagWord(77, 65)], "MA");
 * assert.equal(metaFlagWord(49), -1);
 * ```
 */
export function metaFlagWord(c: number, mode?: number): number {
  if (mode !== undefined) return c === 77 && mode < 128 ? META_MODE_IDS[mode]! : -1;
  return c < 128 ? META_FLAG_IDS[c]! : -1;
}

/**
 * The RESP command a request calls: a container's listed subcommand (`CONFIG GET` ->
 * `config|get`), else the command itself.
 */
export function respCallOf(info: CommandInfo, args: readonly Uint8Array[]): CommandInfo {
  return info.subcommands ? subcommandOf(info, args) ?? info : info;
}

/**
 * Classifies each argument of one request (`info` as {@linkcode respCallOf} gives it): writes an
 * {@linkcode ArgKind} per argument into `kinds` and, for tokens, the index into
 * {@linkcode OPTION_WORDS} into `tokens`; `keys` is scratch for {@linkcode commandKeys}. The
 * catalogue's `args` grammar decides where it has one; else keys, value and TTL arguments are
 * placed and the rest is hashed. `kinds` and `tokens` need room for every argument. Allocates
 * nothing.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const args = ["SET", "k", "v", "NX", "EX", "10"].map((s) => new TextEncoder().encode(s));
 * const kinds = new Uint8Array(6);
 * const tokens = new Int32Array(6);
 * argKinds(respCommand("set")!, args, kinds, tokens, []);
 * assert.deepEqual([...kinds], [0, 1, 3, 5, 5, 4]);
 * assert.equal(OPTION_WORDS[tokens[3]!], "nx");
 * ```
 */
export function argKinds(
  info: CommandInfo,
  args: readonly Uint8Array[],
  kinds: Uint8Array,
  tokens: Int32Array,
  keys: number[],
): void {
  const argc = args.length;
  const from = info.name.indexOf("|") >= 0 ? 2 : 1;
  for (let i = 0; i < from && i < argc; i++) kinds[i] = ArgKind.Name;
  const c = COMPILED.get(info);
  if (c === undefined) {
    for (let i = from; i < argc; i++) kinds[i] = ArgKind.Hash;
    const v = info.value;
    if (v?.kind === "one" && v.at < argc) kinds[v.at] = ArgKind.Value;
    if (v?.kind === "rest") { for (let i = v.at; i < argc; i++) kinds[i] = ArgKind.Value; }
    if (info.ttl?.kind === "arg" && info.ttl.at < argc) kinds[info.ttl.at] = ArgKind.Number;
  } else {
    let pat = c.fixed;
    let pi = 0;
    let mode = 0; // 0: letters of `pat`; 1: option words; 2: `repeat`
    let then = c.then.length === 0; // the argument that ends the options (XADD's ID) was seen
    let i = from;
    while (i < argc) {
      if (mode === 0) {
        if (pi >= pat.length) {
          mode = then && c.then.length > 0 ? 2 : 1;
          pi = 0;
          continue;
        }
        const l = pat.charCodeAt(pi++);
        if (l === 111) { // "o": an option word when it is one
          const t = optionAt(c, args[i]!);
          if (t >= 0) {
            kinds[i] = ArgKind.Token;
            tokens[i++] = c.ids[t]!;
          }
          continue;
        }
        kinds[i++] = letterKind(l);
      } else if (mode === 1) {
        const t = optionAt(c, args[i]!);
        if (t >= 0) {
          kinds[i] = ArgKind.Token;
          tokens[i++] = c.ids[t]!;
          pat = c.pats[t]!;
          pi = 0;
          mode = 0;
          if (!then && c.words[t] === "*") then = true;
        } else if (!then) {
          then = true;
          pat = c.then;
          pi = 0;
          mode = 0;
        } else if (c.repeat.length > 0) {
          mode = 2;
          pi = 0;
        } else kinds[i++] = ArgKind.Hash;
      } else {
        kinds[i++] = letterKind(c.repeat.charCodeAt(pi++ % c.repeat.length));
      }
    }
  }
  const n = commandKeys(info, args, keys);
  for (let j = 0; j < n; j++) kinds[keys[j]!] = ArgKind.Key;
}

function letterKind(l: number): number {
  switch (l) {
    case 107: // k
      return ArgKind.Key;
    case 118: // v
      return ArgKind.Value;
    case 110: // n
      return ArgKind.Number;
    case 105: // i
      return ArgKind.StreamId;
    case 108: // l
      return ArgKind.Bound;
    default: // f, h
      return ArgKind.Hash;
  }
}

function optionAt(c: CompiledSpec, arg: Uint8Array): number {
  for (let t = 0; t < c.words.length; t++) if (wordIs(arg, c.words[t]!, 0)) return t;
  return -1;
}
