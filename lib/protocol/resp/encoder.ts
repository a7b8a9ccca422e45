// This module uses no Deno APIs.
import { MembenchError } from "../../errors/mod.ts";
import { decimalWidth, FillPattern, writeDigits } from "../_bytes.ts";

export { decimalWidth, writeDigits };

const encoder = new TextEncoder();

/** One argument of a command: text (UTF-8 encoded), raw bytes, or a number (written in decimal). */
export type RespArg = string | Uint8Array | number;

/**
 * Encodes a command as a RESP array of bulk strings.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const bytes = encodeCommand(["SET", "k", "v"]);
 * assert.equal(new TextDecoder().decode(bytes), "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n");
 * ```
 */
export function encodeCommand(args: readonly RespArg[]): Uint8Array {
  if (args.length === 0) {
    throw new MembenchError("invalid_argument", "Cannot encode command: it has no arguments");
  }
  const parts: Uint8Array[] = [];
  let total = 0;
  const head = encoder.encode(`*${args.length}\r\n`);
  parts.push(head);
  total += head.length;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const body = typeof a === "string"
      ? encoder.encode(a)
      : typeof a === "number"
      ? encoder.encode(String(a))
      : a;
    if (!(body instanceof Uint8Array)) {
      throw new MembenchError(
        "invalid_argument",
        `Cannot encode command: argument ${i} must be a string, number or Uint8Array`,
      );
    }
    const h = encoder.encode(`$${body.length}\r\n`);
    parts.push(h, body, CRLF);
    total += h.length + body.length + 2;
  }
  const out = new Uint8Array(total);
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

const CRLF = new Uint8Array([13, 10]);

/** One piece of a template argument. */
export type TemplatePart =
  /** Literal text. */
  | { literal: string | Uint8Array }
  /** A decimal number zero-padded to `width` digits, filled per request. */
  | { digits: number }
  /** A value payload, filled per request with `dataLength` bytes (every value slot alike). */
  | { data: true };

/** A template argument is a sequence of parts, concatenated. */
export type TemplateArg = readonly TemplatePart[];

type Piece =
  | { kind: 0; bytes: Uint8Array }
  | { kind: 1; width: number }
  | { kind: 2 };

/**
 * A command encoded once, with its number slots and its value slot filled in place for each
 * request. Number slots have a fixed width, so when the value size is fixed the whole command has
 * a fixed shape: `render` copies the pre-encoded image and patches the digits, without encoding
 * anything again. With a variable value size only the value's length header is written per
 * request.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const t = new CommandTemplate([[{ literal: "GET" }], [{ literal: "key:" }, { digits: 4 }]]);
 * const out = new Uint8Array(64);
 * const end = t.render(out, 0, [42], 0);
 * assert.equal(new TextDecoder().decode(out.subarray(0, end)), "*2\r\n$3\r\nGET\r\n$8\r\nkey:0042\r\n");
 * ```
 */
export class CommandTemplate {
  /** Number of digit slots, in order of appearance. */
  readonly digitSlots: number;
  /** Whether the command has a value slot (MSET has several; all get the same size). */
  readonly hasData: boolean;
  #pieces: Piece[] = [];
  // Fixed-shape fast path: the image for one value size, with digit offsets.
  #image: Uint8Array | undefined;
  #imageDataLength = -1;
  #digitOffsets: Int32Array;
  #digitWidths: Int32Array;
  #fill: FillPattern;

  /**
   * Compiles a template.
   *
   * @param args The arguments, each a list of parts.
   * @param fill The bytes the value slot is filled from (repeated as needed); default `x`.
   */
  constructor(args: readonly TemplateArg[], fill: Uint8Array = new Uint8Array([120])) {
    if (args.length === 0) {
      throw new MembenchError("invalid_argument", "Cannot compile template: it has no arguments");
    }
    if (fill.length === 0) {
      throw new MembenchError("invalid_argument", "Cannot compile template: fill bytes are empty");
    }
    this.#fill = new FillPattern(fill);
    let digitSlots = 0;
    let hasData = false;
    const widths: number[] = [];
    // Adjacent literal text is merged into one piece; the `$len` header of an argument is
    // literal too unless the argument holds the value slot.
    let pending = `*${args.length}\r\n`;
    const flush = () => {
      if (pending.length > 0) this.#pieces.push({ kind: 0, bytes: encoder.encode(pending) });
      pending = "";
    };
    const litBytes: Uint8Array[] = [];
    for (const [ai, arg] of args.entries()) {
      const argHasData = arg.some((p) => "data" in p);
      if (argHasData && arg.length !== 1) {
        throw new MembenchError(
          "invalid_argument",
          `Cannot compile template: argument ${ai} mixes the value slot with other text`,
        );
      }
      if (argHasData) {
        hasData = true;
        flush();
        this.#pieces.push({ kind: 2 });
        pending += "\r\n";
        continue;
      }
      let len = 0;
      for (const p of arg) {
        if ("literal" in p) {
          const b = typeof p.literal === "string" ? encoder.encode(p.literal) : p.literal;
          litBytes.push(b);
          len += b.length;
        } else if ("digits" in p) {
          if (!Number.isInteger(p.digits) || p.digits < 1 || p.digits > 20) {
            throw new MembenchError(
              "invalid_argument",
              `Cannot compile template: a number slot's width must be 1..20: current value is ${p.digits}`,
            );
          }
          len += p.digits;
        }
      }
      pending += `$${len}\r\n`;
      for (const p of arg) {
        if ("literal" in p) {
          flush();
          this.#pieces.push({
            kind: 0,
            bytes: typeof p.literal === "string" ? encoder.encode(p.literal) : p.literal,
          });
        } else if ("digits" in p) {
          flush();
          this.#pieces.push({ kind: 1, width: p.digits });
          widths.push(p.digits);
          digitSlots++;
        }
      }
      pending += "\r\n";
    }
    flush();
    this.#pieces = mergeStatic(this.#pieces);
    this.digitSlots = digitSlots;
    this.hasData = hasData;
    this.#digitOffsets = new Int32Array(digitSlots);
    this.#digitWidths = Int32Array.from(widths);
  }

  /** Upper bound of the encoded size for a value of `dataLength` bytes. */
  maxLength(dataLength: number): number {
    let n = 0;
    for (const p of this.#pieces) {
      n += p.kind === 0 ? p.bytes.length : p.kind === 1 ? p.width : dataLength + 12;
    }
    return n;
  }

  /**
   * Writes one request into `out` at `pos` and returns the position after it. The caller makes
   * sure `out` has {@linkcode CommandTemplate.maxLength} bytes free.
   *
   * @param ids One number per digit slot, in order; each must fit the slot's width.
   * @param dataLength The value size for this request (ignored without a value slot).
   */
  render(out: Uint8Array, pos: number, ids: ArrayLike<number>, dataLength: number): number {
    if (this.#image === undefined) this.#buildImage(dataLength);
    if (this.#imageDataLength !== dataLength) return this.#renderPieces(out, pos, ids, dataLength);
    // Fast path: copy the pre-encoded image and patch the digit slots; no encoding per request.
    const image = this.#image!;
    out.set(image, pos);
    const offs = this.#digitOffsets;
    const widths = this.#digitWidths;
    for (let s = 0; s < offs.length; s++) {
      writeDigits(out, pos + offs[s]!, widths[s]!, ids[s]!);
    }
    return pos + image.length;
  }

  // Variable value sizes: write piece by piece; the value bytes come from a cached view of the
  // fill pattern per length, so nothing is allocated once every length has been seen.
  #renderPieces(out: Uint8Array, pos: number, ids: ArrayLike<number>, dataLength: number): number {
    let slot = 0;
    for (const p of this.#pieces) {
      if (p.kind === 0) {
        out.set(p.bytes, pos);
        pos += p.bytes.length;
      } else if (p.kind === 1) {
        writeDigits(out, pos, p.width, ids[slot++]!);
        pos += p.width;
      } else {
        out[pos++] = 36;
        const w = decimalWidth(dataLength);
        writeDigits(out, pos, w, dataLength);
        pos += w;
        out[pos++] = 13;
        out[pos++] = 10;
        out.set(this.#fill.view(dataLength), pos);
        pos += dataLength;
      }
    }
    return pos;
  }

  #buildImage(dataLength: number): void {
    const size = this.maxLength(dataLength);
    const img = new Uint8Array(size);
    let pos = 0;
    let slot = 0;
    for (const p of this.#pieces) {
      if (p.kind === 0) {
        img.set(p.bytes, pos);
        pos += p.bytes.length;
      } else if (p.kind === 1) {
        this.#digitOffsets[slot++] = pos;
        img.fill(48, pos, pos + p.width);
        pos += p.width;
      } else {
        const h = encoder.encode(`$${dataLength}\r\n`);
        img.set(h, pos);
        pos += h.length;
        img.set(this.#fill.view(dataLength), pos);
        pos += dataLength;
      }
    }
    this.#image = img.subarray(0, pos);
    this.#imageDataLength = dataLength;
  }
}

function mergeStatic(pieces: Piece[]): Piece[] {
  const out: Piece[] = [];
  for (const p of pieces) {
    const last = out[out.length - 1];
    if (p.kind === 0 && last?.kind === 0) {
      const m = new Uint8Array(last.bytes.length + p.bytes.length);
      m.set(last.bytes);
      m.set(p.bytes, last.bytes.length);
      out[out.length - 1] = { kind: 0, bytes: m };
    } else {
      out.push(p);
    }
  }
  return out;
}
