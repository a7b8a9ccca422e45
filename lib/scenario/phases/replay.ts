/**
 * `run.replay()`: a replay phase, exact (the recorded events) or synthetic (traffic generated
 * from the profile's analysis into a temporary profile under the output folder, then replayed).
 * The scenario's target is the default; the server is probed after the replay.
 *
 * @module
 */
import { parseTarget } from "../../net/mod.ts";
import {
  type FidelityThresholds,
  replay,
  type ReplayOptions,
  type ReplayResult,
  synthesize,
  type SynthesizeResult,
} from "../../replay/mod.ts";
import { replayMetrics } from "../metrics.ts";
import type { PhaseContext, PhaseOptions } from "../phase.ts";
import { anySignal, phaseNameOr, requireObject, unknownOptions } from "../_util.ts";
import { metricNamesOf } from "../metric_names.ts";

/** Options of {@linkcode Run.replay}: exact or synthetic replay. */
export type ReplayPhaseOptions = Omit<ReplayOptions, "thresholds"> & PhaseOptions & {
  /** Limits of the fidelity report's own checks (`maxHitRatioDiff`, …); thresholds over `fidelity.*` metrics do the same. */
  fidelity?: FidelityThresholds;
  /** `exact` replays the events; `synthetic` generates traffic from the profile's analysis. @default {"exact"} */
  mode?: "exact" | "synthetic";
  /** Synthetic: seed. @default the scenario's seed */
  seed?: number;
  /** Synthetic: length of the generated traffic, ms. @default the recorded length */
  durationMs?: number;
  /** Synthetic: key popularity model. */
  popularity?: "zipf" | "empirical";
};

/** What a replay phase returns: the replay, and for synthetic mode the generator's digest. */
export type ReplayPhaseResult = ReplayResult & {
  synthetic?: Pick<SynthesizeResult, "digest" | "events" | "popularity" | "keyspace"> & {
    seed: number;
  };
};

// Every option of a replay phase (`deno check` fails when the type gains an option this list lacks).
const REPLAY_KEYS = {
  name: true,
  thresholds: true,
  warnings: true,
  profile: true,
  target: true,
  password: true,
  user: true,
  clientName: true,
  protocol: true,
  speed: true,
  loop: true,
  connections: true,
  separateKeyspaces: true,
  warmup: true,
  lateThresholdUs: true,
  connectTimeoutMs: true,
  requestTimeoutMs: true,
  reconnect: true,
  io: true,
  serverMetrics: true,
  signal: true,
  onProgress: true,
  verifyServer: true,
  cluster: true,
  shard: true,
  startAt: true,
  fidelity: true,
  mode: true,
  seed: true,
  durationMs: true,
  popularity: true,
} satisfies Record<keyof ReplayPhaseOptions, true>;

/** Runs a replay phase in the scenario `ctx`. */
export function replayPhase(
  ctx: PhaseContext,
  o: ReplayPhaseOptions,
): Promise<ReplayPhaseResult> {
  requireObject("the replay phase", o);
  const {
    name: given,
    thresholds,
    warnings,
    mode,
    seed,
    durationMs,
    popularity,
    fidelity,
    ...ro
  } = o;
  const problems: string[] = [];
  const name = phaseNameOr(ctx, "replay", given, problems);
  const unknown = unknownOptions(`replay phase ${name}`, o, REPLAY_KEYS);
  if (mode !== undefined && mode !== "exact" && mode !== "synthetic") {
    problems.push(
      `Cannot use replay 'mode': expected "exact" or "synthetic": current value is ${
        JSON.stringify(mode)
      }`,
    );
  }
  // Options of synthetic mode in an exact replay would be ignored: said, as the CLI says it.
  if (mode !== "synthetic") {
    for (const [k, v] of Object.entries({ seed, durationMs, popularity })) {
      if (v !== undefined) {
        problems.push(
          `Cannot use option '${k}' of replay phase ${name} in exact mode: it applies to mode ` +
            `"synthetic" (an exact replay sends what was recorded, in its recorded order)`,
        );
      }
    }
  } else if (ro.separateKeyspaces !== undefined) {
    problems.push(
      `Cannot use option 'separateKeyspaces' of replay phase ${name} in synthetic mode: ` +
        "synthetic traffic is generated for its connections and never multiplied",
    );
  }
  const target = ro.target ?? ctx.defaultTarget()?.target;
  const opts: ReplayOptions = {
    ...ro,
    ...(target !== undefined ? { target } : {}),
    ...(fidelity !== undefined ? { thresholds: fidelity } : {}),
    // Every phase result carries its server's figures (server.* metrics) unless turned off.
    serverMetrics: ro.serverMetrics ?? true,
    ...(ro.shard === undefined && ctx.shard !== undefined ? { shard: ctx.shard } : {}),
  };
  const shown = {
    ...opts,
    mode: mode ?? "exact",
    ...(mode === "synthetic" ? { seed: seed ?? ctx.seed, durationMs, popularity } : {}),
  };
  return ctx.run({
    kind: "replay",
    name,
    thresholds,
    warnings,
    shown,
    unknown,
    problems,
    metricNames: metricNamesOf("replay"),
    exec: async (signal) => {
      let synthetic: ReplayPhaseResult["synthetic"];
      let profile = opts.profile;
      let tmp: string | undefined;
      try {
        if (mode === "synthetic") {
          tmp = await Deno.makeTempFile({ dir: ctx.outDir, suffix: ".synthetic.mbp" });
          const s = await synthesize({
            profile,
            output: tmp,
            seed: seed ?? ctx.seed,
            ...(durationMs !== undefined ? { durationMs } : {}),
            ...(popularity !== undefined ? { popularity } : {}),
            ...(opts.connections !== undefined ? { connections: opts.connections } : {}),
          });
          synthetic = {
            digest: s.digest,
            events: s.events,
            popularity: s.popularity,
            keyspace: s.keyspace,
            seed: seed ?? ctx.seed,
          };
          ctx.journal("log", {
            message: `synthetic traffic: ${s.events} events, digest ${s.digest}`,
          });
          profile = tmp;
        }
        const r = await replay({
          ...opts,
          profile,
          ...(mode === "synthetic" ? { connections: undefined } : {}),
          signal: anySignal(signal, ro.signal),
        } as ReplayOptions);
        return synthetic ? { ...r, synthetic } : r;
      } finally {
        if (tmp) await Deno.remove(tmp).catch(() => {});
      }
    },
    metrics: replayMetrics,
    outcome: (r) => ({ interrupted: r.interrupted, ...(r.failure ? { failure: r.failure } : {}) }),
    servers: async (r) => {
      // The replay resolved the protocol (the recorded one unless told) and the target.
      const mc = r.config.protocol !== "resp";
      const tt = typeof opts.target === "object"
        ? { ...opts.target }
        : parseTarget(r.config.target, mc ? 11211 : 6379);
      if (opts.password !== undefined) tt.password = opts.password;
      if (opts.user !== undefined) tt.user = opts.user;
      const mcp = r.config.protocol === "memcache-binary" ? "binary" : "text";
      return [await ctx.probe(tt, mc ? "memcached" : "redis", mc ? mcp : undefined)];
    },
  });
}
