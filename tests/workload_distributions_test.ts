/**
 * The key, value-size and arrival samplers against their exact distributions, judged by SciPy
 * (Debian's python3-scipy): a chi-square goodness-of-fit test for discrete ones, Kolmogorov-Smirnov
 * for the exponential inter-arrival times. Seeds are fixed, so each verdict is repeatable; each
 * test also shows that a slightly wrong parameter (the kind of error a fitter of our own would
 * let through) is rejected, so the check has power.
 */
import assert from "node:assert/strict";
import { keyGenerator, type KeyPattern, parseValueSize, Rng, valueSizer } from "../mod.ts";

const N = 200_000;

/** Runs a SciPy script on JSON input; returns its JSON output. */
async function scipy(script: string, input: unknown): Promise<Record<string, number>> {
  const child = new Deno.Command("/usr/bin/python3", {
    args: ["-c", script],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(JSON.stringify(input)));
  await w.close();
  const out = await child.output();
  const td = new TextDecoder();
  assert.equal(out.code, 0, td.decode(out.stderr));
  return JSON.parse(td.decode(out.stdout));
}

function keyCounts(pattern: KeyPattern, keyspace: number, seed: number): number[] {
  const gen = keyGenerator(pattern, keyspace, new Rng(seed));
  const counts = new Array<number>(keyspace).fill(0);
  for (let i = 0; i < N; i++) counts[gen.next()]!++;
  return counts;
}

// Chi-square of observed key counts against the exact pmf SciPy gives for the pattern; cells
// with an expected count under 5 are pooled into one.
const CHI2 = `
import json, sys
import numpy as np
from scipy import stats
d = json.load(sys.stdin)
obs = np.array(d["counts"], dtype=float)
k = np.arange(len(obs))
n = len(obs)
if d["kind"] == "zipf":
    pmf = stats.zipfian.pmf(k + 1, d["s"], n)
elif d["kind"] == "uniform":
    pmf = np.full(n, 1.0 / n)
else:
    cdf = stats.norm.cdf(k + 0.5, d["mean"], d["sd"]) - stats.norm.cdf(k - 0.5, d["mean"], d["sd"])
    pmf = cdf / cdf.sum()  # values outside [0, n) are drawn again: the normal truncated to it
exp = pmf / pmf.sum() * obs.sum()
small = exp < 5
if small.any():
    obs = np.append(obs[~small], obs[small].sum())
    exp = np.append(exp[~small], exp[small].sum())
chi2, p = stats.chisquare(obs, exp)
print(json.dumps({"chi2": float(chi2), "p": float(p), "cells": int(len(obs))}))
`;

Deno.test("keyGenerator() zipf follows the exact Zipf pmf (SciPy chi-square), and a 1.03x exponent does not", async () => {
  for (const [s, n, seed] of [[0.99, 1000, 1], [1.2, 5000, 2], [0.6, 200, 3]] as const) {
    const counts = keyCounts({ kind: "zipf", exponent: s }, n, seed);
    const fit = await scipy(CHI2, { kind: "zipf", s, counts });
    assert.ok(fit.p! > 0.001, `zipf s=${s} n=${n}: chi2 ${fit.chi2} p ${fit.p}`);
    const off = await scipy(CHI2, { kind: "zipf", s: s * 1.03, counts });
    assert.ok(off.p! < 1e-6, `zipf s=${s} judged against ${s * 1.03}: p ${off.p}`);
  }
});

Deno.test("keyGenerator() gaussian follows the normal truncated to the keyspace (SciPy chi-square)", async () => {
  const cases = [
    [{ kind: "gaussian" } as KeyPattern, 1000, 500, 1000 / 6],
    [{ kind: "gaussian", mean: 100, stddev: 80 } as KeyPattern, 1000, 100, 80], // truncated at 0
  ] as const;
  for (const [pattern, n, mean, sd] of cases) {
    const counts = keyCounts(pattern, n, 5);
    const fit = await scipy(CHI2, { kind: "gaussian", mean, sd, counts });
    assert.ok(fit.p! > 0.001, `${JSON.stringify(pattern)}: chi2 ${fit.chi2} p ${fit.p}`);
    const off = await scipy(CHI2, { kind: "gaussian", mean, sd: sd * 1.05, counts });
    assert.ok(off.p! < 1e-6, `${JSON.stringify(pattern)} against sd x1.05: p ${off.p}`);
  }
});

Deno.test("keyGenerator() uniform and valueSizer() ranges and weighted lists follow their pmf (SciPy chi-square)", async () => {
  const uni = await scipy(CHI2, {
    kind: "uniform",
    counts: keyCounts({ kind: "uniform" }, 997, 9),
  });
  assert.ok(uni.p! > 0.001, `uniform: p ${uni.p}`);
  // A range 32..4095 (both ends included) against its exact pmf, 1/4064 per size, in 64-byte
  // cells (cell 0 holds 32..63 only: half the mass); both ends are drawn, nothing outside.
  const range = valueSizer(parseValueSize("32-4095"), new Rng(10));
  const cells = new Array<number>(64).fill(0);
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < N; i++) {
    const v = range();
    if (v < lo) lo = v;
    if (v > hi) hi = v;
    cells[Math.floor(v / 64)]!++;
  }
  assert.deepEqual([lo, hi], [32, 4095]);
  const r = await scipy(
    `import json, sys
from scipy import stats
d = json.load(sys.stdin)
n = sum(d["obs"]); w = [32 / 4064] + [64 / 4064] * 63
print(json.dumps({"p": float(stats.chisquare(d["obs"], [x * n for x in w])[1])}))`,
    { obs: cells },
  );
  assert.ok(r.p! > 0.001, `range: p ${r.p}`);
  const list = valueSizer(parseValueSize("64:0.6,256:0.3,4096:0.1"), new Rng(11));
  const seen: Record<number, number> = {};
  for (let i = 0; i < N; i++) {
    const v = list();
    seen[v] = (seen[v] ?? 0) + 1;
  }
  const lp = await scipy(
    `import json, sys
from scipy import stats
d = json.load(sys.stdin)
print(json.dumps({"p": float(stats.chisquare(d["obs"], [x * sum(d["obs"]) for x in d["w"]])[1])}))`,
    { obs: [seen[64] ?? 0, seen[256] ?? 0, seen[4096] ?? 0], w: [0.6, 0.3, 0.1] },
  );
  assert.ok(lp.p! > 0.001, `list: p ${lp.p} ${JSON.stringify(seen)}`);
  assert.deepEqual(Object.keys(seen).map(Number).sort((a, b) => a - b), [64, 256, 4096]);
});

Deno.test("Rng.nextExponential() (Poisson arrivals) follows the exponential law (SciPy KS), and a 2% wrong mean does not", async () => {
  const rng = new Rng(12);
  const xs = Array.from({ length: N }, () => rng.nextExponential(250));
  const KS = `
import json, sys
from scipy import stats
d = json.load(sys.stdin)
r = stats.kstest(d["xs"], "expon", args=(0, d["mean"]))
print(json.dumps({"d": float(r.statistic), "p": float(r.pvalue)}))`;
  const fit = await scipy(KS, { xs, mean: 250 });
  assert.ok(fit.p! > 0.001, `exponential: D ${fit.d} p ${fit.p}`);
  const off = await scipy(KS, { xs, mean: 255 });
  assert.ok(off.p! < 1e-4, `exponential against mean 255: p ${off.p}`);
});
