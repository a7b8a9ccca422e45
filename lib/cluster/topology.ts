/**
 * Cluster topology discovery: `CLUSTER SHARDS` (Redis/Valkey 7+), falling back to `CLUSTER SLOTS`
 * and then to `CLUSTER NODES` (where the others are unknown, renamed or denied by ACL), from the
 * first seed that answers; the result is the nodes (primaries and replicas) and the owner
 * of every slot.
 *
 * @module
 */
import { errorMessage, MembenchError } from "../errors/mod.ts";
import { endpointName, RespConnection, type Target } from "../net/mod.ts";
import type { RespValue } from "../protocol/resp/mod.ts";
import { list, str, withName } from "./_values.ts";
import { SLOTS } from "./slot.ts";
import { describeAwsEndpoint, parseAwsEndpoint } from "./endpoints.ts";

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
  /**
   * How it was read: `shards`, `slots`, `nodes` (CLUSTER NODES) or `replication` (a standalone
   * primary and its replicas, by ROLE / INFO replication: the primary owns every slot).
   */
  source: TopologySource;
  /** The seed that answered. */
  seed: string;
  /**
   * Slots being moved when it was read (CLUSTER NODES' `[slot->-id]` and `[slot-<-id]` entries):
   * routing keeps them on their owner (MOVED and ASK do the rest); reported, not used.
   */
  migrations?: SlotMigration[];
}

/** Where a topology came from. */
export type TopologySource = "shards" | "slots" | "nodes" | "replication";

/** A slot in migration, as CLUSTER NODES lists it. */
export interface SlotMigration {
  /** The slot. */
  slot: number;
  /** `migrating` (listed on the owner, moving to `node`) or `importing` (from `node`). */
  kind: "migrating" | "importing";
  /** The address of the node that lists it. */
  at: string;
  /** The other node's id. */
  node: string;
}

/** Options for {@linkcode discoverCluster}. */
export interface DiscoverOptions {
  /** Connect timeout per seed. @default {3000} */
  connectTimeoutMs?: number;
  /** Reply timeout. @default {5000} */
  requestTimeoutMs?: number;
}

// CLUSTER SHARDS' health: the documented values are online, failed and loading; Redis 7.0.15
// says `fail` for a node the cluster flagged failed (seen on a killed replica).
function healthOk(health: string): boolean {
  return health !== "failed" && health !== "fail";
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
  finish(source: TopologySource, seed: string): ClusterTopology {
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

// A node's address in CLUSTER SHARDS: its preferred endpoint (an ip, or a host name with
// cluster-preferred-endpoint-type hostname: resolved again at each connect), else its ip.
function announced(m: Map<string, RespValue>): string {
  const e = str(m.get("endpoint"));
  return e !== "" && e !== "?" ? e : str(m.get("ip"));
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
        host: announced(m),
        port: num(m.get("port")) || num(m.get("tls-port")),
        role: "primary",
        healthy: healthOk(str(m.get("health"))),
      }, undefined);
    }
    for (const m of members) {
      if (str(m.get("role")) === "master") continue;
      b.add({
        id: str(m.get("id")),
        host: announced(m),
        port: num(m.get("port")) || num(m.get("tls-port")),
        role: "replica",
        healthy: healthOk(str(m.get("health"))),
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
 * Reads a `CLUSTER NODES` reply (the documented serialization: one line per node,
 * `<id> <ip:port@cport[,hostname]> <flags> <master> <ping-sent> <pong-recv> <config-epoch>
 * <link-state> <slot> <slot> ...`, https://redis.io/commands/cluster-nodes). Slot entries are a
 * number, a range `a-b`, or a migration `[slot->-id]` / `[slot-<-id]` (listed in `migrations`, the
 * slot stays with its owner). Nodes in `handshake` are skipped (their ids are temporary); `fail`
 * and `noaddr` nodes are kept as unhealthy. An empty ip (`:6380@16380`, a node that does not know
 * its address yet) is left empty for the caller to fill.
 */
export function parseClusterNodes(reply: RespValue | string, seed: string): ClusterTopology {
  if (typeof reply !== "string" && reply.type === "error") throw bad(seed, reply.value);
  const text = typeof reply === "string" ? reply : str(reply);
  const b = new Builder();
  const migrations: SlotMigration[] = [];
  const rows: Array<{ f: string[]; host: string; port: number; flags: Set<string> }> = [];
  for (const [ln, raw] of text.split("\n").entries()) {
    const line = raw.trim();
    if (line === "") continue;
    const f = line.split(" ");
    if (f.length < 8) {
      throw bad(seed, `CLUSTER NODES line ${ln + 1} has ${f.length} fields, not 8+`);
    }
    // ip:port@cport[,hostname]; before Redis 4, ip:port. An IPv6 ip is not bracketed.
    const addr = f[1]!.split(",")[0]!.split("@")[0]!;
    const colon = addr.lastIndexOf(":");
    const port = Number(addr.slice(colon + 1));
    if (colon < 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
      throw bad(seed, `CLUSTER NODES line ${ln + 1}: bad address '${f[1]}'`);
    }
    const host = addr.slice(0, colon).replace(/^\[|\]$/g, "");
    const flags = new Set(f[2]!.split(","));
    if (flags.has("handshake")) continue;
    rows.push({ f, host, port, flags });
  }
  // Primaries first, so that replicas find them and the slots their index.
  for (const pass of [0, 1]) {
    for (const { f, host, port, flags } of rows) {
      const replica = flags.has("slave") || flags.has("replica");
      if ((pass === 0) === replica) continue;
      const id = f[0]!;
      const master = f[3]!;
      const i = b.add({
        id,
        host,
        port,
        role: replica ? "replica" : "primary",
        healthy: !flags.has("fail") && !flags.has("noaddr"),
      }, replica && master !== "-" ? master : undefined);
      if (replica) continue;
      for (const entry of f.slice(8)) {
        const mig = /^\[(\d+)-([<>])-([0-9a-f]+)\]$/.exec(entry);
        if (mig) {
          migrations.push({
            slot: Number(mig[1]),
            kind: mig[2] === ">" ? "migrating" : "importing",
            at: `${host}:${port}`,
            node: mig[3]!,
          });
          continue;
        }
        const r = /^(\d+)(?:-(\d+))?$/.exec(entry);
        const lo = r ? Number(r[1]) : NaN, hi = r ? Number(r[2] ?? r[1]) : NaN;
        if (!(lo >= 0 && hi < SLOTS && lo <= hi)) throw bad(seed, `bad slot entry '${entry}'`);
        b.slots.fill(i, lo, hi + 1);
      }
    }
  }
  if (b.nodes.length === 0) throw bad(seed, "CLUSTER NODES lists no node");
  const topo = b.finish("nodes", seed);
  if (migrations.length > 0) topo.migrations = migrations;
  return topo;
}

/**
 * Discovers a cluster from its seeds: the first seed that answers gives the topology through
 * `CLUSTER SHARDS`, or `CLUSTER SLOTS` where SHARDS is unknown (or denied), or `CLUSTER NODES`
 * where both are. Node hosts the cluster announces
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
      problems.push(withName(name, errorMessage(e)));
      continue;
    }
    try {
      let topo: ClusterTopology;
      const shards = await c.command(["CLUSTER", "SHARDS"]);
      if (shards.type === "error" && /disabled/i.test(shards.value)) {
        throw new MembenchError(
          "invalid_argument",
          `Cannot use ${name} as a cluster seed: cluster support is disabled on that server`,
          { hint: standaloneHint(seed) },
        );
      }
      if (shards.type !== "error") topo = parseClusterShards(shards, name);
      else {
        const slots = await c.command(["CLUSTER", "SLOTS"]);
        if (slots.type !== "error") topo = parseClusterSlots(slots, name);
        else {
          const nodes = await c.command(["CLUSTER", "NODES"]);
          if (nodes.type === "error") {
            throw bad(
              name,
              `CLUSTER SHARDS, SLOTS and NODES all failed (${shards.value}; ${slots.value}; ${nodes.value})`,
            );
          }
          topo = parseClusterNodes(nodes, name);
        }
      }
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
      problems.push(withName(name, errorMessage(e)));
    } finally {
      c.close();
    }
  }
  throw new MembenchError(
    "connection",
    `Cannot discover the cluster: no seed answered (${problems.join("; ")})`,
  );
}

// The hint for a seed that is not in cluster mode; an AWS primary or reader endpoint says so.
function standaloneHint(seed: Target): string {
  const aws = seed.endpoint.kind === "tcp" ? parseAwsEndpoint(seed.endpoint.host) : undefined;
  const base =
    "drop --cluster for a standalone server (for bench, --rfr alone reads from its replicas)";
  return aws ? `${describeAwsEndpoint(aws)}; ${base}` : base;
}

/** The target of a node: the seed's credentials and TLS with the node's address. */
export function nodeTarget(seed: Target, node: ClusterNode): Target {
  return { ...seed, endpoint: { kind: "tcp", host: node.host, port: node.port } };
}

/**
 * Whether a run can start without node `n` when it does not answer: a replica (reads go to the
 * others or to its primary), or a cluster primary with a healthy replica (the cluster can fail
 * over to it; its slots' requests wait for that). A primary without one can only be waited for
 * in vain, and so can a `standalone` primary (replicas found through ROLE): nothing promotes
 * its replica.
 */
export function canStartWithout(
  nodes: readonly ClusterNode[],
  n: number,
  standalone = false,
): boolean {
  const node = nodes[n];
  if (node === undefined) return false;
  if (node.role === "replica") return true;
  if (standalone) return false;
  return nodes.some((r) => r.role === "replica" && r.primary === n && r.healthy);
}
