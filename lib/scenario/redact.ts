// This module uses no Deno APIs.
import { redactUri } from "../net/mod.ts";

/** Option names whose values are secrets. */
const SECRET_NAME =
  /(^pwd$|^auth$|password$|passwd$|passphrase$|secret$|salt$|token$|credentials?$|api[-_]?key$)/i;

/**
 * A deep copy of `value` fit for a summary, journal or log: fields named like a secret
 * (`password`, `salt`, `token`, `auth`, …) become `"***"`, credentials in URIs
 * (`redis://user:pw@host`) lose their password, byte arrays are replaced by their length,
 * functions and signals by a short tag, and cycles are cut.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.deepEqual(
 *   redactSecrets({ target: "redis://app:s3cret@127.0.0.1:6379", password: "x", seed: 1 }),
 *   { target: "redis://app:***@127.0.0.1:6379", password: "***", seed: 1 },
 * );
 * ```
 */
export function redactSecrets(value: unknown): unknown {
  const seen = new WeakSet<object>();
  const walk = (v: unknown, key: string): unknown => {
    if (v === undefined || v === null) return v;
    if (SECRET_NAME.test(key) && (typeof v === "string" || typeof v === "number")) return "***";
    if (typeof v === "string") return redactUri(v);
    if (typeof v === "number" || typeof v === "boolean") return v;
    if (typeof v === "bigint") return String(v);
    if (typeof v === "function") return "[function]";
    if (typeof v !== "object") return String(v);
    if (v instanceof Uint8Array) return SECRET_NAME.test(key) ? "***" : `[${v.length} bytes]`;
    if (typeof AbortSignal !== "undefined" && v instanceof AbortSignal) return "[signal]";
    if (v instanceof Date) return v.toISOString();
    // `seen` holds the objects on the path from the root: a shared object is copied each time.
    if (seen.has(v)) return "[cycle]";
    seen.add(v);
    try {
      return Array.isArray(v) ? v.map((x) => walk(x, key)) : walkObject(v);
    } finally {
      seen.delete(v);
    }
  };
  const walkObject = (v: object): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (x === undefined) continue;
      out[k] = SECRET_NAME.test(k) && x !== null && typeof x === "object" &&
          !Array.isArray(x) && !(x instanceof Uint8Array)
        ? walk(x, "")
        : walk(x, k);
    }
    return out;
  };
  return walk(value, "");
}
