import { MembenchError } from "../errors/mod.ts";
import {
  AsciiResponseParser,
  BinaryParser,
  BinOp,
  BinStatus,
  binStatusName,
  encodeBinary,
  encodeMcCommand,
  MC_STATUS_NAMES,
  McStatus,
  type McUnitEnd,
} from "../protocol/memcache/mod.ts";
import { endpointName, type Target } from "./target.ts";
import { openTransport, type Transport, writeAll } from "./transport.ts";

/** A memcached wire protocol. */
export type McProtocol = "text" | "meta" | "binary";

/** Options for {@linkcode McConnection.open}. */
export interface McConnectionOptions {
  /** Wire protocol; text and meta share the ASCII connection. @default {"text"} */
  protocol?: McProtocol;
  /** Connect timeout. @default {5000} */
  connectTimeoutMs?: number;
  /** Reply timeout. @default {10000} */
  requestTimeoutMs?: number;
  /** Connect with a libc socket the io_uring loop can take over (plain TCP only). */
  socket?: boolean;
}

/** One text/meta reply line, with its payload when it had one. */
export interface McReply {
  /** Status name as on the wire (`VALUE`, `STORED`, `VA`, `HD`, `EN`, …). */
  status: string;
  /** Status code. */
  code: McStatus;
  /** The whole line, without its line end. */
  line: string;
  /** Key (`VALUE key`, meta `k`). */
  key?: string;
  /** Client flags. */
  flags?: number;
  /** CAS. */
  cas?: number;
  /** A number reply's value. */
  number?: number;
  /** The payload (`VALUE`, `VA`). */
  value?: Uint8Array;
}

/** One binary response. */
export interface McBinaryReply {
  /** Opcode. */
  opcode: number;
  /** Status code. */
  status: number;
  /** Status name (`OK`, `NOT_FOUND`, …). */
  statusName: string;
  /** Opaque. */
  opaque: number;
  /** CAS. */
  cas: number;
  /** Key. */
  key: string;
  /** Client flags (get responses). */
  flags: number;
  /** Value. */
  value: Uint8Array;
}

const td = new TextDecoder();

/**
 * A memcached connection for setup, checks and tests: one request unit at a time, with the
 * replies returned whole (payloads included). The load engine uses {@linkcode openMemcache}
 * and its own hot loop instead.
 */
export class McConnection {
  /** The byte stream. */
  readonly transport: Transport;
  /** `host:port`. */
  readonly name: string;
  #timeoutMs: number;
  #rbuf = new Uint8Array(64 * 1024);
  #pending = new Uint8Array(0); // bytes read but not yet consumed
  #closed = false;

  private constructor(transport: Transport, name: string, timeoutMs: number) {
    this.transport = transport;
    this.name = name;
    this.#timeoutMs = timeoutMs;
  }

  /**
   * Connects and authenticates when the target has a password (SASL PLAIN for binary, the
   * ASCII `set` authentication of memcached's `-Y` option for text and meta).
   *
   * @throws {MembenchError} `connection` or `auth`.
   */
  static async open(target: Target, options: McConnectionOptions = {}): Promise<McConnection> {
    const t = await openMemcache(target, options);
    return new McConnection(t, endpointName(target.endpoint), options.requestTimeoutMs ?? 10_000);
  }

  /**
   * Sends a text/meta command (see `encodeMcCommand`) and returns the reply lines of its unit.
   *
   * @throws {MembenchError} `connection`, `timeout` or `protocol`.
   */
  async call(
    words: ReadonlyArray<string | number | Uint8Array>,
    value?: Uint8Array,
    end?: McUnitEnd,
  ): Promise<McReply[]> {
    const bytes = encodeMcCommand(words, value);
    const w0 = String(words[0]);
    const unit: McUnitEnd = end ??
      (["get", "gets", "gat", "gats", "stats"].includes(w0)
        ? { kind: "end", keys: 0 }
        : { kind: "line" });
    return await this.send(bytes, unit);
  }

  /** Sends raw text/meta bytes and reads replies until `unit` ends. */
  async send(bytes: Uint8Array, unit: McUnitEnd): Promise<McReply[]> {
    await writeAll(this.transport, bytes);
    for (;;) {
      // Control path, small replies: parse what has arrived from its start after every read.
      const got = this.#tryParse(unit);
      if (got) return got;
      await this.#readMore();
    }
  }

  #tryParse(unit: McUnitEnd): McReply[] | undefined {
    const buf = this.#pending;
    const p = new AsciiResponseParser(`${this.name} reply stream`);
    const out: McReply[] = [];
    let at = 0;
    while ((at = p.parse(buf, at, buf.length)) >= 0) {
      let value: Uint8Array | undefined;
      if (p.valueLength >= 0) {
        if (at + p.valueLength + 2 > buf.length) return undefined;
        value = buf.slice(at, at + p.valueLength);
        at = p.finishPayload(buf, at, buf.length);
      }
      const k = p.key();
      const r: McReply = { status: MC_STATUS_NAMES[p.status]!, code: p.status, line: p.text() };
      if (k) r.key = td.decode(k);
      if (p.clientFlags >= 0) r.flags = p.clientFlags;
      if (p.cas >= 0) r.cas = p.cas;
      if (p.status === McStatus.Number) r.number = p.number;
      if (value) r.value = value;
      out.push(r);
      const st = p.status;
      const isErr = st === McStatus.Error || st === McStatus.ClientError ||
        st === McStatus.ServerError;
      const done = unit.kind === "line" ||
        (unit.kind === "end" && (st === McStatus.End || isErr)) ||
        (unit.kind === "mn" && st === McStatus.MetaNoop);
      if (done) {
        this.#pending = buf.slice(at);
        return out;
      }
    }
    return undefined;
  }

  /** Sends binary packets and returns the responses up to one with `terminal` opcode. */
  async binary(packets: Uint8Array[], terminal: number): Promise<McBinaryReply[]> {
    for (const pkt of packets) await writeAll(this.transport, pkt);
    for (;;) {
      const buf = this.#pending;
      const p = new BinaryParser("responses", `${this.name} reply stream`);
      const out: McBinaryReply[] = [];
      let at = 0;
      while ((at = p.parse(buf, at, buf.length)) >= 0) {
        if (at + p.valueLength > buf.length) break; // the value is still arriving
        out.push({
          opcode: p.opcode,
          status: p.status,
          statusName: binStatusName(p.status),
          opaque: p.opaque,
          cas: p.cas,
          key: td.decode(p.key()),
          flags: p.clientFlags,
          value: buf.slice(at, at + p.valueLength),
        });
        at = p.finishPayload(buf, at, buf.length);
        if (p.opcode === terminal) {
          this.#pending = buf.slice(at);
          return out;
        }
      }
      await this.#readMore();
    }
  }

  /** `stats [group]` as name → value. */
  async stats(group?: string): Promise<Record<string, string>> {
    const r = await this.call(group ? ["stats", group] : ["stats"]);
    const out: Record<string, string> = {};
    for (const x of r) {
      if (x.code !== McStatus.Stat) continue;
      const parts = x.line.split(" ");
      out[parts[1]!] = parts.slice(2).join(" ");
    }
    return out;
  }

  async #readMore(): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const n = await Promise.race([
      this.transport.read(this.#rbuf),
      new Promise<"timeout">((res) => timer = setTimeout(() => res("timeout"), this.#timeoutMs)),
    ]).finally(() => clearTimeout(timer));
    if (n === "timeout") {
      this.close();
      throw new MembenchError("timeout", `${this.name}: no reply within ${this.#timeoutMs} ms`);
    }
    if (n === null) {
      throw new MembenchError("connection", `${this.name}: server closed the connection`);
    }
    const grown = new Uint8Array(this.#pending.length + n);
    grown.set(this.#pending);
    grown.set(this.#rbuf.subarray(0, n), this.#pending.length);
    this.#pending = grown;
  }

  /** Closes the connection. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.transport.close();
    } catch { /* closed by the peer */ }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Opens a connection to memcached and authenticates when `target.password` is set: binary
 * SASL PLAIN (`LIST_MECHS`, `AUTH`), or for text/meta the ASCII authentication of memcached's
 * `-Y` option (a `set` whose value is `user password`). The password is never put in an error.
 *
 * @throws {MembenchError} `connection`, `auth` (rejected credentials, or no SASL on the server).
 */
export async function openMemcache(
  target: Target,
  options: McConnectionOptions = {},
): Promise<Transport> {
  const t = await openTransport(target.endpoint, {
    tls: target.tls,
    connectTimeoutMs: options.connectTimeoutMs ?? 5000,
    socket: options.socket ?? false,
  });
  if (target.password === undefined) return t;
  const name = endpointName(target.endpoint);
  const user = target.user ?? "";
  try {
    const probe = new McConnection_(t, name, options.requestTimeoutMs ?? 10_000);
    if ((options.protocol ?? "text") === "binary") {
      const mechs = await probe.binary(
        [encodeBinary({ opcode: BinOp.SaslListMechs })],
        BinOp.SaslListMechs,
      );
      const m = mechs[0]!;
      if (m.status !== BinStatus.NoError) {
        throw new MembenchError(
          "auth",
          `${name}: the server offers no SASL authentication (${m.statusName})`,
          {
            hint: "start memcached with -S and SASL configured, or drop the password",
          },
        );
      }
      const list = td.decode(m.value).split(/\s+/);
      if (!list.includes("PLAIN")) {
        throw new MembenchError(
          "auth",
          `${name}: the server offers SASL ${list.join(", ")}, not PLAIN`,
        );
      }
      const cred = new TextEncoder().encode(`\0${user}\0${target.password}`);
      const r = await probe.binary([
        encodeBinary({ opcode: BinOp.SaslAuth, key: "PLAIN", value: cred }),
      ], BinOp.SaslAuth);
      if (r[0]!.status !== BinStatus.NoError) {
        throw new MembenchError(
          "auth",
          `${name}: SASL PLAIN authentication failed (${r[0]!.statusName})`,
          {
            hint: "check the user name and password (--user, -a)",
          },
        );
      }
    } else {
      const cred = new TextEncoder().encode(`${user} ${target.password}`);
      const r = await probe.send(encodeMcCommand(["set", "auth", 0, 0, cred.length], cred), {
        kind: "line",
      });
      if (r[0]?.code !== McStatus.Stored) {
        throw new MembenchError(
          "auth",
          `${name}: authentication failed (${r[0]?.line ?? "no reply"})`,
          {
            hint: "check the user name and password (--user, -a); the server needs memcached -Y",
          },
        );
      }
    }
    return t;
  } catch (e) {
    try {
      t.close();
    } catch { /* closed */ }
    throw e;
  }
}

// The constructor is private to McConnection; openMemcache borrows it for the handshake.
const McConnection_ = McConnection as unknown as new (
  t: Transport,
  name: string,
  timeoutMs: number,
) => McConnection;
