import { MembenchError } from "../errors/mod.ts";
import { NO_VALUE, ProfileReader, Shape, Status } from "../profile/mod.ts";
import { findCommand, type ProtocolName } from "../protocol/mod.ts";

/** What a replay needs to know about a profile before it starts. */
export interface ScanResult {
  protocol: ProtocolName;
  resp: boolean;
  connIds: number[];
  ops: string[];
  opIndex: Map<string, number>;
  perOp: Array<{ count: number; hits: number; misses: number; errors: number; quiet: number }>;
  firstUs: number;
  spanUs: number;
  rate: number[];
  writeSizes: number[];
  warm: Array<{ hi: number; lo: number; keyLen: number; valueLen: number; slot: number }>;
  /** The profile kept each key's Redis cluster slot (record's keepSlots). */
  keepSlots: boolean;
}

// One pass over the profile: what a replay needs to know before it starts.
// Ctrl+C (the signal) ends it between blocks.
export async function scanProfile(
  path: string,
  wantWarm: boolean,
  signal?: AbortSignal,
): Promise<ScanResult> {
  const r = await ProfileReader.open(path);
  try {
    const conns = new Set<number>();
    const opIndex = new Map<string, number>();
    const ops: string[] = [];
    const perOp: ScanResult["perOp"] = [];
    const rate: number[] = [];
    const writeSizes: number[] = [];
    const firstAccess = new Set<string>();
    const warm: ScanResult["warm"] = [];
    let first = Infinity;
    let last = -Infinity;
    // Events per 10 ms; turned into seconds since the first event at the end (one pass).
    const perSecond = new Map<number, number>();
    const multi: boolean[] = [];
    for await (const b of r.blocks()) {
      if (signal?.aborted) {
        throw new MembenchError("interrupted", `Interrupted while reading ${path}`);
      }
      for (let i = 0; i < b.count; i++) {
        const t = b.t[i]!;
        if (t < first) first = t;
        if (t > last) last = t;
        conns.add(b.conn[i]!);
        const name = r.ops[b.op[i]!]!;
        let oi = opIndex.get(name);
        if (oi === undefined) {
          oi = ops.length;
          ops.push(name);
          opIndex.set(name, oi);
          perOp.push({ count: 0, hits: 0, misses: 0, errors: 0, quiet: 0 });
          // A RESP multi-key command (MGET, MSET, DEL k1 k2) is replayed as one request: its
          // recorded count is of requests, not keys (a version 1 profile has one per key).
          multi[oi] = [...r.connections.values()][0]?.protocol === "resp" &&
            findCommand(name, "resp")?.eachKey === true;
        }
        const po = perOp[oi]!;
        const st = b.status[i]!;
        if (!multi[oi] || (b.shape[i]! & Shape.More) === 0) {
          po.count++;
          if (st === Status.Error) po.errors++;
          if ((b.shape[i]! & Shape.Quiet) !== 0) po.quiet++;
        }
        if (st === Status.Hit) po.hits++;
        else if (st === Status.Miss) po.misses++;
        const slot = Math.floor(t / 1e4);
        perSecond.set(slot, (perSecond.get(slot) ?? 0) + 1);
        const vl = b.valueLen[i]!;
        if (
          vl !== NO_VALUE && st !== Status.Hit && st !== Status.Miss &&
          writeSizes.length < 100_000
        ) writeSizes.push(vl);
        if (wantWarm && b.keyLen[i]! > 0) {
          const k = `${b.keyHi[i]}:${b.keyLo[i]}`;
          if (!firstAccess.has(k)) {
            firstAccess.add(k);
            if (st === Status.Hit) {
              warm.push({
                hi: b.keyHi[i]!,
                lo: b.keyLo[i]!,
                keyLen: b.keyLen[i]!,
                valueLen: vl === NO_VALUE ? 0 : vl,
                slot: b.slot[i]!,
              });
            }
          }
        }
      }
    }
    for (const [slot, n] of perSecond) {
      const sec = Math.max(0, Math.floor((slot * 1e4 - first) / 1e6));
      rate[sec] = (rate[sec] ?? 0) + n;
    }
    const protos = [...r.connections.values()].map((c) => c.protocol);
    const p0 = protos[0] ?? "memcache-text";
    const protocol: ProtocolName = p0;
    return {
      protocol,
      resp: protocol === "resp",
      connIds: [...conns].sort((a, b) => a - b),
      ops,
      opIndex,
      perOp,
      firstUs: Number.isFinite(first) ? first : 0,
      spanUs: Number.isFinite(last) ? last - first : 0,
      rate: Array.from(rate, (v) => v ?? 0),
      writeSizes,
      warm,
      keepSlots: r.header.anonymization.keepSlots,
    };
  } finally {
    r.close();
  }
}
