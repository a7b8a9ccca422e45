import assert from "node:assert/strict";
import { bench } from "../mod.ts";
import { loadTest, until } from "./helpers.ts";

// A TCP server that answers every read with bytes no RESP or memcached parser accepts: the
// engine must count protocol errors, drop the connection, reconnect, and end on time. (No real
// server sends garbage; this socket stands in for a broken proxy or a wrong port.)
function garbageServer(): { port: number; accepted: () => number; close: () => Promise<void> } {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  let accepted = 0;
  const loop = (async () => {
    for await (const c of l) {
      accepted++;
      conns.push(c);
      (async () => {
        const b = new Uint8Array(4096);
        try {
          while ((await c.read(b)) !== null) {
            await c.write(new TextEncoder().encode("\x00\x01garbage\r\n"));
          }
        } catch { /* closed */ }
      })();
    }
  })();
  return {
    port: (l.addr as Deno.NetAddr).port,
    accepted: () => accepted,
    close: async () => {
      l.close();
      // The accept loop ends with the listener: then every connection it took is closed.
      await loop.catch(() => {});
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
    },
  };
}

for (const io of ["deno", "uring"] as const) {
  for (const protocol of ["resp", "memcache-text"] as const) {
    loadTest(
      `engine (${io}, ${protocol}): garbage replies are protocol errors, each connection is dropped and reopened, the run ends`,
      async () => {
        const srv = garbageServer();
        const t0 = Date.now();
        try {
          const r = await bench({
            target: `127.0.0.1:${srv.port}`,
            protocol,
            tests: ["get"],
            durationMs: 600,
            clients: 2,
            clientName: "",
            reconnect: { maxAttempts: 1000, baseDelayMs: 5, maxDelayMs: 20 },
            io,
          });
          assert.ok(Date.now() - t0 < 5000, "ended promptly");
          const t = r.tests[0]!;
          const c = t.commands[0]!;
          assert.ok((c.errors["protocol"] ?? 0) >= 4, JSON.stringify(c.errors));
          // Every protocol error cost its connection: each one was reopened (the server saw it).
          assert.ok(t.reconnects >= 2, `reconnects ${t.reconnects}`);
          // (The accept loop runs in this isolate: let it catch up.) A reconnect under way when
          // the run ended reached the server but is closed unused: at most one per client.
          await until("accepts", () => Promise.resolve(srv.accepted() >= 2 + t.reconnects), 2000)
            .catch(() => {});
          const extra = srv.accepted() - (2 + t.reconnects);
          assert.ok(
            extra >= 0 && extra <= 2,
            `accepted ${srv.accepted()}, reconnects ${t.reconnects}`,
          );
          // Nothing is lost: each request sent is either answered or counted as failed.
          assert.equal(c.count + t.abandoned, t.sent - t.warmupRequests, JSON.stringify(t));
        } finally {
          await srv.close();
        }
      },
    );
  }
}
