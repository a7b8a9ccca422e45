import assert from "node:assert/strict";
import { MembenchError } from "../errors/mod.ts";
import { VecsMatrix, VecsWriter } from "./mod.ts";

/** Hand-built TEXMEX bytes: each record an int32 dimension then its values. */
function vecs(
  records: Array<{ dim: number; values: number[] }>,
  kind: "f" | "i" | "b",
): Uint8Array {
  const size = kind === "b" ? 1 : 4;
  const total = records.reduce((s, r) => s + 4 + r.values.length * size, 0);
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  let at = 0;
  for (const r of records) {
    dv.setInt32(at, r.dim, true);
    at += 4;
    for (const v of r.values) {
      if (kind === "f") dv.setFloat32(at, v, true);
      else if (kind === "i") dv.setInt32(at, v, true);
      else dv.setUint8(at, v);
      at += size;
    }
  }
  return out;
}

async function temp(bytes: Uint8Array, suffix: string): Promise<string> {
  const p = await Deno.makeTempFile({ suffix });
  await Deno.writeFile(p, bytes);
  return p;
}

async function rejects(p: Promise<unknown>, re: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof MembenchError, `not a MembenchError: ${e}`);
    assert.equal(e.code, "file");
    assert.match(e.message, re);
    return true;
  });
}

Deno.test("VecsMatrix reads fvecs, ivecs and bvecs rows by position", async () => {
  const f = await temp(
    vecs([{ dim: 3, values: [1, 2.5, -3] }, { dim: 3, values: [4, 5, 6] }], "f"),
    ".fvecs",
  );
  const i = await temp(
    vecs([{ dim: 2, values: [7, -1] }, { dim: 2, values: [2147483647, 0] }], "i"),
    ".ivecs",
  );
  const b = await temp(vecs([{ dim: 4, values: [0, 1, 128, 255] }], "b"), ".bvecs");
  try {
    using fm = await VecsMatrix.open(f);
    assert.equal(fm.rows, 2);
    assert.equal(fm.dim, 3);
    assert.deepEqual([...await fm.read(1, 1)], [4, 5, 6]);
    assert.deepEqual([...await fm.read(0, 2)], [1, 2.5, -3, 4, 5, 6]);
    using im = await VecsMatrix.open(i);
    assert.deepEqual([...await im.readInts(0, 2)], [7, -1, 2147483647, 0]);
    using bm = await VecsMatrix.open(b);
    assert.equal(bm.elementType, "uint8");
    assert.deepEqual([...await bm.read(0, 1)], [0, 1, 128, 255]);
  } finally {
    for (const p of [f, i, b]) await Deno.remove(p);
  }
});

Deno.test("VecsMatrix names the file, byte and problem for a truncated record", async () => {
  const whole = vecs([{ dim: 2, values: [1, 2] }, { dim: 2, values: [3, 4] }], "f");
  const p = await temp(whole.subarray(0, whole.length - 3), ".fvecs");
  try {
    await rejects(
      VecsMatrix.open(p),
      new RegExp(
        `^Cannot read dataset ${p} at byte 12: truncated record: 9 bytes of a 12-byte record`,
      ),
    );
  } finally {
    await Deno.remove(p);
  }
});

Deno.test("VecsMatrix reports a dimension that changes mid-file at its record's offset", async () => {
  // Record 0 has dim 2 (12 bytes); record 1 claims dim 1 but is padded to the same size.
  const p = await temp(
    vecs([{ dim: 2, values: [1, 2] }, { dim: 1, values: [3, 4] }, { dim: 2, values: [5, 6] }], "f"),
    ".fvecs",
  );
  try {
    using m = await VecsMatrix.open(p);
    assert.deepEqual([...await m.read(0, 1)], [1, 2]);
    await rejects(m.read(0, 3), /at byte 12: dimension changes from 2 to 1 in record 1$/);
    assert.deepEqual([...await m.read(2, 1)], [5, 6]);
  } finally {
    await Deno.remove(p);
  }
});

Deno.test("VecsMatrix rejects an implausible first dimension and an empty file", async () => {
  const neg = await temp(vecs([{ dim: -5, values: [] }], "f"), ".fvecs");
  const empty = await temp(new Uint8Array(0), ".fvecs");
  try {
    await rejects(VecsMatrix.open(neg), /at byte 0: dimension -5 is not between 1 and/);
    await rejects(VecsMatrix.open(empty), /at byte 0: file has 0 bytes, no record/);
  } finally {
    await Deno.remove(neg);
    await Deno.remove(empty);
  }
});

Deno.test("VecsWriter writes what VecsMatrix reads, for each kind", async () => {
  for (const kind of ["fvecs", "ivecs", "bvecs"] as const) {
    const p = await Deno.makeTempFile({ suffix: `.${kind}` });
    try {
      const w = await VecsWriter.create(p, kind, 3);
      await w.write([1, 2, 3, 4, 5, 6]);
      await w.close();
      assert.equal((await Deno.stat(p)).size, 2 * (4 + 3 * (kind === "bvecs" ? 1 : 4)));
      using m = await VecsMatrix.open(p);
      assert.deepEqual([...await m.read(0, 2)], [1, 2, 3, 4, 5, 6], kind);
    } finally {
      await Deno.remove(p);
    }
  }
});
