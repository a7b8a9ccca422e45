// Property-based tests of the pcap/pcapng file reader. Valid files are built by hand from the
// pcap and pcapng specifications (both byte orders, µs and ns pcap, several sections and
// interfaces, if_tsresol, Enhanced, Simple and other blocks), read through a source that returns
// random amounts per read, and must give the packets that were built; a file cut anywhere gives
// a prefix of them and `truncated`; random and mutated bytes give packets or a `file`
// MembenchError, the same whichever way the reads are split, within a time limit and with a read
// buffer bounded by the file's size. Budget and replay: tests/fuzz_helpers.ts.
import * as fc from "fast-check";
import assert from "node:assert/strict";
import { CaptureFile, type PacketView } from "./pcap_file.ts";
import {
  ChunkSource,
  expectTypedAsync,
  fractionArb,
  fuzzAsync,
  mutate,
  mutationsArb,
} from "../../tests/fuzz_helpers.ts";

type Pkt = {
  linkType: number;
  tsSec: number;
  tsNs: number;
  tsUs: number;
  data: number[];
  origLen: number;
};
type Read = { packets: Pkt[]; truncated: boolean; error?: string; maxBuffer: number };

const MiB = 1024 * 1024;

/** Reads a whole file; checks every packet view and bounds the work. */
async function readAll(file: Uint8Array, sizes: number[] = []): Promise<Read> {
  const src = new ChunkSource(file, sizes);
  const packets: Pkt[] = [];
  let truncated = false;
  const e = await expectTypedAsync(
    async () => {
      const r = await CaptureFile.fromSource(src, "fuzz");
      try {
        await r.forEach((v: PacketView) => {
          assert.ok(v.off >= 0 && v.capLen >= 0, `view at ${v.off}, ${v.capLen} bytes`);
          assert.ok(v.off + v.capLen <= v.buf.length, "the packet lies inside the buffer");
          assert.ok(Number.isFinite(v.tsUs) && Number.isInteger(v.tsSec), `time ${v.tsUs}`);
          assert.ok(Number.isInteger(v.tsNs) && v.tsNs >= 0 && v.tsNs < 1e9, `ns ${v.tsNs}`);
          packets.push({
            linkType: v.linkType,
            tsSec: v.tsSec,
            tsNs: v.tsNs,
            tsUs: v.tsUs,
            data: Array.from(v.buf.subarray(v.off, v.off + v.capLen)),
            origLen: v.origLen,
          });
          // Every packet costs at least its 16- or 12-byte record header.
          assert.ok(packets.length <= file.length / 12, "more packets than the file can hold");
        });
        assert.equal(r.packets, packets.length);
        truncated = r.truncated;
        if (truncated) assert.match(r.warning ?? "", /^Capture fuzz is truncated at byte \d+: /);
      } finally {
        r.close();
      }
    },
    "file",
    /^Cannot read capture fuzz at byte \d+: /,
  );
  // The reader reads ahead in one buffer of 1 MiB, grown only for a record that needs more.
  assert.ok(src.reads <= file.length + 8, `${src.reads} reads for ${file.length} bytes`);
  return { packets, truncated, maxBuffer: src.maxBuffer, ...(e ? { error: e.message } : {}) };
}

// ---------------------------------------------------------------------------------------------
// Writers for the formats, from the specifications.

class W {
  out: number[] = [];
  constructor(readonly le: boolean) {}
  u8(v: number) {
    this.out.push(v & 255);
    return this;
  }
  u16(v: number) {
    const b = [(v >>> 8) & 255, v & 255];
    this.out.push(...(this.le ? b.reverse() : b));
    return this;
  }
  u32(v: number) {
    const b = [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
    this.out.push(...(this.le ? b.reverse() : b));
    return this;
  }
  bytes(b: ArrayLike<number>) {
    for (let i = 0; i < b.length; i++) this.out.push(b[i]!);
    return this;
  }
  pad4() {
    while (this.out.length % 4 !== 0) this.out.push(0);
    return this;
  }
}

const data = fc.uint8Array({ maxLength: 60 });
// Bytes on the wire beyond those captured (a snaplen cut), up to the 32-bit field's range.
const extra = fc.oneof(fc.nat({ max: 2000 }), fc.nat({ max: 0xffffff00 }));
const linkType = fc.constantFrom(0, 1, 101, 113, 276, 228);

// `ends`: where each packet's record ends; `bounds`: where every record or block ends.
type Built = { file: Uint8Array; packets: Pkt[]; ends: number[]; bounds: number[] };

// pcap: a 24-byte global header, then 16-byte record headers and data.
const pcapFile: fc.Arbitrary<Built> = fc.record({
  le: fc.boolean(),
  ns: fc.boolean(),
  linkType,
  records: fc.array(
    fc.record({
      sec: fc.nat({ max: 0xffffffff }),
      frac: fc.nat({ max: 999_999_999 }),
      data,
      extra,
    }),
    { maxLength: 6 },
  ),
}).map(({ le, ns, linkType, records }) => {
  const w = new W(le);
  w.u32(ns ? 0xa1b23c4d : 0xa1b2c3d4).u16(2).u16(4).u32(0).u32(0).u32(262144).u32(linkType);
  const packets: Pkt[] = [];
  const ends: number[] = [];
  const bounds: number[] = [w.out.length];
  for (const r of records) {
    const frac = ns ? r.frac : r.frac % 1_000_000;
    const origLen = r.data.length + (r.extra % 3 === 0 ? r.extra : 0);
    w.u32(r.sec).u32(frac).u32(r.data.length).u32(origLen).bytes(r.data);
    ends.push(w.out.length);
    bounds.push(w.out.length);
    packets.push({
      linkType,
      tsSec: r.sec,
      tsNs: ns ? frac : frac * 1000,
      tsUs: r.sec * 1e6 + (ns ? frac / 1000 : frac),
      data: Array.from(r.data),
      origLen,
    });
  }
  return { file: Uint8Array.from(w.out), packets, ends, bounds };
});

// if_tsresol: 10^-e or 2^-e seconds.
const tsresol = fc.oneof(
  fc.constant(undefined),
  fc.integer({ min: 0, max: 12 }),
  fc.integer({ min: 0, max: 40 }).map((e) => 0x80 | e),
);

function tpsOf(r: number | undefined): bigint {
  if (r === undefined) return 1_000_000n;
  return r & 0x80 ? 2n ** BigInt(r & 0x7f) : 10n ** BigInt(r);
}

type Block =
  | { t: "idb"; linkType: number; snapLen: number; tsresol: number | undefined; name: string }
  | { t: "epb"; iface: number; ts: bigint; data: Uint8Array; extra: number; comment: boolean }
  | { t: "spb"; data: Uint8Array; extra: number }
  | { t: "other"; type: number; body: Uint8Array };

function block(w: W, type: number, body: (b: W) => void): void {
  const b = new W(w.le);
  body(b);
  b.pad4();
  const len = 12 + b.out.length;
  w.u32(type).u32(len).bytes(b.out).u32(len);
}

const pcapngFile: fc.Arbitrary<Built> = fc.array(
  fc.record({
    le: fc.boolean(),
    ifaces: fc.array(
      fc.record({
        linkType,
        snapLen: fc.oneof(fc.constant(0), fc.nat({ max: 100 })),
        tsresol,
        name: fc.string({ maxLength: 6 }),
      }),
      { minLength: 1, maxLength: 3 },
    ),
    blocks: fc.array(
      fc.oneof(
        {
          weight: 4,
          arbitrary: fc.record({
            iface: fc.nat({ max: 2 }),
            ts: fc.bigInt({ min: 0n, max: 2n ** 62n }),
            data,
            extra,
            comment: fc.boolean(),
          }).map((b) => ({ t: "epb" as const, ...b })),
        },
        {
          weight: 1,
          arbitrary: fc.record({ data, extra }).map((b) => ({
            t: "spb" as const,
            ...b,
          })),
        },
        {
          weight: 1,
          arbitrary: fc.record({
            type: fc.constantFrom(4, 5, 0xbad, 0x40000bad),
            body: fc.uint8Array({ maxLength: 20 }),
          }).map((b) => ({ t: "other" as const, ...b })),
        },
      ),
      { maxLength: 6 },
    ),
  }),
  { minLength: 1, maxLength: 2 },
).map((sections) => {
  const out: number[] = [];
  const packets: Pkt[] = [];
  const ends: number[] = [];
  const bounds: number[] = [];
  let last = { tsSec: 0, tsNs: 0, tsUs: 0 };
  for (const s of sections) {
    const w = new W(s.le);
    block(w, 0x0a0d0d0a, (b) => {
      b.u32(0x1a2b3c4d).u16(1).u16(0).u32(0xffffffff).u32(0xffffffff);
      b.u16(4).u16(3).bytes([102, 122, 122]).pad4().u16(0).u16(0); // shb_userappl "fzz"
    });
    bounds.push(out.length + w.out.length);
    const blocks: Block[] = [
      ...s.ifaces.map((i) => ({ t: "idb" as const, ...i })),
      ...s.blocks,
    ];
    for (const b of blocks) {
      if (b.t === "idb") {
        block(w, 1, (x) => {
          x.u16(b.linkType).u16(0).u32(b.snapLen);
          const name = new TextEncoder().encode(b.name);
          if (name.length > 0) x.u16(2).u16(name.length).bytes(name).pad4();
          if (b.tsresol !== undefined) x.u16(9).u16(1).u8(b.tsresol).pad4();
          x.u16(0).u16(0);
        });
      } else if (b.t === "epb") {
        const iface = s.ifaces[b.iface % s.ifaces.length]!;
        const id = b.iface % s.ifaces.length;
        const tps = tpsOf(iface.tsresol);
        const origLen = b.data.length + (b.extra % 2 === 0 ? b.extra : 0);
        block(w, 6, (x) => {
          x.u32(id).u32(Number(b.ts >> 32n)).u32(Number(b.ts & 0xffffffffn));
          x.u32(b.data.length).u32(origLen).bytes(b.data).pad4();
          if (b.comment) x.u16(1).u16(2).bytes([104, 105]).pad4().u16(0).u16(0);
        });
        const sec = b.ts / tps;
        const rem = b.ts % tps;
        last = {
          tsSec: Number(sec),
          tsNs: Number(rem * 1_000_000_000n / tps),
          tsUs: Number(sec) * 1e6 + Number(rem) * 1e6 / Number(tps),
        };
        packets.push({ linkType: iface.linkType, ...last, data: Array.from(b.data), origLen });
      } else if (b.t === "spb") {
        // No timestamp: the time of the packet before it. Captured: origLen cut to the snaplen.
        const iface = s.ifaces[0]!;
        const origLen = b.data.length + (iface.snapLen > 0 ? b.extra : 0);
        const capLen = iface.snapLen > 0 ? Math.min(origLen, iface.snapLen) : origLen;
        const body = new Uint8Array(capLen);
        body.set(b.data.subarray(0, capLen));
        block(w, 3, (x) => x.u32(origLen).bytes(body).pad4());
        packets.push({ linkType: iface.linkType, ...last, data: Array.from(body), origLen });
      } else {
        block(w, b.type, (x) => x.bytes(b.body));
      }
      if (b.t === "epb" || b.t === "spb") ends.push(out.length + w.out.length);
      bounds.push(out.length + w.out.length);
    }
    out.push(...w.out);
  }
  return { file: Uint8Array.from(out), packets, ends, bounds };
});

const anyFile = fc.oneof(pcapFile, pcapngFile);

function samePackets(got: Pkt[], want: Pkt[]): void {
  assert.equal(got.length, want.length, "packet count");
  got.forEach((g, i) => {
    const w = want[i]!;
    assert.deepEqual(
      { ...g, tsUs: 0 },
      { ...w, tsUs: 0 },
      `packet ${i}`,
    );
    assert.ok(
      Math.abs(g.tsUs - w.tsUs) <= Math.max(1e-6, Math.abs(w.tsUs) * 2 ** -50),
      `packet ${i}: time ${g.tsUs} µs, want ${w.tsUs}`,
    );
  });
}

const sizes = fc.array(fc.integer({ min: 1, max: 300 }), { maxLength: 8 });

Deno.test("CaptureFile reads valid pcap and pcapng files, read in any pieces, as built", async () => {
  await fuzzAsync(
    "pcap valid",
    fc.asyncProperty(anyFile, sizes, async ({ file, packets }, sz) => {
      for (const s of [[], sz]) {
        const got = await readAll(file, s);
        assert.equal(got.error, undefined);
        assert.equal(got.truncated, false);
        samePackets(got.packets, packets);
      }
    }),
  );
});

Deno.test("CaptureFile reads a file cut anywhere up to its last whole packet", async () => {
  await fuzzAsync(
    "pcap cut",
    fc.asyncProperty(
      anyFile,
      fractionArb(),
      sizes,
      async ({ file, packets, ends, bounds }, at, sz) => {
        const cut = Math.floor(at * file.length);
        const got = await readAll(file.subarray(0, cut), sz);
        if (got.error !== undefined) {
          // Only a file too short for its own header is an error.
          assert.ok(cut < 24 || (file[0] === 0x0a && cut < 28), `cut at ${cut}: ${got.error}`);
          return;
        }
        const whole = ends.filter((e) => e <= cut).length;
        samePackets(got.packets, packets.slice(0, whole));
        assert.equal(
          got.truncated,
          cut > 0 && !bounds.includes(cut),
          `cut at ${cut} of ${file.length}: ${JSON.stringify(got)}`,
        );
      },
    ),
  );
});

// ---------------------------------------------------------------------------------------------
// Random and mutated files.

const PCAP_BYTES = [
  0,
  1,
  4,
  0xff,
  0x0a,
  0x0d,
  0xa1,
  0xb2,
  0xc3,
  0xd4,
  0x1a,
  0x2b,
  0x3c,
  0x4d,
  6,
  3,
];
const noise = fc.oneof(
  fc.uint8Array({ maxLength: 120 }),
  // A right magic, then noise.
  fc.tuple(
    fc.constantFrom([0xd4, 0xc3, 0xb2, 0xa1], [0xa1, 0xb2, 0xc3, 0xd4], [0x4d, 0x3c, 0xb2, 0xa1], [
      0x0a,
      0x0d,
      0x0d,
      0x0a,
    ]),
    fc.uint8Array({ maxLength: 120 }),
  )
    .map(([m, b]) => Uint8Array.from([...m, ...b])),
  fc.tuple(anyFile, mutationsArb(PCAP_BYTES)).map(([f, m]) => mutate(f.file, m)),
  fc.tuple(anyFile, mutationsArb(PCAP_BYTES, 2), fractionArb())
    .map(([f, m, keep]) => mutate(f.file, m, keep)),
  // A record or block whose length field claims more than the file holds.
  fc.tuple(anyFile, fc.nat(), fc.integer({ min: 0, max: 24 * MiB })).map(([f, i, len]) => {
    const b = f.file.slice();
    const at = f.bounds[i % f.bounds.length]!;
    const le = b[0] === 0xd4 || b[8] === 0x4d;
    const field = b[0] === 0x0a ? at + 4 : at + 8; // pcapng block length, pcap capLen
    if (field + 4 > b.length) return b;
    const v = b[0] === 0x0a ? len & ~3 : len;
    for (let k = 0; k < 4; k++) b[field + (le ? k : 3 - k)] = (v >>> (8 * k)) & 255;
    return b;
  }),
);

Deno.test("CaptureFile on random bytes: packets or a file error, the same however read, in bounded memory", async () => {
  await fuzzAsync(
    "pcap noise",
    fc.asyncProperty(noise, sizes, async (file, sz) => {
      const whole = await readAll(file);
      const split = await readAll(file, sz);
      assert.deepEqual(split.packets, whole.packets);
      assert.equal(split.error, whole.error);
      assert.equal(split.truncated, whole.truncated);
      // One read buffer of 1 MiB, grown only with bytes actually read (never to what a record
      // claims when the file is shorter).
      for (const r of [whole, split]) {
        assert.ok(r.maxBuffer <= Math.max(MiB, 2 * file.length), `buffer of ${r.maxBuffer}`);
      }
    }),
    { runs: 300 },
  );
});
