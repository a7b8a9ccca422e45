// One `--json FILE|-` convention for every command, and the versioned JSON schemas of
// lib/report/schemas/: each command runs for real (local redis-server and memcached on free
// loopback ports, RediSearch for vec, public captures, generated datasets), its JSON is validated
// by ajv (a validator membench did not write) against the schema its `schema` field names, and
// the figures that matter are checked against what the servers themselves counted.
import assert from "node:assert/strict";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020";
import {
  runScenario,
  SCHEMA_VERSIONS,
  schemaId,
  type SchemaKind,
  SCHEMAS,
  startLocalServer,
} from "../mod.ts";
import { commandStats, info, loadTest, runCli, statsDelta } from "./helpers.ts";

const PUBLIC = new URL("../../shared/data/captures-public/", import.meta.url).pathname;
const SIFT = new URL("../../shared/data/ngt-sift5k/sift5k_base.fvecs", import.meta.url).pathname;
const MODULE = new URL("../../shared/servers/redisearch-2.6/redisearch.so", import.meta.url)
  .pathname;
const SCHEMA_DIR = new URL("../lib/report/schemas/", import.meta.url).pathname;
const NP = "--no-progress";

const ajv = new Ajv2020({ strict: true, allErrors: true, allowUnionTypes: true });
const validators = new Map<string, ValidateFunction>();
for (const [kind, schema] of Object.entries(SCHEMAS)) {
  validators.set(schemaId(kind as SchemaKind), ajv.compile(schema));
}

/** The errors ajv finds in `doc` against the schema its `schema` field names ([] when valid). */
function problems(doc: unknown): string[] {
  const id = (doc as { schema?: unknown } | null)?.schema;
  const v = typeof id === "string" ? validators.get(id) : undefined;
  if (!v) return [`no schema named ${JSON.stringify(id)}`];
  if (v(doc)) return [];
  return (v.errors ?? []).map((e) =>
    `${e.instancePath || "/"} ${e.message} ${JSON.stringify(e.params)}`
  );
}

/** Parses `text`, checks it is a `kind` document with `schema` first, and validates it. */
// deno-lint-ignore no-explicit-any
function valid(kind: SchemaKind, text: string): any {
  const doc = JSON.parse(text);
  assert.equal(Object.keys(doc)[0], "schema", `${kind}: schema is not the first key`);
  assert.equal(doc.schema, `membench/${kind}@${SCHEMA_VERSIONS[kind]}`);
  assert.deepEqual(problems(doc), [], `${kind} does not match its schema`);
  // MEMBENCH_SCHEMA_SAMPLES=DIR keeps one real document of each kind there (to update a schema).
  const dump = Deno.env.get("MEMBENCH_SCHEMA_SAMPLES");
  if (dump) Deno.writeTextFileSync(`${dump}/${kind}.json`, JSON.stringify(doc, null, 2));
  return doc;
}

/** Runs the command with `--json FILE` and with `--json -`; both documents, validated. */
async function both(
  kind: SchemaKind,
  args: string[],
  dir: string,
  code = 0,
  // deno-lint-ignore no-explicit-any
): Promise<{ file: any; stdout: any; text: string }> {
  const path = `${dir}/${kind}-${crypto.randomUUID()}.json`;
  const f = await runCli([...args, "--json", path]);
  assert.equal(f.code, code, `${args.join(" ")} --json FILE: ${f.stderr}`);
  const s = await runCli([...args, "--json", "-"]);
  assert.equal(s.code, code, `${args.join(" ")} --json -: ${s.stderr}`);
  return {
    file: valid(kind, await Deno.readTextFile(path)),
    stdout: valid(kind, s.stdout),
    text: f.stdout,
  };
}

const portOf = (address: string) => address.slice(address.lastIndexOf(":") + 1);

Deno.test("the JSON schemas: one file per kind, ajv (strict) compiles each, $id is the kind's schema value, the library exports the files", async () => {
  const files = [...Deno.readDirSync(SCHEMA_DIR)].map((e) => e.name).sort();
  assert.deepEqual(
    files,
    Object.keys(SCHEMA_VERSIONS).map((k) => `${k}.schema.json`).sort(),
  );
  for (const [kind, major] of Object.entries(SCHEMA_VERSIONS)) {
    const s = SCHEMAS[kind as SchemaKind];
    assert.equal(s.$id, `membench/${kind}@${major}`);
    assert.equal(s.$schema, "https://json-schema.org/draft/2020-12/schema");
    assert.ok(s.title.length > 0 && s.description.length > 20, kind);
    // What the library exports is the file on disk.
    assert.deepEqual(s, JSON.parse(await Deno.readTextFile(`${SCHEMA_DIR}/${kind}.schema.json`)));
  }
});

loadTest(
  "bench, a run shard, merge and --run-count: --json FILE and --json - validate; errors is the count and errorsByKind the kinds, as the server's errorstats count them",
  async () => {
    await using srv = await startLocalServer("redis");
    const dir = await Deno.makeTempDir();
    try {
      const p = ["-p", portOf(srv.address), NP];
      const before = await commandStats(srv.address);
      const ok = await both("bench-result", [
        "bench",
        ...p,
        "-t",
        "set,get",
        "-n",
        "2000",
        "-c",
        "4",
      ], dir);
      for (const doc of [ok.file, ok.stdout]) {
        assert.deepEqual(doc.tests.map((t: { name: string }) => t.name), ["set", "get"]);
        for (const t of doc.tests) {
          assert.equal(t.requests, 2000);
          assert.equal(t.errors, 0);
          assert.deepEqual(t.errorsByKind, {});
          assert.equal(t.commands[0].errorCount, 0);
        }
      }
      // Two runs (FILE and -): the server saw 2 x 2000 of each.
      const d = statsDelta(before, await commandStats(srv.address));
      assert.equal(d["set"], 4000);
      assert.equal(d["get"], 4000);
      // Every request fails: the test's errors is the count, errorsByKind and the command's errors
      // name the kind; the server's own errorstats agree.
      const errBefore = Number(
        /count=(\d+)/.exec(
          (await info(srv.address, "errorstats"))["errorstat_ERR"] ?? "count=0",
        )![1],
      );
      const bad = await both("bench-result", ["bench", ...p, "-n", "300", "FOO __key__"], dir, 4);
      const errAfter = Number(
        /count=(\d+)/.exec(
          (await info(srv.address, "errorstats"))["errorstat_ERR"] ?? "count=0",
        )![1],
      );
      assert.equal(errAfter - errBefore, 600);
      for (const doc of [bad.file, bad.stdout]) {
        const t = doc.tests[0];
        assert.equal(t.errors, 300);
        assert.deepEqual(t.errorsByKind, { ERR: 300 });
        assert.deepEqual(t.commands[0].errors, { ERR: 300 });
        assert.equal(t.commands[0].errorCount, 300);
      }
      // The validator is live: a real document, broken three ways, is rejected where it is broken.
      const broken = structuredClone(ok.stdout);
      broken.tests[0].errors = { ERR: 1 };
      assert.match(problems(broken).join("\n"), /^\/tests\/0\/errors must be integer/m);
      const noConfig = structuredClone(ok.stdout);
      delete noConfig.config;
      assert.match(problems(noConfig).join("\n"), /must have required property 'config'/);
      const badKind = structuredClone(ok.stdout);
      badKind.tests[1].commands[0].errors = { ERR: "3" };
      assert.match(
        problems(badKind).join("\n"),
        /^\/tests\/1\/commands\/0\/errors\/ERR must be integer/m,
      );
      assert.deepEqual(problems({ ...ok.stdout, schema: "membench/bench-result@2" }), [
        'no schema named "membench/bench-result@2"',
      ]);
      // A run shard: one line (NDJSON), with its histograms; two shards merge into a valid result.
      const shards: string[] = [];
      for (const i of [0, 1]) {
        const s = await runCli([
          "bench",
          ...p,
          "-t",
          "set",
          "-n",
          "1000",
          "-c",
          "4",
          "--shard",
          `${i}/2`,
          "--seed",
          "1",
          "--json",
          "-",
          "-q",
        ]);
        assert.equal(s.code, 0, s.stderr);
        assert.equal(s.stdout.trim().split("\n").length, 1, "a shard's JSON is one line");
        const doc = valid("bench-result", s.stdout);
        assert.equal(doc.config.shard.index, i);
        assert.ok(doc.tests[0].histograms.length > 0);
        shards.push(`${dir}/shard${i}.json`);
        await Deno.writeTextFile(shards[i]!, s.stdout);
      }
      const m = await both("bench-result", ["merge", ...shards, "-q"], dir);
      assert.equal(m.stdout.tests[0].requests, 1000);
      assert.deepEqual(m.stdout.shards.merged, [0, 1]);
      // memtier's --run-count: the aggregate of repeated runs.
      const rep = await both("bench-repeat", [
        "bench",
        ...p,
        "-t",
        "ping",
        "-n",
        "500",
        "--run-count",
        "2",
      ], dir);
      assert.equal(rep.stdout.completed, 2);
      assert.equal(rep.stdout.runs.length, 2);
      assert.equal(rep.stdout.runs[0].tests[0].errorsByKind !== undefined, true);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

/** memcached's own counters, read over a plain socket (`stats`). */
async function memcachedStats(address: string): Promise<Record<string, number>> {
  const c = await Deno.connect({ hostname: "127.0.0.1", port: Number(portOf(address)) });
  try {
    await c.write(new TextEncoder().encode("stats\r\n"));
    let text = "";
    const buf = new Uint8Array(65536);
    while (!text.endsWith("END\r\n")) {
      const n = await c.read(buf);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    return Object.fromEntries(
      [...text.matchAll(/^STAT (\S+) (\d+)\r$/gm)].map((m) => [m[1]!, Number(m[2])]),
    );
  } finally {
    c.close();
  }
}

loadTest(
  "bench against memcached: --json FILE and --json - validate; counts agree with memcached's stats",
  async () => {
    await using srv = await startLocalServer("memcached");
    const dir = await Deno.makeTempDir();
    try {
      const before = await memcachedStats(srv.address);
      const r = await both("bench-result", [
        "bench",
        "-p",
        portOf(srv.address),
        "--protocol",
        "memcache-text",
        "-t",
        "set,get",
        "-n",
        "1000",
        "-c",
        "2",
        "-r",
        "100",
        NP,
      ], dir);
      const after = await memcachedStats(srv.address);
      assert.equal(after["cmd_set"]! - before["cmd_set"]!, 2000);
      const hits = after["get_hits"]! - before["get_hits"]!;
      const misses = after["get_misses"]! - before["get_misses"]!;
      assert.equal(hits + misses, 2000);
      let seenHits = 0, seenMisses = 0;
      for (const doc of [r.file, r.stdout]) {
        assert.equal(doc.config.protocol, "memcache-text");
        const get = doc.tests[1].commands[0];
        assert.deepEqual([get.count, get.errorCount, doc.tests[1].errors], [1000, 0, 0]);
        seenHits += get.hits;
        seenMisses += get.misses;
      }
      assert.deepEqual([seenHits, seenMisses], [hits, misses]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

loadTest(
  "record, profile info/verify, analyze and replay: --json FILE and --json - validate, with the capture's and the server's counts",
  async () => {
    await using srv = await startLocalServer("redis");
    const dir = await Deno.makeTempDir();
    try {
      const mbp = `${dir}/t.mbp`;
      const rec = await both("record-summary", [
        "record",
        "--pcap",
        PUBLIC + "zeek/redis/bulk-loading.pcap",
        "-p",
        "6379",
        "--salt",
        "s",
        "-o",
        mbp,
      ], dir);
      assert.equal(rec.stdout.events, 1001);
      assert.deepEqual(rec.stdout.eventsPerCommand, { set: 1000, echo: 1 });
      assert.match(rec.text, /1,?001 events/); // --json FILE keeps the text summary on stdout
      const pi = await both("profile-info", ["profile", "info", mbp], dir);
      assert.equal(pi.stdout.events, 1001);
      assert.deepEqual(pi.stdout.footer.opCounts, { set: 1000, echo: 1 });
      assert.equal(pi.stdout.file, mbp);
      const pv = await both("profile-verify", ["profile", "verify", mbp], dir);
      assert.equal(pv.stdout.ok, true);
      assert.equal(pv.stdout.events, 1001);
      const an = await both("analysis", ["analyze", mbp], dir);
      assert.equal(an.stdout.commands.set.count, 1000);
      const before = await commandStats(srv.address);
      const rp = await both("replay-result", ["replay", mbp, "-p", portOf(srv.address), NP], dir);
      const d = await commandStats(srv.address);
      assert.equal((d["set"] ?? 0) - (before["set"] ?? 0), 2000, "two replays of 1000 SETs");
      for (const doc of [rp.file, rp.stdout]) {
        // Every recorded request is sent or skipped by name; what was sent completed, no error.
        const sent = doc.commands.reduce((n: number, c: { sent: number }) => n + c.sent, 0);
        const skipped = Object.values(doc.skipped as Record<string, number>).reduce(
          (a, b) => a + b,
          0,
        );
        assert.equal(sent + skipped, 1001);
        assert.deepEqual([doc.sent, doc.completed, doc.errors], [sent, sent, 0]);
        assert.equal(doc.commands.find((c: { op: string }) => c.op === "set").completed, 1000);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

loadTest(
  "history list, show and compare, and the scenario summary file: --json FILE and --json - validate",
  async () => {
    await using srv = await startLocalServer("redis");
    const dir = await Deno.makeTempDir();
    try {
      const db = `${dir}/history.db`;
      const before = await commandStats(srv.address);
      for (const n of [300, 600]) {
        const r = await runScenario(
          "schema",
          { target: srv.address, history: db, outDir: dir },
          async (run) => {
            await run.bench({ name: "b", tests: ["set"], requests: n, clients: 2 });
          },
        );
        assert.equal(r.status, "passed");
        // The summary file the run wrote.
        const sum = valid("scenario-summary", await Deno.readTextFile(r.summaryPath!));
        assert.deepEqual([sum.status, sum.exitCode, sum.history.runId], [
          "passed",
          0,
          r.history!.runId,
        ]);
        assert.equal(sum.phases[0].result.tests[0].requests, n);
      }
      assert.equal(statsDelta(before, await commandStats(srv.address))["set"], 900);
      const list = await both("history-list", ["history", "list", "--db", db], dir);
      assert.deepEqual(list.stdout.runs.map((x: { scenario: string }) => x.scenario), [
        "schema",
        "schema",
      ]);
      const [b, a] = list.stdout.runs.map((x: { id: number }) => x.id);
      const show = await both("history-run", ["history", "show", String(a), "--db", db], dir);
      assert.equal(show.stdout.id, a);
      const cmp = await both("history-compare", [
        "history",
        "compare",
        String(a),
        String(b),
        "--db",
        db,
      ], dir);
      assert.deepEqual([cmp.stdout.a, cmp.stdout.b], [a, b]);
      const req = cmp.stdout.changes.find((c: { metric: string }) =>
        c.metric === "set.requests" || c.metric === "requests"
      );
      assert.deepEqual([req?.a, req?.b], [300, 600]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

loadTest(
  "dataset info, convert and groundtruth, vec run, optimize and frontier: --json FILE and --json - validate",
  async () => {
    const dir = await Deno.makeTempDir();
    try {
      const gen = await runCli([
        "dataset",
        "generate",
        `${dir}/g.mbv`,
        "--dim",
        "4",
        "--count",
        "200",
        "--queries",
        "5",
        "--k",
        "3",
        NP,
      ]);
      assert.equal(gen.code, 0, gen.stderr);
      const di = await both("dataset-info", ["dataset", "info", `${dir}/g.mbv`], dir);
      assert.deepEqual([di.stdout.vectors, di.stdout.queries, di.stdout.dim], [200, 5, 4]);
      const cv = await both("dataset-convert", [
        "dataset",
        "convert",
        `${dir}/g.mbv`,
        `${dir}/c.fvecs`,
        NP,
      ], dir);
      assert.equal(cv.stdout.vectors, 200);
      const gt = await runCli([
        "dataset",
        "groundtruth",
        `${dir}/g.mbv`,
        "-k",
        "3",
        "--json",
        "-",
        NP,
      ]);
      assert.equal(gt.code, 0, gt.stderr);
      assert.equal(gt.stdout.trim().split("\n").length, 1, "ground truth JSON is one line");
      const g = valid("ground-truth", gt.stdout);
      assert.equal(g.ids.length, 5);
      await using s = await startLocalServer("redis", { modules: [{ path: MODULE }] });
      const vr = await both("vector-run", [
        "vec",
        "run",
        "-p",
        portOf(s.address),
        "--dataset",
        SIFT,
        "--search-algorithm",
        "FLAT",
        "-k",
        "5",
        "-n",
        "50",
        "--cleanup",
        NP,
      ], dir);
      assert.equal(vr.stdout.kind, "vector-run");
      assert.equal(vr.stdout.queries[0].completed, 50);
      // HNSW: optimize (smallest EF_RUNTIME meeting the recall target) and the frontier.
      const hnsw = ["-p", portOf(s.address), "--dataset", SIFT, "--hnsw-m", "4"];
      const vo = await both("vector-optimize", [
        "vec",
        "optimize",
        ...hnsw,
        "--ef-construction",
        "10",
        "--target-recall",
        "0.5",
        "--max-ef-search",
        "40",
        "--skip-throughput",
        NP,
      ], dir);
      assert.equal(vo.stdout.status, "complete");
      assert.ok(vo.stdout.recall.low >= 0.5);
      const vf = await both("vector-frontier", [
        "vec",
        "frontier",
        ...hnsw,
        "--ef-construction",
        "10",
        "--skip-load",
        "--ef-search",
        "10,40",
        NP,
      ], dir);
      assert.deepEqual(vf.stdout.points.map((p: { efRuntime: number }) => p.efRuntime), [10, 40]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("the old --json switch: a clear error naming the new form, exit 2, nothing run", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const pcap = PUBLIC + "zeek/redis/bulk-loading.pcap";
    const cases: string[][] = [
      ["record", "--pcap", pcap, "-p", "6379", "-o", `${dir}/x.mbp`, "--json"],
      ["profile", "info", `${dir}/x.mbp`, "--json"],
      ["profile", "verify", `${dir}/x.mbp`, "--json"],
      ["history", "list", "--db", `${dir}/h.db`, "--json"],
      ["dataset", "info", SIFT, "--json"],
      ["bench", "-t", "ping", "--json"],
    ];
    for (const args of cases) {
      const r = await runCli(args);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(
        r.stderr,
        /Flag '--json' needs a value: give a file, or "-" for stdout \(--json - prints the JSON instead of the text\)/,
        args.join(" "),
      );
      assert.equal(r.stdout, "");
    }
    // The record above did not run: no profile was written.
    assert.throws(() => Deno.statSync(`${dir}/x.mbp`), Deno.errors.NotFound);
    // The switch before its argument: the argument went to --json; said so.
    const p = await runCli(["profile", "info", "--json", `${dir}/x.mbp`]);
    assert.equal(p.code, 2);
    assert.match(
      p.stderr,
      /--json takes the output FILE, "-" for stdout: membench profile info .*x\.mbp --json -/,
    );
    const h = await runCli(["history", "--json", "list", "--db", `${dir}/h.db`]);
    assert.equal(h.code, 2);
    assert.match(h.stderr, /Cannot use '--json list': --json takes a FILE \("-" for stdout\)/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
