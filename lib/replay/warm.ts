import { MembenchError } from "../errors/mod.ts";
import { McConnection, RespConnection, type Target } from "../net/mod.ts";
import type { ProtocolName } from "../protocol/mod.ts";
import { nowUs } from "../units/mod.ts";
import { synthesizeKey } from "./requests.ts";
import type { ScanResult } from "./scan.ts";

/** A cluster's warm-up: keys keep their recorded slot, each goes to its slot's owner. */
export interface WarmRoute {
  /** Node targets, by node index. */
  targets: readonly Target[];
  /** The profile kept slots: keys are made in their recorded slot. */
  keepSlots: boolean;
  /** The node index of a key. */
  nodeOf: (key: string) => number;
}

// Stores the keys whose first access was a hit, pipelined over one connection (in a cluster,
// one per node).
export async function warm(
  keys: ScanResult["warm"],
  protocol: ProtocolName,
  target: Target,
  fill: (n: number) => Uint8Array,
  signal?: AbortSignal,
  route?: WarmRoute,
): Promise<{ keys: number; sent: number; durationMs: number }> {
  const t0 = nowUs();
  // Ctrl+C during the warm-up ends the replay before it starts.
  const stop = () => {
    if (signal?.aborted) throw new MembenchError("interrupted", "Interrupted during the warm-up");
  };
  if (keys.length === 0) return { keys: 0, sent: 0, durationMs: 0 };
  if (protocol === "resp") {
    const conns = new Map<number, RespConnection>();
    try {
      for (const k of keys) {
        stop();
        const key = synthesizeKey(k.hi, k.lo, k.keyLen, 0, route?.keepSlots ? k.slot : -1);
        const node = route ? route.nodeOf(key) : 0;
        let c = conns.get(node);
        if (c === undefined) {
          c = await RespConnection.open(route?.targets[node] ?? target);
          conns.set(node, c);
        }
        await c.command(["SET", key, fill(k.valueLen)], "SET");
      }
    } finally {
      for (const c of conns.values()) c.close();
    }
  } else {
    // Text protocol for every memcached flavour: the items are the same.
    const mc = await McConnection.open(target);
    try {
      for (let i = 0; i < keys.length; i += 500) {
        stop();
        const batch = keys.slice(i, i + 500);
        const parts = batch.map((k) => {
          const v = fill(k.valueLen);
          return new TextEncoder().encode(
            `set ${synthesizeKey(k.hi, k.lo, k.keyLen)} 0 0 ${v.length} noreply\r\n`,
          );
        });
        const withValues: Uint8Array[] = [];
        batch.forEach((k, j) => withValues.push(parts[j]!, fill(k.valueLen), CRLF));
        withValues.push(new TextEncoder().encode("mn\r\n"));
        await mc.send(concat(withValues), { kind: "mn", keys: 0 });
      }
    } finally {
      mc.close();
    }
  }
  return { keys: keys.length, sent: keys.length, durationMs: (nowUs() - t0) / 1000 };
}

const CRLF = new Uint8Array([13, 10]);

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
