import assert from "node:assert/strict";
import {
  EXIT,
  formatScenarioText,
  McConnection,
  parseTarget,
  ResultsHistory,
  runScenario,
  type ScenarioResult,
  startLocalServer,
} from "../mod.ts";
import { commandStats, exclusiveLoad, info, loadTest, runCli } from "./helpers.ts";

const ROOT = new URL("../", import.meta.url).pathname;

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
  summary: ScenarioResult;
  summaryText: string;
  outDir: string;
}

/**
 * Runs a scenario file as users do (`deno run -A file`) with its output in a fresh folder.
 * `act` runs `afterMs` after stdout first shows `on` (a phase started), however slowly the
 * process got there: Ctrl+C, or a stall of the server.
 */
async function runScenarioFile(
  file: string,
  env: Record<string, string> = {},
  opts: { act?: { on: RegExp; afterMs: number; run?: (child: Deno.ChildProcess) => void } } = {},
): Promise<Ran> {
  const outDir = await Deno.makeTempDir({ prefix: "membench-scenario-" });
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ROOT + file],
    cwd: outDir,
    env: { MEMBENCH_OUT_DIR: outDir, ...env },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const collect = async (stream: ReadableStream<Uint8Array>, watch?: RegExp) => {
    let text = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      text += chunk;
      const act = opts.act;
      if (watch && act && timer === undefined && watch.test(text)) {
        timer = setTimeout(() => (act.run ?? ((c) => c.kill("SIGINT")))(child), act.afterMs);
      }
    }
    return text;
  };
  // Every scenario here is bounded; this guard only turns a hang into a failure.
  const guard = setTimeout(() => child.kill("SIGKILL"), 90_000);
  const [stdout, stderr, status] = await Promise.all([
    collect(child.stdout, opts.act?.on),
    collect(child.stderr),
    child.status,
  ]);
  const out = { code: status.code, stdout, stderr };
  clearTimeout(guard);
  if (timer !== undefined) clearTimeout(timer);
  const files = [...Deno.readDirSync(outDir)].filter((e) => e.name.endsWith(".json"));
  assert.equal(files.length, 1, `one JSON summary in ${outDir}: ${files.map((f) => f.name)}`);
  const summaryText = await Deno.readTextFile(`${outDir}/${files[0]!.name}`);
  return {
    code: out.code,
    stdout: out.stdout,
    stderr: out.stderr,
    summary: JSON.parse(summaryText),
    summaryText,
    outDir,
  };
}

function sentOf(s: ScenarioResult): number {
  let n = 0;
  for (const p of s.phases) {
    if (p.state === "error" || p.kind !== "bench") continue;
    for (const t of (p.result as { tests: Array<{ sent: number }> }).tests) n += t.sent;
  }
  return n;
}

loadTest(
  "scenarios/quickstart.ts passes against a real redis-server, and the server saw every request",
  async () => {
    await using server = await startLocalServer("redis");
    const r = await exclusiveLoad(() =>
      runScenarioFile("scenarios/quickstart.ts", { MEMBENCH_TARGET: server.address })
    );
    assert.equal(r.code, EXIT.ok, r.stdout + r.stderr);
    const s = r.summary;
    assert.equal(s.status, "passed");
    assert.equal(s.exitCode, 0);
    assert.deepEqual(s.phases.map((p) => [p.name, p.kind, p.state]), [
      ["set-get", "bench", "passed"],
      ["mix", "bench", "passed"],
    ]);
    // Thresholds pass; warnings (advisory) may not on a busy machine, but each has a value.
    const [limits, warnings] = [
      s.thresholds.filter((t) => !t.advisory),
      s.thresholds.filter((t) => t.advisory),
    ];
    assert.equal(limits.length, 7);
    assert.ok(limits.every((t) => t.pass && typeof t.value === "number"));
    assert.deepEqual(warnings.map((t) => t.threshold), ["client_late_ratio < 5%", "ops >= 15k"]);
    assert.ok(warnings.every((t) => typeof t.value === "number"));
    assert.ok(s.checks.length === 1 && s.checks[0]!.pass);
    // The server's own counters: every SET and GET the summary says was sent.
    const stats = await commandStats(server.address);
    assert.equal((stats["set"] ?? 0) + (stats["get"] ?? 0), sentOf(s));
    // The journal knows the server's version.
    const version = (await info(server.address, "server"))["redis_version"];
    const p0 = s.phases[0]!;
    assert.equal(p0.servers[0]!.version, version);
    assert.equal(s.options["target"], server.address);
    assert.match(r.stdout, /scenario quickstart: PASSED/);
  },
);

loadTest(
  "scenarios/quickstart.ts fails when the server stalls for 400 ms, and says the server held the sends",
  async () => {
    await using server = await startLocalServer("redis");
    // SIGSTOP the server a second into the open-loop mix, for 400 ms.
    const stall = Promise.withResolvers<void>();
    const r = await runScenarioFile(
      "scenarios/quickstart.ts",
      { MEMBENCH_TARGET: server.address },
      {
        act: {
          on: /▶ bench mix/,
          afterMs: 1000,
          run: () => {
            Deno.kill(server.pid, "SIGSTOP");
            setTimeout(() => {
              Deno.kill(server.pid, "SIGCONT");
              stall.resolve();
            }, 400);
          },
        },
      },
    );
    await stall.promise;
    assert.equal(r.code, EXIT.threshold, r.stdout + r.stderr);
    const byText = Object.fromEntries(
      r.summary.thresholds.filter((t) => t.phase === "mix").map((t) => [t.threshold, t]),
    );
    // Latency from the intended send time shows the stall (its p99 is among the held sends).
    assert.equal(byText["get.p99 < 50ms"]!.pass, false);
    assert.ok(byText["get.p99 < 50ms"]!.value! > 100_000, `${byText["get.p99 < 50ms"]!.value}`);
    // The held sends waited on the server: few are counted as membench's own lag.
    const mix = r.summary.phases.find((p) => p.name === "mix")!;
    assert.ok(mix.state !== "error");
    const late = mix.metrics["late"]!.value, client = mix.metrics["late_client"]!.value;
    assert.ok(late > 2000, `late ${late}`);
    assert.ok(client < late / 2, `late ${late}, with a free connection ${client}`);
    assert.match(r.stdout, /FAILED mix: get\.p99 < 50ms/);
  },
);

loadTest(
  "scenarios/redis-mix.ts passes its latency thresholds in open loop against a real redis-server",
  async () => {
    await using server = await startLocalServer("redis");
    const r = await exclusiveLoad(() =>
      runScenarioFile("scenarios/redis-mix.ts", { MEMBENCH_TARGET: server.address })
    );
    assert.equal(r.code, EXIT.ok, r.stdout + r.stderr);
    const s = r.summary;
    assert.equal(s.status, "passed");
    const mix = s.phases.find((p) => p.name === "mix")!;
    assert.equal(mix.state, "passed");
    assert.equal(mix.thresholds.filter((t) => !t.advisory).length, 5);
    assert.equal(mix.thresholds.filter((t) => t.advisory).length, 2);
    assert.equal(mix.metrics["get.p99"]!.kind, "time");
    // Open loop at 10k/s for 5 s after a 1 s warm-up: the schedule's requests were all sent, late
    // or not (a send that falls behind keeps its intended time instead of being dropped).
    assert.ok(mix.metrics["requests"]!.value >= 49_000, `${mix.metrics["requests"]!.value}`);
    const stats = await commandStats(server.address);
    assert.equal(
      (stats["set"] ?? 0) + (stats["get"] ?? 0) + (stats["incr"] ?? 0),
      sentOf(s),
      JSON.stringify(stats),
    );
    assert.equal(
      Number((await info(server.address, "keyspace"))["db0"]?.match(/keys=(\d+)/)?.[1]) >= 50_000,
      true,
    );
  },
);

loadTest(
  "scenarios/memcache-replay.ts records, analyzes and replays the sample against a real memcached",
  async () => {
    await using server = await startLocalServer("memcached");
    const r = await exclusiveLoad(() =>
      runScenarioFile("scenarios/memcache-replay.ts", {
        MEMBENCH_TARGET: `memcache://${server.address}`,
      })
    );
    assert.equal(r.code, EXIT.ok, r.stdout + r.stderr);
    const s = r.summary;
    assert.deepEqual(s.phases.map((p) => [p.name, p.state]), [
      ["record", "passed"],
      ["analyze", "passed"],
      ["replay", "passed"],
    ]);
    const rec = s.phases[0]!, rep = s.phases[2]!;
    assert.ok(rec.state !== "error" && rep.state !== "error");
    assert.equal(rec.metrics["events"]!.value, 2401);
    assert.equal(rec.metrics["get.count"]!.value, 2149);
    const result = rep.result as { sent: number; warmup: { sent: number } };
    assert.equal(result.sent, 2401);
    // memcached's own counters: each recorded get once, each recorded set once plus the warm-up.
    using c = await McConnection.open(parseTarget(server.address));
    const st = await c.stats();
    assert.equal(Number(st["cmd_get"]), 2149);
    assert.equal(Number(st["cmd_set"]), 252 + result.warmup.sent);
    assert.equal(rep.servers[0]!.kind, "memcached");
    assert.equal(rep.servers[0]!.version, st["version"]);
    // The HTML report was written next to the summary.
    assert.match(await Deno.readTextFile(`${r.outDir}/memcache-replay.html`), /<svg/);
  },
);

loadTest(
  "scenario() with failing thresholds and checks exits with the threshold code, hooks in order",
  async () => {
    const r = await runScenarioFile("tests/fixtures/scenario_fixture.ts", {
      FIXTURE_MODE: "threshold-fail",
    });
    assert.equal(r.code, EXIT.threshold, r.stdout + r.stderr);
    const s = r.summary;
    assert.equal(s.status, "failed");
    assert.equal(s.exitCode, EXIT.threshold);
    const byText = Object.fromEntries(s.thresholds.map((t) => [t.threshold, t]));
    assert.equal(byText["get.p99 < 1us"]!.pass, false);
    assert.ok(byText["get.p99 < 1us"]!.value! >= 1);
    assert.equal(byText["errors == 0"]!.pass, true);
    assert.equal(byText["hit_ratio >= 99%"]!.pass, true); // the warm phase stored every key
    assert.equal(byText["server.nosuch_field < 1"]!.pass, false);
    assert.match(
      byText["server.nosuch_field < 1"]!.reason!,
      /no metric named server\.nosuch_field; some that exist: .*server\./,
    );
    assert.equal(byText["ops > 1"]!.pass, false);
    assert.match(byText["ops > 1"]!.reason!, /no phase named never-ran ran/);
    assert.deepEqual(s.checks.map((c) => [c.name, c.pass]), [
      ["side by side", true],
      ["a check that passes", true],
      ["a check that fails", false],
      ["a check that throws", false],
    ]);
    assert.match(s.checks[3]!.detail!, /threw: boom/);
    const phases = s.phases.map((p) => [p.name, p.kind, p.state].join(" "));
    assert.deepEqual(phases.slice(0, 2), ["warm bench passed", "flush step passed"]);
    assert.deepEqual(phases.slice(2, 4).sort(), ["par-a bench passed", "par-b bench passed"]);
    assert.deepEqual(phases.slice(4), ["reads bench failed"]);
    assert.deepEqual(s.logs, ["order setup,main:41,teardown:41"]);
    assert.match(r.stdout, /FAILED reads: get\.p99 < 1us \(value /);
    // The run is in the history with its checks.
    using h = ResultsHistory.open(`${r.outDir}/history.db`);
    const runs = h.listRuns();
    assert.equal(runs.length, 1);
    assert.equal(runs[0]!.status, "failed");
    assert.equal(runs[0]!.exitCode, EXIT.threshold);
    assert.equal(runs[0]!.failed, 5);
    const detail = h.getRun(runs[0]!.id);
    assert.equal(detail.phases.length, 5);
    assert.equal(detail.phases[4]!.name, "reads");
    assert.ok(detail.journal.some((j) => j.kind === "server"));
    assert.equal(detail.journal.at(-1)!.kind, "end");
  },
);

loadTest(
  "scenario() reports every invalid option at once, runs nothing and exits with the usage code",
  async () => {
    const r = await runScenarioFile("tests/fixtures/scenario_fixture.ts", {
      FIXTURE_MODE: "invalid",
    });
    assert.equal(r.code, EXIT.usage, r.stdout + r.stderr);
    const s = r.summary;
    assert.equal(s.status, "invalid");
    assert.equal(s.phases.length, 0);
    assert.equal(s.problems!.length, 4, s.problems!.join("\n"));
    const all = s.problems!.join("\n");
    assert.match(all, /Cannot use option 'sed': there is no such option \(did you mean 'seed'\?\)/);
    assert.match(
      all,
      /Cannot use option 'seed': must be an integer in 0\.\.4294967295: current value is -1/,
    );
    assert.match(all, /Cannot use option 'server': must be "redis" or "memcached"/);
    assert.match(
      all,
      /Cannot parse threshold "get\.p99 < 2": get\.p99 is a time: give a time unit/,
    );
    for (const p of s.problems!) assert.ok(r.stderr.includes(p.split("\n")[0]!), p);
  },
);

loadTest(
  "scenario() stops cleanly on SIGINT with a partial summary and exit code 130",
  async () => {
    const t0 = Date.now();
    const r = await runScenarioFile(
      "tests/fixtures/scenario_fixture.ts",
      { FIXTURE_MODE: "long" },
      // Ctrl+C a second into the 60 s bench phase.
      { act: { on: /▶ bench/, afterMs: 1000 } },
    );
    assert.equal(r.code, EXIT.interrupted, r.stdout + r.stderr);
    assert.ok(Date.now() - t0 < 20_000, "stopped long before the 60 s bench would end");
    const s = r.summary;
    assert.equal(s.status, "interrupted");
    const p = s.phases[0]!;
    assert.equal(p.state, "interrupted");
    const res = p.result as { interrupted: boolean; tests: Array<{ requests: number }> };
    assert.equal(res.interrupted, true);
    assert.ok(res.tests[0]!.requests > 0, "the partial result has the requests made");
    assert.equal(s.checks.length, 0, "the scenario did not go on after the interrupted phase");
  },
);

loadTest(
  "scenario(): a second Ctrl+C ends the process at once with status 130, whatever the scenario waits on",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "membench-scenario-" });
    // A step that ignores the scenario's signal: after the first Ctrl+C the scenario would wait
    // a minute for it to end; the second must not.
    await Deno.writeTextFile(
      `${dir}/stuck.ts`,
      `import { scenario } from ${JSON.stringify(new URL("../mod.ts", import.meta.url).href)};
await scenario("stuck", { seed: 1 }, async (run) => {
  await run.step("stuck", () => new Promise((r) => setTimeout(r, 60_000)));
});
`,
    );
    const child = new Deno.Command(Deno.execPath(), {
      // The repository's config: its import map, outside its folder.
      args: ["run", "-A", "--config", ROOT + "deno.json", `${dir}/stuck.ts`],
      cwd: dir,
      env: { MEMBENCH_OUT_DIR: dir },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const guard = setTimeout(() => child.kill("SIGKILL"), 60_000);
    let stdout = "";
    const seen: Array<{ re: RegExp; resolve: () => void }> = [];
    const shows = (re: RegExp) =>
      re.test(stdout) ? Promise.resolve() : new Promise<void>((resolve) => {
        seen.push({ re, resolve });
      });
    const pumps = Promise.all([
      (async () => {
        for await (const text of child.stdout.pipeThrough(new TextDecoderStream())) {
          stdout += text;
          for (const w of seen.splice(0)) {
            if (w.re.test(stdout)) w.resolve();
            else seen.push(w);
          }
        }
        for (const w of seen.splice(0)) w.resolve(); // the process ended: stop waiting
      })(),
      new Response(child.stderr).text(),
    ]);
    let exited = false;
    const status = child.status.then((s) => {
      exited = true;
      return s;
    });
    try {
      await shows(/▶ step stuck/);
      child.kill("SIGINT");
      await shows(/interrupted: stopping the scenario \(partial results are kept\)/);
      // The first Ctrl+C only stops the scenario, which waits on its step.
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(exited, false, `ended on the first Ctrl+C:\n${stdout}`);
      const t0 = Date.now();
      child.kill("SIGINT");
      const s = await status;
      const [, stderr] = await pumps;
      assert.equal(s.code, EXIT.interrupted, stdout + stderr);
      assert.equal(s.signal, "SIGINT");
      assert.ok(Date.now() - t0 < 5_000, `ended ${Date.now() - t0} ms after the second Ctrl+C`);
      // At once: no summary was written.
      assert.deepEqual(
        [...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".json")).map((e) => e.name),
        [],
      );
    } finally {
      clearTimeout(guard);
      if (!exited) child.kill("SIGKILL");
      await status;
      await pumps;
    }
  },
);

loadTest(
  "scenario() never writes a password or a salt: terminal, JSON summary and history",
  async () => {
    const password = "Pw-9c1e7b-" + crypto.randomUUID().slice(0, 8);
    const salt = "Salt-" + crypto.randomUUID().slice(0, 12);
    await using server = await startLocalServer("redis", { args: ["--requirepass", password] });
    const r = await runScenarioFile("tests/fixtures/scenario_fixture.ts", {
      FIXTURE_MODE: "secret",
      FIXTURE_SALT: salt,
      MEMBENCH_TARGET: `redis://:${password}@${server.address}`,
    });
    assert.equal(r.code, EXIT.ok, r.stdout + r.stderr);
    assert.equal(r.summary.options["target"], `redis://:***@${server.address}`);
    assert.equal(
      r.summary.phases[0]!.servers[0]!.version !== undefined,
      true,
      "probed with the password",
    );
    const files = [...Deno.readDirSync(r.outDir)].map((e) => `${r.outDir}/${e.name}`);
    const haystacks = [r.stdout, r.stderr, r.summaryText];
    for (const f of files) haystacks.push(new TextDecoder("latin1").decode(await Deno.readFile(f)));
    for (const h of haystacks) {
      assert.ok(!h.includes(password), "password leaked");
      assert.ok(!h.includes(salt), "salt leaked");
    }
    const stats = await commandStats(server.address, password);
    assert.equal(stats["set"], 1000);
  },
);

loadTest("scenario() with an unreachable target exits with the connection code", async () => {
  const r = await runScenarioFile("tests/fixtures/scenario_fixture.ts", {
    FIXTURE_MODE: "unreachable",
  });
  assert.equal(r.code, EXIT.connection, r.stdout + r.stderr);
  assert.equal(r.summary.status, "error");
  assert.equal(r.summary.error!.code, "connection");
  assert.match(r.stderr, /127\.0\.0\.1:1/);
});

loadTest("membench history lists, shows and compares scenario runs", async () => {
  const r1 = await runScenarioFile("tests/fixtures/scenario_fixture.ts", {
    FIXTURE_MODE: "threshold-fail",
  });
  const db = `${r1.outDir}/history.db`;
  // A second run into the same history.
  const again = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ROOT + "tests/fixtures/scenario_fixture.ts"],
    env: { MEMBENCH_OUT_DIR: r1.outDir, FIXTURE_MODE: "threshold-fail" },
    stdout: "null",
    stderr: "null",
  }).output();
  assert.equal(again.code, EXIT.threshold);
  const list = await runCli(["history", "list", "--db", db, "--json", "-"]);
  assert.equal(list.code, 0, list.stderr);
  const rows = JSON.parse(list.stdout).runs as Array<
    { id: number; scenario: string; status: string }
  >;
  assert.deepEqual(rows.map((x) => [x.scenario, x.status]), [
    ["fixture-thresholds", "failed"],
    ["fixture-thresholds", "failed"],
  ]);
  const show = await runCli(["history", "show", String(rows[1]!.id), "--db", db]);
  assert.equal(show.code, 0, show.stderr);
  // The "run again" line works as printed: its deno is a file that exists (a bare `deno` may
  // not be on PATH).
  const again2 = show.stdout.match(/run again: (\S*deno) run -A (\S*scenario_fixture\.ts)/);
  assert.ok(again2, show.stdout);
  assert.ok(Deno.statSync(again2[1]!).isFile, again2[1]);
  assert.match(show.stdout, /FAILED reads: get\.p99 < 1us/);
  const cmp = await runCli([
    "history",
    "compare",
    String(rows[1]!.id),
    String(rows[0]!.id),
    "--db",
    db,
    "--json",
    "-",
  ]);
  assert.equal(cmp.code, 0, cmp.stderr);
  type Change = { phase: string; metric: string; a: number; b: number; change?: number };
  const changes = JSON.parse(cmp.stdout).changes as Change[];
  // The values are each run's own, in the order asked: run A's from the first summary, run B's
  // from the second (the summaries are the JSON files the runs wrote, not the history).
  const summaries = [...Deno.readDirSync(r1.outDir)].filter((e) => e.name.endsWith(".json"))
    .map((e) => JSON.parse(Deno.readTextFileSync(`${r1.outDir}/${e.name}`)) as ScenarioResult);
  assert.equal(summaries.length, 2);
  const first = summaries.find((x) => x.startedAt === r1.summary.startedAt)!;
  const second = summaries.find((x) => x !== first)!;
  const metricOf = (x: ScenarioResult, phase: string, metric: string) => {
    const p = x.phases.find((q) => q.name === phase)!;
    assert.ok(p.state !== "error");
    return p.metrics[metric]!.value;
  };
  let differing = 0;
  for (const metric of ["get.p99", "get.p50", "requests", "get.hits", "ops"]) {
    const c = changes.find((x) => x.phase === "reads" && x.metric === metric)!;
    assert.ok(c, `reads.${metric} compared`);
    assert.equal(c.a, metricOf(first, "reads", metric), `reads.${metric} of run A`);
    assert.equal(c.b, metricOf(second, "reads", metric), `reads.${metric} of run B`);
    assert.ok(Math.abs(c.change! - (c.b - c.a) / c.a) < 1e-12);
    if (c.a !== c.b) differing++;
  }
  assert.ok(differing > 0, "latency differs between two runs");
  // Swapped, the values swap.
  const rev = await runCli([
    "history",
    "compare",
    String(rows[0]!.id),
    String(rows[1]!.id),
    "--db",
    db,
    "--json",
    "-",
  ]);
  const back = JSON.parse(rev.stdout).changes as Change[];
  assert.equal(back.length, changes.length);
  for (const c of changes) {
    const r = back.find((x) => x.phase === c.phase && x.metric === c.metric)!;
    assert.deepEqual([r.a, r.b], [c.b, c.a], `${c.phase}.${c.metric}`);
  }
  // The text form shows the same figures: A -> B.
  const text = await runCli([
    "history",
    "compare",
    String(rows[1]!.id),
    String(rows[0]!.id),
    "--db",
    db,
  ]);
  const hits = changes.find((x) => x.phase === "reads" && x.metric === "ops")!;
  const rate = (v: number) => `${Math.round(v).toLocaleString("en-US")}/s`;
  assert.match(text.stdout, new RegExp(`reads\\.ops +${rate(hits.a)} +-> +${rate(hits.b)} `));
  // One line per figure: a short name stands for its full one, which is not listed again.
  assert.ok(changes.some((c) => c.metric === "get.p99"));
  assert.ok(!changes.some((c) => c.metric.startsWith("get.get.")), "no full-name duplicates");
  // Largest relative change first, and a filter.
  const size = (c: Change) =>
    c.change === undefined ? (c.a === c.b ? 0 : Infinity) : Math.abs(c.change);
  for (let i = 1; i < changes.length; i++) assert.ok(size(changes[i - 1]!) >= size(changes[i]!));
  const filtered = await runCli([
    "history",
    "compare",
    String(rows[1]!.id),
    String(rows[0]!.id),
    "--db",
    db,
    "--filter",
    "p99",
    "--json",
    "-",
  ]);
  const only = JSON.parse(filtered.stdout).changes as Change[];
  assert.ok(only.length > 0 && only.every((c) => `${c.phase}.${c.metric}`.includes("p99")));
  // Runs of different scenarios share nothing: an error, not "0 shared metrics".
  const other = await runScenario(
    "other",
    { history: db, outDir: r1.outDir, print: "none" },
    () => {},
  );
  const bad = await runCli([
    "history",
    "compare",
    String(rows[0]!.id),
    String(other.history!.runId),
    "--db",
    db,
  ]);
  assert.equal(bad.code, EXIT.usage, bad.stdout + bad.stderr);
  assert.match(bad.stderr, /share no phase/);
  const missing = await runCli(["history", "show", "999", "--db", db]);
  assert.equal(missing.code, EXIT.usage);
  assert.match(missing.stderr, /Cannot find run 999/);
});

loadTest("scenarios/quickstart.ts without redis-server says what to install", async () => {
  const r = await runScenarioFile("scenarios/quickstart.ts", { PATH: "/nonexistent" });
  assert.equal(r.code, EXIT.usage, r.stdout + r.stderr);
  assert.equal(r.summary.status, "error");
  assert.match(
    r.stderr,
    /Cannot start redis-server: it is not installed; install redis-server \(Debian\/Ubuntu: apt-get install redis-server\)/,
  );
});

loadTest(
  "scenario() synthetic replay phases: the same seed gives the same digest, journaled",
  async () => {
    const r = await runScenarioFile("tests/fixtures/scenario_fixture.ts", {
      FIXTURE_MODE: "synthetic",
    });
    assert.equal(r.code, EXIT.ok, r.stdout + r.stderr);
    const [, a, b] = r.summary.phases;
    assert.equal(a!.kind, "replay");
    assert.ok(a!.state === "passed" && b!.state === "passed");
    const ra = a!.result as { synthetic: { digest: string; seed: number }; sent: number };
    const rb = b!.result as { synthetic: { digest: string; seed: number }; sent: number };
    assert.match(ra.synthetic.digest, /^[0-9a-f]{16}$/);
    assert.equal(ra.synthetic.digest, rb.synthetic.digest);
    assert.equal(ra.synthetic.seed, 9);
    assert.equal(ra.sent, rb.sent);
    assert.ok(ra.sent > 100);
    assert.equal((a!.options as { mode: string }).mode, "synthetic");
    assert.ok(r.summary.checks.every((c) => c.pass));
  },
);

loadTest(
  "scenario() timeoutMs stops a long phase and fails the run with the threshold code",
  async () => {
    const t0 = Date.now();
    const r = await runScenarioFile("tests/fixtures/scenario_fixture.ts", {
      FIXTURE_MODE: "timeout",
    });
    assert.equal(r.code, EXIT.threshold, r.stdout + r.stderr);
    assert.ok(Date.now() - t0 < 15_000);
    assert.equal(r.summary.status, "failed");
    assert.deepEqual(r.summary.checks.map((c) => [c.name, c.pass]), [
      ["finished within timeoutMs 1500", false],
    ]);
    assert.equal(r.summary.phases[0]!.state, "interrupted");
  },
);

loadTest("runScenario() in-process: phase names, duplicate names and metricsOf", async () => {
  const outDir = await Deno.makeTempDir({ prefix: "membench-scenario-" });
  let names: string[] = [];
  let dupError = "";
  const r = await runScenario(
    "in-process",
    { server: "redis", seed: 2, outDir, history: false },
    async (run) => {
      const a = await run.bench({ tests: ["set"], requests: 200, clients: 2 });
      await run.bench({ name: "bench-2", tests: ["get"], requests: 200, clients: 2 });
      await run.bench({ tests: ["get"], requests: 200, clients: 2 });
      try {
        await run.bench({ name: "bench", tests: ["ping"], requests: 10, clients: 1 });
      } catch (e) {
        dupError = (e as Error).message;
      }
      names = run.servers.map((s) => s.kind);
      run.check("metricsOf sees set.p99", run.metricsOf(a)["set.p99"]?.kind === "time");
    },
  );
  // The duplicate name threw inside the scenario's own try/catch, so the run still passed.
  assert.equal(r.status, "passed", JSON.stringify(r.error));
  assert.equal(r.exitCode, EXIT.ok);
  assert.deepEqual(r.phases.map((p) => p.name), ["bench", "bench-2", "bench-3"]);
  assert.match(dupError, /Cannot use phase name "bench" twice/);
  assert.deepEqual(names, ["redis"]);
  assert.ok(r.checks[0]!.pass);
  assert.ok(r.summaryPath!.startsWith(outDir));
  assert.equal(r.history, undefined);
  // history "off" is none, as in MEMBENCH_HISTORY: no database, not even a file named "off".
  const off = await runScenario(
    "off",
    { outDir, history: "off", seed: 1, print: "none" },
    () => {},
  );
  assert.equal(off.history, undefined);
  assert.equal(off.status, "passed");
  await assert.rejects(Deno.stat("off"), Deno.errors.NotFound);
  // Runs that start together keep their own summaries.
  const twins = await Promise.all(
    [1, 2, 3].map(() => runScenario("twin", { outDir, history: false, seed: 1 }, () => {})),
  );
  const paths = new Set(twins.map((t) => t.summaryPath!));
  assert.equal(paths.size, 3);
  for (const p of paths) assert.equal(JSON.parse(await Deno.readTextFile(p)).summaryPath, p);
});

loadTest("scenario() warnings are reported with their meaning but never fail the run", async () => {
  const outDir = await Deno.makeTempDir({ prefix: "membench-scenario-" });
  const r = await runScenario(
    "warned",
    {
      server: "redis",
      seed: 4,
      outDir,
      history: `${outDir}/h.db`,
      print: "none",
      warnings: { pings: ["ops > 1M"] },
    },
    async (run) => {
      await run.bench({
        name: "pings",
        tests: ["ping"],
        requests: 2000,
        clients: 2,
        rate: "4k/s",
        thresholds: ["errors == 0"],
        // 1 µs cannot be met: the warning fails, and only warns.
        warnings: ["ping.p99 < 1us", "late_ratio <= 100%", "late > 1M", "late_client > 1M"],
      });
    },
  );
  assert.equal(r.status, "passed", JSON.stringify(r.thresholds));
  assert.equal(r.exitCode, EXIT.ok);
  const byText = Object.fromEntries(r.thresholds.map((t) => [t.threshold, t]));
  assert.equal(byText["errors == 0"]!.pass, true);
  assert.equal(byText["errors == 0"]!.advisory, undefined);
  assert.deepEqual(
    ["ops > 1M", "ping.p99 < 1us", "late_ratio <= 100%", "late > 1M", "late_client > 1M"].map((
      k,
    ) => [byText[k]!.advisory, byText[k]!.pass]),
    [[true, false], [true, false], [true, true], [true, false], [true, false]],
  );
  assert.equal(r.phases[0]!.state, "passed");
  // A failed warning on late sends names both causes; on late sends with a free connection,
  // membench's own.
  assert.match(
    byText["late > 1M"]!.note!,
    /membench was busy, or every slot .* waiting on the server/,
  );
  assert.match(byText["late_client > 1M"]!.note!, /membench itself fell behind/);
  assert.equal(byText["ping.p99 < 1us"]!.note, undefined);
  const text = formatScenarioText(r);
  assert.match(text, /scenario warned: PASSED/);
  assert.match(text, /warnings \(reported, not failing the run\):\n {2}WARN {3}pings: ops > 1M/);
  assert.match(
    text,
    /WARN {3}pings: late_client > 1M \(value \d+\)\n +membench itself fell behind/,
  );
  assert.match(text, /1\/1 thresholds, 4 warnings/);
  // The history counts the thresholds only: the run passed with nothing failed.
  using h = ResultsHistory.open(`${outDir}/h.db`);
  const runs = h.listRuns();
  assert.deepEqual([runs[0]!.status, runs[0]!.passed, runs[0]!.failed], ["passed", 1, 0]);
});

Deno.test("a record phase that records nothing is an error of the phase, naming the ports to try", async () => {
  const outDir = await Deno.makeTempDir({ prefix: "membench-scenario-record-" });
  try {
    // Zeek's django-cloud trace: its Redis traffic is on port 10625, not a default port.
    const pcap = new URL(
      "../../shared/data/captures-public/zeek/redis/django-cloud.pcapng",
      import.meta.url,
    ).pathname;
    const r = await runScenario(
      "record-nothing",
      { outDir, history: false, print: "none", seed: 1 },
      async (run) => {
        await run.record({ pcap, salt: "s" });
      },
    );
    assert.equal(r.status, "error", JSON.stringify(r));
    assert.equal(r.exitCode, EXIT.input);
    assert.equal(r.phases[0]!.state, "error");
    assert.match(JSON.stringify(r.error ?? r.phases[0]), /10625/);
    // With the port it records the Redis traffic, and the phase passes.
    const ok = await runScenario(
      "record-port",
      { outDir, history: false, print: "none", seed: 1 },
      async (run) => {
        await run.record({ pcap, salt: "s", ports: [10625] });
      },
    );
    assert.equal(ok.status, "passed", JSON.stringify(ok.error));
  } finally {
    await Deno.remove(outDir, { recursive: true });
  }
});
