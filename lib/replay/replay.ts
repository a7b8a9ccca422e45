import {
  type ClusterNode,
  discoverCluster,
  keySlot,
  nodeTarget,
  parseRedirect,
  SlotMap,
} from "../cluster/mod.ts";
import { LogHistogram } from "../analyze/mod.ts";
import { MembenchError } from "../errors/mod.ts";
import { CommandMetrics, newHistogram, summarizeEncoded } from "../metrics/mod.ts";
import {
  chooseIo,
  connectAll,
  endpointName,
  Engine,
  openMemcache,
  parseTarget,
  PipelinedConnection,
  type ReplyReader,
  RespConnection,
  RoundRobinRouter,
  type Target,
  type Transport,
} from "../net/mod.ts";
import { resolveServerMetrics, ServerMonitor } from "../monitor/mod.ts";
import { eventArgs, NO_VALUE, ProfileReader, Shape } from "../profile/mod.ts";
import {
  FillPattern,
  McAsciiReplyScanner,
  McBinaryReplyScanner,
} from "../protocol/memcache/mod.ts";
import { defaultPort, findCommand, type ProtocolName } from "../protocol/mod.ts";
import { ReplyScanner } from "../protocol/resp/mod.ts";
import { nowUs, parseWallClock, sleepUntilWallClock } from "../units/mod.ts";
import { checkShardSpec, parseShardSpec, shardRange } from "../workload/mod.ts";
import { fidelityOf } from "./fidelity.ts";
import type {
  FidelityReport,
  ReplayClusterReport,
  ReplayCommand,
  ReplayOptions,
  ReplayProgress,
  ReplayResult,
  ReplayShardData,
} from "./types.ts";
import {
  buildMultiKeyRequest,
  buildRequest,
  buildTextMultiGet,
  MC_UNITS,
  quietFence,
  SLOT_KEY_MIN,
  synthesizeKey,
  type TextFastPlan,
  textFastPlan,
  textFastSize,
  writeTextFast,
} from "./requests.ts";
import { type ReplayCounters, ReplayScheduler } from "./schedule.ts";
import { scanProfile } from "./scan.ts";
import { serverCounters, verifyServer } from "./verify.ts";
import { warm } from "./warm.ts";

// Yields to the event loop (timers, the engine's sends) at the cost of one task, far less than
// setTimeout(0), which waits about 1-2 ms on this Deno. But while channel messages keep coming,
// Deno does not poll sockets (replies to Deno-driven connections would wait for the router), so
// every 20 ms the yield is a timer turn, which does. The channel lives only while a replay runs:
// an open port keeps the process alive.
function eventLoopYielder(): { yield(): Promise<void>; close(): void } {
  const channel = new MessageChannel();
  const waiters: Array<() => void> = [];
  channel.port1.onmessage = () => waiters.shift()?.();
  let lastTimerTurn = performance.now();
  return {
    yield: () =>
      new Promise((r) => {
        const now = performance.now();
        if (now - lastTimerTurn >= 20) {
          lastTimerTurn = now;
          setTimeout(r, 0);
          return;
        }
        waiters.push(r);
        channel.port2.postMessage(0);
      }),
    close: () => {
      channel.port1.close();
      channel.port2.close();
      for (const w of waiters.splice(0)) w();
    },
  };
}

// The schedule starts when the router has its first events, with a head start to fill the
// queues, so that the first sends are not late by the time it took to open the profile.
const HEAD_START_US = 20_000;

/**
 * Replays a profile against a server: one connection per recorded connection (or folded or
 * multiplied with `connections`), each keeping its requests' order; keys rebuilt from their
 * hashes at their recorded lengths, values of their recorded lengths. Paced replays send on the
 * recorded schedule scaled by `speed` (open loop: response time is measured from the intended
 * send time, and late sends are counted); `speed: "max"` sends as fast as replies allow while
 * keeping each connection's recorded pipelining. The profile is streamed into bounded queues.
 * The connections are the bench's engine's: a lost connection fails its requests in flight
 * (counted as errors), reconnects with backoff (counted) and goes on with its queue. Never
 * prints.
 *
 * @throws {MembenchError} `file` for an unreadable profile, `connection`/`auth` when the target
 *   cannot be reached, `invalid_argument` for bad options.
 */
export async function replay(o: ReplayOptions): Promise<ReplayResult> {
  const speed = o.speed ?? 1;
  if (speed !== "max" && !(typeof speed === "number" && speed > 0)) {
    throw new MembenchError(
      "invalid_argument",
      `Cannot use 'speed': must be > 0 or "max": current value is ${speed}`,
    );
  }
  const loop = o.loop ?? 1;
  if (loop !== "forever" && !(Number.isInteger(loop) && loop >= 1)) {
    throw new MembenchError(
      "invalid_argument",
      `Cannot use 'loop': must be an integer >= 1 or "forever": current value is ${loop}`,
    );
  }
  // Thresholds a max-speed replay cannot be held to: it keeps no schedule.
  for (const key of ["maxLatenessP99Us", "maxRateError"] as const) {
    if (speed === "max" && o.thresholds?.[key] !== undefined) {
      throw new MembenchError(
        "invalid_argument",
        `Cannot use threshold '${key}' with speed "max": it compares with the recorded ` +
          "schedule, which a max-speed replay does not keep",
      );
    }
  }
  // A first pass: connections, protocol, span, recorded figures, warm-up keys.
  const scan = await scanProfile(o.profile, o.warmup ?? false, o.signal);
  const protocol: ProtocolName = o.protocol ?? scan.protocol;
  const recordedConns = scan.connIds.length;
  const nConns = o.connections ?? Math.max(1, recordedConns);
  if (!(Number.isInteger(nConns) && nConns >= 1)) {
    throw new MembenchError(
      "invalid_argument",
      `Cannot use 'connections': must be an integer >= 1: current value is ${o.connections}`,
    );
  }
  const copies = Math.max(1, Math.ceil(nConns / Math.max(1, recordedConns)));
  // A run shard replays its contiguous range of the replay connections (each a recorded
  // connection, or a copy of one); N shards together replay every connection once.
  const shard = o.shard === undefined
    ? undefined
    : typeof o.shard === "string"
    ? parseShardSpec(o.shard)
    : (checkShardSpec(o.shard), o.shard);
  const own = shard ? shardRange(nConns, shard) : { start: 0, count: nConns };
  if (shard && o.verifyServer) {
    throw new MembenchError(
      "invalid_argument",
      "Cannot use 'verifyServer' with 'shard': the server's counters also count the other " +
        "shards' requests; compare them around the whole run instead",
    );
  }
  if (shard && shard.count > nConns) {
    throw new MembenchError(
      "invalid_argument",
      `Cannot use 'shard': ${shard.count} shards need at least ${shard.count} replay ` +
        `connections, and the replay has ${nConns} connections`,
    );
  }
  const nLocal = own.count;
  const startAt = o.startAt === undefined ? undefined : parseWallClock(o.startAt);
  if (o.separateKeyspaces && copies <= 1) {
    throw new MembenchError(
      "invalid_argument",
      `Cannot use 'separateKeyspaces': it applies when 'connections' multiplies the recorded ` +
        `connections (${recordedConns} recorded, ${nConns} asked): each copy then gets its own keys`,
    );
  }
  const port = defaultPort(protocol);
  const base: Target = typeof o.target === "object"
    ? { ...o.target }
    : parseTarget(o.target ?? `127.0.0.1:${port}`, port);
  if (o.password !== undefined) base.password = o.password;
  if (o.user !== undefined) base.user = o.user;
  const problems: string[] = [];
  const serverMetrics = resolveServerMetrics(o.serverMetrics, problems);
  if (problems.length > 0) throw new MembenchError("invalid_argument", problems.join("\n"));
  const choice = chooseIo(o.io ?? "auto", [base]);
  if (choice.problem !== undefined) throw new MembenchError("invalid_argument", choice.problem);
  const io = choice.io;
  const binary = protocol === "memcache-binary";
  const connectTimeoutMs = o.connectTimeoutMs ?? 5000;
  const requestTimeoutMs = o.requestTimeoutMs ?? 10_000;
  const open = async (target: Target): Promise<Transport> => {
    if (protocol === "resp") {
      return (await RespConnection.open(target, {
        connectTimeoutMs,
        requestTimeoutMs,
        clientName: o.clientName ?? "membench-replay",
        socket: io === "uring",
      })).transport;
    }
    return await openMemcache(target, {
      protocol: binary ? "binary" : "text",
      connectTimeoutMs,
      requestTimeoutMs,
      socket: io === "uring",
    });
  };
  // Cluster mode: the nodes as discovery finds them now; each replay connection gets a
  // connection to every node (replicas too: one may be promoted while the replay runs).
  if (o.cluster && protocol !== "resp") {
    throw new MembenchError(
      "invalid_argument",
      `Cannot use 'cluster' with protocol '${protocol}': cluster mode is Redis / Valkey's (RESP)`,
    );
  }
  const map = o.cluster
    ? new SlotMap(await discoverCluster([base], { connectTimeoutMs }))
    : undefined;
  const nodeTargets = map ? map.nodes.map((n) => nodeTarget(base, n)) : [base];
  const N = nodeTargets.length;
  const primaries = map ? map.primaries() : [0];
  const keepSlots = map !== undefined && scan.keepSlots;
  const clusterReport: ReplayClusterReport | undefined = map
    ? {
      nodes: map.nodes.map((n) => ({
        address: n.address,
        role: n.role,
        requests: 0,
        moved: 0,
        ask: 0,
      })),
      slotsKept: scan.keepSlots,
      recordedSlot: 0,
      ownSlot: 0,
      keyless: 0,
      crossSlot: 0,
      skew: 0,
      resent: 0,
    }
    : undefined;
  // The node of a request: its slot's owner. Without a key (or with an unowned slot): the node
  // of the replay connection's last keyed request (a recorded connection was to one node, so
  // MULTI, EXEC, PING, ... follow its keys there), or its home primary before any.
  const lastNode = new Int32Array(Math.max(1, nLocal)).fill(-1);
  const nodeOfSlot = (slot: number, global: number): number => {
    if (map === undefined) return 0;
    const owner = slot < 0 ? -1 : map.owner[slot]!;
    const local = global - own.start;
    if (owner >= 0) {
      if (local >= 0 && local < lastNode.length) lastNode[local] = owner;
      return owner;
    }
    const last = local >= 0 && local < lastNode.length ? lastNode[local]! : -1;
    return last >= 0 ? last : primaries[global % primaries.length] ?? 0;
  };
  let routeSeq = 0;
  // Where the last request was routed (counted once it is queued).
  let routeNode = 0;
  let routeHow: "recordedSlot" | "ownSlot" | "keyless" = "keyless";
  const countRoute = () => {
    if (clusterReport === undefined) return;
    clusterReport.nodes[routeNode]!.requests++;
    clusterReport[routeHow]++;
  };
  const result: ReplayResult = {
    config: {
      profile: o.profile,
      target: endpointName(base.endpoint),
      protocol,
      speed,
      loop,
      connections: nConns,
      recordedConnections: recordedConns,
      ...(shard ? { shard: { ...shard, firstConnection: own.start, connections: nLocal } } : {}),
      ...(startAt !== undefined ? { startAt: new Date(startAt).toISOString() } : {}),
      separateKeyspaces: o.separateKeyspaces ?? false,
      warmup: o.warmup ?? false,
      io,
      ...(map ? { cluster: true } : {}),
    },
    loops: 0,
    durationMs: 0,
    recordedSpanUs: scan.spanUs,
    sent: 0,
    completed: 0,
    skipped: {},
    errors: 0,
    late: 0,
    reconnects: 0,
    commands: [],
    lateness: { p50Us: 0, p99Us: 0, maxUs: 0, perConnection: [] },
    rate: { replayed: [], recorded: [] },
    sizes: { recorded: [], replayed: [] },
    interrupted: false,
    fidelity: undefined as unknown as FidelityReport,
  };
  // Values are digits: a recorded counter (set, then incr/INCRBY/ma) stays a number, as the
  // original client's was; any other value is as good as any other bytes.
  const fill = new FillPattern(new Uint8Array([49]));
  // Replayed value sizes are measured here, from the values actually handed to the encoders
  // (first copy of each request only), not copied from the profile: a replay that sent values of
  // the wrong size shows in fidelity's size_ks.
  let measure = false;
  const replayedSizes: number[] = [];
  const fillOf = (n: number) => {
    if (measure && replayedSizes.length < 100_000) replayedSizes.push(n);
    return fill.view(n);
  };
  // The live progress: what every phase reports, with its own figures on top.
  const progressBase: ReplayProgress = {
    phase: "connect",
    connected: 0,
    connections: nLocal * N,
    loop: 0,
    elapsedMs: 0,
    sent: 0,
    completed: 0,
    errors: 0,
    opsPerSec: 0,
    p50Us: 0,
    p99Us: 0,
    late: 0,
  };
  // Shards: the first warms the server for all (the others would store the same keys again).
  if (o.warmup && (shard === undefined || shard.index === 0)) {
    const t0 = performance.now();
    const tell = () =>
      o.onProgress?.({ ...progressBase, phase: "warmup", elapsedMs: performance.now() - t0 });
    tell();
    const timer = setInterval(tell, 1000);
    try {
      result.warmup = await warm(
        scan.warm,
        protocol,
        base,
        fillOf,
        o.signal,
        map
          ? { targets: nodeTargets, keepSlots, nodeOf: (key) => nodeOfSlot(keySlot(key), 0) }
          : undefined,
      );
    } finally {
      clearInterval(timer);
    }
  }
  // In a cluster, the primaries' counters summed (replicas count what they replicate), and
  // those of nodes that joined during the replay (counted from nothing: not read before).
  const joinedNodes: number[] = [];
  const counters = async () => {
    if (map === undefined) return await serverCounters(base, protocol);
    const sum: Record<string, number> = {};
    for (const p of [...primaries, ...joinedNodes]) {
      for (const [name, n] of Object.entries(await serverCounters(nodeTargets[p]!, protocol))) {
        sum[name] = (sum[name] ?? 0) + n;
      }
    }
    return sum;
  };
  const countersBefore = o.verifyServer ? await counters() : undefined;

  const paced = speed !== "max";
  const ops = scan.ops;
  const k: ReplayCounters = {
    metrics: ops.map((name) => new CommandMetrics(name, paced)),
    sent: new Array<number>(ops.length).fill(0),
    late: new Array<number>(ops.length).fill(0),
    hits: new Array<number>(ops.length).fill(0),
    misses: new Array<number>(ops.length).fill(0),
  };

  // Connections, opened up front so that the replay starts together.
  const servers = new RoundRobinRouter([base]);
  const conns: PipelinedConnection[] = [];
  // In a cluster, replay connection i's connection to node n is conns[i·N + n].
  for (let i = 0; i < nLocal; i++) {
    for (let n = 0; n < N; n++) {
      const name = map
        ? `replay connection ${own.start + i} to ${map.nodes[n]!.address}`
        : `replay connection ${own.start + i}`;
      const scanner: ReplyReader = protocol === "resp"
        ? new ReplyScanner(name)
        : binary
        ? new McBinaryReplyScanner(MC_UNITS, name)
        : new McAsciiReplyScanner(MC_UNITS, name);
      conns.push(
        new PipelinedConnection(
          own.start + i,
          i * N + n,
          map ? nodeTargets[n]! : servers.targetOf(own.start + i),
          scanner,
          64,
          64 * 1024,
        ),
      );
    }
  }
  // Bounded connects that Ctrl+C ends at once (with nothing replayed).
  const connectStart = performance.now();
  // In a cluster, nodes that discovery saw failed get no connection (one that cannot be opened
  // would end the connect phase): they are dead from the start, and nothing is routed to them
  // unless they own slots.
  const reachable = map ? conns.filter((c) => map.nodes[c.local % N]!.healthy) : conns;
  if (reachable !== conns) {
    for (const c of conns) if (!map!.nodes[c.local % N]!.healthy) c.dead = true;
  }
  const transports = await connectAll(reachable.length, (i) => open(reachable[i]!.target), {
    // A replica that does not answer (down, not yet flagged failed): done without.
    ...(map
      ? { optional: (i: number) => map.nodes[reachable[i]!.local % N]!.role === "replica" }
      : {}),
    ...(o.signal ? { signal: o.signal } : {}),
    onProgress: (connected) =>
      o.onProgress?.({
        ...progressBase,
        connected,
        elapsedMs: performance.now() - connectStart,
      }),
  });
  if (transports === undefined) {
    result.interrupted = true;
    for (const m of k.metrics) m.destroy();
    result.fidelity = fidelityOf(result, o.thresholds, protocol === scan.protocol);
    return result;
  }
  transports.forEach((t, i) => {
    reachable[i]!.transport = t;
    if (t === undefined) reachable[i]!.dead = true;
  });

  const sched = new ReplayScheduler(conns, paced, o.lateThresholdUs ?? 1000, k, N);
  const ac = new AbortController();
  const engine = new Engine(conns, {
    io,
    open: (c) => open(c.target),
    requestTimeoutMs,
    reconnect: { maxAttempts: 5, baseDelayMs: 50, maxDelayMs: 1000, ...o.reconnect },
    signal: ac.signal,
  }, sched);
  sched.bind(engine);
  if (map !== undefined && clusterReport !== undefined) {
    // A node that joins during the replay (scale-out): every replay connection of this shard
    // gets a connection to it, opened while the replay goes on; requests routed to it wait in
    // its queue until it is open.
    const join = (node: ClusterNode): number => {
      const n = map.add(node);
      if (n < clusterReport.nodes.length) return n;
      const t = nodeTarget(base, map.nodes[n]!);
      nodeTargets.push(t);
      joinedNodes.push(n);
      clusterReport.nodes.push({
        address: node.address,
        role: node.role,
        requests: 0,
        moved: 0,
        ask: 0,
      });
      for (let i = 0; i < nLocal; i++) {
        const c = new PipelinedConnection(
          own.start + i,
          conns.length,
          t,
          new ReplyScanner(`replay connection ${own.start + i} to ${node.address}`),
          64,
          64 * 1024,
        );
        sched.join(c, i, n);
        void engine.attach(c);
      }
      return n;
    };
    // Redirections: counted on the node that answered, and the request goes again to the node
    // named (after ASKING for ASK); MOVED corrects the slot map. A node this replay does not know
    // joins it at once (the request goes there), and the topology is read again (at most once a
    // second) for the rest of the change.
    let refreshing = false;
    let lastRefresh = -Infinity;
    const refresh = () => {
      const now = performance.now();
      if (refreshing || now - lastRefresh < 1000) return;
      refreshing = true;
      lastRefresh = now;
      discoverCluster([base], { connectTimeoutMs })
        .then((t) => {
          if (engine.done) return;
          for (const node of t.nodes) {
            if (node.healthy && map.indexOf(node.address) < 0) join(node);
          }
          map.update(t);
        }, () => {})
        .finally(() => refreshing = false);
    };
    sched.onErrorReply = (c) => {
      const sc = c.scanner as ReplyScanner;
      if (sc.errorCode() === "CROSSSLOT") clusterReport.crossSlot++;
      const from = sched.nodeOf(c);
      const r = parseRedirect(sc.errorText(), map.nodes[from]!.host);
      if (r === undefined) return undefined;
      const node = clusterReport.nodes[from]!;
      const address = r.address;
      let to = map.indexOf(address);
      if (to < 0 && !engine.done) {
        if (r.host !== "") {
          to = join({
            id: "",
            host: r.host,
            port: r.port,
            address,
            role: "primary",
            primary: -1,
            healthy: true,
          });
        }
        refresh();
      }
      if (r.kind === "ASK") {
        node.ask++;
        return { node: to, ask: true };
      }
      node.moved++;
      if (to >= 0) map.moved(r.slot, address);
      return to >= 0 ? { node: to, ask: false } : undefined;
    };
  }
  const yielder = eventLoopYielder();
  let stopped = false;
  const onAbort = () => {
    stopped = true;
    sched.stopped = true;
    result.interrupted = true;
    sched.releaseAll();
    ac.abort();
  };
  if (o.signal?.aborted) onAbort();
  o.signal?.addEventListener("abort", onAbort, { once: true });
  // Once a second: rate over the last second, latency so far (the op histograms merged) and
  // the time left (paced: the recorded span of the loops left; max speed: by the current rate).
  const live = newHistogram();
  const totalRequests = scan.perOp.reduce((a, p) => a + p.count, 0) * copies;
  let lastCompleted = 0;
  let lastAt = performance.now();
  const progress = setInterval(() => {
    if (!o.onProgress) return;
    const now = performance.now();
    const dt = (now - lastAt) / 1000;
    const opsPerSec = dt > 0 ? (sched.completed - lastCompleted) / dt : 0;
    lastAt = now;
    lastCompleted = sched.completed;
    live.reset();
    for (const m of k.metrics) m.addLatencySoFar(live);
    const elapsedMs = sched.startUs === 0 ? 0 : Math.max(0, (nowUs() - sched.startUs) / 1000);
    let remainingMs: number | undefined;
    if (loop !== "forever") {
      if (paced) remainingMs = Math.max(0, (span * loop) / (speed as number) / 1000 - elapsedMs);
      else if (opsPerSec > 0) {
        remainingMs = Math.max(0, (totalRequests * loop - sched.sentTotal) / opsPerSec * 1000);
      }
    }
    o.onProgress({
      ...progressBase,
      phase: "replay",
      connected: nLocal,
      loop: loopEnds.filter((end) => end <= sched.sentTotal).length,
      elapsedMs,
      ...(remainingMs !== undefined ? { remainingMs } : {}),
      sent: sched.sentTotal,
      completed: sched.completed,
      errors: sched.errors,
      opsPerSec,
      p50Us: live.getValueAtPercentile(50),
      p99Us: live.getValueAtPercentile(99),
      late: sched.late,
    });
  }, 1000);

  const connIndex = new Map<number, number>(scan.connIds.map((id, i) => [id, i]));
  // The router runs ahead of the sends: a loop counts once all of its requests are sent.
  let routed = 0;
  const loopEnds: number[] = [];
  const span = Math.max(1, scan.spanUs);
  const sliceLimitUs = 250;
  let sliceUs = nowUs();
  // The keys of one recorded multi-key RESP request (MGET, MSET, DEL k1 k2, ...: events after the
  // first carry Shape.More), gathered and sent as one command. Reused arrays: only these
  // requests, rebuilt on the slow path, allocate.
  const grp = {
    n: 0,
    name: "",
    op: 0,
    ri: 0,
    conn: 0,
    intended: 0,
    pipelined: false,
    hi: [] as number[],
    lo: [] as number[],
    len: [] as number[],
    vl: [] as number[],
    sl: [] as number[],
  };
  const routeGroup = async () => {
    const n = grp.n;
    grp.n = 0;
    for (let copy = 0; copy < copies; copy++) {
      const global = nConns >= recordedConns ? grp.ri + copy * recordedConns : grp.ri % nConns;
      if (global >= nConns) break;
      const target = global - own.start;
      if (target < 0 || target >= nLocal) continue; // another shard's connection
      if (countOwned) ownedPerOp[grp.op]!++;
      const keyCopy = o.separateKeyspaces ? copy : 0;
      const keys: string[] = [];
      for (let j = 0; j < n; j++) {
        const len = grp.len[j]!;
        const slot = keepSlots && len >= SLOT_KEY_MIN ? grp.sl[j]! : -1;
        keys.push(synthesizeKey(grp.hi[j]!, grp.lo[j]!, len, keyCopy, slot));
      }
      let ct = target;
      if (map !== undefined) {
        // The first key's slot decides (keys in other slots make the server answer CROSSSLOT).
        const slot = keySlot(keys[0]!);
        routeNode = nodeOfSlot(slot, global);
        routeHow = keepSlots && grp.len[0]! >= SLOT_KEY_MIN && grp.sl[0]! >= 0
          ? "recordedSlot"
          : "ownSlot";
      }
      const c = map ? sched.connOf(target, routeNode) : conns[ct];
      if (c === undefined || c.dead) continue;
      ct = c.local;
      measure = copy === 0;
      const req = protocol === "resp"
        ? buildMultiKeyRequest(grp.name, keys, grp.vl.slice(0, n), fillOf)
        : buildTextMultiGet(grp.name, keys);
      measure = false;
      if (!req) {
        result.skipped[grp.name] = (result.skipped[grp.name] ?? 0) + 1;
        continue;
      }
      const q = sched.queues[ct]!;
      const at = q.reserve(req.bytes.length);
      q.bytes.set(req.bytes, at);
      q.push(req.bytes.length, req.unit, grp.op, req.read, grp.intended, grp.pipelined);
      routed++;
      countRoute();
      sched.routed(c);
      const wait = sched.room(c);
      if (wait) await wait;
    }
  };
  // Quiet and noreply requests (memcached text/meta targets) get no reply of their own: their
  // bytes travel with the next request (SendQueue.carry), and when that is not their recorded
  // `mn` fence, an `mn` is sent first so that their possible replies (a hit, a failure) are
  // read as theirs. The op of the last quiet request per connection carries the fence's count.
  const lastQuietOp = new Int32Array(conns.length);
  // Loop 1: the recorded requests of this shard's connections, per op (all of them unsharded).
  const ownedPerOp = new Array<number>(scan.ops.length).fill(0);
  let countOwned = false;
  const quietSent = new Array<number>(ops.length).fill(0);
  const quietTarget = protocol === "memcache-text" || protocol === "memcache-meta" ||
    protocol === "memcache-binary";
  // meta and text: `mn`; binary: NOOP (every reply up to the fence's is the quiet requests').
  const fenceReq = quietFence(protocol);
  const fence = (target: number, intended: number, pipelined: boolean) => {
    const q = sched.queues[target]!;
    const at = q.reserve(fenceReq.bytes.length);
    q.bytes.set(fenceReq.bytes, at);
    k.sent[lastQuietOp[target]!]!--; // counted again when the fence is sent
    q.push(fenceReq.bytes.length, fenceReq.unit, lastQuietOp[target]!, false, intended, pipelined);
    routed++;
    sched.routed(conns[target]!);
  };
  const router = async () => {
    for (let l = 0; (loop === "forever" || l < loop) && !stopped; l++) {
      countOwned = l === 0;
      // The scan before the replay checked every frame; this pass need not again.
      const r = await ProfileReader.open(o.profile, { verifyChecksums: false });
      if (sched.startUs === 0) sched.startUs = nowUs() + (paced ? HEAD_START_US : 0);
      const loopStartUs = paced ? sched.startUs + (l * span) / (speed as number) : nowUs();
      // Completion time of each recorded connection's last event, by replay slot.
      const prevDone = new Float64Array(Math.max(1, recordedConns)).fill(-Infinity);
      // Per op code of this file: our op index and its text fast-path plan, looked up once per
      // code (the file's op table grows as its blocks are read).
      const opOf: number[] = [];
      const planOf: Array<TextFastPlan | undefined> = [];
      // Per op code: a multi-key RESP command replayed to RESP (its keys go out as one request).
      const multiOf: boolean[] = [];
      try {
        for await (const b of r.blocks()) {
          if (stopped) break;
          for (let i = 0; i < b.count && !stopped; i++) {
            // Let the engine and the timers run: building requests must not hold up sends (paced)
            // or replies (max speed: the connections wait while the router runs) by more than
            // about a quarter of a ms. Time slices, not event counts: the engine yields every
            // 2 ms when busy, and a slice of a fixed few events would starve the queues.
            if ((i & 63) === 63 && nowUs() - sliceUs > sliceLimitUs) {
              await yielder.yield();
              sliceUs = nowUs();
            }
            const code = b.op[i]!;
            let op = opOf[code];
            if (op === undefined) {
              const name = r.ops[code]!;
              op = opOf[code] = scan.opIndex.get(name)!;
              planOf[code] = protocol === "memcache-text" ? textFastPlan(name) : undefined;
              // ...or a memcached text multi-get replayed to text (get k1 k2 k3 stays one).
              multiOf[code] = (protocol === "memcache-text" && !scan.resp &&
                planOf[code]?.read === true) ||
                protocol === "resp" && scan.resp &&
                  findCommand(name, "resp")?.eachKey === true;
            }
            if (grp.n > 0 && ((b.shape[i]! & Shape.More) === 0 || b.conn[i] !== grp.conn)) {
              await routeGroup();
            }
            const quiet = quietTarget && (b.shape[i]! & Shape.Quiet) !== 0;
            const plan = quiet ? undefined : planOf[code];
            const ri = connIndex.get(b.conn[i]!) ?? 0;
            const t = b.t[i]! - scan.firstUs;
            const lat = b.latency[i]!;
            const done = prevDone[ri]!;
            const pipelined = t < done;
            prevDone[ri] = Math.max(done, t + (lat === lat ? lat : 0));
            const keyLen = b.keyLen[i]!;
            const vl = b.valueLen[i]!;
            const valueLen = vl === NO_VALUE ? -1 : vl;
            // Max speed into a cluster: the routing sequence, the order the group's queues keep.
            const intended = paced ? loopStartUs + t / (speed as number) : map ? ++routeSeq : 0;
            // Text: a group starts only where the next event continues it (single gets keep
            // the fast path); RESP: every multi-key command gathers its keys.
            if (
              multiOf[code] && keyLen > 0 &&
              (grp.n > 0 || protocol === "resp" ||
                (i + 1 < b.count && (b.shape[i + 1]! & Shape.More) !== 0 &&
                  b.conn[i + 1] === b.conn[i]))
            ) {
              const j = grp.n++;
              if (j === 0) {
                grp.name = r.ops[code]!;
                grp.op = op;
                grp.ri = ri;
                grp.conn = b.conn[i]!;
                grp.intended = intended;
                grp.pipelined = pipelined;
              }
              grp.hi[j] = b.keyHi[i]!;
              grp.lo[j] = b.keyLo[i]!;
              grp.len[j] = keyLen;
              grp.vl[j] = vl;
              grp.sl[j] = b.slot[i]!;
              continue;
            }
            for (let copy = 0; copy < copies; copy++) {
              const global = nConns >= recordedConns ? ri + copy * recordedConns : ri % nConns;
              if (global >= nConns) break;
              const target = global - own.start;
              if (target < 0 || target >= nLocal) continue; // another shard's connection
              if (countOwned) ownedPerOp[op]!++;
              const keyCopy = o.separateKeyspaces ? copy : 0;
              // Cluster: the key (made in its recorded slot when the profile kept it) picks the
              // node; a keyless request goes to the connection's home primary.
              let ct = target;
              let key = "";
              const keptSlot = keepSlots && keyLen >= SLOT_KEY_MIN ? b.slot[i]! : -1;
              if (map !== undefined) {
                if (keyLen > 0) {
                  key = synthesizeKey(b.keyHi[i]!, b.keyLo[i]!, keyLen, keyCopy, keptSlot);
                }
                const slot = keyLen === 0 ? -1 : keptSlot >= 0 ? keptSlot : keySlot(key);
                routeNode = nodeOfSlot(slot, global);
                routeHow = keyLen === 0 ? "keyless" : keptSlot >= 0 ? "recordedSlot" : "ownSlot";
              }
              const c = map ? sched.connOf(target, routeNode) : conns[ct];
              if (c === undefined || c.dead) continue;
              ct = c.local;
              const q = sched.queues[ct]!;
              let read: boolean;
              if (plan !== undefined && keyLen > 0) {
                if (q.carried > 0) fence(ct, intended, pipelined);
                // Fast path for text targets: written straight into the connection's queue.
                const n = textFastSize(plan, keyLen, valueLen, b.flags[i]!, b.ttl[i]!);
                const at = q.reserve(n);
                measure = copy === 0;
                writeTextFast(
                  q.bytes,
                  at,
                  plan,
                  b.keyHi[i]!,
                  b.keyLo[i]!,
                  keyLen,
                  keyCopy,
                  valueLen,
                  b.flags[i]!,
                  b.ttl[i]!,
                  fillOf,
                );
                measure = false;
                read = plan.read;
                q.push(n, plan.unit, op, read, intended, pipelined);
              } else {
                const name = r.ops[code]!;
                measure = copy === 0;
                const req = buildRequest(
                  {
                    op: name,
                    key: keyLen === 0
                      ? ""
                      : key || synthesizeKey(b.keyHi[i]!, b.keyLo[i]!, keyLen, keyCopy, keptSlot),
                    valueLen,
                    ttl: b.ttl[i]!,
                    flags: b.flags[i]!,
                    quiet,
                    args: eventArgs(b, i),
                    tokens: r.tokens,
                    copy: keyCopy,
                    slot: keptSlot,
                  },
                  protocol,
                  scan.resp,
                  fillOf,
                );
                measure = false;
                if (!req) {
                  result.skipped[name] = (result.skipped[name] ?? 0) + 1;
                  continue;
                }
                read = req.read;
                if (q.carried > 0 && !req.quiet && req.unit !== fenceReq.unit) {
                  fence(ct, intended, pipelined);
                }
                // reserve() may replace q.bytes: read it after the call, never before.
                const at = q.reserve(req.bytes.length);
                q.bytes.set(req.bytes, at);
                if (req.quiet) {
                  q.carry(req.bytes.length);
                  k.sent[op]!++;
                  quietSent[op]!++;
                  lastQuietOp[ct] = op;
                  continue;
                }
                q.push(req.bytes.length, req.unit, op, read, intended, pipelined);
              }
              routed++;
              countRoute();
              sched.routed(c);
              const wait = sched.room(c);
              if (wait) await wait;
            }
          }
        }
        if (grp.n > 0 && !stopped) await routeGroup();
        grp.n = 0;
        // Quiet requests at the end of a connection's traffic: fenced, so that they are sent.
        for (let c = 0; c < conns.length; c++) {
          if (sched.queues[c]!.carried > 0 && !conns[c]!.dead) fence(c, 0, false);
        }
        if (r.truncated && l === 0) result.config.profile += " (truncated)";
      } finally {
        r.close();
      }
      if (!stopped) loopEnds.push(routed);
    }
    sched.routerDone = true;
    engine.wake();
    engine.checkDone();
  };
  const monitor = serverMetrics
    ? await ServerMonitor.start({
      ...serverMetrics,
      nodes: nodeTargets.map((target) => ({
        target,
        kind: protocol === "resp" ? "redis" as const : "memcached" as const,
      })),
    }).catch((e) => {
      for (const c of conns) c.transport?.close();
      throw e;
    })
    : undefined;
  // Shards on several machines begin together: connected, then at the wall-clock start.
  if (startAt !== undefined) await sleepUntilWallClock(startAt, o.signal);
  const running = engine.run();
  try {
    await router();
    await running;
  } finally {
    stopped = true;
    sched.stopped = true;
    clearInterval(progress);
    o.signal?.removeEventListener("abort", onAbort);
    ac.abort(); // ends the engine if the router failed
    await running.catch(() => {});
    yielder.close();
    const server = await monitor?.stop();
    if (server) result.server = server.report;
  }
  result.sent = sched.sentTotal;
  result.completed = sched.completed;
  result.errors = sched.errors;
  result.late = sched.late;
  result.reconnects = engine.reconnects;
  if (sched.failure) result.failure = sched.failure;
  else if (engine.fatal) {
    result.failure = { code: engine.fatal.code, message: engine.fatal.message };
  }
  result.loops = loopEnds.filter((end) => end <= result.sent).length;
  result.durationMs = sched.startUs === 0 ? 0 : (nowUs() - sched.startUs) / 1000;
  const shardOps: ReplayShardData["ops"] = [];
  for (const [i, name] of ops.entries()) {
    const data = k.metrics[i]!.finish(0);
    if (shard) {
      shardOps.push({
        op: name,
        service: data.service,
        ...(data.response !== undefined ? { response: data.response } : {}),
      });
    }
    k.metrics[i]!.destroy();
    // A shard's recording is its connections' part: the requests counted as routed, the hits
    // and errors in proportion.
    const whole = scan.perOp[i]!;
    const part = shard === undefined || whole.count === 0 ? 1 : ownedPerOp[i]! / whole.count;
    const rec = part === 1 ? whole : {
      count: ownedPerOp[i]!,
      errors: Math.round(whole.errors * part),
      quiet: Math.round(whole.quiet * part),
      hits: Math.round(whole.hits * part),
      misses: Math.round(whole.misses * part),
    };
    if (k.sent[i] === 0 && rec.count === 0) continue;
    const c: ReplayCommand = {
      op: name,
      recorded: rec.count,
      sent: k.sent[i]!,
      completed: data.count,
      errors: data.errors,
      serviceTime: summarizeEncoded(data.service),
      late: k.late[i]!,
      recordedErrors: rec.errors,
      recordedQuiet: rec.quiet,
      quiet: quietSent[i]!,
    };
    if (data.response !== undefined) c.responseTime = summarizeEncoded(data.response);
    if (rec.hits + rec.misses > 0 || k.hits[i]! + k.misses[i]! > 0) {
      c.recordedHits = rec.hits;
      c.recordedMisses = rec.misses;
      c.hits = k.hits[i]!;
      c.misses = k.misses[i]!;
    }
    result.commands.push(c);
  }
  const all = sched.lateness;
  result.lateness = {
    p50Us: all.percentile(50),
    p99Us: all.percentile(99),
    maxUs: all.count > 0 ? all.summary().max : 0,
    // One line per replay connection (in a cluster, its N node connections together).
    perConnection: Array.from({ length: nLocal }, (_, i) => {
      let h = sched.connLateness[i * N]!;
      if (map !== undefined) {
        h = new LogHistogram();
        for (let n = 0; n < map.nodes.length; n++) {
          const c = sched.connOf(i, n);
          if (c !== undefined) h.addData(sched.connLateness[c.local]!.toData());
        }
      }
      return { conn: own.start + i, p50Us: h.percentile(50), p99Us: h.percentile(99) };
    }),
  };
  const ownedShare = shard === undefined ? 1 : ownedPerOp.reduce((a, b) => a + b, 0) /
    Math.max(1, scan.perOp.reduce((a, p) => a + p.count, 0) * copies);
  result.rate = {
    replayed: Array.from(sched.rate, (v) => v ?? 0),
    recorded: scaleRate(scan.rate, speed === "max" ? 1 : speed).map((v) => v * ownedShare),
  };
  result.sizes = {
    recorded: scan.writeSizes,
    replayed: replayedSizes,
  };
  if (countersBefore !== undefined) {
    const expected: Record<string, number> = {};
    ops.forEach((name, i) => {
      const loops = result.loops > 0 ? result.loops : 1;
      // `connections` above the recorded count replays each recorded connection more than once
      // (exactly copies times when it is a multiple of it).
      expected[name] = Math.round(
        scan.perOp[i]!.count * loops * Math.max(1, nConns / recordedConns),
      );
    });
    const after = await counters();
    result.verification = verifyServer(countersBefore, after, expected, protocol);
    const caveats: string[] = [];
    if (nConns > recordedConns && nConns % recordedConns !== 0) {
      caveats.push(
        `${nConns} connections replay the ${recordedConns} recorded ones unevenly: the ` +
          `expected counts are scaled by ${nConns}/${recordedConns}`,
      );
    }
    if (joinedNodes.length > 0) {
      caveats.push(
        `${joinedNodes.map((n) => map!.nodes[n]!.address).join(", ")} joined during the ` +
          `replay: counted from nothing, so what ran there before counts too`,
      );
    }
    if (caveats.length > 0) result.verification.caveat = caveats.join("; ");
  }
  if (clusterReport !== undefined) {
    // Skew over the primaries (as the replay first saw each node: those it started with and
    // those that joined), as a shard merge computes it: the busiest one's share / the fair share.
    const counts = clusterReport.nodes.filter((n) => n.role === "primary").map((n) => n.requests);
    const total = counts.reduce((a, b) => a + b, 0);
    clusterReport.skew = total === 0 ? 0 : Math.max(...counts) / (total / counts.length);
    clusterReport.resent = sched.resent;
    result.cluster = clusterReport;
  }
  result.fidelity = fidelityOf(result, o.thresholds, protocol === scan.protocol);
  if (shard) {
    result.shardData = {
      ops: shardOps,
      lateness: sched.lateness.toData(),
      sameProtocol: protocol === scan.protocol,
      thresholds: o.thresholds ?? {},
    };
  }
  return result;
}

// Recorded events per second, compressed by the speed factor.
function scaleRate(rate: number[], speed: number): number[] {
  const out: number[] = [];
  rate.forEach((v, s) => {
    const t = Math.floor(s / speed);
    out[t] = (out[t] ?? 0) + (v ?? 0);
  });
  return Array.from(out, (v) => v ?? 0);
}
