import type { Target } from "../net/mod.ts";
import {
  checkUserFields,
  defaultFields,
  type FieldDef,
  parseFieldSpec,
  type ServerKind,
} from "./fields.ts";
import { type ServerReport, serverReport } from "./report.ts";
import { NodeProbe, type NodeSnapshot } from "./snapshot.ts";

/** What a {@linkcode ServerMonitor} watches. */
export interface MonitorOptions {
  /** Every node the run touches. */
  nodes: ReadonlyArray<{ target: Target; kind: ServerKind; mcBinaryOnly?: boolean }>;
  /** Snapshots during the run every this many ms; 0: before and after only. @default {1000} */
  intervalMs?: number;
  /** Fields besides the defaults of each kind (`--track-metric`). */
  fields?: readonly FieldDef[];
  /** Search indexes whose `FT.INFO` to take. */
  indexes?: readonly string[];
  /** Snapshots kept per node: beyond, every other one in the middle is dropped. @default {600} */
  maxSamples?: number;
  /** Imbalance threshold, percent. @default {20} */
  imbalanceThresholdPct?: number;
  /** Per request. @default {2000} */
  timeoutMs?: number;
}

/** A finished monitor: the report and the snapshots behind it. */
export interface MonitorResult {
  report: ServerReport;
  /** Per node, its snapshots in time order (first before the run, last after it). */
  series: NodeSnapshot[][];
}

/**
 * Watches the servers of a run: a snapshot of every node before it, every `intervalMs` during
 * it (bounded in memory) and after it. A node that stops answering is recorded, not fatal.
 */
export class ServerMonitor {
  readonly #o: MonitorOptions;
  readonly #probes: NodeProbe[];
  readonly #series: NodeSnapshot[][];
  #timer: ReturnType<typeof setInterval> | undefined;
  #busy: Promise<void> | undefined;

  private constructor(o: MonitorOptions) {
    this.#o = o;
    this.#probes = o.nodes.map((n) =>
      new NodeProbe(n.target, n.kind, {
        ...(o.indexes ? { indexes: o.indexes } : {}),
        ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}),
        ...(n.mcBinaryOnly ? { mcBinaryOnly: true } : {}),
      })
    );
    this.#series = this.#probes.map(() => []);
  }

  /**
   * Takes the "before" snapshots and starts the periodic ones.
   *
   * @throws {MembenchError} `invalid_argument` for a user field no node reports (before any
   *   load), naming the field and the nearest name.
   */
  static async start(o: MonitorOptions): Promise<ServerMonitor> {
    const m = new ServerMonitor(o);
    await m.#sample();
    const user = o.fields ?? [];
    if (user.length > 0) {
      for (const s of m.#series) {
        const snap = s[0]!;
        if (snap.error !== undefined) continue;
        const mine = user.filter((d) => !d.name.startsWith("ft.") || (o.indexes?.length ?? 0) > 0);
        try {
          checkUserFields(mine, Object.keys(snap.values), snap.node);
        } catch (e) {
          m.#close();
          throw e;
        }
      }
    }
    const every = o.intervalMs ?? 1000;
    if (every > 0) {
      m.#timer = setInterval(() => {
        if (m.#busy === undefined) m.#busy = m.#sample().finally(() => m.#busy = undefined);
      }, every);
      // A monitor nobody stopped must not keep the process alive.
      Deno.unrefTimer(m.#timer);
    }
    return m;
  }

  /** The snapshots so far, per node. */
  get series(): readonly (readonly NodeSnapshot[])[] {
    return this.#series;
  }

  /** Takes the "after" snapshots and reports the window. */
  async stop(): Promise<MonitorResult> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#busy;
    await this.#sample();
    this.#close();
    const fields: FieldDef[] = [];
    const kinds = new Set(this.#o.nodes.map((n) => n.kind));
    for (const k of kinds) fields.push(...defaultFields(k));
    fields.push(...(this.#o.fields ?? []));
    const report = serverReport(this.#series, {
      fields,
      ...(this.#o.imbalanceThresholdPct !== undefined
        ? { imbalanceThresholdPct: this.#o.imbalanceThresholdPct }
        : {}),
    });
    return { report, series: this.#series };
  }

  async #sample(): Promise<void> {
    const snaps = await Promise.all(this.#probes.map((p) => p.snapshot()));
    const max = Math.max(3, this.#o.maxSamples ?? 600);
    snaps.forEach((s, i) => {
      const list = this.#series[i]!;
      list.push(s);
      if (list.length > max) {
        // Halve the resolution of what lies between the first and the newest.
        const kept = [list[0]!];
        for (let k = 1; k < list.length - 1; k += 2) kept.push(list[k]!);
        kept.push(list[list.length - 1]!);
        this.#series[i] = kept;
      }
    });
  }

  #close(): void {
    for (const p of this.#probes) p.close();
  }
}

/** Server metrics as a run's option: on with defaults (`true`) or with settings. */
export interface ServerMetricsOptions {
  /** Snapshots during the run every this many ms (0: before and after only). @default {1000} */
  intervalMs?: number;
  /** Fields besides the defaults: `section.field[:counter|gauge|text]` or defs. */
  fields?: ReadonlyArray<string | FieldDef>;
  /** Imbalance threshold, percent. @default {20} */
  imbalanceThresholdPct?: number;
  /** Search indexes whose `FT.INFO` to take. */
  indexes?: readonly string[];
}

/**
 * Resolves a run's `serverMetrics` option (field specs parsed) into monitor settings, or
 * undefined when off; bad field specs are pushed to `problems`.
 */
export function resolveServerMetrics(
  o: boolean | ServerMetricsOptions | undefined,
  problems: string[],
): Omit<MonitorOptions, "nodes"> | undefined {
  if (o === undefined || o === false) return undefined;
  const s: ServerMetricsOptions = o === true ? {} : o;
  const fields: FieldDef[] = [];
  for (const f of s.fields ?? []) {
    try {
      fields.push(typeof f === "string" ? parseFieldSpec(f) : f);
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  const every = s.intervalMs ?? 1000;
  if (!(every >= 0)) {
    problems.push(`Cannot use 'serverMetrics.intervalMs': must be >= 0: current value is ${every}`);
  }
  const t = s.imbalanceThresholdPct ?? 20;
  if (!(t > 0)) {
    problems.push(
      `Cannot use 'serverMetrics.imbalanceThresholdPct': must be > 0: current value is ${t}`,
    );
  }
  return {
    intervalMs: every,
    fields,
    imbalanceThresholdPct: t,
    ...(s.indexes ? { indexes: s.indexes } : {}),
  };
}
