import assert from "node:assert/strict";
import { MembenchError } from "../errors/mod.ts";
import { Rng } from "../workload/mod.ts";
import { DotKernel } from "./_dots_wasm.ts";
import {
  computeGroundTruth,
  type DistanceMetric,
  type MetadataTable,
  type VectorMatrix,
} from "./mod.ts";

function memMatrix(values: Float32Array, dim: number): VectorMatrix {
  return {
    name: "memory",
    rows: values.length / dim,
    dim,
    elementType: "float32",
    read: (s, n) => Promise.resolve(values.slice(s * dim, (s + n) * dim)),
    readInts: () => Promise.reject(new Error("not ids")),
  };
}

function randomVectors(rng: Rng, n: number, dim: number): Float32Array {
  const v = new Float32Array(n * dim);
  for (let i = 0; i < v.length; i++) v[i] = rng.nextGaussian();
  return v;
}

/** Plain float64 brute force with ties by id: the test's own reference (numpy is in tests/). */
function bruteForce(
  base: Float32Array,
  q: Float32Array,
  dim: number,
  k: number,
  metric: DistanceMetric,
  keep: (id: number) => boolean,
): number[][] {
  const nb = base.length / dim, nq = q.length / dim;
  const out: number[][] = [];
  for (let i = 0; i < nq; i++) {
    const d: Array<[number, number]> = [];
    for (let j = 0; j < nb; j++) {
      if (!keep(j)) continue;
      let s = 0, qq = 0, bb = 0;
      for (let t = 0; t < dim; t++) {
        const a = q[i * dim + t]!, b = base[j * dim + t]!;
        s += metric === "L2" ? (a - b) * (a - b) : a * b;
        qq += a * a;
        bb += b * b;
      }
      d.push([metric === "L2" ? s : metric === "IP" ? 1 - s : 1 - s / Math.sqrt(qq * bb), j]);
    }
    d.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
    out.push(d.slice(0, k).map((x) => x[1]));
  }
  return out;
}

function rows(ids: Int32Array, k: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < ids.length; i += k) out.push([...ids.subarray(i, i + k)]);
  return out;
}

Deno.test("DotKernel: the WebAssembly SIMD kernel agrees with float64 dot products", () => {
  const rng = new Rng(3);
  const dp = 20, nq = 8, nb = 6;
  for (const kind of ["wasm-simd", "typescript"] as const) {
    const k = new DotKernel(nq, dp, 8, kind);
    assert.equal(k.kind, kind);
    for (let i = 0; i < nq * dp; i++) k.q[i] = rng.nextGaussian();
    for (let i = 0; i < nb * dp; i++) k.b[i] = rng.nextGaussian();
    k.run(nb);
    for (let i = 0; i < nq; i++) {
      for (let j = 0; j < nb; j++) {
        let s = 0, mag = 0;
        for (let t = 0; t < dp; t++) {
          s += k.q[i * dp + t]! * k.b[j * dp + t]!;
          mag += Math.abs(k.q[i * dp + t]! * k.b[j * dp + t]!);
        }
        assert.ok(Math.abs(k.out[i * nb + j]! - s) <= 1e-6 * mag, `${kind} ${i},${j}`);
      }
    }
  }
});

Deno.test("computeGroundTruth() matches brute force for each metric, range and kernel", async () => {
  const rng = new Rng(11);
  const dim = 13, nb = 900, nq = 7, k = 10;
  const base = randomVectors(rng, nb, dim), q = randomVectors(rng, nq, dim);
  for (const metric of ["L2", "IP", "COSINE"] as const) {
    for (const [offset, count] of [[0, nb], [250, 400]] as const) {
      const want = bruteForce(base, q, dim, k, metric, (j) => j >= offset && j < offset + count);
      const variants: Array<Partial<Parameters<typeof computeGroundTruth>[2]>> = [
        { threads: 0 },
        { threads: 0, exact: true },
        { threads: 0, kernel: "typescript" },
      ];
      for (const opts of variants) {
        const gt = await computeGroundTruth(memMatrix(base, dim), q, {
          k,
          metric,
          vectorOffset: offset,
          numVectors: count,
          blockRows: 128,
          ...opts,
        });
        assert.deepEqual(
          rows(gt.ids, k),
          want,
          `${metric} ${offset}+${count} ${JSON.stringify(opts)}`,
        );
        assert.equal(gt.matched, count);
      }
    }
  }
});

Deno.test("computeGroundTruth() breaks exact ties by the lower id, rechecking in float64", async () => {
  const dim = 4;
  // 60 copies of one vector at distance 1 from the query, then nearer and farther ones.
  const vs: number[] = [];
  for (let i = 0; i < 60; i++) vs.push(1, 0, 0, 0);
  vs.push(0.5, 0, 0, 0, 5, 5, 5, 5);
  const base = new Float32Array(vs);
  const gt = await computeGroundTruth(memMatrix(base, dim), new Float32Array([0, 0, 0, 0]), {
    k: 5,
    threads: 0,
  });
  assert.deepEqual([...gt.ids], [60, 0, 1, 2, 3]);
  assert.deepEqual([...gt.distances], [0.5, 1, 1, 1, 1]);
  assert.equal(gt.recheckedQueries, 1, "the screened margin cannot certify 60 tied vectors");
});

Deno.test("computeGroundTruth() pads with -1 when fewer vectors qualify than k", async () => {
  const gt = await computeGroundTruth(
    memMatrix(new Float32Array([1, 1, 2, 2]), 2),
    new Float32Array([0, 0]),
    {
      k: 3,
      threads: 0,
    },
  );
  assert.deepEqual([...gt.ids], [0, 1, -1]);
  assert.deepEqual([...gt.distances], [Math.SQRT2, Math.sqrt(8), Infinity]);
});

Deno.test("computeGroundTruth() in Web Workers equals the in-thread result, with a filter", async () => {
  const rng = new Rng(5);
  const dim = 8, nb = 2000, nq = 9, k = 7;
  const base = randomVectors(rng, nb, dim), q = randomVectors(rng, nq, dim);
  // Tag bit 0 on every third vector; numeric field = id.
  const metadata: MetadataTable = {
    tagField: "tag",
    vocabulary: ["x"],
    numericFields: ["n"],
    rows: nb,
    tagWords: 1,
    read: (s, n) =>
      Promise.resolve({
        tags: Uint32Array.from({ length: n }, (_, i) => ((s + i) % 3 === 0 ? 1 : 0)),
        numbers: Float64Array.from({ length: n }, (_, i) => s + i),
      }),
  };
  const filter = "@tag:{x} | @n:[1000 1010]";
  const keep = (j: number) => j % 3 === 0 || (j >= 1000 && j <= 1010);
  const want = bruteForce(base, q, dim, k, "COSINE", keep);
  for (const threads of [0, 2]) {
    const gt = await computeGroundTruth(memMatrix(base, dim), q, {
      k,
      metric: "COSINE",
      filter,
      metadata,
      threads,
      blockRows: 300,
    });
    assert.deepEqual(rows(gt.ids, k), want, `threads ${threads}`);
    assert.equal(gt.matched, [...Array(nb).keys()].filter(keep).length);
    assert.equal(gt.threads, threads);
  }
});

Deno.test("computeGroundTruth() rejects bad options with invalid_argument", async () => {
  const m = memMatrix(new Float32Array(8), 2);
  const bad = async (o: Parameters<typeof computeGroundTruth>[2], re: RegExp) =>
    await assert.rejects(computeGroundTruth(m, new Float32Array(2), o), (e: unknown) => {
      assert.ok(e instanceof MembenchError);
      assert.equal(e.code, "invalid_argument");
      assert.match(e.message, re);
      return true;
    });
  await bad({ k: 0 }, /'k': must be an integer from 1/);
  await bad(
    { k: 1, vectorOffset: 5 },
    /'vectorOffset': must be an integer from 0 to 4: current value is 5/,
  );
  await bad(
    { k: 1, vectorOffset: 2, numVectors: 3 },
    /'numVectors': must be an integer from 0 to 2/,
  );
  await bad({ k: 1, filter: "@a:{b}" }, /the dataset has no metadata/);
});

Deno.test("computeGroundTruth() rechecks queries the float32 screen cannot separate", async () => {
  // Vectors far from the origin with small differences: |b|² - 2 q·b keeps few significant
  // digits in float32, so only the error bound stands between the screen and a wrong answer
  // (with the bound scaled down 1e6 times, 47 of these 200 ids come out wrong).
  const rng = new Rng(1);
  const dim = 16, nb = 4000, nq = 20, k = 10;
  const around = (n: number) =>
    Float32Array.from({ length: n * dim }, () => 300 + rng.nextGaussian() * 0.3);
  const base = around(nb), q = around(nq);
  const want = bruteForce(base, q, dim, k, "L2", () => true);
  const gt = await computeGroundTruth(memMatrix(base, dim), q, { k, threads: 0 });
  assert.deepEqual(rows(gt.ids, k), want);
  assert.equal(gt.recheckedQueries, nq);
});
