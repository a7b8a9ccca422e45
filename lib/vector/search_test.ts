// Unit tests of the search side of lib/vector that need no server: the platform table and its
// detection, the FT.CREATE builder, ground-truth segments and merging, recall scoring with ties,
// FT.SEARCH reply parsing, and the element-type conversions of vector blobs.
import assert from "node:assert/strict";
import { blockBytes } from "./_blob.ts";
import { keyId, utf8 } from "./_wire.ts";
import { ftCreateArgs, indexSpecProblems } from "./index_spec.ts";
import { platformFromServer, VSS_PLATFORMS, vssPlatform } from "./platform.ts";
import { ftSearchArgs, knnQuery, parseSearchReply } from "./query.ts";
import { indexAttributes, indexState, pairsOf } from "./server.ts";
import { type RecallScore, removeKeys, scoreQuery, type VectorTruth, writeKeys } from "./truth.ts";
import { MembenchError } from "../errors/mod.ts";

Deno.test("every platform entry cites a public document", () => {
  for (const p of Object.values(VSS_PLATFORMS)) {
    assert.ok(p.sources.some((s) => s.startsWith("https://")), p.name);
    assert.ok(p.types.includes("FLOAT32"), p.name);
    assert.ok(p.dialects.includes(2), p.name);
  }
});

Deno.test("platformFromServer() tells RediSearch versions and valkey-search apart, and refuses a server without search", () => {
  const redis = { redis_version: "7.2.6" };
  const of = (name: string, version: number, server: Record<string, string> = redis) =>
    platformFromServer({ modules: [{ name, version }], server }).name;
  assert.equal(of("search", 20637), "redisearch-2.6");
  assert.equal(of("search", 20838), "redisearch-2.8");
  assert.equal(of("search", 21005), "redis-8");
  assert.equal(
    of("search", 66049, { redis_version: "7.2.4", valkey_version: "8.0.1" }),
    "valkey-search",
  );
  assert.equal(
    platformFromServer({ modules: [], server: { redis_version: "8.0.2" } }).name,
    "redis-8",
  );
  assert.throws(
    () =>
      platformFromServer({ modules: [{ name: "ReJSON", version: 20000 }], server: redis }, "h:1"),
    (e: unknown) =>
      e instanceof MembenchError && e.code === "invalid_argument" &&
      e.message ===
        "Cannot run vector search on h:1: it has no search module (MODULE LIST: ReJSON)" &&
      /--loadmodule/.test(e.hint ?? ""),
  );
});

Deno.test("ftCreateArgs() builds HNSW and FLAT indexes with metadata fields, and lists every problem for a platform", () => {
  const rs = vssPlatform("redisearch-2.6");
  assert.deepEqual(
    ftCreateArgs({
      name: "i",
      prefix: "p:",
      field: "v",
      algorithm: "FLAT",
      type: "FLOAT64",
      dim: 3,
      metric: "COSINE",
      blockSize: 1024,
      initialCap: 10,
      tagField: "tag",
      numericFields: ["price", "year"],
    }, rs),
    [
      "FT.CREATE",
      "i",
      "ON",
      "HASH",
      "PREFIX",
      "1",
      "p:",
      "SCHEMA",
      "v",
      "VECTOR",
      "FLAT",
      "10",
      "TYPE",
      "FLOAT64",
      "DIM",
      "3",
      "DISTANCE_METRIC",
      "COSINE",
      "INITIAL_CAP",
      "10",
      "BLOCK_SIZE",
      "1024",
      "tag",
      "TAG",
      "SEPARATOR",
      ",",
      "price",
      "NUMERIC",
      "year",
      "NUMERIC",
    ],
  );
  const vs = vssPlatform("valkey-search");
  const problems = indexSpecProblems(
    { dim: 4, metric: "L2", type: "BFLOAT16", epsilon: 0.01, m: 1000, on: "JSON" },
    vs,
  );
  assert.deepEqual(problems, [
    "Cannot use TYPE BFLOAT16 on valkey-search 1.x (Valkey): it takes FLOAT32 (https://valkey.io/commands/ft.create)",
    "Cannot use ON JSON: membench loads vectors as hashes (HSET); use ON HASH",
    "Cannot use M 1000: must be an integer from 1 to 512",
    "Cannot use EPSILON with HNSW on valkey-search 1.x (Valkey): the platform has no such parameter (https://valkey.io/commands/ft.create)",
  ]);
  assert.throws(
    () => ftCreateArgs({ dim: 4, metric: "L2", blockSize: 8 }, vs),
    /BLOCK_SIZE with HNSW/,
  );
  assert.deepEqual(
    indexSpecProblems({ dim: 4, metric: "L2", type: "FLOAT16" }, vssPlatform("redis-8")),
    [],
  );
});

Deno.test("knnQuery() and ftSearchArgs() follow the platform's syntax", () => {
  assert.equal(
    knnQuery({ k: 10, field: "vec", efRuntime: 64, filter: "@tag:{a}" }),
    "(@tag:{a})=>[KNN 10 @vec $BLOB EF_RUNTIME 64 AS vector_score]",
  );
  const a = ftSearchArgs({
    index: "i",
    query: "q",
    k: 5,
    nocontent: false,
    sortByScore: true,
    queryTimeoutMs: 100,
    dialect: 2,
  });
  assert.deepEqual(a.before, [
    "FT.SEARCH",
    "i",
    "q",
    "RETURN",
    "1",
    "vector_score",
    "SORTBY",
    "vector_score",
    "LIMIT",
    "0",
    "5",
    "TIMEOUT",
    "100",
    "PARAMS",
    "2",
    "BLOB",
  ]);
  assert.deepEqual(a.after, ["DIALECT", "2"]);
});

Deno.test("removeKeys() and writeKeys() keep track of which rows the keys hold", () => {
  const all = [{ keyStart: 0, vectorStart: 0, count: 100 }];
  const cut = removeKeys(all, 10, 20);
  assert.deepEqual(cut, [
    { keyStart: 0, vectorStart: 0, count: 10 },
    { keyStart: 30, vectorStart: 30, count: 70 },
  ]);
  assert.deepEqual(writeKeys(cut, { keyStart: 5, vectorStart: 500, count: 10 }), [
    { keyStart: 0, vectorStart: 0, count: 5 },
    { keyStart: 5, vectorStart: 500, count: 10 },
    { keyStart: 30, vectorStart: 30, count: 70 },
  ]);
  assert.deepEqual(removeKeys(all, 0, 100), []);
});

function truthOf(ids: number[], distances: number[], k: number): VectorTruth {
  return {
    metric: "L2",
    k,
    depth: ids.length,
    queries: 1,
    ids: Int32Array.from(ids),
    distances: Float64Array.from(distances),
    matched: ids.filter((x) => x >= 0).length,
    elapsedMs: 0,
  };
}

Deno.test("scoreQuery() counts a result tied with the k-th neighbour as correct, and duplicates once", () => {
  const score: RecallScore = { correct: 0, denominator: 0, ties: 0 };
  // k = 3; the 3rd and 4th neighbours are at the same distance; the 5th is not a tie.
  const t = truthOf([10, 11, 12, 13, 14], [1, 2, 3, 3 + 1e-7, 3.1], 3);
  scoreQuery(t, 0, Int32Array.from([10, 11, 13]), 3, score);
  assert.deepEqual(score, { correct: 3, denominator: 3, ties: 1 });
  scoreQuery(t, 0, Int32Array.from([10, 11, 14]), 3, score);
  assert.deepEqual(score, { correct: 2, denominator: 3, ties: 0 });
  scoreQuery(t, 0, Int32Array.from([10, 10, 10]), 3, score);
  assert.deepEqual(score, { correct: 1, denominator: 3, ties: 0 });
  scoreQuery(t, 0, Int32Array.from([99, -1]), 2, score);
  assert.deepEqual(score, { correct: 0, denominator: 3, ties: 0 });
  // Fewer keys than k pass the filter: the denominator is what there is.
  const few = truthOf([4, 5, -1, -1], [1, 2, Infinity, Infinity], 3);
  scoreQuery(few, 0, Int32Array.from([5, 4]), 2, score);
  assert.deepEqual(score, { correct: 2, denominator: 2, ties: 0 });
});

Deno.test("parseSearchReply() reads RESP2 arrays with and without fields, RESP3 maps, and timeouts", () => {
  const bulk = (s: string) => ({ type: "bulk" as const, value: utf8(s) });
  const p = utf8("vec:");
  const ids = new Int32Array(3);
  const withFields = parseSearchReply(
    {
      type: "array",
      value: [
        { type: "integer", value: 2 },
        bulk("vec:12"),
        { type: "array", value: [bulk("vector_score"), bulk("0.5")] },
        bulk("other:1"),
        { type: "array", value: [] },
      ],
    },
    p,
    ids,
  );
  assert.deepEqual([withFields.count, ids[0], ids[1]], [2, 12, -1]);
  const resp3 = parseSearchReply(
    {
      type: "map",
      value: [
        [bulk("total_results"), { type: "integer", value: 1 }],
        [bulk("results"), {
          type: "array",
          value: [{
            type: "map",
            value: [[bulk("id"), bulk("vec:5")], [bulk("values"), { type: "map", value: [] }]],
          }],
        }],
        [bulk("warning"), { type: "array", value: [bulk("Timeout limit was reached")] }],
      ],
    },
    p,
    ids,
  );
  assert.deepEqual([resp3.count, ids[0], resp3.timedOut], [1, 5, true]);
  const timeout = parseSearchReply(
    {
      type: "array",
      value: [{ type: "simple", value: "Timeout limit was reached" }],
    },
    p,
    ids,
  );
  assert.deepEqual(timeout, { count: 0, timedOut: true });
  assert.equal(keyId(utf8("vec:0"), p), 0);
  assert.equal(keyId(utf8("vec:"), p), -1);
  assert.equal(keyId(utf8("vec:1x"), p), -1);
});

Deno.test("indexState() reads RediSearch and valkey-search FT.INFO fields", () => {
  const rs = pairsOf([
    "num_docs",
    "9",
    "hash_indexing_failures",
    "1",
    "indexing",
    "1",
    "percent_indexed",
    "0.5",
    "vector_index_sz_mb",
    "1",
    "attributes",
    [["identifier", "vec", "attribute", "vec", "type", "VECTOR"]],
  ]);
  assert.deepEqual(indexState(rs), {
    numDocs: 9,
    failures: 1,
    indexing: true,
    percent: 0.5,
    vectorIndexBytes: 1024 * 1024,
  });
  assert.deepEqual([...indexAttributes(rs)], [["vec", "VECTOR"]]);
  const vk = pairsOf([
    "num_docs",
    3,
    "hash_indexing_failures",
    "0",
    "backfill_in_progress",
    "0",
    "backfill_complete_percent",
    "1.000000",
    "state",
    "ready",
  ]);
  assert.deepEqual(indexState(vk), { numDocs: 3, failures: 0, indexing: false, percent: 1 });
});

Deno.test("blockBytes() gives float32 rows as a view, and FLOAT64, FLOAT16, BFLOAT16 as converted copies", () => {
  const v = Float32Array.from([1, -2, 0.5, 65504, 1e-8, 3.14159]);
  const same = blockBytes(v, "FLOAT32");
  assert.equal(same.buffer, v.buffer, "a view, not a copy");
  assert.deepEqual([...new Float64Array(blockBytes(v, "FLOAT64").buffer)], [...v]);
  // IEEE half: 1 = 0x3c00, -2 = 0xc000, 0.5 = 0x3800, 65504 = 0x7bff (largest), 1e-8 -> 0,
  // pi -> 0x4248.
  assert.deepEqual(
    [...new Uint16Array(blockBytes(v, "FLOAT16").buffer)].map((x) => x.toString(16)),
    ["3c00", "c000", "3800", "7bff", "0", "4248"],
  );
  // bfloat16: the top half of the float32, rounded to nearest even.
  assert.deepEqual(
    [...new Uint16Array(blockBytes(v, "BFLOAT16").buffer)].map((x) => x.toString(16)),
    ["3f80", "c000", "3f00", "4780", "322c", "4049"],
  );
});
