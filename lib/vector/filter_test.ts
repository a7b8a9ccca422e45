import assert from "node:assert/strict";
import { MembenchError } from "../errors/mod.ts";
import { VectorFilter } from "./mod.ts";

const schema = {
  tagField: "tag",
  vocabulary: Array.from({ length: 40 }, (_, i) => (i === 33 ? "blue" : i === 0 ? "red" : `t${i}`)),
  numericFields: ["price", "year"],
};
// Row r has tag r (bit r of a 2-word bitset) and price r, year 2000 + r.
const N = 40;
const rows = { tags: new Uint32Array(N * 2), numbers: new Float64Array(N * 2) };
for (let r = 0; r < N; r++) {
  rows.tags[r * 2 + (r >>> 5)] = 1 << (r & 31);
  rows.numbers[r * 2] = r;
  rows.numbers[r * 2 + 1] = 2000 + r;
}

function selected(expr: string): number[] {
  const m = VectorFilter.parse(expr, schema).mask(rows, N);
  return [...m.keys()].filter((i) => m[i]);
}

Deno.test("VectorFilter selects by tag, range, AND, OR, NOT and parentheses", () => {
  assert.deepEqual(selected("@tag:{red | blue}"), [0, 33]);
  assert.deepEqual(selected("@price:[3 5]"), [3, 4, 5]);
  assert.deepEqual(selected("@price:[(3 (5]"), [4]);
  assert.deepEqual(selected("@price:[-inf 1] | @year:[2038 +inf]"), [0, 1, 38, 39]);
  assert.deepEqual(selected("@price:[0 10] -@price:[2 9]"), [0, 1, 10]);
  assert.deepEqual(selected("(@tag:{blue} | @price:[1 2]) @year:[2002 2040]"), [2, 33]);
  assert.equal(selected("*").length, N);
  assert.deepEqual(selected("@tag:{t34} @tag:{t35}"), []);
});

Deno.test("VectorFilter errors quote the filter and name the column", () => {
  const fails = (expr: string, re: RegExp) =>
    assert.throws(() => VectorFilter.parse(expr, schema), (e: unknown) => {
      assert.ok(e instanceof MembenchError);
      assert.equal(e.code, "invalid_argument");
      assert.match(e.message, re);
      return true;
    });
  fails(
    "@tag:{bleu}",
    /^Cannot parse filter "@tag:\{bleu\}" at column 7: unknown tag 'bleu' \(did you mean 'blue'\?\)$/,
  );
  fails(
    "@prise:[1 2]",
    /at column 1: 'prise' is not a numeric field \(fields: price, year; did you mean 'price'\?\)$/,
  );
  fails("@price:[1 x]", /at column 11: 'x' is not a number$/);
  fails("@price:[1 2", /expected '\]' at the end$/);
  fails("@tag:{red", /missing '\}'$/);
  fails("", /the filter is empty$/);
  fails("red", /at column 1: expected '@field:', '\(', '-' or '\*', not 'r'$/);
  fails("@price:{red}", /'price' is not a tag field/);
});
