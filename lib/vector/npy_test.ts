import assert from "node:assert/strict";
import { MembenchError } from "../errors/mod.ts";
import { NpyMatrix } from "./mod.ts";

/** A .npy file as numpy lays it out (header padded so that data starts on a 64-byte boundary). */
function npy(
  descr: string,
  shape: number[],
  data: Uint8Array,
  opts: { version?: 1 | 2; fortran?: boolean } = {},
): Uint8Array {
  const v = opts.version ?? 1;
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  let header = `{'descr': '${descr}', 'fortran_order': ${
    opts.fortran ? "True" : "False"
  }, 'shape': ${shapeText}, }`;
  const pre = v === 1 ? 10 : 12;
  const pad = 64 - ((pre + header.length + 1) % 64);
  header += " ".repeat(pad % 64) + "\n";
  const out = new Uint8Array(pre + header.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, v, 0]);
  const dv = new DataView(out.buffer);
  if (v === 1) dv.setUint16(8, header.length, true);
  else dv.setUint32(8, header.length, true);
  out.set(new TextEncoder().encode(header), pre);
  out.set(data, pre + header.length);
  return out;
}

async function withFile(bytes: Uint8Array, fn: (p: string) => Promise<void>): Promise<void> {
  const p = await Deno.makeTempFile({ suffix: ".npy" });
  await Deno.writeFile(p, bytes);
  try {
    await fn(p);
  } finally {
    await Deno.remove(p);
  }
}

Deno.test("NpyMatrix reads float32, float16 and uint8 2-D arrays (version 1 and 2 headers)", async () => {
  const f32 = new Float32Array([1, 2, 3, 4, 5, 6]);
  await withFile(npy("<f4", [2, 3], new Uint8Array(f32.buffer)), async (p) => {
    using m = await NpyMatrix.open(p);
    assert.deepEqual([m.rows, m.dim, m.elementType], [2, 3, "float32"]);
    assert.equal(m.dataOffset % 64, 0);
    assert.deepEqual([...await m.read(1, 1)], [4, 5, 6]);
  });
  const f16 = new Float16Array([0.5, -2, 65504, 1 / 1024]);
  await withFile(npy("<f2", [2, 2], new Uint8Array(f16.buffer), { version: 2 }), async (p) => {
    using m = await NpyMatrix.open(p);
    assert.deepEqual([...await m.read(0, 2)], [0.5, -2, 65504, 1 / 1024]);
  });
  await withFile(npy("|u1", [3], new Uint8Array([9, 200, 0])), async (p) => {
    using m = await NpyMatrix.open(p);
    assert.deepEqual([m.rows, m.dim], [3, 1]);
    assert.deepEqual([...await m.read(0, 3)], [9, 200, 0]);
  });
});

Deno.test("NpyMatrix reports bad magic, Fortran order, big-endian and short data with offsets", async () => {
  const data = new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer);
  const check = async (bytes: Uint8Array, re: RegExp) => {
    await withFile(bytes, async (p) => {
      await assert.rejects(NpyMatrix.open(p), (e: unknown) => {
        assert.ok(e instanceof MembenchError);
        assert.match(e.message, new RegExp(`^Cannot read dataset ${p} at byte \\d+: ${re.source}`));
        return true;
      });
    });
  };
  const bad = npy("<f4", [2, 2], data);
  bad[1] = 0x41;
  await check(bad, /not a \.npy file \(bad magic\)/);
  await check(
    npy("<f4", [2, 2], data, { fortran: true }),
    /Fortran-order arrays are not supported/,
  );
  await check(npy(">f4", [2, 2], data), /dtype '>f4' is not supported/);
  await check(npy("<f4", [3, 2], data), /file ends at byte \d+ but shape \(3, 2\) needs 24 bytes/);
  await check(npy("<c8", [2, 1], data), /dtype '<c8' is not supported/);
});
