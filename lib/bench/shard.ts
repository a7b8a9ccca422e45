import { setImmediate } from "node:timers";
import { errorMessage, MembenchError } from "../errors/mod.ts";
import { CommandMetrics, type CommandMetricsData } from "../metrics/mod.ts";
import {
  bufferAddress,
  errnoText,
  Ring,
  type SocketTransport,
  type Target,
  type Transport,
} from "../net/mod.ts";
import {
  type BenchProtocol,
  type CompiledRequest,
  makeDialect,
  type McWorkload,
  type ReplyReader,
  type WireRequest,
} from "./dialect.ts";
import { nowUs, Ticker } from "../units/mod.ts";
import { type ConnectTurns, openInTurns } from "./_turns.ts";
import {
  type CommandSpec,
  type KeyGenerator,
  keyGenerator,
  type KeyPattern,
  maxValueSize,
  Rng,
  type ValueSize,
  valueSizer,
} from "../workload/mod.ts";

/** Reconnect policy after a lost connection. */
export interface ReconnectPolicy {
  /** Attempts before the client gives up. */
  maxAttempts: number;
  /** First delay; doubles per attempt. */
  baseDelayMs: number;
  /** Largest delay. */
  maxDelayMs: number;
}

/** What one isolate runs: plain data, so it can be posted to a worker. */
export interface ShardConfig {
  /** Shard index (worker number). */
  shard: number;
  /** Wire protocol. */
  protocol: BenchProtocol;
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
  /** Whether the run was stopped early. */
  interrupted: boolean;
  /** Set when every client failed for good: the first client's error. */
  fatal: { code: string; message: string } | undefined;
  /** Requests that were in flight when the run was interrupted. */
  abandoned: number;
}

/** Live counters a shard reports about once a second. */
export interface ShardTick {
  /** Completed measured requests so far. */
  requests: number;
  /** Errors so far. */
  errors: number;
  /** Whether still in warm-up. */
  warmup: boolean;
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

// Reply kinds, as every ReplyReader reports them.
const NULL = 1;
const ERROR = 2;
const PUSH = 3;

interface Compiled {
  spec: CommandSpec;
  template: WireRequest;
  slots: number;
  hasData: boolean;
  metrics: CommandMetrics;
  hitRule: number; // 0 none, 1 value, 2 keys, 3 nonempty
}

class Client {
  index: number;
  local: number;
  target: Target;
  transport: Transport | undefined;
  scanner: ReplyReader;
  out: Uint8Array;
  spare: Uint8Array;
  outLen = 0;
  writing = false;
  rbuf: Uint8Array;
  // In-flight FIFO (ring) of command index, actual send time and intended send time.
  fifoCmd: Int32Array;
  fifoSent: Float64Array;
  fifoIntended: Float64Array;
  // Open loop: 1 when the request waited past the late threshold while its connection had a
  // free slot (membench's own lag), set when it is queued.
  fifoClientLate: Uint8Array;
  head = 0;
  inflight = 0;
  // Open loop: since when every slot has been taken with requests due (nowUs clock), kept while
  // the backlog lasts; Infinity while a slot is free. A request due after it waited for the
  // server; the time between its due time and then was membench's own.
  blockedSinceUs = Infinity;
  keys: KeyGenerator;
  rng: Rng;
  sizer: () => number;
  ids: Float64Array;
  // io_uring: socket, buffer addresses, the send in flight, and a generation that tells a
  // completion of an earlier connection of this client from one of the current.
  fd = -1;
  gen = 0;
  outAddr = 0;
  spareAddr = 0;
  rbufAddr = 0;
  sendAddr = 0;
  sendLeft = 0;
  nextDueUs = 0; // open loop
  dead = false;
  error: MembenchError | undefined;
  // This client's own request budget, so that its key sequence does not depend on scheduling.
  issued = 0;
  limit = Infinity;
  share = Infinity;
  constructor(
    index: number,
    local: number,
    target: Target,
    scanner: ReplyReader,
    pipeline: number,
    outSize: number,
    slots: number,
    keys: KeyGenerator,
    rng: Rng,
    sizer: () => number,
  ) {
    this.index = index;
    this.local = local;
    this.target = target;
    this.scanner = scanner;
    // Over 64 bytes, so that the buffers live off the JS heap and keep their address (io_uring).
    this.out = new Uint8Array(Math.max(256, outSize));
    this.spare = new Uint8Array(Math.max(256, outSize));
    this.rbuf = new Uint8Array(Math.max(64 * 1024, outSize));
    this.fifoCmd = new Int32Array(pipeline);
    this.fifoSent = new Float64Array(pipeline);
    this.fifoIntended = new Float64Array(pipeline);
    this.fifoClientLate = new Uint8Array(pipeline);
    this.keys = keys;
    this.rng = rng;
    this.sizer = sizer;
    this.ids = new Float64Array(Math.max(1, slots));
  }
}

/**
 * Runs one isolate's share of a load test: connects its clients, waits for `hooks.ready()`, runs
 * closed or open loop until the request count or duration is reached, and returns its metrics.
 * Never prints; never throws for server or connection failures during the run (they are counted,
 * and `fatal` is set when every client has given up).
 */
export async function runShard(cfg: ShardConfig, hooks: ShardHooks): Promise<ShardResult> {
  const openLoop = cfg.ratePerSec !== undefined;
  const dialect = makeDialect({
    protocol: cfg.protocol,
    keyPrefix: cfg.keyPrefix,
    keyspace: cfg.keyspace,
    resp3: cfg.resp3,
    clientName: cfg.clientName,
    connectTimeoutMs: cfg.connectTimeoutMs,
    requestTimeoutMs: cfg.requestTimeoutMs,
    memcache: cfg.memcache,
    socket: cfg.io === "uring",
  });
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
  const totalWeight = cfg.weights.reduce((a, b) => a + b, 0);
  const cdf = cfg.weights.map((_, i) =>
    cfg.weights.slice(0, i + 1).reduce((a, b) => a + b, 0) / totalWeight
  );
  const maxData = maxValueSize(cfg.dataSize);
  const maxReq = Math.max(...compiled.map((c) => c.template.maxLength(maxData)));
  const maxSlots = Math.max(...compiled.map((c) => c.slots));
  const P = cfg.pipeline;

  const clients: Client[] = [];
  for (let i = 0; i < cfg.clients; i++) {
    const g = cfg.clientBase + i;
    const rng = Rng.derive(cfg.seed, g);
    const keys = keyGenerator(cfg.keyPattern, cfg.keyspace, rng, {
      index: g,
      count: cfg.totalClients,
    });
    clients.push(
      new Client(
        g,
        i,
        cfg.targets[g % cfg.targets.length]!,
        dialect.replies(`reply stream of client ${g}`),
        P,
        maxReq * P,
        maxSlots,
        keys,
        rng,
        valueSizer(cfg.dataSize, rng),
      ),
    );
  }

  // Connect everybody first; the load starts together.
  if (cfg.requests !== undefined) {
    clients.forEach((c, i) => {
      c.share = Math.floor(cfg.requests! / cfg.clients) + (i < cfg.requests! % cfg.clients ? 1 : 0);
      c.limit = cfg.warmupMs > 0 ? Infinity : c.share;
    });
  }
  // With several shards, the clients open in turns dealt over the shards (see _turns.ts).
  const opened = cfg.connectTurns
    ? await openInTurns(
      cfg.connectTurns,
      cfg.shard,
      clients.length,
      cfg.connectTimeoutMs,
      (k) => dialect.open(clients[k]!.target),
    )
    : await Promise.allSettled(clients.map((c) => dialect.open(c.target)));
  const failed = opened.find((r) => r.status === "rejected");
  if (failed) {
    for (const r of opened) if (r.status === "fulfilled") r.value.close();
    throw (failed as PromiseRejectedResult).reason;
  }
  opened.forEach((r, i) => clients[i]!.transport = (r as PromiseFulfilledResult<Transport>).value);

  let stopped = false; // no new requests
  let interrupted = false;
  let reconnects = 0;
  let sent = 0;
  let completed = 0; // measured + warm-up completions
  let warmup = cfg.warmupMs > 0;
  let warmupRequests = 0;
  let measureStartUs = 0;
  let lastReplyUs = 0;
  let endUs = Infinity;
  let second = 0;
  let fatal: MembenchError | undefined;
  let abandoned = 0;
  let done = false;
  let resolveFinished!: () => void;
  const finished = new Promise<void>((r) => resolveFinished = r);
  const finish = () => {
    done = true;
    resolveFinished();
  };
  let ring: Ring | undefined;
  const ticker = openLoop ? new Ticker() : undefined;
  const perClientRate = openLoop ? cfg.ratePerSec! / cfg.clients : 0;
  const meanIntervalUs = openLoop ? 1e6 / perClientRate : 0;

  function pick(c: Client): number {
    if (cdf.length === 1) return 0;
    const u = c.rng.next();
    for (let i = 0; i < cdf.length - 1; i++) if (u < cdf[i]!) return i;
    return cdf.length - 1;
  }

  // Appends one request to the client's out buffer and FIFO.
  function enqueue(c: Client, intendedUs: number): void {
    const ci = pick(c);
    const cc = compiled[ci]!;
    const ids = c.ids;
    for (let s = 0; s < cc.slots; s++) ids[s] = c.keys.next();
    const size = cc.hasData ? c.sizer() : 0;
    c.outLen = cc.template.render(c.out, c.outLen, ids, size);
    const slot = (c.head + c.inflight) % P;
    c.fifoCmd[slot] = ci;
    c.fifoIntended[slot] = intendedUs;
    c.fifoSent[slot] = -1; // set when the write starts
    c.inflight++;
    c.issued++;
    sent++;
  }

  function flush(c: Client): void {
    if (c.writing || c.outLen === 0 || c.transport === undefined) return;
    const buf = c.out;
    const len = c.outLen;
    c.out = c.spare;
    c.spare = buf;
    const addr = c.outAddr;
    c.outAddr = c.spareAddr;
    c.spareAddr = addr;
    c.outLen = 0;
    c.writing = true;
    const t = nowUs();
    // Stamp the send time of the requests this write carries (those not stamped yet).
    for (let k = 0, s = c.head; k < c.inflight; k++, s = s + 1 === P ? 0 : s + 1) {
      if (c.fifoSent[s]! < 0) {
        c.fifoSent[s] = t;
        const intended = c.fifoIntended[s]!;
        if (openLoop && t - intended > cfg.lateThresholdUs) {
          const m = compiled[c.fifoCmd[s]!]!.metrics;
          m.late++;
          if (c.fifoClientLate[s] === 1) m.lateClient++;
        }
      }
    }
    if (ring) {
      c.sendAddr = addr;
      c.sendLeft = len;
      ring.send(c.fd, addr, len, tagOf(c, 1));
    } else writeOut(c, buf, len);
  }

  async function writeOut(c: Client, buf: Uint8Array, len: number): Promise<void> {
    const tr = c.transport!;
    try {
      let off = 0;
      while (off < len) off += await tr.write(buf.subarray(off, len));
    } catch {
      // The reader sees the broken connection and handles it.
    }
    c.writing = false;
    if (c.outLen > 0 && c.transport === tr) flush(c);
  }

  // Closed loop: keep P requests in flight (as memtier); the requests freed by one read chunk
  // go out together in one write.
  function refillClosed(c: Client): void {
    while (c.inflight < P && !stopped && c.issued < c.limit) enqueue(c, 0);
    flush(c);
  }

  // Open loop: send what is due, as capacity allows; late sends keep their intended time.
  function sendDue(c: Client, now: number): void {
    // Membench's own lag ends where the server's began: when every slot was found taken.
    const lagEnd = c.blockedSinceUs < now ? c.blockedSinceUs : now;
    while (c.inflight < P && !stopped && c.issued < c.limit && c.nextDueUs <= now) {
      c.fifoClientLate[(c.head + c.inflight) % P] = lagEnd - c.nextDueUs > cfg.lateThresholdUs
        ? 1
        : 0;
      enqueue(c, c.nextDueUs);
      c.nextDueUs += cfg.arrival === "poisson"
        ? c.rng.nextExponential(meanIntervalUs)
        : meanIntervalUs;
    }
    if (c.inflight < P) c.blockedSinceUs = Infinity;
    else if (c.blockedSinceUs === Infinity) c.blockedSinceUs = now;
    flush(c);
  }

  // Open loop, both I/O modes: sends what is due on every live client; the next due time of a
  // client that can still send (Infinity when none can).
  function sendAllDue(now: number): number {
    let next = Infinity;
    for (const c of clients) {
      if (c.dead || c.transport === undefined) continue;
      sendDue(c, now);
      if (c.inflight < P && c.issued < c.limit && c.nextDueUs < next) next = c.nextDueUs;
    }
    return next;
  }

  function complete(c: Client, now: number): void {
    const s = c.head;
    const cc = compiled[c.fifoCmd[s]!]!;
    const m = cc.metrics;
    const sentAt = c.fifoSent[s]!;
    m.recordService(now - sentAt);
    if (openLoop) m.recordResponse(now - c.fifoIntended[s]!);
    const sc = c.scanner;
    const kind = sc.kind;
    if (kind === ERROR) {
      m.recordError(sc.errorCode());
    } else if (cc.hitRule !== 0) {
      if (cc.hitRule === 1) {
        if (kind === NULL) m.misses++;
        else m.hits++;
      } else if (cc.hitRule === 2) {
        m.hits += sc.elements - sc.nulls;
        m.misses += sc.nulls;
      } else if (kind === NULL || sc.elements === 0) m.misses++;
      else m.hits++;
    }
    c.head = s + 1 === P ? 0 : s + 1;
    c.inflight--;
    completed++;
  }

  function failInflight(c: Client, code: string): void {
    while (c.inflight > 0) {
      const s = c.head;
      const m = compiled[c.fifoCmd[s]!]!.metrics;
      m.count++;
      m.recordError(code);
      c.head = s + 1 === P ? 0 : s + 1;
      c.inflight--;
      completed++;
    }
    c.outLen = 0;
  }

  function checkDone(): void {
    if (clients.every((c) => c.dead || (c.inflight === 0 && (stopped || c.issued >= c.limit)))) {
      finish();
    }
  }

  async function reconnect(c: Client, why: MembenchError): Promise<boolean> {
    const p = cfg.reconnect;
    let last: unknown = why;
    for (let attempt = 0; attempt < p.maxAttempts && !stopped; attempt++) {
      const delay = Math.min(p.maxDelayMs, p.baseDelayMs * 2 ** attempt);
      await new Promise((r) => setTimeout(r, delay));
      if (stopped) break;
      try {
        c.transport = await dialect.open(c.target);
        c.scanner.reset();
        adopt(c);
        reconnects++;
        return true;
      } catch (e) {
        last = e;
      }
    }
    c.dead = true;
    c.error = last instanceof MembenchError
      ? last
      : new MembenchError("connection", `client ${c.index}: ${errorMessage(last)}`);
    return false;
  }

  // End of stream or a read error on `tr`: fails what was in flight and reconnects. True when the
  // client goes on (reconnected and refilled), false when it is finished.
  async function onClosed(c: Client, tr: Transport): Promise<boolean> {
    if (stopped && c.inflight === 0) return false;
    if (interrupted) return false;
    const code = c.error?.code === "timeout" ? "timeout" : "connection";
    const why = c.error ??
      new MembenchError("connection", `client ${c.index}: server closed the connection`);
    c.error = undefined;
    try {
      tr.close();
    } catch { /* closed already */ }
    c.transport = undefined;
    failInflight(c, code);
    if (stopped || c.issued >= c.limit) {
      checkDone();
      return false;
    }
    if (!(await reconnect(c, why))) {
      if (clients.every((x) => x.dead)) fatal = c.error;
      checkDone();
      return false;
    }
    if (openLoop) {
      c.nextDueUs = Math.max(c.nextDueUs, nowUs());
      sendDue(c, nowUs());
    } else refillClosed(c);
    return true;
  }

  // `n` new bytes in c.rbuf: completes the replies they finish and sends what that frees.
  // 0: go on reading; 1: this client is finished; 2: garbage closed `tr` (reconnect follows).
  function onBytes(c: Client, n: number, tr: Transport): number {
    const now = nowUs();
    const buf = c.rbuf;
    const sc = c.scanner;
    let p = 0;
    try {
      while ((p = sc.scan(buf, p, n, c.fifoCmd[c.head]!)) >= 0) {
        if (sc.kind === PUSH) continue; // out-of-band, not a reply
        if (c.inflight === 0) {
          throw new MembenchError("protocol", `client ${c.index}: reply without a request`);
        }
        complete(c, now);
      }
    } catch (e) {
      // A garbage reply: the stream cannot be trusted any more; count and reconnect.
      c.error = e instanceof MembenchError ? e : new MembenchError("protocol", errorMessage(e));
      const m = compiled[c.fifoCmd[c.head]!]?.metrics;
      if (c.inflight > 0 && m) {
        m.count++;
        m.recordError("protocol");
        c.head = c.head + 1 === P ? 0 : c.head + 1;
        c.inflight--;
      }
      try {
        tr.close();
      } catch { /* closed already */ }
      return 2;
    }
    lastReplyUs = now;
    if (now >= endUs) stopped = true;
    if (c.inflight === 0 && (stopped || c.issued >= c.limit)) {
      // This client is done.
      checkDone();
      return 1;
    }
    if (openLoop) sendDue(c, now);
    else refillClosed(c);
    return 0;
  }

  async function readLoop(c: Client): Promise<void> {
    for (;;) {
      const tr = c.transport!;
      let n: number | null;
      try {
        n = await tr.read(c.rbuf);
      } catch (e) {
        n = null;
        if (c.error === undefined && !stopped) {
          c.error = new MembenchError("connection", `client ${c.index}: ${errorMessage(e)}`);
        }
      }
      if (n === null) {
        if (await onClosed(c, tr)) continue;
        return;
      }
      // 2: the transport is closed; the next read ends and reconnects.
      if (onBytes(c, n, tr) === 1) return;
    }
  }

  // io_uring: a completion's tag is the client's slot, its connection generation and the op.
  function tagOf(c: Client, op: number): number {
    return ((c.gen & 0x3ff) << 21 | c.local << 1 | op) >>> 0;
  }

  // Takes over a freshly opened libc socket: new generation, receive armed.
  function adopt(c: Client): void {
    if (!ring || c.transport === undefined) return;
    c.gen++;
    c.fd = (c.transport as SocketTransport).fd;
    c.writing = false;
    c.sendLeft = 0;
    ring.recv(c.fd, c.rbufAddr, c.rbuf.length, tagOf(c, 0));
  }

  // The io_uring loop: every send and receive of a turn goes to the kernel in one call; timers,
  // the abort signal and reconnects run when it yields to the event loop, every few ms.
  async function uringLoop(): Promise<void> {
    const r = ring!;
    const closing = new Set<Promise<unknown>>();
    const lost = (c: Client, tr: Transport) => {
      const p = onClosed(c, tr).finally(() => closing.delete(p));
      closing.add(p);
    };
    try {
      let lastYield = nowUs();
      for (const c of clients) adopt(c);
      if (openLoop) {
        for (const c of clients) sendDue(c, nowUs());
      } else {
        for (const c of clients) refillClosed(c);
      }
      while (!done) {
        let waitUs = 5000;
        if (openLoop && !stopped) {
          const next = sendAllDue(nowUs());
          waitUs = Math.min(waitUs, Math.max(0, next - nowUs()));
        }
        r.wait(waitUs);
        let got = 0;
        while (r.next()) {
          got++;
          const tag = r.tag;
          const res = r.res;
          const c = clients[(tag >>> 1) & 0xfffff];
          if (c === undefined || (tag >>> 21) !== (c.gen & 0x3ff) || c.transport === undefined) {
            continue; // an earlier connection's
          }
          const tr = c.transport;
          if (tag & 1) {
            // A send: all of it went (MSG_WAITALL), or the connection is broken and the receive
            // will say so.
            if (res > 0 && res < c.sendLeft) {
              c.sendAddr += res;
              c.sendLeft -= res;
              r.send(c.fd, c.sendAddr, c.sendLeft, tagOf(c, 1));
              continue;
            }
            c.writing = false;
            c.sendLeft = 0;
            if (res >= 0 && c.outLen > 0) flush(c);
            continue;
          }
          if (res > 0) {
            const k = onBytes(c, res, tr);
            if (k === 0) r.recv(c.fd, c.rbufAddr, c.rbuf.length, tagOf(c, 0));
            else if (k === 2) lost(c, tr);
            continue;
          }
          if (res < 0 && c.error === undefined && !stopped) {
            c.error = new MembenchError("connection", `client ${c.index}: ${errnoText(-res)}`);
          }
          lost(c, tr);
        }
        const now = nowUs();
        // Yield when idle, and every 2 ms when busy: timers, the abort signal, worker messages
        // and whatever else shares this isolate (a live capture) must not wait on the load.
        if (got === 0 || now - lastYield >= 2000 || closing.size > 0) {
          r.submit(); // nothing may wait in the queue while a timer can close its socket
          lastYield = now;
          // setImmediate yields in about 10 µs and lets due timers run; setTimeout(0) takes
          // about 1.5 ms (clamping), and a MessageChannel round trip starves timers.
          await new Promise<void>((res) => setImmediate(res));
        }
      }
    } finally {
      await Promise.allSettled([...closing]);
    }
  }

  function rotateAll(sec: number): void {
    for (const cc of compiled) cc.metrics.rotate(sec);
  }

  await hooks.ready();
  const onAbort = () => {
    interrupted = true;
    stopped = true;
    for (const c of clients) {
      abandoned += c.inflight;
      try {
        c.transport?.close();
      } catch { /* closed already */ }
    }
    finish();
  };
  if (hooks.signal?.aborted) onAbort();
  hooks.signal?.addEventListener("abort", onAbort, { once: true });

  const startUs = nowUs();
  const warmupEndUs = startUs + cfg.warmupMs * 1000;
  measureStartUs = warmup ? warmupEndUs : startUs;
  if (!warmup && cfg.durationMs !== undefined) endUs = startUs + cfg.durationMs * 1000;

  function endWarmup(): void {
    warmup = false;
    warmupRequests = completed;
    for (const cc of compiled) cc.metrics.reset();
    measureStartUs = nowUs();
    second = 0;
    for (const c of clients) c.limit = c.issued + c.share;
    if (cfg.durationMs !== undefined) endUs = measureStartUs + cfg.durationMs * 1000;
  }

  // Housekeeping every 100 ms: end of warm-up, second boundaries, reply timeouts, duration end.
  const house = setInterval(() => {
    const now = nowUs();
    if (warmup && now >= warmupEndUs) endWarmup();
    if (!warmup) {
      while (now >= measureStartUs + (second + 1) * 1e6) rotateAll(second++);
    }
    if (now >= endUs) stopped = true;
    const limitUs = cfg.requestTimeoutMs * 1000;
    for (const c of clients) {
      if (
        c.inflight > 0 && c.transport && c.fifoSent[c.head]! > 0 &&
        now - c.fifoSent[c.head]! > limitUs
      ) {
        c.error = new MembenchError(
          "timeout",
          `client ${c.index}: no reply within ${cfg.requestTimeoutMs} ms`,
        );
        try {
          c.transport.close();
        } catch { /* closed already */ }
      }
    }
    let errors = 0;
    let reqs = 0;
    for (const cc of compiled) {
      errors += cc.metrics.errorCount;
      reqs += cc.metrics.count;
    }
    if (stopped) {
      checkDone();
      ticker?.wake();
    }
    hooks.tick?.({ requests: reqs, errors, warmup });
  }, 100);

  if (cfg.io === "uring") {
    ring = new Ring(Math.min(4096, Math.max(64, clients.length * 4)));
    for (const c of clients) {
      c.outAddr = bufferAddress(c.out);
      c.spareAddr = bufferAddress(c.spare);
      c.rbufAddr = bufferAddress(c.rbuf);
    }
  }
  if (openLoop) {
    const t0 = nowUs();
    for (const c of clients) {
      c.nextDueUs = t0 +
        (cfg.arrival === "poisson"
          ? c.rng.nextExponential(meanIntervalUs)
          : c.rng.next() * meanIntervalUs);
    }
  }
  const readers = ring
    ? [
      uringLoop().catch((e) => {
        // The ring itself failed (not a connection): end the run with the reason.
        fatal ??= new MembenchError("connection", `io_uring loop: ${errorMessage(e)}`);
        stopped = true;
        finish();
      }),
    ]
    : clients.map((c) => readLoop(c));
  if (ring) {
    // The loop sends.
  } else if (openLoop) {
    void (async () => {
      while (!stopped && clients.some((c) => c.issued < c.limit && !c.dead)) {
        const now = nowUs();
        let next = sendAllDue(now);
        if (next === Infinity) next = now + 1000; // all pipelines full: replies will send
        await ticker!.until(next);
      }
      checkDone();
    })();
  } else {
    for (const c of clients) refillClosed(c);
  }
  checkDone();
  await finished;
  stopped = true;
  clearInterval(house);
  ticker?.close();
  for (const c of clients) {
    try {
      c.transport?.close();
    } catch { /* closed already */ }
  }
  await Promise.allSettled(readers);
  ring?.close();
  hooks.signal?.removeEventListener("abort", onAbort);
  if (warmup) {
    // Stopped before warm-up ended: nothing was measured.
    warmupRequests = completed;
    for (const cc of compiled) cc.metrics.reset();
    lastReplyUs = measureStartUs;
  }
  const endAt = interrupted ? nowUs() : Math.max(lastReplyUs, measureStartUs);
  const result: ShardResult = {
    commands: compiled.map((cc) => cc.metrics.finish(second)),
    warmupRequests,
    sent,
    reconnects,
    measuredUs: Math.max(0, endAt - measureStartUs),
    interrupted,
    fatal: fatal ? { code: fatal.code, message: fatal.message } : undefined,
    abandoned,
  };
  for (const cc of compiled) cc.metrics.destroy();
  return result;
}
