// deno-lint-ignore-file no-console
/**
 * The one command runner: flags (every problem reported at once), `--help`, Ctrl+C (the first
 * stops the run and keeps partial results, exit 130; the second exits at once), the live
 * progress line on a terminal, output files, and exit codes. A command gives its spec, a
 * `prepare` that turns flag values into library options, and a `run` that calls the library and
 * prints through `lib/report/`.
 *
 * @module
 */
import { EXIT, exitCodeFor, MembenchError, nearestName } from "../lib/errors/mod.ts";
import { onInterrupt } from "../lib/units/mod.ts";
import { formatProgressBar } from "../lib/report/mod.ts";
import {
  type CommandSpec,
  type FlagSet,
  formatHelp,
  inFlagWords,
  type ParsedArgs,
  parseFlags,
  Problems,
  type Values,
} from "./flags.ts";

/**
 * The live progress line: drawn on stderr as `\r\x1b[K<text>` (only when enabled, which the
 * runner makes it on a terminal only), at most every `intervalMs`, and cleared before anything
 * else is printed.
 */
export class LiveLine {
  readonly #enabled: boolean;
  readonly #write: (s: string) => void;
  readonly #intervalMs: number;
  #drawn = false;
  #last = -Infinity;

  constructor(
    enabled: boolean,
    write: (s: string) => void = (s) => Deno.stderr.writeSync(new TextEncoder().encode(s)),
    intervalMs = 100,
  ) {
    this.#enabled = enabled;
    this.#write = write;
    this.#intervalMs = intervalMs;
  }

  /** Draws `text` unless the last line was drawn less than the interval ago (`force`: draw). */
  draw(text: string, force = false): void {
    if (!this.#enabled) return;
    const now = performance.now();
    if (!force && now - this.#last < this.#intervalMs) return;
    this.#last = now;
    this.#write(`\r\x1b[K${text}`);
    this.#drawn = true;
  }

  /** Clears the line, if one is drawn. */
  clear(): void {
    if (!this.#drawn) return;
    this.#write("\r\x1b[K");
    this.#drawn = false;
  }
}

/** What a running command may use. */
export interface RunContext {
  /** Aborted by the first Ctrl+C: stop, and keep what was done. */
  readonly signal: AbortSignal;
  /** Updates the live progress line. */
  progress(text: string): void;
  /** Updates the live progress line with a bar. */
  bar(label: string, done: number, total: number): void;
  /** Prints to stdout. */
  print(text: string): void;
  /** Prints a line to stderr (a note or a warning, `membench: ...`). */
  note(text: string): void;
  /** Writes an output: to stdout for `-`, else to the file. */
  output(path: string, text: string): Promise<void>;
}

/** How a run ended, when the command does not compute its exit code itself. */
export interface Outcome {
  /** Stopped by Ctrl+C: exit 130. */
  interrupted?: boolean;
  /** The server was lost or refused: printed, exit 3. */
  failure?: { message: string } | undefined;
  /** A check or threshold failed: exit 4. */
  pass?: boolean;
}

/** A command for {@linkcode runCommand}. */
export interface Command<F extends FlagSet, P> {
  /** Name, help and flags. */
  readonly spec: CommandSpec<F>;
  /**
   * Flag values -> what `run` needs. Problems go into `problems` (all are reported together,
   * before anything runs); a thrown `invalid_argument` error joins them.
   */
  prepare(args: ParsedArgs<F>, problems: Problems): P | Promise<P>;
  /** Calls the library and prints; returns the exit code or the outcome. */
  run(prepared: P, ctx: RunContext): Promise<number | Outcome>;
  /** Whether the live line may be drawn (default: unless `--no-progress`). */
  progress?(values: Values<F>): boolean;
  /**
   * Whether Ctrl+C stops the run and keeps partial results (default true). A command that
   * cannot stop early says false, and Ctrl+C then ends the process as usual.
   */
  readonly interruptible?: boolean;
}

/** The exit code of a finished run. */
export function exitCodeOf(r: number | Outcome, interrupted: boolean): number {
  if (typeof r === "number") return interrupted && r === EXIT.ok ? EXIT.interrupted : r;
  if (r.interrupted || interrupted) return EXIT.interrupted;
  if (r.failure) {
    console.error(`membench: ${r.failure.message}`);
    return EXIT.connection;
  }
  return r.pass === false ? EXIT.threshold : EXIT.ok;
}

/** Prints an error as the CLI shows it and returns its exit code. */
export function reportError(e: unknown, command?: string): number {
  if (e instanceof MembenchError) {
    console.error(`membench: ${e.message}${e.hint ? `\n  hint: ${e.hint}` : ""}`);
    if (e.code === "invalid_argument" && command !== undefined) {
      console.error(`  see: membench ${command} --help`);
    }
    return exitCodeFor(e.code);
  }
  console.error(`membench: internal error: ${e instanceof Error ? e.stack ?? e.message : e}`);
  return EXIT.internal;
}

/** Prints a command's help (or a help text) to stdout. */
export function showHelp(spec: CommandSpec<FlagSet> | string): void {
  console.log(typeof spec === "string" ? spec : formatHelp(spec));
}

/** Writes `text` to stdout for `-`, else to the file `path`. */
export async function writeOutput(path: string, text: string): Promise<void> {
  if (path === "-") {
    console.log(text.trimEnd());
    return;
  }
  try {
    await Deno.writeTextFile(path, text);
  } catch (e) {
    throw new MembenchError("file", `Cannot write ${path}: ${e instanceof Error ? e.message : e}`);
  }
}

/** Runs a command on `argv` and returns its exit code; never throws. */
export async function runCommand<F extends FlagSet, P>(
  c: Command<F, P>,
  argv: readonly string[],
): Promise<number> {
  let live: LiveLine | undefined;
  try {
    const problems = new Problems();
    const args = parseFlags(c.spec.flags, argv, problems);
    if (args.help) {
      showHelp(c.spec);
      return EXIT.ok;
    }
    const want = c.spec.args;
    if (want !== undefined && args.positionals.length !== want.length) {
      problems.add(
        `membench ${c.spec.name} takes ${
          want.length === 1 ? `one ${want[0]}` : want.join(" and ")
        }`,
      );
    }
    let prepared: P | undefined;
    try {
      prepared = await c.prepare(args, problems);
    } catch (e) {
      if (!(e instanceof MembenchError && e.code === "invalid_argument")) throw e;
      problems.add(inFlagWords(e.message, c.spec.flags));
    }
    problems.throwIfAny();
    const line = new LiveLine(
      (c.progress
        ? c.progress(args.values)
        : (args.values as Record<string, unknown>).noProgress !== true) &&
        // MEMBENCH_PROGRESS=1 draws it on a pipe too (a log, a test watching the run).
        (Deno.stderr.isTerminal() || Deno.env.get("MEMBENCH_PROGRESS") === "1"),
    );
    live = line;
    using interrupt = c.interruptible === false ? undefined : onInterrupt({
      reason: () => new MembenchError("interrupted", "Interrupted by Ctrl+C"),
      onFirst: () => {
        line.clear();
        console.error("membench: interrupted: stopping; Ctrl+C again exits at once");
      },
      onSecond: () => {
        line.clear();
        console.error("membench: interrupted again: exiting now");
        Deno.exit(EXIT.interrupted);
      },
    });
    const ctx: RunContext = {
      signal: interrupt?.signal ?? new AbortController().signal,
      progress: (text) => line.draw(text),
      bar: (label, done, total) => line.draw(formatProgressBar(label, done, total), done >= total),
      print: (text) => {
        line.clear();
        console.log(text);
      },
      note: (text) => {
        line.clear();
        console.error(text);
      },
      output: (path, text) => {
        line.clear();
        return writeOutput(path, text);
      },
    };
    const r = await c.run(prepared as P, ctx);
    line.clear();
    return exitCodeOf(r, (interrupt?.count ?? 0) > 0);
  } catch (e) {
    live?.clear();
    // What the library refused, said with the flags the user typed.
    if (e instanceof MembenchError && e.code === "invalid_argument") {
      e.message = inFlagWords(e.message, c.spec.flags);
    }
    return reportError(e, c.spec.name);
  }
}

/**
 * A command made of subcommands (`membench vec load`, `membench k8s job`): no subcommand or
 * `help` shows the group's help (exit 2 without one), and an unknown one is a usage error that
 * lists the others and suggests the nearest.
 */
export async function runSubcommand(
  group: string,
  argv: readonly string[],
  help: () => string,
  table: Readonly<Record<string, (argv: readonly string[]) => Promise<number>>>,
): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === "--help" || sub === "-h" || sub === "help") {
    showHelp(help());
    return sub === undefined ? EXIT.usage : EXIT.ok;
  }
  const run = Object.hasOwn(table, sub) ? table[sub] : undefined;
  if (run === undefined) {
    const names = Object.keys(table);
    const near = nearestName(sub, names);
    throw new MembenchError(
      "invalid_argument",
      `Unknown ${group} command '${sub}': expected ${names.slice(0, -1).join(", ")} or ${
        names.at(-1)
      }${near ? ` (did you mean '${near}'?)` : ""}`,
    );
  }
  return await run(rest);
}
