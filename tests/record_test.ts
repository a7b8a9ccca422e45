import assert from "node:assert/strict";
import {
  bench,
  McConnection,
  type MembenchError,
  parseTarget,
  ProfileReader,
  type ProtocolName,
  record,
  type RecordResult,
  respCommand,
  startLocalServer,
} from "../mod.ts";
import { captureNoDrops, tsharkMemcacheCommands } from "./capture_helpers.ts";
import { commandStats, loadTest, statsDelta } from "./helpers.ts";

const PUBLIC = new URL("../../shared/data/captures-public/", import.meta.url).pathname;

async function recordTo(
  pcap: string,
  extra: Partial<Parameters<typeof record>[0]> = {},
): Promise<RecordResult & { file: string }> {
  const file = await Deno.makeTempFile({ suffix: ".mbp" });
  const r = await record({ pcap, output: file, salt: "test-salt", ...extra });
  return { ...r, file };
}

async function statusesByOp(file: string): Promise<Record<string, Record<string, number>>> {
  using r = await ProfileReader.open(file);
  const out: Record<string, Record<string, number>> = {};
  for await (const e of r.events()) {
    const m = out[e.op] ??= {};
    m[e.status] = (m[e.status] ?? 0) + 1;
  }
  return out;
}

loadTest("record() decodes the public captures with the reference counts", async () => {
  const cases: Array<[string, number[], Record<string, number>]> = [
    // REFERENCE.md: use the stream counts (tshark undercounts pipelined segments).
    ["deepflow/memcached/memcached-userdata.pcap", [11211], { get: 10041, gets: 112, set: 1 }],
    ["deepflow/memcached/memcached.pcap", [11211], { set: 1, get: 1, quit: 1 }],
    ["ndpi/memcached.cap", [11211], { stats: 1 }],
    ["deepflow/redis/redis.pcap", [6379], { get: 7, exists: 3 }],
    ["deepflow/redis/redis-debug.pcap", [6379], { lrange: 1 }],
    ["deepflow/redis/redis-error.pcap", [6379], { get: 1 }],
    ["zeek/redis/almost-resp.pcap", [6379], { auth: 1, ping: 1 }],
    ["zeek/redis/array-element-object-exhaustion.pcap", [6379], { ping: 1 }],
    // The reference counts FAKE 1 and FAKE2 1: made-up command names. Only known command names
    // leave a capture (no wire bytes may become an op name), so they are recorded as "other".
    ["zeek/redis/attr.pcap", [6379], { other: 2 }],
    ["zeek/redis/auth.pcap", [6379], { auth: 3 }],
    ["zeek/redis/bulk-loading.pcap", [6379], { set: 1000, echo: 1 }],
    ["zeek/redis/client-skip-while-off.pcap", [6379], { ping: 4, "client|reply": 3 }],
    ["zeek/redis/django-cloud.pcapng", [10625], { set: 152, get: 6 }],
    ["zeek/redis/excessive-pipelining.pcap", [6379], { ping: 12 }],
    ["zeek/redis/large-requests-responses.pcap", [6379], { get: 2, set: 2, "command|docs": 1 }],
    ["zeek/redis/pipeline-quotes.pcap", [6379], { set: 8 }],
    ["zeek/redis/pipeline-with-commands.pcap", [6379], { ping: 2, get: 1, set: 1 }],
    ["zeek/redis/pipelining-example.pcap", [6379], { ping: 3 }],
    ["zeek/redis/pubsub-resp3.pcap", [6379], {
      "command|docs": 2,
      hello: 2,
      publish: 2,
      ping: 1,
      psubscribe: 1,
      set: 1,
      subscribe: 1,
    }],
    ["zeek/redis/pubsub.pcap", [6379], {
      publish: 2,
      get: 1,
      set: 1,
      psubscribe: 1,
      reset: 1,
      subscribe: 1,
    }],
    ["zeek/redis/reply-off-on-2conn.pcap", [6379], { ping: 4, "client|reply": 2 }],
    ["zeek/redis/reply-off-on.pcap", [6379], { ping: 5, "client|reply": 3 }],
    ["zeek/redis/set.pcap", [6379], { set: 3 }],
    ["zeek/redis/start-with-server.pcapng", [6379], { set: 1 }],
    ["zeek/redis/stream.pcap", [6379], { xadd: 3, xrange: 1 }],
    // OSS-Fuzz bytes on port 80: not RESP, so no events (REFERENCE: "must not report nonsense").
    ["zeek/redis/oss-fuzz-473580107.pcap", [80], {}],
  ];
  // Where decoding meets errors on purpose: RESP that is almost RESP, or attributes with errors.
  const MALFORMED_ON_PURPOSE = ["almost-resp", "attr.pcap", "oss-fuzz"];
  for (const [path, ports, expected] of cases) {
    const r = await recordTo(PUBLIC + path, { ports });
    try {
      assert.deepEqual(r.eventsPerCommand, expected, path);
      if (!MALFORMED_ON_PURPOSE.some((m) => path.includes(m))) {
        assert.equal(r.protocolErrors, 0, path);
      }
      assert.equal(r.gaps, 0, path);
    } finally {
      await Deno.remove(r.file);
    }
  }
  const err = await recordTo(PUBLIC + "deepflow/redis/redis-error.pcap", { ports: [6379] });
  assert.deepEqual(await statusesByOp(err.file), { get: { error: 1 } });
  await Deno.remove(err.file);
});

Deno.test("record() forces protocol resp with a RESP version apart; the old names resp2 and resp3 are refused with the fix", async () => {
  // No HELLO in this capture: forced to version 3 (a capture started after the clients'
  // HELLO 3), its connections say 3 from their first byte.
  const forced = await recordTo(PUBLIC + "zeek/redis/set.pcap", {
    ports: [6379],
    protocol: "resp",
    respVersion: 3,
  });
  try {
    assert.deepEqual(forced.eventsPerCommand, { set: 3 });
    using r = await ProfileReader.open(forced.file);
    for await (const _ of r.blocks()) { /* connections fill in */ }
    const conns = [...r.connections.values()];
    assert.ok(conns.length > 0);
    for (const c of conns) assert.deepEqual([c.protocol, c.respVersion], ["resp", 3]);
  } finally {
    await Deno.remove(forced.file);
  }
  const output = await Deno.makeTempFile({ suffix: ".mbp" });
  try {
    for (const old of ["resp2", "resp3"]) {
      await assert.rejects(
        record({
          pcap: PUBLIC + "zeek/redis/set.pcap",
          output,
          protocol: old as ProtocolName, // as a caller might still pass it
        }),
        (e: MembenchError) =>
          e.code === "invalid_argument" && e.message.includes(`"${old}"`) &&
          e.message.includes("respVersion"),
      );
    }
  } finally {
    await Deno.remove(output);
  }
});

loadTest(
  "record() of memcached text traffic matches the server's stats and tshark, multi-get and large values included",
  async () => {
    await using srv = await startLocalServer("memcached");
    using c = await McConnection.open(parseTarget(srv.address));
    const { file: pcap, before, after } = await captureNoDrops(
      srv.port,
      () => c.stats(),
      async () => {
        await bench({
          target: srv.address,
          protocol: "memcache-text",
          tests: ["set"],
          requests: 300,
          clients: 3,
          keyspace: 200,
          dataSize: 20_000,
          seed: 1,
        });
        await bench({
          target: srv.address,
          protocol: "memcache-text",
          tests: ["get", "delete", "incr"],
          requests: 300,
          clients: 3,
          pipeline: 4,
          multiget: 4,
          keyspace: 400,
          seed: 2,
        });
        // Unpipelined: tshark's dissector undercounts requests that share a segment.
        await bench({
          target: srv.address,
          protocol: "memcache-text",
          tests: ["decr", "version"],
          requests: 200,
          clients: 2,
          keyspace: 400,
          seed: 4,
        });
      },
    );
    const r = await recordTo(pcap, { ports: [srv.port] });
    try {
      const d = (k: string) => Number(after[k]) - Number(before[k]);
      assert.equal(r.eventsPerCommand.set, d("cmd_set"));
      assert.equal(r.eventsPerCommand.get, d("cmd_get"), "one event per key of a multi-get");
      assert.equal(r.eventsPerCommand.delete, d("delete_hits") + d("delete_misses"));
      assert.equal(r.eventsPerCommand.incr, d("incr_hits") + d("incr_misses"));
      assert.equal(r.gaps, 0);
      const st = await statusesByOp(r.file);
      assert.equal(st.get!.hit, d("get_hits"));
      assert.equal(st.get!.miss, d("get_misses"));
      assert.equal(st.delete!.deleted ?? 0, d("delete_hits"));
      assert.equal(st.set!.stored, 300);
      // tshark's dissector agrees where it can see every request (one per segment; tshark 4.0
      // does not dissect touch).
      const ts = await tsharkMemcacheCommands(pcap, srv.port);
      assert.equal(ts.set, r.eventsPerCommand.set);
      assert.equal(ts.decr, r.eventsPerCommand.decr);
      assert.equal(ts.version, r.eventsPerCommand.version);
      assert.equal(r.eventsPerCommand.decr, d("decr_hits") + d("decr_misses"));
      assert.equal(r.eventsPerCommand.version, 200);
      // Values of 20,000 bytes span many segments: their sizes came through.
      using pr = await ProfileReader.open(r.file);
      for await (const e of pr.events()) {
        if (e.op === "set") assert.equal(e.valueLen, 20_000);
        if (e.op === "get" && e.status === "hit") assert.equal(e.valueLen, 20_000);
      }
    } finally {
      await Deno.remove(pcap);
      await Deno.remove(r.file);
    }
  },
);

loadTest(
  "record() of meta quiet pipelines and the binary protocol matches the server's stats",
  async () => {
    for (const protocol of ["memcache-meta", "memcache-binary"] as const) {
      await using srv = await startLocalServer("memcached");
      using c = await McConnection.open(parseTarget(srv.address));
      const { file: pcap, before, after } = await captureNoDrops(
        srv.port,
        () => c.stats(),
        async () => {
          await bench({
            target: srv.address,
            protocol,
            mix: [{ command: "set", weight: 1 }, { command: "get", weight: 3 }, {
              command: "delete",
              weight: 1,
            }],
            requests: 1500,
            clients: 3,
            pipeline: 8,
            multiget: 3,
            noreply: true,
            keyspace: 300,
            dataSize: 64,
            seed: 5,
          });
        },
      );
      const d = (k: string) => Number(after[k]) - Number(before[k]);
      const r = await recordTo(pcap, { ports: [srv.port] });
      try {
        const ops = r.eventsPerCommand;
        const get = protocol === "memcache-meta" ? "mg" : "get";
        const set = protocol === "memcache-meta" ? "ms" : "set";
        const del = protocol === "memcache-meta" ? "md" : "delete";
        assert.equal(ops[get], d("cmd_get"), `${protocol} gets`);
        assert.equal(ops[set], d("cmd_set"), `${protocol} sets`);
        assert.equal(ops[del], d("delete_hits") + d("delete_misses"), `${protocol} deletes`);
        const st = await statusesByOp(r.file);
        assert.equal(st[get]!.hit ?? 0, d("get_hits"), `${protocol} hits`);
        assert.equal(st[get]!.miss ?? 0, d("get_misses"), `${protocol} misses`);
        assert.equal(st[del]!.deleted ?? 0, d("delete_hits"), `${protocol} quiet deletes that hit`);
        assert.equal(r.unpairedResponses, 0);
      } finally {
        await Deno.remove(pcap);
        await Deno.remove(r.file);
      }
    }
  },
);

loadTest(
  "record() of RESP from redis-benchmark and a RESP3 client matches INFO commandstats",
  async () => {
    await using srv = await startLocalServer("redis");
    const { file: pcap, before, after } = await captureNoDrops(
      srv.port,
      () => commandStats(srv.address),
      async () => {
        const rb = await new Deno.Command("redis-benchmark", {
          args: [
            "-p",
            String(srv.port),
            "-t",
            "set,get,lpush,mget",
            "-n",
            "400",
            "-c",
            "4",
            "-P",
            "5",
            "-r",
            "100",
            "-q",
          ],
          stdout: "null",
          stderr: "null",
        }).output();
        assert.equal(rb.code, 0);
        await bench({
          target: srv.address,
          resp3: true,
          tests: ["set", "get", "hset"],
          requests: 300,
          clients: 2,
          keyspace: 50,
          seed: 3,
        });
      },
    );

    const r = await recordTo(pcap, { ports: [srv.port] });
    try {
      const delta = statsDelta(before, after, ["info"]);
      // One event per key for MGET (redis-benchmark's MGET reads 10 keys).
      const expected: Record<string, number> = {};
      for (const [k, v] of Object.entries(delta)) {
        // A subcommand the catalogue lists is its own op (`config|get`), as commandstats says.
        const name = respCommand(k) ? k : k.replace(/\|.*/, "");
        expected[name] = (expected[name] ?? 0) + (name === "mget" ? v * 10 : v);
      }
      const got = { ...r.eventsPerCommand };
      assert.deepEqual(got, expected);
      using pr = await ProfileReader.open(r.file);
      const protos = new Set<string>();
      for await (const _ of pr.blocks()) { /* connections fill in */ }
      // One protocol name; the RESP version apart: redis-benchmark's 2, the bench's HELLO 3.
      for (const cinfo of pr.connections.values()) {
        protos.add(`${cinfo.protocol} ${cinfo.respVersion}`);
      }
      assert.deepEqual([...protos].sort(), ["resp 2", "resp 3"]);
    } finally {
      await Deno.remove(pcap);
      await Deno.remove(r.file);
    }
  },
);
