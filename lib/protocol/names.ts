/**
 * The one name of each wire protocol membench speaks or decodes: bench, replay, record and the
 * profile all use these. Which RESP version a connection spoke is a separate field where it
 * matters (a profile's connection, a bench's `resp3`), not a protocol of its own.
 */
export type ProtocolName = "resp" | "memcache-text" | "memcache-meta" | "memcache-binary";

/** Every {@linkcode ProtocolName}, in the order help texts list them. */
export const PROTOCOL_NAMES: readonly ProtocolName[] = [
  "resp",
  "memcache-text",
  "memcache-meta",
  "memcache-binary",
];

/** Whether `s` is a {@linkcode ProtocolName}. */
export function isProtocolName(s: string): s is ProtocolName {
  return (PROTOCOL_NAMES as readonly string[]).includes(s);
}

/** The default port of a protocol's server. */
export function defaultPort(p: ProtocolName): number {
  return p === "resp" ? 6379 : 11211;
}
