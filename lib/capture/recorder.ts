import { type Anonymizer, clusterSlot } from "../anonymize/mod.ts";
import type { ProtocolName } from "../protocol/mod.ts";
import type { ProfileWriter } from "../profile/mod.ts";
import { decodeTcp, newSegment, Skip, TcpFlag, type TcpSegment } from "./decode.ts";
import {
  classifyServerFirst,
  DETECT_LINE_MAX,
  detectInStream,
  newSession,
  type RefusedReason,
} from "./detect.ts";
import { type PortSeen, PortSurvey } from "./port_survey.ts";
import type { PacketView } from "./pcap_file.ts";
import type { KeyHasher, Session, SessionEvent } from "./session.ts";
import { seqDiff, TcpStream } from "./tcp_stream.ts";

/** Options of a {@linkcode Recorder}. */
export interface RecorderOptions {
  /**
   * Server ports: connections to them are recorded, and they say which side is the client.
   * `"auto"`: every TCP connection whose first request detects as a cache protocol (the server
   * side is the SYN's destination, else the lower port).
   */
  ports: number[] | "auto";
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
  /** Connections that ended before their first request could be told (ignored). */
  undetected: number;
  /**
   * Connections refused because their first bytes are not a cache-protocol request, per reason
   * (`http`, `tls`, `ssh`, `unknown`).
   */
  refused: Record<RefusedReason, number>;
  /** Those refusals per server port. */
  refusedByPort: Record<string, Partial<Record<RefusedReason, number>>>;
  /** Connections recorded per server port. */
  recordedPorts: Record<string, number>;
  /**
   * TCP traffic on ports not asked for (busiest first, at most 20), with what its streams
   * detect as; empty with `ports: "auto"`.
   */
  portsSeen: PortSeen[];
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
  /** Client bytes were lost: server bytes may come first without the server speaking first. */
  clientLost: boolean;
  /** Why the connection was refused (not a cache protocol). */
  refused: RefusedReason | undefined;
  /** The client's first bytes, kept until the protocol is known. */
  head: Uint8Array;
  headLen: number;
  /** Where detection goes on in `head` (a stream caught mid-request skips lines). */
  scanFrom: number;
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
    refused: { http: 0, tls: 0, ssh: 0, unknown: 0 },
    refusedByPort: {},
    recordedPorts: {},
    portsSeen: [],
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
  #auto: boolean;
  #survey: PortSurvey | undefined;
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
    this.#auto = options.ports === "auto";
    this.#ports = new Set(options.ports === "auto" ? [] : options.ports);
    this.#survey = this.#auto ? undefined : new PortSurvey();
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
    const a = `${seg.src}|${seg.sport}`;
    const b = `${seg.dst}|${seg.dport}`;
    const key = a < b ? `${a}>${b}` : `${b}>${a}`;
    if (!this.#auto && !this.#ports.has(seg.dport) && !this.#ports.has(seg.sport)) {
      st.skipped.otherPorts++;
      this.#survey!.segment(seg, key, t);
      return;
    }
    st.segments++;
    let f = this.#flows.get(key);
    const syn = (seg.flags & TcpFlag.Syn) !== 0;
    const ackFlag = (seg.flags & TcpFlag.Ack) !== 0;
    if (!f) {
      // Which side is the client: the SYN sender, else the side not on a server port.
      let clientIsSrc: boolean;
      if (syn && !ackFlag) clientIsSrc = true;
      else if (syn && ackFlag) clientIsSrc = false;
      else if (this.#auto) clientIsSrc = seg.sport > seg.dport; // the lower port serves
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
    if (f.refused !== undefined) {
      // Not a cache protocol: no reassembly, only the end of the connection.
      if ((seg.flags & TcpFlag.Rst) !== 0 || (!fromClient && (seg.flags & TcpFlag.Fin) !== 0)) {
        this.#flows.delete(key);
      }
      return;
    }
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
    if (this.#survey) this.stats.portsSeen = this.#survey.result().slice(0, 20);
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
      refused: undefined,
      clientLost: false,
      head: EMPTY,
      headLen: 0,
      scanFrom: 0,
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
      if (f.refused === undefined) this.stats.unparsedBytes += len;
      return;
    }
    if (!f.session) {
      // Held until the protocol is known (bounded), then handed to the session in order.
      f.early.push({ side, data: buf.slice(off, off + len), t });
      f.earlyBytes += len;
      const limit = f.earlyBytes > EARLY_MAX;
      if (side === "server" && f.headLen === 0) {
        // memcached and Redis never speak first: a server that does, on a connection seen from
        // its SYN, is something else (a capture caught mid-connection holds replies instead).
        if (this.#force) this.#start(f, this.#force);
        else if (f.sawOpen && !f.clientLost) {
          this.#refuse(f, classifyServerFirst(buf.subarray(off, off + len)));
        } else if (limit) {
          // Only replies (a subscriber caught mid-connection, say): not told, not refused.
          f.ignored = true;
          this.stats.undetected++;
          this.stats.unparsedBytes += f.earlyBytes;
          f.early = [];
        }
        return;
      }
      if (side === "client") {
        // Detected from the client's first bytes however they were segmented.
        const room = f.head.length - f.headLen;
        if (room < len && f.head.length < EARLY_MAX) {
          const grown = new Uint8Array(Math.min(EARLY_MAX, Math.max(f.headLen + len, 512) * 2));
          grown.set(f.head.subarray(0, f.headLen));
          f.head = grown;
        }
        const n = Math.min(len, f.head.length - f.headLen);
        f.head.set(buf.subarray(off, off + n), f.headLen);
        f.headLen += n;
      }
      const r = detectInStream(f.head.subarray(0, f.headLen), f.scanFrom, f.serverPort, {
        midStream: !f.sawOpen && !this.#force,
        final: limit,
      });
      f.scanFrom = r.from;
      const d = r.detection;
      if (this.#force) {
        // A forced protocol still refuses what is plainly something else (HTTP, TLS, SSH).
        if (d && "refused" in d && d.refused !== "unknown") this.#refuse(f, d.refused);
        else if (d || limit || f.headLen >= DETECT_LINE_MAX) this.#start(f, this.#force);
        return;
      }
      if (d && "protocol" in d) this.#start(f, d.protocol);
      else if (d) this.#refuse(f, d.refused);
      else if (limit) this.#refuse(f, "unknown");
      return;
    }
    if (side === "client") f.session!.client(buf, off, len, t);
    else f.session!.server(buf, off, len, t);
  }

  #refuse(f: Flow, reason: RefusedReason): void {
    f.ignored = true;
    f.refused = reason;
    this.stats.refused[reason]++;
    const byPort = this.stats.refusedByPort[f.serverPort] ??= {};
    byPort[reason] = (byPort[reason] ?? 0) + 1;
    f.early = [];
    f.earlyBytes = 0;
    f.head = EMPTY;
    f.headLen = 0;
  }

  #start(f: Flow, protocol: ProtocolName): void {
    f.protocol = protocol;
    f.id = this.#nextId++;
    this.stats.connections++;
    this.stats.recordedPorts[f.serverPort] = (this.stats.recordedPorts[f.serverPort] ?? 0) + 1;
    f.head = EMPTY;
    f.headLen = 0;
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
    if (side === "client") f.clientLost = true;
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
      args: e.args,
      tokens: e.tokens,
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
      // Ended before its protocol was told: what its bytes say now, judged as they are.
      const d = detectInStream(f.head.subarray(0, f.headLen), f.scanFrom, f.serverPort, {
        midStream: !f.sawOpen,
        final: true,
      }).detection;
      if (f.headLen > 0 && d && "refused" in d) this.#refuse(f, d.refused);
      else {
        this.stats.undetected++;
        this.stats.unparsedBytes += f.earlyBytes;
      }
    }
  }

  #sweep(): void {
    this.#sinceSweep = 0;
    const limit = this.#nowUs - this.#idleUs;
    for (const [k, f] of this.#flows) if (f.lastUs < limit) this.#close(k, f);
  }
}

/** Client bytes held before a connection's protocol is told; beyond them it is refused. */
const EARLY_MAX = 65_536;

const EMPTY = new Uint8Array(0);
