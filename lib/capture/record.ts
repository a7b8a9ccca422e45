import { Anonymizer } from "../anonymize/mod.ts";
import { MembenchError } from "../errors/mod.ts";
import { isProtocolName, PROTOCOL_NAMES, type ProtocolName } from "../protocol/mod.ts";
import { type ProfileHeader, ProfileWriter } from "../profile/mod.ts";
import { VERSION } from "../version.ts";
import { LiveCapture, type LiveCaptureStats } from "./libpcap.ts";
import { CaptureFile, type PacketView } from "./pcap_file.ts";
import { REFUSED_REASONS } from "./detect.ts";
import type { PortSeen } from "./port_survey.ts";
import { Recorder, type RecordStats } from "./recorder.ts";

/** Options for {@linkcode record}. */
export interface RecordOptions {
  /** A pcap or pcapng file to read (or `interface` for a live capture). */
  pcap?: string;
  /** Capture live on this interface through libpcap (`lo`, `eth0`, `any`). */
  interface?: string;
  /** Live: BPF filter instead of the one built from `ports`. */
  filter?: string;
  /** Live: bytes kept per packet. @default {262144} */
  snaplen?: number;
  /** Live: promiscuous mode. @default {false} */
  promisc?: boolean;
  /** Live: kernel buffer in bytes. @default {64 MiB} */
  bufferSize?: number;
  /** The profile to write. */
  output: string;
  /**
   * Server ports to record, or `"auto"`: every TCP connection whose first request detects as a
   * cache protocol (live, the filter is then `tcp`). @default {[11211, 6379]}
   */
  ports?: number[] | "auto";
  /** Force a protocol instead of detecting it per connection. */
  protocol?: ProtocolName;
  /**
   * RESP: the version connections speak from their first captured byte (3 for a capture that
   * starts after the clients' HELLO 3). @default {2}
   */
  respVersion?: 2 | 3;
  /** Salt for the key hash (text, or `hex:…`); fresh random bytes when absent. Never written. */
  salt?: string | Uint8Array;
  /** Hash the first N key tokens on their own, keeping the namespace. @default {0} */
  keepTokens?: number;
  /** Token delimiter. @default {":"} */
  tokenDelimiter?: string;
  /** Keep Redis cluster slots. @default {false} */
  keepSlots?: boolean;
  /** Stop after this many packets. */
  count?: number;
  /** Stop after this much capture time. */
  durationMs?: number;
  /** Aborting stops reading; the profile is finished with what was read. */
  signal?: AbortSignal;
  /** Called every 100,000 packets (file) or every second (live). */
  onProgress?: (p: RecordProgress) => void;
  /**
   * Called once the source is open, before the first packet: for a live capture, from then on
   * packets are captured (what tcpdump's "listening on" line says).
   */
  onStart?: (s: { source: string; live: boolean }) => void;
}

/** Progress of a recording. */
export interface RecordProgress {
  /** Packets so far. */
  packets: number;
  /** Events so far. */
  events: number;
  /** Live flows. */
  flows: number;
  /** Gaps so far. */
  gaps: number;
  /** Live: libpcap's counters. */
  pcap?: LiveCaptureStats;
}

/** The result of {@linkcode record}. */
export interface RecordResult extends RecordStats {
  /** Profile written. */
  output: string;
  /** The salt's fingerprint (the salt itself is never kept). */
  saltFingerprint: string;
  /** Input format and whether the file was cut short. */
  input: { format: string; truncated: boolean; warning?: string; sliced: number };
  /** Stopped by the signal (Ctrl+C) before the input ended. */
  stoppedEarly: boolean;
  /**
   * What ended the recording: the end of the file (or of the live capture), the signal, the
   * packet `count`, or `durationMs` of capture time.
   */
  stoppedBy: "end" | "signal" | "count" | "duration";
  /** The ports recorded: those asked, or with `ports: "auto"` those where connections were. */
  ports: number[];
  /** Ports not asked for whose streams detect as a cache protocol, most streams first. */
  suggestedPorts: number[];
  /**
   * What the recording cannot vouch for, one sentence each: kernel drops, TCP gaps, refused
   * streams, unknown libpcap counters. Empty when the profile holds everything on the ports.
   */
  warnings: string[];
  /** Set when no event was recorded: why, and what to try. */
  nothingRecorded?: { message: string; hint: string };
  /** Live: libpcap's own receive and drop counters at the end. */
  pcap?: LiveCaptureStats;
}

/** Streams of a port that detect as a cache protocol. */
function cacheStreams(c: PortSeen["cache"]): number {
  let n = 0;
  for (const v of Object.values(c)) n += v ?? 0;
  return n;
}

/** What the warnings and the empty-recording message are computed from. */
interface RecordFacts extends RecordStats {
  pcap: LiveCaptureStats | undefined;
  ports: number[];
  suggestedPorts: number[];
  live: boolean;
}

/** Refusals as "3 http on 8080, 1 tls on 6379". */
function refusalText(byPort: RecordStats["refusedByPort"]): string {
  const parts: string[] = [];
  for (const [port, reasons] of Object.entries(byPort)) {
    for (const r of REFUSED_REASONS) {
      const n = reasons[r];
      if (n) parts.push(`${n} ${r} on ${port}`);
    }
  }
  return parts.join(", ");
}

/** A port seen and what its streams are, as "10625 (474 packets, streams: 1 resp)". */
function portText(p: PortSeen): string {
  const kinds = [
    ...Object.entries(p.cache).map(([k, n]) => `${n} ${k}`),
    ...Object.entries(p.refused).map(([k, n]) => `${n} ${k}`),
  ];
  return `${p.port} (${p.packets.toLocaleString("en-US")} packets${
    kinds.length > 0 ? `, streams: ${kinds.join(", ")}` : ""
  })`;
}

/** The warnings of a recording (see {@linkcode RecordResult.warnings}). */
function recordWarnings(r: RecordFacts): string[] {
  const w: string[] = [];
  const n = (x: number) => x.toLocaleString("en-US");
  if (r.pcap) {
    if (r.pcap.unknown !== undefined) {
      w.push(`libpcap's drop counters are unknown (${r.pcap.unknown}): losses cannot be ruled out`);
    } else if ((r.pcap.dropped ?? 0) + (r.pcap.ifDropped ?? 0) > 0) {
      w.push(
        `libpcap dropped ${n(r.pcap.dropped ?? 0)} packets (kernel buffer full) and the ` +
          `interface ${n(r.pcap.ifDropped ?? 0)}: the profile misses their requests ` +
          "(raise --buffer-size, or narrow --filter)",
      );
    }
  }
  if (r.gaps > 0) {
    w.push(
      `${n(r.gaps)} TCP gap${r.gaps === 1 ? "" : "s"} (${
        n(r.lostBytes)
      } bytes the capture lost): requests in them are ` +
        "missing, and their connections were resynchronised",
    );
  }
  const refused = REFUSED_REASONS.reduce((a, k) => a + r.refused[k], 0);
  if (refused > 0) {
    w.push(
      `refused ${n(refused)} connection${refused === 1 ? "" : "s"} that ${
        refused === 1 ? "is" : "are"
      } not a cache protocol: ${refusalText(r.refusedByPort)}`,
    );
  }
  return w;
}

/** Why nothing was recorded, and what to try. */
function nothingRecorded(r: RecordFacts, auto: boolean): { message: string; hint: string } {
  const asked = auto ? "on any port" : `on the ports asked (${r.ports.join(", ")})`;
  const seen = r.portsSeen.slice(0, 5);
  const message = r.connections > 0
    ? `no request recorded: ${r.connections} connection(s) ${asked} carried none`
    : `no cache traffic ${asked}` +
      (seen.length > 0 ? `; TCP traffic seen on ${seen.map(portText).join(", ")}` : "");
  let hint: string;
  if (r.suggestedPorts.length > 0) {
    hint = `try ${r.suggestedPorts.slice(0, 5).map((p) => `-p ${p}`).join(" ")} ` +
      "(their streams start with cache requests), or --ports auto";
  } else if (seen.length > 0) {
    hint = `none of it starts like memcached or RESP; if a cache server listens on ${
      seen.map((p) => p.port).join(" or ")
    }, try -p PORT with --protocol`;
  } else if (r.live && !auto) {
    hint = "the capture filter kept only these ports: try --ports auto to look at all TCP traffic";
  } else if (r.packets === 0) {
    hint = "the input holds no packet";
  } else {
    hint = "the input holds no TCP payload on these ports";
  }
  return { message, hint };
}

/**
 * Records a capture file (our own pcap/pcapng reader) or a live interface (libpcap) into a
 * profile: reassembles TCP, pairs requests with responses, hashes keys under the salt, and
 * streams events to the profile. A live capture runs until `signal`, `durationMs` or `count`.
 * Never prints.
 *
 * @throws {MembenchError} `file` for an unreadable capture or output, `invalid_argument` for bad
 *   options.
 */
export async function record(o: RecordOptions): Promise<RecordResult> {
  if (o.protocol !== undefined && !isProtocolName(o.protocol)) {
    throw new MembenchError(
      "invalid_argument",
      `Cannot record with protocol ${JSON.stringify(o.protocol)}: expected one of ${
        PROTOCOL_NAMES.join(", ")
      } (the RESP version is the option respVersion, 2 or 3)`,
    );
  }
  if (o.respVersion !== undefined && o.respVersion !== 2 && o.respVersion !== 3) {
    throw new MembenchError(
      "invalid_argument",
      `Cannot record with respVersion ${o.respVersion}: expected 2 or 3`,
    );
  }
  const auto = o.ports === "auto";
  const ports = o.ports === "auto" ? [] : o.ports ?? [11211, 6379];
  if (o.ports !== undefined && !auto && !Array.isArray(o.ports)) {
    throw new MembenchError(
      "invalid_argument",
      `Cannot record ports ${JSON.stringify(o.ports)}: give port numbers or "auto"`,
    );
  }
  if (!auto && ports.length === 0) {
    throw new MembenchError("invalid_argument", 'Cannot record no port: give ports or "auto"');
  }
  for (const p of ports) {
    if (!Number.isInteger(p) || p < 1 || p > 65535) {
      throw new MembenchError("invalid_argument", `Cannot use port ${p}: must be 1..65535`);
    }
  }
  const anon = await Anonymizer.create({
    ...(o.salt !== undefined ? { salt: o.salt } : {}),
    ...(o.keepTokens !== undefined ? { keepTokens: o.keepTokens } : {}),
    ...(o.tokenDelimiter !== undefined ? { tokenDelimiter: o.tokenDelimiter } : {}),
    ...(o.keepSlots !== undefined ? { keepSlots: o.keepSlots } : {}),
  });
  if ((o.pcap === undefined) === (o.interface === undefined)) {
    throw new MembenchError(
      "invalid_argument",
      "Cannot record: give either a pcap file or an interface",
    );
  }
  const live = o.interface !== undefined
    ? LiveCapture.open({
      interface: o.interface,
      ports,
      ...(o.filter !== undefined ? { filter: o.filter } : auto ? { filter: "tcp" } : {}),
      ...(o.snaplen !== undefined ? { snaplen: o.snaplen } : {}),
      ...(o.promisc !== undefined ? { promisc: o.promisc } : {}),
      ...(o.bufferSize !== undefined ? { bufferSize: o.bufferSize } : {}),
    })
    : undefined;
  let cap: CaptureFile | undefined;
  let out: Deno.FsFile | undefined;
  let writer: ProfileWriter | undefined;
  try {
    if (!live) cap = await CaptureFile.open(o.pcap!);
    try {
      out = await Deno.open(o.output, { write: true, create: true, truncate: true });
    } catch (e) {
      throw new MembenchError("file", `Cannot create profile ${o.output}: ${(e as Error).message}`);
    }
    const source = live
      ? `live capture on ${o.interface}, filter ${JSON.stringify(live.filter)}`
      : `${cap!.format} file, ports ${auto ? "auto" : ports.join(",")}`;
    o.onStart?.({ source, live: live !== undefined });
    const header = (startUs: number): Omit<ProfileHeader, "formatVersion"> => ({
      tool: `membench ${VERSION}`,
      createdAt: new Date(startUs / 1000).toISOString(),
      startUs,
      source,
      anonymization: {
        scheme: "siphash-2-4",
        saltFingerprint: anon.fingerprint,
        keepTokens: anon.keepTokens,
        tokenDelimiter: anon.tokenDelimiter,
        keepSlots: anon.keepSlots,
      },
    });
    let rec: Recorder | undefined;
    const opts = {
      ports: auto ? "auto" as const : ports,
      ...(o.protocol ? { protocol: o.protocol } : {}),
      ...(o.respVersion ? { respVersion: o.respVersion } : {}),
    };
    let stoppedEarly = false;
    let stoppedBy: RecordResult["stoppedBy"] = "end";
    let firstUs = -1;
    // One packet; false to stop.
    const onPacket = (p: PacketView): boolean => {
      if (!rec) {
        firstUs = p.tsUs;
        writer = new ProfileWriter(out!, header(p.tsUs), o.output);
        rec = new Recorder(writer, anon, opts);
      }
      if (o.durationMs !== undefined && p.tsUs - firstUs > o.durationMs * 1000) {
        stoppedBy = "duration";
        return false;
      }
      rec.packet(p);
      if (o.count !== undefined && rec.stats.packets >= o.count) {
        stoppedBy = "count";
        return false;
      }
      return true;
    };
    const progress = () =>
      o.onProgress?.({
        packets: rec?.stats.packets ?? 0,
        events: rec?.stats.events ?? 0,
        flows: rec?.flows ?? 0,
        gaps: rec?.stats.gaps ?? 0,
        ...(live ? { pcap: live.stats() } : {}),
      });
    if (live) {
      const started = Date.now();
      let lastProgress = started;
      let go = true;
      while (go) {
        if (o.signal?.aborted) {
          stoppedEarly = true;
          stoppedBy = "signal";
          break;
        }
        if (o.durationMs !== undefined && Date.now() - started >= o.durationMs) {
          stoppedBy = "duration";
          break;
        }
        const n = live.drain((p) => {
          if (go && !onPacket(p)) go = false;
        });
        if (Date.now() - lastProgress >= 1000) {
          lastProgress = Date.now();
          progress();
        }
        if (writer) await writer.drain();
        if (n === 0) await new Promise((r) => setTimeout(r, 1));
      }
      // Stopped by the signal or the duration: what libpcap already holds was captured before
      // the stop, so it is recorded too (immediate mode hands it over at once).
      if (go && stoppedBy !== "end") {
        for (let i = 0; i < 10_000 && go; i++) {
          const n = live.drain((p) => {
            if (go && !onPacket(p)) go = false;
          });
          if (n === 0) break;
        }
      }
    } else {
      await cap!.forEach((p: PacketView) => {
        if (o.signal?.aborted) {
          stoppedEarly = true;
          stoppedBy = "signal";
          return false;
        }
        if (!onPacket(p)) return false;
        if (rec!.stats.packets % 100_000 === 0) {
          progress();
          return writer!.drain(); // backpressure
        }
      });
    }
    const pcapStats = live?.stats();
    if (!writer) {
      writer = new ProfileWriter(out!, header(Date.now() * 1000), o.output);
      rec = new Recorder(writer, anon, opts);
    }
    const stats = rec!.finish();
    await writer.close({
      packets: stats.packets,
      bytes: stats.bytes,
      gaps: stats.gaps,
      lostBytes: stats.lostBytes,
      retransmits: stats.retransmits,
      fragments: stats.fragments,
      unparsedBytes: stats.unparsedBytes,
      // Unknown counters (pcap_stats failed) are left out and flagged, never written as 0.
      ...(pcapStats && pcapStats.unknown === undefined
        ? {
          pcapReceived: pcapStats.received!,
          pcapDropped: pcapStats.dropped!,
          pcapIfDropped: pcapStats.ifDropped!,
        }
        : {}),
      ...(pcapStats?.unknown !== undefined ? { pcapStatsUnknown: 1 } : {}),
    });
    writer = undefined;
    out = undefined;
    const recorded = auto
      ? Object.keys(stats.recordedPorts).map(Number).sort((a, b) => a - b)
      : ports;
    const suggestedPorts = stats.portsSeen.filter((p) => cacheStreams(p.cache) > 0)
      .sort((a, b) => cacheStreams(b.cache) - cacheStreams(a.cache) || b.packets - a.packets)
      .map((p) => p.port);
    const facts = { ...stats, pcap: pcapStats, ports: recorded, suggestedPorts, live: !!live };
    const nothing = stats.events === 0 ? nothingRecorded(facts, auto) : undefined;
    return {
      ...stats,
      ports: recorded,
      suggestedPorts,
      warnings: recordWarnings(facts),
      ...(nothing ? { nothingRecorded: nothing } : {}),
      stoppedBy,
      output: o.output,
      saltFingerprint: anon.fingerprint,
      input: {
        format: live ? "live" : cap!.format,
        truncated: cap?.truncated ?? false,
        sliced: cap?.sliced ?? 0,
        ...(cap?.warning ? { warning: cap.warning } : {}),
      },
      stoppedEarly,
      ...(pcapStats ? { pcap: pcapStats } : {}),
    };
  } finally {
    cap?.close();
    live?.close();
    if (writer) await writer.abort();
    else if (out) {
      try {
        out.close();
      } catch { /* closed */ }
    }
  }
}
