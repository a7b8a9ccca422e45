/**
 * Cluster topology discovery: `CLUSTER SHARDS` (Redis/Valkey 7+), falling back to `CLUSTER SLOTS`,
 * from the first seed that answers; the result is the nodes (primaries and replicas) and the owner
 * of every slot.
 *
 * @module
 */
import { errorMessage, MembenchError } from "../errors/mod.ts";
import { endpointName, RespConnection, type Target } from "../net/mod.ts";
import type { RespValue } from "../protocol/resp/mod.ts";
import { SLOTS } from "./slot.ts";

/** One node of a cluster. */
export interface ClusterNode {
  /** Node id (40 hex characters). */
  id: string;
  /** Host (IP or name) as the cluster announces it. */
  host: string;
  /** Client port. */
  port: number;
  /** `host:port`. */
  address: string;
  /** Primary or replica. */
  role: "primary" | "replica";
  /** A replica's primary (index in {@linkcode ClusterTopology.nodes}); -1 for a primary. */
  primary: number;
  /**
   * Whether the cluster does not consider it failed. `loading` counts as healthy: Redis 7.0 says
   * `loading` for a replica whose replication offset is still 0, though it serves reads.
   */
  healthy: boolean;
}

/** What discovery found. */
export interface ClusterTopology {
  /** Every node, primaries first. */
  nodes: ClusterNode[];
  /** Per slot, the index of its primary in `nodes`; -1 for an unassigned slot. */
  slots: Int16Array;
  /** How it was read: `shards` or `slots`. */
  source: "shards" | "slots";
  /** The seed that answered. */
  seed: string;
}

/** Options for {@linkcode discoverCluster}. */
export interface DiscoverOptions {
  /** Connect timeout per seed. @default {3000} */
  connectTimeoutMs?: number;
  /** Reply timeout. @default {5000} */
  requestTimeoutMs?: number;
}

const dec = new TextDecoder();

function str(v: RespValue | undefined): string {
  if (v === undefined) return "";
  if (v.type === "bulk" || v.type === "verbatim") return dec.decode(v.value);
  if (v.type === "simple" || v.type === "error") return v.value;
  if (v.type === "integer" || v.type === "double") return String(v.value);
  return "";
}

function num(v: RespValue | undefined): number {
  if (v?.type === "integer") return Number(v.value);
  return Number(str(v));
}

// A RESP3 map or a RESP2 flat [key, value, …] array as a lookup.
function fields(v: RespValue | undefined): Map<string, RespValue> {
  const m = new Map<string, RespValue>();
  if (v?.type === "map") { for (const [k, x] of v.value) m.set(str(k), x); }
  else if (v?.type === "array") {
    for (let i = 0; i + 1 < v.value.length; i += 2) m.set(str(v.value[i]), v.value[i + 1]!);
  }
  return m;
}

function list(v: RespValue | undefined): RespValue[] {
  return v?.type === "array" || v?.type === "set" ? v.value : [];
}

function bad(seed: string, what: string): MembenchError {
  return new MembenchError("protocol", `Cannot read the cluster topology from ${seed}: ${what}`);
}

class Builder {
  nodes: ClusterNode[] = [];
  byId = new Map<string, number>();
  slots = new Int16Array(SLOTS).fill(-1);
  add(n: Omit<ClusterNode, "address" | "primary">, primaryId: string | undefined): number {
    const have = this.byId.get(n.id);
    if (have !== undefined) return have;
    const host = n.host.includes(":") ? `[${n.host}]` : n.host;
    this.nodes.push({ ...n, address: `${host}:${n.port}`, primary: -1 });
    const i = this.nodes.length - 1;
    this.byId.set(n.id, i);
    if (primaryId !== undefined) this.pending.push([i, primaryId]);
    return i;
  }
  pending: [number, string][] = [];
  // Primaries first; replicas point at their primary's new index.
  finish(source: "shards" | "slots", seed: string): ClusterTopology {
    const order = this.nodes.map((_, i) => i).sort((a, b) =>
      (this.nodes[a]!.role === "primary" ? 0 : 1) - (this.nodes[b]!.role === "primary" ? 0 : 1) ||
      a - b
    );
    const newIndex = new Int16Array(this.nodes.length);
    order.forEach((old, k) => newIndex[old] = k);
    const nodes = order.map((i) => this.nodes[i]!);
    for (const [i, pid] of this.pending) {
      const p = this.byId.get(pid);
      if (p !== undefined) nodes[newIndex[i]!]!.primary = newIndex[p]!;
    }
    const slots = this.slots.map((s) => s < 0 ? -1 : newIndex[s]!);
    return { nodes, slots, source, seed };
  }
}

/** Reads a `CLUSTER SHARDS` reply. */
export function parseClusterShards(reply: RespValue, seed: string): ClusterTopology {
  if (reply.type === "error") throw bad(seed, reply.value);
  const b = new Builder();
  for (const shard of list(reply)) {
    const f = fields(shard);
    const ranges = list(f.get("slots")).map(num);
    const members = list(f.get("nodes")).map(fields);
    let primary = -1;
    let primaryId: string | undefined;
    for (const m of members) {
      if (str(m.get("role")) !== "master") continue;
      primaryId = str(m.get("id"));
      primary = b.add({
        id: primaryId,
        host: str(m.get("ip")) || str(m.get("endpoint")),
        port: num(m.get("port")) || num(m.get("tls-port")),
        role: "primary",
        healthy: str(m.get("health")) !== "failed",
      }, undefined);
    }
    for (const m of members) {
      if (str(m.get("role")) === "master") continue;
      b.add({
        id: str(m.get("id")),
        host: str(m.get("ip")) || str(m.get("endpoint")),
        port: num(m.get("port")) || num(m.get("tls-port")),
        role: "replica",
        healthy: str(m.get("health")) !== "failed",
      }, primaryId);
    }
    if (primary < 0) continue; // a shard whose primary failed and has no successor yet
    for (let i = 0; i + 1 < ranges.length; i += 2) {
      const lo = ranges[i]!, hi = ranges[i + 1]!;
      if (!(lo >= 0 && hi < SLOTS && lo <= hi)) throw bad(seed, `bad slot range ${lo}-${hi}`);
      b.slots.fill(primary, lo, hi + 1);
    }
  }
  if (b.nodes.length === 0) throw bad(seed, "CLUSTER SHARDS lists no node");
  return b.finish("shards", seed);
}

/** Reads a `CLUSTER SLOTS` reply. */
export function parseClusterSlots(reply: RespValue, seed: string): ClusterTopology {
  if (reply.type === "error") throw bad(seed, reply.value);
  const b = new Builder();
  for (const r of list(reply)) {
    const e = list(r);
    const lo = num(e[0]), hi = num(e[1]);
    if (!(lo >= 0 && hi < SLOTS && lo <= hi)) throw bad(seed, `bad slot range ${lo}-${hi}`);
    let primary = -1;
    let primaryId = "";
    for (let k = 2; k < e.length; k++) {
      const n = list(e[k]);
      const host = str(n[0]), port = num(n[1]);
      const id = str(n[2]) || `${host}:${port}`;
      if (k === 2) {
        primaryId = id;
        primary = b.add({ id, host, port, role: "primary", healthy: true }, undefined);
      } else b.add({ id, host, port, role: "replica", healthy: true }, primaryId);
    }
    if (primary >= 0) b.slots.fill(primary, lo, hi + 1);
  }
  if (b.nodes.length === 0) throw bad(seed, "CLUSTER SLOTS lists no node");
  return b.finish("slots", seed);
}

/**
 * Discovers a cluster from its seeds: the first seed that answers gives the topology through
 * `CLUSTER SHARDS`, or `CLUSTER SLOTS` where SHARDS is unknown. Node hosts the cluster announces
 * empty (`?`) take the seed's host.
 *
 * @throws {MembenchError} `connection` when no seed answers; `invalid_argument` when the server
 *   is not in cluster mode.
 */
export async function discoverCluster(
  seeds: readonly Target[],
  options: DiscoverOptions = {},
): Promise<ClusterTopology> {
  if (seeds.length === 0) {
    throw new MembenchError("invalid_argument", "Cannot discover a cluster: no seed address");
  }
  const problems: string[] = [];
  for (const seed of seeds) {
    const name = endpointName(seed.endpoint);
    let c: RespConnection;
    try {
      c = await RespConnection.open(seed, {
        connectTimeoutMs: options.connectTimeoutMs ?? 3000,
        requestTimeoutMs: options.requestTimeoutMs ?? 5000,
      });
    } catch (e) {
      problems.push(`${name}: ${errorMessage(e)}`);
      continue;
    }
    try {
      let topo: ClusterTopology;
      const shards = await c.command(["CLUSTER", "SHARDS"]);
      if (shards.type === "error" && /disabled/i.test(shards.value)) {
        throw new MembenchError(
          "invalid_argument",
          `Cannot use ${name} as a cluster seed: cluster support is disabled on that server`,
          { hint: "drop --cluster for a standalone server" },
        );
      }
      if (shards.type === "error") {
        topo = parseClusterSlots(await c.command(["CLUSTER", "SLOTS"]), name);
      } else topo = parseClusterShards(shards, name);
      if (seed.endpoint.kind === "tcp") {
        for (const n of topo.nodes) {
          if (n.host === "" || n.host === "?") {
            n.host = seed.endpoint.host;
            n.address = `${n.host}:${n.port}`;
          }
        }
      }
      return topo;
    } catch (e) {
      if (e instanceof MembenchError && e.code === "invalid_argument") throw e;
      problems.push(`${name}: ${errorMessage(e)}`);
    } finally {
      c.close();
    }
  }
  throw new MembenchError(
    "connection",
    `Cannot discover the cluster: no seed answered (${problems.join("; ")})`,
  );
}

/** The target of a node: the seed's credentials and TLS with the node's address. */
export function nodeTarget(seed: Target, node: ClusterNode): Target {
  return { ...seed, endpoint: { kind: "tcp", host: node.host, port: node.port } };
}
