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
import type { CommandFamily, CommandInfo, CommonOp } from "./command_types.ts";

const RESP_BY_NAME: ReadonlyMap<string, CommandInfo> = new Map(
  RESP_COMMANDS.map((c) => [c.name, c]),
);
const MEMCACHE_BY_NAME: ReadonlyMap<string, CommandInfo> = new Map(
  MEMCACHE_COMMANDS.map((c) => [c.name, c]),
);

/**
 * The RESP command of a lower-case name, or undefined when membench does not know it.
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
