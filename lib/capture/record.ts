import { Anonymizer } from "../anonymize/mod.ts";
import { MembenchError } from "../errors/mod.ts";
import { type ProfileHeader, type ProfileProtocol, ProfileWriter } from "../profile/mod.ts";
import { VERSION } from "../version.ts";
import { CaptureFile, type PacketView } from "./pcap_file.ts";
import { Recorder, type RecordStats } from "./recorder.ts";

/** Options for {@linkcode record}. */
export interface RecordOptions {
  /** A pcap or pcapng file to read. */
  pcap: string;
  /** The profile to write. */
  output: string;
  /** Server ports to record. @default {[11211, 6379]} */
  ports?: number[];
  /** Force a protocol instead of detecting it per connection. */
  protocol?: ProfileProtocol;
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
  /** Called every 100,000 packets. */
  onProgress?: (p: RecordProgress) => void;
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
}

/**
 * Records a capture file into a profile: reads packets with our own pcap/pcapng reader,
 * reassembles TCP, pairs requests with responses, hashes keys under the salt, and streams events
 * to the profile. Never prints.
 *
 * @throws {MembenchError} `file` for an unreadable capture or output, `invalid_argument` for bad
 *   options.
 */
export async function record(o: RecordOptions): Promise<RecordResult> {
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
  const cap = await CaptureFile.open(o.pcap);
  let out: Deno.FsFile | undefined;
  let writer: ProfileWriter | undefined;
  try {
    try {
      out = await Deno.open(o.output, { write: true, create: true, truncate: true });
    } catch (e) {
      throw new MembenchError("file", `Cannot create profile ${o.output}: ${(e as Error).message}`);
    }
    const header = (startUs: number): Omit<ProfileHeader, "formatVersion"> => ({
      tool: `membench ${VERSION}`,
      createdAt: new Date(startUs / 1000).toISOString(),
      startUs,
      source: `${cap.format} file, ports ${ports.join(",")}`,
      anonymization: {
        scheme: "siphash-2-4",
        saltFingerprint: anon.fingerprint,
        keepTokens: anon.keepTokens,
        tokenDelimiter: anon.tokenDelimiter,
        keepSlots: anon.keepSlots,
      },
    });
    let rec: Recorder | undefined;
    const opts = { ports, ...(o.protocol ? { protocol: o.protocol } : {}) };
    let stoppedEarly = false;
    let firstUs = -1;
    await cap.forEach((p: PacketView) => {
      if (o.signal?.aborted) {
        stoppedEarly = true;
        return false;
      }
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
      const n = rec.stats.packets;
      if (o.count !== undefined && n >= o.count) {
        stoppedEarly = true;
        return false;
      }
      if (n % 100_000 === 0) {
        o.onProgress?.({
          packets: n,
          events: rec.stats.events,
          flows: rec.flows,
          gaps: rec.stats.gaps,
        });
        return writer!.drain(); // backpressure
      }
    });
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
    });
    writer = undefined;
    out = undefined;
    return {
      ...stats,
      output: o.output,
      saltFingerprint: anon.fingerprint,
      input: {
        format: cap.format,
        truncated: cap.truncated,
        sliced: cap.sliced,
        ...(cap.warning ? { warning: cap.warning } : {}),
      },
      stoppedEarly,
    };
  } finally {
    cap.close();
    if (writer) await writer.abort();
    else if (out) {
      try {
        out.close();
      } catch { /* closed */ }
    }
  }
}
