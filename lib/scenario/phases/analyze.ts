/**
 * `run.analyze()`: an analyze phase over a profile, with an optional HTML report under the
 * scenario's output folder.
 *
 * @module
 */
import { type Analysis, type AnalyzeOptions, analyzeProfile } from "../../analyze/mod.ts";
import { formatAnalysisHtml } from "../../report/mod.ts";
import { analysisMetrics } from "../metrics.ts";
import type { PhaseContext, PhaseOptions } from "../phase.ts";
import { phaseNameOr, requireObject, unknownOptions } from "../_util.ts";
import { metricNamesOf } from "../metric_names.ts";

/** Options of {@linkcode Run.analyze}. */
export type AnalyzePhaseOptions = AnalyzeOptions & PhaseOptions & {
  /** The profile to analyze. */
  profile: string;
  /** Also write the HTML report to this file (relative paths are under `outDir`). */
  html?: string;
};

// Every option of an analyze phase (`deno check` fails when the type gains an option this list lacks).
const ANALYZE_KEYS = {
  name: true,
  thresholds: true,
  warnings: true,
  maxExactKeys: true,
  topKeys: true,
  profile: true,
  html: true,
} satisfies Record<keyof AnalyzePhaseOptions, true>;

/** Runs an analyze phase in the scenario `ctx`; a string is the profile's path. */
export function analyzePhase(
  ctx: PhaseContext,
  o: AnalyzePhaseOptions | string,
): Promise<Analysis> {
  const ao: AnalyzePhaseOptions = typeof o === "string" ? { profile: o } : o;
  requireObject("the analyze phase", ao);
  const { name: given, thresholds, warnings, profile, html, ...rest } = ao;
  const problems: string[] = [];
  const name = phaseNameOr(ctx, "analyze", given, problems);
  const unknown = unknownOptions(`analyze phase ${name}`, ao, ANALYZE_KEYS);
  if (typeof profile !== "string" || profile === "") {
    problems.push(
      `Cannot run analyze: 'profile' must be a profile path: current value is ${String(profile)}`,
    );
  }
  return ctx.run({
    kind: "analyze",
    name,
    thresholds,
    warnings,
    shown: ao,
    unknown,
    problems,
    metricNames: metricNamesOf("analyze"),
    exec: async () => {
      const a = await analyzeProfile(profile, rest);
      if (html !== undefined) {
        const path = html.startsWith("/") ? html : `${ctx.outDir}/${html}`;
        await Deno.writeTextFile(path, formatAnalysisHtml(a));
      }
      return a;
    },
    metrics: analysisMetrics,
  });
}
