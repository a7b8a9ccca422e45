/**
 * Vector datasets: read every common format by position in bounded memory, convert, generate,
 * and compute exact ground truth restricted to what a benchmark loads.
 *
 * - `types.ts`: metrics, element types, the {@linkcode VectorMatrix} and
 *   {@linkcode MetadataTable} interfaces, {@linkcode datasetError}
 * - `vecs.ts`: TEXMEX fvecs / ivecs / bvecs reader and writer
 * - `npy.ts`: NumPy `.npy` reader
 * - `hdf5.ts`: ann-benchmarks HDF5 through h5wasm
 * - `binary.ts`: membench's binary format (valkey-search-benchmark's layout), reader and writer
 * - `dataset.ts`: {@linkcode openDataset} over all of them, {@linkcode datasetInfo}
 * - `filter.ts`: metadata filters in RediSearch syntax
 * - `groundtruth.ts`: exact top-k (L2, IP, COSINE) in Web Workers with a WebAssembly SIMD screen
 * - `convert.ts`, `generate.ts`: conversion and synthetic datasets
 *
 * Vector search against a server (RediSearch, Redis 8, valkey-search, MemoryDB, ElastiCache):
 *
 * - `platform.ts`: the capability table per platform (each entry citing its document) and
 *   detection from `MODULE LIST` / `INFO`
 * - `index_spec.ts`: the FT.CREATE builder, checked against a platform before any load
 * - `server.ts`: FT.INFO, waiting for the index, the dimension probe, memory
 * - `truth.ts`: what the server holds (segments of keys -> rows), exact truth over it, recall
 *   scoring with ties
 * - `load.ts`: vec-load, vec-update, vec-delete (schedulers over the connection engine)
 * - `query.ts`: vec-query (FT.SEARCH KNN, closed and open loop, recall, timeouts)
 * - `search_types.ts`: their options and results
 * - `merge.ts`: exact merges of run shards' load and query results (`shard: "I/N"`)
 *
 * @module
 */
export * from "./types.ts";
export * from "./vecs.ts";
export * from "./npy.ts";
export * from "./hdf5.ts";
export * from "./binary.ts";
export * from "./filter.ts";
export * from "./groundtruth.ts";
export * from "./dataset.ts";
export * from "./convert.ts";
export * from "./generate.ts";
export * from "./platform.ts";
export * from "./index_spec.ts";
export * from "./server.ts";
export * from "./truth.ts";
export * from "./search_types.ts";
export * from "./load.ts";
export * from "./query.ts";
export * from "./run.ts";
export * from "./merge.ts";
export * from "./optimize.ts";
export * from "./frontier.ts";
