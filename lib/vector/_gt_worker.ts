// Runs a share of the queries of a ground-truth computation inside a Web Worker. Private to
// lib/vector.
import { TopKSearch, type TopKSetup } from "./_topk.ts";

type Inbound =
  | { type: "init"; setup: TopKSetup }
  | { type: "block"; vectors: Float32Array; ids: Int32Array; norms: Float64Array; n: number }
  | { type: "finish"; maxNorm: number };

const self_ = self as unknown as {
  postMessage(m: unknown, transfer?: Transferable[]): void;
  onmessage: ((e: MessageEvent<Inbound>) => void) | null;
};

let search: TopKSearch | undefined;

self_.onmessage = (e: MessageEvent<Inbound>) => {
  const m = e.data;
  try {
    if (m.type === "init") {
      search = new TopKSearch(m.setup);
      self_.postMessage({ type: "ready", kernel: search.kernelKind });
    } else if (m.type === "block") {
      search!.add(m.vectors, m.ids, m.norms, m.n);
      self_.postMessage({ type: "done" });
    } else if (m.type === "finish") {
      const r = search!.finish(m.maxNorm);
      search = undefined;
      self_.postMessage({ type: "result", ...r }, [
        r.ids.buffer as ArrayBuffer,
        r.keys.buffer as ArrayBuffer,
      ]);
    }
  } catch (err) {
    self_.postMessage({
      type: "error",
      message: err instanceof Error ? err.stack ?? err.message : String(err),
    });
  }
};
