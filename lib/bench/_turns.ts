// Connection turns shared by the shards of one load test. Private to lib/bench.
//
// Shards open their clients in a fixed order, dealt round-robin: turn t opens client
// floor(t / shards) of shard t % shards. A server that hands its accepted connections to its
// threads in turn (memcached does) then gives each shard's clients to the same server threads
// every run, and with as many shards as server threads, each shard talks to one server thread.
// On a machine that runs client and server together, a shard and its server thread then wake
// each other on one CPU instead of pulling each other across CPUs (bench/memcache_compare.ts).

/** The shared counter, and how many shards take turns. Plain data: it can be posted to a worker. */
export interface ConnectTurns {
  /** One Int32: the next turn, or -1 once the order is given up (a shard failed or timed out). */
  counter: SharedArrayBuffer;
  /** Shards taking turns. */
  shards: number;
}

/** A counter for `shards` shards, starting at turn 0. */
export function connectTurns(shards: number): ConnectTurns {
  return { counter: new SharedArrayBuffer(4), shards };
}

const GIVEN_UP = -1;

/**
 * Opens `count` clients of shard `shard` in their turns, calling `open(k)` for local client k.
 * Gives up the order (and opens at once) when a turn does not come within `timeoutMs`, so a
 * failed or slow shard never leaves the others waiting. A failed open passes its turn on and
 * ends the order, so that the caller's failure reaches its caller quickly.
 */
export async function openInTurns<T>(
  turns: ConnectTurns,
  shard: number,
  count: number,
  timeoutMs: number,
  open: (k: number) => Promise<T>,
  optional: (k: number) => boolean = () => false,
): Promise<PromiseSettledResult<T>[]> {
  const a = new Int32Array(turns.counter);
  const out: PromiseSettledResult<T>[] = [];
  for (let k = 0; k < count; k++) {
    const turn = k * turns.shards + shard;
    if (!(await waitTurn(a, turn, timeoutMs))) {
      // Unordered from here: open the rest together.
      const rest = Array.from({ length: count - k }, (_, i) => open(k + i));
      return out.concat(await Promise.allSettled(rest));
    }
    const r = (await Promise.allSettled([open(k)]))[0]!;
    out.push(r);
    // The last shard's last turn may leave others whose counts are one less: they never wait
    // for a turn past their own, so the counter simply stops.
    Atomics.compareExchange(a, 0, turn, r.status === "fulfilled" ? turn + 1 : GIVEN_UP);
    Atomics.notify(a, 0);
    if (r.status === "rejected") {
      // The order is given up. A connection the run can do without (a cluster node that is
      // down) does not end the phase: the rest open together, as the other shards' do.
      if (!optional(k)) return out;
      const rest = Array.from({ length: count - k - 1 }, (_, i) => open(k + 1 + i));
      return out.concat(await Promise.allSettled(rest));
    }
  }
  return out;
}

async function waitTurn(a: Int32Array, turn: number, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = Atomics.load(a, 0);
    if (v === turn) return true;
    if (v === GIVEN_UP) return false;
    const left = deadline - performance.now();
    if (left <= 0) {
      Atomics.store(a, 0, GIVEN_UP);
      Atomics.notify(a, 0);
      return false;
    }
    const w = Atomics.waitAsync(a, 0, v, left);
    if (!w.async) continue;
    // A pending waitAsync neither keeps Deno's event loop alive nor reliably wakes it when it
    // times out; a timer for the same time does both.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((r) => timer = setTimeout(r, left));
    try {
      await Promise.race([w.value, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}
