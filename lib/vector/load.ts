import { errorMessage, MembenchError } from "../errors/mod.ts";
import { CommandMetrics } from "../metrics/mod.ts";
import {
  endpointName,
  type Engine,
  type PipelinedConnection,
  REPLY_ERROR,
  type RespConnection,
  type Scheduler,
  type Target,
} from "../net/mod.ts";
import { ReplyScanner } from "../protocol/resp/mod.ts";
import { nowUs } from "../units/mod.ts";
import { shardRange, type ShardSpec } from "../workload/mod.ts";
import { blockBytes } from "./_blob.ts";
import { connectProblems, openControl, openEngine, withServerMetrics } from "./_conn.ts";
import { shardProblems } from "./query.ts";
import { startProgress } from "./_progress.ts";
import { bulkSize, putArrayHeader, putBulk, putBulkHeader, putKey, utf8 } from "./_wire.ts";
import { openDataset, type VectorDataset } from "./dataset.ts";
import {
  ftCreateArgs,
  resolveIndexSpec,
  VECTOR_TYPE_BYTES,
  type VectorIndexSpec,
} from "./index_spec.ts";
import type { VssPlatform } from "./platform.ts";
import type {
  VectorDeleteOptions,
  VectorLoadOptions,
  VectorLoadResult,
  VectorShardInfo,
  VectorUpdateOptions,
} from "./search_types.ts";
import {
  checkIndexFits,
  dropIndex,
  ftInfo,
  type IndexState,
  indexState,
  usedMemory,
  waitForIndex,
} from "./server.ts";
import { loadedCount, type LoadedSegment, removeKeys, writeKeys } from "./truth.ts";
import type { MetadataTable } from "./types.ts";

const DEFAULT_LOAD_PIPELINE = 16;

/** A block of rows read from the dataset, in the index's element type. */
interface Block {
  /** First row. */
  start: number;
  /** Rows. */
  n: number;
  /** Vector bytes, row after row. */
  bytes: Uint8Array;
  /** Tags as HSET values (bytes) per row, or undefined (no tags on the row). */
  tags?: Array<Uint8Array | undefined>;
  /** Numeric values as text bytes, `fields` per row. */
  numbers?: Uint8Array[];
}

/** What a load writes: rows `[start, start + count)` under key ids from `keyStart`. */
interface LoadPlan {
  ds: VectorDataset;
  start: number;
  count: number;
  keyStart: number;
  blockRows: number;
  rowBytes: number;
  prefix: Uint8Array;
  field: Uint8Array;
  spec: ReturnType<typeof resolveIndexSpec>;
  metadata: MetadataTable | undefined;
}

/** Tag bitsets -> the HSET value (`red,blue`), cached per distinct bitset. */
class TagText {
  #cache = new Map<string, Uint8Array>();
  #vocab: readonly string[];
  #words: number;
  constructor(m: MetadataTable) {
    this.#vocab = m.vocabulary;
    this.#words = m.tagWords;
  }
  of(tags: Uint32Array, row: number): Uint8Array | undefined {
    let key = "";
    let any = false;
    for (let w = 0; w < this.#words; w++) {
      const v = tags[row * this.#words + w]!;
      if (v !== 0) any = true;
      key += v.toString(36) + ".";
    }
    if (!any) return undefined;
    let t = this.#cache.get(key);
    if (t === undefined) {
      const names: string[] = [];
      for (let i = 0; i < this.#vocab.length; i++) {
        if ((tags[row * this.#words + (i >>> 5)]! >>> (i & 31)) & 1) names.push(this.#vocab[i]!);
      }
      t = utf8(names.join(","));
      this.#cache.set(key, t);
    }
    return t;
  }
}

async function readBlock(p: LoadPlan, start: number, tagText: TagText | undefined): Promise<Block> {
  const n = Math.min(p.blockRows, p.start + p.count - start);
  const v = await p.ds.base.read(start, n);
  const b: Block = { start, n, bytes: blockBytes(v, p.spec.type) };
  if (p.metadata && tagText) {
    const m = await p.metadata.read(start, n);
    b.tags = [];
    for (let r = 0; r < n; r++) b.tags.push(tagText.of(m.tags, r));
    const F = p.metadata.numericFields.length;
    b.numbers = [];
    for (let i = 0; i < n * F; i++) {
      const x = m.numbers[i]!;
      b.numbers.push(utf8(Number.isFinite(x) ? String(x) : ""));
    }
  }
  return b;
}

/**
 * vec-load's scheduler over the connection engine: HSET `prefix + id` with the vector's bytes
 * (and its metadata fields), `pipeline` in flight per connection, rows handed out from one
 * cursor over blocks read ahead from the file; optionally paced at a rate (all clients).
 */
class LoadScheduler {
  stopped = false;
  sent = 0;
  ok = 0;
  done = 0;
  firstSendUs = 0;
  lastReplyUs = 0;
  readonly metrics: CommandMetrics;
  readonly #p: LoadPlan;
  readonly #P: number;
  readonly #intervalUs: number;
  #nextDueUs = 0;
  #row: number; // next row to send
  readonly #end: number;
  #block: Block | undefined;
  #next: Promise<Block> | undefined;
  #nextReady: Block | undefined;
  #starved = false;
  #readError: unknown;
  #tagText: TagText | undefined;
  #engine: Engine | undefined;
  conns: PipelinedConnection[] = [];

  constructor(p: LoadPlan, pipeline: number, ratePerSec: number | undefined) {
    this.#p = p;
    this.#P = pipeline;
    this.#row = p.start;
    this.#end = p.start + p.count;
    this.#intervalUs = ratePerSec ? 1e6 / ratePerSec : 0;
    this.metrics = new CommandMetrics("HSET", ratePerSec !== undefined);
    if (p.metadata) this.#tagText = new TagText(p.metadata);
  }

  /** Reads the first block and starts reading the second. */
  async prime(): Promise<void> {
    if (this.#end <= this.#row) return;
    this.#block = await readBlock(this.#p, this.#row, this.#tagText);
    this.#readAhead(this.#block.start + this.#block.n);
  }

  bind(engine: Engine): void {
    this.#engine = engine;
  }

  /** Read error of the file, if any (the run stops at it). */
  get readError(): unknown {
    return this.#readError;
  }

  start(now: number): void {
    this.#nextDueUs = now;
  }

  #readAhead(from: number): void {
    if (from >= this.#end) return;
    this.#next = readBlock(this.#p, from, this.#tagText);
    this.#next.then((b) => {
      this.#nextReady = b;
      if (this.#starved) {
        this.#starved = false;
        const now = nowUs();
        for (const c of this.conns) {
          if (c.dead || c.transport === undefined) continue;
          this.fill(c, now);
          this.#engine?.flush(c);
        }
      }
    }, (e) => {
      this.#readError = e;
      this.stopped = true;
      this.#engine?.checkDone();
    });
  }

  // The block holding the next row, swapping in the one read ahead; undefined while it reads.
  #current(): Block | undefined {
    const b = this.#block;
    if (b !== undefined && this.#row < b.start + b.n) return b;
    const nb = this.#nextReady;
    if (nb === undefined) {
      this.#starved = true;
      return undefined;
    }
    this.#block = nb;
    this.#nextReady = undefined;
    this.#readAhead(nb.start + nb.n);
    return nb;
  }

  #enqueue(c: PipelinedConnection, b: Block, intended: number): void {
    const p = this.#p;
    const r = this.#row - b.start;
    const keyId = p.keyStart + (this.#row - p.start);
    const rb = p.rowBytes;
    const tag = b.tags?.[r];
    const F = p.metadata?.numericFields.length ?? 0;
    let args = 4 + (tag !== undefined ? 2 : 0);
    let size = 16 + bulkSize(4) + bulkSize(p.prefix.length + 16) + bulkSize(p.field.length) +
      bulkSize(rb);
    if (tag !== undefined) size += bulkSize(p.spec.tagField!.length) + bulkSize(tag.length);
    for (let f = 0; f < F; f++) {
      const v = b.numbers![r * F + f]!;
      if (v.length === 0) continue;
      args += 2;
      size += bulkSize(64) + bulkSize(v.length);
    }
    let pos = c.reserve(size);
    const out = c.out;
    pos = putArrayHeader(out, pos, args);
    pos = putBulk(out, pos, HSET);
    pos = putKey(out, pos, p.prefix, keyId);
    pos = putBulk(out, pos, p.field);
    // The vector: its bytes go from the block straight into the output buffer.
    pos = putBulkHeader(out, pos, rb);
    out.set(b.bytes.subarray(r * rb, r * rb + rb), pos);
    pos += rb;
    out[pos++] = 13;
    out[pos++] = 10;
    if (tag !== undefined) {
      pos = putBulk(out, pos, this.#fieldName(-1));
      pos = putBulk(out, pos, tag);
    }
    for (let f = 0; f < F; f++) {
      const v = b.numbers![r * F + f]!;
      if (v.length === 0) continue;
      pos = putBulk(out, pos, this.#fieldName(f));
      pos = putBulk(out, pos, v);
    }
    c.outLen = pos;
    c.push(0, 0, intended, 0);
    if (this.sent === 0) this.firstSendUs = nowUs();
    this.sent++;
    this.#row++;
  }

  #names: Uint8Array[] | undefined;
  #tagName: Uint8Array | undefined;
  #fieldName(f: number): Uint8Array {
    if (f < 0) return this.#tagName ??= utf8(this.#p.spec.tagField!);
    this.#names ??= this.#p.metadata!.numericFields.map(utf8);
    return this.#names[f]!;
  }

  fill(c: PipelinedConnection, now: number): void {
    if (this.stopped) return;
    const paced = this.#intervalUs > 0;
    while (c.inflight < this.#P && this.#row < this.#end) {
      if (paced && this.#nextDueUs > now) break;
      const b = this.#current();
      if (b === undefined) break;
      this.#enqueue(c, b, paced ? this.#nextDueUs : 0);
      if (paced) this.#nextDueUs += this.#intervalUs;
    }
  }

  due(now: number): number {
    if (this.stopped || this.#row >= this.#end) return Infinity;
    for (const c of this.conns) {
      if (c.dead || c.transport === undefined) continue;
      this.fill(c, now);
      this.#engine?.flush(c);
    }
    return this.#row >= this.#end ? Infinity : this.#nextDueUs;
  }

  reply(c: PipelinedConnection, s: number, now: number): void {
    const m = this.metrics;
    m.recordService(now - c.sent[s]!);
    if (this.#intervalUs > 0) m.recordResponse(now - c.intended[s]!);
    if (c.scanner.kind === REPLY_ERROR) m.recordError(c.scanner.errorCode() || "ERR");
    else this.ok++;
    this.done++;
    this.lastReplyUs = now;
  }

  failed(_c: PipelinedConnection, _s: number, code: string): void {
    this.metrics.count++;
    this.metrics.recordError(code);
    this.done++;
  }

  exhausted(_c: PipelinedConnection): boolean {
    return this.stopped || this.#row >= this.#end;
  }
}

const HSET = utf8("HSET");

function checkRange(
  problems: string[],
  rows: number,
  offset: number,
  count: number,
  keyOffset: number,
) {
  if (!Number.isInteger(offset) || offset < 0 || offset > rows) {
    problems.push(
      `Cannot use 'vectorOffset': must be an integer from 0 to ${rows}: current value is ${offset}`,
    );
  } else if (!Number.isInteger(count) || count < 0 || offset + count > rows) {
    problems.push(
      `Cannot use 'numVectors': must be an integer from 0 to ${
        rows - offset
      } (the dataset has ${rows} vectors from offset ${offset}): current value is ${count}`,
    );
  }
  if (!Number.isInteger(keyOffset) || keyOffset < 0) {
    problems.push(`Cannot use 'keyOffset': must be an integer >= 0: current value is ${keyOffset}`);
  }
}

function fail(problems: string[]): never {
  throw new MembenchError("invalid_argument", problems.join("\n"));
}

/** A dataset from a path or an open one; `close` closes only what this opened. */
async function datasetOf(
  d: string | VectorDataset,
  metric: VectorLoadOptions["metric"],
): Promise<{ ds: VectorDataset; close: () => void }> {
  if (typeof d === "string") {
    const ds = await openDataset(d, metric ? { metric } : {});
    return { ds, close: () => ds.close() };
  }
  if (d === null || typeof d !== "object" || !d.base) {
    throw new MembenchError(
      "invalid_argument",
      "Cannot use 'dataset': expected a path or an open dataset",
    );
  }
  return { ds: d, close: () => {} };
}

/** What the write schedulers (HSET, DEL) count, for the result. */
interface WriteStats {
  sent: number;
  ok: number;
  done: number;
  firstSendUs: number;
  lastReplyUs: number;
  readonly metrics: CommandMetrics;
}

interface WriteRun {
  sched: WriteStats;
  engine: Engine;
  failure?: { code: string; message: string };
}

// Runs the HSETs of a plan over the engine.
async function runWrites(o: VectorLoadOptions, plan: LoadPlan, target: Target): Promise<WriteRun> {
  const P = o.pipeline ?? DEFAULT_LOAD_PIPELINE;
  const sched = new LoadScheduler(plan, P, o.ratePerSec);
  await sched.prime();
  const maxReq = 256 + plan.rowBytes + (plan.metadata ? 4096 : 0);
  const s: Scheduler = {
    fill: (c, now) => sched.fill(c, now),
    reply: (c, slot, now) => sched.reply(c, slot, now),
    failed: (c, slot, code) => sched.failed(c, slot, code),
    exhausted: (c) => sched.exhausted(c),
    ...(o.ratePerSec ? { due: (now: number) => sched.due(now) } : {}),
  };
  const { engine, conns } = await openEngine(
    o,
    target,
    (name) => new ReplyScanner(name),
    P,
    maxReq * P,
    s,
  );
  sched.conns = conns;
  sched.bind(engine);
  sched.start(nowUs());
  const stopProgress = startProgress(
    o.onProgress,
    "load",
    plan.count,
    () => ({ done: sched.done, errors: sched.done - sched.ok }),
  );
  try {
    await engine.run();
  } finally {
    sched.stopped = true;
    stopProgress();
  }
  const run: WriteRun = { sched, engine };
  if (sched.readError !== undefined) {
    const e = sched.readError;
    run.failure = e instanceof MembenchError
      ? { code: e.code, message: e.message }
      : { code: "file", message: errorMessage(e) };
  } else if (engine.fatal) {
    run.failure = { code: engine.fatal.code, message: engine.fatal.message };
  }
  return run;
}

/**
 * vec-load: creates the vector index (checked against the platform's capabilities before
 * anything is sent), loads `[vectorOffset, vectorOffset + numVectors)` of a dataset as hashes
 * (`HSET prefix+id field <vector bytes> [tag …] [numeric …]`) pipelined over many connections
 * (optionally at a rate), waits for the index to settle (FT.INFO), and reports load time, index
 * build time, vectors/s, memory growth and indexing failures.
 *
 * A vector of the wrong byte length does not fail its HSET: the server leaves the document out
 * of the index and counts it in `hash_indexing_failures`. Those are reported, and fail the phase
 * (`failure`) unless `allowIndexFailures`.
 *
 * @throws {MembenchError} before any load: `invalid_argument` for bad options, an option the
 * platform does not have, a server without a search module, an existing index of another
 * dimension or without the field; `connection` when the server cannot be reached.
 */
export async function vectorLoad(options: VectorLoadOptions): Promise<VectorLoadResult> {
  const o = options;
  const problems: string[] = [];
  if (o === null || typeof o !== "object") fail(["Cannot use the options: expected an object"]);
  connectProblems(o, problems, DEFAULT_LOAD_PIPELINE);
  if (o.ratePerSec !== undefined && !(typeof o.ratePerSec === "number" && o.ratePerSec > 0)) {
    problems.push(
      `Cannot use 'ratePerSec': must be a number > 0: current value is ${o.ratePerSec}`,
    );
  }
  if (o.blockRows !== undefined && !(Number.isInteger(o.blockRows) && o.blockRows >= 1)) {
    problems.push(
      `Cannot use 'blockRows': must be an integer >= 1: current value is ${o.blockRows}`,
    );
  }
  const shard = shardProblems(o.shard, undefined, problems);
  if (o.dataset === undefined) fail([...problems, "Cannot load vectors: 'dataset' is missing"]);
  // Only shard 0 takes the server's figures: it sees every shard's writes on the server.
  const own = shard && shard.index > 0 ? { ...o, serverMetrics: false } : o;
  const { ds, close } = await datasetOf(o.dataset, o.metric);
  try {
    return await withServerMetrics(own, () => loadDataset(o, ds, problems, shard));
  } finally {
    close();
  }
}

function specOf(o: VectorLoadOptions, ds: VectorDataset, meta: boolean): VectorIndexSpec {
  return {
    ...o.index,
    dim: ds.base.dim,
    metric: o.metric ?? ds.metric ?? "L2",
    ...(meta && ds.metadata
      ? { tagField: ds.metadata.tagField, numericFields: ds.metadata.numericFields }
      : {}),
  };
}

async function loadDataset(
  o: VectorLoadOptions,
  ds: VectorDataset,
  problems: string[],
  shard: ShardSpec | undefined,
): Promise<VectorLoadResult> {
  const offset = o.vectorOffset ?? 0;
  const count = o.numVectors ?? Math.max(0, ds.base.rows - offset);
  const keyOffset = o.keyOffset ?? offset;
  checkRange(problems, ds.base.rows, offset, count, keyOffset);
  const meta = o.metadata ?? ds.metadata !== undefined;
  if (meta && o.metadata === true && !ds.metadata) {
    problems.push(`Cannot use 'metadata': ${ds.path} has no metadata`);
  }
  if (problems.length) fail(problems);
  const spec = resolveIndexSpec(specOf(o, ds, meta && ds.metadata !== undefined));
  const { control, platform, target, detected } = await openControl(o);
  try {
    return await loadWith(
      o,
      ds,
      control,
      platform,
      detected,
      target,
      spec,
      offset,
      count,
      keyOffset,
      shard,
    );
  } finally {
    control.close();
  }
}

/** Polls FT.INFO until the index exists (a shard > 0 waits for shard 0 to create it). */
async function waitForCreation(
  control: RespConnection,
  index: string,
  o: VectorLoadOptions,
): Promise<Awaited<ReturnType<typeof ftInfo>>> {
  const timeoutMs = o.indexTimeoutMs ?? 600_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const info = await ftInfo(control, index);
    if (info !== undefined) return info;
    if (o.signal?.aborted) {
      throw new MembenchError("interrupted", `Interrupted while waiting for index ${index}`);
    }
    if (Date.now() > deadline) {
      throw new MembenchError(
        "timeout",
        `${control.name}: index ${index} was not created within ${timeoutMs} ms: shard 0 creates ` +
          "it",
        { hint: "start shard 0 too (or create the index first and load with skipCreate)" },
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function loadWith(
  o: VectorLoadOptions,
  ds: VectorDataset,
  control: RespConnection,
  platform: VssPlatform,
  detected: boolean,
  target: Target,
  spec: ReturnType<typeof resolveIndexSpec>,
  offset: number,
  count: number,
  keyOffset: number,
  shard: ShardSpec | undefined,
): Promise<VectorLoadResult> {
  // A run shard writes its contiguous part of the run's rows; only shard 0 drops and creates.
  const runSegment: LoadedSegment = { keyStart: keyOffset, vectorStart: offset, count };
  const creator = shard === undefined || shard.index === 0;
  if (shard !== undefined) {
    const part = shardRange(count, shard);
    offset += part.start;
    keyOffset += part.start;
    count = part.count;
  }
  const startMs = Date.now();
  // Everything that can be wrong with the index is found before anything is written.
  const createArgs = o.skipCreate || !creator ? undefined : ftCreateArgs(spec, platform);
  const elementBytes = VECTOR_TYPE_BYTES[spec.type];
  const dialect = platform.dialects[0]!;
  let dropped = false;
  if (o.dropBefore && creator) dropped = await dropIndex(control, spec.name, true);
  const existing = creator || o.skipCreate
    ? await ftInfo(control, spec.name)
    : await waitForCreation(control, spec.name, o);
  if (existing !== undefined) {
    await checkIndexFits(control, {
      index: spec.name,
      field: spec.field,
      dim: spec.dim,
      elementBytes,
      dialect,
    });
    if (createArgs !== undefined) {
      throw new MembenchError(
        "invalid_argument",
        `Cannot create index ${spec.name} on ${control.name}: it exists already`,
        { hint: "load into it with skipCreate, or drop it first with dropBefore" },
      );
    }
  } else if (o.skipCreate) {
    throw new MembenchError(
      "invalid_argument",
      `Cannot load into index ${spec.name} on ${control.name}: there is no such index (skipCreate)`,
    );
  }
  const memBefore = await usedMemory(control);
  let failuresBefore = existing ? indexState(existing).failures : 0;
  if (createArgs !== undefined) {
    const r = await control.command(createArgs, "FT.CREATE");
    if (r.type === "error") {
      throw new MembenchError(
        "server",
        `${control.name}: FT.CREATE ${spec.name} failed: ${r.value}`,
        { hint: `sent: ${createArgs.join(" ")}` },
      );
    }
    failuresBefore = 0;
  }
  const plan: LoadPlan = {
    ds,
    start: offset,
    count,
    keyStart: keyOffset,
    blockRows: o.blockRows ?? Math.max(1, Math.floor((4 << 20) / (spec.dim * 4))),
    rowBytes: spec.dim * elementBytes,
    prefix: utf8(spec.prefix),
    field: utf8(spec.field),
    spec,
    metadata: spec.tagField !== undefined || (spec.numericFields?.length ?? 0) > 0
      ? ds.metadata
      : undefined,
  };
  const run = await runWrites(o, plan, target);
  return await finishLoad("vector-load", o, control, platform, detected, spec, {
    run,
    requested: count,
    memBefore,
    failuresBefore,
    dropped,
    ...(shard ? { shard: { ...shard, startMs, runSegments: [runSegment] } } : {}),
    ...(createArgs ? { ftCreate: createArgs } : {}),
    // Rows go out in order: an interrupted load wrote the first `sent` of them.
    segments: [{
      keyStart: keyOffset,
      vectorStart: offset,
      count: Math.min(count, run.sched.sent),
    }],
  });
}

async function finishLoad(
  kind: VectorLoadResult["kind"],
  o: VectorLoadOptions | VectorDeleteOptions,
  control: RespConnection,
  platform: VssPlatform,
  detected: boolean,
  spec: ReturnType<typeof resolveIndexSpec>,
  x: {
    run: WriteRun;
    requested: number;
    memBefore: number;
    failuresBefore: number;
    dropped: boolean;
    ftCreate?: string[];
    segments: LoadedSegment[];
    /** A run shard: which one, its start (wall clock) and the run's rows. */
    shard?: ShardSpec & { startMs: number; runSegments: LoadedSegment[] };
  },
): Promise<VectorLoadResult> {
  const { sched, engine } = x.run;
  const loadEndUs = Math.max(sched.lastReplyUs, sched.firstSendUs);
  const loadMs = sched.sent > 0 ? (loadEndUs - sched.firstSendUs) / 1000 : 0;
  let failure = x.run.failure;
  let state: IndexState | undefined;
  const waitStart = performance.now();
  const wait = (o as VectorLoadOptions).waitForIndex ?? true;
  try {
    if (wait && !engine.interrupted) {
      let indexed: IndexState | undefined;
      const stopProgress = startProgress(o.onProgress, "index", undefined, () => ({
        done: indexed?.numDocs ?? 0,
        errors: indexed ? Math.max(0, indexed.failures - x.failuresBefore) : 0,
        percent: indexed?.percent,
      }));
      try {
        const timeoutMs = (o as VectorLoadOptions).indexTimeoutMs ?? 600_000;
        const deadline = Date.now() + timeoutMs;
        // A run shard waits until the index holds the whole run's rows (every shard's), so that
        // what follows (queries) sees what one run would.
        const expected = x.shard && x.shard.count > 1 ? loadedCount(x.shard.runSegments) : 0;
        for (;;) {
          state = await waitForIndex(control, spec.name, {
            timeoutMs: Math.max(1, deadline - Date.now()),
            ...(o.signal ? { signal: o.signal } : {}),
            onState: (s) => indexed = s,
          });
          if (state.numDocs >= expected) break;
          if (o.signal?.aborted) {
            throw new MembenchError(
              "interrupted",
              `Interrupted while waiting for index ${spec.name}`,
            );
          }
          if (Date.now() > deadline) {
            throw new MembenchError(
              "timeout",
              `${control.name}: index ${spec.name} holds ${state.numDocs} of the run's ${expected} ` +
                `documents after ${timeoutMs} ms: another shard has not written its part`,
            );
          }
          await new Promise((r) => setTimeout(r, 50));
        }
      } finally {
        stopProgress();
      }
    } else {
      const info = await ftInfo(control, spec.name);
      if (info) state = indexState(info);
    }
  } catch (e) {
    if (!(e instanceof MembenchError) || e.code !== "interrupted") {
      failure ??= e instanceof MembenchError
        ? { code: e.code, message: e.message }
        : { code: "server", message: errorMessage(e) };
    }
  }
  const indexWaitMs = wait && state ? performance.now() - waitStart : 0;
  const memAfter = await usedMemory(control).catch(() => NaN);
  const failures = state ? Math.max(0, state.failures - x.failuresBefore) : 0;
  if (failures > 0 && !(o as VectorLoadOptions).allowIndexFailures && kind !== "vector-delete") {
    failure ??= {
      code: "server",
      message:
        `${control.name}: ${failures} of ${x.requested} documents were left out of index ${spec.name} ` +
        `(hash_indexing_failures): their vectors do not fit the index (wrong byte length or type)`,
    };
  }
  const m = sched.metrics;
  const latency = m.finish(0);
  m.destroy();
  const okCount = sched.ok;
  const wall = (us: number) => Date.now() - (nowUs() - us) / 1000;
  const shardInfo: VectorShardInfo | undefined = x.shard === undefined ? undefined : {
    index: x.shard.index,
    count: x.shard.count,
    runSegments: x.shard.runSegments,
    startMs: sched.sent > 0 ? wall(sched.firstSendUs) : x.shard.startMs,
    firstSendMs: sched.sent > 0 ? wall(sched.firstSendUs) : 0,
    lastReplyMs: sched.sent > 0 ? wall(loadEndUs) : 0,
    endMs: Date.now(),
  };
  const total = (loadMs + indexWaitMs) / 1000;
  return {
    kind,
    platform: platform.name,
    platformDetected: detected,
    target: endpointName(engine.conns[0]!.target.endpoint),
    index: spec.name,
    prefix: spec.prefix,
    field: spec.field,
    algorithm: spec.algorithm,
    type: spec.type,
    dim: spec.dim,
    metric: spec.metric,
    ...(x.ftCreate ? { ftCreate: x.ftCreate } : {}),
    dropped: x.dropped,
    requested: x.requested,
    sent: sched.sent,
    ok: okCount,
    errors: latency.errors,
    loadMs,
    indexWaitMs,
    vectorsPerSec: total > 0 ? okCount / total : 0,
    requestsPerSec: loadMs > 0 ? okCount / (loadMs / 1000) : 0,
    numDocs: state?.numDocs ?? 0,
    indexFailures: failures,
    memory: {
      before: x.memBefore,
      after: memAfter,
      growth: memAfter - x.memBefore,
      ...(state?.indexBytes !== undefined ? { indexBytes: state.indexBytes } : {}),
      ...(state?.vectorIndexBytes !== undefined
        ? { vectorIndexBytes: state.vectorIndexBytes }
        : {}),
    },
    latency,
    segments: x.segments,
    reconnects: engine.reconnects,
    interrupted: engine.interrupted,
    ...(failure ? { failure } : {}),
    ...(shardInfo ? { shard: shardInfo } : {}),
  };
}

/**
 * vec-update: overwrites keys `prefix + [keyOffset, keyOffset + numVectors)` with dataset rows
 * `[vectorOffset, …)` (HSET, pipelined like the load), waits for the index, and returns the
 * segments the server holds after it, so that later queries score against what is there.
 *
 * @throws {MembenchError} as {@linkcode vectorLoad}; the index must exist.
 */
export function vectorUpdate(options: VectorUpdateOptions): Promise<VectorLoadResult> {
  return withServerMetrics(options ?? {}, () => updateVectors(options));
}

async function updateVectors(options: VectorUpdateOptions): Promise<VectorLoadResult> {
  const o = options;
  const problems: string[] = [];
  connectProblems(o, problems, DEFAULT_LOAD_PIPELINE);
  if (!Array.isArray(o.segments)) problems.push("Cannot update vectors: 'segments' is missing");
  if (o.dataset === undefined) problems.push("Cannot update vectors: 'dataset' is missing");
  if (problems.length) fail(problems);
  const { ds, close } = await datasetOf(o.dataset, o.metric);
  try {
    const offset = o.vectorOffset ?? 0;
    const count = o.numVectors ?? Math.max(0, ds.base.rows - offset);
    checkRange(problems, ds.base.rows, offset, count, o.keyOffset);
    if (problems.length) fail(problems);
    const meta = (o.metadata ?? ds.metadata !== undefined) && ds.metadata !== undefined;
    const spec = resolveIndexSpec(specOf(o, ds, meta));
    const { control, platform, target, detected } = await openControl(o);
    try {
      const existing = await ftInfo(control, spec.name);
      if (existing === undefined) {
        throw new MembenchError(
          "invalid_argument",
          `Cannot update vectors of index ${spec.name} on ${control.name}: there is no such index`,
        );
      }
      await checkIndexFits(control, {
        index: spec.name,
        field: spec.field,
        dim: spec.dim,
        elementBytes: VECTOR_TYPE_BYTES[spec.type],
        dialect: platform.dialects[0]!,
      });
      const memBefore = await usedMemory(control);
      const plan: LoadPlan = {
        ds,
        start: offset,
        count,
        keyStart: o.keyOffset,
        blockRows: o.blockRows ?? Math.max(1, Math.floor((4 << 20) / (spec.dim * 4))),
        rowBytes: spec.dim * VECTOR_TYPE_BYTES[spec.type],
        prefix: utf8(spec.prefix),
        field: utf8(spec.field),
        spec,
        metadata: meta ? ds.metadata : undefined,
      };
      const run = await runWrites(o, plan, target);
      const written = Math.min(count, run.sched.sent);
      return await finishLoad("vector-update", o, control, platform, detected, spec, {
        run,
        requested: count,
        memBefore,
        failuresBefore: indexState(existing).failures,
        dropped: false,
        segments: writeKeys(o.segments, {
          keyStart: o.keyOffset,
          vectorStart: offset,
          count: written,
        }),
      });
    } finally {
      control.close();
    }
  } finally {
    close();
  }
}

/** vec-delete's scheduler: DEL `prefix + id` for a range of ids, pipelined. */
class DeleteScheduler {
  stopped = false;
  sent = 0;
  ok = 0;
  done = 0;
  firstSendUs = 0;
  lastReplyUs = 0;
  readonly metrics = new CommandMetrics("DEL", false);
  #next: number;
  readonly #end: number;
  readonly #prefix: Uint8Array;
  readonly #P: number;
  constructor(from: number, count: number, prefix: Uint8Array, pipeline: number) {
    this.#next = from;
    this.#end = from + count;
    this.#prefix = prefix;
    this.#P = pipeline;
  }
  fill(c: PipelinedConnection): void {
    while (!this.stopped && c.inflight < this.#P && this.#next < this.#end) {
      let pos = c.reserve(64 + this.#prefix.length);
      pos = putArrayHeader(c.out, pos, 2);
      pos = putBulk(c.out, pos, DEL);
      pos = putKey(c.out, pos, this.#prefix, this.#next++);
      c.outLen = pos;
      c.push(0, 0, 0, 0);
      if (this.sent === 0) this.firstSendUs = nowUs();
      this.sent++;
    }
  }
  reply(c: PipelinedConnection, s: number, now: number): void {
    this.metrics.recordService(now - c.sent[s]!);
    if (c.scanner.kind === REPLY_ERROR) this.metrics.recordError(c.scanner.errorCode() || "ERR");
    else this.ok++;
    this.done++;
    this.lastReplyUs = now;
  }
  failed(_c: PipelinedConnection, _s: number, code: string): void {
    this.metrics.count++;
    this.metrics.recordError(code);
    this.done++;
  }
  exhausted(): boolean {
    return this.stopped || this.#next >= this.#end;
  }
}

const DEL = utf8("DEL");

/**
 * vec-delete: deletes keys `prefix + [keyOffset, keyOffset + count)` (DEL, pipelined), waits
 * for the index, and returns the segments left, so that recall is scored against the remaining
 * vectors.
 *
 * @throws {MembenchError} `invalid_argument` for bad options or a missing index.
 */
export function vectorDelete(options: VectorDeleteOptions): Promise<VectorLoadResult> {
  return withServerMetrics(options ?? {}, () => deleteVectors(options));
}

async function deleteVectors(options: VectorDeleteOptions): Promise<VectorLoadResult> {
  const o = options;
  const problems: string[] = [];
  connectProblems(o, problems, DEFAULT_LOAD_PIPELINE);
  if (!Array.isArray(o.segments)) problems.push("Cannot delete vectors: 'segments' is missing");
  if (!Number.isInteger(o.keyOffset) || o.keyOffset < 0) {
    problems.push(
      `Cannot use 'keyOffset': must be an integer >= 0: current value is ${o.keyOffset}`,
    );
  }
  if (!Number.isInteger(o.count) || o.count < 0) {
    problems.push(`Cannot use 'count': must be an integer >= 0: current value is ${o.count}`);
  }
  if (problems.length) fail(problems);
  const spec = resolveIndexSpec({ ...o.index, dim: 0, metric: "L2" });
  const { control, platform, target, detected } = await openControl(o);
  try {
    const existing = await ftInfo(control, spec.name);
    if (existing === undefined) {
      throw new MembenchError(
        "invalid_argument",
        `Cannot delete vectors of index ${spec.name} on ${control.name}: there is no such index`,
      );
    }
    const memBefore = await usedMemory(control);
    const P = o.pipeline ?? DEFAULT_LOAD_PIPELINE;
    const sched = new DeleteScheduler(o.keyOffset, o.count, utf8(spec.prefix), P);
    const { engine } = await openEngine(o, target, (n) => new ReplyScanner(n), P, 256 * P, {
      fill: (c) => sched.fill(c),
      reply: (c, s, now) => sched.reply(c, s, now),
      failed: (c, s, code) => sched.failed(c, s, code),
      exhausted: () => sched.exhausted(),
    });
    const stopProgress = startProgress(
      o.onProgress,
      "load",
      o.count,
      () => ({ done: sched.done, errors: sched.done - sched.ok }),
    );
    try {
      await engine.run();
    } finally {
      sched.stopped = true;
      stopProgress();
    }
    const run: WriteRun = {
      sched,
      engine,
      ...(engine.fatal
        ? { failure: { code: engine.fatal.code, message: engine.fatal.message } }
        : {}),
    };
    const deleted = Math.min(o.count, sched.sent);
    return await finishLoad("vector-delete", o, control, platform, detected, spec, {
      run,
      requested: o.count,
      memBefore,
      failuresBefore: indexState(existing).failures,
      dropped: false,
      segments: removeKeys(o.segments, o.keyOffset, deleted),
    });
  } finally {
    control.close();
  }
}
