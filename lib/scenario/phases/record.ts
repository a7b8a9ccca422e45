/**
 * `run.record()`: a record phase. The profile goes under the scenario's output folder, named
 * after the phase, unless the options name it.
 *
 * @module
 */
import { record, type RecordOptions, type RecordResult } from "../../capture/mod.ts";
import { recordMetrics } from "../metrics.ts";
import type { PhaseContext, PhaseOptions } from "../phase.ts";
import { anySignal, slug } from "../_util.ts";

/** Options of {@linkcode Run.record}: the record's own (`output` optional) and the phase's. */
export type RecordPhaseOptions = Omit<RecordOptions, "output"> & { output?: string } & PhaseOptions;

/** Runs a record phase in the scenario `ctx`. */
export function recordPhase(ctx: PhaseContext, o: RecordPhaseOptions): Promise<RecordResult> {
  const { name: given, thresholds, warnings, ...ro } = o;
  const name = ctx.phaseName("record", given);
  const opts: RecordOptions = {
    ...ro,
    output: ro.output ?? `${ctx.outDir}/${slug(name)}.mbp`,
  };
  return ctx.run({
    kind: "record",
    name,
    thresholds,
    warnings,
    shown: opts,
    exec: (signal) => record({ ...opts, signal: anySignal(signal, ro.signal) }),
    metrics: recordMetrics,
    // A capture that ends by itself is not interrupted; one the scenario's signal stopped is.
    outcome: (r) => ({ interrupted: ctx.signal.aborted && r.stoppedEarly }),
  });
}
