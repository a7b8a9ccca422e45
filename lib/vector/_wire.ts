// This module uses no Deno APIs.
// Writing RESP pieces straight into a connection's output buffer: no request object, no
// intermediate copy of a vector (its bytes are copied once, from the dataset's block into the
// output buffer).
import { decimalWidth, writeDigits } from "../protocol/resp/mod.ts";

const enc = new TextEncoder();

/** UTF-8 bytes of a string. */
export function utf8(s: string): Uint8Array {
  return enc.encode(s);
}

/** `*n\r\n`; returns the position after it. */
export function putArrayHeader(out: Uint8Array, pos: number, n: number): number {
  out[pos++] = 42;
  const w = decimalWidth(n);
  writeDigits(out, pos, w, n);
  pos += w;
  out[pos++] = 13;
  out[pos++] = 10;
  return pos;
}

/** `$len\r\n`; returns the position after it. */
export function putBulkHeader(out: Uint8Array, pos: number, len: number): number {
  out[pos++] = 36;
  const w = decimalWidth(len);
  writeDigits(out, pos, w, len);
  pos += w;
  out[pos++] = 13;
  out[pos++] = 10;
  return pos;
}

/** A bulk string of `bytes`; returns the position after it. */
export function putBulk(out: Uint8Array, pos: number, bytes: Uint8Array): number {
  pos = putBulkHeader(out, pos, bytes.length);
  out.set(bytes, pos);
  pos += bytes.length;
  out[pos++] = 13;
  out[pos++] = 10;
  return pos;
}

/** A bulk string `prefix + id` (a key); returns the position after it. */
export function putKey(out: Uint8Array, pos: number, prefix: Uint8Array, id: number): number {
  const w = decimalWidth(id);
  pos = putBulkHeader(out, pos, prefix.length + w);
  out.set(prefix, pos);
  pos += prefix.length;
  writeDigits(out, pos, w, id);
  pos += w;
  out[pos++] = 13;
  out[pos++] = 10;
  return pos;
}

/** Bytes of a bulk string of `len` bytes, header and CRLF included. */
export function bulkSize(len: number): number {
  return len + decimalWidth(len) + 5;
}

/**
 * The key id in `prefix + digits`, or -1 when `key` is not that shape.
 *
 * @example Usage
 * ```ts ignore
 * keyId(utf8("vec:42"), utf8("vec:")); // 42
 * ```
 */
export function keyId(key: Uint8Array, prefix: Uint8Array): number {
  const p = prefix.length;
  if (key.length <= p || key.length - p > 15) return -1;
  for (let i = 0; i < p; i++) if (key[i] !== prefix[i]) return -1;
  let v = 0;
  for (let i = p; i < key.length; i++) {
    const c = key[i]!;
    if (c < 48 || c > 57) return -1;
    v = v * 10 + (c - 48);
  }
  return v;
}
