// This module uses no Deno APIs.
import { parseInfo } from "../net/mod.ts";
import type { RespValue } from "../protocol/resp/mod.ts";

/** A node's fields under flat names: numbers where the server wrote a number. */
export type FlatValues = Record<string, number | string>;

function value(s: string): number | string {
  const n = Number(s);
  return s !== "" && Number.isFinite(n) ? n : s;
}

// `calls=10,usec=20,usec_per_call=2.00` -> pairs.
function pairs(s: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const part of s.split(",")) {
    const i = part.indexOf("=");
    if (i > 0) out.push([part.slice(0, i), part.slice(i + 1)]);
  }
  return out;
}

/**
 * Flattens `INFO everything` text: `section.field`. Three sections are split further so that
 * each figure has its own name: `commandstats` (`cmdstat_get:calls=…` -> `cmd.get.calls`, …),
 * `errorstats` (`errorstat_ERR:count=…` -> `errorstats.ERR.count`) and `keyspace`
 * (`db0:keys=…` -> `keyspace.db0.keys`). Container commands keep their sub-command
 * (`cmdstat_client|list` -> `cmd.client|list.calls`).
 */
export function flattenInfo(text: string, into: FlatValues = {}): FlatValues {
  for (const [section, fields] of Object.entries(parseInfo(text))) {
    for (const [key, v] of Object.entries(fields)) {
      if (section === "commandstats" && key.startsWith("cmdstat_")) {
        const cmd = key.slice(8).toLowerCase();
        for (const [k, x] of pairs(v)) into[`cmd.${cmd}.${k}`] = value(x);
      } else if (section === "errorstats" && key.startsWith("errorstat_")) {
        for (const [k, x] of pairs(v)) into[`errorstats.${key.slice(10)}.${k}`] = value(x);
      } else if (section === "keyspace") {
        for (const [k, x] of pairs(v)) into[`keyspace.${key}.${k}`] = value(x);
      } else {
        into[`${section}.${key}`] = value(v);
      }
    }
  }
  return into;
}

/** Flattens memcached `stats` (`stats.<name>`) or `stats slabs` (`slabs.<class>.<name>`). */
export function flattenMemcacheStats(
  stats: Record<string, string>,
  group: "stats" | "slabs",
  into: FlatValues = {},
): FlatValues {
  for (const [k, v] of Object.entries(stats)) {
    if (group === "stats") into[`stats.${k}`] = value(v);
    else {
      const i = k.indexOf(":");
      into[i < 0 ? `slabs.${k}` : `slabs.${k.slice(0, i)}.${k.slice(i + 1)}`] = value(v);
    }
  }
  return into;
}

/**
 * Flattens an `FT.INFO` reply (alternating names and values, as RESP2 gives it, or a RESP3 map):
 * scalar fields become `ft.<index>.<name>` (numbers where the text is one: RediSearch sends most
 * numbers as bulk strings); nested lists (attributes, GC stats) are left out except their scalar
 * pairs one level down (`ft.idx.gc_stats.bytes_collected`).
 */
export function flattenFtInfo(index: string, reply: RespValue, into: FlatValues = {}): FlatValues {
  const put = (prefix: string, v: RespValue, depth: number) => {
    const entries = toEntries(v);
    if (entries === undefined) return;
    for (const [k, x] of entries) {
      const name = `${prefix}.${k}`;
      const scalar = scalarOf(x);
      if (scalar !== undefined) into[name] = scalar;
      else if (depth === 0) put(name, x, 1);
    }
  };
  put(`ft.${index}`, reply, 0);
  return into;
}

const utf8 = new TextDecoder();

function scalarOf(v: RespValue): number | string | undefined {
  switch (v.type) {
    case "integer":
      return Number(v.value);
    case "double":
      return v.value;
    case "simple":
      return value(v.value);
    case "bulk":
    case "verbatim":
      return value(utf8.decode(v.value));
    default:
      return undefined;
  }
}

function toEntries(v: RespValue): Array<[string, RespValue]> | undefined {
  if (v.type === "map") {
    const out: Array<[string, RespValue]> = [];
    for (const [k, x] of v.value) {
      const key = scalarOf(k);
      if (key !== undefined) out.push([String(key), x]);
    }
    return out;
  }
  if (v.type !== "array" || v.value.length % 2 !== 0) return undefined;
  const out: Array<[string, RespValue]> = [];
  for (let i = 0; i < v.value.length; i += 2) {
    const k = v.value[i]!;
    if (k.type !== "simple" && k.type !== "bulk") return undefined;
    out.push([String(scalarOf(k)), v.value[i + 1]!]);
  }
  return out;
}
