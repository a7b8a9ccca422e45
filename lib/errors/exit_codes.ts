// This module uses no Deno APIs.
import type { ErrorCode } from "./error.ts";

/**
 * Process exit codes shared by the membench CLI and scenario files, so that a script, a CI job
 * or a shell can tell a failed threshold from bad options, a lost server or Ctrl+C.
 */
export const EXIT = {
  ok: 0,
  /** An unexpected error (a bug). */
  internal: 1,
  /** Bad flags or options. */
  usage: 2,
  /** The server could not be reached, refused the credentials, or every connection was lost. */
  connection: 3,
  /** A check or threshold failed. */
  threshold: 4,
  /** A file or protocol stream could not be read. */
  input: 5,
  /** Interrupted by Ctrl+C (SIGINT); partial results were kept. */
  interrupted: 130,
} as const;

/**
 * The exit code for a {@linkcode MembenchError} code.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(exitCodeFor("invalid_argument"), EXIT.usage);
 * assert.equal(exitCodeFor("auth"), EXIT.connection);
 * ```
 */
export function exitCodeFor(code: ErrorCode | string): number {
  switch (code) {
    case "invalid_argument":
      return EXIT.usage;
    case "connection":
    case "auth":
    case "server":
    case "timeout":
      return EXIT.connection;
    case "file":
    case "protocol":
      return EXIT.input;
    case "interrupted":
      return EXIT.interrupted;
    default:
      return EXIT.internal;
  }
}
