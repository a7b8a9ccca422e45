import assert from "node:assert/strict";
import { SAME_CTRL_C_MS, startLocalServer } from "../mod.ts";
import { ANALYZE } from "../cli/analyze.ts";
import { BENCH } from "../cli/bench.ts";
import { DATASET_SUBCOMMANDS } from "../cli/dataset.ts";
import {
  type CommandSpec,
  flagName,
  type FlagSet,
  int,
  parseArgsOptions,
  parseFlags,
  Problems,
  text,
} from "../cli/flags.ts";
import { HISTORY } from "../cli/history.ts";
import { PROFILE, RECORD } from "../cli/record.ts";
import { REPLAY } from "../cli/replay.ts";
import { exitCodeOf, LiveLine } from "../cli/runner.ts";
import { commandStats, loadTest, runCli, until } from "./helpers.ts";

const MAIN = new URL("../cli/main.ts", import.meta.url).pathname;

Deno.test("CLI: every bad flag of a command line is reported at once", async () => {
  // The example: the bad enum and the bad integer, both named.
  const r = await runCli(["replay", "x.mbp", "--mode", "bogus", "--connections", "x"]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(
    r.stderr,
    /Cannot use flag '--mode': expected exact, synthetic: current value is "bogus"/,
  );
  assert.match(
    r.stderr,
    /Cannot use flag '--connections': expected an integer >= 1: current value is "x"/,
  );
  assert.match(r.stderr, /see: membench replay --help/);
  // Unknown flags (with a suggestion), a flag without its value, bad values, a library check:
  // one run reports them all. `-n` took no value, so `--clients` after it is still read.
  const b = await runCli([
    "bench",
    "--clinets",
    "5",
    "--pipline",
    "2",
    "-n",
    "--clients",
    "zero",
    "--rate",
    "fast",
    "--io",
    "bogus",
    "--data-size-range",
    "10-5",
    "-p",
    "1",
  ]);
  assert.equal(b.code, 2, b.stderr);
  for (
    const re of [
      /Unknown flag '--clinets' \(did you mean '--clients'\?\)/,
      /Unknown flag '--pipline' \(did you mean '--pipeline'\?\)/,
      /Flag '-n, --requests' needs a value/,
      /Cannot use flag '--clients': expected an integer >= 1: current value is "zero"/,
      /Cannot use flag '--rate': Cannot parse rate "fast"/,
      /Cannot use flag '--io': expected auto, uring, deno: current value is "bogus"/,
      /minimum is larger than its maximum/,
    ]
  ) assert.match(b.stderr, re);
  // The value of an unknown flag is not taken for a custom test command.
  assert.doesNotMatch(b.stderr, /unknown test name/);
  // Required flags of a subcommand, all at once.
  const g = await runCli(["dataset", "generate", "out.mbv", "--seed", "-1"]);
  assert.equal(g.code, 2, g.stderr);
  assert.match(g.stderr, /Flag '--dim' is required/);
  assert.match(g.stderr, /Flag '--count' is required/);
  assert.match(
    g.stderr,
    /Cannot use flag '--seed': expected an integer >= 0: current value is "-1"/,
  );
  // record: a bad port, a missing output and the input choice.
  const rec = await runCli(["record", "-p", "70000", "--count", "0"]);
  assert.equal(rec.code, 2, rec.stderr);
  assert.match(rec.stderr, /Cannot use flag '--port': expected an integer from 1 to 65535/);
  assert.match(rec.stderr, /Cannot use flag '--count': expected an integer >= 1/);
  assert.match(rec.stderr, /Flag '-o, --output' is required/);
  assert.match(rec.stderr, /Give '--pcap FILE' or '--interface IF'/);
});

Deno.test("CLI: an unknown flag or command is named, with the nearest name", async () => {
  const r = await runCli(["replay", "x.mbp", "--conections", "3"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /Unknown flag '--conections' \(did you mean '--connections'\?\)/);
  // The 3 went with the unknown flag: replay still has its one PROFILE.
  assert.doesNotMatch(r.stderr, /takes one PROFILE/);
  const s = await runCli(["analyze", "x.mbp", "-z"]);
  assert.equal(s.code, 2);
  assert.match(s.stderr, /Unknown flag '-z'/);
  const c = await runCli(["bnech"]);
  assert.equal(c.code, 2);
  assert.match(c.stderr, /Unknown command 'bnech' \(did you mean 'bench'\?\)/);
  const t = await runCli(["bench", "--tls=yes", "-p", "1"]);
  assert.equal(t.code, 2);
  assert.match(t.stderr, /Flag '--tls' takes no value/);
});

// The library names its options (clusterTags); the CLI says the flags the user typed, both when
// the run refuses them and when they come with other bad flags.
Deno.test("CLI: an option the library refuses is named by its flag", async () => {
  const r = await runCli(["bench", "--cluster-tags", "-p", "1", "-n", "10"]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /Cannot use '--cluster-tags' without '--cluster'/);
  assert.doesNotMatch(r.stderr, /clusterTags/);
  const both = await runCli(["bench", "--cluster-tags", "--clients", "x", "-p", "1"]);
  assert.equal(both.code, 2, both.stderr);
  assert.match(both.stderr, /Cannot use flag '--clients'/);
  assert.match(both.stderr, /Cannot use '--cluster-tags' without '--cluster'/);
});

Deno.test("CLI: a password or a salt never appears in a message", async () => {
  const secret = "Sx-" + crypto.randomUUID();
  const r = await runCli(["bench", "-a", secret, "--clinets", secret, "-c", "0", "-p", "1"]);
  assert.equal(r.code, 2);
  assert.ok(!r.stderr.includes(secret) && !r.stdout.includes(secret), r.stderr);
  const s = await runCli(["record", "--salt", secret, "--count", "x", "-o", "/dev/null"]);
  assert.equal(s.code, 2);
  assert.ok(!s.stderr.includes(secret), s.stderr);
  const e = await runCli(["replay", "x.mbp", "--speed", "0"], { REDISCLI_AUTH: secret });
  assert.equal(e.code, 2);
  assert.match(e.stderr, /Cannot use flag '--speed': expected a number > 0 or max/);
  assert.ok(!e.stderr.includes(secret));
});

/** Every flag of a spec (long name, aliases, short alias, value name) is in its help. */
function assertHelpListsEveryFlag(help: string, spec: CommandSpec<FlagSet>): void {
  for (const [key, f] of Object.entries(spec.flags)) {
    const value = f.spec.value !== undefined ? ` ${f.spec.value}` : "";
    for (const name of [flagName(key, f), ...(f.spec.aliases ?? [])]) {
      assert.ok(help.includes(`--${name}${value}`), `${spec.name} --help lacks --${name}${value}`);
    }
    if (f.spec.short !== undefined) {
      assert.ok(
        help.includes(`-${f.spec.short}, --${flagName(key, f)}`),
        `${spec.name} --help lacks -${f.spec.short}`,
      );
    }
  }
  assert.match(help, /--help/);
}

Deno.test("CLI: each command's --help lists every flag of its spec", async () => {
  for (const spec of [BENCH, REPLAY, RECORD, ANALYZE, HISTORY, PROFILE, ...DATASET_SUBCOMMANDS]) {
    const r = await runCli([...spec.name.split(" "), "--help"]);
    assert.equal(r.code, 0, `${spec.name}: ${r.stderr}`);
    assert.ok(r.stdout.startsWith(`membench ${spec.name}: `), r.stdout);
    assertHelpListsEveryFlag(r.stdout, spec);
  }
  // The overview of `membench dataset` lists every subcommand's flags.
  const d = await runCli(["dataset", "--help"]);
  assert.equal(d.code, 0);
  for (const spec of DATASET_SUBCOMMANDS) assertHelpListsEveryFlag(d.stdout, spec);
  // Literal lines, as users read them (the derived text, checked by hand once).
  const bench = await runCli(["bench", "--help"]);
  assert.match(
    bench.stdout,
    /\n {2}-P, --pipeline N +requests in flight per connection \(default 1\)\n/,
  );
  assert.match(bench.stdout, /\n {6}--dbnum N, --db N +SELECT this database\n/);
  assert.match(bench.stdout, /\n {2}-a, --password PASS +AUTH password;[\s\S]*?never printed/);
  assert.match(bench.stdout, /or set REDISCLI_AUTH\)/);
  assert.match(bench.stdout, /\nTLS and auth\n/);
  const replay = await runCli(["replay", "--help"]);
  assert.match(replay.stdout, /\n {6}--max-lateness-p99 D +e\.g\. 2ms\n/);
  assert.match(replay.stdout, /\nFidelity thresholds \(exit 4 when one fails\)\n/);
  // The top-level help lists every command.
  const top = await runCli(["--help"]);
  for (const c of ["bench", "record", "analyze", "replay", "profile", "history", "dataset"]) {
    assert.match(top.stdout, new RegExp(`\\n {2}${c} +\\S`));
  }
});

Deno.test("flags: one spec gives the parseArgs options and the typed values", () => {
  const options = parseArgsOptions(BENCH.flags);
  assert.deepEqual(options["pipeline"], { type: "string", multiple: true, short: "P" });
  assert.deepEqual(options["resp3"], { type: "boolean", multiple: true, short: "3" });
  assert.deepEqual(options["db"], { type: "string", multiple: true }, "an alias");
  assert.deepEqual(options["help"], { type: "boolean" });
  const flags = {
    port: int({ short: "p", min: 1, multiple: true, help: "ports" }),
    limit: int({ default: 20, help: "runs" }),
    name: text({ help: "a name" }),
  };
  const problems = new Problems();
  const r = parseFlags(flags, ["-p", "1", "--port=2", "pos", "--", "--name"], problems);
  assert.deepEqual(problems.list, []);
  assert.deepEqual(r.values, { port: [1, 2], limit: 20, name: undefined });
  assert.deepEqual(r.positionals, ["pos", "--name"]);
  assert.deepEqual([...r.given], ["port"]);
});

Deno.test("runner: the live line is drawn at most every interval, forced at the end, and cleared", () => {
  const out: string[] = [];
  const line = new LiveLine(true, (s) => out.push(s), 60_000);
  line.draw("a");
  line.draw("b"); // within the interval: skipped
  line.draw("c", true);
  line.clear();
  line.clear(); // nothing drawn: nothing to clear
  assert.deepEqual(out, ["\r\x1b[Ka", "\r\x1b[Kc", "\r\x1b[K"]);
  const off: string[] = [];
  const none = new LiveLine(false, (s) => off.push(s));
  none.draw("x", true);
  none.clear();
  assert.deepEqual(off, []);
});

Deno.test("runner: outcomes map onto the exit codes", () => {
  assert.equal(exitCodeOf({}, false), 0);
  assert.equal(exitCodeOf({ interrupted: true }, false), 130);
  assert.equal(exitCodeOf({ pass: false }, true), 130, "Ctrl+C comes first");
  assert.equal(exitCodeOf({ pass: false }, false), 4);
  assert.equal(exitCodeOf(0, true), 130);
  assert.equal(exitCodeOf(5, true), 5);
});

/** Runs a command under a pseudo-terminal (util-linux `script`), so that stderr is a TTY. */
async function underTerminal(args: string[]): Promise<{ code: number; out: string }> {
  const cmd = [Deno.execPath(), "run", "-A", MAIN, ...args].map((a) => `'${a}'`).join(" ");
  const r = await new Deno.Command("script", {
    args: ["-qec", cmd, "/dev/null"],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  return { code: r.code, out: new TextDecoder().decode(r.stdout) };
}

loadTest(
  "CLI: the live progress line is drawn on a terminal only, and cleared before the results",
  async () => {
    await using srv = await startLocalServer("redis");
    const args = ["bench", "-p", String(srv.port), "-t", "set", "--duration", "2500ms", "-c", "2"];
    const tty = await underTerminal(args);
    assert.equal(tty.code, 0, tty.out);
    // The line is redrawn in place: carriage return, erase line, text.
    const shown = tty.out.replaceAll("\r\x1b[K", "<CLEAR>");
    assert.match(
      shown,
      /<CLEAR>set \[1\/1\] \ds \(\ds left\) [\d,]+ requests, [\d,.]+k? ops\/s, p50 \S+ p99 \S+, \d+ errors/,
    );
    // The header comes first; the line is cleared, then the test's table starts on a clean line.
    assert.match(shown, /^membench \d/);
    assert.match(shown, /<CLEAR>\r?\n== set: /);
    const quiet = await underTerminal([...args, "--no-progress"]);
    assert.equal(quiet.code, 0, quiet.out);
    assert.ok(!quiet.out.includes("\x1b[K"), quiet.out);
    // Not a terminal (piped): no escape codes either.
    const piped = await runCli(args);
    assert.equal(piped.code, 0, piped.stderr);
    assert.ok(!(piped.stderr + piped.stdout).includes("\x1b[K"));
  },
);

/** Starts `membench bench` against a server with a long duration; resolves once SETs arrive. */
async function startLongBench(address: string, port: number, extra: string[]) {
  const setsBefore = (await commandStats(address))["set"] ?? 0;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      MAIN,
      "bench",
      "-p",
      String(port),
      "-t",
      "set",
      "--duration",
      "60s",
      "-c",
      "2",
      ...extra,
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stdout = "", stderr = "";
  const pumps = Promise.all([
    (async () => {
      for await (const t of child.stdout.pipeThrough(new TextDecoderStream())) stdout += t;
    })(),
    (async () => {
      for await (const t of child.stderr.pipeThrough(new TextDecoderStream())) stderr += t;
    })(),
  ]);
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  await until(
    "the bench's SETs reach the server",
    async () => ((await commandStats(address))["set"] ?? 0) > setsBefore,
  );
  return {
    child,
    status,
    get exited() {
      return exited;
    },
    async done() {
      const s = await status;
      await pumps;
      return { code: s.code, stdout, stderr };
    },
    output: () => ({ stdout, stderr }),
  };
}

loadTest(
  "CLI: the first Ctrl+C stops a bench and keeps the partial results (exit 130, output files written)",
  async () => {
    await using srv = await startLocalServer("redis");
    const dir = await Deno.makeTempDir({ prefix: "membench-sigint-" });
    try {
      const b = await startLongBench(srv.address, srv.port, ["--json", `${dir}/r.json`]);
      const t0 = Date.now();
      b.child.kill("SIGINT");
      const r = await b.done();
      assert.equal(r.code, 130, r.stderr);
      assert.ok(Date.now() - t0 < 10_000, "stopped well before the 60 s duration");
      assert.match(r.stdout, /== set: [\d,]+ ops\/s/);
      assert.match(r.stdout, /Interrupted: the results above are partial/);
      const json = JSON.parse(await Deno.readTextFile(`${dir}/r.json`));
      assert.equal(json.interrupted, true);
      assert.ok(json.tests[0].requests > 0);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

loadTest(
  "CLI: a second Ctrl+C exits at once with 130, while the first is still finishing",
  async () => {
    await using srv = await startLocalServer("redis");
    const dir = await Deno.makeTempDir({ prefix: "membench-sigint2-" });
    // The HdrHistogram log goes to a FIFO nobody reads: after the first Ctrl+C the bench prints
    // its partial results, then blocks on that output, as a slow disk or a stuck pipe would.
    const fifo = `${dir}/hdr.fifo`;
    const mk = await new Deno.Command("mkfifo", { args: [fifo] }).output();
    assert.equal(mk.code, 0);
    const b = await startLongBench(srv.address, srv.port, ["--hdr-log", fifo]);
    try {
      b.child.kill("SIGINT");
      await until(
        "the partial results after the first Ctrl+C",
        () => Promise.resolve(/Interrupted: the results above are partial/.test(b.output().stdout)),
        10_000,
      );
      // A later Ctrl+C than the first's forwarded copies (SAME_CTRL_C_MS) means "exit now".
      await new Promise((r) => setTimeout(r, SAME_CTRL_C_MS + 100));
      assert.equal(b.exited, false, "the first Ctrl+C waits for the output to be written");
      const t0 = Date.now();
      b.child.kill("SIGINT");
      let timer: ReturnType<typeof setTimeout> | undefined;
      const r = await Promise.race([
        b.done(),
        new Promise<undefined>((resolve) => timer = setTimeout(() => resolve(undefined), 5_000)),
      ]);
      clearTimeout(timer);
      assert.ok(r, "still running 5 s after the second Ctrl+C");
      assert.equal(r.code, 130, r.stderr);
      assert.ok(Date.now() - t0 < 3_000, `exited ${Date.now() - t0} ms after the second Ctrl+C`);
      assert.match(r.stderr, /membench: interrupted again: exiting now/);
    } finally {
      if (!b.exited) b.child.kill("SIGKILL");
      await b.done();
      await Deno.remove(dir, { recursive: true });
    }
    // Two SIGINTs 150 ms apart, as one Ctrl+C arrives through `deno task` (the terminal signals
    // the group and the task runner forwards another copy): one Ctrl+C, not "exit now". The
    // JSON goes to a FIFO that is read only later, so the process is still writing its partial
    // results when the second copy arrives; the results must come out whole, with 130.
    const dir2 = await Deno.makeTempDir({ prefix: "membench-sigint-twice-" });
    const jsonFifo = `${dir2}/result.fifo`;
    assert.equal((await new Deno.Command("mkfifo", { args: [jsonFifo] }).output()).code, 0);
    const q = await startLongBench(srv.address, srv.port, ["--json", jsonFifo]);
    try {
      q.child.kill("SIGINT");
      // Far enough apart that the two are not merged into one delivery, well within the window.
      await new Promise((r) => setTimeout(r, 150));
      q.child.kill("SIGINT");
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(q.exited, false, "the copy of the first Ctrl+C was taken as 'exit now'");
      const saved = JSON.parse(await Deno.readTextFile(jsonFifo));
      const r = await q.done();
      assert.equal(r.code, 130, r.stderr);
      assert.doesNotMatch(r.stderr, /interrupted again/);
      assert.match(r.stdout, /Interrupted: the results above are partial/);
      assert.equal(saved.interrupted, true);
      assert.ok(saved.tests[0].requests > 0);
    } finally {
      if (!q.exited) q.child.kill("SIGKILL");
      await q.done();
      await Deno.remove(dir2, { recursive: true });
    }
  },
);

Deno.test("CLI: record --protocol takes the protocol names; the old resp3 still means resp, version 3", async () => {
  const pcap = new URL("../../shared/data/captures-public/zeek/redis/set.pcap", import.meta.url)
    .pathname;
  const out = await Deno.makeTempFile({ suffix: ".mbp" });
  try {
    for (const args of [["--protocol", "resp3"], ["--protocol", "resp", "--resp-version", "3"]]) {
      const r = await runCli([
        "record",
        "--pcap",
        pcap,
        "-p",
        "6379",
        ...args,
        "-o",
        out,
        "--json",
        "-",
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout).eventsPerCommand, { set: 3 });
      const info = await runCli(["profile", "info", out, "--json", "-"]);
      assert.equal(info.code, 0, info.stderr);
      const conns = JSON.parse(info.stdout).connections as Array<Record<string, unknown>>;
      assert.ok(conns.length > 0);
      for (const c of conns) {
        assert.deepEqual([c.protocol, c.respVersion], ["resp", 3], args.join(" "));
      }
    }
    const both = await runCli([
      "record",
      "--pcap",
      pcap,
      "--protocol",
      "resp3",
      "--resp-version",
      "2",
      "-o",
      out,
    ]);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /Cannot use '--protocol resp3' with '--resp-version 2'/);
    const bad = await runCli(["record", "--pcap", pcap, "--protocol", "memcache", "-o", out]);
    assert.equal(bad.code, 2);
    assert.match(
      bad.stderr,
      /Cannot use flag '--protocol': expected resp, memcache-text, memcache-meta, memcache-binary, resp2, resp3/,
    );
  } finally {
    await Deno.remove(out);
  }
});

Deno.test("CLI: help is where a newcomer looks for it: help CMD, -h without a host, -h on commands without -h", async () => {
  const bench = await runCli(["bench", "--help"]);
  assert.equal(bench.code, 0);
  for (const argv of [["help", "bench"], ["bench", "-h"], ["bench", "-n", "10", "-h"]]) {
    const r = await runCli(argv);
    assert.equal(r.code, 0, `${argv.join(" ")}: ${r.stderr}`);
    assert.equal(r.stdout, bench.stdout, argv.join(" "));
  }
  for (const cmd of ["record", "analyze", "history", "replay"]) {
    const long = await runCli([cmd, "--help"]);
    const short = await runCli([cmd, "-h"]);
    assert.equal(short.code, 0, `${cmd} -h: ${short.stderr}`);
    assert.equal(short.stdout, long.stdout, `${cmd} -h`);
  }
  // -h with a value is still redis-benchmark's host.
  const host = await runCli(["bench", "-h", "127.0.0.1", "-p", "1", "-n", "1", "-t", "ping"]);
  assert.equal(host.code, 3, host.stderr);
  assert.match(host.stderr, /127\.0\.0\.1:1/);
});

Deno.test("CLI: bench -c 1000000 -n 10 (issue 23) is refused at once, naming the open-file limit, instead of spinning", async () => {
  // The 1,000,000, or more where this machine's limit allows that many.
  const limits = await Deno.readTextFile("/proc/self/limits");
  const soft = Number(/Max open files\s+(\d+)/.exec(limits)?.[1] ?? 1024);
  const clients = Math.max(1_000_000, soft + 1);
  const t0 = performance.now();
  const r = await runCli(["bench", "-p", "1", "-c", String(clients), "-n", "10"]);
  const ms = performance.now() - t0;
  assert.equal(r.code, 2, r.stderr);
  const shown = clients.toLocaleString("en-US");
  assert.ok(
    r.stderr.includes(`Cannot open ${shown} connections: the open-file limit of this process is`),
    r.stderr,
  );
  assert.match(r.stderr, /hint: use fewer clients \(-c\), or raise the limit \(ulimit -n\)/);
  // Deno's start included: a refusal, not a connect phase.
  assert.ok(ms < 10_000, `took ${ms.toFixed(0)} ms`);
});
