// deno-lint-ignore-file no-console
/**
 * Replay throughput at --speed max against the bench engine, same memcached, same concurrency,
 * side by side in one run: a profile of --events events (get:set 9:1, 50 connections, no
 * pipelining, 32-byte values, 100k keys) is replayed with `membench replay --speed max`, and
 * `membench bench` runs the same shape (50 clients, ratio 1:9, -d 32, -r 100000). Prints ops/s
 * of both and the ratio (median of --rounds).
 *
 *   deno run -A bench/replay_compare.ts [--events 300000] [--rounds 3]
 */
import { parseArgs } from "node:util";
import { keyGenerator, NO_VALUE, Rng, startLocalServer, Status } from "../mod.ts";
import { syntheticProfile } from "./_synthetic.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    events: { type: "string", default: "300000" },
    rounds: { type: "string", default: "3" },
  },
});
const N = Number(values.events);
const CONNS = 50;

const profile = await Deno.makeTempFile({ suffix: ".mbp" });
const w = await syntheticProfile(profile);
const rng = new Rng(1);
const keys = keyGenerator({ kind: "uniform" }, 100_000, rng, { index: 0, count: 1 });
const get = w.op("get");
const set = w.op("set");
for (let c = 0; c < CONNS; c++) {
  w.connection({ id: c, protocol: "memcache-text", openUs: 0, sawOpen: true, sawClose: false });
}
for (let i = 0; i < N; i++) {
  const isSet = rng.next() < 0.1;
  const k = keys.next();
  w.append({
    t: i * 10, // each connection's next request after its previous reply: no pipelining
    conn: i % CONNS,
    op: isSet ? set : get,
    keyHi: Math.imul(k + 1, 0x9e3779b1) >>> 0,
    keyLo: k,
    keyLen: 10,
    valueLen: isSet ? 32 : NO_VALUE,
    flags: 0,
    ttl: isSet ? 0 : -1,
    status: isSet ? Status.Stored : Status.Miss,
    latency: 5,
    slot: -1,
    seq: Math.floor(i / CONNS),
  });
  if (i % 100_000 === 0) await w.drain();
}
await w.close();

const cli = new URL("../cli/main.ts", import.meta.url).pathname;
async function run(args: string[]): Promise<Record<string, unknown>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", cli, ...args, "--json", "-"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (out.code !== 0) {
    throw new Error(`membench ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const srv = await startLocalServer("memcached", { args: ["-t", "2"] });
try {
  const rep: number[] = [];
  const eng: number[] = [];
  for (let r = 0; r < Number(values.rounds); r++) {
    const x = await run(["replay", profile, "-p", String(srv.port), "--speed", "max"]) as {
      completed: number;
      durationMs: number;
    };
    rep.push(x.completed / (x.durationMs / 1000));
    const b = await run([
      "bench",
      "--protocol",
      "memcache-text",
      "-p",
      String(srv.port),
      "-c",
      String(CONNS),
      "--ratio",
      "1:9",
      "-d",
      "32",
      "-r",
      "100000",
      "-n",
      String(N),
    ]) as { tests: Array<{ opsPerSec: number }> };
    eng.push(b.tests[0]!.opsPerSec);
    console.log(
      `round ${r + 1}: replay ${Math.round(rep[r]!).toLocaleString("en-US")} ops/s, bench engine ${
        Math.round(eng[r]!).toLocaleString("en-US")
      } ops/s`,
    );
  }
  console.log(
    `\n${
      N.toLocaleString("en-US")
    } events, ${CONNS} connections, memcached text: replay --speed max ${
      Math.round(median(rep)).toLocaleString("en-US")
    } ops/s | bench ${Math.round(median(eng)).toLocaleString("en-US")} ops/s | ratio ${
      (median(rep) / median(eng)).toFixed(2)
    }`,
  );
} finally {
  await srv.stop();
  await Deno.remove(profile);
}
