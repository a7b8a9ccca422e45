// Commands a replay never sends: a recording of real clients may hold SHUTDOWN, REPLICAOF or
// MONITOR (an operator's redis-cli on the same port). Replayed, they would stop or reconfigure
// the target, or turn a connection into a push stream. redis-cli sends them to a source server
// under tcpdump; the replay into a fresh server skips and names them, and the fresh server is
// still up, still a primary, with every other command executed (its own INFO commandstats).
import assert from "node:assert/strict";
import { record, replay, startLocalServer } from "../mod.ts";
import { captureNoDrops } from "./capture_helpers.ts";
import { commandStats, info, loadTest, redisText, statsDelta } from "./helpers.ts";

async function cli(port: number, args: string[]): Promise<void> {
  await new Deno.Command("redis-cli", {
    args: ["-p", String(port), ...args],
    stdin: "null",
    stdout: "null",
    stderr: "null",
    signal: AbortSignal.timeout(10_000),
  }).output();
}

loadTest(
  "replay never sends SHUTDOWN, REPLICAOF or CLIENT KILL: skipped and named, the target stays up",
  async () => {
    const src = await startLocalServer("redis");
    const cap = await captureNoDrops(src.port, () => Promise.resolve(0), async () => {
      await cli(src.port, ["SET", "a:1", "x"]);
      await cli(src.port, ["CLIENT", "KILL", "TYPE", "pubsub"]);
      await cli(src.port, ["GET", "a:1"]);
      await cli(src.port, ["REPLICAOF", "127.0.0.1", "1"]);
      await cli(src.port, ["REPLICAOF", "NO", "ONE"]);
      await cli(src.port, ["SHUTDOWN", "NOSAVE"]);
    });
    await src.stop();
    const profile = await Deno.makeTempFile({ suffix: ".mbp" });
    try {
      await record({ pcap: cap.file, output: profile, ports: [src.port], salt: "safe" });
      await using dst = await startLocalServer("redis");
      const before = await commandStats(dst.address);
      const r = await replay({
        profile,
        target: dst.address,
        speed: "max",
        signal: AbortSignal.timeout(30_000),
      });
      assert.equal(r.skipped.shutdown, 1, JSON.stringify(r.skipped));
      assert.equal(r.skipped.replicaof, 2, JSON.stringify(r.skipped));
      assert.equal(r.skipped["client|kill"], 1, JSON.stringify(r.skipped));
      // Still up, still a primary; the SET and GET were executed.
      assert.equal(await redisText(dst.address, ["PING"]), "PONG");
      assert.equal((await info(dst.address, "replication"))["role"], "master");
      const d = statsDelta(before, await commandStats(dst.address));
      assert.equal(d.set, 1, JSON.stringify(d));
      assert.equal(d.get, 1);
      assert.equal(d.shutdown ?? 0, 0);
      assert.equal(d.replicaof ?? 0, 0);
    } finally {
      await Deno.remove(cap.file);
      await Deno.remove(profile);
    }
  },
);
