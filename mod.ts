/**
 * membench: a scriptable benchmark toolkit for memcached, Valkey/Redis and vector search.
 *
 * ```ts ignore
 * import { bench, formatBenchText } from "./mod.ts";
 * const result = await bench({ target: "127.0.0.1:6379", tests: ["set", "get"], requests: 100_000 });
 * console.log(formatBenchText(result));
 * ```
 *
 * @module
 */
export * from "./lib/errors/mod.ts";
export * from "./lib/units/mod.ts";
export * from "./lib/protocol/mod.ts";
export * from "./lib/protocol/resp/mod.ts";
export * from "./lib/protocol/memcache/mod.ts";
export * from "./lib/workload/mod.ts";
export * from "./lib/metrics/mod.ts";
export * from "./lib/net/mod.ts";
export * from "./lib/bench/mod.ts";
export * from "./lib/replay/mod.ts";
export * from "./lib/report/mod.ts";
export * from "./lib/analyze/mod.ts";
export * from "./lib/anonymize/mod.ts";
export * from "./lib/capture/mod.ts";
export * from "./lib/profile/mod.ts";
export * from "./lib/scenario/mod.ts";
export * from "./lib/vector/mod.ts";
export { VERSION } from "./lib/version.ts";
export * from "./lib/monitor/mod.ts";
export * from "./lib/cluster/mod.ts";
export * from "./lib/k8s/mod.ts";
