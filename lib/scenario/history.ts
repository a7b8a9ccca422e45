import { DatabaseSync } from "node:sqlite";
import { MembenchError } from "../errors/mod.ts";
import { type Metric, metricDirection } from "./metrics.ts";

/** One scenario run as the results history lists it. */
export interface RunRow {
  /** Run id, increasing. */
  id: number;
  /** Scenario name. */
  scenario: string;
  /** ISO 8601. */
  startedAt: string;
  /** ISO 8601; absent while running (or when the process died). */
  finishedAt?: string;
  /** `running`, `passed`, `failed`, `error`, `interrupted` or `invalid`. */
  status: string;
  /** The exit code it set. */
  exitCode?: number;
  /** Wall time, ms. */
  durationMs?: number;
  /** The scenario file, to run it again. */
  module?: string;
  /** Checks and thresholds that passed. */
  passed: number;
  /** Checks and thresholds that failed. */
  failed: number;
}

/** One journal line: what happened during a run, in order. */
export interface JournalEntry {
  /** Order within the run. */
  seq: number;
  /** ISO 8601. */
  at: string;
  /** `options`, `server`, `phase-start`, `phase-end`, `check`, `log`, `error`, `end`. */
  kind: string;
  /** The entry's data (redacted before it was written). */
  data: unknown;
}

/** A stored phase. */
export interface PhaseRow {
  /** Position in the run. */
  index: number;
  /** Phase name. */
  name: string;
  /** `bench`, `record`, `analyze`, `replay`, `step`. */
  kind: string;
  /** `passed`, `failed`, `error` or `interrupted`. */
  state: string;
  /** ISO 8601. */
  startedAt: string;
  /** Wall time, ms. */
  durationMs: number;
  /** Named figures. */
  metrics: Record<string, Metric>;
}

/** A run with its journal, phases and checks. */
export interface RunDetail extends RunRow {
  /** Resolved options (redacted). */
  options: unknown;
  /** The run's summary (as written to its JSON file). */
  summary?: unknown;
  /** Phases in order. */
  phases: PhaseRow[];
  /** Every check and threshold. */
  checks: Array<{ phase?: string; name: string; pass: boolean; value?: number; detail?: string }>;
  /** The journal. */
  journal: JournalEntry[];
}

/** How a metric moved between two runs. */
export interface MetricChange {
  /** Phase name. */
  phase: string;
  /** Metric name. */
  metric: string;
  /** Kind (decides the unit). */
  kind: Metric["kind"];
  /** Value in the first run. */
  a: number;
  /** Value in the second run. */
  b: number;
  /** (b - a) / a; absent when a is 0. */
  change?: number;
  /** Which way the metric is better, when that is clear from its name. */
  better?: "higher" | "lower";
  /** The change goes the bad way by more than 5%. */
  regression?: boolean;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  scenario TEXT NOT NULL,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  status TEXT NOT NULL,
  exit_code INTEGER,
  duration_ms REAL,
  module TEXT,
  options TEXT NOT NULL,
  summary TEXT
);
CREATE TABLE IF NOT EXISTS journal (
  run_id INTEGER NOT NULL REFERENCES runs(id),
  seq INTEGER NOT NULL,
  at TEXT NOT NULL,
  kind TEXT NOT NULL,
  data TEXT NOT NULL,
  PRIMARY KEY (run_id, seq)
);
CREATE TABLE IF NOT EXISTS phases (
  run_id INTEGER NOT NULL REFERENCES runs(id),
  idx INTEGER NOT NULL,
  name TEXT NOT NULL,
  kind TEXT NOT NULL,
  state TEXT NOT NULL,
  started_at TEXT NOT NULL,
  duration_ms REAL NOT NULL,
  metrics TEXT NOT NULL,
  PRIMARY KEY (run_id, idx)
);
CREATE TABLE IF NOT EXISTS checks (
  run_id INTEGER NOT NULL REFERENCES runs(id),
  phase TEXT,
  name TEXT NOT NULL,
  pass INTEGER NOT NULL,
  value REAL,
  detail TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_scenario ON runs (scenario, id);
PRAGMA user_version = 1;
`;

type Row = Record<string, unknown>;

/**
 * The embedded results history: every scenario run, its journal, phases, metrics and checks,
 * in one SQLite file (`node:sqlite`), written as the run goes so that a crashed run still
 * leaves its journal. Several processes may share the file (WAL mode, a busy timeout).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * using h = ResultsHistory.open(":memory:");
 * const id = h.beginRun({ scenario: "demo", startedAt: new Date().toISOString(), options: {} });
 * h.finishRun(id, { status: "passed", exitCode: 0, durationMs: 5 });
 * assert.equal(h.listRuns()[0]!.status, "passed");
 * ```
 */
export class ResultsHistory implements Disposable {
  /** The database file. */
  readonly path: string;
  #db: DatabaseSync;
  #seq = new Map<number, number>();

  private constructor(path: string, db: DatabaseSync) {
    this.path = path;
    this.#db = db;
  }

  /**
   * Opens (creating when needed) a history database.
   *
   * @throws {MembenchError} `file` when the file cannot be opened or is not a history database.
   */
  static open(path: string): ResultsHistory {
    let db: DatabaseSync | undefined;
    try {
      db = new DatabaseSync(path);
      db.exec("PRAGMA busy_timeout = 5000");
      if (path !== ":memory:") db.exec("PRAGMA journal_mode = WAL");
      const v = (db.prepare("PRAGMA user_version").get() as Row)["user_version"] as number;
      if (v > 1) {
        throw new MembenchError(
          "file",
          `Cannot open results history ${path}: it has schema version ${v}, newer than this membench (1)`,
        );
      }
      db.exec(SCHEMA);
      return new ResultsHistory(path, db);
    } catch (e) {
      db?.close();
      if (e instanceof MembenchError) throw e;
      throw new MembenchError(
        "file",
        `Cannot open results history ${path}: ${e instanceof Error ? e.message : String(e)}`,
        { cause: e },
      );
    }
  }

  /** Starts a run and returns its id. */
  beginRun(
    r: { scenario: string; startedAt: string; options: unknown; module?: string | undefined },
  ): number {
    const res = this.#db.prepare(
      "INSERT INTO runs (scenario, started_at, status, module, options) VALUES (?, ?, 'running', ?, ?)",
    ).run(r.scenario, r.startedAt, r.module ?? null, JSON.stringify(r.options));
    const id = Number(res.lastInsertRowid);
    this.#seq.set(id, 0);
    return id;
  }

  /** Appends a journal line (data must already be redacted). */
  journal(runId: number, kind: string, data: unknown, at: string = new Date().toISOString()): void {
    const seq = (this.#seq.get(runId) ?? 0) + 1;
    this.#seq.set(runId, seq);
    this.#db.prepare("INSERT INTO journal (run_id, seq, at, kind, data) VALUES (?, ?, ?, ?, ?)")
      .run(runId, seq, at, kind, JSON.stringify(data ?? null));
  }

  /** Stores a finished phase and its metrics. */
  phase(runId: number, p: PhaseRow): void {
    this.#db.prepare(
      "INSERT INTO phases (run_id, idx, name, kind, state, started_at, duration_ms, metrics) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    ).run(
      runId,
      p.index,
      p.name,
      p.kind,
      p.state,
      p.startedAt,
      p.durationMs,
      JSON.stringify(p.metrics),
    );
  }

  /** Stores a check or threshold verdict. */
  check(
    runId: number,
    c: { phase?: string; name: string; pass: boolean; value?: number; detail?: string },
  ): void {
    this.#db.prepare(
      "INSERT INTO checks (run_id, phase, name, pass, value, detail) VALUES (?, ?, ?, ?, ?, ?)",
    ).run(
      runId,
      c.phase ?? null,
      c.name,
      c.pass ? 1 : 0,
      c.value !== undefined && Number.isFinite(c.value) ? c.value : null,
      c.detail ?? null,
    );
  }

  /** Ends a run. */
  finishRun(
    runId: number,
    r: { status: string; exitCode: number; durationMs: number; summary?: unknown },
  ): void {
    this.#db.prepare(
      "UPDATE runs SET finished_at = ?, status = ?, exit_code = ?, duration_ms = ?, summary = ? WHERE id = ?",
    ).run(
      new Date().toISOString(),
      r.status,
      r.exitCode,
      r.durationMs,
      r.summary === undefined ? null : JSON.stringify(r.summary),
      runId,
    );
  }

  /** Runs, newest first. */
  listRuns(filter: { scenario?: string; limit?: number } = {}): RunRow[] {
    const rows = this.#db.prepare(
      `SELECT r.*, (SELECT COUNT(*) FROM checks c WHERE c.run_id = r.id AND c.pass = 1) AS passed,
              (SELECT COUNT(*) FROM checks c WHERE c.run_id = r.id AND c.pass = 0) AS failed
       FROM runs r WHERE (? IS NULL OR r.scenario = ?) ORDER BY r.id DESC LIMIT ?`,
    ).all(filter.scenario ?? null, filter.scenario ?? null, filter.limit ?? 50) as Row[];
    return rows.map(toRunRow);
  }

  /**
   * One run with its phases, checks and journal.
   *
   * @throws {MembenchError} `invalid_argument` when there is no such run.
   */
  getRun(id: number): RunDetail {
    const r = this.#db.prepare(
      `SELECT r.*, (SELECT COUNT(*) FROM checks c WHERE c.run_id = r.id AND c.pass = 1) AS passed,
              (SELECT COUNT(*) FROM checks c WHERE c.run_id = r.id AND c.pass = 0) AS failed
       FROM runs r WHERE r.id = ?`,
    ).get(id) as Row | undefined;
    if (!r) {
      throw new MembenchError("invalid_argument", `Cannot find run ${id} in ${this.path}`);
    }
    const phases = (this.#db.prepare("SELECT * FROM phases WHERE run_id = ? ORDER BY idx").all(
      id,
    ) as Row[]).map((p) => ({
      index: p["idx"] as number,
      name: p["name"] as string,
      kind: p["kind"] as string,
      state: p["state"] as string,
      startedAt: p["started_at"] as string,
      durationMs: p["duration_ms"] as number,
      metrics: JSON.parse(p["metrics"] as string),
    }));
    const checks = (this.#db.prepare("SELECT * FROM checks WHERE run_id = ? ORDER BY rowid").all(
      id,
    ) as Row[]).map((c) => ({
      ...(c["phase"] !== null ? { phase: c["phase"] as string } : {}),
      name: c["name"] as string,
      pass: c["pass"] === 1,
      ...(c["value"] !== null ? { value: c["value"] as number } : {}),
      ...(c["detail"] !== null ? { detail: c["detail"] as string } : {}),
    }));
    const journal = (this.#db.prepare("SELECT * FROM journal WHERE run_id = ? ORDER BY seq").all(
      id,
    ) as Row[]).map((j) => ({
      seq: j["seq"] as number,
      at: j["at"] as string,
      kind: j["kind"] as string,
      data: JSON.parse(j["data"] as string),
    }));
    return {
      ...toRunRow(r),
      options: JSON.parse(r["options"] as string),
      ...(r["summary"] !== null ? { summary: JSON.parse(r["summary"] as string) } : {}),
      phases,
      checks,
      journal,
    };
  }

  /**
   * The metrics two runs share, phase by phase (matched by phase name), with their change, one
   * line per figure (a short name stands for its full one), sorted by the size of the relative
   * change; regressions (a change the bad way by more than 5%) are marked.
   *
   * @param filter Keep the metrics whose `phase.metric` contains this text.
   * @throws {MembenchError} `invalid_argument` when the runs share no phase (different
   *   scenarios, or renamed phases): there is nothing to compare.
   */
  compareRuns(a: number, b: number, filter?: string): MetricChange[] {
    const ra = this.getRun(a), rb = this.getRun(b);
    const out: MetricChange[] = [];
    let shared = 0;
    for (const pa of ra.phases) {
      const pb = rb.phases.find((p) => p.name === pa.name);
      if (!pb) continue;
      shared++;
      // A full name whose short name is there too is the same figure: show it once.
      const aliased = new Set(
        Object.values(pa.metrics).map((m) => m.aliasOf).filter((x) => x !== undefined),
      );
      for (const [metric, ma] of Object.entries(pa.metrics)) {
        const mb = pb.metrics[metric];
        if (!mb || ma.ambiguous || mb.ambiguous || aliased.has(metric)) continue;
        if (filter !== undefined && !`${pa.name}.${metric}`.includes(filter)) continue;
        const c: MetricChange = { phase: pa.name, metric, kind: ma.kind, a: ma.value, b: mb.value };
        if (ma.value !== 0) c.change = (mb.value - ma.value) / Math.abs(ma.value);
        const better = metricDirection(metric, ma.kind);
        if (better) {
          c.better = better;
          const worse = better === "higher" ? mb.value < ma.value : mb.value > ma.value;
          const size = c.change === undefined
            ? (mb.value !== ma.value ? Infinity : 0)
            : Math.abs(c.change);
          if (worse && size > 0.05) c.regression = true;
        }
        out.push(c);
      }
    }
    if (shared === 0) {
      throw new MembenchError(
        "invalid_argument",
        `Cannot compare run ${a} (${ra.scenario}) with run ${b} (${rb.scenario}): they share no phase`,
        { hint: "compare two runs of the same scenario (membench history list --scenario NAME)" },
      );
    }
    const size = (c: MetricChange) =>
      c.change === undefined ? (c.a === c.b ? 0 : Infinity) : Math.abs(c.change);
    return out.sort((x, y) =>
      size(y) - size(x) || `${x.phase}.${x.metric}`.localeCompare(`${y.phase}.${y.metric}`)
    );
  }

  /** Closes the database. */
  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }

  /** Closes the database. */
  [Symbol.dispose](): void {
    this.close();
  }
}

function toRunRow(r: Row): RunRow {
  const row: RunRow = {
    id: r["id"] as number,
    scenario: r["scenario"] as string,
    startedAt: r["started_at"] as string,
    status: r["status"] as string,
    passed: Number(r["passed"] ?? 0),
    failed: Number(r["failed"] ?? 0),
  };
  if (r["finished_at"] !== null) row.finishedAt = r["finished_at"] as string;
  if (r["exit_code"] !== null) row.exitCode = r["exit_code"] as number;
  if (r["duration_ms"] !== null) row.durationMs = r["duration_ms"] as number;
  if (r["module"] !== null) row.module = r["module"] as string;
  return row;
}
