// scenarios/vss-recall.ts run as users run it (`deno run -A`), against RediSearch 2.6.37 from
// ../shared/servers: with a module path (it starts its own server), with MEMBENCH_TARGET (the
// server's counters must match what the summary says was sent), and with neither (a clear
// error, exit code 2).
import assert from "node:assert/strict";
import { EXIT, type ScenarioResult, startLocalServer } from "../mod.ts";
import { commandStats, loadTest } from "./helpers.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const MODULE = new URL("../../shared/servers/redisearch-2.6/redisearch.so", import.meta.url)
  .pathname;

async function runVss(env: Record<string, string>) {
  const outDir = await Deno.makeTempDir({ prefix: "membench-vss-test-" });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", ROOT + "scenarios/vss-recall.ts"],
      cwd: outDir,
      // Nothing from the caller's environment chooses the server: only what the test sets.
      clearEnv: true,
      env: { PATH: Deno.env.get("PATH") ?? "", HOME: outDir, MEMBENCH_OUT_DIR: outDir, ...env },
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(120_000),
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    const stderr = new TextDecoder().decode(out.stderr);
    const files = [...Deno.readDirSync(outDir)].filter((e) => e.name.endsWith(".json"));
    assert.equal(files.length, 1, stdout + stderr);
    const summary = JSON.parse(
      await Deno.readTextFile(`${outDir}/${files[0]!.name}`),
    ) as ScenarioResult;
    return { code: out.code, stdout, stderr, summary };
  } finally {
    await Deno.remove(outDir, { recursive: true });
  }
}

loadTest(
  "scenarios/vss-recall.ts with MEMBENCH_SEARCH_MODULE starts its server, loads, queries at two EF_RUNTIME values and passes",
  async () => {
    const r = await runVss({ MEMBENCH_SEARCH_MODULE: MODULE });
    assert.equal(r.code, EXIT.ok, r.stdout + r.stderr);
    const s = r.summary;
    assert.equal(s.status, "passed");
    assert.deepEqual(s.localServers.map((x) => x.kind), ["redis"]);
    assert.deepEqual(s.phases.map((p) => [p.name, p.kind, p.state]), [
      ["load", "vector-load", "passed"],
      ["query-ef10", "vector-query", "passed"],
      ["query-ef100", "vector-query", "passed"],
    ]);
    const metrics = (name: string) => {
      const p = s.phases.find((x) => x.name === name)!;
      assert.ok(p.state !== "error");
      return p.metrics;
    };
    assert.equal(metrics("load")["index.failures"]!.value, 0);
    assert.equal(metrics("load")["load.vectors"]!.value, 20_000);
    assert.ok(metrics("load")["load.vectors_per_s"]!.value > 0);
    assert.ok(metrics("query-ef100")["recall.mean"]!.value >= 0.95);
    assert.ok(
      metrics("query-ef100")["recall.mean"]!.value >= metrics("query-ef10")["recall.mean"]!.value,
    );
    assert.ok(metrics("query-ef10")["query.p99"]!.value > 0);
    assert.equal(metrics("query-ef10")["queries"]!.value, 2000);
    assert.deepEqual(s.checks.map((c) => [c.name, c.pass]), [[
      "recall rises with EF_RUNTIME",
      true,
    ]]);
    assert.match(r.stdout, /scenario vss-recall: PASSED/);
  },
);

loadTest(
  "scenarios/vss-recall.ts with MEMBENCH_TARGET uses that server, whose counters match the summary",
  async () => {
    await using server = await startLocalServer("redis", { modules: [{ path: MODULE }] });
    const r = await runVss({ MEMBENCH_TARGET: server.address });
    assert.equal(r.code, EXIT.ok, r.stdout + r.stderr);
    assert.deepEqual(r.summary.localServers, []);
    const stats = await commandStats(server.address);
    // Every HSET of the load; every query of both phases, plus one dimension probe per phase.
    assert.equal(stats["hset"], 20_000);
    assert.equal(stats["ft.search"], 2 * 2000 + 2);
    assert.equal(r.summary.phases[0]!.servers[0]!.target, server.address);
  },
);

Deno.test("scenarios/vss-recall.ts without a module or a target says what to set (exit code 2)", async () => {
  const r = await runVss({});
  assert.equal(r.summary.status, "error");
  assert.equal(r.code, EXIT.usage, r.stdout + r.stderr);
  assert.match(
    r.summary.error!.message,
    /Cannot run vss-recall: there is no server with a search module/,
  );
  assert.match(r.summary.error!.hint!, /MEMBENCH_SEARCH_MODULE=\/path\/to\/redisearch\.so/);
  assert.equal(r.summary.phases.length, 0);
});
