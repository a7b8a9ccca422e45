import { errorMessage } from "../errors/mod.ts";
import { endpointName, McConnection, parseInfo, RespConnection, type Target } from "../net/mod.ts";

/** What a scenario's journal keeps about a server a phase talked to. */
export interface ServerInfo {
  /** `host:port` (no credentials). */
  target: string;
  /** `redis` (Valkey/Redis, RESP) or `memcached`. */
  kind: "redis" | "memcached";
  /** Server version, when it answered. */
  version?: string;
  /** Redis: `standalone`, `cluster` or `sentinel`; memcached: absent. */
  mode?: string;
  /** Redis: `master` or `replica`. */
  role?: string;
  /** Server threads (memcached) or I/O threads (Redis), when reported. */
  threads?: number;
  /** Why the server could not be asked. */
  error?: string;
}

/**
 * Asks a server for its version and topology (Redis `INFO server` and `INFO replication`,
 * memcached `stats`), for the run journal. Never throws: a server that cannot be asked gives
 * an `error` entry, and the phase itself reports the connection problem.
 */
export async function probeServer(
  target: Target,
  kind: "redis" | "memcached",
  options: { mcProtocol?: "text" | "meta" | "binary"; timeoutMs?: number } = {},
): Promise<ServerInfo> {
  const name = endpointName(target.endpoint);
  const timeoutMs = options.timeoutMs ?? 2000;
  try {
    if (kind === "redis") {
      const c = await RespConnection.open(target, {
        connectTimeoutMs: timeoutMs,
        requestTimeoutMs: timeoutMs,
        clientName: "membench-probe",
      });
      try {
        const info = parseInfo(await c.text(["INFO", "server"]));
        const repl = parseInfo(await c.text(["INFO", "replication"]));
        const s = info["server"] ?? {};
        const out: ServerInfo = { target: name, kind };
        const version = s["valkey_version"] ?? s["redis_version"];
        if (version) out.version = version;
        if (s["redis_mode"] ?? s["server_mode"]) out.mode = s["server_mode"] ?? s["redis_mode"]!;
        const role = repl["replication"]?.["role"];
        if (role) out.role = role;
        const threads = Number(s["io_threads_active"] ?? NaN);
        if (Number.isFinite(threads)) out.threads = threads;
        return out;
      } finally {
        c.close();
      }
    }
    // memcached: a binary-only server (-B binary) answers nothing to text, so use its protocol.
    const c = await McConnection.open(target, {
      protocol: options.mcProtocol === "binary" ? "binary" : "text",
      connectTimeoutMs: timeoutMs,
      requestTimeoutMs: timeoutMs,
    });
    try {
      if (options.mcProtocol === "binary") return { target: name, kind };
      const st = await c.stats();
      const out: ServerInfo = { target: name, kind };
      if (st["version"]) out.version = st["version"];
      const threads = Number(st["threads"] ?? NaN);
      if (Number.isFinite(threads)) out.threads = threads;
      return out;
    } finally {
      c.close();
    }
  } catch (e) {
    return { target: name, kind, error: errorMessage(e) };
  }
}
