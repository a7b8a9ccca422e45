import assert from "node:assert/strict";
import { bench, keySlot, MembenchError, startLocalCluster } from "../mod.ts";
import { commandStats, loadTest, redisText, runCli, statsDelta } from "./helpers.ts";

const IGNORE = [
  "info",
  "auth",
  "hello",
  "client|setname",
  "select",
  "command",
  "command|docs",
  "cluster|shards",
  "cluster|slots",
  "readonly",
  "asking",
];

// Per node, the calls of each command since `before`.
async function deltas(
  addresses: string[],
  before: Record<string, number>[],
): Promise<Record<string, number>[]> {
  const out: Record<string, number>[] = [];
  for (const [i, a] of addresses.entries()) {
    out.push(statsDelta(before[i]!, await commandStats(a), IGNORE));
  }
  return out;
}

function sum(ds: Record<string, number>[], cmd: string, only?: boolean[]): number {
  return ds.reduce((a, d, i) => a + (only === undefined || only[i] ? d[cmd] ?? 0 : 0), 0);
}

loadTest(
  "bench cluster: SET/GET totals equal the sum of the nodes' INFO commandstats; replica reads with rfr replica",
  async () => {
    await using cl = await startLocalCluster({ primaries: 3, replicas: 1 });
    const before = await Promise.all(cl.addresses.map((a) => commandStats(a)));
    const N = 6000;
    const r = await bench({
      target: cl.address,
      cluster: true,
      tests: ["set", "get"],
      requests: N,
      clients: 6,
      pipeline: 4,
      keyspace: 5000,
    });
    const ds = await deltas(cl.addresses, before);
    const [set, get] = r.tests;
    // Replicas execute their primary's writes too (the replication stream): count primaries.
    const primary = cl.addresses.map((a) =>
      set!.nodes!.find((n) => n.address === a)!.role === "primary"
    );
    assert.equal(set!.requests, N);
    assert.equal(set!.errors, 0, JSON.stringify(set!.commands[0]!.errors));
    assert.equal(get!.errors, 0);
    assert.equal(set!.sent, N);
    assert.equal(sum(ds, "set", primary), N, JSON.stringify(ds));
    assert.equal(sum(ds, "get"), N);
    // Per node: membench's count equals the node's own, and keys went to every primary.
    const nodes = set!.nodes!;
    assert.equal(nodes.length, 6);
    for (const n of nodes) {
      const i = cl.addresses.indexOf(n.address);
      assert.ok(i >= 0, n.address);
      if (n.role === "primary") {
        assert.equal(n.requests, ds[i]!["set"] ?? 0, `${n.address} (${n.role})`);
        assert.equal(n.serviceTime.count, n.requests, "one latency sample per request");
        assert.ok(n.serviceTime.p50Us > 0 && n.serviceTime.p99Us >= n.serviceTime.p50Us);
        assert.ok(n.share > 0.2 && n.share < 0.47, `share ${n.share}`);
      } else {
        assert.equal(n.requests, 0);
        assert.equal(ds[i]!["get"] ?? 0, 0, `GETs on replica ${n.address} with rfr primary`);
      }
      assert.deepEqual(n.redirects, { moved: 0, ask: 0, tryagain: 0, clusterdown: 0 });
    }
    assert.ok(set!.cluster!.skew >= 1 && set!.cluster!.skew < 1.4, `skew ${set!.cluster!.skew}`);
    const getHits = get!.commands[0]!.hits! + get!.commands[0]!.misses!;
    assert.equal(getHits, N);

    // Reads from replicas: every GET lands on a replica, every SET on a primary.
    const before2 = await Promise.all(cl.addresses.map((a) => commandStats(a)));
    const r2 = await bench({
      target: cl.address,
      cluster: true,
      rfr: "replica",
      tests: ["set", "get"],
      requests: 3000,
      clients: 4,
      keyspace: 5000,
    });
    const ds2 = await deltas(cl.addresses, before2);
    assert.equal(r2.tests[1]!.errors, 0, JSON.stringify(r2.tests[1]!.commands[0]!.errors));
    for (const n of r2.tests[1]!.nodes!) {
      const i = cl.addresses.indexOf(n.address);
      assert.equal(ds2[i]!["get"] ?? 0, n.requests, n.address);
      if (n.role === "primary") assert.equal(n.requests, 0, `GETs on primary ${n.address}`);
      else assert.ok(n.requests > 0, `no GETs on replica ${n.address}`);
    }
    // The GET test's skew is over the replicas that served it (an even spread is about 1, not
    // 2 as it was when the idle primaries counted as serving nodes).
    const g2 = r2.tests[1]!.cluster!;
    assert.ok(g2.skew >= 1 && g2.skew < 1.4, `skew ${g2.skew}`);
    // Writes: on primaries only (membench's counts), and the primaries executed them all.
    for (const n of r2.tests[0]!.nodes!) if (n.role === "replica") assert.equal(n.requests, 0);
    assert.equal(sum(ds2, "get"), 3000);
    assert.equal(sum(ds2, "set", primary), 3000);
  },
);

// Every key of a node (redis-cli --scan); the slot of the first (CLUSTER KEYSLOT) and how many
// keys the node holds in that slot (CLUSTER COUNTKEYSINSLOT): all of them when all share it.
async function keysOfNode(
  address: string,
): Promise<{ keys: string[]; slot: number; inSlot: number }> {
  const [host, port] = [address.slice(0, address.lastIndexOf(":")), address.split(":").pop()!];
  const out = await new Deno.Command("redis-cli", {
    args: ["-h", host, "-p", port, "--scan"],
    stdout: "piped",
    stderr: "null",
  }).output();
  const keys = new TextDecoder().decode(out.stdout).split("\n").filter((l) => l !== "");
  if (keys.length === 0) return { keys, slot: -1, inSlot: 0 };
  const slot = Number(await redisText(address, ["CLUSTER", "KEYSLOT", keys[0]!]));
  const inSlot = Number(await redisText(address, ["CLUSTER", "COUNTKEYSINSLOT", slot]));
  return { keys, slot, inSlot };
}

loadTest(
  "bench cluster --cluster-tags: redis-benchmark --cluster's key shape (each client's keys in one slot of its primary); MSET needs no tag of its own; counts equal the nodes' commandstats",
  async () => {
    await using cl = await startLocalCluster({ primaries: 3 });
    // What redis-benchmark --cluster itself writes: key:{tag}:<digits>, one tag per node (Redis
    // 7.0's redis-benchmark leaves a stray '}' after the tag: key:{8M}}:000000000298).
    const rb = await new Deno.Command("redis-benchmark", {
      args: ["--cluster", "-p", String(cl.nodes[0]!.port), "-t", "set", "-n", "300", "-r", "1000"],
      stdout: "null",
      stderr: "null",
    }).output();
    assert.ok(rb.success);
    const rbShape = /^key:\{[^{}]+\}\}?:\d+$/;
    for (const a of cl.addresses) {
      const { keys, inSlot } = await keysOfNode(a);
      assert.ok(
        keys.length > 0 && keys.every((k) => rbShape.test(k)),
        `redis-benchmark: ${keys[0]}`,
      );
      assert.equal(inSlot, keys.length);
      await redisText(a, ["FLUSHALL"]);
    }
    const shape = /^key:\{[^{}]+\}:\d+$/;
    const before = await Promise.all(cl.addresses.map((a) => commandStats(a)));
    const r = await bench({
      target: cl.address,
      cluster: true,
      clusterTags: true,
      // lpush: redis-benchmark's literal key (mylist) takes the tag too, as redis-benchmark's does.
      tests: ["set", "MSET __key__ __data__ __key__ __data__", "lpush"],
      requests: 3000,
      clients: 6,
      pipeline: 4,
      keyspace: 1000,
    });
    assert.equal(r.config.clusterTags, true);
    const ds = await deltas(cl.addresses, before);
    for (const t of r.tests) {
      assert.equal(t.errors, 0, `${t.name}: ${JSON.stringify(t.commands[0]!.errors)}`);
      assert.equal(t.cluster!.redirects.moved + t.cluster!.redirects.ask, 0, t.name);
      for (const [i, a] of cl.addresses.entries()) {
        const n = t.nodes!.find((x) => x.address === a)!;
        assert.ok(n.requests > 0, `${t.name}: no request to ${a}`);
        const cmd = t.name.startsWith("MSET") ? "mset" : t.name;
        assert.equal(n.requests, ds[i]![cmd], `${t.name} on ${a}`);
      }
    }
    // Each node holds keys of redis-benchmark's shape, all in one slot (its clients' tag), and
    // that slot is the node's own.
    for (const a of cl.addresses) {
      const { keys, inSlot } = await keysOfNode(a);
      const ours = keys.filter((k) => k.startsWith("key:"));
      assert.ok(
        ours.length > 0 && ours.every((k) => shape.test(k)),
        `${ours.find((k) => !shape.test(k))}`,
      );
      assert.ok(keys.some((k) => /^mylist\{[^{}]+\}$/.test(k)), `no tagged list on ${a}`);
      assert.equal(
        inSlot,
        keys.length,
        `${a}: ${keys.length - inSlot} keys outside the first's slot`,
      );
    }
    // A hash tag of the user's own cannot be combined with it.
    await assert.rejects(
      () =>
        bench({
          target: cl.address,
          cluster: true,
          clusterTags: true,
          keyPrefix: "{x}:",
          tests: ["set"],
        }),
      (e) =>
        e instanceof MembenchError && e.code === "invalid_argument" &&
        /Cannot use 'clusterTags' with a hash tag of your own \('\{x\}:'\)/.test(e.message),
    );
  },
);

loadTest(
  "bench cluster: MSET/MGET with a hash tag, a custom command, open loop; a cross-slot template is refused",
  async () => {
    await using cl = await startLocalCluster({ primaries: 3 });
    await assert.rejects(
      () => bench({ target: cl.address, cluster: true, tests: ["MGET __key__ __key__"] }),
      (e) =>
        e instanceof MembenchError && e.code === "invalid_argument" &&
        /Cannot route 'MGET __key__ __key__' in cluster mode: its 2 keys may fall in different slots/
          .test(e.message),
    );
    const before = await Promise.all(cl.addresses.map((a) => commandStats(a)));
    const r = await bench({
      target: cl.address,
      cluster: true,
      tests: [
        "MSET {t1}__key__ __data__ {t1}x__key__ __data__",
        "MGET {t1}__key__ {t1}x__key__",
        "HSET h:__key__ f __data__",
      ],
      requests: 1500,
      clients: 3,
      keyspace: 1000,
    });
    const o = await bench({
      target: cl.address,
      cluster: true,
      tests: ["get"],
      rate: 3000,
      durationMs: 1000,
      clients: 4,
      threads: 2,
      keyspace: 1000,
    });
    const ds = await deltas(cl.addresses, before);
    for (const t of r.tests) {
      assert.equal(t.errors, 0, `${t.name}: ${JSON.stringify(t.commands[0]!.errors)}`);
    }
    assert.equal(sum(ds, "mset"), 1500);
    assert.equal(sum(ds, "mget"), 1500);
    assert.equal(sum(ds, "hset"), 1500);
    // A hash tag puts every MSET on the node that owns slot of "t1".
    const owner = r.tests[0]!.nodes!.find((n) => n.requests > 0)!;
    assert.equal(owner.share, 1);
    assert.equal(r.tests[0]!.cluster!.skew, 3);
    assert.equal(ds[cl.addresses.indexOf(owner.address)]!["mset"], 1500);
    assert.ok(keySlot("{t1}key:1") === keySlot("t1"));
    // Open loop: every GET the server saw was counted, and the schedule held.
    const g = o.tests[0]!;
    assert.equal(g.loop, "open");
    assert.equal(g.errors, 0);
    assert.equal(sum(ds, "get"), g.requests + g.warmupRequests);
    assert.ok(g.requests >= 2400 && g.requests <= 3300, `open-loop GETs ${g.requests}`);
  },
);

loadTest(
  "membench bench --cluster prints the per-node table and JSON; --rfr without --cluster on a cluster node is a usage error",
  async () => {
    await using cl = await startLocalCluster({ primaries: 3 });
    const port = String(cl.nodes[0]!.port);
    const before = await Promise.all(cl.addresses.map((a) => commandStats(a)));
    const text = await runCli([
      "bench",
      "--cluster",
      "-p",
      port,
      "-t",
      "set",
      "-n",
      "3000",
      "-c",
      "3",
      "-r",
      "1000",
    ]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(
      text.stdout,
      /cluster: 3 primaries, 3 nodes, reads from primary; max share \d+\.\d%, skew \d\.\d\d/,
    );
    const ds = await deltas(cl.addresses, before);
    // Each node's row shows the SETs that node executed.
    for (const [i, a] of cl.addresses.entries()) {
      const row = text.stdout.split("\n").find((l) => l.trim().startsWith(a));
      assert.ok(row, `no row for ${a}:\n${text.stdout}`);
      assert.equal(Number(row.trim().split(/\s+/)[2]), ds[i]!["set"], row);
      assert.match(row, /\d+(µs|\.\d\dms)\s+\d+(µs|\.\d\dms)/, "p50 and p99 columns");
    }
    const json = await runCli([
      "bench",
      "--cluster",
      "-p",
      port,
      "-t",
      "get",
      "-n",
      "1000",
      "-c",
      "2",
      "--json",
      "-",
    ]);
    assert.equal(json.code, 0, json.stderr);
    const j = JSON.parse(json.stdout);
    assert.equal(j.config.cluster, true);
    assert.equal(j.tests[0].nodes.length, 3);
    assert.equal(
      j.tests[0].nodes.reduce((a: number, n: { requests: number }) => a + n.requests, 0),
      1000,
    );
    const bad = await runCli(["bench", "-p", port, "--rfr", "replica", "-n", "10"]);
    assert.equal(bad.code, 2);
    // --rfr alone is for a standalone primary with replicas: a cluster node is named as such.
    assert.match(
      bad.stderr,
      /Cannot read 127\.0\.0\.1:\d+ as a standalone primary: it is a cluster node/,
    );
    assert.match(bad.stderr, /--cluster/);
    const bad2 = await runCli(["bench", "--cluster", "-p", port, "--rfr", "replicas"]);
    assert.equal(bad2.code, 2);
    assert.match(bad2.stderr, /'--rfr': expected primary, prefer-replica, replica, any/);
  },
);

loadTest(
  "bench cluster --balance-nodes keeps every primary's share within the tolerance; server counts agree; a hash tag stays skewed",
  async () => {
    await using cl = await startLocalCluster({ primaries: 3 });
    // Few keys: their slots fall unevenly on the primaries.
    const keyspace = 7;
    const owners = Array.from({ length: keyspace }, (_, i) => keySlot(`key:${i}`));
    const run = (balanceNodes: boolean, keyPrefix = "key:") =>
      bench({
        target: cl.address,
        cluster: true,
        tests: ["set"],
        requests: 9000,
        clients: 3,
        keyspace,
        keyPrefix,
        ...(balanceNodes ? { balanceNodes, balanceTolerance: 0.05 } : {}),
      });
    const plain = (await run(false)).tests[0]!;
    const shares = plain.nodes!.map((n) => n.share);
    assert.ok(
      Math.max(...shares) - Math.min(...shares) > 0.1,
      `the plain run is already even (${shares}); slots ${owners}`,
    );
    const before = await Promise.all(cl.addresses.map((a) => commandStats(a)));
    const balanced = (await run(true)).tests[0]!;
    const ds = await deltas(cl.addresses, before);
    for (const n of balanced.nodes!) {
      assert.ok(n.share <= (1 / 3) * 1.05 + 0.001, `${n.address} share ${n.share}`);
      assert.ok(n.share >= (1 / 3) * 0.9, `${n.address} share ${n.share}`);
      assert.equal(ds[cl.addresses.indexOf(n.address)]!["set"], n.requests, n.address);
    }
    assert.equal(balanced.requests, 9000);
    // One hash tag: balancing cannot move it; the skew is reported.
    const tagged = (await run(true, "{one}:")).tests[0]!;
    assert.equal(tagged.cluster!.maxShare, 1);
    assert.equal(tagged.cluster!.skew, 3);
    await assert.rejects(
      () => bench({ target: cl.address, balanceNodes: true }),
      /Cannot use 'balanceNodes' without 'cluster'/,
    );
  },
);

loadTest(
  "bench cluster --cluster-affinity: each client sends to its own primary only, keys still routed by slot",
  async () => {
    await using cl = await startLocalCluster({ primaries: 3 });
    const one = await bench({
      target: cl.address,
      cluster: true,
      clusterAffinity: true,
      tests: ["set"],
      requests: 2000,
      clients: 1,
      keyspace: 100_000,
    });
    const t1 = one.tests[0]!;
    assert.equal(t1.errors, 0, JSON.stringify(t1.commands[0]!.errors));
    assert.equal(t1.cluster!.maxShare, 1);
    assert.equal(t1.cluster!.redirects.moved, 0);
    const before = await Promise.all(cl.addresses.map((a) => commandStats(a)));
    const three = await bench({
      target: cl.address,
      cluster: true,
      clusterAffinity: true,
      tests: ["set"],
      requests: 6000,
      clients: 3,
      pipeline: 8,
      keyspace: 100_000,
    });
    const ds = await deltas(cl.addresses, before);
    const t3 = three.tests[0]!;
    assert.equal(t3.errors, 0);
    // One client per primary, each on its own node only, and the server agrees with membench's
    // count per node. The 6000 requests are shared by the clients (as redis-benchmark --cluster's
    // are): a client whose node answers faster does more of them.
    let total = 0;
    for (const n of t3.nodes!) {
      assert.ok(n.requests > 0, n.address);
      assert.equal(ds[cl.addresses.indexOf(n.address)]!["set"], n.requests, n.address);
      total += n.requests;
    }
    assert.equal(total, 6000);
    assert.equal(t3.requests, 6000);
    await assert.rejects(
      () => bench({ target: cl.address, cluster: true, clusterAffinity: true, balanceNodes: true }),
      /Cannot use 'clusterAffinity' and 'balanceNodes' together/,
    );
  },
);
