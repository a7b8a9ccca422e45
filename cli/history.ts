// deno-lint-ignore-file no-console
import { MembenchError } from "../lib/errors/mod.ts";
import { type MetricChange, ResultsHistory, type RunRow } from "../lib/scenario/mod.ts";
import { formatUs } from "../lib/units/mod.ts";
import { intFlag, parseFlags } from "./args.ts";
import { EXIT } from "./exit_codes.ts";

export const HISTORY_HELP = `membench history: the scenario runs kept in a results history

Usage: membench history [list] [--scenario NAME] [--limit N]
       membench history show RUN
       membench history compare RUN_A RUN_B

      --db FILE         the history database (default results/history.db, as scenarios write it)
      --scenario NAME   list only this scenario's runs
      --limit N         newest N runs (default 20)
      --json            print JSON instead of text

Each scenario run is stored with its resolved options (secrets redacted), the servers' versions,
a journal of what happened, every phase's metrics and every check and threshold. 'show' prints
one run and the command to run it again; 'compare' prints the metrics two runs share, by phase.
Exit codes: 0 ok, 2 invalid flags or no such run, 5 unreadable database.
`;

function fmtMetric(kind: string, v: number): string {
  if (kind === "time") return formatUs(v);
  if (kind === "ratio") return `${(v * 100).toFixed(2)}%`;
  if (kind === "rate") return `${Math.round(v).toLocaleString("en-US")}/s`;
  return Number.isInteger(v) ? v.toLocaleString("en-US") : v.toFixed(4);
}

function runLine(r: RunRow): string {
  const secs = r.durationMs === undefined ? "-" : `${(r.durationMs / 1000).toFixed(1)} s`;
  return `${String(r.id).padStart(5)}  ${r.startedAt.slice(0, 19).replace("T", " ")}  ${
    r.scenario.padEnd(20)
  } ${r.status.padEnd(12)} ${String(r.exitCode ?? "-").padStart(4)}  ${
    secs.padStart(8)
  }  ${r.passed} ok, ${r.failed} failed`;
}

/** `membench history`: returns the exit code. */
export function historyCommand(argv: string[]): number {
  const { values: v, positionals } = parseFlags(argv, {
    db: { type: "string" },
    scenario: { type: "string" },
    limit: { type: "string" },
    json: { type: "boolean" },
    help: { type: "boolean" },
  });
  if (v.help) {
    console.log(HISTORY_HELP);
    return EXIT.ok;
  }
  const db = (v.db as string | undefined) ?? "results/history.db";
  const [sub = "list", ...args] = positionals;
  const runId = (s: string | undefined, what: string) => {
    const n = intFlag(what, s, 1);
    if (n === undefined) {
      throw new MembenchError("invalid_argument", `membench history ${sub} needs ${what}`);
    }
    return n;
  };
  try {
    Deno.statSync(db);
  } catch {
    throw new MembenchError("file", `Cannot open results history ${db}: no such file`, {
      hint: "run a scenario first, or give --db",
    });
  }
  using h = ResultsHistory.open(db);
  switch (sub) {
    case "list": {
      const limit = intFlag("--limit", v.limit, 1) ?? 20;
      const rows = h.listRuns({
        ...(v.scenario !== undefined ? { scenario: v.scenario as string } : {}),
        limit,
      });
      if (v.json) console.log(JSON.stringify(rows, null, 2));
      else {
        console.log(
          "  run  started (UTC)          scenario             status       exit      time  checks",
        );
        for (const r of rows) console.log(runLine(r));
      }
      return EXIT.ok;
    }
    case "show": {
      const r = h.getRun(runId(args[0], "a RUN id"));
      if (v.json) {
        console.log(JSON.stringify(r, null, 2));
        return EXIT.ok;
      }
      console.log(runLine(r));
      if (r.module) console.log(`run again: deno run -A ${r.module.replace(/^file:\/\//, "")}`);
      console.log(`options: ${JSON.stringify(r.options)}`);
      for (const p of r.phases) {
        console.log(
          `phase ${p.name} (${p.kind}): ${p.state} in ${(p.durationMs / 1000).toFixed(2)} s`,
        );
      }
      for (const c of r.checks) {
        console.log(
          `  ${c.pass ? "ok    " : "FAILED"} ${c.phase ? `${c.phase}: ` : ""}${c.name}${
            c.detail ? ` (${c.detail})` : ""
          }`,
        );
      }
      console.log("journal:");
      for (const j of r.journal) {
        console.log(`  ${j.at}  ${j.kind.padEnd(12)} ${JSON.stringify(j.data)}`);
      }
      return EXIT.ok;
    }
    case "compare": {
      const a = runId(args[0], "RUN_A"), b = runId(args[1], "RUN_B");
      const changes: MetricChange[] = h.compareRuns(a, b);
      if (v.json) {
        console.log(JSON.stringify(changes, null, 2));
        return EXIT.ok;
      }
      console.log(`run ${a} -> run ${b}: ${changes.length} shared metrics`);
      for (const c of changes) {
        console.log(
          `  ${`${c.phase}.${c.metric}`.padEnd(36)} ${fmtMetric(c.kind, c.a).padStart(14)} -> ${
            fmtMetric(c.kind, c.b).padStart(14)
          }  ${
            c.change === undefined
              ? ""
              : `${c.change >= 0 ? "+" : ""}${(c.change * 100).toFixed(1)}%`
          }`,
        );
      }
      return EXIT.ok;
    }
    default:
      throw new MembenchError(
        "invalid_argument",
        `Unknown history command '${sub}': expected list, show or compare`,
      );
  }
}
