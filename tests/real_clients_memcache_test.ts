// Real memcached clients (the npm `memcached` client over the text protocol, memjs over the
// binary protocol, a small meta-protocol client with quiet mode fenced by `mn`) driven against a
// local memcached while tcpdump captures loopback; the capture is recorded, then replayed at max
// speed into a fresh memcached, whose own `stats` counters must move as the original's did.
import assert from "node:assert/strict";
import {
  analyzeProfile,
  binaryExtras,
  BinOp,
  encodeBinary,
  McConnection,
  parseTarget,
  ProfileReader,
  record,
  replay,
  Shape,
  startLocalServer,
} from "../mod.ts";
import { captureNoDrops, tsharkMemcacheCommands } from "./capture_helpers.ts";
import { loadTest, runNodeClient } from "./helpers.ts";

const STATS = [
  "cmd_get",
  "cmd_set",
  "cmd_touch",
  "get_hits",
  "get_misses",
  "delete_hits",
  "delete_misses",
  "incr_hits",
  "incr_misses",
  "decr_hits",
  "decr_misses",
];

async function mcStats(address: string): Promise<Record<string, number>> {
  using c = await McConnection.open(parseTarget(address));
  const s = await c.stats();
  return Object.fromEntries(STATS.map((k) => [k, Number(s[k])]));
}

function delta(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.keys(b).map((k) => [k, b[k]! - (a[k] ?? 0)]));
}

/** Captures `drive`'s traffic to a fresh memcached, records it, and returns what it saw. */
async function recordClient(drive: (port: number) => Promise<void>) {
  await using src = await startLocalServer("memcached");
  const cap = await captureNoDrops(
    src.port,
    () => mcStats(src.address),
    () => drive(src.port),
  );
  const profile = await Deno.makeTempFile({ suffix: ".mbp" });
  const rec = await record({ pcap: cap.file, output: profile, ports: [src.port], salt: "rc" });
  const tshark = await tsharkMemcacheCommands(cap.file, src.port);
  await Deno.remove(cap.file);
  return { profile, rec, tshark, server: delta(cap.before, cap.after) };
}

/** Replays `profile` at max speed into a fresh memcached (bounded in time); its stats deltas. */
async function replayFresh(profile: string, warmup = false) {
  await using dst = await startLocalServer("memcached");
  const before = await mcStats(dst.address);
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), 60_000);
  const t0 = performance.now();
  try {
    const r = await replay({
      profile,
      target: dst.address,
      speed: "max",
      verifyServer: true,
      // The checks a faithful replay passes (error ratio and quiet share are always checked).
      thresholds: { maxSizeKs: 0.01, maxServerDiff: 0 },
      signal: ac.signal,
      warmup,
    });
    const ms = performance.now() - t0;
    return { r, ms, server: delta(before, await mcStats(dst.address)) };
  } finally {
    clearTimeout(timer);
  }
}

/** Per op: events, requests (events not marked as another key of a request) and quiet ones. */
async function shapes(profile: string) {
  const out: Record<string, { events: number; requests: number; quiet: number }> = {};
  using r = await ProfileReader.open(profile);
  for await (const b of r.blocks()) {
    for (let i = 0; i < b.count; i++) {
      const o = out[r.ops[b.op[i]!]!] ??= { events: 0, requests: 0, quiet: 0 };
      o.events++;
      if ((b.shape[i]! & Shape.More) === 0) o.requests++;
      if ((b.shape[i]! & Shape.Quiet) !== 0) o.quiet++;
    }
  }
  return out;
}

/**
 * Replays `profile` at max speed into a fresh memcached while tcpdump captures it, and records
 * that capture: what the replay put on the wire, read back by record.
 */
async function replayRecorded(profile: string) {
  await using dst = await startLocalServer("memcached");
  const cap = await captureNoDrops(dst.port, () => mcStats(dst.address), async () => {
    await replay({
      profile,
      target: dst.address,
      speed: "max",
      signal: AbortSignal.timeout(60_000),
    });
  });
  const again = await Deno.makeTempFile({ suffix: ".mbp" });
  try {
    await record({ pcap: cap.file, output: again, ports: [dst.port], salt: "rc" });
    return await shapes(again);
  } finally {
    await Deno.remove(cap.file);
    await Deno.remove(again);
  }
}

// The npm memcached client: sets (every fourth of 100 KB), multi-gets of 3 keys (one missing),
// gets and deletes, each awaited in turn.
const MEMCACHED_CLIENT = `
const Memcached = require("memcached");
const mc = new Memcached("127.0.0.1:" + process.env.PORT, { retries: 0, timeout: 5000 });
const p = (f) => new Promise((res, rej) => f((e, v) => e ? rej(e) : res(v)));
const big = "v".repeat(100 * 1024);
(async () => {
  for (let i = 0; i < 40; i++) await p((cb) => mc.set("k" + i, i % 4 === 0 ? big : "small-" + i, 300, cb));
  for (let i = 0; i < 20; i++) await p((cb) => mc.getMulti(["k" + i, "k" + (i + 20), "missing" + i], cb));
  for (let i = 0; i < 10; i++) await p((cb) => mc.get("k" + i, cb));
  for (let i = 0; i < 5; i++) await p((cb) => mc.del("k" + i, cb));
  mc.end();
})().catch((e) => { console.error(e); process.exit(1); });
`;

loadTest(
  "real clients: the npm memcached client (multi-gets, 100 KB values) records and replays",
  async () => {
    const got = await recordClient((port) => runNodeClient(MEMCACHED_CLIENT, port));
    try {
      // What the server counted, and what record counted: one get per key, one set per set.
      assert.equal(got.server.cmd_set, 40);
      assert.equal(got.server.cmd_get, 20 * 3 + 10);
      assert.equal(got.rec.eventsPerCommand.set, 40);
      assert.equal(got.rec.eventsPerCommand.get, 70);
      assert.equal(got.tshark.set, 40, JSON.stringify(got.tshark));
      // analyze: requests per command as tshark counts them, keys per command as the server does.
      const a = await analyzeProfile(got.profile);
      const requests = Object.fromEntries(
        Object.entries(a.commands).map(([k, c]) => [k, c.requests]),
      );
      assert.deepEqual(requests, got.tshark);
      assert.equal(a.commands.get!.requests, 30);
      assert.equal(a.commands.get!.keys, got.server.cmd_get);
      const { r, ms, server } = await replayFresh(got.profile);
      assert.ok(ms < 60_000, `replay took ${ms} ms`);
      assert.equal(r.failure, undefined, JSON.stringify(r.failure));
      assert.equal(r.errors, 0);
      assert.deepEqual(r.skipped, {});
      assert.equal(r.fidelity.sizeKs, 0);
      // The server's own counters moved by exactly the profile's requests.
      assert.equal(r.verification!.diff, 0, JSON.stringify(r.verification));
      assert.equal(r.fidelity.pass, true, JSON.stringify(r.fidelity.checks));
      // Hits and misses counted per key, as the server counts them.
      const g = r.commands.find((c) => c.op === "get")!;
      assert.equal(g.hits, server.get_hits);
      assert.equal(g.misses, server.get_misses);
      // A multi-get stays one request: the replay's traffic, recorded, has the same shape.
      assert.deepEqual(await replayRecorded(got.profile), await shapes(got.profile));
      for (const k of ["cmd_set", "cmd_get", "get_hits", "get_misses", "delete_hits"]) {
        assert.equal(
          server[k],
          got.server[k],
          `${k}: replay ${server[k]}, original ${got.server[k]}`,
        );
      }
    } finally {
      await Deno.remove(got.profile);
    }
  },
);

// memjs over the binary protocol: 100 KB and small sets, gets (hits and misses), adds, increments,
// touches and deletes, 20 at a time on one connection (pipelined).
const MEMJS_CLIENT = `
const memjs = require("memjs");
const mc = memjs.Client.create("127.0.0.1:" + process.env.PORT, { retries: 0, timeout: 5, logger: { log() {} } });
const big = Buffer.alloc(100 * 1024, 98);
(async () => {
  const all = [];
  for (let i = 0; i < 40; i++) all.push(mc.set("b" + i, i % 4 === 0 ? big : "val" + i, { expires: 300 }));
  await Promise.all(all.splice(0));
  for (let i = 0; i < 60; i++) all.push(mc.get("b" + (i % 50)));
  for (let i = 0; i < 10; i++) all.push(mc.add("b" + i, "x", {}).catch(() => {}));
  await Promise.all(all.splice(0));
  await mc.set("n", "5", {});
  for (let i = 0; i < 10; i++) all.push(mc.increment("n", 2, {}));
  for (let i = 0; i < 5; i++) all.push(mc.touch("b" + (10 + i), 100));
  for (let i = 0; i < 5; i++) all.push(mc.delete("b" + (20 + i)));
  await Promise.all(all.splice(0));
  mc.close();
})().catch((e) => { console.error(e); process.exit(1); });
`;

loadTest(
  "real clients: memjs over the binary protocol (100 KB values) records and replays",
  async () => {
    const got = await recordClient((port) => runNodeClient(MEMJS_CLIENT, port));
    try {
      assert.equal(got.server.cmd_set, 51, JSON.stringify(got.server));
      assert.equal(got.server.cmd_get, 60);
      assert.equal(got.rec.eventsPerCommand.set, 41, JSON.stringify(got.rec.eventsPerCommand));
      const { r, ms, server } = await replayFresh(got.profile);
      assert.ok(ms < 60_000, `replay took ${ms} ms`);
      assert.equal(r.failure, undefined, JSON.stringify(r.failure));
      assert.deepEqual(r.skipped, {});
      // Value sizes measured from what the replay handed its encoders: the recorded ones.
      assert.equal(r.fidelity.sizeKs, 0);
      // The server's own counters moved by exactly the profile's requests.
      assert.equal(r.verification!.diff, 0, JSON.stringify(r.verification));
      assert.equal(r.fidelity.pass, true, JSON.stringify(r.fidelity.checks));
      for (const k of STATS) {
        assert.equal(
          server[k],
          got.server[k],
          `${k}: replay ${server[k]}, original ${got.server[k]}`,
        );
      }
    } finally {
      await Deno.remove(got.profile);
    }
  },
);

/** Sends each write on one connection to 127.0.0.1:`port`, reading until its pattern matches. */
async function rawMc(port: number, writes: Array<[string, RegExp]>): Promise<string> {
  const c = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const td = new TextDecoder();
    let got = "";
    const buf = new Uint8Array(1 << 16);
    for (const [w, until] of writes) {
      await c.write(new TextEncoder().encode(w));
      const deadline = Date.now() + 5000;
      const mark = got.length;
      while (!until.test(got.slice(mark)) && Date.now() < deadline) {
        const n = await c.read(buf);
        if (n === null) break;
        got += td.decode(buf.subarray(0, n));
      }
    }
    return got;
  } finally {
    c.close();
  }
}

loadTest(
  "real clients: a meta client in quiet mode fenced by mn replays at max speed without hanging",
  async () => {
    // Each batch: quiet sets, quiet gets (misses answer nothing, hits answer), a quiet delete
    // and a quiet arithmetic, then mn; 50 batches, one write each.
    const got = await recordClient(async (port) => {
      const writes: string[] = [];
      for (let b = 0; b < 50; b++) {
        let w = "";
        for (let i = 0; i < 5; i++) w += `ms m${b}_${i} 3 q T60\r\nabc\r\n`;
        for (let i = 0; i < 8; i++) w += `mg m${b}_${i} v q\r\n`;
        w += `md m${b}_0 q\r\nms c${b} 1 q\r\n7\r\nma c${b} q\r\nmn\r\n`;
        writes.push(w);
      }
      await rawMc(port, writes.map((w) => [w, /MN\r\n$/]));
    });
    try {
      assert.equal(got.server.cmd_set, 300, JSON.stringify(got.server));
      assert.equal(got.server.cmd_get, 400);
      assert.equal(got.rec.eventsPerCommand.mn, 50);
      assert.equal(got.rec.eventsPerCommand.mg, 400);
      const { r, ms, server } = await replayFresh(got.profile);
      assert.ok(ms < 60_000, `replay took ${ms} ms`);
      assert.equal(r.failure, undefined, JSON.stringify(r.failure));
      assert.deepEqual(r.skipped, {});
      assert.equal(r.fidelity.sizeKs, 0);
      // The server's own counters moved by exactly the profile's requests.
      assert.equal(r.verification!.diff, 0, JSON.stringify(r.verification));
      assert.equal(r.fidelity.pass, true, JSON.stringify(r.fidelity.checks));
      for (const k of STATS) {
        assert.equal(
          server[k],
          got.server[k],
          `${k}: replay ${server[k]}, original ${got.server[k]}`,
        );
      }
      // Quiet stays quiet: the replay's own traffic, recorded, has the same requests per
      // command and the same quiet ones (every ms/mg/md/ma here was sent with q).
      const recorded = await shapes(got.profile);
      assert.equal(recorded.mg!.quiet, 400);
      assert.deepEqual(await replayRecorded(got.profile), recorded);
    } finally {
      await Deno.remove(got.profile);
    }
  },
);

loadTest("record keeps a text noreply write in its place among pipelined requests", async () => {
  const got = await recordClient(async (port) => {
    await rawMc(port, [
      ["set a 0 0 1\r\nx\r\n", /STORED\r\n$/],
      [
        "get a\r\nset a 0 0 1 noreply\r\ny\r\nget a\r\ndelete a noreply\r\nget a\r\n",
        /END\r\n(?:.|\r|\n)*END\r\n(?:.|\r|\n)*END\r\n$/,
      ],
    ]);
  });
  try {
    // The original: the first two gets hit, the last misses (a was deleted).
    assert.equal(got.server.get_hits, 2, JSON.stringify(got.server));
    assert.equal(got.server.get_misses, 1);
    const { r, server } = await replayFresh(got.profile);
    assert.equal(r.failure, undefined);
    assert.equal(server.get_hits, 2, JSON.stringify(server));
    assert.equal(server.get_misses, 1);
    assert.equal(server.cmd_set, got.server.cmd_set);
    assert.equal(server.delete_hits, 1);
    assert.equal(r.fidelity.pass, true, JSON.stringify(r.fidelity.checks));
    // The noreply writes are replayed noreply (in their place, fenced by mn).
    const recorded = await shapes(got.profile);
    assert.deepEqual(recorded.set, { events: 2, requests: 2, quiet: 1 });
    const again = await replayRecorded(got.profile);
    assert.deepEqual(again.set, recorded.set);
    assert.deepEqual(again.delete, recorded.delete);
    assert.deepEqual(again.get, recorded.get);
  } finally {
    await Deno.remove(got.profile);
  }
});

/**
 * A binary client in quiet mode, as libmemcached's multi-get and buffered writes are: batches of
 * quiet requests (SETQ, GETKQ, DELETEQ, INCREMENTQ) each fenced by a NOOP, on one connection;
 * each batch is written at once, then responses are read up to the NOOP's.
 */
async function binaryQuietClient(port: number): Promise<void> {
  const c = await Deno.connect({ hostname: "127.0.0.1", port });
  let opaque = 1;
  const pkt = (opcode: number, key?: string, more: { value?: string; extras?: Uint8Array } = {}) =>
    encodeBinary({ opcode, opaque: opaque++, ...(key ? { key } : {}), ...more });
  const batch = async (pkts: Uint8Array[]) => {
    pkts.push(pkt(BinOp.Noop));
    const out = new Uint8Array(pkts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of pkts) {
      out.set(p, at);
      at += p.length;
    }
    await c.write(out);
    // Responses up to the NOOP's: 24-byte headers with the body length at byte 8.
    let buf = new Uint8Array(0);
    const chunk = new Uint8Array(1 << 16);
    const deadline = Date.now() + 5000;
    for (;;) {
      let off = 0;
      let noop = false;
      while (off + 24 <= buf.length) {
        const len = new DataView(buf.buffer, buf.byteOffset + off).getUint32(8);
        if (off + 24 + len > buf.length) break;
        if (buf[off + 1] === BinOp.Noop) noop = true;
        off += 24 + len;
      }
      if (noop) return;
      if (Date.now() > deadline) throw new Error("no NOOP response in 5 s");
      const n = await c.read(chunk);
      if (n === null) throw new Error("memcached closed the connection");
      const next = new Uint8Array(buf.length + n);
      next.set(buf);
      next.set(chunk.subarray(0, n), buf.length);
      buf = next;
    }
  };
  try {
    for (let round = 0; round < 5; round++) {
      const k = (i: number) => `q${round}:${i}`;
      const flags = { extras: binaryExtras({ flags: 0, ttl: 300 }) };
      await batch(
        Array.from(
          { length: 10 },
          (_, i) => pkt(BinOp.SetQ, k(i), { value: "v".repeat(i + 5), ...flags }),
        ),
      );
      // 20 quiet gets: 10 hits answer, 10 misses answer nothing.
      await batch(Array.from({ length: 20 }, (_, i) => pkt(BinOp.GetKQ, k(i))));
      // Quiet deletes: 3 hits answer nothing, 2 misses answer NOT_FOUND.
      await batch([0, 1, 2, 30, 31].map((i) => pkt(BinOp.DeleteQ, k(i))));
      await batch([pkt(BinOp.Set, k(40), { value: "5", ...flags })]);
      const delta = binaryExtras({ delta: 2, initial: 0, ttl: 0xffffffff });
      await batch(Array.from({ length: 4 }, () => pkt(BinOp.IncrementQ, k(40), { extras: delta })));
    }
  } finally {
    c.close();
  }
}

loadTest(
  "real clients: binary quiet requests (GETKQ, SETQ, DELETEQ, INCREMENTQ) fenced by NOOP replay quiet",
  async () => {
    const got = await recordClient(binaryQuietClient);
    try {
      assert.equal(got.server.cmd_set, 55, JSON.stringify(got.server));
      assert.equal(got.server.get_hits, 50);
      assert.equal(got.server.get_misses, 50);
      assert.equal(got.server.delete_misses, 10);
      assert.equal(got.server.incr_hits, 20);
      const recorded = await shapes(got.profile);
      assert.deepEqual(
        Object.fromEntries(Object.entries(recorded).map(([op, s]) => [op, s.quiet])),
        { set: 50, get: 100, delete: 25, incr: 20, noop: 0 },
        JSON.stringify(recorded),
      );
      const { r, ms, server } = await replayFresh(got.profile);
      assert.ok(ms < 60_000, `replay took ${ms} ms`);
      assert.equal(r.failure, undefined, JSON.stringify(r.failure));
      assert.deepEqual(r.skipped, {});
      assert.equal(r.verification!.diff, 0, JSON.stringify(r.verification));
      assert.equal(r.fidelity.pass, true, JSON.stringify(r.fidelity.checks));
      for (const k of STATS) {
        assert.equal(
          server[k],
          got.server[k],
          `${k}: replay ${server[k]}, original ${got.server[k]}`,
        );
      }
      // Quiet stays quiet on the wire: the replay's own traffic, recorded, has the same requests
      // per command and the same quiet ones (GETKQ, SETQ, DELETEQ, INCREMENTQ, and the NOOPs).
      assert.deepEqual(await replayRecorded(got.profile), recorded);
    } finally {
      await Deno.remove(got.profile);
    }
  },
);

/**
 * memaslap (Debian ships it as `memcaslap`): `n` gets and sets over 8 concurrent connections
 * in one thread, with multi-gets of `division` keys, bounded by an execute count and 60 s.
 */
async function memaslap(port: number, n: number, division: number): Promise<void> {
  const out = await new Deno.Command("memcaslap", {
    args: [
      `-s`,
      `127.0.0.1:${port}`,
      `-x`,
      String(n),
      `-c`,
      `8`,
      `-T`,
      `1`,
      `-X`,
      `200`,
      `-d`,
      String(division),
    ],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  if (out.code !== 0) {
    throw new Error(`memcaslap failed (${out.code}): ${new TextDecoder().decode(out.stderr)}`);
  }
}

for (const division of [1, 4]) {
  loadTest(
    `real clients: memaslap (multi-get of ${division}) records and replays with the same counters`,
    async () => {
      const got = await recordClient((port) => memaslap(port, 4000, division));
      try {
        // record counts what memcached and tshark count: sets, and gets per key.
        assert.ok(got.server.cmd_set! > 0 && got.server.cmd_get! > 0, JSON.stringify(got.server));
        assert.equal(got.rec.eventsPerCommand.set, got.server.cmd_set, JSON.stringify(got.rec));
        assert.equal(got.rec.eventsPerCommand.get, got.server.cmd_get);
        const a = await analyzeProfile(got.profile);
        const requests = Object.fromEntries(
          Object.entries(a.commands).map(([k, c]) => [k, c.requests]),
        );
        assert.deepEqual(requests, got.tshark);
        assert.equal(a.commands.get!.keys, got.server.cmd_get);
        // memaslap's -d sends multi-gets: fewer requests than keys, each one request on replay.
        if (division > 1) assert.ok(a.commands.get!.requests < a.commands.get!.keys);
        else assert.equal(a.commands.get!.requests, a.commands.get!.keys);
        for (const warmup of [false, true]) {
          const { r, ms, server } = await replayFresh(got.profile, warmup);
          assert.ok(ms < 60_000, `replay took ${ms} ms`);
          assert.equal(r.failure, undefined, JSON.stringify(r.failure));
          assert.deepEqual(r.skipped, {});
          assert.equal(r.fidelity.sizeKs, 0);
          assert.equal(r.fidelity.pass, true, JSON.stringify(r.fidelity.checks));
          assert.equal(r.verification!.diff, 0, JSON.stringify(r.verification));
          assert.equal(server.cmd_get, got.server.cmd_get, `warmup ${warmup}`);
          const ratio = (s: Record<string, number>) => s.get_hits! / Math.max(1, s.cmd_get!);
          if (warmup) {
            // Warm-up sets are not counted as replayed sets; hit ratios within 2 points.
            assert.ok(
              Math.abs(ratio(server) - ratio(got.server)) <= 0.02,
              `hit ratio: replay ${ratio(server)}, original ${ratio(got.server)}`,
            );
          } else {
            for (const k of ["cmd_set", "cmd_get", "get_hits", "get_misses"]) {
              assert.equal(
                server[k],
                got.server[k],
                `${k}: replay ${server[k]}, original ${got.server[k]}`,
              );
            }
          }
        }
      } finally {
        await Deno.remove(got.profile);
      }
    },
  );
}
