import { errorMessage, MembenchError } from "../errors/mod.ts";
import { parseInfo, type RespConnection } from "../net/mod.ts";
import { respText, type RespValue } from "../protocol/resp/mod.ts";
import { platformFromServer, type ServerModules, type VssPlatform } from "./platform.ts";

/** A RESP value as plain data: text, numbers, lists; maps as objects. */
export type Plain = string | number | null | boolean | Plain[] | { [k: string]: Plain };

/** A decoded RESP value as plain data (bulk strings as text). */
export function plainValue(v: RespValue): Plain {
  switch (v.type) {
    case "array":
    case "set":
    case "push":
      return v.value.map(plainValue);
    case "map": {
      const o: { [k: string]: Plain } = {};
      for (const [k, x] of v.value) o[respText(k) ?? String(plainValue(k))] = plainValue(x);
      return o;
    }
    case "integer":
      return Number(v.value);
    case "double":
      return v.value;
    case "boolean":
      return v.value;
    case "null":
      return null;
    default:
      return respText(v) ?? null;
  }
}

/** A flat `[name, value, name, value, …]` list (or a map) as an object; nested lists stay. */
export function pairsOf(p: Plain): Record<string, Plain> {
  if (Array.isArray(p)) {
    const o: Record<string, Plain> = {};
    for (let i = 0; i + 1 < p.length; i += 2) o[String(p[i])] = p[i + 1]!;
    return o;
  }
  if (p !== null && typeof p === "object") return p;
  return {};
}

async function call(c: RespConnection, args: string[]): Promise<RespValue> {
  return await c.command(args, args.slice(0, 2).join(" "));
}

/** `MODULE LIST` and `INFO server` of a server. */
export async function serverModules(c: RespConnection): Promise<ServerModules> {
  const r = await call(c, ["MODULE", "LIST"]);
  const modules: Array<{ name: string; version: number }> = [];
  if (r.type !== "error") {
    for (const m of plainValue(r) as Plain[]) {
      const o = pairsOf(m);
      modules.push({ name: String(o["name"] ?? ""), version: Number(o["ver"] ?? 0) });
    }
  }
  const info = parseInfo(await c.text(["INFO", "server"]));
  return { modules, server: info["server"] ?? {} };
}

/**
 * The platform of the server behind `c`, from `MODULE LIST` and `INFO server`.
 *
 * @throws {MembenchError} `invalid_argument` when it has no search module.
 */
export async function detectPlatform(c: RespConnection): Promise<VssPlatform> {
  return platformFromServer(await serverModules(c), c.name);
}

/** `FT.INFO` of an index as an object, or undefined when there is no such index. */
export async function ftInfo(
  c: RespConnection,
  index: string,
): Promise<Record<string, Plain> | undefined> {
  const r = await call(c, ["FT.INFO", index]);
  if (r.type === "error") {
    if (/unknown index|no such index|not found/i.test(r.value)) return undefined;
    throw new MembenchError("server", `${c.name}: FT.INFO ${index} failed: ${r.value}`);
  }
  return pairsOf(plainValue(r));
}

/** What FT.INFO says about an index's progress, in either platform's field names. */
export interface IndexState {
  /** Documents in the index. */
  numDocs: number;
  /** Hashes that matched the prefix but could not be indexed. */
  failures: number;
  /** Whether a scan or backfill is still running. */
  indexing: boolean;
  /** 0..1 of the scan or backfill done. */
  percent: number;
  /** Vector index memory in bytes, when reported. */
  vectorIndexBytes?: number;
  /** All of the index's memory in bytes, when reported. */
  indexBytes?: number;
}

function num(v: Plain | undefined): number {
  if (v === undefined || v === null) return NaN;
  const n = Number(v);
  return Number.isFinite(n) ? n : NaN;
}

/** The progress fields of an FT.INFO reply (RediSearch or valkey-search names). */
export function indexState(info: Record<string, Plain>): IndexState {
  const numDocs = num(info["num_docs"]);
  const failures = num(info["hash_indexing_failures"]);
  let indexing = false;
  let percent = 1;
  if (info["indexing"] !== undefined) {
    indexing = num(info["indexing"]) !== 0;
    percent = num(info["percent_indexed"]);
  } else if (info["backfill_in_progress"] !== undefined) {
    indexing = num(info["backfill_in_progress"]) !== 0;
    percent = num(info["backfill_complete_percent"]);
    if (percent > 1) percent /= 100;
  }
  if (info["state"] !== undefined && String(info["state"]) !== "ready") indexing = true;
  const out: IndexState = {
    numDocs: Number.isNaN(numDocs) ? 0 : numDocs,
    failures: Number.isNaN(failures) ? 0 : failures,
    indexing,
    percent: Number.isNaN(percent) ? (indexing ? 0 : 1) : percent,
  };
  const mb = (k: string) => num(info[k]) * 1024 * 1024;
  if (!Number.isNaN(mb("vector_index_sz_mb"))) out.vectorIndexBytes = mb("vector_index_sz_mb");
  if (!Number.isNaN(mb("total_index_memory_sz_mb"))) {
    out.indexBytes = mb("total_index_memory_sz_mb");
  }
  return out;
}

/** The attributes (fields) of an index from FT.INFO: name -> type (`VECTOR`, `TAG`, …). */
export function indexAttributes(info: Record<string, Plain>): Map<string, string> {
  const out = new Map<string, string>();
  const attrs = info["attributes"];
  if (!Array.isArray(attrs)) return out;
  for (const a of attrs) {
    const o = pairsOf(a);
    const name = String(o["attribute"] ?? o["identifier"] ?? "");
    const type = String(o["type"] ?? "").toUpperCase();
    if (name) out.set(name, type);
  }
  return out;
}

/** Options for {@linkcode waitForIndex}. */
export interface WaitForIndexOptions {
  /** Give up after this long. @default {600000} */
  timeoutMs?: number;
  /** Poll interval. @default {50} */
  pollMs?: number;
  /** Stop waiting (rejects with `interrupted`). */
  signal?: AbortSignal;
  /** Called with each FT.INFO state read while waiting. */
  onState?: (s: IndexState) => void;
}

/**
 * Polls FT.INFO until the index's scan or backfill is over (`indexing` 0 and `percent_indexed`
 * 1, or `backfill_in_progress` 0).
 *
 * @throws {MembenchError} `timeout` naming the index and its progress; `interrupted`.
 */
export async function waitForIndex(
  c: RespConnection,
  index: string,
  options: WaitForIndexOptions = {},
): Promise<IndexState> {
  const timeoutMs = options.timeoutMs ?? 600_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const info = await ftInfo(c, index);
    if (info === undefined) {
      throw new MembenchError("server", `${c.name}: index ${index} disappeared while indexing`);
    }
    const s = indexState(info);
    options.onState?.(s);
    if (!s.indexing && s.percent >= 1) return s;
    if (options.signal?.aborted) {
      throw new MembenchError("interrupted", `Interrupted while waiting for index ${index}`);
    }
    if (Date.now() > deadline) {
      throw new MembenchError(
        "timeout",
        `${c.name}: index ${index} still indexing after ${timeoutMs} ms (${
          (s.percent * 100).toFixed(1)
        }% done, ${s.numDocs} documents)`,
      );
    }
    await new Promise((r) => setTimeout(r, options.pollMs ?? 50));
  }
}

/** `used_memory` from INFO memory, bytes. */
export async function usedMemory(c: RespConnection): Promise<number> {
  const info = parseInfo(await c.text(["INFO", "memory"]));
  return Number(info["memory"]?.["used_memory"] ?? NaN);
}

/** Drops an index (and with `deleteDocs` its hashes); false when there was none. */
export async function dropIndex(
  c: RespConnection,
  index: string,
  deleteDocs = false,
): Promise<boolean> {
  const r = await call(c, ["FT.DROPINDEX", index, ...(deleteDocs ? ["DD"] : [])]);
  if (r.type === "error") {
    if (/unknown index|no such index|not found/i.test(r.value)) return false;
    throw new MembenchError("server", `${c.name}: FT.DROPINDEX ${index} failed: ${r.value}`);
  }
  return true;
}

/**
 * Checks that an existing index can take the dataset: the vector field exists and is a VECTOR,
 * and its dimension is the dataset's. RediSearch 2.6's FT.INFO does not show the dimension, so
 * it is asked the way every platform answers: a KNN 1 query with a zero vector of the dataset's
 * size, which fails with "blob size (X) does not match index's expected size (Y)".
 *
 * @throws {MembenchError} `invalid_argument` naming the index, the field and both dimensions.
 */
export async function checkIndexFits(
  c: RespConnection,
  o: { index: string; field: string; dim: number; elementBytes: number; dialect: number },
): Promise<void> {
  const info = await ftInfo(c, o.index);
  if (info === undefined) {
    throw new MembenchError(
      "invalid_argument",
      `Cannot use index ${o.index}: there is no such index on ${c.name}`,
      {
        hint: "create it (drop skipCreate) or name an existing index",
      },
    );
  }
  const attrs = indexAttributes(info);
  const type = attrs.get(o.field);
  if (type === undefined || (type !== "VECTOR" && type !== "")) {
    throw new MembenchError(
      "invalid_argument",
      `Cannot use field ${JSON.stringify(o.field)} of index ${o.index}: ${
        type === undefined
          ? `the index has no such field (fields: ${[...attrs.keys()].join(", ") || "none"})`
          : `it is a ${type} field, not a VECTOR`
      }`,
    );
  }
  // RediSearch 2.8 and valkey-search show the dimension in FT.INFO.
  const shown = attributeDim(info, o.field);
  if (shown !== undefined && shown !== o.dim) throw dimError(c, o, shown);
  if (shown !== undefined) return;
  let mismatch = await probeDim(c, o);
  if (mismatch === undefined && indexState(info).numDocs === 0) {
    // An index that never held a document accepts any query blob: write one probe hash under
    // its prefix and see whether it is indexed, then remove it.
    const prefix = indexPrefix(info);
    if (prefix !== undefined) {
      const key = `${prefix}membench-dimension-probe-${crypto.randomUUID()}`;
      const before = indexState(info).failures;
      const vec = new Float32Array(o.dim).fill(1);
      const bytes = o.elementBytes === 8
        ? new Uint8Array(Float64Array.from(vec).buffer)
        : o.elementBytes === 4
        ? new Uint8Array(vec.buffer)
        : new Uint8Array(o.dim * o.elementBytes).fill(0x3c);
      const w = await c.command(["HSET", key, o.field, bytes], "HSET (dimension probe)");
      try {
        if (w.type !== "error") {
          const after = await ftInfo(c, o.index);
          if (after && indexState(after).failures > before) mismatch = await probeDim(c, o) ?? NaN;
        }
      } finally {
        await c.command(["DEL", key], "DEL (dimension probe)");
      }
    }
  }
  if (mismatch !== undefined) throw dimError(c, o, mismatch);
}

function dimError(
  c: RespConnection,
  o: { index: string; field: string; dim: number },
  want: number,
): MembenchError {
  return new MembenchError(
    "invalid_argument",
    `Cannot load vectors of dimension ${o.dim} into index ${o.index} on ${c.name}: its field ${o.field} has ${
      Number.isNaN(want) ? "another dimension (or element type)" : `dimension ${want}`
    }`,
    { hint: "drop the index (dropBefore) or use a dataset of the index's dimension" },
  );
}

/** The dimension FT.INFO shows for a vector field (RediSearch 2.8, valkey-search), if any. */
function attributeDim(info: Record<string, Plain>, field: string): number | undefined {
  const attrs = info["attributes"];
  if (!Array.isArray(attrs)) return undefined;
  for (const a of attrs) {
    const o = pairsOf(a);
    if (String(o["attribute"] ?? o["identifier"]) !== field) continue;
    const find = (x: Record<string, Plain>): number | undefined => {
      for (const [k, v] of Object.entries(x)) {
        if (k.toLowerCase() === "dim" || k.toLowerCase() === "dimensions") return Number(v);
        if (Array.isArray(v) && v.length % 2 === 0 && v.length > 0) {
          const d = find(pairsOf(v));
          if (d !== undefined) return d;
        }
      }
      return undefined;
    };
    return find(o);
  }
  return undefined;
}

/** The first key prefix of an index (FT.INFO `index_definition`). */
function indexPrefix(info: Record<string, Plain>): string | undefined {
  const def = pairsOf(info["index_definition"] ?? null);
  const p = def["prefixes"];
  if (Array.isArray(p)) return p.length > 0 ? String(p[0]) : "";
  return undefined;
}

// A KNN 1 query with a zero vector of the dataset's size: the index's dimension when the server
// says the blob does not fit; undefined when it answers.
async function probeDim(
  c: RespConnection,
  o: { index: string; field: string; dim: number; elementBytes: number; dialect: number },
): Promise<number | undefined> {
  const blob = new Uint8Array(o.dim * o.elementBytes);
  const r = await c.command([
    "FT.SEARCH",
    o.index,
    `*=>[KNN 1 @${o.field} $B]`,
    "PARAMS",
    "2",
    "B",
    blob,
    "LIMIT",
    "0",
    "1",
    "DIALECT",
    String(o.dialect),
  ], "FT.SEARCH (dimension probe)");
  if (r.type !== "error") return undefined;
  const m = /blob size \((\d+)\) does not match index's expected size \((\d+)\)/.exec(r.value);
  if (m) return Number(m[2]) / o.elementBytes;
  throw new MembenchError(
    "server",
    `${c.name}: probing index ${o.index} failed: ${r.value}`,
  );
}

/** A short text for an unknown thrown value from a control command. */
export function controlError(where: string, e: unknown): MembenchError {
  return e instanceof MembenchError
    ? e
    : new MembenchError("connection", `${where}: ${errorMessage(e)}`);
}
