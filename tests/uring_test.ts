// The io_uring hot loop and its libc sockets, against real servers and real sockets.
import assert from "node:assert/strict";
import {
  bench,
  bufferAddress,
  MembenchError,
  Ring,
  socketAddress,
  SocketTransport,
  startLocalServer,
  uringSupport,
} from "../mod.ts";
import { loadTest } from "./helpers.ts";

Deno.test("socketAddress() takes IPv4, IPv6 and localhost, and refuses host names and junk", () => {
  const v4 = socketAddress("127.0.0.1", 11211)!;
  assert.equal(v4.length, 16);
  assert.deepEqual([...v4.subarray(2, 8)], [0x2b, 0xcb, 127, 0, 0, 1]);
  assert.deepEqual(socketAddress("localhost", 11211), v4);
  const v6 = socketAddress("::1", 6379)!;
  assert.equal(v6.length, 28);
  assert.equal(v6[23], 1);
  assert.equal(v6.subarray(8, 23).every((b) => b === 0), true);
  assert.equal(socketAddress("[fe80::1:2]", 1)!.length, 28);
  for (const bad of ["redis.example", "256.1.1.1", "1.2.3", "1::2::3", "1:2:3:4:5:6:7:8:9", ""]) {
    assert.equal(socketAddress(bad, 1), undefined, bad);
  }
});

loadTest("SocketTransport: a refused port is a connection error naming the endpoint", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  await assert.rejects(
    () => SocketTransport.connect("127.0.0.1", port, `127.0.0.1:${port}`, 2000),
    (e: unknown) =>
      e instanceof MembenchError && e.code === "connection" &&
      e.message === `127.0.0.1:${port}: connection refused`,
  );
});

loadTest(
  "Ring: a send and a receive make a real memcached round trip; closing a socket ends a held receive",
  async () => {
    assert.deepEqual(uringSupport(), { ok: true });
    await using srv = await startLocalServer("memcached");
    const s = await SocketTransport.connect("127.0.0.1", srv.port, srv.address, 2000);
    const ring = new Ring(8);
    try {
      const out = new Uint8Array(256);
      const req = new TextEncoder().encode("version\r\n");
      out.set(req);
      const inb = new Uint8Array(4096);
      ring.send(s.fd, bufferAddress(out), req.length, 1);
      ring.recv(s.fd, bufferAddress(inb), inb.length, 2);
      const seen = new Map<number, number>();
      for (let i = 0; i < 100 && seen.size < 2; i++) {
        ring.wait(100_000);
        while (ring.next()) seen.set(ring.tag, ring.res);
      }
      assert.equal(seen.get(1), req.length);
      const n = seen.get(2)!;
      assert.match(new TextDecoder().decode(inb.subarray(0, n)), /^VERSION \d+\.\d+\.\d+\r\n$/);
      // A receive held on a socket that is then closed (what a reply timeout does) completes.
      ring.recv(s.fd, bufferAddress(inb), inb.length, 3);
      ring.submit();
      s.close();
      let res: number | undefined;
      for (let i = 0; i < 100 && res === undefined; i++) {
        ring.wait(100_000);
        while (ring.next()) if (ring.tag === 3) res = ring.res;
      }
      assert.ok(res !== undefined && res <= 0, `held receive ended with ${res}`);
    } finally {
      s.close();
      ring.close();
    }
  },
);

loadTest(
  "bench() io: uring refuses a unix socket with the reason; auto takes uring on TCP",
  async () => {
    const path = "/tmp/membench-no-such.sock";
    await assert.rejects(
      () => bench({ target: path, protocol: "memcache-text", tests: ["get"], io: "uring" }),
      (e: unknown) =>
        e instanceof MembenchError && e.code === "invalid_argument" &&
        e.message.includes(`Cannot use 'io' uring: ${path} is not plain TCP to an IP address`),
    );
    await assert.rejects(
      // deno-lint-ignore no-explicit-any
      () => bench({ target: "127.0.0.1:1", tests: ["get"], io: "fast" as any }),
      /Cannot use 'io': must be one of auto, uring, deno/,
    );
    await using srv = await startLocalServer("memcached");
    const tcp = await bench({
      target: srv.address,
      protocol: "memcache-text",
      tests: ["get"],
      requests: 200,
      clients: 2,
    });
    assert.equal(tcp.config.io, "uring");
    assert.equal(tcp.tests[0]!.requests, 200);
  },
);

loadTest(
  "bench() io uring: a server that never answers gives timeout errors, then reconnects, and no hang",
  async () => {
    // Accepts and reads, never replies.
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (l.addr as Deno.NetAddr).port;
    const held: Deno.Conn[] = [];
    const accepting = (async () => {
      for await (const c of l) {
        held.push(c);
        (async () => {
          const b = new Uint8Array(4096);
          try {
            while ((await c.read(b)) !== null) { /* swallow */ }
          } catch { /* closed */ }
        })();
      }
    })();
    const t0 = Date.now();
    try {
      const r = await bench({
        target: `127.0.0.1:${port}`,
        protocol: "memcache-text",
        tests: ["get"],
        durationMs: 1500,
        clients: 2,
        requestTimeoutMs: 300,
        reconnect: { maxAttempts: 2, baseDelayMs: 20 },
        io: "uring",
      });
      assert.ok(Date.now() - t0 < 5000, "ended promptly");
      assert.equal(r.config.io, "uring");
      const c = r.tests[0]!.commands[0]!;
      assert.ok((c.errors.timeout ?? 0) >= 2, JSON.stringify(c.errors));
      assert.ok(r.tests[0]!.reconnects >= 2, `reconnects ${r.tests[0]!.reconnects}`);
    } finally {
      l.close();
      for (const c of held) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await accepting.catch(() => {});
    }
  },
);
