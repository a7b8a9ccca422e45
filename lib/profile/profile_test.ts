import assert from "node:assert/strict";
import {
  ArgWord,
  eventArgs,
  NO_VALUE,
  type ProfileHeader,
  ProfileReader,
  ProfileWriter,
  Status,
  verifyProfile,
} from "./mod.ts";

const HEADER: Omit<ProfileHeader, "formatVersion"> = {
  tool: "test",
  createdAt: "2026-11-22T00:00:00.000Z",
  startUs: 1e15,
  source: "test",
  anonymization: {
    scheme: "siphash-2-4",
    saltFingerprint: "0123456789abcdef",
    keepTokens: 0,
    tokenDelimiter: ":",
    keepSlots: false,
  },
};

const TOKENS = ["nx", "ex"];

async function writeSample(path: string, n: number, blockSize = 100): Promise<void> {
  const w = await ProfileWriter.create(path, HEADER, { blockSize });
  const get = w.op("get");
  const set = w.op("set");
  for (let i = 0; i < n; i++) {
    if (i % 250 === 0) {
      w.connection({
        id: i / 250,
        protocol: "memcache-text",
        openUs: i,
        sawOpen: true,
        sawClose: false,
      });
    }
    w.append({
      t: i * 10,
      conn: Math.floor(i / 250),
      op: i % 3 === 0 ? set : get,
      keyHi: i,
      keyLo: i * 7,
      keyLen: 10 + (i % 5),
      valueLen: i % 3 === 0 ? 100 + i : (i % 2 ? NO_VALUE : 50),
      flags: 0,
      ttl: i % 3 === 0 ? 60 : -1,
      status: i % 3 === 0 ? Status.Stored : i % 2 ? Status.Miss : Status.Hit,
      latency: i % 4 === 0 ? NaN : 12.5,
      slot: -1,
      seq: i % 250,
      // Every 7th event with argument words (format 2.1): key, token i % 2, a value.
      ...(i % 7 === 0
        ? {
          args: Uint32Array.of(ArgWord.Key, ((i % 2) << 3) | ArgWord.Token, ArgWord.Value, i),
          tokens: TOKENS,
        }
        : {}),
    });
  }
  await w.close({ packets: 123 });
}

Deno.test("ProfileWriter and ProfileReader round-trip header, connections, ops and every column", async () => {
  const path = await Deno.makeTempFile({ suffix: ".mbp" });
  try {
    await writeSample(path, 1000);
    using r = await ProfileReader.open(path);
    assert.equal(r.header.formatVersion, 2.2);
    assert.equal(r.header.anonymization.saltFingerprint, "0123456789abcdef");
    const events = [];
    let withArgs = 0;
    for await (const b of r.blocks()) {
      for (let i = 0; i < b.count; i++) {
        const seq = b.t[i]! / 10;
        const a = eventArgs(b, i);
        if (seq % 7 !== 0) {
          assert.equal(a, undefined);
          continue;
        }
        withArgs++;
        assert.deepEqual([...a!], [0, ((seq % 2) << 3) | 1, 4, seq]);
        assert.equal(r.tokens[a![1]! >>> 3], TOKENS[seq % 2]);
      }
    }
    assert.equal(withArgs, 143);
    assert.deepEqual(r.footer!.tokens, TOKENS);
    r.close();
    using r2 = await ProfileReader.open(path);
    for await (const e of r2.events()) events.push(e);
    assert.equal(events.length, 1000);
    assert.equal(r2.truncated, false);
    assert.deepEqual(r2.footer!.opCounts, { set: 334, get: 666 });
    assert.equal(r.footer!.connections, 4);
    assert.equal(r.footer!.capture.packets, 123);
    assert.equal(r.connections.size, 4);
    const e3 = events[3]!;
    assert.deepEqual(e3, {
      t: 30,
      conn: 0,
      op: "set",
      key: "0000000300000015",
      keyLen: 13,
      valueLen: 103,
      flags: 0,
      ttl: 60,
      status: "stored",
      latencyUs: 12.5,
      slot: -1,
      seq: 3,
    });
    assert.equal(events[1]!.valueLen, -1);
    assert.equal(events[0]!.latencyUs, null);
    assert.deepEqual(await verifyProfile(path), {
      ok: true,
      events: 1000,
      blocks: 10,
      truncated: false,
      problems: [],
    });
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("ProfileReader reads the whole blocks of a profile cut anywhere and says it is truncated", async () => {
  const path = await Deno.makeTempFile({ suffix: ".mbp" });
  const cut = await Deno.makeTempFile({ suffix: ".mbp" });
  try {
    await writeSample(path, 1000);
    const bytes = await Deno.readFile(path);
    let lastEvents = -1;
    for (let at = 60; at < bytes.length - 16; at += 97) {
      await Deno.writeFile(cut, bytes.subarray(0, at));
      let r: ProfileReader;
      try {
        r = await ProfileReader.open(cut);
      } catch (e) {
        // Cut inside the header: nothing is readable, and the error says so.
        assert.match((e as Error).message, /at byte 8: the file ends inside its header/);
        assert.equal(lastEvents, -1, "only before the first block");
        continue;
      }
      let n = 0;
      for await (const b of r.blocks()) n += b.count;
      assert.equal(r.truncated, true, `cut at ${at}`);
      assert.match(r.warning!, /is truncated: .*read \d+ events/);
      assert.equal(n % 100, 0, "whole blocks only");
      assert.ok(n >= lastEvents, "a longer prefix never reads fewer events");
      lastEvents = n;
      r.close();
    }
    assert.equal(lastEvents, 1000);
    const check = await verifyProfile(cut);
    assert.equal(check.ok, false);
    assert.equal(check.truncated, true);
  } finally {
    await Deno.remove(path);
    await Deno.remove(cut);
  }
});

Deno.test("ProfileReader rejects a corrupted frame, a wrong magic and a missing file with the place", async () => {
  const path = await Deno.makeTempFile({ suffix: ".mbp" });
  try {
    await writeSample(path, 300);
    const bytes = await Deno.readFile(path);
    bytes[bytes.length - 400] = bytes[bytes.length - 400]! ^ 0x55;
    await Deno.writeFile(path, bytes);
    const r = await ProfileReader.open(path);
    await assert.rejects(
      async () => {
        for await (const _ of r.blocks()) { /* read on */ }
      },
      /Cannot read profile .* at byte \d+: frame fails its checksum \(the file is corrupted\)/,
    );
    r.close();
    const v = await verifyProfile(path);
    assert.equal(v.ok, false);
    assert.match(v.problems[0]!, /checksum/);
    await Deno.writeTextFile(path, "PCAP or something else entirely");
    await assert.rejects(
      ProfileReader.open(path),
      /at byte 0: wrong magic: this is not a membench profile/,
    );
    await assert.rejects(ProfileReader.open(path + ".missing"), /Cannot open profile .*missing/);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("ProfileReader reads a profile written before one protocol name: resp2 and resp3 connections are protocol resp with their RESP version", async () => {
  // Written by membench at commit a05f6a1 (`record` with ports 6379 and 11211) from three public
  // captures merged with `mergecap -a`: zeek/redis/pubsub.pcap (RESP2), zeek/redis/
  // pubsub-resp3.pcap (HELLO 3) and deepflow/memcached/memcached.pcap. Its connections say
  // `resp2`, `resp3` and `memcache-text`.
  const path = new URL("./testdata/resp2_resp3_before_protocol_name.mbp", import.meta.url);
  const raw = await Deno.readFile(path);
  const text = new TextDecoder("latin1").decode(raw);
  assert.ok(text.includes("resp2") && text.includes("resp3"), "the file holds the old names");
  using r = await ProfileReader.open(path.pathname);
  let events = 0;
  for await (const b of r.blocks()) events += b.count;
  assert.equal(events, 20);
  assert.ok(!r.truncated, r.warning);
  const conns = [...r.connections.values()].map((c) => [c.id, c.protocol, c.respVersion]);
  assert.deepEqual(conns, [
    [0, "resp", 2],
    [1, "resp", 2],
    [2, "resp", 2],
    [3, "resp", 2],
    [4, "resp", 3],
    [5, "resp", 3],
    [6, "memcache-text", undefined],
  ]);
  assert.deepEqual((await verifyProfile(path.pathname)).problems, []);
});

Deno.test("ProfileReader refuses a connection whose protocol is no protocol name, or a RESP version on memcached", async () => {
  for (
    const [conn, problem] of [
      [{ protocol: "resp4" }, /'protocol' "resp4", not one of resp, memcache-text/],
      [{ protocol: "memcache-text", respVersion: 3 }, /'respVersion' 3 on a memcache-text/],
      [{ protocol: "resp", respVersion: 4 }, /'respVersion' 4 on a resp connection/],
    ] as const
  ) {
    const path = await Deno.makeTempFile({ suffix: ".mbp" });
    try {
      const w = await ProfileWriter.create(path, HEADER);
      // As another writer might have written it: the type allows none of these.
      w.connection({ id: 1, openUs: 0, sawOpen: true, sawClose: false, ...conn } as never);
      await w.close({});
      using r = await ProfileReader.open(path);
      await assert.rejects(
        async () => {
          for await (const _ of r.blocks()) { /* read it all */ }
        },
        (e: Error) => problem.test(e.message) && /a connections frame/.test(e.message),
      );
    } finally {
      await Deno.remove(path);
    }
  }
});
