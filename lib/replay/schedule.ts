import { LogHistogram } from "../analyze/mod.ts";
import type { CommandMetrics } from "../metrics/mod.ts";
import {
  type Engine,
  type PipelinedConnection,
  REPLY_ERROR,
  REPLY_NULL,
  type Scheduler,
} from "../net/mod.ts";
import { encodeCommand } from "../protocol/resp/mod.ts";
import { nowUs } from "../units/mod.ts";
import { SendQueue } from "./send_queue.ts";

/** A connection's queue holds at most about this many requests: the router waits beyond. */
export const MAX_QUEUE = 512;
/** Max speed: at most this many of one connection's requests in flight. */
const MAX_INFLIGHT = 256;
/** A redirected request is sent again at most this many times. */
const MAX_REDIRECTS = 8;
// The op of an ASKING sent before an ASK-redirected request: not a request of the replay.
const ASKING_OP = -1;
const ASKING = encodeCommand(["ASKING"]);

// Copies `n` bytes; short requests (gets, deletes) by a byte loop, which beats making a view.
function copyBytes(src: Uint8Array, from: number, dst: Uint8Array, at: number, n: number): void {
  if (n <= 64) { for (let k = 0; k < n; k++) dst[at + k] = src[from + k]!; }
  else dst.set(src.subarray(from, from + n), at);
}

/** Per op of the profile: what the replay sent, completed, hit and missed. */
export interface ReplayCounters {
  metrics: CommandMetrics[];
  sent: number[];
  late: number[];
  hits: number[];
  misses: number[];
}

/**
 * replay's scheduler over the engine: each connection sends its own recorded requests in order.
 * Paced: on the recorded schedule (a heap of connections by their next due time); max speed: as
 * fast as replies allow, keeping the recorded pipelining (a request that followed its
 * predecessor's reply in the recording waits for that reply here too).
 */
export class ReplayScheduler implements Scheduler {
  /** The router has routed its last event. */
  routerDone = false;
  /** No more sends (interrupted). */
  stopped = false;
  /** Requests sent and completed, errors, late sends. */
  sentTotal = 0;
  completed = 0;
  errors = 0;
  late = 0;
  /** Redirected requests sent again (cluster mode). */
  resent = 0;
  /** Events sent per second since `startUs`. */
  readonly rate: number[] = [];
  /** Replay start (µs, nowUs): the schedule's origin. */
  startUs = 0;
  /** Lateness of sends against the schedule (paced), all connections and per connection. */
  readonly lateness = new LogHistogram();
  readonly connLateness: LogHistogram[];
  /** Per connection: requests routed to it and not yet sent. */
  readonly queues: SendQueue[];
  /** Set when a connection gave up for good. */
  failure: { code: string; message: string } | undefined;
  /**
   * Cluster mode: called on each error reply, before it is counted. For MOVED or ASK it returns
   * the node (index in the group) to send the request to again, and whether ASKING goes first;
   * the request is then resent (at most 8 times) instead of counted.
   */
  onErrorReply:
    | ((c: PipelinedConnection) => { node: number; ask: boolean } | undefined)
    | undefined;
  #engine!: Engine;
  readonly #conns: PipelinedConnection[];
  readonly #paced: boolean;
  readonly #lateUs: number;
  readonly #k: ReplayCounters;
  #inHeap: Uint8Array;
  readonly #heap: PipelinedConnection[] = [];
  readonly #drained: Array<(() => void) | undefined>;
  // Connections per replay connection at the start (a cluster: one per node, `local` i·group + n).
  readonly #group: number;
  // Cluster mode: per replay connection, its connections' slots by node index; per slot, its
  // replay connection and node. A node that joins during the replay gets a connection in every
  // group, appended after the others ({@linkcode join}).
  readonly #members: number[][] = [];
  readonly #groupOf: number[] = [];
  readonly #nodeOf: number[] = [];
  #wrote: Uint8Array;
  // Per connection: 1 once it carried a request.
  #carried: Uint8Array;
  // Cluster mode: per connection, a copy of each request in flight (in the order of its ring),
  // so that a redirected one can be sent again.
  readonly #held: SendQueue[] | undefined;

  /**
   * `group`: connections per replay connection (cluster mode: one per node, consecutive). At max
   * speed their queues are sent as one connection's would be: in the order routed (the queues'
   * `intended` then holds the routing sequence), and a request recorded after its predecessor's
   * reply waits until none of the group's requests is in flight.
   */
  constructor(
    conns: PipelinedConnection[],
    paced: boolean,
    lateThresholdUs: number,
    counters: ReplayCounters,
    group = 1,
  ) {
    this.#group = Math.max(1, group);
    this.#wrote = new Uint8Array(this.#group);
    this.#carried = new Uint8Array(conns.length);
    this.#held = this.#group > 1 ? conns.map(() => new SendQueue()) : undefined;
    this.#conns = conns;
    this.#paced = paced;
    this.#lateUs = lateThresholdUs;
    this.#k = counters;
    this.queues = conns.map(() => new SendQueue());
    this.connLateness = conns.map(() => new LogHistogram());
    this.#inHeap = new Uint8Array(conns.length);
    this.#drained = conns.map(() => undefined);
    for (let i = 0; i < conns.length; i++) {
      const g = (i / this.#group) | 0;
      (this.#members[g] ??= []).push(i);
      this.#groupOf.push(g);
      this.#nodeOf.push(i % this.#group);
    }
  }

  /** Cluster mode: the node index of connection `c` (0 outside a cluster). */
  nodeOf(c: PipelinedConnection): number {
    return this.#nodeOf[c.local] ?? 0;
  }

  /** Cluster mode: replay connection `g`'s connection to node `n`; undefined for an unknown node. */
  connOf(g: number, n: number): PipelinedConnection | undefined {
    const local = this.#members[g]?.[n];
    return local === undefined ? undefined : this.#conns[local];
  }

  /**
   * Cluster mode: `c` is replay connection `g`'s connection to node `n`, a node that joined
   * during the replay. Call before the engine attaches it (its slot is the next connection's):
   * requests routed to it wait until it is open.
   */
  join(c: PipelinedConnection, g: number, n: number): void {
    const local = c.local;
    const grow = (a: Uint8Array) => {
      if (local < a.length) return a;
      const b = new Uint8Array(Math.max(local + 1, a.length * 2));
      b.set(a);
      return b;
    };
    this.#carried = grow(this.#carried);
    this.#inHeap = grow(this.#inHeap);
    this.queues[local] = new SendQueue();
    this.connLateness[local] = new LogHistogram();
    this.#drained[local] = undefined;
    if (this.#held !== undefined) this.#held[local] = new SendQueue();
    (this.#members[g] ??= [])[n] = local;
    this.#groupOf[local] = g;
    this.#nodeOf[local] = n;
    if (this.#wrote.length <= n) this.#wrote = new Uint8Array(n + 1);
  }

  /** The engine whose connections these are. */
  bind(engine: Engine): void {
    this.#engine = engine;
  }

  /** The router queued a request on `c`: send it when due (paced) or now (max). */
  routed(c: PipelinedConnection): void {
    if (this.#paced) {
      if (this.#inHeap[c.local] === 0 && c.transport !== undefined) {
        this.#heapPush(c);
        if (this.#heap[0] === c) this.#engine.wake();
      }
    } else {
      this.#pump(c);
      this.#engine.flush(c);
    }
  }

  /** Resolves once `c`'s queue has room again (at once when it has). */
  room(c: PipelinedConnection): Promise<void> | undefined {
    if (this.queues[c.local]!.length <= MAX_QUEUE || this.stopped || c.dead) return undefined;
    return new Promise<void>((res) => this.#drained[c.local] = res);
  }

  /** Lets every waiting router step go (on stop). */
  releaseAll(): void {
    for (const c of this.#conns) this.#release(c);
  }

  fill(c: PipelinedConnection, _now: number): void {
    if (this.#paced) {
      // After a reconnect: back on the schedule.
      if (this.#inHeap[c.local] === 0 && this.queues[c.local]!.length > 0) this.#heapPush(c);
    } else this.#pump(c);
  }

  due(now: number): number {
    const heap = this.#heap;
    while (!this.stopped) {
      const c = heap[0];
      if (c === undefined) return Infinity;
      const q = this.queues[c.local]!;
      const due = q.intended[q.head]!;
      if (due > now + 50) return due;
      this.#heapPop();
      if (c.dead || c.transport === undefined) continue; // back on the schedule when reconnected
      // Send everything of this connection that is due now, in order.
      while (q.length > 0 && q.intended[q.head]! <= now + 50) this.#sendHead(c, now);
      this.#engine.flush(c);
      if (q.length > 0) this.#heapPush(c);
    }
    return Infinity;
  }

  reply(c: PipelinedConnection, s: number, now: number): void {
    const op = c.op[s]!;
    const held = this.#held?.[c.local];
    if (op === ASKING_OP) {
      // ASKING's +OK (an error would show on the request after it too).
      held?.shift();
      return;
    }
    if (held !== undefined && c.scanner.kind === REPLY_ERROR && this.onErrorReply) {
      const to = this.onErrorReply(c);
      const tries = held.pipelined[held.head]!;
      const target = to === undefined || to.node < 0
        ? undefined
        : this.connOf(this.#groupOf[c.local]!, to.node);
      // Resent to a connection that is up (or coming back); else it counts as its error.
      if (to !== undefined && target !== undefined && !target.dead && tries < MAX_REDIRECTS) {
        this.#resend(c, to.node, to.ask, tries + 1);
        held.shift();
        return;
      }
    }
    held?.shift();
    const m = this.#k.metrics[op]!;
    m.recordService(now - c.sent[s]!);
    if (this.#paced) m.recordResponse(now - c.intended[s]!);
    this.completed++;
    const kind = c.scanner.kind;
    if (kind === REPLY_ERROR) {
      if (held === undefined) this.onErrorReply?.(c);
      m.recordError(c.scanner.errorCode() || "ERR");
      this.errors++;
    } else if (c.flag[s] === 1) {
      const keys = c.scanner.elements;
      if (keys > 0) {
        // A multi-key read (MGET, a text multi-get): one hit or miss per key, as recorded.
        const nulls = c.scanner.nulls;
        this.#k.misses[op]! += nulls;
        this.#k.hits[op]! += keys - nulls;
      } else if (kind === REPLY_NULL) this.#k.misses[op]!++;
      else this.#k.hits[op]!++;
    }
  }

  failed(c: PipelinedConnection, s: number, code: string): void {
    this.#held?.[c.local]?.shift();
    if (c.op[s] === ASKING_OP) return;
    const m = this.#k.metrics[c.op[s]!]!;
    m.count++;
    m.recordError(code);
    this.errors++;
  }

  exhausted(c: PipelinedConnection): boolean {
    if (this.stopped) return true;
    if (!this.routerDone) return false;
    if (this.#group === 1) return this.queues[c.local]!.length === 0;
    // A node connection is done when its whole group is: a sibling's reply may still redirect a
    // request to it.
    for (const local of this.#members[this.#groupOf[c.local]!]!) {
      if (this.queues[local]!.length > 0 || this.#conns[local]!.inflight > 0) return false;
    }
    return true;
  }

  // A redirected request (the head of `c`'s copies) goes again, to node `node` of its group:
  // with ASKING first for ASK, keeping its place in the group's order and its intended time.
  #resend(c: PipelinedConnection, node: number, ask: boolean, tries: number): void {
    const held = this.#held![c.local]!;
    const h = held.head;
    const target = this.#members[this.#groupOf[c.local]!]![node]!;
    const q = this.queues[target]!;
    const intended = held.intended[h]!;
    if (ask) {
      const at = q.reserve(ASKING.length);
      q.bytes.set(ASKING, at);
      q.push(ASKING.length, 0, ASKING_OP, false, intended, 2);
    }
    const n = held.len[h]!;
    const at = q.reserve(n);
    copyBytes(held.bytes, held.byteHead, q.bytes, at, n);
    q.push(n, held.unit[h]!, held.op[h]!, held.read[h] === 1, intended, 1 + tries);
    this.resent++;
    this.routed(this.#conns[target]!);
  }

  lost(c: PipelinedConnection): void {
    this.#held?.[c.local]?.clear();
    // Its queued requests are never sent: the report shows sent < routed. Resends among them
    // (cluster mode) were counted as sent the first time: they fail here, counted once.
    const q = this.queues[c.local]!;
    const had = q.length > 0 || this.#carried[c.local] === 1;
    while (q.length > 0) {
      const h = q.head;
      const op = q.op[h]!;
      if (q.pipelined[h]! >= 2 && op !== ASKING_OP) {
        const m = this.#k.metrics[op]!;
        m.count++;
        m.recordError("connection");
        this.errors++;
      }
      q.shift();
    }
    q.clear();
    this.#release(c);
    if (this.#group > 1) {
      // The rest of its group goes on: at max speed its other connections waited behind this
      // one's oldest request (a node that joined and never opened, say), and the router may wait
      // for room on any of them.
      const members = this.#members[this.#groupOf[c.local]!]!;
      for (const local of members) this.#release(this.#conns[local]!);
      if (!this.#paced) this.#pumpGroup(members, c);
    }
    // A cluster node's connection that never carried a request (a replica, a node with no slot
    // for this connection's keys) lost for good: the replay itself lost nothing.
    if (this.#group > 1 && !had) return;
    this.failure ??= {
      code: c.error?.code ?? "connection",
      message: `replay ${c.error?.message ?? `connection ${c.index}: lost`}`,
    };
  }

  // Max speed: send while the recording shows the next request overlapping the previous one.
  #pump(c: PipelinedConnection): void {
    if (this.#group > 1) return this.#pumpGroup(this.#members[this.#groupOf[c.local]!]!, c);
    if (this.stopped || c.dead || c.transport === undefined) return;
    const q = this.queues[c.local]!;
    if (q.length === 0) return;
    const now = nowUs();
    while (q.length > 0) {
      if (c.inflight > 0 && q.pipelined[q.head] === 0) break;
      if (c.inflight >= MAX_INFLIGHT) break;
      this.#sendHead(c, now);
    }
  }

  // Max speed, a group: the heads of its queues in routing order, while the rule allows; every
  // connection written to but `except` (the caller flushes it) is flushed.
  #pumpGroup(members: number[], except: PipelinedConnection): void {
    if (this.stopped) return;
    const G = members.length;
    const conns = this.#conns;
    let inflight = 0;
    for (let n = 0; n < G; n++) inflight += conns[members[n]!]!.inflight;
    const wrote = this.#wrote;
    wrote.fill(0);
    const now = nowUs();
    for (;;) {
      let best = -1;
      let bestSeq = Infinity;
      for (let n = 0; n < G; n++) {
        const q = this.queues[members[n]!]!;
        if (q.length > 0 && q.intended[q.head]! < bestSeq) {
          bestSeq = q.intended[q.head]!;
          best = n;
        }
      }
      if (best < 0) break;
      const c = conns[members[best]!]!;
      // The oldest waits (and so do the ones after it): a connection down, a full ring, or a
      // request recorded after its predecessor's reply while the group has one in flight.
      if (c.dead || c.transport === undefined || c.inflight >= MAX_INFLIGHT) break;
      const bq = this.queues[members[best]!]!;
      if (inflight > 0 && bq.pipelined[bq.head] === 0) break;
      this.#sendHead(c, now);
      inflight++;
      wrote[best] = 1;
    }
    for (let n = 0; n < G; n++) {
      const c = conns[members[n]!]!;
      if (wrote[n] === 1 && c !== except) this.#engine.flush(c);
    }
  }

  // Moves the head request of the connection's queue into its out buffer and in flight.
  #sendHead(c: PipelinedConnection, now: number): void {
    const q = this.queues[c.local]!;
    const slot = q.head;
    const n = q.len[slot]!;
    const at = c.reserve(n);
    const from = q.byteHead;
    copyBytes(q.bytes, from, c.out, at, n);
    c.outLen = at + n;
    const op = q.op[slot]!;
    const intended = q.intended[slot]!;
    c.push(op, q.unit[slot]!, intended, q.read[slot]!);
    this.#carried[c.local] = 1;
    const again = q.pipelined[slot]!;
    const held = this.#held?.[c.local];
    if (held !== undefined) {
      // The copy a redirect resends from, with its tries so far.
      const hp = held.reserve(n); // may replace held.bytes: read it after
      copyBytes(q.bytes, from, held.bytes, hp, n);
      held.push(n, q.unit[slot]!, op, q.read[slot] === 1, intended, again >= 2 ? again - 1 : 0);
    }
    q.shift();
    if (q.length < MAX_QUEUE / 2) this.#release(c);
    // A resend (or its ASKING) was counted when first sent.
    if (again >= 2) return;
    this.#k.sent[op]!++;
    this.sentTotal++;
    const sec = Math.max(0, Math.floor((now - this.startUs) / 1e6));
    this.rate[sec] = (this.rate[sec] ?? 0) + 1;
    if (this.#paced) {
      const lateness = now - intended;
      // Histograms, not lists: memory stays flat however long (or forever) the replay runs.
      this.connLateness[c.local]!.record(lateness);
      this.lateness.record(lateness);
      if (lateness > this.#lateUs) {
        this.#k.late[op]!++;
        this.late++;
      }
    }
  }

  #release(c: PipelinedConnection): void {
    const d = this.#drained[c.local];
    if (d) {
      this.#drained[c.local] = undefined;
      d();
    }
  }

  #headTime(c: PipelinedConnection): number {
    const q = this.queues[c.local]!;
    return q.intended[q.head]!;
  }

  #heapPush(c: PipelinedConnection): void {
    const heap = this.#heap;
    this.#inHeap[c.local] = 1;
    heap.push(c);
    let i = heap.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.#headTime(heap[p]!) <= this.#headTime(heap[i]!)) break;
      [heap[p], heap[i]] = [heap[i]!, heap[p]!];
      i = p;
    }
  }

  #heapPop(): void {
    const heap = this.#heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && this.#headTime(heap[l]!) < this.#headTime(heap[m]!)) m = l;
        if (r < heap.length && this.#headTime(heap[r]!) < this.#headTime(heap[m]!)) m = r;
        if (m === i) break;
        [heap[m], heap[i]] = [heap[i]!, heap[m]!];
        i = m;
      }
    }
    this.#inHeap[top.local] = 0;
  }
}
