// Exact top-k of a set of queries over base vectors streamed in blocks. Runs inside the ground
// truth workers (and directly in tests). Private to lib/vector.
// This module uses no Deno APIs.
import { DotKernel, type KernelKind } from "./_dots_wasm.ts";
import type { DistanceMetric } from "./types.ts";

/** How a search is set up (what a worker is given once). */
export interface TopKSetup {
  metric: DistanceMetric;
  k: number;
  /** Real dimension. */
  dim: number;
  /** Row stride of `queries` and of blocks: `dim` rounded up to a multiple of 4. */
  dp: number;
  /** This search's queries, `nq` rows of `dp` float32 (zero padded). */
  queries: Float32Array;
  nq: number;
  /**
   * `false`: screen with float32 dot products (SIMD), keep a margin of candidates with exact
   * float64 distances, and certify the result; `true`: float64 distances for every pair.
   */
  exact: boolean;
  /** Kernel to prefer. @default {"wasm-simd"} */
  kernel?: KernelKind;
}

/** A finished search: `k` ids and distances per query, and the queries that need an exact pass. */
export interface TopKResult {
  /** `nq * k` ids, nearest first; -1 where fewer than k vectors qualified. */
  ids: Int32Array;
  /** `nq * k` ranking keys (squared L2, 1 - dot, 1 - cos); Infinity where padded. */
  keys: Float64Array;
  /** Local indices of queries whose screened result could not be certified exact. */
  uncertain: number[];
}

const CHUNK_ROWS = 256;
const U = 2 ** -24; // float32 unit roundoff

/**
 * Candidates kept per query by the screened search: enough that the k-th exact distance is
 * almost always certifiably below every vector left out.
 */
export function marginFor(k: number): number {
  return Math.max(2 * k, k + 16);
}

/**
 * Streams blocks of base vectors through a per-query bounded max-heap.
 *
 * Screened mode (the fast path): a float32 SIMD kernel gives `q·b` for a chunk of the block;
 * each pair's screening value `s` (L2: `|b|² - 2 q·b`; IP: `-q·b`; COSINE: `-q·b / |b|`) is
 * compared with the heap's largest, so a pair costs one comparison and only the rare
 * candidate computes its float64 distance. The heap keeps `m = marginFor(k)` candidates by
 * `s`; the answer is the k smallest by (float64 distance, id). It is exact when every vector
 * left out is provably farther: its `s` is at least the heap's final largest, and float32
 * dot products err by at most `γ |q| |b|` (γ = (dp+1)u / (1 - (dp+1)u), Higham), which bounds
 * its distance from below. Queries where that bound does not clear the k-th distance (exact
 * ties at the boundary, say) are reported as uncertain and redone in exact mode.
 */
export class TopKSearch {
  readonly setup: TopKSetup;
  readonly kernelKind: KernelKind | undefined;
  #m: number;
  #hs: Float64Array; // screening value (exact mode: the key)
  #hid: Int32Array;
  #hkey: Float64Array; // float64 ranking key
  #size: Int32Array;
  #qnorm: Float64Array; // |q|
  #kernel: DotKernel | undefined;
  #nqPad: number;

  constructor(setup: TopKSetup) {
    this.setup = setup;
    const { nq, k, dp, queries } = setup;
    this.#m = setup.exact ? k : marginFor(k);
    this.#hs = new Float64Array(nq * this.#m);
    this.#hid = new Int32Array(nq * this.#m);
    this.#hkey = new Float64Array(nq * this.#m);
    this.#size = new Int32Array(nq);
    this.#qnorm = new Float64Array(nq);
    for (let i = 0; i < nq; i++) {
      let s = 0;
      for (let t = 0; t < dp; t++) s += queries[i * dp + t]! * queries[i * dp + t]!;
      this.#qnorm[i] = Math.sqrt(s);
    }
    this.#nqPad = Math.ceil(nq / 4) * 4;
    if (!setup.exact && nq > 0) {
      this.#kernel = new DotKernel(this.#nqPad, dp, CHUNK_ROWS, setup.kernel ?? "wasm-simd");
      this.#kernel.q.set(queries.subarray(0, nq * dp));
      this.kernelKind = this.#kernel.kind;
    }
  }

  /**
   * Adds `n` base vectors: `vectors` holds `n` rows of `dp` float32, `ids` their ids (in
   * increasing order across calls), `norms` their |b| in float64.
   */
  add(vectors: Float32Array, ids: Int32Array, norms: Float64Array, n: number): void {
    if (this.setup.nq === 0 || n === 0) return;
    if (this.setup.exact) this.#addExact(vectors, ids, norms, n);
    else {
      for (let c = 0; c < n; c += CHUNK_ROWS) {
        this.#addChunk(vectors, ids, norms, c, Math.min(CHUNK_ROWS, n - c));
      }
    }
  }

  #key(qi: number, vectors: Float32Array, row: number, bnorm: number): number {
    const { dp, queries, metric } = this.setup;
    const qo = qi * dp, bo = row * dp;
    if (metric === "L2") {
      let s = 0;
      for (let t = 0; t < dp; t++) {
        const x = queries[qo + t]! - vectors[bo + t]!;
        s += x * x;
      }
      return s;
    }
    let dot = 0;
    for (let t = 0; t < dp; t++) dot += queries[qo + t]! * vectors[bo + t]!;
    if (metric === "IP") return 1 - dot;
    const qn = this.#qnorm[qi]!;
    return qn === 0 || bnorm === 0 ? 1 : 1 - dot / (qn * bnorm);
  }

  #addExact(vectors: Float32Array, ids: Int32Array, norms: Float64Array, n: number): void {
    const { nq } = this.setup;
    for (let qi = 0; qi < nq; qi++) {
      for (let r = 0; r < n; r++) {
        const key = this.#key(qi, vectors, r, norms[r]!);
        this.#offer(qi, key, ids[r]!, key);
      }
    }
  }

  #addChunk(vectors: Float32Array, ids: Int32Array, norms: Float64Array, c: number, n: number) {
    const kernel = this.#kernel!;
    const { dp, nq, metric } = this.setup;
    const nb = n + (n & 1);
    kernel.b.set(vectors.subarray(c * dp, (c + n) * dp));
    if (nb !== n) kernel.b.fill(0, n * dp, nb * dp);
    kernel.run(nb);
    const out = kernel.out, m = this.#m, hs = this.#hs;
    // Fast path: one comparison per pair against the heap's largest screening value; the
    // specialised loops keep the metric test out of the inner loop.
    for (let qi = 0; qi < nq; qi++) {
      const row = qi * nb;
      const top = qi * m;
      let thr = this.#size[qi]! < m ? Infinity : hs[top]!;
      if (metric === "L2") {
        for (let j = 0; j < n; j++) {
          const bn = norms[c + j]!;
          const s = bn * bn - 2 * out[row + j]!;
          if (s < thr) {
            this.#offer(qi, s, ids[c + j]!, this.#key(qi, vectors, c + j, bn));
            thr = this.#size[qi]! < m ? Infinity : hs[top]!;
          }
        }
      } else if (metric === "IP") {
        for (let j = 0; j < n; j++) {
          const s = -out[row + j]!;
          if (s < thr) {
            this.#offer(qi, s, ids[c + j]!, this.#key(qi, vectors, c + j, norms[c + j]!));
            thr = this.#size[qi]! < m ? Infinity : hs[top]!;
          }
        }
      } else {
        for (let j = 0; j < n; j++) {
          const bn = norms[c + j]!;
          const s = bn === 0 ? 0 : -out[row + j]! / bn;
          if (s < thr) {
            this.#offer(qi, s, ids[c + j]!, this.#key(qi, vectors, c + j, bn));
            thr = this.#size[qi]! < m ? Infinity : hs[top]!;
          }
        }
      }
    }
  }

  /** Max-heap by (s, id) of at most m entries per query. */
  #offer(qi: number, s: number, id: number, key: number): void {
    const m = this.#m, base = qi * m, hs = this.#hs, hid = this.#hid, hk = this.#hkey;
    let size = this.#size[qi]!;
    if (size < m) {
      // sift up
      let i = size++;
      this.#size[qi] = size;
      while (i > 0) {
        const p = (i - 1) >> 1;
        const ps = hs[base + p]!;
        if (ps > s || (ps === s && hid[base + p]! > id)) break;
        hs[base + i] = ps;
        hid[base + i] = hid[base + p]!;
        hk[base + i] = hk[base + p]!;
        i = p;
      }
      hs[base + i] = s;
      hid[base + i] = id;
      hk[base + i] = key;
      return;
    }
    const ts = hs[base]!;
    if (s > ts || (s === ts && id > hid[base]!)) return;
    // replace the root, sift down
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= m) break;
      let c = l;
      const r = l + 1;
      if (r < m) {
        const ls = hs[base + l]!, rs = hs[base + r]!;
        if (rs > ls || (rs === ls && hid[base + r]! > hid[base + l]!)) c = r;
      }
      const cs = hs[base + c]!;
      if (cs < s || (cs === s && hid[base + c]! < id)) break;
      hs[base + i] = cs;
      hid[base + i] = hid[base + c]!;
      hk[base + i] = hk[base + c]!;
      i = c;
    }
    hs[base + i] = s;
    hid[base + i] = id;
    hk[base + i] = key;
  }

  /**
   * The k nearest per query by (float64 key, id), and which screened queries need an exact pass.
   *
   * @param maxNorm The largest |b| over every vector added (for the error bound).
   */
  finish(maxNorm: number): TopKResult {
    const { nq, k, dp, metric, exact } = this.setup;
    const m = this.#m;
    const ids = new Int32Array(nq * k).fill(-1);
    const keys = new Float64Array(nq * k).fill(Infinity);
    const uncertain: number[] = [];
    const n1 = dp + 1;
    const gamma = (n1 * U) / (1 - n1 * U);
    const order: number[] = [];
    for (let qi = 0; qi < nq; qi++) {
      const size = this.#size[qi]!, base = qi * m;
      order.length = 0;
      for (let i = 0; i < size; i++) order.push(base + i);
      order.sort((a, b) => this.#hkey[a]! - this.#hkey[b]! || this.#hid[a]! - this.#hid[b]!);
      const take = Math.min(k, size);
      for (let i = 0; i < take; i++) {
        ids[qi * k + i] = this.#hid[order[i]!]!;
        keys[qi * k + i] = this.#hkey[order[i]!]!;
      }
      if (exact || size < m) continue; // every qualifying vector was a candidate
      const kth = this.#hkey[order[k - 1]!]!;
      const thr = this.#hs[base]!; // every vector left out has s >= thr
      const qn = this.#qnorm[qi]!;
      let bound: number, slack: number;
      if (metric === "L2") {
        bound = qn * qn + thr - 2 * gamma * qn * maxNorm;
        slack = 1e-12 * (qn * qn + maxNorm * maxNorm);
      } else if (metric === "IP") {
        bound = 1 + thr - gamma * qn * maxNorm;
        slack = 1e-12 * (1 + qn * maxNorm);
      } else {
        bound = qn === 0 ? -Infinity : 1 + (thr - gamma * qn) / qn;
        slack = 1e-12;
      }
      if (!(bound > kth + slack)) uncertain.push(qi);
    }
    return { ids, keys, uncertain };
  }
}

/** The distance users see for a ranking key: L2 is the Euclidean distance (not squared). */
export function keyToDistance(metric: DistanceMetric, key: number): number {
  return metric === "L2" ? Math.sqrt(key) : key;
}
