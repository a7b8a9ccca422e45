// Property-based tests of the profile reader. Valid profiles are built by hand from the layout in
// spec.ts (magic, checksummed msgpack frames, column-wise event blocks, footer, trailer), read
// through a source that returns random amounts per read, and must give what was built; a file
// cut anywhere gives its whole frames and `truncated`; random frames (right checksums around
// payloads of any shape), mutated files and noise give data of the documented shapes or a `file`
// MembenchError, the same however read, within a time limit and with a read buffer bounded by
// the file's size. Budget and replay: tests/fuzz_helpers.ts.
import * as fc from "fast-check";
import assert from "node:assert/strict";
import { Packr } from "msgpackr";
import { COLUMNS, type EventBlock, type ProfileHeader, ProfileReader } from "./mod.ts";
import { isProtocolName } from "../protocol/mod.ts";
import {
  ChunkSource,
  concat,
  expectTypedAsync,
  fractionArb,
  fuzzAsync,
  mutate,
  mutationsArb,
} from "../../tests/fuzz_helpers.ts";

const packr = new Packr({ useRecords: false, variableMapSize: true });
const MiB = 1024 * 1024;

// CRC-32 (IEEE), bit by bit, independent of the reader's table-driven one.
function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (const x of b) {
    c ^= x;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

const MAGIC = [0x4d, 0x42, 0x50, 0x52, 0x4f, 0x46, 0x00, 0x01]; // "MBPROF" 0 1
const TRAILER = [0x4d, 0x42, 0x50, 0x45, 0x4e, 0x44, 0x00, 0x00]; // "MBPEND" 0 0

function u32le(v: number): number[] {
  return [v & 255, (v >>> 8) & 255, (v >>> 16) & 255, (v >>> 24) & 255];
}

/** A frame: u32le length, kind, payload, u32le CRC-32 of the payload. */
function frame(kind: number, body: Uint8Array, crc = crc32(body)): Uint8Array {
  return concat([
    Uint8Array.from([...u32le(body.length), kind]),
    body,
    Uint8Array.from(u32le(crc)),
  ]);
}

function pack(x: unknown): Uint8Array {
  return packr.pack(x) as Uint8Array;
}

// ---------------------------------------------------------------------------------------------
// Valid profiles.

type Ev = {
  t: number;
  conn: number;
  op: number;
  keyHi: number;
  keyLo: number;
  keyLen: number;
  valueLen: number;
  flags: number;
  ttl: number;
  status: number;
  latency: number;
  slot: number;
  seq: number;
};

const u32 = fc.nat({ max: 0xffffffff });
const event = (ops: number): fc.Arbitrary<Ev> =>
  fc.record({
    t: fc.double({ min: 0, max: 1e12, noNaN: true }),
    conn: fc.nat({ max: 20 }),
    op: fc.nat({ max: Math.max(0, ops - 1) }),
    keyHi: u32,
    keyLo: u32,
    keyLen: fc.nat({ max: 0xffff }),
    valueLen: u32,
    flags: u32,
    ttl: fc.integer({ min: -1, max: 2 ** 31 - 1 }),
    status: fc.nat({ max: 10 }),
    latency: fc.oneof(
      fc.constant(NaN),
      fc.double({ min: 0, max: 1e6, noNaN: true }).map(Math.fround),
    ),
    slot: fc.integer({ min: -1, max: 16383 }),
    seq: u32,
  });

// Column bytes, little-endian as spec.ts says, written with DataView (not typed arrays).
const WRITE: Record<string, (v: DataView, o: number, x: number) => void> = {
  t: (v, o, x) => v.setFloat64(o * 8, x, true),
  conn: (v, o, x) => v.setUint32(o * 4, x, true),
  op: (v, o, x) => v.setUint16(o * 2, x, true),
  keyHi: (v, o, x) => v.setUint32(o * 4, x, true),
  keyLo: (v, o, x) => v.setUint32(o * 4, x, true),
  keyLen: (v, o, x) => v.setUint16(o * 2, x, true),
  valueLen: (v, o, x) => v.setUint32(o * 4, x, true),
  flags: (v, o, x) => v.setUint32(o * 4, x, true),
  ttl: (v, o, x) => v.setInt32(o * 4, x, true),
  status: (v, o, x) => v.setUint8(o, x),
  latency: (v, o, x) => v.setFloat32(o * 4, x, true),
  slot: (v, o, x) => v.setInt16(o * 2, x, true),
  seq: (v, o, x) => v.setUint32(o * 4, x, true),
};
const WIDTH: Record<string, number> = { t: 8, op: 2, keyLen: 2, status: 1, slot: 2 };

function columns(evs: Ev[]): Record<string, Uint8Array> {
  const cols: Record<string, Uint8Array> = {};
  for (const name of Object.keys(WRITE)) {
    const b = new Uint8Array(evs.length * (WIDTH[name] ?? 4));
    const v = new DataView(b.buffer);
    evs.forEach((e, i) => WRITE[name]!(v, i, e[name as keyof Ev]));
    cols[name] = b;
  }
  return cols;
}

const HEADER: ProfileHeader = {
  formatVersion: 1,
  tool: "fuzz",
  createdAt: "2026-01-01T00:00:00.000Z",
  startUs: 1.7e15,
  source: "pcap file",
  anonymization: {
    scheme: "siphash-2-4",
    saltFingerprint: "0123456789abcdef",
    keepTokens: 0,
    tokenDelimiter: ":",
    keepSlots: false,
  },
};

type Built = {
  file: Uint8Array;
  ops: string[];
  blocks: Ev[][];
  conns: Record<number, unknown>;
  frameEnds: number[]; // where each frame ends
  blockEnds: number[]; // where each events frame ends
  footerEnd: number;
};

// Protocols as profiles write them now (RESP with its version, or without one), and as they
// were written before one protocol name (`resp2`, `resp3`).
const protocol = fc.oneof(
  fc.constantFrom("memcache-text", "memcache-meta", "memcache-binary", "resp", "resp2", "resp3")
    .map((p) => ({ protocol: p })),
  fc.constantFrom(2, 3).map((v) => ({ protocol: "resp", respVersion: v })),
);
const connection = fc.record({
  id: fc.nat({ max: 20 }),
  protocol,
  openUs: fc.nat({ max: 1e9 }),
  closeUs: fc.option(fc.nat({ max: 1e9 }), { nil: undefined }),
  sawOpen: fc.boolean(),
  sawClose: fc.boolean(),
}).map(({ closeUs, protocol, ...c }) => ({
  ...c,
  ...protocol,
  ...(closeUs === undefined ? {} : { closeUs }),
}));

/** A connection as the reader gives it: `resp2` and `resp3` are RESP with a version. */
function asRead(c: Record<string, unknown>): Record<string, unknown> {
  if (c.protocol === "resp2") return { ...c, protocol: "resp", respVersion: 2 };
  if (c.protocol === "resp3") return { ...c, protocol: "resp", respVersion: 3 };
  return c;
}

const validProfile: fc.Arbitrary<Built> = fc.tuple(
  fc.array(fc.string({ minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 5 }),
  fc.array(
    fc.tuple(
      fc.array(connection, { maxLength: 3 }),
      fc.nat({ max: 5 }),
      fc.array(fc.nat(), { maxLength: 6 }),
    ),
    { maxLength: 4 },
  ),
).chain(([names, frames]) => {
  const ops = [...new Set(names)];
  return fc.tuple(
    fc.constant(ops),
    fc.constant(frames),
    fc.array(fc.array(event(ops.length), { maxLength: 6 }), {
      minLength: frames.length,
      maxLength: frames.length,
    }),
  );
}).map(([ops, frames, blocks]) => {
  const parts: Uint8Array[] = [Uint8Array.from(MAGIC)];
  let at = MAGIC.length;
  const frameEnds: number[] = [];
  const blockEnds: number[] = [];
  const push = (b: Uint8Array) => {
    parts.push(b);
    at += b.length;
    frameEnds.push(at);
  };
  push(frame(1, pack(HEADER)));
  const conns: Record<number, unknown> = {};
  let opsWritten = 0;
  const kept: Ev[][] = [];
  let events = 0;
  frames.forEach(([cs, newOps], i) => {
    if (cs.length > 0) {
      push(frame(2, pack({ connections: cs })));
      for (const c of cs) {
        // A later record replaces the protocol whole, RESP version included.
        const { respVersion: _, ...prev } = (conns[c.id] ?? {}) as Record<string, unknown>;
        conns[c.id] = { ...prev, ...asRead(c) };
      }
    }
    const evs = blocks[i]!.filter((e) => e.op < opsWritten + newOps);
    const n = Math.min(ops.length - opsWritten, newOps);
    push(
      frame(
        3,
        pack({
          count: evs.length,
          opBase: opsWritten,
          newOps: ops.slice(opsWritten, opsWritten + n),
          cols: columns(evs),
        }),
      ),
    );
    opsWritten += n;
    blockEnds.push(at);
    kept.push(evs);
    events += evs.length;
  });
  const footerAt = at;
  push(
    frame(
      4,
      pack({
        events,
        blocks: [],
        ops,
        opCounts: {},
        connections: Object.keys(conns).length,
        capture: { packets: 1 },
        endUs: 0,
      }),
    ),
  );
  const footerEnd = at;
  parts.push(Uint8Array.from([...TRAILER, ...u32le(footerAt), 0, 0, 0, 0]));
  return { file: concat(parts), ops, blocks: kept, conns, frameEnds, blockEnds, footerEnd };
});

type Read = {
  header?: unknown;
  blocks: Array<Record<string, number[]>>;
  conns: Record<number, unknown>;
  ops: string[];
  footer?: unknown;
  truncated: boolean;
  error?: string;
  maxBuffer: number;
};

function isKind(x: unknown, kind: string): boolean {
  if (kind === "array") return Array.isArray(x);
  if (kind === "map") {
    return typeof x === "object" && x !== null && !Array.isArray(x) && !(x instanceof Uint8Array);
  }
  const t: string = typeof x;
  return t === kind;
}

/** Checks that what the reader hands over has the documented shape (consumers rely on it). */
function checkShapes(r: ProfileReader): void {
  const h = r.header as unknown as Record<string, unknown>;
  for (
    const [k, kind] of Object.entries({
      formatVersion: "number",
      tool: "string",
      createdAt: "string",
      startUs: "number",
      source: "string",
      anonymization: "map",
    })
  ) {
    assert.ok(isKind(h[k], kind), `header.${k} is ${typeof h[k]}`);
  }
  const a = h.anonymization as Record<string, unknown>;
  for (
    const [k, kind] of Object.entries({
      scheme: "string",
      saltFingerprint: "string",
      keepTokens: "number",
      tokenDelimiter: "string",
      keepSlots: "boolean",
    })
  ) {
    assert.ok(isKind(a[k], kind), `header.anonymization.${k} is ${typeof a[k]}`);
  }
  for (const c of r.connections.values()) {
    const m = c as unknown as Record<string, unknown>;
    for (
      const [k, kind] of Object.entries({
        id: "number",
        protocol: "string",
        openUs: "number",
        sawOpen: "boolean",
        sawClose: "boolean",
      })
    ) {
      assert.ok(isKind(m[k], kind), `connection.${k} is ${typeof m[k]}`);
    }
    assert.ok(m.closeUs === undefined || typeof m.closeUs === "number");
    assert.ok(isProtocolName(c.protocol), `connection.protocol is ${c.protocol}`);
    assert.ok(
      c.respVersion === undefined || (c.protocol === "resp" && [2, 3].includes(c.respVersion)),
      `connection.respVersion is ${c.respVersion} on ${c.protocol}`,
    );
  }
  assert.ok(r.ops.length <= 0x10000, `${r.ops.length} ops`);
  r.ops.forEach((o) => assert.equal(typeof o, "string"));
  if (r.footer) {
    const f = r.footer as unknown as Record<string, unknown>;
    for (
      const [k, kind] of Object.entries({
        events: "number",
        blocks: "array",
        ops: "array",
        opCounts: "map",
        connections: "number",
        capture: "map",
        endUs: "number",
      })
    ) {
      assert.ok(isKind(f[k], kind), `footer.${k} is ${typeof f[k]}`);
    }
  }
}

async function readAll(file: Uint8Array, sizes: number[] = [], verify = true): Promise<Read> {
  const src = new ChunkSource(file, sizes);
  const out: Read = { blocks: [], conns: {}, ops: [], truncated: false, maxBuffer: 0 };
  const e = await expectTypedAsync(
    async () => {
      const r = await ProfileReader.fromSource(src, "fuzz", { verifyChecksums: verify });
      out.header = r.header;
      for await (const b of r.blocks()) {
        assert.ok(Number.isInteger(b.count) && b.count >= 0, `count ${b.count}`);
        const cols: Record<string, number[]> = {};
        for (const [name, Ctor] of COLUMNS) {
          const col = b[name as keyof EventBlock];
          assert.ok(col instanceof Ctor && col.length === b.count, `column ${name}`);
          cols[name] = Array.from(col as ArrayLike<number>);
        }
        out.blocks.push(cols);
        checkShapes(r);
      }
      checkShapes(r);
      for (const [id, c] of r.connections) out.conns[id] = c;
      out.ops = [...r.ops];
      out.footer = r.footer;
      out.truncated = r.truncated;
      if (r.truncated) assert.match(r.warning ?? "", /^Profile fuzz is truncated: /);
      assert.equal(r.eventsRead, out.blocks.reduce((n, b) => n + b.t!.length, 0));
    },
    "file",
    /^Cannot read profile fuzz at byte \d+: /,
  );
  out.maxBuffer = src.maxBuffer;
  assert.ok(src.reads <= file.length + 8, `${src.reads} reads for ${file.length} bytes`);
  if (e) out.error = e.message;
  return out;
}

function expectedBlocks(blocks: Ev[][]): Array<Record<string, number[]>> {
  return blocks.map((evs) => {
    const cols: Record<string, number[]> = {};
    for (const name of Object.keys(WRITE)) cols[name] = evs.map((e) => e[name as keyof Ev]);
    // These hand-built profiles are format version 1 (no `shape` column): read as shape 0.
    cols.shape = evs.map(() => 0);
    // ...and without arguments (format 2.1's `argc`): read as 0 words.
    cols.argc = evs.map(() => 0);
    return cols;
  });
}

const sizes = fc.array(fc.integer({ min: 1, max: 200 }), { maxLength: 8 });

Deno.test("ProfileReader reads hand-built profiles, read in any pieces, as built", async () => {
  await fuzzAsync(
    "profile valid",
    fc.asyncProperty(validProfile, sizes, async (p, sz) => {
      for (const s of [[], sz]) {
        const got = await readAll(p.file, s);
        assert.equal(got.error, undefined);
        assert.equal(got.truncated, false);
        assert.deepEqual(got.header, HEADER);
        assert.deepEqual(got.blocks, expectedBlocks(p.blocks));
        assert.deepEqual(got.conns, p.conns);
        assert.deepEqual(got.ops, p.ops);
      }
    }),
  );
});

Deno.test("ProfileReader reads a profile cut anywhere up to its last whole frame", async () => {
  await fuzzAsync(
    "profile cut",
    fc.asyncProperty(
      validProfile,
      fractionArb(),
      sizes,
      async (p, at, sz) => {
        const cut = Math.floor(at * p.file.length);
        const got = await readAll(p.file.subarray(0, cut), sz);
        if (cut < p.frameEnds[0]!) {
          // No whole header: not a profile one can read.
          assert.match(
            got.error ?? "",
            cut < 8 ? /shorter than the profile magic/ : /ends inside its header/,
          );
          return;
        }
        assert.equal(got.error, undefined);
        const whole = p.blockEnds.filter((e) => e <= cut).length;
        assert.deepEqual(got.blocks, expectedBlocks(p.blocks.slice(0, whole)));
        assert.equal(
          got.truncated,
          cut < p.footerEnd,
          `cut at ${cut}, footer ends at ${p.footerEnd}`,
        );
      },
    ),
  );
});

Deno.test("ProfileReader refuses a frame with any one bit changed (checksums)", async () => {
  await fuzzAsync(
    "profile bit flip",
    fc.asyncProperty(validProfile, fc.nat(), fc.nat({ max: 7 }), async (p, pick, bit) => {
      // A bit of a frame's payload or checksum (its length and kind are checked otherwise).
      const frames = p.frameEnds.map((end, i) => [i === 0 ? 8 : p.frameEnds[i - 1]!, end]);
      const [start, end] = frames[pick % frames.length]!;
      const at = start! + 5 + ((pick >> 3) % (end! - start! - 5));
      const file = p.file.slice();
      file[at]! ^= 1 << bit;
      const got = await readAll(file);
      assert.match(got.error ?? "", /frame fails its checksum/, `bit ${bit} of byte ${at}`);
    }),
  );
});

// ---------------------------------------------------------------------------------------------
// Random frames, mutated files and noise.

// Payloads of any shape, and valid payloads with one field replaced by anything.
const anyValue = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.uint8Array({ maxLength: 16 }),
  fc.constantFrom(-1, 0.5, 2 ** 40, -0, NaN, Infinity, "", null, undefined, true),
);
const VALID_PAYLOADS: Record<number, () => Record<string, unknown>> = {
  1: () => ({ ...HEADER, anonymization: { ...HEADER.anonymization } }),
  2: () => ({
    connections: [{ id: 1, protocol: "resp2", openUs: 0, sawOpen: true, sawClose: false }],
  }),
  3: () => ({
    count: 1,
    opBase: 0,
    newOps: ["get"],
    cols: columns([{
      t: 1,
      conn: 1,
      op: 0,
      keyHi: 1,
      keyLo: 2,
      keyLen: 3,
      valueLen: 4,
      flags: 0,
      ttl: -1,
      status: 1,
      latency: 5,
      slot: -1,
      seq: 0,
    }]),
  }),
  4: () => ({
    events: 1,
    blocks: [],
    ops: ["get"],
    opCounts: { get: 1 },
    connections: 1,
    capture: {},
    endUs: 0,
  }),
};

function breakPath(o: Record<string, unknown>, path: number, v: unknown): Record<string, unknown> {
  // Replace one field, or one field one level down (anonymization.*, connections[0].*, cols.*).
  const keys = Object.keys(o);
  const k = keys[path % keys.length]!;
  const inner = o[k];
  if (
    path % 3 === 0 && typeof inner === "object" && inner !== null && !(inner instanceof Uint8Array)
  ) {
    const target = Array.isArray(inner) ? inner[0] : inner;
    if (typeof target === "object" && target !== null) {
      const ik = Object.keys(target);
      if (ik.length > 0) (target as Record<string, unknown>)[ik[(path >> 2) % ik.length]!] = v;
      return o;
    }
  }
  o[k] = v;
  return o;
}

const oddFrame = fc.oneof(
  // A valid payload with one field of another type.
  fc.tuple(fc.constantFrom(1, 2, 3, 4), fc.nat(), anyValue).map(([kind, path, v]) =>
    frame(kind, pack(breakPath(VALID_PAYLOADS[kind]!(), path, v)))
  ),
  // Anything at all as a payload, with a right checksum.
  fc.tuple(fc.integer({ min: 0, max: 6 }), anyValue).map(([kind, v]) => frame(kind, pack(v))),
  // Bytes that may not be msgpack at all.
  fc.tuple(fc.integer({ min: 1, max: 4 }), fc.uint8Array({ maxLength: 24 })).map(([kind, b]) =>
    frame(kind, b)
  ),
  // A valid frame with a wrong checksum.
  fc.constantFrom(1, 2, 3, 4).map((kind) => frame(kind, pack(VALID_PAYLOADS[kind]!()), 12345)),
);

const noise = fc.oneof(
  fc.uint8Array({ maxLength: 100 }),
  fc.uint8Array({ maxLength: 100 }).map((b) => Uint8Array.from([...MAGIC, ...b])),
  // A header, then frames of any shape.
  fc.tuple(fc.boolean(), fc.array(oddFrame, { maxLength: 4 })).map(([goodHeader, fs]) =>
    concat([Uint8Array.from(MAGIC), ...(goodHeader ? [frame(1, pack(HEADER))] : []), ...fs])
  ),
  fc.tuple(validProfile, mutationsArb([0, 1, 3, 4, 0x90, 0x80, 0xc4, 0xcc, 0xff])).map(([p, m]) =>
    mutate(p.file, m)
  ),
);

Deno.test("ProfileReader on random frames and bytes: documented shapes or a file error, the same however read", async () => {
  await fuzzAsync(
    "profile noise",
    fc.asyncProperty(noise, sizes, fc.boolean(), async (file, sz, verify) => {
      const whole = await readAll(file, [], verify);
      const split = await readAll(file, sz, verify);
      assert.deepEqual(split.blocks, whole.blocks);
      assert.equal(split.error, whole.error);
      assert.equal(split.truncated, whole.truncated);
      for (const r of [whole, split]) {
        assert.ok(
          r.maxBuffer <= Math.max(MiB, 2 * file.length),
          `buffer of ${r.maxBuffer} for ${file.length} bytes`,
        );
      }
    }),
    { runs: 300 },
  );
});

Deno.test("ProfileReader keeps its buffer to the file's size when a frame claims more", async () => {
  await fuzzAsync(
    "profile long claim",
    fc.asyncProperty(
      fc.integer({ min: 0, max: 64 * MiB }),
      fc.uint8Array({ maxLength: 64 }),
      async (len, rest) => {
        const hdr = frame(1, pack(HEADER));
        const file = concat([
          Uint8Array.from(MAGIC),
          hdr,
          Uint8Array.from([...u32le(len), 3]),
          rest,
        ]);
        const got = await readAll(file);
        assert.ok(got.maxBuffer <= MiB, `buffer of ${got.maxBuffer} for ${file.length} bytes`);
      },
    ),
    { runs: 30 },
  );
});
