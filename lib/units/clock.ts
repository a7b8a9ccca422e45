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
