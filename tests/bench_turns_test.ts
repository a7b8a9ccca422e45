// The connection turns that deal a multi-thread run's clients over its threads (lib/bench/_turns.ts).
import assert from "node:assert/strict";
import { connectTurns, openInTurns } from "../lib/bench/_turns.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("openInTurns(): shards open their clients dealt round-robin, whatever their timing", async () => {
  const turns = connectTurns(3);
  const order: string[] = [];
  // 8 clients over 3 shards: the first two shards have one more (as splitShards gives them).
  const counts = [3, 3, 2];
  const shard = async (s: number) => {
    await sleep(3 * (2 - s)); // the last shard starts first
    return await openInTurns(turns, s, counts[s]!, 5000, async (k) => {
      order.push(`${s}.${k}`);
      await sleep(s === 1 ? 4 : 1); // opens of unequal length
      return `${s}.${k}`;
    });
  };
  const results = await Promise.all([0, 1, 2].map(shard));
  assert.deepEqual(order, ["0.0", "1.0", "2.0", "0.1", "1.1", "2.1", "0.2", "1.2"]);
  assert.deepEqual(
    results.map((r) => r.map((x) => x.status === "fulfilled" ? x.value : "rejected")),
    [["0.0", "0.1", "0.2"], ["1.0", "1.1", "1.2"], ["2.0", "2.1"]],
  );
});

Deno.test("openInTurns(): a failed open ends its shard and releases the others at once", async () => {
  const turns = connectTurns(2);
  const t0 = performance.now();
  const [a, b] = await Promise.all([
    openInTurns(turns, 0, 4, 10_000, (k) => {
      if (k === 1) return Promise.reject(new Error("connection refused"));
      return Promise.resolve(k);
    }),
    openInTurns(turns, 1, 4, 10_000, (k) => Promise.resolve(k)),
  ]);
  assert.deepEqual(a.map((x) => x.status), ["fulfilled", "rejected"]);
  assert.equal((a[1] as PromiseRejectedResult).reason.message, "connection refused");
  assert.deepEqual(b.map((x) => x.status === "fulfilled" && x.value), [0, 1, 2, 3]);
  assert.ok(performance.now() - t0 < 2000, "the other shard waited for its timeout");
});

Deno.test("openInTurns(): a shard that never takes its turn is given up after the timeout", async () => {
  const turns = connectTurns(2);
  const t0 = performance.now();
  // Shard 1 never runs: shard 0 opens client 0, waits 150 ms for turn 2, then opens the rest.
  const r = await openInTurns(turns, 0, 3, 150, (k) => Promise.resolve(k));
  const took = performance.now() - t0;
  assert.deepEqual(r.map((x) => x.status === "fulfilled" && x.value), [0, 1, 2]);
  assert.ok(took >= 140 && took < 2000, `took ${took} ms`);
  // The order stays given up for any shard that comes late.
  const late = await openInTurns(turns, 1, 2, 5000, (k) => Promise.resolve(k));
  assert.equal(late.length, 2);
});
