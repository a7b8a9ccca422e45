// The live progress of one bench test, from its shards' ticks. Private to lib/bench.
import type { ShardConfig, ShardTick } from "./shard.ts";
import type { BenchProgress } from "./types.ts";

/**
 * Gathers the shards' ticks (every 100 ms, and while connecting) into one `BenchProgress`: a few
 * times a second while connecting, once a second while sending, and at once when the test goes
 * from connecting to sending. Elapsed and remaining time count from the start of the load.
 */
export class ProgressTracker {
  #ticks: ShardTick[];
  #start = performance.now();
  #loadStart: number | undefined;
  #lastAt = performance.now();
  #lastReq = 0;
  #lastReport = -Infinity;
  #opsPerSec = 0;
  #cb: ((p: BenchProgress) => void) | undefined;
  #test: string;
  #index: number;
  #count: number;
  #requests: number | undefined;
  #durationMs: number | undefined;
  #warmupMs: number;
  #connecting = true;

  constructor(
    test: string,
    index: number,
    count: number,
    shards: readonly ShardConfig[],
    cb: ((p: BenchProgress) => void) | undefined,
  ) {
    this.#ticks = shards.map((s) => ({
      requests: 0,
      errors: 0,
      warmup: s.warmupMs > 0,
      connecting: true,
      connected: 0,
      connections: s.clients * (s.cluster?.nodes.length ?? 1),
    }));
    this.#cb = cb;
    this.#test = test;
    this.#index = index;
    this.#count = count;
    const first = shards[0];
    this.#requests = first?.requests === undefined
      ? undefined
      : shards.reduce((a, s) => a + (s.requests ?? 0), 0);
    this.#durationMs = first?.durationMs;
    this.#warmupMs = first?.warmupMs ?? 0;
  }

  tick(shard: number, t: ShardTick): void {
    const prev = this.#ticks[shard]!;
    this.#ticks[shard] = { ...prev, ...t };
    if (!this.#cb) return;
    const now = performance.now();
    const connecting = this.#ticks.some((x) => x.connecting === true);
    const changed = connecting !== this.#connecting;
    this.#connecting = connecting;
    if (!connecting && this.#loadStart === undefined) {
      this.#loadStart = now;
      this.#lastAt = now;
    }
    if (!changed && now - this.#lastReport < (connecting ? 250 : 1000)) return;
    this.#lastReport = now;
    const sum = (f: (x: ShardTick) => number) => this.#ticks.reduce((a, x) => a + f(x), 0);
    const requests = sum((x) => x.requests);
    const errors = sum((x) => x.errors);
    const warmup = this.#ticks.some((x) => x.warmup);
    if (!connecting) {
      const dt = (now - this.#lastAt) / 1000;
      // Warm-up ended: the counters started again from 0.
      if (requests < this.#lastReq) this.#lastReq = 0;
      if (dt >= 0.1) {
        this.#opsPerSec = (requests - this.#lastReq) / dt;
        this.#lastAt = now;
        this.#lastReq = requests;
      }
    }
    const elapsedMs = this.#loadStart === undefined ? 0 : now - this.#loadStart;
    let remainingMs: number | undefined;
    if (!connecting) {
      if (this.#durationMs !== undefined) {
        remainingMs = Math.max(0, this.#warmupMs + this.#durationMs - elapsedMs);
      } else if (!warmup && this.#requests !== undefined && this.#opsPerSec > 0) {
        remainingMs = Math.max(0, (this.#requests - requests) / this.#opsPerSec * 1000);
      } else if (warmup) remainingMs = undefined;
    }
    // p50 weighted by the shards' requests; p99 the largest (percentiles do not add up).
    const weight = requests > 0 ? requests : 1;
    const p50Us = requests > 0 ? sum((x) => (x.p50Us ?? 0) * x.requests) / weight : 0;
    const p99Us = Math.max(0, ...this.#ticks.map((x) => x.p99Us ?? 0));
    this.#cb({
      test: this.#test,
      testIndex: this.#index,
      testCount: this.#count,
      elapsedMs: connecting ? now - this.#start : elapsedMs,
      requests,
      errors,
      opsPerSec: connecting ? 0 : this.#opsPerSec,
      warmup,
      phase: connecting ? "connect" : "load",
      connected: sum((x) => x.connected ?? 0),
      connections: sum((x) => x.connections ?? 0),
      ...(remainingMs !== undefined ? { remainingMs } : {}),
      p50Us: Math.round(p50Us),
      p99Us,
    });
  }
}
