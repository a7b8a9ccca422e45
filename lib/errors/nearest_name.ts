// This module uses no Deno APIs.

/**
 * The choice closest to a misspelt name (edit distance at most 2, case ignored), for
 * "did you mean" hints on unknown options and flags; undefined when nothing is that close.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(nearestName("clinets", ["clients", "pipeline"]), "clients");
 * assert.equal(nearestName("zzz", ["clients"]), undefined);
 * ```
 */
export function nearestName(word: string, choices: readonly string[]): string | undefined {
  let best: string | undefined, bestD = 3;
  for (const c of choices) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) [best, bestD] = [c, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}
