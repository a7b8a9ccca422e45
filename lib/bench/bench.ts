import { errorMessage, MembenchError } from "../errors/mod.ts";
import {
  mergeCommandMetrics,
  secondSeriesOf,
  type ShardResultLike,
  summarizeEncoded,
} from "./_merge.ts";
import { encodeHistogram, mergeEncoded } from "../metrics/mod.ts";
import { type MonitorOptions, resolveServerMetrics, ServerMonitor } from "../monitor/mod.ts";
import { chooseIo, endpointName, parseTarget, RespConnection, type Target } from "../net/mod.ts";
import { parseRatePerSec, parseWallClock, sleepUntilWallClock } from "../units/mod.ts";
import { VERSION } from "../version.ts";
import {
  checkShardSpec,
  type CommandSpec,
  dealtShare,
  type KeyPattern,
  type MixEntry,
  parseKeyPattern,
  parseMix,
  parseShardSpec,
  parseValueSize,
  resolveCommand,
  resolveMemcacheCommand,
  shardRange,
  type ValueSize,
} from "../workload/mod.ts";
import type { McWorkload } from "./dialect.ts";
import { PROTOCOL_NAMES } from "../protocol/mod.ts";
import { respText } from "../protocol/resp/mod.ts";
import {
  type ClusterTopology,
  describeAwsEndpoint,
  discoverCluster,
  discoverReplication,
  keySlot,
  nodeTarget,
  parseAwsEndpoint,
} from "../cluster/mod.ts";
import { clusterKeyShapes, type NodeCounts, READ_FROM, type ReadFrom } from "./_cluster.ts";
import { runShard, type ShardConfig, type ShardResult } from "./shard.ts";
import { connectTurns } from "./_turns.ts";
import { ProgressTracker } from "./_progress.ts";
import { assessTest, benchWarnings } from "./verdict.ts";
import type {
  BenchConfig,
  BenchOptions,
  BenchResult,
  ClockCheck,
  CommandResult,
  NodeResult,
  TestResult,
} from "./types.ts";

interface Resolved {
  targets: Target[];
  config: BenchConfig;
  plan: Array<{ name: string; commands: CommandSpec[]; weights: number[] }>;
  shardBase: Omit<
    ShardConfig,
    | "shard"
    | "clients"
    | "clientBase"
    | "requests"
    | "ratePerSec"
    | "commands"
    | "weights"
    | "connectTurns"
  >;
  requests: number | undefined;
  ratePerSec: number | undefined;
  /** This process's clients: all of them, or a run shard's range. */
  own: { start: number; count: number };
  /** This process's requests per test and rate (a run shard's part). */
  shardRequests: number | undefined;
  shardRate: number | undefined;
  /** Wall-clock start, epoch ms. */
  startAt: number | undefined;
  /** Whether to read the server's TIME before the run. */
  measureClock: boolean;
  /** Server metrics settings, or undefined when off. */
  serverMetrics: Omit<MonitorOptions, "nodes"> | undefined;
  /** Cluster mode (or a primary with replicas): where reads go; undefined otherwise. */
  cluster: ReadFrom | undefined;
  /** `rfr` without `cluster`: a standalone primary and its replicas (ROLE), not a cluster. */
  replication: boolean;
  /** Why cluster mode is on without `cluster` (an AWS configuration endpoint), for a warning. */
  clusterNote: string | undefined;
  /** Cluster mode: node balancing's tolerance, or undefined when off. */
  balance: number | undefined;
  /** Cluster mode: node affinity. */
  affinity: boolean;
  /** Cluster mode: each client's keys carry its primary's hash tag. */
  tags: boolean;
}

/**
 * Validates bench options, collecting every problem before failing.
 *
 * @throws {MembenchError} `invalid_argument` listing every problem, one per line.
 */
export function resolveBenchOptions(o: BenchOptions): Resolved {
  const problems: string[] = [];
  const tryDo = <T>(f: () => T): T | undefined => {
    try {
      return f();
    } catch (e) {
      problems.push(errorMessage(e));
      return undefined;
    }
  };
  const int = (name: string, v: number | undefined, def: number, min: number): number => {
    const x = v ?? def;
    if (!Number.isInteger(x) || x < min) {
      problems.push(`Cannot use '${name}': must be an integer >= ${min}: current value is ${x}`);
      return def;
    }
    return x;
  };
  const protocol = o.protocol ?? "resp";
  if (!PROTOCOL_NAMES.includes(protocol)) {
    problems.push(
      `Cannot use 'protocol': must be one of ${PROTOCOL_NAMES.join(", ")}: current value is ${
        JSON.stringify(protocol)
      }`,
    );
  }
  const memcached = protocol.startsWith("memcache");
  const defaultPort = memcached ? 11211 : 6379;
  const rawTargets = o.target === undefined
    ? [`127.0.0.1:${defaultPort}`]
    : Array.isArray(o.target)
    ? o.target
    : [o.target];
  const targets: Target[] = [];
  for (const t of rawTargets) {
    const parsed = typeof t === "string" ? tryDo(() => parseTarget(t, defaultPort)) : t;
    if (!parsed) continue;
    const full: Target = { ...parsed };
    if (o.password !== undefined) full.password = o.password;
    if (o.user !== undefined) full.user = o.user;
    if (o.db !== undefined) full.db = o.db;
    if (o.tls !== undefined) full.tls = { ...full.tls, ...o.tls };
    targets.push(full);
  }
  if (rawTargets.length === 0) problems.push("Cannot use 'target': no server given");
  const clients = int("clients", o.clients, 50, 1);
  const pipeline = int("pipeline", o.pipeline, 1, 1);
  const threads = int("threads", o.threads, 1, 1);
  const keyspace = int("keyspace", o.keyspace, 1, 1);
  if (keyspace > 1e12) {
    problems.push(`Cannot use 'keyspace': must be at most 1e12: current value is ${keyspace}`);
  }
  if (threads > clients) {
    problems.push(
      `Cannot use 'threads': must not exceed clients (${clients}): current value is ${threads}`,
    );
  }
  // A run shard: its contiguous range of the run's clients.
  const shard = o.shard === undefined ? undefined : tryDo(() => {
    const spec = typeof o.shard === "string" ? parseShardSpec(o.shard) : o.shard!;
    checkShardSpec(spec);
    return spec;
  });
  const own = shard ? shardRange(clients, shard) : { start: 0, count: clients };
  if (shard && own.count === 0) {
    problems.push(
      `Cannot use 'shard': ${shard.count} shards need at least ${shard.count} clients: current ` +
        `value is ${clients}`,
    );
  } else if (shard && threads > own.count) {
    problems.push(
      `Cannot use 'threads': must not exceed this shard's clients (${own.count} of ${clients}): ` +
        `current value is ${threads}`,
    );
  }
  const startAt = o.startAt === undefined ? undefined : tryDo(() => parseWallClock(o.startAt!));
  const ioChoice = chooseIo(o.io ?? "auto", targets);
  if (ioChoice.problem !== undefined) problems.push(ioChoice.problem);
  const io = ioChoice.io;
  const durationMs = o.durationMs;
  if (durationMs !== undefined && !(durationMs > 0)) {
    problems.push(`Cannot use 'duration': must be > 0: current value is ${durationMs}`);
  }
  const requests = durationMs === undefined ? int("requests", o.requests, 100_000, 1) : undefined;
  const warmupMs = o.warmupMs ?? 0;
  if (!(warmupMs >= 0)) {
    problems.push(`Cannot use 'warmup': must be >= 0: current value is ${warmupMs}`);
  }
  const keyPattern: KeyPattern =
    (typeof o.keyPattern === "string"
      ? tryDo(() => parseKeyPattern(o.keyPattern as string))
      : o.keyPattern) ?? { kind: "uniform" };
  const ds = o.dataSize ?? 3;
  const dataSize: ValueSize = (typeof ds === "object" ? ds : tryDo(() => parseValueSize(ds))) ??
    { kind: "fixed", size: 3 };
  const ratePerSec = o.rate === undefined ? undefined : tryDo(() => parseRatePerSec(o.rate!));
  const arrival = o.arrival ?? "constant";
  if (arrival !== "constant" && arrival !== "poisson") {
    problems.push(
      `Cannot use 'arrival': must be constant or poisson: current value is ${
        JSON.stringify(arrival)
      }`,
    );
  }
  const memcache: McWorkload = {
    multiget: int("multiget", o.multiget, 1, 1),
    noreply: o.noreply ?? false,
    ttl: int("ttl", o.ttl, 0, 0),
    flags: int("flags", o.flags, 0, 0),
  };
  if (!memcached) {
    for (const k of ["multiget", "noreply", "ttl", "flags"] as const) {
      if (o[k] !== undefined) {
        problems.push(`Cannot use '${k}': it is for the memcached protocols (protocol is resp)`);
      }
    }
  } else if (o.resp3) {
    problems.push(`Cannot use 'resp3' with protocol ${protocol}`);
  }
  if (memcache.flags > 0xffffffff) {
    problems.push(`Cannot use 'flags': must fit 32 bits: current value is ${memcache.flags}`);
  }
  // Text noreply hides every outcome but errors, so its writes report no hits or misses.
  const hidden = protocol === "memcache-text" && memcache.noreply;
  const resolve = !memcached ? resolveCommand : (name: string) => {
    const spec = resolveMemcacheCommand(name);
    return hidden && !["get", "gets", "gat", "gats"].includes(spec.command)
      ? { ...spec, hits: "none" as const }
      : spec;
  };
  const seed = o.seed ?? Math.floor(Math.random() * 2 ** 32);
  if (!Number.isInteger(seed) || seed < 0) {
    problems.push(`Cannot use 'seed': must be a non-negative integer: current value is ${seed}`);
  }

  const plan: Resolved["plan"] = [];
  let mix: MixEntry[] | undefined;
  if (o.mix !== undefined) {
    mix = typeof o.mix === "string" ? tryDo(() => parseMix(o.mix as string)) : o.mix;
    if (o.tests !== undefined) {
      problems.push("Cannot use 'tests' together with 'mix' (or 'ratio'): choose one");
    }
    if (mix) {
      const specs = mix.map((m) => tryDo(() => resolve(m.command)));
      if (specs.every((s) => s)) {
        plan.push({
          name: "mix",
          commands: specs as CommandSpec[],
          weights: mix.map((m) => m.weight),
        });
      }
    }
  } else {
    const tests = o.tests ?? (memcached ? ["set", "get"] : ["ping", "set", "get"]);
    if (tests.length === 0) problems.push("Cannot use 'tests': the list is empty");
    for (const t of tests) {
      const spec = tryDo(() => resolve(t));
      if (spec) plan.push({ name: spec.name, commands: [spec], weights: [1] });
    }
  }
  // Server metrics are the servers' own counters: one shard (the first) takes them for all.
  const serverMetrics = shard !== undefined && shard.index > 0
    ? undefined
    : resolveServerMetrics(o.serverMetrics, problems);
  // An ElastiCache configuration endpoint or a MemoryDB cluster endpoint is a cluster's seed.
  const aws = protocol === "resp"
    ? targets.map((t) => t.endpoint.kind === "tcp" ? parseAwsEndpoint(t.endpoint.host) : undefined)
      .find((e) => e !== undefined)
    : undefined;
  const cluster = o.cluster ?? (aws?.impliesCluster === true);
  const clusterNote = o.cluster === undefined && cluster
    ? `cluster mode on: the target is an ${describeAwsEndpoint(aws!)}`
    : undefined;
  // rfr without cluster: a standalone primary with replicas, found by ROLE.
  const replication = !cluster && o.rfr !== undefined;
  const rfr = o.rfr ?? "primary";
  if (!READ_FROM.includes(rfr)) {
    problems.push(
      `Cannot use 'rfr': must be one of ${READ_FROM.join(", ")}: current value is ${
        JSON.stringify(rfr)
      }`,
    );
  }
  if (replication && protocol !== "resp") {
    problems.push(`Cannot use 'rfr' with protocol ${protocol}: replicas are read over RESP only`);
  }
  if (replication && targets.some((t) => t.endpoint.kind !== "tcp")) {
    problems.push(
      "Cannot use 'rfr' with a unix socket: the replicas are TCP addresses (give the primary's)",
    );
  }
  if (cluster && protocol !== "resp") {
    problems.push(`Cannot use 'cluster' with protocol ${protocol}: cluster mode is RESP only`);
  }
  if (cluster && targets.some((t) => (t.db ?? 0) !== 0)) {
    problems.push("Cannot use 'db' with 'cluster': a cluster has database 0 only");
  }
  if (cluster && targets.some((t) => t.endpoint.kind !== "tcp")) {
    problems.push("Cannot use 'cluster' with a unix socket: cluster nodes are TCP addresses");
  }
  const balance = o.balanceNodes ? o.balanceTolerance ?? 0.1 : undefined;
  if (o.balanceNodes && !cluster) {
    problems.push("Cannot use 'balanceNodes' without 'cluster': it balances cluster nodes");
  }
  if (o.clusterAffinity && !cluster) {
    problems.push("Cannot use 'clusterAffinity' without 'cluster'");
  }
  if (o.clusterTags && !cluster) {
    problems.push("Cannot use 'clusterTags' without 'cluster'");
  }
  if (o.clusterTags && o.balanceNodes) {
    problems.push("Cannot use 'clusterTags' and 'balanceNodes' together: both choose keys by node");
  }
  if (o.clusterTags && cluster) {
    const own = [o.keyPrefix ?? "", ...plan.flatMap((p) => p.commands.map((c) => c.text))]
      .find((t) => t.includes("{"));
    if (own !== undefined) {
      problems.push(
        `Cannot use 'clusterTags' with a hash tag of your own ('${own}'): the first {...} of a ` +
          `key decides its slot, and clusterTags puts one of each client's node in every key`,
      );
    }
  }
  if (o.clusterAffinity && o.balanceNodes) {
    problems.push(
      "Cannot use 'clusterAffinity' and 'balanceNodes' together: both choose keys by node",
    );
  }
  if (o.balanceTolerance !== undefined && !o.balanceNodes) {
    problems.push("Cannot use 'balanceTolerance' without 'balanceNodes'");
  }
  if (balance !== undefined && !(balance > 0 && balance <= 10)) {
    problems.push(
      `Cannot use 'balanceTolerance': must be a fraction > 0 and <= 10: current value is ${balance}`,
    );
  }
  if (cluster || replication) {
    for (const p of plan) {
      tryDo(() =>
        clusterKeyShapes(
          p.commands,
          o.keyPrefix ?? "key:",
          keyspace,
          replication,
          cluster && (o.clusterTags ?? false),
        )
      );
    }
  }
  if (shard !== undefined && o.seed === undefined) {
    problems.push(
      "Cannot use 'shard' without 'seed': every shard of a run must draw keys from the same " +
        "seed (membench bench --shards and membench k8s job choose one)",
    );
  }
  if (problems.length > 0) {
    throw new MembenchError("invalid_argument", problems.join("\n"));
  }
  const shardRequests = requests === undefined
    ? undefined
    : shard
    ? dealtShare(requests, own, clients)
    : requests;
  const shardRate = ratePerSec === undefined ? undefined : ratePerSec * own.count / clients;
  const password = targets.find((t) => t.password !== undefined) !== undefined;
  const user = targets.find((t) => t.user !== undefined)?.user;
  const db = targets.find((t) => t.db !== undefined)?.db;
  const config: BenchConfig = {
    targets: targets.map((t) => endpointName(t.endpoint)),
    tls: targets.some((t) => t.tls !== undefined),
    ...(user !== undefined ? { user } : {}),
    ...(password ? { password: "***" } : {}),
    ...(db !== undefined ? { db } : {}),
    resp3: o.resp3 ?? false,
    protocol,
    ...(memcached ? { memcache } : {}),
    clients,
    ...(requests !== undefined ? { requests } : {}),
    ...(durationMs !== undefined ? { durationMs } : {}),
    warmupMs,
    pipeline,
    threads,
    io,
    tests: plan.map((p) => p.name),
    ...(mix ? { mix } : {}),
    keyspace,
    keyPrefix: o.keyPrefix ?? "key:",
    keyPattern,
    dataSize,
    seed,
    ...(ratePerSec !== undefined ? { ratePerSec } : {}),
    arrival,
    latencyUnit: "us",
    ...(cluster ? { cluster, rfr } : replication ? { rfr, replication } : {}),
    ...(balance !== undefined ? { balanceTolerance: balance } : {}),
    ...(cluster && (o.clusterAffinity || o.clusterTags) ? { clusterAffinity: true } : {}),
    ...(cluster && o.clusterTags ? { clusterTags: true } : {}),
    ...(shard
      ? {
        shard: {
          ...shard,
          clientBase: own.start,
          clients: own.count,
          ...(shardRequests !== undefined ? { requests: shardRequests } : {}),
          ...(shardRate !== undefined ? { ratePerSec: shardRate } : {}),
        },
      }
      : {}),
    ...(startAt !== undefined ? { startAt: new Date(startAt).toISOString() } : {}),
  };
  return {
    own,
    shardRequests,
    shardRate,
    startAt,
    measureClock: o.measureClock ?? (shard !== undefined || startAt !== undefined),
    targets,
    config,
    plan,
    requests,
    ratePerSec,
    serverMetrics,
    cluster: cluster || replication ? rfr : undefined,
    replication,
    clusterNote,
    balance,
    affinity: cluster && (o.clusterAffinity || o.clusterTags || false),
    tags: cluster && (o.clusterTags ?? false),
    shardBase: {
      targets,
      protocol,
      memcache,
      resp3: config.resp3,
      io,
      clientName: o.clientName ?? "membench",
      connectTimeoutMs: o.connectTimeoutMs ?? 5000,
      requestTimeoutMs: o.requestTimeoutMs ?? 10_000,
      reconnect: { maxAttempts: 5, baseDelayMs: 50, maxDelayMs: 1000, ...o.reconnect },
      totalClients: clients,
      pipeline,
      durationMs,
      warmupMs,
      keyspace,
      keyPrefix: config.keyPrefix,
      keyPattern,
      dataSize,
      seed,
      arrival,
      lateThresholdUs: o.lateThresholdUs ?? 1000,
    },
  };
}

/**
 * Runs a redis-benchmark/memtier-style load test against Valkey/Redis and returns typed results.
 * Tests run one after another, each on fresh connections; a mix runs as one test. Nothing is
 * printed: use `onProgress` and the renderers in `report/`.
 *
 * @example Usage
 * ```ts ignore
 * const r = await bench({ target: "127.0.0.1:6379", tests: ["set", "get"], requests: 10_000 });
 * console.log(r.tests[0]!.opsPerSec);
 * ```
 * @throws {MembenchError} `invalid_argument` for bad options (all listed); `connection` or `auth`
 *   when the clients cannot connect at the start of a test.
 */
export async function bench(options: BenchOptions = {}): Promise<BenchResult> {
  const r = resolveBenchOptions(options);
  const result: BenchResult = {
    version: VERSION,
    startedAt: new Date().toISOString(),
    config: r.config,
    setup: [],
    tests: [],
    interrupted: false,
  };
  const warnings = benchWarnings(options, r.config);
  if (r.clusterNote) warnings.push(r.clusterNote);
  if (warnings.length > 0) result.warnings = warnings;
  options.onStart?.(result);
  const threads = r.config.threads;
  if (r.measureClock && r.config.protocol === "resp") {
    const clock = await checkClock(r.targets[0]!, r.shardBase.connectTimeoutMs);
    if (clock) result.clock = clock;
  }
  const pool = threads > 1 ? new WorkerPool(threads) : undefined;
  try {
    for (const [i, step] of r.plan.entries()) {
      if (options.signal?.aborted) {
        result.interrupted = true;
        break;
      }
      // Cluster mode: the topology as it is now (it may have changed since the last test).
      const discover = r.replication ? discoverReplication : discoverCluster;
      const topo = r.cluster !== undefined
        ? await discover(r.targets, { connectTimeoutMs: r.shardBase.connectTimeoutMs })
        : undefined;
      if (r.config.protocol === "resp" && step.commands.some((c) => c.command === "lrange")) {
        await fillListForLrange(r, result, topo);
      }
      const nodeTargets = topo ? topo.nodes.map((n) => nodeTarget(r.targets[0]!, n)) : r.targets;
      // The servers' own view of this test: snapshots before, during and after it.
      const monitor = r.serverMetrics
        ? await ServerMonitor.start({
          ...r.serverMetrics,
          nodes: nodeTargets.map((target) => ({
            target,
            kind: r.config.protocol === "resp" ? "redis" as const : "memcached" as const,
          })),
        })
        : undefined;
      const shards = splitShards(r, step);
      if (topo) {
        const plan = {
          nodes: topo.nodes,
          slots: topo.slots,
          rfr: r.cluster!,
          balance: r.balance,
          affinity: r.affinity,
          ...(r.tags ? { tags: true } : {}),
          ...(r.replication ? { standalone: true } : {}),
        };
        for (const sh of shards) sh.cluster = plan;
      }
      const progress = new ProgressTracker(
        step.name,
        i,
        r.plan.length,
        shards,
        options.onProgress,
      );
      // The first test begins at the wall-clock start, once every client is connected.
      const go = i === 0 && r.startAt !== undefined
        ? () => sleepUntilWallClock(r.startAt!, options.signal)
        : () => Promise.resolve();
      let shardResults: ShardResultLike[];
      try {
        shardResults = pool ? await pool.run(shards, progress, go, options.signal) : [
          await runShard(shards[0]!, {
            ready: go,
            tick: (t) => progress.tick(0, t),
            ...(options.signal ? { signal: options.signal } : {}),
          }),
        ];
      } catch (e) {
        await monitor?.stop();
        throw e;
      }
      const test = buildTestResult(step.name, step.commands, shardResults, r.ratePerSec);
      if (topo) addNodeResults(test, shardResults, r.cluster!);
      if (monitor) test.server = (await monitor.stop()).report;
      if (!shardResults.some((s) => s.interrupted)) assessTest(test, r.config.protocol);
      result.tests.push(test);
      options.onTestEnd?.(test, result);
      if (test.failure) {
        result.failure = test.failure;
        break;
      }
      if (shardResults.some((s) => s.interrupted)) {
        result.interrupted = true;
        break;
      }
    }
  } finally {
    pool?.close();
  }
  return result;
}

// LRANGE needs a list: like redis-benchmark's "LPUSH (needed to benchmark LRANGE)", make sure
// `mylist` has 600 elements before each LRANGE test (earlier LPOP/RPOP tests may have drained it).
async function fillListForLrange(
  r: Resolved,
  result: BenchResult,
  topo: ClusterTopology | undefined,
): Promise<void> {
  // In a cluster, the list lives on its slot's owner.
  const t = topo
    ? nodeTarget(r.targets[0]!, topo.nodes[topo.slots[keySlot("mylist")]!]!)
    : r.targets[0]!;
  const conn = await RespConnection.open(t, {
    resp3: r.config.resp3,
    connectTimeoutMs: r.shardBase.connectTimeoutMs,
  });
  try {
    const len = await conn.command(["LLEN", "mylist"]);
    addSetup(result, "llen", "check the list LRANGE reads");
    if (len.type === "integer" && Number(len.value) >= 600) return;
    const size = r.config.dataSize.kind === "fixed" ? r.config.dataSize.size : 3;
    const value = "x".repeat(size);
    const reply = await conn.command([
      "RPUSH",
      "mylist",
      ...Array.from({ length: 600 }, () => value),
    ]);
    if (reply.type === "error") {
      throw new MembenchError("server", `${conn.name}: RPUSH mylist failed: ${reply.value}`);
    }
    addSetup(result, "rpush", "fill mylist with 600 elements for LRANGE");
  } finally {
    conn.close();
  }
}

function addSetup(result: BenchResult, command: string, why: string): void {
  const e = result.setup.find((s) => s.command === command && s.why === why);
  if (e) e.calls++;
  else result.setup.push({ command, calls: 1, why });
}

// This process's clients (all of them, or a run shard's range) split over the worker threads.
function splitShards(r: Resolved, step: Resolved["plan"][number]): ShardConfig[] {
  const n = r.config.threads;
  const out: ShardConfig[] = [];
  let base = r.own.start;
  const turns = n > 1 ? connectTurns(n) : undefined;
  for (let s = 0; s < n; s++) {
    const clients = Math.floor(r.own.count / n) + (s < r.own.count % n ? 1 : 0);
    const share = clients / r.own.count;
    let requests: number | undefined;
    if (r.requests !== undefined) {
      // The requests of these clients as one process of the whole run would deal them.
      requests = dealtShare(r.requests, { start: base, count: clients }, r.config.clients);
    }
    out.push({
      ...r.shardBase,
      shard: s,
      clients,
      clientBase: base,
      requests,
      ratePerSec: r.shardRate === undefined ? undefined : r.shardRate * share,
      commands: step.commands,
      weights: step.weights,
      connectTurns: turns,
    });
    base += clients;
  }
  return out;
}

/**
 * This machine's clock against a server's `TIME`, read three times; the reading with the
 * shortest round trip is kept. Undefined when the server does not answer TIME.
 */
async function checkClock(
  target: Target,
  connectTimeoutMs: number,
): Promise<ClockCheck | undefined> {
  let conn: RespConnection | undefined;
  try {
    conn = await RespConnection.open(target, { connectTimeoutMs });
    let best: ClockCheck | undefined;
    for (let k = 0; k < 3; k++) {
      const t0 = performance.now();
      const w0 = Date.now();
      const reply = await conn.command(["TIME"]);
      const rtt = performance.now() - t0;
      if (reply.type !== "array" || reply.value.length !== 2) return undefined;
      const [sec, usec] = reply.value.map((v) => Number(respText(v) ?? NaN));
      if (!Number.isFinite(sec) || !Number.isFinite(usec)) return undefined;
      const serverMs = sec! * 1000 + usec! / 1000;
      const offsetMs = serverMs - (w0 + rtt / 2);
      if (!best || rtt < best.rttMs) best = { server: conn.name, offsetMs, rttMs: rtt };
    }
    return best;
  } catch {
    return undefined; // the run's own connect reports why the server cannot be reached
  } finally {
    conn?.close();
  }
}

class WorkerPool {
  #workers: Worker[];
  constructor(n: number) {
    this.#workers = Array.from(
      { length: n },
      () => new Worker(new URL("./_worker.ts", import.meta.url), { type: "module" }),
    );
  }

  async run(
    shards: ShardConfig[],
    progress: ProgressTracker,
    go: () => Promise<void>,
    signal?: AbortSignal,
  ): Promise<ShardResult[]> {
    let ready = 0;
    // Ctrl+C, or a shard that fails, stops them all at once: after a failure, those connected
    // would wait for every shard to be ready, which a failed one never is (the run hung when one
    // shard's connects failed).
    let stopped = false;
    const stopAll = () => {
      if (stopped) return;
      stopped = true;
      for (const w of this.#workers) w.postMessage({ type: "stop" });
    };
    const results: Array<Promise<ShardResult>> = shards.map((cfg, i) => {
      const w = this.#workers[i]!;
      return new Promise<ShardResult>((resolve, fail) => {
        const reject = (e: MembenchError) => {
          fail(e);
          stopAll();
        };
        w.onmessage = (e: MessageEvent) => {
          const m = e.data;
          if (m.type === "ready") {
            if (++ready === shards.length) {
              void go().then(() => {
                for (const x of this.#workers) x.postMessage({ type: "go" });
              });
            }
          } else if (m.type === "tick") progress.tick(i, m.tick);
          else if (m.type === "done") resolve(m.result);
          else if (m.type === "error") reject(new MembenchError(m.code, m.message));
        };
        w.onerror = (e) => {
          e.preventDefault();
          reject(new MembenchError("internal", `worker ${i} failed: ${e.message}`));
        };
        w.postMessage({ type: "run", cfg });
      });
    });
    signal?.addEventListener("abort", stopAll, { once: true });
    try {
      const settled = await Promise.allSettled(results);
      const bad = settled.find((s) => s.status === "rejected");
      if (bad) throw (bad as PromiseRejectedResult).reason;
      return settled.map((s) => (s as PromiseFulfilledResult<ShardResult>).value);
    } finally {
      signal?.removeEventListener("abort", stopAll);
    }
  }

  close(): void {
    for (const w of this.#workers) w.terminate();
  }
}

// One encoded histogram of the encoded parts given.
function mergeEncodedList(parts: Array<string | undefined>): string {
  const h = mergeEncoded(parts.filter((p): p is string => p !== undefined));
  const e = encodeHistogram(h);
  h.destroy();
  return e;
}

// Cluster mode: per node ops/s and share, the redirections, the skew.
export function addNodeResults(test: TestResult, shards: ShardResultLike[], rfr: ReadFrom): void {
  if (shards[0]?.nodes === undefined) return;
  // By address: each worker lists the nodes it started with in discovery's order, then those it
  // found during the run, in the order it found them.
  const per: NodeCounts[] = [];
  const seen = new Set<string>();
  for (const s of shards) {
    for (const n of s.nodes ?? []) {
      if (seen.has(n.address)) continue;
      seen.add(n.address);
      per.push(n);
    }
  }
  const of = (s: ShardResultLike, n: NodeCounts) => s.nodes?.find((x) => x.address === n.address);
  const nodes: NodeResult[] = per.map((n) => {
    const sum = (f: (x: NodeCounts) => number) =>
      shards.reduce((a, s) => {
        const x = of(s, n);
        return a + (x ? f(x) : 0);
      }, 0);
    return {
      address: n.address,
      role: n.role,
      requests: sum((x) => x.requests),
      opsPerSec: 0,
      share: 0,
      errors: sum((x) => x.errors),
      serviceTime: summarizeEncoded(mergeEncodedList(shards.map((s) => of(s, n)?.service))),
      redirects: {
        moved: sum((x) => x.moved),
        ask: sum((x) => x.ask),
        tryagain: sum((x) => x.tryagain),
        clusterdown: sum((x) => x.clusterdown),
      },
    };
  });
  const total = nodes.reduce((a, n) => a + n.requests, 0);
  const starts = shards.flatMap((s) => s.measureStartMs === undefined ? [] : [s.measureStartMs]);
  const startMs = starts.length > 0 ? Math.min(...starts) : undefined;
  for (const [i, n] of nodes.entries()) {
    n.share = total > 0 ? n.requests / total : 0;
    // A node that joined during the measured time: its rate over the time it was there (from
    // the earliest worker's join, against the earliest worker's start, where the test's
    // duration starts).
    let absentMs = Infinity;
    for (const s of shards) {
      const x = of(s, per[i]!);
      if (x === undefined) continue;
      const since = x.joinedMs === undefined || startMs === undefined ? 0 : x.joinedMs - startMs;
      absentMs = Math.min(absentMs, Math.max(0, since));
    }
    if (!Number.isFinite(absentMs)) absentMs = 0;
    if (absentMs > 0) n.joinedAfterMs = Math.round(absentMs);
    const seconds = (test.durationMs - absentMs) / 1000;
    n.opsPerSec = seconds > 0 ? n.requests / seconds : 0;
  }
  const primaries = nodes.filter((n) => n.role === "primary").length;
  // The nodes that serve: primaries (unless reads went to replicas only and no request went to
  // a primary: a read-only test with --rfr replica), and replicas that took any request.
  const primariesServed = nodes.some((n) => n.role === "primary" && n.requests > 0);
  const serving =
    nodes.filter((n) =>
      n.requests > 0 || (n.role === "primary" && (primariesServed || rfr !== "replica"))
    ).length;
  const maxShare = nodes.reduce((a, n) => Math.max(a, n.share), 0);
  const red = (k: keyof NodeResult["redirects"]) => nodes.reduce((a, n) => a + n.redirects[k], 0);
  test.nodes = nodes;
  test.nodeHistograms = per.map((n) => mergeEncodedList(shards.map((s) => of(s, n)?.service)));
  test.cluster = {
    nodes: nodes.length,
    primaries,
    rfr,
    maxShare,
    skew: serving > 0 ? maxShare * serving : 0,
    redirects: {
      moved: red("moved"),
      ask: red("ask"),
      tryagain: red("tryagain"),
      clusterdown: red("clusterdown"),
    },
  };
}

export function buildTestResult(
  name: string,
  specs: CommandSpec[],
  shards: ShardResultLike[],
  rate: number | undefined,
): TestResult {
  const measuredUs = Math.max(...shards.map((s) => s.measuredUs));
  const seconds = measuredUs / 1e6;
  const commands: CommandResult[] = [];
  const histograms: TestResult["histograms"] = [];
  const merged = specs.map((_spec, ci) => mergeCommandMetrics(shards.map((s) => s.commands[ci]!)));
  for (const [ci, m] of merged.entries()) {
    const spec = specs[ci]!;
    const errorCount = Object.values(m.errors).reduce((a, b) => a + b, 0);
    const c: CommandResult = {
      name: spec.name,
      command: spec.command,
      count: m.count,
      opsPerSec: seconds > 0 ? m.count / seconds : 0,
      errors: m.errors,
      errorCount,
      late: m.late,
      lateClient: m.lateClient,
      serviceTime: summarizeEncoded(m.service),
    };
    if (spec.hits !== "none") {
      c.hits = m.hits;
      c.misses = m.misses;
      c.hitRatio = m.hits + m.misses > 0 ? m.hits / (m.hits + m.misses) : 0;
    }
    if (m.response !== undefined) c.responseTime = summarizeEncoded(m.response);
    if (m.firstErrors !== undefined) c.firstErrors = m.firstErrors;
    commands.push(c);
    histograms.push({
      name: spec.name,
      service: m.service,
      ...(m.response !== undefined ? { response: m.response } : {}),
      series: m.series,
    });
  }
  const series = secondSeriesOf(merged);
  const requests = commands.reduce((a, c) => a + c.count, 0);
  const failure = shards.find((s) => s.fatal)?.fatal;
  const t: TestResult = {
    name,
    loop: rate === undefined ? "closed" : "open",
    durationMs: measuredUs / 1000,
    requests,
    opsPerSec: seconds > 0 ? requests / seconds : 0,
    errors: commands.reduce((a, c) => a + c.errorCount, 0),
    warmupRequests: shards.reduce((a, s) => a + s.warmupRequests, 0),
    sent: shards.reduce((a, s) => a + s.sent, 0),
    abandoned: shards.reduce((a, s) => a + s.abandoned, 0),
    reconnects: shards.reduce((a, s) => a + s.reconnects, 0),
    late: commands.reduce((a, c) => a + c.late, 0),
    lateClient: commands.reduce((a, c) => a + c.lateClient, 0),
    ...(rate !== undefined ? { targetRatePerSec: rate } : {}),
    commands,
    series,
    histograms,
  };
  const starts = shards.map((s) => s.measureStartMs).filter((x): x is number => x !== undefined);
  if (starts.length > 0) t.measureStartMs = Math.round(Math.min(...starts));
  if (failure && shards.every((s) => s.fatal)) t.failure = failure;
  return t;
}
