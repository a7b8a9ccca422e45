// Real Redis clients (ioredis with pipelines and MULTI/EXEC; redis-benchmark with MSET and HSET)
// driven against a local redis-server while tcpdump captures loopback; the capture is recorded,
// then replayed at max speed into a fresh redis-server, whose INFO commandstats must move as the
// original's did: a multi-key command stays one command, HSET keeps its fields, CONFIG GET its
// subcommand and parameter (profile format 2.1), and a command that cannot be rebuilt is skipped
// and named, never sent changed.
import assert from "node:assert/strict";
import { analyzeProfile, record, replay, startLocalServer } from "../mod.ts";
import { captureNoDrops } from "./capture_helpers.ts";
import { commandStats, loadTest, statsDelta } from "./helpers.ts";

async function recordRedis(drive: (port: number) => Promise<void>) {
  await using src = await startLocalServer("redis");
  const cap = await captureNoDrops(
    src.port,
    () => commandStats(src.address),
    () => drive(src.port),
  );
  const profile = await Deno.makeTempFile({ suffix: ".mbp" });
  const rec = await record({ pcap: cap.file, output: profile, ports: [src.port], salt: "rc" });
  await Deno.remove(cap.file);
  return { profile, rec, server: statsDelta(cap.before, cap.after) };
}

async function replayFresh(profile: string) {
  await using dst = await startLocalServer("redis");
  const before = await commandStats(dst.address);
  const t0 = performance.now();
  const r = await replay({
    profile,
    target: dst.address,
    speed: "max",
    verifyServer: true,
    // Every recorded request is rebuilt: the server counts what the profile holds.
    thresholds: { maxServerDiff: 0 },
    signal: AbortSignal.timeout(60_000),
  });
  const ms = performance.now() - t0;
  return { r, ms, server: statsDelta(before, await commandStats(dst.address)) };
}

async function run(cmd: string, args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(cmd, {
    args,
    cwd: new URL("..", import.meta.url).pathname,
    env,
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  if (out.code !== 0) {
    throw new Error(`${cmd} failed (${out.code}): ${new TextDecoder().decode(out.stderr)}`);
  }
}

loadTest(
  "real clients: redis-benchmark's MSET stays MSET, HSET keeps its field, CONFIG GET its subcommand",
  async () => {
    const got = await recordRedis((port) =>
      run("redis-benchmark", [
        "-h",
        "127.0.0.1",
        "-p",
        String(port),
        "-n",
        "2000",
        "-c",
        "4",
        "-P",
        "8",
        "-q",
        "-t",
        "set,get,incr,lpush,hset,mset",
      ])
    );
    try {
      assert.equal(got.server.mset, 2000, JSON.stringify(got.server));
      // One event per key of MSET (10 keys), each but the first marked as part of its request.
      assert.equal(got.rec.eventsPerCommand.mset, 20_000);
      // analyze: requests per command as INFO commandstats counts them; keys separately.
      const a = await analyzeProfile(got.profile);
      for (const c of ["set", "get", "incr", "lpush", "hset", "mset"]) {
        assert.equal(a.commands[c]!.requests, got.server[c], c);
      }
      assert.equal(a.commands.mset!.keys, 20_000);
      const { r, ms, server } = await replayFresh(got.profile);
      assert.ok(ms < 60_000, `replay took ${ms} ms`);
      assert.equal(r.failure, undefined, JSON.stringify(r.failure));
      // Every command as often as the original run, HSET (field and value) and redis-benchmark's
      // CONFIG GETs (save, appendonly) included.
      assert.ok((got.server["config|get"] ?? 0) > 0, JSON.stringify(got.server));
      assert.deepEqual(server, got.server);
      assert.deepEqual(r.skipped, {});
      assert.equal(r.errors, 0);
      // Sizes sent: the recorded ones.
      assert.ok(r.fidelity.sizeKs < 0.01, `size_ks ${r.fidelity.sizeKs}`);
      // --verify-server: the server saw every recorded request, command by command.
      const v = r.verification!;
      assert.deepEqual(v.commands.filter((x) => x.server !== x.expected), [], JSON.stringify(v));
      assert.equal(v.diff, 0);
      assert.equal(r.fidelity.pass, true, JSON.stringify(r.fidelity.checks));
      assert.equal(v.commands.find((x) => x.command === "mset")!.server, 2000);
      const m = r.commands.find((c) => c.op === "mset")!;
      assert.equal(m.recorded, 2000);
      assert.equal(m.sent, 2000);
    } finally {
      await Deno.remove(got.profile);
    }
  },
);

// ioredis: pipelines of SET/GET/MGET/DEL, MULTI/EXEC transactions, INCRBY, EXISTS of 3 keys.
const IOREDIS_CLIENT = `
const Redis = require("ioredis");
const r = new Redis({ host: "127.0.0.1", port: Number(process.env.PORT), lazyConnect: false,
  enableReadyCheck: false, maxRetriesPerRequest: 0 });
(async () => {
  for (let b = 0; b < 20; b++) {
    const p = r.pipeline();
    for (let i = 0; i < 5; i++) p.set("p" + b + ":" + i, "v".repeat(100 + i));
    p.mget("p" + b + ":0", "p" + b + ":1", "nope" + b);
    p.get("p" + b + ":2");
    p.del("p" + b + ":3", "p" + b + ":4");
    await p.exec();
    await r.multi().incrby("ctr", 3).set("t" + b, "x").exec();
    await r.exists("p" + b + ":0", "p" + b + ":3", "t" + b);
    await r.pipeline().expire("p" + b + ":0", 100).pexpire("p" + b + ":1", 5000)
      .setex("e" + b, 60, "val").getex("e" + b, "EX", 30).ttl("e" + b).exec();
  }
  r.disconnect();
})().catch((e) => { console.error(e); process.exit(1); });
`;

loadTest(
  "real clients: ioredis pipelines and MULTI/EXEC replay with the same server counters",
  async () => {
    const got = await recordRedis((port) =>
      run("node", ["-e", IOREDIS_CLIENT], { PORT: String(port) })
    );
    try {
      assert.equal(got.server.mget, 20, JSON.stringify(got.server));
      assert.equal(got.server.exists, 20);
      const { r, ms, server } = await replayFresh(got.profile);
      assert.ok(ms < 60_000, `replay took ${ms} ms`);
      assert.equal(r.failure, undefined, JSON.stringify(r.failure));
      // Errors only where the recording saw them: ioredis' CLIENT SETINFO, which this
      // redis-server (7.0) does not know, sent again as recorded (token LIB-NAME, hashed name).
      for (const c of r.commands) {
        const errors = Object.values(c.errors).reduce((n, x) => n + x, 0);
        assert.equal(errors, c.recordedErrors ?? 0, `${c.op}: ${JSON.stringify(c.errors)}`);
        assert.equal(c.completed, c.sent, c.op);
      }
      // INCRBY keeps its increment (format 2.1), inside MULTI/EXEC too: nothing is skipped.
      assert.deepEqual(r.skipped, {});
      assert.deepEqual(r.verification!.commands.filter((x) => x.server !== x.expected), []);
      assert.equal(r.fidelity.pass, true, JSON.stringify(r.fidelity.checks));
      for (
        const c of [
          "set",
          "get",
          "mget",
          "del",
          "exists",
          "multi",
          "exec",
          "expire",
          "pexpire",
          "setex",
          "getex",
          "ttl",
          "incrby",
        ]
      ) {
        assert.equal(
          server[c],
          got.server[c],
          `${c}: replay ${server[c]}, original ${got.server[c]}`,
        );
      }
    } finally {
      await Deno.remove(got.profile);
    }
  },
);
