/**
 * vss-optimize: which EF_RUNTIME reaches 95% recall@10 at the lowest cost on this data and this
 * server, how many clients give the most QPS there, and what the whole recall / QPS trade-off
 * looks like.
 *
 * The phase `optimize` (run.vectorOptimize):
 *   1. loads the dataset into an HNSW index (M 16, EF_CONSTRUCTION 200) and computes the exact
 *      truth of its queries over what was loaded;
 *   2. feasibility, then a binary search on EF_RUNTIME from 10 to 1024 for the smallest value
 *      whose mean recall@10 meets 0.95 at the lower bound of its bootstrap interval over queries;
 *   3. throughput: clients double from 1 (up to 16) at that EF_RUNTIME until QPS stops rising or
 *      p99 passes 20 ms;
 *   4. the frontier: EF_RUNTIME log-spaced over the same range, refined near the knee, on the
 *      same index; `frontier.html` in the output folder draws it.
 * Thresholds: `optimize.feasible == 1`, `optimize.ef_runtime <= 200`,
 * `frontier.qps_at_recall_95 > 1k`.
 *
 * Run it:
 *   MEMBENCH_SEARCH_MODULE=/path/to/redisearch.so ./node_modules/.bin/deno run -A scenarios/vss-optimize.ts
 *       starts a throwaway redis-server on a free loopback port with that module loaded;
 *   MEMBENCH_TARGET=redis://host:6379 ./node_modules/.bin/deno run -A scenarios/vss-optimize.ts
 *       uses your server; it drops and recreates the index `membench_idx` and its `vec:` hashes.
 *   MEMBENCH_DATASET=path  a dataset to load; without it a seeded 10,000 x 32 dataset is
 *       generated (no ground truth: the truth is computed on the fly either way).
 *
 * Exit codes: 0 passed, 4 a threshold failed (an infeasible target included), 2 nothing to run
 * against, 3 server unreachable, 130 Ctrl+C.
 */
import { formatVectorFrontierHtml, generateDataset, MembenchError, scenario } from "../mod.ts";

const env = (name: string) => Deno.env.get(name) || undefined;
const module = env("MEMBENCH_SEARCH_MODULE");
const datasetPath = env("MEMBENCH_DATASET");

interface Data {
  path: string;
  tempDir?: string;
}

await scenario<Data>("vss-optimize", {
  ...(module ? { server: { kind: "redis" as const, modules: [{ path: module }] } } : {}),
  seed: 1,
  description: "the cheapest EF_RUNTIME for recall@10 >= 0.95, its best client count, the frontier",
  setup: async (run) => {
    if (run.target === undefined) {
      throw new MembenchError(
        "invalid_argument",
        "Cannot run vss-optimize: there is no server with a search module to run against",
        {
          hint: "set MEMBENCH_SEARCH_MODULE=/path/to/redisearch.so (a local redis-server loads " +
            "it) or MEMBENCH_TARGET=host:port (a server that has one)",
        },
      );
    }
    if (datasetPath) return { path: datasetPath };
    const tempDir = await Deno.makeTempDir({ prefix: "membench-vss-opt-" });
    const path = `${tempDir}/vss-optimize.mbv`;
    await generateDataset(path, { dim: 32, count: 10_000, queries: 200, k: 0, seed: 1 });
    run.log(`generated ${path} (10000 x 32, 200 queries, seed 1, no ground truth)`);
    return { path, tempDir };
  },
  teardown: async (_run, data) => {
    if (data?.tempDir) await Deno.remove(data.tempDir, { recursive: true });
  },
}, async (run, data) => {
  const r = await run.vectorOptimize({
    name: "optimize",
    dataset: data.path,
    index: { m: 16, efConstruction: 200 },
    targetRecall: 0.95,
    minEfSearch: 10,
    maxEfSearch: 1024,
    targetP99Ms: 20,
    maxClients: 16,
    maxPipeline: 1,
    stepDurationMs: 1000,
    frontier: { points: 8, refine: 2 },
    thresholds: [
      "optimize.feasible == 1",
      "optimize.ef_runtime <= 200",
      "frontier.qps_at_recall_95 > 1k",
    ],
  });
  run.log(r.optimize.message);
  if (r.frontier) {
    await Deno.writeTextFile(`${run.outDir}/frontier.html`, formatVectorFrontierHtml(r.frontier));
  }
});
