// This module uses no Deno APIs.
/**
 * The records a scenario run produces (its phases, checks and summary), apart from the code that
 * runs it, so that the renderers in `report/` can read them without importing the scenario
 * runner (which imports `report/` to print).
 *
 * @module
 */
import type { MetricSet } from "./metrics.ts";
import type { ServerInfo } from "./server_info.ts";
import type { ThresholdResult } from "./threshold.ts";

/** The state a phase ended in. */
export type PhaseState = "passed" | "failed" | "error" | "interrupted";

/** A phase as the summary and the journal keep it. */
export type PhaseRecord =
  & {
    /** Name. */
    name: string;
    /** Kind. */
    kind:
      | "bench"
      | "record"
      | "analyze"
      | "replay"
      | "step"
      | "vector-load"
      | "vector-update"
      | "vector-delete"
      | "vector-query"
      | "vector-optimize";
    /** ISO 8601. */
    startedAt: string;
    /** Wall time, ms. */
    durationMs: number;
    /** The phase's options, secrets redacted. */
    options: unknown;
    /** Servers it talked to. */
    servers: ServerInfo[];
  }
  & (
    | {
      state: "passed" | "failed" | "interrupted";
      /** Named figures, for thresholds and the history. */
      metrics: MetricSet;
      /** Threshold verdicts. */
      thresholds: ThresholdResult[];
      /** The library's result. */
      result: unknown;
    }
    | {
      state: "error";
      /** What went wrong. */
      error: { code: string; message: string; hint?: string };
    }
  );

/** A check's verdict. */
export interface CheckRecord {
  /** What was checked. */
  name: string;
  /** Passed. */
  pass: boolean;
  /** The phase that ran last when the check was made. */
  phase?: string;
  /** Free text: the value seen, the reason. */
  detail?: string;
}

/** The outcome of a scenario. */
export type ScenarioStatus = "passed" | "failed" | "error" | "interrupted" | "invalid";

/** Everything a scenario run produced; also written as its JSON summary. */
export interface ScenarioResult {
  /** Scenario name. */
  scenario: string;
  /** membench version. */
  version: string;
  /** Outcome. */
  status: ScenarioStatus;
  /** Exit code for the outcome (0 passed, 2 invalid options, 3 connection, 4 failed checks or thresholds, 130 interrupted). */
  exitCode: number;
  /** ISO 8601. */
  startedAt: string;
  /** ISO 8601. */
  finishedAt: string;
  /** Wall time, ms. */
  durationMs: number;
  /** Resolved options, secrets redacted. */
  options: Record<string, unknown>;
  /** The seed phases inherited. */
  seed: number;
  /** Local servers the scenario started. */
  localServers: Array<{ kind: string; address: string }>;
  /** Phases in order. */
  phases: PhaseRecord[];
  /** Checks made with `run.check`. */
  checks: CheckRecord[];
  /** Every threshold verdict, with its phase. */
  thresholds: Array<ThresholdResult & { phase: string }>;
  /** Problems with the options (status `invalid`): all of them. */
  problems?: string[];
  /** The error that stopped the scenario (status `error`). */
  error?: { code: string; message: string; hint?: string };
  /** The JSON summary file written. */
  summaryPath?: string;
  /** The history database and the run's id in it. */
  history?: { path: string; runId: number };
  /** Log lines from `run.log`. */
  logs: string[];
}
