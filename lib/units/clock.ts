// This module uses no Deno APIs.

/**
 * Monotonic clock in microseconds (fractional) since this isolate's time origin. Every latency in
 * membench is a difference of two readings of this clock in the same isolate.
 */
export function nowUs(): number {
  return performance.now() * 1000;
}

/** Wall-clock time in microseconds since the Unix epoch, for timestamps that cross isolates. */
export function epochUs(): number {
  return (performance.timeOrigin + performance.now()) * 1000;
}

/**
 * Resolves at `atMs` (wall clock, epoch ms), or at once when `signal` aborts: coarse sleeps,
 * then the last few ms against the clock (a timer can fire late, never early).
 */
export function sleepUntilWallClock(atMs: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const step = () => {
      const left = atMs - Date.now();
      if (left <= 0) return done();
      timer = setTimeout(step, left > 50 ? left - 20 : Math.max(0, left - 1));
    };
    signal?.addEventListener("abort", done, { once: true });
    step();
  });
}
