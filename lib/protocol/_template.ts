// This module uses no Deno APIs.
import { MembenchError } from "../errors/mod.ts";
import { decimalWidth, FillPattern, writeDigits } from "./_bytes.ts";

const utf8 = new TextEncoder();

/** One piece of a {@linkcode WireTemplate}. */
export type WirePart =
  /** Literal bytes (text is UTF-8). */
  | { literal: string | Uint8Array }
  /** A decimal number zero-padded to `digits` digits, filled per request (a key id). */
  | { digits: number }
  /** The value's length in decimal (text `set … <bytes>`, meta `ms <key> <datalen>`). */
  | { dataLength: true }
  /** The value bytes. */
  | { data: true }
  /**
   * A big-endian u32: a binary header's body length, `bodyLength` plus the value's length when
   * `withData` (the packet that carries the value; a NOOP fence after it does not).
   */
  | { bodyLength: number; withData: boolean };

type Piece =
  | { k: 0; bytes: Uint8Array }
  | { k: 1; width: number }
  | { k: 2 }
  | { k: 3 }
  | { k: 4; base: number; withData: boolean };

/**
 * A request encoded once, with its key-id digits and its value filled in place per request: the
 * engine behind memcached requests and the RESP `CommandTemplate`, for the load engine's hot path. With a
 * fixed value size the whole request has a fixed shape and `render` copies a pre-encoded image
 * and patches the digits; with varying sizes it writes piece by piece from cached views, so
 * nothing is allocated per request once every size has been seen.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const t = new WireTemplate([
 *   { literal: "set key:" }, { digits: 3 }, { literal: " 0 0 " }, { dataLength: true },
 *   { literal: "\r\n" }, { data: true }, { literal: "\r\n" },
 * ]);
 * const out = new Uint8Array(64);
 * const end = t.render(out, 0, [7], 2);
 * assert.equal(new TextDecoder().decode(out.subarray(0, end)), "set key:007 0 0 2\r\nxx\r\n");
 * ```
 */
export class WireTemplate {
  /** Number of digit slots. */
  readonly digitSlots: number;
  /** Whether the request carries a value. */
  readonly hasData: boolean;
  #pieces: Piece[] = [];
  #image: Uint8Array | undefined;
  #imageDataLength = -1;
  #digitOffsets: Int32Array;
  #digitWidths: Int32Array;
  #fill: FillPattern;

  /**
   * @param parts The pieces in order.
   * @param fill The bytes values are made of, repeated. @default "x"
   */
  constructor(parts: readonly WirePart[], fill: Uint8Array = new Uint8Array([120])) {
    if (fill.length === 0) {
      throw new MembenchError("invalid_argument", "Cannot compile template: fill bytes are empty");
    }
    this.#fill = new FillPattern(fill);
    const widths: number[] = [];
    let hasData = false;
    for (const p of parts) {
      if ("literal" in p) {
        const b = typeof p.literal === "string" ? utf8.encode(p.literal) : p.literal;
        const last = this.#pieces[this.#pieces.length - 1];
        if (last?.k === 0) {
          const m = new Uint8Array(last.bytes.length + b.length);
          m.set(last.bytes);
          m.set(b, last.bytes.length);
          last.bytes = m;
        } else if (b.length > 0) this.#pieces.push({ k: 0, bytes: b });
      } else if ("digits" in p) {
        if (!Number.isInteger(p.digits) || p.digits < 1 || p.digits > 20) {
          throw new MembenchError(
            "invalid_argument",
            `Cannot compile template: a number slot's width must be 1..20: current value is ${p.digits}`,
          );
        }
        this.#pieces.push({ k: 1, width: p.digits });
        widths.push(p.digits);
      } else if ("dataLength" in p) {
        this.#pieces.push({ k: 2 });
      } else if ("data" in p) {
        this.#pieces.push({ k: 3 });
        hasData = true;
      } else {
        this.#pieces.push({ k: 4, base: p.bodyLength, withData: p.withData });
      }
    }
    this.digitSlots = widths.length;
    this.hasData = hasData;
    this.#digitOffsets = new Int32Array(widths.length);
    this.#digitWidths = Int32Array.from(widths);
  }

  /** Upper bound of the encoded size for a value of `dataLength` bytes. */
  maxLength(dataLength: number): number {
    let n = 0;
    for (const p of this.#pieces) {
      n += p.k === 0
        ? p.bytes.length
        : p.k === 1
        ? p.width
        : p.k === 2
        ? 10
        : p.k === 3
        ? dataLength
        : 4;
    }
    return n;
  }

  /**
   * Writes one request into `out` at `pos`; returns the position after it. The caller makes sure
   * `out` has {@linkcode WireTemplate.maxLength} bytes free.
   */
  render(out: Uint8Array, pos: number, ids: ArrayLike<number>, dataLength: number): number {
    if (this.#image === undefined) this.#buildImage(dataLength);
    if (this.#imageDataLength !== dataLength) return this.#renderPieces(out, pos, ids, dataLength);
    // Fast path: copy the pre-encoded image and patch the digit slots.
    const image = this.#image!;
    out.set(image, pos);
    const offs = this.#digitOffsets;
    const widths = this.#digitWidths;
    for (let s = 0; s < offs.length; s++) writeDigits(out, pos + offs[s]!, widths[s]!, ids[s]!);
    return pos + image.length;
  }

  #renderPieces(out: Uint8Array, pos: number, ids: ArrayLike<number>, dataLength: number): number {
    let slot = 0;
    for (const p of this.#pieces) {
      switch (p.k) {
        case 0:
          out.set(p.bytes, pos);
          pos += p.bytes.length;
          break;
        case 1:
          writeDigits(out, pos, p.width, ids[slot++]!);
          pos += p.width;
          break;
        case 2: {
          const w = decimalWidth(dataLength);
          writeDigits(out, pos, w, dataLength);
          pos += w;
          break;
        }
        case 3:
          out.set(this.#fill.view(dataLength), pos);
          pos += dataLength;
          break;
        case 4: {
          const v = p.withData ? p.base + dataLength : p.base;
          out[pos] = (v >>> 24) & 255;
          out[pos + 1] = (v >>> 16) & 255;
          out[pos + 2] = (v >>> 8) & 255;
          out[pos + 3] = v & 255;
          pos += 4;
          break;
        }
      }
    }
    return pos;
  }

  #buildImage(dataLength: number): void {
    const img = new Uint8Array(this.maxLength(dataLength));
    const zeros = new Float64Array(this.digitSlots);
    const end = this.#renderPieces(img, 0, zeros, dataLength);
    // Record where the digit slots landed.
    let pos = 0;
    let slot = 0;
    for (const p of this.#pieces) {
      if (p.k === 1) this.#digitOffsets[slot++] = pos;
      pos += p.k === 0
        ? p.bytes.length
        : p.k === 1
        ? p.width
        : p.k === 2
        ? decimalWidth(dataLength)
        : p.k === 3
        ? dataLength
        : 4;
    }
    this.#image = img.subarray(0, end);
    this.#imageDataLength = dataLength;
  }
}
