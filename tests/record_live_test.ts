import assert from "node:assert/strict";
import { bench, McConnection, parseTarget, record, startLocalServer } from "../mod.ts";
import { loadTest, runCli, startCli } from "./helpers.ts";

loadTest("record() live on loopback captures every request of a rate-limited load", async () => {
  await using srv = await startLocalServer("memcached");
  using c = await McConnection.open(parseTarget(srv.address));
  const before = await c.stats();
  const out = await Deno.makeTempFile({ suffix: ".mbp" });
  const stop = new AbortController();
  try {
    const listening = Promise.withResolvers<void>();
    const rec = record({
      interface: "lo",
      ports: [srv.port],
      output: out,
      salt: "live",
      signal: stop.signal,
      onStart: () => listening.resolve(),
    });
    await Promise.race([listening.promise, rec]); // the capture is open
    const b = await bench({
      target: srv.address,
      protocol: "memcache-text",
      mix: [{ command: "set", weight: 1 }, { command: "get", weight: 3 }],
      rate: 2000,
      durationMs: 1500,
      clients: 4,
      keyspace: 500,
      seed: 9,
    });
    stop.abort();
    const r = await rec;
    const after = await c.stats();
    const sent = Object.fromEntries(b.tests[0]!.commands.map((x) => [x.command, x.count]));
    assert.ok(sent.get! + sent.set! > 2000, `${JSON.stringify(sent)}`);
    assert.equal(r.pcap!.dropped, 0);
    assert.equal(r.eventsPerCommand.set, sent.set);
    assert.equal(r.eventsPerCommand.get, sent.get);
    assert.equal(r.eventsPerCommand.get, Number(after.cmd_get) - Number(before.cmd_get));
    assert.equal(r.gaps, 0);
    assert.equal(r.input.format, "live");
  } finally {
    await Deno.remove(out);
  }
});

loadTest(
  "record() live at full speed reports libpcap's drop counter, and the counts agree with it",
  async () => {
    await using srv = await startLocalServer("memcached");
    const out = await Deno.makeTempFile({ suffix: ".mbp" });
    const stop = new AbortController();
    try {
      // A small kernel buffer, so that a full-speed load may overflow it.
      const listening = Promise.withResolvers<void>();
      const rec = record({
        interface: "lo",
        ports: [srv.port],
        output: out,
        bufferSize: 256 * 1024,
        signal: stop.signal,
        onStart: () => listening.resolve(),
      });
      await Promise.race([listening.promise, rec]); // the capture is open
      const b = await bench({
        target: srv.address,
        protocol: "memcache-text",
        tests: ["get"],
        durationMs: 1000,
        clients: 50,
        pipeline: 4,
        keyspace: 1000,
      });
      stop.abort();
      const r = await rec;
      const sent = b.tests[0]!.sent;
      assert.ok(r.pcap !== undefined, "libpcap's counters are in the result");
      assert.ok(r.pcap.dropped !== null && r.pcap.ifDropped !== null, r.pcap.unknown);
      const drops = r.pcap.dropped + r.pcap.ifDropped;
      if (drops === 0) {
        assert.equal(r.eventsPerCommand.get, sent, "nothing dropped: every request recorded");
      } else {
        assert.ok((r.eventsPerCommand.get ?? 0) < sent || r.gaps > 0, `${drops} drops must show`);
        assert.ok((r.eventsPerCommand.get ?? 0) <= sent);
      }
    } finally {
      await Deno.remove(out);
    }
  },
);

loadTest(
  "membench record --interface captures live, and a bad interface or filter is a clear error",
  async () => {
    await using srv = await startLocalServer("memcached");
    const out = await Deno.makeTempFile({ suffix: ".mbp" });
    try {
      const p = startCli([
        "record",
        "--interface",
        "lo",
        "-p",
        String(srv.port),
        "--duration",
        "1500ms",
        "-o",
        out,
        "--salt",
        "x",
      ]);
      // The capture is open once the CLI says it is listening (however slowly it started).
      await p.waitFor(/membench: listening: live capture on lo, filter "tcp and \(port \d+\)"/);
      using c = await McConnection.open(parseTarget(srv.address));
      for (let i = 0; i < 25; i++) await c.call(["version"]);
      const r = await p.done();
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /events per command: version 25/);
      assert.match(r.stdout, /libpcap: \d+ received by the filter, 0 dropped/);
      const bad = await runCli(["record", "--interface", "nosuchif0", "-o", out]);
      assert.equal(bad.code, 3);
      assert.match(bad.stderr, /Cannot capture on nosuchif0: no such device/);
      const filt = await runCli([
        "record",
        "--interface",
        "lo",
        "--filter",
        "tcp and and",
        "-o",
        out,
      ]);
      assert.equal(filt.code, 2);
      assert.match(filt.stderr, /Cannot use the capture filter "tcp and and"/);
    } finally {
      await Deno.remove(out);
    }
  },
);

loadTest("Ctrl+C during membench record finishes the profile cleanly", async () => {
  await using srv = await startLocalServer("memcached");
  const out = await Deno.makeTempFile({ suffix: ".mbp" });
  try {
    const p = startCli(["record", "-i", "lo", "-p", String(srv.port), "-o", out]);
    await p.waitFor(/membench: listening: live capture on lo/);
    using c = await McConnection.open(parseTarget(srv.address));
    for (let i = 0; i < 10; i++) await c.call(["version"]);
    p.child.kill("SIGINT");
    const r = await p.done();
    assert.equal(r.code, 130, r.stderr);
    assert.match(r.stdout, /recorded 10 events/);
    const v = await runCli(["profile", "verify", out]);
    assert.equal(v.code, 0, v.stdout);
    assert.match(v.stdout, /^ok: 10 events/);
  } finally {
    await Deno.remove(out);
  }
});
