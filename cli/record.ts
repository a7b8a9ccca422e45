/**
 * `membench record` (flags -> `record()` -> the record summary) and `membench profile` (info,
 * verify, dump).
 *
 * @module
 */
import { record } from "../lib/capture/mod.ts";
import { EXIT } from "../lib/errors/mod.ts";
import { eventAt, ProfileReader, verifyProfile } from "../lib/profile/mod.ts";
import { PROTOCOL_NAMES, type ProtocolName } from "../lib/protocol/mod.ts";
import {
  formatProfileCheck,
  formatProfileCheckJson,
  formatProfileInfo,
  formatProfileInfoJson,
  formatRecordJson,
  formatRecordProgress,
  formatRecordSummary,
} from "../lib/report/mod.ts";
import { OUTPUT_FLAGS, PROTOCOL_FLAG_NORMALIZE, writeJson } from "./common_flags.ts";
import {
  BadValue,
  bool,
  type CommandSpec,
  custom,
  defined,
  duration,
  int,
  oneOf,
  type ParsedArgs,
  type Problems,
  size,
  text,
  withSpec,
} from "./flags.ts";
import { runCommand, showHelp } from "./runner.ts";

/** One `--port` value: a port number, or `auto`. */
function parsePort(raw: string): number | "auto" {
  const s = raw.trim();
  if (s.toLowerCase() === "auto") return "auto";
  const n = Number(s);
  if (!/^\d+$/.test(s) || n < 1 || n > 65535) {
    throw new BadValue("expected an integer from 1 to 65535, or auto");
  }
  return n;
}

/** `--protocol`'s values: the protocol names, and the old `resp2`/`resp3` (resp of that version). */
const RECORD_PROTOCOLS = [...PROTOCOL_NAMES, "resp2", "resp3"] as const;

const RECORD_FLAGS = {
  pcap: text({
    value: "FILE",
    section: "Input",
    help: "a pcap or pcapng file (tcpdump -w, tshark -w); read without libpcap",
  }),
  interface: text({
    short: "i",
    value: "IF",
    section: "Input",
    help: "capture live through libpcap (libpcap0.8; root or CAP_NET_RAW); runs until Ctrl+C, " +
      "--duration or --count",
  }),
  filter: text({
    value: "BPF",
    section: "Input",
    help: "live: capture filter",
    defaultText: "tcp and the --port values",
  }),
  snaplen: int({
    value: "N",
    min: 64,
    section: "Input",
    help: "live: bytes kept per packet",
    defaultText: "262144",
  }),
  promisc: bool({ section: "Input", help: "live: promiscuous mode" }),
  bufferSize: size({
    value: "SIZE",
    section: "Input",
    help: "live: kernel buffer",
    defaultText: "64MiB",
  }),
  port: custom({
    short: "p",
    aliases: ["ports"],
    value: "PORT",
    multiple: true,
    section: "Input",
    help: "server port to record; repeat for several. 'auto' (--ports auto): every TCP " +
      "connection whose first request is memcached or RESP, whatever its port (live: filter " +
      "tcp). Connections that are not (HTTP, TLS, SSH, other bytes) are refused and counted",
    defaultText: "11211 and 6379",
  }, parsePort),
  protocol: oneOf(RECORD_PROTOCOLS, {
    value: "P",
    section: "Input",
    help: `force ${PROTOCOL_NAMES.join(", ")} instead of detecting it per connection (resp2 and ` +
      "resp3 are read as resp with --resp-version 2 or 3)",
    normalize: PROTOCOL_FLAG_NORMALIZE,
  }),
  respVersion: int({
    value: "N",
    min: 2,
    max: 3,
    section: "Input",
    help: "RESP: the version connections speak from their first captured byte (3 for a capture " +
      "that starts after the clients' HELLO 3)",
    defaultText: "2",
  }),
  count: int({ value: "N", min: 1, section: "Input", help: "stop after N packets" }),
  duration: duration({
    value: "D",
    section: "Input",
    help: 'stop after D of capture time ("60s")',
  }),
  salt: text({
    value: "S",
    env: "MEMBENCH_SALT",
    secret: true,
    section: "Anonymization (no key or value byte is ever written)",
    help: "salt for the keyed hash (text, or hex:...); without one, fresh random bytes (profiles " +
      "then cannot be joined)",
  }),
  keepTokens: int({
    value: "N",
    section: "Anonymization (no key or value byte is ever written)",
    help: "hash the first N key tokens on their own (keeps the namespace)",
  }),
  tokenDelimiter: text({
    value: "C",
    section: "Anonymization (no key or value byte is ever written)",
    help: "token delimiter for --keep-tokens",
    defaultText: '":"',
  }),
  keepSlots: bool({
    section: "Anonymization (no key or value byte is ever written)",
    help: "keep each key's Redis cluster slot",
  }),
  output: text({
    short: "o",
    value: "FILE",
    required: true,
    section: "Output",
    help: "the profile to write",
  }),
  json: withSpec(OUTPUT_FLAGS.json, { help: 'the summary as JSON ("-" for stdout)' }),
};

/** `membench record`: name, help and flags. */
export const RECORD: CommandSpec<typeof RECORD_FLAGS> = {
  name: "record",
  summary: "capture memcached and RESP traffic into an anonymized profile",
  usage: [
    "membench record --pcap FILE -o PROFILE [flags]",
    "membench record --interface lo -p 11211 -o PROFILE [--duration 60s] [flags]",
  ],
  flags: RECORD_FLAGS,
  footer:
    "Exit codes: 0 ok, 2 invalid flags, 5 unreadable capture or profile, or nothing recorded " +
    "(the profile is written, empty; the message names the ports with traffic), 130 interrupted " +
    "(profile finished). Warnings (stderr): kernel drops, TCP gaps, refused connections.",
};

/** `--protocol` and `--resp-version` as record() options (`resp3`: resp, version 3). */
function protocolOptions(
  p: (typeof RECORD_PROTOCOLS)[number] | undefined,
  version: number | undefined,
): { protocol?: ProtocolName; respVersion?: 2 | 3 } {
  const legacy = p === "resp2" ? 2 : p === "resp3" ? 3 : undefined;
  const respVersion = version ?? legacy;
  return defined({
    protocol: p === undefined ? undefined : legacy !== undefined ? "resp" : p as ProtocolName,
    respVersion: respVersion as 2 | 3 | undefined,
  });
}

function prepareRecord(
  { values: v, positionals }: ParsedArgs<typeof RECORD_FLAGS>,
  problems: Problems,
): ParsedArgs<typeof RECORD_FLAGS>["values"] {
  if (positionals.length > 0) problems.add(`Unexpected argument '${positionals[0]}'`);
  if (v.pcap === undefined && v.interface === undefined) {
    problems.add("Give '--pcap FILE' or '--interface IF'");
  }
  if (v.pcap !== undefined && v.interface !== undefined) {
    problems.add("Cannot use '--pcap' and '--interface' together: choose one");
  }
  if (v.port.includes("auto") && v.port.length > 1) {
    problems.add("Cannot use '--port auto' with port numbers: choose one");
  }
  const legacy = v.protocol === "resp2" ? 2 : v.protocol === "resp3" ? 3 : undefined;
  if (legacy !== undefined && v.respVersion !== undefined && v.respVersion !== legacy) {
    problems.add(
      `Cannot use '--protocol ${v.protocol}' with '--resp-version ${v.respVersion}': choose one`,
    );
  }
  return v;
}

/** `membench record`: returns the exit code. */
export function recordCommand(argv: readonly string[]): Promise<number> {
  return runCommand({
    spec: RECORD,
    prepare: prepareRecord,
    progress: (v) => v.json !== "-",
    async run(v, ctx) {
      const r = await record({
        output: v.output,
        ...defined({
          pcap: v.pcap,
          interface: v.interface,
          filter: v.filter,
          snaplen: v.snaplen,
          promisc: v.promisc || undefined,
          bufferSize: v.bufferSize,
          ports: v.port.length === 0
            ? undefined
            : v.port[0] === "auto"
            ? "auto" as const
            : v.port as number[],
          salt: v.salt,
          keepTokens: v.keepTokens,
          tokenDelimiter: v.tokenDelimiter,
          keepSlots: v.keepSlots || undefined,
          count: v.count,
          durationMs: v.duration,
        }),
        ...protocolOptions(v.protocol, v.respVersion),
        signal: ctx.signal,
        // As tcpdump's "listening on": from this line on, packets are being captured.
        onStart: (st) => {
          if (st.live) ctx.note(`membench: listening: ${st.source} (Ctrl+C to stop)`);
        },
        onProgress: (p) => ctx.progress(formatRecordProgress(p)),
      });
      if (!await writeJson(ctx, v.json, () => formatRecordJson(r))) {
        ctx.print(formatRecordSummary(r));
      }
      if (r.input.warning) ctx.note(`membench: warning: ${r.input.warning}`);
      for (const w of r.warnings) ctx.note(`membench: warning: ${w}`);
      if (r.nothingRecorded) {
        // An empty profile is no recording: say why, and exit 5 as for an unreadable input.
        ctx.note(`membench: ${r.nothingRecorded.message}\n  hint: ${r.nothingRecorded.hint}`);
        if (!ctx.signal.aborted) return EXIT.input;
      }
      return { interrupted: ctx.signal.aborted };
    },
  }, argv);
}

const PROFILE_FLAGS = {
  json: withSpec(OUTPUT_FLAGS.json, {
    help: 'info, verify: the result as JSON ("-" for stdout)',
  }),
};

/** `membench profile`: name, help and flags. */
export const PROFILE: CommandSpec<typeof PROFILE_FLAGS> = {
  name: "profile",
  summary: "look inside a profile",
  usage: [
    "membench profile info FILE [--json FILE|-]     header, footer, counts, salt fingerprint",
    "membench profile verify FILE [--json FILE|-]   checksums and truncation; exit 5 when not whole",
    "membench profile dump FILE      every event as a JSON line",
  ],
  flags: PROFILE_FLAGS,
};

/** `membench profile`: returns the exit code (the help, and 2, without arguments). */
export async function profileCommand(argv: readonly string[]): Promise<number> {
  if (argv.length === 0) {
    showHelp(PROFILE);
    return EXIT.usage;
  }
  return await runCommand({
    spec: PROFILE,
    interruptible: false,
    prepare({ values, positionals: [sub, file, ...more] }, problems) {
      if (sub === undefined) problems.add("Give a profile command: info, verify or dump");
      else if (!["info", "verify", "dump"].includes(sub)) {
        problems.add(`Unknown profile subcommand '${sub}': use info, verify or dump`);
      } else if (file === undefined) {
        // `profile info --json x.mbp` (when --json was a switch): the profile went to --json.
        problems.add(
          `membench profile ${sub} needs a FILE${
            values.json !== undefined && values.json !== "-"
              ? ` (--json takes the output FILE, "-" for stdout: membench profile ${sub} ${values.json} --json -)`
              : ""
          }`,
        );
      }
      if (sub === "dump" && values.json !== undefined) {
        problems.add("Cannot use '--json' with 'profile dump': it writes JSON lines already");
      }
      if (more.length > 0) problems.add(`Unexpected argument '${more[0]}'`);
      return { sub: sub!, file: file!, json: values.json };
    },
    async run({ sub, file, json }, ctx) {
      if (sub === "verify") {
        const c = await verifyProfile(file);
        if (!await writeJson(ctx, json, () => formatProfileCheckJson(file, c))) {
          ctx.print(formatProfileCheck(c));
        }
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
        } else {
          let events = 0;
          for await (const b of r.blocks()) events += b.count;
          const info = {
            header: r.header,
            connections: [...r.connections.values()],
            events,
            footer: r.footer ?? null,
            truncated: r.truncated,
          };
          if (!await writeJson(ctx, json, () => formatProfileInfoJson(file, info))) {
            ctx.print(formatProfileInfo(file, info));
          }
        }
        if (r.warning) ctx.note(`membench: warning: ${r.warning}`);
        return EXIT.ok;
      } finally {
        r.close();
      }
    },
  }, argv);
}
