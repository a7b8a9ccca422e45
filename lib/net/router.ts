// This module uses no Deno APIs.
import type { Target } from "./target.ts";

/**
 * The seam where a connection's server is chosen, before it connects and on every reconnect (a
 * host name is resolved again each time). Standalone runs deal servers round-robin
 * ({@linkcode RoundRobinRouter}); cluster mode (`cluster/router.ts`, `NodeRouter`) gives each
 * client one connection per node, and the scheduler picks the connection of a request's slot
 * owner from the slot map, which MOVED replies and topology refreshes change.
 */
export interface Router {
  /** The server of connection `index` (of the whole run). */
  targetOf(index: number): Target;
}

/** Connection i talks to `targets[i % n]`. */
export class RoundRobinRouter implements Router {
  readonly #targets: readonly Target[];
  constructor(targets: readonly Target[]) {
    if (targets.length === 0) throw new RangeError("a router needs at least one target");
    this.#targets = targets;
  }
  targetOf(index: number): Target {
    return this.#targets[index % this.#targets.length]!;
  }
}
