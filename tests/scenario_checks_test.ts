/**
 * Issue 23, point 8: a phase option typo (`keyPatern`) and thresholds or warnings on metrics a
 * phase cannot produce are reported before any load, all at once, with the nearest name; the
 * server's own counters show that no request was sent for them.
 */
import assert from "node:assert/strict";
import { EXIT, metricNamesOf, runScenario, type ScenarioResult, startLocalServer } from "../mod.ts";
import { commandStats, info, loadTest } from "./helpers.ts";

const MOD = new URL("../mod.ts", import.meta.url).href;
const CONFIG = new URL("../deno.json", import.meta.url).pathname;

interface Ran {
  code: number;
  out: string;
  summary: ScenarioResult;
}

/** Writes `body` as a scenario file in a fresh folder and runs it as users do (`deno run -A`). */
async function runScenarioText(body: string, env: Record<string, string>): Promise<Ran> {
  const dir = await Deno.makeTempDir({ prefix: "membench-checks-" });
  try {
    await Deno.writeTextFile(
      `${dir}/scenario.ts`,
      `import { scenario } from ${JSON.stringify(MOD)};\n${body}`,
    );
    const child = new Deno.Command(Deno.execPath(), {
      // The repository's configuration: its npm packages resolve from its node_modules.
      args: ["run", "-A", "--config", CONFIG, `${dir}/scenario.ts`],
      cwd: dir,
      env: { MEMBENCH_OUT_DIR: dir, MEMBENCH_HISTORY: "off", ...env },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    // Every scenario here sends at most a few thousand requests; this turns a hang into a failure.
    const guard = setTimeout(() => child.kill("SIGKILL"), 60_000);
    const o = await child.output();
    clearTimeout(guard);
    const td = new TextDecoder();
    const out = td.decode(o.stdout) + td.decode(o.stderr);
    const files = [...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".json"));
    assert.equal(files.length, 1, `one summary in ${dir}: ${out}`);
    return {
      code: o.code,
      out,
      summary: JSON.parse(await Deno.readTextFile(`${dir}/${files[0]!.name}`)),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

loadTest(
  "scenario(): a phase option typo and unknown metric names of every phase fail before any load, all at once",
  async () => {
    await using server = await startLocalServer("redis");
    const before = await commandStats(server.address);
    const r = await runScenarioText(
      `await scenario("typos", { seed: 1, thresholds: { reads: ["get.p99x < 5000"] } }, async (run) => {
  await run.bench({ name: "fill", tests: ["set"], requests: 1000, keyspace: 100,
    thresholds: ["erors == 0"] });
  await run.bench({ name: "reads", tests: ["get"], requests: 1000, keyspace: 100,
    keyPatern: "sequential", warnings: ["gte.p99 < 5ms"] } as never);
});
`,
      { MEMBENCH_TARGET: server.address },
    );
    assert.equal(r.code, EXIT.usage, r.out);
    assert.equal(r.summary.status, "invalid");
    assert.deepEqual(r.summary.phases, []);
    // Every problem, each with the nearest name, in one report.
    const expected = [
      /Cannot use thresholds of 'reads': no phase has a metric named get\.p99x \(did you mean get\.p99\?\)/,
      /Cannot use threshold "erors == 0" of bench phase fill: bench phases have no metric named erors \(did you mean errors\?\)/,
      /Cannot use option 'keyPatern' of bench phase reads: there is no such option \(did you mean 'keyPattern'\?\)/,
      /Cannot use warning "gte\.p99 < 5ms" of bench phase reads: bench phases have no metric named gte\.p99 \(did you mean get\.p99\?\)/,
    ];
    for (const re of expected) assert.match(r.out, re);
    assert.equal(r.summary.problems?.length, expected.length, r.summary.problems?.join("\n"));
    // The server's own counters: the first phase, valid on its own, did not run either.
    const after = await commandStats(server.address);
    assert.equal(after["set"] ?? 0, before["set"] ?? 0, JSON.stringify(after));
    assert.equal(after["get"] ?? 0, before["get"] ?? 0, JSON.stringify(after));
    assert.equal((await info(server.address, "keyspace"))["db0"], undefined);
  },
);

loadTest(
  "scenario(): a phase after a result is read checks its options and thresholds before its own load",
  async () => {
    await using server = await startLocalServer("redis");
    const before = await commandStats(server.address);
    const r = await runScenarioText(
      `await scenario("later", { seed: 1 }, async (run) => {
  const fill = await run.bench({ name: "fill", tests: ["set"], requests: 500, keyspace: 50 });
  // Reading a result ends the dry run: what follows depends on it.
  const clients = fill.tests[0]!.requests > 0 ? 4 : 1;
  await run.bench({ name: "reads", tests: ["get"], requests: 800, keyspace: 50,
    clinets: clients, thresholds: ["get.p99x < 5000", "get.hit_ratio > 0.5"] } as never);
});
`,
      { MEMBENCH_TARGET: server.address },
    );
    assert.equal(r.code, EXIT.usage, r.out);
    assert.equal(r.summary.status, "error");
    assert.deepEqual(r.summary.phases.map((p) => [p.name, p.state]), [["fill", "passed"]]);
    const msg = r.summary.error?.message ?? "";
    assert.match(
      msg,
      /Cannot use option 'clinets' of bench phase reads: there is no such option \(did you mean 'clients'\?\)/,
    );
    assert.match(msg, /no metric named get\.p99x \(did you mean get\.p99\?\)/);
    assert.equal(msg.split("\n").length, 2, msg);
    // The server saw the first phase's 500 SETs and not one GET of the second.
    const after = await commandStats(server.address);
    assert.equal((after["set"] ?? 0) - (before["set"] ?? 0), 500);
    assert.equal(after["get"] ?? 0, before["get"] ?? 0, JSON.stringify(after));
  },
);

loadTest(
  "metricNamesOf(): every metric a real bench, record and analyze produce passes the check",
  async () => {
    await using server = await startLocalServer("redis");
    const outDir = await Deno.makeTempDir({ prefix: "membench-checks-" });
    const names: Record<string, string[]> = {};
    try {
      const result = await runScenario("names", {
        target: server.address,
        outDir,
        history: false,
        handleSigint: false,
        seed: 3,
      }, async (run) => {
        const opts = {
          mix: "get:3,set:1,incr:1",
          requests: 1500,
          clients: 3,
          keyspace: 100,
          rate: "20k/s",
        };
        const a = await run.bench(opts);
        const m = run.metricsOf(a);
        names["bench"] = Object.keys(m).filter((k) => !m[k]!.ambiguous);
        // The same phase again with a threshold on every name the first one produced: none may be
        // refused before the load, and each is then evaluated against the real figure.
        await run.bench({
          ...opts,
          name: "again",
          thresholds: names["bench"].filter((k) => /^[A-Za-z0-9_\-@:.]+$/.test(k)).map((k) =>
            `${k} != -0.123456${m[k]!.kind === "time" ? "us" : m[k]!.kind === "bytes" ? "B" : ""}`
          ),
        });
        const pcap = new URL("../scenarios/data/memcache-sample.pcap", import.meta.url).pathname;
        const rec = await run.record({ pcap, ports: [11211] });
        names["record"] = Object.keys(run.metricsOf(rec));
        names["analyze"] = Object.keys(run.metricsOf(await run.analyze(rec.output)));
      });
      assert.equal(result.status, "passed", JSON.stringify(result.error ?? result.thresholds));
      assert.ok(names["bench"]!.includes("get.p99") && names["bench"]!.includes("incr.ops"));
      assert.ok(names["bench"]!.some((k) => k.startsWith("server.")));
      assert.ok(names["analyze"]!.some((k) => k.endsWith(".hit_ratio")), names["analyze"]!.join());
      for (const kind of ["record", "analyze"] as const) {
        const check = metricNamesOf(kind);
        const refused = names[kind]!.filter((k) => !check.has(k));
        assert.deepEqual(refused, [], `${kind} names refused`);
      }
      // And the check is not a pass-everything: near misses are refused, with the right name.
      const bench = metricNamesOf("bench", { tests: ["mix"], commands: ["get", "set", "incr"] });
      for (
        const [typo, near] of [
          ["get.p99x", "get.p99"],
          ["mix.get.hit_ratoi", "mix.get.hit_ratio"],
          ["lpush.p99", undefined],
          ["erors", "errors"],
        ] as const
      ) {
        assert.equal(bench.has(typo), false, typo);
        if (near) assert.equal(bench.nearest(typo), near);
      }
    } finally {
      await Deno.remove(outDir, { recursive: true });
    }
  },
);

Deno.test("a replay phase given synthetic mode's options in exact mode is refused before it runs", async () => {
  const ran = await runScenarioText(
    `await scenario("exact-opts", { server: "memcached" }, async (run) => {
  await run.replay({ profile: "missing.mbp", seed: 3, durationMs: 5000 });
});
`,
    {},
  );
  assert.equal(ran.code, EXIT.usage, ran.out);
  assert.match(ran.out, /Cannot use option 'seed' of replay phase replay in exact mode/);
  assert.match(ran.out, /Cannot use option 'durationMs' of replay phase replay in exact mode/);
});
