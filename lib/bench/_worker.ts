// Runs one shard of a load test inside a Web Worker. Private to lib/bench.
import { errorMessage, MembenchError } from "../errors/mod.ts";
import { runShard, type ShardConfig } from "./shard.ts";

type Inbound = { type: "run"; cfg: ShardConfig } | { type: "go" } | { type: "stop" } | {
  type: "close";
};

const self_ = self as unknown as {
  postMessage(m: unknown): void;
  onmessage: ((e: MessageEvent<Inbound>) => void) | null;
  close(): void;
};

let go: (() => void) | undefined;
let abort: AbortController | undefined;

self_.onmessage = (e: MessageEvent<Inbound>) => {
  const m = e.data;
  if (m.type === "run") {
    abort = new AbortController();
    runShard(m.cfg, {
      ready: () => {
        self_.postMessage({ type: "ready" });
        return new Promise<void>((r) => go = r);
      },
      tick: (t) => self_.postMessage({ type: "tick", tick: t }),
      signal: abort.signal,
    }).then(
      (result) => self_.postMessage({ type: "done", result }),
      (err) =>
        self_.postMessage({
          type: "error",
          code: err instanceof MembenchError ? err.code : "internal",
          message: errorMessage(err),
        }),
    );
  } else if (m.type === "go") {
    go?.();
  } else if (m.type === "stop") {
    abort?.abort();
  } else if (m.type === "close") {
    self_.close();
  }
};
