import assert from "node:assert/strict";
import {
  analyzeProfile,
  bench,
  McConnection,
  parseTarget,
  record,
  replay,
  startLocalServer,
  synthesize,
} from "../mod.ts";
import { captureNoDrops } from "./capture_helpers.ts";
import {
  commandStats,
  exclusiveLoad,
  loadTest,
  redisText,
  runCli,
  statsDelta,
  until,
} from "./helpers.ts";

const MC = ["cmd_get", "cmd_set", "delete_hits", "delete_misses", "get_hits", "get_misses"];

async function mcStats(address: string): Promise<Record<string, number>> {
  using c = await McConnection.open(parseTarget(address));
  const s = await c.stats();
  return Object.fromEntries(MC.map((k) => [k, Number(s[k])]));
}

function diff(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.keys(b).map((k) => [k, b[k]! - (a[k] ?? 0)]));
}

// Records `fn`'s traffic to a memcached into a profile; returns it and what the server counted.
async function recordMemcached(
  fn: (address: string) => Promise<void>,
  prepare?: (address: string) => Promise<void>,
): Promise<{ profile: string; counted: Record<string, number>; events: Record<string, number> }> {
  await using src = await startLocalServer("memcached");
  if (prepare) await prepare(src.address);
  const cap = await captureNoDrops(src.port, () => mcStats(src.address), () => fn(src.address));
  const profile = await Deno.makeTempFile({ suffix: ".mbp" });
  const r = await record({ pcap: cap.file, output: profile, ports: [src.port], salt: "replay" });
  await Deno.remove(cap.file);
  return { profile, counted: diff(cap.before, cap.after), events: r.eventsPerCommand };
}

const mix = [{ command: "set", weight: 1 }, { command: "get", weight: 4 }, {
  command: "delete",
  weight: 1,
}];

loadTest(
  "replay() sends every recorded command once per loop, to memcached and translated to redis",
  async () => {
    const rec = await recordMemcached((address) =>
      bench({
        target: address,
        protocol: "memcache-text",
        mix,
        rate: 3000,
        durationMs: 800,
        clients: 4,
        keyspace: 300,
        dataSize: "16-256",
        seed: 1,
      })
        .then(() => {})
    );
    try {
      for (const loop of [1, 3]) {
        await using dst = await startLocalServer("memcached");
        const before = await mcStats(dst.address);
        const r = await replay({ profile: rec.profile, target: dst.address, speed: "max", loop });
        const got = diff(before, await mcStats(dst.address));
        assert.equal(r.errors, 0);
        assert.equal(r.loops, loop);
        assert.equal(got.cmd_get, rec.counted.cmd_get! * loop, `gets, loop ${loop}`);
        assert.equal(got.cmd_set, rec.counted.cmd_set! * loop, `sets, loop ${loop}`);
        assert.equal(
          got.delete_hits! + got.delete_misses!,
          (rec.counted.delete_hits! + rec.counted.delete_misses!) * loop,
        );
        // Per op: each recorded op sent once per loop, and its replies counted under it.
        for (const op of ["get", "set", "delete"]) {
          const c = r.commands.find((x) => x.op === op)!;
          assert.equal(c.recorded, rec.events[op], op);
          assert.equal(c.sent, rec.events[op]! * loop, `${op} sent, loop ${loop}`);
          assert.equal(c.completed, c.sent, `${op} completed, loop ${loop}`);
        }
        const g = r.commands.find((x) => x.op === "get")!;
        assert.equal(
          g.hits! + g.misses!,
          got.cmd_get,
          "replay's get hits + misses = server's gets",
        );
        assert.equal(g.hits, got.get_hits);
        if (loop === 1) {
          // Same keys, same sequence, empty servers: about the same hits (at max speed connections
          // run independently, so a get may overtake another connection's set).
          assert.ok(Math.abs(got.get_hits! - rec.counted.get_hits!) <= 0.02 * rec.counted.cmd_get!);
        }
      }
      // Translated to memcached's meta and binary protocols: the same counters on the server.
      for (const protocol of ["memcache-meta", "memcache-binary"] as const) {
        await using dst = await startLocalServer("memcached");
        const before = await mcStats(dst.address);
        const r = await replay({
          profile: rec.profile,
          target: dst.address,
          protocol,
          speed: "max",
        });
        const got = diff(before, await mcStats(dst.address));
        assert.equal(r.errors, 0, protocol);
        assert.deepEqual(r.skipped, {}, protocol);
        assert.equal(got.cmd_get, rec.counted.cmd_get, `gets via ${protocol}`);
        assert.equal(got.cmd_set, rec.counted.cmd_set, `sets via ${protocol}`);
        assert.equal(
          got.delete_hits! + got.delete_misses!,
          rec.counted.delete_hits! + rec.counted.delete_misses!,
          `deletes via ${protocol}`,
        );
        const g = r.commands.find((x) => x.op === "get")!;
        assert.equal(g.hits, got.get_hits, `hits seen via ${protocol}`);
      }
      // Translated to RESP against redis-server: get -> GET, set -> SET, delete -> DEL.
      await using rs = await startLocalServer("redis");
      const before = await commandStats(rs.address);
      const r = await replay({
        profile: rec.profile,
        target: rs.address,
        protocol: "resp",
        speed: "max",
      });
      const d = statsDelta(before, await commandStats(rs.address));
      assert.deepEqual(d, { get: rec.events.get, set: rec.events.set, del: rec.events.delete });
      const get = r.commands.find((c) => c.op === "get")!;
      assert.ok(
        Math.abs(get.hits! - get.recordedHits!) <= 0.02 * rec.events.get!,
        "about the same hits through another protocol",
      );
      // The CLI to a server that wants a password, given in REDISCLI_AUTH: same counts, and the
      // password nowhere in the output.
      await using locked = await startLocalServer("redis", { args: ["--requirepass", "replaypw"] });
      const lockedBefore = await commandStats(locked.address, "replaypw");
      // Without the password: refused at connect with the reason, not a replay of NOAUTH replies.
      const refused = await runCli(
        ["replay", rec.profile, "-p", String(locked.port), "--protocol", "resp", "--speed", "max"],
      );
      assert.equal(refused.code, 3, refused.stdout + refused.stderr);
      assert.match(refused.stderr, /CLIENT SETNAME failed: NOAUTH/);
      const cli = await runCli(
        ["replay", rec.profile, "-p", String(locked.port), "--protocol", "resp", "--speed", "max"],
        { REDISCLI_AUTH: "replaypw" },
      );
      assert.equal(cli.code, 0, cli.stdout + cli.stderr);
      // Without AUTH, redis would refuse every command and count none of them.
      assert.deepEqual(statsDelta(lockedBefore, await commandStats(locked.address, "replaypw")), {
        get: rec.events.get,
        set: rec.events.set,
        del: rec.events.delete,
      });
      assert.ok(!cli.stdout.includes("replaypw") && !cli.stderr.includes("replaypw"));
      // A user that may connect but not run the commands: every reply is NOPERM. The reads hit
      // nothing, so the hit ratio check fails (exit 4) instead of passing on no data.
      await redisText(locked.address, [
        "ACL",
        "SETUSER",
        "nocmd",
        "on",
        ">nocmdpw",
        "~*",
        "+client|setname",
      ], "replaypw");
      const denied = await runCli([
        "replay",
        rec.profile,
        "-p",
        String(locked.port),
        "--user",
        "nocmd",
        "-a",
        "nocmdpw",
        "--protocol",
        "resp",
        "--speed",
        "max",
        "--max-hit-ratio-diff",
        "0.05",
      ]);
      assert.equal(denied.code, 4, denied.stdout + denied.stderr);
      assert.match(denied.stdout, /NOPERM:\d+/);
      assert.match(denied.stdout, /check hit_ratio_diff = 0\.\d+ <= 0\.05 \.\.\. FAILED/);
    } finally {
      await Deno.remove(rec.profile);
    }
  },
);

loadTest(
  "replay() with warm-up gets within 2 points of the recorded hit ratio, and keeps the schedule at speed 1",
  async () => {
    // Keys that existed before the capture started: without warm-up, a replay misses them.
    const rec = await recordMemcached(
      (address) =>
        bench({
          target: address,
          protocol: "memcache-text",
          mix,
          rate: 3000,
          durationMs: 1500,
          clients: 4,
          keyspace: 400,
          keyPattern: "zipf:0.8",
          dataSize: 100,
          seed: 2,
        })
          .then(() => {}),
      (address) =>
        bench({
          target: address,
          protocol: "memcache-text",
          tests: ["set"],
          requests: 400,
          clients: 2,
          keyPattern: "sequential",
          keyspace: 400,
          dataSize: 100,
        })
          .then(() => {}),
    );
    try {
      await using cold = await startLocalServer("memcached");
      const r0 = await replay({ profile: rec.profile, target: cold.address, speed: "max" });
      await using dst = await startLocalServer("memcached");
      // Timing is the point here: no CPU-saturating test may run beside it.
      const r = await exclusiveLoad(() =>
        replay({
          profile: rec.profile,
          target: dst.address,
          speed: 1,
          warmup: true,
          thresholds: { maxHitRatioDiff: 0.02, maxLatenessP99Us: 50_000 },
        })
      );
      const g0 = r0.commands.find((c) => c.op === "get")!;
      const g = r.commands.find((c) => c.op === "get")!;
      const recorded = g.recordedHits! / (g.recordedHits! + g.recordedMisses!);
      const cold0 = g0.hits! / (g0.hits! + g0.misses!);
      const warm = g.hits! / (g.hits! + g.misses!);
      assert.ok(
        recorded - cold0 > 0.05,
        `without warm-up the hit ratio falls: ${cold0} vs ${recorded}`,
      );
      assert.ok(Math.abs(warm - recorded) <= 0.02, `warm ${warm} vs recorded ${recorded}`);
      assert.ok(r.warmup!.keys > 100);
      // The recorded pace (about 3,000 requests/s) is kept: the replay lasts as long as the
      // recording (sends are never early, and lateness does not pile up), and most sends are on
      // time. These bounds hold with another process keeping one of two cores busy; the p99 of a
      // busy machine's scheduler is not the replay's to promise.
      const recordedMs = r.recordedSpanUs / 1000;
      assert.ok(recordedMs > 1000, `recorded ${recordedMs} ms`);
      assert.ok(
        r.durationMs >= recordedMs && r.durationMs < recordedMs + 500,
        `replayed in ${r.durationMs} ms, recorded ${recordedMs} ms`,
      );
      assert.ok(r.lateness.p50Us < 1000, `p50 lateness ${r.lateness.p50Us} µs`);
      assert.ok(r.lateness.p99Us < 50_000, `p99 lateness ${r.lateness.p99Us} µs`);
      assert.equal(r.fidelity.pass, true, JSON.stringify(r.fidelity.checks));
    } finally {
      await Deno.remove(rec.profile);
    }
  },
);

loadTest(
  "membench replay: SIGINT stops a replay cleanly with a partial report; a failed threshold exits 4",
  async () => {
    const rec = await recordMemcached((address) =>
      bench({
        target: address,
        protocol: "memcache-text",
        mix,
        rate: 1000,
        durationMs: 600,
        clients: 2,
        keyspace: 100,
        seed: 3,
      }).then(() => {})
    );
    try {
      await using dst = await startLocalServer("memcached");
      const p = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          new URL("../cli/main.ts", import.meta.url).pathname,
          "replay",
          rec.profile,
          "-p",
          String(dst.port),
          "--loop",
          "forever",
        ],
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      // SIGINT 1 s after the replay's requests reach the server, however slowly it started.
      using mc = await McConnection.open(parseTarget(dst.address));
      await until("the replay reaches memcached", async () => {
        const st = await mc.stats();
        return Number(st["cmd_get"]) + Number(st["cmd_set"]) > 0;
      });
      await new Promise((r) => setTimeout(r, 1000));
      p.kill("SIGINT");
      const out = await p.output();
      const text = new TextDecoder().decode(out.stdout);
      assert.equal(out.code, 130, new TextDecoder().decode(out.stderr));
      assert.match(text, /Interrupted: the results above are partial/);
      assert.match(text, /[\d,]+ sent, [\d,]+ replies/);
      const loops = Number(/, (\d+) loop\(s\)/.exec(text)![1]);
      assert.ok(loops >= 1 && loops <= 3, `${loops} loops of a 0.6 s profile in about 1 s`);
      // A threshold that cannot hold: exit 4, with the failed check named.
      const f = await runCli([
        "replay",
        rec.profile,
        "-p",
        String(dst.port),
        "--speed",
        "max",
        "--max-mix-diff",
        "0",
        "--max-size-ks",
        "-1",
      ]);
      assert.equal(f.code, 2, "a negative limit is a usage error");
      const g = await runCli([
        "replay",
        rec.profile,
        "-p",
        String(dst.port),
        "--speed",
        "max",
        "--loop",
        "2",
        "--max-hit-ratio-diff",
        "0",
      ]);
      // Two loops: the second hits the keys the first stored, so the hit ratio cannot match.
      assert.equal(g.code, 4, g.stdout + g.stderr);
      assert.match(g.stdout, /check hit_ratio_diff = [\d.]+ <= 0 \.\.\. FAILED/);
    } finally {
      await Deno.remove(rec.profile);
    }
  },
);

loadTest(
  "synthetic replay: the same seed gives the same digest, and mix and sizes follow the source",
  async () => {
    const rec = await recordMemcached((address) =>
      bench({
        target: address,
        protocol: "memcache-text",
        mix,
        rate: 4000,
        durationMs: 1000,
        clients: 4,
        keyspace: 2000,
        keyPattern: "zipf:1.0",
        dataSize: "32-1024",
        seed: 4,
      })
        .then(() => {})
    );
    const out1 = await Deno.makeTempFile({ suffix: ".mbp" });
    const out2 = await Deno.makeTempFile({ suffix: ".mbp" });
    try {
      const a = await synthesize({ profile: rec.profile, output: out1, seed: 11 });
      const b = await synthesize({ profile: rec.profile, output: out2, seed: 11 });
      const c = await synthesize({ profile: rec.profile, output: out2, seed: 12 });
      assert.equal(a.digest, b.digest);
      assert.notEqual(a.digest, c.digest);
      assert.equal(a.popularity, "zipf");
      const src = await analyzeProfile(rec.profile);
      const syn = await analyzeProfile(out1);
      // Stated tolerances: command shares within 3 points, total events within 10%, set value p50
      // within 15%, and the fitted exponent within 0.15.
      for (const [op, s] of Object.entries(src.commands)) {
        assert.ok(
          Math.abs(s.share - syn.commands[op]!.share) <= 0.03,
          `${op} share ${s.share} vs ${syn.commands[op]!.share}`,
        );
      }
      assert.ok(Math.abs(syn.totals.events - src.totals.events) / src.totals.events <= 0.1);
      const p50 = src.commands.set!.valueLength.p50;
      assert.ok(
        Math.abs(syn.commands.set!.valueLength.p50 - p50) / p50 <= 0.15,
        `${syn.commands.set!.valueLength.p50} vs ${p50}`,
      );
      assert.ok(Math.abs(syn.keys.zipf.exponent - src.keys.zipf.exponent) <= 0.15);
      // And it replays.
      await using dst = await startLocalServer("memcached");
      const r = await replay({ profile: out1, target: dst.address, speed: "max" });
      assert.equal(r.sent, a.events);
      assert.equal(r.errors, 0);
    } finally {
      for (const f of [rec.profile, out1, out2]) await Deno.remove(f);
    }
  },
);
