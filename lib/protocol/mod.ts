/**
 * Protocol knowledge shared by every flow: protocol names, the command catalogue (key
 * positions, read / write / admin, hit rules, the memcached <-> RESP mapping) and, per protocol,
 * the incremental codecs in `memcache/` and `resp/`.
 *
 * @module
 */
export * from "./names.ts";
export * from "./command_types.ts";
export * from "./command_table.ts";
export * from "./commands.ts";
