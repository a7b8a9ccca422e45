// This module uses no Deno APIs.
/**
 * Which session a connection gets: its protocol, told from the server port and the client's
 * first bytes (or forced), and the session for that protocol.
 *
 * @module
 */
import { MembenchError } from "../errors/mod.ts";
import { memcacheCommand, type ProtocolName, respCommand } from "../protocol/mod.ts";
import { McAsciiSession } from "./mc_ascii_session.ts";
import { McBinarySession } from "./mc_binary_session.ts";
import { RespSession } from "./resp_session.ts";
import type { EventCallback, KeyHasher, Session } from "./session.ts";

/** Ports that suggest a protocol. */
export const DEFAULT_PORTS: Record<number, "memcache" | "resp"> = {
  11211: "memcache",
  6379: "resp",
};

const utf8 = new TextDecoder();

/**
 * Guesses a connection's protocol from the server port and the client's first bytes: binary
 * memcached by its magic, RESP by an array, memcached text or meta by a command word the
 * catalogue knows, inline RESP by a RESP command name (or the port).
 *
 * @returns The protocol, or undefined when the bytes say nothing yet.
 */
export function detectProtocol(
  first: Uint8Array,
  serverPort: number,
  hint?: "memcache" | "resp",
): ProtocolName | undefined {
  if (first.length === 0) return undefined;
  const c = first[0]!;
  if (c === 0x80) return "memcache-binary";
  if (c === 42) return "resp"; // '*'
  const family = hint ?? DEFAULT_PORTS[serverPort];
  const head = first.subarray(0, Math.min(first.length, 16));
  // A text command's first word must be whole before it says anything ("m" may become "mg").
  if (first.length < 16 && !head.some((b) => b === 32 || b === 13 || b === 10)) return undefined;
  const word = utf8.decode(head).split(/[ \r\n]/)[0]!;
  const form = memcacheCommand(word)?.form;
  const isMeta = form === "meta";
  const isText = form === "text";
  if (family === "memcache" || ((isMeta || isText) && family !== "resp")) {
    return isMeta ? "memcache-meta" : "memcache-text";
  }
  // Inline RESP is plain words: without a port hint, only a real command name counts (fuzz or
  // another protocol on an odd port must not be taken for RESP).
  if (family === "resp" || respCommand(word.toLowerCase())) return "resp";
  return undefined;
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
