/**
 * Cluster mode: key slots (CRC16 with hash tags), topology discovery (CLUSTER SHARDS / SLOTS /
 * NODES; a standalone primary and replicas by ROLE; AWS endpoint names),
 * the slot map requests are routed by, and redirection replies (MOVED, ASK).
 *
 * @module
 */
export * from "./slot.ts";
export * from "./topology.ts";
export * from "./slot_map.ts";
export * from "./router.ts";
export * from "./tag_map.ts";
export * from "./endpoints.ts";
export * from "./replication.ts";
