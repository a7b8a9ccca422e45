// deno-lint-ignore-file no-console
/**
 * Analysis speed and memory: writes profiles of 1M, half of --events and --events (default 10M)
 * events over the same key space (100k keys, all seen in each profile; a get/set/delete mix over
 * 50 connections), then analyzes
 * each in its own process and prints events/s and peak RSS. The peaks should be about equal:
 * memory follows the distinct keys, not the number of events.
 *
 *   deno run -A bench/analyze_speed.ts [--events 10000000]
 */
import { parseArgs } from "node:util";
import { analyzeProfile, keyGenerator, NO_VALUE, Rng, Status } from "../mod.ts";
import { syntheticProfile } from "./_synthetic.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { events: { type: "string", default: "10000000" }, child: { type: "string" } },
});

if (values.child) {
  // Child: analyze one profile, sampling RSS while it runs.
  let peak = Deno.memoryUsage().rss;
  const timer = setInterval(() => peak = Math.max(peak, Deno.memoryUsage().rss), 20);
  const t0 = performance.now();
  const a = await analyzeProfile(values.child);
  const s = (performance.now() - t0) / 1000;
  clearInterval(timer);
  peak = Math.max(peak, Deno.memoryUsage().rss);
  console.log(
    JSON.stringify({
      events: a.totals.events,
      seconds: s,
      peakRss: peak,
      distinct: a.keys.distinct,
    }),
  );
  Deno.exit(0);
}

async function make(path: string, n: number): Promise<void> {
  const w = await syntheticProfile(path, { blockSize: 16384 });
  const rng = new Rng(1);
  const keys = keyGenerator({ kind: "uniform" }, 100_000, rng, { index: 0, count: 1 });
  const get = w.op("get");
  const set = w.op("set");
  const del = w.op("delete");
  for (let c = 0; c < 50; c++) {
    w.connection({ id: c, protocol: "memcache-text", openUs: 0, sawOpen: true, sawClose: false });
  }
  for (let i = 0; i < n; i++) {
    const k = keys.next();
    const u = rng.next();
    const op = u < 0.8 ? get : u < 0.95 ? set : del;
    w.append({
      t: i * 10,
      conn: i % 50,
      op,
      keyHi: Math.imul(k, 0x9e3779b1) >>> 0,
      keyLo: k,
      keyLen: 20,
      valueLen: op === del ? NO_VALUE : 100 + (k % 900),
      flags: 0,
      ttl: op === set ? 300 : -1,
      status: op === get
        ? (u < 0.6 ? Status.Hit : Status.Miss)
        : op === set
        ? Status.Stored
        : Status.Deleted,
      latency: 50 + (i % 100),
      slot: -1,
      seq: Math.floor(i / 50),
    });
    if (i % 1_000_000 === 0) await w.drain();
  }
  await w.close();
}

async function child(
  path: string,
): Promise<{ events: number; seconds: number; peakRss: number; distinct: number }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname, "--child", path],
    stdout: "piped",
  }).output();
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

const dir = await Deno.makeTempDir();
try {
  const rows = [];
  for (const n of [1_000_000, Math.round(Number(values.events) / 2), Number(values.events)]) {
    const path = `${dir}/p${n}.mbp`;
    await make(path, n);
    const size = (await Deno.stat(path)).size;
    const r = await child(path);
    rows.push({ ...r, size });
    console.log(
      `${r.events.toLocaleString("en-US")} events (${(size / 1e6).toFixed(0)} MB, ${
        r.distinct.toLocaleString("en-US")
      } distinct keys): ` +
        `${r.seconds.toFixed(2)} s, ${
          Math.round(r.events / r.seconds).toLocaleString("en-US")
        } events/s, ` +
        `peak RSS ${(r.peakRss / 1048576).toFixed(0)} MiB`,
    );
    await Deno.remove(path);
  }
  const small = rows[0];
  const big = rows[rows.length - 1];
  console.log(
    `\npeak RSS ${(big!.peakRss / 1048576).toFixed(0)} MiB at ${
      big!.events.toLocaleString("en-US")
    } events vs ` +
      `${(small!.peakRss / 1048576).toFixed(0)} MiB at ${small!.events.toLocaleString("en-US")}: ` +
      `ratio ${(big!.peakRss / small!.peakRss).toFixed(2)} for ${
        (big!.events / small!.events).toFixed(0)
      }x the events`,
  );
} finally {
  await Deno.remove(dir, { recursive: true });
}
