// This module uses no Deno APIs.
import { MembenchError } from "../errors/mod.ts";

/** What {@linkcode readJsonDocuments} found. */
export interface JsonDocuments {
  /** The JSON objects, in order. */
  docs: unknown[];
  /** Lines outside any object that were skipped (log lines interleaved with the results). */
  skippedLines: number;
}

/**
 * Reads the JSON objects of a text that holds several: one per line (NDJSON), pretty-printed
 * ones one after another, or either interleaved with other lines (`kubectl logs` of pods that
 * printed notes as well as their results). An object starts at a line whose first character is
 * `{` and ends where its braces balance; other lines are skipped and counted.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const r = readJsonDocuments('note\n{"a":1}\n{\n  "b": "}"\n}\n');
 * assert.deepEqual(r.docs, [{ a: 1 }, { b: "}" }]);
 * assert.equal(r.skippedLines, 1);
 * ```
 * @throws {MembenchError} `file` naming the line where an object does not parse or is cut off.
 */
export function readJsonDocuments(text: string, source = "input"): JsonDocuments {
  const docs: unknown[] = [];
  let skippedLines = 0;
  let i = 0;
  let line = 1;
  const n = text.length;
  while (i < n) {
    // At a line start.
    if (text[i] !== "{") {
      const end = text.indexOf("\n", i);
      const stop = end < 0 ? n : end + 1;
      if (text.slice(i, stop).trim() !== "") skippedLines++;
      i = stop;
      line++;
      continue;
    }
    const startLine = line;
    let depth = 0;
    let inString = false;
    let j = i;
    for (; j < n; j++) {
      const c = text.charCodeAt(j);
      if (c === 10) line++;
      if (inString) {
        if (c === 92) j++; // backslash: skip the escaped character
        else if (c === 34) inString = false;
        continue;
      }
      if (c === 34) inString = true;
      else if (c === 123 || c === 91) depth++;
      else if (c === 125 || c === 93) {
        depth--;
        if (depth === 0) break;
      }
    }
    if (j >= n) {
      throw new MembenchError(
        "file",
        `Cannot read ${source}: the JSON object starting on line ${startLine} is cut off`,
      );
    }
    try {
      docs.push(JSON.parse(text.slice(i, j + 1)));
    } catch (e) {
      throw new MembenchError(
        "file",
        `Cannot read ${source}: the JSON object starting on line ${startLine} does not parse (${
          e instanceof Error ? e.message : e
        })`,
      );
    }
    // On to the next line start.
    const end = text.indexOf("\n", j + 1);
    if (end < 0) break;
    if (text.slice(j + 1, end).trim() !== "") skippedLines++;
    i = end + 1;
    line++;
  }
  return { docs, skippedLines };
}
