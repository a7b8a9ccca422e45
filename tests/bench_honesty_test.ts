// Issue 23 (points 2, 3, 4 in part, 12): bench says when it failed, why, and what to do; warns
// about settings that make a result misleading; accepts the flags users bring from
// redis-benchmark, memtier and k6. Every test runs the command of the issue against a real
// server and checks the exit code and the message against what the server itself says.
import assert from "node:assert/strict";
import {
  bench,
  benchRepeat,
  type CommandMetricsData,
  encodeHistogram,
  mergeCommandMetrics,
  newHistogram,
  parseTarget,
  RespConnection,
  startLocalCluster,
  startLocalServer,
} from "../mod.ts";
import { commandStats, info, loadTest, redisText, runCli, startCli, until } from "./helpers.ts";

const NP = "--no-progress";

async function errorstat(address: string, code = "ERR"): Promise<number> {
  const s = await info(address, "errorstats");
  const m = /count=(\d+)/.exec(s[`errorstat_${code}`] ?? "");
  return m ? Number(m[1]) : 0;
}

// GET calls the server counted (INFO commandstats).
async function gets(address: string): Promise<number> {
  return (await commandStats(address)).get ?? 0;
}

// What the server answers to one command, as a real client reads it.
async function serverSays(address: string, args: string[]): Promise<string> {
  const c = await RespConnection.open(parseTarget(address));
  try {
    const r = await c.command(args);
    assert.equal(r.type, "error");
    return String(r.value);
  } finally {
    c.close();
  }
}

loadTest(
  "point 2: every request failing exits 4 with the server's own error text and a hint",
  async () => {
    await using srv = await startLocalServer("redis");
    const before = await errorstat(srv.address);
    const json = await Deno.makeTempFile({ suffix: ".json" });
    try {
      const r = await runCli([
        "bench",
        "-p",
        String(srv.port),
        "-n",
        "200",
        NP,
        "--json",
        json,
        "FOO __key__",
      ]);
      assert.equal(r.code, 4, r.stderr);
      // The server counted the 200 errors itself.
      assert.equal(await errorstat(srv.address) - before, 200);
      // The text membench shows is the server's, word for word (same key: keyspace 1 is key:0).
      const said = await serverSays(srv.address, ["FOO key:0"]);
      assert.match(said, /^ERR unknown command/);
      assert.ok(r.stderr.includes(`every request failed (200 of 200): ${said}`), r.stderr);
      assert.match(r.stderr, /hint: the server does not know this command/);
      assert.ok(r.stdout.includes(`first ERR error (200x): ${said}`), r.stdout);
      const out = JSON.parse(await Deno.readTextFile(json));
      const c = out.tests[0].commands[0];
      assert.deepEqual(c.errors, { ERR: 200 });
      assert.equal(c.firstErrors.ERR, said);
      assert.match(out.tests[0].allFailed.message, /every request failed/);
      // -q prints its line and still says why, on stderr, with the same exit code.
      const q = await runCli([
        "bench",
        "-p",
        String(srv.port),
        "-n",
        "200",
        "-q",
        NP,
        "FOO __key__",
      ]);
      assert.equal(q.code, 4);
      assert.match(q.stdout, /^"FOO __KEY__": [\d.]+ requests per second.*, 200 errors$/m);
      assert.ok(q.stderr.includes(said), q.stderr);
      // A test whose requests succeed exits 0 (the same command line with a known command).
      const ok = await runCli([
        "bench",
        "-p",
        String(srv.port),
        "-n",
        "200",
        "-q",
        NP,
        "-t",
        "ping",
      ]);
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal(ok.stderr, "");
    } finally {
      await Deno.remove(json);
    }
  },
);

loadTest(
  "point 2: --protocol memcache-text against redis exits 4 and hints --protocol resp",
  async () => {
    await using srv = await startLocalServer("redis");
    const before = await errorstat(srv.address);
    const r = await runCli([
      "bench",
      "-p",
      String(srv.port),
      "--protocol",
      "memcache-text",
      "-n",
      "100",
      "-t",
      "set",
      NP,
    ]);
    assert.equal(r.code, 4, r.stderr);
    // Redis read our memcached text as inline commands and answered errors (its own count).
    assert.ok(await errorstat(srv.address) > before);
    assert.match(
      r.stderr,
      /set: every request failed \(100 of 100\): Malformed memcached response/,
    );
    // The bytes quoted are redis's reply, which membench did not write.
    assert.match(r.stderr, /the bytes received began "-ERR /);
    assert.match(r.stderr, /hint: the server answers in RESP \(Valkey\/Redis\): --protocol resp\?/);
  },
);

loadTest(
  "point 2: RESP against memcached: the handshake error and the run's errors hint memcache-text",
  async () => {
    await using srv = await startLocalServer("memcached");
    // CLIENT SETNAME in the handshake: memcached answers ERROR and the test cannot start (exit 5).
    const hs = await runCli(["bench", "-p", String(srv.port), "-n", "50", "-t", "get", NP]);
    assert.equal(hs.code, 5, hs.stderr);
    assert.match(hs.stderr, /unknown type byte 'E'/);
    assert.match(
      hs.stderr,
      /hint: the server answers in memcached's text protocol: --protocol memcache-text/,
    );
    // With threads the error crosses a worker: the CLI still adds the hint.
    const th = await runCli([
      "bench",
      "-p",
      String(srv.port),
      "-n",
      "50",
      "-c",
      "2",
      "--threads",
      "2",
      "-t",
      "get",
      NP,
    ]);
    assert.equal(th.code, 5, th.stderr);
    assert.match(th.stderr, /hint: the server answers in memcached's text protocol/);
    // No handshake: every request fails in the run; memcached's own word is quoted, exit 4.
    const run = await runCli([
      "bench",
      "-p",
      String(srv.port),
      "-n",
      "50",
      "-c",
      "2",
      "-t",
      "get",
      "--client-name",
      "",
      "-q",
      NP,
    ]);
    assert.equal(run.code, 4, run.stderr);
    assert.match(
      run.stderr,
      /get: every request failed \(50 of 50\).*the bytes received began "ERROR"/,
    );
    assert.match(run.stderr, /hint: the server answers in memcached's text protocol/);
  },
);

loadTest(
  "point 2: the first error text is kept per kind and merged across worker threads",
  async () => {
    await using srv = await startLocalServer("redis");
    // SET makes the keys strings; LPUSH on them then fails with WRONGTYPE, every one of them.
    const r = await bench({
      target: srv.address,
      tests: ["SET __key__ x", "LPUSH __key__ y"],
      requests: 400,
      clients: 4,
      threads: 2,
      keyspace: 50,
      keyPattern: "sequential",
      seed: 3,
    });
    const [set, lpush] = r.tests;
    assert.equal(set!.errors, 0);
    assert.equal(set!.allFailed, undefined);
    assert.equal(set!.commands[0]!.firstErrors, undefined);
    const c = lpush!.commands[0]!;
    assert.equal(c.errors.WRONGTYPE, 400);
    const said = await serverSays(srv.address, ["LPUSH", "key:01", "y"]);
    assert.equal(c.firstErrors?.WRONGTYPE, said);
    assert.match(lpush!.allFailed!.hint!, /another --key-prefix/);
    assert.equal(await errorstat(srv.address, "WRONGTYPE"), 401);
    // The merge keeps the first text of each kind and counts every part.
    const h = newHistogram();
    const empty = encodeHistogram(h);
    h.destroy();
    const part = (errors: Record<string, number>, firstErrors?: Record<string, string>) =>
      ({
        name: "x",
        count: 1,
        errors,
        ...(firstErrors ? { firstErrors } : {}),
        hits: 0,
        misses: 0,
        late: 0,
        lateClient: 0,
        service: empty,
        series: [],
      }) satisfies CommandMetricsData;
    const m = mergeCommandMetrics([
      part({ ERR: 1 }, { ERR: "ERR first" }),
      part({ ERR: 2, timeout: 1 }, { ERR: "ERR second", timeout: "no reply" }),
      part({}),
    ]);
    assert.deepEqual(m.errors, { ERR: 3, timeout: 1 });
    assert.deepEqual(m.firstErrors, { ERR: "ERR first", timeout: "no reply" });
  },
);

loadTest(
  "points 3 and 4: warnings for one key under a key pattern or a rate, and idle clients",
  async () => {
    await using srv = await startLocalServer("redis");
    const p = String(srv.port);
    const before = await commandStats(srv.address);
    const zipf = await runCli([
      "bench",
      "-p",
      p,
      "-n",
      "20",
      "-t",
      "get",
      "--key-pattern",
      "zipf",
      "-q",
      NP,
    ]);
    assert.equal(zipf.code, 0, zipf.stderr);
    assert.match(
      zipf.stderr,
      /warning: a key pattern over a keyspace of 1: every request goes to the same key/,
    );
    // 50 clients (the default) for 20 requests: 30 of them sent nothing; the server saw 20 GETs.
    assert.match(
      zipf.stderr,
      /warning: 50 clients for 20 requests per test: 30 clients send nothing/,
    );
    assert.equal((await gets(srv.address)) - (before.get ?? 0), 20);
    const rate = await runCli([
      "bench",
      "-p",
      p,
      "-n",
      "200",
      "-c",
      "4",
      "-t",
      "get",
      "--rate",
      "2000",
      "-q",
      NP,
    ]);
    assert.equal(rate.code, 0, rate.stderr);
    assert.match(rate.stderr, /warning: a rate over a keyspace of 1/);
    assert.doesNotMatch(rate.stderr, /clients/);
    const full = await runCli([
      "bench",
      "-p",
      p,
      "-n",
      "100",
      "-c",
      "8",
      "-P",
      "16",
      "-t",
      "get",
      "-r",
      "100",
      "-q",
      NP,
    ]);
    assert.match(
      full.stderr,
      /100 requests per test for 8 clients x pipeline 16: the pipelines never fill/,
    );
    // Sensible settings: no warning at all.
    const quiet = await runCli([
      "bench",
      "-p",
      p,
      "-n",
      "200",
      "-c",
      "4",
      "-t",
      "get",
      "-r",
      "100",
      "--key-pattern",
      "zipf",
      "-q",
      NP,
    ]);
    assert.equal(quiet.code, 0);
    assert.equal(quiet.stderr, "");
    // The library returns them too.
    const r = await bench({
      target: srv.address,
      tests: ["get"],
      requests: 10,
      clients: 20,
      keyPattern: "zipf",
    });
    assert.equal(r.warnings?.length, 2);
  },
);

loadTest(
  "point 12: --key-maximum, --json-out-file, --print-percentiles, --hide-histogram, -e",
  async () => {
    await using srv = await startLocalServer("redis");
    const p = String(srv.port);
    const json = await Deno.makeTempFile({ suffix: ".json" });
    try {
      const r = await runCli([
        "bench",
        "-p",
        p,
        "-n",
        "3000",
        "-c",
        "4",
        "-t",
        "set",
        "--key-maximum",
        "1000",
        "--key-pattern",
        "sequential",
        "--json-out-file",
        json,
        "--print-percentiles",
        "50,99.99",
        "--hide-histogram",
        NP,
      ]);
      assert.equal(r.code, 0, r.stderr);
      // memtier's --key-maximum is the keyspace: the server holds exactly 1000 keys.
      assert.equal(await redisText(srv.address, ["DBSIZE"]), "1000");
      const out = JSON.parse(await Deno.readTextFile(json));
      assert.equal(out.config.keyspace, 1000);
      assert.match(r.stdout, /command\s+ops\/s\s+p50\s+p99\.99\s+max\s+hits/);
      const bad = await runCli(["bench", "-p", p, "--print-percentiles", "50,0", NP]);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /print-percentiles.*expected percentiles > 0 and <= 100, not 0/);
      // -e: errors that are not all of a test are shown on stderr too, with the server's text.
      await redisText(srv.address, ["FLUSHALL"]);
      await redisText(srv.address, ["LPUSH", "key:000", "x"]);
      const e = await runCli([
        "bench",
        "-p",
        p,
        "-n",
        "100",
        "-c",
        "2",
        "-r",
        "1000",
        "--key-pattern",
        "sequential",
        "-e",
        "--csv",
        NP,
        "INCR",
        "__key__",
      ]);
      assert.equal(e.code, 0, e.stderr);
      // The server counted one WRONGTYPE (key:000 is a list), as membench says.
      assert.equal(await errorstat(srv.address, "WRONGTYPE"), 1);
      const said = await serverSays(srv.address, ["INCR", "key:000"]);
      assert.match(e.stderr, /INCR __key__: 1 WRONGTYPE errors of 100 requests; the first: /);
      assert.ok(e.stderr.includes(said), e.stderr);
      assert.match(e.stdout, /^test,command,/);
      // --cluster exists already (redis-benchmark's name): listed in the help.
      const help = await runCli(["bench", "--help"]);
      for (
        const f of [
          "--cluster",
          "--run-count",
          "--threshold",
          "-l, --loop",
          "-e, --show-errors",
          "--key-maximum",
          "--json-out-file",
        ]
      ) {
        assert.ok(help.stdout.includes(f), `help lists ${f}`);
      }
    } finally {
      await Deno.remove(json);
    }
  },
);

loadTest(
  "point 12: --threshold fails with exit 4 and names the value; a bad one is a usage error",
  async () => {
    await using srv = await startLocalServer("redis");
    const p = String(srv.port);
    const base = ["bench", "-p", p, "-n", "500", "-c", "2", "-t", "get", "-r", "100", NP];
    const fail = await runCli([
      ...base,
      "--threshold",
      "get.p99 < 1s",
      "--threshold",
      "ops > 100M",
    ]);
    assert.equal(fail.code, 4, fail.stderr);
    assert.match(fail.stdout, /^ok +get\.p99 < 1s \(value [\d.]+(µs|ms)\)$/m);
    assert.match(fail.stdout, /^FAILED ops > 100M \(value [\d,]+\/s\)$/m);
    const q = await runCli([...base, "-q", "--threshold", "errors > 0"]);
    assert.equal(q.code, 4);
    assert.match(q.stderr, /threshold FAILED errors > 0 \(value 0\)/);
    const pass = await runCli([
      ...base,
      "--threshold",
      "errors == 0",
      "--threshold",
      "get.count == 500",
    ]);
    assert.equal(pass.code, 0, pass.stderr + pass.stdout);
    const bad = await runCli([...base, "--threshold", "get.p99 < 2"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /Cannot parse threshold "get.p99 < 2": get.p99 is a time/);
  },
);

loadTest(
  "point 12: --run-count repeats and aggregates with the spread; -l loops until Ctrl+C",
  async () => {
    await using srv = await startLocalServer("redis");
    const p = String(srv.port);
    const before = await commandStats(srv.address);
    const r = await runCli([
      "bench",
      "-p",
      p,
      "-n",
      "400",
      "-c",
      "2",
      "-t",
      "get",
      "-r",
      "10",
      "--run-count",
      "3",
      "--json",
      "-",
      NP,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.runs.length, 3);
    assert.equal(out.completed, 3);
    // The server saw three runs of 400 GETs.
    assert.equal((await gets(srv.address)) - (before.get ?? 0), 1200);
    const a = out.aggregate[0];
    const ops = out.runs.map((x: { tests: Array<{ opsPerSec: number }> }) => x.tests[0]!.opsPerSec);
    assert.equal(a.opsPerSec.min, Math.min(...ops));
    assert.equal(a.opsPerSec.max, Math.max(...ops));
    assert.equal(a.opsPerSec.median, [...ops].sort((x, y) => x - y)[1]);
    assert.ok(a.opsPerSec.stdev >= 0 && a.p99Us.median > 0);
    const text = await runCli([
      "bench",
      "-p",
      p,
      "-n",
      "200",
      "-c",
      "2",
      "-t",
      "get",
      "-r",
      "10",
      "--run-count",
      "2",
      NP,
    ]);
    assert.match(text.stdout, /== run 2 of 2/);
    assert.match(
      text.stdout,
      /== aggregate over 2 of 2 runs\n +test +runs +ops\/s median +min +max +stdev +p99 median/,
    );
    // The library: every run and the spread.
    const lib = await benchRepeat({
      target: srv.address,
      tests: ["ping"],
      requests: 200,
      clients: 2,
      runs: 2,
    });
    assert.equal(lib.runs.length, 2);
    assert.equal(lib.aggregate[0]!.runs, 2);
    // -l: runs until Ctrl+C, then the aggregate of the finished runs, exit 130.
    const mid = await commandStats(srv.address);
    const loop = startCli([
      "bench",
      "-p",
      p,
      "-n",
      "300",
      "-c",
      "2",
      "-t",
      "get",
      "-r",
      "10",
      "-l",
      "-q",
      NP,
    ]);
    await until(
      "two loops",
      async () => (await gets(srv.address)) - (mid.get ?? 0) >= 600,
      20_000,
    );
    loop.child.kill("SIGINT");
    const done = await loop.done();
    assert.equal(done.code, 130, done.stderr);
    const m = /== aggregate over (\d+) runs/.exec(done.stdout);
    assert.ok(m && Number(m[1]) >= 2, done.stdout);
    // Every run stops early when a test fails all its requests (the next would fail the same way).
    const all = await runCli([
      "bench",
      "-p",
      p,
      "-n",
      "50",
      "-c",
      "2",
      "--run-count",
      "5",
      "-q",
      NP,
      "FOO",
      "__key__",
    ]);
    assert.equal(all.code, 4);
    assert.match(all.stdout, /aggregate over 1 of 5 runs/);
  },
);

loadTest(
  "point 2 in cluster mode: the first error text comes from the node that answered",
  async () => {
    await using cl = await startLocalCluster({ primaries: 3 });
    const r = await bench({
      target: cl.address,
      cluster: true,
      tests: ["SET __key__ x", "LPUSH __key__ y"],
      requests: 300,
      clients: 3,
      keyspace: 30,
      keyPattern: "sequential",
      seed: 5,
    });
    const lpush = r.tests[1]!;
    const c = lpush.commands[0]!;
    assert.equal(c.errors.WRONGTYPE, 300);
    // The server's own text for the same error, from the key's owner (any key: all are strings).
    const errors = await Promise.all(cl.addresses.map((a) => errorstat(a, "WRONGTYPE")));
    assert.equal(errors.reduce((a, b) => a + b, 0), 300);
    // The owner of key:00 answers WRONGTYPE (the others MOVED): its text is the one membench kept.
    const replies = await Promise.all(
      cl.addresses.map((a) => serverSays(a, ["LPUSH", "key:00", "y"])),
    );
    const said = replies.find((x) => x.startsWith("WRONGTYPE"));
    assert.ok(said, replies.join(" | "));
    assert.equal(c.firstErrors?.WRONGTYPE, said);
    assert.match(
      lpush.allFailed!.message,
      /every request failed \(300 of 300\): WRONGTYPE Operation/,
    );
  },
);

loadTest(
  "point 2 with --shards: the merged run of failing shards exits 4 with the text",
  async () => {
    await using srv = await startLocalServer("redis");
    const before = await errorstat(srv.address);
    const r = await runCli([
      "bench",
      "-p",
      String(srv.port),
      "--shards",
      "2",
      "-c",
      "4",
      "-n",
      "200",
      "-q",
      NP,
      "FOO __key__",
    ]);
    assert.equal(r.code, 4, r.stderr);
    assert.equal(await errorstat(srv.address) - before, 200);
    assert.match(r.stderr, /every request failed \(200 of 200\): ERR unknown command 'FOO key:0'/);
  },
);
