/**
 * redis-mix: an open-loop mixed workload on Valkey/Redis with latency thresholds, the way an SRE
 * would gate a release or a config change.
 *
 * Open loop means requests are sent on a schedule (here 10,000/s with Poisson arrivals, as
 * independent users would), not "as fast as replies come back". Latency is measured from the
 * moment each request was due, so queueing in the server or the network shows up in the
 * percentiles instead of silently lowering the request rate (no coordinated omission).
 *
 * The phases:
 *   1. prefill  stores every key once, pipelined, so that reads in the mix hit.
 *   2. mix      80% GET, 15% SET, 5% INCR on zipf-distributed keys, value sizes 64 B to 4 KiB,
 *               10k requests/s for 5 s after a 1 s warm-up, checked against latency thresholds.
 *
 * Run it:
 *   ./node_modules/.bin/deno run -A scenarios/redis-mix.ts
 *   MEMBENCH_TARGET=redis://:password@10.0.0.5:6379 ./node_modules/.bin/deno run -A scenarios/redis-mix.ts
 *
 * Without MEMBENCH_TARGET it starts a throwaway redis-server on a free loopback port (Debian/Ubuntu:
 * apt-get install redis-server). Passwords in the target never reach the output or the results.
 */
import { scenario } from "../mod.ts";

const KEYS = 50_000;

await scenario("redis-mix", {
  server: "redis",
  seed: 42,
  // Stop (and fail) if the whole scenario takes longer than a minute.
  timeoutMs: 60_000,
}, async (run) => {
  await run.bench({
    name: "prefill",
    tests: ["set"],
    requests: KEYS,
    keyspace: KEYS,
    keyPattern: "sequential", // every key exactly once
    dataSize: 256,
    pipeline: 16,
    thresholds: ["errors == 0"],
  });

  const mix = await run.bench({
    name: "mix",
    mix: "get:80,set:15,incr:5",
    rate: "10k/s",
    arrival: "poisson",
    warmupMs: 1000,
    durationMs: 5000,
    clients: 32,
    keyspace: KEYS,
    keyPattern: "zipf:0.99",
    dataSize: "64:0.6,256:0.3,4096:0.1", // size:weight pairs
    thresholds: [
      // Latency from the intended send time, per command: what a user of this server waits,
      // queueing included. 25 ms holds for a healthy local server on a busy 2-core machine;
      // against a remote server from an idle load host, tighten it to your SLO.
      "get.p99 < 25ms",
      "set.p99 < 25ms",
      "incr.p99 < 25ms",
      "get.p50 < 2ms",
      // Nothing failed.
      "errors == 0",
    ],
    // Warnings are reported but do not fail the run. `client_late_ratio`: sends more than 1 ms
    // late although their connection was free, so membench itself fell behind (its delay is in
    // the latency above); `ops` below the target says the same or that the server could not
    // keep up (then the thresholds above fail too).
    warnings: ["client_late_ratio < 5%", "ops >= 9.5k"],
  });

  const get = mix.tests[0]!.commands.find((c) => c.command === "get")!;
  run.check(
    "reads hit the prefilled keys",
    (get.hitRatio ?? 0) >= 0.99,
    `hit ratio ${get.hitRatio}`,
  );
});
