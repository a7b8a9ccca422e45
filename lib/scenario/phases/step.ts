/**
 * `run.step()`: a custom phase. Journaled and timed like the others, with no metrics; a throw
 * makes it an error.
 *
 * @module
 */
import type { PhaseContext } from "../phase.ts";

/** Runs a custom step in the scenario `ctx`. */
export function stepPhase<R>(
  ctx: PhaseContext,
  name: string,
  fn: (signal: AbortSignal) => Promise<R> | R,
): Promise<R> {
  return ctx.run({
    kind: "step",
    name: ctx.phaseName("step", name),
    shown: { name },
    exec: async (signal) => await fn(signal),
    metrics: () => ({}),
  });
}
