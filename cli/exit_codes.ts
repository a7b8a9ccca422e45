/** Process exit codes of the membench CLI. */
export const EXIT = {
  ok: 0,
  /** An unexpected error (a bug). */
  internal: 1,
  /** Bad flags or options. */
  usage: 2,
  /** The server could not be reached, refused the credentials, or every connection was lost. */
  connection: 3,
  /** A check or threshold failed (scenarios). */
  threshold: 4,
  /** A file or protocol stream could not be read. */
  input: 5,
  /** Interrupted by Ctrl+C (SIGINT); partial results were printed. */
  interrupted: 130,
} as const;

/** Exit code for a MembenchError code. */
export function exitCodeFor(code: string): number {
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
