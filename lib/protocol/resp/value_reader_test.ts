import assert from "node:assert/strict";
import { encodeCommand } from "./encoder.ts";
import { RespValueReader } from "./value_reader.ts";

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
