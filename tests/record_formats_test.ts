import assert from "node:assert/strict";
import { CaptureFile, freePort, McConnection, parseTarget, ProfileReader, record } from "../mod.ts";
import { captureWithStats } from "./capture_helpers.ts";
import { until } from "./helpers.ts";

type Rec = { ts: number; data: Uint8Array; orig: number };

async function readRecords(path: string): Promise<{ linkType: number; recs: Rec[] }> {
  const f = await CaptureFile.open(path);
  const recs: Rec[] = [];
  let linkType = 0;
  await f.forEach((p) => {
    linkType = p.linkType;
    recs.push({ ts: p.tsUs, data: p.buf.slice(p.off, p.off + p.capLen), orig: p.origLen });
  });
  f.close();
  return { linkType, recs };
}

// Writes a pcap in either byte order, with µs or ns timestamps.
async function writePcap(
  path: string,
  linkType: number,
  recs: Rec[],
  o: { be?: boolean; ns?: boolean } = {},
) {
  const le = !o.be;
  const b = new Uint8Array(24 + recs.reduce((a, r) => a + 16 + r.data.length, 0));
  const v = new DataView(b.buffer);
  v.setUint32(0, o.ns ? 0xa1b23c4d : 0xa1b2c3d4, le);
  v.setUint16(4, 2, le);
  v.setUint16(6, 4, le);
  v.setUint32(16, 262144, le);
  v.setUint32(20, linkType, le);
  let off = 24;
  for (const r of recs) {
    v.setUint32(off, Math.floor(r.ts / 1e6), le);
    v.setUint32(off + 4, o.ns ? Math.round((r.ts % 1e6) * 1000) : Math.round(r.ts % 1e6), le);
    v.setUint32(off + 8, r.data.length, le);
    v.setUint32(off + 12, r.orig, le);
    b.set(r.data, off + 16);
    off += 16 + r.data.length;
  }
  await Deno.writeFile(path, b);
}

async function events(file: string): Promise<string[]> {
  using r = await ProfileReader.open(file);
  const out: string[] = [];
  for await (const e of r.events()) out.push(`${e.op} ${e.key} ${e.status} ${e.valueLen}`);
  return out;
}

Deno.test("record() reads SLL2, SLL, nanosecond big-endian, pcapng, VLAN-tagged and raw-IP captures of IPv6 and IPv4 traffic alike", async () => {
  const port = freePort();
  const mc = new Deno.Command("memcached", {
    args: ["-p", String(port), "-l", "::1,127.0.0.1", "-U", "0", "-u", "root"],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const tmp = await Deno.makeTempDir();
  try {
    // memcached is up once it takes a connection.
    await until("memcached listens", async () => {
      try {
        (await Deno.connect({ hostname: "127.0.0.1", port })).close();
        return true;
      } catch {
        return false;
      }
    });
    const traffic = async () => {
      for (const host of ["[::1]", "127.0.0.1"]) {
        using c = await McConnection.open(parseTarget(`${host}:${port}`));
        const v = new TextEncoder().encode("x".repeat(3000));
        for (let i = 0; i < 20; i++) {
          await c.call(["set", `k${i}`, 0, 0, v.length], v);
          await c.call(["get", `k${i}`, `k${i + 100}`]);
        }
      }
    };
    const out = `${tmp}/p.mbp`;
    const recordIt = async (pcap: string) => {
      const r = await record({ pcap, output: out, ports: [port], salt: "f" });
      assert.equal(r.gaps, 0, pcap);
      assert.equal(r.connections, 2, pcap);
      return await events(out);
    };
    // SLL2: tcpdump's "any" pseudo-interface.
    const any = await captureWithStats(port, traffic, [], "any");
    const base = await recordIt(any.file);
    assert.equal(base.length, 2 * (20 + 40));
    assert.equal(base.filter((e) => e.includes(" hit 3000")).length, 40);
    // The same SLL2 capture as pcapng, and as a big-endian pcap.
    const ng = `${tmp}/c.pcapng`;
    const e = await new Deno.Command("editcap", { args: ["-F", "pcapng", any.file, ng] }).output();
    assert.equal(e.code, 0);
    assert.deepEqual(await recordIt(ng), base);
    const { linkType, recs } = await readRecords(any.file);
    assert.equal(linkType, 276);
    await writePcap(`${tmp}/be.pcap`, linkType, recs, { be: true, ns: true });
    assert.deepEqual(await recordIt(`${tmp}/be.pcap`), base);
    // Linux cooked v1 (16-byte header), converted from the SLL2 records (20-byte header).
    const v1 = recs.map((r) => {
      const s2 = r.data;
      const d = new Uint8Array(s2.length - 4);
      d.set([0, s2[10]!, s2[8]!, s2[9]!, 0, s2[11]!], 0); // packet type, ARPHRD, address length
      d.set(s2.subarray(12, 20), 6); // address
      d.set(s2.subarray(0, 2), 14); // protocol
      d.set(s2.subarray(20), 16);
      return { ts: r.ts, data: d, orig: r.orig - 4 };
    });
    await writePcap(`${tmp}/sll1.pcap`, 113, v1);
    assert.deepEqual(await recordIt(`${tmp}/sll1.pcap`), base);
    // Ethernet on lo, then with 802.1Q tags inserted, and stripped down to raw IP.
    const eth = await captureWithStats(port, traffic);
    const ethEvents = await recordIt(eth.file);
    assert.equal(ethEvents.length, base.length);
    const { recs: er } = await readRecords(eth.file);
    const vlan = er.map((r) => {
      const d = new Uint8Array(r.data.length + 4);
      d.set(r.data.subarray(0, 12));
      d.set([0x81, 0x00, 0x00, 0x2a], 12); // VLAN 42
      d.set(r.data.subarray(12), 16);
      return { ts: r.ts, data: d, orig: r.orig + 4 };
    });
    await writePcap(`${tmp}/vlan.pcap`, 1, vlan);
    assert.deepEqual(await recordIt(`${tmp}/vlan.pcap`), ethEvents);
    const raw = er.map((r) => ({ ts: r.ts, data: r.data.slice(14), orig: r.orig - 14 }));
    await writePcap(`${tmp}/raw.pcap`, 101, raw);
    assert.deepEqual(await recordIt(`${tmp}/raw.pcap`), ethEvents);
    for (const f of [any.file, eth.file]) await Deno.remove(f);
  } finally {
    mc.kill("SIGTERM");
    await mc.status;
    await Deno.remove(tmp, { recursive: true });
  }
});
