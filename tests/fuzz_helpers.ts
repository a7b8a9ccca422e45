/**
 * Shared configuration of the property-based (fuzz) tests, the `*_fuzz_test.ts` files beside
 * the parsers. They run with a short budget in the normal suite and a long one from
 * `deno task fuzz`:
 *
 * - `MEMBENCH_FUZZ_RUNS=N`: runs per property (a property whose default is smaller or larger
 *   than {@linkcode DEFAULT_RUNS} is scaled in proportion);
 * - `MEMBENCH_FUZZ_SEED=S`: the seed of every property (reproduces a whole run);
 * - `MEMBENCH_FUZZ_PROPERTY=name` with `MEMBENCH_FUZZ_SEED` and `MEMBENCH_FUZZ_PATH`: replay the
 *   shrunk counterexample of one failed property (the others are skipped), as its report says.
 *
 * Each property's seed is chosen before it runs (`MEMBENCH_FUZZ_SEED`, else random) and printed
 * on stderr with the command line that replays it: `fuzz <name>: seed <S>, <N> runs (replay:
 * …)`. A property that hangs inside a synchronous call cannot be timed out, and a CI job killed
 * for it keeps that line. A failure throws with fast-check's report (seed, path, the shrunk
 * counterexample) and the command line that replays it, naming the test file. Property names
 * are unique per file (the replay selects by name).
 *
 * @module
 */
import * as fc from "fast-check";
import assert from "node:assert/strict";
import { MembenchError } from "../lib/errors/mod.ts";

/** Runs of a standard property in the normal suite. */
export const DEFAULT_RUNS = 200;

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined; // no --allow-env: the defaults
  }
}

function envInt(name: string): number | undefined {
  const s = env(name);
  if (s === undefined || s === "") return undefined;
  const v = Number(s);
  if (!Number.isInteger(v)) {
    throw new Error(`${name} must be an integer, found ${JSON.stringify(s)}`);
  }
  return v;
}

/** Options of one property. */
export interface FuzzOptions {
  /** Runs in the normal suite. @default {DEFAULT_RUNS} */
  runs?: number;
  /** Per-run time limit of an async property, ms (a hang fails the run). @default {10000} */
  timeoutMs?: number;
  /**
   * The test file, for the replay command line: `import.meta.url` or a path. Found from the
   * caller's stack when absent.
   */
  file?: string;
}

/** Whether `name` is skipped because another property is being replayed. */
function skipped(name: string): boolean {
  const only = env("MEMBENCH_FUZZ_PROPERTY");
  return only !== undefined && only !== "" && only !== name;
}

const HELPER = import.meta.url;

/** A file URL or path as a path relative to the working directory when it lies under it. */
function displayPath(f: string): string {
  let p = f;
  if (p.startsWith("file:")) {
    try {
      p = decodeURIComponent(new URL(p).pathname);
    } catch { /* keep it */ }
  }
  try {
    const cwd = Deno.cwd();
    if (p.startsWith(cwd + "/")) p = p.slice(cwd.length + 1);
  } catch { /* no --allow-read: the absolute path */ }
  return p;
}

/** The first file on the stack that is not this one: the test file that called fuzz(). */
function callerFile(): string | undefined {
  for (const m of (new Error().stack ?? "").matchAll(/(file:\/\/[^\s()]+?):\d+:\d+/g)) {
    if (m[1] !== HELPER) return m[1];
  }
  return undefined;
}

// Properties run so far in this isolate, by file and name: a name must say which property to
// replay.
const seen = new Set<string>();

/** Everything one property run needs, fixed before it starts. */
interface Plan<T> {
  params: fc.Parameters<T>;
  seed: number;
  file: string;
}

function plan<T>(name: string, o: FuzzOptions): Plan<T> {
  const file = displayPath(o.file ?? callerFile() ?? "<this test file>");
  const id = `${file}\0${name}`;
  if (seen.has(id)) {
    throw new Error(`fuzz property ${JSON.stringify(name)} is defined twice in ${file}`);
  }
  seen.add(id);
  const base = o.runs ?? DEFAULT_RUNS;
  const override = envInt("MEMBENCH_FUZZ_RUNS");
  const numRuns = override === undefined
    ? base
    : Math.max(1, Math.round(override * base / DEFAULT_RUNS));
  // The seed is chosen here, not by fast-check, so that it is in the log before the first run:
  // a synchronous property that hangs cannot be timed out, and CI kills the job without a report.
  const seed = envInt("MEMBENCH_FUZZ_SEED") ?? ((Date.now() ^ (Math.random() * 0x1_0000_0000)) | 0);
  const params: fc.Parameters<T> = { numRuns, seed };
  const path = env("MEMBENCH_FUZZ_PATH");
  const replayingPath = path !== undefined && path !== "" &&
    envInt("MEMBENCH_FUZZ_SEED") !== undefined && env("MEMBENCH_FUZZ_PROPERTY") === name;
  if (replayingPath) params.path = path;
  // deno-lint-ignore no-console
  console.error(
    `fuzz ${name}: seed ${seed}, ${numRuns} runs${replayingPath ? `, path ${path}` : ""} ` +
      `(replay: ${replayCommand(name, seed, file, replayingPath ? path : undefined)})`,
  );
  return { params, seed, file };
}

function replayCommand(name: string, seed: number, file: string, path?: string): string {
  const runs = env("MEMBENCH_FUZZ_RUNS");
  return `MEMBENCH_FUZZ_PROPERTY=${JSON.stringify(name)} MEMBENCH_FUZZ_SEED=${seed} ` +
    (path !== undefined ? `MEMBENCH_FUZZ_PATH=${JSON.stringify(path)} ` : "") +
    (runs ? `MEMBENCH_FUZZ_RUNS=${runs} ` : "") +
    `./node_modules/.bin/deno test --allow-all ${file}`;
}

function failure<T>(details: fc.RunDetails<T>, name: string, p: Plan<T>): Error {
  const report = fc.defaultReportMessage(details) ?? "property failed";
  return new Error(
    `${name}: ${report}\nReplay: ` +
      replayCommand(name, p.seed, p.file, details.counterexamplePath ?? ""),
    { cause: details.errorInstance },
  );
}

/**
 * Checks a synchronous property; throws fast-check's report (with seed and path) on failure. The
 * seed and the replay command are printed first (stderr), so that a run that hangs and is killed
 * still leaves them in the log.
 */
export function fuzz<Ts>(name: string, property: fc.IProperty<Ts>, o: FuzzOptions = {}): void {
  if (skipped(name)) return;
  const p = plan<Ts>(name, o);
  const details = fc.check(property, p.params);
  if (details.failed) throw failure(details, name, p);
}

/** Checks an asynchronous property, each run bounded by `timeoutMs`; prints as {@linkcode fuzz}. */
export async function fuzzAsync<Ts>(
  name: string,
  property: fc.IAsyncProperty<Ts>,
  o: FuzzOptions = {},
): Promise<void> {
  if (skipped(name)) return;
  const p = plan<Ts>(name, o);
  p.params.timeout = o.timeoutMs ?? 10_000;
  const details = await fc.check(property, p.params);
  if (details.failed) throw failure(details, name, p);
}

/**
 * Runs `fn`; it must return or throw a {@linkcode MembenchError} with the given code and a
 * message that names a place. Anything else (a TypeError, a RangeError) fails the property.
 * Returns the error, or undefined when it returned.
 */
export function expectTyped(
  fn: () => void,
  code: string,
  place: RegExp,
): MembenchError | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    return checkTyped(e, code, place);
  }
}

/** The async form of {@linkcode expectTyped}. */
export async function expectTypedAsync(
  fn: () => Promise<void>,
  code: string,
  place: RegExp,
): Promise<MembenchError | undefined> {
  try {
    await fn();
    return undefined;
  } catch (e) {
    return checkTyped(e, code, place);
  }
}

function checkTyped(e: unknown, code: string, place: RegExp): MembenchError {
  if (!(e instanceof MembenchError)) {
    throw new Error(`expected a MembenchError, got ${e instanceof Error ? e.stack : String(e)}`);
  }
  assert.equal(e.code, code, e.message);
  assert.match(e.message, place);
  return e;
}

/**
 * A fraction in [0, 1), uniform: a relative position in a byte string or a list. (Not
 * `fc.double({ min: 0, max: 1 })`: that is uniform over the doubles' bit patterns, and nine
 * draws in ten are below 1e-6, so `Math.floor(x * length)` is 0 almost always.) Shrinks to 0.
 */
export function fractionArb(): fc.Arbitrary<number> {
  return fc.integer({ min: 0, max: 0xffff_ffff }).map((n) => n / 0x1_0000_0000);
}

/**
 * Cut points for a byte string of `length` bytes: sorted, distinct, inside (0, length). Used to
 * feed the same bytes in pieces.
 */
export function cutsArb(maxCuts = 12): fc.Arbitrary<number[]> {
  return fc.array(fractionArb(), { maxLength: maxCuts });
}

/** Splits `bytes` at the fractions `cuts` (from {@linkcode cutsArb}) into pieces. */
export function splitAt(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const at = [...new Set(cuts.map((c) => Math.floor(c * bytes.length)))]
    .filter((i) => i > 0 && i < bytes.length)
    .sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const i of at) {
    out.push(bytes.slice(prev, i));
    prev = i;
  }
  out.push(bytes.slice(prev));
  return out;
}

/** Concatenates byte strings. */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const te = new TextEncoder();

/** Latin-1 text to bytes (each char one byte) or UTF-8 for `utf8`. */
export function bytes(s: string, utf8 = false): Uint8Array {
  if (utf8) return te.encode(s);
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i) & 0xff;
  return b;
}

/** One edit of a byte string: overwrite, insert or delete at a relative position. */
export type Mutation = { at: number; kind: "set" | "insert" | "delete"; byte: number };

/**
 * Edits that take valid input off the path a little at a time, so that the parsers see bytes
 * that are almost right (a length off by one digit, a CR missing) and not only noise. `bias`
 * are bytes that matter to the format (delimiters, digits, type bytes).
 */
export function mutationsArb(bias: readonly number[] = [], max = 4): fc.Arbitrary<Mutation[]> {
  const byte = bias.length > 0
    ? fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(...bias))
    : fc.integer({ min: 0, max: 255 });
  return fc.array(
    fc.record({
      at: fractionArb(),
      kind: fc.constantFrom("set" as const, "insert" as const, "delete" as const),
      byte,
    }),
    { minLength: 1, maxLength: max },
  );
}

/** Applies mutations from {@linkcode mutationsArb}; an optional cut keeps a prefix. */
export function mutate(b: Uint8Array, ms: readonly Mutation[], keep = 1): Uint8Array {
  const a = Array.from(b);
  for (const m of ms) {
    const i = Math.min(a.length, Math.floor(m.at * (a.length + 1)));
    if (m.kind === "insert") a.splice(i, 0, m.byte);
    else if (i < a.length) {
      if (m.kind === "set") a[i] = m.byte;
      else a.splice(i, 1);
    }
  }
  return Uint8Array.from(a.slice(0, Math.ceil(keep * a.length)));
}

/** Bytes of the format `fragments` strung together: a cheap grammar-aware noise. */
export function soupArb(fragments: readonly string[], maxLength = 40): fc.Arbitrary<Uint8Array> {
  return fc.array(fc.constantFrom(...fragments), { maxLength }).map((fs) => bytes(fs.join("")));
}

/**
 * Yields each chunk copied into one reused buffer whose tail is garbage, with the chunk's length,
 * as a socket reader does: a parser that kept a view of an earlier chunk would show it.
 */
export function* reused(chunks: readonly Uint8Array[]): Generator<[Uint8Array, number]> {
  const size = chunks.reduce((n, c) => Math.max(n, c.length), 0) + 8;
  const scratch = new Uint8Array(size);
  for (const c of chunks) {
    scratch.set(c);
    scratch.fill(0xee, c.length);
    yield [scratch, c.length];
  }
}

/**
 * A byte source (the shape of the capture and profile readers' sources) that returns a file in
 * pieces of the given sizes, cycled, and records the buffers it was asked to fill.
 */
export class ChunkSource {
  #b: Uint8Array;
  #at = 0;
  #sizes: number[];
  #i = 0;
  /** Largest buffer the reader read into. */
  maxBuffer = 0;
  reads = 0;
  closed = false;

  constructor(b: Uint8Array, sizes: number[] = []) {
    this.#b = b;
    this.#sizes = sizes.length > 0 ? sizes : [b.length + 1];
  }

  read(p: Uint8Array): Promise<number | null> {
    assert.ok(p.length > 0, "the reader asks for at least one byte");
    this.reads++;
    this.maxBuffer = Math.max(this.maxBuffer, p.buffer.byteLength);
    if (this.#at >= this.#b.length) return Promise.resolve(null);
    const want = Math.max(1, this.#sizes[this.#i++ % this.#sizes.length]!);
    const n = Math.min(p.length, want, this.#b.length - this.#at);
    p.set(this.#b.subarray(this.#at, this.#at + n));
    this.#at += n;
    return Promise.resolve(n);
  }

  close(): void {
    this.closed = true;
  }
}
