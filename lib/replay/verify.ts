/**
 * `verifyServer`: what the target itself counted during a replay (`INFO commandstats` deltas for
 * RESP, memcached `stats` deltas), compared per command with the requests the profile holds. The
 * server is the witness membench did not write: a replay that splits MSET into SETs, drops
 * requests or sends other commands shows here whatever membench's own counters say.
 *
 * @module
 */
import { McConnection, parseCommandStats, RespConnection, type Target } from "../net/mod.ts";
import { commonOp, type ProtocolName } from "../protocol/mod.ts";
import type { ServerVerification } from "./types.ts";

// Commands a replay's own connections send (set-up and these snapshots), never compared.
const SETUP = new Set(["info", "hello", "auth", "select", "client|setname", "client|setinfo"]);

// memcached: each counter group, from the stats fields that count it.
const MC_GROUPS: Record<string, string[]> = {
  get: ["cmd_get"],
  set: ["cmd_set"],
  delete: ["delete_hits", "delete_misses"],
  incr: ["incr_hits", "incr_misses"],
  decr: ["decr_hits", "decr_misses"],
  touch: ["cmd_touch"],
};

// The memcached counter groups a recorded op moves (per key), from its common operation.
function mcGroups(op: string): string[] {
  switch (commonOp(op, "memcache")) {
    case "get":
    case "gets":
      return ["get"];
    case "gat":
      return ["get", "touch"];
    case "set":
    case "add":
    case "replace":
    case "append":
    case "prepend":
    case "cas":
      return ["set"];
    case "delete":
      return ["delete"];
    case "incr":
      return ["incr"];
    case "decr":
      return ["decr"];
    case "touch":
      return ["touch"];
    default:
      return [];
  }
}

/**
 * The target's per-command counters now: `INFO commandstats` calls by command (RESP), or
 * memcached's get/set/delete/incr/decr/touch counts (`stats`).
 *
 * @throws {MembenchError} `connection`/`auth` when the target cannot be reached.
 */
export async function serverCounters(
  target: Target,
  protocol: ProtocolName,
): Promise<Record<string, number>> {
  if (protocol === "resp") {
    const c = await RespConnection.open(target, { clientName: "" });
    try {
      return parseCommandStats(await c.text(["INFO", "commandstats"]));
    } finally {
      c.close();
    }
  }
  const c = await McConnection.open(target);
  try {
    const s = await c.stats();
    const out: Record<string, number> = {};
    for (const [g, fields] of Object.entries(MC_GROUPS)) {
      out[g] = fields.reduce((n, f) => n + Number(s[f] ?? 0), 0);
    }
    return out;
  } finally {
    c.close();
  }
}

/**
 * Compares the server's counter deltas with the requests of the profile: `expected` holds the
 * requests replayed per recorded op (RESP: per command, as commandstats counts calls; memcached:
 * per key, as `cmd_get` counts keys). `diff` is the sum of the per-command differences over the
 * expected total (0 = the server saw exactly the recorded requests).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const v = verifyServer({ mset: 1 }, { mset: 11, set: 5, info: 3 }, { mset: 10 }, "resp");
 * assert.equal(v.diff, 0.5); // 5 SETs nobody recorded, over 10 expected
 * ```
 */
export function verifyServer(
  before: Record<string, number>,
  after: Record<string, number>,
  expected: Record<string, number>,
  protocol: ProtocolName,
): ServerVerification {
  const want: Record<string, number> = {};
  for (const [op, n] of Object.entries(expected)) {
    if (n === 0) continue;
    if (protocol === "resp") {
      if (!SETUP.has(op)) want[op] = (want[op] ?? 0) + n;
    } else for (const g of mcGroups(op)) want[g] = (want[g] ?? 0) + n;
  }
  const names = new Set(Object.keys(want));
  for (const [k, v] of Object.entries(after)) {
    if (v - (before[k] ?? 0) !== 0 && !SETUP.has(k)) names.add(k);
  }
  const commands = [...names].sort().map((command) => ({
    command,
    expected: want[command] ?? 0,
    server: (after[command] ?? 0) - (before[command] ?? 0),
  }));
  const total = commands.reduce((n, c) => n + c.expected, 0);
  const off = commands.reduce((n, c) => n + Math.abs(c.server - c.expected), 0);
  return { commands, diff: Math.round((off / Math.max(1, total)) * 10000) / 10000 };
}
