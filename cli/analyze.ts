// deno-lint-ignore-file no-console
import { analyzeProfile } from "../lib/analyze/mod.ts";
import { MembenchError } from "../lib/errors/mod.ts";
import { formatAnalysisHtml, formatAnalysisJson, formatAnalysisText } from "../lib/report/mod.ts";
import { intFlag, parseFlags } from "./args.ts";
import { EXIT } from "./exit_codes.ts";

export const ANALYZE_HELP = `membench analyze: what the traffic in a profile looks like

Usage: membench analyze PROFILE [--json FILE|-] [--html FILE]

      --json FILE       everything as JSON ("-" for stdout)
      --html FILE       one self-contained HTML report with charts (no network needed to view)
      --max-keys N      distinct keys counted exactly before a HyperLogLog estimate (default 4000000)
      --top N           top keys listed (default 20)

A truncated profile is analyzed up to its last whole block and marked partial (exit 0, with a
warning). Exit codes: 0 ok, 2 invalid flags, 5 unreadable or corrupted profile.
`;

/** `membench analyze`: returns the exit code. */
export async function analyzeCommand(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseFlags(argv, {
    json: { type: "string" },
    html: { type: "string" },
    "max-keys": { type: "string" },
    top: { type: "string" },
    help: { type: "boolean" },
  });
  if (v.help) {
    console.log(ANALYZE_HELP);
    return EXIT.ok;
  }
  if (positionals.length !== 1) {
    throw new MembenchError("invalid_argument", "membench analyze takes one PROFILE");
  }
  const maxExactKeys = intFlag("--max-keys", v["max-keys"], 1);
  const topKeys = intFlag("--top", v.top, 1);
  const a = await analyzeProfile(positionals[0]!, {
    ...(maxExactKeys !== undefined ? { maxExactKeys } : {}),
    ...(topKeys !== undefined ? { topKeys } : {}),
  });
  const json = v.json as string | undefined;
  if (json === "-") console.log(formatAnalysisJson(a).trimEnd());
  else console.log(formatAnalysisText(a).trimEnd());
  if (json !== undefined && json !== "-") await Deno.writeTextFile(json, formatAnalysisJson(a));
  if (v.html !== undefined) await Deno.writeTextFile(v.html as string, formatAnalysisHtml(a));
  if (a.profile.partial) console.error(`membench: warning: ${a.profile.warning}`);
  return EXIT.ok;
}
