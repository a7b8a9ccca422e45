// This module uses no Deno APIs.
/**
 * Which session a connection gets: its protocol, told from the server port and the client's
 * first bytes (or forced), and the session for that protocol.
 *
 * @module
 */
import { MembenchError } from "../errors/mod.ts";
import { memcacheCommand, type ProtocolName, respCommand } from "../protocol/mod.ts";
import { binOpInfo } from "../protocol/memcache/mod.ts";
import { McAsciiSession } from "./mc_ascii_session.ts";
import { McBinarySession } from "./mc_binary_session.ts";
import { RespSession } from "./resp_session.ts";
import type { EventCallback, KeyHasher, Session } from "./session.ts";

/** Ports that suggest a protocol. */
export const DEFAULT_PORTS: Record<number, "memcache" | "resp"> = {
  11211: "memcache",
  6379: "resp",
};

/**
 * Why a stream was refused: its client's first bytes are an HTTP request line, a TLS handshake,
 * an SSH banner, or anything else that is not a cache-protocol request (`unknown`).
 */
export type RefusedReason = "http" | "tls" | "ssh" | "unknown";

/** The reasons a stream may be refused, in the order summaries list them. */
export const REFUSED_REASONS: readonly RefusedReason[] = ["http", "tls", "ssh", "unknown"];

/** What a stream's first bytes say: a cache protocol, a refusal, or (undefined) nothing yet. */
export type Detection = { protocol: ProtocolName } | { refused: RefusedReason } | undefined;

/** Client bytes looked at to tell a text request's first line; longer lines are judged as cut. */
export const DETECT_LINE_MAX = 2048;

const latin1 = new TextDecoder("latin1");
// A request line that ends in an HTTP version is HTTP (`GET / HTTP/1.1`, `PRI * HTTP/2.0`); a
// memcached `get k` never ends so.
const HTTP_LINE = /\sHTTP\/\d(\.\d)?$/;
// What a RESP inline command name may look like on a RESP port when the catalogue does not know
// it (the server answers "unknown command", and the recording keeps it as `other`).
const INLINE_NAME = /^[A-Za-z][A-Za-z0-9_.|:-]*$/;

/**
 * Tells a connection's protocol from the client's first bytes (and the server port), and refuses
 * what is not a cache protocol. A stream gets a protocol only on a valid first request:
 * binary memcached (magic 0x80, a known opcode, a header that adds up), a RESP array of bulk
 * strings, a memcached text or meta command the catalogue knows (memcached is case-sensitive),
 * or an inline RESP command (a known name; on a RESP port, any command-like word). HTTP request
 * lines, TLS handshakes (records and SSLv2 hellos) and SSH banners are refused by name; any
 * other bytes are refused as `unknown`.
 *
 * @param first The client's first bytes (up to {@linkcode DETECT_LINE_MAX} are read).
 * @param serverPort The server port: 11211 and 6379 hint a family ({@linkcode DEFAULT_PORTS}).
 * @param hint A family hint that overrides the port's.
 * @param final No more bytes will come: judge what there is instead of waiting.
 * @returns The detection, or undefined when more bytes are needed.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const b = (s: string) => new TextEncoder().encode(s);
 * assert.deepEqual(classifyStream(b("get k\r\n"), 8080), { protocol: "memcache-text" });
 * assert.deepEqual(classifyStream(b("GET / HTTP/1.1\r\n"), 8080), { refused: "http" });
 * assert.equal(classifyStream(b("get k"), 8080), undefined); // the line is not whole yet
 * ```
 */
export function classifyStream(
  first: Uint8Array,
  serverPort: number,
  hint?: "memcache" | "resp",
  final = false,
): Detection {
  // Empty lines before a request (a telnet user pressing Enter) say nothing.
  let s = 0;
  while (s < first.length && (first[s] === 13 || first[s] === 10)) s++;
  const b = first.subarray(s, Math.min(first.length, s + DETECT_LINE_MAX));
  // Cut short: wait for more bytes, unless none will come.
  const wait: Detection = final ? { refused: "unknown" } : undefined;
  if (b.length === 0) return final && first.length > 0 ? { refused: "unknown" } : undefined;
  const c = b[0]!;
  if (c === 0x16) { // TLS record: handshake, version 3.x
    if (b.length < 3) return wait;
    return b[1] === 3 && b[2]! <= 4 ? { refused: "tls" } : { refused: "unknown" };
  }
  if (c >= 0x80) {
    if (b.length < 5) return wait;
    // SSLv2-compatible ClientHello: 2-byte length with the top bit set, type 1, version 2 or 3.x.
    if (b[2] === 1 && (b[3] === 3 || (b[3] === 0 && b[4] === 2))) return { refused: "tls" };
    if (c !== 0x80) return { refused: "unknown" };
    if (b.length < 24) return wait;
    const keyLen = (b[2]! << 8) | b[3]!;
    const extLen = b[4]!;
    const body = ((b[8]! << 24) | (b[9]! << 16) | (b[10]! << 8) | b[11]!) >>> 0;
    const ok = binOpInfo(b[1]!) !== undefined && b[5] === 0 && keyLen <= 250 &&
      keyLen + extLen <= body && body <= 1 << 30;
    return ok ? { protocol: "memcache-binary" } : { refused: "unknown" };
  }
  if (b.length < 4 && startsWith(SSH.subarray(0, b.length), b)) {
    return wait;
  }
  if (startsWith(b, SSH)) return { refused: "ssh" };
  if (c === 42) return respArray(b) ?? wait; // '*'
  // A text request: judge its whole first line.
  let end = b.indexOf(10);
  if (end < 0) {
    if (b.length < DETECT_LINE_MAX && !final) return undefined;
    end = b.length;
  }
  const line = latin1.decode(b.subarray(0, end > 0 && b[end - 1] === 13 ? end - 1 : end));
  if (HTTP_LINE.test(line) || line.startsWith("HTTP/")) return { refused: "http" };
  const word = line.split(/[ \t]/)[0]!;
  const family = hint ?? DEFAULT_PORTS[serverPort];
  const form = memcacheCommand(word)?.form;
  // memcached splits its lines on spaces only: its keys may hold control bytes (memaslap's start
  // with eight 0x10 bytes), so a known memcached command word is enough, NUL bytes aside.
  if ((form === "text" || form === "meta") && family !== "resp" && line.indexOf("\0") < 0) {
    return { protocol: form === "meta" ? "memcache-meta" : "memcache-text" };
  }
  // Other text requests are printable; tabs separate inline words.
  for (let i = 0; i < line.length; i++) {
    const k = line.charCodeAt(i);
    if ((k < 32 && k !== 9) || k === 127) return { refused: "unknown" };
  }
  if (family !== "memcache" || form === undefined) {
    if (respCommand(word.toLowerCase()) || (family === "resp" && INLINE_NAME.test(word))) {
      return { protocol: "resp" };
    }
  }
  return { refused: "unknown" };
}

const SSH = new TextEncoder().encode("SSH-");
const HTTP = new TextEncoder().encode("HTTP/");

// Whether `b` begins with all of `p`.
function startsWith(b: Uint8Array, p: Uint8Array): boolean {
  if (b.length < p.length) return false;
  for (let i = 0; i < p.length; i++) if (b[i] !== p[i]) return false;
  return true;
}

// `*N\r\n$L\r\n`: a RESP request (an array of bulk strings); undefined while cut short.
function respArray(b: Uint8Array): Detection {
  let i = 1;
  let n = 0;
  while (i < b.length && b[i]! >= 48 && b[i]! <= 57 && i < 12) n = n * 10 + b[i++]! - 48;
  if (i === b.length) return undefined;
  if (i === 1 || n < 1 || b[i] !== 13) return { refused: "unknown" };
  if (i + 1 === b.length) return undefined;
  if (b[i + 1] !== 10) return { refused: "unknown" };
  i += 2;
  if (i === b.length) return undefined;
  return b[i] === 36 ? { protocol: "resp" } : { refused: "unknown" }; // '$'
}

/**
 * Guesses a connection's protocol from the server port and the client's first bytes (see
 * {@linkcode classifyStream}, which also says why bytes were refused).
 *
 * @returns The protocol, or undefined when the bytes say nothing yet or are not a cache protocol.
 */
export function detectProtocol(
  first: Uint8Array,
  serverPort: number,
  hint?: "memcache" | "resp",
): ProtocolName | undefined {
  const d = classifyStream(first, serverPort, hint);
  return d && "protocol" in d ? d.protocol : undefined;
}

/**
 * Detection over a stream that may have been caught mid-request (no SYN seen): when the bytes
 * at `from` are not a request, it tries again at each following line start, so a capture that
 * begins inside a value still finds the connection's next request. Streams seen from their
 * SYN are judged on their first bytes only.
 *
 * @returns The detection, and where the next call should start (bytes before it were judged).
 */
export function detectInStream(
  head: Uint8Array,
  from: number,
  serverPort: number,
  o: { midStream: boolean; hint?: "memcache" | "resp"; final?: boolean },
): { detection: Detection; from: number } {
  let at = from;
  for (;;) {
    const d = classifyStream(head.subarray(at), serverPort, o.hint, o.final ?? false);
    if (d === undefined || "protocol" in d || !o.midStream || d.refused !== "unknown") {
      return { detection: d, from: at };
    }
    const nl = head.indexOf(10, at);
    if (nl < 0 || nl + 1 >= head.length) {
      return { detection: o.final ? d : undefined, from: nl < 0 ? at : nl + 1 };
    }
    at = nl + 1;
  }
}

/** What a server that speaks first says it is (memcached and Redis never speak first). */
export function classifyServerFirst(first: Uint8Array): RefusedReason {
  if (startsWith(first, SSH)) return "ssh";
  if (startsWith(first, HTTP)) return "http";
  if (first[0] === 0x16 && first[1] === 3) return "tls";
  return "unknown";
}

/**
 * Makes the session for a protocol; `respVersion` is the RESP version a connection speaks
 * from its first captured byte (3 when its HELLO 3 came before the capture).
 *
 * @throws {MembenchError} `invalid_argument` for a name that is not a protocol.
 */
export function newSession(
  protocol: ProtocolName,
  emit: EventCallback,
  hasher: KeyHasher,
  respVersion: 2 | 3 = 2,
): Session {
  switch (protocol) {
    case "memcache-text":
    case "memcache-meta":
      return new McAsciiSession(emit, hasher, protocol === "memcache-meta");
    case "memcache-binary":
      return new McBinarySession(emit, hasher);
    case "resp":
      return new RespSession(emit, hasher, respVersion);
    default:
      throw new MembenchError("invalid_argument", `Cannot decode protocol ${protocol}`);
  }
}
