// This module uses no Deno APIs.
/**
 * bench's verdicts: a test that made no successful request (with the first error and a hint), and
 * the warnings about settings that make a result misleading.
 *
 * @module
 */
import type { ProtocolName } from "../protocol/mod.ts";
import { errorHint } from "./error_text.ts";
import type { BenchConfig, BenchOptions, TestResult } from "./types.ts";

/**
 * Marks a test in which no request succeeded (every one failed, or none completed) with the
 * first error's text and a hint: `test.allFailed`. An interrupted test, or one that ended
 * because every connection was lost (`failure`), is left as it is.
 */
export function assessTest(test: TestResult, protocol: ProtocolName): void {
  if (test.failure !== undefined) return;
  const ok = test.requests - test.errors;
  if (ok > 0) return;
  if (test.requests === 0 && test.abandoned > 0) return; // interrupted before any reply
  // The kind with the most errors, over the commands.
  let best: { code: string; n: number; text: string } | undefined;
  for (const c of test.commands) {
    for (const [code, n] of Object.entries(c.errors)) {
      if (best === undefined || n > best.n) {
        best = { code, n, text: c.firstErrors?.[code] ?? code };
      }
    }
  }
  const message = test.requests === 0
    ? `${test.name}: no request completed`
    : `${test.name}: every request failed (${test.errors} of ${test.requests})` +
      (best ? `: ${best.text}` : "");
  const hint = best ? errorHint(protocol, best.code, best.text) : undefined;
  test.allFailed = hint === undefined ? { message } : { message, hint };
}

/**
 * Warnings about settings that make a result misleading: a key pattern or a rate over a
 * keyspace of 1 (every request on one key), more clients than requests (some clients send
 * nothing), fewer requests than clients × pipeline (the pipelines never fill).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const w = benchWarnings({ keyPattern: "zipf" }, { keyspace: 1, clients: 50, pipeline: 1, requests: 10 });
 * assert.equal(w.length, 2);
 * ```
 */
export function benchWarnings(
  o: Pick<BenchOptions, "keyPattern" | "rate" | "mix">,
  config: Pick<BenchConfig, "keyspace" | "clients" | "pipeline" | "requests">,
): string[] {
  const out: string[] = [];
  if (config.keyspace === 1) {
    const why = [
      o.keyPattern !== undefined ? "a key pattern" : "",
      o.rate !== undefined ? "a rate" : "",
      o.mix !== undefined ? "a mix" : "",
    ].filter((x) => x !== "");
    if (why.length > 0) {
      out.push(
        `${why.join(" and ")} over a keyspace of 1: every request goes to the same key (the ` +
          `default, as redis-benchmark's); give -r/--keyspace (memtier --key-maximum), e.g. -r 100000`,
      );
    }
  }
  const n = config.requests;
  if (n !== undefined && config.clients > n) {
    out.push(
      `${config.clients} clients for ${n} requests per test: ${config.clients - n} clients send ` +
        `nothing; use -c ${n} or fewer, or more requests (-n)`,
    );
  } else if (n !== undefined && config.clients * config.pipeline > n) {
    out.push(
      `${n} requests per test for ${config.clients} clients x pipeline ${config.pipeline}: the ` +
        `pipelines never fill; use more requests (-n) or a smaller -P`,
    );
  }
  return out;
}
