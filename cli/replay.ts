/**
 * `membench replay`: flags -> `synthesize()` (synthetic mode) and `replay()` -> the replay
 * renderers.
 *
 * @module
 */
import {
  type FidelityThresholds,
  replay,
  type ReplayOptions,
  synthesize,
  type SynthesizeResult,
} from "../lib/replay/mod.ts";
import {
  formatReplayJson,
  formatReplayProgress,
  formatReplayText,
  formatSyntheticLine,
} from "../lib/report/mod.ts";
import {
  AUTH_FLAGS,
  OUTPUT_FLAGS,
  PROTOCOL_FLAG,
  SERVER_METRICS_FLAGS,
  serverMetricsFrom,
  serverSnapshotOutputs,
  TARGET_FLAGS,
} from "./common_flags.ts";
import {
  BadValue,
  bool,
  type CommandSpec,
  custom,
  defined,
  duration,
  int,
  num,
  oneOf,
  type ParsedArgs,
  type Problems,
  withSpec,
} from "./flags.ts";
import { SHARD_FLAGS, shardOf } from "./shards.ts";
import { runCommand } from "./runner.ts";

const THRESHOLDS = "Fidelity thresholds (exit 4 when one fails)";

const REPLAY_FLAGS = {
  host: TARGET_FLAGS.host,
  port: TARGET_FLAGS.port,
  uri: withSpec(TARGET_FLAGS.uri, { help: "redis://[user:pass@]host:port, or host:port" }),
  protocol: withSpec(PROTOCOL_FLAG, {
    help: "the protocol to speak; others than the recorded one are translated for the commands " +
      "that map",
    defaultText: "the recorded one",
  }),
  ...AUTH_FLAGS,
  mode: oneOf(["exact", "synthetic"], {
    value: "M",
    section: "Replay",
    default: "exact",
    help: "exact: the recorded events; synthetic: traffic generated from the profile's analysis " +
      "(mix, popularity, sizes, TTLs, rate)",
  }),
  speed: custom({
    value: "S",
    section: "Replay",
    default: "1",
    help: "1 = recorded pace, 2 = twice as fast, max = as fast as replies allow, keeping each " +
      "connection's recorded pipelining",
  }, (s): number | "max" => {
    if (s === "max") return "max";
    const n = Number(s);
    if (!(n > 0)) throw new BadValue("expected a number > 0 or max");
    return n;
  }),
  loop: custom({
    value: "L",
    section: "Replay",
    default: "once",
    help: "once, N times, or forever (Ctrl+C stops cleanly)",
  }, (s): number | "forever" => {
    if (s === "once") return 1;
    if (s === "forever") return "forever";
    const n = Number(s);
    if (!(Number.isInteger(n) && n >= 1)) throw new BadValue("expected once, a count or forever");
    return n;
  }),
  connections: int({
    value: "N",
    min: 1,
    section: "Replay",
    help: "fold the recorded connections onto N, or multiply them",
  }),
  separateKeyspaces: bool({ section: "Replay", help: "multiplied copies use their own keys" }),
  warmup: bool({
    section: "Replay",
    help: "first store the keys whose first access was a hit, with their sizes",
  }),
  seed: int({ value: "N", section: "Replay", help: "synthetic mode: seed", defaultText: "1" }),
  duration: duration({
    value: "D",
    section: "Replay",
    help: "synthetic mode: length of the traffic",
    defaultText: "the recorded one",
  }),
  popularity: oneOf(["zipf", "empirical"], {
    value: "P",
    section: "Replay",
    help: "synthetic mode: key popularity",
    defaultText: "zipf if it fits well",
  }),
  maxHitRatioDiff: num({
    value: "X",
    section: THRESHOLDS,
    help: "e.g. 0.02 (2 points) per read command",
  }),
  maxMixDiff: num({ value: "X", section: THRESHOLDS, help: "share of each command" }),
  maxSizeKs: num({
    value: "X",
    section: THRESHOLDS,
    help: "Kolmogorov-Smirnov distance of value sizes",
  }),
  maxLatenessP99: duration({ value: "D", section: THRESHOLDS, help: "e.g. 2ms" }),
  maxRateError: num({
    value: "X",
    section: THRESHOLDS,
    help: "mean relative error of events per second",
  }),
  maxErrors: num({ value: "N", section: THRESHOLDS, help: "errors allowed" }),
  cluster: bool({
    section: "Replay",
    help: "replay into a Redis / Valkey cluster: nodes discovered from the target, each " +
      "request to its key's slot owner (keys keep their recorded slot when the profile kept slots: " +
      "record --keep-slots)",
  }),
  verifyServer: bool({
    section: "Replay",
    help: "compare the target's own counters (INFO commandstats, memcached stats) before and " +
      "after with the profile's requests per command",
  }),
  maxErrorRatioRise: num({
    value: "X",
    section: THRESHOLDS,
    help: "rise of a command's error ratio over the recording's",
    defaultText: "0.01",
  }),
  maxServerDiff: num({
    value: "X",
    section: THRESHOLDS,
    help: "with --verify-server: server counters vs the profile's requests (0 = the same)",
  }),
  io: oneOf(["auto", "uring", "deno"], {
    value: "KIND",
    section: "Replay",
    help: "hot-loop I/O: uring (io_uring, plain TCP to an IP address), deno, or auto",
    defaultText: "auto",
  }),
  timeout: duration({
    value: "D",
    section: "Replay",
    help: "a request unanswered this long fails its connection, which reconnects",
    defaultText: "10s",
  }),
  shard: withSpec(SHARD_FLAGS.shard, {
    help: "replay shard I (from 0) of N: its range of the replay connections; N shards " +
      "together replay every connection once (MEMBENCH_SHARD; in an Indexed Job " +
      "JOB_COMPLETION_INDEX with MEMBENCH_SHARDS=N)",
  }),
  startAt: SHARD_FLAGS.startAt,
  ...SERVER_METRICS_FLAGS,
  json: withSpec(OUTPUT_FLAGS.json, { help: 'the result as JSON ("-" for stdout)' }),
  noProgress: OUTPUT_FLAGS.noProgress,
};

// Flags that apply in one mode only, and why they do not apply in the other (an ignored flag
// is an error: a user who gives one expects it to change something).
const SYNTHETIC_ONLY: Partial<Record<keyof typeof REPLAY_FLAGS, string>> = {
  seed: "an exact replay sends what was recorded, in the recorded order; nothing is drawn",
  duration: "an exact replay lasts as long as the recording (--speed and --loop change that)",
  popularity: "an exact replay sends the recorded keys",
};
const EXACT_ONLY: Partial<Record<keyof typeof REPLAY_FLAGS, string>> = {
  separateKeyspaces: "synthetic traffic is generated for --connections connections and never " +
    "multiplied into copies",
};
// Flags that a replay at --speed max cannot honour.
const PACED_ONLY: Partial<Record<keyof typeof REPLAY_FLAGS, string>> = {
  maxLatenessP99: "lateness is measured against the recorded schedule, which --speed max does " +
    "not keep",
  maxRateError: "the rate is compared with the recorded rate, which --speed max does not keep",
};

// The kebab-case name of a flag key.
function flagName(key: string): string {
  return "--" + key.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());
}

/** `membench replay`: name, help and flags. */
export const REPLAY: CommandSpec<typeof REPLAY_FLAGS> = {
  name: "replay",
  summary: "play a profile against a server, and say how faithful it was",
  usage: ["membench replay PROFILE [-h HOST] [-p PORT | -u URI] [flags]"],
  flags: REPLAY_FLAGS,
  args: ["PROFILE"],
  footer: "Exit codes: 0 ok, 2 invalid flags, 3 connection failure, 4 a threshold failed, 5 " +
    "unreadable\nprofile, 130 interrupted (the partial report is printed).",
};

type ReplayValues = ParsedArgs<typeof REPLAY_FLAGS>["values"];

interface ReplayRun {
  profile: string;
  v: ReplayValues;
  thresholds: FidelityThresholds;
  target: string | undefined;
}

function prepare(
  { values: v, positionals, given }: ParsedArgs<typeof REPLAY_FLAGS>,
  problems: Problems,
): ReplayRun {
  if (v.uri.length > 1) problems.add("membench replay takes one '--uri'");
  const [other, why] = v.mode === "synthetic"
    ? ["exact", EXACT_ONLY]
    : ["synthetic", SYNTHETIC_ONLY];
  for (const [key, reason] of Object.entries(why)) {
    if (given.has(key as keyof typeof REPLAY_FLAGS)) {
      problems.add(
        `Cannot use flag '${flagName(key)}' in ${v.mode} mode: it applies to --mode ${other}: ` +
          reason,
      );
    }
  }
  if (v.mode === "exact" && v.separateKeyspaces && !given.has("connections")) {
    problems.add(
      "Cannot use flag '--separate-keyspaces' without '--connections': it gives each copy its " +
        "own keys when --connections multiplies the recorded connections",
    );
  }
  if (v.speed === "max") {
    for (const [key, reason] of Object.entries(PACED_ONLY)) {
      if (given.has(key as keyof typeof REPLAY_FLAGS)) {
        problems.add(`Cannot use flag '${flagName(key)}' with --speed max: ${reason}`);
      }
    }
  }
  const thresholds: FidelityThresholds = defined({
    maxHitRatioDiff: v.maxHitRatioDiff,
    maxMixDiff: v.maxMixDiff,
    maxSizeKs: v.maxSizeKs,
    maxRateError: v.maxRateError,
    maxErrors: v.maxErrors,
    maxServerDiff: v.maxServerDiff,
    maxErrorRatioRise: v.maxErrorRatioRise,
    maxLatenessP99Us: v.maxLatenessP99 === undefined ? undefined : v.maxLatenessP99 * 1000,
  });
  const target = v.uri.at(-1) ??
    (v.host !== undefined || v.port !== undefined
      ? `${v.host ?? "127.0.0.1"}${v.port !== undefined ? `:${v.port}` : ""}`
      : undefined);
  return { profile: positionals[0]!, v, thresholds, target };
}

/** `membench replay`: returns the exit code. */
export function replayCommand(argv: readonly string[]): Promise<number> {
  return runCommand({
    spec: REPLAY,
    prepare,
    async run({ profile, v, thresholds, target }, ctx) {
      let tmp: string | undefined;
      try {
        let synthetic: { result: SynthesizeResult; seed: number } | undefined;
        if (v.mode === "synthetic") {
          tmp = await Deno.makeTempFile({ suffix: ".mbp" });
          ctx.progress(`synthesizing traffic from ${profile}`);
          const result = await synthesize({
            profile,
            output: tmp,
            signal: ctx.signal,
            ...defined({
              seed: v.seed,
              durationMs: v.duration,
              popularity: v.popularity,
              connections: v.connections,
            }),
          });
          synthetic = { result, seed: v.seed ?? 1 };
          ctx.note(formatSyntheticLine(result, synthetic.seed));
          profile = tmp;
        }
        const opts: ReplayOptions = {
          profile,
          speed: v.speed,
          loop: v.loop,
          thresholds,
          signal: ctx.signal,
          onProgress: (p) => ctx.progress(formatReplayProgress(p)),
          ...defined({
            target,
            password: v.password,
            user: v.user,
            protocol: v.protocol,
            connections: v.mode === "exact" ? v.connections : undefined,
            separateKeyspaces: v.separateKeyspaces || undefined,
            warmup: v.warmup || undefined,
            verifyServer: v.verifyServer || v.maxServerDiff !== undefined || undefined,
            cluster: v.cluster || undefined,
            io: v.io,
            requestTimeoutMs: v.timeout,
            serverMetrics: serverMetricsFrom(v),
            shard: shardOf(v.shard),
            startAt: v.startAt,
          }),
        };
        const r = await replay(opts);
        if (v.json === "-") ctx.print(formatReplayJson(r, synthetic).trimEnd());
        else ctx.print(formatReplayText(r));
        if (v.json !== undefined && v.json !== "-") {
          await ctx.output(v.json, formatReplayJson(r, synthetic));
        }
        if (r.server) await serverSnapshotOutputs(v, { replay: r.server }, ctx);
        return { interrupted: r.interrupted, failure: r.failure, pass: r.fidelity.pass };
      } finally {
        if (tmp) await Deno.remove(tmp).catch(() => {});
      }
    },
  }, argv);
}
