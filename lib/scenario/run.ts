/**
 * One scenario run from start to end: options resolved (every problem at once), the output
 * folder and the history opened, Ctrl+C and the timeout wired to the scenario's signal, the local
 * server, `setup`, the function and `teardown`, each phase's lifecycle (thresholds parsed before
 * any load, journal, verdicts, history), checks, and the outcome: status, exit code, JSON summary
 * and history. What each phase does lives in `phases/`; how it is printed, in `report/`.
 *
 * @module
 */
import { errorMessage, MembenchError } from "../errors/mod.ts";
import { redactUri, type Target } from "../net/mod.ts";
import { formatCheckLine } from "../report/mod.ts";
import { type Interrupt, onInterrupt } from "../units/mod.ts";
import { VERSION } from "../version.ts";
import type { Run } from "./handle.ts";
import { ResultsHistory } from "./history.ts";
import {
  type LocalCluster,
  type LocalClusterOptions,
  type LocalServer,
  type LocalServerOptions,
  startLocalCluster,
  startLocalServer,
} from "./local_server.ts";
import { type MetricSet, metricsOfAny } from "./metrics.ts";
import { anyPhaseMetric, metricNameProblems } from "./metric_names.ts";
import {
  type ResolvedScenarioOptions,
  resolveScenarioOptions,
  type ScenarioOptions,
} from "./options.ts";
import type { PhaseContext, PhaseSpec } from "./phase.ts";
import { analyzePhase } from "./phases/analyze.ts";
import { benchPhase } from "./phases/bench.ts";
import { recordPhase } from "./phases/record.ts";
import { replayPhase } from "./phases/replay.ts";
import { stepPhase } from "./phases/step.ts";
import {
  vectorDeletePhase,
  vectorLoadPhase,
  vectorOptimizePhase,
  vectorQueryPhase,
  vectorUpdatePhase,
} from "./phases/vector.ts";
import { redactSecrets } from "./redact.ts";
import { probeServer, type ServerInfo } from "./server_info.ts";
import {
  evaluateThreshold,
  parseThreshold,
  type Threshold,
  type ThresholdResult,
  warningVerdict,
} from "./threshold.ts";
import type { ScenarioPrinter } from "./_terminal.ts";
import type {
  CheckRecord,
  PhaseRecord,
  PhaseState,
  ScenarioResult,
  ScenarioStatus,
} from "./types.ts";
import { compactSummary, scenarioExitCode, writeSummaryFile } from "./_summary.ts";
import { errorInfo } from "./_util.ts";

/** Thrown inside a scenario to stop it when a phase was interrupted or lost its server. */
class PhaseStop extends Error {
  constructor(readonly info: { code: string; message: string }) {
    super(info.message);
    this.name = "PhaseStop";
  }
}

/** Ends the dry run (`precheck`): the function read a phase's result, or the time is up. */
class PlanStop extends Error {
  constructor() {
    super("the precheck stops here");
    this.name = "PlanStop";
  }
}

// How long the dry run may take: it waits for nothing but the function's own code.
const PLAN_BUDGET_MS = 2000;
// A loop of phases in the dry run stops here.
const PLAN_MAX_PHASES = 1000;

/**
 * A phase result in the dry run: awaiting it works (it is no thenable), any other use ends the
 * dry run, since what follows depends on a real result.
 */
function hollow(): never {
  const stop = (): never => {
    throw new PlanStop();
  };
  return new Proxy({}, {
    get: (_t, p) => (p === "then" ? undefined : stop()),
    has: stop,
    ownKeys: stop,
    getOwnPropertyDescriptor: stop,
    set: stop,
    getPrototypeOf: stop,
  }) as never;
}

/** One run of a scenario; `run()` resolves with what happened and never throws. */
export class ScenarioRun<T> {
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
  #clusters: LocalCluster[] = [];
  #teardowns: Array<() => void | Promise<void>> = [];
  #history: ResultsHistory | undefined;
  #runId = 0;
  #interrupt!: Interrupt;
  #timedOut = false;
  #names = new Map<string, number>();
  #counts = new Map<string, number>();
  #probed = new Map<string, ServerInfo>();
  #r!: ResolvedScenarioOptions;
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
    const { resolved, problems } = resolveScenarioOptions(this.#name, this.#options);
    this.#r = resolved;
    if (typeof this.#fn !== "function") {
      problems.push(
        `Cannot run scenario ${
          JSON.stringify(this.#name)
        }: the last argument must be an async function`,
      );
    }
    const shownOptions = this.#shownOptions();
    if (typeof this.#fn === "function" && this.#options.precheck !== false) {
      problems.push(...await this.#plan());
    }
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
    // The first Ctrl+C stops the scenario, keeping partial results. Then the run stops
    // listening: a second Ctrl+C is Deno's own and ends the process at once (killed by SIGINT,
    // status 130), with no Deno.exit in lib/.
    let listening = true;
    const stopListening = () => {
      if (listening) this.#interrupt[Symbol.dispose]();
      listening = false;
    };
    this.#interrupt = onInterrupt({
      listen: this.#options.handleSigint !== false,
      reason: () => new MembenchError("interrupted", "Interrupted by Ctrl+C"),
      onFirst: () => {
        // After the timeout the scenario is stopping already.
        if (!this.#timedOut) {
          this.#printer.line("interrupted: stopping the scenario (partial results are kept)");
        }
        stopListening();
      },
    });
    const timer = this.#r.timeoutMs === undefined ? undefined : setTimeout(() => {
      this.#timedOut = true;
      this.#interrupt.abort(
        new MembenchError("timeout", `Stopped after timeoutMs ${this.#r.timeoutMs}`),
      );
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
    for (const c of this.#clusters) await c.stop().catch(() => {});
    if (timer !== undefined) clearTimeout(timer);
    stopListening();
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
    const interrupted = this.#interrupt.signal.aborted && !this.#timedOut;
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

  /**
   * The dry run (`precheck`): the function runs with a handle whose phases check their options
   * and thresholds and return {@linkcode hollow} results; steps, checks, logs and servers do
   * nothing. It ends when the function returns or throws, first uses a result, or after
   * {@linkcode PLAN_BUDGET_MS}. Returns the unknown options and metric names found; a phase's
   * other problems (bad values, which may come from a result the dry run does not have) are
   * left to the phase itself, before its load.
   */
  async #plan(): Promise<string[]> {
    const problems: string[] = [];
    const aborted = new AbortController();
    aborted.abort(new PlanStop());
    let phases = 0;
    let over = false;
    const ctx: PhaseContext = {
      seed: this.#r.seed,
      shard: this.#r.shard,
      outDir: this.#r.outDir,
      signal: aborted.signal,
      defaultTarget: () => this.#defaultTarget(),
      phaseName: (kind, given) => this.#phaseName(kind, given),
      run: (spec) => {
        if (over || ++phases > PLAN_MAX_PHASES) throw new PlanStop();
        problems.push(...(spec.unknown ?? []));
        const list: Array<Threshold & { advisory?: boolean }> = [];
        for (const field of ["thresholds", "warnings"] as const) {
          const given = field === "thresholds" ? spec.thresholds : spec.warnings;
          const all = [
            ...(Array.isArray(given) ? given : []),
            // The scenario's for this name, but not those already reported as no phase's.
            ...(this.#r[field].get(spec.name) ?? []).filter((t) => anyPhaseMetric(t.metric).known),
          ];
          for (const t of all) {
            try {
              const th = typeof t === "string" ? parseThreshold(t) : t;
              list.push(field === "warnings" ? { ...th, advisory: true } : th);
            } catch {
              // a bad expression is reported by the phase itself (it may hold a result's value)
            }
          }
        }
        if (spec.metricNames) {
          problems.push(
            ...metricNameProblems(`${spec.kind} phase ${spec.name}`, list, spec.metricNames),
          );
        }
        return Promise.resolve(hollow());
      },
      probe: () => Promise.reject(new PlanStop()),
      journal: () => {},
    };
    const inPlan = <R>(f: () => R): R => {
      if (over) throw new PlanStop();
      return f();
    };
    const handle: Run = {
      name: this.#name,
      target: this.#r.target,
      servers: [],
      seed: this.#r.seed,
      outDir: this.#r.outDir,
      signal: aborted.signal,
      bench: (o = {}) => inPlan(() => benchPhase(ctx, o)),
      record: (o) => inPlan(() => recordPhase(ctx, o)),
      analyze: (o) => inPlan(() => analyzePhase(ctx, o)),
      replay: (o) => inPlan(() => replayPhase(ctx, o)),
      step: (name) =>
        inPlan(() => {
          ctx.phaseName("step", name);
          return Promise.resolve(hollow());
        }),
      vectorLoad: (o) => inPlan(() => vectorLoadPhase(ctx, o)),
      vectorUpdate: (o) => inPlan(() => vectorUpdatePhase(ctx, o)),
      vectorDelete: (o) => inPlan(() => vectorDeletePhase(ctx, o)),
      vectorQuery: (o) => inPlan(() => vectorQueryPhase(ctx, o)),
      vectorOptimize: (o) => inPlan(() => vectorOptimizePhase(ctx, o)),
      check: () => true,
      startServer: (() => inPlan(() => Promise.resolve(hollow()))) as Run["startServer"],
      log: () => {},
      onTeardown: () => {},
      metricsOf: () => hollow(),
    };
    let timer: ReturnType<typeof setTimeout> | undefined;
    const budget = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, PLAN_BUDGET_MS);
    });
    const walk = (async () => {
      try {
        // setup does not run in the dry run: its data is a result not had.
        await this.#fn(handle, (this.#options.setup ? hollow() : undefined) as T);
      } catch (e) {
        // An option that is not an object: a problem; anything else ends the dry run (the
        // real run meets it again where it is).
        if (e instanceof MembenchError && e.code === "invalid_argument" && !over) {
          if (!problems.includes(e.message)) problems.push(e.message);
        }
      }
    })();
    await Promise.race([walk, budget]);
    over = true;
    clearTimeout(timer);
    // The real run names its phases afresh.
    this.#names.clear();
    this.#counts.clear();
    return problems;
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
    const exitCode = scenarioExitCode(status, extra.error?.code);
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
      if (this.#history) result.history = { path: this.#history.path, runId: this.#runId };
      try {
        await writeSummaryFile(outDir, result, this.#started);
      } catch (e) {
        this.#logs.push(errorMessage(e));
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

  // A loopback cluster: its nodes join the run's servers; the cluster stops (and its folder goes)
  // when the scenario ends.
  async #startCluster(o: LocalClusterOptions = {}): Promise<LocalCluster> {
    const c = await startLocalCluster(o);
    this.#clusters.push(c);
    this.#servers.push(...c.nodes, ...c.spares);
    this.#journal("server", {
      started: "redis-cluster",
      addresses: c.addresses,
      ...(c.spares.length > 0 ? { spares: c.spares.map((n) => n.address) } : {}),
    });
    this.#printer.line(
      `started a redis cluster of ${c.nodes.length} nodes (${c.address}, …) for this scenario`,
    );
    return c;
  }

  #addCheck(c: CheckRecord): void {
    this.#checks.push(c);
    this.#journal("check", c);
    this.#history?.check(this.#runId, c);
    this.#printer.line(formatCheckLine(c));
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
    field: "thresholds" | "warnings",
    problems: string[],
  ): Threshold[] {
    const out = [...(this.#r[field].get(name) ?? [])];
    if (list === undefined) return out;
    if (!Array.isArray(list)) {
      problems.push(`Cannot use ${field} of phase ${name}: expected a list of expressions`);
      return out;
    }
    for (const t of list) {
      try {
        out.push(parseThreshold(t));
      } catch (e) {
        problems.push(errorMessage(e));
      }
    }
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
   * Runs one named phase: parses its thresholds before any load, journals it, runs it with the
   * scenario's signal, probes its servers, evaluates thresholds and stores the record. An
   * interrupted phase or a lost server stops the scenario.
   */
  async #runPhase<R>(spec: PhaseSpec<R>): Promise<R> {
    const { kind, name, shown, exec } = spec;
    // Every problem of the phase at once, before any load: its options, its thresholds and
    // warnings (the scenario's for this name too) and the metrics they name.
    const problems = [...(spec.unknown ?? []), ...(spec.problems ?? [])];
    const thresholds = this.#parseThresholds(name, spec.thresholds, "thresholds", problems);
    const warnings = this.#parseThresholds(name, spec.warnings, "warnings", problems);
    if (spec.metricNames) {
      problems.push(
        ...metricNameProblems(
          `${kind} phase ${name}`,
          [...thresholds, ...warnings.map((w) => ({ ...w, advisory: true }))],
          spec.metricNames,
        ),
      );
    }
    if (problems.length) throw new MembenchError("invalid_argument", problems.join("\n"));
    const signal = this.#interrupt.signal;
    if (signal.aborted) throw new PhaseStop(errorInfo(signal.reason));
    const startedAt = new Date();
    const options = redactSecrets(shown);
    this.#journal("phase-start", { name, kind, options });
    this.#printer.line(`\n▶ ${kind} ${name}`);
    const t0 = performance.now();
    const base = { name, kind, startedAt: startedAt.toISOString(), options };
    let r: R;
    try {
      r = await exec(signal);
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
      if (signal.aborted) throw new PhaseStop(errorInfo(signal.reason));
      throw e;
    }
    const durationMs = performance.now() - t0;
    // Asked after the phase, so that the probe never delays or disturbs the measured load.
    const serverInfo = spec.servers ? await spec.servers(r).catch(() => []) : [];
    Object.assign(base, { servers: serverInfo });
    const metrics = spec.metrics(r);
    const verdicts = [
      ...thresholds.map((t) => evaluateThreshold(t, metrics)),
      ...warnings.map((t) => warningVerdict(t, evaluateThreshold(t, metrics))),
    ];
    const o = spec.outcome?.(r) ?? { interrupted: false };
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
        errorInfo(signal.reason ?? new MembenchError("interrupted", "Interrupted")),
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

  /** What the phases get from this run (`phase.ts`). */
  #context(): PhaseContext {
    return {
      seed: this.#r.seed,
      shard: this.#r.shard,
      outDir: this.#r.outDir,
      signal: this.#interrupt.signal,
      defaultTarget: () => this.#defaultTarget(),
      phaseName: (kind, given) => this.#phaseName(kind, given),
      run: (spec) => this.#runPhase(spec),
      probe: (target, kind, mc) => this.#probe(target, kind, mc),
      journal: (kind, data) => this.#journal(kind, data),
    };
  }

  #handle(): Run {
    const ctx = this.#context();
    const run: Omit<Run, "target" | "servers"> = {
      name: this.#name,
      seed: this.#r.seed,
      outDir: this.#r.outDir,
      signal: this.#interrupt.signal,
      bench: (o = {}) => benchPhase(ctx, o),
      record: (o) => recordPhase(ctx, o),
      analyze: (o) => analyzePhase(ctx, o),
      replay: (o) => replayPhase(ctx, o),
      step: (name, fn) => stepPhase(ctx, name, fn),
      vectorLoad: (o) => vectorLoadPhase(ctx, o),
      vectorUpdate: (o) => vectorUpdatePhase(ctx, o),
      vectorDelete: (o) => vectorDeletePhase(ctx, o),
      vectorQuery: (o) => vectorQueryPhase(ctx, o),
      vectorOptimize: (o) => vectorOptimizePhase(ctx, o),
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
      startServer:
        ((kind: "redis" | "memcached" | "redis-cluster", o?: object) =>
          kind === "redis-cluster"
            ? this.#startCluster(o as LocalClusterOptions | undefined)
            : this.#startServer(kind, o as LocalServerOptions | undefined)) as Run["startServer"],
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
}

function mainModule(): string | undefined {
  try {
    return Deno.mainModule;
  } catch {
    return undefined;
  }
}
