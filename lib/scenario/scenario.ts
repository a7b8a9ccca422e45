/**
 * The entry points of a scenario: {@linkcode scenario} for a scenario file (a program of its
 * own: it prints and sets the exit code) and {@linkcode runScenario} for code that runs one
 * quietly. The options are in `options.ts`, the run in `run.ts`, the phases in `phases/`.
 *
 * @module
 */
import type { Run } from "./handle.ts";
import type { ScenarioOptions } from "./options.ts";
import { ScenarioRun } from "./run.ts";
import { type ScenarioPrinter, silentPrinter, terminalPrinter } from "./_terminal.ts";
import type { ScenarioResult } from "./types.ts";

/**
 * Runs a scenario: validates its options (every problem at once), starts a local server when
 * asked, runs `setup`, the function and `teardown`, and returns what happened. Phases called
 * through `run` inherit the target, seed, output folder and the Ctrl+C/timeout signal; each is
 * journaled with its options (secrets redacted), the servers' versions and its metrics, and its
 * thresholds are checked when it ends. Checks never throw.
 *
 * At the end the run's JSON summary is written to `outDir`, the run is stored in the results
 * history, a summary is printed and `Deno.exitCode` is set: 0 passed, 2 invalid options,
 * 3 a server could not be reached or was lost, 4 a check or threshold failed, 5 unreadable
 * input, 130 interrupted. This is the one library function that prints and sets the exit code,
 * because a scenario file is a program of its own; `print: "none"` and `setExitCode: false`
 * turn that off.
 *
 * Ctrl+C (unless `handleSigint: false`): the first stops the scenario and keeps its partial
 * results (status `interrupted`, exit code 130); a second one ends the process at once, as
 * Deno does for any program (killed by SIGINT, status 130; no summary is written then).
 *
 * @example Usage
 * ```ts ignore
 * import { scenario } from "./mod.ts";
 * await scenario("smoke", { server: "redis", seed: 1 }, async (run) => {
 *   const r = await run.bench({ tests: ["set", "get"], requests: 10_000, thresholds: ["get.p99 < 5ms"] });
 *   run.check("no errors", r.tests.every((t) => t.errors === 0));
 * });
 * ```
 */
export async function scenario<T = void>(
  name: string,
  options: ScenarioOptions<T>,
  fn: (run: Run, data: T) => Promise<void> | void,
): Promise<ScenarioResult> {
  const printer = terminalPrinter(
    (options && typeof options === "object" ? options.print : undefined) ?? "full",
  );
  const result = await runScenario(name, options, fn, printer);
  printer.summary(result);
  if (options?.setExitCode !== false) Deno.exitCode = result.exitCode;
  return result;
}

/**
 * {@linkcode scenario} without the terminal: nothing is printed and the exit code is left
 * alone; the summary file and history are written as usual.
 */
export function runScenario<T = void>(
  name: string,
  options: ScenarioOptions<T>,
  fn: (run: Run, data: T) => Promise<void> | void,
  printer: ScenarioPrinter = silentPrinter,
): Promise<ScenarioResult> {
  return new ScenarioRun<T>(name, options, fn, printer).run();
}
