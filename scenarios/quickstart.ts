/**
 * Quickstart: the smallest useful membench scenario.
 *
 * A scenario is a plain TypeScript program. It calls `scenario(name, options, fn)`, and `fn`
 * runs "phases" (bench, record, analyze, replay) one after another with `await`. Each phase
 * returns a typed result, and you decide pass or fail with thresholds (short expressions over
 * the phase's metrics) and checks (any condition you can compute). When it ends, membench prints
 * a summary, writes it as JSON under `results/`, stores the run in `results/history.db`, and
 * sets the exit code: 0 passed, 2 bad options, 3 server unreachable, 4 a threshold or check
 * failed, 130 Ctrl+C (the phases so far are kept; a second Ctrl+C quits at once).
 *
 * Run it:
 *   ./node_modules/.bin/deno task quickstart
 *   ./node_modules/.bin/deno run -A scenarios/quickstart.ts            (the same)
 *   MEMBENCH_TARGET=redis://127.0.0.1:6379 ./node_modules/.bin/deno task quickstart   (your server)
 * (`npm ci` puts Deno in ./node_modules/.bin; a `deno` on your PATH works as well.)
 *
 * In your own repository: copy this file, import from "membench" instead of "../mod.ts", and run
 * it with `membench run quickstart.ts` (README, "Scenarios in your own repo").
 *
 * Without MEMBENCH_TARGET it starts a throwaway redis-server on a free loopback port, so it only
 * needs `redis-server` installed (Debian/Ubuntu: apt-get install redis-server).
 */
import { scenario } from "../mod.ts";

await scenario("quickstart", {
  // No `target`: start a local redis-server for this run (MEMBENCH_TARGET overrides this).
  server: "redis",
  // Every phase uses this seed, so key and size sequences repeat from run to run.
  seed: 1,
}, async (run) => {
  // Phase 1, redis-benchmark style: SET then GET, 50 connections, keys drawn at random from a
  // keyspace of 100k (about 63k distinct ones are written; the GETs read the same sequence).
  const basic = await run.bench({
    name: "set-get",
    tests: ["set", "get"],
    requests: 100_000,
    clients: 50,
    keyspace: 100_000,
    // Thresholds name a metric, a comparison and a value with its unit.
    // `get.p99` is the 99th percentile latency of GET; `errors` counts failed requests.
    thresholds: ["errors == 0", "get.p99 < 50ms", "set.p99 < 50ms"],
  });

  // Phase 2, memtier style: a 1:10 SET:GET mix on zipf-distributed keys, values of 32 to 512
  // bytes, in open loop at 20,000 requests/s for 3 s. Open-loop latency (`get.p99`) is measured
  // from the moment each request was due, so a slow or stalled server cannot hide its queueing
  // delay behind fewer requests sent.
  await run.bench({
    name: "mix",
    mix: "set:1,get:10",
    rate: "20k/s",
    durationMs: 3000,
    clients: 20,
    keyspace: 100_000,
    keyPattern: "zipf:0.99",
    dataSize: "32-512",
    // What a healthy server shows even on a busy laptop: no errors, reads that find the keys of
    // phase 1, and 99% of requests answered within 50 ms of when they were due.
    thresholds: ["errors == 0", "get.hit_ratio > 50%", "get.p99 < 50ms", "set.p99 < 50ms"],
    // Warnings are reported but never fail the run. `client_late_ratio` counts sends that left
    // more than 1 ms late although their connection was free: membench itself fell behind (a
    // busy machine), and its delay is in the latency above. Sends that waited because every
    // connection was waiting on the server are the server's, and show in the thresholds.
    warnings: ["client_late_ratio < 5%", "ops >= 15k"],
  });

  // Checks are any condition you like; they are recorded and never throw.
  run.check(
    "the keys written in phase 1 are read back",
    basic.tests.find((t) => t.name === "get")?.commands[0]?.hitRatio === 1,
  );
});
