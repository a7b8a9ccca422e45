/**
 * `membench merge`: shard results (files, or `-` for a stream of them on stdin such as
 * `kubectl logs`) -> `mergeBenchResults()` -> the bench renderers, with the exit code one run
 * would have given.
 *
 * @module
 */
import { type BenchResult, mergeBenchResults } from "../lib/bench/mod.ts";
import { mergeReplayResults, type ReplayResult } from "../lib/replay/mod.ts";
import { MembenchError } from "../lib/errors/mod.ts";
import {
  formatBenchCsv,
  formatBenchJson,
  formatBenchQuiet,
  formatBenchText,
  formatMergeSummary,
  formatReplayJson,
  formatReplayText,
} from "../lib/report/mod.ts";
import { readJsonDocuments } from "../lib/units/mod.ts";
import { OUTPUT_FLAGS } from "./common_flags.ts";
import { bool, type CommandSpec, int, withSpec } from "./flags.ts";
import { runCommand } from "./runner.ts";
import { isVectorResult, mergeVectorShards } from "./vec.ts";
import {
  type BenchTextFlags,
  benchThresholds,
  HONESTY_FLAGS,
  judgeBench,
} from "./bench_honesty.ts";

const MERGE_FLAGS = {
  shards: int({
    value: "N",
    min: 1,
    section: "Merge",
    help: "shards the run had (every one must be given)",
    defaultText: "the count the results carry",
  }),
  allowIncomplete: bool({
    section: "Merge",
    help: "merge what is there when a shard is missing, failed or was interrupted (still named)",
  }),
  quiet: bool({ short: "q", section: "Output", help: "one line per test" }),
  csv: bool({ section: "Output", help: "CSV on stdout" }),
  json: withSpec(OUTPUT_FLAGS.json, { help: 'the merged result as JSON ("-" for stdout)' }),
  threshold: HONESTY_FLAGS.threshold,
  showErrors: HONESTY_FLAGS.showErrors,
};

/** `membench merge`: name, help and flags. */
export const MERGE: CommandSpec<typeof MERGE_FLAGS> = {
  name: "merge",
  summary: "merge the results of a run's shards (bench, replay or vec --shard I/N) into one",
  usage: [
    "membench merge [flags] RESULT.json...",
    "kubectl logs -l job-name=NAME --prefix=false | membench merge --shards N -",
  ],
  about: "Counts add up; latency percentiles come from the merged HDR histograms (never averages " +
    "of percentiles);\nper-second series align on the wall clock; the servers' figures are shard " +
    "0's. '-' reads results from stdin,\none JSON object per line, other lines skipped. Bench, " +
    "replay and vector results each merge\nwith their own kind (replay: fidelity judged again on " +
    "the whole; vector: recall over every scored query).",
  flags: MERGE_FLAGS,
  footer: "Exit codes: 0 ok, 2 invalid flags or results of different runs, 3 a shard lost its " +
    "server, 4 a --threshold\nfailed on the merged result (or no request of a test succeeded), " +
    "5 a shard missing or unreadable,\n130 a shard was interrupted (unless --allow-incomplete).",
};

// A replay result, by the fields only replay results have.
function isReplayResult(d: unknown): boolean {
  return typeof d === "object" && d !== null && "recordedSpanUs" in d && "fidelity" in d;
}

async function readResults(paths: string[]): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const p of paths) {
    let text: string;
    try {
      text = p === "-"
        ? await new Response(Deno.stdin.readable).text()
        : await Deno.readTextFile(p);
    } catch (e) {
      throw new MembenchError("file", `Cannot read ${p}: ${e instanceof Error ? e.message : e}`);
    }
    const { docs } = readJsonDocuments(text, p === "-" ? "stdin" : p);
    if (docs.length === 0) throw new MembenchError("file", `Cannot merge ${p}: no result in it`);
    out.push(...docs);
  }
  return out;
}

/** `membench merge`: returns the exit code. */
export function mergeCommand(argv: readonly string[]): Promise<number> {
  return runCommand({
    spec: MERGE,
    interruptible: false,
    prepare: ({ values, positionals }, problems) => {
      if (positionals.length === 0) problems.add("membench merge takes RESULT files (or -)");
      // Thresholds are judged on the merged result, as on one run's (exit 4 when one fails).
      const flags: BenchTextFlags = {
        ...values,
        runCount: undefined,
        loop: false,
        printPercentiles: undefined,
        hideHistogram: false,
      };
      return { v: values, paths: positionals, flags, honesty: benchThresholds(flags, problems) };
    },
    async run({ v, paths, flags, honesty }, ctx) {
      const docs = await readResults(paths);
      // Vector shards (vec load|query|run --shard I/N): their own exact merge and report.
      if (docs.length > 0 && docs.some((d) => isVectorResult(d))) {
        if (!docs.every((d) => isVectorResult(d))) {
          throw new MembenchError(
            "invalid_argument",
            "Cannot merge vector results with other results: give the shards of one run",
          );
        }
        if (v.threshold.length > 0 || v.quiet) {
          throw new MembenchError(
            "invalid_argument",
            "Cannot use --threshold or -q when merging vector results: the recall check is " +
              "each shard's --recall-threshold, judged on the merged recall",
          );
        }
        return await mergeVectorShards(docs, {
          shards: v.shards,
          allowIncomplete: v.allowIncomplete,
          json: v.json,
          csv: v.csv,
        }, ctx);
      }
      // Replay shards (replay --shard I/N): their own merge and report.
      if (docs.length > 0 && docs.every((d) => isReplayResult(d))) {
        if (v.threshold.length > 0 || v.csv || v.quiet) {
          throw new MembenchError(
            "invalid_argument",
            "Cannot use --threshold, --csv or -q when merging replay results: a replay's checks " +
              "are its fidelity thresholds, given to each shard",
          );
        }
        const r = mergeReplayResults(docs as unknown as ReplayResult[], {
          ...(v.shards !== undefined ? { shards: v.shards } : {}),
          allowIncomplete: v.allowIncomplete,
        });
        if (v.json === "-") ctx.print(formatReplayJson(r).trimEnd());
        else ctx.print(formatReplayText(r));
        ctx.note(
          `membench: ${r.shards.merged.length} of ${r.shards.count} replay shards merged` +
            (r.shards.missing.length > 0 ? `; MISSING ${r.shards.missing.join(", ")}` : ""),
        );
        if (v.json !== undefined && v.json !== "-") await ctx.output(v.json, formatReplayJson(r));
        return { interrupted: r.interrupted, failure: r.failure, pass: r.fidelity.pass };
      }
      const merged = mergeBenchResults(docs as BenchResult[], {
        ...(v.shards !== undefined ? { shards: v.shards } : {}),
        allowIncomplete: v.allowIncomplete,
      });
      if (v.json === "-") ctx.print(formatBenchJson(merged).trimEnd());
      else if (v.csv) ctx.print(formatBenchCsv(merged).trimEnd());
      else if (v.quiet) ctx.print(formatBenchQuiet(merged).trimEnd());
      else ctx.print(formatBenchText(merged).trimEnd());
      if (merged.shards) ctx.note(`membench: ${formatMergeSummary(merged.shards)}`);
      if (v.json !== undefined && v.json !== "-") await ctx.output(v.json, formatBenchJson(merged));
      return judgeBench([merged], flags, honesty, ctx);
    },
  }, argv);
}
