// The vector search optimizer and the recall / QPS frontier against the real RediSearch 2.6.37
// module (../shared/servers/redisearch-2.6) in Debian's redis-server on free loopback ports, with
// ngt-sift5k's base and queries (an HNSW index with M 4 and EF_CONSTRUCTION 10, so that recall
// rises with EF_RUNTIME over a wide range): the optimizer's EF_RUNTIME against a brute sweep of
// every candidate under the same interval rule, the bootstrap against numpy, infeasible targets,
// an index dropped mid-run, the Pareto frontier, and the HTML chart in headless Chromium.
import assert from "node:assert/strict";
import {
  bootstrapRecall,
  dominates,
  formatVectorFrontierCsv,
  formatVectorFrontierHtml,
  formatVectorFrontierJson,
  formatVectorOptimizeText,
  generateDataset,
  judgeRecall,
  logSpaced,
  measureRecall,
  MembenchError,
  openTuneSession,
  paretoFrontier,
  type RecallInterval,
  Rng,
  runScenario,
  startLocalServer,
  type TunePoint,
  vectorFrontier,
  vectorOptimize,
  type VectorOptimizeOptions,
} from "../mod.ts";
import { chromium, commandStats, loadTest, pythonStdin, redisCommand, runCli } from "./helpers.ts";

const BASE = new URL("../../shared/data/ngt-sift5k/sift5k_base.fvecs", import.meta.url).pathname;
const MODULE = new URL("../../shared/servers/redisearch-2.6/redisearch.so", import.meta.url)
  .pathname;
const INDEX = { m: 4, efConstruction: 10 };

function searchServer() {
  return startLocalServer("redis", { modules: [{ path: MODULE }] });
}

/** Runs `fn` with a signal that aborts after `ms`: every load and query loop is bounded in time. */
async function bounded<T>(ms: number, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  const t = setTimeout(() => ac.abort(), ms);
  try {
    return await fn(ac.signal);
  } finally {
    clearTimeout(t);
  }
}

Deno.test("bootstrapRecall(): seeded, paired across measurements, and its mean interval agrees with a numpy bootstrap", async () => {
  const rng = new Rng(3);
  const values = Array.from({ length: 200 }, () => Math.round(rng.next() * 10) / 10);
  const a = bootstrapRecall(values, { seed: 9, resamples: 2000 });
  const b = bootstrapRecall(values, { seed: 9, resamples: 2000 });
  assert.deepEqual(a, b);
  const mean = values.reduce((x, y) => x + y, 0) / values.length;
  assert.equal(a.estimate, mean);
  assert.ok(a.low < mean && mean < a.high, JSON.stringify(a));
  // numpy's percentile bootstrap of the same data: bounds within 0.01 of ours.
  const np = JSON.parse(
    await pythonStdin(
      "import sys,json,numpy as np\nv=np.array(json.load(sys.stdin))\nr=np.random.default_rng(1)\n" +
        "m=v[r.integers(0,len(v),(20000,len(v)))].mean(axis=1)\n" +
        "print(json.dumps([float(np.quantile(m,0.025)),float(np.quantile(m,0.975))]))",
      JSON.stringify(values),
    ),
  ) as [number, number];
  assert.ok(Math.abs(a.low - np[0]) < 0.01, `low ${a.low} vs numpy ${np[0]}`);
  assert.ok(Math.abs(a.high - np[1]) < 0.01, `high ${a.high} vs numpy ${np[1]}`);
  // More queries, a narrower interval.
  const wide = bootstrapRecall(values.slice(0, 20), { seed: 9 });
  assert.ok(wide.high - wide.low > a.high - a.low);
  // Paired: per-query recalls that all rise give bounds that rise.
  const up = bootstrapRecall(values.map((v) => Math.min(1, v + 0.05)), {
    seed: 9,
    resamples: 2000,
  });
  assert.ok(up.low >= a.low && up.high >= a.high);
  // p5: the rank rule of vec-query.
  const p5 = bootstrapRecall([0.1, ...Array(19).fill(1)], { statistic: "p5" });
  assert.equal(p5.estimate, 0.1);
  // Constant recall: no width.
  const c = bootstrapRecall(Array(50).fill(0.75));
  assert.deepEqual([c.low, c.estimate, c.high], [0.75, 0.75, 0.75]);
  assert.equal(judgeRecall(a, a.low), "met");
  assert.equal(judgeRecall(a, (a.low + a.high) / 2), "within-noise");
  assert.equal(judgeRecall(a, a.high + 0.001), "below");
  assert.throws(() => bootstrapRecall([]), /no query was scored/);
  assert.throws(() => bootstrapRecall([1], { confidence: 1 }), /'confidence'/);
});

Deno.test("paretoFrontier(): no frontier point is dominated, and every other point is", () => {
  const rng = new Rng(11);
  for (let round = 0; round < 50; round++) {
    const pts = Array.from({ length: 1 + rng.nextInt(30) }, () => ({
      recall: Math.round(rng.next() * 20) / 20,
      qps: Math.round(rng.next() * 10) * 100,
    }));
    const front = new Set(paretoFrontier(pts));
    pts.forEach((p, i) => {
      const beaten = pts.some((q) => dominates(q, p));
      // Equal duplicates: one of them is kept.
      if (front.has(i)) assert.ok(!beaten, `frontier point ${JSON.stringify(p)} is dominated`);
      else {
        assert.ok(
          beaten ||
            pts.some((q, j) => j !== i && front.has(j) && q.recall === p.recall && q.qps === p.qps),
          `point ${JSON.stringify(p)} is left out but nothing dominates it`,
        );
      }
    });
  }
  assert.deepEqual(logSpaced(10, 80, 4), [10, 20, 40, 80]);
});

// FT.SEARCH calls the server counted (INFO commandstats). Each round also sends vec-query's one
// dimension probe (an FT.SEARCH checking the index before any query): queries + rounds.
async function searches(address: string): Promise<number> {
  return (await commandStats(address))["ft.search"] ?? 0;
}

loadTest(
  "measureRecall(): a step whose interval straddles the target is re-measured with fresh queries, then repeats once the set is exhausted (said); pooled intervals equal a one-shot bootstrap; FT.SEARCH calls (INFO commandstats) equal what the rounds say they sent; budgets end the rounds",
  async () => {
    await using s = await searchServer();
    await bounded(90_000, async (signal) => {
      const ses = await openTuneSession({
        target: s.address,
        dataset: BASE,
        index: INDEX,
        truthThreads: 0,
        signal,
      });
      try {
        assert.equal(ses.numQueries, 100);
        const ef = 40;
        // One round of the whole set: the reference.
        let before = await searches(s.address);
        const full = await measureRecall(ses, {
          efRuntime: ef,
          targetRecall: 0.5,
          remeasure: false,
        });
        assert.equal((await searches(s.address)) - before, 100 + 1);
        assert.deepEqual(
          full.rounds.map((r) => [r.source, r.from, r.to, r.queries, r.sent]),
          [["fresh", 0, 100, 100, 100]],
        );
        const est = full.point.recall;
        assert.ok(est.low < est.estimate && est.estimate < est.high, JSON.stringify(est));
        // A target at the set's mean lies inside every pooled interval of the whole set: rounds go
        // on (fresh 25, 25, 50), then a repeat pass, which gives each query the recall it had.
        before = await searches(s.address);
        const m = await measureRecall(ses, {
          efRuntime: ef,
          targetRecall: est.estimate,
          remeasure: { maxWidth: 0.001, maxRounds: 6 },
        });
        assert.equal((await searches(s.address)) - before, 125 + 4);
        assert.deepEqual(
          m.rounds.map((r) => [r.round, r.source, r.from, r.to, r.queries, r.sent]),
          [
            [1, "fresh", 0, 25, 25, 25],
            [2, "fresh", 25, 50, 50, 50],
            [3, "fresh", 50, 100, 100, 100],
            [4, "repeat", 0, 25, 100, 125],
          ],
        );
        // Pooled over rows 0..99 in order: the one-shot interval, exactly; the repeat changed
        // nothing (n stays the count of distinct queries).
        assert.deepEqual(m.rounds[2]!.interval, est);
        assert.deepEqual(m.rounds[3]!.interval, est);
        assert.deepEqual(m.point.recall, est);
        assert.equal(m.verdict, "within-noise");
        assert.match(m.rounds[2]!.note, /re-measure with repeats \(the query set is exhausted\)/);
        assert.match(m.rounds[3]!.note, /this repeat gave every query the recall it had/);
        // Each round's interval is the bootstrap of its pooled rows, measured apart: round 1 is
        // rows 0..24 alone.
        const r1 = await measureRecall(ses, {
          efRuntime: ef,
          targetRecall: 0.5,
          remeasure: { firstQueries: 25, maxRounds: 1 },
        });
        assert.deepEqual(m.rounds[0]!.interval, r1.point.recall);
        // More queries, a narrower interval (25 -> 100: about half as wide).
        const w = (i: RecallInterval) => i.high - i.low;
        assert.ok(w(m.rounds[2]!.interval) < 0.7 * w(m.rounds[0]!.interval));
        // A clear verdict takes one round of 25 queries: met, and fails.
        for (const [target, verdict] of [[0.01, "met"], [0.999, "below"]] as const) {
          before = await searches(s.address);
          const c = await measureRecall(ses, { efRuntime: ef, targetRecall: target });
          assert.equal((await searches(s.address)) - before, 25 + 1);
          assert.deepEqual([c.rounds.length, c.verdict, c.point.recall.queries], [1, verdict, 25]);
        }
        // Budgets: rounds, then queries (the last round cut to fit), each said.
        const byRounds = await measureRecall(ses, {
          efRuntime: ef,
          targetRecall: est.estimate,
          remeasure: { maxWidth: 0.001, maxRounds: 2 },
        });
        assert.equal(byRounds.rounds.length, 2);
        assert.match(byRounds.rounds[1]!.note, /the step's 2 rounds are spent/);
        before = await searches(s.address);
        const byQueries = await measureRecall(ses, {
          efRuntime: ef,
          targetRecall: est.estimate,
          remeasure: { maxWidth: 0.001, maxQueries: 60 },
        });
        assert.equal((await searches(s.address)) - before, 60 + 3);
        assert.deepEqual(byQueries.rounds.map((r) => r.to - r.from), [25, 25, 10]);
        assert.match(byQueries.rounds[2]!.note, /budget of 60 queries is spent/);
        // Repeats within a round: each query twice, averaged (n stays 25).
        before = await searches(s.address);
        const twice = await measureRecall(ses, {
          efRuntime: ef,
          targetRecall: 0.01,
          repeats: 2,
        });
        assert.equal((await searches(s.address)) - before, 50 + 1);
        assert.deepEqual(twice.point.recall, r1.point.recall);
        await assert.rejects(
          () =>
            measureRecall(ses, { efRuntime: ef, targetRecall: 0.5, remeasure: { maxRounds: 0 } }),
          /'remeasure.maxRounds'/,
        );
      } finally {
        ses.close();
      }
    });
  },
);

loadTest(
  "vectorOptimize(): on ngt-sift5k its EF_RUNTIME is the smallest a brute sweep of every candidate finds meeting the target under the same interval rule (adaptive rounds included); mean and p5",
  async () => {
    await using s = await searchServer();
    const minEf = 10, maxEf = 80;
    await bounded(150_000, async (signal) => {
      const ses = await openTuneSession({
        target: s.address,
        dataset: BASE,
        index: INDEX,
        truthThreads: 0,
        signal,
      });
      try {
        // Every EF_RUNTIME from 10 to 80 once over the whole query set: where recall lies.
        const sweep: TunePoint[] = [];
        for (let ef = minEf; ef <= maxEf; ef++) {
          sweep.push(
            (await measureRecall(ses, { efRuntime: ef, targetRecall: 0.5, remeasure: false }))
              .point,
          );
        }
        assert.ok(
          // (HNSW builds differ from run to run: what matters is that recall moves over the range.)
          sweep[0]!.recall.estimate < 0.6 &&
            sweep[sweep.length - 1]!.recall.estimate - sweep[0]!.recall.estimate > 0.15,
          `recall should rise with EF_RUNTIME: ${sweep.map((p) => p.recall.estimate)}`,
        );
        // Targets taken from the sweep (each HNSW build differs a little): the lower bound in the
        // middle of the range, a target inside the interval there, and the highest p5 lower bound.
        const mid = sweep[Math.floor(sweep.length / 2)]!;
        const cases: Array<
          Pick<VectorOptimizeOptions, "targetRecall" | "recallStatistic" | "accept">
        > = [
          { targetRecall: mid.recall.low },
          { targetRecall: (mid.recall.estimate + mid.recall.high) / 2, accept: "within-noise" },
          { targetRecall: Math.max(...sweep.map((p) => p.recallP5.low)), recallStatistic: "p5" },
        ];
        let remeasured = 0;
        for (const c of cases) {
          // The brute sweep: every candidate measured under the optimizer's rule (its rounds, its
          // budget), on the same index, the same truth, the same bootstrap seed.
          let brute: { ef: number; point: TunePoint } | undefined;
          for (let ef = minEf; ef <= maxEf && !brute; ef++) {
            const m = await measureRecall(ses, {
              efRuntime: ef,
              targetRecall: c.targetRecall,
              recallStatistic: c.recallStatistic ?? "mean",
            });
            if (m.rounds.length > 1) remeasured++;
            if (
              m.verdict === "met" || (c.accept === "within-noise" && m.verdict === "within-noise")
            ) {
              brute = { ef, point: m.point };
            }
          }
          assert.ok(brute, `no candidate meets ${JSON.stringify(c)}`);
          if (c.recallStatistic !== "p5") {
            assert.ok(brute.ef > minEf, `the target is met at once: ${JSON.stringify(c)}`);
          }
          // On the index the sweep measured (a rebuilt HNSW graph would differ).
          const r = await vectorOptimize({
            target: s.address,
            dataset: BASE,
            index: INDEX,
            load: false,
            truthThreads: 0,
            signal,
            minEfSearch: minEf,
            maxEfSearch: maxEf,
            throughput: false,
            ...c,
          });
          assert.equal(r.status, "complete", r.message);
          assert.equal(
            r.efRuntime,
            brute.ef,
            `${JSON.stringify(c)}: ${formatVectorOptimizeText(r)}`,
          );
          // Bounded: feasibility, the top, then the binary search.
          const recallSteps = r.steps.filter((st) => st.phase !== "throughput").length;
          assert.ok(
            recallSteps <= 2 + Math.ceil(Math.log2(maxEf - minEf + 1)),
            `${recallSteps} steps`,
          );
          // The chosen point's pooled interval is the sweep's at that EF_RUNTIME (the index answers
          // each query the same way, and the rounds are the same).
          const judged = c.recallStatistic === "p5" ? brute.point.recallP5 : brute.point.recall;
          assert.deepEqual(r.recall, judged);
          assert.equal(r.withinNoise, judgeRecall(judged, c.targetRecall) === "within-noise");
          assert.equal(r.truth.computed, true);
          assert.equal(r.truth.datasetHasTruth, true); // found beside the base, not used
        }
        // Near each target the first round's 25 queries were not enough somewhere.
        assert.ok(remeasured > 0, "no candidate needed a second round");
      } finally {
        ses.close();
      }
    });
  },
);

loadTest(
  "vectorOptimize(): an infeasible target ends with the best recall seen; the throughput step is bounded and stops when QPS stops rising or p99 passes the target; repeated throughput runs judged on their median, more while the QPS spread is large",
  async () => {
    await using s = await searchServer();
    await bounded(120_000, async (signal) => {
      const r = await vectorOptimize({
        target: s.address,
        dataset: BASE,
        index: INDEX,
        truthThreads: 0,
        signal,
        k: 100,
        targetRecall: 1,
        minEfSearch: 1,
        maxEfSearch: 10,
      });
      assert.equal(r.status, "infeasible");
      assert.equal(r.steps.length, 2); // the minimum, then the cap: never a loop
      assert.equal(r.efRuntime, undefined);
      assert.match(
        r.message,
        /^Infeasible: no EF_RUNTIME from 1 to 10 reaches recall@100 mean 100\.00% at the interval's lower bound; the best seen is recall mean \d+\.\d\d% \(95% CI .*\) at EF_RUNTIME (1|10)$/,
      );
      assert.ok(r.bestRecall!.interval.estimate < 1);
      assert.match(formatVectorOptimizeText(r), /INFEASIBLE/);
      // Throughput: clients double from 1 until QPS stops rising (at most 4 steps here).
      const t = await vectorOptimize({
        target: s.address,
        dataset: BASE,
        index: INDEX,
        truthThreads: 0,
        signal,
        targetRecall: 0.5,
        minEfSearch: 10,
        maxEfSearch: 80,
        maxClients: 8,
        maxPipeline: 1,
        stepDurationMs: 400,
      });
      assert.equal(t.status, "complete", t.message);
      const th = t.steps.filter((st) => st.phase === "throughput");
      assert.ok(th.length >= 1 && th.length <= 4, `${th.length} throughput steps`);
      assert.deepEqual(th.map((st) => st.point.clients), [1, 2, 4, 8].slice(0, th.length));
      assert.ok(th.every((st) => st.point.efRuntime === t.efRuntime));
      assert.match(th[th.length - 1]!.note, /stop/);
      // The choice: the last step that raised QPS by 5% over the best before it; no later step did.
      const chosen = th.find((st) =>
        st.point.clients === t.clients && st.point.pipeline === t.pipeline
      )!;
      assert.equal(chosen.point.qps, t.qps);
      assert.match(chosen.note, /QPS rising/);
      for (const st of th.slice(th.indexOf(chosen) + 1)) {
        assert.ok(st.point.qps < chosen.point.qps * 1.05, `${st.note} after the choice`);
      }
      // A p99 target no step can meet: stop at the first step.
      const p = await vectorOptimize({
        target: s.address,
        dataset: BASE,
        index: INDEX,
        truthThreads: 0,
        signal,
        targetRecall: 0.5,
        minEfSearch: 10,
        maxEfSearch: 80,
        targetP99Ms: 0.001,
        stepDurationMs: 300,
      });
      const pth = p.steps.filter((st) => st.phase === "throughput");
      assert.equal(pth.length, 1);
      assert.match(pth[0]!.note, /p99 passes 0\.001 ms; stop/);
      // Repeated throughput runs: a spread bound no two timed runs meet gives every step its
      // maximum of runs, marked noisy; a loose one stops at the minimum. The step stands for its
      // median run.
      for (const [maxSpread, runs] of [[1e-6, 4], [100, 2]] as const) {
        const rr = await vectorOptimize({
          target: s.address,
          dataset: BASE,
          index: INDEX,
          load: false,
          truthThreads: 0,
          signal,
          targetRecall: 0.5,
          minEfSearch: 10,
          maxEfSearch: 80,
          maxClients: 2,
          maxPipeline: 1,
          stepDurationMs: 200,
          remeasure: { throughput: { runs: 2, maxRuns: 4, maxSpread } },
        });
        assert.equal(rr.status, "complete", rr.message);
        const rth = rr.steps.filter((st) => st.phase === "throughput");
        assert.ok(rth.length >= 1);
        for (const st of rth) {
          const qps = st.runs!.map((x) => x.qps);
          assert.equal(qps.length, runs, st.note);
          const sorted = [...qps].sort((a, b) => a - b);
          assert.equal(st.point.qps, sorted[runs / 2 - 1]);
          const median = (sorted[runs / 2 - 1]! + sorted[runs / 2]!) / 2;
          assert.ok(Math.abs(st.spread! - (sorted[runs - 1]! - sorted[0]!) / median) < 1e-12);
          assert.equal(st.noisy, runs === 4);
          assert.match(st.note, new RegExp(`the median of ${runs} runs, QPS spread`));
          assert.ok(st.runs!.every((x) => x.completed > 0));
        }
        assert.match(formatVectorOptimizeText(rr), /runs {2}QPS [\d,]+, [\d,]+/);
      }
      const bad = await vectorOptimize({
        target: s.address,
        dataset: BASE,
        targetRecall: 0.5,
        remeasure: { maxRounds: 0, throughput: { runs: 3, maxRuns: 2, spread: 1 } },
      } as VectorOptimizeOptions).catch((x) => x);
      assert.ok(bad instanceof MembenchError && bad.code === "invalid_argument");
      assert.match(bad.message, /'remeasure.maxRounds'/);
      assert.match(bad.message, /'remeasure.throughput.maxRuns' 2: it is below 'runs' 3/);
      assert.match(bad.message, /'remeasure.throughput.spread'/);
    });
  },
);

loadTest(
  "vectorOptimize() and vectorFrontier(): an index dropped mid-run ends with a clear failure and the steps so far; bad options are reported at once before any load",
  async () => {
    await using s = await searchServer();
    await bounded(60_000, async (signal) => {
      const r = await vectorOptimize({
        target: s.address,
        dataset: BASE,
        index: INDEX,
        truthThreads: 0,
        signal,
        targetRecall: 0.8,
        minEfSearch: 10,
        maxEfSearch: 80,
        onStep: async () => {
          await redisCommand(s.address, ["FT.DROPINDEX", "membench_idx"]);
        },
      });
      assert.equal(r.status, "failed");
      assert.equal(r.steps.length, 1);
      assert.match(r.failure!.message, /membench_idx/);
      assert.match(r.message, /^Failed after 1 steps: /);
    });
    await bounded(60_000, async (signal) => {
      const f = await vectorFrontier({
        target: s.address,
        dataset: BASE,
        index: INDEX,
        truthThreads: 0,
        signal,
        efRuntime: [10, 20, 40],
        onPoint: async () => {
          await redisCommand(s.address, ["FT.DROPINDEX", "membench_idx"]);
        },
      });
      assert.equal(f.points.length, 1);
      assert.match(f.failure!.message, /membench_idx/);
    });
    // The index dropped from another connection while a step is sending: the throughput step (a
    // timed run) loses it after its first progress report with answers. The step fails, naming
    // the index and how many queries failed; nothing is judged on the queries that succeeded.
    await bounded(60_000, async (signal) => {
      let dropped = false;
      const dropMidStep = (p: { phase: string; done: number; total?: number }) => {
        if (dropped || p.phase !== "query" || p.total !== undefined || p.done === 0) return;
        dropped = true;
        redisCommand(s.address, ["FT.DROPINDEX", "membench_idx"]).catch(() => {});
      };
      const r = await vectorOptimize({
        target: s.address,
        dataset: BASE,
        index: INDEX,
        truthThreads: 0,
        signal,
        targetRecall: 0.2,
        minEfSearch: 10,
        maxEfSearch: 80,
        maxClients: 1,
        maxPipeline: 1,
        stepDurationMs: 3000,
        onProgress: dropMidStep,
      });
      assert.ok(dropped);
      assert.equal(r.status, "failed", formatVectorOptimizeText(r));
      assert.deepEqual(r.steps.map((st) => st.phase), ["feasibility"]);
      assert.match(
        r.failure!.message,
        /^Cannot measure EF_RUNTIME 10 on index membench_idx: \d+ of \d+ queries failed \(\d+ membench_idx:\)$/,
      );
      assert.match(formatVectorOptimizeText(r), /^vec optimize {2}FAILED/);
      assert.deepEqual(await redisCommand(s.address, ["FT._LIST"]), { type: "array", value: [] });
      // The frontier: a timed point loses the index the same way.
      dropped = false;
      const f = await vectorFrontier({
        target: s.address,
        dataset: BASE,
        index: INDEX,
        truthThreads: 0,
        signal,
        efRuntime: [10, 20],
        durationMs: 3000,
        onProgress: dropMidStep,
      });
      assert.ok(dropped);
      assert.equal(f.points.length, 0);
      assert.match(f.failure!.message, /membench_idx: \d+ of \d+ queries failed/);
    });
    // A dataset without ground truth: the truth is computed on the fly, and the result says so.
    const dir = await Deno.makeTempDir();
    try {
      await generateDataset(`${dir}/g.mbv`, { dim: 16, count: 2000, queries: 40, k: 0, seed: 5 });
      await bounded(60_000, async (signal) => {
        const g = await vectorOptimize({
          target: s.address,
          dataset: `${dir}/g.mbv`,
          index: { name: "gen", prefix: "g:" },
          truthThreads: 0,
          signal,
          targetRecall: 0.5,
          maxEfSearch: 400,
          throughput: false,
        });
        assert.equal(g.status, "complete", g.message);
        assert.deepEqual([g.truth.computed, g.truth.datasetHasTruth, g.truth.queries], [
          true,
          false,
          40,
        ]);
        assert.match(
          formatVectorOptimizeText(g),
          /exact truth computed on the fly over what the server holds: 40 queries, k 10, .* \(the dataset has no ground truth\)/,
        );
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
    const keys = await redisCommand(s.address, ["DBSIZE"]);
    const e = await vectorOptimize({
      target: s.address,
      dataset: BASE,
      targetRecall: 1.5,
      minEfSearch: 100,
      maxEfSearch: 10,
      index: { algorithm: "FLAT" },
    }).catch((x) => x);
    assert.ok(e instanceof MembenchError && e.code === "invalid_argument");
    assert.match(e.message, /'targetRecall'/);
    assert.match(e.message, /'minEfSearch' is above 'maxEfSearch'/);
    assert.match(e.message, /FLAT index/);
    assert.deepEqual(await redisCommand(s.address, ["DBSIZE"]), keys);
  },
);

loadTest(
  "vectorFrontier(): log-spaced and refined points, no dominated frontier point, points reproducible within their CI, CSV and an HTML chart whose data attributes equal the JSON (Chromium)",
  async () => {
    await using s = await searchServer();
    const dir = await Deno.makeTempDir();
    try {
      await bounded(120_000, async (signal) => {
        const f = await vectorFrontier({
          target: s.address,
          dataset: BASE,
          index: INDEX,
          truthThreads: 0,
          signal,
          minEfSearch: 10,
          maxEfSearch: 640,
          points: 7,
          refine: 2,
        });
        assert.equal(f.failure, undefined);
        const base = f.points.filter((p) => !p.refined).map((p) => p.efRuntime);
        assert.deepEqual(base, [10, 20, 40, 80, 160, 320, 640]);
        assert.ok(f.points.some((p) => p.refined), "no point refined near the knee");
        const efs = f.points.map((p) => p.efRuntime);
        assert.deepEqual(efs, [...efs].sort((a, b) => a - b));
        assert.equal(new Set(efs).size, efs.length);
        const xy = f.points.map((p) => ({ recall: p.recall.estimate, qps: p.qps }));
        f.points.forEach((p, i) => {
          const beaten = xy.some((q) => dominates(q, xy[i]!));
          assert.equal(
            p.pareto,
            !beaten,
            `EF ${p.efRuntime}: pareto ${p.pareto}, dominated ${beaten}`,
          );
        });
        assert.ok(f.frontier.length >= 1);
        // The highest recall point is always on the frontier.
        const top = f.points.reduce((a, b) => b.recall.estimate > a.recall.estimate ? b : a);
        assert.ok(f.frontier.includes(top.efRuntime));
        assert.equal(
          f.qpsAtRecall95,
          Math.max(0, ...f.points.filter((p) => p.recall.estimate >= 0.95).map((p) => p.qps)),
        );
        // Re-measured, each point's recall lies inside its interval.
        const again = await vectorFrontier({
          target: s.address,
          dataset: BASE,
          index: INDEX,
          load: false,
          truthThreads: 0,
          signal,
          efRuntime: efs,
          seed: 2,
        });
        for (const p of f.points) {
          const q = again.points.find((x) => x.efRuntime === p.efRuntime)!;
          assert.ok(
            q.recall.estimate >= p.recall.low && q.recall.estimate <= p.recall.high,
            `EF ${p.efRuntime}: ${q.recall.estimate} outside [${p.recall.low}, ${p.recall.high}]`,
          );
        }
        // CSV read back by Python's csv module.
        const rows = JSON.parse(
          await pythonStdin(
            "import sys,csv,json\nprint(json.dumps(list(csv.DictReader(sys.stdin))))",
            formatVectorFrontierCsv(f),
          ),
        ) as Array<Record<string, string>>;
        assert.equal(rows.length, f.points.length);
        rows.forEach((row, i) => {
          const p = f.points[i]!;
          assert.equal(Number(row.ef_runtime), p.efRuntime);
          assert.equal(Number(row.recall_mean), p.recall.estimate);
          assert.equal(Number(row.recall_low), p.recall.low);
          assert.equal(Number(row.qps), p.qps);
          assert.equal(row.pareto, p.pareto ? "1" : "0");
        });
        // The HTML chart in Chromium.
        const json = JSON.parse(formatVectorFrontierJson(f));
        await Deno.writeTextFile(`${dir}/f.html`, formatVectorFrontierHtml(f));
        const { dom, log } = await chromium(`${dir}/f.html`);
        assert.doesNotMatch(log, /Uncaught|CONSOLE.*error|Failed to load/i, log);
        const pts = [
          ...dom.matchAll(
            /class="point" data-ef="(\d+)" data-recall="([^"]+)" data-recall-low="([^"]+)" data-recall-high="([^"]+)" data-qps="([^"]+)" data-p99-ms="([^"]+)" data-pareto="(true|false)"/g,
          ),
        ].map((m) => ({
          efRuntime: Number(m[1]),
          recall: Number(m[2]),
          low: Number(m[3]),
          high: Number(m[4]),
          qps: Number(m[5]),
          p99Ms: Number(m[6]),
          pareto: m[7] === "true",
        }));
        assert.deepEqual(
          pts,
          json.points.map((p: typeof f.points[number]) => ({
            efRuntime: p.efRuntime,
            recall: p.recall.estimate,
            low: p.recall.low,
            high: p.recall.high,
            qps: p.qps,
            p99Ms: p.p99Ms,
            pareto: p.pareto,
          })),
        );
        const line = /class="frontier" data-ef="([^"]*)"/.exec(dom)![1]!;
        assert.deepEqual(line.split(",").map(Number), json.frontier);
        // Labels name each point's settings; the y axis is logarithmic (decade ticks).
        for (const p of f.points) {
          assert.match(dom, new RegExp(`>EF ${p.efRuntime} M 4 EFC 10 c4<`));
        }
        const ticks = [...dom.matchAll(/class="tick" data-qps="([\d.e+]+)"/g)].map((m) =>
          Number(m[1])
        );
        assert.ok(ticks.length >= 2);
        for (let i = 1; i < ticks.length; i++) assert.equal(ticks[i]! / ticks[i - 1]!, 10);
        const embedded = /<script type="application\/json" id="result">([\s\S]*?)<\/script>/.exec(
          dom,
        )![1]!;
        assert.deepEqual(JSON.parse(embedded), json);
        assert.equal(
          Number(/id="qps-at-recall-95" data-value="([^"]+)"/.exec(dom)![1]),
          json.qpsAtRecall95,
        );
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

loadTest(
  "run.vectorOptimize(): the choice and the frontier as metrics, judged by thresholds, in the run's phases",
  async () => {
    const outDir = await Deno.makeTempDir({ prefix: "membench-vopt-" });
    try {
      let ef = 0;
      let qps95 = -1;
      const r = await runScenario(
        "vector-optimize",
        { server: { kind: "redis", modules: [{ path: MODULE }] }, seed: 3, outDir, history: false },
        async (run) => {
          const o = await run.vectorOptimize({
            name: "opt",
            dataset: BASE,
            index: INDEX,
            truthThreads: 0,
            targetRecall: 0.6,
            minEfSearch: 10,
            maxEfSearch: 160,
            maxClients: 2,
            stepDurationMs: 300,
            frontier: { points: 4, refine: 0 },
            thresholds: [
              "optimize.feasible == 1",
              "optimize.ef_runtime <= 160",
              "frontier.qps_at_recall_95 >= 0",
              "frontier.points == 4",
            ],
          });
          ef = o.optimize.efRuntime ?? 0;
          qps95 = o.frontier?.qpsAtRecall95 ?? -1;
          // A threshold that fails: the phase fails, the metric's value is kept.
          await run.vectorOptimize({
            name: "opt-strict",
            dataset: BASE,
            index: INDEX,
            load: false,
            truthThreads: 0,
            targetRecall: 0.6,
            minEfSearch: 10,
            maxEfSearch: 160,
            throughput: false,
            frontier: false,
            thresholds: ["optimize.ef_runtime < 10"],
          });
        },
      );
      const [a, b] = r.phases;
      assert.deepEqual(r.phases.map((p) => [p.name, p.kind]), [
        ["opt", "vector-optimize"],
        ["opt-strict", "vector-optimize"],
      ]);
      assert.ok(a && a.state === "passed", JSON.stringify(a));
      assert.equal(a.metrics["optimize.ef_runtime"]!.value, ef);
      assert.equal(a.metrics["frontier.qps_at_recall_95"]!.value, qps95);
      assert.equal(a.metrics["frontier.points"]!.value, 4);
      assert.ok(a.metrics["optimize.recall_low"]!.value >= 0.6);
      assert.ok(b && b.state === "failed", JSON.stringify(b));
      assert.equal(b.metrics["frontier.points"], undefined);
      assert.equal(b.thresholds[0]!.pass, false);
      assert.equal(b.thresholds[0]!.value, b.metrics["optimize.ef_runtime"]!.value);
      assert.equal(r.exitCode, 4);
    } finally {
      await Deno.remove(outDir, { recursive: true });
    }
  },
);

loadTest(
  "scenarios/vss-optimize.ts with MEMBENCH_SEARCH_MODULE: passes its thresholds and writes the frontier chart",
  async () => {
    const outDir = await Deno.makeTempDir({ prefix: "membench-vss-opt-test-" });
    try {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", new URL("../scenarios/vss-optimize.ts", import.meta.url).pathname],
        cwd: outDir,
        clearEnv: true,
        env: {
          PATH: Deno.env.get("PATH") ?? "",
          HOME: outDir,
          MEMBENCH_OUT_DIR: outDir,
          MEMBENCH_SEARCH_MODULE: MODULE,
        },
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(180_000),
      }).output();
      const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, text);
      const file = [...Deno.readDirSync(outDir)].find((e) => e.name.endsWith(".json"))!;
      const summary = JSON.parse(await Deno.readTextFile(`${outDir}/${file.name}`));
      const phase = summary.phases[0];
      assert.deepEqual([phase.name, phase.kind, phase.state], [
        "optimize",
        "vector-optimize",
        "passed",
      ]);
      assert.ok(phase.metrics["optimize.ef_runtime"].value <= 200);
      assert.ok(phase.metrics["frontier.qps_at_recall_95"].value > 1000);
      const html = await Deno.readTextFile(`${outDir}/frontier.html`);
      assert.equal(
        [...html.matchAll(/class="point"/g)].length,
        phase.metrics["frontier.points"].value,
      );
    } finally {
      await Deno.remove(outDir, { recursive: true });
    }
  },
);

function portOf(address: string): string {
  return address.slice(address.lastIndexOf(":") + 1);
}

loadTest(
  "membench vec optimize and vec frontier: JSON, exit codes (0, 4 infeasible, 2 bad flags all at once), CSV and the HTML file",
  async () => {
    await using s = await searchServer();
    const port = portOf(s.address);
    const dir = await Deno.makeTempDir();
    try {
      const common = ["-p", port, "--dataset", BASE, "--hnsw-m", "4", "--ef-construction", "10"];
      const o = await runCli([
        "vec",
        "optimize",
        ...common,
        "--target-recall",
        "0.5",
        "--max-ef-search",
        "80",
        "--max-clients",
        "4",
        "--step-duration",
        "300ms",
        "--target-p99",
        "50ms",
        "--first-queries",
        "20",
        "--max-queries",
        "70",
        "--throughput-runs",
        "2",
        "--json",
        "-",
        "--no-progress",
      ]);
      assert.equal(o.code, 0, o.stderr);
      const j = JSON.parse(o.stdout);
      // Re-measurement flags: every recall step's first round is 20 queries, none sends over 70.
      type Round = { from: number; to: number; sent: number };
      const rs = j.steps.filter((st: { phase: string }) => st.phase !== "throughput");
      for (const st of rs as Array<{ rounds: Round[] }>) {
        assert.equal(st.rounds[0]!.to - st.rounds[0]!.from, 20);
        assert.ok(st.rounds[st.rounds.length - 1]!.sent <= 70);
      }
      // --throughput-runs 2: two runs a throughput step, up to four while the spread is above 10%.
      const ths = j.steps.filter((st: { phase: string }) => st.phase === "throughput");
      for (const st of ths as Array<{ runs: unknown[]; spread: number; noisy: boolean }>) {
        assert.ok(st.runs.length >= 2 && st.runs.length <= 4, JSON.stringify(st.runs));
        // Fewer than four runs: the spread came within 10%; four: noisy when it did not.
        if (st.runs.length < 4) assert.ok(st.spread <= 0.1, `${st.spread}`);
        assert.equal(st.noisy, st.runs.length === 4 && st.spread > 0.1);
      }
      assert.equal(j.kind, "vector-optimize");
      assert.equal(j.status, "complete");
      assert.equal(j.target.p99Ms, 50);
      assert.ok(j.efRuntime >= 10 && j.efRuntime <= 80);
      assert.ok(j.recall.low >= 0.5);
      assert.ok(j.steps.some((st: { phase: string }) => st.phase === "throughput"));
      // Infeasible: exit 4, the text names the best recall seen.
      const inf = await runCli([
        "vec",
        "optimize",
        ...common,
        "--skip-load",
        "-k",
        "100",
        "--target-recall",
        "1",
        "--min-ef-search",
        "1",
        "--max-ef-search",
        "10",
        "--no-progress",
      ]);
      assert.equal(inf.code, 4, inf.stderr);
      assert.match(inf.stdout, /INFEASIBLE/);
      assert.match(inf.stdout, /the best seen is recall mean \d+\.\d\d% \(95% CI/);
      // The build grid: each build rebuilt and searched; the choice is the feasible build with the
      // most QPS at its EF_RUNTIME; build time and memory per build.
      const g = await runCli([
        "vec",
        "optimize",
        ...common,
        "--target-recall",
        "0.5",
        "--max-ef-search",
        "80",
        "--grid",
        "m=4,8 ef-construction=10",
        "--skip-throughput",
        "--json",
        "-",
        "--no-progress",
      ]);
      assert.equal(g.code, 0, g.stderr);
      const gj = JSON.parse(g.stdout);
      assert.equal(gj.status, "complete");
      assert.deepEqual(
        gj.grid.map((e: { m: number; efConstruction: number }) => [e.m, e.efConstruction]),
        [[4, 10], [8, 10]],
      );
      for (const e of gj.grid) {
        assert.equal(e.status, "complete");
        assert.equal(e.load.vectors, 4900);
        assert.ok(e.load.buildMs > 0 && e.load.memoryBytes > 0);
      }
      // More edges per node, a larger graph (FT.INFO's vector index size).
      assert.ok(gj.grid[1].load.vectorIndexBytes > gj.grid[0].load.vectorIndexBytes);
      const bestQps = Math.max(...gj.grid.map((e: { qps: number }) => e.qps));
      const pick = gj.grid.find((e: { qps: number }) => e.qps === bestQps);
      assert.deepEqual([gj.index.m, gj.index.efConstruction], [pick.m, pick.efConstruction]);
      assert.match(gj.message, /^Of 2 builds, M (4|8) EF_CONSTRUCTION 10 gives the most QPS/);
      // Bad flags: every problem at once, before any load.
      const bad = await runCli([
        "vec",
        "optimize",
        "-p",
        port,
        "--dataset",
        BASE,
        "--target-recall",
        "1.5",
        "--recall-statistic",
        "p50",
        "--grid",
        "m=x",
        "--max-rounds",
        "0",
      ]);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /--max-rounds/);
      assert.match(bad.stderr, /--target-recall/);
      assert.match(bad.stderr, /--recall-statistic/);
      assert.match(bad.stderr, /--grid/);
      const f = await runCli([
        "vec",
        "frontier",
        ...common,
        "--skip-load",
        "--ef-search",
        "10,20,40,80",
        "--csv",
        "--json",
        `${dir}/f.json`,
        "--html",
        `${dir}/f.html`,
        "--no-progress",
      ]);
      assert.equal(f.code, 0, f.stderr);
      const fj = JSON.parse(await Deno.readTextFile(`${dir}/f.json`));
      assert.deepEqual(fj.points.map((p: { efRuntime: number }) => p.efRuntime), [10, 20, 40, 80]);
      const lines = f.stdout.trim().split("\n");
      assert.equal(lines[0]!.split(",")[0], "ef_runtime");
      assert.equal(lines.length, 5);
      // The frontier over a build grid: every build swept, Pareto across all of them.
      const fg = await runCli([
        "vec",
        "frontier",
        ...common,
        "--grid",
        "m=4,8",
        "--ef-search",
        "10,40,160",
        "--json",
        "-",
        "--no-progress",
      ]);
      assert.equal(fg.code, 0, fg.stderr);
      const gf = JSON.parse(fg.stdout);
      assert.deepEqual(
        gf.points.map((p: { m: number; efRuntime: number }) => [p.m, p.efRuntime]),
        [[4, 10], [4, 40], [4, 160], [8, 10], [8, 40], [8, 160]],
      );
      assert.deepEqual(gf.builds.map((b: { m: number }) => b.m), [4, 8]);
      type P = { recall: { estimate: number }; qps: number; pareto: boolean };
      for (const p of gf.points as P[]) {
        const beaten = (gf.points as P[]).some((q) =>
          dominates(
            { recall: q.recall.estimate, qps: q.qps },
            { recall: p.recall.estimate, qps: p.qps },
          )
        );
        assert.equal(p.pareto, !beaten);
      }
      const html = await Deno.readTextFile(`${dir}/f.html`);
      assert.equal([...html.matchAll(/class="point"/g)].length, 4);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
