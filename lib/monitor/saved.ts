import { errorMessage, MembenchError } from "../errors/mod.ts";
import type { ServerReport } from "./report.ts";

const FORMAT = "membench-server-snapshot";
const VERSION = 1;

/** A run's server figures as saved to a file, to compare another run with. */
export interface SavedServerSnapshot {
  format: typeof FORMAT;
  version: number;
  createdAt: string;
  /** Free text (a release name). */
  label?: string;
  /** The server figures of each part of the run, by name (a bench test's name, `replay`). */
  reports: Record<string, ServerReport>;
}

/** A run's server reports (by part: a bench test's name, `replay`) as snapshot file text. */
export function serverSnapshotJson(reports: Record<string, ServerReport>, label?: string): string {
  const s: SavedServerSnapshot = {
    format: FORMAT,
    version: VERSION,
    createdAt: new Date().toISOString(),
    ...(label !== undefined ? { label } : {}),
    reports,
  };
  return JSON.stringify(s, null, 1) + "\n";
}

/** Writes a run's server reports (by part: a bench test's name, `replay`) to `path` (JSON). */
export async function saveServerSnapshot(
  path: string,
  reports: Record<string, ServerReport>,
  label?: string,
): Promise<void> {
  await Deno.writeTextFile(path, serverSnapshotJson(reports, label));
}

/**
 * Reads a saved server snapshot.
 *
 * @throws {MembenchError} `file` for a missing, unreadable or foreign file, naming it.
 */
export async function readServerSnapshot(path: string): Promise<SavedServerSnapshot> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new MembenchError("file", `Cannot read server snapshot '${path}': ${errorMessage(e)}`);
  }
  let s: Partial<SavedServerSnapshot>;
  try {
    s = JSON.parse(text);
  } catch (e) {
    throw new MembenchError("file", `'${path}' is not a server snapshot: ${errorMessage(e)}`);
  }
  if (s?.format !== FORMAT || typeof s.reports !== "object" || s.reports === null) {
    throw new MembenchError("file", `'${path}' is not a membench server snapshot`);
  }
  if (s.version !== VERSION) {
    throw new MembenchError(
      "file",
      `'${path}' is a server snapshot of version ${s.version}; this membench reads version ${VERSION}`,
    );
  }
  return s as SavedServerSnapshot;
}

/** One figure that moved between two runs. */
export interface ServerChange {
  /** `delta`/`rate` of a counter, `last`/`growth` of a gauge (sums over nodes), or `usec_per_call`. */
  figure: string;
  field: string;
  before: number;
  after: number;
  /** (after - before) / |before|, percent; Infinity when before is 0. */
  changePct: number;
}

/**
 * The figures of `after` that differ from `before` by more than `minChangePct` percent: counter
 * rates, gauge values and growth (summed over nodes), and server time per call per command
 * (averaged over nodes). A report compared with itself has no changes.
 */
export function compareServerReports(
  before: ServerReport,
  after: ServerReport,
  minChangePct = 5,
): ServerChange[] {
  const out: ServerChange[] = [];
  const push = (figure: string, field: string, a: number, b: number) => {
    if (a === b) return;
    const pct = a === 0 ? Infinity : ((b - a) / Math.abs(a)) * 100;
    if (Math.abs(pct) > minChangePct) {
      out.push({ figure, field, before: a, after: b, changePct: pct });
    }
  };
  for (const [field, b] of Object.entries(after.aggregate)) {
    const a = before.aggregate[field];
    if (!a) continue;
    for (const m of ["delta", "rate", "last", "growth"] as const) {
      const x = a[m];
      const y = b[m];
      if (x && y) push(m, field, x.sum, y.sum);
    }
  }
  const perCall = (r: ServerReport) => {
    const sum: Record<string, [number, number]> = {};
    for (const n of r.nodes) {
      for (const [c, v] of Object.entries(n.usecPerCall)) {
        const s = sum[c] ??= [0, 0];
        s[0] += v;
        s[1]++;
      }
    }
    return Object.fromEntries(Object.entries(sum).map(([c, [s, k]]) => [c, s / k]));
  };
  const pa = perCall(before);
  for (const [c, v] of Object.entries(perCall(after))) {
    if (pa[c] !== undefined) push("usec_per_call", `cmd.${c}`, pa[c]!, v);
  }
  return out.sort((x, y) => Math.abs(y.changePct) - Math.abs(x.changePct));
}

/**
 * Compares each part of a saved snapshot with the same part of this run (parts only one side
 * has are listed in `missing`).
 */
export function compareServerSnapshots(
  before: Record<string, ServerReport>,
  after: Record<string, ServerReport>,
  minChangePct = 5,
): { parts: Array<{ part: string; changes: ServerChange[] }>; missing: string[] } {
  const parts: Array<{ part: string; changes: ServerChange[] }> = [];
  const missing: string[] = [];
  for (const [part, a] of Object.entries(after)) {
    const b = before[part];
    if (b === undefined) missing.push(part);
    else parts.push({ part, changes: compareServerReports(b, a, minChangePct) });
  }
  for (const part of Object.keys(before)) if (!(part in after)) missing.push(part);
  return { parts, missing };
}
