// This module uses no Deno APIs.
import { expandFields, type FieldDef, type FieldKind } from "./fields.ts";
import type { NodeSnapshot } from "./snapshot.ts";

/** A counter over the window. */
export interface CounterFigure {
  kind: "counter";
  before: number;
  after: number;
  delta: number;
  /** delta / window seconds. */
  rate: number;
}

/** A gauge over the window (series included). */
export interface GaugeFigure {
  kind: "gauge";
  first: number;
  last: number;
  min: number;
  max: number;
  /** last - first. */
  growth: number;
}

/** A text field at the end of the window. */
export interface TextFigure {
  kind: "text";
  value: string;
}

/** One figure of a node. */
export type Figure = CounterFigure | GaugeFigure | TextFigure;

/** One node's figures over the window. */
export interface NodeReport {
  node: string;
  kind: "redis" | "memcached";
  /** Figures by flat name. */
  fields: Record<string, Figure>;
  /**
   * Server time per call of each command over the window (Δusec / Δcalls of commandstats), µs.
   */
  usecPerCall: Record<string, number>;
  /** Snapshots that failed (time and reason): a node that stopped answering. */
  errors: Array<{ tUs: number; error: string }>;
  /**
   * Between each two snapshots in a row (end time, epoch µs): the node's command rate (Redis:
   * total_commands_processed; memcached: cmd_get + cmd_set), CPU (share of a core) and memory
   * (used_memory; memcached: bytes), for charts over time.
   */
  timeline: Array<{ tUs: number; opsPerSec: number; cpu: number; memory: number }>;
}

/** A figure summed, averaged and maxed over nodes. */
export interface Aggregate {
  sum: number;
  mean: number;
  max: number;
  /** The node with the max. */
  maxNode: string;
}

/** A node out of line: its figure deviates from the nodes' mean by more than the threshold. */
export interface Imbalance {
  node: string;
  /** Flat name and what was compared: `rate`, `last` or `growth`. */
  field: string;
  measure: "rate" | "last" | "growth";
  value: number;
  mean: number;
  /** (value - mean) / mean, percent. */
  deviationPct: number;
}

/** The server side of a run. */
export interface ServerReport {
  /** Window start and end (epoch µs) and length (s). */
  fromUs: number;
  toUs: number;
  windowS: number;
  nodes: NodeReport[];
  /** Numeric figures over nodes: counters by delta and rate, gauges by last and growth. */
  aggregate: Record<
    string,
    { delta?: Aggregate; rate?: Aggregate; last?: Aggregate; growth?: Aggregate }
  >;
  /** Nodes out of line, with their field. */
  imbalance: Imbalance[];
  /** The largest |deviation| of any imbalance measure, percent (0 with one node). */
  imbalanceMaxPct: number;
  /** The threshold used, percent. */
  imbalanceThresholdPct: number;
}

/** The fields the imbalance check compares, by kind of measure. */
export const IMBALANCE_FIELDS: ReadonlyArray<
  { name: string; measure: "rate" | "last" | "growth" }
> = [
  { name: "stats.total_commands_processed", measure: "rate" },
  { name: "stats.total_net_input_bytes", measure: "rate" },
  { name: "memory.used_memory", measure: "last" },
  { name: "stats.cmd_get", measure: "rate" },
  { name: "stats.cmd_set", measure: "rate" },
  { name: "stats.bytes", measure: "last" },
];

/** Options for {@linkcode serverReport}. */
export interface ServerReportOptions {
  /** Fields to report (defaults per kind plus the user's). */
  fields: readonly FieldDef[];
  /** Flag nodes deviating more than this from the mean, percent. @default {20} */
  imbalanceThresholdPct?: number;
  /** Ignore nodes whose compared figure is this small (idle replicas): mean below it. */
  imbalanceMinMean?: number;
}

/**
 * Turns each node's snapshots (first = before the run, last = after, others during it) into
 * figures over the window: counters as delta and rate, gauges as first/last/min/max/growth,
 * texts as their last value; aggregates them over nodes and flags the nodes out of line.
 */
export function serverReport(
  series: ReadonlyArray<readonly NodeSnapshot[]>,
  o: ServerReportOptions,
): ServerReport {
  const threshold = o.imbalanceThresholdPct ?? 20;
  let fromUs = Infinity;
  let toUs = -Infinity;
  for (const s of series) {
    const ok = s.filter((x) => x.error === undefined);
    if (ok.length === 0) continue;
    fromUs = Math.min(fromUs, ok[0]!.tUs);
    toUs = Math.max(toUs, ok[ok.length - 1]!.tUs);
  }
  if (!Number.isFinite(fromUs)) fromUs = toUs = 0;
  const nodes = series.filter((s) => s.length > 0).map((s) => nodeReport(s, o.fields));
  const aggregate: ServerReport["aggregate"] = {};
  const agg = (values: Array<[string, number]>): Aggregate => {
    let sum = 0;
    let max = -Infinity;
    let maxNode = "";
    for (const [n, v] of values) {
      sum += v;
      if (v > max) {
        max = v;
        maxNode = n;
      }
    }
    return { sum, mean: sum / values.length, max, maxNode };
  };
  const names = new Set(nodes.flatMap((n) => Object.keys(n.fields)));
  for (const name of names) {
    const figs = nodes.map((n) => [n.node, n.fields[name]] as const).filter(([, f]) => f);
    const kind = figs[0]![1]!.kind;
    if (kind === "counter") {
      const cs = figs as Array<readonly [string, CounterFigure]>;
      aggregate[name] = {
        delta: agg(cs.map(([n, f]) => [n, f.delta])),
        rate: agg(cs.map(([n, f]) => [n, f.rate])),
      };
    } else if (kind === "gauge") {
      const gs = figs as Array<readonly [string, GaugeFigure]>;
      aggregate[name] = {
        last: agg(gs.map(([n, f]) => [n, f.last])),
        growth: agg(gs.map(([n, f]) => [n, f.growth])),
      };
    }
  }
  const imbalance: Imbalance[] = [];
  let imbalanceMaxPct = 0;
  if (nodes.length > 1) {
    for (const { name, measure } of IMBALANCE_FIELDS) {
      const vals: Array<[string, number]> = [];
      for (const n of nodes) {
        const f = n.fields[name];
        if (f === undefined || f.kind === "text") continue;
        vals.push([
          n.node,
          f.kind === "counter" ? f.rate : measure === "growth" ? f.growth : f.last,
        ]);
      }
      if (vals.length < 2) continue;
      const mean = vals.reduce((a, [, v]) => a + v, 0) / vals.length;
      if (!(mean > (o.imbalanceMinMean ?? 0)) || mean === 0) continue;
      for (const [node, v] of vals) {
        const dev = ((v - mean) / mean) * 100;
        imbalanceMaxPct = Math.max(imbalanceMaxPct, Math.abs(dev));
        if (Math.abs(dev) > threshold) {
          imbalance.push({ node, field: name, measure, value: v, mean, deviationPct: dev });
        }
      }
    }
  }
  return {
    fromUs,
    toUs,
    windowS: (toUs - fromUs) / 1e6,
    nodes,
    aggregate,
    imbalance,
    imbalanceMaxPct,
    imbalanceThresholdPct: threshold,
  };
}

function nodeReport(s: readonly NodeSnapshot[], defs: readonly FieldDef[]): NodeReport {
  const ok = s.filter((x) => x.error === undefined);
  const errors = s.filter((x) => x.error !== undefined).map((x) => ({
    tUs: x.tUs,
    error: x.error!,
  }));
  const out: NodeReport = {
    node: s[0]!.node,
    kind: s[0]!.kind,
    fields: {},
    usecPerCall: {},
    errors,
    timeline: timelineOf(ok),
  };
  if (ok.length === 0) return out;
  const first = ok[0]!;
  const last = ok[ok.length - 1]!;
  const windowS = (last.tUs - first.tUs) / 1e6;
  const names = new Set([...Object.keys(first.values), ...Object.keys(last.values)]);
  for (const { name, kind } of expandFields(defs, names)) {
    const f = figure(kind, name, ok, windowS);
    if (f) out.fields[name] = f;
  }
  // Server time per call over the window, per command.
  for (const name of names) {
    const m = /^cmd\.(.+)\.calls$/.exec(name);
    if (!m) continue;
    const calls = num(last.values[name]) - num(first.values[name], 0);
    const usec = num(last.values[`cmd.${m[1]}.usec`]) - num(first.values[`cmd.${m[1]}.usec`], 0);
    if (calls > 0 && Number.isFinite(usec)) out.usecPerCall[m[1]!] = usec / calls;
  }
  return out;
}

function num(v: number | string | undefined, absent = NaN): number {
  return typeof v === "number" ? v : v === undefined ? absent : NaN;
}

function figure(
  kind: FieldKind,
  name: string,
  ok: readonly NodeSnapshot[],
  windowS: number,
): Figure | undefined {
  const first = ok[0]!.values[name];
  const last = ok[ok.length - 1]!.values[name];
  if (kind === "text") return last === undefined ? undefined : { kind, value: String(last) };
  if (kind === "counter") {
    // A counter that appears during the run (a command's first call) started at 0.
    const before = num(first, 0);
    const after = num(last);
    if (!Number.isFinite(after) || !Number.isFinite(before)) return undefined;
    const delta = after - before;
    return { kind, before, after, delta, rate: windowS > 0 ? delta / windowS : 0 };
  }
  let min = Infinity;
  let max = -Infinity;
  let f = NaN;
  let l = NaN;
  // Redis leaves an empty database out of INFO keyspace: there, absent is 0.
  const absent = name.startsWith("keyspace.") ? 0 : NaN;
  for (const s of ok) {
    const v = num(s.values[name], absent);
    if (!Number.isFinite(v)) continue;
    if (Number.isNaN(f)) f = v;
    l = v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (Number.isNaN(f)) return undefined;
  return { kind, first: f, last: l, min, max, growth: l - f };
}

// Rates between consecutive snapshots of one node.
function timelineOf(ok: readonly NodeSnapshot[]): NodeReport["timeline"] {
  const out: NodeReport["timeline"] = [];
  const redis = ok[0]?.kind === "redis";
  const ops = (v: NodeSnapshot["values"]) =>
    redis
      ? num(v["stats.total_commands_processed"])
      : num(v["stats.cmd_get"]) + num(v["stats.cmd_set"]);
  const cpu = (v: NodeSnapshot["values"]) =>
    redis
      ? num(v["cpu.used_cpu_user"]) + num(v["cpu.used_cpu_sys"])
      : num(v["stats.rusage_user"]) + num(v["stats.rusage_system"]);
  const mem = (v: NodeSnapshot["values"]) =>
    redis ? num(v["memory.used_memory"]) : num(v["stats.bytes"]);
  for (let i = 1; i < ok.length; i++) {
    const a = ok[i - 1]!, b = ok[i]!;
    const dt = (b.tUs - a.tUs) / 1e6;
    if (!(dt > 0)) continue;
    out.push({
      tUs: b.tUs,
      opsPerSec: (ops(b.values) - ops(a.values)) / dt,
      cpu: (cpu(b.values) - cpu(a.values)) / dt,
      memory: mem(b.values),
    });
  }
  return out;
}
