// This module uses no Deno APIs.
// Vector bytes in the index's element type. FLOAT32 blobs are views of the float32 rows
// themselves (no copy); other types are converted once per block of rows, never per request.
import type { VectorType } from "./platform.ts";

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

function toHalf(v: number): number {
  f32[0] = v;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf, nan
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow
  let h: number, rem: number, half: number;
  if (e <= 0) {
    if (e < -10) return sign; // underflow to zero
    mant |= 0x800000;
    const shift = 14 - e;
    h = mant >>> shift;
    rem = mant & ((1 << shift) - 1);
    half = 1 << (shift - 1);
  } else {
    h = (e << 10) | (mant >>> 13);
    rem = mant & 0x1fff;
    half = 0x1000;
  }
  // Round to nearest, ties to even (a carry into the exponent is right, up to infinity).
  if (rem > half || (rem === half && (h & 1))) h++;
  return sign | h;
}

function toBfloat16(v: number): number {
  f32[0] = v;
  const x = u32[0]!;
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff)) return (x >>> 16) | 0x40; // nan
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

/**
 * The bytes of `rows` float32 vectors in `type`: a view of `v` for FLOAT32, a converted copy
 * (made once for the whole block) otherwise.
 */
export function blockBytes(v: Float32Array, type: VectorType): Uint8Array {
  if (type === "FLOAT32") return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  if (type === "FLOAT64") {
    const d = Float64Array.from(v);
    return new Uint8Array(d.buffer);
  }
  const h = new Uint16Array(v.length);
  const conv = type === "FLOAT16" ? toHalf : toBfloat16;
  for (let i = 0; i < v.length; i++) h[i] = conv(v[i]!);
  return new Uint8Array(h.buffer);
}
