import { errorMessage, MembenchError } from "../errors/mod.ts";
import { endpointName, McConnection, RespConnection, type Target } from "../net/mod.ts";
import { epochUs } from "../units/mod.ts";
import type { ServerKind } from "./fields.ts";
import { flattenFtInfo, flattenInfo, flattenMemcacheStats, type FlatValues } from "./flatten.ts";

/** One node's fields at one moment. */
export interface NodeSnapshot {
  /** `host:port` (no credentials). */
  node: string;
  /** Server kind. */
  kind: ServerKind;
  /** When it was taken (epoch µs). */
  tUs: number;
  /** Fields under flat names (see `flattenInfo`). */
  values: FlatValues;
  /** Why the node could not be asked (values then empty). */
  error?: string;
}

/** What to ask a node besides its defaults. */
export interface SnapshotOptions {
  /** Search indexes whose `FT.INFO` to take. */
  indexes?: readonly string[];
  /** Per request. @default {2000} */
  timeoutMs?: number;
  /** memcached spoken only in binary (`-B binary`) answers no text `stats`. */
  mcBinaryOnly?: boolean;
}

/**
 * An open line to one node for repeated snapshots: Redis `INFO everything` (every section,
 * commandstats, errorstats, keyspace) and `FT.INFO` per index; memcached `stats` and
 * `stats slabs`. A snapshot never throws for the node's sake: a node that does not answer gives
 * an `error` entry and the line reconnects on the next snapshot.
 */
export class NodeProbe {
  readonly node: string;
  readonly kind: ServerKind;
  #target: Target;
  #o: SnapshotOptions;
  #resp: RespConnection | undefined;
  #mc: McConnection | undefined;

  constructor(target: Target, kind: ServerKind, o: SnapshotOptions = {}) {
    this.#target = target;
    this.kind = kind;
    this.node = endpointName(target.endpoint);
    this.#o = o;
  }

  /** Takes a snapshot now. */
  async snapshot(): Promise<NodeSnapshot> {
    const tUs = epochUs();
    try {
      const values = this.kind === "redis" ? await this.#redis() : await this.#memcached();
      return { node: this.node, kind: this.kind, tUs, values };
    } catch (e) {
      this.close();
      return { node: this.node, kind: this.kind, tUs, values: {}, error: errorMessage(e) };
    }
  }

  async #redis(): Promise<FlatValues> {
    const timeoutMs = this.#o.timeoutMs ?? 2000;
    this.#resp ??= await RespConnection.open(this.#target, {
      connectTimeoutMs: timeoutMs,
      requestTimeoutMs: timeoutMs,
      clientName: "membench-monitor",
    });
    const values = flattenInfo(await this.#resp.text(["INFO", "everything"]));
    for (const index of this.#o.indexes ?? []) {
      try {
        flattenFtInfo(index, await this.#resp.command(["FT.INFO", index], "FT.INFO"), values);
      } catch (e) {
        // An index not there (yet, or dropped) is not the node's failure.
        if (!(e instanceof MembenchError && e.code === "server")) throw e;
      }
    }
    return values;
  }

  async #memcached(): Promise<FlatValues> {
    if (this.#o.mcBinaryOnly) return {};
    const timeoutMs = this.#o.timeoutMs ?? 2000;
    this.#mc ??= await McConnection.open(this.#target, {
      connectTimeoutMs: timeoutMs,
      requestTimeoutMs: timeoutMs,
    });
    const values = flattenMemcacheStats(await this.#mc.stats(), "stats");
    return flattenMemcacheStats(await this.#mc.stats("slabs"), "slabs", values);
  }

  /** Closes the line (a later snapshot opens it again). */
  close(): void {
    try {
      this.#resp?.close();
      this.#mc?.close();
    } catch { /* closed */ }
    this.#resp = undefined;
    this.#mc = undefined;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
