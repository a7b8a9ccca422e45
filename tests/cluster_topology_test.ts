import assert from "node:assert/strict";
import {
  bench,
  clusterKeyMap,
  clusterSlot,
  discoverCluster,
  keySlot,
  parseClusterSlots,
  parseRedirect,
  parseTarget,
  RespConnection,
  startLocalCluster,
} from "../mod.ts";
import { canStartWithout } from "../lib/cluster/mod.ts";

const utf8 = new TextEncoder();

Deno.test("keySlot() matches the Redis Cluster specification's CRC16 check value", () => {
  // The specification: CRC16 XMODEM, the output for "123456789" is 0x31C3 (< 16384).
  assert.equal(keySlot("123456789"), 0x31c3);
  assert.equal(keySlot(""), 0);
  // The anonymizer's own copy agrees on many keys.
  for (let i = 0; i < 2000; i++) {
    const k = utf8.encode(i % 3 === 0 ? `{t${i}}x` : `key:${i}`);
    assert.equal(keySlot(k), clusterSlot(k, 0, k.length));
  }
});

Deno.test("keySlot() gives the documented slots and honours hash tags", () => {
  assert.equal(keySlot("foo"), 12182); // CLUSTER KEYSLOT foo, in the Redis docs
  assert.equal(keySlot("somekey"), 11058); // CLUSTER KEYSLOT somekey, in the Redis docs
  assert.equal(keySlot("{user1000}.following"), keySlot("user1000"));
  assert.equal(keySlot("foo{}{bar}"), keySlot("foo{}{bar}")); // empty tag: whole key hashed
  assert.notEqual(keySlot("foo{}{bar}"), keySlot("bar"));
  assert.equal(keySlot("foo{{bar}}zap"), keySlot("{bar")); // tag is "{bar"
  assert.equal(keySlot("foo{bar}{zap}"), keySlot("bar"));
});

Deno.test("parseRedirect() reads MOVED and ASK and nothing else", () => {
  assert.deepEqual(parseRedirect("ASK 12182 127.0.0.1:7002"), {
    kind: "ASK",
    slot: 12182,
    address: "127.0.0.1:7002",
    host: "127.0.0.1",
    port: 7002,
  });
  assert.equal(parseRedirect("MOVED 99999 127.0.0.1:7002"), undefined);
  // No port, or not a port: not a redirect one can follow.
  assert.equal(parseRedirect("MOVED 3999 127.0.0.1"), undefined);
  assert.equal(parseRedirect("MOVED 3999 127.0.0.1:0"), undefined);
  // A node that does not know its own host says `:port`: the node that answered, when given.
  assert.equal(parseRedirect("MOVED 3999 :6381", "10.0.0.5")!.address, "10.0.0.5:6381");
  assert.equal(parseRedirect("MOVED 3999 :6381")!.address, ":6381");
  // IPv6, as Redis writes it (no brackets), takes discovery's form ([host]:port).
  assert.deepEqual(parseRedirect("MOVED 3999 ::1:7001"), {
    kind: "MOVED",
    slot: 3999,
    address: "[::1]:7001",
    host: "::1",
    port: 7001,
  });
  assert.equal(parseRedirect("ASK 5 [::1]:7001")!.address, "[::1]:7001");
  assert.equal(parseRedirect("MOVED 3999 :6381", "::1")!.address, "[::1]:6381");
  assert.equal(parseRedirect("TRYAGAIN Multiple keys request during rehashing of slot"), undefined);
});

Deno.test("parseClusterSlots() names a bad range", () => {
  const int = (n: number) => ({ type: "integer" as const, value: n });
  assert.throws(
    () =>
      parseClusterSlots(
        { type: "array", value: [{ type: "array", value: [int(5), int(2)] }] },
        "s:1",
      ),
    /Cannot read the cluster topology from s:1: bad slot range 5-2/,
  );
});

Deno.test("startLocalCluster() rejects fewer than 3 primaries", async () => {
  await assert.rejects(
    () => startLocalCluster({ primaries: 2 }),
    /Cannot start a cluster with 2 primaries: must be an integer from 3 to 32/,
  );
});

Deno.test("discoverCluster() reads a loopback cluster; keySlot() agrees with CLUSTER KEYSLOT", async () => {
  await using cl = await startLocalCluster({ primaries: 3, replicas: 1 });
  const topo = await discoverCluster([parseTarget("127.0.0.1:1"), parseTarget(cl.address)]);
  assert.equal(topo.source, "shards");
  assert.equal(topo.nodes.length, 6);
  const primaries = topo.nodes.filter((n) => n.role === "primary");
  assert.equal(primaries.length, 3);
  for (const n of topo.nodes.filter((n) => n.role === "replica")) {
    assert.equal(topo.nodes[n.primary]?.role, "primary");
  }
  assert.ok(topo.slots.every((s) => s >= 0 && s < 3), "every slot owned by a primary");
  assert.deepEqual(new Set(topo.nodes.map((n) => n.address)), new Set(cl.addresses));
  // Every slot's owner, as each primary says with CLUSTER COUNTKEYSINSLOT's sibling GETKEYSINSLOT
  // is too slow; ask the server for the slot of keys instead, and where it sends them.
  const c = await RespConnection.open(parseTarget(cl.address));
  try {
    const keys = ["foo", "somekey", "{a}b", "a{}b", "x{y}z{w}", "ключ", ""];
    for (let i = 0; i < 500; i++) keys.push(`key:${i}`, `{tag${i}}:k`, `memtier-${i * 7919}`);
    for (const k of keys) {
      const r = await c.command(["CLUSTER", "KEYSLOT", k]);
      assert.equal(r.type, "integer");
      assert.equal(
        keySlot(k),
        Number(r.type === "integer" ? r.value : -1),
        `slot of ${JSON.stringify(k)}`,
      );
    }
    // The owner the topology names answers GET without a redirect; another node redirects there.
    for (const k of ["foo", "key:1", "key:2", "{tag7}:k"]) {
      const owner = topo.nodes[topo.slots[keySlot(k)]!]!;
      const o = await RespConnection.open(parseTarget(owner.address));
      try {
        assert.equal((await o.command(["GET", k])).type, "null");
      } finally {
        o.close();
      }
      const other = primaries.find((n) => n !== owner)!;
      const x = await RespConnection.open(parseTarget(other.address));
      try {
        const r = await x.command(["GET", k]);
        assert.equal(r.type, "error");
        assert.deepEqual(parseRedirect(r.type === "error" ? r.value : ""), {
          kind: "MOVED",
          slot: keySlot(k),
          address: owner.address,
          host: owner.host,
          port: owner.port,
        });
      } finally {
        x.close();
      }
    }
  } finally {
    c.close();
  }
});

Deno.test("clusterKeyMap() lists each primary's keys of a pattern (SCAN), bounded by maxKeys", async () => {
  await using cl = await startLocalCluster({ primaries: 3 });
  await bench({
    target: cl.address,
    cluster: true,
    tests: ["set"],
    requests: 1000,
    clients: 2,
    keyspace: 1000,
    keyPrefix: "doc:",
    keyPattern: "sequential",
  });
  // A key of another pattern: not listed.
  const topo = await discoverCluster([parseTarget(cl.address)]);
  const o = await RespConnection.open(
    parseTarget(topo.nodes[topo.slots[keySlot("x:1")]!]!.address),
  );
  try {
    assert.equal((await o.command(["SET", "x:1", "v"])).type, "simple");
  } finally {
    o.close();
  }
  const map = await clusterKeyMap([parseTarget(cl.address)], { match: "doc:*", count: 100 });
  assert.equal(map.truncated, false);
  assert.equal(map.nodes.length, 3);
  const all = map.nodes.flatMap((n) => n.keys).sort();
  assert.equal(all.length, 1000);
  assert.equal(new Set(all).size, 1000);
  for (const n of map.nodes) {
    // Every key listed on a node is one whose slot that node owns; the node's DBSIZE agrees.
    for (const k of n.keys) {
      assert.equal(topo.nodes[topo.slots[keySlot(k)]!]!.address, n.address, k);
    }
    const c = await RespConnection.open(parseTarget(n.address));
    try {
      const size = await c.command(["DBSIZE"]);
      const extra = topo.nodes[topo.slots[keySlot("x:1")]!]!.address === n.address ? 1 : 0;
      assert.equal(Number(size.type === "integer" ? size.value : -1), n.keys.length + extra);
    } finally {
      c.close();
    }
  }
  const few = await clusterKeyMap([parseTarget(cl.address)], { match: "doc:*", maxKeys: 10 });
  assert.equal(few.truncated, true);
  assert.equal(few.nodes.flatMap((n) => n.keys).length, 10);
  await assert.rejects(
    () => clusterKeyMap([parseTarget(cl.address)], { maxKeys: 0 }),
    /Cannot use 'maxKeys': must be an integer >= 1: current value is 0/,
  );
});

// Which node a run may start without: a replica always; a cluster primary only with a healthy
// replica to fail over to; a standalone primary never (nothing promotes its replica).
Deno.test("canStartWithout: replicas, cluster primaries with a healthy replica, never a standalone primary", () => {
  const node = (i: number, role: "primary" | "replica", primary: number, healthy = true) => ({
    id: `n${i}`,
    host: "127.0.0.1",
    port: 7000 + i,
    address: `127.0.0.1:${7000 + i}`,
    role,
    primary,
    healthy,
  });
  const nodes = [node(0, "primary", -1), node(1, "replica", 0), node(2, "primary", -1)];
  assert.equal(canStartWithout(nodes, 0), true);
  assert.equal(canStartWithout(nodes, 1), true);
  assert.equal(canStartWithout(nodes, 2), false);
  assert.equal(canStartWithout(nodes, 3), false);
  assert.equal(canStartWithout([nodes[0]!, node(1, "replica", 0, false)], 0), false);
  assert.equal(canStartWithout(nodes, 0, true), false);
  assert.equal(canStartWithout(nodes, 1, true), true);
});
