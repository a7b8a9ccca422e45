/**
 * `run.bench()`: a bench phase. The scenario's target, protocol and seed are the defaults; the
 * options are checked before any load; the servers are probed after it.
 *
 * @module
 */
import {
  bench,
  type BenchOptions,
  type BenchResult,
  resolveBenchOptions,
} from "../../bench/mod.ts";
import { parseTarget } from "../../net/mod.ts";
import { benchMetrics } from "../metrics.ts";
import type { PhaseContext, PhaseOptions } from "../phase.ts";
import type { ServerInfo } from "../server_info.ts";
import {
  anySignal,
  phaseNameOr,
  problemsOf,
  requireObject,
  saveShardResult,
  unknownOptions,
} from "../_util.ts";
import { metricNamesOf, metricSegment, type MetricSegments } from "../metric_names.ts";

/** Options of {@linkcode Run.bench}: the bench's own and the phase's. */
export type BenchPhaseOptions = BenchOptions & PhaseOptions;

// Every option of a bench phase (`deno check` fails when the type gains an option this list lacks).
const BENCH_KEYS = {
  name: true,
  thresholds: true,
  warnings: true,
  target: true,
  password: true,
  user: true,
  db: true,
  tls: true,
  resp3: true,
  protocol: true,
  multiget: true,
  noreply: true,
  ttl: true,
  flags: true,
  clients: true,
  requests: true,
  durationMs: true,
  warmupMs: true,
  pipeline: true,
  threads: true,
  io: true,
  tests: true,
  mix: true,
  keyspace: true,
  keyPrefix: true,
  keyPattern: true,
  dataSize: true,
  seed: true,
  rate: true,
  arrival: true,
  lateThresholdUs: true,
  connectTimeoutMs: true,
  requestTimeoutMs: true,
  reconnect: true,
  clientName: true,
  serverMetrics: true,
  cluster: true,
  rfr: true,
  balanceNodes: true,
  clusterAffinity: true,
  clusterTags: true,
  balanceTolerance: true,
  shard: true,
  startAt: true,
  measureClock: true,
  signal: true,
  onProgress: true,
  onTestEnd: true,
  onStart: true,
} satisfies Record<keyof BenchPhaseOptions, true>;

/** Runs a bench phase in the scenario `ctx`. */
export function benchPhase(ctx: PhaseContext, o: BenchPhaseOptions): Promise<BenchResult> {
  requireObject("the bench phase", o);
  const { name: given, thresholds, warnings, ...bo } = o;
  const problems: string[] = [];
  const name = phaseNameOr(ctx, "bench", given, problems);
  const unknown = unknownOptions(`bench phase ${name}`, o, BENCH_KEYS);
  const dt = bo.target === undefined ? ctx.defaultTarget() : undefined;
  // A scenario whose server is memcached benches memcached's text protocol unless told.
  const protocol = bo.protocol ?? (dt?.memcached ? "memcache-text" : undefined);
  const mc = protocol !== undefined && protocol !== "resp";
  const target = bo.target ?? dt?.target;
  const opts: BenchOptions = {
    ...bo,
    ...(protocol !== undefined ? { protocol } : {}),
    ...(target !== undefined ? { target } : {}),
    seed: bo.seed ?? ctx.seed,
    ...(bo.shard === undefined && ctx.shard !== undefined ? { shard: ctx.shard } : {}),
    // Every phase result carries its servers' figures (server.* metrics) unless turned off.
    serverMetrics: bo.serverMetrics ?? true,
  };
  // Every problem with the options, before any load; the tests and commands name the metrics.
  let segments: MetricSegments = {};
  problems.push(...problemsOf(() => {
    const { plan } = resolveBenchOptions(opts);
    segments = {
      tests: plan.map((p) => metricSegment(p.name, p.name)),
      commands: plan.flatMap((p) => p.commands.map((c) => metricSegment(c.name, c.command))),
    };
  }));
  return ctx.run({
    kind: "bench",
    name,
    thresholds,
    warnings,
    shown: opts,
    unknown,
    problems,
    metricNames: metricNamesOf("bench", segments),
    exec: async (signal) => {
      const r = await bench({ ...opts, signal: anySignal(signal, bo.signal) });
      if (r.config.shard) await saveShardResult(ctx.outDir, name, r.config.shard, r);
      return r;
    },
    metrics: benchMetrics,
    outcome: (r) => ({
      interrupted: r.interrupted,
      ...(r.failure ? { failure: r.failure } : {}),
    }),
    servers: async () => {
      const ts = Array.isArray(opts.target) ? opts.target : [opts.target ?? "127.0.0.1"];
      const out: ServerInfo[] = [];
      for (const t of ts) {
        const tt = typeof t === "string" ? parseTarget(t, mc ? 11211 : 6379) : { ...t };
        if (opts.password !== undefined) tt.password = opts.password;
        if (opts.user !== undefined) tt.user = opts.user;
        const mcp = protocol === "memcache-binary" ? "binary" : "text";
        out.push(await ctx.probe(tt, mc ? "memcached" : "redis", mc ? mcp : undefined));
      }
      return out;
    },
  });
}
