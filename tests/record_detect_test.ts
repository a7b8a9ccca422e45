/**
 * Issue 23, point 5: record must not guess silently. HTTP, TLS and SSH streams are refused (and
 * counted, with a warning), a recording of nothing exits 5 naming the ports where traffic was
 * (and which of them carry a cache protocol), `--ports auto` finds them, TCP gaps and kernel
 * drops warn, and a run ended by `--duration` says so instead of "stopped early".
 *
 * The traffic is real (curl against `Deno.serve`, Deno's TLS client, OpenSSH's client, memcached
 * with its own counters), captured by tcpdump; the reference counts are tshark's.
 */
import assert from "node:assert/strict";
import {
  bench,
  classifyStream,
  McConnection,
  parseTarget,
  record,
  startLocalServer,
} from "../mod.ts";
import { captureWithStats, tsharkMemcacheCommands } from "./capture_helpers.ts";
import { loadTest, runCli, startCli } from "./helpers.ts";

/** tshark's fields of a capture, one array per packet. */
async function tshark(file: string, args: string[]): Promise<string[][]> {
  const out = await new Deno.Command("tshark", {
    args: ["-r", file, ...args, "-T", "fields"],
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(out.stdout).split("\n").filter(Boolean).map((l) => l.split("\t"));
}

/** Connections opened to a port, as tshark counts SYNs (no ACK). */
async function synsTo(file: string, port: number): Promise<number> {
  return (await tshark(file, [
    "-Y",
    `tcp.flags.syn==1 && tcp.flags.ack==0 && tcp.dstport==${port}`,
    "-e",
    "frame.number",
  ])).length;
}

/** TCP streams in which tshark's dissector (decoding `port` as `proto`) finds `filter`. */
async function streamsWith(
  file: string,
  port: number,
  proto: string,
  filter: string,
): Promise<number> {
  const rows = await tshark(file, [
    "-d",
    `tcp.port==${port},${proto}`,
    "-Y",
    filter,
    "-e",
    "tcp.stream",
  ]);
  return new Set(rows.map((r) => r[0])).size;
}

/** A listener that takes each connection's first bytes and hangs up (a TLS or SSH "server"). */
function firstBytesListener(): { port: number; close(): Promise<void> } {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const loop = (async () => {
    for await (const conn of l) {
      try {
        await conn.read(new Uint8Array(4096));
      } catch { /* the client went first */ }
      conn.close();
    }
  })();
  return {
    port: (l.addr as Deno.NetAddr).port,
    async close() {
      l.close();
      await loop.catch(() => {});
    },
  };
}

async function run(cmd: string, args: string[]): Promise<void> {
  await new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).output();
}

Deno.test("record refuses HTTP, TLS and SSH streams, says where the cache traffic was, and --ports auto finds it", async () => {
  await using mc = await startLocalServer("memcached");
  const http = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response("hello"),
  );
  const tls = firstBytesListener();
  const ssh = firstBytesListener();
  const dir = await Deno.makeTempDir({ prefix: "record_detect_" });
  try {
    const hp = http.addr.port;
    const ports = { mc: mc.port, http: hp, tls: tls.port, ssh: ssh.port };
    using probe = await McConnection.open(parseTarget(mc.address));
    const before = await probe.stats();
    // One capture of the four ports (tcpdump joins the words into one filter).
    const extra = [hp, tls.port, ssh.port].flatMap((p) => ["tcp", "port", String(p), "or"]);
    const cap = await captureWithStats(mc.port, async () => {
      for (let i = 0; i < 3; i++) {
        await run("curl", ["-s", "-o", "/dev/null", `http://127.0.0.1:${hp}/x${i}`]);
      }
      for (let i = 0; i < 2; i++) {
        const t = await Deno.connectTls({ hostname: "127.0.0.1", port: tls.port });
        await t.handshake().catch(() => {});
        t.close();
      }
      for (let i = 0; i < 2; i++) {
        await run("ssh", [
          "-o",
          "BatchMode=yes",
          "-o",
          "StrictHostKeyChecking=no",
          "-o",
          "ConnectTimeout=5",
          "-o",
          "UserKnownHostsFile=/dev/null",
          "-p",
          String(ssh.port),
          "nobody@127.0.0.1",
          "true",
        ]);
      }
      // memcached text on an odd port: `get k` must still be taken for memcached.
      using c = await McConnection.open(parseTarget(mc.address));
      await c.call(["set", "k", 0, 0, 5], new TextEncoder().encode("hello"));
      for (let i = 0; i < 7; i++) await c.call(["get", i % 2 ? "k" : "missing"]);
    }, extra);
    const after = await probe.stats();
    assert.equal(cap.droppedByKernel, 0, cap.stderr);
    const file = cap.file;
    // The references: connections per port (SYNs), and what tshark's dissectors find in them.
    const syn = {
      http: await synsTo(file, hp),
      tls: await synsTo(file, tls.port),
      ssh: await synsTo(file, ssh.port),
    };
    assert.deepEqual(syn, { http: 3, tls: 2, ssh: 2 });
    assert.equal(await streamsWith(file, hp, "http", "http.request"), 3);
    assert.equal(await streamsWith(file, tls.port, "tls", "tls.handshake.type==1"), 2);
    assert.equal(await streamsWith(file, ssh.port, "ssh", "ssh.protocol"), 2);
    const mcRef = await tsharkMemcacheCommands(file, mc.port);
    assert.deepEqual(mcRef, { set: 1, get: 7 });
    assert.equal(Number(after.cmd_get) - Number(before.cmd_get), 7);

    // 1. The default ports hold nothing: exit 5, the ports with traffic named, the cache one
    //    suggested (and not the HTTP one).
    const out = `${dir}/p.mbp`;
    const none = await runCli(["record", "--pcap", file, "-o", out, "--salt", "s"]);
    assert.equal(none.code, 5, none.stderr);
    assert.match(
      none.stderr,
      /membench: no cache traffic on the ports asked \(11211, 6379\); TCP traffic seen on .*\d+ packets/,
    );
    for (const p of Object.values(ports)) assert.match(none.stderr, new RegExp(`\\b${p} \\(`));
    assert.match(
      none.stderr,
      new RegExp(`${mc.port} \\(\\d+ packets, streams: 1 memcache-text\\)`),
    );
    assert.match(none.stderr, new RegExp(`${hp} \\(\\d+ packets, streams: 3 http\\)`));
    assert.match(none.stderr, new RegExp(`hint: try -p ${mc.port} \\(their streams start`));
    assert.doesNotMatch(none.stderr, new RegExp(`-p ${hp}\\b`));

    // 2. HTTP on the port asked: refused, counted, warned; nothing recorded, so exit 5.
    const onHttp = await runCli(["record", "--pcap", file, "-p", String(hp), "-o", out]);
    assert.equal(onHttp.code, 5, onHttp.stderr);
    assert.match(
      onHttp.stderr,
      new RegExp(
        `membench: warning: refused 3 connections that are not a cache protocol: 3 http on ${hp}`,
      ),
    );
    assert.match(onHttp.stderr, new RegExp(`no cache traffic on the ports asked \\(${hp}\\)`));
    assert.match(onHttp.stderr, new RegExp(`hint: try -p ${mc.port}`));
    assert.doesNotMatch(onHttp.stdout, /events per command: get/);

    // 3. Every port asked: memcached recorded as memcached counted it, the rest refused by kind.
    const all = await runCli([
      "record",
      "--pcap",
      file,
      "-o",
      out,
      "-p",
      String(mc.port),
      "-p",
      String(hp),
      "-p",
      String(tls.port),
      "-p",
      String(ssh.port),
    ]);
    assert.equal(all.code, 0, all.stderr);
    assert.match(all.stdout, /events per command: get 7, set 1\n/);
    assert.match(
      all.stderr,
      new RegExp(
        `warning: refused 7 connections that are not a cache protocol: ` +
          [[hp, "http", 3], [tls.port, "tls", 2], [ssh.port, "ssh", 2]]
            .sort((a, b) => Number(a[0]) - Number(b[0]))
            .map(([p, k, n]) => `${n} ${k} on ${p}`).join(", "),
      ),
    );
    const lib = await record({ pcap: file, output: out, ports: Object.values(ports) });
    assert.deepEqual(lib.refused, { ...syn, unknown: 0 });
    assert.deepEqual(lib.eventsPerCommand, mcRef);
    assert.deepEqual(lib.recordedPorts, { [mc.port]: 1 });

    // 4. --ports auto: the memcached port alone is picked, the same events, the same refusals.
    const auto = await runCli(["record", "--pcap", file, "-o", out, "--ports", "auto"]);
    assert.equal(auto.code, 0, auto.stderr);
    assert.match(auto.stdout, new RegExp(`\\n  ports: ${mc.port}\\n`));
    assert.match(auto.stdout, /events per command: get 7, set 1\n/);
    assert.match(auto.stderr, /warning: refused 7 connections/);
    const la = await record({ pcap: file, output: out, ports: "auto" });
    assert.deepEqual([la.ports, la.eventsPerCommand, la.refused], [
      [mc.port],
      mcRef,
      { ...syn, unknown: 0 },
    ]);
    assert.equal(la.nothingRecorded, undefined);
    const mixed = await runCli(["record", "--pcap", file, "-o", out, "-p", "auto", "-p", "1"]);
    assert.equal(mixed.code, 2);
    assert.match(mixed.stderr, /Cannot use '--port auto' with port numbers/);
  } finally {
    await http.shutdown();
    await tls.close();
    await ssh.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("record warns of TCP gaps with tshark's count, and a --duration run ends at its duration, not early", async () => {
  await using mc = await startLocalServer("memcached");
  const dir = await Deno.makeTempDir({ prefix: "record_gaps_" });
  try {
    const cap = await captureWithStats(mc.port, async () => {
      using c = await McConnection.open(parseTarget(mc.address));
      for (let i = 0; i < 20; i++) {
        await c.call(["set", `k${i}`, 0, 0, 3], new TextEncoder().encode("abc"));
        await new Promise((r) => setTimeout(r, 20)); // spread over ~0.5 s of capture time
      }
    });
    assert.equal(cap.droppedByKernel, 0, cap.stderr);
    // Delete one client segment in the middle: a hole the server's ACK proves.
    const data = await tshark(cap.file, [
      "-Y",
      `tcp.dstport==${mc.port} && tcp.len>0`,
      "-e",
      "frame.number",
      "-e",
      "tcp.len",
    ]);
    assert.equal(data.length, 20);
    const [frame, len] = data[10]!;
    const holed = `${dir}/holed.pcap`;
    await run("editcap", [cap.file, holed, frame!]);
    const lost = await tshark(holed, ["-Y", "tcp.analysis.lost_segment", "-e", "frame.number"]);
    assert.equal(lost.length, 1, "tshark sees one hole");
    const out = `${dir}/p.mbp`;
    const r = await runCli(["record", "--pcap", holed, "-p", String(mc.port), "-o", out]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`membench: warning: 1 TCP gap \\(${len} bytes the capture lost\\)`),
    );
    assert.match(r.stdout, /events per command: set 19\n/);
    const whole = await runCli(["record", "--pcap", cap.file, "-p", String(mc.port), "-o", out]);
    assert.equal(whole.code, 0);
    assert.doesNotMatch(whole.stderr, /warning/, "a whole capture warns of nothing");
    assert.doesNotMatch(whole.stdout, /stopped early|ended at/);

    // --duration in capture time: the input line says it ended at its duration.
    const d = await runCli([
      "record",
      "--pcap",
      cap.file,
      "-p",
      String(mc.port),
      "-o",
      out,
      "--duration",
      "150ms",
    ]);
    assert.equal(d.code, 0, d.stderr);
    assert.match(d.stdout, /input: pcap, .* \(ended at its --duration\)\n/);
    assert.doesNotMatch(d.stdout, /stopped early/);
    const sets = Number(/events per command: set (\d+)/.exec(d.stdout)?.[1]);
    assert.ok(sets > 0 && sets < 20, d.stdout);
    const lib = await record({ pcap: cap.file, ports: [mc.port], output: out, durationMs: 150 });
    assert.deepEqual([lib.stoppedBy, lib.stoppedEarly], ["duration", false]);
    const n = await record({ pcap: cap.file, ports: [mc.port], output: out, count: 5 });
    assert.deepEqual([n.stoppedBy, n.stoppedEarly], ["count", false]);
    await Deno.remove(cap.file);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

loadTest(
  "a live record ended by --duration says so, and libpcap's drops are a warning",
  async () => {
    await using srv = await startLocalServer("memcached");
    const dir = await Deno.makeTempDir({ prefix: "record_live_" });
    try {
      const out = `${dir}/p.mbp`;
      // A small kernel buffer and a full-speed load, so that drops may happen: whether they do
      // or not, the warning must follow libpcap's own counter.
      const p = startCli([
        "record",
        "--interface",
        "lo",
        "-p",
        String(srv.port),
        "--duration",
        "2500ms",
        "--buffer-size",
        "64KiB",
        "-o",
        out,
        "--salt",
        "x",
      ]);
      await p.waitFor(/membench: listening: live capture on lo/);
      await bench({
        target: srv.address,
        protocol: "memcache-text",
        tests: ["get"],
        durationMs: 800,
        clients: 20,
        pipeline: 4,
        keyspace: 100,
      });
      const r = await p.done();
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /input: live, .* \(ended at its --duration\)\n/);
      assert.doesNotMatch(r.stdout, /stopped early/);
      const m =
        /libpcap: ([\d,]+) received by the filter, ([\d,]+) dropped \(buffer full\), ([\d,]+) dropped by the interface/
          .exec(r.stdout);
      assert.ok(m, r.stdout);
      const [dropped, ifDropped] = [m[2]!, m[3]!].map((x) => Number(x.replaceAll(",", "")));
      if (dropped! + ifDropped! > 0) {
        assert.match(
          r.stderr,
          new RegExp(
            `membench: warning: libpcap dropped ${
              m[2]
            } packets \\(kernel buffer full\\) and the interface ${m[3]}:`,
          ),
        );
      } else {
        assert.doesNotMatch(r.stderr, /libpcap dropped/);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("an empty live capture exits 5 and points at --ports auto", async () => {
  await using srv = await startLocalServer("memcached");
  const dir = await Deno.makeTempDir({ prefix: "record_empty_" });
  try {
    const r = await runCli([
      "record",
      "--interface",
      "lo",
      "-p",
      String(srv.port),
      "--duration",
      "500ms",
      "-o",
      `${dir}/p.mbp`,
    ]);
    assert.equal(r.code, 5, r.stderr);
    assert.match(r.stdout, /recorded 0 events/);
    assert.match(
      r.stderr,
      new RegExp(`no cache traffic on the ports asked \\(${srv.port}\\)\\n  hint: .*--ports auto`),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("classifyStream: a cache request gets its protocol, HTTP, TLS, SSH and other bytes are refused by name", () => {
  const b = (s: string) => new TextEncoder().encode(s);
  const cases: Array<[string | Uint8Array, number, ReturnType<typeof classifyStream>]> = [
    ["get k\r\n", 8080, { protocol: "memcache-text" }],
    ["get k\r\n", 11211, { protocol: "memcache-text" }],
    ["get k\r\n", 6379, { protocol: "resp" }],
    ["\r\nget a b c\r\n", 8080, { protocol: "memcache-text" }],
    ["mg k v\r\n", 8080, { protocol: "memcache-meta" }],
    ["PING\r\n", 8080, { protocol: "resp" }],
    ["FAKE COMMAND\r\n", 6379, { protocol: "resp" }], // the server answers it; kept as "other"
    ["FAKE COMMAND\r\n", 8080, { refused: "unknown" }],
    ["*1\r\n$4\r\nPING\r\n", 8080, { protocol: "resp" }],
    ["*1\r\n:4\r\n", 8080, { refused: "unknown" }],
    ["GET / HTTP/1.1\r\nHost: x\r\n\r\n", 8080, { refused: "http" }],
    ["GET / HTTP/1.1\r\n", 11211, { refused: "http" }],
    ["GET / HTTP/1.1\r\n", 6379, { refused: "http" }],
    ["get /index.html HTTP/1.0\r\n", 11211, { refused: "http" }],
    ["PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 8080, { refused: "http" }],
    ["SSH-2.0-OpenSSH_9.6\r\n", 22, { refused: "ssh" }],
    [Uint8Array.from([0x16, 3, 1, 0, 0xc8, 1]), 6379, { refused: "tls" }],
    [Uint8Array.from([0x80, 0x2e, 1, 3, 1, 0, 0x15]), 11211, { refused: "tls" }], // SSLv2 hello
    ["bonjour world\r\n", 11211, { refused: "unknown" }],
    ["get k\x00\r\n", 8080, { refused: "unknown" }],
    // Cut short: wait for the rest of the line, or of the header.
    ["get k", 8080, undefined],
    ["GET / HTTP/1", 8080, undefined],
    ["SS", 22, undefined],
    [Uint8Array.from([0x80, 0]), 11211, undefined],
  ];
  for (const [bytes, port, want] of cases) {
    const got = classifyStream(typeof bytes === "string" ? b(bytes) : bytes, port);
    assert.deepEqual(got, want, `${JSON.stringify(String(bytes))} on ${port}`);
  }
  // Binary memcached: a GET of "k" (a real header), and the same header with a bad data type.
  const get = Uint8Array.from([
    0x80,
    0,
    0,
    1,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    1,
    ...new Array(12).fill(0),
    107,
  ]);
  assert.deepEqual(classifyStream(get, 8080), { protocol: "memcache-binary" });
  get[5] = 7;
  assert.deepEqual(classifyStream(get, 8080), { refused: "unknown" });
  // Nothing more will come: judged as it is.
  assert.deepEqual(classifyStream(b("get k"), 8080, undefined, true), {
    protocol: "memcache-text",
  });
});

Deno.test("a live record with --ports auto finds memcached on its odd port", async () => {
  await using srv = await startLocalServer("memcached");
  const dir = await Deno.makeTempDir({ prefix: "record_auto_" });
  try {
    const p = startCli([
      "record",
      "-i",
      "lo",
      "--ports",
      "auto",
      "--duration",
      "2s",
      "-o",
      `${dir}/p.mbp`,
    ]);
    await p.waitFor(/membench: listening: live capture on lo, filter "tcp"/);
    {
      using c = await McConnection.open(parseTarget(srv.address));
      for (let i = 0; i < 25; i++) await c.call(["version"]);
    }
    const r = await p.done();
    assert.equal(r.code, 0, r.stderr);
    // Other tests' servers on lo may be recorded too: this one must be among the ports.
    const ports = /\n {2}ports: ([\d, ]+)\n/.exec(r.stdout)?.[1]?.split(", ").map(Number);
    assert.ok(ports?.includes(srv.port), r.stdout);
    const versions = Number(/events per command: .*\bversion (\d+)/.exec(r.stdout)?.[1]);
    assert.ok(versions >= 25, r.stdout);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the issue's capture: Redis on 10625 recorded with the default ports exits 5 with 'try -p 10625'", async () => {
  // Zeek's django-cloud trace: 474 packets (capinfos), Redis on port 10625 (REFERENCE.md).
  const pcap = new URL(
    "../../shared/data/captures-public/zeek/redis/django-cloud.pcapng",
    import.meta.url,
  ).pathname;
  const packets = (await tshark(pcap, ["-e", "frame.number"])).length;
  assert.equal(packets, 474);
  const out = await Deno.makeTempFile({ suffix: ".mbp" });
  try {
    const r = await runCli(["record", "--pcap", pcap, "-o", out]);
    assert.equal(r.code, 5, r.stderr);
    assert.match(r.stdout, /474 on other ports/);
    assert.match(
      r.stderr,
      /no cache traffic on the ports asked \(11211, 6379\); TCP traffic seen on 10625 \(474 packets, streams: 1 resp\)\n {2}hint: try -p 10625 /,
    );
    const auto = await runCli(["record", "--pcap", pcap, "-o", out, "--ports", "auto"]);
    assert.equal(auto.code, 0, auto.stderr);
    assert.match(auto.stdout, /events per command: set 152, get 6\n/);
    assert.match(auto.stdout, /\n {2}ports: 10625\n/);
    assert.equal(auto.stderr, "");
  } finally {
    await Deno.remove(out);
  }
});
