// mergeEncoded reads the encoded parts itself: checked against hdr-histogram-js's own decoding
// and adding of the same parts.
import assert from "node:assert/strict";
import * as hdr from "hdr-histogram-js";
import {
  decodeHistogram,
  encodeHistogram,
  LatencyRecorder,
  MAX_TRACKABLE_US,
  mergeEncoded,
  mergeEncodedToEncoded,
  newHistogram,
  summarize,
} from "./histogram.ts";

function byHdr(parts: string[]) {
  const total = newHistogram();
  for (const p of parts) {
    const h = decodeHistogram(p);
    total.add(h);
    h.destroy();
  }
  const s = summarize(total);
  // The whole distribution, bucket by bucket, as hdr-histogram-js prints it.
  const counts = total.totalCount > 0 ? total.outputPercentileDistribution() : "";
  total.destroy();
  return { ...s, counts };
}

function byMerge(parts: string[]) {
  const total = mergeEncoded(parts);
  const s = summarize(total);
  // The whole distribution, bucket by bucket, as hdr-histogram-js prints it.
  const counts = total.totalCount > 0 ? total.outputPercentileDistribution() : "";
  total.destroy();
  return { ...s, counts };
}

Deno.test("mergeEncoded: the same sums, percentiles, min and max as hdr-histogram-js's decode and add", () => {
  // mulberry32: a fixed sequence (metrics may not import workload's RNG).
  let state = 7;
  const rng = {
    next(): number {
      state = (state + 0x6d2b79f5) | 0;
      let t = Math.imul(state ^ (state >>> 15), 1 | state);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    },
  };
  for (let trial = 0; trial < 40; trial++) {
    const parts: string[] = [];
    const n = 1 + Math.floor(rng.next() * 12);
    for (let k = 0; k < n; k++) {
      const h = newHistogram();
      const samples = Math.floor(rng.next() * 3000);
      const spread = 10 ** (1 + Math.floor(rng.next() * 9));
      for (let i = 0; i < samples; i++) {
        h.recordValue(1 + Math.floor(rng.next() ** 3 * spread));
      }
      if (rng.next() < 0.2) {
        h.recordValueWithCount(MAX_TRACKABLE_US, 1 + Math.floor(rng.next() * 5));
      }
      if (rng.next() < 0.2) h.recordValueWithCount(1, 2 ** 33); // counts past 32 bits
      parts.push(encodeHistogram(h));
      h.destroy();
    }
    assert.deepEqual(byMerge(parts), byHdr(parts), `trial ${trial}`);
  }
  assert.deepEqual(byMerge([]), byHdr([]));
});

Deno.test("mergeEncoded: a part of another layout is decoded by hdr-histogram-js", () => {
  const other = hdr.build({ bitBucketSize: 32, numberOfSignificantValueDigits: 2 });
  for (let v = 1; v < 5000; v += 7) other.recordValue(v);
  const mine = newHistogram();
  for (let v = 1; v < 5000; v += 3) mine.recordValue(v);
  const parts = [hdr.encodeIntoCompressedBase64(other), encodeHistogram(mine)];
  assert.deepEqual(byMerge(parts), byHdr(parts));
  other.destroy();
  mine.destroy();
});

Deno.test("mergeEncodedToEncoded: hdr-histogram-js decodes the written sum to the sum it builds itself", () => {
  let state = 11;
  const next = () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
  for (let trial = 0; trial < 30; trial++) {
    const parts: string[] = [];
    for (let k = 0; k < 2 + Math.floor(next() * 20); k++) {
      const h = newHistogram();
      const spread = 10 ** (1 + Math.floor(next() * 9));
      for (let i = 0; i < Math.floor(next() * 2000); i++) {
        h.recordValue(1 + Math.floor(next() ** 3 * spread));
      }
      if (next() < 0.2) h.recordValueWithCount(MAX_TRACKABLE_US, 2);
      if (next() < 0.2) h.recordValueWithCount(3, 2 ** 40);
      parts.push(encodeHistogram(h));
      h.destroy();
    }
    // Decoded by hdr-histogram-js itself, not by our reader.
    const written = hdr.decodeFromCompressedBase64(mergeEncodedToEncoded(parts), 32, false);
    const ref = newHistogram();
    for (const p of parts) {
      const h = hdr.decodeFromCompressedBase64(p, 32, false);
      ref.add(h);
      h.destroy();
    }
    assert.deepEqual(summarize(written), summarize(ref), `trial ${trial}`);
    assert.equal(
      written.totalCount > 0 ? written.outputPercentileDistribution() : "",
      ref.totalCount > 0 ? ref.outputPercentileDistribution() : "",
    );
    written.destroy();
    ref.destroy();
  }
});

Deno.test("mergeEncoded: a part that cannot be read fails its merge and leaves the next one right", () => {
  const h = newHistogram();
  for (let v = 1; v < 3000; v += 7) h.recordValue(v);
  const good = encodeHistogram(h);
  h.destroy();
  const before = summarize(mergeEncoded([good, good]));
  // A part in our layout followed by one that is not a histogram at all.
  assert.throws(() => mergeEncoded([good, "bm90IGEgaGlzdG9ncmFt"]));
  assert.deepEqual(summarize(mergeEncoded([good, good])), before);
  assert.equal(mergeEncodedToEncoded([good, good]), mergeEncodedToEncoded([good, good]));
});

// LatencyRecorder counts small values in an array and moves them into its HDR histogram when it
// is read: the result must be what hdr-histogram-js's own recordValue gives for the same values
// (every bucket, the minimum, the maximum, the mean), over reads and resets in between.
Deno.test("LatencyRecorder gives the histogram hdr-histogram-js's recordValue gives", () => {
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const draw = () => {
    const r = rand();
    if (r < 0.05) return -3 + rand() * 3; // clamped to 0
    if (r < 0.5) return rand() * 2048; // exact buckets
    if (r < 0.85) return 2048 + rand() * 14_336; // below 16,384 µs, wider buckets
    if (r < 0.99) return 16_384 + rand() * 5e6; // straight to the histogram
    return MAX_TRACKABLE_US * (0.5 + rand()); // some clamped at the top
  };
  const rec = new LatencyRecorder();
  for (let round = 0; round < 4; round++) {
    const ref = newHistogram();
    const n = [1, 50_000, 3, 200_000][round]!;
    for (let i = 0; i < n; i++) {
      const us = draw();
      rec.record(us);
      ref.recordValue(us <= 0 ? 0 : us < MAX_TRACKABLE_US ? Math.round(us) : MAX_TRACKABLE_US);
      // A read in the middle moves the counts so far; later ones must add to them.
      if (i === Math.floor(n / 2)) assert.equal(rec.histogram.totalCount, i + 1);
    }
    const h = rec.histogram;
    assert.equal(h.totalCount, n);
    assert.equal(h.minNonZeroValue, ref.minNonZeroValue);
    assert.equal(h.maxValue, ref.maxValue);
    assert.equal(h.mean, ref.mean);
    assert.equal(h.outputPercentileDistribution(), ref.outputPercentileDistribution());
    assert.equal(encodeHistogram(h), encodeHistogram(ref));
    ref.destroy();
    rec.reset();
    assert.equal(rec.histogram.totalCount, 0);
  }
  rec.destroy();
});
