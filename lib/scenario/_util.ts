// This module uses no Deno APIs.
/**
 * Small helpers the scenario run and its phases share.
 *
 * @module
 */
import { MembenchError } from "../errors/mod.ts";
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
