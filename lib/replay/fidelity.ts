// This module uses no Deno APIs.
import type { FidelityReport, FidelityThresholds, ReplayResult } from "./types.ts";

/**
 * Compares a replay with its recording: command mix, hit ratio per read command, value sizes
 * (Kolmogorov-Smirnov distance), rate over time, lateness and errors; each threshold given
 * becomes a check.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(ksDistance([1, 2, 3], [1, 2, 3]), 0);
 * assert.equal(ksDistance([1, 1, 1], [9, 9, 9]), 1);
 * ```
 */
export function fidelityOf(
  r: ReplayResult,
  t: FidelityThresholds = {},
  sameProtocol = false,
): FidelityReport {
  const totalRec = r.commands.reduce((a, c) => a + c.recorded, 0) || 1;
  const totalSent = r.commands.reduce((a, c) => a + c.sent, 0) || 1;
  const mix = r.commands.map((c) => {
    const recorded = round4(c.recorded / totalRec);
    const replayed = round4(c.sent / totalSent);
    return { op: c.op, recorded, replayed, diff: round4(Math.abs(recorded - replayed)) };
  });
  // A read that was sent but never answered with a hit or a miss (every reply an error) hit
  // nothing: its ratio is 0, not left out, so that a replay of errors cannot pass the check.
  const hitRatio = r.commands.filter((c) =>
    (c.recordedHits ?? 0) + (c.recordedMisses ?? 0) > 0 && c.sent > 0
  ).map((c) => {
    const recorded = round4(c.recordedHits! / (c.recordedHits! + c.recordedMisses!));
    const answered = (c.hits ?? 0) + (c.misses ?? 0);
    const replayed = answered > 0 ? round4(c.hits! / answered) : 0;
    return { op: c.op, recorded, replayed, diff: round4(Math.abs(recorded - replayed)) };
  });
  // Errors over requests per command: a replay the server rejects more often than it rejected
  // the original (wrong arguments, a lost shape) fails, whatever its mix looks like.
  const errorRatio = r.commands.filter((c) => c.sent > 0).map((c) => {
    const recorded = round4((c.recordedErrors ?? 0) / Math.max(1, c.recorded));
    const errs = Object.values(c.errors).reduce((a, b) => a + b, 0);
    const replayed = round4(errs / c.sent);
    return { op: c.op, recorded, replayed, rise: round4(Math.max(0, replayed - recorded)) };
  });
  const quietRatio = r.commands.filter((c) => c.sent > 0 && c.recorded > 0).map((c) => {
    const recorded = round4((c.recordedQuiet ?? 0) / c.recorded);
    const replayed = round4((c.quiet ?? 0) / c.sent);
    return { op: c.op, recorded, replayed, diff: round4(Math.abs(recorded - replayed)) };
  });
  const sizeKs = round4(ksDistance(r.sizes.recorded, r.sizes.replayed));
  // Rate: whole seconds both sides have (the last one of each is partial).
  const n = Math.min(r.rate.recorded.length, r.rate.replayed.length) - 1;
  let err = 0;
  for (let s = 0; s < n; s++) {
    const rec = r.rate.recorded[s]!;
    err += Math.abs(r.rate.replayed[s]! - rec) / Math.max(1, rec);
  }
  const rateError = n > 0 ? round4(err / n) : 0;
  const skipped = Object.values(r.skipped).reduce((a, b) => a + b, 0);
  const checks: FidelityReport["checks"] = [];
  const check = (name: string, value: number, limit: number | undefined) => {
    if (limit !== undefined) checks.push({ name, value, limit, pass: value <= limit });
  };
  check("hit_ratio_diff", Math.max(0, ...hitRatio.map((h) => h.diff)), t.maxHitRatioDiff);
  check("mix_diff", Math.max(0, ...mix.map((m) => m.diff)), t.maxMixDiff);
  check("size_ks", sizeKs, t.maxSizeKs);
  check("lateness_p99_us", r.lateness.p99Us, t.maxLatenessP99Us);
  check("rate_error", rateError, t.maxRateError);
  check("errors", r.errors, t.maxErrors);
  check(
    "error_ratio_rise",
    Math.max(0, ...errorRatio.map((e) => e.rise)),
    t.maxErrorRatioRise ?? 0.01,
  );
  if (sameProtocol) {
    check("quiet_diff", Math.max(0, ...quietRatio.map((q) => q.diff)), t.maxQuietDiff ?? 0);
  }
  if (r.verification) check("server_diff", r.verification.diff, t.maxServerDiff);
  return {
    mix,
    hitRatio,
    sizeKs,
    rateError,
    lateness: { p50Us: r.lateness.p50Us, p99Us: r.lateness.p99Us },
    errors: r.errors,
    errorRatio,
    quietRatio,
    skipped,
    ...(r.verification ? { serverDiff: r.verification.diff } : {}),
    checks,
    pass: checks.every((c) => c.pass),
  };
}

/** The two-sample Kolmogorov-Smirnov statistic: the largest gap between the two CDFs. */
export function ksDistance(a: readonly number[], b: readonly number[]): number {
  if (a.length === 0 || b.length === 0) return a.length === b.length ? 0 : 1;
  const x = Float64Array.from(a).sort();
  const y = Float64Array.from(b).sort();
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < x.length && j < y.length) {
    const v = Math.min(x[i]!, y[j]!);
    while (i < x.length && x[i] === v) i++;
    while (j < y.length && y[j] === v) j++;
    d = Math.max(d, Math.abs(i / x.length - j / y.length));
  }
  return d;
}

function round4(x: number): number {
  return Math.round(x * 10000) / 10000;
}
