/**
 * The membench command line: argv -> library calls -> printing and exit codes. Each command is a
 * file of its own (`cli/<command>.ts`) that declares its flags (`cli/flags.ts`, shared groups in
 * `cli/common_flags.ts`) and runs through the one command runner (`cli/runner.ts`).
 *
 * @module
 */
import { EXIT, MembenchError, nearestName } from "../lib/errors/mod.ts";
import { VERSION } from "../lib/version.ts";
import { ANALYZE, analyzeCommand } from "./analyze.ts";
import { BENCH, benchCommand } from "./bench.ts";
import { DATASET, datasetCommand } from "./dataset.ts";
import { HISTORY, historyCommand } from "./history.ts";
import { K8S, k8sCommand } from "./k8s.ts";
import { PROFILE, profileCommand, RECORD, recordCommand } from "./record.ts";
import { REPLAY, replayCommand } from "./replay.ts";
import { RUN, runFileCommand } from "./run.ts";
import { reportError, showHelp } from "./runner.ts";
import { VEC, vecCommand } from "./vec.ts";
import { MERGE, mergeCommand } from "./merge.ts";

/** The commands, in the order the help lists them. */
const COMMANDS: ReadonlyArray<{
  name: string;
  summary: string;
  run: (argv: readonly string[]) => Promise<number>;
}> = [
  { ...BENCH, run: benchCommand },
  { ...RECORD, run: recordCommand },
  { ...ANALYZE, run: analyzeCommand },
  { ...REPLAY, run: replayCommand },
  { ...PROFILE, run: profileCommand },
  { ...HISTORY, run: historyCommand },
  { ...DATASET, run: datasetCommand },
  { ...VEC, run: vecCommand },
  { ...RUN, run: runFileCommand },
  { ...K8S, run: k8sCommand },
  { ...MERGE, run: mergeCommand },
];

function help(): string {
  return [
    `membench ${VERSION}: benchmark toolkit for memcached, Valkey/Redis and vector search`,
    "",
    "Usage: membench <command> [flags]",
    "",
    "Commands",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(10)} ${c.summary}`),
    `  ${"version".padEnd(10)} print the version`,
    "",
    "Run 'membench <command> --help' (or 'membench help <command>') for the flags of a command.",
    "",
  ].join("\n");
}

/** Runs the CLI and returns the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case undefined:
      case "--help":
      case "-h":
      case "help": {
        // `membench help bench` is `membench bench --help`.
        const about = cmd === "help" ? COMMANDS.find((c) => c.name === rest[0]) : undefined;
        if (about) return await about.run(["--help"]);
        showHelp(help());
        return cmd === undefined ? EXIT.usage : EXIT.ok;
      }
      case "version":
      case "--version":
        showHelp(VERSION);
        return EXIT.ok;
    }
    const c = COMMANDS.find((c) => c.name === cmd);
    if (c) return await c.run(rest);
    // redis-benchmark's habit: flags straight after the program name mean bench.
    if (cmd.startsWith("-")) return await benchCommand(argv);
    const near = nearestName(cmd, COMMANDS.map((c) => c.name));
    throw new MembenchError(
      "invalid_argument",
      `Unknown command '${cmd}'${near ? ` (did you mean '${near}'?)` : ""}`,
      { hint: "membench --help lists the commands" },
    );
  } catch (e) {
    return reportError(e, COMMANDS.some((c) => c.name === cmd) ? cmd : undefined);
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
