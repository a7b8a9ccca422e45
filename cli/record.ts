// deno-lint-ignore-file no-console
import { record, type RecordResult } from "../lib/capture/mod.ts";
import { MembenchError } from "../lib/errors/mod.ts";
import { eventAt, type ProfileProtocol, ProfileReader, verifyProfile } from "../lib/profile/mod.ts";
import { parseDurationMs, parseSize } from "../lib/units/mod.ts";
import { intFlag, parseFlags } from "./args.ts";
import { EXIT } from "./exit_codes.ts";

export const RECORD_HELP =
  `membench record: capture memcached and RESP traffic into an anonymized profile

Usage: membench record --pcap FILE -o PROFILE [flags]
       membench record --interface lo -p 11211 -o PROFILE [--duration 60s] [flags]

Input
      --pcap FILE          a pcap or pcapng file (tcpdump -w, tshark -w); read without libpcap
  -i, --interface IF       capture live through libpcap (libpcap0.8; root or CAP_NET_RAW);
                           runs until Ctrl+C, --duration or --count
      --filter BPF         live: capture filter (default: tcp and the --port values)
      --snaplen N          live: bytes kept per packet (default 262144)
      --promisc            live: promiscuous mode
      --buffer-size SIZE   live: kernel buffer (default 64MiB)
  -p, --port PORT          server port to record (repeatable; default 11211 and 6379)
      --protocol P         force memcache-text, memcache-meta, memcache-binary, resp2 or resp3
      --count N            stop after N packets
      --duration D         stop after D of capture time ("60s")

Anonymization (no key or value byte is ever written)
      --salt S             salt for the keyed hash (text, or hex:...); or set MEMBENCH_SALT;
                           default: fresh random bytes (profiles then cannot be joined)
      --keep-tokens N      hash the first N key tokens on their own (keeps the namespace)
      --token-delimiter C  token delimiter for --keep-tokens (default ":")
      --keep-slots         keep each key's Redis cluster slot

Output
  -o, --output FILE        the profile to write
      --json               print the summary as JSON

Exit codes: 0 ok, 2 invalid flags, 5 unreadable capture or profile, 130 interrupted (profile finished).
`;

const FLAGS = {
  pcap: { type: "string" },
  port: { type: "string", short: "p", multiple: true },
  protocol: { type: "string" },
  count: { type: "string" },
  duration: { type: "string" },
  salt: { type: "string" },
  "keep-tokens": { type: "string" },
  "token-delimiter": { type: "string" },
  "keep-slots": { type: "boolean" },
  output: { type: "string", short: "o" },
  json: { type: "boolean" },
  interface: { type: "string", short: "i" },
  filter: { type: "string" },
  snaplen: { type: "string" },
  promisc: { type: "boolean" },
  "buffer-size": { type: "string" },
  help: { type: "boolean" },
} as const;

const PROTOCOLS = ["memcache-text", "memcache-meta", "memcache-binary", "resp2", "resp3"];

/** `membench record`: returns the exit code. */
export async function recordCommand(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseFlags(argv, FLAGS);
  if (v.help) {
    console.log(RECORD_HELP);
    return EXIT.ok;
  }
  const s = (k: string) => v[k] as string | undefined;
  const problems: string[] = [];
  if (positionals.length > 0) problems.push(`Unexpected argument '${positionals[0]}'`);
  if (s("pcap") === undefined && s("interface") === undefined) {
    problems.push("Give '--pcap FILE' or '--interface IF'");
  }
  if (s("pcap") !== undefined && s("interface") !== undefined) {
    problems.push("Cannot use '--pcap' and '--interface' together: choose one");
  }
  let bufferSize: number | undefined;
  try {
    if (s("buffer-size") !== undefined) bufferSize = parseSize(s("buffer-size")!);
  } catch (e) {
    problems.push(`Cannot use flag '--buffer-size': ${(e as Error).message}`);
  }
  const snaplen = intFlag("--snaplen", s("snaplen"), 64);
  if (s("output") === undefined) problems.push("Flag '--output' (-o) is required");
  const ports = ((v.port as string[] | undefined) ?? []).map((p) => intFlag("--port", p, 1)!);
  for (const p of ports) {
    if (p > 65535) problems.push(`Cannot use flag '--port': ${p} is not a port`);
  }
  const protocol = s("protocol");
  if (protocol !== undefined && !PROTOCOLS.includes(protocol)) {
    problems.push(
      `Cannot use flag '--protocol': expected ${PROTOCOLS.join(", ")}: current value is ${
        JSON.stringify(protocol)
      }`,
    );
  }
  let durationMs: number | undefined;
  try {
    if (s("duration") !== undefined) durationMs = parseDurationMs(s("duration")!);
  } catch (e) {
    problems.push(`Cannot use flag '--duration': ${(e as Error).message}`);
  }
  const count = intFlag("--count", s("count"), 1);
  const keepTokens = intFlag("--keep-tokens", s("keep-tokens"), 0);
  if (problems.length > 0) throw new MembenchError("invalid_argument", problems.join("\n"));
  const salt = s("salt") ?? Deno.env.get("MEMBENCH_SALT");
  const ac = new AbortController();
  const onSigint = () => ac.abort();
  Deno.addSignalListener("SIGINT", onSigint);
  const live = Deno.stderr.isTerminal() && !v.json;
  const enc = new TextEncoder();
  try {
    const r = await record({
      ...(s("pcap") !== undefined ? { pcap: s("pcap")! } : {}),
      ...(s("interface") !== undefined ? { interface: s("interface")! } : {}),
      ...(s("filter") !== undefined ? { filter: s("filter")! } : {}),
      ...(snaplen !== undefined ? { snaplen } : {}),
      ...(v.promisc ? { promisc: true } : {}),
      ...(bufferSize !== undefined ? { bufferSize } : {}),
      output: s("output")!,
      ...(ports.length > 0 ? { ports } : {}),
      ...(protocol ? { protocol: protocol as ProfileProtocol } : {}),
      ...(salt !== undefined ? { salt } : {}),
      ...(keepTokens !== undefined ? { keepTokens } : {}),
      ...(s("token-delimiter") !== undefined ? { tokenDelimiter: s("token-delimiter")! } : {}),
      ...(v["keep-slots"] ? { keepSlots: true } : {}),
      ...(count !== undefined ? { count } : {}),
      ...(durationMs !== undefined ? { durationMs } : {}),
      signal: ac.signal,
      // As tcpdump's "listening on": from this line on, packets are being captured.
      onStart: (st) => {
        if (st.live) console.error(`membench: listening: ${st.source} (Ctrl+C to stop)`);
      },
      ...(live
        ? {
          onProgress: (p) =>
            Deno.stderr.writeSync(enc.encode(
              `\r\x1b[K${p.packets.toLocaleString("en-US")} packets, ${
                p.events.toLocaleString("en-US")
              } events, ${p.flows} flows, ${p.gaps} gaps`,
            )),
        }
        : {}),
    });
    if (live) Deno.stderr.writeSync(enc.encode("\r\x1b[K"));
    if (v.json) console.log(JSON.stringify(r, null, 2));
    else console.log(formatRecordSummary(r));
    if (r.input.warning) console.error(`membench: warning: ${r.input.warning}`);
    return ac.signal.aborted ? EXIT.interrupted : EXIT.ok;
  } finally {
    Deno.removeSignalListener("SIGINT", onSigint);
  }
}

/** The end-of-record summary, as text. */
export function formatRecordSummary(r: RecordResult): string {
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

export const PROFILE_HELP = `membench profile: look inside a profile

Usage:
  membench profile info FILE      header, footer, counts, salt fingerprint (--json for JSON)
  membench profile verify FILE    checksums and truncation; exit 5 when not whole
  membench profile dump FILE      every event as a JSON line
`;

/** `membench profile`: returns the exit code. */
export async function profileCommand(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseFlags(argv, {
    json: { type: "boolean" },
    help: { type: "boolean" },
  });
  const [sub, file] = positionals;
  if (v.help || sub === undefined) {
    console.log(PROFILE_HELP);
    return v.help ? EXIT.ok : EXIT.usage;
  }
  if (file === undefined) {
    throw new MembenchError("invalid_argument", `membench profile ${sub} needs a FILE`);
  }
  if (sub === "verify") {
    const c = await verifyProfile(file);
    console.log(
      v.json
        ? JSON.stringify(c, null, 2)
        : `${c.ok ? "ok" : "NOT OK"}: ${c.events} events in ${c.blocks} blocks${
          c.truncated ? " (truncated)" : ""
        }${c.problems.map((p) => `\n  ${p}`).join("")}`,
    );
    return c.ok ? EXIT.ok : EXIT.input;
  }
  const r = await ProfileReader.open(file);
  try {
    if (sub === "dump") {
      const enc = new TextEncoder();
      const lines: string[] = [];
      for await (const b of r.blocks()) {
        for (let i = 0; i < b.count; i++) lines.push(JSON.stringify(eventAt(b, i, r.ops)));
        try {
          await Deno.stdout.write(enc.encode(lines.join("\n") + "\n"));
        } catch (e) {
          if (e instanceof Deno.errors.BrokenPipe) return EXIT.ok; // e.g. piped into head
          throw e;
        }
        lines.length = 0;
      }
    } else if (sub === "info") {
      let events = 0;
      for await (const b of r.blocks()) events += b.count;
      const info = {
        header: r.header,
        connections: [...r.connections.values()],
        events,
        footer: r.footer ?? null,
        truncated: r.truncated,
      };
      if (v.json) console.log(JSON.stringify(info, null, 2));
      else {
        console.log(
          `profile ${file}: format ${r.header.formatVersion}, written by ${r.header.tool}`,
        );
        console.log(`  created ${r.header.createdAt}, source: ${r.header.source}`);
        console.log(
          `  anonymization: ${r.header.anonymization.scheme}, salt fingerprint ${r.header.anonymization.saltFingerprint}`,
        );
        console.log(
          `  ${events} events, ${r.connections.size} connections${
            r.truncated ? " (TRUNCATED: footer missing)" : ""
          }`,
        );
        if (r.footer) {
          console.log(
            `  ops: ${Object.entries(r.footer.opCounts).map(([k, c]) => `${k} ${c}`).join(", ")}`,
          );
          console.log(
            `  capture: ${
              Object.entries(r.footer.capture).map(([k, c]) => `${k} ${c}`).join(", ")
            }`,
          );
        }
      }
    } else {throw new MembenchError(
        "invalid_argument",
        `Unknown profile subcommand '${sub}': use info, verify or dump`,
      );}
    if (r.warning) console.error(`membench: warning: ${r.warning}`);
    return EXIT.ok;
  } finally {
    r.close();
  }
}
