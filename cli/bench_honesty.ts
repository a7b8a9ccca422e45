/**
 * `membench bench`'s honesty layer over the library: the flags users bring from redis-benchmark
 * (`-l`, `-e`), memtier (`--run-count`, `--print-percentiles`, `--hide-histogram`) and k6
 * (`--threshold`); the warnings printed before a run; the verdict after it (a test with no
 * successful request, or a failed threshold, exits 4 with the first error and a hint).
 *
 * @module
 */
import {
  type BenchOptions,
  benchRepeat,
  type BenchResult,
  benchWarnings,
  resolveBenchOptions,
  withProtocolHint,
} from "../lib/bench/mod.ts";
import {
  type BenchTextOptions,
  formatBenchProgress,
  formatBenchQuiet,
  formatBenchRepeatCsv,
  formatBenchRepeatJson,
  formatBenchRepeatText,
  formatBenchText,
  formatThresholdLine,
} from "../lib/report/mod.ts";
import {
  benchMetrics,
  evaluateThreshold,
  parseThreshold,
  type Threshold,
} from "../lib/scenario/mod.ts";
import { BadValue, bool, custom, int, type Problems, text, type Values } from "./flags.ts";
import type { Outcome, RunContext } from "./runner.ts";

/** The flags of this layer, spread into bench's flag set. */
export const HONESTY_FLAGS = {
  runCount: int({
    value: "N",
    min: 1,
    section: "Load",
    help: "run the whole bench N times; each run is printed, then per test the spread of ops/s " +
      "and p99 over the runs (median, min, max, stdev), as memtier --run-count",
  }),
  loop: bool({
    short: "l",
    section: "Load",
    help: "run the tests again and again until Ctrl+C, as redis-benchmark -l (the spread over " +
      "the finished runs is printed at the end)",
  }),
  threshold: text({
    value: "EXPR",
    multiple: true,
    section: "Checks",
    help: 'pass/fail on a figure, as k6 and scenarios: "get.p99 < 2ms", "ops > 50k", ' +
      '"error_rate < 1%", "errors == 0" (repeatable); a failed one exits 4 with its value',
  }),
  showErrors: bool({
    short: "e",
    section: "Output",
    help: "print the first error of each kind of every test on stderr, in every output mode " +
      "(redis-benchmark -e); the text report always shows them",
  }),
  printPercentiles: custom({
    value: "LIST",
    section: "Output",
    help: 'latency columns of the text report, e.g. "50,99,99.9,99.99" (memtier ' +
      "--print-percentiles)",
    defaultText: "50,90,99,99.9",
  }, parsePercentiles),
  hideHistogram: bool({
    section: "Output",
    help: "accepted for memtier: membench prints no histogram (write one with --hdr-log)",
  }),
};

function parsePercentiles(raw: string): number[] {
  const items = raw.split(",").map((x) => x.trim()).filter((x) => x !== "");
  if (items.length === 0) throw new BadValue("expected a comma-separated list of percentiles");
  return items.map((x) => {
    const n = Number(x);
    if (!(n > 0 && n <= 100)) throw new BadValue(`expected percentiles > 0 and <= 100, not ${x}`);
    return n;
  });
}

/** What the run needs of this layer, from the flags. */
export interface BenchHonesty {
  /** Thresholds, parsed before any load. */
  thresholds: Threshold[];
  /** Runs (`--run-count`, or Infinity for `-l`); undefined for one plain run. */
  runs: number | undefined;
}

/** The flag values this layer reads. */
export type BenchTextFlags = Values<typeof HONESTY_FLAGS> & {
  json?: string | undefined;
  csv: boolean;
  quiet: boolean;
  hdrLog?: string | undefined;
  shards?: number | undefined;
};

/** Parses the thresholds and checks the repeat flags; every problem goes into `problems`. */
export function benchThresholds(v: BenchTextFlags, problems: Problems): BenchHonesty {
  const thresholds: Threshold[] = [];
  for (const t of v.threshold) {
    const parsed = problems.try(() => parseThreshold(t));
    if (parsed) thresholds.push(parsed);
  }
  if (v.loop && v.runCount !== undefined) {
    problems.add("Cannot use '-l/--loop' with '--run-count': choose one");
  }
  const runs = v.loop ? Infinity : v.runCount;
  if (runs !== undefined && v.shards !== undefined) {
    problems.add("Cannot use '--run-count' or '-l' with '--shards'");
  }
  if (runs !== undefined && v.hdrLog !== undefined) {
    problems.add("Cannot use '--hdr-log' with '--run-count' or '-l': log one run at a time");
  }
  return { thresholds, runs };
}

/** The text report's options from the flags. */
export function textOptions(v: BenchTextFlags): BenchTextOptions {
  return v.printPercentiles !== undefined ? { percentiles: v.printPercentiles } : {};
}

/** Prints the library's warnings about the settings on stderr, before the run. */
export function warnBench(options: BenchOptions, ctx: RunContext): void {
  let config;
  try {
    config = resolveBenchOptions(options).config;
  } catch {
    return; // bench() reports the problem itself
  }
  for (const w of benchWarnings(options, config)) ctx.note(`membench: warning: ${w}`);
}

/**
 * The verdict on finished runs: a test with no successful request prints its first error and a
 * hint on stderr (also with -q); `-e` (and -q) print the first error of each kind; thresholds are
 * evaluated on each run. Exit: 130 interrupted, 3 every connection lost, 4 a test with no
 * successful request or a failed threshold, else 0.
 */
export function judgeBench(
  results: BenchResult[],
  v: BenchTextFlags,
  h: BenchHonesty,
  ctx: RunContext,
): Outcome {
  let pass = true;
  const many = results.length > 1;
  for (const [i, r] of results.entries()) {
    if (!judgeRun(r, many ? i : undefined, v, h, ctx)) pass = false;
  }
  const last = results[results.length - 1];
  return {
    interrupted: results.some((r) => r.interrupted),
    failure: results.find((r) => r.failure)?.failure ?? undefined,
    pass: pass && last !== undefined,
  };
}

// One run: prints what failed; false when a test made no successful request or a threshold failed.
function judgeRun(
  r: BenchResult,
  run: number | undefined,
  v: BenchTextFlags,
  h: BenchHonesty,
  ctx: RunContext,
): boolean {
  let pass = true;
  const at = run === undefined ? "" : `run ${run + 1}: `;
  const textMode = v.json !== "-" && !v.csv && !v.quiet;
  for (const t of r.tests) {
    if (t.allFailed) {
      pass = false;
      ctx.note(`membench: ${at}${t.allFailed.message}`);
      if (t.allFailed.hint) ctx.note(`  hint: ${t.allFailed.hint}`);
    } else if (t.errors > 0 && (v.showErrors || v.quiet) && !(textMode && !v.showErrors)) {
      for (const c of t.commands) {
        for (const [code, text] of Object.entries(c.firstErrors ?? {})) {
          ctx.note(
            `membench: ${at}${t.name}: ${c.errors[code] ?? 0} ${code} errors of ${t.requests} ` +
              `requests; the first: ${text}`,
          );
        }
      }
    }
  }
  if (h.thresholds.length > 0 && !r.interrupted && r.tests.length > 0) {
    const metrics = benchMetrics(r);
    for (const t of h.thresholds) {
      const verdict = evaluateThreshold(t, metrics);
      if (!verdict.pass) pass = false;
      const line = `${at}${formatThresholdLine(verdict)}`;
      // Text mode: the verdicts follow the report; otherwise stdout stays machine-readable.
      if (textMode) ctx.print(line);
      else ctx.note(`membench: threshold ${line}`);
    }
  }
  return pass;
}

/** `--run-count N` and `-l`: each run printed as it ends, then the spread over the runs. */
export async function repeatBench(
  options: BenchOptions,
  v: BenchTextFlags,
  h: BenchHonesty,
  ctx: RunContext,
): Promise<Outcome> {
  const runs = h.runs!;
  const machine = v.json === "-" || v.csv;
  let pass = true;
  let first = true;
  let r;
  try {
    r = await benchRepeat({
      ...options,
      runs,
      keepRuns: runs !== Infinity,
      signal: ctx.signal,
      onProgress: (p) => ctx.progress(formatBenchProgress(p)),
      onRun: (res, i) => {
        if (!machine) {
          const head = `== run ${i + 1}${runs === Infinity ? "" : ` of ${runs}`}`;
          const body = v.quiet ? formatBenchQuiet(res) : formatBenchText(res, textOptions(v));
          ctx.print(`${first ? "" : "\n"}${head}\n${body.trimEnd()}`);
          first = false;
        }
        if (!judgeRun(res, i, v, h, ctx)) pass = false;
      },
    });
  } catch (e) {
    throw withProtocolHint(e, options.protocol ?? "resp");
  }
  if (v.json === "-") ctx.print(formatBenchRepeatJson(r).trimEnd());
  else if (v.csv) ctx.print(formatBenchRepeatCsv(r).trimEnd());
  else ctx.print(`\n${formatBenchRepeatText(r).trimEnd()}`);
  if (v.json !== undefined && v.json !== "-") await ctx.output(v.json, formatBenchRepeatJson(r));
  return { interrupted: r.interrupted, failure: r.failure, pass: pass && r.completed > 0 };
}

/** `bench()`'s promise, its error given a hint when the server answers in another protocol. */
export async function hinted<T>(options: BenchOptions, run: Promise<T>): Promise<T> {
  try {
    return await run;
  } catch (e) {
    throw withProtocolHint(e, options.protocol ?? "resp");
  }
}
