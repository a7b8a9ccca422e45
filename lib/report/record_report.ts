// This module uses no Deno APIs.
/**
 * What the end-of-record summary reads: the fields of capture's `RecordResult` it shows. Written
 * out here because `report/` may not import `capture/`'s types (the layer table); a
 * `RecordResult` is one of these.
 */
export interface RecordSummaryView {
  /** Events written. */
  events: number;
  /** Connections recorded. */
  connections: number;
  /** The profile written. */
  output: string;
  /** Input format, and whether it was cut short or sliced by the snaplen. */
  input: { format: string; truncated: boolean; sliced: number };
  /** Packets read. */
  packets: number;
  /** Bytes of packet data read. */
  bytes: number;
  /** Capture time covered, µs. */
  durationUs: number;
  /** Stopped by the signal, the count or the duration. */
  stoppedEarly: boolean;
  /** The salt's fingerprint. */
  saltFingerprint: string;
  /** Events per op name. */
  eventsPerCommand: Record<string, number>;
  /** TCP segments on the recorded ports. */
  segments: number;
  /** Holes in TCP streams. */
  gaps: number;
  /** Bytes lost in those holes. */
  lostBytes: number;
  /** Retransmitted segments dropped. */
  retransmits: number;
  /** Segments that arrived out of order. */
  outOfOrder: number;
  /** IP fragments. */
  fragments: number;
  /** Packets skipped, by reason. */
  skipped: { otherPorts: number; notTcp: number; notIp: number; malformed: number };
  /** Bytes that could not be parsed. */
  unparsedBytes: number;
  /** Protocol errors met. */
  protocolErrors: number;
  /** Responses without a request. */
  unpairedResponses: number;
  /** Connections whose protocol could not be told. */
  undetected: number;
  /** Live: libpcap's counters (null when unknown). */
  pcap?: {
    received: number | null;
    dropped: number | null;
    ifDropped: number | null;
    unknown?: string;
  };
}

/** The end-of-record summary, as text. */
export function formatRecordSummary(r: RecordSummaryView): string {
  const n = (x: number) => x.toLocaleString("en-US");
  const lines = [
    `recorded ${n(r.events)} events from ${n(r.connections)} connections into ${r.output}`,
    `  input: ${r.input.format}, ${n(r.packets)} packets, ${n(r.bytes)} bytes, ${
      (r.durationUs / 1e6).toFixed(3)
    } s` +
    (r.input.truncated ? " (file truncated)" : "") + (r.stoppedEarly ? " (stopped early)" : ""),
    `  salt fingerprint: ${r.saltFingerprint}`,
    `  events per command: ${
      Object.entries(r.eventsPerCommand).sort((a, b) => b[1] - a[1]).map(([k, c]) => `${k} ${n(c)}`)
        .join(", ") || "none"
    }`,
    `  tcp: ${n(r.segments)} segments, ${n(r.gaps)} gaps (${n(r.lostBytes)} bytes lost), ${
      n(r.retransmits)
    } retransmits, ${n(r.outOfOrder)} out of order`,
    `  skipped: ${n(r.fragments)} ip fragments, ${n(r.skipped.otherPorts)} on other ports, ${
      n(r.skipped.notTcp)
    } not tcp, ${n(r.skipped.notIp)} not ip, ${n(r.skipped.malformed)} malformed`,
    `  parsing: ${n(r.unparsedBytes)} unparsed bytes, ${n(r.protocolErrors)} protocol errors, ${
      n(r.unpairedResponses)
    } unpaired responses, ${n(r.undetected)} connections of unknown protocol`,
  ];
  if (r.input.sliced > 0) {
    lines.push(`  ${n(r.input.sliced)} packets were cut by the capture's snaplen`);
  }
  if (r.pcap) {
    const c = (x: number | null) => x === null ? "unknown" : n(x);
    lines.push(
      `  libpcap: ${c(r.pcap.received)} received by the filter, ${
        c(r.pcap.dropped)
      } dropped (buffer full), ${c(r.pcap.ifDropped)} dropped by the interface` +
        (r.pcap.unknown !== undefined ? ` (counters unknown: ${r.pcap.unknown})` : ""),
    );
  }
  return lines.join("\n");
}
