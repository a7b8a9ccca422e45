import { MembenchError } from "../errors/mod.ts";
import { McConnection, RespConnection, type Target } from "../net/mod.ts";
import type { ProtocolName } from "../protocol/mod.ts";
import { nowUs } from "../units/mod.ts";
import { synthesizeKey } from "./requests.ts";
import type { ScanResult } from "./scan.ts";

// Stores the keys whose first access was a hit, pipelined over one connection.
export async function warm(
  keys: ScanResult["warm"],
  protocol: ProtocolName,
  target: Target,
  fill: (n: number) => Uint8Array,
  signal?: AbortSignal,
): Promise<{ keys: number; sent: number; durationMs: number }> {
  const t0 = nowUs();
  // Ctrl+C during the warm-up ends the replay before it starts.
  const stop = () => {
    if (signal?.aborted) throw new MembenchError("interrupted", "Interrupted during the warm-up");
  };
  if (keys.length === 0) return { keys: 0, sent: 0, durationMs: 0 };
  if (protocol === "resp") {
    const c = await RespConnection.open(target);
    try {
      for (const k of keys) {
        stop();
        await c.command(["SET", synthesizeKey(k.hi, k.lo, k.keyLen), fill(k.valueLen)], "SET");
      }
    } finally {
      c.close();
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
