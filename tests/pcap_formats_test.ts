// The pcap/pcapng reader against files written by independent tools (tcpdump, editcap, mergecap),
// and against variants no tool here writes (big-endian, Simple Packet Blocks), which
// tests/pcap_fixture_rewrite.py makes and tshark validates first. The reference is always
// tshark's reading of the same file (`tshark -T json -x`: time, lengths, encapsulation, raw bytes).
import assert from "node:assert/strict";
import {
  CaptureFile,
  formatRecordSummary,
  LiveCapture,
  McConnection,
  MembenchError,
  parseTarget,
  record,
  RespConnection,
  startLocalServer,
} from "../mod.ts";
import { captureWithStats, tsharkMemcacheCommands } from "./capture_helpers.ts";
import { commandStats } from "./helpers.ts";

const REWRITE = new URL("./pcap_fixture_rewrite.py", import.meta.url).pathname;
const TOOL_TIMEOUT_MS = 60_000;

/** Runs a tool; its output (its exit code must be 0 unless `okCodes` says otherwise). */
async function run(
  cmd: string,
  args: string[],
  okCodes = [0],
): Promise<{ stdout: string; stdoutBytes: Uint8Array; stderr: string; code: number }> {
  const o = await new Deno.Command(cmd, {
    args,
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(TOOL_TIMEOUT_MS),
  }).output();
  const td = new TextDecoder();
  const r = {
    stdout: td.decode(o.stdout),
    stdoutBytes: o.stdout,
    stderr: td.decode(o.stderr),
    code: o.code,
  };
  assert.ok(okCodes.includes(o.code), `${cmd} ${args.join(" ")} exited ${o.code}: ${r.stderr}`);
  return r;
}

/** One packet as a reader sees it. */
interface Frame {
  /** Whole seconds and ns, or null when the packet has no timestamp (tshark, SPB). */
  sec: number | null;
  ns: number | null;
  len: number;
  capLen: number;
  linkType: number;
  /** pcapng section, from 1 (tshark only; 1 for ours). */
  section: number;
  hex: string;
  /** Ours: the µs double. */
  tsUs?: number;
}

// Wireshark's encapsulation numbers (frame.encap_type) for the LINKTYPE values used here.
const WTAP_TO_LINKTYPE: Record<string, number> = { "1": 1, "15": 0, "25": 113, "210": 276 };

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

/** tshark's reading of a file; `okCodes` [0, 2] for a file tshark finds cut short. */
async function tsharkFrames(file: string, okCodes = [0]): Promise<Frame[]> {
  const r = await run("tshark", ["-r", file, "-T", "json", "-x", "-j", "frame"], okCodes);
  const doc = JSON.parse(r.stdout) as Array<{
    _source: { layers: { frame_raw: [string]; frame: Record<string, string> } };
  }>;
  return doc.map(({ _source: { layers: l } }) => {
    const f = l.frame;
    const t = f["frame.time_epoch"];
    const [s, frac] = t === undefined ? [null, null] : t.split(".");
    const linkType = WTAP_TO_LINKTYPE[f["frame.encap_type"]!];
    assert.ok(linkType !== undefined, `unmapped encapsulation ${f["frame.encap_type"]}`);
    return {
      sec: s === null ? null : Number(s),
      ns: frac === null ? null : Number((frac ?? "").padEnd(9, "0")),
      len: Number(f["frame.len"]),
      capLen: Number(f["frame.cap_len"]),
      linkType,
      section: Number(f["frame.section_number"] ?? 1),
      hex: l.frame_raw[0],
    };
  });
}

/** Our reader's reading of a file, or of bytes (named `name`); `hex` "" unless `bytes`. */
async function ourFrames(src: string | Uint8Array, name = "mem.pcap", bytes = true) {
  const f = typeof src === "string"
    ? await CaptureFile.open(src)
    : await CaptureFile.fromSource(memSource(src), name);
  const frames: Frame[] = [];
  try {
    await f.forEach((p) => {
      frames.push({
        sec: p.tsSec,
        ns: p.tsNs,
        len: p.origLen,
        capLen: p.capLen,
        linkType: p.linkType,
        section: 1,
        hex: bytes ? hex(p.buf.subarray(p.off, p.off + p.capLen)) : "",
        tsUs: p.tsUs,
      });
    });
  } finally {
    f.close();
  }
  return {
    frames,
    truncated: f.truncated,
    warning: f.warning,
    untimed: f.untimed,
    linkTypes: f.linkTypes,
    format: f.format,
  };
}

function memSource(b: Uint8Array) {
  let at = 0;
  return {
    read(p: Uint8Array): Promise<number | null> {
      if (at >= b.length) return Promise.resolve(null);
      const n = Math.min(p.length, b.length - at);
      p.set(b.subarray(at, at + n));
      at += n;
      return Promise.resolve(n);
    },
    close() {},
  };
}

/**
 * Ours must equal tshark's, packet for packet: lengths, link type, bytes, and the time to the ns
 * (`tsUs` the nearest double to it). A packet tshark has no time for (SPB) must carry the time
 * of the packet before it, or 0.
 */
function assertSame(ours: Frame[], theirs: Frame[], what: string): void {
  assert.equal(ours.length, theirs.length, `${what}: packet count`);
  let lastSec = 0, lastNs = 0;
  for (let i = 0; i < theirs.length; i++) {
    const o = ours[i]!, t = theirs[i]!;
    const at = `${what}, packet ${i + 1}`;
    assert.equal(o.len, t.len, `${at}: length`);
    assert.equal(o.capLen, t.capLen, `${at}: captured length`);
    assert.equal(o.linkType, t.linkType, `${at}: link type`);
    assert.equal(o.hex, t.hex, `${at}: bytes`);
    const [sec, ns] = t.sec === null ? [lastSec, lastNs] : [t.sec, t.ns!];
    assert.deepEqual([o.sec, o.ns], [sec, ns], `${at}: time`);
    // tsUs is the nearest double to the exact µs time: within 1/8 µs (ulp 1/4 µs in 2005-2041).
    assert.ok(Number.isInteger(o.tsUs! * 4), `${at}: ${o.tsUs}`);
    const exactNs = BigInt(sec) * 1_000_000_000n + BigInt(ns);
    const d = BigInt(o.tsUs! * 4) * 250n - exactNs;
    assert.ok(d <= 125n && d >= -125n, `${at}: tsUs ${o.tsUs} is ${d} ns from ${sec}.${ns}`);
    [lastSec, lastNs] = [sec, ns];
  }
}

/** tshark's frames, without what a rewrite may change (section numbering kept). */
const strip = (fs: Frame[]) => fs.map(({ tsUs: _, ...f }) => f);

// The captures, made once: memcached traffic on lo with tcpdump's nanosecond timestamps, the
// same with a 98-byte snaplen, and Redis traffic on tcpdump's "any" (Linux cooked SLL2, µs).
interface Captures {
  dir: string;
  mcPort: number;
  redisPort: number;
  /** Ethernet (lo), ns pcap. */
  loNs: string;
  /** Ethernet (lo), µs pcap, snaplen 98. */
  lo98: string;
  /** SLL2 (any), µs pcap. */
  any: string;
  /** Requests each server counted. */
  mcSets: number;
  mcGets: number;
  redisSets: number;
  redisGets: number;
}

let capturesMade: Promise<Captures> | undefined;
const captures = () => capturesMade ??= makeCaptures();

async function makeCaptures(): Promise<Captures> {
  const dir = await Deno.makeTempDir({ prefix: "pcap_formats_" });
  globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
  await using mc = await startLocalServer("memcached");
  await using redis = await startLocalServer("redis");
  const mcStats = async () => {
    using c = await McConnection.open(parseTarget(mc.address));
    return await c.stats();
  };
  const mcBefore = await mcStats();
  const redisBefore = await commandStats(redis.address);
  const traffic = async () => {
    for (let conn = 0; conn < 2; conn++) {
      using c = await McConnection.open(parseTarget(mc.address));
      const v = new TextEncoder().encode("v".repeat(100 + conn * 500));
      for (let i = 0; i < 12; i++) {
        await c.call(["set", `k${i}`, 0, 0, v.length], v);
        await c.call(["get", `k${i}`, `nokey${i}`]);
      }
    }
    const r = await RespConnection.open(parseTarget(redis.address));
    try {
      for (let i = 0; i < 10; i++) {
        await r.text(["SET", `r${i}`, "x".repeat(60 * i)]);
        await r.text(["GET", `r${i}`]);
      }
    } finally {
      r.close();
    }
  };
  let loNs = "", lo98 = "";
  const any = await captureWithStats(
    redis.port,
    async () => {
      lo98 = (await captureWithStats(mc.port, async () => {
        loNs = (await captureWithStats(mc.port, traffic, ["--time-stamp-precision=nano"])).file;
      }, ["-s", "98"])).file;
    },
    [],
    "any",
  );
  const mcAfter = await mcStats();
  const redisAfter = await commandStats(redis.address);
  const out: Captures = {
    dir,
    mcPort: mc.port,
    redisPort: redis.port,
    loNs: `${dir}/lo_ns.pcap`,
    lo98: `${dir}/lo_98.pcap`,
    any: `${dir}/any.pcap`,
    mcSets: Number(mcAfter.cmd_set) - Number(mcBefore.cmd_set),
    mcGets: Number(mcAfter.cmd_get) - Number(mcBefore.cmd_get),
    redisSets: (redisAfter.set ?? 0) - (redisBefore.set ?? 0),
    redisGets: (redisAfter.get ?? 0) - (redisBefore.get ?? 0),
  };
  for (const [from, to] of [[loNs, out.loNs], [lo98, out.lo98], [any.file, out.any]]) {
    await Deno.rename(from!, to!);
  }
  // What tcpdump wrote, as capinfos sees it: the fixtures are what they claim to be.
  const info = (await run("capinfos", ["-t", "-E", "-l", out.loNs, out.lo98, out.any])).stdout;
  assert.match(info, /lo_ns\.pcap\s+File type:\s+Wireshark\/tcpdump\/\.\.\. - nanosecond pcap/);
  assert.match(
    info,
    /lo_98\.pcap\s+File type:\s+Wireshark\/tcpdump\/\.\.\. - pcap\s+File encapsulation:\s+Ethernet\s+Packet size limit:\s+file hdr: 98 bytes/,
  );
  assert.match(
    info,
    /any\.pcap\s+File type:\s+Wireshark\/tcpdump\/\.\.\. - pcap\s+File encapsulation:\s+Linux cooked-mode capture v2/,
  );
  return out;
}

/** `record()` of a capture: events per command and gaps. */
async function recordEvents(c: Captures, pcap: string) {
  const r = await record({
    pcap,
    output: `${c.dir}/out.mbp`,
    ports: [c.mcPort, c.redisPort],
    salt: "formats",
  });
  return { perCommand: r.eventsPerCommand, gaps: r.gaps, warning: r.input.warning };
}

Deno.test("CaptureFile reads a mergecap pcapng of two interfaces (Ethernet in ns, SLL2 in µs) as tshark does", async () => {
  const c = await captures();
  const merged = `${c.dir}/merged.pcapng`;
  await run("mergecap", ["-F", "pcapng", "-w", merged, c.loNs, c.any]);
  // The fixture: two interfaces, one at 10^-9 s, one at 10^-6 s, as capinfos reads it.
  const info = (await run("capinfos", [merged])).stdout;
  assert.match(info, /Number of interfaces in file: 2/);
  assert.match(info, /Interface #0 info:[^#]*Encapsulation = Ethernet[^#]*nanoseconds \(9\)/);
  assert.match(info, /Interface #1 info:[^#]*Linux cooked-mode capture v2[^#]*microseconds \(6\)/);

  const theirs = await tsharkFrames(merged);
  const ours = await ourFrames(merged);
  assert.equal(ours.format, "pcapng");
  assert.deepEqual(ours.linkTypes, [1, 276]);
  assert.equal(ours.truncated, false);
  assertSame(ours.frames, theirs, merged);
  // Both interfaces interleave, and the Ethernet one really has ns digits.
  assert.ok(theirs.some((f) => f.linkType === 1) && theirs.some((f) => f.linkType === 276));
  assert.ok(ours.frames.some((f) => f.linkType === 1 && f.ns! % 1000 !== 0), "ns resolution kept");
  // The same packets as the sources, which tshark reads one by one.
  const sources = [...await tsharkFrames(c.loNs), ...await tsharkFrames(c.any)];
  assert.equal(theirs.length, sources.length);

  // record(): the requests tshark's memcache dissector finds (a get names 2 keys, one event
  // each) and the servers counted.
  const r = await recordEvents(c, merged);
  assert.equal(r.gaps, 0);
  const mcByTshark = await tsharkMemcacheCommands(merged, c.mcPort);
  assert.deepEqual([mcByTshark.set, 2 * mcByTshark.get!], [c.mcSets, c.mcGets]);
  assert.equal(r.perCommand.set, c.mcSets + c.redisSets);
  assert.equal(r.perCommand.get, c.mcGets + c.redisGets);
  assert.deepEqual([c.redisSets, c.redisGets], [10, 10]);
});

Deno.test("CaptureFile reads big-endian pcapng sections and big-endian pcap as tshark does", async () => {
  const c = await captures();
  const merged = `${c.dir}/merged_for_be.pcapng`;
  await run("mergecap", ["-F", "pcapng", "-w", merged, c.loNs, c.any]);
  const be = `${c.dir}/merged_be.pcapng`;
  await run("/usr/bin/python3", [REWRITE, "be-pcapng", merged, be]);
  // The fixture: big-endian (byte-order magic 1a2b3c4d as written), and tshark reads the very
  // same packets, times and bytes from it as from the little-endian original.
  assert.equal(hex((await Deno.readFile(be)).subarray(8, 12)), "1a2b3c4d");
  const theirs = await tsharkFrames(be);
  assert.deepEqual(strip(theirs), strip(await tsharkFrames(merged)));
  const ours = await ourFrames(be);
  assert.deepEqual(ours.linkTypes, [1, 276]);
  assertSame(ours.frames, theirs, be);
  const r = await recordEvents(c, be);
  assert.equal(r.gaps, 0);
  assert.equal(r.perCommand.set, c.mcSets + c.redisSets);

  // Two sections, little-endian (editcap's, ns) then big-endian (SLL2, µs): interfaces and
  // byte order are per section.
  const le = `${c.dir}/lo_ns.pcapng`;
  await run("editcap", ["-F", "pcapng", c.loNs, le]);
  const anyNg = `${c.dir}/any.pcapng`, anyBe = `${c.dir}/any_be.pcapng`;
  await run("editcap", ["-F", "pcapng", c.any, anyNg]);
  await run("/usr/bin/python3", [REWRITE, "be-pcapng", anyNg, anyBe]);
  const two = `${c.dir}/two_sections.pcapng`;
  await Deno.writeFile(
    two,
    new Uint8Array([...await Deno.readFile(le), ...await Deno.readFile(anyBe)]),
  );
  const theirs2 = await tsharkFrames(two);
  assert.deepEqual([...new Set(theirs2.map((f) => f.section))], [1, 2], "tshark sees 2 sections");
  assert.deepEqual(
    theirs2.map(({ section: _, ...f }) => f),
    [...await tsharkFrames(le), ...await tsharkFrames(anyNg)].map(({ section: _, ...f }) => f),
  );
  const ours2 = await ourFrames(two);
  assert.deepEqual(ours2.linkTypes, [1, 276]);
  assertSame(ours2.frames, theirs2, two);

  // Classic pcap, big-endian: tcpdump's ns pcap and µs SLL2 pcap, byte-swapped.
  for (const [src, magic] of [[c.loNs, "a1b23c4d"], [c.any, "a1b2c3d4"]] as const) {
    const bePcap = src.replace(/\.pcap$/, "_be.pcap");
    await run("/usr/bin/python3", [REWRITE, "be-pcap", src, bePcap]);
    assert.equal(hex((await Deno.readFile(bePcap)).subarray(0, 4)), magic);
    const t = await tsharkFrames(bePcap);
    assert.deepEqual(t, await tsharkFrames(src));
    const o = await ourFrames(bePcap);
    assert.equal(o.format, "pcap");
    assertSame(o.frames, t, bePcap);
  }
});

Deno.test("CaptureFile reads Simple Packet Blocks: tshark's bytes, the interface's snaplen, the time of the packet before", async () => {
  const c = await captures();
  for (const [src, every] of [[c.loNs, 1], [c.loNs, 2], [c.lo98, 1], [c.lo98, 3]] as const) {
    const ng = `${src}.pcapng`;
    await run("editcap", ["-F", "pcapng", src, ng]);
    const spb = `${src}.spb${every}.pcapng`;
    await run("/usr/bin/python3", [REWRITE, "spb", ng, spb, String(every)]);
    const what = `${spb}`;
    // The fixture: tshark reads the same packets and bytes, and no time for every `every`-th.
    const theirs = await tsharkFrames(spb);
    const original = await tsharkFrames(ng);
    assert.equal(theirs.length, original.length, what);
    const untimed = theirs.filter((f) => f.sec === null).length;
    assert.equal(untimed, Math.floor(original.length / every), what);
    assert.deepEqual(
      theirs.map((f) => [f.len, f.capLen, f.hex]),
      original.map((f) => [f.len, f.capLen, f.hex]),
      what,
    );
    if (src === c.lo98) {
      assert.match((await run("capinfos", [ng])).stdout, /Capture length = 98\b/);
      assert.ok(theirs.some((f) => f.len > 98 && f.capLen === 98), "the snaplen cut packets");
    }
    const ours = await ourFrames(spb);
    assertSame(ours.frames, theirs, what);
    assert.equal(ours.untimed, untimed, what);
    assert.match(
      ours.warning ?? "",
      new RegExp(`${untimed} packets without a timestamp \\(pcapng Simple Packet Blocks\\)`),
    );
    if (every === 1) assert.ok(ours.frames.every((f) => f.sec === 0 && f.ns === 0));
  }
  // record() of the mixed file counts what tshark's memcache dissector counts, and passes the
  // reader's warning on.
  const mixed = `${c.loNs}.spb2.pcapng`;
  const r = await recordEvents(c, mixed);
  const t = await tsharkMemcacheCommands(mixed, c.mcPort);
  assert.deepEqual([r.perCommand.set, r.perCommand.get], [t.set, 2 * t.get!]);
  assert.deepEqual([t.set, 2 * t.get!], [c.mcSets, c.mcGets]);
  assert.match(r.warning ?? "", /without a timestamp/);
});

Deno.test("CaptureFile reads a pcap or pcapng cut anywhere up to its last whole packet, naming the file and byte offset", async () => {
  const c = await captures();
  // Classic pcap (tcpdump's): record offsets from tshark's captured lengths.
  const pcap = await Deno.readFile(c.loNs);
  const full = await tsharkFrames(c.loNs);
  const ends = [24];
  for (const f of full) ends.push(ends.at(-1)! + 16 + f.capLen);
  assert.equal(ends.at(-1), pcap.length);
  const fullOurs = (await ourFrames(c.loNs, undefined, false)).frames;
  for (const n of cutPoints(pcap.length, ends)) {
    const name = `cut_${n}.pcap`;
    if (n < 24) {
      await assert.rejects(
        ourFrames(pcap.subarray(0, n), name),
        (e: unknown) =>
          e instanceof MembenchError && e.code === "file" &&
          e.message.includes(`Cannot read capture ${name} at byte 0:`),
      );
      continue;
    }
    const whole = ends.filter((e) => e <= n).length - 1;
    const o = await ourFrames(pcap.subarray(0, n), name, false);
    assert.deepEqual(o.frames, fullOurs.slice(0, whole), name);
    assert.equal(o.truncated, n !== ends[whole], name);
    if (o.truncated) {
      assert.match(
        o.warning!,
        new RegExp(`^Capture ${name} is truncated at byte ${ends[whole]}: `),
      );
    } else assert.equal(o.warning, undefined);
  }
  // The same with `head -c` files, read by tshark too: mid record header, mid data.
  for (const n of [ends[3]! + 7, ends[5]! + 30, pcap.length - 1]) {
    const cut = `${c.dir}/head_${n}.pcap`;
    await Deno.writeFile(cut, (await run("head", ["-c", String(n), c.loNs])).stdoutBytes);
    const theirs = await tsharkFrames(cut, [2]);
    const o = await ourFrames(cut);
    assertSame(o.frames, theirs, cut);
    assert.ok(o.truncated);
    assert.match(o.warning!, new RegExp(`^Capture ${cut} is truncated at byte \\d+: `));
  }

  // pcapng (mergecap's, two interfaces), cut with head -c inside the IDB, an EPB header, an
  // EPB's data and an EPB's trailing length: every whole packet before the cut, as tshark.
  const merged = `${c.dir}/merged_for_cut.pcapng`;
  await run("mergecap", ["-F", "pcapng", "-w", merged, c.loNs, c.any]);
  const ng = await Deno.readFile(merged);
  const blocks = blockStarts(ng);
  const fullNg = (await ourFrames(merged)).frames;
  const fullNgNoBytes = fullNg.map((f) => ({ ...f, hex: "" }));
  const epb = blocks.filter((b) => b.type === 6);
  const cuts = [
    blocks[1]!.at + 10, // inside the first IDB
    epb[4]!.at + 9, // inside an EPB header
    epb[9]!.at + 40, // inside an EPB's data
    epb[14]!.at + epb[14]!.len - 2, // inside an EPB's trailing length
  ];
  for (const n of cuts) {
    const cut = `${c.dir}/head_${n}.pcapng`;
    await Deno.writeFile(cut, (await run("head", ["-c", String(n), merged])).stdoutBytes);
    const o = await ourFrames(cut);
    const cutBlock = blocks.findLast((b) => b.at <= n)!;
    assert.ok(o.truncated);
    assert.match(o.warning!, new RegExp(`^Capture ${cut} is truncated at byte ${cutBlock.at}: `));
    const whole = blocks.filter((b) => b.type === 6 && b.at + b.len <= n).length;
    assert.deepEqual(o.frames, fullNg.slice(0, whole));
    if (cutBlock.type === 6) assertSame(o.frames, await tsharkFrames(cut, [2]), cut);
  }
  // Cuts everywhere: never a crash, the packets before it, the cut block's offset named.
  for (const n of cutPoints(ng.length, blocks.map((b) => b.at)).filter((n) => n >= 4)) {
    const name = `cut_${n}.pcapng`;
    const o = await ourFrames(ng.subarray(0, n), name, false);
    const whole = blocks.filter((b) => b.type === 6 && b.at + b.len <= n).length;
    assert.deepEqual(o.frames, fullNgNoBytes.slice(0, whole), name);
    const atBoundary = n === ng.length || blocks.some((b) => b.at === n);
    assert.equal(o.truncated, !atBoundary, name);
    if (!atBoundary) {
      const at = blocks.findLast((b) => b.at <= n)!.at;
      assert.match(o.warning!, new RegExp(`^Capture ${name} is truncated at byte ${at}: `));
    }
  }
});

/**
 * Where to cut a file of `size` bytes whose records start at `starts`: every byte of the first
 * four records and the last three, each record start and the bytes around it, and every 7th
 * byte in between (the packets' bytes are compared in the `head -c` cases, against tshark).
 */
function cutPoints(size: number, starts: number[]): number[] {
  const out = new Set<number>();
  const head = starts[Math.min(4, starts.length - 1)]!;
  const tail = starts[Math.max(0, starts.length - 3)]!;
  for (let n = 0; n <= size; n++) {
    if (n <= head || n >= tail || n % 7 === 0) out.add(n);
  }
  for (const s of starts) for (const d of [-1, 0, 1, 12, 16]) out.add(Math.min(size, s + d));
  return [...out].filter((n) => n >= 0).sort((a, b) => a - b);
}

/** Block starts of a little-endian pcapng, from their type and length fields. */
function blockStarts(b: Uint8Array): Array<{ at: number; type: number; len: number }> {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out = [];
  for (let at = 0; at < b.length;) {
    const len = v.getUint32(at + 4, true);
    out.push({ at, type: v.getUint32(at, true), len });
    at += len;
  }
  return out;
}

Deno.test("LiveCapture.stats() reports unknown counters, not 0, when pcap_stats fails; record's summary prints unknown", async () => {
  const c = await captures();
  // libpcap keeps no counters for a savefile: pcap_stats fails there.
  const lp = LiveCapture.openSavefile(c.loNs);
  try {
    const got: Array<[number, number, string]> = [];
    while (lp.drain((p) => got.push([p.capLen, p.origLen, hex(p.buf.subarray(0, p.capLen))])));
    // libpcap, a third reader, sees what tshark sees.
    const theirs = await tsharkFrames(c.loNs);
    assert.deepEqual(got, theirs.map((f) => [f.capLen, f.len, f.hex]));
    const s = lp.stats();
    assert.deepEqual([s.received, s.dropped, s.ifDropped], [null, null, null]);
    assert.match(s.unknown ?? "", /^pcap_stats: .*savefile/i);
    assert.equal(JSON.parse(JSON.stringify(s)).dropped, null, "serialized as null, not 0");
  } finally {
    lp.close();
  }
  // The end-of-record summary says unknown.
  const r = await record({ pcap: c.loNs, output: `${c.dir}/s.mbp`, ports: [c.mcPort] });
  const text = formatRecordSummary({
    ...r,
    pcap: { received: null, dropped: null, ifDropped: null, unknown: "pcap_stats: failed" },
  });
  assert.match(
    text,
    /libpcap: unknown received by the filter, unknown dropped \(buffer full\), unknown dropped by the interface \(counters unknown: pcap_stats: failed\)/,
  );
  assert.doesNotMatch(text, /\b0 dropped/);
});

const PUBLIC = new URL("../../shared/data/captures-public/", import.meta.url).pathname;

Deno.test("CaptureFile reads public captures from other machines and writers (Zeek's, deepflow's, nDPI's) as tshark does", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pcap_public_" });
  try {
    const files = [
      "zeek/redis/start-with-server.pcapng", // Mergecap 4.4.6, NULL/Loopback (macOS)
      "zeek/redis/django-cloud.pcapng", // TShark 4.4.2, Ethernet
      "zeek/redis/set.pcap", // NULL/Loopback pcap
      "deepflow/memcached/memcached.pcap",
      "ndpi/memcached.cap",
    ].map((f) => PUBLIC + f);
    // Several interfaces of different link types, from files written elsewhere.
    const merged = `${dir}/public_merged.pcapng`;
    await run("mergecap", ["-F", "pcapng", "-w", merged, files[0]!, files[3]!]);
    const bigEndian = `${dir}/django_be.pcapng`;
    await run("/usr/bin/python3", [REWRITE, "be-pcapng", files[1]!, bigEndian]);
    assert.deepEqual(strip(await tsharkFrames(bigEndian)), strip(await tsharkFrames(files[1]!)));
    for (const f of [...files, merged, bigEndian]) {
      const ours = await ourFrames(f);
      assert.equal(ours.truncated, false, f);
      assertSame(ours.frames, await tsharkFrames(f), f);
    }
    assert.deepEqual((await ourFrames(merged)).linkTypes, [0, 1]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
