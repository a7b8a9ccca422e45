/**
 * Protocol knowledge shared by every flow: protocol names (and, per protocol, the incremental
 * codecs in `memcache/` and `resp/`).
 *
 * @module
 */
export * from "./names.ts";
