import { type Analysis, analyzeProfile, type Distribution } from "../analyze/mod.ts";
import { MembenchError } from "../errors/mod.ts";
import { NO_VALUE, ProfileWriter, Status } from "../profile/mod.ts";
import { keyGenerator, Rng } from "../workload/mod.ts";

/** Options for {@linkcode synthesize}. */
export interface SynthesizeOptions {
  /** The source profile (analyzed first). */
  profile: string;
  /** Where to write the synthetic profile. */
  output: string;
  /** Seed: the same seed gives the same sequence. @default {1} */
  seed?: number;
  /** Length of the synthetic traffic, ms. @default the recorded duration */
  durationMs?: number;
  /** Key popularity: the fitted Zipf law, or the empirical rank-frequency curve. @default {"zipf"} when the fit is good (R² ≥ 0.9), else "empirical" */
  popularity?: "zipf" | "empirical";
  /** Connections. @default the recorded count */
  connections?: number;
  /** Aborting stops the generation (`interrupted` error; the output is left incomplete). */
  signal?: AbortSignal;
}

/** What {@linkcode synthesize} made. */
export interface SynthesizeResult {
  /** Events written. */
  events: number;
  /** A 64-bit digest of the sequence (op, key, sizes, TTL, connection, time): equal for equal seeds and options. */
  digest: string;
  /** The popularity model used. */
  popularity: "zipf" | "empirical";
  /** Zipf exponent used (zipf model). */
  exponent?: number;
  /** Distinct keys of the model's keyspace. */
  keyspace: number;
  /** The source analysis. */
  source: Analysis;
}

/**
 * Generates synthetic traffic shaped like a recording, from its analysis: command mix, key
 * popularity (the fitted Zipf law or the empirical rank-frequency curve), key and value sizes
 * and TTLs per command (sampled from their distributions), Poisson arrivals at the recorded
 * rate, and the recorded number of connections. It is written as a profile, so that the exact
 * replay engine plays it. Seeded, and reported with a digest of the sequence.
 *
 * @throws {MembenchError} `invalid_argument` for an empty source or bad options.
 */
export async function synthesize(o: SynthesizeOptions): Promise<SynthesizeResult> {
  const a = await analyzeProfile(o.profile);
  if (a.totals.events === 0) {
    throw new MembenchError(
      "invalid_argument",
      `Cannot synthesize from ${o.profile}: it holds no events`,
    );
  }
  const seed = o.seed ?? 1;
  const rng = new Rng(seed);
  const durationUs = (o.durationMs ?? Math.max(1000, a.totals.durationUs / 1000)) * 1000;
  const rate = Math.max(1, a.totals.events / Math.max(1, a.totals.durationUs / 1e6)); // events/s
  const conns = o.connections ?? Math.max(1, a.totals.connections);
  const cmds = Object.entries(a.commands);
  const cum: number[] = [];
  let acc = 0;
  for (const [, c] of cmds) cum.push(acc += c.count);
  const keyspace = Math.max(1, a.keys.distinct);
  const goodFit = a.keys.zipf.r2 >= 0.9 && a.keys.zipf.exponent > 0;
  const popularity = o.popularity ?? (goodFit ? "zipf" : "empirical");
  const zipf = popularity === "zipf"
    ? keyGenerator(
      a.keys.zipf.exponent > 0
        ? { kind: "zipf", exponent: a.keys.zipf.exponent }
        : { kind: "uniform" },
      keyspace,
      rng,
      { index: 0, count: 1 },
    )
    : undefined;
  const empirical = popularity === "empirical"
    ? empiricalRanks(a.keys.rankFrequency, keyspace)
    : undefined;
  const w = await ProfileWriter.create(o.output, {
    tool: "membench synthetic",
    createdAt: new Date().toISOString(),
    startUs: 0,
    source: `synthetic from ${a.profile.path}, seed ${seed}, ${popularity} popularity`,
    anonymization: {
      ...{
        scheme: "siphash-2-4",
        saltFingerprint: a.profile.saltFingerprint,
        keepTokens: 0,
        tokenDelimiter: ":",
        keepSlots: false,
      },
    },
  });
  const protocol = a.connections.top[0]?.protocol ?? "memcache-text";
  for (let c = 0; c < conns; c++) {
    w.connection({
      id: c,
      protocol: protocol as "memcache-text",
      openUs: 0,
      sawOpen: true,
      sawClose: false,
    });
  }
  const opIds = cmds.map(([name]) => w.op(name));
  const digest = new Digest64();
  let t = 0;
  let n = 0;
  const seq = new Uint32Array(conns);
  const meanGapUs = 1e6 / rate;
  // Reads are recorded as hits in the source's proportion, spread evenly (no random draw, so the
  // sequence and its digest stay those of the seed): fidelity then compares the replay's hit
  // ratio with the recording's, not with 0.
  const reads = new Float64Array(cmds.length);
  const hits = new Float64Array(cmds.length);
  const readStatus = (ci: number, ratio: number): number => {
    reads[ci]!++;
    if (Math.round(reads[ci]! * ratio) > hits[ci]!) {
      hits[ci]!++;
      return Status.Hit;
    }
    return Status.Miss;
  };
  while (true) {
    t += rng.nextExponential(meanGapUs);
    if (t >= durationUs) break;
    const u = rng.next() * acc;
    let ci = 0;
    while (ci < cum.length - 1 && u >= cum[ci]!) ci++;
    const [, cmd] = cmds[ci]!;
    const id = zipf ? zipf.next() : empirical!(rng.next());
    const keyLen = cmd.keyLength.count > 0 ? Math.max(1, sample(cmd.keyLength, rng.next())) : 0;
    const valueLen = cmd.valueLength.count > 0 && cmd.hitRatio === undefined
      ? sample(cmd.valueLength, rng.next())
      : NO_VALUE;
    const ttl = cmd.ttl.count > 0 ? sample(cmd.ttl, rng.next()) : -1;
    const conn = Math.floor(rng.next() * conns);
    const hi = Math.imul(id + 1, 0x9e3779b1) >>> 0;
    const lo = (id * 2654435761) >>> 0;
    w.append({
      t,
      conn,
      op: opIds[ci]!,
      keyHi: keyLen > 0 ? hi : 0,
      keyLo: keyLen > 0 ? lo : 0,
      keyLen,
      valueLen,
      flags: 0,
      ttl,
      status: cmd.hitRatio !== undefined ? readStatus(ci, cmd.hitRatio) : Status.Ok,
      latency: NaN,
      slot: -1,
      seq: seq[conn]!++,
    });
    digest.add(ci).add(id).add(keyLen).add(valueLen).add(ttl).add(conn).add(Math.round(t));
    n++;
    if ((n & 0xffff) === 0) {
      await w.drain();
      if (o.signal?.aborted) {
        await w.close();
        throw new MembenchError("interrupted", `Interrupted while synthesizing from ${o.profile}`);
      }
    }
  }
  await w.close();
  return {
    events: n,
    digest: digest.hex(),
    popularity,
    ...(zipf && a.keys.zipf.exponent > 0 ? { exponent: a.keys.zipf.exponent } : {}),
    keyspace,
    source: a,
  };
}

// FNV-1a-style 64-bit digest over 32-bit words (two 32-bit lanes); not a MAC, just a fingerprint.
class Digest64 {
  #a = 0x811c9dc5;
  #b = 0x01000193;
  add(v: number): this {
    const x = (v >>> 0) ^ Math.floor(v / 4294967296);
    this.#a = Math.imul(this.#a ^ x, 0x01000193) >>> 0;
    this.#b = Math.imul(this.#b ^ (x + this.#a), 0x5bd1e995) >>> 0;
    return this;
  }
  hex(): string {
    return this.#a.toString(16).padStart(8, "0") + this.#b.toString(16).padStart(8, "0");
  }
}

// Inverse CDF of a distribution's sampled CDF.
function sample(d: Distribution, u: number): number {
  for (const [v, f] of d.cdf) if (u <= f) return v;
  return d.max;
}

// Samples a key rank from the empirical rank-frequency curve (piecewise, by accesses).
function empiricalRanks(points: Array<[number, number]>, keyspace: number): (u: number) => number {
  if (points.length === 0) return (u) => Math.floor(u * keyspace);
  // Mass of each segment between consecutive points: ranks × mean count.
  const seg: Array<{ from: number; to: number; mass: number }> = [];
  let total = 0;
  for (let i = 0; i < points.length; i++) {
    const [r, c] = points[i]!;
    const [r2, c2] = points[i + 1] ?? [r + 1, c];
    const width = Math.max(1, r2 - r);
    const mass = width * (c + c2) / 2;
    seg.push({ from: r - 1, to: r - 1 + width, mass });
    total += mass;
  }
  const cum: number[] = [];
  let acc = 0;
  for (const s of seg) cum.push(acc += s.mass / total);
  return (u) => {
    let i = 0;
    while (i < cum.length - 1 && u > cum[i]!) i++;
    const s = seg[i]!;
    const lo = i === 0 ? 0 : cum[i - 1]!;
    const frac = (u - lo) / Math.max(1e-12, cum[i]! - lo);
    return Math.min(keyspace - 1, Math.floor(s.from + frac * (s.to - s.from)));
  };
}
