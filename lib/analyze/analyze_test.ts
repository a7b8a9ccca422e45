import assert from "node:assert/strict";
import { NO_VALUE, type ProfileHeader, ProfileWriter, Status } from "../profile/mod.ts";
import { keyGenerator, Rng } from "../workload/mod.ts";
import { analyzeProfile, fitZipf } from "./mod.ts";

const HEADER: Omit<ProfileHeader, "formatVersion"> = {
  tool: "test",
  createdAt: "2026-11-22T00:00:00.000Z",
  startUs: 0,
  source: "test",
  anonymization: {
    scheme: "siphash-2-4",
    saltFingerprint: "00",
    keepTokens: 0,
    tokenDelimiter: ":",
    keepSlots: false,
  },
};

interface Ev {
  t: number;
  conn: number;
  op: string;
  key: number;
  valueLen: number;
  ttl: number;
  status: number;
  latency: number;
}

async function write(path: string, evs: Ev[], blockSize = 256): Promise<void> {
  const w = await ProfileWriter.create(path, HEADER, { blockSize });
  const conns = new Set<number>();
  for (const e of evs) {
    if (!conns.has(e.conn)) {
      conns.add(e.conn);
      w.connection({
        id: e.conn,
        protocol: "memcache-text",
        openUs: e.t,
        sawOpen: true,
        sawClose: false,
      });
    }
    w.append({
      t: e.t,
      conn: e.conn,
      op: w.op(e.op),
      keyHi: e.key < 0 ? 0 : 0x1000 + e.key,
      keyLo: e.key < 0 ? 0 : e.key * 7919,
      keyLen: e.key < 0 ? 0 : 10,
      valueLen: e.valueLen,
      flags: 0,
      ttl: e.ttl,
      status: e.status,
      latency: e.latency,
      slot: -1,
      seq: 0,
    });
  }
  await w.close();
}

Deno.test("analyzeProfile() matches a brute-force computation of every figure on a known profile", async () => {
  const rng = new Rng(42);
  const evs: Ev[] = [];
  let t = 0;
  for (let i = 0; i < 5000; i++) {
    t += Math.floor(rng.next() * 2000); // about 2.5 s in all
    const u = rng.next();
    const key = Math.floor(rng.next() * 700);
    const conn = Math.floor(rng.next() * 4);
    if (u < 0.6) {
      const hit = rng.next() < 0.7;
      evs.push({
        t,
        conn,
        op: "get",
        key,
        valueLen: hit ? 100 : NO_VALUE,
        ttl: -1,
        status: hit ? Status.Hit : Status.Miss,
        latency: 100,
      });
    } else if (u < 0.9) {
      evs.push({
        t,
        conn,
        op: "set",
        key,
        valueLen: rng.next() < 0.66 ? 100 : 1000,
        ttl: 60,
        status: Status.Stored,
        latency: 200,
      });
    } else {
      evs.push({
        t,
        conn,
        op: "version",
        key: -1,
        valueLen: NO_VALUE,
        ttl: -1,
        status: Status.Ok,
        latency: NaN,
      });
    }
  }
  const path = await Deno.makeTempFile({ suffix: ".mbp" });
  try {
    await write(path, evs);
    const a = await analyzeProfile(path);
    // Brute force.
    const by = (op: string) => evs.filter((e) => e.op === op);
    assert.equal(a.totals.events, 5000);
    for (const op of ["get", "set", "version"]) {
      assert.equal(a.commands[op]!.count, by(op).length, op);
      assert.equal(a.commands[op]!.share, Math.round((by(op).length / 5000) * 10000) / 10000);
    }
    const gets = by("get");
    const hits = gets.filter((e) => e.status === Status.Hit).length;
    assert.equal(a.commands.get!.statuses.hit, hits);
    assert.equal(a.commands.get!.hitRatio, Math.round((hits / gets.length) * 10000) / 10000);
    const sets = by("set");
    const big = sets.filter((e) => e.valueLen === 1000).length;
    const vl = a.commands.set!.valueLength;
    assert.deepEqual([vl.count, vl.min, vl.max], [sets.length, 100, 1000]);
    assert.equal(vl.p50, big / sets.length < 0.5 ? 100 : 1000);
    assert.equal(vl.p99, 1000);
    assert.equal(
      vl.mean,
      Math.round(((sets.length - big) * 100 + big * 1000) / sets.length * 100) / 100,
    );
    assert.deepEqual([a.commands.set!.ttl.count, a.commands.set!.ttl.p50], [sets.length, 60]);
    assert.equal(a.commands.get!.ttl.count, 0);
    assert.deepEqual([a.commands.get!.latencyUs.p50, a.commands.set!.latencyUs.p99], [100, 200]);
    assert.equal(a.commands.version!.latencyUs.count, 0);
    // Keys.
    const keyed = evs.filter((e) => e.key >= 0);
    const counts = new Map<number, number>();
    for (const e of keyed) counts.set(e.key, (counts.get(e.key) ?? 0) + 1);
    assert.equal(a.keys.method, "exact");
    assert.equal(a.keys.distinct, counts.size);
    assert.equal(a.keys.accesses, keyed.length);
    assert.equal(a.keys.oneHitWonders, [...counts.values()].filter((c) => c === 1).length);
    assert.equal(a.keys.top[0]!.count, Math.max(...counts.values()));
    // Compulsory misses: read misses of keys never written before.
    const written = new Set<number>();
    let compulsory = 0;
    let misses = 0;
    for (const e of keyed) {
      if (e.op === "get" && e.status === Status.Miss) {
        misses++;
        if (!written.has(e.key)) compulsory++;
      }
      if (e.op === "set") written.add(e.key);
    }
    assert.equal(a.keys.compulsoryMisses, compulsory);
    assert.equal(a.keys.compulsoryMissRatio, Math.round((compulsory / misses) * 10000) / 10000);
    // Reuse times: exact below 128 µs, otherwise within the bucket resolution.
    const lastSeen = new Map<number, number>();
    const reuse: number[] = [];
    for (const e of keyed) {
      const p = lastSeen.get(e.key);
      if (p !== undefined) reuse.push(e.t - p);
      lastSeen.set(e.key, e.t);
    }
    reuse.sort((x, y) => x - y);
    assert.equal(a.keys.reuseTimeUs.count, reuse.length);
    const trueP50 = reuse[Math.ceil(reuse.length / 2) - 1]!;
    assert.ok(
      Math.abs(a.keys.reuseTimeUs.p50 - trueP50) <= trueP50 * 0.016 + 1,
      `${a.keys.reuseTimeUs.p50} vs ${trueP50}`,
    );
    // Working set: distinct keys per second and cumulative.
    const perSec = new Map<number, Set<number>>();
    for (const e of keyed) {
      const s = Math.floor(e.t / 1e6);
      if (!perSec.has(s)) perSec.set(s, new Set());
      perSec.get(s)!.add(e.key);
    }
    assert.deepEqual(
      a.keys.workingSet.perInterval,
      [...perSec.keys()].sort().map((s) => perSec.get(s)!.size),
    );
    assert.equal(a.keys.workingSet.cumulative.at(-1), counts.size);
    // Rate per second.
    const rate: number[] = [];
    for (const e of evs) rate[Math.floor(e.t / 1e6)] = (rate[Math.floor(e.t / 1e6)] ?? 0) + 1;
    assert.deepEqual(a.rate.overall, rate);
    // Connections.
    assert.equal(a.connections.count, 4);
    assert.equal(a.connections.top.reduce((x, c) => x + c.requests, 0), 5000);
    assert.equal(a.profile.partial, false);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("analyzeProfile() fits the Zipf exponent of keys drawn with a known exponent", async () => {
  for (const exponent of [0.8, 1.0, 1.2]) {
    const rng = new Rng(7);
    const gen = keyGenerator({ kind: "zipf", exponent }, 50_000, rng, { index: 0, count: 1 });
    const evs: Ev[] = [];
    for (let i = 0; i < 300_000; i++) {
      evs.push({
        t: i,
        conn: 0,
        op: "get",
        key: gen.next(),
        valueLen: NO_VALUE,
        ttl: -1,
        status: Status.Miss,
        latency: NaN,
      });
    }
    const path = await Deno.makeTempFile({ suffix: ".mbp" });
    try {
      await write(path, evs, 8192);
      const a = await analyzeProfile(path);
      // Tolerance: ±0.1 of the generating exponent, with a straight line on log-log axes.
      assert.ok(
        Math.abs(a.keys.zipf.exponent - exponent) <= 0.1,
        `fitted ${a.keys.zipf.exponent} for ${exponent}`,
      );
      assert.ok(a.keys.zipf.r2 > 0.95, `r2 ${a.keys.zipf.r2}`);
    } finally {
      await Deno.remove(path);
    }
  }
  assert.deepEqual(fitZipf(new Float64Array([3, 2, 1])), { exponent: 0, r2: 0, ranksUsed: 0 });
});

Deno.test("analyzeProfile() above the exact bound says it estimates, and within 2% of the truth", async () => {
  const evs: Ev[] = [];
  for (let i = 0; i < 60_000; i++) {
    evs.push({
      t: i,
      conn: 0,
      op: "get",
      key: i % 30_000,
      valueLen: NO_VALUE,
      ttl: -1,
      status: Status.Miss,
      latency: NaN,
    });
  }
  const path = await Deno.makeTempFile({ suffix: ".mbp" });
  try {
    await write(path, evs, 4096);
    const a = await analyzeProfile(path, { maxExactKeys: 10_000 });
    assert.equal(a.keys.method, "hyperloglog");
    assert.equal(a.keys.exactKeys, 10_000);
    assert.ok(Math.abs(a.keys.distinct - 30_000) / 30_000 < 0.02, `${a.keys.distinct}`);
    assert.match(a.keys.note!, /HyperLogLog estimate/);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("analyzeProfile() of a truncated profile analyzes the readable prefix and marks it partial", async () => {
  const evs: Ev[] = Array.from({ length: 3000 }, (_, i) => ({
    t: i * 10,
    conn: 0,
    op: "get",
    key: i % 100,
    valueLen: NO_VALUE,
    ttl: -1,
    status: Status.Miss,
    latency: 5,
  }));
  const path = await Deno.makeTempFile({ suffix: ".mbp" });
  try {
    await write(path, evs, 1000);
    const bytes = await Deno.readFile(path);
    await Deno.writeFile(path, bytes.subarray(0, Math.floor(bytes.length * 0.8)));
    const a = await analyzeProfile(path);
    assert.equal(a.profile.partial, true);
    assert.match(a.profile.warning!, /is truncated/);
    assert.equal(a.totals.events % 1000, 0);
    assert.ok(a.totals.events >= 1000 && a.totals.events < 3000);
    await Deno.writeTextFile(path, "not a profile");
    await assert.rejects(analyzeProfile(path), /wrong magic/);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("analyzeProfile() names each connection's protocol with its RESP version, old profiles included", async () => {
  // A profile from before one protocol name: its connections say resp2, resp3, memcache-text.
  const path = new URL("../profile/testdata/resp2_resp3_before_protocol_name.mbp", import.meta.url)
    .pathname;
  const a = await analyzeProfile(path);
  assert.equal(a.totals.events, 20);
  const seen = a.connections.top.map((c) => `${c.protocol}${c.respVersion ?? ""}`).sort();
  assert.deepEqual(seen, [
    "memcache-text",
    "resp2",
    "resp2",
    "resp2",
    "resp2",
    "resp3",
    "resp3",
  ]);
});
