// This module uses no Deno APIs.
/**
 * Cluster key slots: CRC16 (XMODEM, as the Redis Cluster specification gives it) of the key, or of
 * its hash tag, modulo 16384.
 *
 * @module
 */

/** Slots in a Redis/Valkey cluster. */
export const SLOTS = 16384;

const TABLE = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 8;
    for (let k = 0; k < 8; k++) c = c & 0x8000 ? (c << 1) ^ 0x1021 : c << 1;
    t[i] = c & 0xffff;
  }
  return t;
})();

// CRC16-CCITT (XMODEM: polynomial 0x1021, initial 0) of `bytes[from, to)`. The anonymizer has
// its own copy (clusterSlot): the layer table lets neither area import the other.
function crc16(bytes: Uint8Array, from: number, to: number): number {
  let crc = 0;
  for (let i = from; i < to; i++) {
    crc = ((crc << 8) ^ TABLE[((crc >>> 8) ^ bytes[i]!) & 0xff]!) & 0xffff;
  }
  return crc;
}

const utf8 = new TextEncoder();

/**
 * The slot of a key: only the part between the first `{` and the next `}` is hashed when that part
 * is not empty (a hash tag), else the whole key.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(keySlot("foo"), 12182);
 * assert.equal(keySlot("{user1000}.following"), keySlot("{user1000}.followers"));
 * ```
 */
export function keySlot(key: string | Uint8Array, from = 0, to?: number): number {
  const b = typeof key === "string" ? utf8.encode(key) : key;
  const end = to ?? b.length;
  let open = -1;
  for (let i = from; i < end; i++) {
    if (b[i] === 123) {
      open = i;
      break;
    }
  }
  if (open >= 0) {
    for (let i = open + 1; i < end; i++) {
      if (b[i] === 125) {
        if (i > open + 1) return crc16(b, open + 1, i) & (SLOTS - 1);
        break;
      }
    }
  }
  return crc16(b, from, end) & (SLOTS - 1);
}

/**
 * The hash tag of a key as text (what {@linkcode keySlot} hashes), or undefined when the key has
 * none.
 */
export function hashTag(key: string): string | undefined {
  const open = key.indexOf("{");
  if (open < 0) return undefined;
  const close = key.indexOf("}", open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : undefined;
}
