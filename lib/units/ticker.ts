// This module uses no Deno APIs (Web Workers, SharedArrayBuffer and Atomics only).

/*
 * Why a worker: on this Deno, `setTimeout(fn, 0)` fires after about 2 ms, which would add up to
 * 2 ms to every open-loop latency. A worker that blocks in `Atomics.wait(…, timeout)` wakes within
 * tens of microseconds and pokes the main isolate through `Atomics.notify`, which resolves an
 * `Atomics.waitAsync` promise there. The worker sleeps in the kernel between requests, so an idle
 * ticker costs nothing.
 */
const WORKER_SOURCE = `
self.onmessage = (e) => {
  const ctl = new Int32Array(e.data, 0, 4);
  const delay = new Float64Array(e.data, 16, 1);
  let seen = 0;
  outer: for (;;) {
    Atomics.wait(ctl, 0, seen);
    if (Atomics.load(ctl, 2) !== 0) break;
    seen = Atomics.load(ctl, 0);
    let deadline = performance.now() + delay[0];
    for (;;) {
      const rem = deadline - performance.now();
      if (rem <= 0) break;
      const r = Atomics.wait(ctl, 0, seen, rem);
      if (Atomics.load(ctl, 2) !== 0) break outer;
      if (r !== "timed-out") { seen = Atomics.load(ctl, 0); deadline = performance.now() + delay[0]; }
    }
    Atomics.add(ctl, 1, 1);
    Atomics.notify(ctl, 1);
  }
  self.close();
};
`;

const REQ = 0;
const FIRE = 1;
const STOP = 2;

/**
 * A sub-millisecond one-shot timer for schedulers. One waiter at a time: `until()` calls must be
 * awaited in sequence (one scheduler loop per isolate); `wake()` ends the current wait early.
 */
export class Ticker {
  #ctl: Int32Array;
  #delay: Float64Array;
  #worker: Worker;
  #closed = false;

  constructor() {
    const sab = new SharedArrayBuffer(24);
    this.#ctl = new Int32Array(sab, 0, 4);
    this.#delay = new Float64Array(sab, 16, 1);
    const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "application/javascript" }));
    this.#worker = new Worker(url, { type: "module" });
    URL.revokeObjectURL(url);
    this.#worker.postMessage(sab);
  }

  /** Resolves at (or within a few tens of µs after) `tUs` on the {@linkcode nowUs} clock. */
  async until(tUs: number): Promise<void> {
    const delayMs = (tUs - performance.now() * 1000) / 1000;
    if (delayMs <= 0 || this.#closed) return;
    const fired = Atomics.load(this.#ctl, FIRE);
    this.#delay[0] = delayMs;
    Atomics.add(this.#ctl, REQ, 1);
    Atomics.notify(this.#ctl, REQ);
    const r = Atomics.waitAsync(this.#ctl, FIRE, fired);
    if (r.async) await r.value;
  }

  /** Ends the pending `until()` now (for example when a reply frees a pipeline slot). */
  wake(): void {
    Atomics.add(this.#ctl, FIRE, 1);
    Atomics.notify(this.#ctl, FIRE);
  }

  /** Stops the worker. Pending waits resolve. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    Atomics.store(this.#ctl, STOP, 1);
    Atomics.notify(this.#ctl, REQ);
    this.wake();
    this.#worker.terminate();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
