/**
 * `membench analyze`: flags -> `analyzeProfile()` -> the analysis renderers.
 *
 * @module
 */
import { analyzeProfile } from "../lib/analyze/mod.ts";
import { formatAnalysisHtml, formatAnalysisJson, formatAnalysisText } from "../lib/report/mod.ts";
import { OUTPUT_FLAGS } from "./common_flags.ts";
import { type CommandSpec, defined, int, text, withSpec } from "./flags.ts";
import { runCommand } from "./runner.ts";

const ANALYZE_FLAGS = {
  json: withSpec(OUTPUT_FLAGS.json, { help: 'everything as JSON ("-" for stdout)' }),
  html: text({
    value: "FILE",
    section: "Output",
    help: "one self-contained HTML report with charts (no network needed to view)",
  }),
  maxKeys: int({
    value: "N",
    min: 1,
    section: "Analysis",
    help: "distinct keys counted exactly before a HyperLogLog estimate",
    defaultText: "4000000",
  }),
  top: int({ value: "N", min: 1, section: "Analysis", help: "top keys listed", defaultText: "20" }),
};

/** `membench analyze`: name, help and flags. */
export const ANALYZE: CommandSpec<typeof ANALYZE_FLAGS> = {
  name: "analyze",
  summary: "what the traffic in a profile looks like",
  usage: ["membench analyze PROFILE [--json FILE|-] [--html FILE]"],
  flags: ANALYZE_FLAGS,
  args: ["PROFILE"],
  footer:
    "A truncated profile is analyzed up to its last whole block and marked partial (exit 0, " +
    "with a\nwarning). Exit codes: 0 ok, 2 invalid flags, 5 unreadable or corrupted profile.",
};

/** `membench analyze`: returns the exit code. */
export function analyzeCommand(argv: readonly string[]): Promise<number> {
  return runCommand({
    spec: ANALYZE,
    interruptible: false,
    prepare: ({ values, positionals: [profile] }) => ({ profile: profile!, v: values }),
    async run({ profile, v }, ctx) {
      const a = await analyzeProfile(profile, defined({ maxExactKeys: v.maxKeys, topKeys: v.top }));
      if (v.json === "-") ctx.print(formatAnalysisJson(a).trimEnd());
      else ctx.print(formatAnalysisText(a).trimEnd());
      if (v.json !== undefined && v.json !== "-") await ctx.output(v.json, formatAnalysisJson(a));
      if (v.html !== undefined) await ctx.output(v.html, formatAnalysisHtml(a));
      if (a.profile.partial) ctx.note(`membench: warning: ${a.profile.warning}`);
      return 0;
    },
  }, argv);
}
