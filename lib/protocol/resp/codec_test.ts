import assert from "node:assert/strict";
import {
  CommandTemplate,
  encodeCommand,
  ReplyKind,
  ReplyScanner,
  RespDecoder,
  type RespValue,
} from "./mod.ts";
import { MembenchError } from "../../errors/mod.ts";

const te = new TextEncoder();
const td = new TextDecoder();

// Turns decoded values into plain JSON-able data for comparison.
function plain(v: RespValue): unknown {
  const base = (() => {
    switch (v.type) {
      case "bulk":
        return { bulk: td.decode(v.value) };
      case "verbatim":
        return { verbatim: v.format + ":" + td.decode(v.value) };
      case "array":
      case "set":
      case "push":
        return { [v.type]: v.value.map(plain) };
      case "map":
        return { map: v.value.map(([k, x]) => [plain(k), plain(x)]) };
      case "null":
        return { null: true };
      case "bignum":
        return { bignum: v.value.toString() };
      default:
        return { [v.type]: typeof v.value === "bigint" ? v.value.toString() : v.value };
    }
  })();
  return v.attributes
    ? { ...base, attrs: v.attributes.map(([k, x]) => [plain(k), plain(x)]) }
    : base;
}

const CASES: Array<{ name: string; wire: string; values: unknown[]; kinds: number[] }> = [
  { name: "simple string", wire: "+OK\r\n", values: [{ simple: "OK" }], kinds: [0] },
  { name: "error", wire: "-ERR bad thing\r\n", values: [{ error: "ERR bad thing" }], kinds: [2] },
  { name: "integer", wire: ":-42\r\n", values: [{ integer: -42 }], kinds: [0] },
  { name: "bulk", wire: "$5\r\nhello\r\n", values: [{ bulk: "hello" }], kinds: [0] },
  {
    name: "bulk with CRLF inside",
    wire: "$4\r\na\r\nb\r\n",
    values: [{ bulk: "a\r\nb" }],
    kinds: [0],
  },
  { name: "empty bulk", wire: "$0\r\n\r\n", values: [{ bulk: "" }], kinds: [0] },
  { name: "null bulk", wire: "$-1\r\n", values: [{ null: true }], kinds: [1] },
  { name: "null array", wire: "*-1\r\n", values: [{ null: true }], kinds: [1] },
  {
    name: "array with nulls (MGET)",
    wire: "*3\r\n$1\r\na\r\n$-1\r\n_\r\n",
    values: [{ array: [{ bulk: "a" }, { null: true }, { null: true }] }],
    kinds: [0],
  },
  {
    name: "nested arrays",
    wire: "*2\r\n*1\r\n:1\r\n*0\r\n",
    values: [{ array: [{ array: [{ integer: 1 }] }, { array: [] }] }],
    kinds: [0],
  },
  { name: "RESP3 null", wire: "_\r\n", values: [{ null: true }], kinds: [1] },
  {
    name: "RESP3 boolean",
    wire: "#t\r\n#f\r\n",
    values: [{ boolean: true }, { boolean: false }],
    kinds: [0, 0],
  },
  {
    name: "RESP3 double",
    wire: ",3.25\r\n,-inf\r\n",
    values: [{ double: 3.25 }, { double: -Infinity }],
    kinds: [0, 0],
  },
  {
    name: "RESP3 big number",
    wire: "(3492890328409238509324850943850943825024385\r\n",
    values: [{ bignum: "3492890328409238509324850943850943825024385" }],
    kinds: [0],
  },
  {
    name: "RESP3 verbatim",
    wire: "=15\r\ntxt:Some string\r\n",
    values: [{ verbatim: "txt:Some string" }],
    kinds: [0],
  },
  {
    name: "RESP3 blob error",
    wire: "!21\r\nSYNTAX invalid syntax\r\n",
    values: [{ error: "SYNTAX invalid syntax" }],
    kinds: [2],
  },
  {
    name: "RESP3 map",
    wire: "%2\r\n+first\r\n:1\r\n+second\r\n$-1\r\n",
    values: [{
      map: [[{ simple: "first" }, { integer: 1 }], [{ simple: "second" }, { null: true }]],
    }],
    kinds: [0],
  },
  {
    name: "RESP3 set",
    wire: "~2\r\n+a\r\n+b\r\n",
    values: [{ set: [{ simple: "a" }, { simple: "b" }] }],
    kinds: [0],
  },
  {
    name: "RESP3 push then reply",
    wire: ">3\r\n+message\r\n+ch\r\n$2\r\nhi\r\n+OK\r\n",
    values: [{ push: [{ simple: "message" }, { simple: "ch" }, { bulk: "hi" }] }, { simple: "OK" }],
    kinds: [3, 0],
  },
  {
    name: "RESP3 attribute before a reply",
    wire: "|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.19\r\n*1\r\n:2039123\r\n",
    values: [{
      array: [{ integer: 2039123 }],
      attrs: [[{ simple: "key-popularity" }, { map: [[{ bulk: "a" }, { double: 0.19 }]] }]],
    }],
    kinds: [0],
  },
  {
    name: "attribute inside an array",
    wire: "*2\r\n:1\r\n|1\r\n+a\r\n+b\r\n:2\r\n",
    values: [{
      array: [{ integer: 1 }, { integer: 2, attrs: [[{ simple: "a" }, { simple: "b" }]] }],
    }],
    kinds: [0],
  },
  {
    name: "big integer",
    wire: ":12345678901234567890\r\n",
    values: [{ integer: "12345678901234567890" }],
    kinds: [0],
  },
];

function decodeAll(chunks: Uint8Array[]): unknown[] {
  const d = new RespDecoder();
  const out: unknown[] = [];
  for (const c of chunks) {
    d.feed(c);
    for (let v = d.next(); v !== undefined; v = d.next()) out.push(plain(v));
  }
  d.end();
  return out;
}

function scanAll(chunks: Uint8Array[]): number[] {
  const s = new ReplyScanner();
  const kinds: number[] = [];
  for (const c of chunks) {
    let p = 0;
    while ((p = s.scan(c, p, c.length)) >= 0) kinds.push(s.kind);
  }
  return kinds;
}

function splits(bytes: Uint8Array): Array<{ label: string; chunks: Uint8Array[] }> {
  const out = [{ label: "whole", chunks: [bytes] }];
  out.push({ label: "byte by byte", chunks: Array.from(bytes, (_, i) => bytes.slice(i, i + 1)) });
  for (let i = 1; i < bytes.length; i++) {
    out.push({ label: `split at ${i}`, chunks: [bytes.slice(0, i), bytes.slice(i)] });
  }
  return out;
}

Deno.test("RespDecoder and ReplyScanner decode every case at every split offset", () => {
  for (const c of CASES) {
    const bytes = te.encode(c.wire);
    for (const s of splits(bytes)) {
      assert.deepEqual(decodeAll(s.chunks), c.values, `${c.name}, ${s.label}`);
      assert.deepEqual(scanAll(s.chunks), c.kinds, `${c.name}, ${s.label} (scanner)`);
    }
  }
});

Deno.test("RespDecoder decodes all cases concatenated at every split offset", () => {
  const wire = te.encode(CASES.map((c) => c.wire).join(""));
  const values = CASES.flatMap((c) => c.values);
  const kinds = CASES.flatMap((c) => c.kinds);
  for (const s of splits(wire)) {
    assert.deepEqual(decodeAll(s.chunks), values, s.label);
    assert.deepEqual(scanAll(s.chunks), kinds, s.label);
  }
});

Deno.test("ReplyScanner counts elements and nulls of an MGET reply and keeps error text", () => {
  const s = new ReplyScanner();
  const b = te.encode(
    "*4\r\n$1\r\nx\r\n$-1\r\n$1\r\ny\r\n$-1\r\n-WRONGTYPE Operation against a key\r\n",
  );
  let p = s.scan(b, 0, b.length);
  assert.ok(p > 0);
  assert.equal(s.kind, ReplyKind.Value);
  assert.equal(s.elements, 4);
  assert.equal(s.nulls, 2);
  p = s.scan(b, p, b.length);
  assert.equal(p, b.length);
  assert.equal(s.kind, ReplyKind.Error);
  assert.equal(s.errorCode(), "WRONGTYPE");
  assert.equal(s.errorText(), "WRONGTYPE Operation against a key");
});

const GARBAGE: Array<{ wire: string; offset: number; what: RegExp }> = [
  { wire: "+OK\r\n?what\r\n", offset: 5, what: /unknown type byte '\?'/ },
  { wire: "$abc\r\n", offset: 1, what: /digit/ },
  { wire: "$3\r\nabcXY", offset: 7, what: /not followed by CRLF/ },
  { wire: "*2\r\n:1\r\n@\r\n", offset: 8, what: /unknown type byte '@'/ },
  { wire: "$-5\r\n", offset: 1, what: /bad bulk length -5/ },
];

Deno.test("RespDecoder and ReplyScanner reject garbage with the byte offset", () => {
  for (const g of GARBAGE) {
    const bytes = te.encode(g.wire);
    for (const s of splits(bytes)) {
      assert.throws(() => decodeAll(s.chunks), (e: unknown) => {
        assert.ok(e instanceof MembenchError, `${g.wire}: ${e}`);
        assert.equal(e.code, "protocol");
        assert.match(e.message, g.what);
        assert.match(
          e.message,
          new RegExp(`at byte ${g.offset}:`),
          `${JSON.stringify(g.wire)} ${s.label}: ${e.message}`,
        );
        return true;
      });
      assert.throws(() => scanAll(s.chunks), (e: unknown) => {
        assert.ok(e instanceof MembenchError);
        assert.match(e.message, /at byte \d+:/);
        return true;
      }, `${g.wire} scanner ${s.label}`);
    }
  }
});

Deno.test("RespDecoder reports a truncated stream at end() and bounds line length", () => {
  const d = new RespDecoder({ name: "test" });
  d.feed(te.encode("*2\r\n$3\r\nfoo\r\n$3\r\nba"));
  assert.equal(d.next(), undefined);
  assert.throws(() => d.end(), /Malformed RESP in test at byte 0: stream ended inside a value/);
  const d2 = new RespDecoder();
  d2.feed(new Uint8Array(70_000).fill(43));
  assert.throws(() => d2.next(), /line longer than 65536 bytes/);
  const s = new ReplyScanner();
  const line = new Uint8Array(70_000).fill(65);
  line[0] = 43;
  assert.throws(() => s.scan(line, 0, line.length), /line too long/);
});

Deno.test("RespDecoder in request mode reads arrays and inline commands", () => {
  const d = new RespDecoder({ requests: true });
  d.feed(te.encode("PING\r\n\r\nSET  k v\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"));
  const got: unknown[] = [];
  for (let v = d.next(); v; v = d.next()) got.push(plain(v));
  assert.deepEqual(got, [
    { array: [{ bulk: "PING" }] },
    { array: [{ bulk: "SET" }, { bulk: "k" }, { bulk: "v" }] },
    { array: [{ bulk: "GET" }, { bulk: "k" }] },
  ]);
});

Deno.test("RespDecoder views stay valid after the buffer grows", () => {
  const d = new RespDecoder();
  d.feed(te.encode("$3\r\nabc\r\n"));
  const v = d.next();
  assert.ok(v?.type === "bulk");
  d.feed(new Uint8Array(100_000).fill(42));
  assert.equal(td.decode(v.value), "abc");
});

Deno.test("encodeCommand and CommandTemplate produce identical bytes", () => {
  const t = new CommandTemplate([
    [{ literal: "SET" }],
    [{ literal: "key:" }, { digits: 6 }],
    [{ data: true }],
  ]);
  const out = new Uint8Array(256);
  for (const [id, size] of [[7, 3], [123456, 3], [5, 10], [99, 3], [1, 0]] as const) {
    const end = t.render(out, 0, [id], size);
    const want = encodeCommand(["SET", `key:${String(id).padStart(6, "0")}`, "x".repeat(size)]);
    assert.deepEqual(out.subarray(0, end), want, `id ${id} size ${size}`);
    assert.ok(end <= t.maxLength(size));
  }
  assert.throws(() => encodeCommand([]), /no arguments/);
  const mset = new CommandTemplate([[{ literal: "MSET" }], [{ digits: 2 }], [{ data: true }], [{
    digits: 2,
  }], [{ data: true }]]);
  for (const size of [4, 7, 4]) {
    const end = mset.render(out, 0, [1, 2], size);
    assert.deepEqual(
      out.subarray(0, end),
      encodeCommand(["MSET", "01", "x".repeat(size), "02", "x".repeat(size)]),
    );
  }
});

Deno.test("ReplyScanner checks a bulk payload's CR when a chunk ends between it and the LF", () => {
  // `$0` is followed by `*\n` instead of CRLF: an error whether scanned whole or split after `*`.
  const bytes = new TextEncoder().encode("*2\r\n$0\r\n*\n$7\r\n");
  assert.throws(() => new ReplyScanner().scan(bytes, 0, bytes.length), /not followed by CRLF/);
  const split = new ReplyScanner();
  assert.throws(() => {
    split.scan(bytes, 0, 9);
    split.scan(bytes, 9, bytes.length);
  }, /not followed by CRLF/);
});
