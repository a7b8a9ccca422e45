// This module uses no Deno APIs.
import { MembenchError, nearestName } from "../errors/mod.ts";
import type { MetadataRows } from "./types.ts";

/** What a filter is compiled against: the metadata's field names and tag vocabulary. */
export interface FilterSchema {
  tagField: string;
  vocabulary: readonly string[];
  numericFields: readonly string[];
}

type Node =
  | { kind: "all" }
  | { kind: "tag"; mask: Uint32Array }
  | { kind: "range"; field: number; lo: number; loOpen: boolean; hi: number; hiOpen: boolean }
  | { kind: "not"; item: Node }
  | { kind: "and"; items: Node[] }
  | { kind: "or"; items: Node[] };

/**
 * A metadata filter in the subset of RediSearch / valkey-search query syntax that a vector
 * search's pre-filter uses, so that the expression given to `groundtruth` is the one sent with
 * `FT.SEARCH`:
 *
 * ```
 * expr   := and ( "|" and )*
 * and    := unary unary*                      (juxtaposition is AND)
 * unary  := "-" unary | "(" expr ")" | "*" | "@" FIELD ":" ( tags | range )
 * tags   := "{" TAG ( "|" TAG )* "}"           (matches a row with any of the tags)
 * range  := "[" bound bound "]"                (inclusive; "(" before a bound excludes it)
 * bound  := ["("] ( NUMBER | "-inf" | "+inf" | "inf" )
 * ```
 *
 * Tags must be in the vocabulary and fields must exist, so that a typo is an error rather than
 * an empty ground truth.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const f = VectorFilter.parse("@tag:{red|blue} @price:[10 (20]", {
 *   tagField: "tag",
 *   vocabulary: ["red", "green", "blue"],
 *   numericFields: ["price"],
 * });
 * const rows = { tags: new Uint32Array([0b001, 0b010, 0b100]), numbers: new Float64Array([15, 15, 20]) };
 * assert.deepEqual([...f.mask(rows, 3)], [1, 0, 0]);
 * ```
 */
export class VectorFilter {
  /** The expression as given. */
  readonly source: string;
  readonly #root: Node;
  readonly #tagWords: number;
  readonly #fields: number;

  private constructor(source: string, root: Node, tagWords: number, fields: number) {
    this.source = source;
    this.#root = root;
    this.#tagWords = tagWords;
    this.#fields = fields;
  }

  /**
   * Parses and checks a filter against a schema.
   *
   * @throws {MembenchError} `invalid_argument` quoting the expression and naming the column and
   * the problem (unknown field or tag, with the nearest name; bad number; missing bracket).
   */
  static parse(source: string, schema: FilterSchema): VectorFilter {
    const root = new Parser(source, schema).parse();
    return new VectorFilter(
      source,
      root,
      Math.ceil(schema.vocabulary.length / 32),
      schema.numericFields.length,
    );
  }

  /** Whether row `r` of `rows` matches. */
  matches(rows: MetadataRows, r: number): boolean {
    return evaluate(this.#root, rows, r * this.#tagWords, r * this.#fields);
  }

  /** 1 for each of the `n` rows that match, else 0. */
  mask(rows: MetadataRows, n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let r = 0; r < n; r++) out[r] = this.matches(rows, r) ? 1 : 0;
    return out;
  }
}

function evaluate(node: Node, rows: MetadataRows, tagAt: number, numAt: number): boolean {
  switch (node.kind) {
    case "all":
      return true;
    case "tag": {
      const m = node.mask;
      for (let w = 0; w < m.length; w++) {
        if ((rows.tags[tagAt + w]! & m[w]!) !== 0) return true;
      }
      return false;
    }
    case "range": {
      const v = rows.numbers[numAt + node.field]!;
      if (Number.isNaN(v)) return false;
      const loOk = node.loOpen ? v > node.lo : v >= node.lo;
      const hiOk = node.hiOpen ? v < node.hi : v <= node.hi;
      return loOk && hiOk;
    }
    case "not":
      return !evaluate(node.item, rows, tagAt, numAt);
    case "and":
      return node.items.every((x) => evaluate(x, rows, tagAt, numAt));
    case "or":
      return node.items.some((x) => evaluate(x, rows, tagAt, numAt));
  }
}

class Parser {
  #s: string;
  #i = 0;
  #schema: FilterSchema;

  constructor(s: string, schema: FilterSchema) {
    this.#s = s;
    this.#schema = schema;
  }

  #fail(problem: string, at = this.#i): never {
    throw new MembenchError(
      "invalid_argument",
      `Cannot parse filter ${JSON.stringify(this.#s)} at column ${at + 1}: ${problem}`,
    );
  }

  #ws(): void {
    while (this.#i < this.#s.length && /\s/.test(this.#s[this.#i]!)) this.#i++;
  }

  #peek(): string | undefined {
    this.#ws();
    return this.#s[this.#i];
  }

  #expect(c: string): void {
    if (this.#peek() !== c) {
      this.#fail(
        `expected '${c}'${this.#i < this.#s.length ? ` at '${this.#s[this.#i]}'` : " at the end"}`,
      );
    }
    this.#i++;
  }

  parse(): Node {
    if (this.#peek() === undefined) this.#fail("the filter is empty");
    const n = this.#or();
    if (this.#peek() !== undefined) this.#fail(`unexpected '${this.#s[this.#i]}'`);
    return n;
  }

  #or(): Node {
    const items = [this.#and()];
    while (this.#peek() === "|") {
      this.#i++;
      items.push(this.#and());
    }
    return items.length === 1 ? items[0]! : { kind: "or", items };
  }

  #and(): Node {
    const items = [this.#unary()];
    for (;;) {
      const c = this.#peek();
      if (c === undefined || c === "|" || c === ")") break;
      items.push(this.#unary());
    }
    return items.length === 1 ? items[0]! : { kind: "and", items };
  }

  #unary(): Node {
    const c = this.#peek();
    if (c === "-") {
      this.#i++;
      return { kind: "not", item: this.#unary() };
    }
    if (c === "(") {
      this.#i++;
      const n = this.#or();
      this.#expect(")");
      return n;
    }
    if (c === "*") {
      this.#i++;
      return { kind: "all" };
    }
    if (c === "@") return this.#field();
    if (c === undefined) this.#fail("expected a term at the end");
    return this.#fail(`expected '@field:', '(', '-' or '*', not '${c}'`);
  }

  #field(): Node {
    const start = this.#i;
    this.#i++; // @
    const m = /^[A-Za-z_][\w.-]*/.exec(this.#s.slice(this.#i));
    if (!m) this.#fail("expected a field name after '@'");
    const name = m[0];
    this.#i += name.length;
    this.#expect(":");
    const s = this.#schema;
    const c = this.#peek();
    if (c === "{") {
      if (name !== s.tagField) {
        const near = nearestName(name, [s.tagField]);
        this.#fail(
          `'${name}' is not a tag field (the tag field is '${s.tagField}'${
            near ? "; did you mean it?" : ""
          })`,
          start,
        );
      }
      return this.#tags();
    }
    if (c === "[") {
      const field = s.numericFields.indexOf(name);
      if (field < 0) {
        const near = nearestName(name, s.numericFields);
        this.#fail(
          `'${name}' is not a numeric field (fields: ${s.numericFields.join(", ") || "none"}${
            near ? `; did you mean '${near}'?` : ""
          })`,
          start,
        );
      }
      this.#i++;
      const [lo, loOpen] = this.#bound();
      const [hi, hiOpen] = this.#bound();
      this.#expect("]");
      return { kind: "range", field, lo, loOpen, hi, hiOpen };
    }
    return this.#fail(`expected '{' (tags) or '[' (range) after '@${name}:'`);
  }

  #tags(): Node {
    this.#i++; // {
    const words = Math.ceil(this.#schema.vocabulary.length / 32);
    const mask = new Uint32Array(words);
    for (;;) {
      this.#ws();
      const at = this.#i;
      let tag = "";
      while (this.#i < this.#s.length && !"|}".includes(this.#s[this.#i]!)) {
        if (this.#s[this.#i] === "\\" && this.#i + 1 < this.#s.length) this.#i++;
        tag += this.#s[this.#i++];
      }
      tag = tag.trim();
      if (this.#i >= this.#s.length) this.#fail("missing '}'");
      if (tag === "") this.#fail("empty tag", at);
      const idx = this.#schema.vocabulary.indexOf(tag);
      if (idx < 0) {
        const near = nearestName(tag, this.#schema.vocabulary);
        this.#fail(`unknown tag '${tag}'${near ? ` (did you mean '${near}'?)` : ""}`, at);
      }
      mask[idx >>> 5] = mask[idx >>> 5]! | (1 << (idx & 31));
      if (this.#s[this.#i] === "}") {
        this.#i++;
        return { kind: "tag", mask };
      }
      this.#i++; // |
    }
  }

  #bound(): [number, boolean] {
    this.#ws();
    const at = this.#i;
    let open = false;
    if (this.#s[this.#i] === "(") {
      open = true;
      this.#i++;
    }
    const m = /^[^\s\]]+/.exec(this.#s.slice(this.#i));
    if (!m) this.#fail("expected a number", at);
    this.#i += m[0].length;
    const t = m[0].toLowerCase();
    const v = t === "-inf" ? -Infinity : t === "+inf" || t === "inf" ? Infinity : Number(t);
    if (Number.isNaN(v) || t === "") this.#fail(`'${m[0]}' is not a number`, at);
    return [v, open];
  }
}
