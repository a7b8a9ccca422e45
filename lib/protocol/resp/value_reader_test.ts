import assert from "node:assert/strict";
import { encodeCommand } from "./encoder.ts";
import { MembenchError } from "../../errors/mod.ts";
import { RespSearchReader, RespValueReader } from "./value_reader.ts";

const enc = new TextEncoder();

// Replies of every shape an FT.SEARCH and its neighbours give, back to back.
const STREAM = enc.encode(
  "*5\r\n:2\r\n$5\r\nvec:7\r\n*2\r\n$5\r\nscore\r\n$3\r\n0.5\r\n$5\r\nvec:3\r\n*2\r\n$5\r\nscore\r\n$1\r\n1\r\n" +
    "-ERR Unknown index name\r\n" +
    "*1\r\n+Timeout limit was reached\r\n" +
    "%2\r\n+total_results\r\n:0\r\n+results\r\n*0\r\n" +
    ">2\r\n+pubsub\r\n+x\r\n" +
    "$-1\r\n" +
    ":1\r\n",
);
const KINDS = [0, 2, 0, 0, 3, 1, 0];

// Drains as the engine does: one scan per chunk, again from each returned index until -1.
function drain(r: RespValueReader, chunks: Uint8Array[]): Array<[number, string]> {
  const out: Array<[number, string]> = [];
  for (const chunk of chunks) {
    // The engine reuses its read buffer: copy each chunk into one shared buffer.
    const buf = new Uint8Array(STREAM.length);
    buf.set(chunk);
    let p = 0;
    while ((p = r.scan(buf, p, chunk.length)) >= 0) {
      out.push([
        r.kind,
        JSON.stringify(
          r.value,
          (_k, v) => v instanceof Uint8Array ? new TextDecoder().decode(v) : v,
        ),
      ]);
    }
  }
  return out;
}

Deno.test("RespValueReader decodes the same replies whatever the chunk boundaries", () => {
  const whole = drain(new RespValueReader(), [
    STREAM.slice(0, 60),
    STREAM.slice(60, 120),
    STREAM.slice(120),
  ]);
  assert.deepEqual(whole.map((x) => x[0]), KINDS);
  assert.match(whole[0]![1], /"vec:7"/);
  const bytes = drain(new RespValueReader(), [...STREAM].map((b) => new Uint8Array([b])));
  assert.deepEqual(bytes, whole, "byte by byte");
  for (let cut = 1; cut < STREAM.length; cut++) {
    const two = drain(new RespValueReader(), [STREAM.slice(0, cut), STREAM.slice(cut)]);
    assert.deepEqual(two, whole, `split at ${cut}`);
  }
});

Deno.test("RespValueReader returns the index just past each reply in the chunk", () => {
  const r = new RespValueReader();
  const a = encodeCommand(["x"]); // any array of one bulk: *1\r\n$1\r\nx\r\n (11 bytes)
  const buf = new Uint8Array(a.length * 2);
  buf.set(a);
  buf.set(a, a.length);
  assert.equal(r.scan(buf, 0, buf.length), a.length);
  assert.equal(r.scan(buf, a.length, buf.length), 2 * a.length);
  assert.equal(r.scan(buf, 2 * a.length, buf.length), -1);
  assert.equal(r.elements, 1);
});

Deno.test("RespValueReader.reset() starts a fresh stream after a reconnect", () => {
  const r = new RespValueReader();
  const half = enc.encode("*2\r\n:1\r\n");
  assert.equal(r.scan(half, 0, half.length), -1);
  r.reset();
  const next = enc.encode(":5\r\n");
  assert.equal(r.scan(next, 0, next.length), 4);
  assert.deepEqual(r.value, { type: "integer", value: 5 });
});

Deno.test("RespValueReader names the byte offset of garbage", () => {
  const r = new RespValueReader("reply stream of client 3");
  const ok = enc.encode(":1\r\n?x\r\n");
  assert.equal(r.scan(ok, 0, ok.length), 4);
  assert.throws(
    () => r.scan(ok, 4, ok.length),
    /Malformed RESP in reply stream of client 3 at byte 4: unknown type byte '\?'/,
  );
});

// FT.SEARCH replies as RediSearch and valkey-search send them (RESP2 and RESP3), back to back,
// with what a recall score needs of each: kind, ids, timed out.
const SEARCH_STREAM = enc.encode(
  // RESP2 with RETURN: [total, key, [field, value], …]
  "*5\r\n:2\r\n$5\r\nvec:7\r\n*2\r\n$5\r\nscore\r\n$3\r\n0.5\r\n$6\r\nvec:31\r\n*2\r\n$5\r\nscore\r\n$1\r\n1\r\n" +
    // RESP2 NOCONTENT, a key of another shape, a simple-string key
    "*4\r\n:3\r\n$5\r\nvec:0\r\n$5\r\nother\r\n+vec:12\r\n" +
    "-ERR Unknown index name\r\n" +
    "*1\r\n+Timeout limit was reached\r\n" +
    // RESP3: attributes, results with ids (extra fields first), warning
    "%4\r\n+attributes\r\n*0\r\n+results\r\n*2\r\n%2\r\n+extra_attributes\r\n%1\r\n$5\r\nscore\r\n,0.25\r\n+id\r\n$5\r\nvec:9\r\n" +
    "%1\r\n$2\r\nid\r\n=9\r\ntxt:vec:4\r\n+total_results\r\n:2\r\n+warning\r\n*1\r\n+Timeout limit was reached\r\n" +
    "|1\r\n+ttl\r\n:3\r\n%1\r\n+results\r\n*0\r\n" +
    ">2\r\n+pubsub\r\n+x\r\n" +
    "!9\r\nSYNTAX no\r\n" +
    "$-1\r\n" +
    "*0\r\n",
);
const SEARCH_WANT: Array<[number, number[], boolean]> = [
  [0, [7, 31], false],
  [0, [0, -1, 12], false],
  [2, [], false],
  [0, [], true],
  [0, [9, 4], true],
  [0, [], false],
  [3, [], false],
  [2, [], false],
  [1, [], false],
  [0, [], false],
];

function drainSearch(r: RespSearchReader, chunks: Uint8Array[]) {
  const out: Array<[number, number[], boolean]> = [];
  const buf = new Uint8Array(SEARCH_STREAM.length + 16);
  for (const chunk of chunks) {
    // The engine reuses its read buffer: stale bytes after the chunk must not be read.
    buf.fill(13);
    buf.set(chunk);
    let p = 0;
    while ((p = r.scan(buf, p, chunk.length)) >= 0) {
      out.push([r.kind, [...r.ids.subarray(0, r.count)], r.timedOut]);
    }
  }
  return out;
}

Deno.test("RespSearchReader reads ids and timeouts of RESP2 and RESP3 FT.SEARCH replies split at every byte", () => {
  const prefix = enc.encode("vec:");
  assert.deepEqual(drainSearch(new RespSearchReader(prefix, 10), [SEARCH_STREAM]), SEARCH_WANT);
  for (let cut = 1; cut < SEARCH_STREAM.length; cut++) {
    const got = drainSearch(new RespSearchReader(prefix, 10), [
      SEARCH_STREAM.subarray(0, cut),
      SEARCH_STREAM.subarray(cut),
    ]);
    assert.deepEqual(got, SEARCH_WANT, `split at ${cut}`);
  }
  const bytes: Uint8Array[] = [];
  for (let i = 0; i < SEARCH_STREAM.length; i++) bytes.push(SEARCH_STREAM.subarray(i, i + 1));
  assert.deepEqual(drainSearch(new RespSearchReader(prefix, 10), bytes), SEARCH_WANT);
  // At most maxIds ids are kept; the reply is still read to its end.
  const two = new RespSearchReader(prefix, 1);
  assert.deepEqual(drainSearch(two, [SEARCH_STREAM]).map(([k, ids]) => [k, ids.length]), [
    [0, 1],
    [0, 1],
    [2, 0],
    [0, 0],
    [0, 1],
    [0, 0],
    [3, 0],
    [2, 0],
    [1, 0],
    [0, 0],
  ]);
  assert.equal(two.errorCode(), "");
  const r = new RespSearchReader(prefix, 4);
  drainSearch(r, [enc.encode("-ERR Unknown index name\r\n")]);
  assert.deepEqual([r.errorCode(), r.errorText()], ["ERR", "ERR Unknown index name"]);
});

Deno.test("RespSearchReader names the stream offset of malformed input", () => {
  const r = new RespSearchReader(enc.encode("v:"), 4, "reply stream of client 3");
  assert.throws(
    () => drainSearch(r, [enc.encode("*2\r\n:1\r\n?x\r\n")]),
    (e: Error) =>
      e instanceof MembenchError && e.code === "protocol" &&
      /reply stream of client 3: an unknown type byte 0x3f near stream offset 8/.test(e.message),
  );
  assert.throws(
    () =>
      drainSearch(new RespSearchReader(enc.encode("v:"), 4), [enc.encode("*1\r\n$x\r\nab\r\n")]),
    /a bad length/,
  );
});
