// deno-lint-ignore-file no-console
/**
 * The membench command line: argv -> library calls -> printing and exit codes.
 *
 * @module
 */
import { MembenchError } from "../lib/errors/mod.ts";
import { VERSION } from "../lib/version.ts";
import { benchCommand } from "./bench.ts";
import { profileCommand, recordCommand } from "./record.ts";
import { analyzeCommand } from "./analyze.ts";
import { replayCommand } from "./replay.ts";
import { historyCommand } from "./history.ts";
import { datasetCommand } from "./dataset.ts";
import { EXIT, exitCodeFor } from "./exit_codes.ts";

const HELP = `membench ${VERSION}: benchmark toolkit for memcached, Valkey/Redis and vector search

Usage: membench <command> [flags]

Commands
  bench      load-test Valkey/Redis or memcached (redis-benchmark/memtier flags); see membench bench --help
  record     capture memcached/RESP traffic from a pcap into an anonymized profile
  analyze    command mix, sizes, popularity, working set of a profile (text, JSON, HTML)
  replay     play a profile against a server (exact or synthetic), with a fidelity report
  profile    info, verify or dump a profile
  history    list, show or compare scenario runs kept in a results history
  dataset    vector datasets: info, convert, groundtruth (exact top-k), generate
  version    print the version

Run 'membench <command> --help' for the flags of a command.
`;

/** Runs the CLI and returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case undefined:
      case "--help":
      case "help":
        console.log(HELP);
        return cmd === undefined ? EXIT.usage : EXIT.ok;
      case "version":
      case "--version":
        console.log(VERSION);
        return EXIT.ok;
      case "bench":
        return await benchCommand(rest);
      case "record":
        return await recordCommand(rest);
      case "profile":
        return await profileCommand(rest);
      case "analyze":
        return await analyzeCommand(rest);
      case "replay":
        return await replayCommand(rest);
      case "history":
        return historyCommand(rest);
      case "dataset":
        return await datasetCommand(rest);
      default:
        if (cmd.startsWith("-")) return await benchCommand(argv);
        console.error(`membench: unknown command '${cmd}'\n\n${HELP}`);
        return EXIT.usage;
    }
  } catch (e) {
    if (e instanceof MembenchError) {
      console.error(`membench: ${e.message}${e.hint ? `\n  hint: ${e.hint}` : ""}`);
      if (
        e.code === "invalid_argument" &&
        (cmd === "bench" || cmd === "record" || cmd === "profile" || cmd === "analyze" ||
          cmd === "replay" || cmd === "history" || cmd === "dataset")
      ) {
        console.error(`  see: membench ${cmd} --help`);
      }
      return exitCodeFor(e.code);
    }
    console.error(`membench: internal error: ${e instanceof Error ? e.stack ?? e.message : e}`);
    return EXIT.internal;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
