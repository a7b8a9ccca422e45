/**
 * `run.analyze()`: an analyze phase over a profile, with an optional HTML report under the
 * scenario's output folder.
 *
 * @module
 */
import { type Analysis, type AnalyzeOptions, analyzeProfile } from "../../analyze/mod.ts";
import { MembenchError } from "../../errors/mod.ts";
import { formatAnalysisHtml } from "../../report/mod.ts";
import { analysisMetrics } from "../metrics.ts";
import type { PhaseContext, PhaseOptions } from "../phase.ts";

/** Options of {@linkcode Run.analyze}. */
export type AnalyzePhaseOptions = AnalyzeOptions & PhaseOptions & {
  /** The profile to analyze. */
  profile: string;
  /** Also write the HTML report to this file (relative paths are under `outDir`). */
  html?: string;
};

/** Runs an analyze phase in the scenario `ctx`; a string is the profile's path. */
export function analyzePhase(
  ctx: PhaseContext,
  o: AnalyzePhaseOptions | string,
): Promise<Analysis> {
  const ao: AnalyzePhaseOptions = typeof o === "string" ? { profile: o } : o;
  const { name: given, thresholds, warnings, profile, html, ...rest } = ao;
  if (typeof profile !== "string" || profile === "") {
    throw new MembenchError(
      "invalid_argument",
      `Cannot run analyze: 'profile' must be a profile path: current value is ${String(profile)}`,
    );
  }
  return ctx.run({
    kind: "analyze",
    name: ctx.phaseName("analyze", given),
    thresholds,
    warnings,
    shown: ao,
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
