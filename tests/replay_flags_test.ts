// Issue 23, point 7: a replay flag that does not apply is an error naming why (exit 2), never
// silently ignored; synthetic mode's fidelity compares with the recording's hit ratio, not 0.
import assert from "node:assert/strict";
import { NO_VALUE, startLocalServer, Status } from "../mod.ts";
import { syntheticProfile } from "../bench/_synthetic.ts";
import { commandStats, info, loadTest, runCli } from "./helpers.ts";

// A RESP profile over `conns` connections: SET then GET of the same key, `pairs` times, 1 ms
// apart; `hit(i)` says whether the i-th GET was recorded as a hit.
async function writeProfile(
  path: string,
  conns: number,
  pairs: number,
  hit: (i: number) => boolean,
): Promise<void> {
  const w = await syntheticProfile(path);
  for (let c = 0; c < conns; c++) {
    w.connection({ id: c, protocol: "resp", openUs: 0, sawOpen: true, sawClose: false });
  }
  const set = w.op("set");
  const get = w.op("get");
  for (let i = 0; i < pairs; i++) {
    for (const write of [true, false]) {
      w.append({
        t: (2 * i + (write ? 0 : 1)) * 1000,
        conn: i % conns,
        op: write ? set : get,
        keyHi: 11,
        keyLo: i,
        keyLen: 12,
        valueLen: write ? 24 : NO_VALUE,
        flags: 0,
        ttl: -1,
        status: write ? Status.Stored : hit(i) ? Status.Hit : Status.Miss,
        latency: 100,
        slot: -1,
        seq: 2 * i + (write ? 0 : 1),
      });
    }
  }
  await w.close();
}

Deno.test("membench replay: flags of the other mode, or of a paced replay, are usage errors naming why", async () => {
  const profile = await Deno.makeTempFile({ suffix: ".mbp" });
  try {
    await writeProfile(profile, 2, 10, () => true);
    // Nothing listens on port 1: every case must fail on its flags before connecting.
    const replay = (...args: string[]) => runCli(["replay", profile, "-p", "1", ...args]);

    // The commands: --duration and --seed in exact mode (the default).
    const d = await replay("--duration", "5s");
    assert.equal(d.code, 2, d.stderr);
    assert.match(
      d.stderr,
      /Cannot use flag '--duration' in exact mode: it applies to --mode synthetic: an exact replay lasts as long as the recording/,
    );
    const s = await replay("--seed", "3");
    assert.equal(s.code, 2, s.stderr);
    assert.match(
      s.stderr,
      /Cannot use flag '--seed' in exact mode: it applies to --mode synthetic: an exact replay sends what was recorded/,
    );
    // Every such flag at once, each named, with --mode exact said or not.
    const all = await replay(
      "--mode",
      "exact",
      "--seed",
      "3",
      "--duration",
      "5s",
      "--popularity",
      "zipf",
    );
    assert.equal(all.code, 2, all.stderr);
    for (const f of ["--seed", "--duration", "--popularity"]) {
      assert.match(all.stderr, new RegExp(`Cannot use flag '${f}' in exact mode`));
    }
    assert.match(all.stderr, /see: membench replay --help/);

    // Synthetic traffic is never multiplied into copies.
    const k = await replay("--mode", "synthetic", "--separate-keyspaces");
    assert.equal(k.code, 2, k.stderr);
    assert.match(
      k.stderr,
      /Cannot use flag '--separate-keyspaces' in synthetic mode: it applies to --mode exact/,
    );
    // Exact mode: only when --connections multiplies the recorded connections.
    const k1 = await replay("--separate-keyspaces");
    assert.equal(k1.code, 2, k1.stderr);
    assert.match(k1.stderr, /Cannot use flag '--separate-keyspaces' without '--connections'/);

    // A max-speed replay keeps no schedule: lateness and rate cannot be checked.
    const m = await replay(
      "--speed",
      "max",
      "--max-lateness-p99",
      "2ms",
      "--max-rate-error",
      "0.1",
    );
    assert.equal(m.code, 2, m.stderr);
    assert.match(
      m.stderr,
      /Cannot use flag '--max-lateness-p99' with --speed max: lateness is measured against the recorded schedule/,
    );
    assert.match(m.stderr, /Cannot use flag '--max-rate-error' with --speed max/);
    // Nothing was attempted: no connection error.
    for (const r of [d, s, all, k, k1, m]) assert.doesNotMatch(r.stderr, /refused/i);

    // Flags that apply are accepted: --seed in synthetic mode, --max-lateness-p99 when paced
    // (these reach the connect, and fail there with exit 3: nothing listens on port 1).
    const ok1 = await replay("--mode", "synthetic", "--seed", "3", "--duration", "1s");
    assert.equal(ok1.code, 3, ok1.stderr);
    const ok2 = await replay("--max-lateness-p99", "2ms");
    assert.equal(ok2.code, 3, ok2.stderr);
  } finally {
    await Deno.remove(profile);
  }
});

loadTest(
  "membench replay: --separate-keyspaces with --connections that do not multiply is a usage error",
  async () => {
    await using srv = await startLocalServer("redis");
    const profile = await Deno.makeTempFile({ suffix: ".mbp" });
    try {
      await writeProfile(profile, 2, 10, () => true);
      const args = ["replay", profile, "-p", String(srv.port), "--speed", "max"];
      const r = await runCli([...args, "--separate-keyspaces", "--connections", "2"]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(
        r.stderr,
        /Cannot use '--separate-keyspaces': it applies when '--connections' multiplies the recorded connections \(2 recorded, 2 asked\)/,
      );
      assert.equal(Object.keys(await commandStats(srv.address)).includes("set"), false);
      // Multiplied: it applies, and each copy writes its own keys (2 copies x 10 keys).
      const ok = await runCli([...args, "--separate-keyspaces", "--connections", "4"]);
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal((await info(srv.address, "keyspace")).db0?.match(/keys=(\d+)/)?.[1], "20");
    } finally {
      await Deno.remove(profile);
    }
  },
);

loadTest(
  "membench replay --mode synthetic: fidelity compares with the recorded hit ratio (not 0), and the server agrees",
  async () => {
    const profile = await Deno.makeTempFile({ suffix: ".mbp" });
    try {
      // Recorded: 3 GETs of 4 hit (by construction of the file).
      await writeProfile(profile, 2, 400, (i) => i % 4 !== 3);
      await using srv = await startLocalServer("redis");
      const before = await info(srv.address, "stats");
      const r = await runCli([
        "replay",
        profile,
        "-p",
        String(srv.port),
        "--mode",
        "synthetic",
        "--speed",
        "max",
        "--json",
        "-",
        "--max-hit-ratio-diff",
        "1",
      ]);
      assert.equal(r.code, 0, r.stderr);
      const j = JSON.parse(r.stdout);
      const get = j.fidelity.hitRatio.find((h: { op: string }) => h.op === "get");
      assert.ok(get, r.stdout);
      assert.ok(Math.abs(get.recorded - 0.75) <= 0.01, `recorded hit ratio ${get.recorded}`);
      // The replayed ratio is the server's own: keyspace_hits / (hits + misses) over the run.
      const after = await info(srv.address, "stats");
      const hits = Number(after.keyspace_hits) - Number(before.keyspace_hits);
      const misses = Number(after.keyspace_misses) - Number(before.keyspace_misses);
      assert.ok(hits + misses > 0);
      assert.ok(Math.abs(get.replayed - hits / (hits + misses)) <= 0.0001, `${get.replayed}`);
      const check = j.fidelity.checks.find((c: { name: string }) => c.name === "hit_ratio_diff");
      assert.ok(Math.abs(check.value - Math.abs(hits / (hits + misses) - get.recorded)) <= 0.0002);

      // Every GET recorded as a hit, and --warmup stores the keys first read: the replay hits
      // as the recording did, so a 5-point limit holds (with a recorded ratio of 0 it failed).
      // One connection: at max speed, two would race (a GET before its key's SET).
      await writeProfile(profile, 1, 400, () => true);
      await using dst = await startLocalServer("redis");
      const w = await runCli([
        "replay",
        profile,
        "-p",
        String(dst.port),
        "--mode",
        "synthetic",
        "--speed",
        "max",
        "--warmup",
        "--max-hit-ratio-diff",
        "0.05",
      ]);
      assert.equal(w.code, 0, w.stdout + w.stderr);
      assert.match(w.stdout, /check hit_ratio_diff = [\d.]+ <= 0\.05 \.\.\. ok/);
      const st = await info(dst.address, "stats");
      assert.equal(Number(st.keyspace_misses), 0, "every GET hit, by the server's count");
    } finally {
      await Deno.remove(profile);
    }
  },
);
