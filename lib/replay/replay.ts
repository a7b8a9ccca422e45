import { LogHistogram } from "../analyze/mod.ts";
import { MembenchError } from "../errors/mod.ts";
import { CommandMetrics, summarizeEncoded } from "../metrics/mod.ts";
import {
  endpointName,
  McConnection,
  openMemcache,
  parseTarget,
  RespConnection,
  type Target,
  type Transport,
} from "../net/mod.ts";
import { NO_VALUE, ProfileReader, Status } from "../profile/mod.ts";
import {
  FillPattern,
  McAsciiReplyScanner,
  McBinaryReplyScanner,
} from "../protocol/memcache/mod.ts";
import { ReplyScanner } from "../protocol/resp/mod.ts";
import { nowUs, Ticker } from "../units/mod.ts";
import { fidelityOf } from "./fidelity.ts";
import type { FidelityReport, ReplayCommand, ReplayOptions, ReplayResult } from "./types.ts";
import {
  buildRequest,
  MC_UNITS,
  type ReplayProtocol,
  synthesizeKey,
  type TextFastPlan,
  textFastPlan,
  textFastSize,
  writeTextFast,
} from "./requests.ts";

// Requests routed to one connection and not yet sent: their bytes back to back in one buffer and
// their fields in a ring of typed arrays, so that routing an event allocates nothing.
class SendQueue {
  bytes = new Uint8Array(128 * 1024);
  byteHead = 0; // first byte of the head request
  #byteTail = 0;
  len = new Int32Array(1024);
  unit = new Uint8Array(1024);
  op = new Int32Array(1024);
  read = new Uint8Array(1024);
  intended = new Float64Array(1024); // µs on the nowUs clock; 0 in max mode
  pipelined = new Uint8Array(1024);
  head = 0;
  length = 0;
  #mask = 1023;

  /** Where `n` more bytes may be written (slides or grows the buffer when needed). */
  reserve(n: number): number {
    if (this.#byteTail + n > this.bytes.length) {
      const used = this.#byteTail - this.byteHead;
      if ((used + n) * 2 > this.bytes.length) {
        const nb = new Uint8Array(Math.max(this.bytes.length * 2, (used + n) * 2));
        nb.set(this.bytes.subarray(this.byteHead, this.#byteTail));
        this.bytes = nb;
      } else this.bytes.copyWithin(0, this.byteHead, this.#byteTail);
      this.byteHead = 0;
      this.#byteTail = used;
    }
    return this.#byteTail;
  }

  /** Appends a request whose `n` bytes were written at `reserve(n)`. */
  push(n: number, unit: number, op: number, read: boolean, intended: number, pipelined: boolean) {
    if (this.length === this.len.length) this.#grow();
    const i = (this.head + this.length) & this.#mask;
    this.len[i] = n;
    this.unit[i] = unit;
    this.op[i] = op;
    this.read[i] = read ? 1 : 0;
    this.intended[i] = intended;
    this.pipelined[i] = pipelined ? 1 : 0;
    this.length++;
    this.#byteTail += n;
  }

  /** Drops the head request (its bytes start at `byteHead` before the call). */
  shift(): void {
    this.byteHead += this.len[this.head]!;
    this.head = (this.head + 1) & this.#mask;
    if (--this.length === 0) this.byteHead = this.#byteTail = 0;
  }

  clear(): void {
    this.head =
      this.length =
      this.byteHead =
      this.#byteTail =
        0;
  }

  #grow(): void {
    const cap = this.len.length * 2;
    const h = this.head, n = this.length, m = this.#mask;
    const move = <A extends { [k: number]: number }>(from: A, to: A): A => {
      for (let k = 0; k < n; k++) to[k] = from[(h + k) & m]!;
      return to;
    };
    this.len = move(this.len, new Int32Array(cap));
    this.unit = move(this.unit, new Uint8Array(cap));
    this.op = move(this.op, new Int32Array(cap));
    this.read = move(this.read, new Uint8Array(cap));
    this.intended = move(this.intended, new Float64Array(cap));
    this.pipelined = move(this.pipelined, new Uint8Array(cap));
    this.head = 0;
    this.#mask = cap - 1;
  }
}

// In-flight requests of one connection: a growable ring of typed arrays, no objects per request.
class Fifo {
  op = new Int32Array(64);
  sent = new Float64Array(64);
  intended = new Float64Array(64);
  unit = new Int32Array(64);
  read = new Uint8Array(64);
  head = 0;
  length = 0;

  push(op: number, sent: number, intended: number, unit: number, read: boolean): void {
    if (this.length === this.op.length) this.#grow();
    const i = (this.head + this.length) % this.op.length;
    this.op[i] = op;
    this.sent[i] = sent;
    this.intended[i] = intended;
    this.unit[i] = unit;
    this.read[i] = read ? 1 : 0;
    this.length++;
  }

  /** Removes the head; returns its slot (read the fields before the next push). */
  shift(): number {
    const i = this.head;
    this.head = (this.head + 1) % this.op.length;
    this.length--;
    return i;
  }

  headUnit(): number {
    return this.length > 0 ? this.unit[this.head]! : 0;
  }

  #grow(): void {
    const n = this.op.length * 2;
    const re = <T extends Int32Array | Float64Array | Uint8Array>(
      a: T,
      make: (n: number) => T,
    ): T => {
      const b = make(n);
      for (let k = 0; k < this.length; k++) b[k] = a[(this.head + k) % a.length]!;
      return b;
    };
    this.op = re(this.op, (m) => new Int32Array(m));
    this.sent = re(this.sent, (m) => new Float64Array(m));
    this.intended = re(this.intended, (m) => new Float64Array(m));
    this.unit = re(this.unit, (m) => new Int32Array(m));
    this.read = re(this.read, (m) => new Uint8Array(m));
    this.head = 0;
  }
}

interface Conn {
  index: number;
  transport: Transport | undefined;
  scanner: {
    kind: number;
    scan(b: Uint8Array, f: number, t: number, u: number): number;
    reset(): void;
    errorCode(): string;
  };
  queue: SendQueue;
  inflight: Fifo;
  out: Uint8Array;
  spare: Uint8Array;
  outLen: number;
  writing: boolean;
  inHeap: boolean;
  dead: boolean;
  drained: (() => void) | undefined;
  lateness: LogHistogram;
}

const MAX_QUEUE = 512;

// Yields to the event loop (timers, I/O, the scheduler's wake-ups) at the cost of one task, far
// less than setTimeout(0), which waits about 2 ms on this Deno. The channel lives only while a
// replay runs: an open port keeps the process alive.
function eventLoopYielder(): { yield(): Promise<void>; close(): void } {
  const channel = new MessageChannel();
  const waiters: Array<() => void> = [];
  channel.port1.onmessage = () => waiters.shift()?.();
  return {
    yield: () =>
      new Promise((r) => {
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

/**
 * Replays a profile against a server: one connection per recorded connection (or folded or
 * multiplied with `connections`), each keeping its requests' order; keys rebuilt from their
 * hashes at their recorded lengths, values of their recorded lengths. Paced replays send on the
 * recorded schedule scaled by `speed` (open loop: response time is measured from the intended
 * send time, and late sends are counted); `speed: "max"` sends as fast as replies allow while
 * keeping each connection's recorded pipelining. The profile is streamed into bounded queues.
 * Never prints.
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
  // A first pass: connections, protocol, span, recorded figures, warm-up keys.
  const scan = await scanProfile(o.profile, o.warmup ?? false);
  const protocol: ReplayProtocol = o.protocol ?? scan.protocol;
  const recordedConns = scan.connIds.length;
  const nConns = o.connections ?? Math.max(1, recordedConns);
  if (!(Number.isInteger(nConns) && nConns >= 1)) {
    throw new MembenchError(
      "invalid_argument",
      `Cannot use 'connections': must be an integer >= 1: current value is ${o.connections}`,
    );
  }
  const copies = Math.max(1, Math.ceil(nConns / Math.max(1, recordedConns)));
  const defaultPort = protocol === "resp" ? 6379 : 11211;
  const base: Target = typeof o.target === "object"
    ? { ...o.target }
    : parseTarget(o.target ?? `127.0.0.1:${defaultPort}`, defaultPort);
  if (o.password !== undefined) base.password = o.password;
  if (o.user !== undefined) base.user = o.user;
  const binary = protocol === "memcache-binary";
  const open = async (): Promise<Transport> => {
    if (protocol === "resp") {
      return (await RespConnection.open(base, {
        connectTimeoutMs: o.connectTimeoutMs ?? 5000,
        clientName: o.clientName ?? "membench-replay",
      })).transport;
    }
    return await openMemcache(base, {
      protocol: binary ? "binary" : "text",
      connectTimeoutMs: o.connectTimeoutMs ?? 5000,
    });
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
      separateKeyspaces: o.separateKeyspaces ?? false,
      warmup: o.warmup ?? false,
    },
    loops: 0,
    durationMs: 0,
    recordedSpanUs: scan.spanUs,
    sent: 0,
    completed: 0,
    skipped: {},
    errors: 0,
    late: 0,
    commands: [],
    lateness: { p50Us: 0, p99Us: 0, maxUs: 0, perConnection: [] },
    rate: { replayed: [], recorded: [] },
    sizes: { recorded: [], replayed: [] },
    interrupted: false,
    fidelity: undefined as unknown as FidelityReport,
  };
  const fill = new FillPattern(new Uint8Array([120]));
  const fillOf = (n: number) => fill.view(n);
  if (o.warmup) result.warmup = await warm(scan.warm, protocol, base, fillOf);

  const paced = speed !== "max";
  const ops = scan.ops;
  const metrics = ops.map((name) => new CommandMetrics(name, paced));
  const late = new Array<number>(ops.length).fill(0);
  const hits = new Array<number>(ops.length).fill(0);
  const misses = new Array<number>(ops.length).fill(0);
  const sentPer = new Array<number>(ops.length).fill(0);
  const replayedRate: number[] = [];
  const replayedSizes: number[] = [];
  const lateThreshold = o.lateThresholdUs ?? 1000;
  const allLateness = new LogHistogram();

  // Connections, opened up front so that the replay starts together.
  const conns: Conn[] = [];
  for (let i = 0; i < nConns; i++) {
    conns.push({
      index: i,
      transport: undefined,
      scanner: protocol === "resp"
        ? new ReplyScanner(`replay connection ${i}`)
        : binary
        ? new McBinaryReplyScanner(MC_UNITS, `replay connection ${i}`)
        : new McAsciiReplyScanner(MC_UNITS, `replay connection ${i}`),
      queue: new SendQueue(),
      inflight: new Fifo(),
      out: new Uint8Array(64 * 1024),
      spare: new Uint8Array(64 * 1024),
      outLen: 0,
      writing: false,
      inHeap: false,
      dead: false,
      drained: undefined,
      lateness: new LogHistogram(),
    });
  }
  const opened = await Promise.allSettled(conns.map(() => open()));
  const bad = opened.find((r) => r.status === "rejected") as PromiseRejectedResult | undefined;
  if (bad) {
    for (const r of opened) if (r.status === "fulfilled") r.value.close();
    throw bad.reason;
  }
  opened.forEach((r, i) => conns[i]!.transport = (r as PromiseFulfilledResult<Transport>).value);

  const ticker = paced ? new Ticker() : undefined;
  const yielder = eventLoopYielder();
  let stopped = false;
  let routerDone = false;
  let finish!: () => void;
  const finished = new Promise<void>((r) => finish = r);
  // The schedule starts when the router has its first events, with a head start to fill the
  // queues, so that the first sends are not late by the time it took to open the profile.
  let startUs = 0;
  const HEAD_START_US = 20_000;
  let loopStartUs = 0;

  // ---- sending ----
  const heap: Conn[] = [];
  const headTime = (c: Conn) => c.queue.intended[c.queue.head]!;
  const heapPush = (c: Conn) => {
    c.inHeap = true;
    heap.push(c);
    let i = heap.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (headTime(heap[p]!) <= headTime(heap[i]!)) break;
      [heap[p], heap[i]] = [heap[i]!, heap[p]!];
      i = p;
    }
  };
  const heapPop = (): Conn | undefined => {
    const top = heap[0];
    if (!top) return undefined;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && headTime(heap[l]!) < headTime(heap[m]!)) m = l;
        if (r < heap.length && headTime(heap[r]!) < headTime(heap[m]!)) m = r;
        if (m === i) break;
        [heap[m], heap[i]] = [heap[i]!, heap[m]!];
        i = m;
      }
    }
    top.inHeap = false;
    return top;
  };

  // Moves the head request of the connection's queue into its out buffer and in flight.
  const sendHead = (c: Conn, now: number) => {
    const q = c.queue;
    const slot = q.head;
    const n = q.len[slot]!;
    if (c.outLen + n > c.out.length) {
      const nb = new Uint8Array(Math.max(c.out.length * 2, c.outLen + n));
      nb.set(c.out.subarray(0, c.outLen));
      c.out = nb;
    }
    const from = q.byteHead;
    if (n <= 64) {
      // Short requests (gets, deletes): a byte loop beats making a view to copy from.
      const src = q.bytes, dst = c.out;
      for (let k = 0, o = c.outLen; k < n; k++) dst[o + k] = src[from + k]!;
    } else c.out.set(q.bytes.subarray(from, from + n), c.outLen);
    c.outLen += n;
    const op = q.op[slot]!;
    const intended = q.intended[slot]!;
    c.inflight.push(op, now, intended, q.unit[slot]!, q.read[slot] === 1);
    q.shift();
    if (c.drained && q.length < MAX_QUEUE / 2) {
      const d = c.drained;
      c.drained = undefined;
      d();
    }
    sentPer[op]!++;
    result.sent++;
    const sec = Math.max(0, Math.floor((now - startUs) / 1e6));
    replayedRate[sec] = (replayedRate[sec] ?? 0) + 1;
    if (paced) {
      const lateness = now - intended;
      // Histograms, not lists: memory stays flat however long (or forever) the replay runs.
      c.lateness.record(lateness);
      allLateness.record(lateness);
      if (lateness > lateThreshold) {
        late[op]!++;
        result.late++;
      }
    }
  };

  // Double-buffered like the bench engine: the out buffer is swapped, not copied, and one write
  // loop per connection drains it.
  const flush = (c: Conn) => {
    if (c.writing || c.outLen === 0 || !c.transport || c.dead) return;
    const buf = c.out;
    const len = c.outLen;
    c.out = c.spare.length >= buf.length ? c.spare : new Uint8Array(buf.length);
    c.spare = buf;
    c.outLen = 0;
    c.writing = true;
    void writeOut(c, buf, len);
  };
  const writeOut = async (c: Conn, buf: Uint8Array, len: number) => {
    const tr = c.transport!;
    try {
      let off = 0;
      while (off < len) {
        off += await tr.write(off === 0 && len === buf.length ? buf : buf.subarray(off, len));
      }
    } catch {
      // The reader sees the broken connection.
    }
    c.writing = false;
    if (c.outLen > 0) flush(c);
  };

  const dropQueued = (c: Conn) => {
    c.queue.clear();
    if (c.drained) {
      const d = c.drained;
      c.drained = undefined;
      d();
    }
  };
  const queued = (c: Conn) => c.queue.length;

  // Max speed: send while the recording shows the next request overlapping the previous one.
  const pump = (c: Conn) => {
    if (stopped || c.dead) return;
    const now = nowUs();
    const q = c.queue;
    while (q.length > 0) {
      if (c.inflight.length > 0 && q.pipelined[q.head] === 0) break;
      if (c.inflight.length >= 256) break;
      sendHead(c, now);
    }
    flush(c);
  };

  const checkDone = () => {
    if (routerDone && conns.every((c) => c.dead || (queued(c) === 0 && c.inflight.length === 0))) {
      finish();
    }
  };

  // ---- reading ----
  const readLoop = async (c: Conn) => {
    const rbuf = new Uint8Array(64 * 1024);
    for (;;) {
      let n: number | null;
      try {
        n = await c.transport!.read(rbuf);
      } catch {
        n = null;
      }
      if (n === null) {
        if (!stopped) {
          c.dead = true;
          while (c.inflight.length > 0) {
            const op = c.inflight.op[c.inflight.shift()]!;
            metrics[op]!.count++;
            metrics[op]!.recordError("connection");
            result.errors++;
          }
          result.failure ??= {
            code: "connection",
            message: `replay connection ${c.index}: the server closed the connection`,
          };
          dropQueued(c);
          checkDone();
        }
        return;
      }
      const now = nowUs();
      let p = 0;
      try {
        const f = c.inflight;
        while ((p = c.scanner.scan(rbuf, p, n, f.headUnit())) >= 0) {
          if (c.scanner.kind === 3) continue; // RESP3 push
          if (f.length === 0) {
            throw new MembenchError(
              "protocol",
              `replay connection ${c.index}: a reply without a request`,
            );
          }
          const slot = f.shift();
          const op = f.op[slot]!;
          const sent = f.sent[slot]!;
          const intended = f.intended[slot]!;
          const read = f.read[slot] === 1;
          const m = metrics[op]!;
          m.recordService(now - sent);
          if (paced) m.recordResponse(now - intended);
          result.completed++;
          const kind = c.scanner.kind;
          if (kind === 2) {
            m.recordError(c.scanner.errorCode() || "ERR");
            result.errors++;
          } else if (read) {
            if (kind === 1) misses[op]!++;
            else hits[op]!++;
          }
        }
      } catch (e) {
        // A garbage reply: this connection's stream cannot be trusted any more. Its requests in
        // flight and still queued are counted as errors.
        result.failure ??= {
          code: e instanceof MembenchError ? e.code : "internal",
          message: (e as Error).message,
        };
        c.dead = true;
        while (c.inflight.length > 0) {
          const op = c.inflight.op[c.inflight.shift()]!;
          metrics[op]!.count++;
          metrics[op]!.recordError("protocol");
          result.errors++;
        }
        dropQueued(c);
        try {
          c.transport!.close();
        } catch { /* closed */ }
        checkDone();
        return;
      }
      if (speed === "max") pump(c);
      checkDone();
    }
  };
  const readers = conns.map((c) => readLoop(c));

  // ---- paced scheduler ----
  let schedulerWake: (() => void) | undefined;
  const scheduler = async () => {
    while (!stopped) {
      const c = heap[0];
      if (!c) {
        if (routerDone) break;
        await new Promise<void>((r) => schedulerWake = r);
        continue;
      }
      const due = headTime(c);
      const now = nowUs();
      if (due > now + 50) {
        await ticker!.until(due);
        continue;
      }
      heapPop();
      // Send everything of this connection that is due now, in order.
      while (queued(c) > 0 && headTime(c) <= now + 50) sendHead(c, now);
      flush(c);
      if (queued(c) > 0) heapPush(c);
    }
    checkDone();
  };
  const schedulerDone = paced ? scheduler() : Promise.resolve();

  // ---- router ----
  const onAbort = () => {
    stopped = true;
    result.interrupted = true;
    ticker?.wake();
    schedulerWake?.();
    for (const c of conns) {
      if (c.drained) c.drained();
      try {
        c.transport?.close();
      } catch { /* closed */ }
    }
    finish();
  };
  if (o.signal?.aborted) onAbort();
  o.signal?.addEventListener("abort", onAbort, { once: true });
  const progress = setInterval(() => {
    o.onProgress?.({
      loop: result.loops,
      sent: result.sent,
      completed: result.completed,
      errors: result.errors,
    });
  }, 1000);

  const connIndex = new Map<number, number>(scan.connIds.map((id, i) => [id, i]));
  // The router runs ahead of the sends: a loop counts once all of its requests are sent.
  let routed = 0;
  const loopEnds: number[] = [];
  const span = Math.max(1, scan.spanUs);
  const router = async () => {
    for (let l = 0; (loop === "forever" || l < loop) && !stopped; l++) {
      // The scan before the replay checked every frame; this pass need not again.
      const r = await ProfileReader.open(o.profile, { verifyChecksums: false });
      if (startUs === 0) startUs = nowUs() + (paced ? HEAD_START_US : 0);
      loopStartUs = paced ? startUs + (l * span) / (speed as number) : nowUs();
      // Completion time of each recorded connection's last event, by replay slot.
      const prevDone = new Float64Array(Math.max(1, recordedConns)).fill(-Infinity);
      // Per op code of this file: our op index and its text fast-path plan, looked up once per
      // code (the file's op table grows as its blocks are read).
      const opOf: number[] = [];
      const planOf: Array<TextFastPlan | undefined> = [];
      try {
        for await (const b of r.blocks()) {
          if (stopped) break;
          for (let i = 0; i < b.count && !stopped; i++) {
            // Let the scheduler and the readers run: building requests must not delay sends.
            if ((i & 255) === 255) await yielder.yield();
            const code = b.op[i]!;
            let op = opOf[code];
            if (op === undefined) {
              const name = r.ops[code]!;
              op = opOf[code] = scan.opIndex.get(name)!;
              planOf[code] = protocol === "memcache-text" ? textFastPlan(name) : undefined;
            }
            const plan = planOf[code];
            const recConn = b.conn[i]!;
            const ri = connIndex.get(recConn) ?? 0;
            const t = b.t[i]! - scan.firstUs;
            const lat = b.latency[i]!;
            const done = prevDone[ri]!;
            const pipelined = t < done;
            prevDone[ri] = Math.max(done, t + (lat === lat ? lat : 0));
            const keyLen = b.keyLen[i]!;
            const vl = b.valueLen[i]!;
            const valueLen = vl === NO_VALUE ? -1 : vl;
            const intended = paced ? loopStartUs + t / (speed as number) : 0;
            for (let copy = 0; copy < copies; copy++) {
              const target = nConns >= recordedConns ? ri + copy * recordedConns : ri % nConns;
              if (target >= nConns) break;
              const c = conns[target]!;
              const q = c.queue;
              const keyCopy = o.separateKeyspaces ? copy : 0;
              let read: boolean;
              if (plan !== undefined && keyLen > 0) {
                // Fast path for text targets: written straight into the connection's queue.
                if (c.dead) continue;
                const n = textFastSize(plan, keyLen, valueLen, b.flags[i]!, b.ttl[i]!);
                const at = q.reserve(n);
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
                read = plan.read;
                q.push(n, plan.unit, op, read, intended, pipelined);
              } else {
                const name = r.ops[code]!;
                const req = buildRequest(
                  {
                    op: name,
                    key: keyLen > 0 ? synthesizeKey(b.keyHi[i]!, b.keyLo[i]!, keyLen, keyCopy) : "",
                    valueLen,
                    ttl: b.ttl[i]!,
                    flags: b.flags[i]!,
                  },
                  protocol,
                  scan.resp,
                  fillOf,
                );
                if (!req) {
                  result.skipped[name] = (result.skipped[name] ?? 0) + 1;
                  continue;
                }
                read = req.read;
                if (c.dead) continue;
                q.bytes.set(req.bytes, q.reserve(req.bytes.length));
                q.push(req.bytes.length, req.unit, op, read, intended, pipelined);
              }
              if (!read && vl !== NO_VALUE && replayedSizes.length < 100_000) {
                replayedSizes.push(vl);
              }
              routed++;
              if (paced) {
                if (!c.inHeap) {
                  heapPush(c);
                  if (heap[0] === c) ticker!.wake();
                  schedulerWake?.();
                  schedulerWake = undefined;
                }
              } else pump(c);
              if (queued(c) > MAX_QUEUE) await new Promise<void>((res) => c.drained = res);
            }
          }
        }
        if (r.truncated && l === 0) result.config.profile += " (truncated)";
      } finally {
        r.close();
      }
      if (!stopped) loopEnds.push(routed);
    }
    routerDone = true;
    schedulerWake?.();
    ticker?.wake();
    checkDone();
  };
  try {
    await router();
    await finished;
  } finally {
    stopped = true;
    clearInterval(progress);
    o.signal?.removeEventListener("abort", onAbort);
    ticker?.wake();
    schedulerWake?.();
    await schedulerDone;
    ticker?.close();
    yielder.close();
    for (const c of conns) {
      try {
        c.transport?.close();
      } catch { /* closed */ }
    }
    await Promise.allSettled(readers);
  }
  result.loops = loopEnds.filter((end) => end <= result.sent).length;
  result.durationMs = startUs === 0 ? 0 : (nowUs() - startUs) / 1000;
  for (const [i, name] of ops.entries()) {
    const data = metrics[i]!.finish(0);
    metrics[i]!.destroy();
    const rec = scan.perOp[i]!;
    if (sentPer[i] === 0 && rec.count === 0) continue;
    const c: ReplayCommand = {
      op: name,
      recorded: rec.count,
      sent: sentPer[i]!,
      completed: data.count,
      errors: data.errors,
      serviceTime: summarizeEncoded(data.service),
      late: late[i]!,
    };
    if (data.response !== undefined) c.responseTime = summarizeEncoded(data.response);
    if (rec.hits + rec.misses > 0 || hits[i]! + misses[i]! > 0) {
      c.recordedHits = rec.hits;
      c.recordedMisses = rec.misses;
      c.hits = hits[i]!;
      c.misses = misses[i]!;
    }
    result.commands.push(c);
  }
  result.lateness = {
    p50Us: allLateness.percentile(50),
    p99Us: allLateness.percentile(99),
    maxUs: allLateness.count > 0 ? allLateness.summary().max : 0,
    perConnection: conns.map((c) => ({
      conn: c.index,
      p50Us: c.lateness.percentile(50),
      p99Us: c.lateness.percentile(99),
    })),
  };
  result.rate = {
    replayed: Array.from(replayedRate, (v) => v ?? 0),
    recorded: scaleRate(scan.rate, speed === "max" ? 1 : speed),
  };
  result.sizes = {
    recorded: scan.writeSizes,
    replayed: replayedSizes,
  };
  result.fidelity = fidelityOf(result, o.thresholds);
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

interface ScanResult {
  protocol: ReplayProtocol;
  resp: boolean;
  connIds: number[];
  ops: string[];
  opIndex: Map<string, number>;
  perOp: Array<{ count: number; hits: number; misses: number }>;
  firstUs: number;
  spanUs: number;
  rate: number[];
  writeSizes: number[];
  warm: Array<{ hi: number; lo: number; keyLen: number; valueLen: number }>;
}

// One pass over the profile: what a replay needs to know before it starts.
async function scanProfile(path: string, wantWarm: boolean): Promise<ScanResult> {
  const r = await ProfileReader.open(path);
  try {
    const conns = new Set<number>();
    const opIndex = new Map<string, number>();
    const ops: string[] = [];
    const perOp: ScanResult["perOp"] = [];
    const rate: number[] = [];
    const writeSizes: number[] = [];
    const firstAccess = new Set<string>();
    const warm: ScanResult["warm"] = [];
    let first = Infinity;
    let last = -Infinity;
    // Events per 10 ms; turned into seconds since the first event at the end (one pass).
    const perSecond = new Map<number, number>();
    for await (const b of r.blocks()) {
      for (let i = 0; i < b.count; i++) {
        const t = b.t[i]!;
        if (t < first) first = t;
        if (t > last) last = t;
        conns.add(b.conn[i]!);
        const name = r.ops[b.op[i]!]!;
        let oi = opIndex.get(name);
        if (oi === undefined) {
          oi = ops.length;
          ops.push(name);
          opIndex.set(name, oi);
          perOp.push({ count: 0, hits: 0, misses: 0 });
        }
        const po = perOp[oi]!;
        po.count++;
        const st = b.status[i]!;
        if (st === Status.Hit) po.hits++;
        else if (st === Status.Miss) po.misses++;
        const slot = Math.floor(t / 1e4);
        perSecond.set(slot, (perSecond.get(slot) ?? 0) + 1);
        const vl = b.valueLen[i]!;
        if (
          vl !== NO_VALUE && st !== Status.Hit && st !== Status.Miss &&
          writeSizes.length < 100_000
        ) writeSizes.push(vl);
        if (wantWarm && b.keyLen[i]! > 0) {
          const k = `${b.keyHi[i]}:${b.keyLo[i]}`;
          if (!firstAccess.has(k)) {
            firstAccess.add(k);
            if (st === Status.Hit) {
              warm.push({
                hi: b.keyHi[i]!,
                lo: b.keyLo[i]!,
                keyLen: b.keyLen[i]!,
                valueLen: vl === NO_VALUE ? 0 : vl,
              });
            }
          }
        }
      }
    }
    for (const [slot, n] of perSecond) {
      const sec = Math.max(0, Math.floor((slot * 1e4 - first) / 1e6));
      rate[sec] = (rate[sec] ?? 0) + n;
    }
    const protos = [...r.connections.values()].map((c) => c.protocol);
    const p0 = protos[0] ?? "memcache-text";
    const protocol: ReplayProtocol = p0 === "resp2" || p0 === "resp3" ? "resp" : p0;
    return {
      protocol,
      resp: protocol === "resp",
      connIds: [...conns].sort((a, b) => a - b),
      ops,
      opIndex,
      perOp,
      firstUs: Number.isFinite(first) ? first : 0,
      spanUs: Number.isFinite(last) ? last - first : 0,
      rate: Array.from(rate, (v) => v ?? 0),
      writeSizes,
      warm,
    };
  } finally {
    r.close();
  }
}

// Stores the keys whose first access was a hit, pipelined over one connection.
async function warm(
  keys: ScanResult["warm"],
  protocol: ReplayProtocol,
  target: Target,
  fill: (n: number) => Uint8Array,
): Promise<{ keys: number; sent: number; durationMs: number }> {
  const t0 = nowUs();
  if (keys.length === 0) return { keys: 0, sent: 0, durationMs: 0 };
  if (protocol === "resp") {
    const c = await RespConnection.open(target);
    try {
      for (const k of keys) {
        await c.command(["SET", synthesizeKey(k.hi, k.lo, k.keyLen), fill(k.valueLen)], "SET");
      }
    } finally {
      c.close();
    }
  } else {
    // Text protocol for every memcached flavour: the items are the same.
    const mc = await McConnection.open(target);
    try {
      for (let i = 0; i < keys.length; i += 500) {
        const batch = keys.slice(i, i + 500);
        const parts = batch.map((k) => {
          const v = fill(k.valueLen);
          return new TextEncoder().encode(
            `set ${synthesizeKey(k.hi, k.lo, k.keyLen)} 0 0 ${v.length} noreply\r\n`,
          );
        });
        const withValues: Uint8Array[] = [];
        batch.forEach((k, j) => withValues.push(parts[j]!, fill(k.valueLen), CRLF));
        withValues.push(new TextEncoder().encode("mn\r\n"));
        await mc.send(concat(withValues), { kind: "mn", keys: 0 });
      }
    } finally {
      mc.close();
    }
  }
  return { keys: keys.length, sent: keys.length, durationMs: (nowUs() - t0) / 1000 };
}

const CRLF = new Uint8Array([13, 10]);

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
