// This module uses no Deno APIs.

/** Stable error codes. Callers branch on these, never on message text. */
export type ErrorCode =
  /** A flag, option or configuration value is invalid. */
  | "invalid_argument"
  /** A TCP/TLS/unix connection could not be made or was lost. */
  | "connection"
  /** The server rejected our credentials (AUTH / HELLO AUTH). */
  | "auth"
  /** The server answered with an error to a setup command (SELECT, HELLO, CLIENT SETNAME). */
  | "server"
  /** A request did not get its reply in time. */
  | "timeout"
  /** Bytes on the wire or in a file do not follow the protocol or format. */
  | "protocol"
  /** A file could not be read or has the wrong format. */
  | "file"
  /** The run was interrupted (Ctrl+C or an abort signal). */
  | "interrupted"
  /** Something that should not happen; a bug in membench. */
  | "internal";

/** Options for {@linkcode MembenchError}. */
export interface MembenchErrorOptions {
  /** A short suggestion of what to do about it. */
  hint?: string;
  /** The underlying error. */
  cause?: unknown;
}

/** The error type thrown by every part of membench's library. */
export class MembenchError extends Error {
  /** Stable code. */
  readonly code: ErrorCode;
  /** What to do about it, if we know. */
  readonly hint: string | undefined;

  /**
   * Constructs a new instance.
   *
   * @param code The stable code.
   * @param message Sentence case, no trailing period, naming the input and the place.
   * @param options Hint and cause.
   */
  constructor(code: ErrorCode, message: string, options: MembenchErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "MembenchError";
    this.code = code;
    this.hint = options.hint;
  }
}

/**
 * Shorthand for an invalid argument error in the std message form.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const e = invalidArgument("clients", "must be an integer >= 1", 0);
 * assert.equal(e.message, "Cannot use 'clients': must be an integer >= 1: current value is 0");
 * ```
 */
export function invalidArgument(name: string, rule: string, value: unknown): MembenchError {
  return new MembenchError(
    "invalid_argument",
    `Cannot use '${name}': ${rule}: current value is ${JSON.stringify(value) ?? String(value)}`,
  );
}

/** A message for any thrown value, for places that catch unknowns. */
export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
