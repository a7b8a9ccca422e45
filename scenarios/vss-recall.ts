/**
 * vss-recall: load a vector dataset into a search server, query it at two EF_RUNTIME values,
 * and know the recall, the latency and the throughput in one scripted run.
 *
 * The phases:
 *   1. `load`: FT.CREATE (HNSW, M 16, EF_CONSTRUCTION 200) and HSET of every vector, pipelined
 *      over 8 connections; waits for the index (FT.INFO) and fails if any document was left out
 *      of it (`index.failures`).
 *   2. `query-ef10`, `query-ef100`: FT.SEARCH KNN 10 with EF_RUNTIME 10 and 100, 4 connections,
 *      each starting at its own seeded place in the query set; every reply is scored against the
 *      exact ground truth of what was loaded (recall@10: mean, p5, …).
 *
 * Run it:
 *   MEMBENCH_SEARCH_MODULE=/path/to/redisearch.so ./node_modules/.bin/deno run -A scenarios/vss-recall.ts
 *       starts a throwaway redis-server on a free loopback port with that module loaded
 *       (MEMBENCH_SEARCH_MODULE_ARGS adds module arguments, space-separated);
 *   MEMBENCH_TARGET=redis://host:6379 ./node_modules/.bin/deno run -A scenarios/vss-recall.ts
 *       uses your server (RediSearch, Redis 8, valkey-search: detected from MODULE LIST). It
 *       drops and recreates the index `membench_idx` and its `vec:` hashes.
 *   MEMBENCH_DATASET=path  a dataset to load (fvecs with _query siblings, ann-benchmarks HDF5,
 *       .npy, membench binary); without it a seeded 20,000 x 64 dataset is generated.
 *
 * Exit codes: 0 passed, 4 a threshold or check failed, 2 nothing to run against (neither
 * variable set), 3 server unreachable, 130 Ctrl+C.
 */
import { generateDataset, MembenchError, openDataset, scenario, vectorTruth } from "../mod.ts";

const env = (name: string) => Deno.env.get(name) || undefined;
const module = env("MEMBENCH_SEARCH_MODULE");
const moduleArgs = env("MEMBENCH_SEARCH_MODULE_ARGS")?.split(/\s+/).filter((a) => a !== "");
const datasetPath = env("MEMBENCH_DATASET");

interface Data {
  path: string;
  tempDir?: string;
}

await scenario<Data>("vss-recall", {
  // With a module and no MEMBENCH_TARGET: a local redis-server with the module, for this run.
  ...(module
    ? { server: { kind: "redis" as const, modules: [{ path: module, args: moduleArgs ?? [] }] } }
    : {}),
  seed: 1,
  description: "recall@10, latency and throughput of KNN queries at EF_RUNTIME 10 and 100",
  setup: async (run) => {
    if (run.target === undefined) {
      throw new MembenchError(
        "invalid_argument",
        "Cannot run vss-recall: there is no server with a search module to run against",
        {
          hint: "set MEMBENCH_SEARCH_MODULE=/path/to/redisearch.so (a local redis-server loads " +
            "it) or MEMBENCH_TARGET=host:port (a server that has one)",
        },
      );
    }
    if (datasetPath) return { path: datasetPath };
    const tempDir = await Deno.makeTempDir({ prefix: "membench-vss-" });
    const path = `${tempDir}/vss-recall.mbv`;
    // Same seed, same bytes: 16 Gaussian clusters in 64 dimensions, 200 queries.
    await generateDataset(path, { dim: 64, count: 20_000, queries: 200, k: 10, seed: 1 });
    run.log(`generated ${path} (20000 x 64, 200 queries, seed 1)`);
    return { path, tempDir };
  },
  teardown: async (_run, data) => {
    if (data?.tempDir) await Deno.remove(data.tempDir, { recursive: true });
  },
}, async (run, data) => {
  const load = await run.vectorLoad({
    name: "load",
    dataset: data.path,
    index: { algorithm: "HNSW", m: 16, efConstruction: 200 },
    dropBefore: true,
    clients: 8,
    thresholds: ["index.failures == 0", "load.errors == 0"],
    warnings: ["load.vectors_per_s > 1k"],
  });
  // The ground truth over what was loaded, computed once for both query phases.
  using ds = await openDataset(data.path);
  const truth = await vectorTruth(ds, { k: 10, loaded: load.segments });
  const results = [];
  for (const ef of [10, 100]) {
    results.push(
      await run.vectorQuery({
        name: `query-ef${ef}`,
        dataset: ds,
        truth,
        segments: load.segments,
        k: 10,
        efRuntime: ef,
        requests: 2000,
        clients: 4,
        thresholds: ef === 100
          ? ["recall.mean >= 0.95", "recall.p5 >= 0.8", "errors == 0", "partial == 0"]
          : ["errors == 0"],
        warnings: ["query.p99 < 50ms"],
      }),
    );
  }
  run.check(
    "recall rises with EF_RUNTIME",
    results[1]!.recall.mean >= results[0]!.recall.mean,
    `EF_RUNTIME 10: ${results[0]!.recall.mean.toFixed(3)}, 100: ${
      results[1]!.recall.mean.toFixed(3)
    }`,
  );
});
