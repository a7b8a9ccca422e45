import { MembenchError } from "../errors/mod.ts";
import { findCommand } from "../protocol/mod.ts";
import {
  type EventBlock,
  NO_VALUE,
  ProfileReader,
  Shape,
  Status,
  STATUS_NAMES,
} from "../profile/mod.ts";
import { HyperLogLog, KeyTable } from "./key_table.ts";
import { type Distribution, LogHistogram } from "./log_histogram.ts";

/** Options for {@linkcode analyzeProfile}. */
export interface AnalyzeOptions {
  /** Distinct keys counted exactly; above this, a HyperLogLog estimate. @default {4000000} */
  maxExactKeys?: number;
  /** Top keys listed. @default {20} */
  topKeys?: number;
}

/** Per-command figures. */
export interface CommandAnalysis {
  /** Events (one per key of a multi-key request: MGET of 3 keys is 3). */
  count: number;
  /**
   * Requests: what `INFO commandstats`, memcached's request counts and tshark count (MGET of 3
   * keys is 1). A version 1 profile has no request shape: there, one request per event.
   */
  requests: number;
  /** Keys named by its requests (MGET of 3 keys is 3). */
  keys: number;
  /** Requests sent quiet or noreply (meta `q`, binary quiet opcodes, text `noreply`). */
  quiet: number;
  /** Share of all events. */
  share: number;
  /** Events per status name. */
  statuses: Record<string, number>;
  /** Reads: hits / (hits + misses). */
  hitRatio?: number;
  /** Key lengths (events with a key). */
  keyLength: Distribution;
  /** Value lengths (events with a value). */
  valueLength: Distribution;
  /** Wire response time, µs (events with a response). */
  latencyUs: Distribution;
  /** TTL in seconds (writes that set one). */
  ttl: Distribution;
}

/** What {@linkcode analyzeProfile} finds. */
export interface Analysis {
  /** The profile. */
  profile: {
    path: string;
    tool: string;
    createdAt: string;
    source: string;
    saltFingerprint: string;
    /** The file ended before its footer: the analysis covers the readable prefix. */
    partial: boolean;
    warning?: string;
  };
  /** Totals. */
  totals: {
    events: number;
    /** Requests (a multi-key request is one; see {@linkcode CommandAnalysis.requests}). */
    requests: number;
    connections: number;
    /** First to last event, µs. */
    durationUs: number;
    /** Mean events per second. */
    eventsPerSec: number;
    /** Events per status name. */
    statuses: Record<string, number>;
  };
  /** Per command (op name as recorded: get, mg, set, hget, …). */
  commands: Record<string, CommandAnalysis>;
  /** All commands together. */
  overall: {
    keyLength: Distribution;
    valueLength: Distribution;
    latencyUs: Distribution;
    ttl: Distribution;
  };
  /** Events per second over time, overall and per command (index = second since the start). */
  rate: { intervalSec: 1; overall: number[]; perCommand: Record<string, number[]> };
  /** Per connection. */
  connections: {
    count: number;
    requests: Distribution;
    /** Deepest pipelining each connection showed (requests in flight at once). */
    maxPipelineDepth: Distribution;
    /** First to last event of each connection, µs. */
    lifetimeUs: Distribution;
    /** The busiest connections. */
    top: Array<
      {
        id: number;
        protocol: string;
        /** RESP connections: the RESP version spoken. */
        respVersion?: 2 | 3;
        requests: number;
        maxPipelineDepth: number;
        lifetimeUs: number;
      }
    >;
  };
  /** Key popularity. */
  keys: {
    /** `exact` when every distinct key fit the table, else `hyperloglog` for `distinct`. */
    method: "exact" | "hyperloglog";
    /** Keys counted exactly (the bound when the method is hyperloglog). */
    exactKeys: number;
    /** Distinct keys (an estimate, ±0.8%, with hyperloglog). */
    distinct: number;
    /** Events with a key. */
    accesses: number;
    /** Most accessed keys, by hashed id. */
    top: Array<{ key: string; count: number; share: number }>;
    /** Keys accessed once, and their share of distinct keys. */
    oneHitWonders: number;
    oneHitWonderRatio: number;
    /** Zipf fit of frequency vs rank on log-log axes. */
    zipf: { exponent: number; r2: number; ranksUsed: number };
    /** Frequency by rank at up to 100 log-spaced ranks: [rank, count]. */
    rankFrequency: Array<[number, number]>;
    /** Distinct keys touched in each second, and cumulative distinct keys. */
    workingSet: { intervalSec: 1; perInterval: number[]; cumulative: number[] };
    /** Time between two accesses of the same key, µs. */
    reuseTimeUs: Distribution;
    /** Reads that missed a key never written before in the capture. */
    compulsoryMisses: number;
    /** Of all read misses. */
    compulsoryMissRatio: number;
    /** Where the popularity figures are limited by the exact bound. */
    note?: string;
  };
}

interface OpState {
  count: number;
  requests: number;
  keys: number;
  quiet: number;
  statuses: Float64Array;
  keyLength: LogHistogram;
  valueLength: LogHistogram;
  latency: LogHistogram;
  ttl: LogHistogram;
  rate: number[];
  /** A write that leaves a value under its key (the command catalogue's `stores`). */
  stores: boolean;
}

interface ConnState {
  requests: number;
  first: number;
  last: number;
  maxDepth: number;
  outstanding: number[]; // completion times of requests still in flight
}

/**
 * Analyzes a profile in one streaming pass with bounded memory (the distinct-key table, capped
 * at `maxExactKeys`, is the only structure that grows with the data): mix, statuses and hit
 * ratios, key/value/TTL/latency distributions per command, rate over time, per-connection
 * requests, pipelining depth and lifetime, key popularity with a Zipf fit, one-hit wonders,
 * working set over time, reuse times and compulsory misses. A truncated profile is analyzed up
 * to its last whole block and marked `partial`.
 *
 * @throws {MembenchError} `file` when the profile cannot be read or is corrupted.
 */
export async function analyzeProfile(
  path: string,
  options: AnalyzeOptions = {},
): Promise<Analysis> {
  const r = await ProfileReader.open(path);
  try {
    return await analyzeReader(r, path, options);
  } finally {
    r.close();
  }
}

/** As {@linkcode analyzeProfile}, over an open reader. */
export async function analyzeReader(
  r: ProfileReader,
  path: string,
  options: AnalyzeOptions = {},
): Promise<Analysis> {
  const maxExact = options.maxExactKeys ?? 4_000_000;
  if (!(maxExact >= 1)) {
    throw new MembenchError("invalid_argument", `Cannot use 'maxExactKeys': ${maxExact}`);
  }
  const table = new KeyTable(maxExact);
  const hll = new HyperLogLog();
  const ops: Array<OpState | undefined> = [];
  const conns = new Map<number, ConnState>();
  const overallRate: number[] = [];
  const statuses = new Float64Array(STATUS_NAMES.length);
  const keyLength = new LogHistogram();
  const valueLength = new LogHistogram();
  const latency = new LogHistogram();
  const ttl = new LogHistogram();
  const reuse = new LogHistogram();
  const wsPer: number[] = [];
  const wsNew: number[] = [];
  let events = 0;
  let requests = 0;
  let accesses = 0;
  let firstT = Infinity;
  let lastT = -Infinity;
  let readMisses = 0;
  let compulsory = 0;

  const opState = (i: number): OpState => {
    let s = ops[i];
    if (!s) {
      const name = r.ops[i] ?? `op${i}`;
      s = {
        count: 0,
        requests: 0,
        keys: 0,
        quiet: 0,
        statuses: new Float64Array(STATUS_NAMES.length),
        keyLength: new LogHistogram(),
        valueLength: new LogHistogram(),
        latency: new LogHistogram(),
        ttl: new LogHistogram(),
        rate: [],
        // By name: the names memcached and RESP share agree on `stores` (set, incr, append…).
        stores: findCommand(name)?.stores ?? false,
      };
      ops[i] = s;
    }
    return s;
  };

  const each = (b: EventBlock) => {
    const n = b.count;
    for (let i = 0; i < n; i++) {
      const t = b.t[i]!;
      const op = opState(b.op[i]!);
      const st = b.status[i]!;
      const sec = Math.floor(t / 1e6);
      events++;
      if (t < firstT) firstT = t;
      if (t > lastT) lastT = t;
      op.count++;
      const shape = b.shape[i]!;
      if ((shape & Shape.More) === 0) {
        op.requests++;
        requests++;
        if ((shape & Shape.Quiet) !== 0) op.quiet++;
      }
      if (b.keyLen[i]! > 0) op.keys++;
      op.statuses[st]!++;
      statuses[st]!++;
      op.rate[sec] = (op.rate[sec] ?? 0) + 1;
      overallRate[sec] = (overallRate[sec] ?? 0) + 1;
      const vl = b.valueLen[i]!;
      if (vl !== NO_VALUE) {
        op.valueLength.record(vl);
        valueLength.record(vl);
      }
      const lat = b.latency[i]!;
      if (lat === lat) { // not NaN
        op.latency.record(lat);
        latency.record(lat);
      }
      const tt = b.ttl[i]!;
      if (tt >= 0 && op.stores) {
        op.ttl.record(tt);
        ttl.record(tt);
      }
      // Connection: pipelining depth from request and response times.
      const cid = b.conn[i]!;
      let c = conns.get(cid);
      if (!c) conns.set(cid, c = { requests: 0, first: t, last: t, maxDepth: 0, outstanding: [] });
      c.requests++;
      if (t > c.last) c.last = t;
      const out = c.outstanding;
      for (let k = out.length - 1; k >= 0; k--) if (out[k]! <= t) out.splice(k, 1);
      if (out.length + 1 > c.maxDepth) c.maxDepth = out.length + 1;
      if (lat === lat && lat > 0) out.push(t + lat);
      // Keys.
      const kl = b.keyLen[i]!;
      if (kl === 0) continue;
      accesses++;
      op.keyLength.record(kl);
      keyLength.record(kl);
      const hi = b.keyHi[i]!;
      const lo = b.keyLo[i]!;
      hll.add(hi, lo);
      const slot = table.slot(hi, lo);
      if (slot < 0) continue;
      const prev = table.last[slot]!;
      if (prev >= 0) reuse.record(t - prev);
      else wsNew[sec] = (wsNew[sec] ?? 0) + 1;
      if (prev < 0 || Math.floor(prev / 1e6) !== sec) wsPer[sec] = (wsPer[sec] ?? 0) + 1;
      table.last[slot] = t;
      table.counts[slot]!++;
      // Miss is a read's status only (profile spec), so no list of read commands is needed.
      if (st === Status.Miss) {
        readMisses++;
        if (table.written[slot] === 0) compulsory++;
      }
      if (op.stores) table.written[slot] = 1;
    }
  };

  for await (const b of r.blocks()) each(b);

  // Popularity from the exact table.
  const counts = new Float64Array(table.size);
  let oneHit = 0;
  let j = 0;
  const topN = options.topKeys ?? 20;
  const top: Array<{ slot: number; count: number }> = [];
  table.forEachCount((c, slot) => {
    counts[j++] = c;
    if (c === 1) oneHit++;
    if (top.length < topN || c > top[top.length - 1]!.count) {
      top.push({ slot, count: c });
      top.sort((a, b) => b.count - a.count);
      if (top.length > topN) top.pop();
    }
  });
  counts.sort();
  counts.reverse();
  const zipf = fitZipf(counts);
  const durationUs = events > 0 ? lastT - firstT : 0;
  const name = (i: number) => r.ops[i] ?? `op${i}`;
  const commands: Record<string, CommandAnalysis> = {};
  const perCommandRate: Record<string, number[]> = {};
  ops.forEach((s, i) => {
    if (!s) return;
    const st: Record<string, number> = {};
    s.statuses.forEach((v, k) => {
      if (v > 0) st[STATUS_NAMES[k]!] = v;
    });
    const hits = s.statuses[Status.Hit]!;
    const misses = s.statuses[Status.Miss]!;
    const c: CommandAnalysis = {
      count: s.count,
      requests: s.requests,
      keys: s.keys,
      quiet: s.quiet,
      share: round4(s.count / Math.max(1, events)),
      statuses: st,
      keyLength: s.keyLength.summary(),
      valueLength: s.valueLength.summary(),
      latencyUs: s.latency.summary(),
      ttl: s.ttl.summary(),
    };
    if (hits + misses > 0) c.hitRatio = round4(hits / (hits + misses));
    commands[name(i)] = c;
    perCommandRate[name(i)] = dense(s.rate);
  });
  const reqs = new LogHistogram();
  const depth = new LogHistogram();
  const life = new LogHistogram();
  const connList: Analysis["connections"]["top"] = [];
  for (const [id, c] of conns) {
    reqs.record(c.requests);
    depth.record(c.maxDepth);
    life.record(c.last - c.first);
    const info = r.connections.get(id);
    connList.push({
      id,
      protocol: info?.protocol ?? "unknown",
      ...(info?.respVersion !== undefined ? { respVersion: info.respVersion } : {}),
      requests: c.requests,
      maxPipelineDepth: c.maxDepth,
      lifetimeUs: c.last - c.first,
    });
  }
  connList.sort((a, b) => b.requests - a.requests);
  const cumulative: number[] = [];
  let cum = 0;
  for (const x of dense(wsNew)) cumulative.push(cum += x);
  const exact = !table.full;
  const statusesOut: Record<string, number> = {};
  statuses.forEach((v, k) => {
    if (v > 0) statusesOut[STATUS_NAMES[k]!] = v;
  });
  return {
    profile: {
      path,
      tool: r.header.tool,
      createdAt: r.header.createdAt,
      source: r.header.source,
      saltFingerprint: r.header.anonymization.saltFingerprint,
      partial: r.truncated,
      ...(r.warning ? { warning: r.warning } : {}),
    },
    totals: {
      events,
      requests,
      connections: conns.size,
      durationUs,
      eventsPerSec: durationUs > 0 ? Math.round(events / (durationUs / 1e6)) : events,
      statuses: statusesOut,
    },
    commands,
    overall: {
      keyLength: keyLength.summary(),
      valueLength: valueLength.summary(),
      latencyUs: latency.summary(),
      ttl: ttl.summary(),
    },
    rate: { intervalSec: 1, overall: dense(overallRate), perCommand: perCommandRate },
    connections: {
      count: conns.size,
      requests: reqs.summary(),
      maxPipelineDepth: depth.summary(),
      lifetimeUs: life.summary(),
      top: connList.slice(0, 20),
    },
    keys: {
      method: exact ? "exact" : "hyperloglog",
      exactKeys: table.size,
      distinct: exact ? table.size : Math.round(hll.estimate()),
      accesses,
      top: top.map((x) => ({
        key: table.keyHex(x.slot),
        count: x.count,
        share: round4(x.count / Math.max(1, accesses)),
      })),
      oneHitWonders: oneHit,
      oneHitWonderRatio: round4(oneHit / Math.max(1, table.size)),
      zipf,
      rankFrequency: rankPoints(counts),
      workingSet: { intervalSec: 1, perInterval: dense(wsPer), cumulative },
      reuseTimeUs: reuse.summary(),
      compulsoryMisses: compulsory,
      compulsoryMissRatio: round4(compulsory / Math.max(1, readMisses)),
      ...(exact ? {} : {
        note: `more than ${maxExact} distinct keys: distinct is a HyperLogLog estimate (±0.8%); ` +
          `popularity, one-hit wonders, reuse, working set and compulsory misses cover the first ${maxExact} keys`,
      }),
    },
  };
}

/**
 * Least-squares fit of ln(count) = c - s·ln(rank) over log-spaced ranks whose count is at least
 * 5 (the sampled tail flattens at 1 and would bias the slope). Returns s and R².
 */
export function fitZipf(
  sortedDesc: Float64Array,
): { exponent: number; r2: number; ranksUsed: number } {
  let last = 0;
  while (last < sortedDesc.length && sortedDesc[last]! >= 5) last++;
  if (last < 10) return { exponent: 0, r2: 0, ranksUsed: last };
  const xs: number[] = [];
  const ys: number[] = [];
  const pts = 100;
  let prev = -1;
  for (let k = 0; k < pts; k++) {
    const rank = Math.round(Math.exp((Math.log(last) * k) / (pts - 1)));
    if (rank === prev || rank < 1 || rank > last) continue;
    prev = rank;
    xs.push(Math.log(rank));
    ys.push(Math.log(sortedDesc[rank - 1]!));
  }
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i]! - mx) * (ys[i]! - my);
    sxx += (xs[i]! - mx) ** 2;
    syy += (ys[i]! - my) ** 2;
  }
  const slope = sxy / sxx;
  const r2 = syy === 0 ? 1 : (sxy * sxy) / (sxx * syy);
  return { exponent: round4(-slope), r2: round4(r2), ranksUsed: last };
}

function rankPoints(sortedDesc: Float64Array): Array<[number, number]> {
  const n = sortedDesc.length;
  if (n === 0) return [];
  const out: Array<[number, number]> = [];
  let prev = 0;
  for (let k = 0; k < 100; k++) {
    const rank = Math.max(1, Math.round(Math.exp((Math.log(n) * k) / 99)));
    if (rank === prev) continue;
    prev = rank;
    out.push([rank, sortedDesc[rank - 1]!]);
  }
  return out;
}

function dense(a: number[]): number[] {
  const out = new Array<number>(a.length).fill(0);
  a.forEach((v, i) => out[i] = v);
  return out;
}

function round4(x: number): number {
  return Math.round(x * 10000) / 10000;
}
