// Property-based tests of the RESP parsers, both directions: the value decoder on replies and on
// requests (capture), and the reply scanner of the load engine. Valid streams are built by hand
// from the RESP2/RESP3 specification (not with our encoder), fed split at random points, and must
// give what was built; random and mutated bytes must give values or a `protocol` MembenchError,
// the same whichever way they are split, with work and memory bounded by the input.
// Budget and replay: tests/fuzz_helpers.ts.
import * as fc from "fast-check";
import assert from "node:assert/strict";
import { encodeCommand, ReplyKind, ReplyScanner, RespDecoder, type RespValue } from "./mod.ts";
import { MAX_LINE_LENGTH } from "./types.ts";
import {
  bytes,
  concat,
  cutsArb,
  expectTyped,
  fuzz,
  mutate,
  mutationsArb,
  reused,
  soupArb,
  splitAt,
} from "../../../tests/fuzz_helpers.ts";

const te = new TextEncoder();
const td = new TextDecoder();
// What errorText() decodes with: the WHATWG "latin1" label, which is windows-1252.
const win1252 = new TextDecoder("latin1");

// ---------------------------------------------------------------------------------------------
// A model of RESP3 values and their wire form, from the specification.

type Model =
  & (
    | { t: "simple" | "error"; s: string }
    | { t: "integer"; v: bigint }
    | { t: "bulk"; b: Uint8Array }
    | { t: "null"; wire: "$-1" | "*-1" | "_" }
    | { t: "boolean"; v: boolean }
    | { t: "double"; v: number }
    | { t: "bignum"; v: bigint }
    | { t: "verbatim"; format: string; b: Uint8Array }
    | { t: "bloberror"; s: string }
    | { t: "array" | "set" | "push"; items: Model[] }
    | { t: "map"; entries: Array<[Model, Model]> }
  )
  & { attrs?: Array<[Model, Model]> };

// Text of a simple string or error: any characters but CR and LF.
const lineText = fc.string({ unit: "grapheme", maxLength: 20 }).map((s) =>
  s.replace(/[\r\n]/g, "")
);
const payload = fc.uint8Array({ maxLength: 40 });

const scalar: fc.Arbitrary<Model> = fc.oneof(
  lineText.map((s) => ({ t: "simple" as const, s })),
  lineText.map((s) => ({ t: "error" as const, s: "ERR" + s })),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map((v) => ({ t: "integer" as const, v })),
  payload.map((b) => ({ t: "bulk" as const, b })),
  fc.constantFrom("$-1" as const, "*-1" as const, "_" as const).map((wire) => ({
    t: "null" as const,
    wire,
  })),
  fc.boolean().map((v) => ({ t: "boolean" as const, v })),
  fc.oneof(fc.double({ noNaN: true }), fc.constant(NaN)).map((v) => ({
    t: "double" as const,
    v: Object.is(v, -0) ? 0 : v,
  })),
  fc.bigInt({ min: -(2n ** 200n), max: 2n ** 200n }).map((v) => ({ t: "bignum" as const, v })),
  fc.tuple(fc.constantFrom("txt", "mkd", "abc"), payload).map(([format, b]) => ({
    t: "verbatim" as const,
    format,
    b,
  })),
  fc.string({ maxLength: 20 }).map((s) => ({ t: "bloberror" as const, s: "ERR" + s })),
);

// Values nested up to `depth` levels (aggregates and attributes), a few elements each.
function modelAt(depth: number): fc.Arbitrary<Model> {
  if (depth <= 0) return scalar;
  const inner = modelAt(depth - 1);
  const bare = fc.oneof(
    { weight: 3, arbitrary: scalar },
    {
      weight: 1,
      arbitrary: fc.tuple(
        fc.constantFrom("array" as const, "set" as const, "push" as const),
        fc.array(inner, { maxLength: 4 }),
      ).map(([t, items]): Model => ({ t, items })),
    },
    {
      weight: 1,
      arbitrary: fc.array(fc.tuple(inner, inner), { maxLength: 3 }).map((entries): Model => ({
        t: "map",
        entries,
      })),
    },
  );
  const attrs = fc.array(fc.tuple(inner, inner), { maxLength: 2 });
  return fc.tuple(bare, fc.option(attrs, { freq: 6, nil: undefined })).map(([v, a]) =>
    a === undefined ? v : { ...v, attrs: a }
  );
}
const modelArb = modelAt(3);

function wire(m: Model): string {
  let head = "";
  if (m.attrs) {
    head = `|${m.attrs.length}\r\n` + m.attrs.map(([k, v]) => wire(k) + wire(v)).join("");
  }
  return head + bareWire(m);
}

// Wire text as Latin-1 (one char per byte), so that binary payloads survive.
function latin1(b: Uint8Array): string {
  return String.fromCharCode(...b);
}

function bareWire(m: Model): string {
  switch (m.t) {
    case "simple":
      return `+${latin1(te.encode(m.s))}\r\n`;
    case "error":
      return `-${latin1(te.encode(m.s))}\r\n`;
    case "integer":
      return `:${m.v}\r\n`;
    case "bulk":
      return `$${m.b.length}\r\n${latin1(m.b)}\r\n`;
    case "null":
      return `${m.wire}\r\n`;
    case "boolean":
      return m.v ? "#t\r\n" : "#f\r\n";
    case "double": {
      const text = Number.isNaN(m.v)
        ? "nan"
        : m.v === Infinity
        ? "inf"
        : m.v === -Infinity
        ? "-inf"
        : String(m.v);
      return `,${text}\r\n`;
    }
    case "bignum":
      return `(${m.v}\r\n`;
    case "verbatim":
      return `=${m.b.length + 4}\r\n${m.format}:${latin1(m.b)}\r\n`;
    case "bloberror": {
      const b = te.encode(m.s);
      return `!${b.length}\r\n${latin1(b)}\r\n`;
    }
    case "array":
    case "set":
    case "push": {
      const mark = m.t === "array" ? "*" : m.t === "set" ? "~" : ">";
      return `${mark}${m.items.length}\r\n${m.items.map(wire).join("")}`;
    }
    case "map":
      return `%${m.entries.length}\r\n${m.entries.map(([k, v]) => wire(k) + wire(v)).join("")}`;
  }
}

// What RespDecoder should return for a model value.
function decoded(m: Model): RespValue {
  const v = bareDecoded(m);
  if (m.attrs) v.attributes = m.attrs.map(([k, x]) => [decoded(k), decoded(x)]);
  return v;
}

function bareDecoded(m: Model): RespValue {
  switch (m.t) {
    case "simple":
    case "error":
      return { type: m.t, value: m.s };
    case "integer": {
      const n = Number(m.v);
      return { type: "integer", value: Number.isSafeInteger(n) ? n : m.v };
    }
    case "bulk":
      return { type: "bulk", value: m.b };
    case "null":
      return { type: "null" };
    case "boolean":
    case "double":
      return { type: m.t, value: m.v } as RespValue;
    case "bignum":
      return { type: "bignum", value: m.v };
    case "verbatim":
      return { type: "verbatim", format: m.format, value: m.b };
    case "bloberror":
      return { type: "error", value: m.s };
    case "array":
    case "set":
    case "push":
      return { type: m.t, value: m.items.map(decoded) };
    case "map":
      return { type: "map", value: m.entries.map(([k, v]) => [decoded(k), decoded(v)]) };
  }
}

// What ReplyScanner should say of a top-level reply: its kind, the element count of a top-level
// aggregate, and the nulls directly inside it.
function scanned(m: Model): { kind: number; elements: number; nulls: number; error?: string } {
  const isNull = (x: Model) => x.t === "null";
  switch (m.t) {
    case "null":
      return { kind: ReplyKind.Null, elements: 0, nulls: 0 };
    case "error": {
      const b = te.encode(m.s).subarray(0, 256);
      return { kind: ReplyKind.Error, elements: 0, nulls: 0, error: win1252.decode(b) };
    }
    case "bloberror":
      return { kind: ReplyKind.Error, elements: 0, nulls: 0 };
    case "array":
    case "set":
    case "push":
      return {
        kind: m.t === "push" ? ReplyKind.Push : ReplyKind.Value,
        elements: m.items.length,
        nulls: m.items.filter(isNull).length,
      };
    case "map":
      return {
        kind: ReplyKind.Value,
        elements: m.entries.length,
        nulls: m.entries.flat().filter(isNull).length,
      };
    default:
      return { kind: ReplyKind.Value, elements: 0, nulls: 0 };
  }
}

// ---------------------------------------------------------------------------------------------
// Drivers: feed chunks, collect everything, check the invariants on the way.

type Outcome = { values: unknown[]; error?: string };

/**
 * Feeds `chunks` to a RespDecoder, pulling values after each; then end(). Checks that every
 * value moves the offset forward (so the pull loop ends within a number of steps bounded by the
 * input), that nothing is buffered but the unread tail, and that bulk views live in a buffer
 * bounded by twice the input.
 */
function decodeChunks(chunks: Uint8Array[], requests: boolean): Outcome & { raw: RespValue[] } {
  const d = new RespDecoder({ requests, name: "fuzz" });
  const raw: RespValue[] = [];
  let fed = 0;
  const total = chunks.reduce((n, c) => n + c.length, 0);
  const e = expectTyped(
    () => {
      for (const c of chunks) {
        d.feed(c);
        fed += c.length;
        for (;;) {
          const before = d.offset;
          const v = d.next();
          assert.equal(d.offset + d.buffered, fed, "offset + buffered is what was fed");
          if (v === undefined) break;
          assert.ok(d.offset > before, "a value consumes bytes");
          raw.push(v);
        }
      }
      d.end();
    },
    "protocol",
    /^Malformed RESP in fuzz at byte \d+: /,
  );
  for (const v of raw) checkViews(v, Math.max(4096, 2 * total));
  return { raw, values: raw.map(plain), ...(e ? { error: e.message } : {}) };
}

function checkViews(v: RespValue, bound: number): void {
  if (v.type === "bulk" || v.type === "verbatim") {
    assert.ok(v.value.buffer.byteLength <= bound, `buffer of ${v.value.buffer.byteLength} bytes`);
  }
  if (v.type === "array" || v.type === "set" || v.type === "push") {
    for (const x of v.value) checkViews(x, bound);
  }
  if (v.type === "map") {
    for (const [k, x] of v.value) {
      checkViews(k, bound), checkViews(x, bound);
    }
  }
  for (const [k, x] of v.attributes ?? []) checkViews(k, bound), checkViews(x, bound);
}

// Plain data for comparisons (bytes as arrays, so that views into different buffers compare).
function plain(v: RespValue): unknown {
  const a = v.attributes ? { attrs: v.attributes.map(([k, x]) => [plain(k), plain(x)]) } : {};
  switch (v.type) {
    case "bulk":
      return { bulk: Array.from(v.value), ...a };
    case "verbatim":
      return { verbatim: v.format, value: Array.from(v.value), ...a };
    case "array":
    case "set":
    case "push":
      return { [v.type]: v.value.map(plain), ...a };
    case "map":
      return { map: v.value.map(([k, x]) => [plain(k), plain(x)]), ...a };
    case "null":
      return { null: true, ...a };
    default:
      return { [v.type]: typeof v.value === "bigint" ? `${v.value}n` : v.value, ...a };
  }
}

type Scan = { kind: number; elements: number; nulls: number; error?: string };

/** Feeds `chunks` to a ReplyScanner; checks that each call makes progress and keeps the offset. */
function scanChunks(chunks: Uint8Array[], withText: boolean): { replies: Scan[]; error?: string } {
  const s = new ReplyScanner("fuzz");
  const replies: Scan[] = [];
  let base = 0;
  const e = expectTyped(
    () => {
      // The engine reuses its read buffer right after each call: so do we.
      for (const [c, n] of reused(chunks)) {
        let p = 0;
        for (;;) {
          const r = s.scan(c, p, n);
          if (r < 0) {
            assert.equal(s.offset, base + n, "offset after a used-up chunk");
            break;
          }
          assert.ok(r > p && r <= n, `scan returned ${r} from ${p} in ${n}`);
          assert.equal(s.offset, base + r, "offset after a reply");
          // A map has two values per element.
          assert.ok(s.nulls <= 2 * s.elements, `${s.nulls} nulls in ${s.elements} elements`);
          const one: Scan = { kind: s.kind, elements: s.elements, nulls: s.nulls };
          if (withText && s.kind === ReplyKind.Error) one.error = s.errorText();
          replies.push(one);
          p = r;
        }
        base += n;
      }
    },
    "protocol",
    /^Malformed RESP in fuzz at byte \d+: /,
  );
  return { replies, ...(e ? { error: e.message } : {}) };
}

// ---------------------------------------------------------------------------------------------
// Valid streams.

Deno.test("RespDecoder and ReplyScanner read valid replies split anywhere as built", () => {
  fuzz(
    "RESP replies",
    fc.property(fc.array(modelArb, { minLength: 1, maxLength: 6 }), cutsArb(), (models, cuts) => {
      const stream = bytes(models.map(wire).join(""));
      const want = models.map(decoded);
      for (const chunks of [[stream], splitAt(stream, cuts)]) {
        const got = decodeChunks(chunks, false);
        assert.equal(got.error, undefined);
        assert.deepEqual(got.raw, want);
        const sc = scanChunks(chunks, true);
        assert.equal(sc.error, undefined);
        const wantScan = models.map(scanned);
        assert.deepEqual(
          sc.replies.map(({ error: _, ...r }) => r),
          wantScan.map(({ error: _, ...r }) => r),
        );
        sc.replies.forEach((r, i) => {
          const m = models[i]!;
          if (m.t === "error") assert.equal(r.error, wantScan[i]!.error);
          // A blob error's text is what the chunk holding its start had of it.
          if (m.t === "bloberror") assert.ok(win1252.decode(te.encode(m.s)).startsWith(r.error!));
        });
      }
    }),
  );
});

// Inline words: any bytes but space, tab, CR and LF; a command does not start with '*'.
const inlineWord = fc.uint8Array({ minLength: 1, maxLength: 8 }).map((b) =>
  b.map((c) => (c === 32 || c === 9 || c === 13 || c === 10 ? 120 : c))
);
const request = fc.oneof(
  fc.array(fc.uint8Array({ maxLength: 30 }), { minLength: 1, maxLength: 5 }).map((args) => ({
    args,
    wire: `*${args.length}\r\n` + args.map((a) => `$${a.length}\r\n${latin1(a)}\r\n`).join(""),
  })),
  fc.tuple(
    fc.array(inlineWord, { minLength: 1, maxLength: 5 }),
    fc.array(fc.constantFrom(" ", "\t", "  "), { minLength: 6, maxLength: 6 }),
    fc.constantFrom("", "\r\n", " \r\n", "\r\n\r\n"),
  ).map(([words, gaps, before]) => {
    if (words[0]![0] === 42) words[0]![0] = 43;
    const line = words.map((w, i) => (i === 0 ? gaps[5]!.slice(1) : gaps[i]!) + latin1(w)).join("");
    return { args: words, wire: `${before}${line}${gaps[0]!.slice(1)}\r\n` };
  }),
);

Deno.test("RespDecoder reads valid requests (arrays and inline commands) split anywhere", () => {
  fuzz(
    "RESP requests",
    fc.property(fc.array(request, { minLength: 1, maxLength: 6 }), cutsArb(), (reqs, cuts) => {
      const stream = bytes(reqs.map((r) => r.wire).join(""));
      const want = reqs.map((r) => ({ array: r.args.map((a) => ({ bulk: Array.from(a) })) }));
      for (const r of reqs) {
        // Our encoder writes what the specification says, for the array form.
        if (r.wire.startsWith("*")) assert.deepEqual(encodeCommand(r.args), bytes(r.wire));
      }
      for (const chunks of [[stream], splitAt(stream, cuts)]) {
        const got = decodeChunks(chunks, true);
        assert.equal(got.error, undefined);
        assert.deepEqual(got.values, want);
      }
    }),
  );
});

// ---------------------------------------------------------------------------------------------
// Random and mutated bytes.

const RESP_BYTES = [..."\r\n*$:+-_|%~>#,(=!0123456789 t"].map((c) => c.charCodeAt(0));
const FRAGMENTS = [
  "\r\n",
  "\r",
  "\n",
  "*1\r\n",
  "*2\r\n",
  "*-1\r\n",
  "$3\r\nabc\r\n",
  "$-1\r\n",
  "$5\r\n",
  ":1\r\n",
  "+OK\r\n",
  "-ERR x\r\n",
  "|1\r\n",
  "|0\r\n",
  "%1\r\n",
  "~1\r\n",
  ">2\r\n",
  "_\r\n",
  "#t\r\n",
  ",1.5\r\n",
  "(12\r\n",
  "=7\r\ntxt:abc\r\n",
  "!3\r\nERR\r\n",
  "PING",
  " ",
  "abc",
  "9",
  "-",
];

const noise = fc.oneof(
  fc.uint8Array({ maxLength: 200 }),
  soupArb(FRAGMENTS, 40),
  fc.tuple(fc.array(modelArb, { minLength: 1, maxLength: 4 }), mutationsArb(RESP_BYTES))
    .map(([ms, mut]) => mutate(bytes(ms.map(wire).join("")), mut)),
  fc.tuple(fc.array(request, { minLength: 1, maxLength: 4 }), mutationsArb(RESP_BYTES))
    .map(([rs, mut]) => mutate(bytes(rs.map((r) => r.wire).join("")), mut)),
);

for (const requests of [false, true]) {
  Deno.test(`RespDecoder (${requests ? "requests" : "replies"}) on random bytes: values or a protocol error, the same however split`, () => {
    fuzz(
      `RespDecoder noise ${requests ? "requests" : "replies"}`,
      fc.property(noise, cutsArb(), (input, cuts) => {
        const whole = decodeChunks([input], requests);
        const split = decodeChunks(splitAt(input, cuts), requests);
        assert.deepEqual(split.values, whole.values);
        assert.equal(split.error, whole.error);
      }),
      { runs: 400 },
    );
  });
}

Deno.test("ReplyScanner on random bytes: replies or a protocol error, the same however split", () => {
  fuzz(
    "ReplyScanner noise",
    fc.property(noise, cutsArb(), (input, cuts) => {
      const whole = scanChunks([input], false);
      const split = scanChunks(splitAt(input, cuts), false);
      assert.deepEqual(split.replies, whole.replies);
      assert.equal(
        split.error === undefined,
        whole.error === undefined,
        `${whole.error} / ${split.error}`,
      );
    }),
    { runs: 400 },
  );
});

// Deep or long structures: chains that a recursive parser could follow off the stack, and lines
// at the length limit, which must be refused or accepted whatever the split.
Deno.test("RespDecoder and ReplyScanner survive deep nesting and long runs of empty lines", () => {
  fuzz(
    "RESP deep",
    fc.property(
      fc.constantFrom(
        "|0\r\n",
        "|1\r\n:1\r\n:2\r\n",
        "*1\r\n",
        ">1\r\n",
        "%1\r\n:1\r\n",
        "~1\r\n",
        "\r\n",
        " \r\n",
      ),
      fc.integer({ min: 1, max: 30_000 }),
      fc.boolean(),
      (frag, n, requests) => {
        const input = bytes(frag.repeat(n) + ":1\r\n");
        decodeChunks([input], requests);
        scanChunks([input], false);
      },
    ),
    { runs: 16 },
  );
});

Deno.test("RespDecoder and ReplyScanner treat a line at the length limit alike whole or split", () => {
  fuzz(
    "RESP long line",
    fc.property(
      fc.integer({ min: MAX_LINE_LENGTH - 3, max: MAX_LINE_LENGTH + 3 }),
      fc.constantFrom("+", "-", ":", "$", "*"),
      fc.integer({ min: 1, max: 6 }),
      fc.boolean(),
      (len, type, back, requests) => {
        const fill = type === "+" || type === "-" ? 97 : 49;
        const line = concat([bytes(type), new Uint8Array(len).fill(fill), bytes("\r\n")]);
        // Cut near the end, where a parser that counts only buffered bytes would notice the length.
        const chunks = [line.slice(0, line.length - back), line.slice(line.length - back)];
        const whole = decodeChunks([line], requests);
        const split = decodeChunks(chunks, requests);
        assert.deepEqual(split.values, whole.values);
        assert.equal(split.error, whole.error);
        const sw = scanChunks([line], false);
        const ss = scanChunks(chunks, false);
        assert.deepEqual(ss.replies, sw.replies);
        assert.equal(ss.error, sw.error);
      },
    ),
    { runs: 12 },
  );
});

Deno.test("ReplyScanner and RespDecoder agree on where valid replies end", () => {
  fuzz(
    "RESP decoder vs scanner",
    fc.property(fc.array(modelArb, { minLength: 1, maxLength: 6 }), (models) => {
      const stream = bytes(models.map(wire).join(""));
      const d = new RespDecoder();
      d.feed(stream);
      const s = new ReplyScanner();
      let p = 0;
      for (let v = d.next(); v !== undefined; v = d.next()) {
        p = s.scan(stream, p, stream.length);
        assert.equal(p, d.offset, td.decode(stream));
      }
    }),
  );
});
