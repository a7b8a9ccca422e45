// This module uses no Deno APIs.
/**
 * AWS ElastiCache and MemoryDB endpoints recognised by their host names (parsing only, no AWS
 * API): a cluster-mode-enabled configuration endpoint (or MemoryDB's cluster endpoint) implies
 * cluster discovery; a primary, reader or node endpoint does not.
 *
 * The forms, as AWS documents them:
 * - ElastiCache (Valkey/Redis OSS), "Finding connection endpoints in ElastiCache" and "Finding
 *   replication group endpoints"
 *   (https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/Endpoints.html,
 *   https://docs.aws.amazon.com/AmazonElastiCache/latest/red-ug/Replication.Endpoints.html):
 *   configuration endpoint `clustercfg.NAME.ID.REGION.cache.amazonaws.com` (in-transit encryption
 *   on) or `NAME.ID.clustercfg.REGION.cache.amazonaws.com`; primary endpoint
 *   `master.NAME.ID.REGION…` or `NAME.ID.ng.0001.REGION…`; reader endpoint `replica.NAME.ID.REGION…`
 *   or `NAME-ro.ID.ng.0001.REGION…`; node endpoints `NAME-0001-001.NAME.ID.REGION…` or
 *   `NAME-0001-001.ID.0001.REGION…`. REGION is a short code (`use1`, `cac1`, `cnn1`); China
 *   regions end in `.amazonaws.com.cn`.
 * - ElastiCache for Memcached, "Using Auto Discovery"
 *   (https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/AutoDiscovery.Using.html): "the
 *   configuration endpoint will always have **.cfg** in its address", e.g.
 *   `mycluster.fnjyzo.cfg.use1.cache.amazonaws.com`: memcached auto discovery, not a Redis cluster.
 * - ElastiCache Serverless: `NAME-ID.serverless.REGION.cache.amazonaws.com` (one endpoint for
 *   every operation).
 * - MemoryDB, "Finding connection endpoints"
 *   (https://docs.aws.amazon.com/memorydb/latest/devguide/endpoints.html): cluster endpoint
 *   `clustercfg.my-cluster.xxxxxx.memorydb.us-east-1.amazonaws.com` ("Use the cluster's Cluster
 *   Endpoint for all operations"), `NAME.ID.clustercfg.memorydb.REGION…` without TLS; node
 *   endpoints `NAME-0001-001.NAME.ID.memorydb.REGION…` or `NAME-0001-001.ID.0001.memorydb.REGION…`.
 *
 * @module
 */

/** What an AWS endpoint host name is. */
export type AwsEndpointKind =
  | "configuration"
  | "primary"
  | "reader"
  | "node"
  | "serverless"
  | "memcached-configuration";

/** An AWS endpoint recognised from its host name. */
export interface AwsEndpoint {
  /** Which service. */
  service: "elasticache" | "memorydb";
  /** What kind of endpoint. */
  kind: AwsEndpointKind;
  /** The cluster (replication group) name, as the host name carries it. */
  name: string;
  /** The region as the host name writes it (`use1` for ElastiCache, `us-east-1` for MemoryDB). */
  region: string;
  /** Whether the form is the one AWS gives with in-transit encryption (TLS) on. */
  tls: boolean;
  /** Whether the endpoint is a cluster's configuration endpoint: bench discovers the cluster. */
  impliesCluster: boolean;
}

const ELASTICACHE = /^(.+)\.([a-z]{2,4}\d)\.cache\.amazonaws\.com(?:\.cn)?\.?$/;
const MEMORYDB = /^(.+)\.memorydb\.([a-z]{2}(?:-gov)?-[a-z]+-\d)\.amazonaws\.com(?:\.cn)?\.?$/;
const SHARD_NODE = /^(.+)-\d{4}-\d{3}$/; // NAME-0001-001
const NODE_NUMBER = /^\d{4}$/;

/**
 * Recognises an ElastiCache or MemoryDB endpoint by its host name; undefined for any other host.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(parseAwsEndpoint("clustercfg.shop.xxxxxx.use1.cache.amazonaws.com")?.kind, "configuration");
 * assert.equal(parseAwsEndpoint("master.shop.xxxxxx.use1.cache.amazonaws.com")?.impliesCluster, false);
 * assert.equal(parseAwsEndpoint("127.0.0.1"), undefined);
 * ```
 */
export function parseAwsEndpoint(host: string): AwsEndpoint | undefined {
  const h = host.toLowerCase();
  let m = ELASTICACHE.exec(h);
  if (m) return elastiCache(m[1]!.split("."), m[2]!);
  m = MEMORYDB.exec(h);
  if (m) return memoryDb(m[1]!.split("."), m[2]!);
  return undefined;
}

function ep(
  service: AwsEndpoint["service"],
  kind: AwsEndpointKind,
  name: string,
  region: string,
  tls: boolean,
): AwsEndpoint {
  return {
    service,
    kind,
    name,
    region,
    tls,
    impliesCluster: kind === "configuration",
  };
}

// The labels before the region code.
function elastiCache(l: string[], region: string): AwsEndpoint | undefined {
  const e = (kind: AwsEndpointKind, name: string, tls: boolean) =>
    ep("elasticache", kind, name, region, tls);
  if (l.length === 2 && l[1] === "serverless") {
    // NAME-ID.serverless: the name is all but the last dash-separated part.
    const i = l[0]!.lastIndexOf("-");
    return i > 0 ? e("serverless", l[0]!.slice(0, i), true) : undefined;
  }
  if (l.length === 3) {
    const [a, b, c] = l as [string, string, string];
    if (a === "clustercfg") return e("configuration", b, true);
    if (a === "master") return e("primary", b, true);
    if (a === "replica") return e("reader", b, true);
    if (c === "clustercfg") return e("configuration", a, false);
    if (c === "cfg") return e("memcached-configuration", a, false);
    const node = SHARD_NODE.exec(a);
    if (node && NODE_NUMBER.test(c)) return e("node", node[1]!, false);
    if (NODE_NUMBER.test(c)) return e("node", a.replace(/-\d{3,4}$/, ""), false);
    if (node && node[1] === b) return e("node", b, true);
    if (/-\d{3,4}$/.test(a) && a.startsWith(`${b}-`)) return e("node", b, true);
    return undefined;
  }
  if (l.length === 4) {
    const [a, , c, d] = l as [string, string, string, string];
    if (c === "ng" && NODE_NUMBER.test(d)) {
      return a.endsWith("-ro") ? e("reader", a.slice(0, -3), false) : e("primary", a, false);
    }
    return undefined;
  }
  return undefined;
}

function memoryDb(l: string[], region: string): AwsEndpoint | undefined {
  const e = (kind: AwsEndpointKind, name: string, tls: boolean) =>
    ep("memorydb", kind, name, region, tls);
  if (l.length !== 3) return undefined;
  const [a, b, c] = l as [string, string, string];
  if (a === "clustercfg") return e("configuration", b, true);
  if (c === "clustercfg") return e("configuration", a, false);
  const node = SHARD_NODE.exec(a);
  if (node && node[1] === b) return e("node", b, true);
  if (node && NODE_NUMBER.test(c)) return e("node", node[1]!, false);
  return undefined;
}

/**
 * A sentence about an AWS endpoint for hints and warnings: which endpoint it is and how bench
 * treats it.
 */
export function describeAwsEndpoint(e: AwsEndpoint): string {
  const svc = e.service === "memorydb" ? "MemoryDB" : "ElastiCache";
  switch (e.kind) {
    case "configuration":
      return `${svc} ${
        e.service === "memorydb" ? "cluster" : "configuration"
      } endpoint of '${e.name}': a cluster, discovered from it`;
    case "primary":
      return `${svc} primary endpoint of '${e.name}' (cluster mode disabled): not a cluster; ` +
        "--rfr reads from its replicas";
    case "reader":
      return `${svc} reader endpoint of '${e.name}': replicas only, it takes no writes`;
    case "node":
      return `${svc} node endpoint of '${e.name}': one node`;
    case "serverless":
      return `${svc} Serverless endpoint of '${e.name}': one endpoint for every operation`;
    case "memcached-configuration":
      return `${svc} for Memcached configuration endpoint of '${e.name}' (auto discovery): ` +
        "one node per connection";
  }
}
