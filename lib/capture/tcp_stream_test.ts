import assert from "node:assert/strict";
import { TcpStream } from "./tcp_stream.ts";

function collect() {
  const chunks: number[] = [];
  const gaps: number[] = [];
  return {
    chunks,
    gaps,
    sink: {
      data(buf: Uint8Array, off: number, len: number) {
        for (let i = 0; i < len; i++) chunks.push(buf[off + i]!);
      },
      gap(lost: number) {
        gaps.push(lost);
        for (let i = 0; i < lost; i++) chunks.push(-1);
      },
    },
  };
}

// Deterministic shuffle.
function shuffle<T>(xs: T[], seed: number): T[] {
  let s = seed;
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

const data = Uint8Array.from({ length: 5000 }, (_, i) => (i * 31) & 255);

function segments(isn: number, size: number) {
  const segs: Array<{ seq: number; off: number; len: number }> = [];
  for (let off = 0; off < data.length; off += size) {
    segs.push({ seq: (isn + 1 + off) >>> 0, off, len: Math.min(size, data.length - off) });
  }
  return segs;
}

Deno.test("TcpStream puts shuffled, duplicated and overlapping segments back in order across the 2^32 wrap", () => {
  for (const isn of [1000, 0xffffffff - 2500]) {
    const c = collect();
    const s = new TcpStream(c.sink);
    s.syn(isn);
    const segs = segments(isn, 300);
    // Duplicates and an overlapping resend of two segments merged.
    const extra = [segs[3]!, segs[7]!, { seq: segs[5]!.seq, off: segs[5]!.off, len: 600 }];
    for (const g of shuffle([...segs, ...extra], 7)) {
      s.segment(g.seq, data, g.off, g.len, g.len, 0);
    }
    s.finish(0);
    assert.deepEqual(c.chunks, Array.from(data), `isn ${isn}`);
    assert.deepEqual(c.gaps, []);
    assert.ok(s.stats.retransmits + s.stats.overlaps >= 3);
    assert.ok(s.stats.outOfOrder > 0);
  }
});

Deno.test("TcpStream declares a dropped segment a gap of its length and keeps everything around it", () => {
  const c = collect();
  const s = new TcpStream(c.sink, 1 << 20, 1e9);
  const segs = segments(42, 500);
  for (const [i, g] of segs.entries()) {
    if (i === 4) continue; // lost
    s.segment(g.seq, data, g.off, g.len, g.len, i);
  }
  s.finish(99);
  const expected = Array.from(data, (x, i) => (i >= 2000 && i < 2500 ? -1 : x));
  assert.deepEqual(c.chunks, expected);
  assert.deepEqual(c.gaps, [500]);
  assert.equal(s.stats.lostBytes, 500);
});

Deno.test("TcpStream starts mid-connection, treats snaplen-cut segments as losses, and gives up a hole after the hold time", () => {
  const c = collect();
  const s = new TcpStream(c.sink, 1 << 20, 1000);
  // No SYN: the first segment seen starts the stream. The second segment was cut to 100 bytes.
  s.segment(5000, data, 0, 500, 500, 0);
  s.segment(5500, data, 500, 100, 500, 1);
  s.segment(6000, data, 1000, 500, 500, 2);
  assert.deepEqual(c.gaps, [400]);
  // A hole (6500..7000 missing) held for longer than 1000 µs of capture time is given up.
  s.segment(7000, data, 2000, 500, 500, 10);
  assert.equal(s.buffered, 500);
  s.segment(7500, data, 2500, 500, 500, 2000);
  assert.deepEqual(c.gaps, [400, 500]);
  assert.equal(s.buffered, 0);
  assert.equal(c.chunks.length, 3000);
});
