// Replay shards (issue 24): N replays of one profile, each taking its range of the recorded
// connections, do together what one replay does, checked against the servers' own counters.
import assert from "node:assert/strict";
import { bench, McConnection, parseTarget, record, startLocalServer } from "../mod.ts";
import { captureNoDrops } from "./capture_helpers.ts";
import { loadTest, runCli } from "./helpers.ts";

const MC = ["cmd_get", "cmd_set", "get_hits", "get_misses", "delete_hits", "delete_misses"];

async function mcStats(address: string): Promise<Record<string, number>> {
  using c = await McConnection.open(parseTarget(address));
  const s = await c.stats();
  return Object.fromEntries(MC.map((k) => [k, Number(s[k])]));
}

function diff(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.keys(b).map((k) => [k, b[k]! - (a[k] ?? 0)]));
}

loadTest(
  "3 replay shards cover every recorded connection once: the server counts one replay",
  async () => {
    // A profile of 7 connections of real memcached traffic.
    await using src = await startLocalServer("memcached");
    const cap = await captureNoDrops(src.port, () => mcStats(src.address), () =>
      bench({
        target: src.address,
        protocol: "memcache-text",
        mix: [{ command: "set", weight: 1 }, { command: "get", weight: 3 }, {
          command: "delete",
          weight: 1,
        }],
        rate: 2000,
        durationMs: 700,
        clients: 7,
        keyspace: 200,
        dataSize: "16-128",
        seed: 3,
      }).then(() => {}));
    const profile = await Deno.makeTempFile({ suffix: ".mbp" });
    try {
      const rec = await record({ pcap: cap.file, output: profile, ports: [src.port], salt: "s" });
      await Deno.remove(cap.file);
      assert.equal(rec.connections, 7);

      // One replay, the reference.
      await using one = await startLocalServer("memcached");
      let before = await mcStats(one.address);
      const single = await runCli([
        "replay",
        profile,
        "-p",
        String(one.port),
        "--speed",
        "max",
        "--json",
        "-",
      ]);
      assert.equal(single.code, 0, single.stderr);
      const oneResult = JSON.parse(single.stdout);
      const oneCounts = diff(before, await mcStats(one.address));
      assert.equal(oneCounts.cmd_set, rec.eventsPerCommand.set);

      // Three shards, one after another (at max speed, concurrent shards would race each other's
      // keys; the counts of sets, gets and deletes do not depend on it, hits would).
      await using dst = await startLocalServer("memcached");
      before = await mcStats(dst.address);
      const owned: number[] = [];
      const files: string[] = [];
      for (let i = 0; i < 3; i++) {
        const r = await runCli([
          "replay",
          profile,
          "-p",
          String(dst.port),
          "--speed",
          "max",
          "--shard",
          `${i}/3`,
          "--json",
          "-",
        ]);
        assert.equal(r.code, 0, r.stderr);
        const j = JSON.parse(r.stdout);
        assert.deepEqual(j.config.shard.index, i);
        owned.push(j.config.shard.connections);
        files.push(await Deno.makeTempFile({ suffix: ".json" }));
        await Deno.writeTextFile(files[i]!, r.stdout);
      }
      assert.deepEqual(owned, [3, 2, 2]);
      const shardCounts = diff(before, await mcStats(dst.address));
      assert.deepEqual(
        {
          set: shardCounts.cmd_set,
          get: shardCounts.cmd_get,
          del: shardCounts.delete_hits! + shardCounts.delete_misses!,
        },
        {
          set: oneCounts.cmd_set,
          get: oneCounts.cmd_get,
          del: oneCounts.delete_hits! + oneCounts.delete_misses!,
        },
      );
      // Sequentially, in connection order, the shards replay the recorded connections in one
      // process's order per connection: the hits match a single replay's within the races
      // between connections that a max-speed replay has anyway.
      assert.ok(
        Math.abs(shardCounts.get_hits! - oneCounts.get_hits!) <= 0.1 * oneCounts.cmd_get!,
        `hits ${shardCounts.get_hits} vs ${oneCounts.get_hits}`,
      );

      // The merge: every op's sends and replies add up to the single replay's, fidelity judged on
      // the whole, and the latency from the merged histograms.
      const merged = await runCli(["merge", ...files, "--json", "-"]);
      assert.equal(merged.code, 0, merged.stderr);
      assert.match(merged.stderr, /3 of 3 replay shards merged/);
      const m = JSON.parse(merged.stdout);
      const perOp = (r: { commands: Array<{ op: string; sent: number; recorded: number }> }) =>
        Object.fromEntries(r.commands.map((c) => [c.op, [c.sent, c.recorded]]));
      assert.deepEqual(perOp(m), perOp(oneResult));
      assert.equal(m.sent, oneResult.sent);
      assert.equal(m.fidelity.pass, true);
      const get = m.commands.find((c: { op: string }) => c.op === "get");
      assert.equal(get.serviceTime.count, get.completed);
      const two = await runCli(["merge", files[0]!, files[2]!]);
      assert.equal(two.code, 5, two.stderr);
      assert.match(two.stderr, /missing shard 1/);
      for (const f of files) await Deno.remove(f);

      // Together, on a common wall-clock start (as on several machines): none begins before it,
      // and the server again counts one replay's requests.
      await using together = await startLocalServer("memcached");
      const before2 = await mcStats(together.address);
      const startAt = Date.now() + 4000;
      const ends = await Promise.all([0, 1, 2].map(async (i) => {
        const r = await runCli([
          "replay",
          profile,
          "-p",
          String(together.port),
          "--speed",
          "max",
          "--shard",
          `${i}/3`,
          "--start-at",
          new Date(startAt).toISOString(),
        ]);
        assert.equal(r.code, 0, r.stderr);
        return Date.now();
      }));
      assert.ok(ends.every((t) => t >= startAt), `ended ${ends.map((t) => t - startAt)} ms after`);
      const together2 = diff(before2, await mcStats(together.address));
      assert.deepEqual([together2.cmd_set, together2.cmd_get], [
        oneCounts.cmd_set,
        oneCounts.cmd_get,
      ]);

      const bad = await runCli(["replay", profile, "--shard", "0/8", "-p", String(dst.port)]);
      assert.equal(bad.code, 2, bad.stderr);
      assert.match(bad.stderr, /8 shards .* 7 connections/);
    } finally {
      await Deno.remove(profile).catch(() => {});
    }
  },
);
