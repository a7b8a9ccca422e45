import assert from "node:assert/strict";
import {
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
    });
  }
  await w.close({ packets: 123 });
}

Deno.test("ProfileWriter and ProfileReader round-trip header, connections, ops and every column", async () => {
  const path = await Deno.makeTempFile({ suffix: ".mbp" });
  try {
    await writeSample(path, 1000);
    using r = await ProfileReader.open(path);
    assert.equal(r.header.formatVersion, 1);
    assert.equal(r.header.anonymization.saltFingerprint, "0123456789abcdef");
    const events = [];
    for await (const e of r.events()) events.push(e);
    assert.equal(events.length, 1000);
    assert.equal(r.truncated, false);
    assert.deepEqual(r.footer!.opCounts, { set: 334, get: 666 });
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
