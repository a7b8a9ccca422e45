import { type Analysis, type AnalyzeOptions, analyzeProfile } from "../analyze/mod.ts";
import { bench, type BenchOptions, type BenchResult, resolveBenchOptions } from "../bench/mod.ts";
import { record, type RecordOptions, type RecordResult } from "../capture/mod.ts";
import { errorMessage, EXIT, exitCodeFor, MembenchError, nearestName } from "../errors/mod.ts";
import { parseTarget, redactUri, type Target } from "../net/mod.ts";
import {
  type FidelityThresholds,
  replay,
  type ReplayOptions,
  type ReplayResult,
  synthesize,
  type SynthesizeResult,
} from "../replay/mod.ts";
import { formatAnalysisHtml } from "../report/mod.ts";
import { VERSION } from "../version.ts";
import { ResultsHistory } from "./history.ts";
import { type LocalServer, type LocalServerOptions, startLocalServer } from "./local_server.ts";
import {
  analysisMetrics,
  benchMetrics,
  type MetricSet,
  recordMetrics,
  replayMetrics,
} from "./metrics.ts";
import { redactSecrets } from "./redact.ts";
import { probeServer, type ServerInfo } from "./server_info.ts";
import {
  evaluateThreshold,
  parseThreshold,
  type Threshold,
  type ThresholdResult,
  warningVerdict,
} from "./threshold.ts";
import { type ScenarioPrinter, terminalPrinter } from "./_terminal.ts";
import type {
  CheckRecord,
  PhaseRecord,
  PhaseState,
  ScenarioResult,
  ScenarioStatus,
} from "./types.ts";

export type { CheckRecord, PhaseRecord, PhaseState, ScenarioResult, ScenarioStatus };

/** A local server for the scenario's life: a kind, or a kind with its own arguments. */
export type ScenarioServer =
  | "redis"
  | "memcached"
  | ({ kind: "redis" | "memcached" } & LocalServerOptions);

/** Options of {@linkcode scenario}: defaults every phase inherits, hooks and outputs. */
export interface ScenarioOptions<T = void> {
  /**
   * Default target of the bench and replay phases: `host:port` or a URI
   * (`redis://user:pass@host:port`, `memcache://host:11211`). Overridden by `MEMBENCH_TARGET`.
   */
  target?: string;
  /**
   * Start `redis-server` or `memcached` from the machine's binaries on a free loopback port for
   * the scenario's life, used as the target when `target` is not given.
   */
  server?: ScenarioServer;
  /** Seed every phase uses unless it sets its own. Overridden by `MEMBENCH_SEED`. @default random, journaled */
  seed?: number;
  /** Folder for the JSON summary, recorded profiles and reports. Overridden by `MEMBENCH_OUT_DIR`. @default {"results"} */
  outDir?: string;
  /**
   * The results history (SQLite) the run is journaled into, or `false` (or `"off"`) for none.
   * Overridden by `MEMBENCH_HISTORY` (`off` for none).
   * @default `<outDir>/history.db`
   */
  history?: string | false;
  /** Thresholds by phase name, checked when that phase ends: `{ mix: ["get.p99 < 2ms"] }`. */
  thresholds?: Record<string, string[]>;
  /**
   * Warnings by phase name: thresholds that are reported (`WARN`) but never fail the run, for
   * what is worth knowing without blaming the server: `{ mix: ["late_ratio < 5%"] }`.
   */
  warnings?: Record<string, string[]>;
  /** Stop the scenario after this long (a failed check "finished in time"). */
  timeoutMs?: number;
  /** Terminal output: every phase's report, only the summary, or nothing. @default {"full"} */
  print?: "full" | "summary" | "none";
  /** Set `Deno.exitCode` from the outcome. @default {true} */
  setExitCode?: boolean;
  /** Ctrl+C stops the scenario cleanly (partial results kept, exit code 130). @default {true} */
  handleSigint?: boolean;
  /** A line on what the scenario is for, kept in the journal. */
  description?: string;
  /** Runs before the main function; its value is passed to it and to `teardown`. */
  setup?: (run: Run) => T | Promise<T>;
  /** Runs after the main function, also when it failed or was interrupted. */
  teardown?: (run: Run, data: T | undefined) => void | Promise<void>;
}

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

/** Options of {@linkcode Run.replay}: exact or synthetic replay. */
export type ReplayPhaseOptions = Omit<ReplayOptions, "thresholds"> & PhaseOptions & {
  /** Limits of the fidelity report's own checks (`maxHitRatioDiff`, …); thresholds over `fidelity.*` metrics do the same. */
  fidelity?: FidelityThresholds;
  /** `exact` replays the events; `synthetic` generates traffic from the profile's analysis. @default {"exact"} */
  mode?: "exact" | "synthetic";
  /** Synthetic: seed. @default the scenario's seed */
  seed?: number;
  /** Synthetic: length of the generated traffic, ms. @default the recorded length */
  durationMs?: number;
  /** Synthetic: key popularity model. */
  popularity?: "zipf" | "empirical";
};

/** Options of {@linkcode Run.analyze}. */
export type AnalyzePhaseOptions = AnalyzeOptions & PhaseOptions & {
  /** The profile to analyze. */
  profile: string;
  /** Also write the HTML report to this file (relative paths are under `outDir`). */
  html?: string;
};

/** What a replay phase returns: the replay, and for synthetic mode the generator's digest. */
export type ReplayPhaseResult = ReplayResult & {
  synthetic?: Pick<SynthesizeResult, "digest" | "events" | "popularity" | "keyspace"> & {
    seed: number;
  };
};

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
  bench(options?: BenchOptions & PhaseOptions): Promise<BenchResult>;
  /** A record phase: a pcap file or a live interface into an anonymized profile. */
  record(
    options: Omit<RecordOptions, "output"> & { output?: string } & PhaseOptions,
  ): Promise<RecordResult>;
  /** An analyze phase over a profile. */
  analyze(options: AnalyzePhaseOptions | string): Promise<Analysis>;
  /** A replay phase: exact or synthetic. */
  replay(options: ReplayPhaseOptions): Promise<ReplayPhaseResult>;
  /** A custom phase: journaled and timed; a throw makes it an error. */
  step<R>(name: string, fn: (signal: AbortSignal) => Promise<R> | R): Promise<R>;
  /** Records a check; never throws. A function that throws fails the check. */
  check(name: string, condition: boolean | (() => boolean), detail?: string): boolean;
  /** Starts another local server, stopped when the scenario ends. */
  startServer(kind: "redis" | "memcached", options?: LocalServerOptions): Promise<LocalServer>;
  /** A line in the journal (and on the terminal with `print: "full"`). */
  log(message: string): void;
  /** Runs `fn` when the scenario ends (last registered, first run). */
  onTeardown(fn: () => void | Promise<void>): void;
  /** The named figures of a phase result, as thresholds see them. */
  metricsOf(result: BenchResult | ReplayResult | Analysis | RecordResult): MetricSet;
}

const KNOWN_OPTIONS = [
  "target",
  "server",
  "seed",
  "outDir",
  "history",
  "thresholds",
  "warnings",
  "timeoutMs",
  "print",
  "setExitCode",
  "handleSigint",
  "description",
  "setup",
  "teardown",
];

interface Resolved {
  target?: string;
  server?: { kind: "redis" | "memcached" } & LocalServerOptions;
  seed: number;
  seedGiven: boolean;
  outDir: string;
  history: string | false;
  thresholds: Map<string, Threshold[]>;
  warnings: Map<string, Threshold[]>;
  timeoutMs?: number;
  print: "full" | "summary" | "none";
}

function envValue(name: string): string | undefined {
  try {
    const v = Deno.env.get(name);
    return v === "" ? undefined : v;
  } catch {
    return undefined; // no --allow-env: no overrides
  }
}

/**
 * Checks a scenario's name and options (with their environment overrides) and returns every
 * problem, one sentence each; an empty list means they are valid.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const problems = validateScenarioOptions("demo", { seed: -1, thresholds: { bench: ["p99 <"] } });
 * assert.equal(problems.length, 2);
 * ```
 */
export function validateScenarioOptions<T>(name: string, options: ScenarioOptions<T>): string[] {
  return resolveOptions(name, options).problems;
}

function resolveOptions<T>(
  name: string,
  o: ScenarioOptions<T>,
): { resolved: Resolved; problems: string[] } {
  const problems: string[] = [];
  const bad = (what: string, rule: string, value: unknown) =>
    problems.push(
      `Cannot use ${what}: ${rule}: current value is ${
        typeof value === "string" ? JSON.stringify(redactUri(value)) : String(value)
      }`,
    );
  if (typeof name !== "string" || !/^[A-Za-z0-9][A-Za-z0-9_.\- ]*$/.test(name)) {
    bad(
      "the scenario name",
      "must start with a letter or digit and hold only letters, digits, space, _ . -",
      name,
    );
  }
  if (o === null || typeof o !== "object") {
    problems.push(`Cannot use the options: expected an object: current value is ${String(o)}`);
    o = {};
  }
  for (const k of Object.keys(o)) {
    if (!KNOWN_OPTIONS.includes(k)) {
      const near = nearestName(k, KNOWN_OPTIONS);
      problems.push(
        `Cannot use option '${k}': there is no such option${
          near ? ` (did you mean '${near}'?)` : ""
        }`,
      );
    }
  }
  const r: Resolved = {
    seed: 0,
    seedGiven: false,
    outDir: "results",
    history: false,
    thresholds: new Map(),
    warnings: new Map(),
    print: "full",
  };
  const target = envValue("MEMBENCH_TARGET") ?? o.target;
  const targetWhat = envValue("MEMBENCH_TARGET") ? "MEMBENCH_TARGET" : "option 'target'";
  if (target !== undefined) {
    if (typeof target !== "string" || target.trim() === "") {
      bad(targetWhat, "must be host:port or a URI", target);
    } else {
      try {
        parseTarget(target.replace(/^memcached?:\/\//, "redis://"));
        r.target = target;
      } catch (e) {
        problems.push(
          `Cannot use ${targetWhat}: ${errorMessage(e).replace(/^Cannot use [^:]*: /, "")}`,
        );
      }
    }
  }
  if (o.server !== undefined) {
    const kind = typeof o.server === "string" ? o.server : o.server?.kind;
    if (kind !== "redis" && kind !== "memcached") {
      bad(
        "option 'server'",
        'must be "redis" or "memcached" (or { kind, args })',
        typeof o.server === "object" ? JSON.stringify(o.server) : o.server,
      );
    } else {
      r.server = typeof o.server === "string" ? { kind } : { ...o.server, kind };
    }
  }
  const seedEnv = envValue("MEMBENCH_SEED");
  const seed = seedEnv !== undefined ? Number(seedEnv) : o.seed;
  if (seed !== undefined) {
    if (typeof seed !== "number" || !Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      bad(
        seedEnv !== undefined ? "MEMBENCH_SEED" : "option 'seed'",
        "must be an integer in 0..4294967295",
        seedEnv ?? seed,
      );
    } else {
      r.seed = seed;
      r.seedGiven = true;
    }
  }
  if (!r.seedGiven) r.seed = Math.floor(Math.random() * 0xffffffff);
  const outDir = envValue("MEMBENCH_OUT_DIR") ?? o.outDir;
  if (outDir !== undefined) {
    if (typeof outDir !== "string" || outDir.trim() === "") {
      bad("option 'outDir'", "must be a folder path", outDir);
    } else r.outDir = outDir;
  }
  const historyEnv = envValue("MEMBENCH_HISTORY");
  const history = historyEnv !== undefined
    ? (historyEnv === "off" ? false : historyEnv)
    : o.history;
  if (history === undefined) r.history = `${r.outDir.replace(/\/+$/, "")}/history.db`;
  // "off" means none here as in MEMBENCH_HISTORY (never a database file named "off").
  else if (history === false || history === "off") r.history = false;
  else if (typeof history !== "string" || history === "") {
    bad("option 'history'", "must be a file path or false", history);
  } else r.history = history;
  for (const field of ["thresholds", "warnings"] as const) {
    const given = o[field];
    if (given === undefined) continue;
    if (given === null || typeof given !== "object" || Array.isArray(given)) {
      bad(
        `option '${field}'`,
        'must map phase names to lists of expressions, as { mix: ["get.p99 < 2ms"] }',
        JSON.stringify(given),
      );
      continue;
    }
    for (const [phase, list] of Object.entries(given)) {
      if (!Array.isArray(list)) {
        bad(`${field} of '${phase}'`, "must be a list of expressions", JSON.stringify(list));
        continue;
      }
      const parsed: Threshold[] = [];
      for (const t of list) {
        try {
          parsed.push(parseThreshold(t));
        } catch (e) {
          problems.push(`Cannot use ${field} of '${phase}': ${errorMessage(e)}`);
        }
      }
      r[field].set(phase, parsed);
    }
  }
  if (o.timeoutMs !== undefined) {
    if (typeof o.timeoutMs !== "number" || !(o.timeoutMs > 0)) {
      bad("option 'timeoutMs'", "must be a number > 0", o.timeoutMs);
    } else r.timeoutMs = o.timeoutMs;
  }
  if (o.print !== undefined) {
    if (o.print !== "full" && o.print !== "summary" && o.print !== "none") {
      bad("option 'print'", 'must be "full", "summary" or "none"', o.print);
    } else r.print = o.print;
  }
  for (const k of ["setExitCode", "handleSigint"] as const) {
    if (o[k] !== undefined && typeof o[k] !== "boolean") {
      bad(`option '${k}'`, "must be true or false", o[k]);
    }
  }
  for (const k of ["setup", "teardown"] as const) {
    if (o[k] !== undefined && typeof o[k] !== "function") {
      bad(`option '${k}'`, "must be a function", typeof o[k]);
    }
  }
  if (o.description !== undefined && typeof o.description !== "string") {
    bad("option 'description'", "must be a string", o.description);
  }
  return { resolved: r, problems };
}

function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9_.-]+/g, "-").replace(/^-+|-+$/g, "") || "scenario";
}

function stamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, "").replace(".", "-"); // 20261122T232155-123Z
}

function errorInfo(e: unknown): { code: string; message: string; hint?: string } {
  if (e instanceof MembenchError) {
    return { code: e.code, message: redactUri(e.message), ...(e.hint ? { hint: e.hint } : {}) };
  }
  return {
    code: "internal",
    message: redactUri(e instanceof Error ? e.stack ?? e.message : String(e)),
  };
}

/** Thrown inside a scenario to stop it when a phase was interrupted or lost its server. */
class PhaseStop extends Error {
  constructor(readonly info: { code: string; message: string }) {
    super(info.message);
    this.name = "PhaseStop";
  }
}

/**
 * Runs a scenario: validates its options (every problem at once), starts a local server when
 * asked, runs `setup`, the function and `teardown`, and returns what happened. Phases called
 * through `run` inherit the target, seed, output folder and the Ctrl+C/timeout signal; each is
 * journaled with its options (secrets redacted), the servers' versions and its metrics, and its
 * thresholds are checked when it ends. Checks never throw.
 *
 * At the end the run's JSON summary is written to `outDir`, the run is stored in the results
 * history, a summary is printed and `Deno.exitCode` is set: 0 passed, 2 invalid options,
 * 3 a server could not be reached or was lost, 4 a check or threshold failed, 5 unreadable
 * input, 130 interrupted. This is the one library function that prints and sets the exit code,
 * because a scenario file is a program of its own; `print: "none"` and `setExitCode: false`
 * turn that off.
 *
 * @example Usage
 * ```ts ignore
 * import { scenario } from "./mod.ts";
 * await scenario("smoke", { server: "redis", seed: 1 }, async (run) => {
 *   const r = await run.bench({ tests: ["set", "get"], requests: 10_000, thresholds: ["get.p99 < 5ms"] });
 *   run.check("no errors", r.tests.every((t) => t.errors === 0));
 * });
 * ```
 */
export async function scenario<T = void>(
  name: string,
  options: ScenarioOptions<T>,
  fn: (run: Run, data: T) => Promise<void> | void,
): Promise<ScenarioResult> {
  const printer = terminalPrinter(
    (options && typeof options === "object" ? options.print : undefined) ?? "full",
  );
  const result = await runScenario(name, options, fn, printer);
  printer.summary(result);
  if (options?.setExitCode !== false) Deno.exitCode = result.exitCode;
  return result;
}

/**
 * {@linkcode scenario} without the terminal: nothing is printed and the exit code is left
 * alone; the summary file and history are written as usual.
 */
export function runScenario<T = void>(
  name: string,
  options: ScenarioOptions<T>,
  fn: (run: Run, data: T) => Promise<void> | void,
  printer: ScenarioPrinter = { line() {}, phase() {}, summary() {} },
): Promise<ScenarioResult> {
  return new ScenarioRun<T>(name, options, fn, printer).run();
}

class ScenarioRun<T> {
  #name: string;
  #options: ScenarioOptions<T>;
  #fn: (run: Run, data: T) => Promise<void> | void;
  #printer: ScenarioPrinter;
  #started = new Date();
  #phases: PhaseRecord[] = [];
  #checks: CheckRecord[] = [];
  #thresholds: Array<ThresholdResult & { phase: string }> = [];
  #logs: string[] = [];
  #servers: LocalServer[] = [];
  #teardowns: Array<() => void | Promise<void>> = [];
  #history: ResultsHistory | undefined;
  #runId = 0;
  #ac = new AbortController();
  #timedOut = false;
  #names = new Map<string, number>();
  #counts = new Map<string, number>();
  #probed = new Map<string, ServerInfo>();
  #r!: Resolved;
  #target: string | undefined;

  constructor(
    name: string,
    options: ScenarioOptions<T>,
    fn: (run: Run, data: T) => Promise<void> | void,
    printer: ScenarioPrinter,
  ) {
    this.#name = name;
    this.#options = options ?? {};
    this.#fn = fn;
    this.#printer = printer;
  }

  #journal(kind: string, data: unknown): void {
    if (!this.#history) return;
    try {
      this.#history.journal(this.#runId, kind, redactSecrets(data));
    } catch (e) {
      this.#logs.push(`history: ${errorMessage(e)}`);
      this.#history = undefined; // keep running without it
    }
  }

  async run(): Promise<ScenarioResult> {
    const { resolved, problems } = resolveOptions(this.#name, this.#options);
    this.#r = resolved;
    if (typeof this.#fn !== "function") {
      problems.push(
        `Cannot run scenario ${
          JSON.stringify(this.#name)
        }: the last argument must be an async function`,
      );
    }
    const shownOptions = this.#shownOptions();
    if (problems.length > 0) {
      return await this.#finish("invalid", shownOptions, { problems });
    }
    try {
      await Deno.mkdir(this.#r.outDir, { recursive: true });
    } catch (e) {
      return await this.#finish("invalid", shownOptions, {
        problems: [
          `Cannot use option 'outDir': cannot create ${this.#r.outDir}: ${errorMessage(e)}`,
        ],
      });
    }
    if (this.#r.history) {
      try {
        this.#history = ResultsHistory.open(this.#r.history);
        this.#runId = this.#history.beginRun({
          scenario: this.#name,
          startedAt: this.#started.toISOString(),
          options: shownOptions,
          module: mainModule(),
        });
      } catch (e) {
        return await this.#finish("error", shownOptions, { error: errorInfo(e) });
      }
    }
    this.#journal("options", shownOptions);
    const onSigint = () => {
      if (this.#ac.signal.aborted) return;
      this.#printer.line("interrupted: stopping the scenario (partial results are kept)");
      this.#ac.abort(new MembenchError("interrupted", "Interrupted by Ctrl+C"));
    };
    const sigint = this.#options.handleSigint !== false;
    if (sigint) Deno.addSignalListener("SIGINT", onSigint);
    const timer = this.#r.timeoutMs === undefined ? undefined : setTimeout(() => {
      this.#timedOut = true;
      this.#ac.abort(new MembenchError("timeout", `Stopped after timeoutMs ${this.#r.timeoutMs}`));
    }, this.#r.timeoutMs);
    let error: { code: string; message: string; hint?: string } | undefined;
    let data: T | undefined;
    try {
      this.#target = this.#r.target;
      if (this.#r.server && this.#target === undefined) {
        const { kind, ...so } = this.#r.server;
        const s = await this.#startServer(kind, so);
        this.#target = s.kind === "memcached" ? `memcache://${s.address}` : s.address;
      }
      const run = this.#handle();
      if (this.#options.setup) data = await this.#options.setup(run);
      await this.#fn(run, data as T);
    } catch (e) {
      error = e instanceof PhaseStop ? e.info : errorInfo(e);
    }
    try {
      if (this.#options.teardown) await this.#options.teardown(this.#handle(), data);
    } catch (e) {
      error ??= errorInfo(e);
    }
    for (const t of this.#teardowns.reverse()) {
      try {
        await t();
      } catch (e) {
        error ??= errorInfo(e);
      }
    }
    for (const s of this.#servers.reverse()) await s.stop().catch(() => {});
    if (timer !== undefined) clearTimeout(timer);
    if (sigint) Deno.removeSignalListener("SIGINT", onSigint);
    // Thresholds set for a phase name that never ran fail: a typo must not pass silently.
    for (const advisory of [false, true]) {
      for (const [phase, list] of advisory ? this.#r.warnings : this.#r.thresholds) {
        if (this.#phases.some((p) => p.name === phase)) continue;
        for (const t of list) {
          this.#addThreshold(phase, {
            threshold: t.source,
            limit: t.value,
            pass: false,
            ...(advisory ? { advisory } : {}),
            reason: `no phase named ${phase} ran${
              this.#phases.length ? ` (phases: ${this.#phases.map((p) => p.name).join(", ")})` : ""
            }`,
          });
        }
      }
    }
    if (this.#timedOut) {
      this.#addCheck({ name: `finished within timeoutMs ${this.#r.timeoutMs}`, pass: false });
      if (error?.code === "timeout") error = undefined;
    }
    const interrupted = this.#ac.signal.aborted && !this.#timedOut;
    const failed = this.#checks.some((c) => !c.pass) ||
      this.#thresholds.some((t) => !t.pass && !t.advisory) ||
      this.#phases.some((p) => p.state === "failed");
    const status: ScenarioStatus = interrupted
      ? "interrupted"
      : error
      ? "error"
      : failed
      ? "failed"
      : "passed";
    return await this.#finish(status, shownOptions, error && status === "error" ? { error } : {});
  }

  #shownOptions(): Record<string, unknown> {
    const o = this.#options as Record<string, unknown>;
    const shown: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(o)) {
      if (typeof v === "function") shown[k] = "[function]";
      else shown[k] = v;
    }
    if (this.#r) {
      if (this.#r.target !== undefined) shown["target"] = this.#r.target;
      shown["seed"] = this.#r.seed;
      shown["outDir"] = this.#r.outDir;
      shown["history"] = this.#r.history;
    }
    return redactSecrets(shown) as Record<string, unknown>;
  }

  async #finish(
    status: ScenarioStatus,
    options: Record<string, unknown>,
    extra: { problems?: string[]; error?: { code: string; message: string; hint?: string } },
  ): Promise<ScenarioResult> {
    const finished = new Date();
    const exitCode = status === "passed"
      ? EXIT.ok
      : status === "failed"
      ? EXIT.threshold
      : status === "invalid"
      ? EXIT.usage
      : status === "interrupted"
      ? EXIT.interrupted
      : exitCodeFor(extra.error?.code ?? "internal");
    const result: ScenarioResult = {
      scenario: this.#name,
      version: VERSION,
      status,
      exitCode,
      startedAt: this.#started.toISOString(),
      finishedAt: finished.toISOString(),
      durationMs: finished.getTime() - this.#started.getTime(),
      options,
      seed: this.#r?.seed ?? 0,
      localServers: this.#servers.map((s) => ({ kind: s.kind, address: s.address })),
      phases: this.#phases,
      checks: this.#checks,
      thresholds: this.#thresholds,
      ...(extra.problems ? { problems: extra.problems } : {}),
      ...(extra.error ? { error: extra.error } : {}),
      logs: this.#logs,
    };
    const outDir = this.#r?.outDir;
    const outUsable = outDir !== undefined &&
      !(extra.problems ?? []).some((p) => p.includes("'outDir'"));
    if (outUsable) {
      const base = `${outDir.replace(/\/+$/, "")}/${slug(this.#name)}-${stamp(this.#started)}`;
      if (this.#history) result.history = { path: this.#history.path, runId: this.#runId };
      try {
        await Deno.mkdir(outDir, { recursive: true });
        // Never overwrite another run's summary (two runs in the same millisecond, or side by side).
        for (let n = 1;; n++) {
          const path = n === 1 ? `${base}.json` : `${base}-${n}.json`;
          result.summaryPath = path;
          try {
            const text = JSON.stringify(redactSecrets(result), null, 2) + "\n";
            await Deno.writeTextFile(path, text, { createNew: true });
            break;
          } catch (e) {
            if (!(e instanceof Deno.errors.AlreadyExists) || n >= 100) throw e;
          }
        }
      } catch (e) {
        delete result.summaryPath;
        this.#logs.push(`Cannot write the summary to ${base}.json: ${errorMessage(e)}`);
      }
    }
    if (this.#history) {
      try {
        this.#journal("end", { status, exitCode, error: extra.error, problems: extra.problems });
        this.#history.finishRun(this.#runId, {
          status,
          exitCode,
          durationMs: result.durationMs,
          summary: compactSummary(result),
        });
      } catch (e) {
        this.#logs.push(`history: ${errorMessage(e)}`);
      }
      this.#history.close();
    }
    return result;
  }

  async #startServer(
    kind: "redis" | "memcached",
    o: LocalServerOptions = {},
  ): Promise<LocalServer> {
    const s = await startLocalServer(kind, o);
    this.#servers.push(s);
    this.#journal("server", { started: kind, address: s.address, pid: s.pid });
    this.#printer.line(
      `started ${
        kind === "redis" ? "redis-server" : "memcached"
      } on ${s.address} for this scenario`,
    );
    return s;
  }

  #addCheck(c: CheckRecord): void {
    this.#checks.push(c);
    this.#journal("check", c);
    this.#history?.check(this.#runId, c);
    this.#printer.line(
      `check ${c.name} ... ${c.pass ? "ok" : "FAILED"}${c.detail ? ` (${c.detail})` : ""}`,
    );
  }

  #addThreshold(phase: string, t: ThresholdResult): void {
    this.#thresholds.push({ ...t, phase });
    this.#journal("threshold", { phase, ...t });
    // The history's check rows count passes and failures of the run; a warning is neither (it
    // stays in the run's summary, which the history keeps too).
    if (t.advisory) return;
    this.#history?.check(this.#runId, {
      phase,
      name: t.threshold,
      pass: t.pass,
      ...(t.value !== undefined ? { value: t.value } : {}),
      ...(t.reason ? { detail: t.reason } : {}),
    });
  }

  #phaseName(kind: string, given: string | undefined): string {
    if (given !== undefined) {
      if (typeof given !== "string" || !/^[A-Za-z0-9][A-Za-z0-9_\-:]*$/.test(given)) {
        throw new MembenchError(
          "invalid_argument",
          `Cannot use phase name ${
            JSON.stringify(given)
          }: use letters, digits, _ - :, starting with a letter or digit`,
        );
      }
      if (this.#names.has(given)) {
        throw new MembenchError(
          "invalid_argument",
          `Cannot use phase name ${
            JSON.stringify(given)
          } twice: thresholds and the history tell phases apart by name`,
        );
      }
      this.#names.set(given, 1);
      return given;
    }
    // Unnamed phases are bench, bench-2, bench-3…, skipping names the scenario gave itself.
    let n = this.#counts.get(kind) ?? 0;
    let name: string;
    do {
      n++;
      name = n === 1 ? kind : `${kind}-${n}`;
    } while (this.#names.has(name));
    this.#counts.set(kind, n);
    this.#names.set(name, 1);
    return name;
  }

  #parseThresholds(
    name: string,
    list: string[] | undefined,
    field: "thresholds" | "warnings" = "thresholds",
  ): Threshold[] {
    const out = [...(this.#r[field].get(name) ?? [])];
    if (list === undefined) return out;
    if (!Array.isArray(list)) {
      throw new MembenchError(
        "invalid_argument",
        `Cannot use ${field} of phase ${name}: expected a list of expressions`,
      );
    }
    const problems: string[] = [];
    for (const t of list) {
      try {
        out.push(parseThreshold(t));
      } catch (e) {
        problems.push(errorMessage(e));
      }
    }
    if (problems.length) throw new MembenchError("invalid_argument", problems.join("\n"));
    return out;
  }

  async #probe(target: Target, kind: "redis" | "memcached", mc?: "text" | "meta" | "binary") {
    const key = `${kind}|${JSON.stringify(target.endpoint)}`;
    let info = this.#probed.get(key);
    if (!info) {
      info = await probeServer(target, kind, mc ? { mcProtocol: mc } : {});
      this.#probed.set(key, info);
      this.#journal("server", info);
    }
    return info;
  }

  /**
   * Runs one phase: names it, parses its thresholds before any load, journals it, runs it with
   * the scenario's signal, evaluates thresholds and stores the record. An interrupted phase or
   * a lost server stops the scenario.
   */
  async #phase<R>(
    kind: PhaseRecord["kind"],
    name: string,
    limits: { thresholds?: string[] | undefined; warnings?: string[] | undefined },
    shown: unknown,
    exec: (signal: AbortSignal) => Promise<R>,
    metricsOf: (r: R) => MetricSet,
    outcome: (r: R) => { interrupted: boolean; failure?: { code: string; message: string } },
    servers: (r: R) => Promise<ServerInfo[]>,
  ): Promise<R> {
    const thresholds = this.#parseThresholds(name, limits.thresholds);
    const warnings = this.#parseThresholds(name, limits.warnings, "warnings");
    if (this.#ac.signal.aborted) throw new PhaseStop(errorInfo(this.#ac.signal.reason));
    const startedAt = new Date();
    const options = redactSecrets(shown);
    this.#journal("phase-start", { name, kind, options });
    this.#printer.line(`\n▶ ${kind} ${name}`);
    const t0 = performance.now();
    const base = { name, kind, startedAt: startedAt.toISOString(), options };
    let r: R;
    try {
      r = await exec(this.#ac.signal);
    } catch (e) {
      const error = errorInfo(e);
      const rec: PhaseRecord = {
        ...base,
        servers: [],
        durationMs: performance.now() - t0,
        state: "error",
        error,
      };
      this.#endPhase(rec, {});
      if (this.#ac.signal.aborted) throw new PhaseStop(errorInfo(this.#ac.signal.reason));
      throw e;
    }
    const durationMs = performance.now() - t0;
    // Asked after the phase, so that the probe never delays or disturbs the measured load.
    const serverInfo = await servers(r).catch(() => []);
    Object.assign(base, { servers: serverInfo });
    const metrics = metricsOf(r);
    const verdicts = [
      ...thresholds.map((t) => evaluateThreshold(t, metrics)),
      ...warnings.map((t) => warningVerdict(t, evaluateThreshold(t, metrics))),
    ];
    const o = outcome(r);
    const state: PhaseState = o.interrupted
      ? "interrupted"
      : verdicts.some((v) => !v.pass && !v.advisory)
      ? "failed"
      : "passed";
    if (o.failure) {
      const rec: PhaseRecord = {
        ...base,
        servers: serverInfo,
        durationMs,
        state: "error",
        error: { code: o.failure.code, message: redactUri(o.failure.message) },
      };
      this.#endPhase(rec, metrics, r);
      throw new PhaseStop(rec.error);
    }
    const rec: PhaseRecord = {
      ...base,
      servers: serverInfo,
      durationMs,
      state,
      metrics,
      thresholds: verdicts,
      result: r,
    };
    this.#endPhase(rec, metrics, r);
    for (const v of verdicts) this.#addThreshold(name, v);
    if (o.interrupted) {
      throw new PhaseStop(
        errorInfo(this.#ac.signal.reason ?? new MembenchError("interrupted", "Interrupted")),
      );
    }
    return r;
  }

  #endPhase(rec: PhaseRecord, metrics: MetricSet, result?: unknown): void {
    this.#phases.push(rec);
    this.#journal("phase-end", {
      name: rec.name,
      state: rec.state,
      durationMs: rec.durationMs,
      ...(rec.state === "error" ? { error: rec.error } : { thresholds: rec.thresholds }),
    });
    try {
      this.#history?.phase(this.#runId, {
        index: this.#phases.length - 1,
        name: rec.name,
        kind: rec.kind,
        state: rec.state,
        startedAt: rec.startedAt,
        durationMs: rec.durationMs,
        metrics,
      });
    } catch (e) {
      this.#logs.push(`history: ${errorMessage(e)}`);
    }
    this.#printer.phase(rec, result);
  }

  /** The scenario's target as `host:port` or URI, and whether it names memcached. */
  #defaultTarget(): { target: string; memcached: boolean } | undefined {
    const t = this.#target;
    if (t === undefined) return undefined;
    const memcached = /^memcached?:\/\//.test(t);
    return { target: memcached ? t.replace(/^memcached?:\/\//, "") : t, memcached };
  }

  #handle(): Run {
    const run: Omit<Run, "target" | "servers"> = {
      name: this.#name,

      seed: this.#r.seed,
      outDir: this.#r.outDir,
      signal: this.#ac.signal,
      bench: (o = {}) => this.#bench(o),
      record: (o) => this.#record(o),
      analyze: (o) => this.#analyze(o),
      replay: (o) => this.#replay(o),
      step: (name, fn) =>
        this.#phase(
          "step",
          this.#phaseName("step", name),
          {},
          { name },
          async (signal) => await fn(signal),
          () => ({}),
          () => ({ interrupted: false }),
          () => Promise.resolve([]),
        ),
      check: (name, condition, detail) => {
        let pass = false;
        let why = detail;
        try {
          pass = typeof condition === "function" ? condition() === true : condition === true;
        } catch (e) {
          why = `${detail ? detail + "; " : ""}threw: ${errorMessage(e)}`;
        }
        const last = this.#phases[this.#phases.length - 1]?.name;
        this.#addCheck({
          name: String(name),
          pass,
          ...(last ? { phase: last } : {}),
          ...(why !== undefined ? { detail: String(why) } : {}),
        });
        return pass;
      },
      startServer: (kind, o) => this.#startServer(kind, o),
      log: (message) => {
        this.#logs.push(message);
        this.#journal("log", { message });
        this.#printer.line(message);
      },
      onTeardown: (fn) => {
        this.#teardowns.push(fn);
      },
      metricsOf: (r) => metricsOfAny(r),
    };
    // Live views: the target is set once the local server is up, servers grow with startServer.
    return Object.defineProperties(run, {
      target: { get: () => this.#target, enumerable: true },
      servers: { get: () => this.#servers, enumerable: true },
    }) as Run;
  }

  #bench(o: BenchOptions & PhaseOptions): Promise<BenchResult> {
    const { name: given, thresholds, warnings, ...bo } = o;
    const dt = bo.target === undefined ? this.#defaultTarget() : undefined;
    // A scenario whose server is memcached benches memcached's text protocol unless told.
    const protocol = bo.protocol ?? (dt?.memcached ? "memcache-text" : undefined);
    const mc = protocol !== undefined && protocol !== "resp";
    const target = bo.target ?? dt?.target;
    const opts: BenchOptions = {
      ...bo,
      ...(protocol !== undefined ? { protocol } : {}),
      ...(target !== undefined ? { target } : {}),
      seed: bo.seed ?? this.#r.seed,
    };
    resolveBenchOptions(opts); // every problem with the options, before any load
    const name = this.#phaseName("bench", given);
    return this.#phase(
      "bench",
      name,
      { thresholds, warnings },
      opts,
      (signal) => bench({ ...opts, signal: anySignal(signal, bo.signal) }),
      benchMetrics,
      (r) => ({
        interrupted: r.interrupted,
        ...(r.failure ? { failure: r.failure } : {}),
      }),
      async () => {
        const ts = Array.isArray(opts.target) ? opts.target : [opts.target ?? "127.0.0.1"];
        const out: ServerInfo[] = [];
        for (const t of ts) {
          const tt = typeof t === "string" ? parseTarget(t, mc ? 11211 : 6379) : { ...t };
          if (opts.password !== undefined) tt.password = opts.password;
          if (opts.user !== undefined) tt.user = opts.user;
          const mcp = protocol === "memcache-binary" ? "binary" : "text";
          out.push(await this.#probe(tt, mc ? "memcached" : "redis", mc ? mcp : undefined));
        }
        return out;
      },
    );
  }

  #record(
    o: Omit<RecordOptions, "output"> & { output?: string } & PhaseOptions,
  ): Promise<RecordResult> {
    const { name: given, thresholds, warnings, ...ro } = o;
    const name = this.#phaseName("record", given);
    const opts: RecordOptions = {
      ...ro,
      output: ro.output ?? `${this.#r.outDir}/${slug(name)}.mbp`,
    };
    return this.#phase(
      "record",
      name,
      { thresholds, warnings },
      opts,
      (signal) => record({ ...opts, signal: anySignal(signal, ro.signal) }),
      recordMetrics,
      (r) => ({ interrupted: this.#ac.signal.aborted && r.stoppedEarly }),
      () => Promise.resolve([]),
    );
  }

  #analyze(o: AnalyzePhaseOptions | string): Promise<Analysis> {
    const ao: AnalyzePhaseOptions = typeof o === "string" ? { profile: o } : o;
    const { name: given, thresholds, warnings, profile, html, ...rest } = ao;
    if (typeof profile !== "string" || profile === "") {
      throw new MembenchError(
        "invalid_argument",
        `Cannot run analyze: 'profile' must be a profile path: current value is ${String(profile)}`,
      );
    }
    return this.#phase(
      "analyze",
      this.#phaseName("analyze", given),
      { thresholds, warnings },
      ao,
      async () => {
        const a = await analyzeProfile(profile, rest);
        if (html !== undefined) {
          const path = html.startsWith("/") ? html : `${this.#r.outDir}/${html}`;
          await Deno.writeTextFile(path, formatAnalysisHtml(a));
        }
        return a;
      },
      analysisMetrics,
      () => ({ interrupted: false }),
      () => Promise.resolve([]),
    );
  }

  #replay(o: ReplayPhaseOptions): Promise<ReplayPhaseResult> {
    const {
      name: given,
      thresholds,
      warnings,
      mode,
      seed,
      durationMs,
      popularity,
      fidelity,
      ...ro
    } = o;
    if (mode !== undefined && mode !== "exact" && mode !== "synthetic") {
      throw new MembenchError(
        "invalid_argument",
        `Cannot use replay 'mode': expected "exact" or "synthetic": current value is ${
          JSON.stringify(mode)
        }`,
      );
    }
    const target = ro.target ?? this.#defaultTarget()?.target;
    const opts: ReplayOptions = {
      ...ro,
      ...(target !== undefined ? { target } : {}),
      ...(fidelity !== undefined ? { thresholds: fidelity } : {}),
    };
    const name = this.#phaseName("replay", given);
    const shown = {
      ...opts,
      mode: mode ?? "exact",
      ...(mode === "synthetic" ? { seed: seed ?? this.#r.seed, durationMs, popularity } : {}),
    };
    return this.#phase(
      "replay",
      name,
      { thresholds, warnings },
      shown,
      async (signal) => {
        let synthetic: ReplayPhaseResult["synthetic"];
        let profile = opts.profile;
        let tmp: string | undefined;
        try {
          if (mode === "synthetic") {
            tmp = await Deno.makeTempFile({ dir: this.#r.outDir, suffix: ".synthetic.mbp" });
            const s = await synthesize({
              profile,
              output: tmp,
              seed: seed ?? this.#r.seed,
              ...(durationMs !== undefined ? { durationMs } : {}),
              ...(popularity !== undefined ? { popularity } : {}),
              ...(opts.connections !== undefined ? { connections: opts.connections } : {}),
            });
            synthetic = {
              digest: s.digest,
              events: s.events,
              popularity: s.popularity,
              keyspace: s.keyspace,
              seed: seed ?? this.#r.seed,
            };
            this.#journal("log", {
              message: `synthetic traffic: ${s.events} events, digest ${s.digest}`,
            });
            profile = tmp;
          }
          const r = await replay({
            ...opts,
            profile,
            ...(mode === "synthetic" ? { connections: undefined } : {}),
            signal: anySignal(signal, ro.signal),
          } as ReplayOptions);
          return synthetic ? { ...r, synthetic } : r;
        } finally {
          if (tmp) await Deno.remove(tmp).catch(() => {});
        }
      },
      replayMetrics,
      (r) => ({ interrupted: r.interrupted, ...(r.failure ? { failure: r.failure } : {}) }),
      async (r) => {
        // The replay resolved the protocol (the recorded one unless told) and the target.
        const mc = r.config.protocol !== "resp";
        const tt = typeof opts.target === "object"
          ? { ...opts.target }
          : parseTarget(r.config.target, mc ? 11211 : 6379);
        if (opts.password !== undefined) tt.password = opts.password;
        if (opts.user !== undefined) tt.user = opts.user;
        const mcp = r.config.protocol === "memcache-binary" ? "binary" : "text";
        return [await this.#probe(tt, mc ? "memcached" : "redis", mc ? mcp : undefined)];
      },
    );
  }
}

function anySignal(a: AbortSignal, b: AbortSignal | undefined): AbortSignal {
  return b ? AbortSignal.any([a, b]) : a;
}

function mainModule(): string | undefined {
  try {
    return Deno.mainModule;
  } catch {
    return undefined;
  }
}

/** The summary as the history keeps it: without the phases' full results. */
function compactSummary(r: ScenarioResult): unknown {
  return redactSecrets({
    ...r,
    phases: r.phases.map((p) => {
      if (p.state === "error") return p;
      const { result: _result, metrics: _metrics, ...rest } = p;
      return rest;
    }),
  });
}

/** The named figures of any phase result, told apart by shape. */
export function metricsOfAny(
  r: BenchResult | ReplayResult | Analysis | RecordResult,
): MetricSet {
  if ("tests" in r) return benchMetrics(r);
  if ("fidelity" in r) return replayMetrics(r);
  if ("keys" in r && "totals" in r) return analysisMetrics(r);
  return recordMetrics(r as RecordResult);
}
