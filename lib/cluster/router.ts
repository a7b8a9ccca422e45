// This module uses no Deno APIs.
import type { Router, Target } from "../net/mod.ts";
import type { ClusterNode } from "./topology.ts";
import { nodeTarget } from "./topology.ts";

/**
 * Cluster mode's router: a client holds one connection per node, client-major (connection
 * `k·N + n` is client k's connection to node n), each with the seed's credentials and TLS; which
 * connection a request takes is its key's slot owner's (the scheduler asks the slot map).
 */
export class NodeRouter implements Router {
  readonly #targets: Target[];
  constructor(seed: Target, nodes: readonly ClusterNode[]) {
    if (nodes.length === 0) throw new RangeError("a cluster router needs at least one node");
    this.#targets = nodes.map((n) => nodeTarget(seed, n));
  }
  /** Nodes per client. */
  get nodes(): number {
    return this.#targets.length;
  }
  targetOf(index: number): Target {
    return this.#targets[index % this.#targets.length]!;
  }
}
