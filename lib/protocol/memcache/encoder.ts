// This module uses no Deno APIs.
import { MembenchError } from "../../errors/mod.ts";
import { FillPattern } from "../_bytes.ts";

export { FillPattern };
export { type WirePart, WireTemplate } from "../_template.ts";
import { MC_MAX_KEY } from "./types.ts";

const utf8 = new TextEncoder();

/** A word of a text or meta command line. */
export type McWord = string | number | Uint8Array;

/**
 * Encodes a memcached text or meta command: the words joined by spaces, CRLF, then the value and
 * CRLF when one is given. The caller writes the words the command needs, including the value's
 * length (`["set", key, flags, exptime, value.length]`, `["ms", key, value.length, "T60", "q"]`).
 * Words may not hold spaces or control characters; keys are at most 250 bytes.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const v = new TextEncoder().encode("hi");
 * const b = encodeMcCommand(["set", "k", 0, 0, v.length, "noreply"], v);
 * assert.equal(new TextDecoder().decode(b), "set k 0 0 2 noreply\r\nhi\r\n");
 * ```
 * @throws {MembenchError} `invalid_argument` for an empty command or a word that cannot be sent.
 */
export function encodeMcCommand(words: readonly McWord[], value?: Uint8Array): Uint8Array {
  if (words.length === 0) {
    throw new MembenchError("invalid_argument", "Cannot encode memcached command: it has no words");
  }
  const parts = words.map((w, i) => {
    const b = typeof w === "string"
      ? utf8.encode(w)
      : typeof w === "number"
      ? utf8.encode(String(w))
      : w;
    if (b.length === 0 || b.length > MC_MAX_LINE_WORD) {
      throw new MembenchError(
        "invalid_argument",
        `Cannot encode memcached command: word ${i} is ${b.length} bytes long`,
      );
    }
    for (const c of b) {
      if (c <= 32 || c === 127) {
        throw new MembenchError(
          "invalid_argument",
          `Cannot encode memcached command: word ${i} holds a space or control character`,
        );
      }
    }
    return b;
  });
  let n = parts.length + 1; // spaces and CRLF: (n-1) spaces + 2
  for (const p of parts) n += p.length;
  if (value) n += value.length + 2;
  const out = new Uint8Array(n);
  let pos = 0;
  for (let i = 0; i < parts.length; i++) {
    if (i > 0) out[pos++] = 32;
    out.set(parts[i]!, pos);
    pos += parts[i]!.length;
  }
  out[pos++] = 13;
  out[pos++] = 10;
  if (value) {
    out.set(value, pos);
    pos += value.length;
    out[pos++] = 13;
    out[pos++] = 10;
  }
  return out;
}

const MC_MAX_LINE_WORD = 8192;

/**
 * Checks that a key can be sent over the text protocol: 1 to 250 bytes, no spaces or control
 * characters.
 *
 * @throws {MembenchError} `invalid_argument` naming the problem.
 */
export function checkMcKey(key: Uint8Array | string): void {
  const b = typeof key === "string" ? utf8.encode(key) : key;
  if (b.length === 0 || b.length > MC_MAX_KEY) {
    throw new MembenchError(
      "invalid_argument",
      `Cannot use memcached key: must be 1..${MC_MAX_KEY} bytes: current length is ${b.length}`,
    );
  }
  for (const c of b) {
    if (c <= 32 || c === 127) {
      throw new MembenchError(
        "invalid_argument",
        "Cannot use memcached key: it holds a space or control character",
      );
    }
  }
}
