/**
 * The options a scenario declares: what each one means, the environment variables that override
 * them (`MEMBENCH_TARGET`, `MEMBENCH_SEED`, `MEMBENCH_OUT_DIR`, `MEMBENCH_HISTORY`), and their
 * validation, which reports every problem at once and resolves the valid options for the run.
 *
 * @module
 */
import { errorMessage, nearestName } from "../errors/mod.ts";
import { parseTarget, redactUri } from "../net/mod.ts";
import type { Run } from "./handle.ts";
import type { LocalServerOptions } from "./local_server.ts";
import { anyPhaseMetric } from "./metric_names.ts";
import { parseThreshold, type Threshold } from "./threshold.ts";
import { shardFromEnv, type ShardSpec } from "../workload/mod.ts";

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
  /**
   * Ctrl+C stops the scenario cleanly (partial results kept, exit code 130). The scenario then
   * stops listening, so that a second Ctrl+C is Deno's own: the process ends at once, killed by
   * SIGINT (status 130), without a summary. @default {true}
   */
  handleSigint?: boolean;
  /** A line on what the scenario is for, kept in the journal. */
  description?: string;
  /**
   * Check every phase's options and thresholds before the first phase runs: the function runs
   * once as a dry run in which phases, steps, checks and servers do nothing, until it first
   * reads a phase's result (or `setup`'s data). Unknown options and unknown metric names found
   * are reported together and nothing runs (exit code 2). Code between phases runs in the dry
   * run too: keep side effects in `run.step`, `setup` and `teardown`, or turn this off. Each
   * phase still checks its own options before its load. @default {true}
   */
  precheck?: boolean;
  /** Runs before the main function; its value is passed to it and to `teardown`. */
  setup?: (run: Run) => T | Promise<T>;
  /** Runs after the main function, also when it failed or was interrupted. */
  teardown?: (run: Run, data: T | undefined) => void | Promise<void>;
}

// Every option of a scenario (`deno check` fails when ScenarioOptions gains one this lacks).
const SCENARIO_KEYS = {
  target: true,
  server: true,
  seed: true,
  outDir: true,
  history: true,
  thresholds: true,
  warnings: true,
  timeoutMs: true,
  print: true,
  setExitCode: true,
  handleSigint: true,
  description: true,
  precheck: true,
  setup: true,
  teardown: true,
} satisfies Record<keyof ScenarioOptions<unknown>, true>;
const KNOWN_OPTIONS = Object.keys(SCENARIO_KEYS);

/** The options of a scenario once checked, with their defaults and environment overrides. */
export interface ResolvedScenarioOptions {
  target?: string;
  server?: { kind: "redis" | "memcached" } & LocalServerOptions;
  seed: number;
  seedGiven: boolean;
  /** A run shard (`MEMBENCH_SHARD`, or an Indexed Job's index with `MEMBENCH_SHARDS`). */
  shard?: ShardSpec;
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
  return resolveScenarioOptions(name, options).problems;
}

/**
 * Checks a scenario's name and options as {@linkcode validateScenarioOptions} does, and resolves
 * them: defaults, environment overrides, thresholds and warnings parsed. Without a seed, one is
 * drawn at random (and journaled by the run).
 */
export function resolveScenarioOptions<T>(
  name: string,
  o: ScenarioOptions<T>,
): { resolved: ResolvedScenarioOptions; problems: string[] } {
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
  const r: ResolvedScenarioOptions = {
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
  // A shard of a run (a pod of a Kubernetes Indexed Job, say): its bench and replay phases run
  // their part. Every shard must draw the same keys, so the seed cannot be a random one.
  try {
    const shard = shardFromEnv({
      MEMBENCH_SHARD: envValue("MEMBENCH_SHARD"),
      JOB_COMPLETION_INDEX: envValue("JOB_COMPLETION_INDEX"),
      MEMBENCH_SHARDS: envValue("MEMBENCH_SHARDS"),
    });
    if (shard) {
      r.shard = shard;
      if (!r.seedGiven) {
        problems.push(
          `Cannot run shard ${shard.index}/${shard.count} without a seed: every shard must draw ` +
            "the same keys (set MEMBENCH_SEED or the scenario's 'seed' option)",
        );
      }
    }
  } catch (e) {
    problems.push(errorMessage(e));
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
        let th: Threshold;
        try {
          th = parseThreshold(t);
        } catch (e) {
          problems.push(`Cannot use ${field} of '${phase}': ${errorMessage(e)}`);
          continue;
        }
        parsed.push(th);
        // The phase's kind is known when it runs (where its own names are checked); a name no
        // phase kind has is a typo now.
        const m = anyPhaseMetric(th.metric);
        if (!m.known) {
          problems.push(
            `Cannot use ${field} of '${phase}': no phase has a metric named ${th.metric}${
              m.nearest ? ` (did you mean ${m.nearest}?)` : ""
            }`,
          );
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
  for (const k of ["setExitCode", "handleSigint", "precheck"] as const) {
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
