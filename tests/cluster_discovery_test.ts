import assert from "node:assert/strict";
import {
  bench,
  type ClusterTopology,
  discoverCluster,
  discoverReplication,
  formatNodeCsv,
  freePort,
  MembenchError,
  parseAwsEndpoint,
  parseClusterNodes,
  parseClusterShards,
  parseInfoReplication,
  parseTarget,
  RespConnection,
  startLocalCluster,
  startLocalServer,
  type Target,
} from "../mod.ts";
import { commandStats, loadTest, redisText, runCli, statsDelta, until } from "./helpers.ts";

// The example of https://redis.io/commands/cluster-nodes (Redis 7.2, with hostnames), plus a
// migration pair, a node in handshake, a failed replica and a node without an address.
const DOC_NODES =
  `07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:30004@31004,hostname4 slave e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 1426238317239 4 connected
67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 127.0.0.1:30002@31002,hostname2 master - 0 1426238316232 2 connected 5461-10922
292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f 127.0.0.1:30003@31003,hostname3 master - 0 1426238318243 3 connected 10923-16383
6ec23923021cf3ffec47632106199cb7f496ce01 127.0.0.1:30005@31005,hostname5 slave 67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 0 1426238316232 5 connected
824fe116063bc5fcf9f4ffd895bc17aee7731ac3 127.0.0.1:30006@31006,hostname6 slave 292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f 0 1426238317741 6 connected
e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@31001,hostname1 myself,master - 0 0 1 connected 0-5460
`;

Deno.test("parseClusterNodes() reads the documented CLUSTER NODES example", () => {
  const t = parseClusterNodes(DOC_NODES, "doc");
  assert.equal(t.source, "nodes");
  assert.equal(t.nodes.length, 6);
  assert.deepEqual(t.nodes.slice(0, 3).map((n) => n.role), ["primary", "primary", "primary"]);
  const at = (addr: string) => t.nodes.findIndex((n) => n.address === addr);
  assert.equal(t.slots[0], at("127.0.0.1:30001"));
  assert.equal(t.slots[5460], at("127.0.0.1:30001"));
  assert.equal(t.slots[5461], at("127.0.0.1:30002"));
  assert.equal(t.slots[16383], at("127.0.0.1:30003"));
  // Replicas point at their primaries (by the master id column).
  const rep = (addr: string) => t.nodes[t.nodes[at(addr)]!.primary]!.address;
  assert.equal(rep("127.0.0.1:30004"), "127.0.0.1:30001");
  assert.equal(rep("127.0.0.1:30005"), "127.0.0.1:30002");
  assert.equal(rep("127.0.0.1:30006"), "127.0.0.1:30003");
  assert.equal(t.nodes[at("127.0.0.1:30004")]!.id, "07c37dfeb235213a872192d90877d0cd55635b91");
  assert.ok(t.nodes.every((n) => n.healthy));
  assert.equal(t.migrations, undefined);
});

Deno.test("parseClusterNodes() notes migrations, skips handshakes, keeps failed nodes as unhealthy", () => {
  const a = "a".repeat(40), b = "b".repeat(40), c = "c".repeat(40), d = "d".repeat(40);
  const text = [
    `${a} 10.0.0.1:6379@16379 myself,master - 0 0 1 connected 0-102 [101->-${b}]`,
    `${b} 10.0.0.2:6379@16379 master - 0 0 2 connected 103-16383 [101-<-${a}]`,
    `${c} 10.0.0.3:6379@16379 slave,fail ${a} 0 0 1 disconnected`,
    `${d} 10.0.0.4:6379@16379 handshake - 0 0 0 connected`,
    `${"e".repeat(40)} :0@0 master,noaddr - 0 0 0 disconnected`,
    // Pre-4.0 form (no cluster bus port) and an IPv6 address, not bracketed.
    `${"f".repeat(40)} ::1:7000 slave ${b} 0 0 2 connected`,
  ].join("\r\n");
  const t = parseClusterNodes(text, "x");
  assert.equal(t.nodes.length, 5, "the handshake node is skipped");
  const byId = (id: string) => t.nodes.find((n) => n.id === id)!;
  assert.equal(t.slots[101], t.nodes.indexOf(byId(a)), "a migrating slot stays with its owner");
  assert.equal(t.slots[102], t.nodes.indexOf(byId(a)));
  assert.equal(t.slots[103], t.nodes.indexOf(byId(b)));
  assert.deepEqual(t.migrations, [
    { slot: 101, kind: "migrating", at: "10.0.0.1:6379", node: b },
    { slot: 101, kind: "importing", at: "10.0.0.2:6379", node: a },
  ]);
  assert.equal(byId(c).healthy, false);
  assert.equal(byId(c).role, "replica");
  assert.equal(byId("e".repeat(40)).healthy, false);
  assert.equal(byId("f".repeat(40)).address, "[::1]:7000");
  assert.equal(byId("f".repeat(40)).host, "::1");
  assert.throws(
    () => parseClusterNodes(`${a} 10.0.0.1:6379@1 master - 0 0 1 connected 0-99999`, "s:1"),
    /Cannot read the cluster topology from s:1: bad slot entry '0-99999'/,
  );
  assert.throws(
    () => parseClusterNodes(`${a} nonsense master`, "s:1"),
    /CLUSTER NODES line 1 has 3 fields, not 8\+/,
  );
});

Deno.test("parseAwsEndpoint() recognises the documented ElastiCache and MemoryDB host names", () => {
  const cases: Array<[string, string | undefined, boolean, string?, boolean?]> = [
    // ElastiCache (Valkey/Redis OSS), cluster mode enabled: the configuration endpoint.
    [
      "clustercfg.my-redis-shards.xxxxxx.use1.cache.amazonaws.com",
      "configuration",
      true,
      "my-redis-shards",
      true,
    ],
    [
      "my-redis-shards.xxxxxx.clustercfg.use1.cache.amazonaws.com",
      "configuration",
      true,
      "my-redis-shards",
      false,
    ],
    ["CLUSTERCFG.Shop.abc123.cnn1.cache.amazonaws.com.cn", "configuration", true, "shop", true],
    // Cluster mode disabled: primary and reader endpoints; node endpoints.
    [
      "master.my-redis-cluster.xxxxxx.cac1.cache.amazonaws.com",
      "primary",
      false,
      "my-redis-cluster",
      true,
    ],
    [
      "my-redis-cluster.xxxxxx.ng.0001.cac1.cache.amazonaws.com",
      "primary",
      false,
      "my-redis-cluster",
      false,
    ],
    [
      "replica.my-redis-cluster.xxxxxx.cac1.cache.amazonaws.com",
      "reader",
      false,
      "my-redis-cluster",
      true,
    ],
    [
      "my-redis-cluster-ro.xxxxxx.ng.0001.cac1.cache.amazonaws.com",
      "reader",
      false,
      "my-redis-cluster",
      false,
    ],
    [
      "my-redis-shards-0002-001.my-redis-shards.xxxxxx.cac1.cache.amazonaws.com",
      "node",
      false,
      "my-redis-shards",
      true,
    ],
    [
      "my-redis-shards-0001-001.xxxxxx.0001.cac1.cache.amazonaws.com",
      "node",
      false,
      "my-redis-shards",
      false,
    ],
    // Memcached auto discovery ("will always have .cfg in its address") and Serverless.
    [
      "mycluster.fnjyzo.cfg.use1.cache.amazonaws.com",
      "memcached-configuration",
      false,
      "mycluster",
    ],
    ["my-cache-abc123.serverless.use1.cache.amazonaws.com", "serverless", false, "my-cache"],
    // MemoryDB: the cluster endpoint of the MemoryDB guide; node endpoints.
    [
      "clustercfg.my-cluster.xxxxxx.memorydb.us-east-1.amazonaws.com",
      "configuration",
      true,
      "my-cluster",
      true,
    ],
    [
      "my-memorydb.xxxxxx.clustercfg.memorydb.us-east-1.amazonaws.com",
      "configuration",
      true,
      "my-memorydb",
      false,
    ],
    [
      "my-memorydb-0002-001.my-memorydb.xxxxxx.memorydb.us-east-1.amazonaws.com",
      "node",
      false,
      "my-memorydb",
      true,
    ],
    [
      "my-memorydb-0002-001.xxxxx.0002.memorydb.us-east-1.amazonaws.com",
      "node",
      false,
      "my-memorydb",
      false,
    ],
    // Not AWS endpoints, or not a documented form.
    ["127.0.0.1", undefined, false],
    ["localhost", undefined, false],
    ["redis.example.com", undefined, false],
    ["my-redis-cluster.cac1.cache.amazonaws.com", undefined, false],
    ["replica.my-redis-cluster.xxxxxx.cac1.cache.amazonaws.ca", undefined, false],
    ["unknown.format.memorydb.ca-central-1.amazonaws.com", undefined, false],
  ];
  for (const [host, kind, cluster, name, tls] of cases) {
    const e = parseAwsEndpoint(host);
    assert.equal(e?.kind, kind, host);
    assert.equal(e?.impliesCluster ?? false, cluster, host);
    if (name !== undefined) assert.equal(e?.name, name, host);
    if (tls !== undefined) assert.equal(e?.tls, tls, host);
  }
  assert.equal(
    parseAwsEndpoint("clustercfg.a.b.memorydb.us-east-1.amazonaws.com")?.service,
    "memorydb",
  );
  assert.equal(parseAwsEndpoint("clustercfg.a.b.use1.cache.amazonaws.com")?.region, "use1");
});

Deno.test("bench turns cluster mode on for a configuration endpoint, not for a primary endpoint", async () => {
  // Options are checked before any connection: an impossible 'clients' stops it there, and the
  // problems listed tell whether cluster mode was on ('db' is refused in cluster mode).
  const problems = async (target: string) => {
    const e = await bench({ target, db: 1, clients: 0 }).then(() => undefined, (e) => e);
    assert.ok(e instanceof MembenchError && e.code === "invalid_argument", String(e));
    return e.message;
  };
  assert.match(
    await problems("clustercfg.shop.xxxxxx.use1.cache.amazonaws.com:6379"),
    /Cannot use 'db' with 'cluster'/,
  );
  assert.match(
    await problems("clustercfg.shop.xxxxxx.memorydb.us-east-1.amazonaws.com:6379"),
    /Cannot use 'db' with 'cluster'/,
  );
  assert.doesNotMatch(
    await problems("master.shop.xxxxxx.use1.cache.amazonaws.com:6379"),
    /cluster/,
  );
  // An explicit cluster: false wins.
  const e = await bench({
    target: "clustercfg.shop.xxxxxx.use1.cache.amazonaws.com:6379",
    cluster: false,
    db: 1,
    clients: 0,
  }).catch((e) => e);
  assert.doesNotMatch(e.message, /cluster/);
});

// Compares two topologies by address: nodes, roles, replicas' primaries and slot owners.
function sameTopology(a: ClusterTopology, b: ClusterTopology): void {
  const view = (t: ClusterTopology) => ({
    nodes: t.nodes.map((n) => ({
      address: n.address,
      role: n.role,
      primary: n.primary < 0 ? "" : t.nodes[n.primary]!.address,
      id: n.id,
    })).sort((x, y) => x.address.localeCompare(y.address)),
    owners: Array.from(t.slots, (s) => s < 0 ? "" : t.nodes[s]!.address),
  });
  assert.deepEqual(view(a), view(b));
}

loadTest(
  "discoverCluster() falls back to CLUSTER NODES when SHARDS and SLOTS are denied; bench runs on it",
  async () => {
    await using cl = await startLocalCluster({ primaries: 3, replicas: 1 });
    const shards = await discoverCluster([parseTarget(cl.address)]);
    assert.equal(shards.source, "shards");
    // The real server's CLUSTER NODES, read by the parser, gives what its CLUSTER SHARDS gives.
    const text = await redisText(cl.address, ["CLUSTER", "NODES"]);
    sameTopology(parseClusterNodes(text, cl.address), shards);
    // A user who may not run CLUSTER SHARDS or CLUSTER SLOTS (ACL), on every node.
    for (const a of cl.addresses) {
      await redisText(a, [
        "ACL",
        "SETUSER",
        "nodesonly",
        "on",
        ">pw-nodes",
        "~*",
        "&*",
        "+@all",
        "-cluster|shards",
        "-cluster|slots",
      ]);
    }
    const seed: Target = { ...parseTarget(cl.address), user: "nodesonly", password: "pw-nodes" };
    const c = await RespConnection.open(seed);
    try {
      const denied = await c.command(["CLUSTER", "SHARDS"]);
      assert.equal(denied.type, "error");
      assert.match(denied.type === "error" ? denied.value : "", /NOPERM/);
    } finally {
      c.close();
    }
    const viaNodes = await discoverCluster([seed]);
    assert.equal(viaNodes.source, "nodes");
    sameTopology(viaNodes, shards);
    // parseClusterShards agrees too (the fields it reads: an independent path to the same map).
    const c2 = await RespConnection.open(parseTarget(cl.address));
    try {
      sameTopology(parseClusterShards(await c2.command(["CLUSTER", "SHARDS"]), "x"), shards);
    } finally {
      c2.close();
    }
    // A bench on that user: every SET lands on its slot's primary, as the nodes count them.
    const before = await Promise.all(cl.addresses.map((a) => commandStats(a)));
    const N = 3000;
    const r = await bench({
      target: seed,
      cluster: true,
      tests: ["set"],
      requests: N,
      clients: 3,
      pipeline: 4,
      keyspace: 1000,
    });
    const after = await Promise.all(cl.addresses.map((a) => commandStats(a)));
    const set = r.tests[0]!;
    assert.equal(set.errors, 0, JSON.stringify(set.commands[0]!.errors));
    assert.equal(set.cluster!.redirects.moved, 0);
    for (const n of set.nodes!) {
      const i = cl.addresses.indexOf(n.address);
      if (n.role !== "primary") continue;
      assert.equal(n.requests, statsDelta(before[i]!, after[i]!)["set"] ?? 0, n.address);
    }
    assert.equal(set.nodes!.reduce((a, n) => a + n.requests, 0), N);
  },
);

Deno.test("parseInfoReplication() reads a primary's and a replica's INFO replication", () => {
  const p = parseInfoReplication(
    "# Replication\r\nrole:master\r\nconnected_slaves:2\r\n" +
      "slave0:ip=10.0.0.2,port=6380,state=online,offset=42,lag=0\r\n" +
      "slave1:ip=10.0.0.3,port=6381,state=wait_bgsave,offset=0,lag=0\r\nmaster_repl_offset:42\r\n",
    "x",
  );
  assert.deepEqual(p, {
    role: "primary",
    replicas: [
      { host: "10.0.0.2", port: 6380, online: true },
      { host: "10.0.0.3", port: 6381, online: false },
    ],
  });
  const r = parseInfoReplication("role:slave\nmaster_host:10.0.0.1\nmaster_port:6379\n", "x");
  assert.deepEqual(r.primary, { host: "10.0.0.1", port: 6379 });
  assert.throws(() => parseInfoReplication("# Server\nfoo:1\n", "s:1"), /s:1: no role line/);
});

// A primary and two replicas (replicaof), synchronised.
async function replicationGroup() {
  // No 5 s wait before the replicas' first sync (repl-diskless-sync-delay).
  const primary = await startLocalServer("redis", { args: ["--repl-diskless-sync-delay", "0"] });
  const replicas: Awaited<ReturnType<typeof startLocalServer>>[] = [];
  const stop = async () => {
    await Promise.allSettled([...replicas.map((r) => r.stop()), primary.stop()]);
  };
  try {
    for (let i = 0; i < 2; i++) {
      replicas.push(
        await startLocalServer("redis", {
          args: ["--replicaof", "127.0.0.1", String(primary.port)],
        }),
      );
    }
    await until("replicas in sync", async () => {
      const text = await redisText(primary.address, ["INFO", "replication"]);
      return (text.match(/state=online/g) ?? []).length === 2;
    }, 15_000);
  } catch (e) {
    await stop();
    throw e;
  }
  return { primary, replicas, [Symbol.asyncDispose]: stop };
}

loadTest(
  "discoverReplication() finds a primary's replicas, from the primary or from a replica",
  async () => {
    await using g = await replicationGroup();
    const fromPrimary = await discoverReplication([parseTarget(g.primary.address)]);
    assert.equal(fromPrimary.source, "replication");
    assert.equal(fromPrimary.nodes[0]!.address, g.primary.address);
    assert.equal(fromPrimary.nodes[0]!.role, "primary");
    assert.deepEqual(
      fromPrimary.nodes.slice(1).map((n) => n.address).sort(),
      g.replicas.map((r) => r.address).sort(),
    );
    assert.ok(fromPrimary.nodes.slice(1).every((n) => n.role === "replica" && n.primary === 0));
    assert.ok(fromPrimary.nodes.every((n) => n.healthy));
    assert.ok(fromPrimary.slots.every((s) => s === 0));
    // A replica as the seed leads to its primary; a dead seed is skipped.
    const fromReplica = await discoverReplication([
      parseTarget("127.0.0.1:1"),
      parseTarget(g.replicas[1]!.address),
    ]);
    sameTopology(fromReplica, fromPrimary);
    // A host name stays a host name (resolved again at each connect).
    const byName = await discoverReplication([parseTarget(`localhost:${g.primary.port}`)]);
    assert.equal(byName.nodes[0]!.address, `localhost:${g.primary.port}`);
  },
);

loadTest("discoverReplication() refuses a cluster node and names the way", async () => {
  await using cl = await startLocalCluster({ primaries: 3 });
  const e = await discoverReplication([parseTarget(cl.address)]).catch((e) => e);
  assert.ok(e instanceof MembenchError && e.code === "invalid_argument", String(e));
  assert.match(e.message, /it is a cluster node/);
  assert.match(e.hint ?? "", /--cluster/);
});

loadTest(
  "bench --rfr replica on a standalone primary: GETs on the replicas, SETs on the primary (INFO commandstats)",
  async () => {
    await using g = await replicationGroup();
    const all = [g.primary.address, ...g.replicas.map((r) => r.address)];
    const before = await Promise.all(all.map((a) => commandStats(a)));
    const N = 4000;
    // Seeded with a replica: writes still go to the primary.
    const r = await bench({
      target: g.replicas[0]!.address,
      rfr: "replica",
      tests: ["ping", "set", "get"],
      requests: N,
      clients: 4,
      pipeline: 4,
      keyspace: 1000,
    });
    const after = await Promise.all(all.map((a) => commandStats(a)));
    const d = all.map((_, i) => statsDelta(before[i]!, after[i]!));
    const [ping, set, get] = r.tests;
    for (const t of [ping!, set!, get!]) assert.equal(t.errors, 0, JSON.stringify(t.commands));
    assert.equal(r.config.replication, true);
    // The servers' own counts: PING and SET on the primary only, GET on the replicas only.
    assert.equal(d[0]!["ping"] ?? 0, N, JSON.stringify(d));
    assert.equal(d[0]!["set"] ?? 0, N);
    assert.equal(d[0]!["get"] ?? 0, 0);
    const replicaGets = d.slice(1).map((x) => x["get"] ?? 0);
    assert.equal(replicaGets[0]! + replicaGets[1]!, N);
    assert.ok(replicaGets.every((n) => n > N / 4), `round-robin over replicas: ${replicaGets}`);
    assert.ok(d.slice(1).every((x) => (x["ping"] ?? 0) === 0));
    // membench's per-node counts match.
    for (const n of get!.nodes!) {
      assert.equal(n.requests, d[all.indexOf(n.address)]!["get"] ?? 0, n.address);
    }
    assert.equal(get!.cluster!.rfr, "replica");
    // Per-node CSV: one row per test and node, figures as in the result.
    const csv = formatNodeCsv(r).trimEnd().split("\n");
    assert.equal(
      csv[0],
      "test,node,role,requests,ops_per_sec,share,p50_us,p90_us,p99_us,p999_us,max_us,mean_us,errors,moved,ask,tryagain,clusterdown",
    );
    assert.equal(csv.length, 1 + 3 * 3);
    const getRows = csv.filter((l) => l.startsWith(`${get!.name},`));
    for (const n of get!.nodes!) {
      const row = getRows.find((l) => l.split(",")[1] === n.address)!.split(",");
      assert.equal(row[2], n.role);
      assert.equal(Number(row[3]), n.requests);
      assert.ok(Math.abs(Number(row[5]) - n.share) < 1e-4);
    }
  },
);

loadTest(
  "membench bench --rfr prefer-replica --node-csv: rows per node match each server's commandstats",
  async () => {
    await using g = await replicationGroup();
    const all = [g.primary.address, ...g.replicas.map((r) => r.address)];
    const before = await Promise.all(all.map((a) => commandStats(a)));
    const dir = await Deno.makeTempDir();
    try {
      const out = await runCli([
        "bench",
        "-h",
        "127.0.0.1",
        "-p",
        String(g.primary.port),
        "--rfr",
        "prefer-replica",
        "-t",
        "get",
        "-n",
        "2000",
        "-c",
        "2",
        "--node-csv",
        `${dir}/nodes.csv`,
        "--no-progress",
      ]);
      assert.equal(out.code, 0, out.stderr);
      // The text output has the per-node shares too.
      assert.match(out.stdout, /reads from prefer-replica/);
      assert.match(out.stdout, /share/);
      const after = await Promise.all(all.map((a) => commandStats(a)));
      const rows = (await Deno.readTextFile(`${dir}/nodes.csv`)).trimEnd().split("\n").slice(1)
        .map((l) => l.split(","));
      assert.equal(rows.length, 3);
      for (const row of rows) {
        const i = all.indexOf(row[1]!);
        assert.ok(i >= 0, row[1]);
        assert.equal(Number(row[3]), statsDelta(before[i]!, after[i]!)["get"] ?? 0, row.join(","));
      }
      assert.equal(rows.reduce((a, r) => a + Number(r[3]), 0), 2000);
      assert.equal(Number(rows.find((r) => r[1] === g.primary.address)![3]), 0);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
    const bad = await runCli(["bench", "-p", "1", "--node-csv", "-", "-n", "1"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /Cannot use '--node-csv' without '--cluster' or '--rfr'/);
  },
);

loadTest(
  "a target given as a host name is resolved again when a connection is re-opened (strace: /etc/hosts read per connect)",
  async () => {
    // glibc's getaddrinfo reads /etc/hosts at each lookup of `localhost`: the opens of that file
    // count the resolutions. The server restarts mid-run on the same port: the clients reconnect.
    const strace = await new Deno.Command("strace", {
      args: ["-V"],
      stdout: "null",
      stderr: "null",
    })
      .output().catch(() => undefined);
    if (!strace?.success) {
      throw new Error("strace is needed for this test (apt-get install strace)");
    }
    let server = await startLocalServer("redis");
    const port = server.port;
    const dir = await Deno.makeTempDir();
    try {
      const child = new Deno.Command("strace", {
        args: [
          "-f",
          "-qq",
          "-e",
          "trace=openat",
          "-e",
          "signal=none",
          "-o",
          `${dir}/trace`,
          Deno.execPath(),
          "run",
          "-A",
          new URL("../cli/main.ts", import.meta.url).pathname,
          "bench",
          "-h",
          "localhost",
          "-p",
          String(port),
          "-t",
          "ping",
          "-c",
          "2",
          // io_uring takes `localhost` as 127.0.0.1 without a lookup; host names go through
          // Deno's sockets, as here.
          "--io",
          "deno",
          "--duration",
          "4s",
          "--no-progress",
          "--json",
          "-",
        ],
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const out = child.output();
      // Wait until the clients are connected (the server counts them), then restart it.
      await until("clients connected", async () => {
        const text = await redisText(server.address, ["INFO", "clients"]).catch(() => "");
        return /connected_clients:[3-9]/.test(text);
      }, 20_000);
      const trace = () => Deno.readTextFile(`${dir}/trace`).catch(() => "");
      const opensBefore = (await trace()).match(/"\/etc\/hosts"/g)?.length ?? 0;
      await server.stop();
      server = await startLocalServer("redis", { port });
      const o = await out;
      const text = new TextDecoder().decode(o.stdout);
      assert.equal(o.code, 0, new TextDecoder().decode(o.stderr));
      const result = JSON.parse(text);
      const t = result.tests[0];
      assert.ok(t.reconnects >= 1, `reconnects ${t.reconnects}`);
      const opens = (await trace()).match(/"\/etc\/hosts"/g)?.length ?? 0;
      assert.ok(opensBefore >= 2, `lookups before the restart: ${opensBefore}`);
      // Every reconnect looked the name up again.
      assert.ok(
        opens - opensBefore >= t.reconnects,
        `lookups after the restart ${opens - opensBefore}, reconnects ${t.reconnects}`,
      );
      assert.ok(t.requests > 0);
    } finally {
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("parseClusterShards() takes a node's preferred endpoint (a host name) before its ip", () => {
  const bulk = (s: string) => ({ type: "bulk" as const, value: new TextEncoder().encode(s) });
  const int = (n: number) => ({ type: "integer" as const, value: n });
  const node = (id: string, endpoint: string, ip: string, port: number, role: string) => ({
    type: "array" as const,
    value: [
      bulk("id"),
      bulk(id),
      bulk("port"),
      int(port),
      bulk("ip"),
      bulk(ip),
      bulk("endpoint"),
      bulk(endpoint),
      bulk("role"),
      bulk(role),
      bulk("health"),
      bulk("online"),
    ],
  });
  const reply = {
    type: "array" as const,
    value: [{
      type: "array" as const,
      value: [
        bulk("slots"),
        { type: "array" as const, value: [int(0), int(16383)] },
        bulk("nodes"),
        {
          type: "array" as const,
          value: [
            node("a".repeat(40), "node-a.example", "10.0.0.1", 6379, "master"),
            node("b".repeat(40), "?", "10.0.0.2", 6379, "replica"),
          ],
        },
      ],
    }],
  };
  const t = parseClusterShards(reply, "x");
  assert.equal(t.nodes[0]!.address, "node-a.example:6379");
  assert.equal(
    t.nodes[1]!.address,
    "10.0.0.2:6379",
    "an unknown endpoint ('?') falls back to the ip",
  );
});

Deno.test("a cluster seed that refuses the connection is named once, with a clear reason (bench --cluster)", async () => {
  const port = freePort();
  const address = `127.0.0.1:${port}`;
  const b = await runCli([
    "bench",
    "--cluster",
    "-p",
    String(port),
    "-n",
    "10",
    "-c",
    "1",
    "-t",
    "get",
  ]);
  assert.equal(b.code, 3, b.stderr);
  assert.match(
    b.stderr,
    /Cannot discover the cluster: no seed answered \(127\.0\.0\.1:\d+: connection refused\)/,
  );
  assert.equal(b.stderr.split(address).length - 1, 1, b.stderr);
});
