import { errorMessage, MembenchError } from "../errors/mod.ts";
import { type Endpoint, endpointName, type TlsOptions } from "./target.ts";
import type { Transport } from "./transport_type.ts";
import { socketAddress, SocketTransport } from "./uring.ts";

export type { Transport };

/** Options for {@linkcode openTransport}. */
export interface OpenTransportOptions {
  /** TLS settings; plain TCP when absent. */
  tls?: TlsOptions | undefined;
  /**
   * How long to wait for the connection (and TLS handshake).
   * @default {5000}
   */
  connectTimeoutMs?: number;
  /**
   * Open a libc socket ({@linkcode SocketTransport}) that the engine's io_uring loop can take
   * over. Only for plain TCP to an IP address; ignored otherwise.
   * @default {false}
   */
  socket?: boolean;
}

/** Whether {@linkcode openTransport} can give a libc socket for this endpoint (plain TCP, IP literal). */
export function socketCapable(endpoint: Endpoint, tls: TlsOptions | undefined): boolean {
  return endpoint.kind === "tcp" && tls === undefined &&
    socketAddress(endpoint.host, 1) !== undefined;
}

/**
 * Opens a TCP, TLS or unix-socket stream with `TCP_NODELAY`. Errors name the endpoint and what
 * failed (`127.0.0.1:6390: connection refused`).
 *
 * @throws {MembenchError} `connection` (refused, unreachable, timed out, TLS failure).
 */
export async function openTransport(
  endpoint: Endpoint,
  options: OpenTransportOptions = {},
): Promise<Transport> {
  const timeoutMs = options.connectTimeoutMs ?? 5000;
  const name = endpointName(endpoint);
  if (options.socket && endpoint.kind === "tcp" && socketCapable(endpoint, options.tls)) {
    return await SocketTransport.connect(endpoint.host, endpoint.port, name, timeoutMs);
  }
  const ac = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      ac.abort();
      reject(new MembenchError("connection", `${name}: connect timed out after ${timeoutMs} ms`));
    }, timeoutMs);
  });
  const attempt = connectOnce(endpoint, options.tls, ac.signal);
  try {
    return await Promise.race([attempt, timeout]);
  } catch (e) {
    // A connection that completes after the timeout must not leak.
    attempt.then((c) => c.close(), () => {});
    if (e instanceof MembenchError) throw e;
    throw new MembenchError("connection", `${name}: ${describeConnectError(e)}`, { cause: e });
  } finally {
    clearTimeout(timer);
  }
}

async function connectOnce(
  endpoint: Endpoint,
  tls: TlsOptions | undefined,
  signal: AbortSignal,
): Promise<Transport> {
  if (endpoint.kind === "unix") {
    if (tls) {
      throw new MembenchError(
        "invalid_argument",
        `${endpoint.path}: TLS over a unix socket is not supported`,
      );
    }
    return await Deno.connect({ transport: "unix", path: endpoint.path });
  }
  if (!tls) {
    const c = await Deno.connect({ hostname: endpoint.host, port: endpoint.port, signal });
    c.setNoDelay(true);
    return c;
  }
  const caCerts = tls.ca ? [tls.ca] : undefined;
  const sni = tls.serverName;
  if (sni !== undefined && sni !== endpoint.host) {
    if (tls.cert || tls.key) {
      throw new MembenchError(
        "invalid_argument",
        `${endpointName(endpoint)}: a TLS server name different from the host cannot be combined ` +
          `with a client certificate on this Deno; connect by the server's name instead`,
      );
    }
    const tcp = await Deno.connect({ hostname: endpoint.host, port: endpoint.port, signal });
    tcp.setNoDelay(true);
    try {
      const c = await Deno.startTls(tcp, {
        hostname: sni,
        ...(caCerts ? { caCerts } : {}),
        ...(tls.skipHostnameCheck ? { unsafelyDisableHostnameVerification: true } : {}),
      });
      await c.handshake();
      return c;
    } catch (e) {
      tcp.close();
      throw e;
    }
  }
  const base: Deno.ConnectTlsOptions = {
    hostname: endpoint.host,
    port: endpoint.port,
    ...(caCerts ? { caCerts } : {}),
    ...(tls.skipHostnameCheck ? { unsafelyDisableHostnameVerification: true } : {}),
  };
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    throw new MembenchError(
      "invalid_argument",
      `${endpointName(endpoint)}: a client certificate needs both cert and key`,
    );
  }
  const c = tls.cert !== undefined && tls.key !== undefined
    ? await Deno.connectTls({ ...base, cert: tls.cert, key: tls.key })
    : await Deno.connectTls(base);
  try {
    await c.handshake();
  } catch (e) {
    c.close();
    throw e;
  }
  return c;
}

function describeConnectError(e: unknown): string {
  if (e instanceof Deno.errors.ConnectionRefused) return "connection refused";
  if (e instanceof Deno.errors.NotFound) return `not found (${errorMessage(e)})`;
  if (e instanceof Deno.errors.PermissionDenied) return `permission denied (${errorMessage(e)})`;
  if (e instanceof Deno.errors.TimedOut) return "connect timed out";
  const m = errorMessage(e);
  if (/certificate|tls|handshake|UnknownIssuer|NotValidForName/i.test(m)) {
    return `TLS handshake failed: ${m}`;
  }
  return m;
}

/** Writes all of `p`, looping over partial writes. */
export async function writeAll(t: Transport, p: Uint8Array): Promise<void> {
  let off = 0;
  while (off < p.length) off += await t.write(off === 0 ? p : p.subarray(off));
}
