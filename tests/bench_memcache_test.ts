import assert from "node:assert/strict";
import {
  bench,
  type BenchResult,
  McConnection,
  parseTarget,
  type ProtocolName,
  startLocalServer,
} from "../mod.ts";
import { loadTest, runCli, until } from "./helpers.ts";

const PROTOCOLS: ProtocolName[] = ["memcache-text", "memcache-meta", "memcache-binary"];
// Both hot loops: io_uring on libc sockets, and Deno's sockets.
const IOS = ["uring", "deno"] as const;

const COUNTERS = [
  "cmd_get",
  "get_hits",
  "get_misses",
  "cmd_set",
  "cmd_touch",
  "touch_hits",
  "touch_misses",
  "delete_hits",
  "delete_misses",
  "incr_hits",
  "incr_misses",
  "decr_hits",
  "decr_misses",
];

async function stats(address: string): Promise<Record<string, number>> {
  using c = await McConnection.open(parseTarget(address));
  const s = await c.stats();
  return Object.fromEntries(COUNTERS.map((k) => [k, Number(s[k])]));
}

function delta(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  return Object.fromEntries(COUNTERS.map((k) => [k, b[k]! - a[k]!]));
}

// What memcached's counters should have moved by, from what membench reports. memcached counts
// every key of a multi-get in cmd_get, and gat/gats as touches (observed on 1.6.18).
function expectedStats(r: BenchResult): Record<string, number> {
  const e = Object.fromEntries(COUNTERS.map((k) => [k, 0]));
  for (const t of r.tests) {
    for (const c of t.commands) {
      const hits = c.hits ?? 0;
      const misses = c.misses ?? 0;
      switch (c.command) {
        case "get":
        case "gets":
          e.cmd_get! += hits + misses;
          e.get_hits! += hits;
          e.get_misses! += misses;
          break;
        case "gat":
        case "gats":
        case "touch":
          e.cmd_touch! += hits + misses;
          e.touch_hits! += hits;
          e.touch_misses! += misses;
          break;
        case "set":
        case "add":
        case "replace":
        case "append":
        case "prepend":
          e.cmd_set! += c.count;
          break;
        case "delete":
        case "incr":
        case "decr":
          e[`${c.command}_hits`]! += hits;
          e[`${c.command}_misses`]! += misses;
          break;
      }
    }
    if (t.warmupRequests > 0) throw new Error("these tests run without warm-up");
  }
  return e;
}

// Half of the counters exist (value "7"), so incr and decr both hit and miss.
async function seedCounters(address: string, keyspace: number): Promise<void> {
  using c = await McConnection.open(parseTarget(address));
  const width = String(keyspace - 1).length;
  const v = new TextEncoder().encode("7");
  for (let i = 0; i < keyspace; i += 2) {
    const r = await c.call(["set", `counter:${String(i).padStart(width, "0")}`, 0, 0, 1], v);
    assert.equal(r[0]!.status, "STORED");
  }
}

const ALL_TESTS = [
  "set",
  "get",
  "gets",
  "gat",
  "gats",
  "add",
  "replace",
  "append",
  "prepend",
  "touch",
  "incr",
  "decr",
  "delete",
  "get",
  "version",
];

for (const [protocol, io] of PROTOCOLS.flatMap((p) => IOS.map((io) => [p, io] as const))) {
  loadTest(
    `bench() ${protocol} (io ${io}): every test, pipelined, and memcached's stats agree with its counts`,
    async () => {
      await using srv = await startLocalServer("memcached");
      await seedCounters(srv.address, 2000);
      const before = await stats(srv.address);
      const r = await bench({
        target: srv.address,
        protocol,
        tests: ALL_TESTS,
        requests: 1200,
        clients: 4,
        pipeline: 8,
        keyspace: 2000,
        dataSize: 8,
        seed: 3,
        io,
      });
      const after = await stats(srv.address);
      assert.equal(r.config.io, io);
      assert.equal(r.tests.length, ALL_TESTS.length);
      for (const t of r.tests) {
        assert.equal(t.requests, 1200, `${t.name} requests`);
        assert.equal(t.errors, 0, `${t.name} errors: ${JSON.stringify(t.commands[0]!.errors)}`);
        assert.equal(t.commands[0]!.serviceTime.count, 1200);
      }
      assert.deepEqual(delta(before, after), expectedStats(r));
      const by = (name: string, i = 0) => r.tests.filter((t) => t.name === name)[i]!.commands[0]!;
      // Every test replays the same seeded key sequence: get reads what set wrote, and after the
      // deletes nothing is left.
      assert.deepEqual([by("get").hits, by("get").misses], [1200, 0]);
      assert.deepEqual([by("get", 1).hits, by("get", 1).misses], [0, 1200]);
      // Half the counters exist; repeated keys make deletes both hit and miss.
      for (const name of ["incr", "decr", "delete"]) {
        assert.ok(
          by(name).hits! > 0 && by(name).misses! > 0,
          `${name} hits and misses: ${by(name).hits} ${by(name).misses}`,
        );
      }
      assert.equal(by("add").hits! + by("add").misses!, 1200);
    },
  );
}

async function checkMultigetNoreplyTtl(protocol: ProtocolName): Promise<void> {
  await using srv = await startLocalServer("memcached");
  const before = await stats(srv.address);
  const r = await bench({
    target: srv.address,
    protocol,
    mix: [{ command: "set", weight: 1 }, { command: "get", weight: 4 }, {
      command: "add",
      weight: 1,
    }, { command: "delete", weight: 1 }],
    durationMs: 800,
    clients: 6,
    threads: 2,
    pipeline: 16,
    multiget: 5,
    noreply: true,
    ttl: 300,
    keyspace: 500,
    keyPattern: "zipf:0.9",
    dataSize: "16-256",
    seed: 11,
  });
  const after = await stats(srv.address);
  const t = r.tests[0]!;
  assert.equal(t.errors, 0, JSON.stringify(t.commands.map((c) => c.errors)));
  assert.ok(t.requests > 500, `${t.requests} requests`);
  assert.equal(t.sent, t.requests, "every request sent was answered or fenced");
  const d = delta(before, after);
  const get = t.commands.find((c) => c.command === "get")!;
  assert.equal(get.hits! + get.misses!, get.count * 5, "one hit or miss per key of a multi-get");
  assert.equal(d.cmd_get, get.count * 5);
  assert.equal(d.get_hits, get.hits);
  const writes = t.commands.filter((c) => c.command === "set" || c.command === "add");
  assert.equal(d.cmd_set, writes.reduce((a, c) => a + c.count, 0));
  const del = t.commands.find((c) => c.command === "delete")!;
  assert.equal(d.delete_hits! + d.delete_misses!, del.count);
  if (protocol !== "memcache-text") {
    // Quiet meta and binary writes still report failures (NS, NF), so outcomes are counted.
    assert.equal(d.delete_hits, del.hits);
    assert.equal(d.delete_misses, del.misses);
    const add = t.commands.find((c) => c.command === "add")!;
    assert.ok(add.misses! > 0, "some adds found their key");
  } else {
    // Text noreply hides outcomes: membench does not invent them.
    assert.equal(del.hits, undefined);
  }
}

for (const protocol of PROTOCOLS) {
  loadTest(
    `bench() ${protocol}: multi-get, noreply writes and a duration-bound mix pair correctly`,
    async () => {
      await checkMultigetNoreplyTtl(protocol);
    },
  );
}

// The TTL and flags each command sets, as the server holds them: keys that only this check
// touches, read back with meta `mg <key> t f` (remaining TTL, client flags).
async function checkTtlAndFlags(protocol: ProtocolName): Promise<void> {
  await using srv = await startLocalServer("memcached");
  const keys = Array.from({ length: 20 }, (_, i) => `ttl:${String(i).padStart(2, "0")}`);
  const run = (tests: string[], extra: Partial<Parameters<typeof bench>[0]>) =>
    bench({
      target: srv.address,
      protocol,
      tests,
      requests: 20,
      clients: 1,
      keyPrefix: "ttl:",
      keyspace: 20,
      keyPattern: "sequential",
      dataSize: 8,
      ...extra,
    });
  using c = await McConnection.open(parseTarget(srv.address));
  const held = async () => {
    const out: Array<{ ttl: number; flags: number }> = [];
    for (const k of keys) {
      const r = (await c.call(["mg", k, "t", "f"]))[0]!;
      assert.equal(r.status, "HD", `${k}: ${r.line}`);
      out.push({
        ttl: Number(/ t(-?\d+)/.exec(r.line)?.[1]),
        flags: Number(/ f(\d+)/.exec(r.line)?.[1]),
      });
    }
    return out;
  };
  const near = (got: Array<{ ttl: number }>, ttl: number, what: string) => {
    for (const g of got) assert.ok(g.ttl > ttl - 30 && g.ttl <= ttl, `${what}: ttl ${g.ttl}`);
  };
  const w = await run(["set"], { ttl: 300, flags: 4242 });
  assert.equal(w.tests[0]!.errors, 0);
  const set = await held();
  near(set, 300, "set");
  assert.deepEqual(new Set(set.map((g) => g.flags)), new Set([4242]), "set's flags");
  const before = await stats(srv.address);
  const t = await run(["touch"], { ttl: 600 });
  near(await held(), 600, "touch");
  assert.equal(t.tests[0]!.commands[0]!.hits, 20);
  const g = await run(["gat"], { ttl: 900 });
  near(await held(), 900, "gat");
  assert.equal(g.tests[0]!.commands[0]!.hits, 20);
  const gs = await run(["gats"], { ttl: 1200 });
  near(await held(), 1200, "gats");
  assert.equal(gs.tests[0]!.commands[0]!.hits, 20);
  // The server counted 60 touches that hit (touch, gat and gats are all touches to memcached).
  const d = delta(before, await stats(srv.address));
  assert.equal(d.touch_hits, 60, JSON.stringify(d));
  assert.equal(d.touch_misses, 0);
  // The flags survived the touches.
  assert.deepEqual(new Set((await held()).map((x) => x.flags)), new Set([4242]));
}

for (const protocol of PROTOCOLS) {
  loadTest(
    `bench() ${protocol}: set's TTL and flags, and touch, gat and gats TTLs reach the server`,
    async () => {
      await checkTtlAndFlags(protocol);
    },
  );
}

for (const io of IOS) {
  loadTest(
    `bench() memcached (io ${io}): a server killed mid-pipeline gives counted connection errors, not a hang`,
    async () => {
      const srv = await startLocalServer("memcached");
      // Killed once the load runs (memcached counts GETs), however slowly the bench started.
      const kill = until("GETs reach memcached", async () => {
        using c = await McConnection.open(parseTarget(srv.address));
        return Number((await c.stats())["cmd_get"]) > 1000;
      }).then(() => Deno.kill(srv.pid, "SIGKILL"));
      const t0 = Date.now();
      const r = await bench({
        target: srv.address,
        protocol: "memcache-binary",
        tests: ["get"],
        durationMs: 3000,
        clients: 4,
        pipeline: 32,
        multiget: 4,
        keyspace: 1000,
        reconnect: { maxAttempts: 2, baseDelayMs: 20 },
        seed: 1,
        io,
      });
      await kill;
      await srv.stop();
      assert.equal(r.config.io, io);
      assert.ok(Date.now() - t0 < 6000, "ended promptly");
      const t = r.tests[0]!;
      assert.ok(t.requests > 0);
      assert.ok((t.commands[0]!.errors.connection ?? 0) > 0, JSON.stringify(t.commands[0]!.errors));
      assert.ok(r.failure, "every connection failed for good");
      assert.match(r.failure!.message, /refused|closed|reset/i);
    },
  );
}

loadTest(
  "membench bench --protocol memcache-meta on the CLI, and a bad protocol or RESP-only flag is a usage error",
  async () => {
    await using srv = await startLocalServer("memcached");
    const ok = await runCli([
      "bench",
      "--protocol",
      "memcache_text",
      "-p",
      String(srv.port),
      "--ratio",
      "1:10",
      "-n",
      "2000",
      "-c",
      "5",
      "-d",
      "32",
      "-r",
      "100",
      "--json",
      "-",
    ]);
    assert.equal(ok.code, 0, ok.stderr);
    const j = JSON.parse(ok.stdout);
    assert.equal(j.config.protocol, "memcache-text");
    assert.deepEqual(j.tests[0].commands.map((c: { name: string }) => c.name), ["set", "get"]);
    assert.equal(j.tests[0].requests, 2000);
    const bad = await runCli(["bench", "--protocol", "memcache-ascii", "-p", String(srv.port)]);
    assert.equal(bad.code, 2);
    assert.match(
      bad.stderr,
      /'--protocol': expected resp, memcache-text, memcache-meta, memcache-binary/,
    );
    const both = await runCli([
      "bench",
      "--protocol",
      "memcache-meta",
      "-p",
      String(srv.port),
      "-t",
      "lpush,get",
      "--resp3",
    ]);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /unknown memcached test/);
    assert.match(both.stderr, /Cannot use '--resp3' with protocol memcache-meta/);
  },
);
