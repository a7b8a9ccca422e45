// This module uses no Deno APIs.
import { parseInfo } from "../net/mod.ts";

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
 * Flattens an `FT.INFO` reply (alternating names and values, as RESP2 gives it, or a map):
 * scalar fields become `ft.<index>.<name>`; nested lists (attributes, GC stats) are left out
 * except their scalar pairs one level down (`ft.idx.gc_stats.bytes_collected`).
 */
export function flattenFtInfo(index: string, reply: unknown, into: FlatValues = {}): FlatValues {
  const put = (prefix: string, v: unknown, depth: number) => {
    const entries = toEntries(v);
    if (entries === undefined) return;
    for (const [k, x] of entries) {
      const name = `${prefix}.${k}`;
      if (typeof x === "number") into[name] = x;
      else if (typeof x === "string") into[name] = value(x);
      else if (x instanceof Uint8Array) into[name] = value(new TextDecoder().decode(x));
      else if (depth === 0) put(name, x, 1);
    }
  };
  put(`ft.${index}`, reply, 0);
  return into;
}

function toEntries(v: unknown): Array<[string, unknown]> | undefined {
  if (v instanceof Map) return [...v.entries()].map(([k, x]) => [String(keyText(k)), x]);
  if (!Array.isArray(v) || v.length % 2 !== 0) return undefined;
  const out: Array<[string, unknown]> = [];
  for (let i = 0; i < v.length; i += 2) {
    const k = keyText(v[i]);
    if (k === undefined) return undefined;
    out.push([k, v[i + 1]]);
  }
  return out;
}

function keyText(k: unknown): string | undefined {
  if (typeof k === "string") return k;
  if (k instanceof Uint8Array) return new TextDecoder().decode(k);
  return undefined;
}
