import { CommandMetrics, type CommandMetricsData, newHistogram } from "../metrics/mod.ts";
import { errorMessage, MembenchError } from "../errors/mod.ts";
import {
  canStartWithout,
  type ClusterNode,
  discoverCluster,
  discoverReplication,
  NodeRouter,
  nodeTarget,
  SlotMap,
} from "../cluster/mod.ts";
import {
  connectAll,
  Engine,
  openFileLimit,
  PipelinedConnection,
  type ReconnectPolicy,
  REPLY_ERROR,
  REPLY_NULL,
  RoundRobinRouter,
  type Router,
  type Scheduler,
  type Target,
  type Transport,
} from "../net/mod.ts";
import type { ProtocolName } from "../protocol/mod.ts";
import { type CompiledRequest, makeDialect, type McWorkload } from "./dialect.ts";
import { ClientState, type Compiled } from "./_client.ts";
import {
  clusterKeyShapes,
  ClusterScheduler,
  type ClusterShardPlan,
  type NodeCounts,
  withTag,
} from "./_cluster.ts";
import { nowUs } from "../units/mod.ts";
import { type ConnectTurns, openInTurns } from "./_turns.ts";
import { failureText, replyErrorText, withProtocolHint } from "./error_text.ts";
import {
  type CommandSpec,
  keyGenerator,
  type KeyPattern,
  maxValueSize,
  Rng,
  type ValueSize,
  valueSizer,
} from "../workload/mod.ts";

export type { ReconnectPolicy };

/** What one isolate runs: plain data, so it can be posted to a worker. */
export interface ShardConfig {
  /** Shard index (worker number). */
  shard: number;
  /** Wire protocol. */
  protocol: ProtocolName;
  /** memcached settings (ignored for RESP). */
  memcache: McWorkload;
  /** Servers; client i uses targets[i % n]. */
  targets: Target[];
  /** RESP3. */
  resp3: boolean;
  /** Hot-loop I/O: io_uring on libc sockets, or Deno's sockets. */
  io: "uring" | "deno";
  /** CLIENT SETNAME value. */
  clientName: string | undefined;
  /** Connect timeout. */
  connectTimeoutMs: number;
  /** Reply timeout; a request older than this fails the connection. */
  requestTimeoutMs: number;
  /** Reconnect policy. */
  reconnect: ReconnectPolicy;
  /** Clients in this shard. */
  clients: number;
  /** Global index of this shard's first client. */
  clientBase: number;
  /** Clients in all shards. */
  totalClients: number;
  /** Requests in flight per client. */
  pipeline: number;
  /** Measured requests for this shard, or undefined for a duration-bound run. */
  requests: number | undefined;
  /** Measured duration, or undefined for a count-bound run. */
  durationMs: number | undefined;
  /** Warm-up before measuring. */
  warmupMs: number;
  /** The commands, and their weights in the mix. */
  commands: CommandSpec[];
  /** Mix weights, same order as commands. */
  weights: number[];
  /** Keys. */
  keyspace: number;
  /** Key prefix for `__key__`. */
  keyPrefix: string;
  /** Key distribution. */
  keyPattern: KeyPattern;
  /** Value sizes. */
  dataSize: ValueSize;
  /** Seed for this run. */
  seed: number;
  /** Open loop: this shard's target rate in requests/s; undefined for closed loop. */
  ratePerSec: number | undefined;
  /** Open-loop arrivals. */
  arrival: "constant" | "poisson";
  /** A send later than this after its intended time counts as late. */
  lateThresholdUs: number;
  /**
   * The connection order shared with the other shards of the run: clients open one at a time,
   * dealt round-robin over the shards. Absent: this shard opens its clients all at once.
   */
  connectTurns?: ConnectTurns | undefined;
  /**
   * Cluster mode: the topology discovery found (`targets[0]` gives credentials and TLS). Each
   * client then holds a connection per node and each request goes to its key's slot owner.
   */
  cluster?: ClusterShardPlan | undefined;
}

/** What one isolate measured. */
export interface ShardResult {
  /** Per command. */
  commands: CommandMetricsData[];
  /** Requests completed during warm-up (not in the metrics). */
  warmupRequests: number;
  /** Requests written to the servers, warm-up included. */
  sent: number;
  /** Successful reconnects. */
  reconnects: number;
  /** Measured time, µs (warm-up end → last reply). */
  measuredUs: number;
  /** Wall-clock time (epoch ms) when measuring began. */
  measureStartMs: number;
  /** Whether the run was stopped early. */
  interrupted: boolean;
  /** Set when every client failed for good: the first client's error. */
  fatal: { code: string; message: string } | undefined;
  /** Requests that were in flight when the run was interrupted. */
  abandoned: number;
  /** Cluster mode: per node, what membench counted. */
  nodes?: NodeCounts[];
}

/** Live counters a shard reports about once a second. */
export interface ShardTick {
  /** Completed measured requests so far. */
  requests: number;
  /** Errors so far. */
  errors: number;
  /** Whether still in warm-up. */
  warmup: boolean;
  /** Still opening connections (nothing measured yet). */
  connecting?: boolean;
  /** Connections opened so far, and how many this shard opens. */
  connected?: number;
  connections?: number;
  /** Latency so far (response time in open loop, else service time), µs; about once a second. */
  p50Us?: number;
  p99Us?: number;
}

/** Hooks between a shard and whoever runs it. */
export interface ShardHooks {
  /** Called when every client is connected; resolve to start the load. */
  ready(): Promise<void>;
  /** Live counters, about once a second. */
  tick?(t: ShardTick): void;
  /** Aborts the run. */
  signal?: AbortSignal;
}

/**
 * bench's scheduler over the engine: closed loop keeps `pipeline` requests in flight per client
 * (as memtier); open loop sends on a constant or Poisson schedule per client, and a request that
 * could not go on time keeps its intended time (no coordinated omission).
 */
class BenchScheduler {
  stopped = false;
  sent = 0;
  completed = 0; // measured + warm-up completions
  lastReplyUs = 0;
  endUs = Infinity;
  readonly #cfg: ShardConfig;
  readonly #compiled: Compiled[];
  readonly #cdf: number[];
  readonly #clients: ClientState[];
  readonly #openLoop: boolean;
  readonly #P: number;
  readonly #meanIntervalUs: number;
  readonly #poisson: boolean;
  readonly #lateUs: number;
  conns: PipelinedConnection[] = [];

  constructor(cfg: ShardConfig, compiled: Compiled[], clients: ClientState[]) {
    this.#cfg = cfg;
    this.#compiled = compiled;
    this.#clients = clients;
    const total = cfg.weights.reduce((a, b) => a + b, 0);
    this.#cdf = cfg.weights.map((_, i) =>
      cfg.weights.slice(0, i + 1).reduce((a, b) => a + b, 0) / total
    );
    this.#openLoop = cfg.ratePerSec !== undefined;
    this.#P = cfg.pipeline;
    this.#meanIntervalUs = this.#openLoop ? 1e6 / (cfg.ratePerSec! / cfg.clients) : 0;
    this.#poisson = cfg.arrival === "poisson";
    this.#lateUs = cfg.lateThresholdUs;
  }

  /** Open loop: each client's first due time, spread over one interval from `t0`. */
  startSchedule(t0: number): void {
    for (const k of this.#clients) k.start(t0, this.#meanIntervalUs, this.#poisson);
  }

  #pick(k: ClientState): number {
    const cdf = this.#cdf;
    if (cdf.length === 1) return 0;
    const u = k.rng.next();
    for (let i = 0; i < cdf.length - 1; i++) if (u < cdf[i]!) return i;
    return cdf.length - 1;
  }

  // Renders one request into the connection's out buffer and in-flight ring.
  #enqueue(c: PipelinedConnection, k: ClientState, intendedUs: number, clientLate: number): void {
    const ci = this.#pick(k);
    const cc = this.#compiled[ci]!;
    const ids = k.ids;
    for (let s = 0; s < cc.slots; s++) ids[s] = k.keys.next();
    const size = cc.hasData ? k.sizer() : 0;
    c.outLen = cc.template.render(c.out, c.outLen, ids, size);
    // The command index is also the reply unit: the dialect's scanners know each command's end.
    c.push(ci, ci, intendedUs, clientLate);
    k.issued++;
    this.sent++;
  }

  fill(c: PipelinedConnection, now: number): void {
    if (now >= this.endUs) this.stopped = true;
    if (this.#openLoop) this.#sendDue(c, now);
    else {
      // Closed loop: the requests freed by one read chunk go out together in one write.
      const k = this.#clients[c.local]!;
      while (c.inflight < this.#P && !this.stopped && !k.spent) this.#enqueue(c, k, 0, 0);
    }
  }

  // Open loop: queue what is due, as capacity allows; late sends keep their intended time.
  #sendDue(c: PipelinedConnection, now: number): void {
    const k = this.#clients[c.local]!;
    const P = this.#P;
    // Membench's own lag ends where the server's began: when every slot was found taken.
    const lagEnd = k.blockedSinceUs < now ? k.blockedSinceUs : now;
    while (c.inflight < P && !this.stopped && k.issued < k.limit && k.nextDueUs <= now) {
      this.#enqueue(c, k, k.nextDueUs, lagEnd - k.nextDueUs > this.#lateUs ? 1 : 0);
      k.advance(this.#meanIntervalUs, this.#poisson);
    }
    if (c.inflight < P) k.blockedSinceUs = Infinity;
    else if (k.blockedSinceUs === Infinity) k.blockedSinceUs = now;
  }

  due(now: number): number {
    if (this.stopped || !this.#openLoop) return Infinity;
    let next = Infinity;
    const P = this.#P;
    for (const c of this.conns) {
      if (c.dead || c.transport === undefined) continue;
      this.#sendDue(c, now);
      this.#flush(c);
      const k = this.#clients[c.local]!;
      if (c.inflight < P && k.issued < k.limit && k.nextDueUs < next) next = k.nextDueUs;
    }
    return next;
  }

  #flush: (c: PipelinedConnection) => void = () => {};
  /** The engine's flush, for the paced sends of `due`. */
  bind(engine: Engine): void {
    this.#flush = (c) => engine.flush(c);
  }

  sent_(c: PipelinedConnection, s: number, now: number): void {
    if (now - c.intended[s]! > this.#lateUs) {
      const m = this.#compiled[c.op[s]!]!.metrics;
      m.late++;
      if (c.flag[s] === 1) m.lateClient++;
    }
  }

  reply(c: PipelinedConnection, s: number, now: number): void {
    const cc = this.#compiled[c.op[s]!]!;
    const m = cc.metrics;
    m.recordService(now - c.sent[s]!);
    if (this.#openLoop) m.recordResponse(now - c.intended[s]!);
    const sc = c.scanner;
    const kind = sc.kind;
    if (kind === REPLY_ERROR) {
      const code = sc.errorCode();
      // The text is decoded for the first error of each code only.
      if (m.recordError(code)) m.errorText(code, replyErrorText(sc));
    } else if (cc.hitRule !== 0) {
      if (cc.hitRule === 1) {
        if (kind === REPLY_NULL) m.misses++;
        else m.hits++;
      } else if (cc.hitRule === 2) {
        m.hits += sc.elements - sc.nulls;
        m.misses += sc.nulls;
      } else if (kind === REPLY_NULL || sc.elements === 0) m.misses++;
      else m.hits++;
    }
    this.completed++;
    this.lastReplyUs = now;
  }

  failed(c: PipelinedConnection, s: number, code: string): void {
    const m = this.#compiled[c.op[s]!]!.metrics;
    m.count++;
    if (m.recordError(code)) m.errorText(code, failureText(c, code, this.#cfg.requestTimeoutMs));
    this.completed++;
  }

  exhausted(c: PipelinedConnection): boolean {
    const k = this.#clients[c.local]!;
    return this.stopped || k.spent;
  }

  /** After a reconnect the schedule resumes from now. */
  resumeAt(c: PipelinedConnection, now: number): void {
    this.#clients[c.local]!.resumeAt(now);
  }
}

/**
 * Runs one isolate's share of a load test: connects its clients, waits for `hooks.ready()`, runs
 * closed or open loop over the connection engine until the request count or duration is reached,
 * and returns its metrics. Never prints; never throws for server or connection failures during
 * the run (they are counted, and `fatal` is set when every client has given up).
 */
export async function runShard(cfg: ShardConfig, hooks: ShardHooks): Promise<ShardResult> {
  const openLoop = cfg.ratePerSec !== undefined;
  const dialectOf = (keyPrefix: string) =>
    makeDialect({
      protocol: cfg.protocol,
      keyPrefix,
      keyspace: cfg.keyspace,
      resp3: cfg.resp3,
      clientName: cfg.clientName,
      connectTimeoutMs: cfg.connectTimeoutMs,
      requestTimeoutMs: cfg.requestTimeoutMs,
      memcache: cfg.memcache,
      socket: cfg.io === "uring",
    });
  const dialect = dialectOf(cfg.keyPrefix);
  const compiled: Compiled[] = dialect.compile(cfg.commands).map(
    (c: CompiledRequest, i: number) => ({
      spec: cfg.commands[i]!,
      template: c.request,
      slots: c.request.digitSlots,
      hasData: c.request.hasData,
      metrics: new CommandMetrics(cfg.commands[i]!.name, openLoop),
      hitRule: c.hits,
    }),
  );
  const maxData = maxValueSize(cfg.dataSize);
  const maxReq = Math.max(...compiled.map((c) => c.template.maxLength(maxData)));
  const maxSlots = Math.max(...compiled.map((c) => c.slots));
  const P = cfg.pipeline;

  // Cluster mode: a connection per (client, node), client-major; else one per client.
  const cl = cfg.cluster;
  const N = cl ? cl.nodes.length : 1;
  const router: Router = cl
    ? new NodeRouter(cfg.targets[0]!, cl.nodes)
    : new RoundRobinRouter(cfg.targets);
  const shapes = cl
    ? clusterKeyShapes(
      cfg.commands,
      cfg.keyPrefix,
      cfg.keyspace,
      cl.standalone ?? false,
      cl.tags ?? false,
    )
    : [];
  const conns: PipelinedConnection[] = [];
  const states: ClientState[] = [];
  const signal = hooks.signal;
  // More connections than this process may open files: say so before allocating their buffers.
  const fdLimit = openFileLimit();
  const wanted = cfg.clients * N * (cfg.connectTurns?.shards ?? 1);
  if (fdLimit !== undefined && wanted > fdLimit - 32) {
    throw new MembenchError(
      "invalid_argument",
      `Cannot open ${wanted.toLocaleString("en-US")} connections: the open-file limit of this ` +
        `process is ${fdLimit.toLocaleString("en-US")}`,
      { hint: "use fewer clients (-c), or raise the limit (ulimit -n) before running" },
    );
  }
  for (let i = 0; i < cfg.clients; i++) {
    // Many clients: let the timers and Ctrl+C through every 1024 (each holds its buffers).
    if ((i & 1023) === 1023) {
      await new Promise((r) => setTimeout(r, 0));
      if (signal?.aborted) return emptyResult(compiled, true);
    }
    const g = cfg.clientBase + i;
    const rng = Rng.derive(cfg.seed, g);
    const keys = keyGenerator(cfg.keyPattern, cfg.keyspace, rng, {
      index: g,
      count: cfg.totalClients,
    });
    for (let n = 0; n < N; n++) {
      conns.push(
        new PipelinedConnection(
          g * N + n,
          i * N + n,
          router.targetOf(cl ? g * N + n : g),
          dialect.replies(`reply stream of client ${g}${cl ? ` to ${cl.nodes[n]!.address}` : ""}`),
          // Cluster: redirected requests and ASKING share a node's ring with fresh ones.
          cl ? 2 * P + 2 : P,
          maxReq * P,
        ),
      );
    }
    states.push(new ClientState(keys, rng, valueSizer(cfg.dataSize, rng), maxSlots));
  }
  if (cfg.requests !== undefined) {
    states.forEach((k, i) => {
      k.share = Math.floor(cfg.requests! / cfg.clients) + (i < cfg.requests! % cfg.clients ? 1 : 0);
      k.limit = cfg.warmupMs > 0 ? Infinity : k.share;
    });
  }
  // Replica reads need READONLY on the connection (harmless on a primary).
  const readOnly = cl !== undefined && cl.rfr !== "primary" && !cl.standalone;
  // Connect everybody first; the load starts together. With several shards, the clients open in
  // turns dealt over the shards (see _turns.ts). Ctrl+C ends the connect phase at once.
  const total = conns.length;
  let lastConnTick = -Infinity;
  const connTick = (connected: number, force = false) => {
    const now = performance.now();
    if (!force && now - lastConnTick < 100) return;
    lastConnTick = now;
    hooks.tick?.({
      requests: 0,
      errors: 0,
      warmup: cfg.warmupMs > 0,
      connecting: true,
      connected,
      connections: total,
    });
  };
  // Nodes that discovery saw failed get no connection (a refused connect would end the run
  // before it starts): dead from the start; nothing goes to them unless they own slots.
  const reachable = cl ? conns.filter((c) => cl.nodes[c.local % N]!.healthy) : conns;
  for (const c of conns) if (cl && !cl.nodes[c.local % N]!.healthy) c.dead = true;
  // A node that does not answer (down, not yet flagged failed) is done without when it is a
  // replica (reads go to the others or to the primary) or a primary with a replica that answers
  // (requests for its slots wait, parked, for the failover; see unservedPrimary): its
  // connections are dead.
  const optional = (k: number) =>
    cl !== undefined && canStartWithout(cl.nodes, reachable[k]!.local % N, cl.standalone);
  const optionalErrors = new Map<number, unknown>();
  const transports = cfg.connectTurns
    ? await openAllInTurns(
      cfg,
      reachable.length,
      (k) => dialect.open(reachable[k]!.target, readOnly),
      connTick,
      signal,
      optional,
      optionalErrors,
    )
    : await connectAll(reachable.length, (k) => dialect.open(reachable[k]!.target, readOnly), {
      ...(signal ? { signal } : {}),
      onProgress: (n) => connTick(n),
      optional,
      onOptionalFailure: (k, e) => optionalErrors.set(k, e),
    });
  if (transports === undefined) return emptyResult(compiled, true);
  transports.forEach((t, i) => {
    reachable[i]!.transport = t;
    if (t === undefined) reachable[i]!.dead = true;
  });
  if (cl) {
    const unserved = unservedPrimary(cl.nodes, reachable, transports, optionalErrors, N);
    if (unserved !== undefined) {
      for (const t of transports) t?.close();
      throw unserved;
    }
  }
  connTick(total, true);

  let refresh = () => {};
  const sched = cl
    ? new ClusterScheduler({
      compiled,
      shapes,
      clients: states,
      map: new SlotMap({ nodes: cl.nodes, slots: cl.slots, source: "shards", seed: "" }),
      rfr: cl.rfr,
      balance: cl.balance,
      affinity: cl.affinity,
      clientBase: cfg.clientBase,
      pipeline: P,
      maxSlots,
      weights: cfg.weights,
      openLoop,
      meanIntervalUs: openLoop ? 1e6 / (cfg.ratePerSec! / cfg.clients) : 0,
      poisson: cfg.arrival === "poisson",
      lateUs: cfg.lateThresholdUs,
      requestTimeoutMs: cfg.requestTimeoutMs,
      refresh: () => refresh(),
      // A node that appeared during the run (scale-out): a connection per client, as at start.
      connect: (k, node, n, local) =>
        new PipelinedConnection(
          // After every client's connections to the first N nodes: node by node, client by client.
          cfg.totalClients * n + cfg.clientBase + k,
          local,
          nodeTarget(cfg.targets[0]!, node),
          dialect.replies(`reply stream of client ${cfg.clientBase + k} to ${node.address}`),
          2 * P + 2,
          maxReq * P,
        ),
      openNew: (c) => dialect.open(c.target, readOnly),
      tagged: cl.tags
        ? (tag) =>
          dialectOf(`${cfg.keyPrefix}{${tag}}:`)
            .compile(cfg.commands.map((spec, i) => withTag(spec, shapes[i]!, tag)))
            .map((c) => c.request)
        : undefined,
    })
    : new BenchScheduler(cfg, compiled, states);
  if (sched instanceof BenchScheduler) sched.conns = conns;
  const engine = new Engine(
    conns,
    {
      io: cfg.io,
      open: async (c) => {
        const t = await dialect.open(c.target, readOnly);
        if (openLoop) sched.resumeAt(c, nowUs());
        return t;
      },
      requestTimeoutMs: cfg.requestTimeoutMs,
      reconnect: cfg.reconnect,
      ...(hooks.signal ? { signal: hooks.signal } : {}),
    },
    {
      fill: (c, now) => sched.fill(c, now),
      reply: (c, s, now) => sched.reply(c, s, now),
      failed: (c, s, code) => sched.failed(c, s, code),
      exhausted: (c) => sched.exhausted(c),
      ...(sched instanceof ClusterScheduler ? { lost: () => refresh() } : {}),
      ...(openLoop
        ? { due: (now: number) => sched.due(now), sent: (c, s, now) => sched.sent_(c, s, now) }
        : {}),
    } satisfies Scheduler,
  );
  let drainer: ReturnType<typeof setInterval> | undefined;
  if (sched instanceof ClusterScheduler) {
    sched.bind(engine, conns);
    // Topology refreshes (a node lost, a MOVED to an unknown node), at most one at a time and
    // one every 200 ms; a node the run did not start with gets connections then.
    let busy = false;
    let lastAt = 0;
    const seedTargets = cl!.nodes.map((n) => nodeTarget(cfg.targets[0]!, n));
    refresh = () => {
      if (busy || engine.done || Date.now() - lastAt < 200) return;
      busy = true;
      lastAt = Date.now();
      (cl!.standalone ? discoverReplication : discoverCluster)(seedTargets, {
        connectTimeoutMs: 500,
        requestTimeoutMs: 1000,
      })
        .then((t) => {
          if (!engine.done) sched.updateTopology(t);
        })
        .catch(() => {/* no node answered: the next loss or redirect asks again */})
        .finally(() => busy = false);
    };
    // Parked requests (node down, TRYAGAIN, CLUSTERDOWN) go again when due.
    drainer = setInterval(() => sched.drain(nowUs()), 5);
  } else sched.bind(engine);

  let warmup = cfg.warmupMs > 0;
  let warmupRequests = 0;
  let second = 0;
  // Waiting for the other shards: Ctrl+C ends the wait (the engine then stops at once).
  await Promise.race([hooks.ready(), abortOf(signal)]);
  const startUs = nowUs();
  const warmupEndUs = startUs + cfg.warmupMs * 1000;
  let measureStartUs = warmup ? warmupEndUs : startUs;
  if (!warmup && cfg.durationMs !== undefined) sched.endUs = startUs + cfg.durationMs * 1000;

  const endWarmup = () => {
    warmup = false;
    warmupRequests = sched.completed;
    for (const cc of compiled) cc.metrics.reset();
    if (sched instanceof ClusterScheduler) sched.resetNodes();
    measureStartUs = nowUs();
    second = 0;
    for (const k of states) k.limit = k.issued + k.share;
    if (sched instanceof ClusterScheduler) sched.shareBudget();
    if (cfg.durationMs !== undefined) sched.endUs = measureStartUs + cfg.durationMs * 1000;
  };
  const live = newHistogram();
  let houseTurns = 0;
  let p50Us = 0;
  let p99Us = 0;
  // Housekeeping every 100 ms: end of warm-up, second boundaries, duration end, live counters.
  const house = setInterval(() => {
    const now = nowUs();
    if (warmup && now >= warmupEndUs) endWarmup();
    if (!warmup) {
      while (now >= measureStartUs + (second + 1) * 1e6) {
        for (const cc of compiled) cc.metrics.rotate(second);
        second++;
      }
    }
    if (now >= sched.endUs) sched.stopped = true;
    if (sched.stopped) {
      engine.checkDone();
      engine.wake();
    }
    let errors = 0;
    let reqs = 0;
    for (const cc of compiled) {
      errors += cc.metrics.errorCount;
      reqs += cc.metrics.count;
    }
    // The latency so far, once a second (a merge of the histograms: cheap at that pace).
    if (hooks.tick && !warmup && ++houseTurns % 10 === 0) {
      live.reset();
      for (const cc of compiled) cc.metrics.addLatencySoFar(live);
      p50Us = live.getValueAtPercentile(50);
      p99Us = live.getValueAtPercentile(99);
    }
    hooks.tick?.({
      requests: reqs,
      errors,
      warmup,
      connecting: false,
      connected: total,
      connections: total,
      p50Us,
      p99Us,
    });
  }, 100);
  if (openLoop) sched.startSchedule(nowUs());
  try {
    await engine.run();
  } finally {
    sched.stopped = true;
    clearInterval(house);
    if (drainer !== undefined) clearInterval(drainer);
    live.destroy();
  }
  let lastReplyUs = sched.lastReplyUs;
  if (warmup) {
    // Stopped before warm-up ended: nothing was measured.
    warmupRequests = sched.completed;
    for (const cc of compiled) cc.metrics.reset();
    lastReplyUs = measureStartUs;
  }
  const endAt = engine.interrupted ? nowUs() : Math.max(lastReplyUs, measureStartUs);
  const fatal = engine.fatal;
  const result: ShardResult = {
    commands: compiled.map((cc) => cc.metrics.finish(second)),
    warmupRequests,
    sent: sched.sent,
    reconnects: engine.reconnects,
    measuredUs: Math.max(0, endAt - measureStartUs),
    measureStartMs: Date.now() - (nowUs() - measureStartUs) / 1000,
    interrupted: engine.interrupted,
    fatal: fatal ? { code: fatal.code, message: fatal.message } : undefined,
    // Cluster: requests waiting to be resent when the run was interrupted are abandoned too.
    abandoned: engine.abandoned + (sched instanceof ClusterScheduler ? sched.parked : 0),
    ...(sched instanceof ClusterScheduler ? { nodes: sched.finishNodes() } : {}),
  };
  for (const cc of compiled) cc.metrics.destroy();
  return result;
}

// What a shard stopped before its load started returns: nothing measured.
function emptyResult(compiled: Compiled[], interrupted: boolean): ShardResult {
  const result: ShardResult = {
    commands: compiled.map((cc) => cc.metrics.finish(0)),
    warmupRequests: 0,
    sent: 0,
    reconnects: 0,
    measuredUs: 0,
    measureStartMs: Date.now(),
    interrupted,
    fatal: undefined,
    abandoned: 0,
  };
  for (const cc of compiled) cc.metrics.destroy();
  return result;
}

// Resolves when `signal` aborts (never without one).
function abortOf(signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal?.aborted) resolve();
    else signal?.addEventListener("abort", () => resolve(), { once: true });
  });
}

// The connect phase in turns shared with the other shards (see _turns.ts), ended at once by the
// signal: connects after it fail at once, and whatever opened is closed. Undefined when aborted.
async function openAllInTurns(
  cfg: ShardConfig,
  total: number,
  open: (k: number) => Promise<Transport>,
  tick: (connected: number) => void,
  signal: AbortSignal | undefined,
  optional: (k: number) => boolean,
  optionalErrors: Map<number, unknown>,
): Promise<Array<Transport | undefined> | undefined> {
  let connected = 0;
  const closeOpened = (rs: PromiseSettledResult<Transport>[]) => {
    for (const r of rs) if (r.status === "fulfilled") r.value.close();
  };
  const opening = openInTurns(
    cfg.connectTurns!,
    cfg.shard,
    total,
    cfg.connectTimeoutMs,
    async (k) => {
      if (signal?.aborted) throw new MembenchError("interrupted", "Interrupted while connecting");
      const t = await open(k);
      tick(++connected);
      return t;
    },
    optional,
  );
  const opened = await Promise.race([opening, abortOf(signal).then(() => undefined)]);
  if (opened === undefined || signal?.aborted) {
    // Connects still under way close as they finish.
    void opening.then(closeOpened);
    return undefined;
  }
  const failed = opened.find((r, k) => r.status === "rejected" && !optional(k));
  if (failed) {
    closeOpened(opened);
    // A server that answers in another protocol fails the handshake: say which one it speaks.
    throw withProtocolHint((failed as PromiseRejectedResult).reason, cfg.protocol);
  }
  opened.forEach((r, k) => {
    if (r.status === "rejected") optionalErrors.set(k, r.reason);
  });
  // Every connection was tried (openInTurns goes on after an optional failure).
  return Array.from({ length: total }, (_, k) => {
    const r = opened[k];
    return r?.status === "fulfilled" ? r.value : undefined;
  });
}

// A primary none of whose connections opened is done without only when a replica of it
// answered (canStartWithout let it fail on the strength of discovery's view of its replicas):
// with every replica down too, nothing could serve its slots, and its requests would fail as
// `unavailable` seconds into the run with the connect errors unsaid. The error names them.
function unservedPrimary(
  nodes: readonly ClusterNode[],
  conns: readonly PipelinedConnection[],
  transports: ReadonlyArray<Transport | undefined>,
  errors: ReadonlyMap<number, unknown>,
  N: number,
): MembenchError | undefined {
  const tried = new Uint8Array(N);
  const up = new Uint8Array(N);
  const why = new Map<number, string>();
  conns.forEach((c, k) => {
    const n = c.local % N;
    tried[n] = 1;
    if (transports[k] !== undefined) up[n] = 1;
    else if (!why.has(n) && errors.has(k)) why.set(n, errorMessage(errors.get(k)));
  });
  for (let n = 0; n < N; n++) {
    const node = nodes[n]!;
    if (node.role !== "primary" || !tried[n] || up[n]) continue;
    const heirs = nodes.flatMap((r, j) => r.role === "replica" && r.primary === n ? [j] : []);
    if (heirs.some((j) => up[j] === 1)) continue;
    // A connect error names its address already ("127.0.0.1:7001: connection refused").
    const said = (j: number) => {
      const a = nodes[j]!.address;
      const w = why.get(j) ?? (tried[j] ? "not connected" : "failed, as the cluster says");
      return w.startsWith(`${a}:`) ? w : `${a}: ${w}`;
    };
    return new MembenchError(
      "connection",
      `Cannot start: primary ${said(n)}, and none of its replicas answered (${
        heirs.map(said).join("; ")
      }): nothing can serve its slots`,
    );
  }
  return undefined;
}
