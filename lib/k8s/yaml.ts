// This module uses no Deno APIs.
/**
 * A small YAML emitter for JSON-like data (what Kubernetes manifests are): maps, sequences,
 * strings, finite numbers, booleans and null, as YAML 1.2 that kubectl reads. A string is written
 * plain only when no YAML reader could take it for anything else (`Never`,
 * `kubernetes.io/hostname`); a multi-line map value (a scenario file in a ConfigMap) as a literal
 * block; everything else double-quoted with JSON's escapes, which YAML's double-quoted style
 * shares.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(toYaml([{ kind: "Job", spec: { parallelism: 4, x: ["1Gi"] } }]),
 *   "kind: Job\nspec:\n  parallelism: 4\n  x:\n    - \"1Gi\"\n");
 * ```
 *
 * @module
 */
import { MembenchError } from "../errors/mod.ts";

// Words a YAML 1.1 or 1.2 reader turns into booleans or null; numbers start with a digit, a sign
// or a dot, which the plain pattern below never lets through.
const SPECIAL = /^(?:true|false|yes|no|on|off|y|n|null|~)$/i;
const PLAIN = /^[A-Za-z_/][A-Za-z0-9_./-]*$/;
// Characters a literal block may hold: YAML's printable set, less CR and the Unicode line and
// paragraph separators (older readers take them for line breaks).
const BLOCK_SAFE =
  /^[\t\n\x20-\x7e\x85\xa0-\u2027\u202a-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]*$/u;

/** One scalar string, plain when nothing could misread it, else double-quoted. */
function quote(s: string): string {
  return PLAIN.test(s) && !SPECIAL.test(s) ? s : JSON.stringify(s);
}

function scalar(v: unknown, where: string): string {
  if (v === null) return "null";
  if (typeof v === "boolean") return v ? "true" : "false";
  if (typeof v === "number") {
    if (!Number.isFinite(v)) {
      throw new MembenchError("invalid_argument", `Cannot write ${where} as YAML: ${v}`);
    }
    return Object.is(v, -0) ? "-0.0" : String(v);
  }
  if (typeof v === "string") return quote(v);
  throw new MembenchError(
    "invalid_argument",
    `Cannot write ${where} as YAML: ${typeof v} is not JSON-like data`,
  );
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A multi-line string as a literal block (`|`), or undefined when it must be quoted. */
function block(s: string, pad: string): string | undefined {
  if (!s.includes("\n") || !BLOCK_SAFE.test(s)) return undefined;
  // Chomping: `|-` keeps no final line break, `|` one, `|+` all of them.
  const trailing = /\n*$/.exec(s)![0].length;
  const chomp = trailing === 0 ? "-" : trailing === 1 ? "" : "+";
  const body = trailing === 0 ? s : s.slice(0, s.length - trailing);
  // Leading spaces on the first line would be read as indentation: say the indentation (2).
  const indicator = /^[ \n]/.test(body) || body === "" ? "2" : "";
  const lines = body.split("\n").map((l) => (l === "" ? "" : pad + l));
  return `|${indicator}${chomp}\n${lines.join("\n")}\n${"\n".repeat(Math.max(0, trailing - 1))}`;
}

function emit(v: unknown, indent: number, where: string, out: string[]): void {
  const pad = " ".repeat(indent);
  if (!nonEmpty(v)) {
    out.push(`${pad}${leaf(v, where)}\n`);
    return;
  }
  if (Array.isArray(v)) {
    for (const [i, item] of v.entries()) {
      const at = `${where}[${i}]`;
      if (nonEmpty(item)) {
        // The first line of the item goes after the dash; the rest keeps the item's indentation.
        const inner: string[] = [];
        emit(item, indent + 2, at, inner);
        out.push(`${pad}- ${inner.join("").slice(indent + 2)}`);
      } else out.push(`${pad}- ${leaf(item, at)}\n`);
    }
    return;
  }
  if (isMap(v)) {
    for (const [k, x] of Object.entries(v)) {
      if (x === undefined) continue;
      const at = where === "" ? k : `${where}.${k}`;
      const key = quote(k);
      if (nonEmpty(x)) {
        out.push(`${pad}${key}:\n`);
        emit(x, indent + 2, at, out);
        continue;
      }
      const lit = typeof x === "string" ? block(x, pad + "  ") : undefined;
      out.push(lit !== undefined ? `${pad}${key}: ${lit}` : `${pad}${key}: ${leaf(x, at)}\n`);
    }
    return;
  }
  out.push(`${pad}${leaf(v, where)}\n`);
}

/** A sequence with items or a map with defined values: written as a block, not as a leaf. */
function nonEmpty(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0;
  return isMap(v) && Object.values(v).some((x) => x !== undefined);
}

function leaf(v: unknown, where: string): string {
  if (Array.isArray(v)) return "[]";
  if (isMap(v)) return "{}";
  return scalar(v, where);
}

/**
 * JSON-like values as YAML documents, one per value, separated by `---` (what `kubectl apply -f`
 * reads). Throws `invalid_argument` for what JSON could not hold (functions, NaN, Infinity).
 */
export function toYaml(documents: readonly unknown[]): string {
  return documents.map((d, i) => {
    const out: string[] = [];
    emit(d, 0, `document ${i + 1}`, out);
    return out.join("");
  }).join("---\n");
}
