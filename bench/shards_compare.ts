// deno-lint-ignore-file no-console
/**
 * Run shards against threads, and the cost of a merge (issue 24's performance lines):
 *
 * 1. One redis-server; the same SET/GET load as one process with 2 worker threads
 *    (`--threads 2`) and as 2 local shards (`--shards 2`: two processes, merged), alternated
 *    over --rounds; prints the median ops/s of each and the ratio (target >= 0.95x).
 * 2. One real shard result (shard 0 of 100, 20k requests/s) of a --merge-seconds (default 60)
 *    run of a get/set mix, copied as the 100 shards of a run; prints how long `mergeBenchResults` takes over the 100 (target
 *    under 1 s) and how long `membench merge` takes end to end (reading 100 files included).
 *
 *   deno run -A bench/shards_compare.ts [--rounds 3] [--requests 400000] [--merge-seconds 60]
 */
import { parseArgs } from "node:util";
import { type BenchResult, mergeBenchResults, startLocalServer } from "../mod.ts";
import { median, membenchOps, run } from "./_anchor.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "3" },
    requests: { type: "string", default: "400000" },
    "merge-seconds": { type: "string", default: "60" },
  },
});
const rounds = Number(values.rounds);
const main = new URL("../cli/main.ts", import.meta.url).pathname;

await using srv = await startLocalServer("redis");
const port = srv.address.split(":").pop()!;
const load = [
  "-p",
  port,
  "-c",
  "50",
  "-P",
  "16",
  "-n",
  values.requests,
  "-r",
  "100000",
  "-t",
  "set,get",
  "--seed",
  "1",
];
const threads: number[] = [];
const shards: number[] = [];
for (let r = 0; r < rounds; r++) {
  threads.push(await membenchOps([...load, "--threads", "2"]));
  shards.push(await membenchOps([...load, "--shards", "2"]));
  console.log(
    `round ${r + 1}: threads=2 ${threads.at(-1)!.toFixed(0)} ops/s, shards=2 ${
      shards.at(-1)!.toFixed(0)
    } ops/s`,
  );
}
const t = median(threads);
const s = median(shards);
console.log(
  `SET, 50 clients, P16: 1 process x 2 threads ${t.toFixed(0)} ops/s; 2 shards ${
    s.toFixed(0)
  } ops/s; ratio ${(s / t).toFixed(2)}x (target >= 0.95x)`,
);

// The merge: one real shard result of a long mixed run, as the 100 shards of a run.
const dir = await Deno.makeTempDir({ prefix: "membench-merge-" });
try {
  const seconds = values["merge-seconds"];
  await run(Deno.execPath(), [
    "run",
    "-A",
    main,
    "bench",
    "-p",
    port,
    "-c",
    "100",
    "--mix",
    "get:0.9,set:0.1",
    "-r",
    "100000",
    "--duration",
    `${seconds}s`,
    "--rate",
    "2000000", // shard 0 of 100 sends 20k/s, a shard's usual share of a large run
    "--seed",
    "1",
    "--shard",
    "0/100",
    "--json",
    `${dir}/s0.json`,
    "-q",
  ]);
  const one: BenchResult = JSON.parse(await Deno.readTextFile(`${dir}/s0.json`));
  const parts: BenchResult[] = [];
  for (let i = 0; i < 100; i++) {
    const p: BenchResult = structuredClone(one);
    p.config.shard!.index = i;
    parts.push(p);
    await Deno.writeTextFile(`${dir}/s${i}.json`, JSON.stringify(p));
  }
  const series = one.tests[0]!.histograms.reduce((a, h) => a + h.series.length, 0);
  const t0 = performance.now();
  const merged = mergeBenchResults(parts);
  const libMs = performance.now() - t0;
  const t1 = performance.now();
  await run(Deno.execPath(), [
    "run",
    "-A",
    main,
    "merge",
    ...parts.map((_, i) => `${dir}/s${i}.json`),
    "-q",
  ]);
  const cliMs = performance.now() - t1;
  console.log(
    `merge of 100 shards of a ${seconds} s run (${
      one.tests[0]!.commands.length
    } commands, ${series} ` +
      `per-second histograms each): mergeBenchResults ${libMs.toFixed(0)} ms (target < 1000 ms); ` +
      `membench merge end to end ${cliMs.toFixed(0)} ms; merged ${
        merged.tests[0]!.requests
      } requests`,
  );
} finally {
  await Deno.remove(dir, { recursive: true });
}
