/**
 * A standalone (non-cluster) primary and its replicas, read with `ROLE` (falling back to `INFO
 * replication` where ROLE is unknown or denied): the topology of a replication group, so that
 * read-from-replica works without a cluster. A seed that is a replica leads to its primary.
 *
 * @module
 */
import { errorMessage, MembenchError } from "../errors/mod.ts";
import { endpointName, RespConnection, type Target } from "../net/mod.ts";
import type { RespValue } from "../protocol/resp/mod.ts";
import { list, str, withName } from "./_values.ts";
import { SLOTS } from "./slot.ts";
import type { ClusterNode, ClusterTopology, DiscoverOptions } from "./topology.ts";

/** One server's replication role, as ROLE or INFO replication gives it. */
export interface ReplicationRole {
  /** `primary`, `replica` or `sentinel`. */
  role: "primary" | "replica" | "sentinel";
  /** A primary's replicas: host, port and, from INFO, whether their link is `online`. */
  replicas: Array<{ host: string; port: number; online: boolean }>;
  /** A replica's primary. */
  primary?: { host: string; port: number };
}

/**
 * Reads a `ROLE` reply (https://redis.io/commands/role): `["master", offset, [[ip, port, offset],
 * …]]`, `["slave", ip, port, state, offset]` or `["sentinel", [names]]`.
 *
 * @throws {MembenchError} `protocol` for an error reply or an unknown role.
 */
export function parseRole(reply: RespValue, where: string): ReplicationRole {
  if (reply.type === "error") {
    throw new MembenchError("protocol", `Cannot read ROLE of ${where}: ${reply.value}`);
  }
  const r = list(reply);
  const kind = str(r[0]);
  if (kind === "master") {
    return {
      role: "primary",
      replicas: list(r[2]).map((x) => {
        const e = list(x);
        return { host: str(e[0]), port: Number(str(e[1])), online: true };
      }),
    };
  }
  if (kind === "slave" || kind === "replica") {
    return { role: "replica", replicas: [], primary: { host: str(r[1]), port: Number(str(r[2])) } };
  }
  if (kind === "sentinel") return { role: "sentinel", replicas: [] };
  throw new MembenchError("protocol", `Cannot read ROLE of ${where}: unknown role '${kind}'`);
}

/**
 * Reads `INFO replication` text: `role:master` with `slaveN:ip=…,port=…,state=online,…` lines, or
 * `role:slave` with `master_host` and `master_port`.
 *
 * @throws {MembenchError} `protocol` when the text has no `role` line.
 */
export function parseInfoReplication(text: string, where: string): ReplicationRole {
  const f = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(":");
    if (i > 0 && !line.startsWith("#")) f.set(line.slice(0, i), line.slice(i + 1).trim());
  }
  const role = f.get("role");
  if (role === "master") {
    const replicas: ReplicationRole["replicas"] = [];
    for (const [k, v] of f) {
      if (!/^slave\d+$/.test(k)) continue;
      const kv = new Map(v.split(",").map((p) => p.split("=", 2) as [string, string]));
      replicas.push({
        host: kv.get("ip") ?? "",
        port: Number(kv.get("port")),
        online: kv.get("state") === "online",
      });
    }
    return { role: "primary", replicas };
  }
  if (role === "slave" || role === "replica") {
    return {
      role: "replica",
      replicas: [],
      primary: { host: f.get("master_host") ?? "", port: Number(f.get("master_port")) },
    };
  }
  throw new MembenchError("protocol", `Cannot read INFO replication of ${where}: no role line`);
}

// ROLE, else INFO replication; replicas' link states from INFO when it answers.
async function readRole(c: RespConnection, where: string): Promise<ReplicationRole> {
  const role = await c.command(["ROLE"]);
  const info = await c.command(["INFO", "replication"]);
  const fromInfo = info.type === "error" ? undefined : parseInfoReplication(str(info), where);
  if (role.type === "error") {
    if (fromInfo) return fromInfo;
    throw new MembenchError(
      "protocol",
      `Cannot read the replication of ${where}: ROLE and INFO replication both failed (${role.value}; ${
        info.type === "error" ? info.value : ""
      })`,
    );
  }
  const r = parseRole(role, where);
  if (r.role === "primary" && fromInfo?.role === "primary") {
    for (const x of r.replicas) {
      const s = fromInfo.replicas.find((y) => y.host === x.host && y.port === x.port);
      if (s) x.online = s.online;
    }
  }
  return r;
}

async function clusterEnabled(c: RespConnection): Promise<boolean> {
  const r = await c.command(["INFO", "cluster"]);
  return r.type !== "error" && /^cluster_enabled:1\s*$/m.test(str(r));
}

function tcpHost(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

/**
 * Discovers a standalone primary and its replicas from seeds: the first seed that answers gives
 * its role (`ROLE`, else `INFO replication`); a replica leads to its primary (asked in turn, with
 * the seed's credentials and TLS). The result is a topology whose primary (node 0) owns every slot
 * and whose replicas are the primary's, healthy when their link is online; `source` is
 * `replication`. A seed given as a host name keeps it (resolved again at each connect).
 *
 * @throws {MembenchError} `invalid_argument` for a cluster node (use cluster discovery) or a
 *   Sentinel; `connection` when no seed answers.
 */
export async function discoverReplication(
  seeds: readonly Target[],
  options: DiscoverOptions = {},
): Promise<ClusterTopology> {
  if (seeds.length === 0) {
    throw new MembenchError("invalid_argument", "Cannot discover replication: no seed address");
  }
  const open = (t: Target) =>
    RespConnection.open(t, {
      connectTimeoutMs: options.connectTimeoutMs ?? 3000,
      requestTimeoutMs: options.requestTimeoutMs ?? 5000,
    });
  const problems: string[] = [];
  for (const seed of seeds) {
    const name = endpointName(seed.endpoint);
    let target = seed;
    let where = name;
    try {
      for (let hop = 0;; hop++) {
        const c = await open(target);
        let role: ReplicationRole;
        try {
          if (await clusterEnabled(c)) {
            throw new MembenchError(
              "invalid_argument",
              `Cannot read ${where} as a standalone primary: it is a cluster node`,
              { hint: "use --cluster: reads then go to each slot owner's replicas" },
            );
          }
          role = await readRole(c, where);
        } finally {
          c.close();
        }
        if (role.role === "sentinel") {
          throw new MembenchError(
            "invalid_argument",
            `Cannot use ${where}: it is a Sentinel, not a data node`,
            { hint: "give the primary's address (SENTINEL GET-MASTER-ADDR-BY-NAME tells it)" },
          );
        }
        if (role.role === "replica") {
          const p = role.primary!;
          if (hop > 0 || !p.host || !(p.port > 0)) {
            throw new MembenchError(
              "protocol",
              `${where} is a replica of ${p.host}:${p.port}, which is not a primary`,
            );
          }
          target = { ...seed, endpoint: { kind: "tcp", host: p.host, port: p.port } };
          where = `${p.host}:${p.port} (primary of ${name})`;
          continue;
        }
        const ep = target.endpoint;
        const host = ep.kind === "tcp" ? ep.host : "";
        const port = ep.kind === "tcp" ? ep.port : 0;
        const nodes: ClusterNode[] = [{
          id: endpointName(ep),
          host,
          port,
          address: endpointName(ep),
          role: "primary",
          primary: -1,
          healthy: true,
        }];
        for (const r of role.replicas) {
          const address = `${tcpHost(r.host)}:${r.port}`;
          nodes.push({
            id: address,
            host: r.host,
            port: r.port,
            address,
            role: "replica",
            primary: 0,
            healthy: r.online,
          });
        }
        return {
          nodes,
          slots: new Int16Array(SLOTS).fill(0),
          source: "replication",
          seed: name,
        };
      }
    } catch (e) {
      if (e instanceof MembenchError && e.code === "invalid_argument") throw e;
      problems.push(withName(where, errorMessage(e)));
    }
  }
  throw new MembenchError(
    "connection",
    `Cannot discover the primary and its replicas: no seed answered (${problems.join("; ")})`,
  );
}
