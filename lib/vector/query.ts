import { MembenchError } from "../errors/mod.ts";
import { CommandMetrics, summarizeEncoded } from "../metrics/mod.ts";
import {
  endpointName,
  type Engine,
  type PipelinedConnection,
  REPLY_ERROR,
  type Scheduler,
} from "../net/mod.ts";
import { RespSearchReader } from "../protocol/resp/value_reader.ts";
import type { RespValue } from "../protocol/resp/mod.ts";
import { nowUs } from "../units/mod.ts";
import {
  checkShardSpec,
  ClientSchedule,
  dealtShare,
  parseShardSpec,
  Rng,
  shardRange,
  type ShardSpec,
} from "../workload/mod.ts";
import { blockBytes } from "./_blob.ts";
import { connectProblems, openControl, openEngine, withServerMetrics } from "./_conn.ts";
import { startProgress } from "./_progress.ts";
import { bulkSize, keyId, putArrayHeader, putBulk, putBulkHeader, utf8 } from "./_wire.ts";
import { openDataset, type VectorDataset } from "./dataset.ts";
import { resolveIndexSpec, VECTOR_TYPE_BYTES } from "./index_spec.ts";
import type { VssPlatform } from "./platform.ts";
import { recallSummaryOf } from "./merge.ts";
import type {
  RecallSummary,
  VectorQueryOptions,
  VectorQueryResult,
  VectorShardInfo,
} from "./search_types.ts";
import { checkIndexFits } from "./server.ts";
import { type RecallScore, scoreQuery, type VectorTruth, vectorTruth } from "./truth.ts";

/** The alias of the KNN distance in queries (`AS …`). */
export const SCORE_ALIAS = "vector_score";
const LATE_US = 1000;
const RECALL_BINS = 10_000;

/** Wall clock (ms since the epoch) of a `nowUs()` reading taken a moment ago. */
function wallOf(us: number): number {
  return Date.now() - (nowUs() - us) / 1000;
}

/** What a FT.SEARCH reply held: ids (key ids, -1 for a foreign key) and whether it timed out. */
export interface SearchReply {
  /** Results returned (ids written). */
  count: number;
  /** The reply said the query timed out (RediSearch `Timeout limit was reached`, a warning). */
  timedOut: boolean;
}

const utf8Decoder = new TextDecoder();

function textOf(v: RespValue): string | undefined {
  if (v.type === "simple" || v.type === "error") return v.value;
  if (v.type === "bulk" || v.type === "verbatim") return utf8Decoder.decode(v.value);
  return undefined;
}

function keyOf(v: RespValue, prefix: Uint8Array): number {
  if (v.type === "bulk" || v.type === "verbatim") return keyId(v.value, prefix);
  if (v.type === "simple") return keyId(utf8(v.value), prefix);
  return -1;
}

/**
 * Reads the ids out of an FT.SEARCH reply: the RESP2 array (`[total, key, [fields], …]` or
 * `[total, key, …]` with NOCONTENT) or the RESP3 map (`results`: maps with `id`), into `ids`
 * (key ids after `prefix`; -1 for a key of another shape).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const bulk = (s: string) => ({ type: "bulk" as const, value: new TextEncoder().encode(s) });
 * const ids = new Int32Array(4);
 * const r = parseSearchReply(
 *   { type: "array", value: [{ type: "integer", value: 2 }, bulk("v:7"), bulk("v:3")] },
 *   new TextEncoder().encode("v:"),
 *   ids,
 * );
 * assert.deepEqual([r.count, ids[0], ids[1]], [2, 7, 3]);
 * ```
 */
export function parseSearchReply(v: RespValue, prefix: Uint8Array, ids: Int32Array): SearchReply {
  let count = 0;
  let timedOut = false;
  if (v.type === "array") {
    const items = v.value;
    const first = items[0];
    if (items.length === 1 && first && first.type === "simple" && /timeout/i.test(first.value)) {
      return { count: 0, timedOut: true };
    }
    for (let i = 1; i < items.length && count < ids.length; i++) {
      const it = items[i]!;
      if (it.type === "array" || it.type === "map") continue; // a document's fields
      ids[count++] = keyOf(it, prefix);
    }
  } else if (v.type === "map") {
    for (const [k, x] of v.value) {
      const name = textOf(k);
      if (name === "warning" && (x.type === "array" || x.type === "set")) {
        for (const w of x.value) if (/timeout/i.test(textOf(w) ?? "")) timedOut = true;
      } else if (name === "results" && x.type === "array") {
        for (const doc of x.value) {
          if (count >= ids.length) break;
          if (doc.type !== "map") continue;
          for (const [dk, dv] of doc.value) {
            if (textOf(dk) === "id") {
              ids[count++] = keyOf(dv, prefix);
              break;
            }
          }
        }
      }
    }
  }
  return { count, timedOut };
}

/** The query text: `*=>[KNN k @field $BLOB EF_RUNTIME e AS alias]`, with a pre-filter. */
export function knnQuery(
  o: { k: number; field: string; efRuntime?: number | undefined; filter?: string | undefined },
): string {
  const pre = o.filter !== undefined ? `(${o.filter})` : "*";
  const ef = o.efRuntime !== undefined ? ` EF_RUNTIME ${o.efRuntime}` : "";
  return `${pre}=>[KNN ${o.k} @${o.field} $BLOB${ef} AS ${SCORE_ALIAS}]`;
}

/** The FT.SEARCH arguments around the query blob: before it (PARAMS … BLOB) and after it. */
export function ftSearchArgs(
  o: {
    index: string;
    query: string;
    k: number;
    nocontent: boolean;
    sortByScore: boolean;
    queryTimeoutMs?: number | undefined;
    dialect: number;
  },
): { before: string[]; after: string[] } {
  const before = ["FT.SEARCH", o.index, o.query];
  if (o.nocontent) before.push("NOCONTENT");
  else before.push("RETURN", "1", SCORE_ALIAS);
  if (o.sortByScore) before.push("SORTBY", SCORE_ALIAS);
  before.push("LIMIT", "0", String(o.k));
  if (o.queryTimeoutMs !== undefined) before.push("TIMEOUT", String(o.queryTimeoutMs));
  before.push("PARAMS", "2", "BLOB");
  return { before, after: ["DIALECT", String(o.dialect)] };
}

/** The bytes of a command whose one binary argument (of `blobLen` bytes) goes between. */
function frame(before: string[], after: string[], blobLen: number) {
  const b = before.map(utf8), a = after.map(utf8);
  let n = 16;
  for (const x of b) n += bulkSize(x.length);
  let pos = 0;
  const head = new Uint8Array(n + 16);
  pos = putArrayHeader(head, pos, before.length + 1 + after.length);
  for (const x of b) pos = putBulk(head, pos, x);
  pos = putBulkHeader(head, pos, blobLen);
  let m = 2;
  for (const x of a) m += bulkSize(x.length);
  const tail = new Uint8Array(m);
  let t = 0;
  tail[t++] = 13;
  tail[t++] = 10;
  for (const x of a) t = putBulk(tail, t, x);
  return { head: head.slice(0, pos), tail: tail.slice(0, t) };
}

// A client's place in the query set; its budget and schedule are a ClientSchedule's.
class ClientState extends ClientSchedule {
  pos: number;
  constructor(pos: number, rng: Rng) {
    super(rng);
    this.pos = pos;
  }
}

/**
 * vec-query's scheduler over the connection engine: FT.SEARCH KNN with each client walking the
 * query set from its own seeded position; closed loop (`pipeline` in flight per client) or open
 * loop at a rate (constant or Poisson arrivals, latency from the intended send time). Each reply
 * is decoded, scored against the truth and counted (errors, timeouts, partial results).
 */
class QueryScheduler {
  stopped = false;
  sent = 0;
  completed = 0;
  partial = 0;
  timeouts = 0;
  late = 0;
  /** Error replies, timeouts and lost requests. */
  errs = 0;
  /** Requests failed without a reply (lost connection, timeout). */
  lost = 0;
  firstSendUs = 0;
  lastReplyUs = 0;
  endUs = Infinity;
  readonly metrics: CommandMetrics;
  // Recall over scored replies.
  scored = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;
  ties = 0;
  readonly bins = new Uint32Array(RECALL_BINS + 1);
  /** With `keepPerQuery`: recall sums and counts per query id (the optimizer's bootstrap). */
  perQuerySum: Float64Array | undefined;
  perQueryCount: Uint32Array | undefined;
  readonly #head: Uint8Array;
  readonly #tail: Uint8Array;
  readonly #blobs: Uint8Array[];
  readonly #clients: ClientState[];
  readonly #P: number;
  readonly #open: boolean;
  readonly #intervalUs: number;
  readonly #poisson: boolean;
  readonly #truth: VectorTruth;
  readonly #expected: number;
  readonly #score: RecallScore = { correct: 0, denominator: 0, ties: 0 };
  #engine: Engine | undefined;
  conns: PipelinedConnection[] = [];

  constructor(
    x: {
      head: Uint8Array;
      tail: Uint8Array;
      blobs: Uint8Array[];
      clients: ClientState[];
      pipeline: number;
      ratePerSec: number | undefined;
      poisson: boolean;
      truth: VectorTruth;
      k: number;
    },
  ) {
    this.#head = x.head;
    this.#tail = x.tail;
    this.#blobs = x.blobs;
    this.#clients = x.clients;
    this.#P = x.pipeline;
    this.#open = x.ratePerSec !== undefined;
    this.#intervalUs = this.#open ? 1e6 / (x.ratePerSec! / x.clients.length) : 0;
    this.#poisson = x.poisson;
    this.#truth = x.truth;
    this.#expected = Math.min(x.k, x.truth.matched);
    this.metrics = new CommandMetrics("FT.SEARCH", this.#open);
  }

  bind(engine: Engine): void {
    this.#engine = engine;
  }

  start(now: number): void {
    if (!this.#open) return;
    for (const k of this.#clients) k.start(now, this.#intervalUs, this.#poisson);
  }

  #enqueue(c: PipelinedConnection, k: ClientState, intended: number): void {
    const q = k.pos;
    k.pos = q + 1 === this.#blobs.length ? 0 : q + 1;
    const blob = this.#blobs[q]!;
    const head = this.#head, tail = this.#tail;
    let pos = c.reserve(head.length + blob.length + tail.length);
    const out = c.out;
    out.set(head, pos);
    pos += head.length;
    out.set(blob, pos);
    pos += blob.length;
    out.set(tail, pos);
    c.outLen = pos + tail.length;
    c.push(q, 0, intended, 0);
    if (this.sent === 0) this.firstSendUs = nowUs();
    this.sent++;
    k.issued++;
  }

  fill(c: PipelinedConnection, now: number): void {
    if (now >= this.endUs) this.stopped = true;
    if (this.stopped) return;
    const k = this.#clients[c.local]!;
    if (!this.#open) {
      while (c.inflight < this.#P && k.issued < k.limit) this.#enqueue(c, k, 0);
      return;
    }
    while (c.inflight < this.#P && k.issued < k.limit && k.nextDueUs <= now) {
      this.#enqueue(c, k, k.nextDueUs);
      k.advance(this.#intervalUs, this.#poisson);
    }
  }

  due(now: number): number {
    if (now >= this.endUs) this.stopped = true;
    if (this.stopped) return Infinity;
    let next = Infinity;
    for (const c of this.conns) {
      if (c.dead || c.transport === undefined) continue;
      this.fill(c, now);
      this.#engine?.flush(c);
      const k = this.#clients[c.local]!;
      if (c.inflight < this.#P && k.issued < k.limit && k.nextDueUs < next) next = k.nextDueUs;
    }
    return next;
  }

  sentAt(c: PipelinedConnection, s: number, now: number): void {
    if (now - c.intended[s]! > LATE_US) {
      this.late++;
      this.metrics.late++;
    }
  }

  reply(c: PipelinedConnection, s: number, now: number): void {
    const m = this.metrics;
    m.recordService(now - c.sent[s]!);
    if (this.#open) m.recordResponse(now - c.intended[s]!);
    this.completed++;
    this.lastReplyUs = now;
    // The reader kept only the ids and the timeout flag: no value tree per reply.
    const sc = c.scanner as RespSearchReader;
    if (sc.kind === REPLY_ERROR) {
      this.errs++;
      const text = sc.errorText();
      if (/timeout/i.test(text)) {
        this.timeouts++;
        m.recordError("timeout");
      } else m.recordError(sc.errorCode() || "ERR");
      return;
    }
    const r = sc;
    if (r.timedOut && r.count === 0) {
      this.errs++;
      this.timeouts++;
      m.recordError("timeout");
      return;
    }
    if (r.timedOut || r.count < this.#expected) this.partial++;
    const sc2 = this.#score;
    scoreQuery(this.#truth, c.op[s]!, r.ids, r.count, sc2);
    if (sc2.denominator === 0) return;
    const recall = sc2.correct / sc2.denominator;
    this.scored++;
    this.sum += recall;
    if (recall < this.min) this.min = recall;
    if (recall > this.max) this.max = recall;
    this.ties += sc2.ties;
    this.bins[Math.round(recall * RECALL_BINS)]!++;
    if (this.perQuerySum) {
      const q = c.op[s]!;
      this.perQuerySum[q]! += recall;
      this.perQueryCount![q]!++;
    }
  }

  failed(_c: PipelinedConnection, _s: number, code: string): void {
    this.errs++;
    this.lost++;
    this.metrics.count++;
    this.metrics.recordError(code);
  }

  exhausted(c: PipelinedConnection): boolean {
    const k = this.#clients[c.local]!;
    return this.stopped || k.spent;
  }

  resumeAt(c: PipelinedConnection, now: number): void {
    this.#clients[c.local]!.resumeAt(now);
  }

  recall(keepBins: boolean): RecallSummary {
    const bins: Array<[number, number]> = [];
    for (let i = 0; i <= RECALL_BINS; i++) if (this.bins[i]! > 0) bins.push([i, this.bins[i]!]);
    const n = this.scored;
    return {
      ...recallSummaryOf({
        scored: n,
        sum: this.sum,
        min: n ? this.min : 0,
        max: n ? this.max : 0,
        ties: this.ties,
        bins,
      }, keepBins),
      ...(this.perQuerySum ? { perQuery: this.#perQuery() } : {}),
    };
  }

  #perQuery(): number[] {
    const out: number[] = [];
    const sum = this.perQuerySum!, n = this.perQueryCount!;
    for (let q = 0; q < sum.length; q++) if (n[q]! > 0) out.push(sum[q]! / n[q]!);
    return out;
  }
}

function fail(problems: string[]): never {
  throw new MembenchError("invalid_argument", problems.join("\n"));
}

/** Problems with query options on a platform (before anything is sent). */
function queryProblems(o: VectorQueryOptions, platform: VssPlatform): string[] {
  const out: string[] = [];
  const where = `on ${platform.title} (${platform.sources[0]})`;
  const algorithm = o.index?.algorithm;
  if (o.efRuntime !== undefined) {
    if (algorithm === "FLAT" && platform.efRuntimeOnFlat === "error") {
      out.push(`Cannot use EF_RUNTIME with a FLAT index ${where}: the server rejects it`);
    }
    if (platform.maxEf !== undefined && o.efRuntime > platform.maxEf) {
      out.push(`Cannot use EF_RUNTIME ${o.efRuntime} ${where}: the largest is ${platform.maxEf}`);
    }
  }
  if (o.nocontent === true && !platform.nocontent) {
    out.push(`Cannot use NOCONTENT ${where}: the platform does not document it`);
  }
  if (o.sortByScore === true && !platform.sortByScore) {
    out.push(
      `Cannot use SORTBY on the KNN score ${where}: the alias is not a field there; results come sorted by distance`,
    );
  }
  if (o.filter !== undefined && !platform.hybrid) {
    out.push(`Cannot use a filter ${where}: no hybrid queries`);
  }
  if (o.queryTimeoutMs !== undefined && !platform.queryTimeout) {
    out.push(`Cannot use TIMEOUT ${where}`);
  }
  if (o.dialect !== undefined && !platform.dialects.includes(o.dialect)) {
    out.push(
      `Cannot use DIALECT ${o.dialect} ${where}: KNN queries take ${platform.dialects.join(", ")}`,
    );
  }
  return out;
}

/**
 * vec-query: sends the dataset's query vectors as FT.SEARCH KNN queries (PARAMS blob, LIMIT,
 * DIALECT, NOCONTENT or RETURN, SORTBY where the platform has it, EF_RUNTIME, a pre-filter,
 * TIMEOUT), closed or open loop over many connections, each client starting at its own seeded
 * position in the query set; scores every reply's recall@k against the exact ground truth over
 * what the server holds (and the filter), counts error replies, timeouts and partial replies (a
 * timeout under RediSearch's default policy answers with fewer results and no error), and
 * measures QPS and HDR latency.
 *
 * @throws {MembenchError} before any query: `invalid_argument` for bad options, an option the
 * platform does not have, a missing index or field, a dimension that differs from the index's,
 * a server without a search module; `connection` when the server cannot be reached.
 */
export async function vectorQuery(options: VectorQueryOptions): Promise<VectorQueryResult> {
  const o = options;
  const problems: string[] = [];
  if (o === null || typeof o !== "object") fail(["Cannot use the options: expected an object"]);
  connectProblems(o, problems, 1);
  const int = (name: string, v: unknown, min: number, max: number) => {
    if (v !== undefined && (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max)) {
      problems.push(
        `Cannot use '${name}': must be an integer from ${min} to ${max}: current value is ${
          JSON.stringify(v)
        }`,
      );
    }
  };
  int("k", o.k, 1, 10_000);
  int("efRuntime", o.efRuntime, 1, 1_000_000);
  int("numQueries", o.numQueries, 1, 100_000_000);
  int("requests", o.requests, 0, Number.MAX_SAFE_INTEGER);
  int("queryTimeoutMs", o.queryTimeoutMs, 0, 86_400_000);
  int("dialect", o.dialect, 1, 4);
  if (o.durationMs !== undefined && !(typeof o.durationMs === "number" && o.durationMs > 0)) {
    problems.push(
      `Cannot use 'durationMs': must be a number > 0: current value is ${o.durationMs}`,
    );
  }
  if (o.ratePerSec !== undefined && !(typeof o.ratePerSec === "number" && o.ratePerSec > 0)) {
    problems.push(
      `Cannot use 'ratePerSec': must be a number > 0: current value is ${o.ratePerSec}`,
    );
  }
  if (o.arrival !== undefined && o.arrival !== "constant" && o.arrival !== "poisson") {
    problems.push(
      `Cannot use 'arrival': must be "constant" or "poisson": current value is ${
        JSON.stringify(o.arrival)
      }`,
    );
  }
  if (o.dataset === undefined) problems.push("Cannot query vectors: 'dataset' is missing");
  const shard = shardProblems(o.shard, o.clients ?? 4, problems);
  if (problems.length) fail(problems);
  // Only shard 0 takes the server's figures: it sees every shard's traffic on the server.
  const own = shard && shard.index > 0 ? { ...o, serverMetrics: false } : o;
  let ds: VectorDataset;
  let close = () => {};
  if (typeof o.dataset === "string") {
    ds = await openDataset(o.dataset, o.metric ? { metric: o.metric } : {});
    close = () => ds.close();
  } else ds = o.dataset;
  try {
    return await withServerMetrics(own, () => queryDataset(o, ds, shard));
  } finally {
    close();
  }
}

/**
 * The shard of `shard` (a spec or `"I/N"`), checked (against the run's clients when they are
 * split); problems are collected.
 */
export function shardProblems(
  shard: ShardSpec | string | undefined,
  clients: number | undefined,
  problems: string[],
): ShardSpec | undefined {
  if (shard === undefined) return undefined;
  let spec: ShardSpec;
  try {
    spec = typeof shard === "string" ? parseShardSpec(shard) : shard;
    if (spec === null || typeof spec !== "object") {
      throw new MembenchError(
        "invalid_argument",
        `Cannot use 'shard': expected I/N or {index, count}: current value is ${
          JSON.stringify(shard)
        }`,
      );
    }
    checkShardSpec(spec);
  } catch (e) {
    problems.push(e instanceof Error ? e.message : String(e));
    return undefined;
  }
  if (clients !== undefined && Number.isInteger(clients) && clients >= 1 && clients < spec.count) {
    problems.push(
      `Cannot use 'shard': ${spec.count} shards need at least ${spec.count} clients: current ` +
        `value is ${clients}`,
    );
  }
  return { index: spec.index, count: spec.count };
}

async function queryDataset(
  o: VectorQueryOptions,
  ds: VectorDataset,
  shard: ShardSpec | undefined,
): Promise<VectorQueryResult> {
  if (!ds.queries) {
    fail([`Cannot query with ${ds.path}: it has no query vectors`]);
  }
  const k = o.k ?? 10;
  const nq = Math.min(o.numQueries ?? ds.queries.rows, ds.queries.rows);
  if (o.filter !== undefined && !ds.metadata) {
    fail([
      `Cannot filter queries on ${ds.path}: the dataset has no metadata (tags, numeric fields)`,
    ]);
  }
  const spec = resolveIndexSpec({
    ...o.index,
    dim: ds.base.dim,
    metric: o.metric ?? ds.metric ?? "L2",
  });
  const { control, platform, target, detected } = await openControl(o);
  let truth: VectorTruth;
  let queries: Float32Array;
  try {
    const problems = queryProblems(o, platform);
    if (problems.length) fail(problems);
    await checkIndexFits(control, {
      index: spec.name,
      field: spec.field,
      dim: spec.dim,
      elementBytes: VECTOR_TYPE_BYTES[spec.type],
      dialect: o.dialect ?? platform.dialects[0]!,
    });
    queries = await ds.queries.read(0, nq);
    if (o.truth !== undefined) {
      truth = o.truth;
      if (truth.k < k || truth.queries < nq) {
        fail([
          `Cannot use 'truth': it holds ${truth.k} neighbours of ${truth.queries} queries; this phase needs ${k} of ${nq}`,
        ]);
      }
    } else {
      truth = await vectorTruth(ds, {
        k,
        queries,
        metric: spec.metric,
        ...(o.segments ? { loaded: o.segments } : {}),
        ...(o.filter !== undefined ? { filter: o.filter } : {}),
        ...(o.truthThreads !== undefined ? { threads: o.truthThreads } : {}),
        ...(o.signal ? { signal: o.signal } : {}),
      });
    }
  } finally {
    control.close();
  }
  const rowBytes = spec.dim * VECTOR_TYPE_BYTES[spec.type];
  const all = blockBytes(queries, spec.type);
  const blobs: Uint8Array[] = [];
  // One view per query, made once: no allocation per request.
  for (let q = 0; q < nq; q++) blobs.push(all.subarray(q * rowBytes, (q + 1) * rowBytes));
  const query = knnQuery({ k, field: spec.field, efRuntime: o.efRuntime, filter: o.filter });
  const { before, after } = ftSearchArgs({
    index: spec.name,
    query,
    k,
    nocontent: o.nocontent ?? platform.nocontent,
    sortByScore: o.sortByScore ?? platform.sortByScore,
    queryTimeoutMs: o.queryTimeoutMs,
    dialect: o.dialect ?? platform.dialects[0]!,
  });
  const { head, tail } = frame(before, after, rowBytes);
  const clients = o.clients ?? 4;
  const P = o.pipeline ?? 1;
  const seed = o.seed ?? 1;
  // A run shard runs the clients [start, start + count) of the run: each client's stream (its
  // start in the query set, its share of the requests, its arrivals) is the one it has in one
  // run, derived from the seed and its global index, so the shards together send what one run
  // sends.
  const mine = shard ? shardRange(clients, shard) : { start: 0, count: clients };
  const states: ClientState[] = [];
  for (let i = mine.start; i < mine.start + mine.count; i++) {
    const rng = Rng.derive(seed, i);
    states.push(new ClientState(Math.floor(rng.next() * nq), rng));
  }
  const runTotal = o.requests ?? (o.durationMs !== undefined ? undefined : nq);
  const total = runTotal === undefined ? undefined : dealtShare(runTotal, mine, clients);
  if (runTotal !== undefined) {
    states.forEach((s, j) => {
      const i = mine.start + j;
      s.limit = Math.floor(runTotal / clients) + (i < runTotal % clients ? 1 : 0);
    });
  }
  // Each client's rate is the run's rate over all its clients, in a shard as in one run.
  const rate = o.ratePerSec === undefined ? undefined : o.ratePerSec * mine.count / clients;
  const sched = new QueryScheduler({
    head,
    tail,
    blobs,
    clients: states,
    pipeline: P,
    ratePerSec: rate,
    poisson: o.arrival === "poisson",
    truth,
    k,
  });
  if (o.keepPerQuery) {
    sched.perQuerySum = new Float64Array(nq);
    sched.perQueryCount = new Uint32Array(nq);
  }
  const open = o.ratePerSec !== undefined;
  const s: Scheduler = {
    fill: (c, now) => sched.fill(c, now),
    reply: (c, slot, now) => sched.reply(c, slot, now),
    failed: (c, slot, code) => sched.failed(c, slot, code),
    exhausted: (c) => sched.exhausted(c),
    ...(open
      ? { due: (now: number) => sched.due(now), sent: (c, slot, now) => sched.sentAt(c, slot, now) }
      : {}),
  };
  const { engine, conns } = await openEngine(
    shard ? { ...o, clients: mine.count } : o, // a run shard connects its own clients only
    target,
    (name) => new RespSearchReader(utf8(spec.prefix), k, name),
    P,
    (head.length + rowBytes + tail.length) * P,
    s,
    (c) => {
      if (open) sched.resumeAt(c, nowUs());
    },
  );
  sched.conns = conns;
  sched.bind(engine);
  const t0 = nowUs();
  const t0Ms = Date.now();
  if (o.durationMs !== undefined) sched.endUs = t0 + o.durationMs * 1000;
  sched.start(t0);
  let second = 0;
  const house = setInterval(() => {
    const now = nowUs();
    while (now >= t0 + (second + 1) * 1e6) sched.metrics.rotate(second++);
    if (now >= sched.endUs) {
      sched.stopped = true;
      engine.checkDone();
      engine.wake();
    }
  }, 100);
  const stopProgress = startProgress(o.onProgress, "query", total, () => ({
    done: sched.completed + sched.lost,
    errors: sched.errs,
  }));
  try {
    await engine.run();
  } finally {
    sched.stopped = true;
    clearInterval(house);
    stopProgress();
  }
  const latency = sched.metrics.finish(second);
  sched.metrics.destroy();
  const durationMs = sched.sent > 0
    ? (Math.max(sched.lastReplyUs, sched.firstSendUs) - sched.firstSendUs) / 1000
    : 0;
  const summary = summarizeEncoded(open && latency.response ? latency.response : latency.service);
  const failure = engine.fatal
    ? { code: engine.fatal.code, message: engine.fatal.message }
    : undefined;
  const shardInfo: VectorShardInfo | undefined = shard === undefined ? undefined : {
    index: shard.index,
    count: shard.count,
    clients: mine,
    ...(total !== undefined ? { requests: total } : {}),
    startMs: t0Ms,
    firstSendMs: sched.sent > 0 ? wallOf(sched.firstSendUs) : 0,
    lastReplyMs: sched.sent > 0 ? wallOf(Math.max(sched.lastReplyUs, sched.firstSendUs)) : 0,
    endMs: Date.now(),
  };
  return {
    kind: "vector-query",
    platform: platform.name,
    platformDetected: detected,
    target: endpointName(target.endpoint),
    index: spec.name,
    k,
    ...(o.efRuntime !== undefined ? { efRuntime: o.efRuntime } : {}),
    ...(o.filter !== undefined ? { filter: o.filter } : {}),
    query,
    sent: sched.sent,
    completed: sched.completed,
    errors: latency.errors,
    partial: sched.partial,
    timeouts: sched.timeouts,
    openLoop: open,
    ...(open ? { ratePerSec: rate! } : {}),
    late: sched.late,
    durationMs,
    qps: durationMs > 0 ? sched.completed / (durationMs / 1000) : 0,
    latency,
    summary,
    recall: sched.recall(shard !== undefined),
    truth: {
      matched: truth.matched,
      depth: truth.depth,
      queries: truth.queries,
      elapsedMs: truth.elapsedMs,
    },
    reconnects: engine.reconnects,
    interrupted: engine.interrupted,
    ...(failure ? { failure } : {}),
    ...(shardInfo ? { shard: shardInfo } : {}),
  };
}
