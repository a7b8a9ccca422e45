// This module uses no Deno APIs.
/**
 * The handle a scenario's function gets (`Run`): its phases, checks, logs, local servers and
 * the scenario's defaults. Types only; `run.ts` implements it, `phases/` holds each phase.
 *
 * @module
 */
import type { Analysis } from "../analyze/mod.ts";
import type { BenchResult } from "../bench/mod.ts";
import type { RecordResult } from "../capture/mod.ts";
import type { ReplayResult } from "../replay/mod.ts";
import type { VectorLoadResult, VectorQueryResult } from "../vector/mod.ts";
import type {
  LocalCluster,
  LocalClusterOptions,
  LocalServer,
  LocalServerOptions,
} from "./local_server.ts";
import type { MetricSet } from "./metrics.ts";
import type { AnalyzePhaseOptions } from "./phases/analyze.ts";
import type { BenchPhaseOptions } from "./phases/bench.ts";
import type { RecordPhaseOptions } from "./phases/record.ts";
import type { ReplayPhaseOptions, ReplayPhaseResult } from "./phases/replay.ts";
import type {
  VectorDeletePhaseOptions,
  VectorLoadPhaseOptions,
  VectorOptimizePhaseOptions,
  VectorOptimizePhaseResult,
  VectorQueryPhaseOptions,
  VectorUpdatePhaseOptions,
} from "./phases/vector.ts";

/** The handle a scenario's function gets: phases, checks and the scenario's defaults. */
export interface Run {
  /** Scenario name. */
  readonly name: string;
  /** The default target (after `target`, `MEMBENCH_TARGET` or the local server). */
  readonly target: string | undefined;
  /** The seed phases inherit. */
  readonly seed: number;
  /** The output folder. */
  readonly outDir: string;
  /** Aborted by Ctrl+C or the timeout; every phase gets it. */
  readonly signal: AbortSignal;
  /** Local servers started so far. */
  readonly servers: readonly LocalServer[];
  /** A bench phase (redis-benchmark/memtier-class load). */
  bench(options?: BenchPhaseOptions): Promise<BenchResult>;
  /** A record phase: a pcap file or a live interface into an anonymized profile. */
  record(options: RecordPhaseOptions): Promise<RecordResult>;
  /** An analyze phase over a profile. */
  analyze(options: AnalyzePhaseOptions | string): Promise<Analysis>;
  /** A replay phase: exact or synthetic. */
  replay(options: ReplayPhaseOptions): Promise<ReplayPhaseResult>;
  /**
   * A vec-load phase: creates the vector index, loads a dataset as hashes, waits for the index;
   * metrics `load.vectors_per_s`, `index.failures`, `index.build_time`, `memory.growth`, ….
   */
  vectorLoad(options: VectorLoadPhaseOptions): Promise<VectorLoadResult>;
  /** A vec-update phase: rewrites keys with (other) dataset rows; returns the new segments. */
  vectorUpdate(options: VectorUpdatePhaseOptions): Promise<VectorLoadResult>;
  /** A vec-delete phase: deletes keys; returns the segments left. */
  vectorDelete(options: VectorDeletePhaseOptions): Promise<VectorLoadResult>;
  /**
   * A vec-query phase: KNN queries scored against exact ground truth; metrics `recall.mean`,
   * `recall.p5`, `query.p99`, `qps`, `partial`, ….
   */
  vectorQuery(options: VectorQueryPhaseOptions): Promise<VectorQueryResult>;
  /**
   * A vector optimize phase: the smallest EF_RUNTIME whose recall meets `targetRecall` (bootstrap
   * interval over queries), the clients / pipeline with the most QPS there, then the recall / QPS
   * frontier on the same index; metrics `optimize.ef_runtime`, `optimize.feasible`,
   * `frontier.qps_at_recall_95`, ….
   */
  vectorOptimize(options: VectorOptimizePhaseOptions): Promise<VectorOptimizePhaseResult>;
  /** A custom phase: journaled and timed; a throw makes it an error. */
  step<R>(name: string, fn: (signal: AbortSignal) => Promise<R> | R): Promise<R>;
  /** Records a check; never throws. A function that throws fails the check. */
  check(name: string, condition: boolean | (() => boolean), detail?: string): boolean;
  /** Starts another local server, stopped when the scenario ends. */
  startServer(kind: "redis" | "memcached", options?: LocalServerOptions): Promise<LocalServer>;
  /**
   * Starts a loopback Redis cluster (`cluster-enabled yes`, joined by `redis-cli --cluster
   * create`), stopped when the scenario ends; bench it with `{ target: c.address, cluster: true }`.
   */
  startServer(kind: "redis-cluster", options?: LocalClusterOptions): Promise<LocalCluster>;
  /** A line in the journal (and on the terminal with `print: "full"`). */
  log(message: string): void;
  /** Runs `fn` when the scenario ends (last registered, first run). */
  onTeardown(fn: () => void | Promise<void>): void;
  /** The named figures of a phase result, as thresholds see them. */
  metricsOf(
    result:
      | BenchResult
      | ReplayResult
      | Analysis
      | RecordResult
      | VectorLoadResult
      | VectorQueryResult,
  ): MetricSet;
}
