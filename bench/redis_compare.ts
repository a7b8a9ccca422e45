// deno-lint-ignore-file no-console
/**
 * membench vs redis-benchmark on one redis-server, same settings, alternating, in one run.
 * Prints ops/s of both and the membench/redis-benchmark ratio for SET and GET at
 * 50 clients pipeline 1, 50 clients pipeline 16 and 1 client pipeline 1, with membench on one
 * and on two worker threads. Each cell is the median of --rounds runs.
 *
 *   deno task bench            (or: deno run -A bench/redis_compare.ts --rounds 3)
 */
import { parseArgs } from "node:util";
import { median, membenchOps, redisBenchmarkOps, sameSettings } from "./_anchor.ts";
import { startLocalServer } from "../lib/scenario/mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "3" },
    keyspace: { type: "string", default: "100000" },
  },
});
const rounds = Number(values.rounds);
const keyspace = values.keyspace!;
const CONFIGS = [
  { clients: 50, pipeline: 1, requests: 300_000 },
  { clients: 50, pipeline: 16, requests: 2_000_000 },
  { clients: 1, pipeline: 1, requests: 100_000 },
];

function redisBenchmark(port: number, test: string, c: typeof CONFIGS[number]): Promise<number> {
  return redisBenchmarkOps(sameSettings(port, test, c, keyspace), test);
}

function membench(
  port: number,
  test: string,
  c: typeof CONFIGS[number],
  threads: number,
): Promise<number> {
  return membenchOps([
    ...sameSettings(port, test, c, keyspace),
    "--threads",
    String(Math.min(threads, c.clients)),
  ]);
}

await using srv = await startLocalServer("redis");
console.log(
  `redis-server on ${srv.address}; ${rounds} rounds, median of each; keyspace ${keyspace}, 3-byte values`,
);
console.log("config            test  redis-benchmark  membench(1w)  ratio  membench(2w)  ratio");
for (const c of CONFIGS) {
  for (const test of ["set", "get"]) {
    const rb: number[] = [];
    const m1: number[] = [];
    const m2: number[] = [];
    for (let i = 0; i < rounds; i++) {
      // Alternate the order every round so neither tool always runs on a warmer server.
      if (i % 2 === 0) {
        rb.push(await redisBenchmark(srv.port, test, c));
        m1.push(await membench(srv.port, test, c, 1));
        m2.push(await membench(srv.port, test, c, 2));
      } else {
        m2.push(await membench(srv.port, test, c, 2));
        m1.push(await membench(srv.port, test, c, 1));
        rb.push(await redisBenchmark(srv.port, test, c));
      }
    }
    const r = median(rb), a = median(m1), b = median(m2);
    console.log(
      `${`${c.clients} clients P${c.pipeline}`.padEnd(17)} ${test.padEnd(4)}  ${
        Math.round(r).toString().padStart(15)
      }  ` +
        `${Math.round(a).toString().padStart(12)}  ${(a / r).toFixed(2).padStart(5)}  ${
          Math.round(b).toString().padStart(12)
        }  ${(b / r).toFixed(2).padStart(5)}`,
    );
  }
}
