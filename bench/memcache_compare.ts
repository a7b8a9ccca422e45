// deno-lint-ignore-file no-console
/**
 * membench vs memaslap (Debian's libmemcached-tools, binary `memcaslap`) on one memcached, same
 * workload, alternating, in one run: get/set 9:1, 50 connections, 32-byte values, 64-byte keys,
 * 500,000 keys (memaslap's default window of 10k keys per connection), text protocol. Prints the
 * ops/s of both and the membench/memaslap ratio, median of --rounds runs of --seconds each.
 *
 *   deno run -A bench/memcache_compare.ts [--rounds 3] [--seconds 10] [--threads 1] [--binary]
 *     [--io auto|uring|deno]
 */
import { parseArgs } from "node:util";
import { startLocalServer } from "../lib/scenario/mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "3" },
    seconds: { type: "string", default: "10" },
    threads: { type: "string", default: "1" },
    binary: { type: "boolean", default: false },
    io: { type: "string", default: "auto" },
  },
});
const rounds = Number(values.rounds);
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

async function membench(port: number): Promise<{ ops: number; hitRatio: number; io: string }> {
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
    values.threads!,
    "--io",
    values.io!,
    "--json",
    "-",
  ]);
  const t = JSON.parse(json).tests[0];
  const get = t.commands.find((c: { command: string }) => c.command === "get");
  return { ops: t.opsPerSec, hitRatio: get?.hitRatio ?? 0, io: JSON.parse(json).config.io };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const srv = await startLocalServer("memcached", { args: ["-t", "2", "-m", "1024"] });
try {
  const ma: number[] = [];
  const mb: number[] = [];
  let io = "";
  for (let r = 0; r < rounds; r++) {
    ma.push(await memaslap(srv.port));
    const m = await membench(srv.port);
    mb.push(m.ops);
    io = m.io;
    console.log(
      `round ${r + 1}: memaslap ${Math.round(ma[r]!).toLocaleString("en-US")} ops/s, membench ${
        Math.round(m.ops).toLocaleString("en-US")
      } ops/s (get hit ratio ${m.hitRatio.toFixed(2)})`,
    );
  }
  const a = median(ma);
  const b = median(mb);
  console.log(
    `\n${values.binary ? "binary" : "text"} protocol, get:set 9:1, ${CONNECTIONS} connections, ` +
      `${VALUE}-byte values, ${KEY}-byte keys, ${seconds}s x ${rounds} rounds (median), membench ` +
      `threads ${values.threads}, io ${io}`,
  );
  console.log(
    `memaslap ${Math.round(a).toLocaleString("en-US")} ops/s | membench ${
      Math.round(b).toLocaleString("en-US")
    } ops/s | ratio ${(b / a).toFixed(2)}`,
  );
} finally {
  await srv.stop();
  await Deno.remove(cfg);
}
