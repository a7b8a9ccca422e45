// `membench vec load|query|run` and `membench bench -t vec-load,vec-query` against the real
// RediSearch 2.6.37 module (../shared/servers/redisearch-2.6) in Debian's redis-server on free
// loopback ports, with ngt-sift5k (its truth computed by numpy) and generated data: exit codes,
// text/JSON/CSV output (CSV read back by Python's csv module), counts against INFO commandstats
// and FT.INFO, indexing failures, and bad input reported before any load.
import assert from "node:assert/strict";
import {
  formatVectorProgress,
  startLocalServer,
  vectorLoad,
  type VectorProgress,
  type VectorRunResult,
} from "../mod.ts";
import { VEC_SUBCOMMANDS } from "../cli/vec.ts";
import { flagName } from "../cli/flags.ts";
import {
  commandStats,
  loadTest,
  pythonStdin,
  redisCommand,
  runCli,
  statsDelta,
} from "./helpers.ts";

const SIFT = new URL("../../shared/data/ngt-sift5k/sift5k_base.fvecs", import.meta.url).pathname;
const MODULE = new URL("../../shared/servers/redisearch-2.6/redisearch.so", import.meta.url)
  .pathname;

function searchServer() {
  return startLocalServer("redis", { modules: [{ path: MODULE }] });
}

function portOf(address: string): string {
  return address.slice(address.lastIndexOf(":") + 1);
}

const CONTROL = ["info", "client|setname", "module|list", "ft.info", "ft.create", "ft.dropindex"];

loadTest(
  "vec run: FLAT on ngt-sift5k is exact (recall 1.0); JSON counts reconcile with INFO commandstats; --cleanup drops the index",
  async () => {
    await using s = await searchServer();
    const before = await commandStats(s.address);
    const r = await runCli([
      "vec",
      "run",
      "-p",
      portOf(s.address),
      "--dataset",
      SIFT,
      "--search-algorithm",
      "FLAT",
      "-k",
      "10",
      "-n",
      "400",
      "-c",
      "2",
      "--recall-threshold",
      "1",
      "--cleanup",
      "--json",
      "-",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as VectorRunResult;
    assert.equal(j.kind, "vector-run");
    assert.equal(j.pass, true);
    assert.equal(j.cleanedUp, true);
    assert.equal(j.load?.platform, "redisearch-2.6");
    assert.deepEqual([j.load?.sent, j.load?.ok, j.load?.numDocs, j.load?.indexFailures], [
      4900,
      4900,
      4900,
      0,
    ]);
    assert.equal(j.queries.length, 1);
    const q = j.queries[0]!;
    assert.deepEqual([q.sent, q.completed, q.partial, q.timeouts], [400, 400, 0, 0]);
    assert.deepEqual([q.recall.mean, q.recall.min, q.recall.histogram[20]], [1, 1, 400]);
    // The server's own count: one HSET per vector, one FT.SEARCH per query plus the one
    // dimension probe of the query phase, and --cleanup's DD deleting every hash.
    const d = statsDelta(before, await commandStats(s.address), CONTROL);
    assert.deepEqual(d, { hset: 4900, "ft.search": 401, del: 4900 });
    // --cleanup: the index and its hashes are gone.
    assert.equal(
      await redisCommand(s.address, ["DBSIZE"]).then((x) => (x as { value: number }).value),
      0,
    );
  },
);

loadTest(
  "vec load, then vec query with two --ef-search values: recall rises with EF_RUNTIME; text, CSV (read by Python's csv) and HTML (read by its html.parser) agree",
  async () => {
    await using s = await searchServer();
    const port = portOf(s.address);
    const l = await runCli([
      "vec",
      "load",
      "-p",
      port,
      "--dataset",
      SIFT,
      "--hnsw-m",
      "4",
      "--ef-construction",
      "20",
      "--search-prefix",
      "s:",
    ]);
    assert.equal(l.code, 0, l.stderr);
    assert.match(l.stdout, /vec-load .* index membench_idx \(HNSW FLOAT32 dim 128 L2, prefix s:/);
    assert.match(l.stdout, /requests +4,900 ok of 4,900 sent/);
    assert.match(l.stdout, /documents +4,900 in the index; indexing failures 0/);
    assert.match(l.stdout, /memory +used_memory .* -> .* \(\+\d+\.\d MiB\); vector index/);
    assert.match(
      l.stdout,
      /FT\.CREATE membench_idx ON HASH PREFIX 1 s: SCHEMA vec VECTOR HNSW 10 .*M 4 EF_CONSTRUCTION 20/,
    );
    const args = [
      "vec",
      "query",
      "-p",
      port,
      "--dataset",
      SIFT,
      "--search-prefix",
      "s:",
      "-n",
      "300",
    ];
    const dir = await Deno.makeTempDir({ prefix: "membench-vec-html-" });
    const html = `${dir}/report.html`;
    const t = await runCli([...args, "--ef-search", "1,200", "--html", html]);
    assert.equal(t.code, 0, t.stderr);
    // The HTML report, read by Python's html.parser: each phase's recall bars count its queries.
    const bars = await pythonStdin(
      "import sys,json\nfrom html.parser import HTMLParser\nclass P(HTMLParser):\n" +
        "  def __init__(s):\n    super().__init__(); s.svg=None; s.out={}\n" +
        "  def handle_starttag(s,t,a):\n    a=dict(a)\n" +
        "    if t=='svg': s.svg=a.get('id'); s.out[s.svg]=0\n" +
        "    if t=='rect' and a.get('class')=='bar': s.out[s.svg]+=int(a['data-value'])\n" +
        "p=P(); p.feed(sys.stdin.read()); print(json.dumps(p.out))",
      await Deno.readTextFile(html),
    );
    await Deno.remove(dir, { recursive: true });
    assert.deepEqual(JSON.parse(bars), { "chart-recall-0": 300, "chart-recall-1": 300 });
    assert.match(t.stdout, /EF_RUNTIME 1\n/);
    assert.match(t.stdout, /\*=>\[KNN 10 @vec \$BLOB EF_RUNTIME 200 AS vector_score\]/);
    assert.match(t.stdout, /recall histogram/);
    assert.match(t.stdout, /summary\n +EF_RUNTIME +recall mean/);
    const c = await runCli([...args, "--ef-search", "1,200", "--csv"]);
    assert.equal(c.code, 0, c.stderr);
    const parsed = JSON.parse(
      await pythonStdin(
        "import csv,sys,json; print(json.dumps(list(csv.DictReader(sys.stdin))))",
        c.stdout,
      ),
    ) as Array<Record<string, string>>;
    assert.equal(parsed.length, 2);
    assert.deepEqual(parsed.map((p) => p["ef_runtime"]), ["1", "200"]);
    assert.deepEqual(parsed.map((p) => p["completed"]), ["300", "300"]);
    const [low, high] = parsed.map((p) => Number(p["recall_mean"]));
    assert.ok(high! > low! + 0.1, `recall at EF_RUNTIME 200 (${high}) vs 1 (${low})`);
    assert.ok(high! > 0.8, `recall at EF_RUNTIME 200: ${high}`);
  },
);

loadTest(
  "vec: documents left out of the index (hash_indexing_failures) exit 4 unless --allow-index-failures; a recall below --recall-threshold exits 4",
  async () => {
    await using s = await searchServer();
    const port = portOf(s.address);
    // A hash under the prefix whose vector has the wrong length: HSET succeeds, indexing fails.
    await redisCommand(s.address, ["HSET", "vec:999999", "vec", "not a vector"]);
    const base = ["vec", "load", "-p", port, "--dataset", SIFT, "--num-vectors", "500"];
    const f = await runCli([...base, "--search-algorithm", "FLAT"]);
    assert.equal(f.code, 4, f.stderr + f.stdout);
    assert.match(f.stdout, /indexing failures 1 \(hash_indexing_failures/);
    assert.match(f.stdout, /FAILED check: 1 of 500 documents were left out of index membench_idx/);
    const ok = await runCli([
      ...base,
      "--search-algorithm",
      "FLAT",
      "--drop-before",
      "--allow-index-failures",
    ]);
    // DD deletes indexed documents only: the bad hash stays, and is allowed now.
    assert.equal(ok.code, 0, ok.stderr + ok.stdout);
    assert.match(ok.stdout, /dropped first +yes/);
    assert.match(ok.stdout, /indexing failures 1 /);
    assert.doesNotMatch(ok.stdout, /FAILED/);
    const q = await runCli([
      "vec",
      "query",
      "-p",
      port,
      "--dataset",
      SIFT,
      "--num-vectors",
      "500",
      "-n",
      "100",
      "--recall-threshold",
      "1",
      "--filtered-search",
      "@nope:{x}",
    ]);
    // ngt-sift5k has no metadata to score a filter against: an error before any query.
    assert.equal(q.code, 2, q.stderr);
    assert.match(q.stderr, /Cannot filter .*sift5k_base\.fvecs: the dataset has no metadata/);
    const low = await runCli([
      "bench",
      "-t",
      "vec-query",
      "-p",
      port,
      "--dataset",
      SIFT,
      "--num-vectors",
      "250",
      "-n",
      "100",
      "--recall-threshold",
      "0.99",
    ]);
    // Half the vectors' truth is not what the server holds (it holds 500): recall falls below.
    assert.equal(low.code, 4, low.stderr + low.stdout);
    assert.match(low.stdout, /FAILED check: recall@10 mean 0\.\d+ is below 0\.99/);
  },
);

Deno.test("vec: every bad flag is reported at once, before anything is sent (exit 2)", async () => {
  const r = await runCli([
    "vec",
    "run",
    "--search-algorithm",
    "IVF",
    "--ef-search",
    "0,x",
    "-k",
    "0",
    "--vss-platform",
    "bogus",
    "--nocontent",
    "--with-content",
    "-p",
    "1",
  ]);
  assert.equal(r.code, 2, r.stderr);
  for (
    const re of [
      /Cannot use flag '--search-algorithm': expected HNSW, FLAT: current value is "IVF"/,
      /Cannot use flag '--ef-search': expected integers >= 1, comma-separated: current value is "0,x"/,
      /Cannot use flag '-k'|Cannot use flag '--k': expected an integer from 1 to 10000/,
      /Cannot use flag '--vss-platform': expected auto, redisearch-2\.6/,
      /Cannot use flags '--nocontent' and '--with-content' together/,
      /Flag '--dataset' is required/,
      /see: membench vec run --help/,
    ]
  ) assert.match(r.stderr, re);
  const mix = await runCli(["bench", "-t", "vec-load,get", "--dataset", SIFT]);
  assert.equal(mix.code, 2, mix.stderr);
  assert.match(mix.stderr, /Cannot mix vector tests \(vec-load, vec-query\) with get/);
  const sub = await runCli(["vec", "lod"]);
  assert.equal(sub.code, 2);
  assert.match(
    sub.stderr,
    /Unknown vec command 'lod': expected load, query, run, optimize or frontier/,
  );
});

loadTest(
  "vec: a server without the search module, an index of another dimension, a missing dataset: clear errors before any load",
  async () => {
    await using plain = await startLocalServer("redis");
    const before = await commandStats(plain.address);
    const r = await runCli(["vec", "load", "-p", portOf(plain.address), "--dataset", SIFT]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /search module/i);
    assert.equal(statsDelta(before, await commandStats(plain.address), CONTROL)["hset"], undefined);
    await using s = await searchServer();
    await redisCommand(s.address, [
      "FT.CREATE",
      "membench_idx",
      "ON",
      "HASH",
      "PREFIX",
      "1",
      "vec:",
      "SCHEMA",
      "vec",
      "VECTOR",
      "FLAT",
      "6",
      "TYPE",
      "FLOAT32",
      "DIM",
      "64",
      "DISTANCE_METRIC",
      "L2",
    ]);
    const b2 = await commandStats(s.address);
    const d = await runCli([
      "vec",
      "load",
      "-p",
      portOf(s.address),
      "--dataset",
      SIFT,
      "--skip-index-create",
    ]);
    assert.equal(d.code, 2, d.stderr);
    assert.match(d.stderr, /dimension|64/);
    assert.match(d.stderr, /128/);
    // At most the one dimension probe (an empty index takes any query blob), never the dataset.
    assert.ok((statsDelta(b2, await commandStats(s.address), CONTROL)["hset"] ?? 0) <= 1);
    const m = await runCli([
      "vec",
      "query",
      "-p",
      portOf(s.address),
      "--dataset",
      "/nonexistent.fvecs",
    ]);
    assert.notEqual(m.code, 0);
    assert.match(m.stderr, /nonexistent\.fvecs/);
  },
);

loadTest(
  "vectorLoad() onProgress: rate and ETA while loading, the last report counts every vector",
  async () => {
    await using s = await searchServer();
    const seen: VectorProgress[] = [];
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), 60_000);
    try {
      const l = await vectorLoad({
        target: s.address,
        dataset: SIFT,
        index: { algorithm: "FLAT" },
        clients: 2,
        pipeline: 1,
        signal: ac.signal,
        onProgress: (p) => seen.push(p),
      });
      assert.equal(l.ok, 4900);
    } finally {
      clearTimeout(timer);
    }
    const loads = seen.filter((p) => p.phase === "load");
    assert.ok(loads.length >= 1);
    const last = loads[loads.length - 1]!;
    assert.deepEqual([last.done, last.total, last.errors], [4900, 4900, 0]);
    for (const p of loads) {
      assert.ok(p.done <= 4900 && p.ratePerSec >= 0 && p.elapsedMs >= 0);
      if (p.done > 0) assert.ok(p.etaMs !== undefined && p.etaMs >= 0);
    }
    assert.match(
      formatVectorProgress(last),
      /^vec-load +4,900\/4,900 vectors +100\.0% .* ETA 0ms$/,
    );
    assert.ok(seen.some((p) => p.phase === "index"), "the index wait reports too");
  },
);

Deno.test("vec: each subcommand's --help lists every flag of its spec", async () => {
  for (const spec of VEC_SUBCOMMANDS) {
    const r = await runCli([...spec.name.split(" "), "--help"]);
    assert.equal(r.code, 0, r.stderr);
    for (const [key, f] of Object.entries(spec.flags)) {
      assert.ok(r.stdout.includes(`--${flagName(key, f)}`), `${spec.name} --help lacks ${key}`);
    }
  }
});

loadTest(
  "vec run --filtered-search over RESP3 (-3): a FLAT index scores 1.0 against the filtered truth, whose size is the server's own match count",
  async () => {
    await using s = await searchServer();
    const dir = await Deno.makeTempDir({ prefix: "membench-vec-cli-" });
    try {
      const path = `${dir}/tags.mbv`;
      const g = await runCli([
        "dataset",
        "generate",
        path,
        "--dim",
        "16",
        "--count",
        "3000",
        "--queries",
        "50",
        "--tags",
        "red:0.2,blue:0.5",
        "--numeric",
        "price:0:100",
        "--seed",
        "3",
        "--no-progress",
      ]);
      assert.equal(g.code, 0, g.stderr);
      const r = await runCli([
        "vec",
        "run",
        "-p",
        portOf(s.address),
        "-3",
        "--dataset",
        path,
        "--search-algorithm",
        "FLAT",
        "--filtered-search",
        "@tag:{red} @price:[10 60]",
        "-n",
        "200",
        "--recall-threshold",
        "1",
        "--json",
        "-",
      ]);
      assert.equal(r.code, 0, r.stderr);
      const j = JSON.parse(r.stdout) as VectorRunResult;
      const q = j.queries[0]!;
      assert.equal(q.filter, "@tag:{red} @price:[10 60]");
      assert.deepEqual([q.completed, q.recall.mean, q.recall.min, q.partial], [200, 1, 1, 0]);
      // The server counts the documents that pass the filter itself.
      const total = await redisCommand(s.address, [
        "FT.SEARCH",
        "membench_idx",
        "@tag:{red} @price:[10 60]",
        "LIMIT",
        "0",
        "0",
      ]) as { value: Array<{ value: number }> };
      assert.equal(q.truth.matched, Number(total.value[0]!.value));
      assert.ok(q.truth.matched > 100 && q.truth.matched < 1000, `${q.truth.matched} matched`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
