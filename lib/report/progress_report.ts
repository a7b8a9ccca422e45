// This module uses no Deno APIs.
import type { BenchProgress } from "../bench/mod.ts";
import type { ReplayProgress } from "../replay/mod.ts";
import { formatRate, formatUs } from "../units/mod.ts";

/** Seconds as the live lines show them: `42s`, `3m07s`, `2h05m`. */
function clock(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, "0")}m`;
}

// Elapsed and, when known, remaining time.
function times(elapsedMs: number, remainingMs: number | undefined): string {
  return `${clock(elapsedMs)}${remainingMs !== undefined ? ` (${clock(remainingMs)} left)` : ""}`;
}

// ops/s, latency so far and errors: the load part of a live line.
function load(opsPerSec: number, p50Us: number, p99Us: number, errors: number): string {
  return `${formatRate(opsPerSec)} ops/s, p50 ${p50Us > 0 ? formatUs(p50Us) : "-"} p99 ${
    p99Us > 0 ? formatUs(p99Us) : "-"
  }, ${errors.toLocaleString("en-US")} errors`;
}

/**
 * The live line of a running bench. While connecting: the clients connected so far; then
 * elapsed and remaining time, requests, ops/s over the last second, p50/p99 so far, errors.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const p = {
 *   test: "get", testIndex: 1, testCount: 3, elapsedMs: 4000, remainingMs: 6000,
 *   requests: 40000, errors: 0, opsPerSec: 10000, warmup: false, phase: "load" as const,
 *   connected: 50, connections: 50, p50Us: 180, p99Us: 1250,
 * };
 * assert.equal(
 *   formatBenchProgress(p),
 *   "get [2/3] 4s (6s left) 40,000 requests, 10,000 ops/s, p50 180µs p99 1.25ms, 0 errors",
 * );
 * ```
 */
export function formatBenchProgress(p: BenchProgress): string {
  const head = `${p.test} [${p.testIndex + 1}/${p.testCount}]`;
  if (p.phase === "connect") {
    return `${head} connecting: ${p.connected.toLocaleString("en-US")}/${
      p.connections.toLocaleString("en-US")
    } connections (${clock(p.elapsedMs)})`;
  }
  return `${head} ${times(p.elapsedMs, p.remainingMs)} ${p.warmup ? "warm-up " : ""}${
    p.requests.toLocaleString("en-US")
  } requests, ${load(p.opsPerSec, p.p50Us, p.p99Us, p.errors)}`;
}

/**
 * The live line of a running replay: connecting, warming up, or replaying (loop, elapsed and
 * remaining time, requests sent, replies per second, p50/p99 so far, late sends, errors).
 */
export function formatReplayProgress(p: ReplayProgress): string {
  if (p.phase === "connect") {
    return `replay connecting: ${p.connected.toLocaleString("en-US")}/${
      p.connections.toLocaleString("en-US")
    } connections (${clock(p.elapsedMs)})`;
  }
  if (p.phase === "warmup") return `replay warm-up: storing keys (${clock(p.elapsedMs)})`;
  return `replay loop ${p.loop + 1} ${times(p.elapsedMs, p.remainingMs)} ${
    p.sent.toLocaleString("en-US")
  } sent, ${load(p.opsPerSec, p.p50Us, p.p99Us, p.errors)}` +
    (p.late > 0 ? `, ${p.late.toLocaleString("en-US")} late` : "");
}

/** What the live line of a running record shows (the fields of capture's `RecordProgress`). */
export interface RecordProgressView {
  /** Packets so far. */
  packets: number;
  /** Events so far. */
  events: number;
  /** Live flows. */
  flows: number;
  /** TCP gaps so far. */
  gaps: number;
}

/** The live line of a running record: packets, events, flows, gaps. */
export function formatRecordProgress(p: RecordProgressView): string {
  return `${p.packets.toLocaleString("en-US")} packets, ${
    p.events.toLocaleString("en-US")
  } events, ${p.flows} flows, ${p.gaps} gaps`;
}

/**
 * A progress bar line: label, a 30-cell bar, percent, and done/total.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(
 *   formatProgressBar("read", 5, 10),
 *   "read         [###############               ]  50%  5/10",
 * );
 * ```
 */
export function formatProgressBar(label: string, done: number, total: number): string {
  const width = 30;
  const frac = total > 0 ? Math.min(1, done / total) : 1;
  const full = Math.round(frac * width);
  return `${label.padEnd(12)} [${"#".repeat(full)}${" ".repeat(width - full)}] ${
    (frac * 100).toFixed(0).padStart(3)
  }%  ${done.toLocaleString("en-US")}/${total.toLocaleString("en-US")}`;
}
