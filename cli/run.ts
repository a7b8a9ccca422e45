/**
 * `membench run`: a scenario file from anywhere (an application's repository), with
 * `import … from "membench"` resolved to this library -> `runScenarioFile()` -> the scenario's
 * own exit code.
 *
 * @module
 */
import { runScenarioFile } from "../lib/scenario/mod.ts";
import { bool, type CommandSpec, int, type Problems, text } from "./flags.ts";
import { runCommand } from "./runner.ts";

const RUN_FLAGS = {
  check: bool({ help: "type-check the scenario file before running it (deno run --check)" }),
  target: text({
    value: "URI",
    section: "Scenario",
    help: "the scenario's target: host:port or a URI (sets MEMBENCH_TARGET)",
  }),
  seed: int({ value: "N", section: "Scenario", help: "the seed phases use (sets MEMBENCH_SEED)" }),
  outDir: text({
    value: "DIR",
    section: "Scenario",
    help: "folder for the summary and reports (sets MEMBENCH_OUT_DIR)",
  }),
  history: text({
    value: "FILE",
    section: "Scenario",
    help: "results history database, or 'off' (sets MEMBENCH_HISTORY)",
  }),
  env: text({
    value: "NAME=VALUE",
    multiple: true,
    section: "Scenario",
    help: "an environment variable for the scenario (repeatable)",
  }),
};

/** `membench run`: name, help and flags. */
export const RUN: CommandSpec<typeof RUN_FLAGS> = {
  name: "run",
  summary: 'run a scenario file that imports from "membench" (your own repo\'s)',
  usage: ["membench run FILE.ts [flags] [-- ARGS...]"],
  about: "A scenario file can live in any repository and import the library by its bare name,\n" +
    'as k6 scripts import "k6":\n\n' +
    '  import { scenario } from "membench";\n\n' +
    "membench runs it in a child Deno with `membench` mapped to this library and the library's\n" +
    "npm packages taken from its node_modules; the file's folder needs no deno.json. It runs in\n" +
    "the current folder (results/ lands there). Arguments after -- are the scenario's Deno.args.\n" +
    "Ctrl+C is passed on: the first stops the scenario and keeps partial results, a second ends\n" +
    "it at once.",
  flags: RUN_FLAGS,
  args: ["FILE"],
  footer: "Exit codes are the scenario's: 0 passed, 2 invalid options, 3 server unreachable or\n" +
    "lost, 4 a check or threshold failed, 5 unreadable input, 130 interrupted. Before it runs:\n" +
    "2 invalid flags, 5 no such file.",
};

function scenarioEnv(
  v: {
    target: string | undefined;
    seed: number | undefined;
    outDir: string | undefined;
    history: string | undefined;
    env: string[];
  },
  problems: Problems,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of v.env) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(e);
    if (!m) {
      problems.add(
        `Cannot use --env ${
          JSON.stringify(e.replace(/=.*/s, "=…"))
        }: expected NAME=VALUE, as --env BASE_URL=http://x`,
      );
    } else env[m[1]!] = m[2]!;
  }
  if (v.target !== undefined) env["MEMBENCH_TARGET"] = v.target;
  if (v.seed !== undefined) env["MEMBENCH_SEED"] = String(v.seed);
  if (v.outDir !== undefined) env["MEMBENCH_OUT_DIR"] = v.outDir;
  if (v.history !== undefined) env["MEMBENCH_HISTORY"] = v.history;
  return env;
}

/** `membench run`: returns the scenario's exit code. */
export function runFileCommand(argv: readonly string[]): Promise<number> {
  // Everything after `--` belongs to the scenario, flags included.
  const cut = argv.indexOf("--");
  const own = cut < 0 ? argv : argv.slice(0, cut);
  const rest = cut < 0 ? [] : argv.slice(cut + 1);
  return runCommand({
    spec: RUN,
    // The scenario handles Ctrl+C itself; runScenarioFile passes each one on.
    interruptible: false,
    progress: () => false,
    prepare: ({ values, positionals: [file] }, problems) => ({
      file: file!,
      check: values.check,
      env: scenarioEnv(values, problems),
    }),
    async run({ file, check, env }) {
      const r = await runScenarioFile(file, { args: rest, env, check });
      return r.code;
    },
  }, own);
}
