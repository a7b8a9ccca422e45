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
 * A failure throws with fast-check's report (seed, path, the shrunk counterexample) and the
 * command line that replays it.
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
}

/** Whether `name` is skipped because another property is being replayed. */
function skipped(name: string): boolean {
  const only = env("MEMBENCH_FUZZ_PROPERTY");
  return only !== undefined && only !== "" && only !== name;
}

function params<T>(name: string, o: FuzzOptions): fc.Parameters<T> {
  const base = o.runs ?? DEFAULT_RUNS;
  const override = envInt("MEMBENCH_FUZZ_RUNS");
  const numRuns = override === undefined
    ? base
    : Math.max(1, Math.round(override * base / DEFAULT_RUNS));
  const p: fc.Parameters<T> = { numRuns };
  const seed = envInt("MEMBENCH_FUZZ_SEED");
  if (seed !== undefined) p.seed = seed;
  const path = env("MEMBENCH_FUZZ_PATH");
  if (seed !== undefined && path && env("MEMBENCH_FUZZ_PROPERTY") === name) p.path = path;
  return p;
}

function failure<T>(details: fc.RunDetails<T>, name: string): Error {
  const report = fc.defaultReportMessage(details) ?? "property failed";
  return new Error(
    `${name}: ${report}\nReplay: MEMBENCH_FUZZ_PROPERTY=${JSON.stringify(name)} ` +
      `MEMBENCH_FUZZ_SEED=${details.seed} ` +
      `MEMBENCH_FUZZ_PATH=${JSON.stringify(details.counterexamplePath ?? "")} ` +
      "./node_modules/.bin/deno test --allow-all <this test file>",
    { cause: details.errorInstance },
  );
}

/** Checks a synchronous property; throws fast-check's report (with seed and path) on failure. */
export function fuzz<Ts>(name: string, property: fc.IProperty<Ts>, o: FuzzOptions = {}): void {
  if (skipped(name)) return;
  const details = fc.check(property, params<Ts>(name, o));
  if (details.failed) throw failure(details, name);
}

/** Checks an asynchronous property, each run bounded by `timeoutMs`. */
export async function fuzzAsync<Ts>(
  name: string,
  property: fc.IAsyncProperty<Ts>,
  o: FuzzOptions = {},
): Promise<void> {
  if (skipped(name)) return;
  const p = params<Ts>(name, o);
  p.timeout = o.timeoutMs ?? 10_000;
  const details = await fc.check(property, p);
  if (details.failed) throw failure(details, name);
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
 * Cut points for a byte string of `length` bytes: sorted, distinct, inside (0, length). Used to
 * feed the same bytes in pieces.
 */
export function cutsArb(maxCuts = 12): fc.Arbitrary<number[]> {
  return fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: maxCuts });
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
      at: fc.double({ min: 0, max: 1, noNaN: true }),
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
