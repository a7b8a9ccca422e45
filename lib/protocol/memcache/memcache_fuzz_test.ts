// Property-based tests of the memcached parsers, text, meta and binary, in both directions:
// AsciiRequestParser, AsciiResponseParser, BinaryParser (requests and responses) and the load
// engine's reply scanners. Valid streams are built by hand from memcached's protocol.txt and the
// binary protocol document (not with our encoders), fed split at random points through a reused
// read buffer, and must give what was built; random and mutated bytes must give elements or a
// `protocol` MembenchError, the same whichever way they are split, with work and memory bounded
// by the input. Budget and replay: tests/fuzz_helpers.ts.
import * as fc from "fast-check";
import assert from "node:assert/strict";
import {
  AsciiRequestParser,
  AsciiResponseParser,
  BIN_REQUEST,
  BIN_RESPONSE,
  BinaryParser,
  BinOp,
  binOpInfo,
  BinStatus,
  binStatusName,
  MC_MAX_LINE,
  MC_STATUS_NAMES,
  McAsciiReplyScanner,
  McBinaryReplyScanner,
  McOp,
  McReplyKind,
  McStatus,
  type McUnitEnd,
} from "./mod.ts";
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

const PLACE = /^Malformed memcached (binary )?(request|response) in fuzz at byte \d+: /;

function latin1(b: Uint8Array): string {
  let s = "";
  for (const c of b) s += String.fromCharCode(c);
  return s;
}

// ---------------------------------------------------------------------------------------------
// Text and meta: generators of valid commands and replies, with what the parsers should report.

// Keys: printable bytes without space (protocol.txt: no whitespace or control characters).
const key = fc.oneof(
  {
    weight: 9,
    arbitrary: fc.string({
      unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)),
      minLength: 1,
      maxLength: 12,
    }),
  },
  { weight: 1, arbitrary: fc.constant("k".repeat(250)) },
);
const data = fc.uint8Array({ maxLength: 40 });
const u32 = fc.nat({ max: 0xffffffff });
const ttl = fc.integer({ min: -1, max: 1_000_000 });
const uint = fc.maxSafeNat();
const eol = fc.constantFrom("\r\n", "\r\n", "\n");
const opaqueText = fc.string({
  unit: fc.constantFrom(..."abcXYZ0189-_"),
  minLength: 1,
  maxLength: 6,
});

/** What AsciiRequestParser reports of one request (the fields the test looks at). */
interface ReqFields {
  op: number;
  meta: boolean;
  keys: string[];
  valueLength: number;
  clientFlags: number;
  ttl: number;
  cas: number;
  delta: number;
  noreply: boolean;
  base64Key: boolean;
  metaFlags: number;
  metaMode: number;
  opaque: string | undefined;
  malformed: string | undefined;
}

const REQ_DEFAULTS: ReqFields = {
  op: McOp.Other,
  meta: false,
  keys: [],
  valueLength: -1,
  clientFlags: -1,
  ttl: -1,
  cas: -1,
  delta: -1,
  noreply: false,
  base64Key: false,
  metaFlags: 0,
  metaMode: 0,
  opaque: undefined,
  malformed: undefined,
};

type Built<F> = { line: string; data?: Uint8Array; fields: F };

function req(line: string, fields: Partial<ReqFields>, value?: Uint8Array): Built<ReqFields> {
  const out: Built<ReqFields> = { line, fields: { ...REQ_DEFAULTS, ...fields } };
  if (value !== undefined) {
    out.data = value;
    out.fields.valueLength = value.length;
  }
  return out;
}

const noreply = fc.boolean();
const STORAGE: Array<[string, number]> = [
  ["set", McOp.Set],
  ["add", McOp.Add],
  ["replace", McOp.Replace],
  ["append", McOp.Append],
  ["prepend", McOp.Prepend],
];

const textRequest: fc.Arbitrary<Built<ReqFields>> = fc.oneof(
  fc.tuple(
    fc.constantFrom(["get", McOp.Get], ["gets", McOp.Gets]),
    fc.array(key, { minLength: 1, maxLength: 4 }),
  )
    .map(([[w, op], ks]) => req(`${w} ${ks.join(" ")}`, { op: op as number, keys: ks })),
  fc.tuple(
    fc.constantFrom(["gat", McOp.Gat], ["gats", McOp.Gats]),
    ttl,
    fc.array(key, { minLength: 1, maxLength: 4 }),
  )
    .map(([[w, op], t, ks]) =>
      req(`${w} ${t} ${ks.join(" ")}`, { op: op as number, ttl: t, keys: ks })
    ),
  fc.tuple(fc.constantFrom(...STORAGE), key, u32, ttl, data, noreply).map((
    [[w, op], k, f, t, v, q],
  ) =>
    req(`${w} ${k} ${f} ${t} ${v.length}${q ? " noreply" : ""}`, {
      op,
      keys: [k],
      clientFlags: f,
      ttl: t,
      noreply: q,
    }, v)
  ),
  fc.tuple(key, u32, ttl, data, uint, noreply).map(([k, f, t, v, c, q]) =>
    req(`cas ${k} ${f} ${t} ${v.length} ${c}${q ? " noreply" : ""}`, {
      op: McOp.Cas,
      keys: [k],
      clientFlags: f,
      ttl: t,
      cas: c,
      noreply: q,
    }, v)
  ),
  fc.tuple(key, noreply).map(([k, q]) =>
    req(`delete ${k}${q ? " noreply" : ""}`, { op: McOp.Delete, keys: [k], noreply: q })
  ),
  fc.tuple(fc.constantFrom(["incr", McOp.Incr], ["decr", McOp.Decr]), key, uint, noreply).map((
    [[w, op], k, d, q],
  ) =>
    req(`${w} ${k} ${d}${q ? " noreply" : ""}`, {
      op: op as number,
      keys: [k],
      delta: d,
      noreply: q,
    })
  ),
  fc.tuple(key, ttl, noreply).map(([k, t, q]) =>
    req(`touch ${k} ${t}${q ? " noreply" : ""}`, { op: McOp.Touch, keys: [k], ttl: t, noreply: q })
  ),
  fc.tuple(fc.option(fc.nat({ max: 100_000 }), { nil: undefined }), noreply).map(([d, q]) =>
    req(`flush_all${d === undefined ? "" : " " + d}${q ? " noreply" : ""}`, {
      op: McOp.FlushAll,
      // protocol.txt: "flush_all [delay] [noreply]".
      ttl: d ?? -1,
      noreply: q,
    })
  ),
  fc.constantFrom(
    req("version", { op: McOp.Version }),
    req("stats", { op: McOp.Stats }),
    req("stats slabs", { op: McOp.Stats }),
    req("quit", { op: McOp.Quit }),
    req("verbosity 1", { op: McOp.Verbosity }),
    req("verbosity 1 noreply", { op: McOp.Verbosity, noreply: true }),
  ),
);

/** Meta flag bits as documented on metaFlagBit: A-Z bits 0-25, a-z bits 26-51. */
function flagBits(tokens: string[]): number {
  const letters = new Set(tokens.map((t) => t.charCodeAt(0)));
  let bits = 0;
  for (const c of letters) bits += c >= 97 ? 2 ** (26 + c - 97) : 2 ** (c - 65);
  return bits;
}

// Meta flags: each letter at most once; T/N share the TTL, C/E the CAS.
type MetaFlag = { token: string; fields: Partial<ReqFields> };
const bare = (l: string, f: Partial<ReqFields> = {}) =>
  fc.constant<MetaFlag>({ token: l, fields: f });
const META_FLAGS: Record<string, fc.Arbitrary<MetaFlag>[]> = {
  mg: [
    bare("v"),
    bare("f"),
    bare("t"),
    bare("c"),
    bare("k"),
    bare("s"),
    bare("h"),
    bare("l"),
    bare("u"),
    bare("q", { noreply: true }),
    bare("b", { base64Key: true }),
    ttl.map((t) => ({ token: `T${t}`, fields: { ttl: t } })),
    uint.map((c) => ({ token: `E${c}`, fields: { cas: c } })),
    opaqueText.map((o) => ({ token: `O${o}`, fields: { opaque: o } })),
  ],
  ms: [
    u32.map((f) => ({ token: `F${f}`, fields: { clientFlags: f } })),
    ttl.map((t) => ({ token: `T${t}`, fields: { ttl: t } })),
    uint.map((c) => ({ token: `C${c}`, fields: { cas: c } })),
    bare("I"),
    bare("k"),
    bare("q", { noreply: true }),
    fc.constantFrom(..."EAPRS").map((m) => ({
      token: `M${m}`,
      fields: { metaMode: m.charCodeAt(0) },
    })),
    opaqueText.map((o) => ({ token: `O${o}`, fields: { opaque: o } })),
  ],
  md: [
    bare("q", { noreply: true }),
    bare("I"),
    bare("k"),
    bare("b", { base64Key: true }),
    uint.map((c) => ({ token: `C${c}`, fields: { cas: c } })),
    ttl.map((t) => ({ token: `T${t}`, fields: { ttl: t } })),
    opaqueText.map((o) => ({ token: `O${o}`, fields: { opaque: o } })),
  ],
  ma: [
    uint.map((d) => ({ token: `D${d}`, fields: { delta: d } })),
    ttl.map((t) => ({ token: `N${t}`, fields: { ttl: t } })),
    uint.map((j) => ({ token: `J${j}`, fields: {} })),
    fc.constantFrom(..."I+D-").map((m) => ({
      token: `M${m}`,
      fields: { metaMode: m.charCodeAt(0) },
    })),
    bare("q", { noreply: true }),
    bare("t"),
    bare("c"),
    bare("v"),
    opaqueText.map((o) => ({ token: `O${o}`, fields: { opaque: o } })),
  ],
};
const META_OPS: Record<string, number> = {
  mg: McOp.MetaGet,
  ms: McOp.MetaSet,
  md: McOp.MetaDelete,
  ma: McOp.MetaArithmetic,
};

function someOf<T>(arbs: fc.Arbitrary<T>[]): fc.Arbitrary<T[]> {
  return fc.tuple(...arbs.map((a) => fc.option(a, { freq: 2, nil: undefined })))
    .map((xs) => xs.filter((x): x is T => x !== undefined))
    .chain((xs) => fc.shuffledSubarray(xs, { minLength: xs.length, maxLength: xs.length }));
}

function metaFlags(cmd: string): fc.Arbitrary<MetaFlag[]> {
  return someOf(META_FLAGS[cmd]!);
}

const metaRequest: fc.Arbitrary<Built<ReqFields>> = fc.oneof(
  fc.constantFrom("mg", "md", "ma").chain((cmd) =>
    fc.tuple(key, metaFlags(cmd)).map(([k, fs]) =>
      req([cmd, k, ...fs.map((f) => f.token)].join(" "), {
        op: META_OPS[cmd]!,
        meta: true,
        keys: [k],
        metaFlags: flagBits(fs.map((f) => f.token)),
        ...Object.assign({}, ...fs.map((f) => f.fields)),
      })
    )
  ),
  fc.tuple(key, data, metaFlags("ms")).map(([k, v, fs]) =>
    req(["ms", k, v.length, ...fs.map((f) => f.token)].join(" "), {
      op: McOp.MetaSet,
      meta: true,
      keys: [k],
      metaFlags: flagBits(fs.map((f) => f.token)),
      ...Object.assign({}, ...fs.map((f) => f.fields)),
    }, v)
  ),
  fc.constant(req("mn", { op: McOp.MetaNoop, meta: true })),
  key.map((k) => req(`me ${k}`, { op: McOp.MetaDebug, meta: true, keys: [k] })),
);

const anyRequest = fc.oneof(textRequest, metaRequest);

/** What AsciiResponseParser reports of one reply line. */
interface ResFields {
  status: number;
  key: string | undefined;
  valueLength: number;
  clientFlags: number;
  cas: number;
  ttl: number;
  number: number;
  opaque: string | undefined;
}

const RES_DEFAULTS: ResFields = {
  status: McStatus.Other,
  key: undefined,
  valueLength: -1,
  clientFlags: -1,
  cas: -1,
  ttl: -1,
  number: -1,
  opaque: undefined,
};

function res(line: string, fields: Partial<ResFields>, value?: Uint8Array): Built<ResFields> {
  const out: Built<ResFields> = { line, fields: { ...RES_DEFAULTS, ...fields } };
  if (value !== undefined) {
    out.data = value;
    out.fields.valueLength = value.length;
  }
  return out;
}

const message = fc.string({ unit: fc.constantFrom(..."abc XYZ_:0129"), maxLength: 20 });
const simpleReplies: Array<[string, number]> = [
  ["END", McStatus.End],
  ["STORED", McStatus.Stored],
  ["NOT_STORED", McStatus.NotStored],
  ["EXISTS", McStatus.Exists],
  ["NOT_FOUND", McStatus.NotFound],
  ["DELETED", McStatus.Deleted],
  ["TOUCHED", McStatus.Touched],
  ["OK", McStatus.Ok],
  ["ERROR", McStatus.Error],
  ["MN", McStatus.MetaNoop],
  ["RESET", McStatus.Other],
];
type RetFlag = { token: string; fields: Partial<ResFields> };
const RET_FLAGS: fc.Arbitrary<RetFlag>[] = [
  key.map((k) => ({ token: `k${k}`, fields: { key: k } })),
  u32.map((f) => ({ token: `f${f}`, fields: { clientFlags: f } })),
  uint.map((c) => ({ token: `c${c}`, fields: { cas: c } })),
  ttl.map((t) => ({ token: `t${t}`, fields: { ttl: t } })),
  opaqueText.map((o) => ({ token: `O${o}`, fields: { opaque: o } })),
  fc.nat({ max: 1000 }).map((s) => ({ token: `s${s}`, fields: {} })),
  fc.constantFrom("W", "X", "Z", "h0", "h1", "l10").map((t) => ({ token: t, fields: {} })),
];
const retFlags: fc.Arbitrary<RetFlag[]> = someOf(RET_FLAGS);
const metaWithFlags = (w: string, status: number) =>
  retFlags.map((fs) =>
    res([w, ...fs.map((f) => f.token)].join(" "), {
      status,
      ...Object.assign({}, ...fs.map((f) => f.fields)),
    })
  );

const anyResponse: fc.Arbitrary<Built<ResFields>> = fc.oneof(
  fc.tuple(key, u32, data, fc.option(uint, { nil: undefined })).map(([k, f, v, c]) =>
    res(`VALUE ${k} ${f} ${v.length}${c === undefined ? "" : " " + c}`, {
      status: McStatus.Value,
      key: k,
      clientFlags: f,
      cas: c ?? -1,
    }, v)
  ),
  fc.constantFrom(...simpleReplies).map(([w, s]) => res(w, { status: s })),
  uint.map((n) => res(`${n}`, { status: McStatus.Number, number: n })),
  fc.tuple(
    fc.constantFrom(
      ["CLIENT_ERROR", McStatus.ClientError],
      ["SERVER_ERROR", McStatus.ServerError],
      ["VERSION", McStatus.Version],
      ["STAT", McStatus.Stat],
    ),
    message,
  )
    .map(([[w, s], m]) =>
      res(m.trim() === "" ? `${w}` : `${w} ${m.trim()}`, { status: s as number })
    ),
  fc.tuple(data, retFlags).map(([v, fs]) =>
    res(["VA", v.length, ...fs.map((f) => f.token)].join(" "), {
      status: McStatus.MetaValue,
      ...Object.assign({}, ...fs.map((f) => f.fields)),
    }, v)
  ),
  metaWithFlags("HD", McStatus.MetaHeader),
  metaWithFlags("EN", McStatus.MetaMiss),
  metaWithFlags("NF", McStatus.MetaNotFound),
  metaWithFlags("NS", McStatus.MetaNotStored),
  metaWithFlags("EX", McStatus.MetaExists),
  key.map((k) => res(`ME ${k} exp=-1 la=1 cas=2`, { status: McStatus.MetaDebug, key: k })),
);

/** Wire bytes of built elements, with empty lines (which both parsers skip) here and there. */
function streamOf<F>(items: Built<F>[], eols: string[], empties: boolean[]): Uint8Array {
  return placed(items, eols, empties).bytes;
}

/** The stream and where each element's line and value start in it. */
function placed<F>(
  items: Built<F>[],
  eols: string[],
  empties: boolean[],
): { bytes: Uint8Array; offsets: number[]; valueOffsets: number[] } {
  const offsets: number[] = [];
  const valueOffsets: number[] = [];
  let at = 0;
  const parts = items.flatMap((it, i) => {
    const e = eols[i % eols.length]!;
    const empty = empties[i % empties.length] ? e : "";
    offsets.push(at + empty.length);
    const head = bytes(empty + it.line + e);
    at += head.length;
    valueOffsets.push(it.data ? at : -1);
    if (!it.data) return [head];
    at += it.data.length + 2;
    return [head, it.data, bytes("\r\n")];
  });
  return { bytes: concat(parts), offsets, valueOffsets };
}

// ---------------------------------------------------------------------------------------------
// Drivers.

type Outcome = { items: unknown[]; error?: string };

function requestSnapshot(
  p: AsciiRequestParser,
): ReqFields & { offset: number; valueOffset: number } {
  return {
    op: p.op,
    meta: p.meta,
    keys: Array.from({ length: p.keyCount }, (_, i) => latin1(p.key(i))),
    valueLength: p.valueLength,
    clientFlags: p.clientFlags,
    ttl: p.ttl,
    cas: p.cas,
    delta: p.delta,
    noreply: p.noreply,
    base64Key: p.base64Key,
    metaFlags: p.metaFlags,
    metaMode: p.metaMode,
    opaque: p.opaque(),
    malformed: p.malformed,
    offset: p.offset,
    valueOffset: p.valueOffset,
  };
}

function responseSnapshot(p: AsciiResponseParser): ResFields & { offset: number; text: string } {
  const k = p.key();
  return {
    status: p.status,
    key: k === undefined ? undefined : latin1(k),
    valueLength: p.valueLength,
    clientFlags: p.clientFlags,
    cas: p.cas,
    ttl: p.ttl,
    number: p.number,
    opaque: p.opaque(),
    offset: p.offset,
    text: p.text(),
  };
}

/**
 * Feeds chunks to a text/meta parser through a reused buffer; checks progress, the stream
 * position and the size of the line buffer on the way; calls end().
 */
function runAscii<P extends AsciiRequestParser | AsciiResponseParser>(
  p: P,
  snap: (p: P) => unknown,
  chunks: Uint8Array[],
): Outcome {
  const items: unknown[] = [];
  const total = chunks.reduce((n, c) => n + c.length, 0);
  let base = 0;
  const e = expectTyped(
    () => {
      for (const [buf, n] of reused(chunks)) {
        for (let at = 0;;) {
          const r = p.parse(buf, at, n);
          if (r < 0) {
            assert.equal(p.position, base + n, "position after a used-up chunk");
            break;
          }
          assert.ok(r > at && r <= n, `parse returned ${r} from ${at} in ${n}`);
          assert.equal(p.position, base + r, "position after an element");
          if (p.src !== buf) assert.ok(p.src.length <= Math.max(256, 2 * total), "line buffer");
          assert.ok(p.tokS.length <= Math.max(16, total + 1), "token table");
          items.push(snap(p));
          at = r;
        }
        base += n;
      }
      p.end();
    },
    "protocol",
    PLACE,
  );
  return { items, ...(e ? { error: e.message } : {}) };
}

// ---------------------------------------------------------------------------------------------
// Text and meta: valid streams.

Deno.test("AsciiRequestParser reads valid text and meta requests split anywhere as built", () => {
  fuzz(
    "memcached text/meta requests",
    fc.property(
      fc.array(anyRequest, { minLength: 1, maxLength: 8 }),
      fc.array(eol, { minLength: 1, maxLength: 3 }),
      fc.array(fc.boolean(), { minLength: 1, maxLength: 3 }),
      cutsArb(),
      (reqs, eols, empties, cuts) => {
        const { bytes: stream, offsets, valueOffsets } = placed(reqs, eols, empties);
        const want = reqs.map((r, i) => ({
          ...r.fields,
          offset: offsets[i],
          valueOffset: valueOffsets[i],
        }));
        for (const chunks of [[stream], splitAt(stream, cuts)]) {
          const got = runAscii(new AsciiRequestParser("fuzz"), requestSnapshot, chunks);
          assert.equal(got.error, undefined);
          assert.deepEqual(got.items, want);
        }
      },
    ),
  );
});

Deno.test("AsciiResponseParser reads valid text and meta replies split anywhere as built", () => {
  fuzz(
    "memcached text/meta replies",
    fc.property(
      fc.array(anyResponse, { minLength: 1, maxLength: 8 }),
      fc.array(eol, { minLength: 1, maxLength: 3 }),
      fc.array(fc.boolean(), { minLength: 1, maxLength: 3 }),
      cutsArb(),
      (items, eols, empties, cuts) => {
        const { bytes: stream, offsets } = placed(items, eols, empties);
        // text() is the line as sent.
        const want = items.map((r, i) => ({ ...r.fields, offset: offsets[i], text: r.line }));
        for (const chunks of [[stream], splitAt(stream, cuts)]) {
          const got = runAscii(new AsciiResponseParser("fuzz"), responseSnapshot, chunks);
          assert.equal(got.error, undefined);
          assert.deepEqual(got.items, want);
        }
      },
    ),
  );
});

// Units of replies for the load engine's scanner, and what it should say of each.
type Unit = {
  end: McUnitEnd;
  replies: Built<ResFields>[];
  kind: number;
  elements: number;
  nulls: number;
  error?: string | undefined;
};

const ERRORS: Array<[string, number]> = [["ERROR", McStatus.Error], [
  "CLIENT_ERROR bad",
  McStatus.ClientError,
], ["SERVER_ERROR oom", McStatus.ServerError]];
const MISS = new Set<number>([
  McStatus.NotFound,
  McStatus.NotStored,
  McStatus.Exists,
  McStatus.MetaMiss,
  McStatus.MetaNotFound,
  McStatus.MetaNotStored,
  McStatus.MetaExists,
]);
const errorReply = fc.constantFrom(...ERRORS).map(([w, s]) => res(w, { status: s }));
const valueReply = fc.tuple(key, data).map(([k, v]) =>
  res(`VALUE ${k} 0 ${v.length}`, { status: McStatus.Value }, v)
);

const asciiUnit: fc.Arbitrary<Unit> = fc.oneof(
  // One line: STORED, NOT_FOUND, HD, a number, an error, …
  anyResponse.filter((r) =>
    r.fields.status !== McStatus.Value && r.fields.status !== McStatus.End &&
    r.fields.status !== McStatus.MetaNoop
  )
    .map((r) => {
      const s = r.fields.status;
      const isErr = s === McStatus.Error || s === McStatus.ClientError ||
        s === McStatus.ServerError;
      return {
        end: { kind: "line" } as McUnitEnd,
        replies: [r],
        kind: isErr ? McReplyKind.Error : MISS.has(s) ? McReplyKind.Null : McReplyKind.Value,
        elements: 0,
        nulls: 0,
        ...(isErr ? { error: MC_STATUS_NAMES[s] } : {}),
      };
    }),
  // get k1 … kn: VALUE lines then END, or an error that ends it.
  fc.tuple(
    fc.nat({ max: 4 }),
    fc.array(valueReply, { maxLength: 5 }),
    fc.option(errorReply, { freq: 4, nil: undefined }),
  )
    .map(([keys, values, err]) => {
      if (err) {
        return {
          end: { kind: "end", keys } as McUnitEnd,
          replies: [...values, err],
          kind: McReplyKind.Error,
          elements: 0,
          nulls: 0,
          error: MC_STATUS_NAMES[err.fields.status],
        };
      }
      const hits = Math.min(values.length, keys);
      const kind = keys > 0 ? (hits > 0 ? McReplyKind.Value : McReplyKind.Null) : McReplyKind.Value;
      return {
        end: { kind: "end", keys } as McUnitEnd,
        replies: [...values, res("END", { status: McStatus.End })],
        kind,
        elements: keys,
        nulls: keys - hits,
      };
    }),
  // A quiet meta pipeline up to MN: VA/HD hits, EN/NF/NS/EX misses.
  fc.tuple(
    fc.nat({ max: 4 }),
    fc.array(
      fc.oneof(
        metaWithFlags("HD", McStatus.MetaHeader),
        metaWithFlags("EN", McStatus.MetaMiss),
        metaWithFlags("NF", McStatus.MetaNotFound),
        fc.tuple(data, retFlags).map(([v]) =>
          res(`VA ${v.length}`, { status: McStatus.MetaValue }, v)
        ),
      ),
      { maxLength: 5 },
    ),
  )
    .map(([keys, rs]) => {
      const hits = rs.filter((r) =>
        r.fields.status === McStatus.MetaValue || r.fields.status === McStatus.MetaHeader
      ).length;
      const misses = rs.length - hits;
      const h = Math.min(hits, keys);
      return {
        end: { kind: "mn", keys } as McUnitEnd,
        replies: [...rs, res("MN", { status: McStatus.MetaNoop })],
        kind: keys > 0
          ? (h > 0 ? McReplyKind.Value : McReplyKind.Null)
          : misses > 0
          ? McReplyKind.Null
          : McReplyKind.Value,
        elements: keys,
        nulls: keys > 0 ? keys - h : 0,
      };
    }),
);

type ScanOut = {
  units: Array<{ kind: number; elements: number; nulls: number; error?: string }>;
  error?: string;
};

function runScanner(
  s: McAsciiReplyScanner | McBinaryReplyScanner,
  units: number,
  chunks: Uint8Array[],
  withErrors: boolean,
): ScanOut {
  const out: ScanOut["units"] = [];
  let u = 0;
  const e = expectTyped(
    () => {
      for (const [buf, n] of reused(chunks)) {
        for (let at = 0;;) {
          const r = s.scan(buf, at, n, u % units);
          if (r < 0) break;
          assert.ok(r > at && r <= n, `scan returned ${r} from ${at} in ${n}`);
          const one: ScanOut["units"][number] = {
            kind: s.kind,
            elements: s.elements,
            nulls: s.nulls,
          };
          assert.ok(s.nulls <= s.elements, "nulls <= elements");
          if (withErrors && s.kind === McReplyKind.Error) one.error = s.errorCode();
          out.push(one);
          u++;
          at = r;
        }
      }
    },
    "protocol",
    PLACE,
  );
  return { units: out, ...(e ? { error: e.message } : {}) };
}

Deno.test("McAsciiReplyScanner finds where each unit's reply ends, split anywhere", () => {
  fuzz(
    "memcached text reply scanner",
    fc.property(
      fc.array(asciiUnit, { minLength: 1, maxLength: 6 }),
      eol,
      cutsArb(),
      (units, e, cuts) => {
        const stream = streamOf(units.flatMap((u) => u.replies), [e], [false]);
        for (const chunks of [[stream], splitAt(stream, cuts)]) {
          const got = runScanner(
            new McAsciiReplyScanner(units.map((u) => u.end), "fuzz"),
            units.length,
            chunks,
            true,
          );
          assert.equal(got.error, undefined);
          assert.deepEqual(
            got.units,
            units.map(({ kind, elements, nulls, error }) => ({
              kind,
              elements,
              nulls,
              ...(error ? { error } : {}),
            })),
          );
        }
      },
    ),
  );
});

// ---------------------------------------------------------------------------------------------
// Binary: packets built from the protocol document.

/** What BinaryParser reports of one packet. */
interface BinFields {
  opcode: number;
  op: number;
  quiet: boolean;
  status: number;
  opaque: number;
  cas: number;
  dataType: number;
  keyLength: number;
  extrasLength: number;
  valueLength: number;
  key: number[];
  clientFlags: number;
  ttl: number;
  delta: number;
}

type Packet = { bytes: Uint8Array; fields: BinFields };

function u32be(v: number): number[] {
  return [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
}
function u64be(v: bigint): number[] {
  return [...u32be(Number(v >> 32n)), ...u32be(Number(v & 0xffffffffn))];
}

const SET_FAMILY = new Set<number>([
  BinOp.Set,
  BinOp.Add,
  BinOp.Replace,
  BinOp.SetQ,
  BinOp.AddQ,
  BinOp.ReplaceQ,
]);
const ARITH = new Set<number>([
  BinOp.Increment,
  BinOp.Decrement,
  BinOp.IncrementQ,
  BinOp.DecrementQ,
]);
const EXPIRY = new Set<number>([
  BinOp.Touch,
  BinOp.Gat,
  BinOp.GatQ,
  BinOp.GatK,
  BinOp.GatKQ,
  BinOp.Flush,
  BinOp.FlushQ,
]);
const OPCODES = [...Array.from({ length: 0x25 }, (_, i) => i), 0x30, 0x90, 0xff];
const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });

function packetArb(magic: number): fc.Arbitrary<Packet> {
  return fc.record({
    opcode: fc.constantFrom(...OPCODES),
    key: fc.oneof({ weight: 9, arbitrary: fc.uint8Array({ maxLength: 20 }) }, {
      weight: 1,
      arbitrary: fc.uint8Array({ minLength: 250, maxLength: 300 }),
    }),
    value: data,
    status: fc.oneof(fc.constantFrom(0, 1, 2, 5, 0x20, 0x81, 0x86), fc.nat({ max: 0xffff })),
    opaque: u32,
    cas: u64,
    dataType: fc.nat({ max: 255 }),
    flags: u32,
    exptime: u32,
    delta: u64,
    initial: u64,
    randomExtras: fc.uint8Array({ maxLength: 12 }),
  }).map((r) => {
    const info = binOpInfo(r.opcode);
    let extras: number[] = [];
    let clientFlags = -1;
    let ttl = -1;
    let delta = -1;
    if (magic === BIN_REQUEST) {
      if (SET_FAMILY.has(r.opcode)) {
        extras = [...u32be(r.flags), ...u32be(r.exptime)];
        clientFlags = r.flags;
        ttl = r.exptime;
      } else if (ARITH.has(r.opcode)) {
        extras = [...u64be(r.delta), ...u64be(r.initial), ...u32be(r.exptime)];
        delta = Number(r.delta);
        ttl = r.exptime;
      } else if (EXPIRY.has(r.opcode)) {
        extras = u32be(r.exptime);
        ttl = r.exptime;
      } else if (info === undefined) {
        extras = Array.from(r.randomExtras);
      }
    } else if (
      r.opcode === BinOp.Get || r.opcode === BinOp.GetK || r.opcode === BinOp.GetQ ||
      r.opcode === BinOp.GetKQ
    ) {
      extras = u32be(r.flags); // a hit's flags
      clientFlags = r.flags;
    } else if (info === undefined && r.randomExtras.length > 0) {
      extras = Array.from(r.randomExtras);
      if (extras.length >= 4) {
        clientFlags = extras[0]! * 2 ** 24 + extras[1]! * 2 ** 16 + extras[2]! * 256 + extras[3]!;
      }
    }
    const body = extras.length + r.key.length + r.value.length;
    const head = [
      magic,
      r.opcode,
      r.key.length >> 8,
      r.key.length & 255,
      extras.length,
      r.dataType,
      r.status >> 8,
      r.status & 255,
      ...u32be(body),
      ...u32be(r.opaque),
      ...u64be(r.cas),
    ];
    return {
      bytes: concat([Uint8Array.from(head), Uint8Array.from(extras), r.key, r.value]),
      fields: {
        opcode: r.opcode,
        op: info?.op ?? McOp.Other,
        quiet: info?.quiet ?? false,
        status: r.status,
        opaque: r.opaque,
        cas: Number(r.cas),
        dataType: r.dataType,
        keyLength: r.key.length,
        extrasLength: extras.length,
        valueLength: r.value.length,
        key: Array.from(r.key),
        clientFlags,
        ttl,
        delta,
      },
    };
  });
}

function binarySnapshot(p: BinaryParser): BinFields & { offset: number; valueOffset: number } {
  return {
    opcode: p.opcode,
    op: p.op,
    quiet: p.quiet,
    status: p.status,
    opaque: p.opaque,
    cas: p.cas,
    dataType: p.dataType,
    keyLength: p.keyLength,
    extrasLength: p.extrasLength,
    valueLength: p.valueLength,
    key: Array.from(p.key()),
    clientFlags: p.clientFlags,
    ttl: p.ttl,
    delta: p.delta,
    offset: p.offset,
    valueOffset: p.valueOffset,
  };
}

function runBinary(p: BinaryParser, chunks: Uint8Array[]): Outcome {
  const items: unknown[] = [];
  const total = chunks.reduce((n, c) => n + c.length, 0);
  let base = 0;
  const e = expectTyped(
    () => {
      for (const [buf, n] of reused(chunks)) {
        for (let at = 0;;) {
          const r = p.parse(buf, at, n);
          if (r < 0) {
            assert.equal(p.position, base + n, "position after a used-up chunk");
            break;
          }
          assert.ok(r > at && r <= n, `parse returned ${r} from ${at} in ${n}`);
          assert.equal(p.position, base + r, "position after a packet head");
          if (p.src !== buf) assert.ok(p.src.length <= Math.max(88, 2 * total), "header buffer");
          items.push(binarySnapshot(p));
          at = r;
        }
        base += n;
      }
      p.end();
    },
    "protocol",
    PLACE,
  );
  return { items, ...(e ? { error: e.message } : {}) };
}

for (
  const [direction, magic] of [["requests", BIN_REQUEST], ["responses", BIN_RESPONSE]] as const
) {
  Deno.test(`BinaryParser reads valid binary ${direction} split anywhere as built`, () => {
    fuzz(
      `memcached binary ${direction}`,
      fc.property(
        fc.array(packetArb(magic), { minLength: 1, maxLength: 6 }),
        cutsArb(),
        (pkts, cuts) => {
          const stream = concat(pkts.map((p) => p.bytes));
          let at = 0;
          const want = pkts.map((p) => {
            const w = {
              ...p.fields,
              offset: at,
              valueOffset: at + p.bytes.length - p.fields.valueLength,
            };
            at += p.bytes.length;
            return w;
          });
          for (const chunks of [[stream], splitAt(stream, cuts)]) {
            const got = runBinary(new BinaryParser(direction, "fuzz"), chunks);
            assert.equal(got.error, undefined);
            assert.deepEqual(got.items, want);
          }
        },
      ),
    );
  });
}

// Binary units: responses up to the unit's terminal opcode.
const binUnit = fc.oneof(
  // One request, one response.
  fc.tuple(
    fc.constantFrom(
      BinOp.Get,
      BinOp.Set,
      BinOp.Delete,
      BinOp.Increment,
      BinOp.Touch,
      BinOp.Version,
    ),
    fc.constantFrom(0, 0, 1, 2, 5, 0x81, 0x82),
  ).map(([op, st]) => ({ terminal: op, keys: 0, responses: [{ opcode: op, status: st }] })),
  // A quiet multi-get: GETKQ hits (misses are silent), then NOOP.
  fc.tuple(
    fc.nat({ max: 4 }),
    fc.nat({ max: 5 }),
    fc.option(fc.constantFrom(0x81, 0x84), { freq: 5, nil: undefined }),
  ).map(([keys, hits, err]) => ({
    terminal: BinOp.Noop,
    keys,
    responses: [
      ...Array.from({ length: hits }, () => ({ opcode: BinOp.GetKQ, status: 0 })),
      ...(err === undefined ? [] : [{ opcode: BinOp.GetKQ, status: err }]),
      { opcode: BinOp.Noop, status: 0 },
    ],
  })),
  // Quiet writes that failed, then NOOP.
  fc.array(fc.constantFrom(1, 2, 5, 0x82), { maxLength: 3 }).map((sts) => ({
    terminal: BinOp.Noop,
    keys: 0,
    responses: [...sts.map((s) => ({ opcode: BinOp.SetQ, status: s })), {
      opcode: BinOp.Noop,
      status: 0,
    }],
  })),
).map((u) => {
  let hits = 0;
  let misses = 0;
  let failed: number | undefined;
  for (const r of u.responses) {
    if (r.status === BinStatus.NoError) {
      if (r.opcode !== BinOp.Noop) hits++;
    } else if (
      r.status === BinStatus.KeyNotFound || r.status === BinStatus.ItemNotStored ||
      r.status === BinStatus.KeyExists
    ) misses++;
    else failed = r.status;
  }
  const kind = failed !== undefined
    ? McReplyKind.Error
    : u.keys > 0
    ? (hits > 0 ? McReplyKind.Value : McReplyKind.Null)
    : misses > 0
    ? McReplyKind.Null
    : McReplyKind.Value;
  return {
    ...u,
    kind,
    elements: u.keys,
    nulls: u.keys > 0 ? u.keys - Math.min(hits, u.keys) : 0,
    error: failed === undefined ? undefined : binStatusName(failed),
  };
});

Deno.test("McBinaryReplyScanner finds where each unit's reply ends, split anywhere", () => {
  fuzz(
    "memcached binary reply scanner",
    fc.property(
      fc.array(binUnit, { minLength: 1, maxLength: 6 }),
      fc.array(data, { minLength: 1, maxLength: 3 }),
      cutsArb(),
      (units, values, cuts) => {
        let i = 0;
        const stream = concat(units.flatMap((u) =>
          u.responses.map((r) => {
            const v = values[i++ % values.length]!;
            return concat([
              Uint8Array.from([
                BIN_RESPONSE,
                r.opcode,
                0,
                0,
                0,
                0,
                r.status >> 8,
                r.status & 255,
                ...u32be(v.length),
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
              ]),
              v,
            ]);
          })
        ));
        for (const chunks of [[stream], splitAt(stream, cuts)]) {
          const got = runScanner(
            new McBinaryReplyScanner(
              units.map((u) => ({ kind: "opcode", opcode: u.terminal, keys: u.keys })),
              "fuzz",
            ),
            units.length,
            chunks,
            true,
          );
          assert.equal(got.error, undefined);
          assert.deepEqual(
            got.units,
            units.map(({ kind, elements, nulls, error }) => ({
              kind,
              elements,
              nulls,
              ...(error ? { error } : {}),
            })),
          );
        }
      },
    ),
  );
});

// ---------------------------------------------------------------------------------------------
// Random and mutated bytes.

const TEXT_BYTES = [..."\r\n 0123456789-abcdegmnstvEFNOTVqk"].map((c) => c.charCodeAt(0));
const TEXT_FRAGMENTS = [
  "\r\n",
  "\n",
  "\r",
  " ",
  "get",
  "set",
  "k",
  "0",
  "3",
  "-1",
  "99999999999999999999",
  "noreply",
  "abc",
  "VALUE",
  "END",
  "VA",
  "HD",
  "mg",
  "ms",
  "mn",
  "T",
  "q",
  "O1",
  "STORED",
  "CLIENT_ERROR",
  "12",
];
const textNoise = fc.oneof(
  fc.uint8Array({ maxLength: 200 }),
  soupArb(TEXT_FRAGMENTS, 40),
  fc.tuple(fc.array(anyRequest, { minLength: 1, maxLength: 4 }), mutationsArb(TEXT_BYTES)).map((
    [rs, m],
  ) => mutate(streamOf(rs, ["\r\n"], [false]), m)),
  fc.tuple(fc.array(anyResponse, { minLength: 1, maxLength: 4 }), mutationsArb(TEXT_BYTES)).map((
    [rs, m],
  ) => mutate(streamOf(rs, ["\r\n"], [false]), m)),
);

Deno.test("AsciiRequestParser and AsciiResponseParser on random bytes: elements or a protocol error, the same however split", () => {
  fuzz(
    "memcached text noise",
    fc.property(textNoise, cutsArb(), (input, cuts) => {
      for (
        const make of [() => new AsciiRequestParser("fuzz"), () => new AsciiResponseParser("fuzz")]
      ) {
        const snap = (p: AsciiRequestParser | AsciiResponseParser) =>
          p instanceof AsciiRequestParser ? requestSnapshot(p) : responseSnapshot(p);
        const whole = runAscii(make(), snap, [input]);
        const split = runAscii(make(), snap, splitAt(input, cuts));
        assert.deepEqual(split.items, whole.items);
        assert.equal(split.error, whole.error);
      }
    }),
    { runs: 300 },
  );
});

Deno.test("McAsciiReplyScanner on random bytes: units or a protocol error, the same however split", () => {
  fuzz(
    "memcached text scanner noise",
    fc.property(
      textNoise,
      fc.array(asciiUnit.map((u) => u.end), { minLength: 1, maxLength: 4 }),
      cutsArb(),
      (input, ends, cuts) => {
        const whole = runScanner(new McAsciiReplyScanner(ends, "fuzz"), ends.length, [input], true);
        const split = runScanner(
          new McAsciiReplyScanner(ends, "fuzz"),
          ends.length,
          splitAt(input, cuts),
          true,
        );
        assert.deepEqual(split.units, whole.units);
        assert.equal(split.error, whole.error);
      },
    ),
  );
});

const BIN_BYTES = [0x80, 0x81, 0, 1, 24, 255];
const binNoise = (magic: number) =>
  fc.oneof(
    fc.uint8Array({ maxLength: 200 }),
    fc.uint8Array({ minLength: 23, maxLength: 120 }).map((b) => {
      b[0] = magic;
      return b;
    }),
    fc.tuple(fc.array(packetArb(magic), { minLength: 1, maxLength: 4 }), mutationsArb(BIN_BYTES))
      .map(([ps, m]) => mutate(concat(ps.map((p) => p.bytes)), m)),
  );

for (
  const [direction, magic] of [["requests", BIN_REQUEST], ["responses", BIN_RESPONSE]] as const
) {
  Deno.test(`BinaryParser (${direction}) on random bytes: packets or a protocol error, the same however split`, () => {
    fuzz(
      `memcached binary ${direction} noise`,
      fc.property(binNoise(magic), cutsArb(), (input, cuts) => {
        const whole = runBinary(new BinaryParser(direction, "fuzz"), [input]);
        const split = runBinary(new BinaryParser(direction, "fuzz"), splitAt(input, cuts));
        assert.deepEqual(split.items, whole.items);
        assert.equal(split.error, whole.error);
      }),
    );
  });
}

Deno.test("McBinaryReplyScanner on random bytes: units or a protocol error, the same however split", () => {
  fuzz(
    "memcached binary scanner noise",
    fc.property(
      binNoise(BIN_RESPONSE),
      fc.array(
        fc.record({
          opcode: fc.constantFrom(BinOp.Get, BinOp.Noop, BinOp.Set, 0x30),
          keys: fc.nat({ max: 3 }),
        }),
        { minLength: 1, maxLength: 3 },
      ),
      cutsArb(),
      (input, ends, cuts) => {
        const units = ends.map((e) => ({ kind: "opcode" as const, ...e }));
        const whole = runScanner(
          new McBinaryReplyScanner(units, "fuzz"),
          units.length,
          [input],
          true,
        );
        const split = runScanner(
          new McBinaryReplyScanner(units, "fuzz"),
          units.length,
          splitAt(input, cuts),
          true,
        );
        assert.deepEqual(split.units, whole.units);
        assert.equal(split.error, whole.error);
      },
    ),
  );
});

Deno.test("AsciiRequestParser and AsciiResponseParser treat a line at the length limit alike whole or split", () => {
  fuzz(
    "memcached long line",
    fc.property(
      fc.integer({ min: MC_MAX_LINE - 3, max: MC_MAX_LINE + 3 }),
      fc.integer({ min: 1, max: 6 }),
      fc.constantFrom("get ", "STAT "),
      (len, back, word) => {
        const line = concat([
          bytes(word),
          new Uint8Array(len - word.length).fill(97),
          bytes("\r\n"),
        ]);
        const chunks = [line.slice(0, line.length - back), line.slice(line.length - back)];
        for (
          const make of [
            () => new AsciiRequestParser("fuzz"),
            () => new AsciiResponseParser("fuzz"),
          ]
        ) {
          const snap = (p: AsciiRequestParser | AsciiResponseParser) => ({
            tokens: p.ntok,
            at: p.offset,
          });
          const whole = runAscii(make(), snap, [line]);
          const split = runAscii(make(), snap, chunks);
          assert.deepEqual(split.items, whole.items);
          assert.equal(split.error, whole.error);
        }
      },
    ),
    { runs: 12 },
  );
});
