// This module uses no Deno APIs.
/**
 * The types of the command catalogue (`RESP_COMMANDS`, `MEMCACHE_COMMANDS`
 * in `command_table.ts`, read through `commands.ts`): what membench knows of a command, in one
 * place for every flow (workload, capture, analyze, replay).
 *
 * @module
 */

/** What a command does to the data; for RESP, what Redis' `COMMAND INFO` flags say. */
export type CommandClass =
  /** Reads keys and changes nothing (Redis flag `readonly`; memcached get, gat, mg). */
  | "read"
  /** Changes keys (Redis flag `write`; memcached storage, delete, arithmetic, touch). */
  | "write"
  /** Manages the server or the connection, not the data (AUTH, CONFIG, memcached stats). */
  | "admin"
  /** Anything else: PING, transactions, scripts, pub/sub. */
  | "other";

/** How a hit or a miss shows in a command's reply. */
export type HitRule =
  /** Not counted: no hits or misses. */
  | "none"
  /**
   * A value (or, for a memcached write, success) is a hit; a null, memcached's END, EN,
   * NOT_FOUND or NOT_STORED a miss (GET, LPOP, ZSCORE; memcached get, add, delete, incr, touch).
   * For a command whose keys are each an operation of their own (memcached's `get k1 k2`), one
   * hit or miss per key.
   */
  | "value"
  /** One hit or miss per element: nulls inside the array are misses (MGET, HMGET). */
  | "keys"
  /** An empty or null aggregate is a miss (LRANGE, SMEMBERS, ZPOPMIN, BLPOP on a timeout). */
  | "nonempty";

/** The two families of commands: RESP, and memcached (text, meta and binary share names). */
export type CommandFamily = "resp" | "memcache";

/** The memcached wire form a command name belongs to (binary requests use the text names). */
export type MemcacheForm = "text" | "meta" | "binary";

/**
 * The common operation a command stands for, whatever protocol carries it: how replay
 * translates memcached <-> RESP (see `COMMON_FORMS`).
 */
export type CommonOp =
  | "get"
  | "gets"
  | "gat"
  | "set"
  | "add"
  | "replace"
  | "append"
  | "prepend"
  | "cas"
  | "delete"
  | "incr"
  | "decr"
  | "touch"
  | "noop";

/**
 * Keys whose positions the arguments tell (what Redis' `movablekeys` flag marks), found after
 * the fixed positions of {@linkcode CommandInfo.firstKey}.
 */
export type MovableKeys =
  /** The argument at `at` counts the keys that follow it (EVAL script numkeys k1 k2). */
  | { readonly kind: "numkeys"; readonly at: number }
  /** The argument after the last of these words is a key too (SORT … STORE dest). */
  | { readonly kind: "keyword"; readonly words: readonly string[] }
  /**
   * After the word STREAMS, the first half of the remaining arguments are keys, the second half
   * their IDs (XREAD). `before` are the arguments a call needs ahead of STREAMS (XREADGROUP's
   * `GROUP group consumer`).
   */
  | { readonly kind: "streams"; readonly before: readonly string[] }
  /**
   * When the fixed key is empty and the word is found at `from` or later, the arguments after the
   * word are the keys instead (MIGRATE host port "" db timeout KEYS k1 k2).
   */
  | { readonly kind: "keys-after"; readonly word: string; readonly from: number };

/** Where a request carries the value written under its key (capture records its length). */
export type ValueArgs =
  /** The argument at `at` alone (SET key value [options]). */
  | { readonly kind: "one"; readonly at: number }
  /** Every argument from `at` on; the value length is their sum (LPUSH key v1 v2, HSET). */
  | { readonly kind: "rest"; readonly at: number }
  /** The argument after each key: one value per key (MSET k1 v1 k2 v2). */
  | { readonly kind: "pairs" };

/** Where a request says its key's time to live (capture records it in seconds). */
export type TtlArgs =
  /** The argument at `at`, in seconds or milliseconds (SETEX key seconds value, PEXPIRE). */
  | { readonly kind: "arg"; readonly at: number; readonly unit: "s" | "ms" }
  /** An `EX seconds` or `PX milliseconds` option among the arguments from `from` on (SET, GETEX). */
  | { readonly kind: "options"; readonly from: number };

/**
 * One command membench knows. Key positions are argument indexes (0 is the command name), as
 * Redis' `COMMAND INFO` gives them: `firstKey`, `lastKey` (negative: from the end, -1 is the last
 * argument) and `keyStep`, all 0 when no fixed position holds a key; keys that the arguments
 * locate are in `movable`. memcached commands use the same convention for their text form
 * (`get k1 k2 …` is first 1, last -1, step 1; `gat exptime k1 k2 …` first 2).
 */
export interface CommandInfo {
  /**
   * Lower-case name as the protocol spells it (`get`, `mg`, `zadd`); a RESP subcommand is
   * `container|sub` as `COMMAND INFO` and `INFO commandstats` write it (`object|encoding`).
   */
  readonly name: string;
  /** RESP or memcached. */
  readonly family: CommandFamily;
  /** memcached only: text, meta, or a binary-only opcode's name. */
  readonly form?: MemcacheForm;
  /** Arguments including the name: N exactly, or -N for at least N (as `COMMAND INFO`). */
  readonly arity: number;
  /** Index of the first key argument; 0 when no fixed position holds a key. */
  readonly firstKey: number;
  /** Index of the last key argument; negative counts from the end (-1 = the last argument). */
  readonly lastKey: number;
  /** Step between keys: 1, or 2 for key/value pairs (MSET). 0 without keys. */
  readonly keyStep: number;
  /** Keys the arguments locate (EVAL's numkeys, SORT's STORE, XREAD's STREAMS). */
  readonly movable?: MovableKeys;
  /**
   * The key positions hold shard channels, not keys (SPUBLISH, SSUBSCRIBE): Redis gives them a
   * slot and a key triple, but `COMMAND GETKEYS` lists none and capture hashes none.
   */
  readonly channels?: true;
  /**
   * Each key is an operation of its own (MGET, DEL, MSET, memcached's `get k1 k2`): capture
   * records one event per key, and replies count per key.
   */
  readonly eachKey: boolean;
  /** Read, write, admin or other. */
  readonly class: CommandClass;
  /** How a hit or a miss shows in the reply. */
  readonly hits: HitRule;
  /**
   * A write that leaves a value under its key (SET, INCR, LPUSH, memcached add): after it, a
   * read of the key can hit (analysis counts a later miss as not compulsory).
   */
  readonly stores: boolean;
  /** Where the request carries its value (RESP; memcached parsers give the length). */
  readonly value?: ValueArgs;
  /** Where the request says a TTL (RESP; memcached parsers give the exptime). */
  readonly ttl?: TtlArgs;
  /** The common operation, for translation between protocols. */
  readonly common?: CommonOp;
  /**
   * A RESP container command (OBJECT, XGROUP, CLIENT): the subcommands whose keys membench
   * knows (those of others: none). Every container also answers `HELP`.
   */
  readonly subcommands?: readonly CommandInfo[];
  /**
   * How capture keeps the arguments after the name (after the subcommand for `container|sub`),
   * so that replay can rebuild the same call; without it, keys, the value and TTL arguments the
   * rows above place are kept and every other argument is hashed (see {@linkcode ArgSpec}).
   */
  readonly args?: ArgSpec;
}

/**
 * The grammar of a command's arguments as capture keeps them, one letter an argument:
 * `k` a key (keyed hash + length), `f` a field or member (keyed hash + length, the same salt as
 * keys, so HSET and HGET of one field match), `h` anything else (hashed the same way), `v` a
 * value (its length only), `n` a number (kept as a number: TTLs, counts, ranges, increments,
 * scores; hashed when the argument is no number), `o` an option word of `options` when the
 * argument is one (else the letter is skipped), `i` a stream ID (`1526919030474-55`, `-`, `+`,
 * `(1-0`: kept as numbers), `l` a lex range bound (`[m`, `(m`, `-`, `+`: the bracket kept, the
 * member hashed as `f` is). Nothing but option words, numbers and brackets is ever kept in
 * clear.
 */
export interface ArgSpec {
  /** Letters of the first arguments, in order. */
  readonly fixed: string;
  /**
   * After `fixed`: option words (lower case) and the letters of the arguments that follow each
   * (SET's `ex` -> "n"). An argument that is no option word starts `repeat`, or is hashed.
   */
  readonly options?: Readonly<Record<string, string>>;
  /** Letters repeated over the rest of the arguments (HSET's field/value pairs: "fv"). */
  readonly repeat?: string;
  /**
   * Letters of the argument that ends the options, before `repeat` (XADD's ID: "i"); the
   * option word `*` stands for it.
   */
  readonly then?: string;
}

/** How each protocol writes a {@linkcode CommonOp}: what replay sends for it. */
export interface CommonForms {
  /** The RESP command. */
  readonly resp: string;
  /** A RESP option that gives the memcached meaning (SET … NX for add, XX for replace). */
  readonly respOption?: "NX" | "XX";
  /** The memcached text command. */
  readonly text: string;
  /** The memcached meta command. */
  readonly meta: string;
  /** The meta mode flag that gives the meaning (ms … ME for add, ma … MD for decr). */
  readonly metaMode?: string;
  /** The memcached binary opcode (`BinOp`). */
  readonly binary: number;
}
