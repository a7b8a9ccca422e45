// This module uses no Deno APIs.
import type { ClusterNode, ClusterTopology } from "./topology.ts";
import { SLOTS } from "./slot.ts";

/** A redirection reply: `MOVED <slot> <host:port>` or `ASK <slot> <host:port>`. */
export interface Redirect {
  /** MOVED (the slot lives elsewhere for good) or ASK (this one request, during a migration). */
  kind: "MOVED" | "ASK";
  /** The key's slot. */
  slot: number;
  /** Where to send it: `host:port` (an IPv6 host in brackets, as discovery writes it). */
  address: string;
  /** Its host (no brackets) and port. */
  host: string;
  port: number;
}

/**
 * Reads a redirection error's text; undefined for any other error. An empty host (`MOVED 3999
 * :6381`, a node that does not know its own address) means the node that answered: `host`, when
 * given, fills it in.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseRedirect("MOVED 3999 127.0.0.1:6381"), {
 *   kind: "MOVED", slot: 3999, address: "127.0.0.1:6381", host: "127.0.0.1", port: 6381,
 * });
 * assert.equal(parseRedirect("ERR unknown command"), undefined);
 * ```
 */
export function parseRedirect(text: string, host?: string): Redirect | undefined {
  const m = /^(MOVED|ASK) (\d+) (\S+)/.exec(text);
  if (!m) return undefined;
  const slot = Number(m[2]);
  if (slot >= SLOTS) return undefined;
  // Redis writes `host:port` with no brackets, IPv6 included (`::1:7001`); discovery's addresses
  // bracket an IPv6 host (`[::1]:7001`), so the redirect's is written the same way.
  const named = m[3]!;
  const colon = named.lastIndexOf(":");
  const port = Number(named.slice(colon + 1));
  if (colon < 0 || !Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  let h = named.slice(0, colon).replace(/^\[(.*)\]$/, "$1");
  if (h === "" && host !== undefined) h = host.replace(/^\[(.*)\]$/, "$1");
  const address = h.includes(":") ? `[${h}]:${port}` : `${h}:${port}`;
  return { kind: m[1] as "MOVED" | "ASK", slot, address, host: h, port };
}

/**
 * Which node owns each slot, as the client believes it: discovery fills it, MOVED replies change
 * it one slot at a time. Nodes keep their index for the whole run (connections are per node).
 */
export class SlotMap {
  /** Per slot, the owner's node index; -1 when unassigned. */
  readonly owner: Int16Array;
  /** The nodes; indexes are stable. */
  readonly nodes: ClusterNode[];
  /** Node index by `host:port`. */
  readonly #byAddress = new Map<string, number>();

  constructor(topology: ClusterTopology) {
    this.owner = Int16Array.from(topology.slots);
    this.nodes = topology.nodes.map((n) => ({ ...n }));
    this.nodes.forEach((n, i) => this.#byAddress.set(n.address, i));
  }

  /** The node index of `host:port`, or -1 when the map does not know it. */
  indexOf(address: string): number {
    return this.#byAddress.get(address) ?? -1;
  }

  /** The primaries (node indexes). */
  primaries(): number[] {
    return this.nodes.flatMap((n, i) => n.role === "primary" ? [i] : []);
  }

  /**
   * A MOVED reply: `slot` now lives on `address`; returns its node index, or -1 for a node the
   * map does not know (the topology must be read again).
   */
  moved(slot: number, address: string): number {
    const i = this.indexOf(address);
    if (i >= 0) {
      this.owner[slot] = i;
      const n = this.nodes[i]!;
      if (n.role !== "primary") {
        // A replica promoted by a failover: it is a primary now.
        n.role = "primary";
        n.primary = -1;
      }
    }
    return i;
  }

  /**
   * A node the run did not start with (found by a topology refresh): it gets the next index, and
   * that index is returned (the known index when the address is known already).
   */
  add(node: ClusterNode): number {
    const known = this.indexOf(node.address);
    if (known >= 0) return known;
    const i = this.nodes.length;
    this.nodes.push({ ...node, primary: -1 });
    this.#byAddress.set(node.address, i);
    return i;
  }

  /** Takes every slot owner and role of a fresh topology for the nodes it knows. */
  update(topology: ClusterTopology): void {
    for (let s = 0; s < SLOTS; s++) {
      const o = topology.slots[s]!;
      const i = o < 0 ? -1 : this.indexOf(topology.nodes[o]!.address);
      if (i >= 0) this.owner[s] = i;
    }
    for (const n of topology.nodes) {
      const i = this.indexOf(n.address);
      if (i < 0) continue;
      const mine = this.nodes[i]!;
      mine.role = n.role;
      mine.healthy = n.healthy;
      mine.primary = n.primary < 0 ? -1 : this.indexOf(topology.nodes[n.primary]!.address);
    }
  }
}
