/**
 * Issue 23, point 13: a scenario file kept outside this repository (a temporary folder standing
 * for an application's repo) imports `membench` by its bare name and runs with `membench run`;
 * its thresholds decide the exit code honestly, the server's own counters show the load it sent,
 * Ctrl+C is passed on, and the package publishes cleanly (`deno publish --dry-run`).
 */
import assert from "node:assert/strict";
import { EXIT, type ScenarioResult, startLocalServer } from "../mod.ts";
import { commandStats, loadTest, runCli, until } from "./helpers.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const MAIN = `${ROOT}cli/main.ts`;

const SCENARIO = `import { scenario, VERSION } from "membench";

// Deno.args: the number of SETs and a threshold on the run.
const requests = Number(Deno.args[0] ?? "300");
const limit = Deno.args[1] ?? "ops > 1";
const durationMs = Deno.args[2] === undefined ? undefined : Number(Deno.args[2]);
await scenario("outside-" + VERSION, { seed: 1 }, async (run) => {
  await run.bench({
    name: "sets",
    tests: ["set"],
    clients: 2,
    keyspace: 1000,
    ...(durationMs === undefined ? { requests } : { durationMs, rate: "2k/s" }),
    thresholds: ["errors == 0", limit],
  });
});
`;

interface Spawned {
  child: Deno.ChildProcess;
  /** Resolves when stdout has matched `re`. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<void>;
  done(): Promise<{ code: number; out: string }>;
}

/** Runs `deno <args>` in `cwd`, collecting stdout and stderr together. */
function spawn(args: string[], cwd: string, env: Record<string, string> = {}): Spawned {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    env,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let out = "";
  const waiters: Array<{ re: RegExp; resolve: () => void }> = [];
  const pump = async (s: ReadableStream<Uint8Array>) => {
    for await (const t of s.pipeThrough(new TextDecoderStream())) {
      out += t;
      for (const w of waiters.splice(0)) (w.re.test(out) ? w.resolve : () => waiters.push(w))();
    }
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  // Every run here is bounded; this guard only turns a hang into a failure.
  const guard = setTimeout(() => child.kill("SIGKILL"), 60_000);
  return {
    child,
    waitFor(re, timeoutMs = 30_000) {
      if (re.test(out)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no ${re} within ${timeoutMs} ms: ${out}`)),
          timeoutMs,
        );
        waiters.push({ re, resolve: () => (clearTimeout(timer), resolve()) });
      });
    },
    async done() {
      const { code } = await child.status;
      await pumps;
      clearTimeout(guard);
      return { code, out };
    },
  };
}

/** The one JSON summary a run wrote under `dir/results`. */
async function summaryIn(dir: string): Promise<ScenarioResult> {
  const files = [...Deno.readDirSync(`${dir}/results`)].filter((e) => e.name.endsWith(".json"));
  assert.equal(files.length, 1, files.map((f) => f.name).join());
  const s = JSON.parse(await Deno.readTextFile(`${dir}/results/${files[0]!.name}`));
  await Deno.remove(`${dir}/results`, { recursive: true });
  return s;
}

async function setCalls(address: string): Promise<number> {
  return (await commandStats(address))["set"] ?? 0;
}

loadTest(
  'membench run: a scenario outside the repo imports "membench"; exit codes follow its thresholds',
  async () => {
    await using server = await startLocalServer("redis");
    const dir = await Deno.makeTempDir({ prefix: "membench-app-" });
    try {
      await Deno.writeTextFile(`${dir}/load.ts`, SCENARIO);
      // What the issue saw: plain deno cannot resolve the bare name from a foreign folder.
      const plain = await spawn(["run", "-A", "load.ts"], dir).done();
      assert.notEqual(plain.code, 0);
      assert.match(plain.out, /"membench"/);

      // Passing: the arguments after -- reach the scenario (700 SETs, as the server counts).
      let before = await setCalls(server.address);
      const ok = await spawn(
        [
          "run",
          "-A",
          MAIN,
          "run",
          "load.ts",
          "--target",
          server.address,
          "--history",
          "off",
          "--",
          "700",
          "ops > 1",
        ],
        dir,
      ).done();
      assert.equal(ok.code, EXIT.ok, ok.out);
      assert.equal((await setCalls(server.address)) - before, 700);
      let s = await summaryIn(dir);
      assert.equal(s.scenario, "outside-0.1.0");
      assert.equal(s.status, "passed");
      assert.deepEqual(s.thresholds.map((t) => [t.threshold, t.pass]), [
        ["errors == 0", true],
        ["ops > 1", true],
      ]);

      // Failing: a threshold no loopback redis meets fails the run with exit code 4, after the
      // load ran (the server counted it), with the measured value in the summary.
      before = await setCalls(server.address);
      // No -- here: the scenario's defaults, 300 SETs and "ops > 1"; the target through --env.
      const defaults = await spawn(
        ["run", "-A", MAIN, "run", "load.ts", "--env", `MEMBENCH_TARGET=${server.address}`],
        dir,
        { MEMBENCH_HISTORY: "off" },
      ).done();
      assert.equal(defaults.code, EXIT.ok, defaults.out);
      assert.equal((await setCalls(server.address)) - before, 300);
      await summaryIn(dir);
      before = await setCalls(server.address);
      const failing = await spawn(
        [
          "run",
          "-A",
          MAIN,
          "run",
          "--target",
          server.address,
          "load.ts",
          "--",
          "200",
          "ops > 1000M",
        ],
        dir,
        { MEMBENCH_HISTORY: "off" },
      ).done();
      assert.equal(failing.code, EXIT.threshold, failing.out);
      assert.match(failing.out, /FAILED sets: ops > 1000M \(value /);
      assert.equal((await setCalls(server.address)) - before, 200);
      s = await summaryIn(dir);
      assert.equal(s.status, "failed");
      const t = s.thresholds.find((x) => x.threshold === "ops > 1000M")!;
      assert.equal(t.pass, false);
      assert.ok(t.value! > 0 && t.value! < 1e9, String(t.value));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

loadTest(
  "membench run: Ctrl+C reaches the scenario once: it stops, keeps partial results, exits 130",
  async () => {
    await using server = await startLocalServer("redis");
    const dir = await Deno.makeTempDir({ prefix: "membench-app-" });
    try {
      await Deno.writeTextFile(`${dir}/load.ts`, SCENARIO);
      const before = await setCalls(server.address);
      const t0 = performance.now();
      // 20 s of paced SETs, stopped after the server has seen some.
      const p = spawn(
        [
          "run",
          "-A",
          MAIN,
          "run",
          "load.ts",
          "--target",
          server.address,
          "--history",
          "off",
          "--",
          "0",
          "ops > 1",
          "20000",
        ],
        dir,
      );
      await p.waitFor(/▶ bench sets/);
      await until(
        "the server sees SETs",
        async () => (await setCalls(server.address)) > before + 50,
      );
      // The signal goes to membench only (a terminal's Ctrl+C would too: the scenario runs in its
      // own process group), which passes it on.
      p.child.kill("SIGINT");
      const r = await p.done();
      assert.equal(r.code, EXIT.interrupted, r.out);
      assert.ok(performance.now() - t0 < 15_000, "stopped well before the 20 s phase ended");
      const s = await summaryIn(dir);
      assert.equal(s.status, "interrupted");
      assert.deepEqual(s.phases.map((x) => [x.name, x.state]), [["sets", "interrupted"]]);
      const phase = s.phases[0] as unknown as { metrics: Record<string, { value: number }> };
      const sent = phase.metrics["requests"]!.value;
      assert.ok(sent > 50, String(sent));
      // No scenario process is left behind.
      const ps = await new Deno.Command("pgrep", { args: ["-f", `${dir}/load.ts|load.ts --`] })
        .output();
      assert.equal(new TextDecoder().decode(ps.stdout).trim(), "");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("membench run: a missing file exits 5, a bad flag 2, --help lists the flags", async () => {
  const missing = await runCli(["run", "/nonexistent/load.ts"]);
  assert.equal(missing.code, EXIT.input, missing.stderr);
  assert.match(missing.stderr, /Cannot run scenario \/nonexistent\/load\.ts: no such file/);
  const bad = await runCli(["run", "--seeed", "1", "x.ts"]);
  assert.equal(bad.code, EXIT.usage);
  assert.match(bad.stderr, /Unknown flag '--seeed' \(did you mean '--seed'\?\)/);
  const env = await runCli(["run", "--env", "NOEQUALS", "x.ts"]);
  assert.equal(env.code, EXIT.usage);
  assert.match(env.stderr, /Cannot use --env "NOEQUALS": expected NAME=VALUE/);
  const help = await runCli(["run", "--help"]);
  assert.equal(help.code, 0);
  for (const f of ["--check", "--target", "--seed", "--out-dir", "--history", "--env"]) {
    assert.ok(help.stdout.includes(f), f);
  }
  const top = await runCli(["--help"]);
  assert.match(top.stdout, /\n {2}run {8}/);
});

Deno.test("membench run: a misspelt option is a type error with --check, and exit 2 before any load without", async () => {
  const dir = await Deno.makeTempDir({ prefix: "membench-app-" });
  try {
    await Deno.writeTextFile(
      `${dir}/typo.ts`,
      `import { scenario } from "membench";
await scenario("typo", { server: "redis", history: false }, async (run) => {
  await run.bench({ tests: ["set"], requests: 10, keyPatern: "sequential" });
});
`,
    );
    const checked = await spawn(["run", "-A", MAIN, "run", "--check", "typo.ts"], dir).done();
    assert.equal(checked.code, 1, checked.out);
    assert.match(checked.out, /'keyPatern' does not exist in type 'BenchPhaseOptions'/);
    // Unchecked, the scenario's own check stops it before it starts its server.
    const ran = await spawn(["run", "-A", MAIN, "run", "typo.ts"], dir).done();
    assert.equal(ran.code, EXIT.usage, ran.out);
    assert.match(
      ran.out,
      /Cannot use option 'keyPatern' of bench phase bench: there is no such option \(did you mean 'keyPattern'\?\)/,
    );
    assert.doesNotMatch(ran.out, /started redis-server/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno publish --dry-run: the package is publishable (exports, docs, no slow types)", async () => {
  const o = await new Deno.Command(Deno.execPath(), {
    args: ["publish", "--dry-run", "--allow-dirty"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = new TextDecoder().decode(o.stdout) + new TextDecoder().decode(o.stderr);
  assert.equal(o.code, 0, out);
  assert.match(out, /Success.*Dry run complete/);
  assert.doesNotMatch(out, /warning|error\[/i);
  // What gets published: the library and the CLI, not the tests.
  assert.match(out, /\/mod\.ts/);
  assert.doesNotMatch(out, /\/tests\//);
});
