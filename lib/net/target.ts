// This module uses no Deno APIs.
import { invalidArgument } from "../errors/mod.ts";

/** Where a server listens. */
export type Endpoint =
  | { kind: "tcp"; host: string; port: number }
  | { kind: "unix"; path: string };

/** TLS settings for a connection. */
export interface TlsOptions {
  /** PEM text of extra CA certificates to trust. */
  ca?: string;
  /** PEM text of the client certificate chain (mutual TLS). */
  cert?: string;
  /** PEM text of the client private key. */
  key?: string;
  /** Name to send in SNI and check the certificate against; default the host. */
  serverName?: string;
  /** Accept a certificate whose names do not match the host (chain is still verified). */
  skipHostnameCheck?: boolean;
}

/** A server and how to talk to it. Passwords live here only; they are never printed. */
export interface Target {
  /** Address. */
  endpoint: Endpoint;
  /** TLS, when the server expects it. */
  tls?: TlsOptions;
  /** ACL user name (Redis 6+). */
  user?: string;
  /** Password for AUTH; with `user`, an ACL password. */
  password?: string;
  /** Database number to SELECT. */
  db?: number;
}

/** `host:port` / `[v6]:port` / unix path, for messages. Never includes credentials. */
export function endpointName(e: Endpoint): string {
  if (e.kind === "unix") return e.path;
  return e.host.includes(":") ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`;
}

/**
 * Parses one target: `host:port`, `host` (default port), `[::1]:6379`, a unix socket path
 * (`/run/redis.sock`, `unix:///run/redis.sock`), or a URI `redis://[user:password@]host[:port][/db]`
 * / `rediss://…` (TLS).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const t = parseTarget("redis://app:s3cret@127.0.0.1:6380/2");
 * assert.deepEqual(t, {
 *   endpoint: { kind: "tcp", host: "127.0.0.1", port: 6380 }, user: "app", password: "s3cret", db: 2,
 * });
 * ```
 */
export function parseTarget(input: string, defaultPort = 6379): Target {
  const s = input.trim();
  if (s.startsWith("/")) return { endpoint: { kind: "unix", path: s } };
  if (s.startsWith("unix://")) {
    return { endpoint: { kind: "unix", path: decodeURIComponent(s.slice(7)) } };
  }
  if (/^rediss?:\/\//i.test(s) || /^valkeys?:\/\//i.test(s)) {
    let url: URL;
    try {
      url = new URL(s);
    } catch {
      throw invalidArgument("target", "not a valid URI", redactUri(s));
    }
    const secure = url.protocol === "rediss:" || url.protocol === "valkeys:";
    const host = url.hostname.replace(/^\[|\]$/g, "");
    if (!host) throw invalidArgument("target", "the URI has no host", redactUri(s));
    const t: Target = {
      endpoint: { kind: "tcp", host, port: url.port ? Number(url.port) : defaultPort },
    };
    if (secure) t.tls = {};
    if (url.username && url.password) t.user = decodeURIComponent(url.username);
    if (url.password) t.password = decodeURIComponent(url.password);
    else if (url.username) t.password = decodeURIComponent(url.username);
    const path = url.pathname.replace(/^\//, "");
    if (path) {
      const db = Number(path);
      if (!Number.isInteger(db) || db < 0) {
        throw invalidArgument("target", "the database must be a number", redactUri(s));
      }
      t.db = db;
    }
    return t;
  }
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (v6) return { endpoint: { kind: "tcp", host: v6[1]!, port: port(v6[2], defaultPort, s) } };
  const colon = s.lastIndexOf(":");
  if (colon > 0 && s.indexOf(":") === colon) {
    return {
      endpoint: {
        kind: "tcp",
        host: s.slice(0, colon),
        port: port(s.slice(colon + 1), defaultPort, s),
      },
    };
  }
  if (s.includes(":")) return { endpoint: { kind: "tcp", host: s, port: defaultPort } }; // bare IPv6
  if (!s) throw invalidArgument("target", "it is empty", input);
  return { endpoint: { kind: "tcp", host: s, port: defaultPort } };
}

function port(text: string | undefined, fallback: number, input: string): number {
  if (text === undefined || text === "") return fallback;
  const p = Number(text);
  if (!Number.isInteger(p) || p < 1 || p > 65535) {
    throw invalidArgument("port", "must be an integer in 1..65535", input);
  }
  return p;
}

/**
 * A text with the password of every URI in it (`redis://user:pw@host`) replaced by `***`; a
 * credential without a user name (`redis://pw@host`) is hidden whole. For messages, logs and
 * summaries.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(redactUri("redis://app:s3cret@h:6379"), "redis://app:***@h:6379");
 * assert.equal(redactUri("failed: rediss://pw@h:1 and redis://h:2"), "failed: rediss://***@h:1 and redis://h:2");
 * ```
 */
export function redactUri(s: string): string {
  return s.replace(
    /([a-z][a-z0-9+.-]*:\/\/)([^@/\s:]*)(:[^@/\s]*)?@/gi,
    (_m, scheme: string, user: string, pw: string | undefined) =>
      pw === undefined ? (user ? `${scheme}***@` : `${scheme}@`) : `${scheme}${user}:***@`,
  );
}
