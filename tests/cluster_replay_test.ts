// Replay into a cluster. A real cluster client (ioredis' Cluster: a connection per node, requests
// by slot) drives one loopback cluster while tcpdump captures every node's port; the capture is
// recorded with slots kept and replayed into a second, fresh cluster. Each node of the second
// must then count what the same node of the first counted (INFO commandstats per command, and
// its key count), as the keys kept their slots. Recorded without slots, the same traffic still
// reaches the right totals, but its multi-key requests are reported as CROSSSLOT (the
// anonymized keys lost their common hash tag), never silently rewritten.
import assert from "node:assert/strict";
import { keySlot, record, replay, slotTag, startLocalCluster } from "../mod.ts";
import { captureNoDrops } from "./capture_helpers.ts";
import { commandStats, loadTest, redisText, runNodeClient, statsDelta } from "./helpers.ts";

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

Deno.test("slot tags: every cluster slot has one, and a key made with it hashes there", () => {
  for (let s = 0; s < 16384; s++) {
    const t = slotTag(s);
    assert.equal(t.length, 5);
    assert.equal(keySlot(`${t}rest-of-key`), s);
  }
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
    } finally {
      await Deno.remove(cap.file);
      await Deno.remove(withSlots);
      await Deno.remove(noSlots);
    }
  },
);
