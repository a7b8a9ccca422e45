import assert from "node:assert/strict";
import { MembenchError } from "../errors/mod.ts";
import {
  BINARY_HEADER_BYTES,
  BinaryDataset,
  BinaryDatasetWriter,
  writeBinaryGroundTruth,
} from "./mod.ts";

async function sample(path: string, dtype: "float32" | "float16" = "float32"): Promise<void> {
  const w = await BinaryDatasetWriter.create(path, {
    name: "tiny",
    metric: "COSINE",
    dtype,
    dim: 3,
    numVectors: 4,
    numQueries: 2,
    numNeighbors: 2,
    metadata: {
      tagField: "color",
      vocabulary: Array.from({ length: 40 }, (_, i) => `t${i}`),
      numericFields: ["price", "year"],
    },
    queryMetadata: true,
  });
  await w.writeVectors(2, [7, 8, 9, 10, 11, 12]); // out of order on purpose
  await w.writeVectors(0, [1, 2, 3, 4, 5, 6]);
  await w.writeQueries(0, [0.5, 0.25, 0.125, -1, -2, -3]);
  await w.writeGroundTruth(0, [3, 1, 0, -1]);
  const tags = new Uint32Array(4 * 2);
  tags[0] = 1; // row 0: t0
  tags[3] = 1 << 3; // row 1: t35
  await w.writeMetadata(0, {
    tags,
    numbers: new Float64Array([1, 2020, 2.5, 2021, 3, 2022, 4, 2023]),
  });
  await w.writeMetadata(0, {
    tags: new Uint32Array([2, 0, 0, 0]),
    numbers: new Float64Array([9, 9, 8, 8]),
  }, "queries");
  await w.close();
}

Deno.test("BinaryDatasetWriter and BinaryDataset round-trip vectors, queries, ids and metadata", async () => {
  const p = await Deno.makeTempFile({ suffix: ".mbv" });
  try {
    await sample(p);
    using ds = await BinaryDataset.open(p);
    const h = ds.header;
    assert.deepEqual(
      [
        h.name,
        h.metric,
        h.dtype,
        h.dim,
        h.numVectors,
        h.numQueries,
        h.numNeighbors,
        h.vocabSize,
        h.hasMetadata,
      ],
      ["tiny", "COSINE", "float32", 3, 4, 2, 2, 40, true],
    );
    assert.equal(h.vectorsOffset, BINARY_HEADER_BYTES);
    assert.deepEqual([...await ds.vectors.read(0, 4)], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    assert.deepEqual([...await ds.queries!.read(0, 2)], [0.5, 0.25, 0.125, -1, -2, -3]);
    assert.deepEqual([...await ds.neighbors!.readInts(0, 2)], [3, 1, 0, -1]);
    const md = ds.metadata!;
    assert.equal(md.tagField, "color");
    assert.deepEqual(md.numericFields, ["price", "year"]);
    assert.equal(md.vocabulary[35], "t35");
    const rows = await md.read(1, 2);
    assert.deepEqual([...rows.tags], [0, 8, 0, 0]);
    assert.deepEqual([...rows.numbers], [2.5, 2021, 3, 2022]);
    assert.deepEqual([...(await ds.queryMetadata!.read(0, 1)).numbers], [9, 9]);
    await writeBinaryGroundTruth(p, [0, 1, 2, 3]);
    using again = await BinaryDataset.open(p);
    assert.deepEqual([...await again.neighbors!.readInts(0, 2)], [0, 1, 2, 3]);
  } finally {
    await Deno.remove(p);
  }
});

Deno.test("BinaryDataset header fields sit where valkey-search-benchmark puts them", async () => {
  const p = await Deno.makeTempFile({ suffix: ".mbv" });
  try {
    await sample(p, "float16");
    const b = await Deno.readFile(p);
    const dv = new DataView(b.buffer);
    assert.equal(dv.getUint32(0, true), 0xDECDB001);
    assert.equal(dv.getUint32(4, true), 1);
    assert.equal(new TextDecoder().decode(b.subarray(8, 12)), "tiny");
    assert.equal(b[12], 0); // NUL padded
    assert.deepEqual([b[264], b[265], b[266], b[267]], [2, 1, 1, 0]); // COSINE, float16, metadata
    assert.equal(dv.getUint32(268, true), 3);
    assert.equal(dv.getBigUint64(272, true), 4n);
    assert.equal(dv.getBigUint64(280, true), 2n);
    assert.equal(dv.getUint32(288, true), 2);
    assert.equal(dv.getUint32(292, true), 40);
    assert.equal(dv.getBigUint64(296, true), 4096n);
    const q = Number(dv.getBigUint64(304, true));
    assert.equal(q, 4096 + 4 * 3 * 2 + 0); // 24 bytes of float16 vectors, already 8-aligned
    assert.deepEqual([...new Float16Array(b.slice(q, q + 6).buffer)], [0.5, 0.25, 0.125]);
    assert.ok(b.subarray(344, 4096).every((x) => x === 0), "reserved bytes are zero");
  } finally {
    await Deno.remove(p);
  }
});

Deno.test("BinaryDataset names the field and byte of a malformed header", async () => {
  const p = await Deno.makeTempFile({ suffix: ".mbv" });
  try {
    await sample(p);
    const good = await Deno.readFile(p);
    const expect = async (
      mutate: (b: Uint8Array, dv: DataView) => Uint8Array | void,
      re: RegExp,
    ) => {
      const b = good.slice();
      const out = mutate(b, new DataView(b.buffer)) ?? b;
      await Deno.writeFile(p, out);
      await assert.rejects(BinaryDataset.open(p), (e: unknown) => {
        assert.ok(e instanceof MembenchError);
        assert.equal(e.code, "file");
        assert.match(e.message, new RegExp(`^Cannot read dataset ${p} ${re.source}`));
        return true;
      });
    };
    await expect(
      (_b, dv) => dv.setUint32(0, 0xDECDB002, true),
      /at byte 0: wrong magic 0xDECDB002 \(expected 0xDECDB001\)$/,
    );
    await expect((_b, dv) => dv.setUint32(4, 9, true), /at byte 4: unknown version 9$/);
    await expect((b) => void (b[264] = 3), /at byte 264: unknown metric code 3$/);
    await expect(
      (_b, dv) => dv.setBigUint64(304, 1n << 40n, true),
      /at byte 304: queries offset 1099511627776 \+ 24 bytes is past the end of the file/,
    );
    await expect(
      (_b, dv) => dv.setBigUint64(296, 100n, true),
      /at byte 296: vectors offset 100 points into the header$/,
    );
    await expect(
      (b) => b.subarray(0, 4100),
      /at byte 296: vectors offset 4096 \+ 48 bytes is past the end of the file \(4100 bytes\)$/,
    );
    await expect(
      (b) => b.subarray(0, 100),
      /at byte 0: file has 100 bytes, the header alone needs 4096$/,
    );
    await expect(
      (b) => b.subarray(0, b.length - 3),
      /at byte \d+: vocabulary entry 39 \(3 bytes\) is cut short$/,
    );
  } finally {
    await Deno.remove(p);
  }
});
