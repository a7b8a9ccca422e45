import assert from "node:assert/strict";
import {
  CaptureFile,
  McConnection,
  parseTarget,
  PROFILE_MAGIC,
  ProfileReader,
  record,
  type RecordOptions,
  RespConnection,
  startLocalServer,
  TRAILER_MAGIC,
} from "../mod.ts";
import { captureWhile } from "./capture_helpers.ts";

// Reads every record of a pcap (copies), to rewrite it damaged.
async function readRecords(
  path: string,
): Promise<Array<{ ts: number; data: Uint8Array; orig: number }>> {
  const f = await CaptureFile.open(path);
  const out: Array<{ ts: number; data: Uint8Array; orig: number }> = [];
  await f.forEach((p) => {
    out.push({ ts: p.tsUs, data: p.buf.slice(p.off, p.off + p.capLen), orig: p.origLen });
  });
  f.close();
  return out;
}

async function writePcap(
  path: string,
  recs: Array<{ ts: number; data: Uint8Array; orig: number }>,
): Promise<void> {
  const size = 24 + recs.reduce((a, r) => a + 16 + r.data.length, 0);
  const b = new Uint8Array(size);
  const v = new DataView(b.buffer);
  v.setUint32(0, 0xa1b2c3d4, true);
  v.setUint16(4, 2, true);
  v.setUint16(6, 4, true);
  v.setUint32(16, 262144, true);
  v.setUint32(20, 1, true); // Ethernet
  let o = 24;
  for (const r of recs) {
    v.setUint32(o, Math.floor(r.ts / 1e6), true);
    v.setUint32(o + 4, Math.round(r.ts % 1e6), true);
    v.setUint32(o + 8, r.data.length, true);
    v.setUint32(o + 12, r.orig, true);
    b.set(r.data, o + 16);
    o += 16 + r.data.length;
  }
  await Deno.writeFile(path, b);
}

async function tally(file: string): Promise<Map<string, number>> {
  using r = await ProfileReader.open(file);
  const m = new Map<string, number>();
  for await (const e of r.events()) {
    const k = `${e.op} ${e.key} ${e.status} ${e.valueLen}`;
    m.set(k, (m.get(k) ?? 0) + 1);
  }
  return m;
}

Deno.test("record() survives dropped, reordered and duplicated packets: losses reported, the rest intact", async () => {
  await using srv = await startLocalServer("memcached");
  const pcap = await captureWhile(srv.port, async () => {
    using c = await McConnection.open(parseTarget(srv.address));
    for (let i = 0; i < 300; i++) {
      const v = new TextEncoder().encode(`value-${i}-`.padEnd(200, "v"));
      await c.call(["set", `k${i % 120}`, 0, 0, v.length], v);
      await c.call(["get", `k${(i * 7) % 150}`]);
    }
  });
  const recs = await readRecords(pcap);
  const out = await Deno.makeTempFile({ suffix: ".mbp" });
  const bad = await Deno.makeTempFile({ suffix: ".pcap" });
  try {
    const clean = await record({ pcap, output: out, ports: [srv.port], salt: "s" });
    assert.equal(clean.events, 600);
    const cleanTally = await tally(out);
    // 1. Reordered neighbours and duplicates only: reassembly restores the exact same events.
    const shuffled = recs.flatMap((r, i) => (i % 23 === 5 ? [r, r] : [r]));
    // Ethernet + IPv4 (20) + TCP: source port at 34, and data beyond 66 bytes.
    const sport = (d: Uint8Array) => (d[34]! << 8) | d[35]!;
    for (let i = 10; i < shuffled.length; i += 37) {
      const a = shuffled[i]!;
      if (a.data.length <= 66) continue;
      const j = shuffled.findIndex((b, k) =>
        k > i && b.data.length > 66 && sport(b.data) === sport(a.data) && b !== a
      );
      if (j > 0) [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
    }
    await writePcap(bad, shuffled);
    const r1 = await record({ pcap: bad, output: out, ports: [srv.port], salt: "s" });
    assert.equal(r1.gaps, 0);
    assert.ok(r1.retransmits > 0 && r1.outOfOrder > 0, `${r1.retransmits} ${r1.outOfOrder}`);
    assert.deepEqual(await tally(out), cleanTally);
    // 2. Plus dropped data packets: bytes lost are reported, and the transactions away from the
    // damage are all there.
    let dropped = 0;
    const lossy = shuffled.filter((r, i) => {
      const drop = i % 41 === 20 && r.data.length > 66 && dropped < 10; // data-carrying packets only
      if (drop) dropped++;
      return !drop;
    });
    await writePcap(bad, lossy);
    const r2 = await record({ pcap: bad, output: out, ports: [srv.port], salt: "s" });
    // Adjacent drops in one direction make one hole; a dropped duplicate loses nothing.
    assert.ok(r2.gaps > 0 && r2.gaps <= dropped, `${r2.gaps} gaps for ${dropped} drops`);
    assert.ok(r2.lostBytes > 0);
    const damaged = await tally(out);
    let kept = 0;
    for (const [k, n] of damaged) if (cleanTally.has(k)) kept += Math.min(n, cleanTally.get(k)!);
    // Each lost packet can spoil the transaction it was in and the one being paired.
    assert.ok(kept >= 600 - 3 * dropped, `${kept} of 600 kept with ${dropped} packets lost`);
  } finally {
    await Deno.remove(pcap);
    await Deno.remove(out);
    await Deno.remove(bad);
  }
});

function substrings4(s: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i + 4 <= s.length; i++) out.push(s.subarray(i, i + 4));
  return out;
}

function indexOf(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

Deno.test("a profile holds no key, no value, no field, member or unknown argument and no salt: not even 4 bytes of them", async () => {
  // Secrets of random capital letters that share no 4 bytes with the format's own text (the
  // "MBPROF" magic: a key "xPROFx" would otherwise be found there without any leak).
  const own = [PROFILE_MAGIC, TRAILER_MAGIC].flatMap((m) => substrings4(m));
  const rnd = (n: number): string => {
    for (;;) {
      const s = Array.from(
        crypto.getRandomValues(new Uint8Array(n)),
        (x) => String.fromCharCode(65 + (x % 26)),
      ).join("");
      const b = new TextEncoder().encode(s);
      if (!own.some((w) => indexOf(b, w) >= 0)) return s;
    }
  };
  const keys = Array.from({ length: 20 }, () => rnd(14));
  const values = Array.from({ length: 20 }, () => rnd(40));
  // Fields, members and arguments the catalogue does not classify (format 2.1 keeps them
  // hashed): an ECHO's message, a client name, a CONFIG GET pattern; and a password (AUTH's
  // arguments are not kept at all).
  const fields = Array.from({ length: 20 }, () => rnd(12));
  const members = Array.from({ length: 20 }, () => rnd(12));
  const others = Array.from({ length: 20 }, () => rnd(12));
  // Meta opaques (`O<token>`): the server echoes them; record keeps the flag, not its value.
  const opaques = Array.from({ length: 20 }, () => rnd(12));
  const salt = rnd(24);
  await using mc = await startLocalServer("memcached");
  await using rs = await startLocalServer("redis");
  const te = new TextEncoder();
  const pcapMc = await captureWhile(mc.port, async () => {
    using c = await McConnection.open(parseTarget(mc.address));
    for (const [i, k] of keys.entries()) {
      await c.call(["set", k, 0, 0, values[i]!.length], te.encode(values[i]!));
      await c.call(["get", k]);
      await c.call(["mg", k, "v", "k", `O${opaques[i]!}`]);
      await c.call(["ms", k, values[i]!.length, "T0", `O${opaques[i]!}`], te.encode(values[i]!));
    }
  });
  const pcapRs = await captureWhile(rs.port, async () => {
    using c = await RespConnection.open(parseTarget(rs.address));
    for (const [i, k] of keys.entries()) {
      await c.command(["SET", k, values[i]!]);
      await c.command(["GET", k]);
      await c.command(["SET", k, values[i]!, "NX", "EX", "10"]);
      await c.command(["HSET", k, fields[i]!, values[i]!]);
      await c.command(["HGET", k, fields[i]!]);
      await c.command(["ZADD", `${k}z`, "1.5", members[i]!]);
      await c.command(["ECHO", others[i]!]);
      await c.command(["CLIENT", "SETNAME", others[i]!]);
      await c.command(["CONFIG", "GET", others[i]!]);
      await c.command(["AUTH", others[i]!]); // refused (no password set), recorded all the same
    }
  });
  const out1 = await Deno.makeTempFile({ suffix: ".mbp" });
  const out2 = await Deno.makeTempFile({ suffix: ".mbp" });
  try {
    const a = await record({ pcap: pcapMc, output: out1, ports: [mc.port], salt });
    const b = await record({
      pcap: pcapRs,
      output: out2,
      ports: [rs.port],
      salt,
      keepSlots: true,
      keepTokens: 1,
    });
    // The same recordings under another salt: every byte that comes from the traffic is at the
    // same place, while the salted hashes differ. Four bytes of a secret that also sit in a hash
    // by chance (about 1 run in 400 for profiles this size) move or vanish there; a leak stays.
    const other = new Map<string, Uint8Array>();
    const alts: Array<[string, Omit<RecordOptions, "output" | "salt">]> = [
      [out1, { pcap: pcapMc, ports: [mc.port] }],
      [out2, { pcap: pcapRs, ports: [rs.port], keepSlots: true, keepTokens: 1 }],
    ];
    for (const [file, o] of alts) {
      const alt = await Deno.makeTempFile({ suffix: ".mbp" });
      await record({ ...o, output: alt, salt: rnd(24) });
      other.set(file, await Deno.readFile(alt));
      await Deno.remove(alt);
    }
    assert.equal(a.events, 80);
    assert.equal(b.events, 200);
    {
      // Arguments kept as words (format 2.1) for HSET, ZADD, ECHO...; none at all for AUTH.
      using r = await ProfileReader.open(out2);
      const words: Record<string, number> = {};
      for await (const blk of r.blocks()) {
        for (let i = 0; i < blk.count; i++) {
          const op = r.ops[blk.op[i]!]!;
          words[op] = (words[op] ?? 0) + blk.argc[i]!;
        }
      }
      assert.equal(words.auth, 0);
      // Meta requests keep their flags as words (the opaque's flag without its value).
      using m = await ProfileReader.open(out1);
      const metaWords: Record<string, number> = {};
      for await (const blk of m.blocks()) {
        for (let i = 0; i < blk.count; i++) {
          const op = m.ops[blk.op[i]!]!;
          metaWords[op] = (metaWords[op] ?? 0) + blk.argc[i]!;
        }
      }
      assert.ok(metaWords.mg! > 0 && metaWords.ms! > 0, JSON.stringify(metaWords));
      assert.ok(m.tokens.includes("O"));
      assert.ok(words.hset! > 0 && words.zadd! > 0 && words.echo! > 0, JSON.stringify(words));
    }
    for (const file of [out1, out2]) {
      const bytes = await Deno.readFile(file);
      for (
        const secret of [...keys, ...values, ...fields, ...members, ...others, ...opaques, salt]
      ) {
        for (const sub of substrings4(te.encode(secret))) {
          // A match that is not at the same place under another salt is a salted hash's bytes.
          // (Not for the salt itself: it is the one thing that differs between the recordings.)
          const alt = secret === salt ? bytes.subarray(0, 0) : other.get(file)!;
          let at = -1;
          for (let from = 0; from + 4 <= bytes.length;) {
            const i = indexOf(bytes.subarray(from), sub);
            if (i < 0) break;
            const pos = from + i;
            const moved = alt.length === bytes.length &&
              indexOf(alt.subarray(pos, pos + 4), sub) < 0;
            if (!moved) {
              at = pos;
              break;
            }
            from = pos + 1;
          }
          assert.ok(
            at < 0,
            `${file} holds ${JSON.stringify(new TextDecoder().decode(sub))} of ${
              JSON.stringify(secret)
            } at byte ${at}: ` +
              JSON.stringify(
                new TextDecoder("latin1").decode(bytes.subarray(Math.max(0, at - 24), at + 28)),
              ),
          );
        }
      }
    }
    // Same salt, same fingerprint: the two profiles can be joined.
    assert.equal(a.saltFingerprint, b.saltFingerprint);
  } finally {
    for (const f of [pcapMc, pcapRs, out1, out2]) await Deno.remove(f);
  }
});

Deno.test("malformed capture files give an error naming the file and the byte offset", async () => {
  const f = await Deno.makeTempFile({ suffix: ".pcap" });
  const out = await Deno.makeTempFile({ suffix: ".mbp" });
  try {
    await Deno.writeFile(f, new Uint8Array([0xd4, 0xc3, 0xb2, 0xa1, 2, 0]));
    await assert.rejects(
      record({ pcap: f, output: out }),
      /capture .*\.pcap at byte 0: pcap global header is cut short/,
    );
    await Deno.writeTextFile(f, "this is not a capture at all");
    await assert.rejects(
      record({ pcap: f, output: out }),
      /at byte 0: wrong magic 0x74686973: not a pcap or pcapng file/,
    );
    const hdr = new Uint8Array(24 + 16);
    const v = new DataView(hdr.buffer);
    v.setUint32(0, 0xa1b2c3d4, true);
    v.setUint32(20, 1, true);
    v.setUint32(24 + 8, 9_000_000, true); // record length far too large
    await Deno.writeFile(f, hdr);
    await assert.rejects(
      record({ pcap: f, output: out }),
      /at byte 24: record length 9000000 is larger than 262144/,
    );
    // A file cut inside its last packet: what came before is recorded, and the cut is reported.
    v.setUint32(24 + 8, 100, true);
    await Deno.writeFile(f, hdr);
    const r = await record({ pcap: f, output: out });
    assert.equal(r.input.truncated, true);
    assert.match(
      r.input.warning!,
      /truncated at byte 24: the last packet is cut short \(0 of 100 bytes\)/,
    );
    await assert.rejects(
      record({ pcap: f + ".missing", output: out }),
      /Cannot open capture .*missing/,
    );
  } finally {
    await Deno.remove(f);
    await Deno.remove(out);
  }
});
