// Vector search against the real RediSearch 2.6.37 module (../shared/servers/redisearch-2.6),
// loaded into Debian's redis-server on free loopback ports: FT.CREATE from the builder, vec-load
// and vec-query over the connection engine, recall against exact ground truth (the shipped numpy
// truth of ngt-sift5k, numpy for generated IP/COSINE data, the server's own match counts for
// filters), counts against INFO commandstats and FT.INFO, and every bad input a clear error.
import assert from "node:assert/strict";
import {
  ftInfo,
  generateDataset,
  MembenchError,
  openDataset,
  parseTarget,
  RespConnection,
  startLocalServer,
  vectorDelete,
  vectorLoad,
  type VectorLoadOptions,
  vectorQuery,
  type VectorQueryOptions,
  vectorTruth,
  vectorUpdate,
} from "../mod.ts";
import { commandStats, loadTest, python, redisText, statsDelta } from "./helpers.ts";

const SIFT = new URL("../../shared/data/ngt-sift5k/", import.meta.url).pathname;
const MODULE = new URL("../../shared/servers/redisearch-2.6/redisearch.so", import.meta.url)
  .pathname;
const BASE = SIFT + "sift5k_base.fvecs";

/** A redis-server with the search module, for one test. */
function searchServer(args: string[] = []) {
  return startLocalServer("redis", { modules: [{ path: MODULE, args }] });
}

/** Runs `fn` with a signal that aborts after `ms`: every load and query loop is bounded in time. */
async function bounded<T>(ms: number, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  const t = setTimeout(() => ac.abort(), ms);
  try {
    return await fn(ac.signal);
  } finally {
    clearTimeout(t);
  }
}

function load(o: VectorLoadOptions) {
  return bounded(60_000, (signal) => vectorLoad({ clients: 4, signal, ...o }));
}

function query(o: VectorQueryOptions) {
  return bounded(60_000, (signal) => vectorQuery({ clients: 2, truthThreads: 0, signal, ...o }));
}

/** Runs `fn` on a control connection to `address`. */
async function withConn<T>(address: string, fn: (c: RespConnection) => Promise<T>): Promise<T> {
  const c = await RespConnection.open(parseTarget(address));
  try {
    return await fn(c);
  } finally {
    c.close();
  }
}

async function rejects(
  p: Promise<unknown>,
  re: RegExp,
  code = "invalid_argument",
): Promise<MembenchError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof MembenchError, `not a MembenchError: ${e}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, re);
    return e;
  }
  assert.fail(`expected an error matching ${re}`);
}

Deno.test("startLocalServer() loads a module with its arguments; a missing module file is named", async () => {
  await using s = await searchServer(["MAXDOCTABLESIZE", "2000000"]);
  const c = await RespConnection.open(parseTarget(s.address));
  try {
    const r = await c.command(["MODULE", "LIST"]);
    const text = JSON.stringify(
      r,
      (_k, v) => v instanceof Uint8Array ? new TextDecoder().decode(v) : v,
    );
    assert.match(text, /"search"/);
    assert.match(text, /MAXDOCTABLESIZE/);
  } finally {
    c.close();
  }
  await rejects(
    startLocalServer("redis", { modules: [{ path: "/nonexistent/redisearch.so" }] }),
    /Cannot load module \/nonexistent\/redisearch\.so: no such file/,
  );
  await rejects(
    startLocalServer("memcached", { modules: [{ path: MODULE }] }),
    /only redis-server takes modules/,
  );
});

Deno.test("vectorLoad() + vectorQuery(): a FLAT L2 index on ngt-sift5k is exact (recall 1.0, truth = numpy's); counts reconcile with the server", async () => {
  await using s = await searchServer();
  // Our truth for the full load is the shipped numpy truth.
  using ds = await openDataset(BASE);
  const truth = await vectorTruth(ds, { k: 10, threads: 0 });
  const shipped = await ds.neighbors!.readInts(0, 100);
  for (let q = 0; q < 100; q++) {
    assert.deepEqual(
      [...truth.ids.subarray(q * truth.depth, q * truth.depth + 10)],
      [...shipped.subarray(q * 100, q * 100 + 10)],
      `query ${q}`,
    );
  }
  const before = await commandStats(s.address);
  const l = await load({ target: s.address, dataset: BASE, index: { algorithm: "FLAT" } });
  assert.equal(l.failure, undefined);
  assert.equal(l.platform, "redisearch-2.6");
  assert.equal(l.platformDetected, true);
  assert.deepEqual([l.requested, l.sent, l.ok, l.numDocs, l.indexFailures], [
    4900,
    4900,
    4900,
    4900,
    0,
  ]);
  assert.ok(l.memory.growth > 4900 * 512, `memory growth ${l.memory.growth}`);
  assert.ok(l.vectorsPerSec > 1000, `${l.vectorsPerSec} vectors/s`);
  const q = await query({
    target: s.address,
    dataset: BASE,
    k: 10,
    index: { algorithm: "FLAT" },
    requests: 300,
  });
  assert.equal(q.failure, undefined);
  assert.deepEqual([q.sent, q.completed, q.partial, q.timeouts], [300, 300, 0, 0]);
  assert.deepEqual(q.errors, {});
  assert.equal(q.recall.scored, 300);
  assert.deepEqual([q.recall.mean, q.recall.min, q.recall.p5, q.recall.p50], [1, 1, 1, 1]);
  assert.equal(q.recall.histogram[20], 300);
  assert.ok(q.qps > 0 && q.summary.count === 300);
  // The server's own counters: one HSET per vector; one FT.SEARCH per query plus the one
  // dimension probe before the queries.
  const d = statsDelta(before, await commandStats(s.address), [
    "info",
    "client|setname",
    "module|list",
    "ft.info",
    "ft.create",
  ]);
  assert.deepEqual(d, { hset: 4900, "ft.search": 301 });
  const info = await withConn(s.address, (c) => ftInfo(c, "membench_idx"));
  assert.equal(info?.["num_docs"], "4900");
});

// numpy writes random vectors as fvecs (base and queries) and prints its exact top-10.
const NUMPY_GEN = `
import sys, json, numpy as np
out, metric = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(7)
base = (rng.standard_normal((2000, 24)) * rng.uniform(0.5, 2.0, (2000, 1))).astype(np.float32)
q = rng.standard_normal((40, 24)).astype(np.float32)
def fvecs(path, a):
    with open(path, "wb") as f:
        for row in a:
            np.array([a.shape[1]], dtype=np.int32).tofile(f); row.tofile(f)
fvecs(out + "_base.fvecs", base); fvecs(out + "_query.fvecs", q)
b = base.astype(np.float64); qq = q.astype(np.float64)
if metric == "IP":
    d = 1.0 - qq @ b.T
else:
    d = 1.0 - (qq @ b.T) / (np.linalg.norm(qq, axis=1)[:, None] * np.linalg.norm(b, axis=1)[None, :])
ids = np.arange(len(b))
print(json.dumps([[int(x) for x in np.lexsort((ids, d[i]))[:10]] for i in range(len(qq))]))
`;

Deno.test("vectorQuery(): FLAT IP and COSINE indexes are exact on generated data (numpy is the reference)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const metric of ["IP", "COSINE"] as const) {
      await using s = await searchServer();
      const stem = `${dir}/${metric.toLowerCase()}`;
      const want = JSON.parse(await python(NUMPY_GEN, stem, metric)) as number[][];
      using ds = await openDataset(stem + "_base.fvecs", { metric });
      const truth = await vectorTruth(ds, { k: 10, threads: 0 });
      const got = want.map((
        _,
        q,
      ) => [...truth.ids.subarray(q * truth.depth, q * truth.depth + 10)]);
      assert.deepEqual(got, want, `${metric}: membench's truth is numpy's`);
      const l = await load({ target: s.address, dataset: ds, index: { algorithm: "FLAT" } });
      assert.equal(l.metric, metric);
      assert.equal(l.numDocs, 2000);
      const q = await query({
        target: s.address,
        dataset: ds,
        k: 10,
        truth,
        index: { algorithm: "FLAT" },
      });
      assert.equal(q.recall.scored, 40);
      assert.equal(q.recall.mean, 1, `${metric} recall ${JSON.stringify(q.recall)}`);
      assert.equal(q.recall.min, 1);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("vectorQuery(): HNSW recall rises with EF_RUNTIME on ngt-sift5k", async () => {
  await using s = await searchServer();
  const l = await load({
    target: s.address,
    dataset: BASE,
    index: { algorithm: "HNSW", m: 6, efConstruction: 20 },
  });
  assert.equal(l.failure, undefined);
  assert.equal(l.numDocs, 4900);
  using ds = await openDataset(BASE);
  const truth = await vectorTruth(ds, { k: 10, threads: 0 });
  const recall: number[] = [];
  // EF_RUNTIME below k searches as k: start at k.
  for (const ef of [10, 50, 400]) {
    const q = await query({ target: s.address, dataset: ds, k: 10, efRuntime: ef, truth });
    assert.equal(q.completed, 100);
    assert.match(q.query, new RegExp(`EF_RUNTIME ${ef} `));
    recall.push(q.recall.mean);
  }
  assert.ok(
    recall[0]! < recall[1]! && recall[1]! < recall[2]!,
    `recall by EF_RUNTIME 10, 50, 400: ${recall}`,
  );
  assert.ok(recall[2]! >= 0.9, `recall at EF_RUNTIME 400: ${recall[2]}`);
});

Deno.test("bad input is a clear MembenchError before any load: no module, unsupported option, other dimension, unknown field", async () => {
  // A server without the search module.
  {
    await using plain = await startLocalServer("redis");
    await rejects(
      load({ target: plain.address, dataset: BASE }),
      /Cannot run vector search on 127\.0\.0\.1:\d+: it has no search module/,
    );
    assert.equal(await redisText(plain.address, ["DBSIZE"]), "0");
  }
  await using s = await searchServer();
  // Options a platform does not have: each names the platform and the option.
  await rejects(
    load({
      target: s.address,
      dataset: BASE,
      platform: "valkey-search",
      index: { type: "FLOAT64" },
    }),
    /Cannot use TYPE FLOAT64 on valkey-search 1\.x \(Valkey\): it takes FLOAT32/,
  );
  await rejects(
    load({ target: s.address, dataset: BASE, index: { algorithm: "FLAT", m: 16 } }),
    /Cannot use M with FLAT on RediSearch 2\.6 .*: it is an HNSW parameter/,
  );
  await rejects(
    load({ target: s.address, dataset: BASE, index: { type: "FLOAT16" } }),
    /Cannot use TYPE FLOAT16 on RediSearch 2\.6 .*: it takes FLOAT32, FLOAT64/,
  );
  await rejects(
    load({ target: s.address, dataset: BASE, platform: "valkey-serch" as "valkey-search" }),
    /Cannot use platform "valkey-serch": .*did you mean 'valkey-search'/,
  );
  await rejects(
    query({ target: s.address, dataset: BASE, efRuntime: 10, index: { algorithm: "FLAT" } }),
    /Cannot use EF_RUNTIME with a FLAT index on RediSearch 2\.6/,
  );
  await rejects(
    query({ target: s.address, dataset: BASE, platform: "valkey-search", sortByScore: true }),
    /Cannot use SORTBY on the KNN score on valkey-search/,
  );
  await rejects(
    load({ target: s.address, dataset: BASE, clients: 0, numVectors: 99_999 }),
    /'clients': must be an integer from 1 to 10000[^]*'numVectors': must be an integer from 0 to 4900/,
  );
  assert.equal(await redisText(s.address, ["DBSIZE"]), "0", "nothing was written");
  // An existing index of another dimension, and a field that is not there.
  await withConn(s.address, async (c) => {
    const r = await c.command([
      "FT.CREATE",
      "small",
      "ON",
      "HASH",
      "PREFIX",
      "1",
      "s:",
      "SCHEMA",
      "emb",
      "VECTOR",
      "FLAT",
      "6",
      "TYPE",
      "FLOAT32",
      "DIM",
      "4",
      "DISTANCE_METRIC",
      "L2",
      "label",
      "TAG",
    ]);
    assert.equal(r.type, "simple");
  });
  // An empty index (RediSearch 2.6 shows no dimension in FT.INFO, and checks no query blob
  // before it held a document): a probe hash is written under its prefix and removed.
  await rejects(
    load({
      target: s.address,
      dataset: BASE,
      skipCreate: true,
      index: { name: "small", prefix: "s:", field: "emb" },
    }),
    /Cannot load vectors of dimension 128 into index small on 127\.0\.0\.1:\d+: its field emb has another dimension \(or element type\)/,
  );
  assert.equal(await redisText(s.address, ["DBSIZE"]), "0", "the probe hash is gone");
  // Once the index held a document, the server names its dimension.
  await withConn(s.address, (c) => c.command(["HSET", "s:1", "emb", new Uint8Array(16)]));
  await rejects(
    load({
      target: s.address,
      dataset: BASE,
      skipCreate: true,
      index: { name: "small", prefix: "s:", field: "emb" },
    }),
    /Cannot load vectors of dimension 128 into index small on 127\.0\.0\.1:\d+: its field emb has dimension 4/,
  );
  await rejects(
    load({
      target: s.address,
      dataset: BASE,
      index: { name: "small", prefix: "s:", field: "emb" },
    }),
    /dimension 128 .* dimension 4/,
  );
  await rejects(
    query({ target: s.address, dataset: BASE, index: { name: "small", field: "nosuch" } }),
    /Cannot use field "nosuch" of index small: the index has no such field \(fields: emb, label\)/,
  );
  await rejects(
    query({ target: s.address, dataset: BASE, index: { name: "small", field: "label" } }),
    /Cannot use field "label" of index small: it is a TAG field, not a VECTOR/,
  );
  await rejects(
    query({ target: s.address, dataset: BASE, index: { name: "nosuch" } }),
    /Cannot use index nosuch: there is no such index/,
  );
  assert.equal(await redisText(s.address, ["DBSIZE"]), "1", "nothing was written but s:1");
});

Deno.test("vectorLoad(): documents left out of the index (a wrong-length vector) are reported and fail the phase unless allowed", async () => {
  await using s = await searchServer();
  // Two hashes under the prefix before the index exists: one vector of 127 floats, one of 129.
  await withConn(s.address, async (c) => {
    for (const [k, n] of [["vec:90000", 127], ["vec:90001", 129]] as const) {
      const r = await c.command(["HSET", k, "vec", new Uint8Array(new Float32Array(n).buffer)]);
      assert.equal(r.type, "integer");
    }
  });
  const l = await load({
    target: s.address,
    dataset: BASE,
    numVectors: 500,
    index: { algorithm: "FLAT" },
  });
  assert.equal(l.ok, 500, "HSET itself succeeds");
  assert.equal(l.numDocs, 500);
  assert.equal(l.indexFailures, 2);
  assert.equal(l.failure?.code, "server");
  assert.match(
    l.failure!.message,
    /2 of 500 documents were left out of index membench_idx \(hash_indexing_failures\)/,
  );
  // Allowed: reported, not a failure. A later load into the same index counts only its own.
  const again = await load({
    target: s.address,
    dataset: BASE,
    vectorOffset: 500,
    numVectors: 100,
    skipCreate: true,
    allowIndexFailures: true,
  });
  assert.equal(again.failure, undefined);
  assert.deepEqual([again.indexFailures, again.numDocs], [0, 600]);
  await withConn(s.address, async (c) => {
    const r = await c.command(["HSET", "vec:90002", "vec", new Uint8Array(12)]);
    assert.equal(r.type, "integer");
  });
  const third = await load({
    target: s.address,
    dataset: BASE,
    vectorOffset: 600,
    numVectors: 10,
    skipCreate: true,
    allowIndexFailures: true,
  });
  // Failures from before the phase are not the phase's: only new ones count.
  assert.deepEqual([third.failure, third.indexFailures, third.numDocs], [undefined, 0, 610]);
});

Deno.test("vectorQuery(): filtered (TAG, NUMERIC) KNN on FLAT scores 1.0 against the filtered truth, whose size is the server's own match count", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/meta.mbv`;
    await generateDataset(path, {
      dim: 16,
      count: 3000,
      queries: 30,
      k: 0,
      seed: 3,
      tags: [{ name: "red", share: 0.3 }, { name: "blue", share: 0.05 }],
      numeric: [{ name: "price", min: 0, max: 100 }],
      threads: 0,
    });
    await using s = await searchServer();
    const l = await load({ target: s.address, dataset: path, index: { algorithm: "FLAT" } });
    assert.equal(l.failure, undefined);
    assert.deepEqual(l.ftCreate!.slice(-6), ["tag", "TAG", "SEPARATOR", ",", "price", "NUMERIC"]);
    for (
      const filter of ["@tag:{blue}", "@price:[10 20]", "@tag:{red} @price:[0 (50]", "-@tag:{red}"]
    ) {
      const q = await query({
        target: s.address,
        dataset: path,
        k: 10,
        filter,
        index: { algorithm: "FLAT" },
      });
      assert.equal(q.filter, filter);
      assert.ok(q.query.startsWith(`(${filter})=>[KNN 10 @vec $BLOB`), q.query);
      const total = await withConn(s.address, async (c) => {
        const r = await c.command([
          "FT.SEARCH",
          "membench_idx",
          filter,
          "LIMIT",
          "0",
          "0",
          "DIALECT",
          "2",
        ]);
        assert.equal(r.type, "array");
        return r.type === "array" && r.value[0]!.type === "integer"
          ? Number(r.value[0]!.value)
          : -1;
      });
      assert.equal(q.truth.matched, total, `${filter}: keys that pass the filter`);
      assert.ok(total > 10, `${filter} matches ${total}`);
      assert.equal(q.recall.scored, 30);
      assert.equal(q.recall.mean, 1, `${filter}: ${JSON.stringify(q.recall)}`);
      assert.equal(q.partial, 0);
    }
    // A filter that names a field or tag the dataset does not have fails before any query.
    await rejects(
      query({ target: s.address, dataset: path, filter: "@tag:{green}" }),
      /Cannot parse filter "@tag:\{green\}" at column 7: unknown tag 'green'/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("vectorDelete() and vectorUpdate() keep the ground truth honest: recall is scored against what the server holds", async () => {
  await using s = await searchServer();
  using ds = await openDataset(BASE);
  const l = await load({ target: s.address, dataset: ds, index: { algorithm: "FLAT" } });
  const flat = { algorithm: "FLAT" as const };
  const d = await bounded(
    60_000,
    (signal) =>
      vectorDelete({ target: s.address, segments: l.segments, keyOffset: 0, count: 2450, signal }),
  );
  assert.deepEqual([d.kind, d.sent, d.ok, d.numDocs], ["vector-delete", 2450, 2450, 2450]);
  assert.deepEqual(d.segments, [{ keyStart: 2450, vectorStart: 2450, count: 2450 }]);
  const after = await query({ target: s.address, dataset: ds, segments: d.segments, index: flat });
  assert.equal(after.recall.mean, 1);
  assert.equal(after.truth.matched, 2450);
  // Scored against everything that was loaded, the same replies look wrong.
  const stale = await query({ target: s.address, dataset: ds, segments: l.segments, index: flat });
  assert.ok(stale.recall.mean < 0.8, `stale truth: ${stale.recall.mean}`);
  // Keys 2450..2549 now hold rows 0..99 (which were deleted as keys 0..99).
  const u = await bounded(60_000, (signal) =>
    vectorUpdate({
      target: s.address,
      dataset: ds,
      segments: d.segments,
      keyOffset: 2450,
      vectorOffset: 0,
      numVectors: 100,
      signal,
    }));
  assert.deepEqual([u.kind, u.ok, u.numDocs, u.indexFailures], ["vector-update", 100, 2450, 0]);
  assert.deepEqual(u.segments, [
    { keyStart: 2450, vectorStart: 0, count: 100 },
    { keyStart: 2550, vectorStart: 2550, count: 2350 },
  ]);
  const updated = await query({
    target: s.address,
    dataset: ds,
    segments: u.segments,
    index: flat,
  });
  assert.equal(updated.recall.mean, 1, JSON.stringify(updated.recall));
});

Deno.test("vectorQuery(): RESP3 connections read the same replies", async () => {
  await using s = await searchServer();
  await load({ target: s.address, dataset: BASE, index: { algorithm: "FLAT" }, resp3: true });
  const q = await query({
    target: s.address,
    dataset: BASE,
    resp3: true,
    nocontent: false,
    index: { algorithm: "FLAT" },
  });
  assert.deepEqual([q.completed, q.recall.mean, q.partial], [100, 1, 0]);
});

loadTest(
  "vectorQuery(): a server query timeout is detected: partial replies (policy return) and timeout replies (policy fail) are counted",
  async () => {
    const dir = await Deno.makeTempDir();
    try {
      const path = `${dir}/big.mbv`;
      await generateDataset(path, {
        dim: 64,
        count: 100_000,
        queries: 20,
        k: 0,
        seed: 5,
        threads: 0,
      });
      await using s = await searchServer();
      const l = await load({ target: s.address, dataset: path, index: { algorithm: "FLAT" } });
      assert.equal(l.numDocs, 100_000);
      const base = {
        target: s.address,
        dataset: path,
        index: { algorithm: "FLAT" as const },
        truthThreads: 2,
      };
      const ok = await query({ ...base, numQueries: 5 });
      assert.deepEqual([ok.partial, ok.timeouts, ok.recall.mean], [0, 0, 1]);
      // TIMEOUT 1 ms on a 100k FLAT scan: RediSearch's default policy answers with fewer results.
      const cut = await query({ ...base, numQueries: 20, queryTimeoutMs: 1 });
      assert.equal(cut.completed, 20);
      assert.ok(cut.partial + cut.timeouts === 20 && cut.partial > 0, JSON.stringify(cut));
      assert.ok(cut.recall.mean < 1);
      await withConn(s.address, (c) => c.command(["FT.CONFIG", "SET", "ON_TIMEOUT", "FAIL"]));
      const failed = await query({ ...base, numQueries: 20, queryTimeoutMs: 1 });
      assert.equal(failed.timeouts, 20, JSON.stringify(failed));
      assert.equal(failed.errors["timeout"], 20);
      assert.equal(failed.recall.scored, 0);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

loadTest(
  "vectorQuery(): open loop at a target rate measures from the intended send time",
  async () => {
    await using s = await searchServer();
    await load({ target: s.address, dataset: BASE, index: { algorithm: "FLAT" } });
    const q = await query({
      target: s.address,
      dataset: BASE,
      index: { algorithm: "FLAT" },
      ratePerSec: 200,
      requests: 100,
      clients: 2,
    });
    assert.equal(q.openLoop, true);
    assert.equal(q.completed, 100);
    assert.ok(q.latency.response !== undefined);
    // 100 queries at 200/s: about half a second, whatever the server's speed.
    assert.ok(q.durationMs > 400 && q.durationMs < 900, `${q.durationMs} ms`);
    assert.ok(q.qps > 110 && q.qps < 250, `${q.qps} qps`);
    assert.equal(q.recall.mean, 1);
  },
);
