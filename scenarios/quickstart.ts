// deno-lint-ignore-file no-console
/**
 * Quickstart: start a throwaway redis-server on a free loopback port (or use MEMBENCH_TARGET),
 * run a short SET/GET/mixed benchmark with membench's library API, print the report, and check
 * that nothing failed.
 *
 *   deno task quickstart
 *   MEMBENCH_TARGET=redis://127.0.0.1:6379 deno task quickstart
 */
import { bench, formatBenchText, MembenchError, startLocalServer } from "../mod.ts";

const given = Deno.env.get("MEMBENCH_TARGET");
let server: Awaited<ReturnType<typeof startLocalServer>> | undefined;
try {
  if (!given) {
    server = await startLocalServer("redis");
    console.log(`started redis-server on ${server.address} for this run\n`);
  }
  const target = given ?? server!.address;
  // 1. redis-benchmark style: SET then GET, 50 clients, 100k keys.
  const tests = await bench({
    target,
    tests: ["set", "get"],
    requests: 100_000,
    clients: 50,
    keyspace: 100_000,
    seed: 1,
  });
  console.log(formatBenchText(tests));
  // 2. memtier style: a 1:10 SET:GET mix with zipf-distributed keys, open loop at 20k requests/s for 3 s.
  const mix = await bench({
    target,
    mix: "set:1,get:10",
    rate: "20k/s",
    durationMs: 3000,
    clients: 20,
    keyspace: 100_000,
    keyPattern: "zipf:0.99",
    dataSize: "32-512",
    seed: 1,
  });
  console.log(formatBenchText(mix));
  const errors = [...tests.tests, ...mix.tests].reduce((a, t) => a + t.errors, 0);
  console.log(errors === 0 ? "check: no errors ... ok" : `check: ${errors} errors ... FAILED`);
  Deno.exitCode = errors === 0 ? 0 : 4;
} catch (e) {
  if (e instanceof MembenchError) {
    console.error(`quickstart: ${e.message}`);
    Deno.exitCode = e.code === "invalid_argument" ? 2 : 3;
  } else throw e;
} finally {
  await server?.stop();
}
