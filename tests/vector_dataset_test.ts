// Vector datasets against independent references: the real SIFT vectors of
// ../shared/data/ngt-sift5k (with numpy's exact top-100 and NGT's own search output), numpy
// brute force on random subsets, filters and all three metrics, HDF5 files written by h5py
// (chunked, gzip, float16) and .npy files written by numpy. Needs Debian's python3-numpy and
// python3-h5py.
import assert from "node:assert/strict";
import { python } from "./helpers.ts";
import {
  BinaryDatasetWriter,
  computeGroundTruth,
  datasetGroundTruth,
  type DistanceMetric,
  Hdf5Matrix,
  MembenchError,
  openDataset,
} from "../mod.ts";

const SIFT = new URL("../../shared/data/ngt-sift5k/", import.meta.url).pathname;
const MAIN = new URL("../cli/main.ts", import.meta.url).pathname;

async function membench(
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      MAIN,
      "dataset",
      ...args,
      ...(["convert", "groundtruth", "generate"].includes(args[0]!) ? ["--no-progress"] : []),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

async function rawF32(path: string): Promise<Float32Array> {
  return new Float32Array((await Deno.readFile(path)).buffer);
}

function rowsOf(a: ArrayLike<number>, k: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < a.length; i += k) out.push(Array.from({ length: k }, (_, j) => a[i + j]!));
  return out;
}

// numpy reference: exact top-k in float64 with ties by (distance, id), for any subset.
const NUMPY_TOPK = `
import numpy as np
def topk(base, q, ids, k, metric):
    base = base.astype(np.float64); q = q.astype(np.float64)
    if metric == "L2":
        d = ((q[:, None, :] - base[None, :, :]) ** 2).sum(-1)
    elif metric == "IP":
        d = 1.0 - q @ base.T
    else:
        qn = np.linalg.norm(q, axis=1)[:, None]; bn = np.linalg.norm(base, axis=1)[None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            d = np.where((qn == 0) | (bn == 0), 1.0, 1.0 - (q @ base.T) / (qn * bn))
    out = []
    for i in range(len(q)):
        order = np.lexsort((ids, d[i]))[:k]
        out.append([int(x) for x in ids[order]] + [-1] * (k - len(order)))
    return out
`;

Deno.test("sift5k: the computed top-100 equals the shipped numpy ground truth (fvecs and HDF5)", async () => {
  for (const file of ["sift5k_base.fvecs", "sift5k-128-euclidean.hdf5"]) {
    using ds = await openDataset(SIFT + file);
    assert.equal(ds.metric, file.endsWith("hdf5") ? "L2" : undefined);
    // Workers on one of the two (under deno test each new Worker is type-checked, ~1 s).
    const gt = await datasetGroundTruth(ds, { k: 100, threads: file.endsWith("hdf5") ? 2 : 0 });
    const want = await ds.neighbors!.readInts(0, 100);
    assert.deepEqual(rowsOf(gt.ids, 100), rowsOf(want, 100), file);
    const wantD = await ds.distances!.read(0, 100);
    for (let i = 0; i < wantD.length; i++) {
      assert.ok(
        Math.abs(gt.distances[i]! - wantD[i]!) <= 1e-4 * wantD[i]!,
        `${file} distance ${i}`,
      );
    }
    assert.equal(gt.distances[0]!.toFixed(3), "208.538"); // README: 208.538, 210.554, 213.558 …
    assert.equal(gt.distances[1]!.toFixed(3), "210.554");
  }
});

Deno.test("sift5k: NGT's own search output for its sample query (a tool we did not write)", async () => {
  using ds = await openDataset(SIFT + "full5k_base.fvecs", {
    queryFile: SIFT + "full5k_query3.fvecs",
  });
  const gt = await datasetGroundTruth(ds, { k: 10, threads: 0 });
  // bin/ngt/README.md, "ngt search -n 20 index ./data/sift-query-3.tsv", query 1 (1-based ids).
  const ngt = [3031, 4079, 3164, 3718, 157, 2422, 1313, 379, 3521, 2594];
  const ngtD = [
    239.332,
    240.002,
    244.504,
    246.763,
    251.094,
    251.185,
    251.34,
    252.446,
    260.158,
    261.132,
  ];
  assert.deepEqual([...gt.ids.subarray(0, 10)].map((x) => x + 1), ngt);
  for (const [i, d] of ngtD.entries()) {
    assert.ok(Math.abs(gt.distances[i]! - d) < 1e-3, `rank ${i}`);
  }
});

Deno.test("sift5k: fvecs, HDF5, numpy .npy and the binary format give identical vectors", async () => {
  const dir = await Deno.makeTempDir();
  try {
    using fv = await openDataset(SIFT + "sift5k_base.fvecs");
    using h5 = await openDataset(SIFT + "sift5k-128-euclidean.hdf5");
    // numpy reads the fvecs on its own and saves .npy copies.
    await python(
      `import numpy as np, sys
a = np.fromfile(sys.argv[1] + "sift5k_base.fvecs", dtype="<i4").reshape(-1, 129)[:, 1:].view("<f4")
np.save(sys.argv[2] + "/s_base.npy", np.ascontiguousarray(a))
q = np.fromfile(sys.argv[1] + "sift5k_query.fvecs", dtype="<i4").reshape(-1, 129)[:, 1:].view("<f4")
np.save(sys.argv[2] + "/s_query.npy", np.ascontiguousarray(q))`,
      SIFT,
      dir,
    );
    using np = await openDataset(`${dir}/s_base.npy`);
    const conv = await membench("convert", SIFT + "sift5k-128-euclidean.hdf5", `${dir}/s.mbv`);
    assert.equal(conv.code, 0, conv.stderr);
    using bin = await openDataset(`${dir}/s.mbv`);
    const ref = await fv.base.read(0, 4900);
    for (const ds of [h5, np, bin]) {
      assert.equal(ds.base.rows, 4900);
      assert.deepEqual(await ds.base.read(0, 4900), ref, ds.format);
      // random access agrees with the sequential read
      for (const i of [0, 1, 2417, 4899]) {
        assert.deepEqual(
          await ds.base.read(i, 1),
          ref.subarray(i * 128, (i + 1) * 128),
          `${ds.format} row ${i}`,
        );
      }
      assert.deepEqual(await ds.queries!.read(0, 100), await fv.queries!.read(0, 100), ds.format);
    }
    assert.deepEqual(await h5.neighbors!.readInts(0, 100), await fv.neighbors!.readInts(0, 100));
    assert.deepEqual(await bin.neighbors!.readInts(0, 100), await fv.neighbors!.readInts(0, 100));
    assert.deepEqual(await h5.distances!.read(0, 100), await fv.distances!.read(0, 100));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("numpy: top-k on random subsets, filters and all three metrics", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // numpy makes the data (with exact duplicates for ties) and the metadata.
    await python(
      `import numpy as np, sys
rng = np.random.default_rng(7)
b = rng.standard_normal((3000, 24)).astype(np.float32)
b[2000:2040] = b[100]          # 40 exact copies of vector 100: ties broken by id
b[2500] = 0                    # a zero vector (COSINE distance 1)
q = rng.standard_normal((12, 24)).astype(np.float32)
q[3] = b[100] * 1.0            # a query sitting on the duplicated vector
np.save(sys.argv[1] + "/t_base.npy", b); np.save(sys.argv[1] + "/t_query.npy", q)
tags = rng.integers(0, 8, 3000).astype(np.int32)       # 3 tags: a=1, b=2, c=4
price = np.round(rng.uniform(0, 100, 3000), 2)
np.save(sys.argv[1] + "/tags.npy", tags); np.save(sys.argv[1] + "/price.npy", price)`,
      dir,
    );
    using src = await openDataset(`${dir}/t_base.npy`);
    assert.equal(src.queries?.rows, 12);
    // Our binary format with the metadata numpy drew.
    const path = `${dir}/t.mbv`;
    const w = await BinaryDatasetWriter.create(path, {
      metric: "L2",
      dim: 24,
      numVectors: 3000,
      numQueries: 12,
      metadata: { tagField: "tag", vocabulary: ["a", "b", "c"], numericFields: ["price"] },
    });
    await w.writeVectors(0, await src.base.read(0, 3000));
    await w.writeQueries(0, await src.queries!.read(0, 12));
    {
      using tags = await openDataset(`${dir}/tags.npy`);
      using price = await openDataset(`${dir}/price.npy`);
      await w.writeMetadata(0, {
        tags: Uint32Array.from(await tags.base.read(0, 3000)),
        numbers: Float64Array.from(await price.base.read(0, 3000)),
      });
    }
    await w.close();
    using ds = await openDataset(path);
    const cases: Array<{ offset: number; count: number; filter?: string; np: string }> = [
      { offset: 0, count: 3000, np: "np.ones(3000, bool)" },
      { offset: 500, count: 1700, np: "np.ones(3000, bool)" },
      {
        offset: 0,
        count: 3000,
        filter: "@tag:{a|c} @price:[10 (50]",
        np: "((tags & 5) != 0) & (price >= 10) & (price < 50)",
      },
      {
        offset: 300,
        count: 2500,
        filter: "-@tag:{b} | @price:[99 +inf]",
        np: "((tags & 2) == 0) | (price >= 99)",
      },
    ];
    const k = 15;
    const ref = JSON.parse(
      await python(
        NUMPY_TOPK + `
import json, sys
d = sys.argv[1]
b = np.load(d + "/t_base.npy"); q = np.load(d + "/t_query.npy")
tags = np.load(d + "/tags.npy"); price = np.load(d + "/price.npy").astype(np.float32).astype(np.float64)
out = {}
for ci, (off, cnt, expr) in enumerate(json.loads(sys.argv[2])):
    keep = np.zeros(3000, bool); keep[off:off + cnt] = True
    keep &= eval(expr)
    ids = np.nonzero(keep)[0]
    for m in ["L2", "IP", "COSINE"]:
        out[f"{ci} {m}"] = topk(b[ids], q, ids, ${k}, m)
print(json.dumps(out))`,
        dir,
        JSON.stringify(cases.map((c) => [c.offset, c.count, c.np])),
      ),
    );
    for (const [ci, c] of cases.entries()) {
      for (const metric of ["L2", "IP", "COSINE"] as DistanceMetric[]) {
        const gt = await datasetGroundTruth(ds, {
          k,
          metric,
          vectorOffset: c.offset,
          numVectors: c.count,
          ...(c.filter ? { filter: c.filter } : {}),
          threads: ci === 1 && metric === "IP" ? 2 : 0,
        });
        assert.deepEqual(
          rowsOf(gt.ids, k),
          ref[`${ci} ${metric}`],
          `case ${ci} ${metric} ${c.filter ?? ""}`,
        );
      }
    }
    // The CLI path of the same computation, with the filter and the range.
    const cli = await membench(
      "groundtruth",
      path,
      "--k",
      String(k),
      "--metric",
      "cosine",
      "--vector-offset",
      "300",
      "--num-vectors",
      "2500",
      `--filter=${cases[3]!.filter!}`, // starts with '-': the = form
      "--json",
      "-",
    );
    assert.equal(cli.code, 0, cli.stderr);
    const out = JSON.parse(cli.stdout);
    assert.deepEqual(out.ids, ref["3 COSINE"]);
    assert.equal(out.vectorOffset, 300);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("numpy: .npy float32, float16 and uint8 arrays read as numpy wrote them; ties in uint8 data", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await python(
      `import numpy as np, sys
rng = np.random.default_rng(3)
d = sys.argv[1]
f = rng.standard_normal((500, 10)).astype(np.float32)
np.save(d + "/f32.npy", f); f.astype(np.float32).tofile(d + "/f32.raw")
h = (rng.standard_normal((400, 16)) * 100).astype(np.float16)
np.save(d + "/h_base.npy", h); h.astype(np.float32).tofile(d + "/h.raw")
np.save(d + "/h_query.npy", rng.standard_normal((6, 16)).astype(np.float16))
u = rng.integers(0, 3, (800, 6)).astype(np.uint8)      # few distinct values: many exact ties
np.save(d + "/u_base.npy", u); u.astype(np.float32).tofile(d + "/u.raw")
np.save(d + "/u_query.npy", rng.integers(0, 3, (9, 6)).astype(np.uint8))`,
      dir,
    );
    for (
      const [file, raw, type] of [["f32.npy", "f32.raw", "float32"], [
        "h_base.npy",
        "h.raw",
        "float16",
      ], [
        "u_base.npy",
        "u.raw",
        "uint8",
      ]]
    ) {
      using ds = await openDataset(`${dir}/${file}`);
      assert.equal(ds.base.elementType, type);
      assert.deepEqual(await ds.base.read(0, ds.base.rows), await rawF32(`${dir}/${raw}`), file);
    }
    const ref = JSON.parse(
      await python(
        NUMPY_TOPK + `
import json, sys
d = sys.argv[1]; out = {}
for name in ["h", "u"]:
    b = np.load(d + f"/{name}_base.npy"); q = np.load(d + f"/{name}_query.npy")
    for m in ["L2", "IP", "COSINE"]:
        if name == "u" and m == "COSINE": continue
        out[f"{name} {m}"] = topk(b, q, np.arange(len(b)), 25, m)
print(json.dumps(out))`,
        dir,
      ),
    );
    for (const name of ["h", "u"]) {
      using ds = await openDataset(`${dir}/${name}_base.npy`);
      for (const metric of ["L2", "IP", "COSINE"] as DistanceMetric[]) {
        if (name === "u" && metric === "COSINE") continue;
        const gt = await datasetGroundTruth(ds, { k: 25, metric, threads: 0 });
        assert.deepEqual(rowsOf(gt.ids, 25), ref[`${name} ${metric}`], `${name} ${metric}`);
        if (name === "u") assert.ok(gt.recheckedQueries > 0, "integer data has ties at rank 25");
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("h5py: chunked, gzip-compressed and float16 HDF5 files read as h5py wrote them", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await python(
      NUMPY_TOPK + `
import h5py, sys
d = sys.argv[1]
rng = np.random.default_rng(5)
train = rng.standard_normal((3000, 20)).astype(np.float16)
test = rng.standard_normal((8, 20)).astype(np.float32)
nb = np.array(topk(train, test, np.arange(3000), 30, "IP"), dtype=np.int64)
with h5py.File(d + "/dot.hdf5", "w") as f:
    f.create_dataset("train", data=train, chunks=(256, 20), compression="gzip", compression_opts=6, shuffle=True)
    f.create_dataset("test", data=test, chunks=(4, 20), compression="gzip")
    f.create_dataset("neighbors", data=nb, chunks=(8, 10), compression="gzip")
    f.create_dataset("distances", data=np.zeros((8, 30), np.float32))
    f.attrs["distance"] = "dot"
train.astype(np.float32).tofile(d + "/train.raw"); test.tofile(d + "/test.raw")
with h5py.File(d + "/angular.hdf5", "w") as f:
    f.create_dataset("train", data=rng.standard_normal((100, 4)).astype(np.float64), chunks=(7, 4), compression="gzip")
    f.create_dataset("test", data=rng.standard_normal((3, 4)).astype(np.float32))
    f.create_dataset("neighbors", data=np.zeros((3, 5), np.int32))
    f.attrs["distance"] = "angular"
with h5py.File(d + "/noneighbors.hdf5", "w") as f:
    f.create_dataset("train", data=train[:10]); f.create_dataset("test", data=test)
    f.attrs["distance"] = "euclidean"`,
      dir,
    );
    using ds = await openDataset(`${dir}/dot.hdf5`);
    assert.equal(ds.metric, "IP");
    assert.equal(ds.base.elementType, "float16");
    assert.equal(ds.neighbors!.elementType, "int64");
    assert.deepEqual(await ds.base.read(0, 3000), await rawF32(`${dir}/train.raw`));
    assert.deepEqual(
      await ds.base.read(1000, 300),
      (await rawF32(`${dir}/train.raw`)).subarray(20000, 26000),
    );
    assert.deepEqual(await ds.queries!.read(0, 8), await rawF32(`${dir}/test.raw`));
    const gt = await datasetGroundTruth(ds, { k: 30, threads: 0 });
    assert.deepEqual(rowsOf(gt.ids, 30), rowsOf(await ds.neighbors!.readInts(0, 8), 30));
    using ang = await openDataset(`${dir}/angular.hdf5`);
    assert.equal(ang.metric, "COSINE");
    assert.equal(ang.base.elementType, "float64");
    // numpy writes -> h5py -> our reader: float64 rows come out rounded to float32
    assert.equal((await ang.base.read(99, 1)).length, 4);
    await assert.rejects(openDataset(`${dir}/noneighbors.hdf5`), (e: unknown) => {
      assert.ok(e instanceof MembenchError);
      assert.equal(e.code, "file");
      assert.equal(
        e.message,
        `Cannot read dataset ${dir}/noneighbors.hdf5 at /neighbors: no dataset 'neighbors' (the file has test, train)`,
      );
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("malformed inputs: the CLI names the file, the offset and the problem (exit 5)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const rec = (dim: number, n: number) => {
      const b = new Uint8Array(n * (4 + 4 * dim));
      const dv = new DataView(b.buffer);
      for (let i = 0; i < n; i++) dv.setInt32(i * (4 + 4 * dim), dim, true);
      return b;
    };
    await Deno.writeFile(`${dir}/trunc.fvecs`, rec(4, 3).subarray(0, 3 * 20 - 7));
    const changing = rec(4, 5);
    new DataView(changing.buffer).setInt32(3 * 20, 5, true); // record 3 claims dim 5
    await Deno.writeFile(`${dir}/change.fvecs`, changing);
    await python(
      `import numpy as np, h5py, sys
d = sys.argv[1]
with h5py.File(d + "/nn.hdf5", "w") as f:
    f.create_dataset("train", data=np.ones((10, 4), np.float32)); f.create_dataset("test", data=np.ones((2, 4), np.float32))
with h5py.File(d + "/corrupt.hdf5", "w") as f:
    f.create_dataset("train", data=np.random.default_rng(1).standard_normal((4000, 8)).astype(np.float32), chunks=(500, 8), compression="gzip")
    f.create_dataset("test", data=np.ones((2, 8), np.float32)); f.create_dataset("neighbors", data=np.zeros((2, 1), np.int32))`,
      dir,
    );
    // Corrupt the middle of the compressed chunks.
    const c = await Deno.readFile(`${dir}/corrupt.hdf5`);
    c.fill(0x55, Math.floor(c.length / 2), Math.floor(c.length / 2) + 4000);
    await Deno.writeFile(`${dir}/corrupt.hdf5`, c);
    await Deno.writeTextFile(`${dir}/fake.hdf5`, "not hdf5 at all\n".repeat(100));
    const gen = await membench(
      "generate",
      `${dir}/g.mbv`,
      "--dim",
      "4",
      "--count",
      "50",
      "--queries",
      "2",
      "--k",
      "3",
    );
    assert.equal(gen.code, 0, gen.stderr);
    const g = await Deno.readFile(`${dir}/g.mbv`);
    const past = g.slice();
    new DataView(past.buffer).setBigUint64(304, 1n << 30n, true);
    await Deno.writeFile(`${dir}/past.mbv`, past);
    const magic = g.slice();
    magic[3] = 0x00;
    await Deno.writeFile(`${dir}/magic.mbv`, magic);

    const cases: Array<[string, RegExp]> = [
      [
        "trunc.fvecs",
        /at byte 40: truncated record: 13 bytes of a 20-byte record \(dimension 4\)$/,
      ],
      ["change.fvecs", /at byte 60: dimension changes from 4 to 5 in record 3$/],
      [
        "past.mbv",
        /at byte 304: queries offset 1073741824 \+ 32 bytes is past the end of the file \(\d+ bytes\)$/,
      ],
      ["magic.bin", /at byte 0: wrong magic 0x00CDB001 \(expected 0xDECDB001\)$/],
      ["nn.hdf5", /at \/neighbors: no dataset 'neighbors' \(the file has test, train\)$/],
      ["fake.hdf5", /at byte 0: not an HDF5 file/],
      ["corrupt.hdf5", /at \/train: rows \d+\.\.\d+: /],
    ];
    await Deno.rename(`${dir}/magic.mbv`, `${dir}/magic.bin`);
    for (const [file, re] of cases) {
      const r = await membench("info", `${dir}/${file}`);
      assert.equal(r.code, 5, `${file}: ${r.stdout}${r.stderr}`);
      const line = r.stderr.split("\n")[0]!;
      assert.match(
        line,
        new RegExp(`^membench: Cannot read dataset ${dir}/${file} ${re.source}`),
        file,
      );
      assert.ok(!/internal error|at .*\.ts:\d+/.test(r.stderr), `no crash or stack: ${r.stderr}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CLI: generate is deterministic; convert and groundtruth agree with numpy on the written files", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const gen = (out: string, seed: string) =>
      membench(
        "generate",
        out,
        "--dim",
        "16",
        "--count",
        "4000",
        "--queries",
        "20",
        "--clusters",
        "5",
        "--metric",
        "IP",
        "--tags",
        "red:0.5,blue:5%",
        "--numeric",
        "price:0:100",
        "--seed",
        seed,
        "--k",
        "10",
      );
    for (const [out, seed] of [["a.mbv", "9"], ["b.mbv", "9"], ["c.mbv", "10"]] as const) {
      const r = await gen(`${dir}/${out}`, seed);
      assert.equal(r.code, 0, r.stderr);
    }
    const [a, b, c] = await Promise.all(
      ["a", "b", "c"].map((x) => Deno.readFile(`${dir}/${x}.mbv`)),
    );
    assert.deepEqual(a, b, "same seed, same bytes");
    assert.notDeepEqual(a, c);
    // numpy parses the binary format from its header (independently of our reader), checks
    // the tag shares and computes the filtered ground truth of a loaded range.
    const ref = JSON.parse(
      await python(
        NUMPY_TOPK + `
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
magic, version = struct.unpack_from("<II", raw, 0)
metric, dtype, has_md = struct.unpack_from("<BBB", raw, 264)
dim, nv, nq, nn, vocab = struct.unpack_from("<IQQII", raw, 268)
voff, qoff, goff, moff, qmoff, vocoff = struct.unpack_from("<6Q", raw, 296)
assert magic == 0xDECDB001 and metric == 1 and dtype == 0 and has_md == 1 and vocab == 2
b = np.frombuffer(raw, "<f4", nv * dim, voff).reshape(nv, dim)
q = np.frombuffer(raw, "<f4", nq * dim, qoff).reshape(nq, dim)
gt = np.frombuffer(raw, "<u8", nq * nn, goff).reshape(nq, nn)
W, F = struct.unpack_from("<II", raw, moff)
rec = np.dtype([("tags", "<u4", (W,)), ("num", "<f8", (F,))])
md = np.frombuffer(raw, rec, nv, moff + 8 + 32 * (1 + F))
tags = md["tags"][:, 0]; price = md["num"][:, 0]
keep = np.zeros(nv, bool); keep[1000:3500] = True
keep &= ((tags & 2) != 0) & (price < 60)
ids = np.nonzero(keep)[0]
print(json.dumps({"file_gt": gt.astype(int).tolist(), "full": topk(b, q, np.arange(nv), 10, "IP"),
  "filtered": topk(b[ids], q, ids, 10, "IP"), "red": float((tags & 1).mean()), "blue": float(((tags & 2) >> 1).mean()),
  "price": [float(price.min()), float(price.max())]}))`,
        `${dir}/a.mbv`,
      ),
    );
    assert.deepEqual(ref.file_gt, ref.full, "the ground truth generate wrote is numpy's");
    assert.ok(
      Math.abs(ref.red - 0.5) < 0.03 && Math.abs(ref.blue - 0.05) < 0.015,
      JSON.stringify(ref),
    );
    assert.ok(ref.price[0] >= 0 && ref.price[1] < 100);
    const r = await membench(
      "groundtruth",
      `${dir}/a.mbv`,
      "--k",
      "10",
      "--vector-offset",
      "1000",
      "--num-vectors",
      "2500",
      "--filter",
      "@tag:{blue} @price:[-inf (60]",
      "--json",
      "-",
    );
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).ids, ref.filtered);
    // convert to fvecs/ivecs, holding out queries and computing ground truth; numpy checks it.
    const conv = await membench(
      "convert",
      `${dir}/a.mbv`,
      `${dir}/x_base.fvecs`,
      "--gt",
      "7",
      "--queries",
      "12",
    );
    assert.equal(conv.code, 0, conv.stderr);
    const ok = await python(
      NUMPY_TOPK + `
import sys
d = sys.argv[1]
def vecs(p, t): a = np.fromfile(p, "<i4"); n = a[0]; return a.reshape(-1, n + 1)[:, 1:].view(t)
b = vecs(d + "/x_base.fvecs", "<f4"); q = vecs(d + "/x_query.fvecs", "<f4"); g = vecs(d + "/x_groundtruth.ivecs", "<i4")
assert b.shape == (4000, 16) and q.shape == (12, 16) and g.shape == (12, 7), (b.shape, q.shape, g.shape)
assert g.tolist() == topk(b, q, np.arange(4000), 7, "IP"), "mismatch"
print("ok")`,
      dir,
    );
    assert.equal(ok.trim(), "ok");
    const info = await membench("info", `${dir}/x_base.fvecs`, "--json", "-");
    assert.equal(info.code, 0, info.stderr);
    const j = JSON.parse(info.stdout);
    assert.deepEqual([j.format, j.vectors, j.queries, j.groundTruthDepth, j.files.length], [
      "fvecs",
      4000,
      12,
      7,
      4,
    ]);
    assert.match(j.files[0].sha256, /^[0-9a-f]{64}$/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("computeGroundTruth() restricted to the loaded range differs from the full-file truth", async () => {
  // A benchmark that loads the first 1,000 of sift5k's 4,900 vectors must not score against the
  // 4,900-vector ground truth: every id is below 1,000 and matches numpy on that prefix.
  using ds = await openDataset(SIFT + "sift5k_base.fvecs");
  const gt = await computeGroundTruth(ds.base, ds.queries!, {
    k: 10,
    numVectors: 1000,
    threads: 0,
  });
  assert.ok([...gt.ids].every((id) => id >= 0 && id < 1000));
  const ref = JSON.parse(
    await python(
      NUMPY_TOPK + `
import json, sys
a = np.fromfile(sys.argv[1] + "sift5k_base.fvecs", "<i4").reshape(-1, 129)[:1000, 1:].view("<f4")
q = np.fromfile(sys.argv[1] + "sift5k_query.fvecs", "<i4").reshape(-1, 129)[:, 1:].view("<f4")
print(json.dumps(topk(a, q, np.arange(1000), 10, "L2")))`,
      SIFT,
    ),
  );
  assert.deepEqual(rowsOf(gt.ids, 10), ref);
  const full = await ds.neighbors!.readInts(0, 100);
  assert.notDeepEqual(rowsOf(gt.ids, 10), rowsOf(full, 100).map((r) => r.slice(0, 10)));
});

Deno.test("h5py: contiguous HDF5 datasets are read straight from the file, in every group layout h5py writes", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await python(
      `import numpy as np, h5py, sys
d = sys.argv[1]
rng = np.random.default_rng(9)
train = rng.standard_normal((5000, 24)).astype(np.float32)
test = rng.standard_normal((7, 24)).astype(np.float32)
nb = np.tile(np.arange(10, dtype=np.int32), (7, 1))
train.tofile(d + "/train.raw")
def write(name, extra=0, **kw):
    with h5py.File(d + "/" + name, "w", **kw) as f:
        for i in range(extra): f.create_dataset("pad%02d" % i, data=np.arange(i + 1, dtype=np.int32))
        f["train"] = train; f["test"] = test; f["neighbors"] = nb
        f.attrs["distance"] = "euclidean"
write("default.hdf5")                          # superblock 0, symbol-table root group
write("many.hdf5", extra=40)                   # a group B-tree of several symbol table nodes
write("latest.hdf5", libver="latest")          # superblock 3, links in the object header
write("dense.hdf5", extra=40, libver="latest") # links in a fractal heap: read through HDF5
write("userblock.hdf5", userblock_size=1024)   # the superblock after a user block
with h5py.File(d + "/chunked.hdf5", "w") as f:
    f.create_dataset("train", data=train, chunks=(100, 24))
    f["test"] = test; f["neighbors"] = nb`,
      dir,
    );
    const want = await rawF32(`${dir}/train.raw`);
    const cases = [
      ["default.hdf5", true],
      ["many.hdf5", true],
      ["latest.hdf5", true],
      ["dense.hdf5", false],
      ["userblock.hdf5", true],
      ["chunked.hdf5", false],
    ] as const;
    for (const [file, direct] of cases) {
      using ds = await openDataset(`${dir}/${file}`);
      assert.ok(ds.base instanceof Hdf5Matrix);
      assert.deepEqual(await ds.base.read(0, 5000), want, file);
      assert.deepEqual(await ds.base.read(4321, 7), want.subarray(4321 * 24, 4328 * 24), file);
      assert.equal(ds.base.direct, direct, `${file} read directly`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
