// deno-lint-ignore-file no-console
/**
 * membench vs memaslap (Debian's libmemcached-tools, binary `memcaslap`) on one memcached, same
 * workload, alternating, in one run: get/set 9:1, 50 connections, 32-byte values, 64-byte keys,
 * 500,000 keys (memaslap's default window of 10k keys per connection), text protocol. Prints the
 * ops/s of both and the membench/memaslap ratio, median of --rounds runs of --seconds each.
 *
 * It also prints what each tool's requests cost the server: memcached's CPU time (from
 * /proc/PID/stat) per request it counted (cmd_get + cmd_set). The ratio compares clients only
 * when that cost is about equal; the key pattern moves it (memaslap reads back keys it wrote a
 * moment ago, which memcached serves more cheaply than uniform random keys).
 *
 * memcached runs 2 threads and memaslap 2 (`-T 2`, its best here). membench runs once per entry of
 * --threads (default 1 and 2), so the output shows what its threads are worth. With 2, membench
 * deals its connections to its threads in turn, and memcached hands accepted connections to its
 * threads in turn, so each membench thread talks to one memcached thread and the two share a CPU
 * (the kernel's wake-ups pull them together); memaslap's threads each talk to both.
 *
 *   deno run -A bench/memcache_compare.ts [--rounds 3] [--seconds 10] [--threads 1,2] [--binary]
 *     [--io auto|uring|deno] [--key-pattern uniform|zipf|...]
 */
import { parseArgs } from "node:util";
import { McConnection, parseTarget } from "../lib/net/mod.ts";
import { startLocalServer } from "../lib/scenario/mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "3" },
    seconds: { type: "string", default: "10" },
    threads: { type: "string", default: "1,2" },
    binary: { type: "boolean", default: false },
    io: { type: "string", default: "auto" },
    "key-pattern": { type: "string", default: "uniform" },
  },
});
const rounds = Number(values.rounds);
const threadCounts = values.threads!.split(",").map(Number);
if (threadCounts.some((t) => !(Number.isInteger(t) && t >= 1))) {
  throw new RangeError(
    `Cannot run: --threads must be a list of positive integers: ${values.threads}`,
  );
}
const seconds = Number(values.seconds);
const CONNECTIONS = 50;
const VALUE = 32;
const KEY = 64;
const KEYS = 500_000;

async function run(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (out.code !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${out.code}): ${text}`);
  return text;
}

// memaslap's workload file: key and value sizes, and the command mix (0 set, 1 get).
const cfg = await Deno.makeTempFile({ suffix: ".cnf" });
await Deno.writeTextFile(
  cfg,
  `key\n${KEY} ${KEY} 1\nvalue\n${VALUE} ${VALUE} 1\ncmd\n0 0.1\n1 0.9\n`,
);

async function memaslap(port: number): Promise<number> {
  const out = await run("memcaslap", [
    "-s",
    `127.0.0.1:${port}`,
    "-F",
    cfg,
    "-T",
    "2",
    "-c",
    String(CONNECTIONS),
    "-t",
    `${seconds}s`,
    ...(values.binary ? ["-B"] : []),
  ]);
  const m = /TPS:\s*(\d+)/.exec(out.split("Run time")[1] ?? out);
  if (!m) throw new Error(`memaslap printed no TPS: ${out}`);
  return Number(m[1]);
}

async function membench(
  port: number,
  threads: number,
): Promise<{ ops: number; hitRatio: number; io: string }> {
  const prefix = "k".repeat(KEY - String(KEYS - 1).length);
  const json = await run(Deno.execPath(), [
    "run",
    "-A",
    new URL("../cli/main.ts", import.meta.url).pathname,
    "bench",
    "--protocol",
    values.binary ? "memcache-binary" : "memcache-text",
    "-p",
    String(port),
    "--ratio",
    "1:9",
    "-c",
    String(CONNECTIONS),
    "-d",
    String(VALUE),
    "-r",
    String(KEYS),
    "--key-prefix",
    prefix,
    "--duration",
    `${seconds}s`,
    "--threads",
    String(threads),
    "--io",
    values.io!,
    "--key-pattern",
    values["key-pattern"]!,
    "--json",
    "-",
  ]);
  const t = JSON.parse(json).tests[0];
  const get = t.commands.find((c: { command: string }) => c.command === "get");
  return { ops: t.opsPerSec, hitRatio: get?.hitRatio ?? 0, io: JSON.parse(json).config.io };
}

// memcached's CPU time (user + system, in µs) and the requests it has counted.
const TICK_US = 1e6 / 100; // USER_HZ, 100 on Linux
async function serverCost(pid: number, port: number): Promise<{ cpuUs: number; reqs: number }> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const cpuUs = (Number(f[11]) + Number(f[12])) * TICK_US; // utime, stime
  using c = await McConnection.open(parseTarget(`127.0.0.1:${port}`));
  const s = await c.stats();
  return { cpuUs, reqs: Number(s.cmd_get) + Number(s.cmd_set) };
}
async function measured<T>(pid: number, port: number, run: () => Promise<T>) {
  const a = await serverCost(pid, port);
  const out = await run();
  const b = await serverCost(pid, port);
  return { out, serverUsPerReq: (b.cpuUs - a.cpuUs) / Math.max(1, b.reqs - a.reqs) };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const srv = await startLocalServer("memcached", { args: ["-t", "2", "-m", "1024"] });
try {
  const ma: number[] = [];
  const maCost: number[] = [];
  // Per membench thread count: ops/s and server cost per round.
  const mb = threadCounts.map(() => ({ ops: [] as number[], cost: [] as number[] }));
  let io = "";
  for (let r = 0; r < rounds; r++) {
    const x = await measured(srv.pid, srv.port, () => memaslap(srv.port));
    ma.push(x.out);
    maCost.push(x.serverUsPerReq);
    const parts = [`memaslap ${fmt(x.out)} ops/s (server ${x.serverUsPerReq.toFixed(2)} µs/req)`];
    for (const [i, threads] of threadCounts.entries()) {
      const y = await measured(srv.pid, srv.port, () => membench(srv.port, threads));
      mb[i]!.ops.push(y.out.ops);
      mb[i]!.cost.push(y.serverUsPerReq);
      io = y.out.io;
      parts.push(
        `membench threads ${threads} ${fmt(y.out.ops)} ops/s (server ${
          y.serverUsPerReq.toFixed(2)
        } µs/req, get hit ratio ${y.out.hitRatio.toFixed(2)})`,
      );
    }
    console.log(`round ${r + 1}: ${parts.join(", ")}`);
  }
  const a = median(ma);
  console.log(
    `\n${values.binary ? "binary" : "text"} protocol, get:set 9:1, ${CONNECTIONS} connections, ` +
      `${VALUE}-byte values, ${KEY}-byte keys, ${seconds}s x ${rounds} rounds (median), ` +
      `memcached -t 2, memaslap -T 2, membench io ${io}, key pattern ${values["key-pattern"]}`,
  );
  console.log(`memaslap          ${fmt(a)} ops/s, server CPU ${median(maCost).toFixed(2)} µs/req`);
  for (const [i, threads] of threadCounts.entries()) {
    const b = median(mb[i]!.ops);
    console.log(
      `membench threads ${threads} ${fmt(b)} ops/s, server CPU ${
        median(mb[i]!.cost).toFixed(2)
      } µs/req | ratio ${(b / a).toFixed(2)}`,
    );
  }
} finally {
  await srv.stop();
  await Deno.remove(cfg);
}
