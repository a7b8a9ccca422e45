// This module uses no Deno APIs.
import type { Rng } from "./rng.ts";

/**
 * One client's budget and open-loop schedule, for the schedulers over the connection engine
 * (bench, vec-query): how many requests it issued and may issue, and when its next one is due
 * (constant spacing, or Poisson arrivals: exponential gaps). A late request keeps its due time,
 * so that latency is measured from when it should have gone (no coordinated omission).
 */
export class ClientSchedule {
  /** The client's own random stream (keys, sizes, arrivals). */
  readonly rng: Rng;
  /** Requests issued. */
  issued = 0;
  /** Requests it may issue in all (Infinity: until stopped). */
  limit = Infinity;
  /** Its share of a count-bound run, set again after a warm-up. */
  share = Infinity;
  /** Open loop: when the next request is due (µs, nowUs). */
  nextDueUs = 0;
  /**
   * Open loop: since when every pipeline slot has been taken with requests due (µs), while the
   * backlog lasts; Infinity while a slot is free.
   */
  blockedSinceUs = Infinity;

  constructor(rng: Rng) {
    this.rng = rng;
  }

  /** Whether the budget is spent. */
  get spent(): boolean {
    return this.issued >= this.limit;
  }

  /** Open loop: the first due time, spread over one interval after `t0` (so clients do not start in step). */
  start(t0: number, intervalUs: number, poisson: boolean): void {
    this.nextDueUs = t0 +
      (poisson ? this.rng.nextExponential(intervalUs) : this.rng.next() * intervalUs);
  }

  /** Open loop: the due time after the current one. */
  advance(intervalUs: number, poisson: boolean): void {
    this.nextDueUs += poisson ? this.rng.nextExponential(intervalUs) : intervalUs;
  }

  /** After a reconnect the schedule resumes from `now` (the time lost is not made up in a burst). */
  resumeAt(now: number): void {
    if (this.nextDueUs < now) this.nextDueUs = now;
  }
}
