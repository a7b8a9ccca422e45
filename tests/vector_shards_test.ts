// Sharded vector phases (issue 24) against the real RediSearch 2.6 module on free loopback
// ports: vec-load shards write each row of ngt-sift5k exactly once (FT.INFO num_docs, DBSIZE,
// INFO commandstats), vec-query shards send exactly the queries one run sends (commandstats, and
// the very query vectors as `redis-cli monitor` saw them), the merged recall equals one run's
// on the same index and EF_RUNTIME, the merged latency percentiles equal hdr-histogram-js's over
// every shard's histogram, and a missing or failed shard is named.
import assert from "node:assert/strict";
import * as hdr from "hdr-histogram-js";
import {
  ftInfo,
  MembenchError,
  mergeVectorLoadResults,
  mergeVectorQueryResults,
  parseTarget,
  RespConnection,
  startLocalServer,
  vectorLoad,
  type VectorLoadOptions,
  type VectorLoadResult,
  vectorQuery,
  type VectorQueryOptions,
  type VectorQueryResult,
  type VectorRunResult,
} from "../mod.ts";
import {
  commandStats,
  loadTest,
  monitor,
  redisText,
  runCli,
  statsDelta,
  until,
} from "./helpers.ts";

const SIFT = new URL("../../shared/data/ngt-sift5k/", import.meta.url).pathname;
const MODULE = new URL("../../shared/servers/redisearch-2.6/redisearch.so", import.meta.url)
  .pathname;
const BASE = SIFT + "sift5k_base.fvecs";
const ROWS = 4900; // sift5k_base.fvecs
const HNSW = { algorithm: "HNSW" as const, m: 8, efConstruction: 40 };

function searchServer() {
  return startLocalServer("redis", { modules: [{ path: MODULE }] });
}

/** Runs `fn` with a signal that aborts after `ms`: every load and query loop is bounded. */
async function bounded<T>(ms: number, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  const t = setTimeout(() => ac.abort(), ms);
  try {
    return await fn(ac.signal);
  } finally {
    clearTimeout(t);
  }
}

function load(o: VectorLoadOptions): Promise<VectorLoadResult> {
  return bounded(90_000, (signal) => vectorLoad({ clients: 2, signal, ...o }));
}

function query(o: VectorQueryOptions): Promise<VectorQueryResult> {
  return bounded(60_000, (signal) => vectorQuery({ clients: 4, truthThreads: 0, signal, ...o }));
}

async function ftInfoOf(address: string) {
  const c = await RespConnection.open(parseTarget(address));
  try {
    return await ftInfo(c, "membench_idx");
  } finally {
    c.close();
  }
}

// The percentiles of one histogram holding every shard's samples, by hdr-histogram-js itself.
function hdrOverAll(encoded: string[]) {
  const all = hdr.build({ bitBucketSize: 32, numberOfSignificantValueDigits: 3 });
  for (const e of encoded) {
    const h = hdr.decodeFromCompressedBase64(e, 32, false);
    all.add(h);
    h.destroy();
  }
  const out = {
    count: all.totalCount,
    p50: all.getValueAtPercentile(50),
    p90: all.getValueAtPercentile(90),
    p99: all.getValueAtPercentile(99),
    p999: all.getValueAtPercentile(99.9),
    max: all.maxValue,
  };
  all.destroy();
  return out;
}

// The run's FT.SEARCH KNN queries the server executed (MONITOR; not the KNN 1 dimension probe),
// as the sorted strings of their query vectors.
function knnBlobs(seen: { args: string[] }[]): string[] {
  return seen.filter((m) =>
    m.args[0]?.toUpperCase() === "FT.SEARCH" &&
    /KNN 10 @vec \$BLOB EF_RUNTIME 10/.test(m.args[2] ?? "")
  )
    .map((m) => m.args[m.args.indexOf("BLOB") + 1]!).sort();
}

loadTest(
  "vectorLoad({shard}): 2 shards insert each row of ngt-sift5k once; only shard 0 creates the index; the merge adds up",
  async () => {
    await using s = await searchServer();
    const before = await commandStats(s.address);
    const o = { target: s.address, dataset: BASE, index: HNSW, dropBefore: true };
    // Shard 1 starts first: it waits for shard 0's index before writing.
    const p1 = load({ ...o, shard: "1/2" });
    await new Promise((r) => setTimeout(r, 300));
    const p0 = load({ ...o, shard: { index: 0, count: 2 } });
    const [r0, r1] = await Promise.all([p0, p1]);
    for (const r of [r0, r1]) assert.equal(r.failure, undefined, r.failure?.message);
    assert.deepEqual([r0.requested, r1.requested], [ROWS / 2, ROWS / 2]);
    assert.deepEqual(r0.segments, [{ keyStart: 0, vectorStart: 0, count: ROWS / 2 }]);
    assert.deepEqual(r1.segments, [{ keyStart: ROWS / 2, vectorStart: ROWS / 2, count: ROWS / 2 }]);
    assert.ok(r0.ftCreate !== undefined && r1.ftCreate === undefined);
    // Every shard waited until the index held the whole run's rows.
    assert.deepEqual([r0.numDocs, r1.numDocs], [ROWS, ROWS]);

    // The server's own account: one FT.CREATE, one HSET per row, each key once.
    const d = statsDelta(before, await commandStats(s.address), [
      "info",
      "client|setname",
      "module|list",
      "ft.info",
      "ft.dropindex",
    ]);
    // Shard 1 checked the index shard 0 made (a KNN probe; when it found the index still empty,
    // one probe hash written and deleted): every other HSET is a row.
    const probes = d.del ?? 0;
    assert.ok(probes <= 1, `${probes} probe hashes`);
    assert.deepEqual(d, {
      "ft.create": 1,
      "ft.search": 1,
      hset: ROWS + probes,
      ...(probes ? { del: probes } : {}),
    });
    assert.equal(await redisText(s.address, ["DBSIZE"]), String(ROWS));
    assert.equal(
      await redisText(s.address, ["EXISTS", "vec:0", "vec:2449", "vec:2450", "vec:4899"]),
      "4",
    );
    assert.equal(await redisText(s.address, ["EXISTS", "vec:4900"]), "0");
    assert.equal((await ftInfoOf(s.address))?.["num_docs"], String(ROWS));

    const m = mergeVectorLoadResults([r1, r0]);
    assert.deepEqual([m.requested, m.sent, m.ok, m.numDocs], [ROWS, ROWS, ROWS, ROWS]);
    assert.deepEqual(m.segments, [{ keyStart: 0, vectorStart: 0, count: ROWS }]);
    assert.deepEqual(m.ftCreate, r0.ftCreate);
    assert.equal(m.latency.count, ROWS);
    assert.deepEqual(m.shards?.merged, [0, 1]);
    // vectors/s over the merged wall-clock window, which holds both shards' windows.
    assert.ok(m.loadMs >= Math.max(r0.loadMs, r1.loadMs) - 5, `${m.loadMs} vs ${r0.loadMs}`);
    assert.ok(m.vectorsPerSec > 0 && m.vectorsPerSec <= r0.vectorsPerSec + r1.vectorsPerSec + 1);
    assert.throws(
      () => mergeVectorLoadResults([r0]),
      (e) => e instanceof MembenchError && e.code === "file" && /missing shard 1/.test(e.message),
    );
  },
);

loadTest(
  "vectorQuery({shard}): 2 shards send exactly one run's queries; merged recall and latency are exact",
  async () => {
    await using s = await searchServer();
    const l = await load({ target: s.address, dataset: BASE, index: HNSW });
    assert.equal(l.failure, undefined);
    assert.equal(l.numDocs, ROWS);
    // EF_RUNTIME 10 on a sparse graph: recall below 1 and varying between queries.
    const o: VectorQueryOptions = {
      target: s.address,
      dataset: BASE,
      index: HNSW,
      k: 10,
      efRuntime: 10,
      requests: 301,
      seed: 7,
      clients: 5,
    };
    // Recall is deterministic for a fixed index and query set: two single runs agree.
    const w1 = await monitor(s.address);
    const single = await query(o);
    const singleBlobs = knnBlobs(await w1.stop());
    const again = await query(o);
    assert.equal(single.failure, undefined);
    // (The mean's last bit depends on the order replies arrive in: sums of floats.)
    assert.ok(Math.abs(again.recall.mean - single.recall.mean) < 1e-12);
    assert.deepEqual({ ...again.recall, mean: 0 }, { ...single.recall, mean: 0 });
    assert.ok(single.recall.mean > 0.3 && single.recall.mean < 0.99, `${single.recall.mean}`);
    assert.ok(single.recall.min < single.recall.max);

    const before = await commandStats(s.address);
    const w2 = await monitor(s.address);
    const shards = await Promise.all([
      query({ ...o, shard: "0/2" }),
      query({ ...o, shard: "1/2" }),
    ]);
    const shardBlobs = knnBlobs(await w2.stop());
    const d = statsDelta(before, await commandStats(s.address), [
      "info",
      "client|setname",
      "module|list",
      "ft.info",
      "monitor",
      "echo",
    ]);
    // Each shard sent its clients' part (clients 0..2 and 3..4 of 5: 61+60+60 and 60+60), plus
    // the one dimension probe every vec-query sends before its queries.
    assert.deepEqual(shards.map((r) => r.sent), [181, 120]);
    assert.deepEqual(shards.map((r) => r.shard?.clients), [
      { start: 0, count: 3 },
      { start: 3, count: 2 },
    ]);
    assert.deepEqual(d, { "ft.search": 301 + 2 });
    // The very query vectors the server executed: the shards' together are one run's.
    assert.equal(shardBlobs.length, 301);
    assert.deepEqual(shardBlobs, singleBlobs);

    const m = mergeVectorQueryResults(shards);
    assert.deepEqual([m.sent, m.completed, m.partial, m.timeouts], [301, 301, 0, 0]);
    assert.deepEqual(m.errors, {});
    // Recall: the mean over every scored query, and the same bins, percentiles and histogram.
    assert.equal(m.recall.scored, single.recall.scored);
    assert.ok(
      Math.abs(m.recall.mean - single.recall.mean) < 1e-12,
      `${m.recall.mean} vs ${single.recall.mean}`,
    );
    for (const k of ["min", "p5", "p50", "p95", "max", "ties"] as const) {
      assert.equal(m.recall[k], single.recall[k], k);
    }
    assert.deepEqual(m.recall.histogram, single.recall.histogram);
    // Not the average of the shards' means: they differ, and 181 vs 120 queries weigh them.
    const naive = (shards[0]!.recall.mean + shards[1]!.recall.mean) / 2;
    assert.notEqual(shards[0]!.recall.mean, shards[1]!.recall.mean);
    assert.ok(Math.abs(m.recall.mean - naive) > 1e-9, `merged ${m.recall.mean} naive ${naive}`);
    // Latency: the percentiles hdr-histogram-js gives over every shard's samples.
    const ref = hdrOverAll(shards.map((r) => r.latency.service));
    assert.equal(ref.count, 301);
    assert.deepEqual(
      [m.summary.count, m.summary.p50Us, m.summary.p90Us, m.summary.p99Us, m.summary.p999Us],
      [ref.count, ref.p50, ref.p90, ref.p99, ref.p999],
    );
    // The max: the largest shard's, and hdr-histogram-js's within its precision (it reports the
    // top bucket's value one lower than a decoded histogram's highest equivalent value).
    assert.equal(m.summary.maxUs, Math.max(...shards.map((r) => r.summary.maxUs)));
    assert.ok(
      Math.abs(m.summary.maxUs - ref.max) <= ref.max / 1000,
      `${m.summary.maxUs} ${ref.max}`,
    );
    // QPS over the merged window (first send of any shard to the last reply of any).
    const starts = shards.map((r) => r.shard!.firstSendMs);
    const ends = shards.map((r) => r.shard!.lastReplyMs);
    assert.ok(
      Math.abs(m.durationMs - (Math.max(...ends) - Math.min(...starts))) < 1e-6,
    );
    assert.ok(Math.abs(m.qps - 301 / (m.durationMs / 1000)) < 1e-6);

    // Open loop: the rate is dealt too (each client keeps its rate), and adds back up.
    const open = await Promise.all(
      [0, 1].map((i) => query({ ...o, requests: 60, ratePerSec: 300, shard: `${i}/2` })),
    );
    const mo = mergeVectorQueryResults(open);
    assert.deepEqual(open.map((r) => r.ratePerSec), [180, 120]);
    assert.equal(mo.ratePerSec, 300);
    assert.equal(mo.sent, 60);
    assert.equal(mo.summary.count, 60);
  },
);

loadTest(
  "vector shards: a missing, failed or interrupted shard is named; bad shard options are clear errors",
  async () => {
    await using s = await searchServer();
    const l = await load({ target: s.address, dataset: BASE, index: { algorithm: "FLAT" } });
    assert.equal(l.failure, undefined);
    const o: VectorQueryOptions = {
      target: s.address,
      dataset: BASE,
      index: { algorithm: "FLAT" },
      requests: 40,
      clients: 2,
      ratePerSec: 40,
    };
    const ok = await query({ ...o, shard: "0/2" });
    // Shard 1 is stopped by its signal while it sends (open loop, 20/s for its 20 queries): a
    // real interrupted result.
    const ac = new AbortController();
    const cutP = vectorQuery({
      ...o,
      truthThreads: 0,
      shard: "1/2",
      signal: ac.signal,
      onProgress: (p) => {
        if (p.done > 0) ac.abort();
      },
    });
    const stop = setTimeout(() => ac.abort(), 5000);
    const cut = await cutP;
    clearTimeout(stop);
    assert.equal(cut.interrupted, true);
    assert.ok(cut.sent < 20, `${cut.sent} sent`);
    assert.throws(
      () => mergeVectorQueryResults([ok, cut]),
      (e) =>
        e instanceof MembenchError && e.code === "interrupted" &&
        /shard 1 failed \(interrupted\)/.test(e.message),
    );
    const partial = mergeVectorQueryResults([ok, cut], { allowIncomplete: true });
    assert.deepEqual(partial.shards?.failed.map((f) => f.index), [1]);
    assert.throws(
      () => mergeVectorQueryResults([ok]),
      (e) => e instanceof MembenchError && e.code === "file" && /missing shard 1/.test(e.message),
    );
    assert.throws(
      () => mergeVectorQueryResults([ok, ok]),
      /shard 0\/2 is given twice/,
    );
    const other = await query({ ...o, k: 5, shard: "1/2" });
    assert.throws(() => mergeVectorQueryResults([ok, other]), /settings differ.*k: 10 vs 5/);
    // Unsharded results cannot be merged.
    const plain = await query(o);
    assert.throws(() => mergeVectorQueryResults([plain]), /not a shard/);

    await assert.rejects(
      vectorQuery({ ...o, shard: "2/2" }),
      (e) =>
        e instanceof MembenchError && e.code === "invalid_argument" && /0\.\.1/.test(e.message),
    );
    await assert.rejects(
      vectorQuery({ ...o, clients: 1, shard: "0/2" }),
      /2 shards need at least 2 clients/,
    );
    await assert.rejects(vectorLoad({ ...o, shard: "x" }), /expected I\/N/);
  },
);

loadTest(
  "membench vec run --shard I/N (and JOB_COMPLETION_INDEX) as 2 processes, then membench merge: one run's load and queries, exactly",
  async () => {
    await using s = await searchServer();
    const dir = await Deno.makeTempDir();
    try {
      const [host, port] = [s.address.split(":")[0]!, s.address.split(":")[1]!];
      const args = (json: string) => [
        "vec",
        "run",
        "-h",
        host,
        "-p",
        port,
        "--dataset",
        BASE,
        "--search-algorithm",
        "FLAT",
        "--drop-before",
        "-c",
        "3",
        "-n",
        "150",
        "--recall-threshold",
        "0.99",
        "--json",
        json,
        "--no-progress",
      ];
      const before = await commandStats(s.address);
      const [a, b] = await Promise.all([
        runCli([...args(`${dir}/s0.json`), "--shard", "0/2"]),
        // Shard 1 from an Indexed Job's environment.
        runCli(args(`${dir}/s1.json`), { JOB_COMPLETION_INDEX: "1", MEMBENCH_SHARDS: "2" }),
      ]);
      assert.equal(a.code, 0, a.stderr);
      assert.equal(b.code, 0, b.stderr);
      const d = statsDelta(before, await commandStats(s.address), [
        "info",
        "client|setname",
        "module|list",
        "ft.info",
        "ft.dropindex",
        "command",
        "command|docs",
      ]);
      // One FT.CREATE (shard 0), every row once, the run's 150 queries plus the dimension probes:
      // one per query phase, and shard 1's check of the index shard 0 made (with a probe hash,
      // written and deleted, when it found the index still empty).
      const probes = d.del ?? 0;
      assert.ok(probes <= 1, `${probes} probe hashes`);
      assert.deepEqual(d, {
        "ft.create": 1,
        hset: ROWS + probes,
        "ft.search": 150 + 3,
        ...(probes ? { del: probes } : {}),
      });
      assert.equal(await redisText(s.address, ["DBSIZE"]), String(ROWS));
      const s1 = JSON.parse(await Deno.readTextFile(`${dir}/s1.json`)) as VectorRunResult;
      assert.deepEqual([s1.load?.shard?.index, s1.queries[0]?.shard?.index], [1, 1]);

      const merged = await runCli(["merge", `${dir}/s0.json`, `${dir}/s1.json`, "--json", "-"]);
      assert.equal(merged.code, 0, merged.stderr);
      assert.match(merged.stderr, /2 of 2 vector shards merged/);
      const r = JSON.parse(merged.stdout) as VectorRunResult;
      assert.equal(r.kind, "vector-run");
      assert.deepEqual([r.load?.requested, r.load?.ok, r.load?.numDocs], [ROWS, ROWS, ROWS]);
      const q = r.queries[0]!;
      // FLAT is exact: every scored query has recall 1, over the whole run's rows.
      assert.deepEqual([q.sent, q.completed, q.recall.scored, q.recall.mean], [150, 150, 150, 1]);
      assert.equal(r.pass, true);

      // One shard alone: the merge fails naming the missing one (exit 5).
      const lone = await runCli(["merge", `${dir}/s0.json`]);
      assert.equal(lone.code, 5, lone.stderr);
      assert.match(lone.stderr, /missing shard 1/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

loadTest(
  "vec run --shard 0/N --cleanup: shard 0 drops the index only after the other shards' queries are done",
  async () => {
    await using s = await searchServer();
    const l = await load({ target: s.address, dataset: BASE, index: { algorithm: "FLAT" } });
    assert.equal(l.failure, undefined);
    const [host, port] = [s.address.split(":")[0]!, s.address.split(":")[1]!];
    const common = [
      "-h",
      host,
      "-p",
      port,
      "--dataset",
      BASE,
      "--search-algorithm",
      "FLAT",
      "-c",
      "2",
      "--json",
      "-",
      "--no-progress",
    ];
    // Shard 1 queries for about 2 s (30 queries at 15/s); shard 0 has 1 query and --cleanup.
    const slow = runCli(["vec", "query", ...common, "--shard", "1/2", "-n", "60", "--rate", "30"]);
    await until(
      "shard 1 connected",
      async () => /name=membench-vector /.test(await redisText(s.address, ["CLIENT", "LIST"])),
      20_000,
    );
    const t0 = Date.now();
    const fast = await runCli([
      "vec",
      "run",
      "--skip-load",
      ...common,
      "--shard",
      "0/2",
      "-n",
      "2",
      "--cleanup",
    ]);
    const s1 = await slow;
    assert.equal(s1.code, 0, s1.stderr);
    assert.equal(fast.code, 0, fast.stderr);
    const q1 = (JSON.parse(s1.stdout) as VectorRunResult).queries[0]!;
    // Every query of shard 1 found the index: none failed.
    assert.deepEqual([q1.completed, q1.errors, q1.recall.scored], [30, {}, 30]);
    const r0 = JSON.parse(fast.stdout) as VectorRunResult;
    assert.equal(r0.cleanedUp, true);
    assert.ok(Date.now() - t0 >= 500, "shard 0 waited for shard 1");
    // The index and its hashes are gone (FT.DROPINDEX … DD).
    assert.equal(await ftInfoOf(s.address), undefined);
    assert.equal(await redisText(s.address, ["DBSIZE"]), "0");
  },
);

loadTest(
  "a scenario as 2 shards (as 2 pods): vector load and query phases run their part; merge gives one run's",
  async () => {
    await using srv = await searchServer();
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeTextFile(
        `${dir}/vss.ts`,
        `import { scenario } from "membench";
await scenario("vss-sharded", { history: false }, async (run) => {
  await run.vectorLoad({ name: "load", dataset: ${
          JSON.stringify(BASE)
        }, index: { algorithm: "FLAT" }, clients: 2 });
  await run.vectorQuery({ name: "query", dataset: ${
          JSON.stringify(BASE)
        }, k: 10, clients: 4, requests: 120 });
});
`,
      );
      const before = await commandStats(srv.address);
      const runs = await Promise.all([0, 1].map((i) =>
        runCli(["run", `${dir}/vss.ts`], {
          MEMBENCH_TARGET: srv.address,
          MEMBENCH_SEED: "4",
          JOB_COMPLETION_INDEX: String(i),
          MEMBENCH_SHARDS: "2",
          MEMBENCH_OUT_DIR: `${dir}/out${i}`,
        })
      ));
      for (const r of runs) assert.equal(r.code, 0, r.stdout + r.stderr);
      const delta = statsDelta(before, await commandStats(srv.address));
      assert.equal(delta["ft.create"], 1, JSON.stringify(delta));
      // Each row written once (and at most a probe hash per shard that found the index empty).
      assert.ok(delta.hset! >= ROWS && delta.hset! <= ROWS + 2, JSON.stringify(delta));
      assert.equal(await redisText(srv.address, ["DBSIZE"]), String(ROWS));
      const load = await runCli([
        "merge",
        ...[0, 1].map((i) => `${dir}/out${i}/load.shard-${i}-of-2.json`),
        "--json",
        "-",
      ]);
      assert.equal(load.code, 0, load.stderr);
      // merge prints vector results as `vec run` does: the load inside.
      assert.equal(JSON.parse(load.stdout).load.ok, ROWS);
      const query = await runCli([
        "merge",
        ...[0, 1].map((i) => `${dir}/out${i}/query.shard-${i}-of-2.json`),
        "--json",
        "-",
      ]);
      assert.equal(query.code, 0, query.stderr);
      const q = JSON.parse(query.stdout).queries[0];
      assert.deepEqual([q.sent, q.completed, q.recall.scored], [120, 120, 120]);
      // FLAT is exact: every query finds its true neighbours.
      assert.equal(q.recall.mean, 1);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
