import assert from "node:assert/strict";
import {
  bench,
  type BenchResult,
  discoverCluster,
  keySlot,
  MembenchError,
  parseTarget,
  startLocalCluster,
} from "../mod.ts";
import { commandStats, loadTest, reshard, scaleOut, statsDelta } from "./helpers.ts";

function redisCli(args: string[]): Promise<Deno.CommandOutput> {
  return new Deno.Command("redis-cli", { args, stdin: "null", stdout: "piped", stderr: "piped" })
    .output();
}

// Every request sent is accounted for: measured, warm-up or abandoned.
function accounted(r: BenchResult): void {
  const t = r.tests[0]!;
  assert.equal(t.requests + t.warmupRequests + t.abandoned, t.sent, JSON.stringify(t.commands));
  const nodeTotal = t.nodes!.reduce((a, n) => a + n.requests, 0);
  assert.equal(nodeTotal, t.requests, "per-node requests add up to the test's");
  const nodeErrors = t.nodes!.reduce((a, n) => a + n.errors, 0);
  assert.ok(nodeErrors <= t.errors, `node errors ${nodeErrors} > ${t.errors}`);
}

loadTest(
  "bench cluster survives a live reshard: MOVED/ASK followed and counted, server counts agree",
  async () => {
    await using cl = await startLocalCluster({ primaries: 3 });
    const topo = await discoverCluster([parseTarget(cl.address)]);
    const [from, to] = [topo.nodes[0]!, topo.nodes[1]!];
    const before = await Promise.all(cl.addresses.map((a) => commandStats(a)));
    const started = Date.now();
    const run = bench({
      target: cl.address,
      cluster: true,
      tests: ["set"],
      durationMs: 4000,
      clients: 4,
      pipeline: 4,
      keyspace: 20_000,
      dataSize: 64,
    });
    await new Promise((r) => setTimeout(r, 500));
    await reshard(from.address, from.id, to.id, 600);
    const r = await run;
    const took = Date.now() - started;
    assert.ok(took < 9000, `the run took ${took} ms`);
    const t = r.tests[0]!;
    accounted(r);
    assert.equal(t.errors, 0, JSON.stringify(t.commands[0]!.errors));
    const red = t.cluster!.redirects;
    assert.ok(red.moved + red.ask > 0, `no redirect seen: ${JSON.stringify(red)}`);
    // MOVED came from the node that gave the slots away.
    const fromNode = t.nodes!.find((n) => n.address === from.address)!;
    assert.ok(fromNode.redirects.moved + fromNode.redirects.ask > 0);
    // The servers executed exactly the SETs that completed: no resend counted twice, none lost.
    let served = 0;
    for (const [i, a] of cl.addresses.entries()) {
      const d = statsDelta(before[i]!, await commandStats(a))["set"] ?? 0;
      const n = t.nodes!.find((x) => x.address === a)!;
      assert.equal(n.requests, d, `${a}: membench ${n.requests}, server ${d}`);
      served += d;
    }
    assert.equal(served, t.requests + t.warmupRequests);
    // After the run the moved slots answer on their new owner.
    const after = await discoverCluster([parseTarget(cl.address)]);
    const owned = (t: typeof topo) =>
      t.slots.filter((s) => t.nodes[s]!.address === to.address).length;
    assert.equal(owned(after), owned(topo) + 600);
  },
);

loadTest(
  "bench cluster scales out mid-run: a node added and given slots gets connections; every request counted once, server counts agree",
  async () => {
    await using cl = await startLocalCluster({ primaries: 3, spares: 1 });
    const spare = cl.spares[0]!;
    const all = [...cl.addresses, spare.address];
    const before = await Promise.all(all.map((a) => commandStats(a)));
    const started = Date.now();
    const run = bench({
      target: cl.address,
      cluster: true,
      tests: ["set"],
      durationMs: 5000,
      clients: 4,
      pipeline: 4,
      keyspace: 20_000,
      dataSize: 64,
      // Two workers: each finds the new node on its own; the result joins them by address.
      threads: 2,
    });
    await new Promise((r) => setTimeout(r, 500));
    await scaleOut(cl.address, cl.nodes.map((n) => n.port), spare, 1200);
    const r = await run;
    const took = Date.now() - started;
    assert.ok(took < 12_000, `the run took ${took} ms`);
    const t = r.tests[0]!;
    accounted(r);
    assert.equal(t.errors, 0, JSON.stringify(t.commands[0]!.errors));
    // The new node is in the report, served requests, and counted what membench counted.
    const added = t.nodes!.find((n) => n.address === spare.address);
    assert.ok(added, `no line for the new node: ${t.nodes!.map((n) => n.address)}`);
    assert.ok(added.requests > 0, "the new node served no request");
    // Its rate counts from its joining (the add-node came 500 ms or more into the run), not over
    // the whole run (joinedAfterMs is rounded to the ms).
    const joined = added.joinedAfterMs;
    assert.ok(joined !== undefined && joined > 0 && joined < t.durationMs, `joined ${joined}`);
    const rateAt = (ms: number) => added.requests / ((t.durationMs - ms) / 1000);
    assert.ok(
      added.opsPerSec >= rateAt(joined - 1) && added.opsPerSec <= rateAt(joined + 1),
      `${added.opsPerSec} vs ${rateAt(joined)}`,
    );
    let served = 0;
    for (const [i, a] of all.entries()) {
      const d = statsDelta(before[i]!, await commandStats(a))["set"] ?? 0;
      const n = t.nodes!.find((x) => x.address === a)!;
      assert.equal(n.requests, d, `${a}: membench ${n.requests}, server ${d}`);
      served += d;
    }
    assert.equal(served, t.requests + t.warmupRequests);
  },
);

// A primary of a cluster of 3 primaries with a replica each (1 s node timeout) is killed 1 s
// into a SET run ("during"), or just before it ("start": discovery, through another node, still
// lists it as a healthy primary that owns its slots, and its port refuses connections). The run
// ends on time with every request accounted for, its replica took over and served SETs, and the
// untouched primaries executed exactly what membench counted on them.
async function failoverRun(when: "during" | "start", threads = 1): Promise<void> {
  await using cl = await startLocalCluster({ primaries: 3, replicas: 1, nodeTimeoutMs: 1000 });
  const topo = await discoverCluster([parseTarget(cl.address)]);
  const victim = topo.nodes[0]!;
  const heir = topo.nodes.find((n) => n.primary === 0)!;
  const others = topo.nodes.filter((n) => n.role === "primary" && n !== victim);
  const before = await Promise.all(others.map((n) => commandStats(n.address)));
  const kill = () => Deno.kill(cl.nodes.find((n) => n.address === victim.address)!.pid, "SIGKILL");
  if (when === "start") kill();
  const started = Date.now();
  const run = bench({
    target: others[0]!.address,
    cluster: true,
    tests: ["set"],
    durationMs: when === "start" ? 5000 : 6000,
    clients: 4,
    pipeline: 2,
    keyspace: 20_000,
    threads,
  });
  if (when === "during") {
    await new Promise((r) => setTimeout(r, 1000));
    kill();
  }
  const r = await run;
  const took = Date.now() - started;
  assert.ok(took < (when === "start" ? 10_000 : 12_000), `the run took ${took} ms`);
  const t = r.tests[0]!;
  accounted(r);
  const heirNode = t.nodes!.find((n) => n.address === heir.address)!;
  assert.ok(heirNode.requests > 0, "no SET reached the promoted replica");
  const victimNode = t.nodes!.find((n) => n.address === victim.address)!;
  // Roles as the run started: the failover came during the run.
  assert.equal(victimNode.role, "primary");
  assert.equal(heirNode.role, "replica");
  // Errors are the requests the dead node held, counted on it.
  assert.equal(
    t.errors,
    victimNode.errors + t.nodes!.filter((n) => n !== victimNode).reduce((a, n) => a + n.errors, 0),
  );
  for (const [i, n] of others.entries()) {
    const d = statsDelta(before[i]!, await commandStats(n.address))["set"] ?? 0;
    const mine = t.nodes!.find((x) => x.address === n.address)!;
    assert.equal(
      mine.requests - mine.errors,
      d,
      `${n.address}: membench ${mine.requests}, server ${d}`,
    );
  }
  if (when === "start") {
    // Nothing was written before the run: the promoted replica executed what membench counted.
    const onHeir = (await commandStats(heir.address))["set"] ?? 0;
    assert.equal(heirNode.requests - heirNode.errors, onHeir);
  }
  assert.ok(t.requests > 1000, `only ${t.requests} requests`);
}

loadTest(
  "bench cluster survives a failover (a primary killed): ends on time, every request accounted for",
  () => failoverRun("during"),
);

loadTest(
  "bench cluster started while a primary is down and not yet flagged failed: the run waits for its replica to take over, ends on time, every request accounted for",
  () => failoverRun("start"),
);

// The same with 2 worker threads, whose connects take turns (lib/bench/_turns.ts): a turn that
// failed used to end its shard's connect phase, so the connections after the dead primary's
// were never opened (and the run refused, "not connected", with the replica alive).
loadTest(
  "bench cluster started while a primary is down, on 2 worker threads: every connection after the dead one still opens",
  () => failoverRun("start", 2),
);

// The primary and its replica both killed just before the run, both still listed healthy by
// discovery: the run must not start (nothing can serve those slots), and say which nodes did not
// answer and why. Without the check it started and failed their requests as `unavailable`.
loadTest(
  "bench cluster with a primary and all its replicas down at start: refused at once, naming them",
  async () => {
    await using cl = await startLocalCluster({ primaries: 3, replicas: 1, nodeTimeoutMs: 1000 });
    const topo = await discoverCluster([parseTarget(cl.address)]);
    const victim = topo.nodes[0]!;
    const heir = topo.nodes.find((n) => n.primary === 0)!;
    const seed = topo.nodes.find((n) => n.role === "primary" && n !== victim)!;
    for (const a of [victim.address, heir.address]) {
      Deno.kill(cl.nodes.find((n) => n.address === a)!.pid, "SIGKILL");
    }
    const started = Date.now();
    await assert.rejects(
      bench({
        target: seed.address,
        cluster: true,
        tests: ["set"],
        durationMs: 5000,
        clients: 4,
        keyspace: 20_000,
        threads: 2,
      }),
      (e: unknown) => {
        assert.ok(e instanceof MembenchError, String(e));
        assert.equal(e.code, "connection");
        assert.match(e.message, new RegExp(`primary ${victim.address}: connection refused`));
        assert.match(e.message, new RegExp(`${heir.address}: .*refused`));
        return true;
      },
    );
    assert.ok(Date.now() - started < 3000, `refused after ${Date.now() - started} ms`);
  },
);

loadTest(
  "bench cluster with a primary lost and no replica: CLUSTERDOWN counted on the nodes that said it, the run ends on time",
  async () => {
    await using cl = await startLocalCluster({ primaries: 3, nodeTimeoutMs: 500 });
    const topo = await discoverCluster([parseTarget(cl.address)]);
    const victim = topo.nodes[2]!;
    const started = Date.now();
    const run = bench({
      target: cl.address,
      cluster: true,
      tests: ["get"],
      // Requests for the dead node's slots wait for a failover that never comes (about 5.6 s of
      // retries) and then fail; the clients go on and meet CLUSTERDOWN.
      durationMs: 8000,
      clients: 3,
      pipeline: 2,
      keyspace: 10_000,
    });
    await new Promise((r) => setTimeout(r, 300));
    Deno.kill(cl.nodes.find((n) => n.address === victim.address)!.pid, "SIGKILL");
    const r = await run;
    const took = Date.now() - started;
    assert.ok(took < 12_000, `the run took ${took} ms`);
    const t = r.tests[0]!;
    accounted(r);
    assert.ok(t.cluster!.redirects.clusterdown > 0, JSON.stringify(t.cluster));
    // Only the surviving nodes can have said CLUSTERDOWN.
    const dead = t.nodes!.find((n) => n.address === victim.address)!;
    assert.equal(dead.redirects.clusterdown, 0);
    assert.ok(t.errors > 0);
    const errors = t.commands[0]!.errors;
    assert.ok((errors["unavailable"] ?? 0) > 0, JSON.stringify(errors));
  },
);

loadTest(
  "bench cluster follows ASK during a slot migration: ASKING then the request on the importing node, counted once",
  async () => {
    await using cl = await startLocalCluster({ primaries: 3 });
    const topo = await discoverCluster([parseTarget(cl.address)]);
    const slot = keySlot("mig");
    const source = topo.nodes[topo.slots[slot]!]!;
    const target = topo.nodes.find((n) => n.role === "primary" && n !== source)!;
    const cli = (n: typeof source, ...args: string[]) =>
      redisCli(["-h", n.host, "-p", String(n.port), ...args]);
    // The slot migrates from source to target; no key of it exists on the source, so the source
    // answers ASK for every one.
    assert.ok(
      (await cli(target, "CLUSTER", "SETSLOT", String(slot), "IMPORTING", source.id)).success,
    );
    assert.ok(
      (await cli(source, "CLUSTER", "SETSLOT", String(slot), "MIGRATING", target.id)).success,
    );
    const before = await Promise.all([source, target].map((n) => commandStats(n.address)));
    const N = 2000;
    const r = await bench({
      target: cl.address,
      cluster: true,
      tests: ["set"],
      requests: N,
      clients: 2,
      pipeline: 3,
      keyspace: 500,
      keyPrefix: "{mig}:",
    });
    const t = r.tests[0]!;
    accounted(r);
    assert.equal(t.errors, 0, JSON.stringify(t.commands[0]!.errors));
    const [src, dst] = [source, target].map((n) => t.nodes!.find((x) => x.address === n.address)!);
    assert.equal(src!.redirects.ask, N);
    assert.equal(src!.redirects.moved, 0);
    assert.equal(dst!.requests, N);
    assert.equal(src!.requests, 0);
    const [ds, dt] = await Promise.all(
      [source, target].map(async (n, i) =>
        statsDelta(before[i]!, await commandStats(n.address), ["info", "hello", "client|setname"])
      ),
    );
    // The importing node executed every SET once, each after an ASKING; the source none.
    assert.equal(dt!["set"], N);
    assert.equal(dt!["asking"], N);
    assert.equal(ds!["set"] ?? 0, 0);
  },
);
