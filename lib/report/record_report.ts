// This module uses no Deno APIs.
import { withSchema } from "./schemas.ts";
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
  /** Stopped by the signal (Ctrl+C). */
  stoppedEarly: boolean;
  /** What ended the recording (older results: only `stoppedEarly`). */
  stoppedBy?: "end" | "signal" | "count" | "duration";
  /** The ports recorded (with `--ports auto`, those where connections were). */
  ports?: number[];
  /** Connections refused as not a cache protocol, per reason. */
  refused?: Record<string, number>;
  /** Those refusals per server port. */
  refusedByPort?: Record<string, Partial<Record<string, number>>>;
  /** TCP traffic on ports not recorded, busiest first. */
  portsSeen?: Array<{
    port: number;
    packets: number;
    streams: number;
    cache: Partial<Record<string, number>>;
    refused: Partial<Record<string, number>>;
  }>;
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
    (r.input.truncated ? " (file truncated)" : "") + stopText(r),
    `  salt fingerprint: ${r.saltFingerprint}`,
    ...(r.ports ? [`  ports: ${r.ports.join(", ") || "none"}`] : []),
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
    } unpaired responses, ${n(r.undetected)} connections ended before their protocol was told`,
  ];
  const refused = Object.values(r.refused ?? {}).reduce((a, b) => a + b, 0);
  if (refused > 0) {
    const byPort = Object.entries(r.refusedByPort ?? {}).map(([port, m]) =>
      `${port}: ${Object.entries(m).map(([k, c]) => `${k} ${n(c ?? 0)}`).join(", ")}`
    );
    lines.push(
      `  refused (not a cache protocol): ${n(refused)} connections (${byPort.join("; ")})`,
    );
  }
  if (r.portsSeen && r.portsSeen.length > 0) {
    const seen = r.portsSeen.slice(0, 5).map((p) => {
      const kinds = [...Object.entries(p.cache), ...Object.entries(p.refused)]
        .map(([k, c]) => `${k} ${n(c ?? 0)}`);
      return `${p.port} (${n(p.packets)} packets${
        kinds.length > 0 ? `; streams: ${kinds.join(", ")}` : ""
      })`;
    });
    lines.push(
      `  other ports: ${seen.join(", ")}${
        r.portsSeen.length > 5 ? `, and ${r.portsSeen.length - 5} more` : ""
      }`,
    );
  }
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

/** How the recording ended, as the input line says it ("" at the end of the input). */
function stopText(r: RecordSummaryView): string {
  const by = r.stoppedBy ?? (r.stoppedEarly ? "signal" : "end");
  switch (by) {
    case "signal":
      return " (stopped early: interrupted)";
    case "duration":
      return " (ended at its --duration)";
    case "count":
      return " (ended at its --count of packets)";
    default:
      return "";
  }
}

/** `membench record --json`: the whole record result (`membench/record-summary@1`). */
export function formatRecordJson(r: RecordSummaryView): string {
  return JSON.stringify(withSchema("record-summary", r), null, 2) + "\n";
}
