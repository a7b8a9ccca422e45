// This module uses no Deno APIs.
import type { MergeSummary } from "../bench/mod.ts";

/**
 * One line on what a merge of run shards put together: the shards, the missing or failed ones,
 * and how far apart the shards started and how far their clocks disagree.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const line = formatMergeSummary({
 *   count: 2, merged: [0, 1], missing: [], failed: [], startSpreadMs: 3.2, clockSkewMs: 0.4,
 * });
 * assert.match(line, /2 of 2 shards merged/);
 * ```
 */
export function formatMergeSummary(s: MergeSummary): string {
  const parts = [`${s.merged.length} of ${s.count} shards merged`];
  if (s.missing.length > 0) parts.push(`MISSING ${s.missing.join(", ")}`);
  for (const f of s.failed) parts.push(`shard ${f.index} FAILED (${f.reason})`);
  parts.push(`starts within ${s.startSpreadMs.toFixed(1)} ms`);
  if (s.clockSkewMs !== undefined) {
    parts.push(`clocks within ${s.clockSkewMs.toFixed(1)} ms of each other (server TIME)`);
  }
  return parts.join("; ");
}
