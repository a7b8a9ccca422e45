// This module uses no Deno APIs.
import type { BenchProgress } from "../bench/mod.ts";
import { formatRate } from "../units/mod.ts";

/** The live line of a running bench: test, elapsed seconds, requests, rate, errors. */
export function formatBenchProgress(p: BenchProgress): string {
  return `${p.test} [${p.testIndex + 1}/${p.testCount}] ${(p.elapsedMs / 1000).toFixed(0)}s ` +
    `${p.warmup ? "warm-up " : ""}${p.requests.toLocaleString("en-US")} requests, ${
      formatRate(p.opsPerSec)
    } ops/s` +
    (p.errors > 0 ? `, ${p.errors} errors` : "");
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
