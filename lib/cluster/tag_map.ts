/**
 * The cluster tag map: which keys of a pattern live on which primary, read with SCAN on every
 * primary (as valkey-search-benchmark does before querying or deleting a pre-loaded dataset),
 * bounded in time and in the number of keys kept.
 *
 * @module
 */
import { MembenchError } from "../errors/mod.ts";
import { RespConnection, type Target } from "../net/mod.ts";
import type { RespValue } from "../protocol/resp/mod.ts";
import { discoverCluster, nodeTarget } from "./topology.ts";

/** Options for {@linkcode clusterKeyMap}. */
export interface ClusterKeyMapOptions {
  /** SCAN MATCH pattern (`doc:*`). @default {"*"} */
  match?: string;
  /** SCAN COUNT hint per call. @default {1000} */
  count?: number;
  /** Keys kept over all nodes; the scan stops there (`truncated`). @default {1000000} */
  maxKeys?: number;
  /** Time budget for the whole scan; past it the scan stops (`truncated`). @default {60000} */
  timeoutMs?: number;
  /** Aborting stops the scan (`truncated`). */
  signal?: AbortSignal;
}

/** What {@linkcode clusterKeyMap} found. */
export interface ClusterKeyMap {
  /** Per primary: its address and the keys it holds that match. */
  nodes: Array<{ address: string; keys: string[] }>;
  /** Whether a bound (keys, time, signal) stopped the scan before every primary was read. */
  truncated: boolean;
}

const dec = new TextDecoder();

function text(v: RespValue | undefined): string {
  if (v?.type === "bulk" || v?.type === "verbatim") return dec.decode(v.value);
  if (v?.type === "simple") return v.value;
  return "";
}

/**
 * Scans every primary of the cluster the seeds belong to and lists the keys matching `match` per
 * node.
 *
 * @throws {MembenchError} `invalid_argument` for bad bounds; `connection` when no seed answers;
 *   `server` when a node refuses SCAN.
 */
export async function clusterKeyMap(
  seeds: readonly Target[],
  options: ClusterKeyMapOptions = {},
): Promise<ClusterKeyMap> {
  const count = options.count ?? 1000;
  const maxKeys = options.maxKeys ?? 1_000_000;
  const timeoutMs = options.timeoutMs ?? 60_000;
  const problems: string[] = [];
  if (!Number.isInteger(count) || count < 1) {
    problems.push(`Cannot use 'count': must be an integer >= 1: current value is ${count}`);
  }
  if (!Number.isInteger(maxKeys) || maxKeys < 1) {
    problems.push(`Cannot use 'maxKeys': must be an integer >= 1: current value is ${maxKeys}`);
  }
  if (!(timeoutMs > 0)) {
    problems.push(`Cannot use 'timeoutMs': must be > 0: current value is ${timeoutMs}`);
  }
  if (problems.length > 0) throw new MembenchError("invalid_argument", problems.join("\n"));
  const topo = await discoverCluster(seeds);
  const deadline = Date.now() + timeoutMs;
  const out: ClusterKeyMap = { nodes: [], truncated: false };
  let kept = 0;
  for (const node of topo.nodes) {
    if (node.role !== "primary") continue;
    // A primary that holds no slot (failed, or emptied by a reshard) has no keys to list.
    if (!topo.slots.some((s) => topo.nodes[s] === node)) continue;
    const keys: string[] = [];
    out.nodes.push({ address: node.address, keys });
    if (out.truncated) continue;
    const c = await RespConnection.open(nodeTarget(seeds[0]!, node));
    try {
      let cursor = "0";
      do {
        if (Date.now() > deadline || options.signal?.aborted || kept >= maxKeys) {
          out.truncated = true;
          break;
        }
        const r = await c.command(["SCAN", cursor, "MATCH", options.match ?? "*", "COUNT", count]);
        if (r.type === "error") {
          throw new MembenchError("server", `${node.address}: SCAN failed: ${r.value}`);
        }
        if (r.type !== "array" || r.value.length !== 2) {
          throw new MembenchError("protocol", `${node.address}: SCAN replied ${r.type}`);
        }
        cursor = text(r.value[0]);
        const batch = r.value[1]!;
        for (const k of batch.type === "array" ? batch.value : []) {
          if (kept >= maxKeys) {
            out.truncated = true;
            break;
          }
          keys.push(text(k));
          kept++;
        }
      } while (cursor !== "0" && !out.truncated);
    } finally {
      c.close();
    }
  }
  return out;
}
