// Dot-product kernels for ground truth: WebAssembly SIMD (from _dots.wat), and a plain
// TypeScript one with the same layout for runtimes without relaxed SIMD. Private to lib/vector.
// This module uses no Deno APIs.

// wat2wasm --enable-relaxed-simd lib/vector/_dots.wat (see the header of _dots.wat).
const DOTS_WASM_BASE64 =
  "AGFzbQEAAAABDwJgAXsBfWAGf39/f39/AAMDAgABBQMBAAEHEQIGbWVtb3J5AgAEZG90cwABCs4EAhkAIAD9HwAgAP0fAZIgAP0fAiAA/R8DkpILsQQCB38LeyAEQQJ0IQZBACEHAkADQCAHIAFPDQEgACAHIAZsaiEKQQAhCAJAA0AgCCADTw0BIAIgCCAGbGohC/0MAAAAAAAAAAAAAAAAAAAAACEN/QwAAAAAAAAAAAAAAAAAAAAAIQ79DAAAAAAAAAAAAAAAAAAAAAAhD/0MAAAAAAAAAAAAAAAAAAAAACEQ/QwAAAAAAAAAAAAAAAAAAAAAIRH9DAAAAAAAAAAAAAAAAAAAAAAhEv0MAAAAAAAAAAAAAAAAAAAAACET/QwAAAAAAAAAAAAAAAAAAAAAIRRBACEJAkADQCAJIAZPDQEgCyAJav0ABAAhFiALIAZqIAlq/QAEACEXIAogCWr9AAQAIRUgFSAWIA39hQIhDSAVIBcgDv2FAiEOIAogBmogCWr9AAQAIRUgFSAWIA/9hQIhDyAVIBcgEP2FAiEQIAogBkEBdGogCWr9AAQAIRUgFSAWIBH9hQIhESAVIBcgEv2FAiESIAogBkEDbGogCWr9AAQAIRUgFSAWIBP9hQIhEyAVIBcgFP2FAiEUIAlBEGohCQwACwsgBSAHIANsIAhqQQJ0aiEMIAwgDRAAOAIAIAwgDhAAOAIEIAwgA0ECdGohDCAMIA8QADgCACAMIBAQADgCBCAMIANBAnRqIQwgDCAREAA4AgAgDCASEAA4AgQgDCADQQJ0aiEMIAwgExAAOAIAIAwgFBAAOAIEIAhBAmohCAwACwsgB0EEaiEHDAALCws=";

/** Which kernel runs: WebAssembly SIMD, or plain TypeScript. */
export type KernelKind = "wasm-simd" | "typescript";

/**
 * Dot products of a resident set of (padded) query rows with a chunk of (padded) base rows:
 * `out[i * nb + j] = q_i · b_j`. `q`, `b` and `out` are views to fill and read; `nqPad` is a
 * multiple of 4, chunks hold up to `chunkRows` rows (a multiple of 2), `dp` a multiple of 4.
 */
export class DotKernel {
  readonly kind: KernelKind;
  readonly nqPad: number;
  readonly dp: number;
  readonly chunkRows: number;
  readonly q: Float32Array;
  readonly b: Float32Array;
  readonly out: Float32Array;
  #run: (nb: number) => void;

  constructor(nqPad: number, dp: number, chunkRows: number, prefer: KernelKind = "wasm-simd") {
    if (nqPad % 4 || dp % 4 || chunkRows % 2) {
      throw new RangeError(`Cannot size a kernel for ${nqPad} x ${chunkRows} x ${dp}`);
    }
    this.nqPad = nqPad;
    this.dp = dp;
    this.chunkRows = chunkRows;
    const qn = nqPad * dp, bn = chunkRows * dp, on = nqPad * chunkRows;
    const wasm = prefer === "wasm-simd" ? instantiate() : undefined;
    if (wasm) {
      const bytes = (qn + bn + on) * 4;
      const mem = wasm.memory;
      const pages = Math.ceil(bytes / 65536) - mem.buffer.byteLength / 65536;
      if (pages > 0) mem.grow(pages);
      this.q = new Float32Array(mem.buffer, 0, qn);
      this.b = new Float32Array(mem.buffer, qn * 4, bn);
      this.out = new Float32Array(mem.buffer, (qn + bn) * 4, on);
      const dots = wasm.dots;
      this.#run = (nb) => dots(0, nqPad, qn * 4, nb, dp, (qn + bn) * 4);
      this.kind = "wasm-simd";
    } else {
      this.q = new Float32Array(qn);
      this.b = new Float32Array(bn);
      this.out = new Float32Array(on);
      this.#run = (nb) => dotsTs(this.q, nqPad, this.b, nb, dp, this.out);
      this.kind = "typescript";
    }
  }

  /** Fills `out` for the first `nb` rows of `b` (`nb` even). */
  run(nb: number): void {
    this.#run(nb);
  }
}

interface DotsExports {
  memory: WebAssembly.Memory;
  dots(q: number, nq: number, b: number, nb: number, dp: number, out: number): void;
}

let compiled: WebAssembly.Module | null | undefined;

function instantiate(): DotsExports | undefined {
  if (compiled === undefined) {
    const bytes = Uint8Array.from(atob(DOTS_WASM_BASE64), (c) => c.charCodeAt(0));
    compiled = WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
  }
  if (compiled === null) return undefined;
  // Each kernel owns its memory: one instance per kernel.
  return new WebAssembly.Instance(compiled).exports as unknown as DotsExports;
}

/** The same computation in TypeScript (a 4-query register tile). */
export function dotsTs(
  q: Float32Array,
  nq: number,
  b: Float32Array,
  nb: number,
  dp: number,
  out: Float32Array,
): void {
  for (let i = 0; i < nq; i += 4) {
    const q0 = i * dp, q1 = q0 + dp, q2 = q1 + dp, q3 = q2 + dp;
    for (let j = 0; j < nb; j++) {
      const bo = j * dp;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let t = 0; t < dp; t++) {
        const x = b[bo + t]!;
        s0 += q[q0 + t]! * x;
        s1 += q[q1 + t]! * x;
        s2 += q[q2 + t]! * x;
        s3 += q[q3 + t]! * x;
      }
      out[i * nb + j] = s0;
      out[(i + 1) * nb + j] = s1;
      out[(i + 2) * nb + j] = s2;
      out[(i + 3) * nb + j] = s3;
    }
  }
}
