/**
 * Workloads: a seeded RNG, key distributions, value sizes, command templates and mixes. Pure
 * computation, usable in Web Workers.
 *
 * @module
 */
export * from "./rng.ts";
export * from "./keys.ts";
export * from "./values.ts";
export * from "./commands.ts";
export * from "./arrivals.ts";
export * from "./partition.ts";
