// This module uses no Deno APIs.
import { MembenchError } from "../../errors/mod.ts";
import { decimalWidth, writeDigits } from "../_bytes.ts";
import { type WirePart, WireTemplate } from "../_template.ts";

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
  // The RESP framing is compiled into wire parts (`*N`, each `$len`, CRLFs as literals; a value's
  // `$len` as its length part): the shared template engine renders it.
  #wire: WireTemplate;

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
    const parts: WirePart[] = [{ literal: `*${args.length}\r\n` }];
    for (const [ai, arg] of args.entries()) {
      if (arg.some((p) => "data" in p)) {
        if (arg.length !== 1) {
          throw new MembenchError(
            "invalid_argument",
            `Cannot compile template: argument ${ai} mixes the value slot with other text`,
          );
        }
        parts.push({ literal: "$" }, { dataLength: true }, { literal: "\r\n" }, { data: true });
      } else {
        // No value slot here, so every part is literal text or a number slot.
        const bytes = arg.map((p): { literal: Uint8Array } | { digits: number } =>
          "literal" in p
            ? { literal: typeof p.literal === "string" ? encoder.encode(p.literal) : p.literal }
            : { digits: (p as { digits: number }).digits }
        );
        const len = bytes.reduce((n, p) => n + ("literal" in p ? p.literal.length : p.digits), 0);
        parts.push({ literal: `$${len}\r\n` }, ...bytes);
      }
      parts.push({ literal: "\r\n" });
    }
    this.#wire = new WireTemplate(parts, fill);
    this.digitSlots = this.#wire.digitSlots;
    this.hasData = this.#wire.hasData;
  }

  /** Upper bound of the encoded size for a value of `dataLength` bytes. */
  maxLength(dataLength: number): number {
    return this.#wire.maxLength(dataLength);
  }

  /**
   * Writes one request into `out` at `pos` and returns the position after it. The caller makes
   * sure `out` has {@linkcode CommandTemplate.maxLength} bytes free.
   *
   * @param ids One number per digit slot, in order; each must fit the slot's width.
   * @param dataLength The value size for this request (ignored without a value slot).
   */
  render(out: Uint8Array, pos: number, ids: ArrayLike<number>, dataLength: number): number {
    return this.#wire.render(out, pos, ids, dataLength);
  }
}
