// The live progress of a vector phase: a timer that reads the scheduler's counters every 250 ms
// and hands rate and ETA to the caller's `onProgress` (the CLI draws it; nothing here prints).
import type { VectorProgress } from "./search_types.ts";

const INTERVAL_MS = 250;

/**
 * Calls `on` every 250 ms with `read()`'s counters, the rate over the last interval and the ETA
 * at the mean rate so far; returns the function that stops it (and reports once more). No-op
 * when `on` is undefined.
 */
export function startProgress(
  on: ((p: VectorProgress) => void) | undefined,
  phase: VectorProgress["phase"],
  total: number | undefined,
  read: () => { done: number; errors: number; percent?: number | undefined },
): () => void {
  if (on === undefined) return () => {};
  const t0 = performance.now();
  let lastT = t0, lastDone = 0;
  const tick = () => {
    const now = performance.now();
    const { done, errors, percent } = read();
    const rate = now > lastT ? (done - lastDone) * 1000 / (now - lastT) : 0;
    lastT = now;
    lastDone = done;
    const elapsedMs = now - t0;
    const mean = elapsedMs > 0 ? done * 1000 / elapsedMs : 0;
    const p: VectorProgress = { phase, done, elapsedMs, ratePerSec: rate, errors };
    if (percent !== undefined) p.percentIndexed = percent;
    if (total !== undefined) {
      p.total = total;
      if (mean > 0) p.etaMs = Math.max(0, total - done) * 1000 / mean;
    }
    try {
      on(p);
    } catch {
      // A renderer's failure must not stop the load.
    }
  };
  const timer = setInterval(tick, INTERVAL_MS);
  return () => {
    clearInterval(timer);
    tick();
  };
}
