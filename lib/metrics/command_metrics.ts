// This module uses no Deno APIs.
import {
  decodeHistogram,
  encodeHistogram,
  type Histogram,
  LatencyRecorder,
  type LatencySummary,
  mergeEncodedToEncoded,
  newHistogram,
  summarize,
} from "./histogram.ts";

/** One second of one command, as measured by one or more workers. */
export interface SecondSample {
  /** Seconds since the measured part of the run started. */
  second: number;
  /** Completed requests. */
  ops: number;
  /** Failed requests. */
  errors: number;
  /** Service-time histogram of the second, encoded. */
  service: string;
  /** Response-time histogram of the second (open loop only), encoded. */
  response?: string;
}

/** What a worker measured for one command; plain data that crosses workers. */
export interface CommandMetricsData {
  /** Command name. */
  name: string;
  /** Completed requests (replies received, errors included). */
  count: number;
  /** Error replies and failed requests by error code (`ERR`, `WRONGTYPE`, `connection`, …). */
  errors: Record<string, number>;
  /** The text of the first error of each code, when the caller gave it. */
  firstErrors?: Record<string, string>;
  /** Reads that found their key. */
  hits: number;
  /** Reads that did not. */
  misses: number;
  /** Open loop: requests sent later than their intended time by more than the threshold. */
  late: number;
  /**
   * Of `late`: those that also waited more than the threshold while their connection had a free
   * slot, so membench itself was behind (the rest waited for the server to free a slot).
   */
  lateClient: number;
  /** Service time (actual send → reply), encoded histogram. */
  service: string;
  /** Response time (intended send → reply, open loop only), encoded histogram. */
  response?: string;
  /** Per-second series. */
  series: SecondSample[];
}

/**
 * Per-command counters and latency histograms for one isolate. The hot path calls
 * {@linkcode CommandMetrics.service} and friends; a once-a-second timer calls
 * {@linkcode CommandMetrics.rotate} to close the current second.
 */
export class CommandMetrics {
  /** Command name. */
  readonly name: string;
  /** Completed requests. */
  count = 0;
  /** Hits. */
  hits = 0;
  /** Misses. */
  misses = 0;
  /** Late sends (open loop). */
  late = 0;
  /** Late sends that waited while their connection had a free slot (membench behind). */
  lateClient = 0;
  #errors = new Map<string, number>();
  #errorTexts = new Map<string, string>();
  #errorCount = 0;
  #service = new LatencyRecorder();
  #response: LatencyRecorder | undefined;
  #serviceTotal: Histogram = newHistogram();
  #responseTotal: Histogram | undefined;
  #series: SecondSample[] = [];
  #secOps = 0;
  #secErrors = 0;

  constructor(name: string, openLoop: boolean) {
    this.name = name;
    if (openLoop) {
      this.#response = new LatencyRecorder();
      this.#responseTotal = newHistogram();
    }
  }

  /** Records one completed request's service time. */
  recordService(us: number): void {
    this.count++;
    this.#secOps++;
    // Clamped at 0: a reply may beat a send stamped a few µs late, or a schedule sent early.
    this.#service.record(us);
  }

  /** Records one completed request's response time from its intended send time. */
  recordResponse(us: number): void {
    this.#response!.record(us);
  }

  /**
   * Counts an error by code. Error replies also call {@linkcode recordService}. Returns true for
   * the first error of that code (since the last {@linkcode reset}): the caller then gives its
   * text to {@linkcode errorText}, so that a text is decoded once per code, not per error.
   */
  recordError(code: string): boolean {
    this.#errorCount++;
    this.#secErrors++;
    const n = this.#errors.get(code);
    this.#errors.set(code, (n ?? 0) + 1);
    return n === undefined;
  }

  /** Keeps `text` (up to 300 characters) as what the first error of `code` said. */
  errorText(code: string, text: string): void {
    if (this.#errorTexts.has(code)) return;
    this.#errorTexts.set(code, text.length > 300 ? text.slice(0, 300) + "…" : text);
  }

  /** Total errors so far. */
  get errorCount(): number {
    return this.#errorCount;
  }

  /**
   * Adds the latencies measured so far (response time in open loop, else service time) to `h`:
   * what a live progress line shows, about once a second.
   */
  addLatencySoFar(h: Histogram): void {
    if (this.#response) {
      h.add(this.#responseTotal!);
      h.add(this.#response.histogram);
    } else {
      h.add(this.#serviceTotal);
      h.add(this.#service.histogram);
    }
  }

  /** Closes second `second` of the series. */
  rotate(second: number): void {
    const sample: SecondSample = {
      second,
      ops: this.#secOps,
      errors: this.#secErrors,
      service: encodeHistogram(this.#service.histogram),
    };
    this.#serviceTotal.add(this.#service.histogram);
    this.#service.reset();
    if (this.#response) {
      sample.response = encodeHistogram(this.#response.histogram);
      this.#responseTotal!.add(this.#response.histogram);
      this.#response.reset();
    }
    this.#series.push(sample);
    this.#secOps = 0;
    this.#secErrors = 0;
  }

  /** Discards everything measured so far (end of warm-up). */
  reset(): void {
    this.count = 0;
    this.hits = 0;
    this.misses = 0;
    this.late = 0;
    this.lateClient = 0;
    this.#errors.clear();
    this.#errorTexts.clear();
    this.#errorCount = 0;
    this.#service.reset();
    this.#serviceTotal.reset();
    this.#response?.reset();
    this.#responseTotal?.reset();
    this.#series = [];
    this.#secOps = 0;
    this.#secErrors = 0;
  }

  /** Closes the last (partial) second and returns everything as plain data. */
  finish(lastSecond: number): CommandMetricsData {
    if (this.#secOps > 0 || this.#secErrors > 0 || this.#service.histogram.totalCount > 0) {
      this.rotate(lastSecond);
    }
    const data: CommandMetricsData = {
      name: this.name,
      count: this.count,
      errors: Object.fromEntries(this.#errors),
      hits: this.hits,
      misses: this.misses,
      late: this.late,
      lateClient: this.lateClient,
      service: encodeHistogram(this.#serviceTotal),
      series: this.#series,
    };
    if (this.#responseTotal) data.response = encodeHistogram(this.#responseTotal);
    if (this.#errorTexts.size > 0) data.firstErrors = Object.fromEntries(this.#errorTexts);
    return data;
  }

  /** Frees the histograms. */
  destroy(): void {
    this.#service.destroy();
    this.#serviceTotal.destroy();
    this.#response?.destroy();
    this.#responseTotal?.destroy();
  }
}

/** Merges the data of the same command from several workers. */
export function mergeCommandMetrics(parts: readonly CommandMetricsData[]): CommandMetricsData {
  const first = parts[0];
  if (first === undefined) throw new RangeError("Cannot merge metrics: no parts given");
  const errors: Record<string, number> = {};
  // The first text of each code: the first part that has one (parts are in worker order).
  const firstErrors: Record<string, string> = {};
  const bySecond = new Map<
    number,
    { ops: number; errors: number; service: string[]; response: string[] }
  >();
  for (const p of parts) {
    for (const [k, v] of Object.entries(p.errors)) errors[k] = (errors[k] ?? 0) + v;
    for (const [k, v] of Object.entries(p.firstErrors ?? {})) firstErrors[k] ??= v;
    for (const s of p.series) {
      let e = bySecond.get(s.second);
      if (!e) bySecond.set(s.second, e = { ops: 0, errors: 0, service: [], response: [] });
      e.ops += s.ops;
      e.errors += s.errors;
      e.service.push(s.service);
      if (s.response) e.response.push(s.response);
    }
  }
  const series: SecondSample[] = [...bySecond.entries()].sort((a, b) => a[0] - b[0]).map(
    ([second, e]) => {
      const s: SecondSample = {
        second,
        ops: e.ops,
        errors: e.errors,
        service: e.service.length === 1 ? e.service[0]! : reencode(e.service),
      };
      if (e.response.length > 0) {
        s.response = e.response.length === 1 ? e.response[0]! : reencode(e.response);
      }
      return s;
    },
  );
  const merged: CommandMetricsData = {
    name: first.name,
    count: sum(parts, (p) => p.count),
    errors,
    hits: sum(parts, (p) => p.hits),
    misses: sum(parts, (p) => p.misses),
    late: sum(parts, (p) => p.late),
    lateClient: sum(parts, (p) => p.lateClient ?? 0),
    service: reencode(parts.map((p) => p.service)),
    series,
  };
  const responses = parts.flatMap((p) => p.response === undefined ? [] : [p.response]);
  if (responses.length > 0) merged.response = reencode(responses);
  if (Object.keys(firstErrors).length > 0) merged.firstErrors = firstErrors;
  return merged;
}

/** Percentiles of an encoded histogram. */
export function summarizeEncoded(encoded: string): LatencySummary {
  const h = decodeHistogram(encoded);
  const s = summarize(h);
  h.destroy();
  return s;
}

function reencode(encoded: string[]): string {
  return mergeEncodedToEncoded(encoded);
}

function sum<T>(xs: readonly T[], f: (x: T) => number): number {
  let s = 0;
  for (const x of xs) s += f(x);
  return s;
}
