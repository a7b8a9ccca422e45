// deno-lint-ignore-file no-console
/**
 * membench --cluster vs redis-benchmark --cluster on the same 3-primary loopback cluster, same
 * settings, alternating, in one run. Prints ops/s of both and the membench/redis-benchmark ratio
 * for SET and GET at 50 clients pipeline 1 and 50 clients pipeline 16: membench with uniform
 * routing (each client's keys over every node) on one worker, and with --cluster-affinity (each
 * client on one primary, as redis-benchmark --cluster does) on one and two workers. Each cell is
 * the median of --rounds runs. The issue's bar: >= 1.0x at P1 and >= 0.9x at P16.
 *
 *   deno run -A bench/cluster_compare.ts --rounds 3
 */
import { parseArgs } from "node:util";
import { median, membenchOps, redisBenchmarkOps, sameSettings } from "./_anchor.ts";
import { startLocalCluster } from "../lib/scenario/mod.ts";

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
];

const settings = (port: number, test: string, c: typeof CONFIGS[number]) =>
  sameSettings(port, test, c, keyspace, ["--cluster"]);

function redisBenchmark(port: number, test: string, c: typeof CONFIGS[number]): Promise<number> {
  return redisBenchmarkOps(settings(port, test, c), test);
}

function membench(
  port: number,
  test: string,
  c: typeof CONFIGS[number],
  threads: number,
  affinity: boolean,
): Promise<number> {
  return membenchOps([
    ...settings(port, test, c),
    ...(affinity ? ["--cluster-affinity"] : []),
    "--threads",
    String(Math.min(threads, c.clients)),
  ]);
}

await using cl = await startLocalCluster({ primaries: 3 });
const port = cl.nodes[0]!.port;
console.log(
  `redis cluster of 3 primaries (${cl.addresses.join(", ")}); ${rounds} rounds, median of each; ` +
    `keyspace ${keyspace}, 3-byte values`,
);
console.log(
  "config            test  redis-benchmark  uniform(1w)  ratio  affinity(1w)  ratio  affinity(2w)  ratio",
);
for (const c of CONFIGS) {
  for (const test of ["set", "get"]) {
    const rb: number[] = [];
    const u1: number[] = [];
    const m1: number[] = [];
    const m2: number[] = [];
    for (let i = 0; i < rounds; i++) {
      // Alternate the order every round so neither tool always runs on warmer servers.
      if (i % 2 === 0) {
        rb.push(await redisBenchmark(port, test, c));
        u1.push(await membench(port, test, c, 1, false));
        m1.push(await membench(port, test, c, 1, true));
        m2.push(await membench(port, test, c, 2, true));
      } else {
        m2.push(await membench(port, test, c, 2, true));
        m1.push(await membench(port, test, c, 1, true));
        u1.push(await membench(port, test, c, 1, false));
        rb.push(await redisBenchmark(port, test, c));
      }
    }
    const r = median(rb);
    const cell = (xs: number[]) => {
      const x = median(xs);
      return `${Math.round(x).toString().padStart(11)}  ${(x / r).toFixed(2).padStart(5)}`;
    };
    console.log(
      `${`${c.clients} clients P${c.pipeline}`.padEnd(17)} ${test.padEnd(4)}  ${
        Math.round(r).toString().padStart(15)
      }  ${cell(u1)}  ${cell(m1)}   ${cell(m2)}`,
    );
  }
}
