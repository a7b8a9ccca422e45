// This module uses no Deno APIs.
/**
 * The text of bench's errors: what the first error of each kind said (decoded once per kind,
 * never per request, by the schedulers) and hints for the causes a newcomer meets first (another
 * protocol, an unknown command, a missing password). Imports no bench module, so that the
 * schedulers can use it.
 *
 * @module
 */
import { MembenchError } from "../errors/mod.ts";
import type { PipelinedConnection, ReplyReader } from "../net/mod.ts";
import type { ProtocolName } from "../protocol/mod.ts";

const latin1 = new TextDecoder("latin1");

/**
 * The text of the error reply `sc` just completed: the whole line when the reader keeps it (RESP:
 * `ERR unknown command 'FOO'…`), else its error word (memcached: `CLIENT_ERROR`).
 */
export function replyErrorText(sc: ReplyReader): string {
  const text = (sc as { errorText?: () => string }).errorText?.();
  return text !== undefined && text !== "" ? text : sc.errorCode() || "error reply";
}

/**
 * What a request that failed without a reply says: the parser's message and the first bytes
 * of the chunk it read for `protocol`, the timeout for `timeout`, a lost connection otherwise.
 */
export function failureText(
  c: PipelinedConnection,
  code: string,
  requestTimeoutMs: number,
): string {
  if (code === "timeout") return `no reply within ${requestTimeoutMs} ms (the request timeout)`;
  if (code === "protocol") {
    const got = excerpt(c.rbuf);
    const why = c.error?.message ?? "a reply membench could not parse";
    return got === "" ? why : `${why}; the bytes received began ${JSON.stringify(got)}`;
  }
  if (code === "connection") {
    return "the connection was lost with the request in flight (closed by the server, or a " +
      "read or write failed)";
  }
  return code;
}

// The first line of the last chunk read, printable ASCII only, at most 120 characters.
function excerpt(buf: Uint8Array): string {
  let end = 0;
  while (end < buf.length && end < 120 && buf[end] !== 13 && buf[end] !== 10) end++;
  const s = latin1.decode(buf.subarray(0, end));
  return s.replace(/[^\x20-\x7e]/g, (ch) => `\\x${ch.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

const MEMCACHED_WORDS =
  /(^|"|found ')(ERROR|CLIENT_ERROR|SERVER_ERROR|STORED|NOT_STORED|VALUE|END|EXISTS|NOT_FOUND|DELETED|TOUCHED|VERSION)\b|unknown type byte '[ECSVNDT]'/;
const RESP_START = /(^|")[-+$*:%_#,(=|~>][A-Za-z0-9]|found '[-+$*:%_#,(=|~>]'/;

/**
 * A hint for an error, when its cause is one a newcomer meets: the server answers in another
 * protocol, does not know the command, wants a password, holds another type under the key, or
 * is a cluster. `code` is the error's kind (`ERR`, `protocol`, …), `text` what it said.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const why = 'Malformed RESP in reply stream at byte 0: unknown type byte \'E\' (0x45)';
 * assert.match(errorHint("resp", "protocol", why)!, /--protocol memcache-text/);
 * assert.match(errorHint("memcache-text", "protocol", 'found \'-\' (0x2d)')!, /--protocol resp/);
 * assert.equal(errorHint("resp", "ERR", "ERR value is not an integer"), undefined);
 * ```
 */
export function errorHint(protocol: ProtocolName, code: string, text: string): string | undefined {
  const memcached = protocol.startsWith("memcache");
  if (memcached && (RESP_START.test(text) || /(^|")-(ERR|NOAUTH|WRONGTYPE)\b/.test(text))) {
    return "the server answers in RESP (Valkey/Redis): --protocol resp?";
  }
  if (memcached && protocol === "memcache-binary" && /found '[A-Z]'/.test(text)) {
    return "the server answers in text, not memcached's binary protocol: --protocol " +
      "memcache-text (or --protocol resp for Valkey/Redis)?";
  }
  if (!memcached && code === "protocol" && MEMCACHED_WORDS.test(text)) {
    return "the server answers in memcached's text protocol: --protocol memcache-text (or " +
      "memcache-meta, memcache-binary)?";
  }
  if (protocol === "memcache-meta" && code === "ERROR") {
    return "this memcached does not know the meta commands (memcached 1.6 and later do): " +
      "--protocol memcache-text?";
  }
  if (memcached && code === "ERROR") {
    return "memcached's ERROR means an unknown command: check the test names " +
      "(membench bench --help lists memcached's)";
  }
  if (!memcached && /^ERR unknown command/i.test(text)) {
    return "the server does not know this command: check its name, the server's version and " +
      "modules (redis-cli COMMAND INFO <name>); a trailing command is sent as written";
  }
  if (!memcached && /^ERR (unknown subcommand|wrong number of arguments)/i.test(text)) {
    return "check the command's arguments (redis-cli COMMAND DOCS <name>)";
  }
  if (code === "NOAUTH" || code === "WRONGPASS") {
    return "give the password with -a/--password (and --user for an ACL user)";
  }
  if (code === "NOPERM") return "the ACL user may not run this command or touch these keys";
  if (code === "WRONGTYPE") {
    return "the keys hold another type: use another --key-prefix, or FLUSHDB a test database";
  }
  if (code === "MOVED" || code === "ASK" || /^CROSSSLOT/.test(text)) {
    return "the server is a cluster node: --cluster";
  }
  if (code === "LOADING") return "the server is still loading its data set: wait, then rerun";
  if (code === "READONLY") return "the target is a replica: point at the primary";
  if (code === "OOM") return "the server is at maxmemory with a noeviction policy";
  return undefined;
}

/**
 * A `protocol` or `connection` error from the start of a test (the handshake) with a hint when
 * the server answers in another protocol; other errors are returned as they are.
 */
export function withProtocolHint(e: unknown, protocol: ProtocolName): unknown {
  if (!(e instanceof MembenchError) || e.hint !== undefined) return e;
  const hint = errorHint(protocol, e.code === "protocol" ? "protocol" : e.code, e.message);
  if (hint === undefined || !/protocol|RESP|memcached/i.test(hint)) return e;
  return new MembenchError(e.code, e.message, { hint, cause: e });
}
