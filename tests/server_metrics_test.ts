import assert from "node:assert/strict";
import {
  bench,
  compareServerReports,
  compareServerSnapshots,
  MembenchError,
  NO_VALUE,
  parseFieldSpec,
  parseTarget,
  readServerSnapshot,
  replay,
  RespConnection,
  ResultsHistory,
  runScenario,
  saveServerSnapshot,
  ServerMonitor,
  startLocalServer,
  Status,
  vectorLoad,
  vectorQuery,
} from "../mod.ts";
import { syntheticProfile } from "../bench/_synthetic.ts";
import { chromium, info, loadTest, runCli } from "./helpers.ts";

const N = 3000; // SETs
const M = 5000; // GETs

loadTest(
  "server metrics: cmdstat_set / cmdstat_get deltas equal the SETs and GETs sent; rates are delta / window",
  async () => {
    await using srv = await startLocalServer("redis");
    const mon = await ServerMonitor.start({
      nodes: [{ target: parseTarget(srv.address), kind: "redis" }],
      intervalMs: 100,
    });
    await bench({ target: srv.address, tests: ["set"], requests: N, clients: 4, keyspace: 100 });
    await bench({ target: srv.address, tests: ["get"], requests: M, clients: 4, keyspace: 100 });
    const { report, series } = await mon.stop();
    const node = report.nodes[0]!;
    assert.equal(node.errors.length, 0);
    assert.ok(series[0]!.length >= 3, `snapshots: ${series[0]!.length}`);
    const set = node.fields["cmd.set.calls"];
    const get = node.fields["cmd.get.calls"];
    assert.ok(set?.kind === "counter" && get?.kind === "counter");
    assert.equal(set.delta, N);
    assert.equal(get.delta, M);
    assert.ok(Math.abs(set.rate - N / report.windowS) < 1e-6);
    // Server time per call over the window, from the same counters.
    const usec = node.fields["cmd.set.usec"];
    assert.ok(usec?.kind === "counter");
    assert.ok(Math.abs(node.usecPerCall["set"]! - usec.delta / N) < 1e-9);
    // Gauges: the keys written are there at the end (bench's keys: 100 at most).
    const keys = node.fields["keyspace.db0.keys"];
    assert.ok(keys?.kind === "gauge" && keys.last > 0 && keys.last <= 100, JSON.stringify(keys));
    assert.ok(keys.growth === keys.last, "the server started empty");
    const version = node.fields["server.redis_version"];
    assert.ok(version?.kind === "text" && /^\d+\.\d+/.test(version.value));
    // One node: nothing to compare with.
    assert.equal(report.imbalance.length, 0);
    assert.equal(report.aggregate["cmd.get.calls"]?.delta?.sum, M);
  },
);

loadTest(
  "server metrics: memcached cmd_set / cmd_get deltas equal the sets and gets sent",
  async () => {
    await using srv = await startLocalServer("memcached");
    const mon = await ServerMonitor.start({
      nodes: [{ target: parseTarget(srv.address), kind: "memcached" }],
      intervalMs: 0,
    });
    await bench({
      target: srv.address,
      protocol: "memcache-text",
      tests: ["set"],
      requests: N,
      clients: 4,
      keyspace: 100,
    });
    await bench({
      target: srv.address,
      protocol: "memcache-text",
      tests: ["get"],
      requests: M,
      clients: 4,
      keyspace: 100,
    });
    const { report, series } = await mon.stop();
    assert.equal(series[0]!.length, 2, "before and after only");
    const f = report.nodes[0]!.fields;
    assert.ok(f["stats.cmd_set"]?.kind === "counter" && f["stats.cmd_get"]?.kind === "counter");
    assert.equal(f["stats.cmd_set"].delta, N);
    assert.equal(f["stats.cmd_get"].delta, M);
    const items = f["stats.curr_items"];
    assert.ok(items?.kind === "gauge" && items.last > 0 && items.last <= 100);
    assert.ok(f["slabs.active_slabs"]?.kind === "gauge");
  },
);

loadTest(
  "server metrics: imbalance flags the node that took all the load, and not an even spread",
  async () => {
    await using a = await startLocalServer("redis");
    await using b = await startLocalServer("redis");
    const nodes = [a, b].map((s) => ({ target: parseTarget(s.address), kind: "redis" as const }));
    const load = async (targets: string[]) => {
      const mon = await ServerMonitor.start({ nodes, intervalMs: 0 });
      await bench({
        target: targets,
        tests: ["set"],
        requests: 20_000,
        clients: 8,
        keyspace: 1000,
      });
      return (await mon.stop()).report;
    };
    const skewed = await load([a.address]);
    const flagged = skewed.imbalance.filter((i) => i.field === "stats.total_commands_processed");
    assert.deepEqual(flagged.map((i) => i.node).sort(), [a.address, b.address].sort());
    const hot = flagged.find((i) => i.node === a.address)!;
    assert.ok(hot.deviationPct > 90, JSON.stringify(hot));
    assert.ok(skewed.imbalanceMaxPct > 90);

    const even = await load([a.address, b.address]);
    assert.deepEqual(
      even.imbalance.filter((i) => i.measure === "rate"),
      [],
      `max deviation ${even.imbalanceMaxPct.toFixed(1)}%`,
    );
  },
);

Deno.test("server metrics: a tracked field the server lacks is an error naming it and the nearest one", async () => {
  await using srv = await startLocalServer("redis");
  await assert.rejects(
    ServerMonitor.start({
      nodes: [{ target: parseTarget(srv.address), kind: "redis" }],
      fields: [parseFieldSpec("memory.used_memroy:gauge")],
      intervalMs: 0,
    }),
    (e: unknown) =>
      e instanceof MembenchError && e.code === "invalid_argument" &&
      e.message.includes("'memory.used_memroy'") && e.message.includes("memory.used_memory"),
  );
  assert.throws(() => parseFieldSpec("memory.used_memory:sometimes"), /counter, gauge or text/);
  assert.throws(() => parseFieldSpec("used_memory"), /section\.field/);
  // A user field that exists is reported with its kind.
  const mon = await ServerMonitor.start({
    nodes: [{ target: parseTarget(srv.address), kind: "redis" }],
    fields: [parseFieldSpec("stats.total_reads_processed:counter")],
    intervalMs: 0,
  });
  const { report } = await mon.stop();
  assert.equal(report.nodes[0]!.fields["stats.total_reads_processed"]?.kind, "counter");
});

Deno.test("server metrics: a node that stops answering mid-run is reported, not a crash", async () => {
  const srv = await startLocalServer("redis");
  const mon = await ServerMonitor.start({
    nodes: [{ target: parseTarget(srv.address), kind: "redis" }],
    intervalMs: 50,
    timeoutMs: 300,
  });
  await new Promise((r) => setTimeout(r, 200));
  await srv.stop();
  await new Promise((r) => setTimeout(r, 300));
  const { report } = await mon.stop();
  const node = report.nodes[0]!;
  assert.ok(node.errors.length >= 2, JSON.stringify(node.errors));
  assert.match(node.errors[0]!.error, /127\.0\.0\.1/);
  // The figures still cover what the node answered.
  assert.ok(node.fields["stats.total_commands_processed"]?.kind === "counter");
});

Deno.test("server metrics: a saved snapshot read back compares equal to itself; a changed one shows the change", async () => {
  await using srv = await startLocalServer("redis");
  const mon = await ServerMonitor.start({
    nodes: [{ target: parseTarget(srv.address), kind: "redis" }],
    intervalMs: 0,
  });
  await bench({ target: srv.address, tests: ["set"], requests: 2000, clients: 2, keyspace: 100 });
  const { report } = await mon.stop();
  const path = await Deno.makeTempFile({ suffix: ".json" });
  try {
    await saveServerSnapshot(path, { set: report }, "release A");
    const back = await readServerSnapshot(path);
    assert.equal(back.label, "release A");
    assert.deepEqual(compareServerReports(back.reports["set"]!, report), []);
    assert.deepEqual(compareServerSnapshots(back.reports, { set: report }), {
      parts: [{ part: "set", changes: [] }],
      missing: [],
    });
    const changed = structuredClone(back.reports["set"]!);
    const rate = changed.aggregate["cmd.set.calls"]!.rate!;
    rate.sum *= 1.5;
    const changes = compareServerReports(back.reports["set"]!, changed);
    assert.equal(changes.length, 1, JSON.stringify(changes));
    assert.equal(changes[0]!.field, "cmd.set.calls");
    assert.equal(changes[0]!.figure, "rate");
    assert.ok(Math.abs(changes[0]!.changePct - 50) < 1e-6);
    // Not a snapshot: a clear error naming the file.
    await Deno.writeTextFile(path, '{"hello": 1}');
    await assert.rejects(readServerSnapshot(path), /not a membench server snapshot/);
  } finally {
    await Deno.remove(path);
  }
});

loadTest(
  "bench serverMetrics: each test carries its servers' figures; a bad field is refused before any load",
  async () => {
    await using srv = await startLocalServer("redis");
    const r = await bench({
      target: srv.address,
      tests: ["set", "get"],
      requests: 4000,
      clients: 4,
      keyspace: 100,
      serverMetrics: { intervalMs: 200, fields: ["stats.total_reads_processed:counter"] },
    });
    const [set, get] = r.tests;
    const sf = set!.server!.nodes[0]!.fields;
    const gf = get!.server!.nodes[0]!.fields;
    assert.ok(sf["cmd.set.calls"]?.kind === "counter" && gf["cmd.get.calls"]?.kind === "counter");
    assert.equal(sf["cmd.set.calls"].delta, 4000);
    assert.equal(gf["cmd.get.calls"].delta, 4000);
    // The set test's window holds no GET, the get test's no SET.
    assert.equal(sf["cmd.get.calls"], undefined);
    assert.ok(
      gf["cmd.set.calls"] === undefined ||
        (gf["cmd.set.calls"].kind === "counter" && gf["cmd.set.calls"].delta === 0),
    );
    assert.ok(sf["stats.total_reads_processed"]?.kind === "counter");
    assert.ok(get!.server!.nodes[0]!.usecPerCall["get"]! > 0);

    const before = await info(srv.address, "commandstats");
    await assert.rejects(
      bench({
        target: srv.address,
        tests: ["set"],
        requests: 100,
        serverMetrics: { fields: ["stats.no_such_field"] },
      }),
      /'stats\.no_such_field'/,
    );
    await assert.rejects(
      bench({ target: srv.address, tests: ["set"], serverMetrics: { fields: ["nodots"] } }),
      /section\.field/,
    );
    const after = await info(srv.address, "commandstats");
    assert.equal(after["cmdstat_set"], before["cmdstat_set"], "no SET was sent");
  },
);

loadTest(
  "replay serverMetrics: the server's cmd_get + cmd_set over the replay equal the requests replayed",
  async () => {
    await using srv = await startLocalServer("memcached");
    const path = await Deno.makeTempFile({ suffix: ".mbp" });
    try {
      const w = await syntheticProfile(path);
      const get = w.op("get");
      const set = w.op("set");
      for (let c = 0; c < 3; c++) {
        w.connection({
          id: c,
          protocol: "memcache-text",
          openUs: 0,
          sawOpen: true,
          sawClose: false,
        });
      }
      for (let i = 0; i < 3000; i++) {
        const isSet = i % 3 === 0;
        w.append({
          t: i * 10,
          conn: i % 3,
          op: isSet ? set : get,
          keyHi: i % 50,
          keyLo: 7,
          keyLen: 10,
          valueLen: isSet ? 20 : NO_VALUE,
          flags: 0,
          ttl: isSet ? 0 : -1,
          status: isSet ? Status.Stored : Status.Hit,
          latency: 5,
          slot: -1,
          seq: Math.floor(i / 3),
        });
      }
      await w.close();
      const r = await replay({
        profile: path,
        target: srv.address,
        speed: "max",
        serverMetrics: true,
      });
      const f = r.server!.nodes[0]!.fields;
      assert.ok(f["stats.cmd_get"]?.kind === "counter" && f["stats.cmd_set"]?.kind === "counter");
      assert.equal(f["stats.cmd_set"].delta, 1000);
      assert.equal(f["stats.cmd_get"].delta, 2000);
      assert.equal(r.sent, 3000);
    } finally {
      await Deno.remove(path);
    }
  },
);

loadTest("scenario phases carry server.* metrics that thresholds can use", async () => {
  const outDir = await Deno.makeTempDir({ prefix: "membench-server-metrics-" });
  try {
    const r = await runScenario(
      "server-metrics",
      { server: "redis", seed: 1, outDir, history: false, print: "none" },
      async (run) => {
        await run.bench({
          tests: ["set"],
          requests: 1500,
          clients: 2,
          keyspace: 50,
          thresholds: [
            "server.cmd.set.calls == 1500",
            "server.evicted_keys == 0",
            "server.imbalance.max < 20%",
            "server.cmd.set.usec_per_call < 1000",
            "server.used_memory.growth < 64MiB",
          ],
        });
        await run.bench({
          name: "failing",
          tests: ["get"],
          requests: 500,
          clients: 2,
          thresholds: ["server.cmd.get.calls == 499"],
        });
      },
    );
    assert.equal(r.phases.length, 2, JSON.stringify(r.error));
    const ok = r.phases[0]!;
    const failing = r.phases[1]!;
    // The history keeps the server figures, and comparing two runs compares them.
    const again = await runScenario(
      "server-metrics",
      { server: "redis", seed: 1, outDir, history: `${outDir}/h.db`, print: "none" },
      async (run) => {
        await run.bench({ tests: ["set"], requests: 1500, clients: 2, keyspace: 50 });
      },
    );
    const twice = await runScenario(
      "server-metrics",
      { server: "redis", seed: 1, outDir, history: `${outDir}/h.db`, print: "none" },
      async (run) => {
        await run.bench({ tests: ["set"], requests: 3000, clients: 2, keyspace: 50 });
      },
    );
    using h = ResultsHistory.open(`${outDir}/h.db`);
    const calls = h.compareRuns(again.history!.runId, twice.history!.runId)
      .find((c) => c.metric === "server.cmd.set.calls");
    assert.ok(calls, "server.cmd.set.calls is compared");
    assert.equal(calls.a, 1500);
    assert.equal(calls.b, 3000);
    assert.ok(ok.state === "passed", JSON.stringify(ok));
    assert.equal(ok.thresholds.length, 5);
    assert.ok(ok.thresholds.every((t) => t.pass));
    assert.ok(failing.state === "failed", JSON.stringify(failing));
    assert.equal(failing.thresholds[0]!.value, 500);
  } finally {
    await Deno.remove(outDir, { recursive: true });
  }
});

loadTest(
  "membench bench --server-metrics: per-node lines, server µs/call beside the client's, a saved snapshot compared with the next run",
  async () => {
    await using srv = await startLocalServer("redis");
    const dir = await Deno.makeTempDir({ prefix: "membench-snap-" });
    try {
      const args = ["bench", "-p", String(srv.port), "-t", "set,get", "-n", "3000", "-c", "4"];
      const a = await runCli([
        ...args,
        "--server-metrics",
        "--metrics-snapshot",
        `${dir}/a.json`,
        "--server-csv",
        `${dir}/a.csv`,
        "--server-html",
        `${dir}/a.html`,
        "--metrics-interval",
        "100ms",
      ]);
      assert.equal(a.code, 0, a.stderr);
      assert.match(a.stdout, new RegExp(`server side over [0-9.]+ s \\(1 node\\)`));
      assert.match(a.stdout, new RegExp(`127\\.0\\.0\\.1:${srv.port}: [0-9,]+ cmd/s, cpu \\d+%`));
      assert.match(a.stdout, /server µs\/call \| client service µs/);
      assert.match(a.stdout, /^\s+set\s+[0-9.]+ \|/m);
      const csv = (await Deno.readTextFile(`${dir}/a.csv`)).trimEnd().split("\n");
      assert.equal(
        csv[0],
        "part,node,field,kind,before,after,delta,rate,first,last,min,max,growth,value",
      );
      const setRow = csv.find((l) =>
        l.startsWith(`set,127.0.0.1:${srv.port},cmd.set.calls,counter,`)
      );
      assert.ok(setRow, csv.slice(0, 5).join("\n"));
      assert.equal(setRow.split(",")[6], "3000");
      const saved = await readServerSnapshot(`${dir}/a.json`);
      // The HTML page, as headless Chromium renders it: the table's numbers and every chart point
      // equal the saved figures.
      const { dom, log } = await chromium(`${dir}/a.html`);
      const setNode = saved.reports["set"]!.nodes[0]!;
      const ops = dom.match(
        /<td class="fig" data-node="[^"]+" data-name="ops_per_sec" data-value="([\d.e+-]+)"/,
      );
      assert.ok(
        ops,
        `page ${Deno.statSync(`${dir}/a.html`).size} bytes: ${log.slice(-600)}`,
      );
      const opsField = setNode.fields["stats.total_commands_processed"];
      assert.ok(opsField?.kind === "counter");
      assert.equal(Number(ops[1]), opsField.rate);
      const points = [
        ...dom.matchAll(
          /class="point" data-series="commands per second" data-node="[^"]+" data-x="([\d.e+-]+)" data-y="([\d.e+-]+)"/g,
        ),
      ]
        .map((m) => [Number(m[1]), Number(m[2])]);
      const setReport = saved.reports["set"]!;
      const expected = setNode.timeline.map((t) => [(t.tUs - setReport.fromUs) / 1e6, t.opsPerSec]);
      const getExpected = saved.reports["get"]!.nodes[0]!.timeline.length;
      assert.ok(setNode.timeline.length >= 1);
      assert.equal(points.length, setNode.timeline.length + getExpected);
      assert.deepEqual(points.slice(0, expected.length), expected);
      assert.deepEqual(Object.keys(saved.reports), ["set", "get"]);
      const calls = saved.reports["set"]!.nodes[0]!.fields["cmd.set.calls"];
      assert.ok(calls?.kind === "counter" && calls.delta === 3000);
      // The second run with twice the requests: the deltas double, and the comparison says so.
      const twice = ["bench", "-p", String(srv.port), "-t", "set,get", "-n", "6000", "-c", "4"];
      const b = await runCli([...twice, "--compare-snapshot", `${dir}/a.json`, "--json", "-"]);
      assert.equal(b.code, 0, b.stderr);
      const j = JSON.parse(b.stdout.slice(0, b.stdout.lastIndexOf("}\n") + 1));
      assert.equal(j.tests[0].server.nodes[0].fields["cmd.set.calls"].delta, 6000);
      assert.match(b.stdout, /server figures against/);
      assert.match(b.stdout, /cmd\.set\.calls delta: 3,000(\.00)? -> 6,000(\.00)? \(\+100\.0%\)/);
      // A bad tracked field: exit 2 before any load, naming the field.
      const c = await runCli([...args, "--track-metric", "memory.used_memroy"]);
      assert.equal(c.code, 2, c.stdout + c.stderr);
      assert.match(c.stderr, /memory\.used_memroy/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("server metrics: FT.INFO of an index in use (RediSearch): num_docs and indexing failures as the server counts them", async () => {
  const module = new URL("../../shared/servers/redisearch-2.6/redisearch.so", import.meta.url)
    .pathname;
  await using srv = await startLocalServer("redis", { modules: [{ path: module }] });
  const t = parseTarget(srv.address);
  using c = await RespConnection.open(t);
  await c.command(
    [
      "FT.CREATE",
      "idx",
      "ON",
      "HASH",
      "PREFIX",
      "1",
      "d:",
      "SCHEMA",
      "v",
      "VECTOR",
      "FLAT",
      "6",
      "TYPE",
      "FLOAT32",
      "DIM",
      "2",
      "DISTANCE_METRIC",
      "L2",
    ],
  );
  const mon = await ServerMonitor.start({
    nodes: [{ target: t, kind: "redis" }],
    indexes: ["idx", "missing"],
    intervalMs: 0,
  });
  const good = new Uint8Array(new Float32Array([1, 2]).buffer);
  for (let i = 0; i < 5; i++) await c.command(["HSET", `d:${i}`, "v", good]);
  await c.command(["HSET", "d:bad", "v", new Uint8Array(3)]); // wrong length: left out of the index
  const { report } = await mon.stop();
  const f = report.nodes[0]!.fields;
  assert.equal(
    report.nodes[0]!.errors.length,
    0,
    "an index that does not exist is not a node failure",
  );
  assert.ok(
    f["ft.idx.num_docs"]?.kind === "gauge",
    JSON.stringify(Object.keys(f).filter((k) => k.startsWith("ft."))),
  );
  assert.equal(f["ft.idx.num_docs"].last, 5);
  assert.equal(f["ft.idx.num_docs"].growth, 5);
  assert.ok(f["ft.idx.hash_indexing_failures"]?.kind === "counter");
  assert.equal(f["ft.idx.hash_indexing_failures"].delta, 1);
});

Deno.test("server metrics: a vector load carries its server's figures (hset calls, the index's num_docs) when asked", async () => {
  const module = new URL("../../shared/servers/redisearch-2.6/redisearch.so", import.meta.url)
    .pathname;
  const base = new URL("../../shared/data/ngt-sift5k/sift5k_base.fvecs", import.meta.url).pathname;
  await using srv = await startLocalServer("redis", { modules: [{ path: module }] });
  const signal = AbortSignal.timeout(60_000);
  const l = await vectorLoad({
    target: srv.address,
    dataset: base,
    numVectors: 500,
    index: { algorithm: "FLAT", name: "sm_idx" },
    clients: 2,
    serverMetrics: { intervalMs: 0 },
    signal,
  });
  const f = l.server!.nodes[0]!.fields;
  assert.ok(
    f["cmd.hset.calls"]?.kind === "counter" && f["cmd.hset.calls"].delta === 500,
    JSON.stringify(f["cmd.hset.calls"]),
  );
  assert.ok(
    f["ft.sm_idx.num_docs"]?.kind === "gauge",
    Object.keys(f).filter((k) => k.startsWith("ft.")).join(","),
  );
  assert.equal(f["ft.sm_idx.num_docs"].last, 500);
  const q = await vectorQuery({
    target: srv.address,
    dataset: base,
    index: { algorithm: "FLAT", name: "sm_idx" },
    segments: l.segments,
    numQueries: 20,
    clients: 1,
    truthThreads: 0,
    serverMetrics: true,
    signal,
  });
  const qf = q.server!.nodes[0]!.fields;
  assert.ok(
    qf["cmd.ft.search.calls"]?.kind === "counter",
    Object.keys(qf).filter((k) => k.startsWith("cmd.")).join(","),
  );
  // The queries, and the one FT.SEARCH with which vec-query checks the index's dimension first
  // (RediSearch 2.6's FT.INFO does not show it).
  assert.equal(qf["cmd.ft.search.calls"].delta, q.sent + 1);
  assert.equal(q.server!.nodes[0]!.fields["ft.sm_idx.num_docs"]?.kind, "gauge");
});

loadTest(
  "the server report's client peak: the server's own count while sampled, and said when not sampled",
  async () => {
    await using srv = await startLocalServer("redis");
    const port = String(srv.port);
    // A load far shorter than the 1 s metrics interval: no snapshot falls inside it.
    const short = await runCli([
      "bench",
      "-p",
      port,
      "-t",
      "set",
      "-n",
      "200",
      "-c",
      "4",
      "--server-metrics",
    ]);
    assert.equal(short.code, 0, short.stderr);
    assert.match(short.stdout, /clients not sampled during the load/);
    assert.doesNotMatch(short.stdout, /clients 1 at most/);
    // Sampled every 100 ms over 1.5 s: the server counted the 6 load connections (and its probe).
    const long = await runCli([
      "bench",
      "-p",
      port,
      "-t",
      "set",
      "--duration",
      "1.5s",
      "--rate",
      "2000",
      "-c",
      "6",
      "--server-metrics",
      "--metrics-interval",
      "100ms",
    ]);
    assert.equal(long.code, 0, long.stderr);
    const peak = Number(/clients (\d+) at most/.exec(long.stdout)?.[1]);
    assert.ok(peak >= 6 && peak <= 8, long.stdout);
  },
);
