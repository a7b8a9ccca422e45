// Run shards (issue 24): N processes that together do exactly what one run does, and an exact
// merge. Checked against the server's own counters (INFO commandstats), its own account of the
// keys it was sent (MONITOR), and HdrHistogram's own arithmetic over every shard's histograms.
import assert from "node:assert/strict";
import * as hdr from "hdr-histogram-js";
import { type BenchResult, startLocalServer } from "../mod.ts";
import { commandStats, loadTest, monitor, runCli, startCli, statsDelta } from "./helpers.ts";

const REQUESTS = 4003; // not a multiple of the clients: the deal of requests must still be exact
const CLIENTS = 8;

// The SET commands a server executed, as sorted "key size" lines (the keys and value sizes).
function sets(seen: Array<{ args: string[] }>): string[] {
  return seen.filter((m) => m.args[0]?.toLowerCase() === "set").map((m) =>
    `${m.args[1]} ${m.args[2]!.length}`
  ).sort();
}

// The percentiles of one histogram holding every shard's samples, by hdr-histogram-js itself.
function allSamples(parts: string[]): { p50: number; p99: number; max: number; count: number } {
  const all = hdr.build({ bitBucketSize: 32, numberOfSignificantValueDigits: 3 });
  for (const p of parts) {
    const h = hdr.decodeFromCompressedBase64(p, 32, false);
    all.add(h);
    h.destroy();
  }
  const r = {
    p50: all.getValueAtPercentile(50),
    p99: all.getValueAtPercentile(99),
    max: all.maxValue,
    count: all.totalCount,
  };
  all.destroy();
  return r;
}

loadTest(
  "4 shards by hand: the server's counters and keys equal one run's; merge is exact; a missing or failed shard fails the merge by name",
  async () => {
    await using srv = await startLocalServer("redis");
    const port = srv.address.split(":").pop()!;
    const common = [
      "bench",
      "-p",
      port,
      "-c",
      String(CLIENTS),
      "-n",
      String(REQUESTS),
      "-t",
      "set,get",
      "-r",
      "100000",
      "--data-size-range",
      "8-200",
      "--seed",
      "11",
    ];

    // One run: the reference for what the shards together must do.
    let mon = await monitor(srv.address);
    const one = await runCli([...common, "-q"]);
    assert.equal(one.code, 0, one.stderr);
    const oneSets = sets(await mon.stop());
    assert.equal(oneSets.length, REQUESTS);

    // Four shards, started by hand as four processes (as four pods would be).
    const dir = await Deno.makeTempDir();
    try {
      const before = await commandStats(srv.address);
      mon = await monitor(srv.address);
      const startAt = new Date(Date.now() + 4000).toISOString();
      const runs = await Promise.all([0, 1, 2, 3].map((i) =>
        runCli([
          ...common,
          "--shard",
          `${i}/4`,
          "--start-at",
          startAt,
          "--json",
          `${dir}/s${i}.json`,
          "-q",
        ])
      ));
      for (const r of runs) assert.equal(r.code, 0, r.stderr);
      const shardSets = sets(await mon.stop());
      const delta = statsDelta(before, await commandStats(srv.address), [
        "info",
        "hello",
        "client|setname",
        "time",
        "echo",
        "monitor",
      ]);
      // The server executed exactly the requested totals...
      assert.deepEqual(delta, { set: REQUESTS, get: REQUESTS });
      // ...and exactly the keys and value sizes of the one run.
      assert.deepEqual(shardSets, oneSets);

      const shards: BenchResult[] = await Promise.all(
        [0, 1, 2, 3].map(async (i) => JSON.parse(await Deno.readTextFile(`${dir}/s${i}.json`))),
      );
      // Each shard had its own clients and a part of the requests; they began together.
      assert.deepEqual(shards.map((s) => s.config.shard!.clients), [2, 2, 2, 2]);
      assert.equal(shards.reduce((a, s) => a + s.config.shard!.requests!, 0), REQUESTS);
      const starts = shards.map((s) => s.tests[0]!.measureStartMs!);
      assert.ok(Math.max(...starts) - Math.min(...starts) < 250, `starts ${starts}`);
      assert.ok(Math.abs(Math.min(...starts) - Date.parse(startAt)) < 250, `start ${starts}`);
      assert.ok(shards.every((s) => s.clock !== undefined && Math.abs(s.clock.offsetMs) < 50));

      const merged = await runCli(
        ["merge", ...[0, 1, 2, 3].map((i) => `${dir}/s${i}.json`), "--json", `${dir}/m.json`],
      );
      assert.equal(merged.code, 0, merged.stderr);
      assert.match(merged.stderr, /4 of 4 shards merged/);
      const m: BenchResult = JSON.parse(await Deno.readTextFile(`${dir}/m.json`));
      assert.equal(m.config.shard, undefined);
      assert.equal(m.shards?.count, 4);
      for (const [ti, name] of ["set", "get"].entries()) {
        const t = m.tests[ti]!;
        assert.equal(t.name, name);
        assert.equal(t.requests, REQUESTS);
        const ref = allSamples(shards.map((s) => s.tests[ti]!.histograms[0]!.service));
        const got = t.commands[0]!.serviceTime;
        assert.equal(ref.count, REQUESTS);
        assert.deepEqual(
          { p50: got.p50Us, p99: got.p99Us, count: got.count },
          { p50: ref.p50, p99: ref.p99, count: ref.count },
          `${name}: merged percentiles against one histogram of every sample`,
        );
        // The largest: the largest any shard saw (each read from its live histogram), to the
        // histogram's precision (a decoded histogram knows its top bucket, not the value in it).
        const shardMax = Math.max(
          ...shards.map((s) => s.tests[ti]!.commands[0]!.serviceTime.maxUs),
        );
        assert.ok(
          Math.abs(got.maxUs - shardMax) <= shardMax / 1000 &&
            Math.abs(ref.max - shardMax) <= shardMax / 1000,
          `${name}: max ${got.maxUs} (HDR of all ${ref.max}) against the shards' ${shardMax}`,
        );
        // The series cover the merged second by second, and add up to the requests.
        assert.equal(t.series.reduce((a, s) => a + s.ops, 0), REQUESTS);
      }
      assert.equal(m.tests[1]!.commands[0]!.hits! + m.tests[1]!.commands[0]!.misses!, REQUESTS);

      // Thresholds on the merged result, with the exit code one run would give.
      const files = [0, 1, 2, 3].map((i) => `${dir}/s${i}.json`);
      const passing = await runCli([
        "merge",
        ...files,
        "-q",
        "--threshold",
        `get.count == ${REQUESTS}`,
      ]);
      assert.equal(passing.code, 0, passing.stderr);
      const judged = await runCli(["merge", ...files, "-q", "--threshold", "get.count < 10"]);
      assert.equal(judged.code, 4, judged.stderr);
      assert.match(judged.stderr, /get\.count < 10.*4,?003/);

      // A shard missing: the merge names it and fails (exit 5), unless allowed.
      const three = [0, 1, 3].map((i) => `${dir}/s${i}.json`);
      const missing = await runCli(["merge", "--shards", "4", ...three]);
      assert.equal(missing.code, 5, missing.stderr);
      assert.match(missing.stderr, /missing shard 2/);
      const allowed = await runCli(["merge", "--allow-incomplete", "-q", ...three]);
      assert.equal(allowed.code, 0, allowed.stderr);
      assert.match(allowed.stderr, /3 of 4 shards merged; MISSING 2/);

      // Results of another run (another seed) are not shards of this one.
      const other = await runCli([
        ...common.map((a) => a === "11" ? "12" : a),
        "--shard",
        "2/4",
        "--json",
        `${dir}/other.json`,
        "-q",
      ]);
      assert.equal(other.code, 0, other.stderr);
      const mixed = await runCli([
        "merge",
        ...[0, 1, 3].map((i) => `${dir}/s${i}.json`),
        `${dir}/other.json`,
      ]);
      assert.equal(mixed.code, 2, mixed.stderr);
      assert.match(mixed.stderr, /shard 2\/4: its settings differ .*seed: 11 vs 12/);

      // A shard whose server went away mid-run: the merge fails naming it, exit 3 as one run
      // would. Shard 0 of an open-loop run completes; shard 1 loses its server after 1 s.
      await using gone = await startLocalServer("redis");
      const paced = (i: number) => [
        "bench",
        "-p",
        gone.address.split(":").pop()!,
        "-c",
        "4",
        "-n",
        "4000",
        "--rate",
        "2000",
        "-t",
        "set",
        "--seed",
        "5",
        "--shard",
        `${i}/2`,
        "--json",
        `${dir}/p${i}.json`,
        "-q",
      ];
      const ok = await runCli(paced(0));
      assert.equal(ok.code, 0, ok.stderr);
      const failing = startCli(paced(1));
      await new Promise((r) => setTimeout(r, 1000));
      await gone[Symbol.asyncDispose]();
      const f = await failing.done();
      assert.equal(f.code, 3, f.stderr);
      const withFailed = await runCli(["merge", `${dir}/p0.json`, `${dir}/p1.json`]);
      assert.equal(withFailed.code, 3, withFailed.stderr);
      assert.match(withFailed.stderr, /Cannot merge 2 bench shards: shard 1 failed \(connection: /);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

loadTest("bench --shards 2: two processes, merged, the server's counters exact", async () => {
  await using srv = await startLocalServer("redis");
  const before = await commandStats(srv.address);
  const r = await runCli([
    "bench",
    "-p",
    srv.address.split(":").pop()!,
    "-c",
    "6",
    "-n",
    "3001",
    "-t",
    "set,get",
    "-r",
    "1000",
    "--shards",
    "2",
    "--json",
    "-",
    // Judged on the merged result: each shard alone sent about half.
    "--threshold",
    "set.count == 3001",
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /2 of 2 shards merged/);
  const m: BenchResult = JSON.parse(r.stdout);
  assert.deepEqual(m.tests.map((t) => t.requests), [3001, 3001]);
  assert.equal(m.config.clients, 6);
  const delta = statsDelta(before, await commandStats(srv.address), [
    "info",
    "hello",
    "client|setname",
    "time",
  ]);
  assert.deepEqual(delta, { set: 3001, get: 3001 });
});

Deno.test("shard flags: bad values and combinations are named", async () => {
  const bad = await runCli(["bench", "--shard", "4/4", "--seed", "1", "-n", "1"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /shard index must be in 0\.\.3/);
  const noSeed = await runCli(["bench", "--shard", "0/2", "-n", "1"]);
  assert.equal(noSeed.code, 2);
  assert.match(noSeed.stderr, /Cannot use '--shard' without '--seed'/);
  const both = await runCli(["bench", "--shard", "0/2", "--shards", "2", "-n", "1"]);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /'--shards' with '--shard'/);
  const start = await runCli(["bench", "--start-at", "tomorrow", "-n", "1"]);
  assert.equal(start.code, 2);
  assert.match(start.stderr, /ISO 8601/);
  const env = await runCli(["bench", "-n", "1", "-c", "1"], {
    JOB_COMPLETION_INDEX: "1",
    MEMBENCH_SHARDS: "2",
  });
  assert.equal(env.code, 2);
  assert.match(env.stderr, /2 shards need at least 2 clients/);
});

loadTest(
  "a scenario run as 2 shards (as 2 pods): its bench phase sends its part; merge adds them up",
  async () => {
    await using srv = await startLocalServer("redis");
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeTextFile(
        `${dir}/load.ts`,
        `import { scenario } from "membench";
await scenario("sharded", { history: false }, async (run) => {
  await run.bench({ name: "sets", tests: ["set"], clients: 5, requests: 2001, keyspace: 500 });
});
`,
      );
      const before = await commandStats(srv.address);
      const runs = await Promise.all([0, 1].map((i) =>
        runCli(["run", `${dir}/load.ts`], {
          MEMBENCH_TARGET: srv.address,
          MEMBENCH_SEED: "9",
          // As a pod of an Indexed Job sees it.
          JOB_COMPLETION_INDEX: String(i),
          MEMBENCH_SHARDS: "2",
          MEMBENCH_OUT_DIR: `${dir}/out${i}`,
        })
      ));
      for (const r of runs) assert.equal(r.code, 0, r.stdout + r.stderr);
      const delta = statsDelta(before, await commandStats(srv.address), [
        "info",
        "hello",
        "client|setname",
        "time",
        "ping",
        "config|get",
        "dbsize",
        "command",
        "command|docs",
        "memory|usage",
      ]);
      assert.equal(delta.set, 2001, JSON.stringify(delta));
      const files = [0, 1].map((i) => `${dir}/out${i}/sets.shard-${i}-of-2.json`);
      const m = await runCli(["merge", ...files, "--json", "-", "-q"]);
      assert.equal(m.code, 0, m.stderr);
      const merged: BenchResult = JSON.parse(m.stdout);
      assert.equal(merged.tests[0]!.requests, 2001);
      assert.equal(merged.config.clients, 5);

      // Without a seed the shards would draw different keys: refused before any load.
      const noSeed = await runCli(["run", `${dir}/load.ts`], {
        MEMBENCH_TARGET: srv.address,
        MEMBENCH_SHARD: "0/2",
        MEMBENCH_OUT_DIR: `${dir}/out9`,
      });
      assert.equal(noSeed.code, 2, noSeed.stdout + noSeed.stderr);
      assert.match(noSeed.stdout + noSeed.stderr, /shard 0\/2 without a seed/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
