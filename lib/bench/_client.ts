// This module uses no Deno APIs.
import type { CommandMetrics } from "../metrics/mod.ts";
import { ClientSchedule, type CommandSpec, type KeyGenerator, type Rng } from "../workload/mod.ts";
import type { WireRequest } from "./dialect.ts";

/** A command of the run, compiled for the wire, with its metrics. */
export interface Compiled {
  spec: CommandSpec;
  template: WireRequest;
  slots: number;
  hasData: boolean;
  metrics: CommandMetrics;
  hitRule: number; // 0 none, 1 value, 2 keys, 3 nonempty
}

/** What one client sends next: its keys, value sizes and (open loop) schedule. */
export class ClientState extends ClientSchedule {
  keys: KeyGenerator;
  sizer: () => number;
  ids: Float64Array;
  constructor(keys: KeyGenerator, rng: Rng, sizer: () => number, slots: number) {
    super(rng);
    this.keys = keys;
    this.sizer = sizer;
    this.ids = new Float64Array(Math.max(1, slots));
  }
}
