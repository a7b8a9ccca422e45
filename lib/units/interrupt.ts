/**
 * Ctrl+C, once for everybody: the first SIGINT aborts a signal (stop and keep partial results),
 * a second one (later than {@linkcode SAME_CTRL_C_MS}) calls `onSecond` (a CLI exits at once
 * there). The CLI's command runner and a
 * scenario run from `deno run` both use it; nothing else listens to SIGINT.
 */
export interface Interrupt extends Disposable {
  /** Aborted by the first Ctrl+C (or by `abort()`). */
  readonly signal: AbortSignal;
  /** How many SIGINTs arrived. */
  readonly count: number;
  /** Aborts as a first Ctrl+C would. */
  abort(reason?: unknown): void;
}

/** What happens on each Ctrl+C. */
export interface InterruptOptions {
  /** After the first one has aborted the signal. */
  onFirst?(): void;
  /** On the second and later ones. */
  onSecond?(): void;
  /** The abort reason of the first one. */
  reason?: () => unknown;
  /** Listen to SIGINT at all (false: only `abort()` aborts). Default true. */
  listen?: boolean;
}

/**
 * A second SIGINT this soon after the first is the same Ctrl+C: a terminal signals the whole
 * process group, and a parent that forwards signals (`deno task`, npm, a shell wrapper) sends
 * the child another copy at once. Only a later one means "exit now".
 */
export const SAME_CTRL_C_MS = 500;

/** Listens to SIGINT until disposed (`using i = onInterrupt(...)`). */
export function onInterrupt(o: InterruptOptions = {}): Interrupt {
  const ac = new AbortController();
  let count = 0;
  let firstAt = 0;
  const listener = () => {
    const now = performance.now();
    if (count === 1 && now - firstAt < SAME_CTRL_C_MS) return; // the same keypress, forwarded
    count++;
    if (count === 1) {
      firstAt = now;
      if (!ac.signal.aborted) ac.abort(o.reason?.());
      o.onFirst?.();
    } else o.onSecond?.();
  };
  const listen = o.listen !== false;
  if (listen) Deno.addSignalListener("SIGINT", listener);
  return {
    signal: ac.signal,
    get count() {
      return count;
    },
    abort: (reason?: unknown) => {
      if (!ac.signal.aborted) ac.abort(reason ?? o.reason?.());
    },
    [Symbol.dispose]: () => {
      if (listen) Deno.removeSignalListener("SIGINT", listener);
    },
  };
}
