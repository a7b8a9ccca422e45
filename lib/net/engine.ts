/**
 * The connection engine: drives pipelined connections for a scheduler. It writes what the
 * scheduler queued, scans replies, completes requests in order, times out stalled ones, and
 * reconnects lost connections with backoff (counted), over either I/O driver: Deno's sockets (a
 * read loop per connection) or io_uring (one loop for all). bench's closed and open loops and
 * replay's recorded schedule are schedulers over it; a router (one server today, a slot map in
 * cluster mode) chooses each connection's target before it (re)connects.
 *
 * @module
 */
import { setImmediate } from "node:timers";
import { errorMessage, MembenchError } from "../errors/mod.ts";
import { nowUs, Ticker } from "../units/mod.ts";
import { type PipelinedConnection, REPLY_PUSH } from "./pipeline.ts";
import { endpointName, type Target } from "./target.ts";
import { socketCapable } from "./transport.ts";
import type { Transport } from "./transport_type.ts";
import { bufferAddress, errnoText, Ring, type SocketTransport, uringSupport } from "./uring.ts";

/** Reconnect policy after a lost connection. */
export interface ReconnectPolicy {
  /** Attempts before the connection gives up (0: never reconnect). */
  maxAttempts: number;
  /** First delay; doubles per attempt. */
  baseDelayMs: number;
  /** Largest delay. */
  maxDelayMs: number;
}

/** What decides when and what a connection sends. Called by the engine, never concurrently. */
export interface Scheduler {
  /** Queue into `c` what it may send now (after replies, a reconnect, the start); the engine writes it. */
  fill(c: PipelinedConnection, now: number): void;
  /** The reply to the request in slot `s` of `c` arrived; `c.scanner` holds its kind. */
  reply(c: PipelinedConnection, s: number, now: number): void;
  /** The request in slot `s` of `c` failed without a reply (`connection`, `timeout`, `protocol`). */
  failed(c: PipelinedConnection, s: number, code: string): void;
  /** Whether `c` will queue nothing more: it is finished once nothing of it is in flight. */
  exhausted(c: PipelinedConnection): boolean;
  /** Paced schedulers: queue what is due on every connection; the next due time (µs, nowUs). */
  due?(now: number): number;
  /** A write carrying the request in slot `s` started at `now` (for lateness). */
  sent?(c: PipelinedConnection, s: number, now: number): void;
  /** `c` was lost for good (reconnects exhausted); its queued work should be dropped. */
  lost?(c: PipelinedConnection): void;
}

/** How an engine connects and how long it waits. */
export interface EngineOptions {
  /** Hot-loop I/O: io_uring (transports must be libc sockets) or Deno's sockets. */
  io: "uring" | "deno";
  /** Opens a connection to `c.target`, handshake done (a libc socket for io_uring). */
  open(c: PipelinedConnection): Promise<Transport>;
  /** A request unanswered this long fails its connection (timeout). */
  requestTimeoutMs: number;
  /** After a lost connection. */
  reconnect: ReconnectPolicy;
  /** Aborting ends the run: what is in flight is abandoned. */
  signal?: AbortSignal;
}

const TIMEOUT_CHECK_MS = 100;

/**
 * Runs connections for a scheduler until every connection is finished (nothing in flight and the
 * scheduler exhausted) or dead, or the signal aborts. Never throws for server or connection
 * failures: they are counted, and `fatal` is set when every connection gave up.
 */
export class Engine {
  /** The connections, opened (`transport` set) before {@linkcode run}. */
  readonly conns: PipelinedConnection[];
  /** Successful reconnects. */
  reconnects = 0;
  /** Stopped by the signal. */
  interrupted = false;
  /** Requests in flight when the signal stopped the run. */
  abandoned = 0;
  /** Set when every connection gave up: the last one's error. */
  fatal: MembenchError | undefined = undefined;
  #o: EngineOptions;
  #s: Scheduler;
  #done = false;
  #resolve!: () => void;
  #finished: Promise<void>;
  #ring: Ring | undefined;
  #ticker: Ticker | undefined;
  #closing = new Set<Promise<unknown>>();
  // Deno sockets: the read loops (and the pace loop), awaited at the end of the run.
  #drivers: Promise<unknown>[] = [];

  constructor(conns: PipelinedConnection[], o: EngineOptions, s: Scheduler) {
    this.conns = conns;
    this.#o = o;
    this.#s = s;
    this.#finished = new Promise<void>((r) => this.#resolve = r);
  }

  /** Whether the run is over. */
  get done(): boolean {
    return this.#done;
  }

  /** Ends the run when every connection is finished or dead. */
  checkDone(): void {
    if (this.#done) return;
    for (const c of this.conns) {
      if (!c.dead && (c.inflight > 0 || !this.#s.exhausted(c))) return;
    }
    this.#finish();
  }

  /** Wakes a paced scheduler's wait (new work is due sooner). */
  wake(): void {
    this.#ticker?.wake();
  }

  /**
   * Adds a connection to a running engine (a cluster node that appeared during the run): opens
   * it with `open` (the engine's by default; a scheduler may want no reconnect side effects for a
   * first connect), retrying with the reconnect policy, then runs it like the others. `c.local`
   * must be the next index (`conns.length`). Resolves false when it could not be opened (`c` is
   * then dead, with its error) or the run ended first. Never rejects.
   */
  async attach(
    c: PipelinedConnection,
    open: (c: PipelinedConnection) => Promise<Transport> = this.#o.open,
  ): Promise<boolean> {
    if (this.#done) return false;
    if (c.local !== this.conns.length) {
      c.dead = true;
      c.error = new MembenchError(
        "internal",
        `attach: connection ${c.index} has slot ${c.local}, the next is ${this.conns.length}`,
      );
      return false;
    }
    this.conns.push(c);
    if (this.#ring) {
      c.outAddr = bufferAddress(c.out);
      c.spareAddr = bufferAddress(c.spare);
      c.rbufAddr = bufferAddress(c.rbuf);
    }
    try {
      c.transport = await open(c);
    } catch (e) {
      const why = e instanceof MembenchError
        ? e
        : new MembenchError("connection", `connection ${c.index}: ${errorMessage(e)}`);
      // Later tries go through the reconnect policy (its backoff, its attempts).
      if (!(await this.#reconnect(c, why))) {
        this.#s.lost?.(c);
        this.checkDone();
        return false;
      }
      if (this.#done) return false;
      if (this.#o.io === "deno") this.#drivers.push(this.#readLoop(c));
      this.#fillAndFlush(c, nowUs());
      return true;
    }
    if (this.#done) {
      this.#close(c.transport);
      c.transport = undefined;
      return false;
    }
    if (this.#ring) this.#adopt(c);
    else if (this.#o.io === "deno") this.#drivers.push(this.#readLoop(c));
    this.#fillAndFlush(c, nowUs());
    return true;
  }

  /** Writes what `c` has queued, unless a write is in progress (it follows then). */
  flush(c: PipelinedConnection): void {
    if (c.writing || c.outLen === 0 || c.transport === undefined || c.dead) return;
    const buf = c.out;
    const len = c.outLen;
    if (this.#ring && c.outAddr === 0) c.outAddr = bufferAddress(buf);
    const addr = c.outAddr;
    if (c.spare.length >= buf.length) {
      c.out = c.spare;
      c.outAddr = c.spareAddr;
    } else {
      c.out = new Uint8Array(buf.length);
      c.outAddr = 0;
    }
    c.spare = buf;
    c.spareAddr = addr;
    c.outLen = 0;
    c.writing = true;
    const t = nowUs();
    // Stamp the send time of the requests this write carries (those not stamped yet).
    const sched = this.#s;
    const stamp = sched.sent !== undefined;
    let k = c.inflight - 1;
    for (; k >= 0; k--) {
      const s = c.head + k & c.op.length - 1;
      if (c.sent[s]! >= 0) break;
      c.sent[s] = t;
      if (stamp) sched.sent!(c, s, t);
    }
    this.#queued += c.inflight - 1 - k;
    if (this.#ring) {
      c.sendAddr = addr;
      c.sendLeft = len;
      this.#ring.send(c.fd, addr, len, this.#tag(c, 1));
    } else void this.#writeOut(c, buf, len);
  }

  /** Runs until done; resolves after every connection is closed. */
  async run(): Promise<void> {
    const o = this.#o;
    const onAbort = () => {
      this.interrupted = true;
      for (const c of this.conns) {
        this.abandoned += c.inflight;
        this.#close(c.transport);
      }
      this.#finish();
    };
    if (o.signal?.aborted) onAbort();
    o.signal?.addEventListener("abort", onAbort, { once: true });
    const timeouts = setInterval(() => this.#checkTimeouts(), TIMEOUT_CHECK_MS);
    if (this.#s.due) this.#ticker = new Ticker();
    const drivers = this.#drivers;
    if (o.io === "uring" && !this.#done) {
      this.#ring = new Ring(Math.min(4096, Math.max(64, this.conns.length * 4)));
      for (const c of this.conns) {
        c.outAddr = bufferAddress(c.out);
        c.spareAddr = bufferAddress(c.spare);
        c.rbufAddr = bufferAddress(c.rbuf);
      }
      drivers.push(
        this.#uringLoop().catch((e) => {
          // The ring itself failed (not a connection): end the run with the reason.
          this.fatal ??= new MembenchError("connection", `io_uring loop: ${errorMessage(e)}`);
          this.#finish();
        }),
      );
    } else {
      for (const c of this.conns) drivers.push(this.#readLoop(c));
      const now = nowUs();
      for (const c of this.conns) if (!this.#done) this.#fillAndFlush(c, now);
      if (this.#s.due) drivers.push(this.#paceLoop());
    }
    this.checkDone();
    try {
      await this.#finished;
    } finally {
      clearInterval(timeouts);
      o.signal?.removeEventListener("abort", onAbort);
      this.#ticker?.close();
      for (const c of this.conns) this.#close(c.transport);
      await Promise.allSettled(drivers);
      await Promise.allSettled([...this.#closing]);
      this.#ring?.close();
      this.#ring = undefined;
    }
  }

  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    this.#ticker?.wake();
    this.#resolve();
  }

  #close(t: Transport | undefined): void {
    try {
      t?.close();
    } catch { /* closed already */ }
  }

  #fillAndFlush(c: PipelinedConnection, now: number): void {
    if (c.dead || c.transport === undefined) return;
    this.#s.fill(c, now);
    this.flush(c);
  }

  async #writeOut(c: PipelinedConnection, buf: Uint8Array, len: number): Promise<void> {
    const tr = c.transport!;
    try {
      let off = 0;
      while (off < len) {
        off += await tr.write(off === 0 && len === buf.length ? buf : buf.subarray(off, len));
      }
    } catch {
      // The reader sees the broken connection and handles it.
    }
    c.writing = false;
    if (c.outLen > 0 && c.transport === tr) this.flush(c);
  }

  // Paced schedulers over Deno sockets: send what is due, sleep until the next due time.
  async #paceLoop(): Promise<void> {
    const s = this.#s;
    const ticker = this.#ticker!;
    while (!this.#done) {
      const now = nowUs();
      const next = s.due!(now);
      // Nothing due: replies, new work (wake) or the done check end the wait.
      await ticker.until(next === Infinity ? now + 5000 : next);
    }
  }

  #checkTimeouts(): void {
    const now = nowUs();
    const limitUs = this.#o.requestTimeoutMs * 1000;
    for (const c of this.conns) {
      if (c.inflight === 0 || c.transport === undefined) continue;
      const sent = c.sent[c.head]!;
      if (sent > 0 && now - sent > limitUs) {
        c.error = new MembenchError(
          "timeout",
          `connection ${c.index}: no reply within ${this.#o.requestTimeoutMs} ms`,
        );
        this.#close(c.transport);
      }
    }
  }

  #failInflight(c: PipelinedConnection, code: string): void {
    while (c.inflight > 0) this.#s.failed(c, c.shift(), code);
    c.outLen = 0;
  }

  // `n` new bytes in c.rbuf: completes the replies they finish and queues what that frees.
  // 0: go on reading; 1: this connection is finished; 2: garbage closed `tr` (reconnect follows).
  #onBytes(c: PipelinedConnection, n: number, tr: Transport): number {
    const now = nowUs();
    const buf = c.rbuf;
    const sc = c.scanner;
    const s = this.#s;
    let p = 0;
    try {
      while ((p = sc.scan(buf, p, n, c.headUnit())) >= 0) {
        if (sc.kind === REPLY_PUSH) continue; // out-of-band, not a reply
        if (c.inflight === 0) {
          throw new MembenchError("protocol", `connection ${c.index}: a reply without a request`);
        }
        s.reply(c, c.shift(), now);
      }
    } catch (e) {
      // A garbage reply: the stream cannot be trusted any more; count it and reconnect.
      c.error = e instanceof MembenchError ? e : new MembenchError("protocol", errorMessage(e));
      if (c.inflight > 0) s.failed(c, c.shift(), "protocol");
      this.#close(tr);
      return 2;
    }
    s.fill(c, now);
    if (c.inflight === 0 && s.exhausted(c)) {
      c.finished = true;
      this.checkDone();
      return 1;
    }
    this.flush(c);
    return 0;
  }

  async #reconnect(c: PipelinedConnection, why: MembenchError): Promise<boolean> {
    const p = this.#o.reconnect;
    let last: unknown = why;
    for (let attempt = 0; attempt < p.maxAttempts && !this.#done; attempt++) {
      const delay = Math.min(p.maxDelayMs, p.baseDelayMs * 2 ** attempt);
      await new Promise((r) => setTimeout(r, delay));
      if (this.#done) break;
      try {
        const t = await this.#o.open(c);
        if (this.#done) {
          // The run ended while this connect was under way: nobody would close it.
          this.#close(t);
          break;
        }
        c.transport = t;
        c.scanner.reset();
        this.#adopt(c);
        this.reconnects++;
        c.reconnects++;
        return true;
      } catch (e) {
        last = e;
      }
    }
    c.dead = true;
    c.error = last instanceof MembenchError
      ? last
      : new MembenchError("connection", `connection ${c.index}: ${errorMessage(last)}`);
    return false;
  }

  // End of stream or a read error on `tr`: fails what was in flight and reconnects. True when the
  // connection goes on (reconnected), false when it is finished.
  async #onClosed(c: PipelinedConnection, tr: Transport): Promise<boolean> {
    if (this.#done) return false;
    const s = this.#s;
    if (c.inflight === 0 && s.exhausted(c)) {
      this.#close(tr);
      c.transport = undefined;
      c.finished = true;
      this.checkDone();
      return false;
    }
    const code = c.error?.code === "timeout" ? "timeout" : "connection";
    const why = c.error ??
      new MembenchError("connection", `connection ${c.index}: the server closed the connection`);
    c.error = undefined;
    this.#close(tr);
    c.transport = undefined;
    c.writing = false;
    this.#failInflight(c, code);
    if (s.exhausted(c)) {
      this.checkDone();
      return false;
    }
    if (!(await this.#reconnect(c, why))) {
      s.lost?.(c);
      if (this.conns.every((x) => x.dead)) this.fatal = c.error;
      this.checkDone();
      return false;
    }
    if (this.#done) return false;
    this.#fillAndFlush(c, nowUs());
    return true;
  }

  async #readLoop(c: PipelinedConnection): Promise<void> {
    while (!this.#done) {
      const tr = c.transport;
      if (tr === undefined) return;
      let n: number | null;
      try {
        n = await tr.read(c.rbuf);
      } catch (e) {
        n = null;
        if (c.error === undefined && !this.#done) {
          c.error = new MembenchError("connection", `connection ${c.index}: ${errorMessage(e)}`);
        }
      }
      if (n === null) {
        if (await this.#onClosed(c, tr)) continue;
        return;
      }
      // 2: the transport is closed; the next read ends and reconnects.
      if (this.#onBytes(c, n, tr) === 1) return;
    }
  }

  // Whether a completion can come: a request in flight or a send under way somewhere.
  #anyInflight(): boolean {
    for (const c of this.conns) if (c.inflight > 0 || c.writing) return true;
    return false;
  }

  // io_uring: a completion's tag is the connection's slot, its generation and the op.
  #tag(c: PipelinedConnection, op: number): number {
    return ((c.gen & 0x3ff) << 21 | c.local << 1 | op) >>> 0;
  }

  // Takes over a freshly opened libc socket: new generation, receive armed.
  #adopt(c: PipelinedConnection): void {
    if (!this.#ring || c.transport === undefined) return;
    c.gen++;
    c.fd = (c.transport as SocketTransport).fd;
    c.writing = false;
    c.sendLeft = 0;
    this.#ring.recv(c.fd, c.rbufAddr, c.rbuf.length, this.#tag(c, 0));
  }

  // Requests in the sends queued on the ring this turn (zeroed as a turn starts and at each
  // early submit; the periodic submit before a yield is followed by a turn's start).
  #queued = 0;

  // The io_uring loop: every send and receive of a turn goes to the kernel in one call; timers,
  // the abort signal and reconnects run when it yields to the event loop, every few ms.
  async #uringLoop(): Promise<void> {
    const r = this.#ring!;
    const s = this.#s;
    const closing = this.#closing;
    const lost = (c: PipelinedConnection, tr: Transport) => {
      const p = this.#onClosed(c, tr).finally(() => closing.delete(p));
      closing.add(p);
    };
    let lastYield = nowUs();
    let lastTimerTurn = lastYield;
    for (const c of this.conns) this.#adopt(c);
    const t0 = nowUs();
    for (const c of this.conns) this.#fillAndFlush(c, t0);
    while (!this.#done) {
      // Block in the kernel only while a completion can come; with nothing in flight, new work
      // comes from other tasks (a profile reader): yield at once, or within 1 ms when paced.
      const idle = !this.#anyInflight();
      let waitUs = idle ? 0 : 5000;
      let nextDueUs = Infinity;
      if (s.due) {
        const now = nowUs();
        nextDueUs = s.due(now);
        waitUs = Math.min(idle ? 1000 : 5000, Math.max(0, nextDueUs - now));
      }
      this.#queued = 0;
      r.wait(waitUs);
      let got = 0;
      while (r.next()) {
        got++;
        const tag = r.tag;
        const res = r.res;
        const c = this.conns[(tag >>> 1) & 0xfffff];
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
            r.send(c.fd, c.sendAddr, c.sendLeft, this.#tag(c, 1));
            continue;
          }
          c.writing = false;
          c.sendLeft = 0;
          if (res >= 0 && c.outLen > 0) this.flush(c);
          continue;
        }
        if (res > 0) {
          const k = this.#onBytes(c, res, tr);
          if (k === 0) r.recv(c.fd, c.rbufAddr, c.rbuf.length, this.#tag(c, 0));
          else if (k === 2) lost(c, tr);
          // Pipelined batches: hand what is queued to the kernel before the rest of the turn.
          // The submit can bring completions with it (the receives' work runs in the call), so
          // a busy turn could go on without end: it ends at the yield's time instead.
          if (this.#queued >= EARLY_SUBMIT) {
            this.#queued = 0;
            r.submit();
            if (nowUs() - lastYield >= 2000) break;
          }
          continue;
        }
        if (res < 0 && c.error === undefined && !this.#done) {
          c.error = new MembenchError("connection", `connection ${c.index}: ${errnoText(-res)}`);
        }
        lost(c, tr);
      }
      const now = nowUs();
      // Yield when idle, and every 2 ms when busy: timers, the abort signal, worker messages
      // and whatever else shares this isolate (a profile reader, a live capture) must not wait.
      if (got === 0 || now - lastYield >= 2000 || closing.size > 0) {
        r.submit(); // nothing may wait in the queue while a timer can close its socket
        lastYield = now;
        // setImmediate yields in about 10 µs and lets due timers run; setTimeout(0) takes
        // about 1.5 ms (clamping), and a MessageChannel round trip starves timers.
        // setImmediate lets due timers run but polls the I/O of other tasks (a connect on a
        // helper thread, a profile being read, sockets served in this isolate) only every
        // hundred or so turns: several hundred ms here. A timer turn polls it at once but costs
        // about a ms, so take one when nothing can complete anyway, and every 50 ms when busy.
        // (A paced schedule takes only the periodic turn, and not within 3 ms of a due send: a
        // timer turn can take a few ms and would make the send late.)
        const idleLong = got === 0 && nextDueUs === Infinity && !this.#anyInflight();
        if (idleLong || (now - lastTimerTurn >= 50_000 && nextDueUs - now > 3000)) {
          lastTimerTurn = now;
          await new Promise<void>((res) => setTimeout(res, 0));
        } else await new Promise<void>((res) => setImmediate(res));
      }
    }
  }
}

// Requests queued in sends after which the io_uring loop submits in the middle of a turn. A turn
// takes every completion there is (tens of connections' replies at a pipeline of 16) and their
// sends used to go to the kernel together at its end: the servers had nothing to do while the
// client parsed, then all of them had work at once, more than two cores could run. Submitting
// every 256 requests (16 connections at P16) lets them start while the client goes on: on
// this 2-core machine, GET P16 on 50 clients went from 1.43-1.49M to 1.57-1.61M requests/s on
// one server, and from 1.22-1.23M to 1.27-1.31M on a 3-node cluster (--cluster-tags), with the
// machine's idle time from 21% to 15%. At pipeline 1 (at most a request per connection and
// turn) a turn rarely gets there, and an early submit there cost as much as it gave.
const EARLY_SUBMIT = 256;

/** How {@linkcode connectAll} opens a set of connections. */
export interface ConnectAllOptions {
  /** Aborting stops the connect phase: nothing more is started, and what is under way is closed. */
  signal?: AbortSignal;
  /** Connects under way at once (bounded, so that a huge client count cannot flood the loop). @default {256} */
  concurrency?: number;
  /** Connected so far and the total, at most every 100 ms and once at the end. */
  onProgress?: (connected: number, total: number) => void;
  /**
   * Connections the run can do without (a cluster's replicas): when one fails, its place in the
   * result is left undefined and the phase goes on.
   */
  optional?: (i: number) => boolean;
  /** Told of each optional connection that failed, with its error. */
  onOptionalFailure?: (i: number, e: unknown) => void;
}

/**
 * The connect phase of a run: opens `count` connections with `open(i)`, at most `concurrency`
 * at a time, and returns them in order (undefined where an `optional` one failed). It checks
 * the signal before each connect and, when the signal aborts, stops waiting at once: what was
 * opened is closed, and connects still under way are closed as they finish (`undefined` is
 * returned). A failed connect that is not optional stops the phase: the others under way
 * settle, everything opened is closed, and the first failure is thrown.
 *
 * @throws the first connect's failure (a `MembenchError` from `open`, as a rule).
 */
export async function connectAll(
  count: number,
  open: (i: number) => Promise<Transport>,
  o: ConnectAllOptions = {},
): Promise<Array<Transport | undefined> | undefined> {
  const out = new Array<Transport | undefined>(count);
  const limit = Math.max(1, Math.min(count, o.concurrency ?? 256));
  const signal = o.signal;
  let next = 0;
  let connected = 0;
  let failure: { e: unknown } | undefined;
  let stopped = false;
  let lastReport = -Infinity;
  const report = (force: boolean) => {
    if (!o.onProgress) return;
    const now = performance.now();
    if (!force && now - lastReport < 100) return;
    lastReport = now;
    o.onProgress(connected, count);
  };
  const closeAll = () => {
    for (const t of out) {
      try {
        t?.close();
      } catch { /* closed already */ }
    }
  };
  // Each lane opens one connection after another; `limit` lanes run side by side.
  const lane = async () => {
    while (!stopped && failure === undefined && next < count) {
      if (signal?.aborted) return;
      const i = next++;
      try {
        const t = await open(i);
        if (stopped || signal?.aborted) {
          // The phase ended while this connect was under way: nobody else would close it.
          t.close();
          continue;
        }
        out[i] = t;
        connected++;
        report(false);
      } catch (e) {
        if (!o.optional?.(i)) failure ??= { e };
        else o.onOptionalFailure?.(i, e);
      }
    }
  };
  let onAbort = () => {};
  const aborted = new Promise<void>((resolve) => {
    onAbort = () => resolve();
    if (signal?.aborted) resolve();
    else signal?.addEventListener("abort", onAbort, { once: true });
  });
  report(true);
  try {
    const lanes = Promise.all(Array.from({ length: limit }, lane));
    await Promise.race([lanes, aborted]);
  } finally {
    stopped = true;
    signal?.removeEventListener("abort", onAbort);
  }
  if (signal?.aborted) {
    closeAll();
    return undefined;
  }
  if (failure !== undefined) {
    closeAll();
    throw failure.e;
  }
  report(true);
  return out;
}

/**
 * The soft limit on open files of this process (`ulimit -n`), from /proc/self/limits; undefined
 * where it cannot be read (not Linux, no read permission: never prompts) or is unlimited.
 */
export function openFileLimit(): number | undefined {
  try {
    // Without read permission, say nothing rather than prompt.
    const path = "/proc/self/limits";
    if (Deno.permissions.querySync({ name: "read", path }).state !== "granted") return undefined;
    const text = Deno.readTextFileSync(path);
    const m = text.match(/^Max open files\s+(\d+|unlimited)/m);
    return m && m[1] !== "unlimited" ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The I/O driver for `wanted` ("auto", "uring" or "deno") and these targets: io_uring when the
 * kernel allows it and every target is plain TCP to an IP address; `problem` says why "uring"
 * cannot be had (auto falls back to Deno's sockets silently).
 */
export function chooseIo(
  wanted: string,
  targets: readonly Target[],
): { io: "uring" | "deno"; problem?: string } {
  if (wanted !== "auto" && wanted !== "uring" && wanted !== "deno") {
    return {
      io: "deno",
      problem: `Cannot use 'io': must be one of auto, uring, deno: current value is ${
        JSON.stringify(wanted)
      }`,
    };
  }
  if (wanted === "deno") return { io: "deno" };
  const unfit = targets.find((t) => !socketCapable(t.endpoint, t.tls));
  const support = uringSupport();
  if (support.ok && !unfit) return { io: "uring" };
  if (wanted === "auto") return { io: "deno" };
  return {
    io: "deno",
    problem: `Cannot use 'io' uring: ${
      support.ok
        ? `${endpointName(unfit!.endpoint)} is not plain TCP to an IP address`
        : support.reason
    }`,
  };
}
