/**
 * Units: durations, sizes and rates as users write them ("10s", "4KiB", "50k/s"), and the
 * microsecond clock every measurement uses.
 *
 * @module
 */
export * from "./parse.ts";
export * from "./clock.ts";
export * from "./ticker.ts";
export * from "./interrupt.ts";
export * from "./json_stream.ts";
