// This module uses no Deno APIs.
import { invalidArgument, MembenchError } from "../errors/mod.ts";
import { type HitRule, memcacheCommand, respCommand } from "../protocol/mod.ts";

export type { HitRule } from "../protocol/mod.ts";

/** A piece of a command argument, before it is compiled for a protocol. */
export type ArgPart =
  | { literal: string }
  | { slot: "key" }
  | { slot: "rand" }
  | { slot: "data" };

/** A command a workload sends: a template with key, random-number and value slots. */
export interface CommandSpec {
  /** Name used in results: `set`, `lrange_100`, or the custom command's text. */
  name: string;
  /** The template as written: `SET __key__ __data__`. */
  text: string;
  /** Lower-case name of the server command (what `INFO commandstats` calls it). */
  command: string;
  /** Arguments as parts. */
  args: ArgPart[][];
  /** How hits are counted. */
  hits: HitRule;
}

/** The redis-benchmark tests' command shapes, by test name. */
const REDIS_TEST_TEXTS: Readonly<Record<string, string>> = {
  ping: "PING",
  set: "SET __key__ __data__",
  get: "GET __key__",
  incr: "INCR counter:__rand_int__",
  lpush: "LPUSH mylist __data__",
  rpush: "RPUSH mylist __data__",
  lpop: "LPOP mylist",
  rpop: "RPOP mylist",
  sadd: "SADD myset element:__rand_int__",
  hset: "HSET myhash element:__rand_int__ __data__",
  spop: "SPOP myset",
  zadd: "ZADD myzset __rand_int__ element:__rand_int__",
  zpopmin: "ZPOPMIN myzset",
  lrange_100: "LRANGE mylist 0 99",
  lrange_300: "LRANGE mylist 0 299",
  lrange_500: "LRANGE mylist 0 499",
  lrange_600: "LRANGE mylist 0 599",
  mset: "MSET" + " __key__ __data__".repeat(10),
  mget: "MGET" + " __key__".repeat(10),
};

/** The command catalogue's hit rule of a RESP command name (any case); "none" when unknown. */
function respHits(command: string): HitRule {
  return respCommand(command.toLowerCase())?.hits ?? "none";
}

/**
 * The redis-benchmark tests, with its command shapes. `__key__` is the key prefix plus a key id,
 * `__rand_int__` a 12-digit key id (as redis-benchmark's `-r`), `__data__` the value. Hits are
 * counted as the command catalogue says (`protocol/command_table.ts`).
 */
export const REDIS_TESTS: Readonly<Record<string, { text: string; hits: HitRule }>> = Object
  .fromEntries(
    Object.entries(REDIS_TEST_TEXTS).map(([name, text]) => [
      name,
      { text, hits: respHits(text.split(" ")[0]!) },
    ]),
  );

/** Aliases redis-benchmark accepts for its tests. */
const ALIASES: Record<string, string> = {
  lrange: "lrange_100",
  ping_mbulk: "ping",
  ping_inline: "ping",
};

/** Default test list when none is given (redis-benchmark's order). */
export const DEFAULT_REDIS_TESTS = [
  "ping",
  "set",
  "get",
  "incr",
  "lpush",
  "rpush",
  "lpop",
  "rpop",
  "sadd",
  "hset",
  "spop",
  "zadd",
  "zpopmin",
  "lrange_100",
  "lrange_300",
  "lrange_500",
  "lrange_600",
  "mset",
  "mget",
] as const;

/**
 * Resolves a test name (`get`, `lrange_300`) or a custom command template
 * (`"HSET h:__key__ f __data__"`) into a command spec.
 *
 * @throws {MembenchError} `invalid_argument` for an unknown test name or an empty template.
 */
export function resolveCommand(nameOrTemplate: string): CommandSpec {
  const lower = nameOrTemplate.trim().toLowerCase();
  const test = REDIS_TESTS[ALIASES[lower] ?? lower];
  if (test) return { ...parseTemplate(test.text), name: ALIASES[lower] ?? lower, hits: test.hits };
  if (!/\s/.test(nameOrTemplate.trim()) && !nameOrTemplate.includes("__")) {
    throw invalidArgument(
      "tests",
      `unknown test name; known tests are ${Object.keys(REDIS_TESTS).join(", ")}, or give a ` +
        `command template such as "SET __key__ __data__"`,
      nameOrTemplate,
    );
  }
  const spec = parseTemplate(nameOrTemplate);
  return { ...spec, hits: respHits(spec.command) };
}

/**
 * Parses a command template: words separated by spaces, double or single quotes to keep spaces,
 * placeholders `__key__`, `__rand_int__` and `__data__` anywhere in a word (`__data__` alone;
 * several `__data__` in one command get values of the same size, as redis-benchmark's MSET).
 */
export function parseTemplate(text: string): CommandSpec {
  const words = splitWords(text);
  if (words.length === 0) throw invalidArgument("command", "the template is empty", text);
  const args = words.map((w) => {
    const parts: ArgPart[] = [];
    const re = /__(key|rand_int|data)__/g;
    let last = 0;
    for (let m = re.exec(w); m; m = re.exec(w)) {
      if (m.index > last) parts.push({ literal: w.slice(last, m.index) });
      parts.push({ slot: m[1] === "key" ? "key" : m[1] === "data" ? "data" : "rand" });
      last = m.index + m[0].length;
    }
    if (last < w.length) parts.push({ literal: w.slice(last) });
    if (parts.some((p) => "slot" in p && p.slot === "data") && parts.length > 1) {
      throw invalidArgument("command", "__data__ must be a whole argument", text);
    }
    return parts;
  });
  return {
    name: text.trim(),
    text: text.trim(),
    command: words[0]!.toLowerCase(),
    args,
    hits: "none",
  };
}

function splitWords(text: string): string[] {
  const out: string[] = [];
  let cur = "";
  let quote = "";
  let inWord = false;
  for (const ch of text) {
    if (quote) {
      if (ch === quote) quote = "";
      else cur += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) out.push(cur);
      cur = "";
      inWord = false;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (quote) {
    throw new MembenchError(
      "invalid_argument",
      `Cannot parse command template ${JSON.stringify(text)}: unclosed quote`,
    );
  }
  if (inWord) out.push(cur);
  return out;
}

/** One entry of a weighted command mix. */
export interface MixEntry {
  /** Test name or template. */
  command: string;
  /** Relative weight (> 0). */
  weight: number;
}

/**
 * Parses a weighted mix `get:0.8,set:0.2` (weights need not add to 1), or memtier's
 * `--ratio SET:GET` form `1:10`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseRatio("1:10"), [{ command: "set", weight: 1 }, { command: "get", weight: 10 }]);
 * ```
 */
export function parseMix(input: string): MixEntry[] {
  const out: MixEntry[] = [];
  for (const part of input.split(",")) {
    const i = part.lastIndexOf(":");
    const command = (i < 0 ? part : part.slice(0, i)).trim();
    const weight = i < 0 ? 1 : Number(part.slice(i + 1));
    if (!command || !(weight > 0)) {
      throw invalidArgument("mix", "expected NAME:WEIGHT,NAME:WEIGHT with weights > 0", input);
    }
    out.push({ command, weight });
  }
  return out;
}

/** memtier's `--ratio SET:GET`, such as `1:10`. */
export function parseRatio(input: string): MixEntry[] {
  const m = /^\s*(\d+(?:\.\d+)?)\s*:\s*(\d+(?:\.\d+)?)\s*$/.exec(input);
  const set = Number(m?.[1]);
  const get = Number(m?.[2]);
  if (!m || set + get <= 0) {
    throw invalidArgument("ratio", "expected SET:GET, such as 1:10", input);
  }
  return [{ command: "set", weight: set }, { command: "get", weight: get }].filter((e) =>
    e.weight > 0
  );
}

/**
 * The memcached tests `bench --protocol memcache-*` runs, with how hits are counted (from the
 * command catalogue): reads hit when the key is found; add/replace/append/prepend "hit" when
 * stored; delete, incr, decr and touch when the key existed. incr and decr use `counter:<id>`
 * keys (as redis-benchmark's INCR).
 */
export const MEMCACHE_TESTS: Readonly<Record<string, HitRule>> = Object.fromEntries(
  [
    "set",
    "get",
    "gets",
    "gat",
    "gats",
    "add",
    "replace",
    "append",
    "prepend",
    "delete",
    "incr",
    "decr",
    "touch",
    "version",
  ].map((name) => [name, memcacheCommand(name)!.hits]),
);

/**
 * Resolves a memcached test name into a command spec (the protocol's encoder builds the wire
 * form from the name).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(resolveMemcacheCommand("GET").hits, "value");
 * ```
 * @throws {MembenchError} `invalid_argument` for a name that is not a memcached test.
 */
export function resolveMemcacheCommand(name: string): CommandSpec {
  const n = name.trim().toLowerCase();
  const hits = MEMCACHE_TESTS[n];
  if (hits === undefined) {
    throw invalidArgument(
      "tests",
      `unknown memcached test; known tests are ${
        Object.keys(MEMCACHE_TESTS).join(", ")
      } (command templates are for RESP only)`,
      name,
    );
  }
  return { name: n, text: n, command: n, args: [], hits };
}
