import { errorMessage, MembenchError } from "../errors/mod.ts";
import {
  encodeCommand,
  type RespArg,
  RespDecoder,
  respText,
  type RespValue,
} from "../protocol/resp/mod.ts";
import { endpointName, type Target } from "./target.ts";
import { openTransport, type Transport, writeAll } from "./transport.ts";

/** Options for {@linkcode RespConnection.open}. */
export interface RespConnectionOptions {
  /** Speak RESP3 (`HELLO 3`). @default {false} */
  resp3?: boolean;
  /** Name set with CLIENT SETNAME (or HELLO … SETNAME). */
  clientName?: string;
  /** Connect (and TLS handshake) timeout. @default {5000} */
  connectTimeoutMs?: number;
  /** How long a reply may take. @default {10000} */
  requestTimeoutMs?: number;
  /** Connect with a libc socket the io_uring loop can take over (plain TCP only). */
  socket?: boolean;
}

/**
 * A RESP connection for setup and control commands (handshake, INFO, CONFIG, FLUSHALL): simple,
 * one command at a time. The load engine takes over its {@linkcode RespConnection.transport} for
 * the hot loop after the handshake.
 */
export class RespConnection {
  /** The byte stream. */
  readonly transport: Transport;
  /** `host:port` for messages. */
  readonly name: string;
  #decoder: RespDecoder;
  #buf = new Uint8Array(64 * 1024);
  #timeoutMs: number;
  #closed = false;

  private constructor(transport: Transport, name: string, timeoutMs: number) {
    this.transport = transport;
    this.name = name;
    this.#timeoutMs = timeoutMs;
    this.#decoder = new RespDecoder({ name: `${name} reply stream` });
  }

  /**
   * Connects and performs the handshake: `HELLO 3` (with AUTH and SETNAME) or `AUTH`,
   * `CLIENT SETNAME`, then `SELECT`.
   *
   * @throws {MembenchError} `connection`, `auth` (WRONGPASS, NOAUTH) or `server`.
   */
  static async open(target: Target, options: RespConnectionOptions = {}): Promise<RespConnection> {
    const name = endpointName(target.endpoint);
    const t = await openTransport(target.endpoint, {
      tls: target.tls,
      connectTimeoutMs: options.connectTimeoutMs ?? 5000,
      socket: options.socket ?? false,
    });
    const c = new RespConnection(t, name, options.requestTimeoutMs ?? 10_000);
    try {
      await c.#handshake(target, options);
    } catch (e) {
      c.close();
      // A TLS port answers plain text by dropping the connection before any reply.
      if (
        e instanceof MembenchError && e.code === "connection" && target.tls === undefined &&
        e.hint === undefined
      ) {
        throw new MembenchError(
          "connection",
          `${e.message}: is this a TLS port?`,
          { hint: "add --tls: a server that only speaks TLS drops plain-text connections" },
        );
      }
      throw e;
    }
    return c;
  }

  async #handshake(target: Target, options: RespConnectionOptions): Promise<void> {
    if (options.resp3) {
      const args: RespArg[] = ["HELLO", "3"];
      if (target.password !== undefined) {
        args.push("AUTH", target.user ?? "default", target.password);
      }
      if (options.clientName) args.push("SETNAME", options.clientName);
      await this.#setup(args, "HELLO 3");
    } else {
      if (target.password !== undefined) {
        await this.#setup(
          target.user !== undefined
            ? ["AUTH", target.user, target.password]
            : ["AUTH", target.password],
          "AUTH",
        );
      }
      if (options.clientName) {
        await this.#setup(["CLIENT", "SETNAME", options.clientName], "CLIENT SETNAME");
      }
    }
    if (target.db !== undefined && target.db !== 0) {
      await this.#setup(["SELECT", target.db], `SELECT ${target.db}`);
    }
  }

  // Sends a setup command; an error reply becomes an `auth` or `server` error naming the command
  // (never its arguments, which may hold a password).
  async #setup(args: RespArg[], label: string): Promise<RespValue> {
    const r = await this.command(args, label);
    if (r.type === "error") {
      const auth = /^(WRONGPASS|NOAUTH|NOPERM)\b/.test(r.value) ||
        (/^ERR/.test(r.value) && /AUTH|password/i.test(r.value) && label === "AUTH");
      throw new MembenchError(
        auth ? "auth" : "server",
        `${this.name}: ${label} failed: ${r.value}`,
        auth ? { hint: "check the user name and password (-a, --user, or the URI)" } : {},
      );
    }
    return r;
  }

  /**
   * Sends one command and returns its reply (error replies are returned, not thrown).
   *
   * @param label Names the command in errors instead of its arguments.
   * @throws {MembenchError} `connection` if the server closes, `timeout` if it does not answer.
   */
  async command(args: readonly RespArg[], label?: string): Promise<RespValue> {
    const what = label ?? String(args[0]);
    try {
      await writeAll(this.transport, encodeCommand(args));
      return await this.#readReply(what);
    } catch (e) {
      if (e instanceof MembenchError) throw e;
      // A reset or broken pipe: the socket's own words, named.
      throw new MembenchError("connection", `${this.name}: ${errorMessage(e)} during ${what}`);
    }
  }

  /** Sends a command and returns its text (bulk or simple); an error reply throws `server`. */
  async text(args: readonly RespArg[]): Promise<string> {
    const r = await this.command(args);
    if (r.type === "error") {
      throw new MembenchError("server", `${this.name}: ${String(args[0])} failed: ${r.value}`);
    }
    return respText(r) ?? "";
  }

  async #readReply(label: string): Promise<RespValue> {
    const deadline = Date.now() + this.#timeoutMs;
    for (;;) {
      const v = this.#decoder.next();
      if (v !== undefined) {
        if (v.type === "push") continue; // out-of-band (RESP3); not our reply
        return v;
      }
      const left = deadline - Date.now();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const n = await Promise.race([
        this.transport.read(this.#buf),
        new Promise<"timeout">((res) =>
          timer = setTimeout(() => res("timeout"), Math.max(1, left))
        ),
      ]).finally(() => clearTimeout(timer));
      if (n === "timeout") {
        this.close();
        throw new MembenchError(
          "timeout",
          `${this.name}: no reply to ${label} within ${this.#timeoutMs} ms`,
        );
      }
      if (n === null) {
        throw new MembenchError(
          "connection",
          `${this.name}: server closed the connection during ${label}`,
        );
      }
      this.#decoder.feed(this.#buf.subarray(0, n));
    }
  }

  /** Closes the connection. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.transport.close();
    } catch {
      // already closed by the peer
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Parses `INFO` text into sections of key/value pairs. */
export function parseInfo(text: string): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  let section = "default";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line) continue;
    if (line.startsWith("#")) {
      section = line.slice(1).trim().toLowerCase();
      continue;
    }
    const i = line.indexOf(":");
    if (i < 0) continue;
    (out[section] ??= {})[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

/** Calls per command from `INFO commandstats` (`cmdstat_get:calls=10,…`), lower-case names. */
export function parseCommandStats(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    out[m[1]!.toLowerCase()] = Number(m[2]);
  }
  return out;
}
