import { type Anonymizer, clusterSlot } from "../anonymize/mod.ts";
import type { ProtocolName } from "../protocol/mod.ts";
import type { ProfileWriter } from "../profile/mod.ts";
import { decodeTcp, newSegment, Skip, TcpFlag, type TcpSegment } from "./decode.ts";
import { detectProtocol, newSession } from "./detect.ts";
import type { PacketView } from "./pcap_file.ts";
import type { KeyHasher, Session, SessionEvent } from "./session.ts";
import { seqDiff, TcpStream } from "./tcp_stream.ts";

/** Options of a {@linkcode Recorder}. */
export interface RecorderOptions {
  /** Server ports: connections to them are recorded, and they say which side is the client. */
  ports: number[];
  /** Force a protocol for every connection instead of detecting it. */
  protocol?: ProtocolName;
  /**
   * RESP: the version connections speak from their first captured byte, for captures that
   * start after a HELLO 3; a HELLO 3 seen in the capture switches a connection to 3 anyway.
   * @default {2}
   */
  respVersion?: 2 | 3;
  /** A flow silent for this long (capture time) is closed. @default {60000} */
  idleTimeoutMs?: number;
  /** Out-of-order bytes held per direction before a hole becomes a gap. @default {1 MiB} */
  maxBufferedBytes?: number;
}

/** What a recording saw. */
export interface RecordStats {
  /** Packets read. */
  packets: number;
  /** Bytes of packet data read. */
  bytes: number;
  /** TCP segments on the recorded ports. */
  segments: number;
  /** Packets skipped, by reason. */
  skipped: {
    linkType: number;
    notIp: number;
    notTcp: number;
    malformed: number;
    otherPorts: number;
  };
  /** IP fragments (counted, not reassembled). */
  fragments: number;
  /** Connections recorded. */
  connections: number;
  /** Connections whose protocol could not be told (ignored). */
  undetected: number;
  /** Events written. */
  events: number;
  /** Events per op name. */
  eventsPerCommand: Record<string, number>;
  /** Holes in TCP streams (lost packets). */
  gaps: number;
  /** Bytes lost in those holes. */
  lostBytes: number;
  /** Retransmitted segments dropped. */
  retransmits: number;
  /** Segments that arrived out of order. */
  outOfOrder: number;
  /** Bytes that could not be parsed (resynchronising after gaps or garbage). */
  unparsedBytes: number;
  /** Protocol errors met (each followed by a resynchronisation). */
  protocolErrors: number;
  /** Responses without a request. */
  unpairedResponses: number;
  /** Capture time covered, µs. */
  durationUs: number;
}

interface Flow {
  id: number;
  clientIp: string;
  clientPort: number;
  serverPort: number;
  protocol: ProtocolName | undefined;
  session: Session | undefined;
  toServer: TcpStream;
  toClient: TcpStream;
  early: Array<{ side: "client" | "server"; data: Uint8Array; t: number }>;
  earlyBytes: number;
  /** Server bytes that acknowledge client bytes not yet reassembled: held so replies never overtake their requests. */
  held: Array<{ data: Uint8Array; t: number; ack: number }>;
  heldBytes: number;
  seq: number;
  openUs: number;
  lastUs: number;
  sawOpen: boolean;
  sawClose: boolean;
  ignored: boolean;
}

/**
 * Turns packets into profile events: flow table, client/server sides, protocol detection, TCP
 * reassembly of both directions, protocol sessions that pair requests with responses, keyed
 * hashing of keys, and the profile writer. Memory is bounded by the live flows and their
 * out-of-order buffers; idle flows are closed.
 */
export class Recorder {
  /** Counters. */
  readonly stats: RecordStats = {
    packets: 0,
    bytes: 0,
    segments: 0,
    skipped: { linkType: 0, notIp: 0, notTcp: 0, malformed: 0, otherPorts: 0 },
    fragments: 0,
    connections: 0,
    undetected: 0,
    events: 0,
    eventsPerCommand: {},
    gaps: 0,
    lostBytes: 0,
    retransmits: 0,
    outOfOrder: 0,
    unparsedBytes: 0,
    protocolErrors: 0,
    unpairedResponses: 0,
    durationUs: 0,
  };
  #w: ProfileWriter;
  #hasher: KeyHasher;
  #ports: Set<number>;
  #force: ProtocolName | undefined;
  #respVersion: 2 | 3;
  #idleUs: number;
  #maxBuffered: number;
  #flows = new Map<string, Flow>();
  #seg: TcpSegment = newSegment();
  #startUs = -1;
  #nowUs = 0;
  #nextId = 0;
  #sinceSweep = 0;
  #opIds = new Map<string, number>();

  constructor(writer: ProfileWriter, anonymizer: Anonymizer, options: RecorderOptions) {
    this.#w = writer;
    const keepSlots = anonymizer.keepSlots;
    this.#hasher = {
      hi: 0,
      lo: 0,
      slot: -1,
      hashKey(b, s, e) {
        anonymizer.hashKey(b, s, e);
        this.hi = anonymizer.hi;
        this.lo = anonymizer.lo;
        this.slot = keepSlots ? clusterSlot(b, s, e) : -1;
      },
    };
    this.#ports = new Set(options.ports);
    this.#force = options.protocol;
    this.#respVersion = options.respVersion ?? 2;
    this.#idleUs = (options.idleTimeoutMs ?? 60_000) * 1000;
    this.#maxBuffered = options.maxBufferedBytes ?? 1 << 20;
  }

  /** Capture start on the epoch clock (µs), once a packet has been seen. */
  get startUs(): number {
    return this.#startUs;
  }

  /** Live flows. */
  get flows(): number {
    return this.#flows.size;
  }

  /** Takes one packet. */
  packet(v: PacketView): void {
    const st = this.stats;
    st.packets++;
    st.bytes += v.capLen;
    if (this.#startUs < 0) this.#startUs = v.tsUs;
    const t = v.tsUs - this.#startUs;
    if (t > this.#nowUs) this.#nowUs = t;
    const seg = this.#seg;
    const r = decodeTcp(v, seg);
    if (r !== Skip.None) {
      if (r === Skip.Fragment) st.fragments++;
      else if (r === Skip.LinkType) st.skipped.linkType++;
      else if (r === Skip.NotIp) st.skipped.notIp++;
      else if (r === Skip.NotTcp) st.skipped.notTcp++;
      else st.skipped.malformed++;
      return;
    }
    if (!this.#ports.has(seg.dport) && !this.#ports.has(seg.sport)) {
      st.skipped.otherPorts++;
      return;
    }
    st.segments++;
    const a = `${seg.src}|${seg.sport}`;
    const b = `${seg.dst}|${seg.dport}`;
    const key = a < b ? `${a}>${b}` : `${b}>${a}`;
    let f = this.#flows.get(key);
    const syn = (seg.flags & TcpFlag.Syn) !== 0;
    const ackFlag = (seg.flags & TcpFlag.Ack) !== 0;
    if (!f) {
      // Which side is the client: the SYN sender, else the side not on a server port.
      let clientIsSrc: boolean;
      if (syn && !ackFlag) clientIsSrc = true;
      else if (syn && ackFlag) clientIsSrc = false;
      else if (this.#ports.has(seg.dport) && !this.#ports.has(seg.sport)) clientIsSrc = true;
      else if (this.#ports.has(seg.sport) && !this.#ports.has(seg.dport)) clientIsSrc = false;
      else clientIsSrc = seg.sport > seg.dport;
      f = this.#newFlow(
        clientIsSrc ? seg.src : seg.dst,
        clientIsSrc ? seg.sport : seg.dport,
        clientIsSrc ? seg.dport : seg.sport,
        t,
        syn,
      );
      this.#flows.set(key, f);
    }
    f.lastUs = t;
    const fromClient = seg.src === f.clientIp && seg.sport === f.clientPort;
    const stream = fromClient ? f.toServer : f.toClient;
    // An ACK past a hole in the other direction proves the hole's bytes were lost to the capture.
    if (ackFlag) (fromClient ? f.toClient : f.toServer).acked(seg.ack, t);
    if (syn) stream.syn(seg.seq);
    else if (seg.wireLen > 0) {
      stream.segment(seg.seq, seg.buf, seg.off, seg.len, seg.wireLen, t, seg.ack);
    }
    f.toServer.tick(t);
    f.toClient.tick(t);
    if ((seg.flags & (TcpFlag.Fin | TcpFlag.Rst)) !== 0) {
      f.sawClose = true;
      // A reset ends the flow; a FIN from the client only half-closes it (its replies may
      // still come), so the flow ends with the server's FIN.
      if ((seg.flags & TcpFlag.Rst) !== 0 || !fromClient) this.#close(key, f);
    }
    if (++this.#sinceSweep >= 4096) this.#sweep();
  }

  /** Closes every flow and returns the totals (the writer is not closed here). */
  finish(): RecordStats {
    for (const [k, f] of this.#flows) this.#close(k, f);
    this.stats.durationUs = this.#nowUs;
    return this.stats;
  }

  #newFlow(
    clientIp: string,
    clientPort: number,
    serverPort: number,
    t: number,
    syn: boolean,
  ): Flow {
    const f: Flow = {
      id: -1,
      clientIp,
      clientPort,
      serverPort,
      protocol: undefined,
      session: undefined,
      toServer: undefined as unknown as TcpStream,
      toClient: undefined as unknown as TcpStream,
      early: [],
      earlyBytes: 0,
      held: [],
      heldBytes: 0,
      seq: 0,
      openUs: t,
      lastUs: t,
      sawOpen: syn,
      sawClose: false,
      ignored: false,
    };
    f.toServer = new TcpStream({
      data: (buf, off, len, ts) => {
        this.#data(f, "client", buf, off, len, ts);
        this.#release(f, false);
      },
      gap: (lost, ts) => {
        this.#gap(f, "client", lost, ts);
        this.#release(f, false); // replies to requests that follow the hole wait for them
      },
    }, this.#maxBuffered);
    f.toClient = new TcpStream({
      data: (buf, off, len, ts, ack) => {
        // A reply may not reach the session before the request it answers: hold server bytes
        // whose ACK covers client bytes that reassembly has not delivered yet.
        if (f.held.length > 0 || (f.toServer.started && seqDiff(ack, f.toServer.next) > 0)) {
          f.held.push({ data: buf.slice(off, off + len), t: ts, ack });
          f.heldBytes += len;
          if (f.heldBytes > this.#maxBuffered) this.#release(f, true);
          return;
        }
        this.#data(f, "server", buf, off, len, ts);
      },
      gap: (lost, ts) => {
        this.#release(f, true);
        this.#gap(f, "server", lost, ts);
      },
    }, this.#maxBuffered);
    return f;
  }

  #data(
    f: Flow,
    side: "client" | "server",
    buf: Uint8Array,
    off: number,
    len: number,
    t: number,
  ): void {
    if (f.ignored) {
      this.stats.unparsedBytes += len;
      return;
    }
    if (!f.session) {
      // Held until the protocol is known (bounded), then handed to the session in order.
      f.early.push({ side, data: buf.slice(off, off + len), t });
      f.earlyBytes += len;
      if (side === "client" || this.#force) {
        // Detected from the client's first bytes however they were segmented.
        const proto = this.#force ?? detectProtocol(firstClientBytes(f.early), f.serverPort);
        if (proto) {
          this.#start(f, proto);
          return;
        }
      }
      if (f.earlyBytes > 65536) {
        f.ignored = true;
        this.stats.undetected++;
        this.stats.unparsedBytes += f.earlyBytes;
        f.early = [];
      }
      return;
    }
    if (side === "client") f.session!.client(buf, off, len, t);
    else f.session!.server(buf, off, len, t);
  }

  #start(f: Flow, protocol: ProtocolName): void {
    f.protocol = protocol;
    f.id = this.#nextId++;
    this.stats.connections++;
    f.session = newSession(protocol, (e) => this.#event(f, e), this.#hasher, this.#respVersion);
    const v = f.session.respVersion;
    this.#w.connection({
      id: f.id,
      protocol,
      ...(v !== undefined ? { respVersion: v } : {}),
      openUs: f.openUs,
      sawOpen: f.sawOpen,
      sawClose: false,
    });
    const early = f.early;
    f.early = [];
    f.earlyBytes = 0;
    for (const x of early) {
      if (x.side === "client") f.session.client(x.data, 0, x.data.length, x.t);
      else f.session.server(x.data, 0, x.data.length, x.t);
    }
  }

  // Hands held server bytes to the session once the client stream has caught up (or always).
  #release(f: Flow, all: boolean): void {
    while (f.held.length > 0) {
      const h = f.held[0]!;
      if (!all && seqDiff(h.ack, f.toServer.next) > 0) return;
      f.held.shift();
      f.heldBytes -= h.data.length;
      this.#data(f, "server", h.data, 0, h.data.length, h.t);
    }
  }

  #gap(f: Flow, side: "client" | "server", lost: number, t: number): void {
    this.stats.gaps++;
    this.stats.lostBytes += lost;
    f.session?.gap(side, lost, t);
  }

  #event(f: Flow, e: SessionEvent): void {
    let op = this.#opIds.get(e.op);
    if (op === undefined) {
      op = this.#w.op(e.op);
      this.#opIds.set(e.op, op);
    }
    this.#w.append({
      t: e.t,
      conn: f.id,
      op,
      keyHi: e.keyHi,
      keyLo: e.keyLo,
      keyLen: e.keyLen,
      valueLen: e.valueLen,
      flags: e.flags,
      ttl: e.ttl,
      status: e.status,
      latency: e.latency,
      slot: e.slot,
      seq: f.seq++,
      shape: e.shape ?? 0,
    });
    this.stats.events++;
    this.stats.eventsPerCommand[e.op] = (this.stats.eventsPerCommand[e.op] ?? 0) + 1;
  }

  #close(key: string, f: Flow): void {
    this.#flows.delete(key);
    f.toServer.finish(f.lastUs);
    f.toClient.finish(f.lastUs);
    this.#release(f, true);
    for (const s of [f.toServer.stats, f.toClient.stats]) {
      this.stats.retransmits += s.retransmits;
      this.stats.outOfOrder += s.outOfOrder;
    }
    if (f.session) {
      f.session.finish();
      const ss = f.session.stats;
      this.stats.unparsedBytes += ss.unparsed;
      this.stats.protocolErrors += ss.protocolErrors;
      this.stats.unpairedResponses += ss.unpaired;
      const v = f.session.respVersion; // a RESP connection may have switched to 3 (HELLO 3)
      this.#w.connection({
        id: f.id,
        protocol: f.session.protocol,
        ...(v !== undefined ? { respVersion: v } : {}),
        openUs: f.openUs,
        closeUs: f.lastUs,
        sawOpen: f.sawOpen,
        sawClose: f.sawClose,
      });
    } else if (!f.ignored && f.earlyBytes > 0) {
      this.stats.undetected++;
      this.stats.unparsedBytes += f.earlyBytes;
    }
  }

  #sweep(): void {
    this.#sinceSweep = 0;
    const limit = this.#nowUs - this.#idleUs;
    for (const [k, f] of this.#flows) if (f.lastUs < limit) this.#close(k, f);
  }
}

/** The first bytes (up to 64) the client sent, across the chunks held so far. */
function firstClientBytes(early: ReadonlyArray<{ side: string; data: Uint8Array }>): Uint8Array {
  const out = new Uint8Array(64);
  let n = 0;
  for (const x of early) {
    if (x.side !== "client") continue;
    const k = Math.min(x.data.length, out.length - n);
    out.set(x.data.subarray(0, k), n);
    n += k;
    if (n === out.length) break;
  }
  return out.subarray(0, n);
}
