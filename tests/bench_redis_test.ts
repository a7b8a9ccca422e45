import assert from "node:assert/strict";
import {
  bench,
  benchMetrics,
  type BenchResult,
  DEFAULT_REDIS_TESTS,
  startLocalServer,
} from "../mod.ts";
import { commandStats, info, loadTest, monitor, redisText, statsDelta, until } from "./helpers.ts";

// Sums what membench says it sent per server command, setup included.
function reportedCalls(r: BenchResult): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of r.setup) out[s.command] = (out[s.command] ?? 0) + s.calls;
  for (const t of r.tests) {
    for (const c of t.commands) {
      const n = c.command === "client" ? "client|setname" : c.command;
      out[n] = (out[n] ?? 0) + c.count;
    }
    // warm-up requests reach the server too
    if (t.warmupRequests > 0 && t.commands.length === 1) {
      out[t.commands[0]!.command] = (out[t.commands[0]!.command] ?? 0) + t.warmupRequests;
    }
  }
  return out;
}

loadTest(
  "bench() runs every redis-benchmark test and INFO commandstats agrees with its counts",
  async () => {
    await using srv = await startLocalServer("redis");
    const before = await commandStats(srv.address);
    const r = await bench({
      target: srv.address,
      tests: [...DEFAULT_REDIS_TESTS],
      requests: 2000,
      clients: 8,
      pipeline: 4,
      keyspace: 500,
      dataSize: 16,
      seed: 1,
    });
    const after = await commandStats(srv.address);
    assert.equal(r.tests.length, DEFAULT_REDIS_TESTS.length);
    for (const t of r.tests) {
      assert.equal(t.requests, 2000, `${t.name} requests`);
      assert.equal(t.errors, 0, `${t.name} errors: ${JSON.stringify(t.commands[0]!.errors)}`);
      assert.ok(t.opsPerSec > 0, `${t.name} ops/s`);
      assert.equal(t.commands[0]!.serviceTime.count, 2000);
    }
    // Several tests share a server command (set/mset are different, lrange_* are all LRANGE).
    assert.deepEqual(statsDelta(before, after), reportedCalls(r));
    // Reads after writes: GET on 500 keys after 2000 SETs with a seeded uniform pattern.
    const get = r.tests.find((t) => t.name === "get")!.commands[0]!;
    assert.equal(get.hits! + get.misses!, 2000);
    const mget = r.tests.find((t) => t.name === "mget")!.commands[0]!;
    assert.equal(mget.hits! + mget.misses!, 20_000, "MGET counts one hit or miss per key");
    const lr = r.tests.find((t) => t.name === "lrange_600")!.commands[0]!;
    assert.equal(lr.hits, 2000);
  },
);

loadTest(
  "bench() with a weighted mix, duration, warm-up, threads and zipf keys matches commandstats",
  async () => {
    await using srv = await startLocalServer("redis");
    const before = await commandStats(srv.address);
    const r = await bench({
      target: srv.address,
      mix: "get:0.7,set:0.2,HSET h:__key__ f __data__:0.1",
      durationMs: 1200,
      warmupMs: 300,
      clients: 6,
      threads: 2,
      pipeline: 2,
      keyspace: 10_000,
      keyPattern: "zipf:1.1",
      dataSize: "8-64",
      seed: 7,
    });
    const after = await commandStats(srv.address);
    const t = r.tests[0]!;
    assert.equal(t.name, "mix");
    assert.ok(t.warmupRequests > 0, "warm-up ran");
    assert.ok(t.durationMs >= 1100 && t.durationMs < 3000, `measured ${t.durationMs} ms`);
    const delta = statsDelta(before, after);
    const sentTotal = Object.values(delta).reduce((a, b) => a + b, 0);
    assert.equal(sentTotal, t.sent, "every request written reached the server");
    assert.equal(t.requests + t.warmupRequests, t.sent);
    const byName = Object.fromEntries(t.commands.map((c) => [c.command, c.count]));
    // Shares follow the weights (within a few percent).
    assert.ok(Math.abs(byName.get! / t.requests - 0.7) < 0.05, JSON.stringify(byName));
    assert.ok(Math.abs(byName.hset! / t.requests - 0.1) < 0.05, JSON.stringify(byName));
    assert.ok(t.series.length >= 1 && t.series.every((s) => s.ops > 0));
  },
);

loadTest("bench() pipelining keeps replies paired with their requests", async () => {
  await using srv = await startLocalServer("redis");
  await redisText(srv.address, ["SET", "notanint", "abc"]);
  const r = await bench({
    target: srv.address,
    mix: "INCR notanint:1,ping:1,GET missing:__key__:1",
    requests: 20_000,
    clients: 4,
    pipeline: 32,
    keyspace: 1000,
    seed: 3,
  });
  const t = r.tests[0]!;
  const incr = t.commands.find((c) => c.command === "incr")!;
  const ping = t.commands.find((c) => c.command === "ping")!;
  const get = t.commands.find((c) => c.command === "get")!;
  // Every INCR fails, every PING succeeds, every GET misses: a shifted pairing would mix them.
  assert.equal(incr.errorCount, incr.count);
  assert.deepEqual(Object.keys(incr.errors), ["ERR"]);
  assert.equal(ping.errorCount, 0);
  assert.equal(get.errorCount, 0);
  assert.equal(get.misses, get.count);
  assert.equal(get.hits, 0);
  assert.equal(incr.count + ping.count + get.count, 20_000);
});

loadTest("bench() speaks RESP3 with HELLO 3", async () => {
  await using srv = await startLocalServer("redis");
  const before = await commandStats(srv.address);
  const r = await bench({
    target: srv.address,
    resp3: true,
    tests: ["set", "get", "mget", "zadd", "zpopmin"],
    requests: 1000,
    clients: 4,
    keyspace: 100,
    seed: 5,
  });
  const after = await commandStats(srv.address);
  assert.equal(after.hello! - (before.hello ?? 0), 4 * 5, "one HELLO per connection per test");
  for (const t of r.tests) assert.equal(t.errors, 0, t.name);
  const get = r.tests.find((t) => t.name === "get")!.commands[0]!;
  assert.equal(get.hits! + get.misses!, 1000);
  assert.ok(get.hits! > 0);
});

loadTest(
  "bench() open loop keeps the target rate and counts a server stall from the intended send time",
  async () => {
    await using srv = await startLocalServer("redis");
    // The server stops for 200 ms in the middle of the run (SIGSTOP, then SIGCONT): the requests
    // due meanwhile cannot be sent (each of the 4 clients has its one request in flight), so they
    // go out late. Without the correction for coordinated omission their latency would start at
    // the late send and the stall would vanish from the percentiles.
    const stall = (async () => {
      // Once the load runs (the server counts GETs), however slowly the bench started.
      await until(
        "GETs reach the server",
        async () => ((await commandStats(srv.address))["get"] ?? 0) > 500,
      );
      Deno.kill(srv.pid, "SIGSTOP");
      await new Promise((res) => setTimeout(res, 200));
      Deno.kill(srv.pid, "SIGCONT");
    })();
    const r = await bench({
      target: srv.address,
      tests: ["get"],
      rate: 2000,
      durationMs: 2000,
      clients: 4,
      seed: 9,
    });
    await stall;
    const t = r.tests[0]!;
    assert.equal(t.loop, "open");
    const c = t.commands[0]!;
    assert.ok(c.responseTime, "response time measured from the intended send time");
    assert.ok(Math.abs(t.requests - 4000) < 200, `requests ${t.requests} at 2000/s for 2 s`);
    // About 400 requests were due during the stall (10% of the run), waiting up to 200 ms: the
    // response time's p99 falls among them.
    assert.ok(c.responseTime!.p99Us >= 120_000, `response p99 ${c.responseTime!.p99Us} µs`);
    // Service time (send to reply) covers the stall only for the 4 requests in flight then.
    assert.ok(c.serviceTime.p99Us < 50_000, `service p99 ${c.serviceTime.p99Us} µs`);
    assert.ok(c.serviceTime.maxUs >= 120_000, `service max ${c.serviceTime.maxUs} µs`);
    // And the sends that were held back are counted late (> 1 ms behind schedule), as waiting on
    // the server: their connections had no free slot, so few are membench's own lag.
    assert.ok(t.late >= 250 && t.late < 1000, `late ${t.late}`);
    // About 400 were due during the stall: most of them count as waiting on the server (on a busy
    // machine membench's own lag adds client-late sends around them).
    assert.ok(
      t.late - t.lateClient >= 250,
      `late ${t.late}, of which with a free connection ${t.lateClient}`,
    );
    const poisson = await bench({
      target: srv.address,
      tests: ["ping"],
      rate: "1k/s",
      arrival: "poisson",
      durationMs: 1500,
      clients: 2,
      seed: 9,
    });
    assert.ok(
      Math.abs(poisson.tests[0]!.requests - 1500) < 250,
      `poisson requests ${poisson.tests[0]!.requests}`,
    );
  },
);

loadTest(
  "bench() open loop: a stall of membench itself counts as its own lateness, not the server's",
  async () => {
    await using srv = await startLocalServer("redis");
    // membench's own isolate stops for 200 ms (a busy loop on its thread, as a starved process
    // would): the requests due meanwhile go out late although every connection had a free slot.
    const stall = (async () => {
      await until(
        "GETs reach the server",
        async () => ((await commandStats(srv.address))["get"] ?? 0) > 500,
      );
      const end = performance.now() + 200;
      while (performance.now() < end) { /* membench cannot run */ }
    })();
    const r = await bench({
      target: srv.address,
      tests: ["get"],
      rate: 2000,
      durationMs: 2000,
      clients: 4,
      pipeline: 4,
      seed: 9,
    });
    await stall;
    const t = r.tests[0]!;
    assert.ok(t.late >= 250 && t.late < 1000, `late ${t.late}`);
    // About 400 were due during the stall, all while their connections had free slots.
    assert.ok(t.lateClient >= 250, `late ${t.late}, with a free connection ${t.lateClient}`);
    assert.ok(
      t.late - t.lateClient < 100,
      `late ${t.late}, with a free connection ${t.lateClient}`,
    );
    // The scenario metric and its note say so.
    const m = benchMetrics(r);
    assert.equal(m["late_client"]!.value, t.lateClient);
    assert.equal(m["client_late_ratio"]!.value, t.lateClient / t.requests);
  },
);

loadTest(
  "bench() with the same seed sends the same key sequence, over the whole keyspace; another seed differs",
  async () => {
    await using srv = await startLocalServer("redis");
    // The key sequence as the server executed it (MONITOR), one client so that the order is the
    // client's own.
    const keysOf = async (seed: number, keyPattern: string) => {
      const mon = await monitor(srv.address);
      await bench({
        target: srv.address,
        tests: ["set"],
        requests: 2000,
        clients: 1,
        keyspace: 1000,
        keyPattern,
        dataSize: 8,
        seed,
      });
      const seen = await mon.stop();
      return seen.filter((c) => c.args[0] === "SET").map((c) => Number(c.args[1]!.slice(4)));
    };
    for (const pattern of ["uniform", "zipf:0.9", "gaussian"]) {
      const a = await keysOf(42, pattern);
      const b = await keysOf(42, pattern);
      const c = await keysOf(43, pattern);
      assert.equal(a.length, 2000, pattern);
      assert.deepEqual(b, a, `${pattern}: the same seed repeats the sequence`);
      const same = a.filter((k, i) => k === c[i]).length;
      assert.ok(same < 200, `${pattern}: another seed gives another sequence (${same} alike)`);
      assert.ok(a.every((k) => Number.isInteger(k) && k >= 0 && k < 1000), pattern);
      const distinct = new Set(a).size;
      if (pattern === "uniform") {
        // 2000 draws from 1000 keys: 1000 (1 - e^-2) = 865 distinct expected, spread edge to edge.
        assert.ok(distinct > 820 && distinct < 910, `uniform: ${distinct} distinct`);
        assert.ok(Math.min(...a) < 10 && Math.max(...a) > 990, "uniform spans the keyspace");
      } else assert.ok(distinct > 100, `${pattern}: ${distinct} distinct keys`);
    }
    // Several clients interleave differently from run to run, but each connection's sequence is
    // the seed's: the same multiset of per-connection sequences.
    const perClient = async (seed: number) => {
      const mon = await monitor(srv.address);
      await bench({
        target: srv.address,
        tests: ["set"],
        requests: 300,
        clients: 3,
        keyspace: 1_000_000,
        keyPattern: "zipf:0.9",
        seed,
      });
      const by = new Map<string, string[]>();
      for (const c of await mon.stop()) {
        if (c.args[0] === "SET") by.set(c.client, [...(by.get(c.client) ?? []), c.args[1]!]);
      }
      return [...by.values()].map((v) => v.join(",")).sort();
    };
    const [p1, p2] = [await perClient(7), await perClient(7)];
    assert.equal(p1.length, 3);
    assert.deepEqual(p2, p1);
  },
);

loadTest(
  "bench() counts a server killed mid-run as connection errors and ends with a failure, not a hang",
  async () => {
    const srv = await startLocalServer("redis");
    const started = Date.now();
    const pending = bench({
      target: srv.address,
      tests: ["set"],
      durationMs: 20_000,
      clients: 4,
      reconnect: { maxAttempts: 3, baseDelayMs: 50 },
    });
    await until(
      "SETs reach the server",
      async () => ((await commandStats(srv.address))["set"] ?? 0) > 1000,
    );
    await srv.stop();
    const r = await pending;
    assert.ok(Date.now() - started < 10_000, "ended soon after the server died");
    assert.equal(r.failure?.code, "connection");
    const t = r.tests[0]!;
    assert.ok(t.requests > 0);
    assert.ok(
      (t.commands[0]!.errors.connection ?? 0) > 0,
      "requests in flight when it died are counted",
    );
    assert.match(r.failure!.message, new RegExp(`${srv.port}|server closed|refused`));
  },
);

loadTest("bench() reconnects with backoff when the server comes back, and counts it", async () => {
  const srv = await startLocalServer("redis");
  const port = srv.port;
  const pending = bench({
    target: srv.address,
    tests: ["set"],
    durationMs: 2500,
    clients: 3,
    reconnect: { maxAttempts: 20, baseDelayMs: 20, maxDelayMs: 200 },
  });
  await until(
    "SETs reach the server",
    async () => ((await commandStats(srv.address))["set"] ?? 0) > 1000,
  );
  await srv.stop();
  await new Promise((r) => setTimeout(r, 200));
  await using again = await startLocalServer("redis", { port });
  const r = await pending;
  const t = r.tests[0]!;
  assert.equal(r.failure, undefined);
  // Each of the 3 clients reconnected to the new server, and the load went on there: the new
  // server's own counters hold the SETs sent after the restart, and its connections.
  assert.ok(t.reconnects >= 3, `reconnects ${t.reconnects}`);
  const stats = await info(again.address, "stats");
  const conns = Number(stats["total_connections_received"]);
  assert.ok(conns >= 3, `connections to the restarted server ${conns}`);
  const sets = (await commandStats(again.address))["set"] ?? 0;
  assert.ok(sets > 1000, `SETs after the restart ${sets}`);
  assert.ok(sets < t.requests, `${sets} of ${t.requests} after the restart`);
  // The per-second series shows the load in the last second, after the restart.
  assert.ok(t.series.length >= 2);
  assert.ok(t.series.at(-1)!.ops > 0, JSON.stringify(t.series.at(-1)));
});

loadTest("bench() returns a typed result the library user can read", async () => {
  await using srv = await startLocalServer("redis");
  const r: BenchResult = await bench({
    target: `redis://${srv.address}/3`,
    tests: ["set"],
    requests: 500,
    clients: 2,
  });
  assert.equal(r.config.db, 3);
  assert.equal(r.config.targets[0], srv.address);
  const c = r.tests[0]!.commands[0]!;
  assert.equal(c.name, "set");
  assert.equal(typeof c.serviceTime.p99Us, "number");
  assert.ok(
    c.serviceTime.p50Us <= c.serviceTime.p99Us && c.serviceTime.p99Us <= c.serviceTime.maxUs,
  );
  assert.equal((await redisText(srv.address, ["INFO", "keyspace"])).includes("db3:keys=1"), true);
});

// A run on 2 worker threads whose second shard cannot open its last connection (the server's
// maxclients reached; the shards' connects take turns, so the first shard has all of its own):
// the run fails at once with the server's error. The shard that connected used to wait for the
// other to be ready, and the run hung.
loadTest(
  "bench on 2 threads: a shard that cannot connect fails the run at once, with the server's error",
  async () => {
    await using srv = await startLocalServer("redis", { args: ["--maxclients", "3"] });
    const started = Date.now();
    await assert.rejects(
      bench({ target: srv.address, tests: ["get"], clients: 4, threads: 2, durationMs: 3000 }),
      (e: unknown) => {
        assert.match(String((e as Error).message), /max number of clients reached/);
        return true;
      },
    );
    assert.ok(Date.now() - started < 8000, `failed after ${Date.now() - started} ms`);
  },
);
