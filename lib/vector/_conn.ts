// Targets, connections and the engine for the vector phases: option checks shared by load and
// query, the control connection (FT.*, INFO) and the engine's pipelined connections.
import { MembenchError } from "../errors/mod.ts";
import { resolveServerMetrics, ServerMonitor, type ServerReport } from "../monitor/mod.ts";
import {
  chooseIo,
  Engine,
  type EngineOptions,
  parseTarget,
  PipelinedConnection,
  type ReplyReader,
  RespConnection,
  type Scheduler,
  type Target,
  type Transport,
} from "../net/mod.ts";
import { detectPlatform } from "./server.ts";
import { DEFAULT_INDEX_NAME } from "./index_spec.ts";
import { type VssPlatform, vssPlatform } from "./platform.ts";
import type { VectorConnectOptions } from "./search_types.ts";

/** Checks the connection options; pushes one sentence per problem. */
export function connectProblems(o: VectorConnectOptions, problems: string[], pipeline: number) {
  const int = (name: string, v: unknown, min: number, max: number) => {
    if (v !== undefined && (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max)) {
      problems.push(
        `Cannot use '${name}': must be an integer from ${min} to ${max}: current value is ${
          JSON.stringify(v)
        }`,
      );
    }
  };
  int("clients", o.clients, 1, 10_000);
  int("pipeline", o.pipeline ?? pipeline, 1, 100_000);
  int("connectTimeoutMs", o.connectTimeoutMs, 1, 3_600_000);
  int("requestTimeoutMs", o.requestTimeoutMs, 1, 86_400_000);
  if (o.io !== undefined && o.io !== "auto" && o.io !== "uring" && o.io !== "deno") {
    problems.push(
      `Cannot use 'io': must be one of auto, uring, deno: current value is ${JSON.stringify(o.io)}`,
    );
  }
  if (o.platform !== undefined && o.platform !== "auto") {
    try {
      vssPlatform(o.platform);
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  try {
    resolveTarget(o);
  } catch (e) {
    problems.push((e as Error).message);
  }
}

/** The target of the options, with credentials applied. */
export function resolveTarget(o: VectorConnectOptions): Target {
  const t = typeof o.target === "object"
    ? { ...o.target }
    : parseTarget(o.target ?? "127.0.0.1:6379");
  if (o.password !== undefined) t.password = o.password;
  if (o.user !== undefined) t.user = o.user;
  return t;
}

/** The control connection and the platform, checked before any load. */
export async function openControl(
  o: VectorConnectOptions,
): Promise<{ control: RespConnection; platform: VssPlatform; target: Target; detected: boolean }> {
  const target = resolveTarget(o);
  const control = await RespConnection.open(target, {
    connectTimeoutMs: o.connectTimeoutMs ?? 5000,
    requestTimeoutMs: Math.max(o.requestTimeoutMs ?? 30_000, 10_000),
    clientName: "membench-vector-control",
  });
  try {
    // Even with a named platform, a server without the module is an error before any load.
    const found = await detectPlatform(control);
    const named = o.platform !== undefined && o.platform !== "auto";
    return {
      control,
      platform: named ? vssPlatform(o.platform!) : found,
      target,
      detected: !named,
    };
  } catch (e) {
    control.close();
    throw e;
  }
}

/** The engine's connections, opened (handshake done), and the engine over them. */
export async function openEngine(
  o: VectorConnectOptions,
  target: Target,
  replies: (name: string) => ReplyReader,
  capacity: number,
  outSize: number,
  scheduler: Scheduler,
  onReopen?: (c: PipelinedConnection) => void,
): Promise<{ engine: Engine; conns: PipelinedConnection[] }> {
  const clients = o.clients ?? 4;
  const chosen = chooseIo(o.io ?? "auto", [target]);
  if (chosen.problem) throw new MembenchError("invalid_argument", chosen.problem);
  const io = chosen.io;
  const open = async (t: Target): Promise<Transport> => {
    const c = await RespConnection.open(t, {
      resp3: o.resp3 ?? false,
      connectTimeoutMs: o.connectTimeoutMs ?? 5000,
      requestTimeoutMs: o.requestTimeoutMs ?? 30_000,
      socket: io === "uring",
      clientName: "membench-vector",
    });
    return c.transport;
  };
  const conns: PipelinedConnection[] = [];
  for (let i = 0; i < clients; i++) {
    conns.push(
      new PipelinedConnection(
        i,
        i,
        target,
        replies(`reply stream of client ${i}`),
        capacity,
        outSize,
      ),
    );
  }
  const opened = await Promise.allSettled(conns.map((c) => open(c.target)));
  const failed = opened.find((r) => r.status === "rejected");
  if (failed) {
    for (const r of opened) if (r.status === "fulfilled") r.value.close();
    throw (failed as PromiseRejectedResult).reason;
  }
  opened.forEach((r, i) => conns[i]!.transport = (r as PromiseFulfilledResult<Transport>).value);
  const eo: EngineOptions = {
    io,
    open: async (c) => {
      const t = await open(c.target);
      onReopen?.(c);
      return t;
    },
    requestTimeoutMs: o.requestTimeoutMs ?? 30_000,
    reconnect: { maxAttempts: 5, baseDelayMs: 50, maxDelayMs: 1000, ...o.reconnect },
    ...(o.signal ? { signal: o.signal } : {}),
  };
  return { engine: new Engine(conns, eo, scheduler), conns };
}

/**
 * Runs a vector phase with the server's own figures around it when `serverMetrics` asks
 * (snapshots of INFO and of the index's FT.INFO before, during and after).
 */
export async function withServerMetrics<R extends { server?: ServerReport }>(
  o: VectorConnectOptions & { index?: { name?: string } },
  run: () => Promise<R>,
): Promise<R> {
  const index = o.index?.name ?? DEFAULT_INDEX_NAME;
  const problems: string[] = [];
  const settings = resolveServerMetrics(o.serverMetrics, problems);
  if (problems.length > 0) throw new MembenchError("invalid_argument", problems.join("\n"));
  if (!settings) return await run();
  const monitor = await ServerMonitor.start({
    ...settings,
    indexes: [...(settings.indexes ?? []), index],
    nodes: [{ target: resolveTarget(o), kind: "redis" }],
  });
  let r: R;
  try {
    r = await run();
  } catch (e) {
    await monitor.stop();
    throw e;
  }
  r.server = (await monitor.stop()).report;
  return r;
}
