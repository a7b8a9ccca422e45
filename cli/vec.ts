/**
 * `membench vec load|query|run|optimize|frontier`: vector search benchmarks against RediSearch, Redis 8,
 * valkey-search, MemoryDB or ElastiCache, with flags in the spirit of valkey-search-benchmark;
 * flags -> `vectorRun()` (`lib/vector/run.ts`) -> the vector renderers. `membench bench -t
 * vec-load,vec-query --dataset FILE` is an alias (see {@linkcode vecBenchAlias}).
 *
 * @module
 */
import { EXIT, exitCodeFor, MembenchError } from "../lib/errors/mod.ts";
import {
  formatVectorFrontierCsv,
  formatVectorFrontierHtml,
  formatVectorFrontierJson,
  formatVectorFrontierText,
  formatVectorOptimizeJson,
  formatVectorOptimizeText,
  formatVectorProgress,
  formatVectorRunCsv,
  formatVectorRunHtml,
  formatVectorRunJson,
  formatVectorRunText,
} from "../lib/report/mod.ts";
import {
  mergeVectorRunResults,
  parseMetric,
  vectorFrontier,
  type VectorFrontierOptions,
  type VectorFrontierResult,
  type VectorLoadResult,
  vectorOptimize,
  type VectorOptimizeOptions,
  type VectorOptimizeResult,
  type VectorQueryResult,
  vectorRun,
  type VectorRunOptions,
  type VectorRunResult,
  VSS_PLATFORM_NAMES,
} from "../lib/vector/mod.ts";
import { AUTH_FLAGS, OUTPUT_FLAGS, TARGET_FLAGS, targetsFrom } from "./common_flags.ts";
import {
  BadValue,
  bool,
  type CommandSpec,
  custom,
  defined,
  duration,
  type FlagSet,
  formatFlags,
  int,
  num,
  oneOf,
  type ParsedArgs,
  type Problems,
  rate,
  text,
  withSpec,
  wrapText,
} from "./flags.ts";
import { runCommand, type RunContext, runSubcommand } from "./runner.ts";
import { SHARD_FLAGS, shardOf } from "./shards.ts";

const CONN = "Connection";
const INDEX = "Index";
const DATA = "Dataset";
const LOAD = "Load";
const QUERY = "Query";

const SHARED_FLAGS = {
  host: TARGET_FLAGS.host,
  port: withSpec(TARGET_FLAGS.port, { defaultText: "6379" }),
  socket: TARGET_FLAGS.socket,
  uri: withSpec(TARGET_FLAGS.uri, { help: "redis://[user:pass@]host:port/db or host:port" }),
  ...AUTH_FLAGS,
  resp3: bool({
    short: "3",
    section: CONN,
    help: "speak RESP3 (HELLO 3) on the load and query connections",
  }),
  clients: int({
    short: "c",
    value: "N",
    min: 1,
    max: 10_000,
    section: CONN,
    help: "connections",
    defaultText: "4",
  }),
  pipeline: int({
    short: "P",
    value: "N",
    min: 1,
    max: 100_000,
    section: CONN,
    help: "requests in flight per connection",
    defaultText: "16 for load, 1 for queries",
  }),
  io: oneOf(["auto", "uring", "deno"], {
    value: "KIND",
    section: CONN,
    help: "hot-loop I/O: uring (io_uring, plain TCP to an IP address), deno, or auto",
    defaultText: "auto",
  }),
  timeout: duration({
    value: "D",
    section: CONN,
    help: "a request unanswered this long fails its connection",
    defaultText: "30s",
  }),
  shard: withSpec(SHARD_FLAGS.shard, {
    help: "run shard I (from 0) of N: load its part of the rows (shard 0 creates the index), " +
      "query from its part of the clients; N shards together do what one run does (merge their " +
      "--json results with membench merge). In a Kubernetes Indexed Job, JOB_COMPLETION_INDEX " +
      "with MEMBENCH_SHARDS=N gives it",
  }),
  vssPlatform: oneOf(["auto", ...VSS_PLATFORM_NAMES], {
    value: "NAME",
    section: INDEX,
    help:
      `the search platform: ${
        VSS_PLATFORM_NAMES.join(", ")
      }; auto detects it (MODULE LIST, INFO); ` +
      "an option the platform does not have is an error before any load",
    defaultText: "auto",
  }),
  searchIndex: text({
    value: "NAME",
    section: INDEX,
    help: "index name",
    defaultText: "membench_idx",
  }),
  searchPrefix: text({
    value: "P",
    section: INDEX,
    help: "key prefix (keys are prefix + id)",
    defaultText: "vec:",
  }),
  searchVectorField: text({
    value: "F",
    section: INDEX,
    help: "the vector field",
    defaultText: "vec",
  }),
  searchAlgorithm: oneOf(["HNSW", "FLAT"], {
    value: "A",
    section: INDEX,
    help: "HNSW or FLAT",
    defaultText: "HNSW",
    normalize: (s) => s.trim().toUpperCase(),
  }),
  searchDistance: custom({
    value: "M",
    section: INDEX,
    help: "DISTANCE_METRIC: L2, IP or COSINE (euclidean, dot, angular)",
    defaultText: "the dataset's, else L2",
  }, (s) => {
    try {
      return parseMetric(s);
    } catch {
      throw new BadValue("expected L2 (euclidean), IP (dot) or COSINE (angular)");
    }
  }),
  searchType: oneOf(["FLOAT32", "FLOAT64", "FLOAT16", "BFLOAT16"], {
    value: "T",
    section: INDEX,
    help: "element type stored (FLOAT16 and BFLOAT16 where the platform has them)",
    defaultText: "FLOAT32",
    normalize: (s) => s.trim().toUpperCase(),
  }),
  hnswM: int({
    value: "M",
    min: 1,
    section: INDEX,
    help: "HNSW M (edges per node)",
    defaultText: "the platform's (16)",
  }),
  efConstruction: int({ value: "N", min: 1, section: INDEX, help: "HNSW EF_CONSTRUCTION" }),
  initialCap: int({ value: "N", min: 1, section: INDEX, help: "INITIAL_CAP" }),
  dataset: text({
    value: "FILE",
    required: true,
    section: DATA,
    help:
      "the dataset: .fvecs/.bvecs (queries and ground truth beside it), HDF5, .npy or membench's binary format",
  }),
  numVectors: int({
    value: "N",
    section: DATA,
    help: "vectors loaded (held, for query)",
    defaultText: "all from the offset",
  }),
  vectorOffset: int({
    value: "N",
    section: DATA,
    help: "first dataset row (key ids are rows)",
    defaultText: "0",
  }),
  cleanup: bool({
    section: INDEX,
    help: "drop the index and its hashes (FT.DROPINDEX … DD) at the end",
  }),
  json: OUTPUT_FLAGS.json,
  csv: bool({ section: "Output", help: "CSV on stdout: one row per phase" }),
  html: text({
    value: "FILE",
    section: "Output",
    help: "a self-contained HTML report: recall histograms and latency per query phase",
  }),
  noProgress: OUTPUT_FLAGS.noProgress,
};

const LOAD_FLAGS = {
  skipIndexCreate: bool({
    section: LOAD,
    help: "do not create the index: it must exist and fit the dataset",
  }),
  dropBefore: bool({ section: LOAD, help: "drop the index and its hashes before creating it" }),
  loadRate: rate({
    value: "R",
    section: LOAD,
    help: "vectors per second in all (unlimited when absent)",
  }),
  allowIndexFailures: bool({
    section: LOAD,
    help: "documents left out of the index (hash_indexing_failures) do not fail the run",
  }),
  indexTimeout: duration({
    value: "D",
    section: LOAD,
    help: "how long to wait for the index after the load",
    defaultText: "10m",
  }),
};

const QUERY_FLAGS = {
  k: int({
    short: "k",
    value: "K",
    min: 1,
    max: 10_000,
    section: QUERY,
    help: "neighbours per query (KNN k)",
    defaultText: "10",
  }),
  efSearch: custom({
    value: "N[,N…]",
    section: QUERY,
    help: "EF_RUNTIME of HNSW queries; a list runs one query phase per value",
  }, (s) => {
    const items = s.split(",").map((x) => x.trim()).filter(Boolean);
    if (items.length === 0 || items.some((x) => !/^\d+$/.test(x) || Number(x) < 1)) {
      throw new BadValue("expected integers >= 1, comma-separated");
    }
    return items.map(Number);
  }),
  nocontent: bool({
    section: QUERY,
    help: "NOCONTENT: ids only (default where the platform has it)",
  }),
  withContent: bool({ section: QUERY, help: "RETURN the score field instead of NOCONTENT" }),
  filteredSearch: text({
    value: "EXPR",
    section: QUERY,
    help: "a pre-filter in RediSearch syntax ('@tag:{red} @price:[0 50]'); recall is scored " +
      "against the filtered truth; write --filtered-search=EXPR when EXPR starts with '-'",
  }),
  numQueries: int({
    value: "N",
    min: 1,
    section: QUERY,
    help: "use the first N query vectors",
    defaultText: "all",
  }),
  requests: int({
    short: "n",
    value: "N",
    min: 1,
    section: QUERY,
    help: "queries per phase",
    defaultText: "the query set once",
  }),
  duration: duration({
    value: "D",
    section: QUERY,
    help: 'run each query phase for D ("30s") instead of -n',
  }),
  rate: rate({
    value: "R",
    section: QUERY,
    help: "open loop at R queries/s in all; latency is then from each query's intended send time",
  }),
  arrival: oneOf(["constant", "poisson"], {
    value: "KIND",
    section: QUERY,
    help: "open-loop arrivals",
    defaultText: "constant",
  }),
  queryTimeout: int({ value: "MS", section: QUERY, help: "the query's TIMEOUT (server side), ms" }),
  seed: int({
    value: "N",
    section: QUERY,
    help: "seeds each client's start in the query set",
    defaultText: "1",
  }),
  recallThreshold: num({
    value: "R",
    section: QUERY,
    help: "exit 4 when a query phase's mean recall@k is below R (0 to 1)",
  }),
};

const RUN_FLAGS = {
  ...SHARED_FLAGS,
  ...LOAD_FLAGS,
  skipLoad: bool({
    section: LOAD,
    help: "query what the server holds (rows [--vector-offset, +--num-vectors))",
  }),
  ...QUERY_FLAGS,
};
const LOAD_CMD_FLAGS = { ...SHARED_FLAGS, ...LOAD_FLAGS };
const QUERY_CMD_FLAGS = { ...SHARED_FLAGS, ...QUERY_FLAGS };

const FOOTER =
  "Exit codes: 0 ok, 2 invalid flags, 3 connection failure or server error, 4 a recall below " +
  "--recall-threshold or documents left out of the index, 5 unreadable dataset, 130 interrupted " +
  "(partial results printed).";

const VEC_LOAD: CommandSpec<typeof LOAD_CMD_FLAGS> = {
  name: "vec load",
  summary: "create the vector index (checked against the platform first), load a dataset with " +
    "HSET, wait for the index; load time, index build time, vectors/s, memory growth, indexing failures",
  usage: ["membench vec load --dataset FILE [--search-algorithm HNSW] [--hnsw-m 16] [flags]"],
  flags: LOAD_CMD_FLAGS,
  args: [],
  footer: FOOTER,
};

const VEC_QUERY: CommandSpec<typeof QUERY_CMD_FLAGS> = {
  name: "vec query",
  summary: "FT.SEARCH KNN with the dataset's queries against an existing index; recall@k against " +
    "exact truth over what the server holds, QPS, latency, partial results and timeouts",
  usage: ["membench vec query --dataset FILE [-k 10] [--ef-search 10,100] [flags]"],
  flags: QUERY_CMD_FLAGS,
  args: [],
  footer: FOOTER,
};

const VEC_RUN: CommandSpec<typeof RUN_FLAGS> = {
  name: "vec run",
  summary: "load, then query once per --ef-search value, then --cleanup",
  usage: ["membench vec run --dataset FILE [--ef-search 10,100] [--recall-threshold 0.9] [flags]"],
  flags: RUN_FLAGS,
  args: [],
  footer: FOOTER,
};

const TUNE = "Tuning";

// Flags the optimizer and the frontier share: the index, the dataset, recall@k and the bootstrap.
const TUNE_FLAGS = {
  host: SHARED_FLAGS.host,
  port: SHARED_FLAGS.port,
  socket: SHARED_FLAGS.socket,
  uri: SHARED_FLAGS.uri,
  ...AUTH_FLAGS,
  resp3: SHARED_FLAGS.resp3,
  clients: SHARED_FLAGS.clients,
  io: SHARED_FLAGS.io,
  timeout: SHARED_FLAGS.timeout,
  vssPlatform: SHARED_FLAGS.vssPlatform,
  searchIndex: SHARED_FLAGS.searchIndex,
  searchPrefix: SHARED_FLAGS.searchPrefix,
  searchVectorField: SHARED_FLAGS.searchVectorField,
  searchDistance: SHARED_FLAGS.searchDistance,
  searchType: SHARED_FLAGS.searchType,
  hnswM: SHARED_FLAGS.hnswM,
  efConstruction: SHARED_FLAGS.efConstruction,
  dataset: SHARED_FLAGS.dataset,
  numVectors: SHARED_FLAGS.numVectors,
  skipLoad: bool({
    section: LOAD,
    help: "measure what the server holds (rows [0, --num-vectors)) instead of loading the dataset",
  }),
  k: QUERY_FLAGS.k,
  numQueries: QUERY_FLAGS.numQueries,
  minEfSearch: int({
    value: "N",
    min: 1,
    section: TUNE,
    help: "the smallest EF_RUNTIME tried",
    defaultText: "k (EF_RUNTIME below k searches as k)",
  }),
  confidence: num({
    value: "C",
    above: 0,
    section: TUNE,
    help: "the confidence of the bootstrap interval of recall over queries",
    defaultText: "0.95",
  }),
  resamples: int({
    value: "N",
    min: 10,
    section: TUNE,
    help: "bootstrap resamples",
    defaultText: "1000",
  }),
  repeats: int({
    value: "N",
    min: 1,
    section: TUNE,
    help: "each recall measurement sends every query N times",
    defaultText: "1",
  }),
  seed: int({
    value: "N",
    section: TUNE,
    help: "seeds the bootstrap and the clients' starts in the query set",
    defaultText: "1",
  }),
  json: OUTPUT_FLAGS.json,
  noProgress: OUTPUT_FLAGS.noProgress,
};

const OPTIMIZE_FLAGS = {
  ...TUNE_FLAGS,
  targetRecall: num({
    value: "R",
    above: 0,
    required: true,
    section: TUNE,
    help: "the recall@k to reach (0 to 1)",
  }),
  recallStatistic: oneOf(["mean", "p5"], {
    value: "S",
    section: TUNE,
    help: "judge the target on the mean recall or its 5th percentile",
    defaultText: "mean",
  }),
  acceptWithinNoise: bool({
    section: TUNE,
    help: "a setting meets the target when the target lies inside its interval, not only below it",
  }),
  maxEfSearch: int({
    value: "N",
    min: 1,
    section: TUNE,
    help: "the largest EF_RUNTIME tried",
    defaultText: "4096",
  }),
  targetP99: duration({
    value: "D",
    section: TUNE,
    help: 'throughput: stop raising clients / pipeline when p99 passes D ("5ms")',
  }),
  targetQps: num({
    value: "N",
    above: 0,
    section: TUNE,
    help: "throughput: stop when QPS reaches N",
  }),
  maxClients: int({
    value: "N",
    min: 1,
    max: 4096,
    section: TUNE,
    help: "throughput: the most clients tried",
    defaultText: "64",
  }),
  maxPipeline: int({
    value: "N",
    min: 1,
    max: 1024,
    section: TUNE,
    help: "throughput: the deepest pipeline tried",
    defaultText: "8",
  }),
  stepDuration: duration({
    value: "D",
    section: TUNE,
    help: "throughput: each step runs for D",
    defaultText: "2s",
  }),
  skipThroughput: bool({ section: TUNE, help: "stop after the recall search" }),
  grid: custom({
    value: "SPEC",
    multiple: true,
    section: TUNE,
    help: "build parameters to try, each rebuilding the index: 'm=16,32 ef-construction=100,200' " +
      "(one value, or one --grid per parameter)",
  }, parseGrid),
  firstQueries: int({
    value: "N",
    min: 1,
    section: TUNE,
    help: "re-measurement: queries in a recall step's first round",
    defaultText: "a quarter of the query set, 25 to 1000",
  }),
  maxRounds: int({
    value: "N",
    min: 1,
    max: 64,
    section: TUNE,
    help: "re-measurement: rounds of a recall step while its interval straddles the target " +
      "(fresh queries, then repeats once the set is exhausted); 1 measures the set once",
    defaultText: "4",
  }),
  maxQueries: int({
    value: "N",
    min: 1,
    section: TUNE,
    help: "re-measurement: the most queries one recall step sends",
    defaultText: "twice the query set",
  }),
  maxCiWidth: num({
    value: "W",
    above: 0,
    section: TUNE,
    help: "re-measurement: also re-measure while the interval is wider than W (0.02 = 2 points)",
  }),
  throughputRuns: int({
    value: "N",
    min: 1,
    max: 50,
    section: TUNE,
    help: "throughput: run each step N times and judge the median QPS; up to 2N runs while the " +
      "runs' QPS spread is above --max-qps-spread",
    defaultText: "1",
  }),
  maxQpsSpread: num({
    value: "F",
    above: 0,
    section: TUNE,
    help: "throughput: the largest QPS spread ((max - min) / median) before more runs",
    defaultText: "0.1",
  }),
};

/** `m=16,32 ef-construction=100,200` -> the grid's lists. */
function parseGrid(s: string): { m?: number[]; efConstruction?: number[] } {
  const out: { m?: number[]; efConstruction?: number[] } = {};
  for (const part of s.split(/[\s;]+/).filter(Boolean)) {
    const m = /^(m|ef-construction|ef_construction|efConstruction)=(.+)$/i.exec(part);
    if (!m) throw new BadValue("expected m=N[,N…] and/or ef-construction=N[,N…]");
    const values = m[2]!.split(",").map((x) => x.trim());
    if (values.some((x) => !/^\d+$/.test(x) || Number(x) < 1)) {
      throw new BadValue(`expected integers >= 1 after ${m[1]}=`);
    }
    if (m[1]!.toLowerCase() === "m") out.m = values.map(Number);
    else out.efConstruction = values.map(Number);
  }
  return out;
}

const FRONTIER_FLAGS = {
  ...TUNE_FLAGS,
  pipeline: SHARED_FLAGS.pipeline,
  efSearch: QUERY_FLAGS.efSearch,
  maxEfSearch: int({
    value: "N",
    min: 1,
    section: TUNE,
    help: "the largest EF_RUNTIME of the sweep",
    defaultText: "1024",
  }),
  points: int({
    value: "N",
    min: 2,
    max: 64,
    section: TUNE,
    help: "log-spaced EF_RUNTIME values (without --ef-search)",
    defaultText: "8",
  }),
  refine: int({
    value: "N",
    min: 0,
    max: 16,
    section: TUNE,
    help: "extra values between the knee and each neighbour",
    defaultText: "2",
  }),
  duration: duration({
    value: "D",
    section: TUNE,
    help: "each point sends queries for D (QPS); the query set once when absent",
  }),
  grid: OPTIMIZE_FLAGS.grid,
  csv: bool({ section: "Output", help: "CSV on stdout: one row per point, with its pareto flag" }),
  html: text({
    value: "FILE",
    section: "Output",
    help: "a self-contained HTML chart: recall against QPS (log), the Pareto frontier drawn",
  }),
};

const TUNE_FOOTER =
  "Exit codes: 0 ok, 2 invalid flags, 3 connection failure or server error (the index lost " +
  "included), 4 an infeasible target, 5 unreadable dataset, 130 interrupted (partial results " +
  "printed). The truth is exact, computed on the fly over what the server holds.";

const VEC_OPTIMIZE: CommandSpec<typeof OPTIMIZE_FLAGS> = {
  name: "vec optimize",
  summary: "the smallest EF_RUNTIME whose recall@k meets --target-recall (binary search, judged " +
    "on a bootstrap interval over queries), then the clients / pipeline with the most QPS there",
  usage: [
    "membench vec optimize --dataset FILE --target-recall 0.95 [--target-p99 5ms] [--target-qps N] [--max-ef-search 4096] [--grid 'm=16,32 ef-construction=100,200'] [flags]",
  ],
  flags: OPTIMIZE_FLAGS,
  args: [],
  footer: TUNE_FOOTER,
};

const VEC_FRONTIER: CommandSpec<typeof FRONTIER_FLAGS> = {
  name: "vec frontier",
  summary: "sweep EF_RUNTIME (log-spaced, refined at the knee): recall (mean, p5, CI), QPS, " +
    "latency per point, and the Pareto frontier as text, JSON, CSV or an HTML chart",
  usage: [
    "membench vec frontier --dataset FILE [--max-ef-search 1024] [--points 8] [--html F] [flags]",
  ],
  flags: FRONTIER_FLAGS,
  args: [],
  footer: TUNE_FOOTER,
};

/** The vec subcommands, in the order the help lists them. */
export const VEC_SUBCOMMANDS: ReadonlyArray<CommandSpec<FlagSet>> = [
  VEC_LOAD,
  VEC_QUERY,
  VEC_RUN,
  VEC_OPTIMIZE,
  VEC_FRONTIER,
];

/** `membench vec`: name and summary. */
export const VEC = {
  name: "vec",
  summary: "vector search: load, query (recall@k, QPS, latency), run, optimize, frontier",
};

function vecHelp(): string {
  return [
    "membench vec: vector search benchmarks (RediSearch, Redis 8, valkey-search, MemoryDB, ElastiCache)",
    "",
    "Usage:",
    ...VEC_SUBCOMMANDS.flatMap((s) => s.usage.map((u) => `  ${u}`)),
    "  membench bench -t vec-load,vec-query --dataset FILE [flags]   (the same as vec run)",
    "",
    ...VEC_SUBCOMMANDS.flatMap((s) => [
      ...wrapText(`${s.name.replace("vec ", "")}: ${s.summary}`, 100),
      "",
    ]),
    formatFlags(RUN_FLAGS, false),
    "",
    "      --help                print the help (of a subcommand: membench vec load --help)",
    "",
    FOOTER,
    "",
  ].join("\n");
}

type AnyVecArgs = ParsedArgs<typeof RUN_FLAGS>;

interface VecPrepared {
  options: VectorRunOptions;
  json: string | undefined;
  csv: boolean;
  html: string | undefined;
}

/** Flag values -> `vectorRun` options; every problem collected. */
function vecOptions(
  mode: "load" | "query" | "run",
  { values, given }: AnyVecArgs,
  problems: Problems,
): VecPrepared {
  // The load and query flag sets hold a part of run's: absent flags read as undefined.
  const v = values as Partial<AnyVecArgs["values"]>;
  const targets = targetsFrom(v, 6379);
  if (targets.length !== 1) {
    problems.add(`Cannot use ${targets.length} targets: vector phases take one server`);
  }
  if (v.nocontent && v.withContent) {
    problems.add("Cannot use flags '--nocontent' and '--with-content' together: choose one");
  }
  if (given.has("requests") && given.has("duration")) {
    problems.add("Cannot use flags '-n, --requests' and '--duration' together: choose one");
  }
  if (v.recallThreshold !== undefined && v.recallThreshold > 1) {
    problems.add(
      `Cannot use flag '--recall-threshold': expected a number from 0 to 1: current value is ${v.recallThreshold}`,
    );
  }
  if (mode === "run" && v.skipLoad && (v.skipIndexCreate || v.dropBefore)) {
    problems.add(
      "Cannot use '--skip-load' with '--skip-index-create' or '--drop-before': nothing is loaded",
    );
  }
  let shard: ReturnType<typeof shardOf>;
  try {
    shard = shardOf(v.shard);
  } catch (e) {
    problems.add(e instanceof Error ? e.message : String(e));
  }
  const index = defined({
    name: v.searchIndex,
    prefix: v.searchPrefix,
    field: v.searchVectorField,
    algorithm: v.searchAlgorithm,
    type: v.searchType,
    m: v.hnswM,
    efConstruction: v.efConstruction,
    initialCap: v.initialCap,
  });
  const loading = mode === "load" || (mode === "run" && !v.skipLoad);
  const querying = mode !== "load";
  const options: VectorRunOptions = {
    dataset: v.dataset ?? "",
    target: targets[0] ?? "127.0.0.1:6379",
    ...defined({
      password: v.password,
      user: v.user,
      resp3: v.resp3 || undefined,
      clients: v.clients,
      pipeline: v.pipeline,
      io: v.io,
      requestTimeoutMs: v.timeout,
      platform: v.vssPlatform,
      metric: v.searchDistance,
      cleanup: v.cleanup || undefined,
      minRecall: v.recallThreshold,
      shard,
    }),
    index,
    load: loading
      ? defined({
        vectorOffset: v.vectorOffset,
        numVectors: v.numVectors,
        skipCreate: v.skipIndexCreate || undefined,
        dropBefore: v.dropBefore || undefined,
        ratePerSec: v.loadRate,
        allowIndexFailures: v.allowIndexFailures || undefined,
        indexTimeoutMs: v.indexTimeout,
      })
      : false,
    query: querying
      ? defined({
        k: v.k,
        efRuntime: v.efSearch,
        nocontent: v.nocontent ? true : v.withContent ? false : undefined,
        filter: v.filteredSearch,
        numQueries: v.numQueries,
        requests: v.requests,
        durationMs: v.duration,
        ratePerSec: v.rate,
        arrival: v.arrival,
        queryTimeoutMs: v.queryTimeout,
        seed: v.seed,
      })
      : false,
    ...(!loading ? defined({ vectorOffset: v.vectorOffset, numVectors: v.numVectors }) : {}),
  };
  if (v.efSearch !== undefined && v.searchAlgorithm === "FLAT") {
    problems.add("Cannot use '--ef-search' with '--search-algorithm FLAT': EF_RUNTIME is HNSW's");
  }
  return { options, json: v.json, csv: v.csv ?? false, html: v.html };
}

/** The exit code of a finished vec run; prints the failure. */
function exitOf(r: VectorRunResult, ctx: RunContext): number {
  if (r.interrupted) return EXIT.interrupted;
  const indexOnly = r.failure !== undefined && r.load !== undefined && r.load.indexFailures > 0 &&
    r.failure === r.load.failure && /hash_indexing_failures/.test(r.failure.message);
  if (r.failure && !indexOnly) {
    ctx.note(`membench: ${r.failure.message}`);
    return exitCodeFor(r.failure.code);
  }
  return r.pass ? EXIT.ok : EXIT.threshold;
}

function vecRun(
  mode: "load" | "query" | "run",
  spec: CommandSpec<FlagSet>,
  argv: readonly string[],
) {
  return runCommand<FlagSet, VecPrepared>({
    spec,
    prepare: (args, problems) => vecOptions(mode, args as unknown as AnyVecArgs, problems),
    async run({ options, json, csv, html }, ctx) {
      const r = await vectorRun({
        ...options,
        signal: ctx.signal,
        onProgress: (p) => ctx.progress(formatVectorProgress(p)),
      });
      if (json === "-") ctx.print(formatVectorRunJson(r).trimEnd());
      else if (csv) ctx.print(formatVectorRunCsv(r).trimEnd());
      else ctx.print(formatVectorRunText(r).trimEnd());
      if (json !== undefined && json !== "-") await ctx.output(json, formatVectorRunJson(r));
      if (html !== undefined) await ctx.output(html, formatVectorRunHtml(r));
      return exitOf(r, ctx);
    },
  }, argv);
}

/** `membench vec`: returns the exit code. */
export function vecCommand(argv: readonly string[]): Promise<number> {
  return runSubcommand("vec", argv, vecHelp, {
    load: (a) => vecRun("load", VEC_LOAD, a),
    query: (a) => vecRun("query", VEC_QUERY, a),
    run: (a) => vecRun("run", VEC_RUN, a),
    optimize: vecOptimizeRun,
    frontier: vecFrontierRun,
  });
}

type TuneArgs = ParsedArgs<typeof TUNE_FLAGS>;

/** The flags the optimizer and the frontier share -> their shared options. */
function tuneOptions({ values }: TuneArgs, problems: Problems) {
  const v = values;
  const targets = targetsFrom(v, 6379);
  if (targets.length !== 1) {
    problems.add(`Cannot use ${targets.length} targets: vector phases take one server`);
  }
  if (v.confidence !== undefined && v.confidence >= 1) {
    problems.add(
      `Cannot use flag '--confidence': expected a number between 0 and 1: current value is ${v.confidence}`,
    );
  }
  return {
    dataset: v.dataset ?? "",
    target: targets[0] ?? "127.0.0.1:6379",
    index: defined({
      name: v.searchIndex,
      prefix: v.searchPrefix,
      field: v.searchVectorField,
      type: v.searchType,
      m: v.hnswM,
      efConstruction: v.efConstruction,
    }),
    ...defined({
      password: v.password,
      user: v.user,
      resp3: v.resp3 || undefined,
      clients: v.clients,
      io: v.io,
      requestTimeoutMs: v.timeout,
      platform: v.vssPlatform,
      metric: v.searchDistance,
      numVectors: v.numVectors,
      load: v.skipLoad ? false : undefined,
      k: v.k,
      numQueries: v.numQueries,
      minEfSearch: v.minEfSearch,
      confidence: v.confidence,
      resamples: v.resamples,
      repeats: v.repeats,
      seed: v.seed,
    }),
  };
}

function vecOptimizeRun(argv: readonly string[]) {
  type Prepared = { options: VectorOptimizeOptions; json: string | undefined };
  return runCommand<typeof OPTIMIZE_FLAGS, Prepared>({
    spec: VEC_OPTIMIZE,
    prepare(args, problems) {
      const v = args.values;
      if (v.targetRecall !== undefined && v.targetRecall > 1) {
        problems.add(
          `Cannot use flag '--target-recall': expected a number above 0 and at most 1: current value is ${v.targetRecall}`,
        );
      }
      const options: VectorOptimizeOptions = {
        ...tuneOptions(args as unknown as TuneArgs, problems),
        targetRecall: v.targetRecall,
        ...defined({
          recallStatistic: v.recallStatistic,
          accept: v.acceptWithinNoise ? "within-noise" as const : undefined,
          maxEfSearch: v.maxEfSearch,
          targetP99Ms: v.targetP99,
          targetQps: v.targetQps,
          maxClients: v.maxClients,
          maxPipeline: v.maxPipeline,
          stepDurationMs: v.stepDuration,
          throughput: v.skipThroughput ? false : undefined,
          grid: v.grid && v.grid.length > 0 ? Object.assign({}, ...v.grid) : undefined,
          remeasure: defined({
            firstQueries: v.firstQueries,
            maxRounds: v.maxRounds,
            maxQueries: v.maxQueries,
            maxWidth: v.maxCiWidth,
            throughput: v.throughputRuns !== undefined || v.maxQpsSpread !== undefined
              ? defined({ runs: v.throughputRuns, maxSpread: v.maxQpsSpread })
              : undefined,
          }),
        }),
      };
      if (v.grid && v.grid.length > 0 && v.skipLoad) {
        problems.add("Cannot use '--grid' with '--skip-load': each build rebuilds the index");
      }
      return { options, json: v.json };
    },
    async run({ options, json }, ctx) {
      const r: VectorOptimizeResult = await vectorOptimize({
        ...options,
        signal: ctx.signal,
        onProgress: (p) => ctx.progress(formatVectorProgress(p)),
        onStep: (st) =>
          ctx.progress(`vec optimize  ${st.phase} EF_RUNTIME ${st.point.efRuntime}: ${st.note}`),
      });
      if (json === "-") ctx.print(formatVectorOptimizeJson(r).trimEnd());
      else ctx.print(formatVectorOptimizeText(r).trimEnd());
      if (json !== undefined && json !== "-") await ctx.output(json, formatVectorOptimizeJson(r));
      if (r.status === "interrupted") return EXIT.interrupted;
      if (r.status === "failed") {
        ctx.note(`membench: ${r.failure!.message}`);
        return exitCodeFor(r.failure!.code);
      }
      return r.status === "infeasible" ? EXIT.threshold : EXIT.ok;
    },
  }, argv);
}

function vecFrontierRun(argv: readonly string[]) {
  type Prepared = {
    options: VectorFrontierOptions;
    json: string | undefined;
    csv: boolean;
    html: string | undefined;
  };
  return runCommand<typeof FRONTIER_FLAGS, Prepared>({
    spec: VEC_FRONTIER,
    prepare(args, problems) {
      const v = args.values;
      const options: VectorFrontierOptions = {
        ...tuneOptions(args as unknown as TuneArgs, problems),
        ...defined({
          pipeline: v.pipeline,
          efRuntime: v.efSearch,
          maxEfSearch: v.maxEfSearch,
          points: v.points,
          refine: v.refine,
          durationMs: v.duration,
          grid: v.grid && v.grid.length > 0 ? Object.assign({}, ...v.grid) : undefined,
        }),
      };
      if (v.grid && v.grid.length > 0 && v.skipLoad) {
        problems.add("Cannot use '--grid' with '--skip-load': each build rebuilds the index");
      }
      return { options, json: v.json, csv: v.csv, html: v.html };
    },
    async run({ options, json, csv, html }, ctx) {
      const r: VectorFrontierResult = await vectorFrontier({
        ...options,
        signal: ctx.signal,
        onProgress: (p) => ctx.progress(formatVectorProgress(p)),
      });
      if (json === "-") ctx.print(formatVectorFrontierJson(r).trimEnd());
      else if (csv) ctx.print(formatVectorFrontierCsv(r).trimEnd());
      else ctx.print(formatVectorFrontierText(r).trimEnd());
      if (json !== undefined && json !== "-") await ctx.output(json, formatVectorFrontierJson(r));
      if (html !== undefined) await ctx.output(html, formatVectorFrontierHtml(r));
      if (r.interrupted) return EXIT.interrupted;
      if (r.failure) {
        ctx.note(`membench: ${r.failure.message}`);
        return exitCodeFor(r.failure.code);
      }
      return EXIT.ok;
    },
  }, argv);
}

const VEC_TESTS = new Set(["vec-load", "vec-query"]);

/**
 * The tests of a bench command line (`-t`, `--tests`), when any of them is a vector test
 * (`vec-load`, `vec-query`); undefined otherwise.
 */
export function vectorBenchTests(argv: readonly string[]): string[] | undefined {
  const tests: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    let value: string | undefined;
    if (a === "-t" || a === "--tests") value = argv[i + 1];
    else if (a.startsWith("--tests=")) value = a.slice(8);
    else if (/^-t[^-]/.test(a)) value = a.slice(2);
    if (value !== undefined) tests.push(...value.split(",").map((x) => x.trim()).filter(Boolean));
  }
  return tests.some((t) => VEC_TESTS.has(t.toLowerCase())) ? tests : undefined;
}

/**
 * `membench bench -t vec-load,vec-query --dataset FILE …`: the same as `membench vec run …`
 * (`-t vec-load` alone: `vec load`; `-t vec-query` alone: `vec query`). Mixing vector tests
 * with other tests is an error.
 */
export function vecBenchAlias(argv: readonly string[]): Promise<number> {
  const tests = (vectorBenchTests(argv) ?? []).map((t) => t.toLowerCase());
  const other = tests.filter((t) => !VEC_TESTS.has(t));
  if (other.length > 0) {
    throw new MembenchError(
      "invalid_argument",
      `Cannot mix vector tests (vec-load, vec-query) with ${other.join(", ")} in one bench run`,
      { hint: "run them as two commands" },
    );
  }
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "-t" || a === "--tests") i++;
    else if (a.startsWith("--tests=") || /^-t[^-]/.test(a)) continue;
    else rest.push(a);
  }
  const load = tests.includes("vec-load"), query = tests.includes("vec-query");
  const mode = load && query ? "run" : load ? "load" : "query";
  return vecRun(mode, mode === "run" ? VEC_RUN : mode === "load" ? VEC_LOAD : VEC_QUERY, rest);
}

/** Whether a result read by `membench merge` is a vector phase's (vec load, query or run). */
export function isVectorResult(d: unknown): boolean {
  const kind = typeof d === "object" && d !== null ? (d as { kind?: unknown }).kind : undefined;
  return kind === "vector-run" || kind === "vector-query" || kind === "vector-load";
}

/**
 * `membench merge` of vector shard results (`vec load|query|run --shard I/N --json F`): merged
 * exactly (`mergeVectorRunResults`), printed as `vec run` prints, with the exit code one run
 * would have given (4 when the merged recall is below the shards' `--recall-threshold`).
 */
export async function mergeVectorShards(
  docs: readonly unknown[],
  o: {
    shards: number | undefined;
    allowIncomplete: boolean;
    json: string | undefined;
    csv: boolean;
  },
  ctx: RunContext,
): Promise<number> {
  const kinds = new Set(docs.map((d) => (d as { kind: string }).kind));
  if (kinds.size > 1) {
    throw new MembenchError(
      "invalid_argument",
      `Cannot merge results of different kinds (${
        [...kinds].join(", ")
      }): give the shards of one run`,
    );
  }
  // A lone phase's results (from the library) are merged as a run of that one phase.
  const asRun = (d: unknown): VectorRunResult => {
    const r = d as VectorRunResult | VectorQueryResult | VectorLoadResult;
    if (r.kind === "vector-run") return r;
    return {
      kind: "vector-run",
      ...(r.kind === "vector-query" ? { queries: [r] } : { load: r, queries: [] }),
      cleanedUp: false,
      pass: true,
      checks: [],
      interrupted: r.interrupted,
    };
  };
  const options = {
    ...(o.shards !== undefined ? { shards: o.shards } : {}),
    allowIncomplete: o.allowIncomplete,
  };
  const r = mergeVectorRunResults(docs.map(asRun), options);
  if (o.json === "-") ctx.print(formatVectorRunJson(r).trimEnd());
  else if (o.csv) ctx.print(formatVectorRunCsv(r).trimEnd());
  else ctx.print(formatVectorRunText(r).trimEnd());
  const s = r.shards;
  if (s) {
    ctx.note(
      `membench: ${s.merged.length} of ${s.count} vector shards merged` +
        (s.missing.length > 0 ? `; MISSING ${s.missing.join(", ")}` : "") +
        (s.failed.length > 0 ? `; FAILED ${s.failed.map((f) => f.index).join(", ")}` : ""),
    );
  }
  if (o.json !== undefined && o.json !== "-") await ctx.output(o.json, formatVectorRunJson(r));
  return exitOf(r, ctx);
}
