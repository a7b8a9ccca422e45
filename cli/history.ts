/**
 * `membench history`: flags -> the results history -> the history renderers.
 *
 * @module
 */
import { EXIT, MembenchError } from "../lib/errors/mod.ts";
import {
  formatRunComparison,
  formatRunComparisonJson,
  formatRunDetail,
  formatRunDetailJson,
  formatRunList,
  formatRunListJson,
} from "../lib/report/mod.ts";
import { ResultsHistory } from "../lib/scenario/mod.ts";
import { OUTPUT_FLAGS, writeJson } from "./common_flags.ts";
import { type CommandSpec, defined, int, type Problems, text, withSpec } from "./flags.ts";
import { runCommand } from "./runner.ts";

const HISTORY_FLAGS = {
  db: text({
    value: "FILE",
    default: "results/history.db",
    help: "the history database (scenarios write it there)",
  }),
  scenario: text({ value: "NAME", help: "list only this scenario's runs" }),
  limit: int({ value: "N", min: 1, default: 20, help: "newest N runs" }),
  filter: text({
    value: "TEXT",
    help: "compare: only the metrics whose phase.metric contains TEXT",
  }),
  json: withSpec(OUTPUT_FLAGS.json, { help: 'the runs, run or changes as JSON ("-" for stdout)' }),
};

/** `membench history`: name, help and flags. */
export const HISTORY: CommandSpec<typeof HISTORY_FLAGS> = {
  name: "history",
  summary: "the scenario runs kept in a results history",
  usage: [
    "membench history [list] [--scenario NAME] [--limit N] [--json FILE|-]",
    "membench history show RUN [--json FILE|-]",
    "membench history compare RUN_A RUN_B [--filter TEXT] [--json FILE|-]",
  ],
  flags: HISTORY_FLAGS,
  footer:
    "Each scenario run is stored with its resolved options (secrets redacted), the servers' versions,\n" +
    "a journal of what happened, every phase's metrics and every check and threshold. 'show' prints\n" +
    "one run and the command to run it again; 'compare' prints the metrics two runs share, largest\n" +
    "change first, with the changes for the worse marked.\n" +
    "Exit codes: 0 ok, 2 invalid flags or no such run, 5 unreadable database.",
};

type Query =
  | { sub: "list" }
  | { sub: "show"; run: number }
  | { sub: "compare"; a: number; b: number };

function runId(s: string | undefined, what: string, sub: string, problems: Problems): number {
  if (s === undefined) {
    problems.add(`membench history ${sub} needs ${what}`);
    return 0;
  }
  const n = Number(s);
  if (!/^\d+$/.test(s) || n < 1) {
    problems.add(
      `Cannot use ${what}: expected an integer >= 1: current value is ${JSON.stringify(s)}`,
    );
  }
  return n;
}

// The Deno that runs membench, as a user can type it: relative when it lives under the current
// folder (./node_modules/.bin/deno), else its full path.
function denoCommand(): string {
  const exe = Deno.execPath();
  const cwd = Deno.cwd();
  return exe.startsWith(cwd + "/") ? `./${exe.slice(cwd.length + 1)}` : exe;
}

/** `membench history`: returns the exit code. */
export function historyCommand(argv: readonly string[]): Promise<number> {
  return runCommand({
    spec: HISTORY,
    interruptible: false,
    prepare({ values, positionals }, problems) {
      // `history --json show 3` (when --json was a switch): the subcommand went to --json.
      if (values.json !== undefined && ["list", "show", "compare"].includes(values.json)) {
        problems.add(
          `Cannot use '--json ${values.json}': --json takes a FILE ("-" for stdout): ` +
            `membench history ${values.json} ... --json -`,
        );
      }
      const [sub = "list", ...args] = positionals;
      let q: Query = { sub: "list" };
      if (sub === "show") q = { sub, run: runId(args[0], "a RUN id", sub, problems) };
      else if (sub === "compare") {
        q = {
          sub,
          a: runId(args[0], "RUN_A", sub, problems),
          b: runId(args[1], "RUN_B", sub, problems),
        };
      } else if (sub !== "list") {
        problems.add(`Unknown history command '${sub}': expected list, show or compare`);
      }
      return { q, v: values };
    },
    async run({ q, v }, ctx) {
      try {
        Deno.statSync(v.db);
      } catch {
        throw new MembenchError("file", `Cannot open results history ${v.db}: no such file`, {
          hint: "run a scenario first, or give --db",
        });
      }
      using h = ResultsHistory.open(v.db);
      const show = async (json: () => string, text: () => string) => {
        if (!await writeJson(ctx, v.json, json)) ctx.print(text());
      };
      switch (q.sub) {
        case "list": {
          const rows = h.listRuns({ ...defined({ scenario: v.scenario }), limit: v.limit });
          await show(() => formatRunListJson(rows), () => formatRunList(rows));
          break;
        }
        case "show": {
          const r = h.getRun(q.run);
          await show(() => formatRunDetailJson(r), () => formatRunDetail(r, denoCommand()));
          break;
        }
        case "compare": {
          const changes = h.compareRuns(q.a, q.b, v.filter);
          await show(
            () => formatRunComparisonJson(q.a, q.b, changes),
            () => formatRunComparison(q.a, q.b, changes),
          );
          break;
        }
      }
      return EXIT.ok;
    },
  }, argv);
}
