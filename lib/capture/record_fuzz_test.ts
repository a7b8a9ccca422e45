// Property-based tests of the record path after the file reader: link/IP/TCP decoding
// (decode.ts), TCP reassembly (tcp_stream.ts), the flow table and the protocol sessions
// (recorder.ts, detect.ts, the *_session.ts files), and the profile they write. Captures are
// built by hand: Ethernet (with a VLAN tag or not), Linux SLL and SLL2, BSD NULL and LOOP, raw
// IP; IPv4 or IPv6 (with a hop-by-hop header or not); TCP with or without options, sequence
// numbers anywhere (wrap-around included); memcached text, meta and binary and RESP requests
// with their replies, pipelined or not. They are written as a pcap file and go through
// record() itself.
//
// - Damaged captures (bytes flipped in headers or payload, packets cut, dropped, duplicated,
//   swapped, retimed, noise packets, a forced protocol) give a profile or a MembenchError,
//   never another exception, not even one the sessions' resynchronisation would swallow (the
//   parsers are watched); the counters add up, the profile reads back with as many events, no
//   key or value leaves the capture, and every run is bounded in time and memory. Undamaged
//   ones record every transaction with no gap, protocol error or unparsed byte.
// - The same conversation cut into segments anywhere, with segments out of order within a
//   burst, retransmitted and overlapping, records the same events, field by field, as one
//   segment per message.
//
// Budget and replay: tests/fuzz_helpers.ts.
import * as fc from "fast-check";
import assert from "node:assert/strict";
import { MembenchError } from "../errors/mod.ts";
import { AsciiRequestParser, AsciiResponseParser, BinaryParser } from "../protocol/memcache/mod.ts";
import { RespDecoder } from "../protocol/resp/mod.ts";
import { type ProfileEvent, ProfileReader, STATUS_NAMES } from "../profile/mod.ts";
import { record, type RecordResult } from "./record.ts";
import { LinkType } from "./decode.ts";
import {
  concat,
  fractionArb,
  fuzzAsync,
  mutate,
  type Mutation,
  mutationsArb,
} from "../../tests/fuzz_helpers.ts";

const te = new TextEncoder();
const enc = (s: string) => te.encode(s);

// ---------------------------------------------------------------------------------------------
// Conversations: requests and their replies, per protocol.

type Proto = "text" | "meta" | "binary" | "resp";

/** One request and its reply (empty for noreply and quiet misses), and the events it makes. */
interface Exchange {
  req: Uint8Array;
  rep: Uint8Array;
  events: number;
}

interface Op {
  kind: number;
  keys: string[];
  value: Uint8Array;
  hit: boolean;
  flags: number;
  ttl: number;
  opaque: number;
  quiet: boolean;
}

const ALNUM = [..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"];
// Keys long enough that finding one in a profile could not be chance.
const keyArb = fc.tuple(
  fc.constantFrom("user:", "s:", "k-", ""),
  fc.string({ unit: fc.constantFrom(...ALNUM), minLength: 8, maxLength: 14 }),
).map(([a, b]) => a + b);

const opArb: fc.Arbitrary<Op> = fc.record({
  kind: fc.nat({ max: 999 }),
  keys: fc.uniqueArray(keyArb, { minLength: 1, maxLength: 3 }),
  value: fc.oneof(
    fc.uint8Array({ maxLength: 40 }),
    fc.uint8Array({ minLength: 12, maxLength: 300 }),
  ),
  hit: fc.boolean(),
  flags: fc.nat({ max: 0xffff }),
  ttl: fc.nat({ max: 100_000 }),
  opaque: fc.nat({ max: 0xffffffff }),
  quiet: fc.boolean(),
});

const CRLF = "\r\n";
const withValue = (head: string, v: Uint8Array) => concat([enc(head), v, enc(CRLF)]);

function textExchange(o: Op): Exchange {
  const [k] = o.keys as [string];
  const v = o.value;
  switch (o.kind % 6) {
    case 0: {
      const reps = o.keys.filter((_, i) => o.hit || i % 2 === 1)
        .map((key) => withValue(`VALUE ${key} ${o.flags} ${v.length}${CRLF}`, v));
      return {
        req: enc(`get ${o.keys.join(" ")}${CRLF}`),
        rep: concat([...reps, enc(`END${CRLF}`)]),
        events: o.keys.length,
      };
    }
    case 1: {
      const cmd = ["set", "add", "replace"][o.kind % 3]!;
      const noreply = o.quiet && o.kind % 4 === 0;
      return {
        req: withValue(
          `${cmd} ${k} ${o.flags} ${o.ttl} ${v.length}${noreply ? " noreply" : ""}${CRLF}`,
          v,
        ),
        rep: noreply ? new Uint8Array(0) : enc(o.hit ? `STORED${CRLF}` : `NOT_STORED${CRLF}`),
        events: 1,
      };
    }
    case 2:
      return {
        req: enc(`delete ${k}${CRLF}`),
        rep: enc(o.hit ? `DELETED${CRLF}` : `NOT_FOUND${CRLF}`),
        events: 1,
      };
    case 3:
      return {
        req: enc(`incr ${k} ${o.flags}${CRLF}`),
        rep: enc(o.hit ? `${o.ttl}${CRLF}` : `NOT_FOUND${CRLF}`),
        events: 1,
      };
    case 4:
      return { req: enc(`touch ${k} ${o.ttl}${CRLF}`), rep: enc(`TOUCHED${CRLF}`), events: 1 };
    default:
      return {
        req: enc(`gets ${k}${CRLF}`),
        rep: o.hit
          ? concat([
            withValue(`VALUE ${k} ${o.flags} ${v.length} ${o.ttl}${CRLF}`, v),
            enc("END\r\n"),
          ])
          : enc(`END${CRLF}`),
        events: 1,
      };
  }
}

function metaExchange(o: Op): Exchange {
  const [k] = o.keys as [string];
  const v = o.value;
  const q = o.quiet ? " q" : "";
  switch (o.kind % 5) {
    case 0:
      return {
        req: enc(`mg ${k} v f t${q}${CRLF}`),
        rep: o.hit
          ? withValue(`VA ${v.length} f${o.flags} t${o.ttl}${CRLF}`, v)
          : enc(o.quiet ? "" : `EN${CRLF}`),
        events: 1,
      };
    case 1:
      return {
        req: withValue(`ms ${k} ${v.length} T${o.ttl} F${o.flags}${q}${CRLF}`, v),
        rep: enc(o.hit ? (o.quiet ? "" : `HD${CRLF}`) : `NS${CRLF}`),
        events: 1,
      };
    case 2:
      return {
        req: enc(`md ${k}${q}${CRLF}`),
        rep: enc(o.hit ? (o.quiet ? "" : `HD${CRLF}`) : `NF${CRLF}`),
        events: 1,
      };
    case 3:
      return { req: enc(`mn${CRLF}`), rep: enc(`MN${CRLF}`), events: 1 };
    default:
      // Text commands on a meta connection.
      return textExchange({ ...o, kind: o.kind >> 3 });
  }
}

function binHeader(
  magic: number,
  opcode: number,
  keyLen: number,
  extras: number,
  status: number,
  body: number,
  opaque: number,
): Uint8Array {
  const h = new Uint8Array(24);
  const d = new DataView(h.buffer);
  h[0] = magic;
  h[1] = opcode;
  d.setUint16(2, keyLen);
  h[4] = extras;
  d.setUint16(6, status);
  d.setUint32(8, body);
  d.setUint32(12, opaque);
  return h;
}

function binReq(op: number, key: Uint8Array, extras: Uint8Array, v: Uint8Array, opq: number) {
  const body = extras.length + key.length + v.length;
  return concat([binHeader(0x80, op, key.length, extras.length, 0, body, opq), extras, key, v]);
}

function binRes(op: number, status: number, extras: Uint8Array, v: Uint8Array, opq: number) {
  return concat([
    binHeader(0x81, op, 0, extras.length, status, extras.length + v.length, opq),
    extras,
    v,
  ]);
}

function u32s(...xs: number[]): Uint8Array {
  const b = new Uint8Array(4 * xs.length);
  xs.forEach((x, i) => new DataView(b.buffer).setUint32(4 * i, x));
  return b;
}

function binaryExchange(o: Op): Exchange {
  const k = enc(o.keys[0]!);
  const v = o.value;
  const none = new Uint8Array(0);
  const opq = o.opaque;
  switch (o.kind % 5) {
    case 0: {
      const op = o.quiet ? 0x09 : 0x00; // GETQ: a miss answers nothing
      return {
        req: binReq(op, k, none, none, opq),
        rep: o.hit
          ? binRes(op, 0, u32s(o.flags), v, opq)
          : o.quiet
          ? none
          : binRes(op, 1, none, enc("Not found"), opq),
        events: 1,
      };
    }
    case 1: {
      const op = o.quiet ? 0x11 : 0x01; // SETQ: success answers nothing
      return {
        req: binReq(op, k, u32s(o.flags, o.ttl), v, opq),
        rep: o.hit
          ? (o.quiet ? none : binRes(op, 0, none, none, opq))
          : binRes(op, 5, none, none, opq),
        events: 1,
      };
    }
    case 2:
      return {
        req: binReq(0x04, k, none, none, opq),
        rep: binRes(0x04, o.hit ? 0 : 1, none, none, opq),
        events: 1,
      };
    case 3:
      return {
        req: binReq(0x0a, none, none, none, opq),
        rep: binRes(0x0a, 0, none, none, opq),
        events: 1,
      };
    default:
      return {
        req: binReq(0x1c, k, u32s(o.ttl), none, opq),
        rep: binRes(0x1c, o.hit ? 0 : 1, none, none, opq),
        events: 1,
      };
  }
}

function respCmd(args: Array<string | Uint8Array>): Uint8Array {
  const parts: Uint8Array[] = [enc(`*${args.length}${CRLF}`)];
  for (const a of args) {
    const b = typeof a === "string" ? enc(a) : a;
    parts.push(enc(`$${b.length}${CRLF}`), b, enc(CRLF));
  }
  return concat(parts);
}

const bulk = (v: Uint8Array) => withValue(`$${v.length}${CRLF}`, v);

function respExchange(o: Op): Exchange {
  const [k] = o.keys as [string];
  const v = o.value;
  switch (o.kind % 7) {
    case 0:
      return { req: respCmd(["GET", k]), rep: o.hit ? bulk(v) : enc(`$-1${CRLF}`), events: 1 };
    case 1:
      return {
        req: respCmd(o.hit ? ["SET", k, v] : ["SET", k, v, "EX", String(o.ttl + 1), "NX"]),
        rep: enc(o.hit ? `+OK${CRLF}` : `$-1${CRLF}`),
        events: 1,
      };
    case 2:
      return {
        req: respCmd(["MGET", ...o.keys]),
        rep: concat([
          enc(`*${o.keys.length}${CRLF}`),
          ...o.keys.map((_, i) => (o.hit || i % 2 ? bulk(v) : enc(`$-1${CRLF}`))),
        ]),
        events: o.keys.length,
      };
    case 3:
      return {
        req: respCmd(["DEL", ...o.keys]),
        rep: enc(`:${o.keys.length}${CRLF}`),
        events: o.keys.length,
      };
    case 4:
      return {
        req: respCmd(["INCR", k]),
        rep: enc(o.hit ? `:${o.ttl}${CRLF}` : `-ERR not an integer${CRLF}`),
        events: 1,
      };
    case 5:
      return { req: respCmd(["PING"]), rep: enc(`+PONG${CRLF}`), events: 1 };
    default:
      return {
        req: respCmd(["HSET", k, "f", v]),
        rep: enc(`:1${CRLF}`),
        events: 1,
      };
  }
}

const RENDER: Record<Proto, (o: Op) => Exchange> = {
  text: textExchange,
  meta: metaExchange,
  binary: binaryExchange,
  resp: respExchange,
};

/** A burst of messages one side sends at one time. */
interface Step {
  client: boolean;
  t: number;
  msgs: Uint8Array[];
}

interface Conversation {
  proto: Proto;
  steps: Step[];
  events: number;
  /** Keys and long values: none of them may be found in a profile. */
  secrets: Uint8Array[];
}

/**
 * Exchanges in pipelined batches: the requests of a batch in one burst, their replies in the
 * next, later. The first request of a meta conversation is a meta command (that is how its
 * protocol is told).
 */
const conversationArb: fc.Arbitrary<Conversation> = fc.record({
  proto: fc.constantFrom<Proto>("text", "meta", "binary", "resp"),
  batches: fc.array(
    fc.record({
      ops: fc.array(opArb, { minLength: 1, maxLength: 3 }),
      gap: fc.nat({ max: 3000 }),
      latency: fc.integer({ min: 1, max: 2000 }),
    }),
    { minLength: 1, maxLength: 5 },
  ),
}).map(({ proto, batches }) => {
  const steps: Step[] = [];
  const secrets: Uint8Array[] = [];
  let t = 0;
  let events = 0;
  let opaque = 0;
  batches.forEach((b, bi) => {
    const xs = b.ops.flatMap((o, oi) => {
      // Distinct opaques, as clients use them (binary replies are paired by opaque).
      const op = { ...o, opaque: ((o.opaque & 0xffff0000) | opaque++) >>> 0 };
      if (bi === 0 && oi === 0 && proto === "meta") op.kind -= op.kind % 5;
      const x = RENDER[proto](op);
      // A quiet request is followed by a no-op (mn, NOOP) whose reply says the quiet ones
      // before it are done: without it, a quiet miss and the next request's reply cannot be
      // told apart, by membench or anyone.
      if (!o.quiet || (proto !== "meta" && proto !== "binary")) return [x];
      return [x, RENDER[proto]({ ...op, kind: 3, opaque: opaque++ })];
    });
    for (const o of b.ops) {
      secrets.push(...o.keys.map(enc));
      if (new Set(o.value).size >= 8) secrets.push(o.value); // not found by chance
    }
    events += xs.reduce((n, x) => n + x.events, 0);
    t += b.gap + 1;
    steps.push({ client: true, t, msgs: xs.map((x) => x.req) });
    t += b.latency;
    const reps = xs.map((x) => x.rep).filter((r) => r.length > 0);
    if (reps.length > 0) steps.push({ client: false, t, msgs: reps });
  });
  return { proto, steps, events, secrets };
});

// ---------------------------------------------------------------------------------------------
// Packets: link, IP and TCP headers around the conversation's bytes.

interface Net {
  link: number;
  vlan: boolean;
  v6: boolean;
  hopByHop: boolean;
  tcpOptions: boolean;
  clientIp: number[];
  serverIp: number[];
  clientPort: number;
  serverPort: number;
  clientIsn: number;
  serverIsn: number;
}

const LINKS = [
  LinkType.Ethernet,
  LinkType.Sll,
  LinkType.Sll2,
  LinkType.Null,
  LinkType.Loop,
  LinkType.Raw,
];

const netArb: fc.Arbitrary<Net> = fc.record({
  link: fc.constantFrom(...LINKS),
  vlan: fc.boolean(),
  v6: fc.boolean(),
  hopByHop: fc.boolean(),
  tcpOptions: fc.boolean(),
  clientIp: fc.array(fc.nat({ max: 255 }), { minLength: 16, maxLength: 16 }),
  serverIp: fc.array(fc.nat({ max: 255 }), { minLength: 16, maxLength: 16 }),
  clientPort: fc.integer({ min: 1024, max: 65535 }),
  // 0: the protocol's own port (see `withNet`); else another one, given in `ports`.
  serverPort: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 1023 })),
  // Near the wrap-around half the time.
  clientIsn: fc.oneof(
    fc.nat({ max: 0xffffffff }),
    fc.integer({ min: 0xfffff000, max: 0xffffffff }),
  ),
  serverIsn: fc.oneof(
    fc.nat({ max: 0xffffffff }),
    fc.integer({ min: 0xfffff000, max: 0xffffffff }),
  ),
});

const SYN = 2;
const FIN = 1;
const ACK = 16;
const PSH = 8;

/**
 * One packet of a capture; `payloadAt` is where its TCP payload starts (-1: none), `ipAt` where
 * its IPv4 or IPv6 header does.
 */
interface Pkt {
  t: number;
  data: Uint8Array;
  orig: number;
  payloadAt: number;
  ipAt: number;
  v6: boolean;
}

function frame(
  n: Net,
  fromClient: boolean,
  seq: number,
  ack: number,
  flags: number,
  payload: Uint8Array,
): { data: Uint8Array; payloadAt: number; ipAt: number } {
  const tcpLen = n.tcpOptions ? 32 : 20;
  const tcp = new Uint8Array(tcpLen);
  const td = new DataView(tcp.buffer);
  td.setUint16(0, fromClient ? n.clientPort : n.serverPort);
  td.setUint16(2, fromClient ? n.serverPort : n.clientPort);
  td.setUint32(4, seq >>> 0);
  td.setUint32(8, ack >>> 0);
  tcp[12] = (tcpLen / 4) << 4;
  tcp[13] = flags;
  td.setUint16(14, 65535);
  if (n.tcpOptions) tcp.set([1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2], 20); // NOP NOP timestamps
  const src = fromClient ? n.clientIp : n.serverIp;
  const dst = fromClient ? n.serverIp : n.clientIp;
  let ip: Uint8Array;
  if (!n.v6) {
    ip = new Uint8Array(20);
    const d = new DataView(ip.buffer);
    ip[0] = 0x45;
    d.setUint16(2, 20 + tcpLen + payload.length);
    ip[6] = 0x40; // DF
    ip[8] = 64;
    ip[9] = 6;
    ip.set(src.slice(0, 4), 12);
    ip.set(dst.slice(0, 4), 16);
  } else {
    const ext = n.hopByHop ? 8 : 0;
    ip = new Uint8Array(40 + ext);
    const d = new DataView(ip.buffer);
    ip[0] = 0x60;
    d.setUint16(4, ext + tcpLen + payload.length);
    ip[6] = n.hopByHop ? 0 : 6;
    ip[7] = 64;
    ip.set(src, 8);
    ip.set(dst, 24);
    if (n.hopByHop) ip.set([6, 0, 1, 4, 0, 0, 0, 0], 40); // next: TCP; PadN
  }
  const ethType = n.v6 ? 0x86dd : 0x0800;
  let link: number[];
  switch (n.link) {
    case LinkType.Ethernet:
      link = [2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
      if (n.vlan) link.push(0x81, 0x00, 0x00, 0x2a);
      link.push(ethType >> 8, ethType & 255);
      break;
    case LinkType.Sll:
      // Packet type (4: sent by us), ARPHRD_ETHER, address length and address, protocol.
      link = [
        0,
        fromClient ? 4 : 0,
        0,
        1,
        0,
        6,
        ...[2, 0, 0, 0, 0, 1, 0, 0],
        ethType >> 8,
        ethType & 255,
      ];
      break;
    case LinkType.Sll2:
      link = [ethType >> 8, ethType & 255, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0];
      break;
    case LinkType.Null:
      link = n.v6 ? [30, 0, 0, 0] : [2, 0, 0, 0]; // host byte order (little-endian here)
      break;
    case LinkType.Loop:
      link = n.v6 ? [0, 0, 0, 24] : [0, 0, 0, 2];
      break;
    default:
      link = [];
  }
  const head = link.length + ip.length + tcp.length;
  return {
    data: concat([Uint8Array.from(link), ip, tcp, payload]),
    payloadAt: head,
    ipAt: link.length,
  };
}

/** How one burst is put on the wire: pieces in some order, some sent twice. */
interface Wire {
  cuts: number[];
  order: number[];
  resend: Array<{ from: number; to: number; at: number }>;
}

/** Timestamps start here (µs since the epoch). */
const BASE_US = 1_700_000_000_000_000;

/**
 * The packets of a connection: an optional handshake, each burst as segments (one per message,
 * or the burst's bytes cut at `wire.cuts`, permuted by `wire.order` and with `wire.resend`
 * ranges sent again, all at the burst's time), and an optional close by the server.
 *
 * The first client segment goes first and may be cut anywhere: the recorder tells the protocol
 * from the client bytes it holds, however they came (this test once found that a first segment
 * `g` then `et k` went undetected, and `m` made a meta connection memcache-text).
 */
function connectionPackets(
  n: Net,
  c: Conversation,
  o: { handshake: boolean; close: boolean; wires?: Wire[]; t0?: number },
): Pkt[] {
  const firstClient = c.steps.findIndex((s) => s.client);
  const out: Pkt[] = [];
  const t0 = o.t0 ?? 0;
  let cseq = (n.clientIsn + 1) >>> 0;
  let sseq = (n.serverIsn + 1) >>> 0;
  const push = (
    t: number,
    fromClient: boolean,
    seq: number,
    ack: number,
    flags: number,
    p: Uint8Array,
  ) => {
    const f = frame(n, fromClient, seq, ack, flags, p);
    out.push({
      t: t0 + t,
      data: f.data,
      orig: f.data.length,
      payloadAt: p.length > 0 ? f.payloadAt : -1,
      ipAt: f.ipAt,
      v6: n.v6,
    });
  };
  if (o.handshake) {
    push(0, true, n.clientIsn, 0, SYN, new Uint8Array(0));
    push(0, false, n.serverIsn, cseq, SYN | ACK, new Uint8Array(0));
    push(0, true, cseq, sseq, ACK, new Uint8Array(0));
  }
  c.steps.forEach((s, si) => {
    const bytes = concat(s.msgs);
    const base = s.client ? cseq : sseq;
    const ack = s.client ? sseq : cseq;
    const wire = o.wires?.[si % o.wires.length];
    let ranges: Array<[number, number]>;
    if (!wire) {
      ranges = [];
      let at = 0;
      for (const m of s.msgs) {
        ranges.push([at, at + m.length]);
        at += m.length;
      }
    } else {
      // The first client segment comes first (see above).
      const first = si === firstClient;
      const min = 1;
      const at = [...new Set(wire.cuts.map((x) => Math.floor(x * bytes.length)))]
        .filter((i) => i >= min && i < bytes.length).sort((a, b) => a - b);
      const edges = [0, ...at, bytes.length];
      ranges = edges.slice(1).map((e, i) => [edges[i]!, e] as [number, number]);
      // Out of order within the burst (reassembly holds what comes early).
      const key = (i: number) =>
        first && i === 0 ? -1 : wire.order[i % Math.max(1, wire.order.length)] ?? 0;
      ranges = ranges.map((r, i) => ({ r, k: key(i), i }))
        .sort((a, b) => a.k - b.k || a.i - b.i).map((x) => x.r);
      for (const r of wire.resend) {
        const a = Math.floor(r.from * bytes.length);
        const b = Math.min(bytes.length, a + 1 + Math.floor(r.to * (bytes.length - a)));
        const j = Math.floor(r.at * (ranges.length + 1));
        if (a < b) ranges.splice(first ? Math.max(1, j) : j, 0, [a, b]);
      }
    }
    for (const [a, b] of ranges) {
      push(s.t, s.client, (base + a) >>> 0, ack, ACK | PSH, bytes.subarray(a, b));
    }
    if (s.client) cseq = (cseq + bytes.length) >>> 0;
    else sseq = (sseq + bytes.length) >>> 0;
  });
  if (o.close) {
    const t = (c.steps.at(-1)?.t ?? 0) + 1;
    push(t, true, cseq, sseq, FIN | ACK, new Uint8Array(0));
    push(t, false, sseq, (cseq + 1) >>> 0, FIN | ACK, new Uint8Array(0));
  }
  return out;
}

/** A pcap file (microsecond timestamps, little-endian) of the packets. */
function pcapFile(link: number, pkts: readonly Pkt[]): Uint8Array {
  const size = 24 + pkts.reduce((a, p) => a + 16 + p.data.length, 0);
  const b = new Uint8Array(size);
  const v = new DataView(b.buffer);
  v.setUint32(0, 0xa1b2c3d4, true);
  v.setUint16(4, 2, true);
  v.setUint16(6, 4, true);
  v.setUint32(16, 262144, true);
  v.setUint32(20, link, true);
  let o = 24;
  for (const p of pkts) {
    const us = BASE_US + Math.max(0, p.t);
    v.setUint32(o, Math.floor(us / 1e6), true);
    v.setUint32(o + 4, us % 1e6, true);
    v.setUint32(o + 8, p.data.length, true);
    v.setUint32(o + 12, Math.max(p.orig, p.data.length), true);
    b.set(p.data, o + 16);
    o += 16 + p.data.length;
  }
  return b;
}

// ---------------------------------------------------------------------------------------------
// Running record() on a capture.

/** Exceptions other than a MembenchError thrown inside the protocol parsers. */
const swallowed: unknown[] = [];

/**
 * The sessions catch what their parsers throw, count a protocol error and resynchronise: a
 * TypeError there would be counted, not seen. While the returned disposable lives, the parsers'
 * entry points note any exception that is not a MembenchError before it is rethrown.
 */
function watchParsers(): Disposable {
  const patched: Array<
    { proto: Record<string, unknown>; name: string; own: boolean; fn: unknown }
  > = [];
  const watch = (cls: { prototype: unknown }, name: string) => {
    const proto = cls.prototype as Record<string, unknown>;
    const fn = proto[name] as (...a: unknown[]) => unknown;
    patched.push({ proto, name, own: Object.hasOwn(proto, name), fn });
    proto[name] = function (this: unknown, ...a: unknown[]) {
      try {
        return fn.apply(this, a);
      } catch (e) {
        if (!(e instanceof MembenchError)) swallowed.push(e);
        throw e;
      }
    };
  };
  watch(AsciiRequestParser, "parse");
  watch(AsciiResponseParser, "parse");
  watch(BinaryParser, "parse");
  watch(RespDecoder, "next");
  return {
    [Symbol.dispose]() {
      for (const p of patched.reverse()) {
        if (p.own) p.proto[p.name] = p.fn;
        else delete p.proto[p.name];
      }
    },
  };
}

interface Recorded {
  result?: RecordResult;
  error?: MembenchError;
  events: ProfileEvent[];
  connections: Array<{ id: number; protocol: string; sawOpen: boolean; sawClose: boolean }>;
  profile: Uint8Array;
}

class Workspace implements AsyncDisposable {
  constructor(readonly dir: string) {}
  static async create(): Promise<Workspace> {
    return new Workspace(await Deno.makeTempDir({ prefix: "membench-record-fuzz-" }));
  }
  get pcap() {
    return `${this.dir}/in.pcap`;
  }
  get output() {
    return `${this.dir}/out.mbp`;
  }
  async [Symbol.asyncDispose]() {
    await Deno.remove(this.dir, { recursive: true });
  }
}

/** Writes the capture, records it and reads the profile back. */
async function recordCapture(
  ws: Workspace,
  file: Uint8Array,
  ports: number[],
  protocol?: "memcache-text" | "memcache-meta" | "memcache-binary" | "resp",
): Promise<Recorded> {
  await Deno.writeFile(ws.pcap, file);
  swallowed.length = 0;
  let result: RecordResult | undefined;
  try {
    result = await record({
      pcap: ws.pcap,
      output: ws.output,
      ports,
      salt: "record fuzz",
      ...(protocol ? { protocol } : {}),
    });
  } catch (e) {
    if (!(e instanceof MembenchError)) throw e;
    assert.equal(swallowed.length, 0, `a parser threw ${String(swallowed[0])}`);
    return { error: e, events: [], connections: [], profile: new Uint8Array(0) };
  }
  if (swallowed.length > 0) {
    const e = swallowed[0];
    throw new Error(
      `a parser threw, and its session counted a protocol error: ${
        e instanceof Error ? e.stack : e
      }`,
    );
  }
  const events: ProfileEvent[] = [];
  using r = await ProfileReader.open(ws.output);
  for await (const e of r.events()) events.push(e);
  assert.ok(!r.truncated, r.warning);
  const connections = [...r.connections.values()].map((c) => ({
    id: c.id,
    protocol: c.protocol,
    sawOpen: c.sawOpen,
    sawClose: c.sawClose,
  }));
  return { result, events, connections, profile: await Deno.readFile(ws.output) };
}

function indexOf(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

const OP_NAME = /^(?:[a-z_]{1,20}|opcode_0x[0-9a-f]{1,2})$/;

/** What holds for any recording: counters that add up, a profile that says the same. */
function checkRecording(r: Recorded, packets: number, bytes: number, secrets: Uint8Array[]) {
  const s = r.result!;
  const sk = s.skipped;
  assert.equal(s.packets, packets);
  assert.equal(
    s.segments + s.fragments + sk.linkType + sk.notIp + sk.notTcp + sk.malformed + sk.otherPorts,
    s.packets,
    "every packet is a segment or skipped for one reason",
  );
  for (const [k, v] of Object.entries(s)) {
    if (typeof v === "number") assert.ok(Number.isFinite(v) && v >= 0, `${k} = ${v}`);
  }
  // Each event comes from at least two bytes of request (a key and its separator).
  assert.ok(s.events <= bytes / 2, `${s.events} events from ${bytes} bytes`);
  assert.equal(r.events.length, s.events, "the profile holds every event");
  assert.ok(r.connections.length <= s.connections);
  assert.ok(s.connections <= s.segments);
  for (const e of r.events) {
    assert.match(e.op, OP_NAME, "op names come from the protocol, never from the bytes");
    assert.ok(STATUS_NAMES.includes(e.status), e.status);
    assert.ok(Number.isFinite(e.t), `t ${e.t}`); // before the first packet when time goes back
    assert.ok(e.latencyUs === null || Number.isFinite(e.latencyUs), `latency ${e.latencyUs}`);
  }
  for (const x of secrets) {
    assert.equal(
      indexOf(r.profile, x),
      -1,
      `the profile holds a key or value: ${JSON.stringify(new TextDecoder().decode(x))}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Damage.

type Damage =
  | { k: "payload" | "bytes"; i: number; ms: Mutation[] }
  | { k: "cut"; i: number; keep: number; snap: boolean }
  | { k: "drop" | "dup"; i: number }
  | { k: "swap"; i: number; j: number }
  | { k: "time"; i: number; dt: number }
  | { k: "noise"; i: number; data: Uint8Array }
  | { k: "number"; which: number; value: string };

// Bytes that matter to the headers and the protocols.
const BIAS = [
  ...[0, 1, 2, 4, 6, 8, 0x10, 0x11, 0x12, 0x14, 0x18, 0x3a, 0x40, 0x45, 0x50, 0x60, 0x80, 0x81],
  ...[0xff, ...enc("\r\n $*+-:09")],
];
// Numbers that sit on a limit: lengths past the protocols' maxima, past 32 and 53 bits, signs.
const EDGE_NUMBERS = [
  "0",
  "-1",
  "1048577",
  "1073741825",
  "2147483648",
  "4294967296",
  "99999999999",
  "9007199254740993",
  "18446744073709551616",
  "1e3",
  "00000000000000000000000000000001",
];

const at = fractionArb();
const damageArb: fc.Arbitrary<Damage[]> = fc.array(
  fc.oneof(
    {
      arbitrary: fc.record({
        k: fc.constant("payload" as const),
        i: at,
        ms: mutationsArb(BIAS, 3),
      }),
      weight: 4,
    },
    fc.record({ k: fc.constant("bytes" as const), i: at, ms: mutationsArb(BIAS, 2) }),
    fc.record({ k: fc.constant("cut" as const), i: at, keep: at, snap: fc.boolean() }),
    fc.record({ k: fc.constantFrom("drop" as const, "dup" as const), i: at }),
    fc.record({ k: fc.constant("swap" as const), i: at, j: at }),
    fc.record({
      k: fc.constant("time" as const),
      i: at,
      dt: fc.integer({ min: -200_000, max: 200_000 }),
    }),
    fc.record({ k: fc.constant("noise" as const), i: at, data: fc.uint8Array({ maxLength: 90 }) }),
    {
      arbitrary: fc.record({
        k: fc.constant("number" as const),
        which: at,
        value: fc.constantFrom(...EDGE_NUMBERS),
      }),
      weight: 3,
    },
  ),
  { minLength: 1, maxLength: 6 },
);

/**
 * New payload bytes, with the IP length rewritten to match (the TCP stream then overlaps or
 * skips where the length changed, as a sender would have it).
 */
function setPayload(p: Pkt, payload: Uint8Array): void {
  p.data = concat([p.data.subarray(0, p.payloadAt), payload]);
  p.orig = p.data.length;
  const v = new DataView(p.data.buffer);
  if (p.ipAt < 0 || p.ipAt + 8 > p.data.length) return;
  const n = p.data.length - p.ipAt - (p.v6 ? 40 : 0);
  v.setUint16(p.ipAt + (p.v6 ? 4 : 2), Math.min(n, 0xffff));
}

const latin1 = new TextDecoder("latin1");

function damage(pkts: Pkt[], ds: readonly Damage[]): Pkt[] {
  const out = pkts.map((p) => ({ ...p }));
  for (const d of ds) {
    if (d.k === "number") {
      // A number of some payload (a length, flags, a TTL: a whole token) made an edge value,
      // every number of the capture as likely.
      const all = out.flatMap((q) =>
        q.payloadAt < 0 ? [] : [
          ...latin1.decode(q.data.subarray(q.payloadAt)).matchAll(/(?<=[ :$*])-?\d+(?=[ \r])/g),
        ].map((m) => ({ q, m }))
      );
      const pick = all[Math.floor(d.which * all.length)];
      if (!pick) continue;
      const { q, m } = pick;
      const pl = q.data.subarray(q.payloadAt);
      setPayload(
        q,
        concat([pl.subarray(0, m.index), enc(d.value), pl.subarray(m.index + m[0].length)]),
      );
      continue;
    }
    if (out.length === 0 && d.k !== "noise") continue;
    const i = Math.floor(d.i * out.length);
    const p = out[i]!;
    switch (d.k) {
      case "payload":
        if (p.payloadAt >= 0) setPayload(p, mutate(p.data.subarray(p.payloadAt), d.ms));
        break;
      case "bytes":
        p.data = mutate(p.data, d.ms);
        p.orig = p.data.length;
        break;
      case "cut": {
        const n = Math.floor(d.keep * p.data.length);
        if (!d.snap) p.orig = n;
        p.data = p.data.slice(0, n);
        break;
      }
      case "drop":
        out.splice(i, 1);
        break;
      case "dup":
        out.splice(i, 0, { ...p });
        break;
      case "swap": {
        const j = Math.floor(d.j * out.length);
        [out[i], out[j]] = [out[j]!, out[i]!];
        break;
      }
      case "time":
        p.t += d.dt;
        break;
      case "noise":
        out.splice(i, 0, {
          t: p?.t ?? 0,
          data: d.data,
          orig: d.data.length,
          payloadAt: -1,
          ipAt: -1,
          v6: false,
        });
        break;
    }
  }
  return out;
}

const capturedBytes = (pkts: readonly Pkt[]) => pkts.reduce((n, p) => n + p.data.length, 0);

// ---------------------------------------------------------------------------------------------
// Properties.

/** A conversation on a network (no `chain`: counterexamples shrink further without it). */
const withNet = fc.tuple(conversationArb, netArb).map(([c, net]) => ({
  c,
  net: net.serverPort === 0 ? { ...net, serverPort: c.proto === "resp" ? 6379 : 11211 } : net,
}));

const captureArb = fc.array(
  fc.record({
    cn: withNet,
    handshake: fc.boolean(),
    close: fc.boolean(),
    t0: fc.nat({ max: 5000 }),
  }).map(({ cn, ...o }) => ({ ...cn, ...o })),
  { minLength: 1, maxLength: 2 },
);

Deno.test("record() takes any damaged capture: counted losses or a MembenchError, never another exception", async () => {
  await using ws = await Workspace.create();
  using _ = watchParsers();
  await fuzzAsync(
    "record damaged captures",
    fc.asyncProperty(
      captureArb,
      // A quarter of the captures undamaged: those must come out whole.
      fc.oneof({ arbitrary: fc.constant([]), weight: 1 }, { arbitrary: damageArb, weight: 3 }),
      fc.option(
        fc.constantFrom("memcache-text", "memcache-meta", "memcache-binary", "resp" as const),
        { freq: 6, nil: undefined },
      ),
      async (conns, ds, protocol) => {
        // All connections share the first one's link type (a pcap file has one).
        const link = conns[0]!.net.link;
        const clean = conns.flatMap((x) =>
          connectionPackets({ ...x.net, link }, x.c, {
            handshake: x.handshake,
            close: x.close,
            t0: x.t0,
          })
        ).sort((a, b) => a.t - b.t);
        const pkts = damage(clean, ds);
        const ports = [...new Set(conns.map((x) => x.net.serverPort))];
        const secrets = conns.flatMap((x) => x.c.secrets);
        const before = Deno.memoryUsage();
        const started = performance.now();
        const r = await recordCapture(ws, pcapFile(link, pkts), ports, protocol);
        const ms = performance.now() - started;
        const after = Deno.memoryUsage();
        assert.ok(ms < 3000, `${ms.toFixed(0)} ms for ${pkts.length} packets`);
        const grew = after.heapUsed + after.external - before.heapUsed - before.external;
        assert.ok(grew < 64 * 1024 * 1024, `memory grew by ${grew} bytes`);
        if (r.error) return;
        checkRecording(r, pkts.length, capturedBytes(pkts), secrets);
        const s = r.result!;
        // Undamaged, distinct connections: every transaction, nothing lost or misread.
        const distinct =
          new Set(conns.map((x) => `${x.net.clientPort}|${x.net.serverPort}`)).size ===
            conns.length;
        if (ds.length === 0 && protocol === undefined && distinct) {
          assert.deepEqual(
            [s.gaps, s.protocolErrors, s.unparsedBytes, s.skipped.malformed, s.undetected],
            [0, 0, 0, 0, 0],
          );
          assert.equal(s.connections, conns.length);
          assert.equal(s.events, conns.reduce((n, x) => n + x.c.events, 0));
        }
      },
    ),
    { runs: 200, timeoutMs: 10_000 },
  );
});

const wireArb: fc.Arbitrary<Wire> = fc.record({
  cuts: fc.array(at, { maxLength: 8 }),
  order: fc.array(at, { maxLength: 8 }),
  resend: fc.array(fc.record({ from: at, to: at, at }), { maxLength: 2 }),
});

Deno.test("record() gives the same events however a conversation is cut into segments", async () => {
  await using ws = await Workspace.create();
  using _ = watchParsers();
  await fuzzAsync(
    "record segmentation",
    fc.asyncProperty(
      withNet,
      fc.array(wireArb, { minLength: 1, maxLength: 6 }),
      fc.boolean(),
      async ({ c, net }, wires, close) => {
        const ports = [net.serverPort];
        const one = connectionPackets(net, c, { handshake: true, close });
        const want = await recordCapture(ws, pcapFile(net.link, one), ports);
        const cut = connectionPackets(net, c, { handshake: true, close, wires });
        const got = await recordCapture(ws, pcapFile(net.link, cut), ports);
        for (const r of [want, got]) {
          assert.ok(r.result, String(r.error));
          const s = r.result;
          assert.deepEqual(
            [s.gaps, s.protocolErrors, s.unparsedBytes, s.unpairedResponses, s.connections],
            [0, 0, 0, 0, 1],
          );
        }
        assert.equal(want.events.length, c.events);
        assert.deepEqual(got.connections, want.connections);
        assert.deepEqual(got.events, want.events);
      },
    ),
    { runs: 100, timeoutMs: 10_000 },
  );
});
