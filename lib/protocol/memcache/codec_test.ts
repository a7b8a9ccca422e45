import assert from "node:assert/strict";
import { MembenchError } from "../../errors/mod.ts";
import {
  AsciiRequestParser,
  AsciiResponseParser,
  BIN_RESPONSE,
  binaryExtras,
  BinaryParser,
  BinOp,
  BinStatus,
  encodeBinary,
  encodeMcCommand,
  MC_OP_NAMES,
  MC_STATUS_NAMES,
  McAsciiReplyScanner,
  McBinaryReplyScanner,
  McOp,
  McReplyKind,
  McStatus,
  WireTemplate,
} from "./mod.ts";

const te = new TextEncoder();
const td = new TextDecoder();

type Parser = AsciiRequestParser | AsciiResponseParser | BinaryParser;

// Feeds `bytes` in the given chunks (each chunk copied into a reused buffer, as a socket reader
// does) and returns a snapshot of every element.
function run(make: () => Parser, bytes: Uint8Array, cuts: number[]): unknown[] {
  const p = make();
  const out: unknown[] = [];
  const scratch = new Uint8Array(bytes.length + 1);
  let prev = 0;
  for (const cut of [...cuts, bytes.length]) {
    const n = cut - prev;
    scratch.set(bytes.subarray(prev, cut));
    scratch.fill(0xee, n); // anything kept from an earlier chunk would show up as garbage
    for (let at = 0; (at = p.parse(scratch, at, n)) >= 0;) out.push(snapshot(p));
    prev = cut;
  }
  p.end();
  return out;
}

function snapshot(p: Parser): unknown {
  if (p instanceof AsciiRequestParser) {
    return {
      op: MC_OP_NAMES[p.op],
      keys: Array.from({ length: p.keyCount }, (_, i) => td.decode(p.key(i))),
      valueLength: p.valueLength,
      valueOffset: p.valueOffset,
      offset: p.offset,
      flags: p.clientFlags,
      ttl: p.ttl,
      cas: p.cas,
      delta: p.delta,
      noreply: p.noreply,
      meta: p.meta,
      mode: p.metaMode,
      opaque: p.opaque(),
      malformed: p.malformed,
    };
  }
  if (p instanceof AsciiResponseParser) {
    const k = p.key();
    return {
      status: MC_STATUS_NAMES[p.status],
      key: k ? td.decode(k) : undefined,
      valueLength: p.valueLength,
      flags: p.clientFlags,
      cas: p.cas,
      ttl: p.ttl,
      number: p.number,
      opaque: p.opaque(),
      text: p.text(),
    };
  }
  return {
    opcode: p.opcode,
    op: MC_OP_NAMES[p.op],
    quiet: p.quiet,
    status: p.status,
    opaque: p.opaque,
    cas: p.cas,
    key: td.decode(p.key()),
    valueLength: p.valueLength,
    valueOffset: p.valueOffset,
    offset: p.offset,
    flags: p.clientFlags,
    ttl: p.ttl,
    delta: p.delta,
  };
}

// Same result whole, at every two-chunk split, and byte by byte.
function assertSplitInvariant(make: () => Parser, bytes: Uint8Array): unknown[] {
  const whole = run(make, bytes, []);
  for (let i = 1; i < bytes.length; i++) {
    assert.deepEqual(run(make, bytes, [i]), whole, `split at ${i}`);
  }
  assert.deepEqual(
    run(make, bytes, Array.from({ length: bytes.length - 1 }, (_, i) => i + 1)),
    whole,
  );
  return whole;
}

const TEXT_REQUESTS = [
  "get a\r\n",
  "get a bb ccc\r\n",
  "gets a bb\r\n",
  "gat 60 a bb\r\n",
  "gats 0 a\r\n",
  "set k 5 0 3\r\nabc\r\n",
  "set k 5 0 3 noreply\r\nabc\r\n",
  "add k 0 100 0\r\n\r\n",
  "replace k 1 2 4\r\nwxyz\r\n",
  "append k 0 0 2\r\nab\r\n",
  "prepend k 0 0 2 noreply\r\nab\r\n",
  "cas k 0 0 2 12345\r\nab\r\n",
  "cas k 0 0 2 12345 noreply\r\nab\r\n",
  "delete k\r\n",
  "delete k noreply\r\n",
  "incr n 5\r\n",
  "decr n 3 noreply\r\n",
  "touch k 30\r\n",
  "flush_all\r\n",
  "flush_all 10 noreply\r\n",
  "version\r\n",
  "verbosity 1\r\n",
  "stats\r\n",
  "stats slabs\r\n",
  "quit\r\n",
  "get with-lf-only\n",
  "shutdown\r\n",
  "set bad 0 0 xyz\r\n",
];

const META_REQUESTS = [
  "mg k v f t c k O42\r\n",
  "mg k v q\r\n",
  "mg a2V5 b v\r\n",
  "ms k 3 T60 F7 q\r\nabc\r\n",
  "ms k 2 ME C99\r\nhi\r\n",
  "md k q\r\n",
  "md k C5 I T30\r\n",
  "ma n D10 MD v N0 J13\r\n",
  "mn\r\n",
  "me k\r\n",
];

Deno.test("AsciiRequestParser parses every text and meta command the same at every split offset", () => {
  const bytes = te.encode(TEXT_REQUESTS.join("") + META_REQUESTS.join(""));
  const events = assertSplitInvariant(() => new AsciiRequestParser(), bytes) as Array<
    Record<string, unknown>
  >;
  assert.equal(events.length, TEXT_REQUESTS.length + META_REQUESTS.length);
  const by = (i: number) => events[i]!;
  assert.deepEqual(by(1).keys, ["a", "bb", "ccc"]);
  assert.deepEqual([by(3).op, by(3).ttl, by(3).keys], ["gat", 60, ["a", "bb"]]);
  assert.deepEqual([by(6).op, by(6).valueLength, by(6).flags, by(6).noreply], ["set", 3, 5, true]);
  assert.equal(by(7).valueLength, 0);
  assert.deepEqual([by(11).op, by(11).cas], ["cas", 12345]);
  assert.deepEqual([by(16).op, by(16).delta, by(16).noreply], ["decr", 3, true]);
  assert.deepEqual([by(17).op, by(17).ttl], ["touch", 30]);
  assert.deepEqual([by(19).op, by(19).ttl, by(19).noreply], ["flush_all", 10, true]);
  assert.deepEqual(by(25).keys, ["with-lf-only"]);
  assert.deepEqual([by(26).op, by(26).malformed], ["other", 'unknown command "shutdown"']);
  // A bad length: memcached answers CLIENT_ERROR and reads the next line as a command.
  assert.deepEqual([by(27).op, by(27).valueLength, by(27).malformed], [
    "set",
    -1,
    "bad data length",
  ]);
  const m = TEXT_REQUESTS.length;
  assert.deepEqual([by(m).op, by(m).opaque, by(m).meta], ["mg", "42", true]);
  assert.equal(by(m + 1).noreply, true);
  assert.deepEqual(
    [by(m + 3).op, by(m + 3).valueLength, by(m + 3).ttl, by(m + 3).flags, by(m + 3).noreply],
    ["ms", 3, 60, 7, true],
  );
  assert.deepEqual([by(m + 4).mode, by(m + 4).cas], ["E".charCodeAt(0), 99]);
  assert.deepEqual([by(m + 7).op, by(m + 7).delta, by(m + 7).mode], ["ma", 10, "D".charCodeAt(0)]);
  assert.equal(by(m + 8).op, "mn");
  // Offsets point at each command's first byte; value offsets at its payload.
  const setAt = bytes.indexOf(0x73); // first 's' is "set k 5 0 3"
  assert.equal(
    td.decode(bytes.subarray(by(5).offset as number, (by(5).offset as number) + 3)),
    "set",
  );
  assert.ok(setAt >= 0);
  assert.equal(
    td.decode(bytes.subarray(by(5).valueOffset as number, (by(5).valueOffset as number) + 3)),
    "abc",
  );
});

const RESPONSES = [
  "VALUE k 5 3\r\nabc\r\n",
  "VALUE bb 0 2 777\r\nxy\r\n",
  "END\r\n",
  "STORED\r\n",
  "NOT_STORED\r\n",
  "EXISTS\r\n",
  "NOT_FOUND\r\n",
  "DELETED\r\n",
  "TOUCHED\r\n",
  "42\r\n",
  "OK\r\n",
  "VERSION 1.6.18\r\n",
  "STAT pid 1234\r\n",
  "ERROR\r\n",
  "CLIENT_ERROR bad command line format\r\n",
  "SERVER_ERROR out of memory storing object\r\n",
  "VA 2 f5 t-1 kkey c1 O9\r\nhi\r\n",
  "HD c77\r\n",
  "EN\r\n",
  "EN O88 knokey\r\n",
  "NF\r\n",
  "NS\r\n",
  "EX\r\n",
  "MN\r\n",
  "ME k exp=-1 la=0 cas=5 fetch=no cls=1 size=61\r\n",
  "RESET\r\n",
];

Deno.test("AsciiResponseParser parses every text and meta reply the same at every split offset", () => {
  const bytes = te.encode(RESPONSES.join(""));
  const ev = assertSplitInvariant(() => new AsciiResponseParser(), bytes) as Array<
    Record<string, unknown>
  >;
  assert.deepEqual(
    ev.map((e) => e.status),
    [
      "VALUE",
      "VALUE",
      "END",
      "STORED",
      "NOT_STORED",
      "EXISTS",
      "NOT_FOUND",
      "DELETED",
      "TOUCHED",
      "NUMBER",
      "OK",
      "VERSION",
      "STAT",
      "ERROR",
      "CLIENT_ERROR",
      "SERVER_ERROR",
      "VA",
      "HD",
      "EN",
      "EN",
      "NF",
      "NS",
      "EX",
      "MN",
      "ME",
      "OTHER",
    ],
  );
  assert.deepEqual([ev[0]!.key, ev[0]!.flags, ev[0]!.valueLength], ["k", 5, 3]);
  assert.equal(ev[1]!.cas, 777);
  assert.equal(ev[9]!.number, 42);
  assert.deepEqual(
    [ev[16]!.valueLength, ev[16]!.flags, ev[16]!.ttl, ev[16]!.key, ev[16]!.cas, ev[16]!.opaque],
    [2, 5, -1, "key", 1, "9"],
  );
  assert.equal(ev[17]!.cas, 77);
  assert.deepEqual([ev[19]!.key, ev[19]!.opaque], ["nokey", "88"]);
  assert.equal(ev[24]!.key, "k");
});

function binaryRequests(): Uint8Array[] {
  const v = te.encode("value");
  return [
    encodeBinary({ opcode: BinOp.Get, key: "k", opaque: 1 }),
    encodeBinary({ opcode: BinOp.GetQ, key: "k", opaque: 2 }),
    encodeBinary({ opcode: BinOp.GetK, key: "k", opaque: 3 }),
    encodeBinary({ opcode: BinOp.GetKQ, key: "kk", opaque: 4 }),
    encodeBinary({
      opcode: BinOp.Set,
      key: "k",
      value: v,
      extras: binaryExtras({ flags: 9, ttl: 60 }),
      opaque: 5,
    }),
    encodeBinary({
      opcode: BinOp.SetQ,
      key: "k",
      value: v,
      extras: binaryExtras({ flags: 0, ttl: 0 }),
    }),
    encodeBinary({
      opcode: BinOp.Add,
      key: "k",
      value: v,
      extras: binaryExtras({ flags: 0, ttl: 0 }),
    }),
    encodeBinary({
      opcode: BinOp.ReplaceQ,
      key: "k",
      value: v,
      extras: binaryExtras({ flags: 0, ttl: 0 }),
    }),
    encodeBinary({ opcode: BinOp.Append, key: "k", value: v }),
    encodeBinary({ opcode: BinOp.PrependQ, key: "k", value: v }),
    encodeBinary({ opcode: BinOp.Delete, key: "k", cas: 2 ** 40 + 3 }),
    encodeBinary({ opcode: BinOp.DeleteQ, key: "k" }),
    encodeBinary({
      opcode: BinOp.Increment,
      key: "n",
      extras: binaryExtras({ delta: 5, initial: 0, ttl: 0xffffffff }),
    }),
    encodeBinary({
      opcode: BinOp.DecrementQ,
      key: "n",
      extras: binaryExtras({ delta: 2, initial: 1, ttl: 0 }),
    }),
    encodeBinary({ opcode: BinOp.Touch, key: "k", extras: binaryExtras({ ttl: 30 }) }),
    encodeBinary({ opcode: BinOp.Gat, key: "k", extras: binaryExtras({ ttl: 30 }) }),
    encodeBinary({ opcode: BinOp.GatKQ, key: "k", extras: binaryExtras({ ttl: 30 }) }),
    encodeBinary({ opcode: BinOp.Flush, extras: binaryExtras({ ttl: 0 }) }),
    encodeBinary({ opcode: BinOp.Noop, opaque: 99 }),
    encodeBinary({ opcode: BinOp.Version }),
    encodeBinary({ opcode: BinOp.Stat }),
    encodeBinary({ opcode: BinOp.Verbosity, extras: binaryExtras({ level: 1 }) }),
    encodeBinary({ opcode: BinOp.SaslListMechs }),
    encodeBinary({ opcode: BinOp.SaslAuth, key: "PLAIN", value: "\0user\0pass" }),
    encodeBinary({ opcode: BinOp.Quit }),
  ];
}

Deno.test("BinaryParser parses every request opcode, quiet and K variants, at every split offset", () => {
  const pkts = binaryRequests();
  const bytes = concat(pkts);
  const ev = assertSplitInvariant(() => new BinaryParser("requests"), bytes) as Array<
    Record<string, unknown>
  >;
  assert.equal(ev.length, pkts.length);
  assert.deepEqual(ev.map((e) => e.opcode), pkts.map((p) => p[1]));
  assert.deepEqual([ev[1]!.op, ev[1]!.quiet], ["get", true]);
  assert.deepEqual([ev[3]!.key, ev[3]!.opaque], ["kk", 4]);
  assert.deepEqual([ev[4]!.op, ev[4]!.flags, ev[4]!.ttl, ev[4]!.valueLength], ["set", 9, 60, 5]);
  assert.equal(ev[10]!.cas, 2 ** 40 + 3);
  assert.deepEqual([ev[12]!.op, ev[12]!.delta, ev[12]!.ttl], ["incr", 5, 0xffffffff]);
  assert.deepEqual([ev[14]!.op, ev[14]!.ttl], ["touch", 30]);
  assert.deepEqual([ev[16]!.op, ev[16]!.quiet], ["gat", true]);
  assert.deepEqual([ev[23]!.op, ev[23]!.key, ev[23]!.valueLength], ["sasl_auth", "PLAIN", 10]);
  // Offsets: each packet's first byte.
  let off = 0;
  for (const [i, p] of pkts.entries()) {
    assert.equal(ev[i]!.offset, off);
    off += p.length;
  }
});

Deno.test("BinaryParser parses responses with status, flags, keys and values at every split offset", () => {
  const r = (o: Parameters<typeof encodeBinary>[0]) => encodeBinary({ magic: BIN_RESPONSE, ...o });
  const pkts = [
    r({ opcode: BinOp.Get, extras: binaryExtras({ ttl: 7 }), value: "abc", opaque: 1, cas: 5 }),
    r({ opcode: BinOp.GetKQ, key: "kk", extras: binaryExtras({ ttl: 0 }), value: "x", opaque: 4 }),
    r({ opcode: BinOp.Get, status: BinStatus.KeyNotFound, value: "Not found" }),
    r({ opcode: BinOp.Set, status: BinStatus.ItemNotStored }),
    r({ opcode: BinOp.Increment, value: new Uint8Array(8) }),
    r({ opcode: BinOp.Stat, key: "pid", value: "1" }),
    r({ opcode: BinOp.Stat }),
    r({ opcode: BinOp.Noop, opaque: 99 }),
  ];
  const ev = assertSplitInvariant(() => new BinaryParser("responses"), concat(pkts)) as Array<
    Record<string, unknown>
  >;
  assert.deepEqual([ev[0]!.flags, ev[0]!.valueLength, ev[0]!.cas], [7, 3, 5]);
  assert.deepEqual([ev[1]!.key, ev[1]!.quiet], ["kk", true]);
  assert.equal(ev[2]!.status, BinStatus.KeyNotFound);
  assert.equal(ev[3]!.status, BinStatus.ItemNotStored);
  assert.equal(ev[5]!.key, "pid");
  assert.deepEqual([ev[7]!.op, ev[7]!.opaque], ["noop", 99]);
});

function assertProtocolError(f: () => void, re: RegExp): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof MembenchError, `a MembenchError, got ${e}`);
    assert.equal(e.code, "protocol");
    assert.match(e.message, re);
    return true;
  });
}

function parseAll(p: Parser, bytes: Uint8Array): number {
  let n = 0;
  for (let at = 0; (at = p.parse(bytes, at, bytes.length)) >= 0;) n++;
  return n;
}

Deno.test("memcached parsers reject garbage with the byte offset", () => {
  assertProtocolError(
    () => parseAll(new AsciiRequestParser(), te.encode("get a\r\n\x00\x01\x02\r\n")),
    /request in request stream at byte 7: expected a command word, found 0x00/,
  );
  assertProtocolError(
    () => parseAll(new AsciiRequestParser(), te.encode("set k 0 0 2\r\nabXX")),
    /at byte 15: value payload is not followed by CRLF \(found 'X'/,
  );
  assertProtocolError(
    () => parseAll(new AsciiResponseParser(), te.encode("END\r\nhello\r\n")),
    /response in response stream at byte 5: expected a reply word, found 'h'/,
  );
  assertProtocolError(
    () => parseAll(new AsciiResponseParser(), te.encode("12x\r\n")),
    /at byte 0: a number reply must be digits only/,
  );
  const good = encodeBinary({ opcode: BinOp.Noop });
  assertProtocolError(
    () =>
      parseAll(
        new BinaryParser("requests"),
        concat([good, te.encode("GET / HTTP/1.1\r\n\r\n12345678")]),
      ),
    /binary request in binary requests stream at byte 24: expected magic 0x80, found 'G'/,
  );
  const bad = encodeBinary({ opcode: BinOp.Get, key: "abc" });
  bad[11] = 1; // body length 1 < key length 3
  assertProtocolError(
    () => parseAll(new BinaryParser("requests"), bad),
    /at byte 0: key \(3\) and extras \(0\) are longer than the body \(1\)/,
  );
  // A response parser given requests says so.
  assertProtocolError(
    () => parseAll(new BinaryParser("responses"), good),
    /expected magic 0x81, found 0x80/,
  );
});

Deno.test("memcached parsers report truncation at end of stream and never buffer without bound", () => {
  const tr = new AsciiRequestParser();
  parseAll(tr, te.encode("set k 0 0 10\r\nabc"));
  assertProtocolError(() => tr.end(), /stream ends inside a value payload \(7 bytes missing\)/);
  const tl = new AsciiResponseParser();
  parseAll(tl, te.encode("VALUE k 0"));
  assertProtocolError(() => tl.end(), /stream ends inside a line \(9 bytes without a line end\)/);
  const tb = new BinaryParser("responses");
  parseAll(tb, encodeBinary({ magic: BIN_RESPONSE, opcode: BinOp.Get }).subarray(0, 10));
  assertProtocolError(() => tb.end(), /stream ends inside a packet header \(10 of 24 bytes\)/);
  // 70,000 bytes without a line end: an error, not an ever-growing buffer.
  const long = new AsciiRequestParser();
  const chunk = te.encode("get " + "k".repeat(4096));
  assertProtocolError(() => {
    for (let i = 0; i < 20; i++) parseAll(long, chunk);
  }, /line longer than 65536 bytes without a line end/);
});

Deno.test("encodeMcCommand and WireTemplate produce what the parsers read back", () => {
  assert.equal(td.decode(encodeMcCommand(["mg", "k", "v", "O1"])), "mg k v O1\r\n");
  assert.throws(() => encodeMcCommand(["get", "a b"]), /word 1 holds a space/);
  const t = new WireTemplate([
    { literal: "ms key:" },
    { digits: 4 },
    { literal: " " },
    { dataLength: true },
    { literal: " T0 q\r\n" },
    { data: true },
    { literal: "\r\nmn\r\n" },
  ]);
  const out = new Uint8Array(256);
  let end = 0;
  for (const [id, size] of [[1, 3], [22, 3], [333, 12], [4444, 3]] as const) {
    end = t.render(out, end, [id], size);
  }
  const p = new AsciiRequestParser();
  const seen: string[] = [];
  for (let at = 0; (at = p.parse(out, at, end)) >= 0;) {
    seen.push(`${MC_OP_NAMES[p.op]} ${p.keyCount ? td.decode(p.key(0)) : ""} ${p.valueLength}`);
  }
  assert.deepEqual(seen, [
    "ms key:0001 3",
    "mn  -1",
    "ms key:0022 3",
    "mn  -1",
    "ms key:0333 12",
    "mn  -1",
    "ms key:4444 3",
    "mn  -1",
  ]);
  const bt = new WireTemplate([
    { literal: new Uint8Array([0x80, BinOp.SetQ, 0, 8, 8, 0, 0, 0]) },
    { bodyLength: 16, withData: true },
    { literal: new Uint8Array(12 + 8) },
    { literal: "key:" },
    { digits: 4 },
    { data: true },
  ]);
  const b = new Uint8Array(128);
  const bend = bt.render(b, 0, [12], 5);
  const bp = new BinaryParser("requests");
  assert.equal(bp.parse(b, 0, bend), 24 + 8 + 8);
  assert.deepEqual([bp.op, bp.quiet, td.decode(bp.key()), bp.valueLength], [
    McOp.Set,
    true,
    "key:0012",
    5,
  ]);
  assert.equal(McStatus.Value, 1);
});

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

// Runs a reply scanner over `bytes` cut at `cuts`; returns [unit, kind, elements, nulls, end].
function scanUnits(
  make: () => McAsciiReplyScanner | McBinaryReplyScanner,
  bytes: Uint8Array,
  cuts: number[],
): number[][] {
  const s = make();
  const out: number[][] = [];
  let unit = 0;
  let prev = 0;
  const scratch = new Uint8Array(bytes.length);
  for (const cut of [...cuts, bytes.length]) {
    scratch.set(bytes.subarray(prev, cut));
    const n = cut - prev;
    for (let at = 0; (at = s.scan(scratch, at, n, unit)) >= 0;) {
      out.push([unit, s.kind, s.elements, s.nulls, prev + at]);
      unit++;
    }
    prev = cut;
  }
  return out;
}

Deno.test("McAsciiReplyScanner ends each unit where its reply ends, at every split offset", () => {
  const units = [
    { kind: "end" as const, keys: 2 },
    { kind: "line" as const },
    { kind: "mn" as const, keys: 3 },
    { kind: "line" as const },
    { kind: "mn" as const, keys: 0 },
    { kind: "line" as const },
    { kind: "end" as const, keys: 1 },
  ];
  const text = "VALUE a 0 1\r\nx\r\nEND\r\n" + "NOT_STORED\r\n" +
    "VA 2\r\nab\r\nVA 1\r\nc\r\nMN\r\n" + "VA 3\r\nxyz\r\n" + "NS\r\nMN\r\n" +
    "CLIENT_ERROR bad command line format\r\n" + "END\r\n";
  const bytes = te.encode(text);
  const whole = scanUnits(() => new McAsciiReplyScanner(units), bytes, []);
  assert.deepEqual(whole.map((r) => r.slice(0, 4)), [
    [0, McReplyKind.Value, 2, 1],
    [1, McReplyKind.Null, 0, 0],
    [2, McReplyKind.Value, 3, 1],
    [3, McReplyKind.Value, 0, 0],
    [4, McReplyKind.Null, 0, 0],
    [5, McReplyKind.Error, 0, 0],
    [6, McReplyKind.Null, 1, 1],
  ]);
  // The VA unit ends after its payload and CRLF, not at its header line.
  const vaEnd = text.indexOf("xyz\r\n") + 5;
  assert.equal(whole[3]![4], vaEnd);
  for (let i = 1; i < bytes.length; i++) {
    assert.deepEqual(
      scanUnits(() => new McAsciiReplyScanner(units), bytes, [i]),
      whole,
      `split ${i}`,
    );
  }
});

Deno.test("McBinaryReplyScanner pairs quiet multi-gets and fenced quiet writes, at every split offset", () => {
  const r = (o: Parameters<typeof encodeBinary>[0]) => encodeBinary({ magic: BIN_RESPONSE, ...o });
  const units = [
    { kind: "opcode" as const, opcode: BinOp.Noop, keys: 3 },
    { kind: "opcode" as const, opcode: BinOp.Get, keys: 0 },
    { kind: "opcode" as const, opcode: BinOp.Noop, keys: 0 },
    { kind: "opcode" as const, opcode: BinOp.Set, keys: 0 },
  ];
  const bytes = concat([
    r({ opcode: BinOp.GetKQ, key: "a", extras: binaryExtras({ ttl: 0 }), value: "1" }),
    r({ opcode: BinOp.GetKQ, key: "c", extras: binaryExtras({ ttl: 0 }), value: "3" }),
    r({ opcode: BinOp.Noop }),
    r({ opcode: BinOp.Get, extras: binaryExtras({ ttl: 0 }), value: "hello" }),
    r({ opcode: BinOp.SetQ, status: BinStatus.ValueTooLarge, value: "Too large." }),
    r({ opcode: BinOp.Noop }),
    r({ opcode: BinOp.Set, status: BinStatus.ItemNotStored }),
  ]);
  const whole = scanUnits(() => new McBinaryReplyScanner(units), bytes, []);
  assert.deepEqual(whole.map((x) => x.slice(0, 4)), [
    [0, McReplyKind.Value, 3, 1],
    [1, McReplyKind.Value, 0, 0],
    [2, McReplyKind.Error, 0, 0],
    [3, McReplyKind.Null, 0, 0],
  ]);
  for (let i = 1; i < bytes.length; i++) {
    assert.deepEqual(
      scanUnits(() => new McBinaryReplyScanner(units), bytes, [i]),
      whole,
      `split ${i}`,
    );
  }
});
