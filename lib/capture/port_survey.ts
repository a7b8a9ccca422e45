// This module uses no Deno APIs.
/**
 * What TCP traffic a recording skipped because it was on ports nobody asked for: per port, its
 * packets and streams, and what each stream's first client bytes detect as (a cache protocol,
 * or a refusal). It is what "no cache traffic on the ports asked; try -p 10625" is built from.
 *
 * @module
 */
import type { ProtocolName } from "../protocol/mod.ts";
import { DETECT_LINE_MAX, detectInStream, type RefusedReason } from "./detect.ts";
import { TcpFlag, type TcpSegment } from "./decode.ts";

/** TCP traffic seen on a port that was not recorded. */
export interface PortSeen {
  /** The server port (the SYN's destination; without a SYN, the lower port of the pair). */
  port: number;
  /** Packets to or from it. */
  packets: number;
  /** TCP payload bytes to or from it. */
  bytes: number;
  /** Streams whose client sent bytes. */
  streams: number;
  /** Streams whose first request detects as a cache protocol, per protocol. */
  cache: Partial<Record<ProtocolName, number>>;
  /** Streams refused, per reason. */
  refused: Partial<Record<RefusedReason, number>>;
}

interface Sniff {
  port: number;
  clientIp: string;
  clientPort: number;
  midStream: boolean;
  head: Uint8Array | undefined;
  len: number;
  from: number;
  lastUs: number;
  done: boolean;
}

/** Flows followed at once; beyond it new flows are counted by their packets only. */
const MAX_FLOWS = 65_536;
/** A flow silent this long is forgotten (capture time). */
const IDLE_US = 60_000_000;

/**
 * Per-port counters of TCP traffic the recorder skipped, with a light protocol sniff of each
 * stream's first client bytes (in arrival order, no reassembly: a survey, not a recording).
 * Memory is bounded: two 64 Ki-entry arrays and at most {@linkcode MAX_FLOWS} flows.
 */
export class PortSurvey {
  #packets = new Uint32Array(65_536);
  #bytes = new Float64Array(65_536);
  #ports = new Map<number, PortSeen>();
  #flows = new Map<string, Sniff>();
  #since = 0;

  /** Takes a decoded TCP segment on a port not recorded; `t` is capture time (µs). */
  segment(seg: TcpSegment, key: string, t: number): void {
    const syn = (seg.flags & TcpFlag.Syn) !== 0;
    const ack = (seg.flags & TcpFlag.Ack) !== 0;
    let f = this.#flows.get(key);
    if (f === undefined) {
      if (this.#flows.size >= MAX_FLOWS) this.#sweep(t);
      const clientIsSrc = syn ? !ack : seg.sport > seg.dport;
      f = {
        port: clientIsSrc ? seg.dport : seg.sport,
        clientIp: clientIsSrc ? seg.src : seg.dst,
        clientPort: clientIsSrc ? seg.sport : seg.dport,
        midStream: !syn,
        head: undefined,
        len: 0,
        from: 0,
        lastUs: t,
        done: false,
      };
      if (this.#flows.size < MAX_FLOWS) this.#flows.set(key, f);
      else f.done = true; // too many at once: counted, not sniffed
    }
    const port = f.port;
    this.#packets[port]!++;
    this.#bytes[port]! += seg.wireLen;
    if (++this.#since >= 4096) this.#sweep(t);
    f.lastUs = t;
    if (f.done) return;
    const fromClient = seg.src === f.clientIp && seg.sport === f.clientPort;
    if (!fromClient || seg.len === 0) {
      // A server that speaks first is no cache server; its bytes say nothing of the client's.
      return;
    }
    if (f.len === 0) {
      f.head = new Uint8Array(DETECT_LINE_MAX * 2);
      this.#port(f.port).streams++;
    }
    const n = Math.min(seg.len, f.head!.length - f.len);
    f.head!.set(seg.buf.subarray(seg.off, seg.off + n), f.len);
    f.len += n;
    const full = f.len === f.head!.length;
    const r = detectInStream(f.head!.subarray(0, f.len), f.from, f.port, {
      midStream: f.midStream,
      final: full,
    });
    f.from = r.from;
    const d = r.detection;
    if (d === undefined) return;
    const p = this.#port(f.port);
    if ("protocol" in d) p.cache[d.protocol] = (p.cache[d.protocol] ?? 0) + 1;
    else p.refused[d.refused] = (p.refused[d.refused] ?? 0) + 1;
    f.done = true;
    f.head = undefined;
  }

  /** The ports seen, busiest first (by packets). */
  result(): PortSeen[] {
    const out: PortSeen[] = [];
    for (let port = 0; port < 65_536; port++) {
      if (this.#packets[port] === 0) continue;
      const p = this.#ports.get(port);
      out.push({
        port,
        packets: this.#packets[port]!,
        bytes: this.#bytes[port]!,
        streams: p?.streams ?? 0,
        cache: p?.cache ?? {},
        refused: p?.refused ?? {},
      });
    }
    return out.sort((a, b) => b.packets - a.packets || a.port - b.port);
  }

  #port(port: number): PortSeen {
    let p = this.#ports.get(port);
    if (!p) {
      p = { port, packets: 0, bytes: 0, streams: 0, cache: {}, refused: {} };
      this.#ports.set(port, p);
    }
    return p;
  }

  #sweep(t: number): void {
    this.#since = 0;
    for (const [k, f] of this.#flows) {
      if (t - f.lastUs > IDLE_US) this.#flows.delete(k);
    }
  }
}
