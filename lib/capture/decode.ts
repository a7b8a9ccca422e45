// This module uses no Deno APIs.
import type { PacketView } from "./pcap_file.ts";

/** Link types we decode. */
export const LinkType = {
  Null: 0,
  Ethernet: 1,
  RawAlt1: 12,
  RawAlt2: 14,
  Raw: 101,
  Loop: 108,
  Sll: 113,
  Ipv4: 228,
  Ipv6: 229,
  Sll2: 276,
} as const;

/** A decoded TCP segment; fields are overwritten by each {@linkcode decodeTcp} call. */
export interface TcpSegment {
  /** Source address as text (`10.0.0.1`, `fe80::1`). */
  src: string;
  /** Destination address as text. */
  dst: string;
  /** Source port. */
  sport: number;
  /** Destination port. */
  dport: number;
  /** Sequence number. */
  seq: number;
  /** Acknowledgement number. */
  ack: number;
  /** TCP flags byte (FIN 1, SYN 2, RST 4, PSH 8, ACK 16). */
  flags: number;
  /** Buffer of the payload. */
  buf: Uint8Array;
  /** Payload offset. */
  off: number;
  /** Payload bytes present in the capture. */
  len: number;
  /** Payload bytes on the wire (more than `len` when the snaplen cut the packet). */
  wireLen: number;
}

/** Why a packet was not a TCP segment. */
export const Skip = {
  /** A TCP segment: not skipped. */
  None: 0,
  /** Link type we do not decode. */
  LinkType: 1,
  /** Not IP (ARP, LLDP, …). */
  NotIp: 2,
  /** IP but not TCP (UDP, ICMP, …). */
  NotTcp: 3,
  /** An IP fragment: counted, not reassembled. */
  Fragment: 4,
  /** Headers cut short or inconsistent. */
  Malformed: 5,
} as const;

/** TCP flag bits. */
export const TcpFlag = { Fin: 1, Syn: 2, Rst: 4, Psh: 8, Ack: 16 } as const;

/**
 * Decodes one captured packet down to TCP: Ethernet (with 802.1Q/802.1ad VLAN tags), Linux
 * cooked SLL and SLL2, BSD loopback (NULL and LOOP), raw IP; IPv4 (options, padding trimmed by
 * the total length) and IPv6 (hop-by-hop, routing, destination options and AH extension
 * headers). Returns {@linkcode Skip.None} with `out` filled, or why the packet was skipped.
 */
export function decodeTcp(p: PacketView, out: TcpSegment): number {
  const b = p.buf;
  let o = p.off;
  const end = p.off + p.capLen;
  let ethType = 0;
  switch (p.linkType) {
    case LinkType.Ethernet:
      if (end - o < 14) return Skip.Malformed;
      ethType = (b[o + 12]! << 8) | b[o + 13]!;
      o += 14;
      while (ethType === 0x8100 || ethType === 0x88a8 || ethType === 0x9100) {
        if (end - o < 4) return Skip.Malformed;
        ethType = (b[o + 2]! << 8) | b[o + 3]!;
        o += 4;
      }
      break;
    case LinkType.Sll:
      if (end - o < 16) return Skip.Malformed;
      ethType = (b[o + 14]! << 8) | b[o + 15]!;
      o += 16;
      break;
    case LinkType.Sll2:
      if (end - o < 20) return Skip.Malformed;
      ethType = (b[o]! << 8) | b[o + 1]!;
      o += 20;
      break;
    case LinkType.Null:
    case LinkType.Loop: {
      if (end - o < 4) return Skip.Malformed;
      // NULL: address family in the capturing host's byte order; LOOP: network order.
      const le = b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24);
      const be = (b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!;
      const fam = p.linkType === LinkType.Loop ? be : (le > 0 && le < 256 ? le : be);
      ethType = fam === 2
        ? 0x0800
        : fam === 24 || fam === 28 || fam === 30 || fam === 10
        ? 0x86dd
        : 0;
      o += 4;
      break;
    }
    case LinkType.Raw:
    case LinkType.RawAlt1:
    case LinkType.RawAlt2:
    case LinkType.Ipv4:
    case LinkType.Ipv6:
      if (end - o < 1) return Skip.Malformed;
      ethType = (b[o]! >> 4) === 4 ? 0x0800 : (b[o]! >> 4) === 6 ? 0x86dd : 0;
      break;
    default:
      return Skip.LinkType;
  }
  let ipEnd = end;
  let wireEnd = p.off + p.origLen;
  if (ethType === 0x0800) {
    if (end - o < 20 || (b[o]! >> 4) !== 4) return Skip.Malformed;
    const ihl = (b[o]! & 15) * 4;
    const total = (b[o + 2]! << 8) | b[o + 3]!;
    if (ihl < 20 || total < ihl) return Skip.Malformed;
    const frag = ((b[o + 6]! & 0x3f) << 8) | b[o + 7]!; // MF flag and offset
    if (frag !== 0) return Skip.Fragment;
    if (b[o + 9] !== 6) return Skip.NotTcp;
    out.src = `${b[o + 12]}.${b[o + 13]}.${b[o + 14]}.${b[o + 15]}`;
    out.dst = `${b[o + 16]}.${b[o + 17]}.${b[o + 18]}.${b[o + 19]}`;
    ipEnd = Math.min(end, o + total);
    wireEnd = o + total;
    o += ihl;
  } else if (ethType === 0x86dd) {
    if (end - o < 40 || (b[o]! >> 4) !== 6) return Skip.Malformed;
    const payload = (b[o + 4]! << 8) | b[o + 5]!;
    let next = b[o + 6]!;
    out.src = ipv6(b, o + 8);
    out.dst = ipv6(b, o + 24);
    ipEnd = Math.min(end, o + 40 + payload);
    wireEnd = o + 40 + payload;
    o += 40;
    for (;;) {
      if (next === 6) break;
      if (next === 44) return Skip.Fragment;
      if (next === 0 || next === 43 || next === 60) {
        if (ipEnd - o < 8) return Skip.Malformed;
        next = b[o]!;
        o += (b[o + 1]! + 1) * 8;
      } else if (next === 51) {
        if (ipEnd - o < 8) return Skip.Malformed;
        next = b[o]!;
        o += (b[o + 1]! + 2) * 4;
      } else return Skip.NotTcp;
    }
  } else return Skip.NotIp;
  if (ipEnd - o < 20) return Skip.Malformed;
  const doff = (b[o + 12]! >> 4) * 4;
  if (doff < 20 || o + doff > ipEnd) return Skip.Malformed;
  out.sport = (b[o]! << 8) | b[o + 1]!;
  out.dport = (b[o + 2]! << 8) | b[o + 3]!;
  out.seq = ((b[o + 4]! << 24) | (b[o + 5]! << 16) | (b[o + 6]! << 8) | b[o + 7]!) >>> 0;
  out.ack = ((b[o + 8]! << 24) | (b[o + 9]! << 16) | (b[o + 10]! << 8) | b[o + 11]!) >>> 0;
  out.flags = b[o + 13]!;
  out.buf = b;
  out.off = o + doff;
  out.len = ipEnd - out.off;
  out.wireLen = Math.max(out.len, wireEnd - out.off);
  return Skip.None;
}

function ipv6(b: Uint8Array, o: number): string {
  const parts: string[] = [];
  for (let i = 0; i < 16; i += 2) parts.push(((b[o + i]! << 8) | b[o + i + 1]!).toString(16));
  return parts.join(":").replace(/(^|:)0(:0)+(:|$)/, "::");
}

/** A new, empty segment record for {@linkcode decodeTcp}. */
export function newSegment(): TcpSegment {
  return {
    src: "",
    dst: "",
    sport: 0,
    dport: 0,
    seq: 0,
    ack: 0,
    flags: 0,
    buf: new Uint8Array(0),
    off: 0,
    len: 0,
    wireLen: 0,
  };
}
