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

async function run(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (out.code !== 0) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed (${out.code}): ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return text;
}

// The flags both tools get, so that they run the same workload.
function sameSettings(port: number, test: string, c: typeof CONFIGS[number]): string[] {
  return [
    ["--cluster"],
    ["-p", String(port)],
    ["-c", String(c.clients)],
    ["-P", String(c.pipeline)],
    ["-n", String(c.requests)],
    ["-r", keyspace],
    ["-d", "3"],
    ["-t", test],
  ].flat();
}

async function redisBenchmark(
  port: number,
  test: string,
  c: typeof CONFIGS[number],
): Promise<number> {
  const csv = await run("redis-benchmark", [...sameSettings(port, test, c), "--csv"]);
  const line = csv.trim().split("\n").find((l) =>
    l.toUpperCase().startsWith(`"${test.toUpperCase()}"`)
  );
  if (!line) throw new Error(`redis-benchmark printed no ${test} line: ${csv}`);
  return Number(line.split(",")[1]!.replace(/"/g, ""));
}

async function membench(
  port: number,
  test: string,
  c: typeof CONFIGS[number],
  threads: number,
  affinity: boolean,
): Promise<number> {
  const json = await run(Deno.execPath(), [
    "run",
    "-A",
    new URL("../cli/main.ts", import.meta.url).pathname,
    "bench",
    ...sameSettings(port, test, c),
    ...(affinity ? ["--cluster-affinity"] : []),
    "--threads",
    String(Math.min(threads, c.clients)),
    "--json",
    "-",
  ]);
  const t = JSON.parse(json).tests[0];
  if (t.errors > 0) throw new Error(`membench counted ${t.errors} errors`);
  return t.opsPerSec;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
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
