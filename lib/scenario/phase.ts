// This module uses no Deno APIs.
/**
 * The contract between a scenario run and its phases. Every phase (`phases/<kind>.ts`) takes
 * {@linkcode PhaseOptions} besides its own, turns the scenario's defaults and its options into
 * the library call, and hands the run a {@linkcode PhaseSpec}; the run
 * ({@linkcode PhaseContext.run}) parses its thresholds, journals it, runs it with the scenario's
 * signal, probes its servers, evaluates its thresholds and stores it. Types only.
 *
 * @module
 */
import type { Target } from "../net/mod.ts";
import type { ShardSpec } from "../workload/mod.ts";
import type { MetricSet } from "./metrics.ts";
import type { MetricNames } from "./metric_names.ts";
import type { ServerInfo } from "./server_info.ts";
import type { PhaseRecord } from "./types.ts";

/** Options every phase takes besides its own. */
export interface PhaseOptions {
  /** Phase name, unique in the scenario (thresholds and history refer to it). @default the phase kind, numbered when repeated */
  name?: string;
  /** Thresholds over this phase's metrics: `["get.p99 < 2ms", "errors == 0"]`. */
  thresholds?: string[];
  /**
   * Warnings: thresholds in the same grammar that are reported (`WARN` with what the metric
   * means) but never fail the phase or the run, as `["late_ratio < 5%"]` for "the load generator
   * fell behind its schedule", which says something about the client machine, not the server.
   */
  warnings?: string[];
}

/** How a phase's result ended, as the run judges it. */
export interface PhaseOutcome {
  /** Stopped early by the scenario's signal: the phase is `interrupted` and the scenario stops. */
  interrupted: boolean;
  /** The library call failed (a server lost, say): the phase is an error and the scenario stops. */
  failure?: { code: string; message: string };
}

/** One phase, ready for the run to execute. */
export interface PhaseSpec<R> {
  /** The phase kind (a {@linkcode PhaseRecord} kind). */
  kind: PhaseRecord["kind"];
  /** The phase name, from {@linkcode PhaseContext.phaseName}. */
  name: string;
  /** The phase's own thresholds (the scenario's for this name are added). */
  thresholds?: string[] | undefined;
  /** The phase's own warnings (the scenario's for this name are added). */
  warnings?: string[] | undefined;
  /** The options as journaled and summarized (the run redacts secrets). */
  shown: unknown;
  /** The options the phase does not have (`keyPatern`), one problem each. @default none */
  unknown?: readonly string[];
  /**
   * Problems already found in the phase's option values: the run reports them with the unknown
   * options and its threshold problems, all at once, before any load. @default none
   */
  problems?: readonly string[];
  /**
   * The metric names the phase can produce (`scenario/metric_names.ts`): a threshold or warning
   * on another name is a problem, reported before any load. @default not checked
   */
  metricNames?: MetricNames;
  /** Runs the library function; `signal` is aborted by Ctrl+C or the scenario's timeout. */
  exec(signal: AbortSignal): Promise<R>;
  /** The named figures thresholds see (`scenario/metrics.ts`). */
  metrics(result: R): MetricSet;
  /** Whether the result was interrupted or failed. @default not interrupted, no failure */
  outcome?(result: R): PhaseOutcome;
  /** The servers the phase talked to, asked after it ended. @default none */
  servers?(result: R): Promise<ServerInfo[]>;
}

/** What the run gives a phase: the scenario's defaults and the means to run and journal. */
export interface PhaseContext {
  /** The seed phases inherit. */
  readonly seed: number;
  /** A run shard: bench and replay phases run their part, and save their result for merging. */
  readonly shard?: ShardSpec | undefined;
  /** The output folder. */
  readonly outDir: string;
  /** The scenario's signal (Ctrl+C, timeout). */
  readonly signal: AbortSignal;
  /** The scenario's target as `host:port` or URI, and whether it names memcached. */
  defaultTarget(): { target: string; memcached: boolean } | undefined;
  /**
   * The phase's name: the one given (checked, unique) or the kind numbered (`bench`, `bench-2`).
   * Throws a `MembenchError` (`invalid_argument`) for a bad or repeated name.
   */
  phaseName(kind: string, given: string | undefined): string;
  /** Runs a phase (see the module doc) and returns its result. */
  run<R>(spec: PhaseSpec<R>): Promise<R>;
  /** A server's version and settings, asked once per server and journaled. */
  probe(
    target: Target,
    kind: "redis" | "memcached",
    mc?: "text" | "meta" | "binary",
  ): Promise<ServerInfo>;
  /** An entry in the run's journal. */
  journal(kind: string, data: unknown): void;
}
