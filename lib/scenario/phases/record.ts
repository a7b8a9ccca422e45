/**
 * `run.record()`: a record phase. The profile goes under the scenario's output folder, named
 * after the phase, unless the options name it.
 *
 * @module
 */
import { record, type RecordOptions, type RecordResult } from "../../capture/mod.ts";
import { recordMetrics } from "../metrics.ts";
import type { PhaseContext, PhaseOptions } from "../phase.ts";
import { anySignal, phaseNameOr, requireObject, slug, unknownOptions } from "../_util.ts";
import { metricNamesOf } from "../metric_names.ts";

/** Options of {@linkcode Run.record}: the record's own (`output` optional) and the phase's. */
export type RecordPhaseOptions = Omit<RecordOptions, "output"> & { output?: string } & PhaseOptions;

// Every option of a record phase (`deno check` fails when the type gains an option this list lacks).
const RECORD_KEYS = {
  name: true,
  thresholds: true,
  warnings: true,
  pcap: true,
  interface: true,
  filter: true,
  snaplen: true,
  promisc: true,
  bufferSize: true,
  output: true,
  ports: true,
  protocol: true,
  respVersion: true,
  salt: true,
  keepTokens: true,
  tokenDelimiter: true,
  keepSlots: true,
  count: true,
  durationMs: true,
  signal: true,
  onProgress: true,
  onStart: true,
} satisfies Record<keyof RecordPhaseOptions, true>;

/** Runs a record phase in the scenario `ctx`. */
export function recordPhase(ctx: PhaseContext, o: RecordPhaseOptions): Promise<RecordResult> {
  requireObject("the record phase", o);
  const { name: given, thresholds, warnings, ...ro } = o;
  const problems: string[] = [];
  const name = phaseNameOr(ctx, "record", given, problems);
  const unknown = unknownOptions(`record phase ${name}`, o, RECORD_KEYS);
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
    unknown,
    problems,
    metricNames: metricNamesOf("record"),
    exec: async (signal) => {
      const r = await record({ ...opts, signal: anySignal(signal, ro.signal) });
      // The capture's warnings (kernel drops, TCP gaps, refused streams) go to the journal.
      for (const w of r.warnings) ctx.journal("log", { message: `record ${name}: ${w}` });
      return r;
    },
    metrics: recordMetrics,
    // A capture that ends by itself is not interrupted; one the scenario's signal stopped is.
    // Nothing recorded is an error of the phase, as it is of `membench record` (exit 5): the
    // phases after it would replay or analyze an empty profile.
    outcome: (r) => {
      const interrupted = ctx.signal.aborted && r.stoppedEarly;
      return r.nothingRecorded && !interrupted
        ? {
          interrupted,
          failure: {
            code: "file",
            message: `${r.nothingRecorded.message} (${r.nothingRecorded.hint})`,
          },
        }
        : { interrupted };
    },
  });
}
