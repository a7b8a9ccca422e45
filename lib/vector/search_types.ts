// This module uses no Deno APIs.
/**
 * Options and results of the vector search phases (load, update, delete, query), shared by
 * `load.ts`, `query.ts` and the scenario phases. Types only.
 *
 * @module
 */
import type { ServerMetricsOptions, ServerReport } from "../monitor/mod.ts";
import type { CommandMetricsData, LatencySummary } from "../metrics/mod.ts";
import type { ReconnectPolicy, Target } from "../net/mod.ts";
import type { VectorDataset } from "./dataset.ts";
import type { VectorIndexSpec } from "./index_spec.ts";
import type { VectorAlgorithm, VectorType, VssPlatformName } from "./platform.ts";
import type { LoadedSegment, VectorTruth } from "./truth.ts";
import type { DistanceMetric } from "./types.ts";
import type { ShardSpec } from "../workload/mod.ts";

/** Where and how the vector phases connect. */
export interface VectorConnectOptions {
  /** `host:port` or a URI (`redis://user:pass@host:port/db`). @default {"127.0.0.1:6379"} */
  target?: string | Target;
  /** AUTH password (overrides the URI's). */
  password?: string;
  /** AUTH user. */
  user?: string;
  /** Speak RESP3 on the load and query connections. @default {false} */
  resp3?: boolean;
  /** Hot-loop I/O. @default {"auto"} */
  io?: "auto" | "uring" | "deno";
  /** Connections. @default {4} */
  clients?: number;
  /** Requests in flight per connection (load: 16, query: 1). */
  pipeline?: number;
  /** @default {5000} */
  connectTimeoutMs?: number;
  /** A request unanswered this long fails its connection. @default {30000} */
  requestTimeoutMs?: number;
  /** After a lost connection. @default 5 attempts from 50 ms */
  reconnect?: Partial<ReconnectPolicy>;
  /**
   * The search platform, or `auto` to detect it from `MODULE LIST` and `INFO`. A named platform
   * decides which options are allowed; a server without a search module is an error either way.
   * @default {"auto"}
   */
  platform?: VssPlatformName | "auto";
  /**
   * The server's own figures over the phase (INFO everything, FT.INFO of the index), as the
   * result's `server`. @default {false}
   */
  serverMetrics?: boolean | ServerMetricsOptions;
  /** Stops the phase; what was measured is kept (`interrupted`). */
  signal?: AbortSignal;
  /** Called about every 250 ms while the phase runs (a live line: rate and ETA). */
  onProgress?: (p: VectorProgress) => void;
}

/** How far a running vector phase is, for a live progress line. */
export interface VectorProgress {
  /** `load` (HSET, update or DEL), `index` (waiting for the index) or `query`. */
  phase: "load" | "index" | "query";
  /** Requests answered so far (load, query); documents indexed (index). */
  done: number;
  /** Requests planned; undefined when the phase runs for a duration. */
  total?: number;
  /** Since the phase's first send, ms. */
  elapsedMs: number;
  /** Requests per second over the last interval. */
  ratePerSec: number;
  /** Time left at the mean rate so far, ms; undefined when unknown. */
  etaMs?: number;
  /** Failed requests so far. */
  errors: number;
  /** index: FT.INFO's fraction indexed, 0..1. */
  percentIndexed?: number;
}

/** The index a vector phase works on: FT.CREATE settings (dim and metric come from the dataset). */
export type VectorIndexOptions = Omit<
  VectorIndexSpec,
  "dim" | "metric" | "tagField" | "numericFields"
>;

/** Options for {@linkcode vectorLoad}. */
export interface VectorLoadOptions extends VectorConnectOptions {
  /** A dataset path (any format `openDataset` reads) or an open dataset. */
  dataset: string | VectorDataset;
  /** The metric when the dataset does not say (fvecs, npy). @default the dataset's, else L2 */
  metric?: DistanceMetric;
  /** The index. */
  index?: VectorIndexOptions;
  /** First dataset row to load. @default {0} */
  vectorOffset?: number;
  /** Rows to load. @default all from vectorOffset */
  numVectors?: number;
  /** Key id of the first row (keys are `prefix + id`). @default vectorOffset */
  keyOffset?: number;
  /** Write the dataset's metadata (tag and numeric fields) and index them. @default true when it has some */
  metadata?: boolean;
  /** Do not create the index: it must exist and fit the dataset (checked before load). */
  skipCreate?: boolean;
  /** Drop the index and its hashes (`FT.DROPINDEX … DD`) before creating it. @default {false} */
  dropBefore?: boolean;
  /** Vectors per second (all clients); unlimited when absent. */
  ratePerSec?: number;
  /** Wait for indexing to finish (FT.INFO) after the last HSET. @default {true} */
  waitForIndex?: boolean;
  /** How long to wait for the index. @default {600000} */
  indexTimeoutMs?: number;
  /** Documents left out of the index (`hash_indexing_failures`) do not fail the phase. @default {false} */
  allowIndexFailures?: boolean;
  /** Rows read from the file at a time. @default 4 MiB worth */
  blockRows?: number;
  /**
   * Run shard `I/N` (or `{index, count}`): this process writes its contiguous part of the rows
   * (`vectorOffset`, `numVectors` and `keyOffset` stay the whole run's), so that N shards
   * together load each row once ({@linkcode mergeVectorLoadResults} puts their results back
   * together). Only shard 0 drops (`dropBefore`) and creates the index; the others wait for it
   * to exist before writing, and every shard waits at the end until the index holds the whole
   * run's rows.
   */
  shard?: ShardSpec | string;
}

/** Options for {@linkcode vectorUpdate}: rewrite keys with (other) dataset rows. */
export interface VectorUpdateOptions
  extends Omit<VectorLoadOptions, "skipCreate" | "dropBefore" | "keyOffset" | "shard"> {
  /** What the server holds (a load's `segments`); the result says what it holds after. */
  segments: readonly LoadedSegment[];
  /** First key id to overwrite. */
  keyOffset: number;
}

/** Options for {@linkcode vectorDelete}: DEL keys `prefix + [keyOffset, keyOffset + count)`. */
export interface VectorDeleteOptions extends VectorConnectOptions {
  /** The index (name and prefix). */
  index?: VectorIndexOptions;
  /** What the server holds. */
  segments: readonly LoadedSegment[];
  /** First key id to delete. */
  keyOffset: number;
  /** Keys to delete. */
  count: number;
  /** Wait for the index to settle after. @default {true} */
  waitForIndex?: boolean;
  /** @default {600000} */
  indexTimeoutMs?: number;
}

/** A request kind's latency: counts and the HDR histograms (µs). */
export type VectorLatency = CommandMetricsData;

/** What {@linkcode vectorLoad} (and update, delete) did. */
export interface VectorLoadResult {
  /** The server's own figures over the phase (with `serverMetrics`). */
  server?: ServerReport;
  /** Tells this result apart from the others. */
  kind: "vector-load" | "vector-update" | "vector-delete";
  /** The platform the options were checked against. */
  platform: VssPlatformName;
  /** Whether it was detected (`MODULE LIST`, `INFO`) rather than named. */
  platformDetected: boolean;
  /** `host:port`. */
  target: string;
  index: string;
  prefix: string;
  field: string;
  algorithm: VectorAlgorithm;
  type: VectorType;
  dim: number;
  metric: DistanceMetric;
  /** The FT.CREATE sent, when this phase created the index. */
  ftCreate?: string[];
  /** Whether the index was dropped first. */
  dropped: boolean;
  /** Requests (HSET or DEL) the phase meant to send. */
  requested: number;
  /** Requests written to the server. */
  sent: number;
  /** Requests the server answered without an error. */
  ok: number;
  /** Requests that failed (error replies, lost connections), by code. */
  errors: Record<string, number>;
  /** First send to last reply, ms. */
  loadMs: number;
  /** Last reply to the index settled (FT.INFO), ms; 0 when not waited for. */
  indexWaitMs: number;
  /** `ok / (loadMs + indexWaitMs)`: vectors indexed per second. */
  vectorsPerSec: number;
  /** `ok / loadMs`: HSETs per second. */
  requestsPerSec: number;
  /** FT.INFO `num_docs` at the end. */
  numDocs: number;
  /** New `hash_indexing_failures` during the phase (all of them when the phase created the index). */
  indexFailures: number;
  /** Bytes: `used_memory` before and after, and the index sizes FT.INFO reports. */
  memory: {
    before: number;
    after: number;
    growth: number;
    indexBytes?: number;
    vectorIndexBytes?: number;
  };
  /** HSET (or DEL) latency. */
  latency: VectorLatency;
  /** What the server holds after the phase (for the ground truth of later queries). */
  segments: LoadedSegment[];
  /** Successful reconnects. */
  reconnects: number;
  /** Stopped by the signal. */
  interrupted: boolean;
  /** Set when the phase failed: every connection lost, or index failures not allowed. */
  failure?: { code: string; message: string };
  /** A run shard's part (with `shard`). */
  shard?: VectorShardInfo;
  /** A merged result: the shards it came from. */
  shards?: VectorMergeSummary;
}

/** Options for {@linkcode vectorQuery}. */
export interface VectorQueryOptions extends VectorConnectOptions {
  /** The dataset whose query vectors are sent (and whose base the truth is computed over). */
  dataset: string | VectorDataset;
  /** The metric when the dataset does not say. @default the dataset's, else L2 */
  metric?: DistanceMetric;
  /** The index (name, prefix, field; `algorithm` to check EF_RUNTIME against the platform). */
  index?: VectorIndexOptions;
  /** What the server holds: a load's `segments`. @default the whole dataset (key id = row) */
  segments?: readonly LoadedSegment[];
  /** Neighbours per query (KNN k). @default {10} */
  k?: number;
  /** EF_RUNTIME in the KNN clause (HNSW). */
  efRuntime?: number;
  /** A pre-filter in RediSearch syntax (`@tag:{red} @price:[0 50]`); recall is scored against the filtered truth. */
  filter?: string;
  /** NOCONTENT (ids only); false returns the score field. @default {true} where the platform has it */
  nocontent?: boolean;
  /** `SORTBY <score alias>`. @default the platform's support */
  sortByScore?: boolean;
  /** The query's TIMEOUT in ms (server side). */
  queryTimeoutMs?: number;
  /** DIALECT. @default the platform's first (2) */
  dialect?: number;
  /** Use the first n query vectors. @default all */
  numQueries?: number;
  /** Queries to send in all. @default the query set once (numQueries) unless durationMs is set */
  requests?: number;
  /** Send for this long instead of a count. */
  durationMs?: number;
  /** Open loop: queries per second (all clients); closed loop when absent. */
  ratePerSec?: number;
  /** Open-loop arrivals. @default {"constant"} */
  arrival?: "constant" | "poisson";
  /** Seeds each client's starting position in the query set. @default {1} */
  seed?: number;
  /** A precomputed truth (from {@linkcode vectorTruth}); computed when absent. */
  truth?: VectorTruth;
  /** Ground-truth worker threads. */
  truthThreads?: number;
  /** Keep each query's recall (`recall.perQuery`, for a bootstrap over queries). @default {false} */
  keepPerQuery?: boolean;
  /**
   * Run shard `I/N` (or `{index, count}`): this process runs its contiguous range of the run's
   * clients, each with the stream (start in the query set, request count, arrivals) it has in
   * one run, from the seed and its global client index; `clients`, `requests` and `ratePerSec`
   * stay the whole run's. N shards together send exactly the queries one run sends
   * ({@linkcode mergeVectorQueryResults} merges them exactly). Only shard 0 takes server metrics.
   */
  shard?: ShardSpec | string;
}

/** A vector phase's part of a sharded run, and its wall clock (for an exact merge). */
export interface VectorShardInfo {
  /** 0-based. */
  index: number;
  /** Shards of the run. */
  count: number;
  /** query: the global indices of this shard's clients, `[start, start + count)`. */
  clients?: { start: number; count: number };
  /** query: this shard's part of the requests (count mode). */
  requests?: number;
  /** load: the run's rows, all shards together (what queries are scored against). */
  runSegments?: LoadedSegment[];
  /** Wall clock (ms since the epoch) at the phase's clock start: second 0 of `latency.series`. */
  startMs: number;
  /** Wall clock of the first send, ms (0 when nothing was sent). */
  firstSendMs: number;
  /** Wall clock of the last reply, ms. */
  lastReplyMs: number;
  /** Wall clock at the phase's end (load: the index settled), ms. */
  endMs: number;
}

/** What a merge of vector shard results put together. */
export interface VectorMergeSummary {
  /** Shards of the run. */
  count: number;
  /** The shards merged, by index. */
  merged: number[];
  /** Shards not given. */
  missing: number[];
  /** Shards that failed or were interrupted, with why. */
  failed: Array<{ index: number; reason: string }>;
  /** Spread of the shards' first sends, ms. */
  startSpreadMs: number;
}

/** Recall@k over the scored queries. */
export interface RecallSummary {
  /** Queries scored (answered without error). */
  scored: number;
  mean: number;
  min: number;
  p5: number;
  p50: number;
  p95: number;
  max: number;
  /** Results counted correct because they tie with the k-th neighbour. */
  ties: number;
  /** Queries per recall bucket: `[0, 0.05), …, [0.95, 1), [1]` (21 buckets). */
  histogram: number[];
  /**
   * With `keepPerQuery`: each scored query's recall (its mean when sent more than once), in
   * query-id order.
   */
  perQuery?: number[];
  /** A run shard's result (for an exact merge): the sum of the scored queries' recalls. */
  sum?: number;
  /**
   * A run shard's result: scored queries per recall bin of 1/10000 (`[bin, queries]` pairs,
   * non-empty bins only), from which the merge takes its percentiles.
   */
  bins?: Array<[number, number]>;
}

/** What {@linkcode vectorQuery} measured. */
export interface VectorQueryResult {
  /** The server's own figures over the phase (with `serverMetrics`). */
  server?: ServerReport;
  kind: "vector-query";
  platform: VssPlatformName;
  platformDetected: boolean;
  target: string;
  index: string;
  k: number;
  efRuntime?: number;
  filter?: string;
  /** The query text sent (`*=>[KNN …]`). */
  query: string;
  /** Queries sent. */
  sent: number;
  /** Replies received (errors included). */
  completed: number;
  /** Failed queries by code (error replies, `timeout` replies, lost connections). */
  errors: Record<string, number>;
  /** Replies with fewer results than `min(k, matching keys)`: cut short by the server's timeout. */
  partial: number;
  /** Replies that were a query timeout (an error, or RediSearch's `Timeout limit was reached`). */
  timeouts: number;
  /** Whether the run was open loop, and at what rate. */
  openLoop: boolean;
  ratePerSec?: number;
  /** Open loop: sends later than 1 ms after their intended time. */
  late: number;
  /** First send to last reply, ms. */
  durationMs: number;
  /** Completed queries per second. */
  qps: number;
  /** FT.SEARCH latency: service time, and response time from the intended send in open loop. */
  latency: VectorLatency;
  /** Percentiles of `latency` (response time in open loop, else service time). */
  summary: LatencySummary;
  recall: RecallSummary;
  /** The truth the recall was scored against. */
  truth: { matched: number; depth: number; queries: number; elapsedMs: number };
  reconnects: number;
  interrupted: boolean;
  failure?: { code: string; message: string };
  /** A run shard's part (with `shard`). */
  shard?: VectorShardInfo;
  /** A merged result: the shards it came from. */
  shards?: VectorMergeSummary;
}
