// deno-lint-ignore-file no-console
import { MembenchError } from "../lib/errors/mod.ts";
import {
  type FidelityThresholds,
  replay,
  type ReplayOptions,
  type ReplayProtocol,
  synthesize,
} from "../lib/replay/mod.ts";
import { parseDurationMs } from "../lib/units/mod.ts";
import { formatReplayText } from "../lib/report/mod.ts";
import { intFlag, parseFlags } from "./args.ts";
import { EXIT } from "./exit_codes.ts";

export const REPLAY_HELP =
  `membench replay: play a profile against a server, and say how faithful it was

Usage: membench replay PROFILE [-h HOST] [-p PORT | -u URI] [flags]

Target
  -h, --host HOST            server (default 127.0.0.1)
  -p, --port PORT            port (default 11211 for memcached, 6379 for RESP)
  -u, --uri URI              redis://[user:pass@]host:port, or host:port
  -a, --password PASS        AUTH / SASL password (or set REDISCLI_AUTH; never printed);
                             --user NAME
      --protocol P           memcache-text, memcache-meta, memcache-binary or resp (default:
                             the recorded one; others are translated for the commands that map)

Replay
      --mode M               exact (default): the recorded events; synthetic: traffic generated
                             from the profile's analysis (mix, popularity, sizes, TTLs, rate)
      --speed S              1 = recorded pace (default), 2 = twice as fast, max = as fast as
                             replies allow, keeping each connection's recorded pipelining
      --loop L               once (default), N times, or forever (Ctrl+C stops cleanly)
      --connections N        fold the recorded connections onto N, or multiply them
      --separate-keyspaces   multiplied copies use their own keys
      --warmup               first store the keys whose first access was a hit, with their sizes
      --seed N               synthetic mode: seed (default 1); --duration D: its length
      --popularity P         synthetic mode: zipf or empirical (default: zipf if it fits well)

Fidelity thresholds (exit 4 when one fails)
      --max-hit-ratio-diff X     e.g. 0.02 (2 points) per read command
      --max-mix-diff X           share of each command
      --max-size-ks X            Kolmogorov-Smirnov distance of value sizes
      --max-lateness-p99 D       e.g. 2ms
      --max-rate-error X         mean relative error of events per second
      --max-errors N

Output
      --json FILE                the result as JSON ("-" for stdout)

Exit codes: 0 ok, 2 invalid flags, 3 connection failure, 4 a threshold failed, 5 unreadable
profile, 130 interrupted (the partial report is printed).
`;

const FLAGS = {
  host: { type: "string", short: "h" },
  port: { type: "string", short: "p" },
  uri: { type: "string", short: "u" },
  password: { type: "string", short: "a" },
  user: { type: "string" },
  protocol: { type: "string" },
  mode: { type: "string" },
  speed: { type: "string" },
  loop: { type: "string" },
  connections: { type: "string" },
  "separate-keyspaces": { type: "boolean" },
  warmup: { type: "boolean" },
  seed: { type: "string" },
  duration: { type: "string" },
  popularity: { type: "string" },
  "max-hit-ratio-diff": { type: "string" },
  "max-mix-diff": { type: "string" },
  "max-size-ks": { type: "string" },
  "max-lateness-p99": { type: "string" },
  "max-rate-error": { type: "string" },
  "max-errors": { type: "string" },
  json: { type: "string" },
  help: { type: "boolean" },
} as const;

const PROTOCOLS = ["memcache-text", "memcache-meta", "memcache-binary", "resp"];

/** `membench replay`: returns the exit code. */
export async function replayCommand(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseFlags(argv, FLAGS);
  if (v.help) {
    console.log(REPLAY_HELP);
    return EXIT.ok;
  }
  const s = (k: string) => v[k] as string | undefined;
  const problems: string[] = [];
  if (positionals.length !== 1) problems.push("membench replay takes one PROFILE");
  const protocol = s("protocol");
  if (protocol !== undefined && !PROTOCOLS.includes(protocol)) {
    problems.push(
      `Cannot use flag '--protocol': expected ${PROTOCOLS.join(", ")}: current value is ${
        JSON.stringify(protocol)
      }`,
    );
  }
  const mode = s("mode") ?? "exact";
  if (mode !== "exact" && mode !== "synthetic") {
    problems.push(
      `Cannot use flag '--mode': expected exact or synthetic: current value is ${
        JSON.stringify(mode)
      }`,
    );
  }
  let speed: number | "max" = 1;
  if (s("speed") !== undefined) {
    speed = s("speed") === "max" ? "max" : Number(s("speed"));
    if (speed !== "max" && !(speed > 0)) {
      problems.push(
        `Cannot use flag '--speed': expected a number > 0 or max: current value is ${
          JSON.stringify(s("speed"))
        }`,
      );
    }
  }
  let loop: number | "forever" = 1;
  const l = s("loop");
  if (l !== undefined && l !== "once") {
    loop = l === "forever" ? "forever" : Number(l);
    if (loop !== "forever" && !(Number.isInteger(loop) && loop >= 1)) {
      problems.push(
        `Cannot use flag '--loop': expected once, a count or forever: current value is ${
          JSON.stringify(l)
        }`,
      );
    }
  }
  const num = (flag: string) => {
    const x = s(flag);
    if (x === undefined) return undefined;
    const n = Number(x);
    if (!(n >= 0)) {
      problems.push(
        `Cannot use flag '--${flag}': expected a number >= 0: current value is ${
          JSON.stringify(x)
        }`,
      );
    }
    return n;
  };
  const thresholds: FidelityThresholds = {};
  const t = (k: keyof FidelityThresholds, flag: string) => {
    const n = num(flag);
    if (n !== undefined) thresholds[k] = n;
  };
  t("maxHitRatioDiff", "max-hit-ratio-diff");
  t("maxMixDiff", "max-mix-diff");
  t("maxSizeKs", "max-size-ks");
  t("maxRateError", "max-rate-error");
  t("maxErrors", "max-errors");
  try {
    if (s("max-lateness-p99") !== undefined) {
      thresholds.maxLatenessP99Us = parseDurationMs(s("max-lateness-p99")!) * 1000;
    }
  } catch (e) {
    problems.push(`Cannot use flag '--max-lateness-p99': ${(e as Error).message}`);
  }
  const connections = intFlag("--connections", s("connections"), 1);
  const seed = intFlag("--seed", s("seed"), 0);
  let durationMs: number | undefined;
  try {
    if (s("duration") !== undefined) durationMs = parseDurationMs(s("duration")!);
  } catch (e) {
    problems.push(`Cannot use flag '--duration': ${(e as Error).message}`);
  }
  const popularity = s("popularity");
  if (popularity !== undefined && popularity !== "zipf" && popularity !== "empirical") {
    problems.push(
      `Cannot use flag '--popularity': expected zipf or empirical: current value is ${
        JSON.stringify(popularity)
      }`,
    );
  }
  if (problems.length > 0) throw new MembenchError("invalid_argument", problems.join("\n"));
  const port = s("port");
  const target = s("uri") ??
    (s("host") !== undefined || port !== undefined
      ? `${s("host") ?? "127.0.0.1"}${port !== undefined ? `:${port}` : ""}`
      : undefined);
  const ac = new AbortController();
  let sigints = 0;
  const onSigint = () => {
    if (++sigints > 1) Deno.exit(EXIT.interrupted);
    ac.abort();
  };
  Deno.addSignalListener("SIGINT", onSigint);
  let tmp: string | undefined;
  try {
    let profile = positionals[0]!;
    let synthetic: Awaited<ReturnType<typeof synthesize>> | undefined;
    if (mode === "synthetic") {
      tmp = await Deno.makeTempFile({ suffix: ".mbp" });
      synthetic = await synthesize({
        profile,
        output: tmp,
        ...(seed !== undefined ? { seed } : {}),
        ...(durationMs !== undefined ? { durationMs } : {}),
        ...(popularity !== undefined ? { popularity: popularity as "zipf" | "empirical" } : {}),
        ...(connections !== undefined ? { connections } : {}),
      });
      console.error(
        `synthetic: ${synthetic.events} events, ${synthetic.popularity} popularity over ${synthetic.keyspace} keys` +
          `${synthetic.exponent ? ` (exponent ${synthetic.exponent})` : ""}, seed ${
            seed ?? 1
          }, digest ${synthetic.digest}`,
      );
      profile = tmp;
    }
    const password = s("password") ?? Deno.env.get("REDISCLI_AUTH");
    const opts: ReplayOptions = {
      profile,
      speed,
      loop,
      thresholds,
      signal: ac.signal,
      ...(target !== undefined ? { target } : {}),
      ...(password !== undefined ? { password } : {}),
      ...(s("user") !== undefined ? { user: s("user")! } : {}),
      ...(protocol !== undefined ? { protocol: protocol as ReplayProtocol } : {}),
      ...(connections !== undefined && mode === "exact" ? { connections } : {}),
      ...(v["separate-keyspaces"] ? { separateKeyspaces: true } : {}),
      ...(v.warmup ? { warmup: true } : {}),
    };
    const r = await replay(opts);
    const out = synthetic
      ? {
        ...r,
        synthetic: {
          digest: synthetic.digest,
          events: synthetic.events,
          popularity: synthetic.popularity,
          seed: seed ?? 1,
        },
      }
      : r;
    if (s("json") === "-") console.log(JSON.stringify(out, null, 2));
    else console.log(formatReplayText(r));
    if (s("json") !== undefined && s("json") !== "-") {
      await Deno.writeTextFile(s("json")!, JSON.stringify(out, null, 2) + "\n");
    }
    if (r.interrupted) return EXIT.interrupted;
    if (r.failure) {
      console.error(`membench: ${r.failure.message}`);
      return EXIT.connection;
    }
    return r.fidelity.pass ? EXIT.ok : EXIT.threshold;
  } finally {
    Deno.removeSignalListener("SIGINT", onSigint);
    if (tmp) await Deno.remove(tmp).catch(() => {});
  }
}
