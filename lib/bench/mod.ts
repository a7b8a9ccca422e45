/**
 * The load engine: `bench()` runs redis-benchmark/memtier-style tests (clients × pipeline ×
 * worker threads, closed loop or open loop at a target rate) and returns typed results.
 *
 * @module
 */
export * from "./types.ts";
export { bench, resolveBenchOptions } from "./bench.ts";
export * from "./repeat.ts";
export { assessTest, benchWarnings } from "./verdict.ts";
export { errorHint, failureText, replyErrorText, withProtocolHint } from "./error_text.ts";
export { type ReconnectPolicy, runShard, type ShardConfig, type ShardResult } from "./shard.ts";
export { compileCommand, compileMemcache, type McWorkload } from "./dialect.ts";
export { type NodeCounts, READ_FROM, type ReadFrom } from "./_cluster.ts";
export { mergeBenchResults, type MergeOptions } from "./merge.ts";
