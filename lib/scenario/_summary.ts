/**
 * A scenario run's outcome as it is kept: the exit code of its status, its JSON summary file in
 * the output folder (never over another run's), and the smaller summary the history stores.
 *
 * @module
 */
import { errorMessage, EXIT, exitCodeFor } from "../errors/mod.ts";
import { withSchema } from "../report/mod.ts";
import { redactSecrets } from "./redact.ts";
import type { ScenarioResult, ScenarioStatus } from "./types.ts";
import { slug } from "./_util.ts";

/** The exit code of a scenario's status; an `error` one takes its error code's. */
export function scenarioExitCode(status: ScenarioStatus, errorCode: string | undefined): number {
  return status === "passed"
    ? EXIT.ok
    : status === "failed"
    ? EXIT.threshold
    : status === "invalid"
    ? EXIT.usage
    : status === "interrupted"
    ? EXIT.interrupted
    : exitCodeFor(errorCode ?? "internal");
}

function stamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, "").replace(".", "-"); // 20261122T232155-123Z
}

/**
 * Writes `result` (secrets redacted) as `<outDir>/<scenario>-<start stamp>.json`, numbered
 * `-2`, `-3`… when another run took the name, and sets `result.summaryPath` to it (the file says
 * where it is).
 *
 * @throws {Error} "Cannot write the summary to …" when the folder or the file cannot be written;
 *   `result.summaryPath` is unset then.
 */
export async function writeSummaryFile(
  outDir: string,
  result: ScenarioResult,
  started: Date,
): Promise<void> {
  const base = `${outDir.replace(/\/+$/, "")}/${slug(result.scenario)}-${stamp(started)}`;
  try {
    await Deno.mkdir(outDir, { recursive: true });
    // Never overwrite another run's summary (two runs in the same millisecond, or side by side).
    for (let n = 1;; n++) {
      const path = n === 1 ? `${base}.json` : `${base}-${n}.json`;
      result.summaryPath = path;
      try {
        const text =
          JSON.stringify(redactSecrets(withSchema("scenario-summary", result)), null, 2) + "\n";
        await Deno.writeTextFile(path, text, { createNew: true });
        break;
      } catch (e) {
        if (!(e instanceof Deno.errors.AlreadyExists) || n >= 100) throw e;
      }
    }
  } catch (e) {
    delete result.summaryPath;
    throw new Error(`Cannot write the summary to ${base}.json: ${errorMessage(e)}`, { cause: e });
  }
}

/** The summary as the history keeps it: without the phases' full results. */
export function compactSummary(r: ScenarioResult): unknown {
  return redactSecrets({
    ...r,
    phases: r.phases.map((p) => {
      if (p.state === "error") return p;
      const { result: _result, metrics: _metrics, ...rest } = p;
      return rest;
    }),
  });
}
