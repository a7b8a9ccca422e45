// deno-lint-ignore-file no-console
/**
 * Vector search: how much of the machine membench itself takes while it loads and queries, set
 * against the server's own accounting. Not a timed test; it prints figures and ratios.
 *
 * - Load: the server's CPU share during vec-load (from /proc/<pid>/stat; the issue's target is
 *   >= 90% busy with default settings), vectors/s, and membench's peak RSS while streaming the
 *   dataset from its file (target: under 300 MiB for 1M x 128).
 * - Query: membench's CPU per query against the server's (`INFO commandstats` ft.search
 *   usec_per_call; target: client <= 10% of server), in the steady state (the difference of a
 *   short and a long run, so that the run's fixed cost is left out) and over the whole run.
 *
 * Run: deno run -A bench/vector_compare.ts [vectors=200000] [dim=128] [algorithm=HNSW] [queries=5000]
 * (MEMBENCH_SEARCH_MODULE names the module; by default ../shared/servers/redisearch-2.6;
 * QUERY_CLIENTS and QUERY_PIPELINE set the query phases' connections and pipeline, 4 and 1;
 * EFS the HNSW EF_RUNTIME values, 10,100,400; ROUNDS the rounds per value, 3, whose median is
 * the summary line.)
 *
 * The client's CPU is split into user and system time: on loopback, the kernel's TCP work for
 * each send and receive (the peer's receive path included) is charged to the sender, and at one
 * query in flight per connection every query costs its own send and receive.
 */
import process from "node:process";
import {
  ftSearchArgs,
  generateDataset,
  knnQuery,
  openDataset,
  parseInfo,
  parseTarget,
  RespConnection,
  startLocalServer,
  vectorLoad,
  vectorQuery,
  vectorTruth,
} from "../mod.ts";

const n = Number(Deno.args[0] ?? 200_000);
const dim = Number(Deno.args[1] ?? 128);
const algorithm = (Deno.args[2] ?? "HNSW") as "HNSW" | "FLAT";
const requests = Number(Deno.args[3] ?? 5000);
const module = Deno.env.get("MEMBENCH_SEARCH_MODULE") ??
  new URL("../../shared/servers/redisearch-2.6/redisearch.so", import.meta.url).pathname;

const ticks = 100; // USER_HZ on Linux
function cpuSecondsOf(pid: number): number {
  const f = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1]!.split(" ");
  return (Number(f[11]) + Number(f[12])) / ticks; // utime, stime
}
function selfCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}
const queryClients = Number(Deno.env.get("QUERY_CLIENTS") ?? 4);
const queryPipeline = Number(Deno.env.get("QUERY_PIPELINE") ?? 1);

const dir = await Deno.makeTempDir({ prefix: "membench-vec-bench-" });
try {
  const path = `${dir}/bench.mbv`;
  let t = performance.now();
  await generateDataset(path, { dim, count: n, queries: 1000, k: 10, seed: 1 });
  console.log(`generated ${n} x ${dim} in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  await using server = await startLocalServer("redis", { modules: [{ path: module }] });
  // RSS is sampled while the load streams the file.
  let peakRss = 0;
  const sampler = setInterval(() => peakRss = Math.max(peakRss, Deno.memoryUsage().rss), 20);
  const rssBefore = Deno.memoryUsage().rss;
  const s0 = cpuSecondsOf(server.pid), c0 = selfCpuSeconds();
  t = performance.now();
  const l = await vectorLoad({
    target: server.address,
    dataset: path,
    index: { algorithm },
    clients: 8,
  });
  const wall = (performance.now() - t) / 1000;
  const s1 = cpuSecondsOf(server.pid), c1 = selfCpuSeconds();
  clearInterval(sampler);
  console.log(
    `vec-load ${algorithm}: ${l.ok} vectors, load ${(l.loadMs / 1000).toFixed(2)} s + index ${
      (l.indexWaitMs / 1000).toFixed(2)
    } s, ${Math.round(l.vectorsPerSec)} vectors/s, failures ${l.indexFailures}, memory +${
      (l.memory.growth / 2 ** 20).toFixed(0)
    } MiB`,
  );
  console.log(
    `  server CPU ${(100 * (s1 - s0) / wall).toFixed(0)}% of one core over ${wall.toFixed(2)} s; ` +
      `membench CPU ${(100 * (c1 - c0) / wall).toFixed(0)}%; membench RSS ${
        (rssBefore / 2 ** 20).toFixed(0)
      } -> peak ${(peakRss / 2 ** 20).toFixed(0)} MiB`,
  );
  const c = await RespConnection.open(parseTarget(server.address));
  const stats = async () => {
    const m = /cmdstat_FT\.SEARCH:calls=(\d+),usec=(\d+)/i.exec(
      await c.text(["INFO", "commandstats"]),
    );
    return { calls: Number(m?.[1] ?? 0), usec: Number(m?.[2] ?? 0) };
  };
  // The truth is computed once, outside the measured part.
  using ds = await openDataset(path);
  const truth = await vectorTruth(ds, { k: 10 });
  // Each setting runs twice, with a fifth of the queries and with all of them: the difference
  // is the steady state's cost per query, without the run's fixed cost (connecting, reading the
  // index's state); the whole run's is printed beside it. Measured on 50k x 128 HNSW: the fixed
  // cost is small (about 1 µs per query over 20,000), and part of the client's user time grows
  // with the run's length rather than its queries (the event loop's turns every 2 ms, and a wake
  // per reply at one query in flight), so a slower query (EF_RUNTIME 100) costs more user time.
  // On the default 200k x 128, one query in flight per client (ratios seen over three
  // sessions; the host's state moves them by half): EF_RUNTIME 400 (recall 0.985) 0.037-0.068;
  // EF_RUNTIME 100 (recall 0.86) 0.067-0.13; EF_RUNTIME 10 (recall 0.33) 0.12-0.37. membench's
  // CPU per query grows with the time between replies (10 µs at EF 10, 30-35 µs at EF 100-400
  // in one run): each reply wakes it after a sleep, with its caches cold. redis-benchmark's, at
  // the same settings (below), stays at 15-19 µs. Two runs of the median summary (3 rounds):
  // EF 100 0.075 and 0.059 (every round 0.037-0.085), EF 400 0.038 and 0.041, EF 10 0.30 and
  // 0.23, where redis-benchmark's own ratio was 0.83 and 0.84 and membench's CPU per query
  // (18.0 and 13.6 µs) was about redis-benchmark's (14.8 and 15.2 µs).
  const run = async (ef: number | undefined, n: number) => {
    const b = await stats();
    const u0 = process.cpuUsage();
    const q = await vectorQuery({
      target: server.address,
      dataset: ds,
      truth,
      k: 10,
      index: { algorithm },
      ...(ef !== undefined ? { efRuntime: ef } : {}),
      requests: n,
      clients: queryClients,
      pipeline: queryPipeline,
    });
    const u1 = process.cpuUsage();
    const a = await stats();
    return {
      q,
      user: (u1.user - u0.user) / 1e6,
      system: (u1.system - u0.system) / 1e6,
      calls: a.calls - b.calls,
      usec: a.usec - b.usec,
    };
  };
  // EF_RUNTIME values (EFS="10,100,400"): the ratio falls as the server's work per query grows,
  // so it is read at the recall a user would run at, not only at a cheap, inexact setting.
  const efs = (Deno.env.get("EFS") ?? "10,100,400").split(",").map(Number);
  // membench's CPU per query over one setting: the steady state (the difference of a short and
  // a long run) and the whole long run, each against the server's time per query.
  const measure = async (ef: number | undefined) => {
    const small = await run(ef, Math.max(100, Math.round(requests / 5)));
    const big = await run(ef, requests);
    const n = big.q.completed - small.q.completed;
    const userUs = (big.user - small.user) * 1e6 / n;
    const systemUs = (big.system - small.system) * 1e6 / n;
    const wholeUs = (big.user + big.system) * 1e6 / big.q.completed;
    const serverUs = big.usec / Math.max(1, big.calls);
    return { q: big.q, userUs, systemUs, clientUs: userUs + systemUs, wholeUs, serverUs };
  };
  // The anchor: redis-benchmark (C) sending the same FT.SEARCH at the same concurrency: its CPU
  // per query (bash's time: getrusage, to the ms) against the server's time per query during
  // its own run. The blob goes through argv, which cannot carry a NUL byte: the first query
  // vector with each 0x00 byte made 0x01 (the last bit of a mantissa, or 0.0 -> 2.4e-38). It is
  // one query repeated, which the server answers faster than the mix above (its caches), so set
  // the two tools' CPU per query side by side as well as their ratios. Measured on 20k x 128 at
  // 4 x 1: redis-benchmark 16-17 µs per query (almost all system time), membench 10-15.5 µs in
  // the steady state: at one query in flight a cheap query's cost to any client is the kernel's
  // round trip, and the 10% bar is out of reach of a C client too.
  const f0 = await ds.queries!.read(0, 1);
  const q0 = new Uint8Array(f0.buffer, f0.byteOffset, dim * 4);
  const blobArg = "$'" + [...q0].map((b) => `\\x${Math.max(1, b).toString(16).padStart(2, "0")}`)
    .join("") +
    "'";
  const port = Number(server.address.split(":").pop());
  const anchor = async (ef: number | undefined) => {
    const query = knnQuery({ k: 10, field: "vec", efRuntime: ef });
    const { before, after } = ftSearchArgs({
      index: "membench_idx",
      query,
      k: 10,
      nocontent: true,
      sortByScore: true,
      dialect: 2,
    });
    const n = Math.max(2000, Math.round(requests / 2));
    const quote = (x: string) => `'${x.replace(/'/g, "'\\''")}'`;
    const script =
      `TIMEFORMAT="%3U %3S"; time redis-benchmark -p ${port} -c ${queryClients} -P ${queryPipeline} -n ${n} -q ${
        before.map(quote).join(" ")
      } ${blobArg} ${after.map(quote).join(" ")} > /dev/null`;
    const b = await stats();
    const out = await new Deno.Command("bash", { args: ["-c", script], stderr: "piped" }).output();
    const a = await stats();
    const t = new TextDecoder().decode(out.stderr).trim().split("\n").pop()!.split(" ").map(Number);
    if (!out.success || a.calls - b.calls < n || t.length !== 2) {
      throw new Error(
        `redis-benchmark anchor failed: ${new TextDecoder().decode(out.stderr).trim()}`,
      );
    }
    return { cpuUs: (t[0]! + t[1]!) * 1e6 / n, serverUs: (a.usec - b.usec) / (a.calls - b.calls) };
  };
  // ROUNDS rounds per setting, membench and redis-benchmark one after the other in each; the
  // host's speed moves every figure together by up to 1.7x from one run to the next here, so
  // the summary is the median of the rounds.
  const rounds = Number(Deno.env.get("ROUNDS") ?? 3);
  const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
  const span = (xs: number[], d = 3) =>
    `${med(xs).toFixed(d)} (${Math.min(...xs).toFixed(d)}-${Math.max(...xs).toFixed(d)})`;
  for (const ef of algorithm === "HNSW" ? efs : [undefined]) {
    const name = `EF_RUNTIME ${ef ?? "-"}`;
    const steady: number[] = [], whole: number[] = [], mine: number[] = [], rb: number[] = [];
    const rbRatio: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const m = await measure(ef);
      const r = await anchor(ef);
      steady.push(m.clientUs / m.serverUs);
      whole.push(m.wholeUs / m.serverUs);
      mine.push(m.clientUs);
      rb.push(r.cpuUs);
      rbRatio.push(r.cpuUs / r.serverUs);
      console.log(
        `  ${name} round ${i + 1}: membench ${
          Math.round(m.q.qps)
        } qps, p50 ${m.q.summary.p50Us} µs, ` +
          `recall@10 ${m.q.recall.mean.toFixed(4)}; CPU per query ${
            m.clientUs.toFixed(1)
          } µs (user ${m.userUs.toFixed(1)}, system ${m.systemUs.toFixed(1)}), whole run ${
            m.wholeUs.toFixed(1)
          }, server ${m.serverUs.toFixed(1)} µs | redis-benchmark ${
            r.cpuUs.toFixed(1)
          } µs, server ${r.serverUs.toFixed(1)} µs`,
      );
    }
    console.log(
      `vec-query ${name} (${queryClients} clients x ${queryPipeline} in flight, median of ${rounds}): ` +
        `client/server ${span(steady)} steady, ${span(whole)} whole run; CPU per query membench ${
          span(mine, 1)
        } µs, redis-benchmark ${span(rb, 1)} µs (its client/server ${
          span(rbRatio)
        }, one query repeated)`,
    );
  }
  const info = parseInfo(await c.text(["INFO", "memory"]));
  console.log(`server used_memory_human ${info["memory"]?.["used_memory_human"]}`);
  c.close();
} finally {
  await Deno.remove(dir, { recursive: true });
}
