// Replay into a cluster. A real cluster client (ioredis' Cluster: a connection per node, requests
// by slot) drives one loopback cluster while tcpdump captures every node's port; the capture is
// recorded with slots kept and replayed into a second, fresh cluster. Each node of the second
// must then count what the same node of the first counted (INFO commandstats per command, and
// its key count), as the keys kept their slots. Recorded without slots, the same traffic still
// reaches the right totals, but its multi-key requests are reported as CROSSSLOT (the
// anonymized keys lost their common hash tag), never silently rewritten.
import assert from "node:assert/strict";
import {
  bench,
  discoverCluster,
  keySlot,
  mergeReplayResults,
  parseTarget,
  record,
  replay,
  type ReplayResult,
  startLocalCluster,
  startLocalServer,
  synthesizeKey,
} from "../mod.ts";
import { captureNoDrops } from "./capture_helpers.ts";
import {
  commandStats,
  loadTest,
  monitor,
  redisText,
  reshard,
  runNodeClient,
  scaleOut,
  statsDelta,
} from "./helpers.ts";

const IGNORE = ["info", "auth", "hello", "client|setname", "command", "command|docs", "flushall"];
const KEYED = ["set", "get", "mset", "mget", "incrby", "hset"];

// 30 rounds of: 20 SETs and 25 GETs (5 misses) in flight together, an MSET and an MGET on one
// hash tag, INCRBY on 7 counters, HSET with two fields.
const CLUSTER_CLIENT = `
const Redis = require("ioredis");
const c = new Redis.Cluster([{ host: "127.0.0.1", port: Number(process.env.PORT) }],
  { enableReadyCheck: false, redisOptions: { enableReadyCheck: false } });
(async () => {
  for (let b = 0; b < 30; b++) {
    const s = [];
    for (let i = 0; i < 20; i++) s.push(c.set("user:" + b + ":" + i, "v".repeat(50 + i)));
    await Promise.all(s);
    const g = [];
    for (let i = 0; i < 25; i++) g.push(c.get("user:" + b + ":" + i));
    await Promise.all(g);
    await c.mset("{grp" + b + "}:a", "1", "{grp" + b + "}:b", "2");
    await c.mget("{grp" + b + "}:a", "{grp" + b + "}:b", "{grp" + b + "}:c");
    await c.incrby("counter:" + (b % 7), 3);
    await c.hset("hash:" + b, "field1", "x", "field2", "yy");
  }
  await c.quit();
})().catch((e) => { console.error(e); process.exit(1); });
`;

async function nodeStats(addresses: string[]) {
  return await Promise.all(addresses.map((a) => commandStats(a)));
}

async function dbsize(address: string): Promise<number> {
  return Number(await redisText(address, ["DBSIZE"]));
}

Deno.test("slot-keeping keys: for every slot and key lengths 3 to 40, the key hashes to the slot, with no hash tag; names stay apart", () => {
  const names = new Set<string>();
  for (let s = 0; s < 16384; s++) {
    for (const len of [3, 4, 5, 6, 9, 16, 40]) {
      const key = synthesizeKey(s * 7919, s * 104729 + len, len, 0, s);
      assert.equal(key.length, len);
      assert.ok(!key.includes("{"), key);
      assert.equal(keySlot(key), s, `${key} (${len} bytes) for slot ${s}`);
      if (len === 16) names.add(key);
    }
  }
  // The same hash in the same slot always gives the same name; different hashes, different names.
  assert.equal(synthesizeKey(1, 2, 12, 0, 77), synthesizeKey(1, 2, 12, 0, 77));
  assert.equal(names.size, 16384);
  // Keys of 5 bytes in one slot: 64^2 names, not one (a 5-byte hash tag used to take them all).
  const five = new Set<string>();
  for (let h = 0; h < 2000; h++) five.add(synthesizeKey(h * 2654435761, h * 40503, 5, 0, 100));
  assert.ok(five.size > 1500, `${five.size} names of 5 bytes in slot 100`);
});

loadTest(
  "replay into a cluster: ioredis Cluster traffic recorded with slots reaches the same nodes of another cluster",
  async () => {
    await using src = await startLocalCluster({ primaries: 3 });
    const ports = src.nodes.map((n) => n.port);
    const cap = await captureNoDrops(
      ports,
      () => nodeStats(src.addresses),
      () => runNodeClient(CLUSTER_CLIENT, ports[0]!),
    );
    const srcDelta = src.addresses.map((_, i) => statsDelta(cap.before[i]!, cap.after[i]!, IGNORE));
    const srcKeys = await Promise.all(src.addresses.map(dbsize));
    const withSlots = await Deno.makeTempFile({ suffix: ".mbp" });
    const noSlots = await Deno.makeTempFile({ suffix: ".mbp" });
    try {
      // The client really spread its keys: every node stored some and served SETs.
      assert.equal(srcDelta.reduce((a, d) => a + (d.set ?? 0), 0), 600, JSON.stringify(srcDelta));
      for (const d of srcDelta) assert.ok((d.set ?? 0) > 100, JSON.stringify(srcDelta));
      await record({ pcap: cap.file, output: withSlots, ports, salt: "cl", keepSlots: true });
      await record({ pcap: cap.file, output: noSlots, ports, salt: "cl" });

      await using dst = await startLocalCluster({ primaries: 3 });
      const before = await nodeStats(dst.addresses);
      const r = await replay({
        profile: withSlots,
        target: dst.address,
        cluster: true,
        speed: "max",
        verifyServer: true,
        signal: AbortSignal.timeout(60_000),
      });
      assert.equal(r.failure, undefined, JSON.stringify(r.failure));
      const after = await nodeStats(dst.addresses);
      const dstDelta = dst.addresses.map((_, i) => statsDelta(before[i]!, after[i]!, IGNORE));
      // Node i of each cluster owns the same slots (redis-cli --cluster create deals the ranges
      // in order): it counted the same requests of every keyed command, and holds as many keys.
      for (const [i, d] of dstDelta.entries()) {
        for (const cmd of KEYED) {
          assert.equal(
            d[cmd] ?? 0,
            srcDelta[i]![cmd] ?? 0,
            `node ${i} ${cmd}: replayed ${JSON.stringify(d)} recorded ${
              JSON.stringify(srcDelta[i])
            }`,
          );
        }
      }
      assert.deepEqual(await Promise.all(dst.addresses.map(dbsize)), srcKeys);
      const cl = r.cluster!;
      assert.ok(cl.slotsKept);
      assert.equal(cl.crossSlot, 0);
      assert.equal(cl.nodes.reduce((a, n) => a + n.moved + n.ask, 0), 0);
      // 600 SET, 750 GET, 30 MSET, 30 MGET, 30 INCRBY, 30 HSET: all by their recorded slot.
      assert.equal(cl.recordedSlot, 1470, JSON.stringify(cl));
      // What membench says it sent per node is what each node counted.
      for (const n of cl.nodes) {
        const d = dstDelta[dst.addresses.indexOf(n.address)]!;
        const keyed = KEYED.reduce((a, c) => a + (d[c] ?? 0), 0);
        assert.ok(n.requests >= keyed, `${n.address}: ${n.requests} < ${keyed}`);
      }
      assert.equal(r.verification?.diff, 0, JSON.stringify(r.verification));
      for (const c of r.commands.filter((c) => KEYED.includes(c.op))) {
        assert.deepEqual(c.errors, {}, `${c.op}: ${JSON.stringify(c.errors)}`);
      }
      const get = r.commands.find((c) => c.op === "get")!;
      assert.deepEqual([get.hits, get.misses], [get.recordedHits, get.recordedMisses]);

      // Without slots: keys land where their anonymized names hash. Totals hold; each MSET and
      // MGET (keys that shared a hash tag) now spans slots and is refused by the cluster, and the
      // report says so.
      for (const a of dst.addresses) {
        await redisText(a, ["FLUSHALL"]);
      }
      const before2 = await nodeStats(dst.addresses);
      const r2 = await replay({
        profile: noSlots,
        target: dst.address,
        cluster: true,
        speed: "max",
        signal: AbortSignal.timeout(60_000),
      });
      const after2 = await nodeStats(dst.addresses);
      const d2 = dst.addresses.map((_, i) => statsDelta(before2[i]!, after2[i]!, IGNORE));
      const total = (ds: Record<string, number>[], c: string) =>
        ds.reduce((a, d) => a + (d[c] ?? 0), 0);
      assert.equal(total(d2, "set"), 600);
      assert.equal(total(d2, "get"), 750);
      assert.equal(r2.cluster!.slotsKept, false);
      assert.equal(r2.cluster!.recordedSlot, 0);
      assert.equal(r2.cluster!.crossSlot, 60, JSON.stringify(r2.cluster));
      const mset = r2.commands.find((c) => c.op === "mset")!;
      assert.equal(mset.errors.CROSSSLOT, 30, JSON.stringify(mset.errors));
      assert.equal(r2.fidelity.pass, false);

      // Two shards of the slot-keeping replay, merged: per node, what every node counted.
      const before3 = await nodeStats(dst.addresses);
      const shards = [];
      for (const shard of ["0/2", "1/2"]) {
        shards.push(
          await replay({
            profile: withSlots,
            target: dst.address,
            cluster: true,
            speed: "max",
            shard,
            signal: AbortSignal.timeout(60_000),
          }),
        );
      }
      const after3 = await nodeStats(dst.addresses);
      const merged = mergeReplayResults(shards);
      assert.equal(merged.cluster!.recordedSlot, 1470);
      for (const n of merged.cluster!.nodes) {
        const i = dst.addresses.indexOf(n.address);
        const d = statsDelta(before3[i]!, after3[i]!, IGNORE);
        const keyed = KEYED.reduce((a, c) => a + (d[c] ?? 0), 0);
        // Every keyed request counted on its node; keyless ones (CLUSTER SLOTS, HELLO, ...) too.
        assert.ok(
          n.requests >= keyed && n.requests <= keyed + 20,
          `${n.address}: ${n.requests} vs ${keyed}`,
        );
      }
    } finally {
      await Deno.remove(cap.file);
      await Deno.remove(withSlots);
      await Deno.remove(noSlots);
    }
  },
);

// One SET at a time, each awaited, on one connection to a standalone server.
const SEQUENTIAL_CLIENT = `
const Redis = require("ioredis");
const r = new Redis({ host: "127.0.0.1", port: Number(process.env.PORT), enableReadyCheck: false });
(async () => {
  for (let i = 0; i < 150; i++) await r.set("seq:" + i, "v");
  r.disconnect();
})().catch((e) => { console.error(e); process.exit(1); });
`;

// The nodes (by index) of every SET, in the order of the servers' own clocks.
async function setOrder(addresses: string[], run: () => Promise<void>): Promise<number[]> {
  const mons = await Promise.all(addresses.map((a) => monitor(a)));
  await run();
  const seen = await Promise.all(mons.map((m) => m.stop()));
  return seen.flatMap((cmds, node) =>
    cmds.filter((c) => c.args[0]?.toUpperCase() === "SET").map((c) => ({ node, at: c.at }))
  ).sort((a, b) => a.at - b.at).map((x) => x.node);
}

// SEQUENTIAL_CLIENT's traffic to a standalone server, recorded with slots kept.
async function sequentialProfile(): Promise<string> {
  await using src = await startLocalServer("redis");
  const cap = await captureNoDrops(
    src.port,
    () => Promise.resolve(0),
    () => runNodeClient(SEQUENTIAL_CLIENT, src.port),
  );
  const profile = await Deno.makeTempFile({ suffix: ".mbp" });
  try {
    await record({
      pcap: cap.file,
      output: profile,
      ports: [src.port],
      salt: "s",
      keepSlots: true,
    });
  } finally {
    await Deno.remove(cap.file);
  }
  return profile;
}

// Per slot, the index (in `addresses`) of the node that owns it, from each node's CLUSTER NODES.
async function owners(addresses: string[]): Promise<Int16Array> {
  const out = new Int16Array(16384).fill(-1);
  for (const [i, a] of addresses.entries()) {
    const text = await redisText(a, ["CLUSTER", "NODES"]);
    const mine = text.split("\n").find((l) => l.includes("myself"))!;
    for (const w of mine.trim().split(" ").slice(8)) {
      const [lo, hi] = w.split("-").map(Number);
      for (let s = lo!; s <= (hi ?? lo!); s++) out[s] = i;
    }
  }
  return out;
}

loadTest(
  "replay into a cluster at max speed keeps a recorded connection sequential across the nodes its keys go to (servers' MONITOR clocks)",
  async () => {
    const profile = await sequentialProfile();
    try {
      await using dst = await startLocalCluster({ primaries: 3 });
      // Where each SET must go: the slot the cluster itself gives seq:i, and that slot's owner.
      const own = await owners(dst.addresses);
      const expected: number[] = [];
      for (let i = 0; i < 150; i++) {
        expected.push(
          own[Number(await redisText(dst.address, ["CLUSTER", "KEYSLOT", `seq:${i}`]))]!,
        );
      }
      assert.equal(new Set(expected).size, 3, "the keys spread over the three nodes");
      const replayed = await setOrder(dst.addresses, async () => {
        const r = await replay({
          profile,
          target: dst.address,
          cluster: true,
          speed: "max",
          signal: AbortSignal.timeout(60_000),
        });
        const set = r.commands.find((c) => c.op === "set")!;
        assert.deepEqual([set.sent, set.errors], [150, {}]);
        assert.equal(r.cluster!.recordedSlot, 150);
      });
      // The nodes in the recorded order: each SET waited for the one before, whichever node
      // that one went to (one connection per node must not make a sequential client parallel).
      assert.deepEqual(replayed, expected);
    } finally {
      await Deno.remove(profile);
    }
  },
);

loadTest(
  "replay and bench into a cluster with a failed replica: no connection to it, nothing lost, no failure",
  async () => {
    const profile = await sequentialProfile();
    try {
      await using dst = await startLocalCluster({ primaries: 3, replicas: 1, nodeTimeoutMs: 500 });
      const victim = dst.nodes[3]!; // a replica (the primaries come first)
      Deno.kill(victim.pid, "SIGKILL");
      // Until the cluster itself flags it failed.
      let flagged = false;
      for (let i = 0; i < 100 && !flagged; i++) {
        await new Promise((r) => setTimeout(r, 100));
        const nodes = await redisText(dst.address, ["CLUSTER", "NODES"]);
        // FAIL, not PFAIL (`fail?`: one node's suspicion, which discovery cannot see yet).
        flagged = nodes.split("\n").some((l) =>
          l.includes(victim.address) && (l.split(" ")[2] ?? "").split(",").includes("fail")
        );
      }
      assert.ok(flagged, "the killed replica was not flagged failed");
      const before = await nodeStats(dst.addresses.slice(0, 3));
      const r = await replay({
        profile,
        target: dst.address,
        cluster: true,
        speed: "max",
        signal: AbortSignal.timeout(60_000),
      });
      assert.equal(r.failure, undefined, JSON.stringify(r.failure));
      const after = await nodeStats(dst.addresses.slice(0, 3));
      const sets = after.reduce((a, x, i) => a + (statsDelta(before[i]!, x).set ?? 0), 0);
      assert.equal(sets, 150);
      // bench on the same cluster: starts (no connect to the failed replica), reads go to the
      // live replicas or, for the failed one's primary, to the primary; nothing fails.
      const b = await bench({
        target: dst.address,
        cluster: true,
        rfr: "prefer-replica",
        tests: ["set", "get"],
        requests: 3000,
        clients: 4,
        keyspace: 1000,
      });
      for (const t of b.tests) assert.equal(t.errors, 0, JSON.stringify(t.commands[0]!.errors));
      const dead = b.tests[1]!.nodes!.find((n) => n.address === victim.address)!;
      assert.equal(dead.requests, 0);

      // A replica down but not flagged (the cluster waits a minute before it says so): the
      // connects to it fail, and bench and replay go on without it.
      for (const n of dst.nodes) {
        if (n !== victim) {
          await redisText(n.address, ["CONFIG", "SET", "cluster-node-timeout", "60000"]);
        }
      }
      const second = dst.nodes[4]!;
      Deno.kill(second.pid, "SIGKILL");
      await new Promise((r) => setTimeout(r, 200));
      const r2 = await replay({
        profile,
        target: dst.address,
        cluster: true,
        speed: "max",
        signal: AbortSignal.timeout(60_000),
      });
      assert.equal(r2.failure, undefined, JSON.stringify(r2.failure));
      assert.deepEqual(r2.commands.find((c) => c.op === "set")!.errors, {});
      const b2 = await bench({
        target: dst.address,
        cluster: true,
        rfr: "prefer-replica",
        tests: ["get"],
        requests: 3000,
        clients: 4,
        keyspace: 1000,
      });
      assert.equal(b2.tests[0]!.errors, 0, JSON.stringify(b2.tests[0]!.commands[0]!.errors));
      const unflagged = b2.tests[0]!.nodes!.find((n) => n.address === second.address)!;
      assert.equal(unflagged.requests, 0);
    } finally {
      await Deno.remove(profile);
    }
  },
);

// The sequential profile replayed at max speed (500 loops over 8 connections) into `nodes` (the
// seed first) while `change` runs on the cluster; the change must end while the replay still
// runs. Checked: the replay completed every loop with no error left (redirects followed, each
// resent once), and the servers executed each SET exactly once (a MOVED or ASK reply executes
// nothing). Returns the result and the SETs each node executed.
async function replayThrough(
  nodes: string[],
  change: () => Promise<void>,
  verifyServer = false,
): Promise<{ r: ReplayResult; executed: number[] }> {
  const profile = await sequentialProfile();
  try {
    const before = await nodeStats(nodes);
    // About 12 s here; the changes take 2-4 s.
    const loops = 500;
    let done = false;
    const running = replay({
      profile,
      target: nodes[0]!,
      cluster: true,
      speed: "max",
      loop: loops,
      connections: 8,
      signal: AbortSignal.timeout(120_000),
      verifyServer,
    }).finally(() => done = true);
    await new Promise((r) => setTimeout(r, 300));
    await change();
    const changedWhileRunning = !done;
    const r = await running;
    assert.ok(changedWhileRunning, "the replay ended before the change did: give it more loops");
    assert.equal(r.failure, undefined, JSON.stringify(r.failure));
    assert.equal(r.loops, loops);
    const set = r.commands.find((c) => c.op === "set")!;
    assert.equal(set.sent, 150 * 8 * loops);
    assert.deepEqual(set.errors, {}, JSON.stringify(set.errors));
    const cl = r.cluster!;
    const redirects = cl.nodes.reduce((a, n) => a + n.moved + n.ask, 0);
    assert.ok(redirects > 0, `no redirect during the change: ${JSON.stringify(cl.nodes)}`);
    assert.equal(cl.resent, redirects);
    const after = await nodeStats(nodes);
    const executed = nodes.map((_, i) => statsDelta(before[i]!, after[i]!).set ?? 0);
    assert.equal(executed.reduce((a, b) => a + b, 0), 150 * 8 * loops);
    return { r, executed };
  } finally {
    await Deno.remove(profile);
  }
}

loadTest(
  "replay into a cluster through a live reshard: MOVED and ASK followed, every SET executed exactly once",
  async () => {
    await using dst = await startLocalCluster({ primaries: 3 });
    const topo = await discoverCluster([parseTarget(dst.address)]);
    const [from, to] = [topo.nodes[0]!, topo.nodes[1]!];
    await replayThrough(dst.addresses, () => reshard(from.address, from.id, to.id, 600));
  },
);

loadTest(
  "replay into a cluster that scales out mid-replay: the new node gets connections, requests MOVED there are sent there, every SET executed exactly once",
  async () => {
    await using dst = await startLocalCluster({ primaries: 3, spares: 1 });
    const spare = dst.spares[0]!;
    const { r, executed } = await replayThrough(
      [...dst.addresses, spare.address],
      () => scaleOut(dst.address, dst.nodes.map((n) => n.port), spare, 1200).then(() => {}),
      true,
    );
    // The replay's own check against the servers' counters takes the new node in, and says so.
    const v = r.verification!;
    assert.deepEqual(v.commands.find((c) => c.command === "set"), {
      command: "set",
      expected: 150 * 8 * 500,
      server: 150 * 8 * 500,
    });
    assert.ok(v.caveat?.includes(spare.address), v.caveat);
    // The new node has its line, executed SETs, and (once the topology was read again) got
    // requests routed to it by the slot map, not only resent there.
    const added = r.cluster!.nodes.find((n) => n.address === spare.address);
    assert.ok(added, `no line for the new node: ${r.cluster!.nodes.map((n) => n.address)}`);
    assert.ok(executed[3]! > 0, "the new node executed no SET");
    assert.ok(added.requests > 0, "no request was routed to the new node by the slot map");
    // Skew counts it among the primaries, as a shard merge does.
    const reqs = r.cluster!.nodes.filter((n) => n.role === "primary").map((n) => n.requests);
    assert.equal(reqs.length, 4);
    const fair = reqs.reduce((a, b) => a + b, 0) / 4;
    assert.ok(Math.abs(r.cluster!.skew - Math.max(...reqs) / fair) < 1e-9);
  },
);

loadTest(
  "replay into a cluster when a redirect names a node that cannot be reached: the replay ends, the lost requests are counted as connection errors",
  async () => {
    const profile = await sequentialProfile();
    try {
      await using dst = await startLocalCluster({ primaries: 3 });
      const topo = await discoverCluster([parseTarget(dst.address)]);
      const slot = keySlot("seq:0");
      const x = topo.nodes[topo.slots[slot]!]!;
      const y = topo.nodes.find((n) => n.role === "primary" && n !== x)!;
      const running = replay({
        profile,
        target: x.address,
        cluster: true,
        speed: "max",
        loop: 300,
        connections: 4,
        signal: AbortSignal.timeout(60_000),
      });
      await new Promise((r) => setTimeout(r, 300));
      // y now announces a port nothing listens on; then seq:0's slot moves from x to y (keys
      // migrated to y's real port), so x answers ASK, then MOVED, naming 127.0.0.1:1.
      await redisText(y.address, ["CONFIG", "SET", "cluster-announce-port", "1"]);
      for (let i = 0; i < 100; i++) {
        if ((await redisText(x.address, ["CLUSTER", "NODES"])).includes(`${y.host}:1@`)) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      await redisText(y.address, ["CLUSTER", "SETSLOT", slot, "IMPORTING", x.id]);
      await redisText(x.address, ["CLUSTER", "SETSLOT", slot, "MIGRATING", y.id]);
      const keys = (await redisText(x.address, ["CLUSTER", "GETKEYSINSLOT", slot, 1000]))
        .split("\n").map((k) => k.trim()).filter((k) => k !== "");
      if (keys.length > 0) {
        await redisText(x.address, ["MIGRATE", y.host, y.port, "", 0, 5000, "KEYS", ...keys]);
      }
      for (const n of [y, x]) {
        await redisText(n.address, ["CLUSTER", "SETSLOT", slot, "NODE", y.id]);
      }
      const r = await running;
      assert.equal(r.interrupted, false, "the replay was stopped by its timeout: it hung");
      // The redirected requests went to a connection that never opened: failed, and counted.
      assert.ok(r.failure, "no failure reported");
      const set = r.commands.find((c) => c.op === "set")!;
      assert.ok((set.errors["connection"] ?? 0) > 0, JSON.stringify(set.errors));
      assert.ok(r.cluster!.nodes.some((n) => n.address.endsWith(":1")));
    } finally {
      await Deno.remove(profile);
    }
  },
);
