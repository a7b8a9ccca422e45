// Issue 23, points 4 and 6: Ctrl+C honoured while connecting (bench and replay), progress while
// connecting, a live line with elapsed/remaining time, ops/s, p50/p99 and errors, and each bench
// test's table printed as that test ends. The live line is forced on a pipe with
// MEMBENCH_PROGRESS=1 (on a terminal it is drawn anyway).
import assert from "node:assert/strict";
import { NO_VALUE, openFileLimit, startLocalServer, Status } from "../mod.ts";
import { syntheticProfile } from "../bench/_synthetic.ts";
import { commandStats, exclusiveLoad, info, loadTest, redisText, until } from "./helpers.ts";

const CLI = new URL("../cli/main.ts", import.meta.url).pathname;

// A CLI process whose stdout and stderr are read as they come.
function spawnCli(args: string[], env: Record<string, string> = {}) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...args],
    stdout: "piped",
    stderr: "piped",
    env: { MEMBENCH_PROGRESS: "1", ...env },
  }).spawn();
  const out = { stdout: "", stderr: "", exited: false };
  const pump = async (s: ReadableStream<Uint8Array>, key: "stdout" | "stderr") => {
    for await (const t of s.pipeThrough(new TextDecoderStream())) out[key] += t;
  };
  const pumps = Promise.all([pump(child.stdout, "stdout"), pump(child.stderr, "stderr")]);
  const status = child.status.then((s) => {
    out.exited = true;
    return s;
  });
  return {
    child,
    out,
    async done() {
      const { code } = await status;
      await pumps;
      return { code, stdout: out.stdout, stderr: out.stderr };
    },
  };
}

// The live lines drawn so far (each `\r\x1b[K<text>`).
function liveLines(stderr: string): string[] {
  return stderr.replaceAll("\r\x1b[K", "\n").split("\n").map((l) => l.trim())
    .filter((l) => l.length > 0);
}

// CPU time (user + system) of a process so far, in clock ticks, from the kernel's /proc.
async function cpuTicks(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]); // utime, stime (fields 14 and 15)
}

// As many clients as this machine may open quickly (the open-file limit), at least thousands:
// opening them takes seconds, so the SIGINT lands in the connect phase.
const FD_LIMIT = openFileLimit() ?? 20_000;
const MANY_CLIENTS = Math.min(15_000, FD_LIMIT - 2_000);

Deno.test({
  name:
    "bench -c N -n 10: the live line says connecting, and Ctrl+C during the connects exits 130 at once",
  ignore: MANY_CLIENTS < 4_000, // the open-file limit (ulimit -n) allows too few clients
  fn: () =>
    exclusiveLoad(async () => {
      const clients = MANY_CLIENTS;
      await using srv = await startLocalServer("redis", {
        args: ["--maxclients", String(clients + 100)],
      });
      const before = Number((await info(srv.address, "stats")).total_connections_received);
      const p = spawnCli([
        "bench",
        "-p",
        String(srv.port),
        "-c",
        String(clients),
        "-n",
        "10",
        "-t",
        "ping",
      ]);
      // The connect phase's progress, with connections under way.
      await until(
        "the live line shows connects under way",
        () =>
          Promise.resolve(
            /connecting: [1-9][\d,]*\/[\d,]+ connections/.test(p.out.stderr) || p.out.exited,
          ),
        60_000,
      );
      assert.ok(!p.out.exited, p.out.stderr);
      const t0 = performance.now();
      p.child.kill("SIGINT");
      const r = await p.done();
      const tookMs = performance.now() - t0;
      assert.equal(r.code, 130, r.stderr);
      // ~1 s as the issue asks; 3 s of slack for a loaded 2-core machine.
      assert.ok(tookMs < 3000, `exited ${tookMs.toFixed(0)} ms after SIGINT`);
      assert.match(r.stderr, /interrupted: stopping/);
      assert.match(r.stdout, /Interrupted: the results above are partial/);
      const shown = liveLines(r.stderr).filter((l) => l.includes("connecting:"));
      assert.ok(shown.length >= 1, r.stderr);
      assert.match(shown.at(-1)!, new RegExp(`/${clients.toLocaleString("en-US")} connections`));
      // The server's own account: the connect phase was cut short (fewer connections than
      // clients), no PING was sent, and every connection that was opened is closed again.
      const stats = await info(srv.address, "stats");
      const opened = Number(stats.total_connections_received) - before;
      assert.ok(opened < clients, `${opened} connections of ${clients}: SIGINT came too late`);
      assert.equal((await commandStats(srv.address)).ping ?? 0, 0);
      await until(
        "the server sees membench's connections closed",
        async () => Number((await info(srv.address, "clients")).connected_clients) <= 1,
        10_000,
      );
    }),
});

loadTest(
  "bench and replay waiting on a server that never answers: no CPU spin, and Ctrl+C exits 130",
  async () => {
    // A server that accepts and never replies: every handshake waits (connect timeout 60 s).
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    const accepted: Deno.Conn[] = [];
    const accepting = (async () => {
      for await (const c of listener) accepted.push(c);
    })();
    const profile = await Deno.makeTempFile({ suffix: ".mbp" });
    try {
      await writeProfile(profile, 8, 200, 2_000_000);
      for (
        const args of [
          [
            "bench",
            "-p",
            String(port),
            "-c",
            "200",
            "-n",
            "1000",
            "-t",
            "ping",
            "--connect-timeout",
            "60s",
            "--timeout",
            "60s",
          ],
          ["replay", profile, "-p", String(port), "--protocol", "resp", "--timeout", "60s"],
        ]
      ) {
        const p = spawnCli(args);
        await until(
          `${args[0]}: connects reach the silent server`,
          () =>
            Promise.resolve(
              accepted.length > 0 && /connecting: /.test(p.out.stderr) || p.out.exited,
            ),
          30_000,
        );
        assert.ok(!p.out.exited, p.out.stderr);
        // Waiting for replies costs (almost) no CPU: under 20% of a core over a second.
        const c0 = await cpuTicks(p.child.pid);
        await new Promise((r) => setTimeout(r, 1000));
        const ticks = await cpuTicks(p.child.pid) - c0;
        const hz = 100;
        assert.ok(ticks < 0.2 * hz, `${args[0]}: ${ticks} ticks of CPU in 1 s while waiting`);
        const t0 = performance.now();
        p.child.kill("SIGINT");
        const r = await p.done();
        const tookMs = performance.now() - t0;
        assert.equal(r.code, 130, `${args[0]}: ${r.stderr}`);
        assert.ok(tookMs < 3000, `${args[0]} exited ${tookMs.toFixed(0)} ms after SIGINT`);
        assert.match(r.stdout, /Interrupted|interrupted/);
      }
    } finally {
      listener.close();
      await accepting.catch(() => {});
      for (const c of accepted) c.close();
      await Deno.remove(profile);
    }
  },
);

loadTest(
  "bench --duration: a live line with elapsed, time left, ops/s, p50/p99 and errors; each table as its test ends",
  async () => {
    await using srv = await startLocalServer("redis");
    const p = spawnCli([
      "bench",
      "-p",
      String(srv.port),
      "-c",
      "4",
      "-t",
      "set,get",
      "--duration",
      "3s",
    ]);
    // The set table is printed while get still runs: the process has not ended, and get's
    // table is not there yet.
    await until(
      "set's table on stdout",
      () => Promise.resolve(/== set:/.test(p.out.stdout) || p.out.exited),
      30_000,
    );
    assert.ok(!p.out.exited, "the set table came only at the end");
    assert.doesNotMatch(p.out.stdout, /== get:/);
    assert.match(p.out.stdout, /^membench \S+ +127\.0\.0\.1:\d+ .*clients=4/);
    const setCalls = (await commandStats(srv.address)).set ?? 0;
    const r = await p.done();
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /== get:/);
    const lines = liveLines(r.stderr);
    // e.g. "set [1/2] 1s (2s left) 12,345 requests, 12,000 ops/s, p50 210µs p99 1.20ms, 0 errors"
    const re =
      /^(set|get) \[\d\/2\] (\d+)s \((\d+)s left\) ([\d,]+) requests, ([\d,]+) ops\/s, p50 (\S+) p99 (\S+), (\d+) errors$/;
    const live = lines.map((l) => re.exec(l)).filter((m) => m !== null);
    const sets = live.filter((m) => m[1] === "set" && Number(m[2]) >= 1);
    assert.ok(sets.length >= 1, lines.join("\n"));
    const last = sets.at(-1)!;
    // Elapsed + left is the duration (rounded to seconds).
    assert.ok(Math.abs(Number(last[2]) + Number(last[3]) - 3) <= 1, last[0]);
    assert.ok(Number(last[5]!.replaceAll(",", "")) > 0, last[0]);
    assert.match(last[6]!, /^\d+(µs|\.\d\dms)$/);
    assert.match(last[7]!, /^\d+(µs|\.\d\dms)$/);
    assert.equal(last[8], "0");
    // The requests the line counted had reached the server: its own counter is at least that.
    assert.ok(
      Number(last[4]!.replaceAll(",", "")) <= setCalls,
      `${last[4]} requests shown, the server counted ${setCalls} SETs`,
    );
    // Before the load: the connect phase's line.
    assert.ok(lines.some((l) => /^set \[1\/2\] connecting: \d+\/4 connections/.test(l)), r.stderr);
    await redisText(srv.address, ["PING"]);
  },
);

loadTest(
  "replay at recorded pace: a live line while it runs (elapsed, time left, sent, ops/s, p50/p99, errors)",
  async () => {
    await using srv = await startLocalServer("redis");
    const profile = await Deno.makeTempFile({ suffix: ".mbp" });
    try {
      // 3 s of recorded traffic, 2 connections.
      await writeProfile(profile, 2, 600, 3_000_000);
      const p = spawnCli(["replay", profile, "-p", String(srv.port), "--protocol", "resp"]);
      await until(
        "a live replay line",
        () => Promise.resolve(/replay loop 1 \d+s/.test(p.out.stderr) || p.out.exited),
        30_000,
      );
      assert.ok(!p.out.exited, "no live line before the replay ended: " + p.out.stderr);
      const r = await p.done();
      assert.equal(r.code, 0, r.stderr);
      const re =
        /^replay loop 1 (\d+)s \((\d+)s left\) ([\d,]+) sent, ([\d,]+) ops\/s, p50 (\S+) p99 (\S+), (\d+) errors/;
      const live = liveLines(r.stderr).map((l) => re.exec(l)).filter((m) => m !== null);
      assert.ok(live.length >= 1, r.stderr);
      const m = live.at(-1)!;
      assert.ok(Math.abs(Number(m[1]) + Number(m[2]) - 3) <= 1, m[0]);
      assert.ok(Number(m[3]!.replaceAll(",", "")) > 0, m[0]);
      assert.notEqual(m[5], "-", m[0]);
      assert.equal(m[7], "0");
      // What the server executed is what was recorded.
      const stats = await commandStats(srv.address);
      assert.equal((stats.set ?? 0) + (stats.get ?? 0), 600);
      assert.ok(liveLines(r.stderr).some((l) => /^replay connecting: \d+\/2 connections/.test(l)));
    } finally {
      await Deno.remove(profile);
    }
  },
);

// A RESP profile: `events` SET/GET events spread evenly over `spanUs` and `conns` connections.
async function writeProfile(path: string, conns: number, events: number, spanUs: number) {
  const w = await syntheticProfile(path);
  for (let c = 0; c < conns; c++) {
    w.connection({ id: c, protocol: "resp", openUs: 0, sawOpen: true, sawClose: false });
  }
  const set = w.op("set");
  const get = w.op("get");
  for (let i = 0; i < events; i++) {
    const write = i % 2 === 0;
    w.append({
      t: Math.round((i * spanUs) / events),
      conn: i % conns,
      op: write ? set : get,
      keyHi: 7,
      keyLo: i >> 1,
      keyLen: 12,
      valueLen: write ? 32 : NO_VALUE,
      flags: 0,
      ttl: -1,
      status: write ? Status.Stored : Status.Hit,
      latency: 100,
      slot: -1,
      seq: i,
    });
  }
  await w.close();
}
