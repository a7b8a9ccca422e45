/**
 * `run.vectorLoad()`, `run.vectorQuery()`, `run.vectorUpdate()`, `run.vectorDelete()`: vector
 * search phases. The scenario's target is the default; options are checked by the library
 * before any load (an option the platform lacks, an index of another dimension); the server is
 * probed after.
 *
 * @module
 */
import { parseTarget, type Target } from "../../net/mod.ts";
import {
  type VectorConnectOptions,
  vectorDelete,
  type VectorDeleteOptions,
  vectorLoad,
  type VectorLoadOptions,
  type VectorLoadResult,
  vectorQuery,
  type VectorQueryOptions,
  type VectorQueryResult,
  vectorUpdate,
  type VectorUpdateOptions,
} from "../../vector/mod.ts";
import {
  vectorFrontier,
  type VectorFrontierOptions,
  type VectorFrontierResult,
  vectorOptimize,
  type VectorOptimizeOptions,
  type VectorOptimizeResult,
} from "../../vector/mod.ts";
import { nearestName } from "../../errors/mod.ts";
import { vectorLoadMetrics, vectorOptimizeMetrics, vectorQueryMetrics } from "../metrics.ts";
import type { PhaseContext, PhaseOptions } from "../phase.ts";
import type { ServerInfo } from "../server_info.ts";
import {
  anySignal,
  phaseNameOr,
  requireObject,
  saveShardResult,
  unknownOptions,
} from "../_util.ts";
import type { ShardSpec } from "../../workload/mod.ts";
import { metricNamesOf } from "../metric_names.ts";

/** Options of {@linkcode Run.vectorLoad}: vec-load's own (target defaults to the scenario's) and the phase's. */
export type VectorLoadPhaseOptions = VectorLoadOptions & PhaseOptions;
/** Options of {@linkcode Run.vectorUpdate}. */
export type VectorUpdatePhaseOptions = VectorUpdateOptions & PhaseOptions;
/** Options of {@linkcode Run.vectorDelete}. */
export type VectorDeletePhaseOptions = VectorDeleteOptions & PhaseOptions;
/** Options of {@linkcode Run.vectorQuery}. */
export type VectorQueryPhaseOptions = VectorQueryOptions & PhaseOptions;

type Kind = "vector-load" | "vector-update" | "vector-delete" | "vector-query";

// The options every vector phase has: the connection's and the phase's (exactly those: the
// literal may name no other, so no phase list below accepts a key its type lacks).
const CONNECT_KEYS = {
  name: true,
  thresholds: true,
  warnings: true,
  target: true,
  password: true,
  user: true,
  resp3: true,
  io: true,
  clients: true,
  pipeline: true,
  connectTimeoutMs: true,
  requestTimeoutMs: true,
  reconnect: true,
  platform: true,
  serverMetrics: true,
  signal: true,
  onProgress: true,
} satisfies Record<keyof (VectorConnectOptions & PhaseOptions), true>;

// Every option of the phase (`deno check` fails when its type gains one this list lacks).
const VECTOR_LOAD_KEYS = {
  ...CONNECT_KEYS,
  dataset: true,
  metric: true,
  index: true,
  vectorOffset: true,
  numVectors: true,
  keyOffset: true,
  metadata: true,
  skipCreate: true,
  dropBefore: true,
  ratePerSec: true,
  waitForIndex: true,
  indexTimeoutMs: true,
  allowIndexFailures: true,
  blockRows: true,
  shard: true,
} satisfies Record<keyof VectorLoadPhaseOptions, true>;

// Every option of the phase (`deno check` fails when its type gains one this list lacks).
const VECTOR_UPDATE_KEYS = {
  ...CONNECT_KEYS,
  dataset: true,
  metric: true,
  index: true,
  vectorOffset: true,
  numVectors: true,
  keyOffset: true,
  metadata: true,
  ratePerSec: true,
  waitForIndex: true,
  indexTimeoutMs: true,
  allowIndexFailures: true,
  blockRows: true,
  segments: true,
} satisfies Record<keyof VectorUpdatePhaseOptions, true>;

// Every option of the phase (`deno check` fails when its type gains one this list lacks).
const VECTOR_DELETE_KEYS = {
  ...CONNECT_KEYS,
  index: true,
  segments: true,
  keyOffset: true,
  count: true,
  waitForIndex: true,
  indexTimeoutMs: true,
} satisfies Record<keyof VectorDeletePhaseOptions, true>;

// Every option of the phase (`deno check` fails when its type gains one this list lacks).
const VECTOR_QUERY_KEYS = {
  ...CONNECT_KEYS,
  dataset: true,
  metric: true,
  index: true,
  segments: true,
  k: true,
  efRuntime: true,
  filter: true,
  nocontent: true,
  sortByScore: true,
  queryTimeoutMs: true,
  dialect: true,
  numQueries: true,
  requests: true,
  durationMs: true,
  ratePerSec: true,
  arrival: true,
  seed: true,
  truth: true,
  truthThreads: true,
  keepPerQuery: true,
  shard: true,
} satisfies Record<keyof VectorQueryPhaseOptions, true>;

// Every option of the phase (`deno check` fails when its type gains one this list lacks).
const VECTOR_OPTIMIZE_KEYS = {
  ...CONNECT_KEYS,
  dataset: true,
  metric: true,
  index: true,
  load: true,
  numVectors: true,
  k: true,
  numQueries: true,
  confidence: true,
  resamples: true,
  seed: true,
  repeats: true,
  truthThreads: true,
  targetRecall: true,
  recallStatistic: true,
  accept: true,
  minEfSearch: true,
  maxEfSearch: true,
  targetP99Ms: true,
  targetQps: true,
  throughput: true,
  maxClients: true,
  maxPipeline: true,
  stepDurationMs: true,
  minGain: true,
  patience: true,
  remeasure: true,
  onStep: true,
  grid: true,
  frontier: true,
} satisfies Record<keyof VectorOptimizePhaseOptions, true>;

// The phase's options with the scenario's target.
function withDefaults<O extends { target?: string | Target }>(ctx: PhaseContext, o: O): O {
  const dt = o.target === undefined ? ctx.defaultTarget() : undefined;
  return { ...o, ...(o.target === undefined && dt ? { target: dt.target } : {}) };
}

// What the journal shows: an open dataset by its path, a precomputed truth by a word.

function shownOf(o: Record<string, unknown>): unknown {
  const { signal: _s, truth, dataset, ...rest } = o;
  return {
    ...rest,
    ...(dataset !== undefined
      ? { dataset: typeof dataset === "string" ? dataset : (dataset as { path: string }).path }
      : {}),
    ...(truth !== undefined ? { truth: "(precomputed)" } : {}),
  };
}

function servers(
  ctx: PhaseContext,
  o: { target?: string | Target; password?: string; user?: string },
) {
  return async (): Promise<ServerInfo[]> => {
    const t: Target = typeof o.target === "object"
      ? { ...o.target }
      : parseTarget(o.target ?? "127.0.0.1:6379");
    if (o.password !== undefined) t.password = o.password;
    if (o.user !== undefined) t.user = o.user;
    return [await ctx.probe(t, "redis")];
  };
}

function run<
  O extends PhaseOptions & { signal?: AbortSignal },
  R extends VectorLoadResult | VectorQueryResult,
>(
  ctx: PhaseContext,
  kind: Kind,
  o: O,
  keys: Readonly<Record<string, true>>,
  exec: (opts: Omit<O, keyof PhaseOptions>) => Promise<R>,
): Promise<R> {
  const { name: given, thresholds, warnings, ...lo } = o;
  const problems: string[] = [];
  const name = phaseNameOr(ctx, kind, given, problems);
  const unknown = unknownOptions(`${kind} phase ${name}`, o, keys);
  const opts = withDefaults(ctx, lo as Omit<O, keyof PhaseOptions> & { target?: string | Target });
  return ctx.run<R>({
    kind,
    name,
    thresholds,
    warnings,
    shown: shownOf(opts as Record<string, unknown>),
    unknown,
    problems,
    metricNames: metricNamesOf(kind),
    exec: async (signal) => {
      const r = await exec({ ...opts, signal: anySignal(signal, lo.signal) });
      if (r.shard) await saveShardResult(ctx.outDir, name, r.shard, r);
      return r;
    },
    metrics: (r) => r.kind === "vector-query" ? vectorQueryMetrics(r) : vectorLoadMetrics(r),
    outcome: (r) => ({ interrupted: r.interrupted, ...(r.failure ? { failure: r.failure } : {}) }),
    servers: servers(ctx, opts as { target?: string | Target }),
  });
}

// A sharded scenario's load and query phases run their part (unless the phase names its own).
function sharded(ctx: PhaseContext, o: { shard?: unknown }): { shard?: ShardSpec } {
  return o.shard === undefined && ctx.shard !== undefined ? { shard: ctx.shard } : {};
}

/** Runs a vec-load phase in the scenario `ctx`. */
export function vectorLoadPhase(
  ctx: PhaseContext,
  o: VectorLoadPhaseOptions,
): Promise<VectorLoadResult> {
  requireObject("the vector-load phase", o);
  // Every phase result carries its server's figures (server.* metrics) unless turned off.
  return run(
    ctx,
    "vector-load",
    { ...o, serverMetrics: o.serverMetrics ?? true, ...sharded(ctx, o) },
    VECTOR_LOAD_KEYS,
    (x) => vectorLoad(x as VectorLoadOptions),
  );
}

/** Runs a vec-update phase in the scenario `ctx`. */
export function vectorUpdatePhase(
  ctx: PhaseContext,
  o: VectorUpdatePhaseOptions,
): Promise<VectorLoadResult> {
  requireObject("the vector-update phase", o);
  // Every phase result carries its server's figures (server.* metrics) unless turned off.
  return run(
    ctx,
    "vector-update",
    { ...o, serverMetrics: o.serverMetrics ?? true },
    VECTOR_UPDATE_KEYS,
    (x) => vectorUpdate(x as VectorUpdateOptions),
  );
}

/** Runs a vec-delete phase in the scenario `ctx`. */
export function vectorDeletePhase(
  ctx: PhaseContext,
  o: VectorDeletePhaseOptions,
): Promise<VectorLoadResult> {
  requireObject("the vector-delete phase", o);
  // Every phase result carries its server's figures (server.* metrics) unless turned off.
  return run(
    ctx,
    "vector-delete",
    { ...o, serverMetrics: o.serverMetrics ?? true },
    VECTOR_DELETE_KEYS,
    (x) => vectorDelete(x as VectorDeleteOptions),
  );
}

/** Runs a vec-query phase in the scenario `ctx`. */
export function vectorQueryPhase(
  ctx: PhaseContext,
  o: VectorQueryPhaseOptions,
): Promise<VectorQueryResult> {
  requireObject("the vector-query phase", o);
  // Each client's starting position in the query set follows the scenario's seed.
  return run(
    ctx,
    "vector-query",
    {
      ...o,
      seed: o.seed ?? ctx.seed,
      serverMetrics: o.serverMetrics ?? true,
      ...sharded(ctx, o),
    },
    VECTOR_QUERY_KEYS,
    (x) => vectorQuery(x as VectorQueryOptions),
  );
}

/** The frontier part of {@linkcode Run.vectorOptimize}: the sweep's own options. */
export type VectorOptimizeFrontierOptions = Pick<
  VectorFrontierOptions,
  | "efRuntime"
  | "minEfSearch"
  | "maxEfSearch"
  | "points"
  | "refine"
  | "clients"
  | "pipeline"
  | "durationMs"
  | "repeats"
>;

/**
 * Options of {@linkcode Run.vectorOptimize}: the optimizer's (target defaults to the scenario's,
 * seed to the scenario's), and `frontier`: after the optimizer, sweep EF_RUNTIME on the same
 * index (`false` skips it). The phase's.
 */
export type VectorOptimizePhaseOptions =
  & VectorOptimizeOptions
  & PhaseOptions
  & { frontier?: VectorOptimizeFrontierOptions | false };

/** What {@linkcode Run.vectorOptimize} returns: the optimizer's choice and the frontier. */
export interface VectorOptimizePhaseResult {
  /** The phase kind. */
  kind: "vector-optimize";
  /** The optimizer's result: the EF_RUNTIME chosen, its recall interval, the throughput choice. */
  optimize: VectorOptimizeResult;
  /** The frontier on the same index, unless skipped (or the optimizer failed). */
  frontier?: VectorFrontierResult;
  /** Stopped by the scenario's signal. */
  interrupted: boolean;
  /** The server was lost or refused (the phase is an error). */
  failure?: { code: string; message: string };
}

const FRONTIER_KEYS = [
  "efRuntime",
  "minEfSearch",
  "maxEfSearch",
  "points",
  "refine",
  "clients",
  "pipeline",
  "durationMs",
  "repeats",
];

/**
 * Runs the optimizer, then the frontier on the index it loaded, in the scenario `ctx`. An
 * infeasible target is not a failure of the phase: `optimize.feasible` is 0, which a threshold
 * can judge (`optimize.feasible == 1`).
 */
export function vectorOptimizePhase(
  ctx: PhaseContext,
  o: VectorOptimizePhaseOptions,
): Promise<VectorOptimizePhaseResult> {
  requireObject("the vector-optimize phase", o);
  const { name: given, thresholds, warnings, frontier, ...lo } = o;
  const problems: string[] = [];
  const name = phaseNameOr(ctx, "vector-optimize", given, problems);
  const unknown = unknownOptions(`vector-optimize phase ${name}`, o, VECTOR_OPTIMIZE_KEYS);
  if (frontier !== undefined && frontier !== false) {
    if (frontier === null || typeof frontier !== "object") {
      problems.push("Cannot use 'frontier': expected an object of frontier options or false");
    } else {
      for (const k of Object.keys(frontier)) {
        if (FRONTIER_KEYS.includes(k)) continue;
        const near = nearestName(k, FRONTIER_KEYS);
        problems.push(
          `Cannot use 'frontier.${k}': the frontier takes ${FRONTIER_KEYS.join(", ")}${
            near ? ` (did you mean '${near}'?)` : ""
          }`,
        );
      }
    }
  }
  const opts = withDefaults(ctx, { ...lo, seed: lo.seed ?? ctx.seed });
  return ctx.run<VectorOptimizePhaseResult>({
    kind: "vector-optimize",
    name,
    thresholds,
    warnings,
    unknown,
    problems,
    metricNames: metricNamesOf("vector-optimize"),
    shown: shownOf({ ...opts, onStep: undefined, frontier } as Record<string, unknown>),
    exec: async (signal) => {
      const s = anySignal(signal, lo.signal);
      const optimize = await vectorOptimize({ ...opts, signal: s });
      const out: VectorOptimizePhaseResult = {
        kind: "vector-optimize",
        optimize,
        interrupted: optimize.status === "interrupted",
        ...(optimize.failure ? { failure: optimize.failure } : {}),
      };
      if (frontier === false || out.interrupted || out.failure) return out;
      const { targetRecall: _t, onStep: _s, dataset, ...tune } = opts;
      const f = await vectorFrontier({
        ...tune,
        dataset,
        load: false,
        minEfSearch: optimize.minEfSearch,
        maxEfSearch: optimize.maxEfSearch,
        ...frontier,
        signal: s,
      } as VectorFrontierOptions);
      out.frontier = f;
      if (f.interrupted) out.interrupted = true;
      if (f.failure) out.failure = f.failure;
      return out;
    },
    metrics: (r) => vectorOptimizeMetrics(r.optimize, r.frontier),
    outcome: (r) => ({ interrupted: r.interrupted, ...(r.failure ? { failure: r.failure } : {}) }),
    servers: servers(ctx, opts as { target?: string | Target }),
  });
}
