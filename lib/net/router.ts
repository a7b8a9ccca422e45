// This module uses no Deno APIs.
import type { Target } from "./target.ts";

/**
 * The seam where a server is chosen. Today a connection's server is fixed when it is created
 * (one server, or several dealt round-robin) and a request goes to the connection its scheduler
 * picked; cluster mode puts a slot map behind this interface, so that a request's key chooses
 * the node (and MOVED/ASK redirects change the map) while the schedulers stay as they are.
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
