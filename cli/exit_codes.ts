/** Process exit codes of the membench CLI: the library's table, shared with scenario files. */
export { EXIT, exitCodeFor } from "../lib/errors/exit_codes.ts";
