import { keyGenerator, NO_VALUE, ProfileWriter, Rng, Status } from "./mod.ts";
const w = await ProfileWriter.create("/tmp/rc.mbp", { tool: "b", createdAt: "", startUs: 0, source: "s", anonymization: { scheme: "siphash-2-4", saltFingerprint: "0", keepTokens: 0, tokenDelimiter: ":", keepSlots: false } });
const rng = new Rng(1); const keys = keyGenerator({ kind: "uniform" }, 100_000, rng, { index: 0, count: 1 });
const get = w.op("get"); const set = w.op("set");
for (let c = 0; c < 50; c++) w.connection({ id: c, protocol: "memcache-text", openUs: 0, sawOpen: true, sawClose: false });
for (let i = 0; i < 300000; i++) { const s = rng.next() < 0.1; const k = keys.next(); w.append({ t: i * 10, conn: i % 50, op: s ? set : get, keyHi: Math.imul(k + 1, 0x9e3779b1) >>> 0, keyLo: k, keyLen: 10, valueLen: s ? 32 : NO_VALUE, flags: 0, ttl: s ? 0 : -1, status: s ? Status.Stored : Status.Miss, latency: 5, slot: -1, seq: 0 }); }
await w.close();
