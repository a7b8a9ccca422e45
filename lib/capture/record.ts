import { Anonymizer } from "../anonymize/mod.ts";
import { MembenchError } from "../errors/mod.ts";
import { isProtocolName, PROTOCOL_NAMES, type ProtocolName } from "../protocol/mod.ts";
import { type ProfileHeader, ProfileWriter } from "../profile/mod.ts";
import { VERSION } from "../version.ts";
import { LiveCapture, type LiveCaptureStats } from "./libpcap.ts";
import { CaptureFile, type PacketView } from "./pcap_file.ts";
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
  /** Server ports to record. @default {[11211, 6379]} */
  ports?: number[];
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
  /** Stopped by the signal, `count` or `durationMs`. */
  stoppedEarly: boolean;
  /** Live: libpcap's own receive and drop counters at the end. */
  pcap?: LiveCaptureStats;
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
  const ports = o.ports ?? [11211, 6379];
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
      ...(o.filter !== undefined ? { filter: o.filter } : {}),
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
      : `${cap!.format} file, ports ${ports.join(",")}`;
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
      ports,
      ...(o.protocol ? { protocol: o.protocol } : {}),
      ...(o.respVersion ? { respVersion: o.respVersion } : {}),
    };
    let stoppedEarly = false;
    let firstUs = -1;
    // One packet; false to stop.
    const onPacket = (p: PacketView): boolean => {
      if (!rec) {
        firstUs = p.tsUs;
        writer = new ProfileWriter(out!, header(p.tsUs), o.output);
        rec = new Recorder(writer, anon, opts);
      }
      if (o.durationMs !== undefined && p.tsUs - firstUs > o.durationMs * 1000) {
        stoppedEarly = true;
        return false;
      }
      rec.packet(p);
      if (o.count !== undefined && rec.stats.packets >= o.count) {
        stoppedEarly = true;
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
          break;
        }
        if (o.durationMs !== undefined && Date.now() - started >= o.durationMs) {
          stoppedEarly = true;
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
      if (go && stoppedEarly) {
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
    return {
      ...stats,
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
