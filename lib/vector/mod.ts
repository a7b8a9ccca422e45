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
