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
  report: ServerReport;
}

/** Writes a run's server report to `path` (JSON). */
export async function saveServerSnapshot(
  path: string,
  report: ServerReport,
  label?: string,
): Promise<void> {
  const s: SavedServerSnapshot = {
    format: FORMAT,
    version: VERSION,
    createdAt: new Date().toISOString(),
    ...(label !== undefined ? { label } : {}),
    report,
  };
  await Deno.writeTextFile(path, JSON.stringify(s, null, 1) + "\n");
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
  if (s?.format !== FORMAT || typeof s.report !== "object" || s.report === null) {
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
  /** `rate`/`delta` of a counter, `last`/`growth` of a gauge (sums over nodes), or `usec_per_call`. */
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
    for (const m of ["rate", "last", "growth"] as const) {
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
