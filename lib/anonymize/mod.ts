/**
 * Anonymization: keys become a keyed 64-bit hash (SipHash-2-4) under a salt that is never
 * written; only a salt fingerprint is, so that profiles made with one salt can be joined. What
 * may leave a capture: hashes, lengths, counts and times; never a key or value byte.
 *
 * @module
 */
export * from "./siphash.ts";
export * from "./anonymizer.ts";
