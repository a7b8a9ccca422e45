// This module uses no Deno APIs.
/**
 * Small helpers the scenario run and its phases share.
 *
 * @module
 */
import { MembenchError, nearestName } from "../errors/mod.ts";
import { redactUri } from "../net/mod.ts";

/** A name made safe for a file name: `My run!` -> `my-run`. */
export function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9_.-]+/g, "-").replace(/^-+|-+$/g, "") || "scenario";
}

/** Aborted when either is: the scenario's signal and the one a phase was given. */
export function anySignal(a: AbortSignal, b: AbortSignal | undefined): AbortSignal {
  return b ? AbortSignal.any([a, b]) : a;
}

/** What went wrong, as the journal and the summary keep it (secrets redacted). */
export function errorInfo(e: unknown): { code: string; message: string; hint?: string } {
  if (e instanceof MembenchError) {
    return { code: e.code, message: redactUri(e.message), ...(e.hint ? { hint: e.hint } : {}) };
  }
  return {
    code: "internal",
    message: redactUri(e instanceof Error ? e.stack ?? e.message : String(e)),
  };
}

/**
 * The options of `o` that `keys` does not list, one problem each with the nearest known name:
 * a misspelt option (`keyPatern`) must not run with the default.
 */
export function unknownOptions(
  what: string,
  o: unknown,
  keys: Readonly<Record<string, true>>,
): string[] {
  if (o === null || typeof o !== "object") {
    return [`Cannot run ${what}: expected an object of options: current value is ${String(o)}`];
  }
  const known = Object.keys(keys);
  const out: string[] = [];
  for (const k of Object.keys(o)) {
    if (Object.hasOwn(keys, k)) continue;
    const near = nearestName(k, known);
    out.push(
      `Cannot use option '${k}' of ${what}: there is no such option${
        near ? ` (did you mean '${near}'?)` : ""
      }`,
    );
  }
  return out;
}

/** Runs `f`, turning an `invalid_argument` error into its problems (one per line). */
export function problemsOf(f: () => unknown): string[] {
  try {
    f();
    return [];
  } catch (e) {
    if (e instanceof MembenchError && e.code === "invalid_argument") return e.message.split("\n");
    throw e;
  }
}

/**
 * The phase's name from `ctx.phaseName`, or (when the given name is bad or repeated) the given
 * one with the problem added, so that the phase's other problems are reported with it.
 */
export function phaseNameOr(
  ctx: { phaseName(kind: string, given: string | undefined): string },
  kind: string,
  given: string | undefined,
  problems: string[],
): string {
  try {
    return ctx.phaseName(kind, given);
  } catch (e) {
    problems.push(...problemsOf(() => {
      throw e;
    }));
    return typeof given === "string" ? given : kind;
  }
}

/** Throws the options' problem when they are not an object (nothing else can be checked). */
export function requireObject(what: string, o: unknown): void {
  if (o === null || typeof o !== "object") {
    throw new MembenchError(
      "invalid_argument",
      `Cannot run ${what}: expected an object of options: current value is ${String(o)}`,
    );
  }
}

/**
 * A run shard's phase result, kept for `membench merge`: `<outDir>/<phase>.shard-I-of-N.json`,
 * one JSON line with the encoded histograms an exact merge needs (secrets are redacted in it).
 */
export async function saveShardResult(
  outDir: string,
  phase: string,
  shard: { index: number; count: number },
  result: unknown,
): Promise<string> {
  const path = `${outDir.replace(/\/+$/, "")}/${
    slug(phase)
  }.shard-${shard.index}-of-${shard.count}.json`;
  try {
    await Deno.mkdir(outDir, { recursive: true });
    await Deno.writeTextFile(path, JSON.stringify(result) + "\n");
  } catch (e) {
    throw new MembenchError(
      "file",
      `Cannot write the shard result ${path}: ${e instanceof Error ? e.message : e}`,
    );
  }
  return path;
}
