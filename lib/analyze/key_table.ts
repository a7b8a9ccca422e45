// This module uses no Deno APIs.

/**
 * An open-addressing hash table of 64-bit key hashes (as two 32-bit halves) with, per key, an
 * access count, the last access time, and whether it has been written. Typed arrays only: about
 * 24 bytes per key, no objects per key. It stops growing at `maxKeys` and reports `full`, so that
 * callers can switch to sketches.
 */
export class KeyTable {
  /** Keys stored. */
  size = 0;
  /** Whether an insert was refused because `maxKeys` was reached. */
  full = false;
  #cap: number;
  #mask: number;
  #hi: Uint32Array;
  #lo: Uint32Array;
  #used: Uint8Array;
  /** Access counts, by slot. */
  counts: Uint32Array;
  /** Last access time (µs), by slot. */
  last: Float64Array;
  /** 1 once the key has been written, by slot. */
  written: Uint8Array;
  #maxKeys: number;

  /** @param maxKeys Largest number of keys kept exactly. */
  constructor(maxKeys: number, initial = 1 << 16) {
    this.#maxKeys = maxKeys;
    this.#cap = initial;
    this.#mask = initial - 1;
    this.#hi = new Uint32Array(initial);
    this.#lo = new Uint32Array(initial);
    this.#used = new Uint8Array(initial);
    this.counts = new Uint32Array(initial);
    this.last = new Float64Array(initial);
    this.written = new Uint8Array(initial);
  }

  /**
   * The slot of a key, inserting it (count 0) when new; -1 when the table is full and the key is
   * not in it.
   */
  slot(hi: number, lo: number): number {
    let i = (lo ^ Math.imul(hi, 0x9e3779b1)) & this.#mask;
    for (;;) {
      if (this.#used[i] === 0) {
        if (this.size >= this.#maxKeys) {
          this.full = true;
          return -1;
        }
        if ((this.size + 1) * 4 > this.#cap * 3) {
          this.#grow();
          return this.slot(hi, lo);
        }
        this.#used[i] = 1;
        this.#hi[i] = hi;
        this.#lo[i] = lo;
        this.last[i] = -1;
        this.size++;
        return i;
      }
      if (this.#hi[i] === hi && this.#lo[i] === lo) return i;
      i = (i + 1) & this.#mask;
    }
  }

  /** Calls `f` with every stored key's count. */
  forEachCount(f: (count: number, slot: number) => void): void {
    for (let i = 0; i < this.#cap; i++) if (this.#used[i] === 1) f(this.counts[i]!, i);
  }

  /** The key in a slot as 16 hex digits. */
  keyHex(slot: number): string {
    return this.#hi[slot]!.toString(16).padStart(8, "0") +
      this.#lo[slot]!.toString(16).padStart(8, "0");
  }

  /** Bytes held by the arrays. */
  get bytes(): number {
    return this.#cap * (4 + 4 + 1 + 4 + 8 + 1);
  }

  #grow(): void {
    const old = {
      hi: this.#hi,
      lo: this.#lo,
      used: this.#used,
      counts: this.counts,
      last: this.last,
      written: this.written,
      cap: this.#cap,
    };
    const cap = this.#cap * 2;
    this.#cap = cap;
    this.#mask = cap - 1;
    this.#hi = new Uint32Array(cap);
    this.#lo = new Uint32Array(cap);
    this.#used = new Uint8Array(cap);
    this.counts = new Uint32Array(cap);
    this.last = new Float64Array(cap);
    this.written = new Uint8Array(cap);
    for (let j = 0; j < old.cap; j++) {
      if (old.used[j] !== 1) continue;
      const hi = old.hi[j]!;
      const lo = old.lo[j]!;
      let i = (lo ^ Math.imul(hi, 0x9e3779b1)) & this.#mask;
      while (this.#used[i] === 1) i = (i + 1) & this.#mask;
      this.#used[i] = 1;
      this.#hi[i] = hi;
      this.#lo[i] = lo;
      this.counts[i] = old.counts[j]!;
      this.last[i] = old.last[j]!;
      this.written[i] = old.written[j]!;
    }
  }
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * HyperLogLog with 2^14 registers (standard error about 0.8%), fed with 64-bit key hashes
 * (re-mixed, so that inputs need not be uniform).
 */
export class HyperLogLog {
  #reg = new Uint8Array(1 << 14);

  /** Adds a key hash. */
  add(hi: number, lo: number): void {
    // Re-mix (murmur3's finalizer), so that inputs that are not uniform still spread.
    const a = fmix32((hi ^ Math.imul(lo, 0x85ebca6b)) >>> 0);
    const b = fmix32((lo ^ Math.imul(a, 0xc2b2ae35)) >>> 0);
    const idx = a >>> 18; // top 14 bits
    // Rank: position of the first 1 bit in the remaining 50 bits (18 of a, then b).
    const rest = (a & 0x3ffff) >>> 0;
    let rank: number;
    if (rest !== 0) rank = Math.clz32(rest) - 14 + 1;
    else rank = 18 + (b === 0 ? 32 : Math.clz32(b)) + 1;
    if (rank > this.#reg[idx]!) this.#reg[idx] = rank;
  }

  /** The estimated number of distinct keys. */
  estimate(): number {
    const m = this.#reg.length;
    let sum = 0;
    let zeros = 0;
    for (let i = 0; i < m; i++) {
      sum += 2 ** -this.#reg[i]!;
      if (this.#reg[i] === 0) zeros++;
    }
    const alpha = 0.7213 / (1 + 1.079 / m);
    const e = (alpha * m * m) / sum;
    if (e <= 2.5 * m && zeros > 0) return m * Math.log(m / zeros); // linear counting
    return e;
  }
}
