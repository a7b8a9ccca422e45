import assert from "node:assert/strict";
import { McConnection, NO_VALUE, parseTarget, replay, startLocalServer, Status } from "../mod.ts";
import { syntheticProfile } from "../bench/_synthetic.ts";
import { info, loadTest } from "./helpers.ts";

const CONNS = 4;
const EVENTS = 3000; // one every ms, over 3 s at speed 1
const KEYS = 200;

// A profile of get/set on CONNS connections, one event per ms, no pipelining.
async function profile(): Promise<string> {
  const path = await Deno.makeTempFile({ suffix: ".mbp" });
  const w = await syntheticProfile(path);
  const get = w.op("get");
  const set = w.op("set");
  for (let c = 0; c < CONNS; c++) {
    w.connection({ id: c, protocol: "memcache-text", openUs: 0, sawOpen: true, sawClose: false });
  }
  for (let i = 0; i < EVENTS; i++) {
    const isSet = i % 4 === 0;
    const k = i % KEYS;
    w.append({
      t: i * 1000,
      conn: i % CONNS,
      op: isSet ? set : get,
      keyHi: Math.imul(k + 1, 0x9e3779b1) >>> 0,
      keyLo: k,
      keyLen: 12,
      valueLen: isSet ? 100 : NO_VALUE,
      flags: 0,
      ttl: isSet ? 0 : -1,
      status: isSet ? Status.Stored : Status.Hit,
      latency: 50,
      slot: -1,
      seq: Math.floor(i / CONNS),
    });
  }
  await w.close();
  return path;
}

// Commands the server processed since it started (its own counter, not ours).
async function serverCount(kind: "redis" | "memcached", address: string): Promise<number> {
  if (kind === "redis") return Number((await info(address, "stats"))["total_commands_processed"]);
  using c = await McConnection.open(parseTarget(address));
  const s = await c.stats();
  return Number(s["cmd_get"]) + Number(s["cmd_set"]);
}

for (
  const [kind, io] of [["redis", "deno"], ["memcached", "uring"]] as const
) {
  loadTest(
    `replay() survives a ${kind} restart mid-run (io ${io}): reconnects counted, every request sent once, the run completes`,
    async () => {
      const path = await profile();
      let srv = await startLocalServer(kind);
      const port = srv.port;
      try {
        const running = replay({
          profile: path,
          target: srv.address,
          protocol: kind === "redis" ? "resp" : "memcache-text",
          speed: 1,
          io,
          requestTimeoutMs: 2000,
        });
        // A second into the 3 s schedule: the server goes away and comes back on its port.
        await new Promise((r) => setTimeout(r, 1000));
        const before = await serverCount(kind, srv.address);
        const t0 = performance.now();
        await srv.stop();
        const tStop = performance.now() - t0;
        await new Promise((r) => setTimeout(r, 150));
        srv = await startLocalServer(kind, { port });
        const tBack = performance.now() - t0;
        const r = await running;
        const after = await serverCount(kind, srv.address);

        assert.equal(r.config.io, io);
        assert.equal(r.failure, undefined, JSON.stringify(r.failure));
        assert.equal(r.interrupted, false);
        assert.equal(r.loops, 1);
        // Every connection lost its server once and came back.
        assert.ok(r.reconnects >= CONNS, `reconnects ${r.reconnects}`);
        // Every recorded request was sent once; each was answered or failed with the connection.
        assert.equal(r.sent, EVENTS);
        const completed = r.commands.reduce((a, c) => a + c.completed, 0);
        assert.equal(completed, EVENTS, "replies + failed requests = sent");
        const lost = r.commands.reduce(
          (a, c) => a + (c.errors["connection"] ?? 0) + (c.errors["timeout"] ?? 0),
          0,
        );
        assert.ok(lost <= 4 * CONNS, `requests lost with the connections: ${lost}`);
        assert.equal(r.errors, lost, JSON.stringify(r.commands.map((c) => c.errors)));
        // The servers' own counters: the old one answered what came before the restart, the new
        // one the rest of the schedule (a good part of it, not a handful); together, every
        // request but those lost with the connections and those of the moments between the old
        // server's last count and its exit (a request a ms).
        const why =
          `old server ${before} before its stop (${tStop.toFixed(0)} ms), new server ${after} ` +
          `(back after ${tBack.toFixed(0)} ms), ${lost} lost`;
        assert.ok(after >= 500, why);
        assert.ok(before + after <= EVENTS + 2, why);
        assert.ok(before + after >= EVENTS - lost - 2 * (tStop + 50), why);
      } finally {
        await srv.stop();
        await Deno.remove(path);
      }
    },
  );
}
