import { parseArgs, type ParseArgsConfig } from "node:util";
import { MembenchError, nearestName } from "../lib/errors/mod.ts";

/** parseArgs with our error messages: an unknown or malformed flag names the flag. */
export function parseFlags(
  args: string[],
  options: NonNullable<ParseArgsConfig["options"]>,
): { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] } {
  try {
    const r = parseArgs({ args, options, strict: true, allowPositionals: true });
    return {
      values: r.values as Record<string, string | boolean | string[] | undefined>,
      positionals: r.positionals,
    };
  } catch (e) {
    const m = e instanceof Error ? e.message : String(e);
    const unknown = /Unknown option '([^']+)'/.exec(m);
    if (unknown) {
      const flag = unknown[1]!;
      const near = flag.startsWith("--")
        ? nearestName(flag.slice(2), Object.keys(options))
        : undefined;
      throw new MembenchError(
        "invalid_argument",
        `Unknown flag '${flag}'${near ? ` (did you mean '--${near}'?)` : ""}`,
      );
    }
    const missing = /Option '([^']+?)(?: <value>)?' argument missing/.exec(m);
    if (missing) throw new MembenchError("invalid_argument", `Flag '${missing[1]}' needs a value`);
    throw new MembenchError("invalid_argument", `Cannot parse flags: ${m}`);
  }
}

/** An integer flag value, or a usage error naming the flag. */
export function intFlag(name: string, v: unknown, min = 0): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== "string" || !/^-?\d+$/.test(v.trim()) || n < min) {
    throw new MembenchError(
      "invalid_argument",
      `Cannot use flag '${name}': expected an integer >= ${min}: current value is ${
        JSON.stringify(v)
      }`,
    );
  }
  return n;
}
