// This module uses no Deno APIs.
/**
 * bench's scheduler in cluster mode: each client holds one connection per node, and each request
 * goes to the connection of its key's slot owner (or, for reads with read-from-replica, one of the
 * owner's replicas). Redirections are handled where replies are seen: MOVED updates the slot map
 * and resends, ASK sends ASKING and the request to the named node, TRYAGAIN and CLUSTERDOWN wait
 * and resend; each is counted on the node that answered it, and a request is counted once, when
 * it completes or fails for good.
 *
 * @module
 */
import {
  type ClusterNode,
  type ClusterTopology,
  hashTag,
  keySlot,
  parseRedirect,
  type SlotMap,
} from "../cluster/mod.ts";
import { MembenchError } from "../errors/mod.ts";
import { encodeHistogram, LatencyRecorder } from "../metrics/mod.ts";
import {
  type Engine,
  type PipelinedConnection,
  REPLY_ERROR,
  REPLY_NULL,
  type Transport,
} from "../net/mod.ts";
import { type CommandInfo, commandKeys, respCommand } from "../protocol/mod.ts";
import { CommandTemplate } from "../protocol/resp/mod.ts";
import type { CommandSpec } from "../workload/mod.ts";
import type { ClientState, Compiled } from "./_client.ts";
import type { WireRequest } from "./dialect.ts";
import { failureText, replyErrorText } from "./error_text.ts";

/** Where reads go in cluster mode. */
export type ReadFrom = "primary" | "prefer-replica" | "replica" | "any";

/** The read-from-replica choices. */
export const READ_FROM: readonly ReadFrom[] = ["primary", "prefer-replica", "replica", "any"];

/** A cluster as a shard gets it: plain data, so it can be posted to a worker. */
export interface ClusterShardPlan {
  /** Every node, as discovery found it (indexes are the node numbers of the run). */
  nodes: ClusterNode[];
  /** Per slot, the owner's node index. */
  slots: Int16Array;
  /** Where reads go. */
  rfr: ReadFrom;
  /**
   * Node balancing: the allowed excess of a node's share over its fair share (0.1: 10 %); a
   * request whose node is over its quota draws another key. Undefined: off.
   */
  balance?: number | undefined;
  /**
   * Node affinity, as redis-benchmark --cluster: each client talks to one primary (clients dealt
   * round-robin over the primaries) and draws keys until one falls in that primary's slots (a
   * bounded number of draws); routing stays by slot. Per-connection batches are then as large as
   * on a standalone server.
   */
  affinity?: boolean | undefined;
  /**
   * With affinity, redis-benchmark --cluster's key shape: each client's keys carry a hash tag of
   * its primary's (`key:{tag}:id`), all in one slot.
   */
  tags?: boolean | undefined;
  /**
   * A standalone primary with replicas (no cluster): node 0 owns every slot, replicas need no
   * READONLY, and a command without a key or with keys anywhere goes to the primary.
   */
  standalone?: boolean | undefined;
}

/** What one node saw of a run, as counted by membench. */
export interface NodeCounts {
  /** `host:port`. */
  address: string;
  /** Its role when the run started. */
  role: "primary" | "replica";
  /** Requests completed on it (replies, error replies and failures). */
  requests: number;
  /** Of those, errors (error replies other than redirects, failed requests). */
  errors: number;
  /** MOVED replies it sent. */
  moved: number;
  /** ASK replies it sent. */
  ask: number;
  /** TRYAGAIN replies it sent. */
  tryagain: number;
  /** CLUSTERDOWN replies it sent. */
  clusterdown: number;
  /** Service time of the requests it completed with a reply (first send → reply), encoded HDR. */
  service?: string;
  /** A node that joined during the run: when (epoch ms). Its ops/s counts from then. */
  joinedMs?: number;
}

// The op of an ASKING request: not a request of the run, never counted.
const ASKING_OP = -1;
// A request redirected or retried this often fails with its last error.
const MAX_TRIES = 16;
// What a request that gave up while parked says, by its code.
const PARKED_TEXT: Record<string, string> = {
  unavailable: "the slot's owner could not be reached (node down or unknown), after retries",
  TRYAGAIN: `TRYAGAIN (a multi-key request during resharding), still so after ${MAX_TRIES} tries`,
  CLUSTERDOWN: `CLUSTERDOWN (the cluster is down), still so after ${MAX_TRIES} tries`,
};
// Retry delays for TRYAGAIN, CLUSTERDOWN and a node without a connection: doubling from this.
const RETRY_BASE_US = 10_000;
const RETRY_MAX_US = 500_000;

// A request waiting to be (re)sent: its node was unreachable, or the server said to try again.
interface Parked {
  op: number;
  ids: Float64Array;
  size: number;
  intended: number;
  flag: number;
  born: number;
  tries: number;
  dueUs: number;
  code: string;
  node: number; // -1: route by slot; else this node (ASK)
  asking: boolean;
}

// A node's counts before any request.
function zeroCounts(n: ClusterNode): NodeCounts {
  return {
    address: n.address,
    role: n.role,
    requests: 0,
    errors: 0,
    moved: 0,
    ask: 0,
    tryagain: 0,
    clusterdown: 0,
  };
}

/** How a command finds its slot: the pieces of its first key, and whether it can be routed. */
interface KeyShape {
  pieces: Array<{ lit: Uint8Array } | { digit: number; width: number }>;
  read: boolean;
  /** The arguments that are keys (by the command catalogue's key positions). */
  keyArgs: number[];
  /**
   * When the key is literals around one key id (the common `prefix + id`): that id's index in
   * the request's ids, the size of a slot-per-id table worth keeping (ids below it), and the
   * text of the literals (ops with the same text share a table). Else undefined.
   */
  table?: { digit: number; size: number; text: string };
}

// Keys of ids below this get their slot from a table filled as ids are first seen (2 bytes each).
const SLOT_TABLE_MAX = 1 << 22;

const utf8 = new TextEncoder();

/**
 * The key shape of each command of a run: its first key argument's pieces (by the catalogue's
 * key positions), and whether it is a read.
 *
 * @throws {MembenchError} `invalid_argument` for a command whose keys may fall in different slots
 *   (several key arguments without one common hash tag), or one without a key.
 */
export function clusterKeyShapes(
  specs: readonly CommandSpec[],
  keyPrefix: string,
  keyspace: number,
  standalone = false,
  tags = false,
): KeyShape[] {
  const keyWidth = String(Math.max(0, keyspace - 1)).length;
  return specs.map((spec) => {
    const info = respCommand(spec.command);
    // Placeholders stand for the slots, so that movable keys (numkeys) read the literal words.
    const argText = spec.args.map((parts) =>
      parts.map((p) => "literal" in p ? p.literal : p.slot === "key" ? `${keyPrefix}\0` : "\0")
        .join("")
    );
    let keyArgs: number[] = [];
    if (info) {
      const out: number[] = [];
      const n = commandKeysOf(info, argText, out);
      keyArgs = out.slice(0, n);
    } else {
      // Not in the catalogue: every argument with a key slot is a key.
      keyArgs = spec.args.flatMap((a, i) =>
        a.some((p) => "slot" in p && p.slot === "key") ? [i] : []
      );
    }
    // One primary owns every slot: a keyless command (its slot is that of "") goes there.
    if (standalone && keyArgs.length === 0) return { pieces: [], read: false, keyArgs };
    if (keyArgs.length === 0) {
      throw new MembenchError(
        "invalid_argument",
        `Cannot route '${spec.text}' in cluster mode: it has no key to choose a node by`,
        { hint: "cluster mode sends each request to the node of its key's slot" },
      );
    }
    // With clusterTags every key of a request carries its client's tag: one slot.
    if (keyArgs.length > 1 && !standalone && !tags) {
      // Every key must carry the same literal hash tag, or the keys may span slots.
      const tags = keyArgs.map((i) => literalTag(argText[i]!));
      if (tags.some((t) => t === undefined || t !== tags[0])) {
        throw new MembenchError(
          "invalid_argument",
          `Cannot route '${spec.text}' in cluster mode: its ${keyArgs.length} keys may fall in different slots (CROSSSLOT)`,
          { hint: "give every key the same hash tag, e.g. '{t}__key__' or --key-prefix '{t}:'" },
        );
      }
    }
    // The digit slots are numbered in order of appearance over all arguments.
    let digit = 0;
    const shapes: KeyShape["pieces"][] = spec.args.map((parts) => {
      const pieces: KeyShape["pieces"] = [];
      for (const p of parts) {
        if ("literal" in p) pieces.push({ lit: utf8.encode(p.literal) });
        else if (p.slot === "key") {
          pieces.push({ lit: utf8.encode(keyPrefix) }, { digit: digit++, width: keyWidth });
        } else if (p.slot === "rand") pieces.push({ digit: digit++, width: 12 });
      }
      return pieces;
    });
    const pieces = shapes[keyArgs[0]!]!;
    const digits = pieces.filter((p) => "digit" in p);
    const first = spec.args[keyArgs[0]!]!;
    const oneKeyId = digits.length === 1 && first.filter((p) => "slot" in p).length === 1 &&
      first.some((p) => "slot" in p && p.slot === "key");
    const table = oneKeyId
      ? {
        digit: (digits[0] as { digit: number }).digit,
        size: Math.min(SLOT_TABLE_MAX, Math.max(1, keyspace)),
        text: pieces.map((p) => "lit" in p ? new TextDecoder().decode(p.lit) : "\0").join(""),
      }
      : undefined;
    return { pieces, read: info?.class === "read", keyArgs, ...(table ? { table } : {}) };
  });
}

// The hash tag of an argument when it is all literal (no slot inside the braces).
function literalTag(text: string): string | undefined {
  const t = hashTag(text);
  return t === undefined || t.includes("\0") ? undefined : t;
}

// commandKeys over text arguments (the catalogue wants bytes).
function commandKeysOf(info: CommandInfo, args: string[], out: number[]): number {
  return commandKeys(info, args.map((a) => utf8.encode(a)), out);
}

/** Per-run parameters of the cluster scheduler. */
export interface ClusterSchedulerInit {
  compiled: Compiled[];
  shapes: KeyShape[];
  clients: ClientState[];
  map: SlotMap;
  rfr: ReadFrom;
  balance?: number | undefined;
  affinity?: boolean | undefined;
  /** Global index of the first client (for affinity's dealing). */
  clientBase: number;
  pipeline: number;
  maxSlots: number;
  weights: number[];
  openLoop: boolean;
  meanIntervalUs: number;
  poisson: boolean;
  lateUs: number;
  /** The request timeout, for the text of a timed-out request. */
  requestTimeoutMs?: number;
  /** Asks for a fresh topology (throttled by the caller). */
  refresh: () => void;
  /**
   * Makes client `k`'s connection to a node that appeared during the run (`node`: its index),
   * with slot `local` (opened by the engine's attach). Without it, such nodes are not used.
   */
  connect?: (k: number, node: ClusterNode, index: number, local: number) => PipelinedConnection;
  /** Opens such a connection (a first connect: no schedule reset as after a reconnect). */
  openNew?: (c: PipelinedConnection) => Promise<Transport>;
  /**
   * With affinity, clusterTags: the ops' requests compiled with the key prefix of a hash tag
   * (`key:{tag}:`); each client's keys then carry its primary's tag.
   */
  tagged?: ((tag: string) => WireRequest[]) | undefined;
}

/**
 * clusterTags: `spec` with hash tag `tag` in each key argument that has no `__key__` (a literal
 * key such as `mylist`, or `counter:__rand_int__`): `{tag}` appended, as redis-benchmark does
 * (`mylist{tag}`). `__key__` keys get it from the key prefix the caller compiles with.
 */
export function withTag(spec: CommandSpec, shape: KeyShape, tag: string): CommandSpec {
  const args = spec.args.map((parts, i) =>
    shape.keyArgs.includes(i) && !parts.some((p) => "slot" in p && p.slot === "key")
      ? [...parts, { literal: `{${tag}}` }]
      : parts
  );
  return { ...spec, args };
}

// A hash tag whose slot node `n` owns (the shortest base-36 string), or undefined.
function tagOfNode(owner: Int16Array, n: number): { tag: string; slot: number } | undefined {
  for (let i = 0; i < 1_000_000; i++) {
    const tag = i.toString(36);
    const slot = keySlot(tag);
    if (owner[slot] === n) return { tag, slot };
  }
  return undefined;
}

/** bench's cluster scheduler (see the module doc). */
export class ClusterScheduler {
  stopped = false;
  sent = 0;
  completed = 0;
  lastReplyUs = 0;
  endUs = Infinity;
  /** Per node, what membench counted. */
  readonly nodes: NodeCounts[];
  conns: PipelinedConnection[] = [];
  readonly #i: ClusterSchedulerInit;
  readonly #N: number;
  readonly #cdf: number[];
  readonly #pending: Int32Array;
  readonly #parked: Parked[][];
  readonly #rr: Int32Array;
  readonly #hungry: Uint8Array;
  readonly #hist: LatencyRecorder[];
  #home: Int32Array;
  // Closed loop: a client's in-flight count at or below which it refills its pipeline.
  readonly #refillAt: number;
  // Closed loop with affinity and a request count: the shard's requests not issued yet, shared
  // by its clients (undefined: each client has its own count).
  #budget: number | undefined;
  #replicas: number[][] = [];
  // Per connection (by local index): per in-flight slot, the key ids, value size, the first send
  // time of a resent request (0 for the first try) and how often it was redirected or retried.
  #ids: Float64Array[] = [];
  #size: Int32Array[] = [];
  #born: Float64Array[] = [];
  #tries: Uint8Array[] = [];
  #scratch = new Uint8Array(512);
  // Per op: its key shape's slot-per-id table (-1: not computed yet), or undefined.
  #slotTables: Array<Int16Array | undefined>;
  #asking = new CommandTemplate([[{ literal: "ASKING" }]]);
  // clusterTags: per node, its tag and the tag's slot; per tag, the ops' requests; per client,
  // its requests and its slot (from its primary's tag).
  #nodeTag: Array<{ tag: string; slot: number } | undefined> = [];
  #tagRequests = new Map<string, WireRequest[]>();
  #clientRequests: WireRequest[][] = [];
  #clientSlot: Int32Array | undefined;
  #engine: Engine | undefined;
  #dirty: PipelinedConnection[] = [];

  constructor(init: ClusterSchedulerInit) {
    this.#i = init;
    this.#N = init.map.nodes.length;
    const total = init.weights.reduce((a, b) => a + b, 0);
    let acc = 0;
    this.#cdf = init.weights.map((w) => (acc += w) / total);
    this.#pending = new Int32Array(init.clients.length);
    this.#parked = init.clients.map(() => []);
    this.#rr = new Int32Array(init.clients.length);
    this.#hungry = new Uint8Array(init.clients.length);
    this.#hist = init.map.nodes.map(() => new LatencyRecorder());
    this.#refillAt = init.affinity ? init.pipeline - 1 : 0;
    // With affinity, as redis-benchmark --cluster: clients of a faster node take more of the
    // requests, and the run ends when all are done (with a count per client, the clients of the
    // node that gets the least CPU would finish alone, long after the others).
    this.shareBudget();
    const byText = new Map<string, Int16Array>();
    this.#slotTables = init.shapes.map((sh) => {
      const t = sh.table;
      if (t === undefined) return undefined;
      let table = byText.get(t.text);
      if (table === undefined || table.length < t.size) {
        table = new Int16Array(t.size).fill(-1);
        byText.set(t.text, table);
      }
      return table;
    });
    const primaries = init.map.primaries();
    this.#home = Int32Array.from(
      init.clients,
      (_, k) => primaries[(init.clientBase + k) % primaries.length] ?? -1,
    );
    this.nodes = init.map.nodes.map(zeroCounts);
    this.onTopology();
  }

  /** The connection of client `k` to node `n`. */
  connOf(k: number, n: number): PipelinedConnection {
    return this.#byNode[n]![k]!;
  }

  // Per node, per client: the connections. Per connection slot: its node and client.
  #byNode: PipelinedConnection[][] = [];
  #nodeOfLocal: number[] = [];
  #clientOfLocal: number[] = [];

  /** Takes the connections (client-major: client k's connection to node n is k·N + n). */
  bind(engine: Engine, conns: PipelinedConnection[]): void {
    this.#engine = engine;
    this.conns = conns;
    this.#byNode = this.#i.map.nodes.map(() => []);
    conns.forEach((c, i) => this.#track(c, i % this.#N, (i / this.#N) | 0));
  }

  // Side data of a connection (its slot is the next), and where it belongs.
  #track(c: PipelinedConnection, node: number, k: number): void {
    const S = Math.max(1, this.#i.maxSlots);
    const cap = c.op.length;
    this.#ids.push(new Float64Array(cap * S));
    this.#size.push(new Int32Array(cap));
    this.#born.push(new Float64Array(cap));
    this.#tries.push(new Uint8Array(cap));
    this.#nodeOfLocal[c.local] = node;
    this.#clientOfLocal[c.local] = k;
    this.#byNode[node]![k] = c;
  }

  // A node the run did not start with: per-node figures, and a connection per client, opened
  // while the run goes on (requests for it wait, parked, until its connection is up).
  #addNode(n: number): void {
    const connect = this.#i.connect;
    const engine = this.#engine;
    const node = this.#i.map.nodes[n]!;
    this.nodes.push({ ...zeroCounts(node), joinedMs: Date.now() });
    this.#hist.push(new LatencyRecorder());
    this.#byNode.push([]);
    this.#quota = []; // balancing starts its counts again over the new set of nodes
    if (connect === undefined || engine === undefined) return;
    for (let k = 0; k < this.#i.clients.length; k++) {
      const c = connect(k, node, n, engine.conns.length);
      this.#track(c, n, k);
      void engine.attach(c, this.#i.openNew);
    }
  }

  /**
   * The replicas of each primary, after discovery or a topology refresh; with affinity, the
   * clients dealt again over the primaries that own slots (a node that joined gets clients, one
   * that gave its slots away loses them).
   */
  onTopology(): void {
    const nodes = this.#i.map.nodes;
    this.#replicas = nodes.map(() => []);
    nodes.forEach((n, i) => {
      if (n.role === "replica" && n.primary >= 0 && n.healthy) this.#replicas[n.primary]!.push(i);
    });
    if (this.#i.affinity && this.#home !== undefined) {
      const owns = new Uint8Array(nodes.length);
      for (const o of this.#i.map.owner) if (o >= 0) owns[o] = 1;
      const serving = nodes.flatMap((n, i) => n.role === "primary" && owns[i] === 1 ? [i] : []);
      if (serving.length > 0) {
        for (let k = 0; k < this.#home.length; k++) {
          this.#home[k] = serving[(this.#i.clientBase + k) % serving.length]!;
        }
      }
      if (this.#i.tagged) this.#retag();
    }
  }

  // clusterTags: each client's tag is its primary's (a node whose tag's slot moved away gets
  // another), and so are its requests and its slot.
  #retag(): void {
    const owner = this.#i.map.owner;
    this.#clientSlot ??= new Int32Array(this.#home.length);
    for (let k = 0; k < this.#home.length; k++) {
      const n = this.#home[k]!;
      let t = this.#nodeTag[n];
      if (t === undefined || owner[t.slot] !== n) t = this.#nodeTag[n] = tagOfNode(owner, n);
      if (t === undefined) continue;
      let reqs = this.#tagRequests.get(t.tag);
      if (reqs === undefined) this.#tagRequests.set(t.tag, reqs = this.#i.tagged!(t.tag));
      this.#clientRequests[k] = reqs;
      this.#clientSlot[k] = t.slot;
    }
  }

  // The slot of client k's request: its tag's with clusterTags, else its first key's.
  #slotOf(k: number, op: number, ids: Float64Array): number {
    const cs = this.#clientSlot;
    return cs !== undefined && this.#clientRequests[k] !== undefined ? cs[k]! : this.#slot(op, ids);
  }

  /**
   * Takes a fresh topology: slot owners and roles; a node the run did not know gets connections
   * (with `connect`).
   */
  updateTopology(t: ClusterTopology): void {
    const map = this.#i.map;
    for (const n of t.nodes) {
      if (map.indexOf(n.address) < 0 && this.#engine !== undefined) {
        this.#addNode(map.add(n));
      }
    }
    map.update(t);
    this.onTopology();
  }

  /** The per-node counts with their encoded service-time histograms (the end of the run). */
  finishNodes(): NodeCounts[] {
    const out = this.nodes.map((n, i) => ({
      ...n,
      service: encodeHistogram(this.#hist[i]!.histogram),
    }));
    for (const h of this.#hist) h.destroy();
    return out;
  }

  /** Zeroes the per-node counts (end of warm-up). */
  resetNodes(): void {
    for (const h of this.#hist) h.reset();
    for (const n of this.nodes) {
      n.requests =
        n.errors =
        n.moved =
        n.ask =
        n.tryagain =
        n.clusterdown =
          0;
    }
  }

  /**
   * With affinity and a request count: the clients' counts left, shared from now on (at the
   * start, and again at the end of a warm-up, when the counts are set).
   */
  shareBudget(): void {
    if (!this.#i.affinity || this.#i.openLoop) return;
    const left = this.#i.clients.reduce((a, c) => a + Math.max(0, c.limit - c.issued), 0);
    this.#budget = Number.isFinite(left) ? left : undefined;
  }

  // Whether a client may issue no more requests.
  #spent(st: ClientState): boolean {
    return this.#budget === undefined ? st.spent : this.#budget <= 0;
  }

  startSchedule(t0: number): void {
    for (const k of this.#i.clients) k.start(t0, this.#i.meanIntervalUs, this.#i.poisson);
  }

  #pick(k: ClientState): number {
    const cdf = this.#cdf;
    if (cdf.length === 1) return 0;
    const u = k.rng.next();
    for (let i = 0; i < cdf.length - 1; i++) if (u < cdf[i]!) return i;
    return cdf.length - 1;
  }

  // The slot of a request's first key: from the op's table, or rendered into a scratch buffer
  // (and kept in the table).
  #slot(op: number, ids: Float64Array): number {
    const table = this.#slotTables[op];
    if (table !== undefined) {
      const id = ids[this.#i.shapes[op]!.table!.digit]!;
      if (id < table.length) {
        const known = table[id]!;
        if (known >= 0) return known;
        return table[id] = this.#render(op, ids);
      }
    }
    return this.#render(op, ids);
  }

  #render(op: number, ids: Float64Array): number {
    const b = this.#scratch;
    let n = 0;
    for (const p of this.#i.shapes[op]!.pieces) {
      if ("lit" in p) {
        b.set(p.lit, n);
        n += p.lit.length;
      } else {
        let v = ids[p.digit]!;
        for (let i = p.width - 1; i >= 0; i--) {
          b[n + i] = 48 + v % 10;
          v = Math.floor(v / 10);
        }
        n += p.width;
      }
    }
    return keySlot(b, 0, n);
  }

  #usable(k: number, n: number): boolean {
    const c = this.#byNode[n]?.[k];
    return c !== undefined && !c.dead && c.transport !== undefined;
  }

  // The node a request goes to: the slot's owner, or for a read one of its replicas.
  #nodeFor(k: number, op: number, slot: number): number {
    const owner = this.#i.map.owner[slot]!;
    const rfr = this.#i.rfr;
    if (owner < 0 || rfr === "primary" || !this.#i.shapes[op]!.read) return owner;
    const reps = this.#replicas[owner]!;
    if (reps.length === 0) return owner;
    const turn = this.#rr[k]!++;
    if (rfr === "any") {
      const i = turn % (reps.length + 1);
      return i === reps.length ? owner : reps[i]!;
    }
    for (let j = 0; j < reps.length; j++) {
      const r = reps[(turn + j) % reps.length]!;
      if (this.#usable(k, r)) return r;
    }
    return rfr === "replica" ? reps[turn % reps.length]! : owner;
  }

  // Writes one request (and ASKING before it) on node `n` of client `k`; false when that
  // connection is down.
  #write(
    k: number,
    n: number,
    op: number,
    ids: Float64Array,
    size: number,
    intended: number,
    flag: number,
    born: number,
    tries: number,
    asking: boolean,
  ): boolean {
    if (n < 0 || !this.#usable(k, n)) return false;
    const c = this.connOf(k, n);
    const cc = this.#i.compiled[op]!;
    if (asking) {
      c.reserve(32);
      c.outLen = this.#asking.render(c.out, c.outLen, ids, 0);
      c.push(ASKING_OP, 0, intended, 0);
    }
    const req = this.#clientRequests[k]?.[op] ?? cc.template;
    c.reserve(req.maxLength(size));
    c.outLen = req.render(c.out, c.outLen, ids, size);
    const s = c.push(op, op, intended, flag);
    const S = Math.max(1, this.#i.maxSlots);
    const sideIds = this.#ids[c.local]!;
    if (sideIds.length < c.op.length * S) this.#regrow(c);
    const side = this.#ids[c.local]!;
    for (let i = 0, at = s * S; i < cc.slots; i++) side[at + i] = ids[i]!;
    this.#size[c.local]![s] = size;
    this.#born[c.local]![s] = born;
    this.#tries[c.local]![s] = tries;
    if (c.outLen > 0 && this.#dirty[this.#dirty.length - 1] !== c) this.#dirty.push(c);
    return true;
  }

  // The in-flight ring grew (its slots were laid out again): so do the side arrays. Rare: the
  // rings start with room for twice the pipeline.
  #regrow(c: PipelinedConnection): void {
    throw new MembenchError(
      "internal",
      `connection ${c.index}: in-flight ring outgrew its side data (${c.op.length} slots)`,
    );
  }

  #flushDirty(): void {
    const e = this.#engine;
    if (e === undefined) return;
    for (const c of this.#dirty) e.flush(c);
    this.#dirty.length = 0;
  }

  // Node balancing: per client, requests per (group, node) and per group; a group is where an
  // op may go (0: primaries; 1: reads that replicas may serve).
  #quota: Float64Array[] = [];
  #qN = 0;
  #quotaAll: Float64Array[] = [];
  #eligible = [0, 0];

  #balanceSetup(): void {
    const C = this.#i.clients.length;
    const N = this.#i.map.nodes.length;
    this.#qN = N;
    this.#quota = [new Float64Array(C * N), new Float64Array(C * N)];
    this.#quotaAll = [new Float64Array(C), new Float64Array(C)];
    const nodes = this.#i.map.nodes;
    const primaries = nodes.filter((n) => n.role === "primary").length;
    const replicas = nodes.length - primaries;
    const rfr = this.#i.rfr;
    this.#eligible = [
      primaries,
      rfr === "primary" || replicas === 0 ? primaries : rfr === "any" ? nodes.length : replicas,
    ];
  }

  // Whether node n is over its fair share (plus the tolerance) for client k's group g.
  #over(k: number, g: number, n: number): boolean {
    const all = this.#quotaAll[g]![k]! + 1;
    return this.#quota[g]![k * this.#qN + n]! + 1 >
      all / this.#eligible[g]! * (1 + this.#i.balance!);
  }

  // A new request of client k.
  #issue(k: number, st: ClientState, intended: number, flag: number): void {
    const op = this.#pick(st);
    const cc = this.#i.compiled[op]!;
    const ids = st.ids;
    for (let s = 0; s < cc.slots; s++) ids[s] = st.keys.next();
    const size = cc.hasData ? st.sizer() : 0;
    st.issued++;
    if (this.#budget !== undefined) this.#budget--;
    this.sent++;
    this.#pending[k]!++;
    let slot = this.#slotOf(k, op, ids);
    if (this.#i.affinity && this.#clientRequests[k] === undefined) {
      // Keys are drawn again until the slot is the client's home primary's.
      const home = this.#home[k]!;
      for (let d = 0; d < 64 && this.#i.map.owner[slot] !== home; d++) {
        for (let s = 0; s < cc.slots; s++) ids[s] = st.keys.next();
        slot = this.#slot(op, ids);
      }
    }
    let n = this.#nodeFor(k, op, slot);
    if (this.#i.balance !== undefined && n >= 0) {
      // Quota: a node over its fair share gets another key (a bounded number of draws; a key
      // pattern that cannot reach other nodes, such as one hash tag, stays skewed).
      const g = this.#i.rfr !== "primary" && this.#i.shapes[op]!.read ? 1 : 0;
      if (this.#quota.length === 0) this.#balanceSetup();
      for (let d = 0; d < 32 && this.#over(k, g, n); d++) {
        for (let s = 0; s < cc.slots; s++) ids[s] = st.keys.next();
        n = this.#nodeFor(k, op, this.#slot(op, ids));
      }
      if (n >= 0) {
        this.#quota[g]![k * this.#qN + n]!++;
        this.#quotaAll[g]![k]!++;
      }
    }
    if (!this.#write(k, n, op, ids, size, intended, flag, 0, 0, false)) {
      this.#park(k, op, ids, size, intended, flag, 0, 0, "unavailable", -1, false, 0);
    }
  }

  #park(
    k: number,
    op: number,
    ids: ArrayLike<number>,
    size: number,
    intended: number,
    flag: number,
    born: number,
    tries: number,
    code: string,
    node: number,
    asking: boolean,
    now: number,
  ): void {
    const delay = Math.min(RETRY_MAX_US, RETRY_BASE_US * 2 ** Math.min(tries, 10));
    this.#parked[k]!.push({
      op,
      ids: Float64Array.from(ids as ArrayLike<number>),
      size,
      intended,
      flag,
      born,
      tries,
      dueUs: now + delay,
      code,
      node,
      asking,
    });
    if (code === "unavailable") this.#i.refresh();
  }

  fill(c: PipelinedConnection, now: number): void {
    if (now >= this.endUs) this.stopped = true;
    const k = this.#clientOfLocal[c.local]!;
    if (this.#i.openLoop) this.#sendDue(k, now);
    else {
      const st = this.#i.clients[k]!;
      const P = this.#i.pipeline;
      // Keys over every node: a client refills its pipeline once all of it came back (P requests
      // per round, as redis-benchmark's -P), so that each node's connection gets about P/nodes
      // requests per write; refilling each reply as it comes would write them one or two at a
      // time (3x the system calls of the client and the servers per request). With affinity
      // (one node per client) the pipeline is kept full, as on a standalone server. Requests
      // parked for retry (a node down) do not hold up the others' rounds.
      if (this.#pending[k]! - this.#parked[k]!.length > this.#refillAt) return this.#flushDirty();
      while (this.#pending[k]! < P && !this.stopped && !this.#spent(st)) this.#issue(k, st, 0, 0);
    }
    this.#flushDirty();
  }

  #sendDue(k: number, now: number): void {
    const st = this.#i.clients[k]!;
    const P = this.#i.pipeline;
    const lagEnd = st.blockedSinceUs < now ? st.blockedSinceUs : now;
    while (this.#pending[k]! < P && !this.stopped && st.issued < st.limit && st.nextDueUs <= now) {
      this.#issue(k, st, st.nextDueUs, lagEnd - st.nextDueUs > this.#i.lateUs ? 1 : 0);
      st.advance(this.#i.meanIntervalUs, this.#i.poisson);
    }
    if (this.#pending[k]! < P) st.blockedSinceUs = Infinity;
    else if (st.blockedSinceUs === Infinity) st.blockedSinceUs = now;
  }

  due(now: number): number {
    if (!this.#i.openLoop) return Infinity;
    let next = Infinity;
    const P = this.#i.pipeline;
    for (let k = 0; k < this.#i.clients.length; k++) {
      if (this.stopped) break;
      this.#sendDue(k, now);
      const st = this.#i.clients[k]!;
      if (this.#pending[k]! < P && st.issued < st.limit && st.nextDueUs < next) next = st.nextDueUs;
    }
    this.#flushDirty();
    return next;
  }

  /**
   * Sends the parked requests that are due; fails those that ran out of tries, and, once the run
   * is stopping, those whose node is still unreachable. Called every few ms by the shard.
   */
  drain(now: number): void {
    // Clients whose requests failed without a reply: refill them (closed loop; open loop's due
    // does it) through any connection of theirs that is up.
    if (!this.#i.openLoop) {
      for (let k = 0; k < this.#hungry.length; k++) {
        if (this.#hungry[k] === 0) continue;
        this.#hungry[k] = 0;
        for (let n = 0; n < this.#byNode.length; n++) {
          if (!this.#usable(k, n)) continue;
          this.fill(this.connOf(k, n), now);
          break;
        }
      }
    }
    for (let k = 0; k < this.#parked.length; k++) {
      const list = this.#parked[k]!;
      if (list.length === 0) continue;
      const keep: Parked[] = [];
      for (const p of list) {
        if (p.dueUs > now && !this.stopped) {
          keep.push(p);
          continue;
        }
        const n = p.node >= 0 ? p.node : this.#nodeFor(k, p.op, this.#slotOf(k, p.op, p.ids));
        if (
          this.#write(k, n, p.op, p.ids, p.size, p.intended, p.flag, p.born, p.tries, p.asking)
        ) continue;
        if (p.tries + 1 >= MAX_TRIES || this.stopped) this.#fail(k, n, p.op, p.code);
        else {
          p.tries++;
          p.dueUs = now + Math.min(RETRY_MAX_US, RETRY_BASE_US * 2 ** Math.min(p.tries, 10));
          keep.push(p);
          this.#i.refresh();
        }
      }
      this.#parked[k] = keep;
    }
    this.#flushDirty();
    this.#engine?.checkDone();
  }

  /** Whether any request waits to be resent. */
  get parked(): number {
    let n = 0;
    for (const l of this.#parked) n += l.length;
    return n;
  }

  // A request that will not be sent again: counted once, as an error. True for the first error
  // of its code (a parked request's text is given here; failed() gives the engine's).
  #fail(k: number, node: number, op: number, code: string): boolean {
    const m = this.#i.compiled[op]!.metrics;
    m.count++;
    const first = m.recordError(code);
    if (first && code !== "connection" && code !== "timeout" && code !== "protocol") {
      m.errorText(code, PARKED_TEXT[code] ?? `${code} (still so after ${MAX_TRIES} tries)`);
    }
    if (node >= 0) {
      this.nodes[node]!.requests++;
      this.nodes[node]!.errors++;
    }
    this.#pending[k]!--;
    this.completed++;
    // Nothing may be in flight for this client any more, so no reply will refill it: drain does.
    this.#hungry[k] = 1;
    return first;
  }

  sent_(c: PipelinedConnection, s: number, now: number): void {
    const op = c.op[s]!;
    if (op === ASKING_OP || this.#tries[c.local]![s]! > 0) return; // lateness of the first try only
    if (now - c.intended[s]! > this.#i.lateUs) {
      const m = this.#i.compiled[op]!.metrics;
      m.late++;
      if (c.flag[s] === 1) m.lateClient++;
    }
  }

  reply(c: PipelinedConnection, s: number, now: number): void {
    const op = c.op[s]!;
    if (op === ASKING_OP) return; // +OK, or an error the request after it will show too
    const node = this.#nodeOfLocal[c.local]!;
    const k = this.#clientOfLocal[c.local]!;
    const sc = c.scanner;
    const kind = sc.kind;
    const born = this.#born[c.local]![s]!;
    const first = born > 0 ? born : c.sent[s]!;
    if (kind === REPLY_ERROR && this.#redirected(c, s, k, node, op, first, now)) return;
    const cc = this.#i.compiled[op]!;
    const m = cc.metrics;
    m.recordService(now - first);
    if (this.#i.openLoop) m.recordResponse(now - c.intended[s]!);
    const nc = this.nodes[node]!;
    nc.requests++;
    // The node's own service time: from this try's send (a redirected request's first send was
    // to another node; the command's latency above keeps it).
    this.#hist[node]!.record(now - c.sent[s]!);
    if (kind === REPLY_ERROR) {
      const code = sc.errorCode();
      if (m.recordError(code)) m.errorText(code, replyErrorText(sc));
      nc.errors++;
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
    this.#pending[k]!--;
    this.completed++;
    this.lastReplyUs = now;
  }

  // MOVED, ASK, TRYAGAIN, CLUSTERDOWN: counted on the node that said it, and the request goes
  // again (unless it ran out of tries: then it completes as that error).
  #redirected(
    c: PipelinedConnection,
    s: number,
    k: number,
    node: number,
    op: number,
    first: number,
    now: number,
  ): boolean {
    const code = c.scanner.errorCode();
    const nc = this.nodes[node]!;
    let target = -1;
    let asking = false;
    if (code === "MOVED" || code === "ASK") {
      const sc = c.scanner as { errorText?: () => string };
      const r = parseRedirect(sc.errorText?.() ?? "", this.#i.map.nodes[node]!.host);
      if (r === undefined) return false;
      if (code === "MOVED") nc.moved++;
      else nc.ask++;
      const addr = r.address;
      if (code === "MOVED") {
        target = this.#i.map.moved(r.slot, addr);
        if (target < 0) this.#i.refresh(); // a node this run does not know: read the topology
        else if (this.#i.map.nodes[target]!.role === "primary") this.onTopology();
      } else {
        target = this.#i.map.indexOf(addr);
        asking = true;
      }
    } else if (code === "TRYAGAIN") nc.tryagain++;
    else if (code === "CLUSTERDOWN") nc.clusterdown++;
    else return false;
    // Once the run is stopping, a request told to wait completes as that error.
    if (this.stopped && (code === "TRYAGAIN" || code === "CLUSTERDOWN")) return false;
    const tries = this.#tries[c.local]![s]! + 1;
    if (tries >= MAX_TRIES) return false;
    const S = Math.max(1, this.#i.maxSlots);
    const ids = this.#ids[c.local]!.subarray(s * S, s * S + S);
    const size = this.#size[c.local]![s]!;
    const intended = c.intended[s]!;
    const flag = c.flag[s]!;
    if (
      target >= 0 && code !== "TRYAGAIN" && code !== "CLUSTERDOWN" &&
      this.#write(k, target, op, ids, size, intended, flag, first, tries, asking)
    ) {
      this.#flushDirty();
      return true;
    }
    this.#park(
      k,
      op,
      ids,
      size,
      intended,
      flag,
      first,
      tries,
      code === "MOVED" || code === "ASK" ? "unavailable" : code,
      asking ? target : -1,
      asking,
      now,
    );
    return true;
  }

  failed(c: PipelinedConnection, s: number, code: string): void {
    const op = c.op[s]!;
    if (op === ASKING_OP) return;
    if (this.#fail(this.#clientOfLocal[c.local]!, this.#nodeOfLocal[c.local]!, op, code)) {
      // The first failure of its kind: what it said (decoded once per kind).
      this.#i.compiled[op]!.metrics.errorText(
        code,
        failureText(c, code, this.#i.requestTimeoutMs ?? 0),
      );
    }
  }

  exhausted(c: PipelinedConnection): boolean {
    const k = this.#clientOfLocal[c.local]!;
    const st = this.#i.clients[k]!;
    return (this.stopped || this.#spent(st)) && this.#pending[k] === 0;
  }

  /**
   * After a reconnect: nothing to do. A client's schedule is not moved when one of its node
   * connections comes back (its other connections went on; the requests for the lost node were
   * parked and go with their intended times, so the outage shows in their latency).
   */
  resumeAt(_c: PipelinedConnection, _now: number): void {}
}
