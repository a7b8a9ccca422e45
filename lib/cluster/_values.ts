// This module uses no Deno APIs.
// Reading RESP values of the topology replies (CLUSTER SHARDS/SLOTS/NODES, ROLE, INFO): text and
// lists whatever RESP version the server answered in.
import type { RespValue } from "../protocol/resp/mod.ts";

const dec = new TextDecoder();

/** A value as text: bulk, verbatim, simple, error, integer or double; else "". */
export function str(v: RespValue | undefined): string {
  if (v === undefined) return "";
  if (v.type === "bulk" || v.type === "verbatim") return dec.decode(v.value);
  if (v.type === "simple" || v.type === "error") return v.value;
  if (v.type === "integer" || v.type === "double") return String(v.value);
  return "";
}

/** An array's (or set's) elements; else none. */
export function list(v: RespValue | undefined): RespValue[] {
  return v?.type === "array" || v?.type === "set" ? v.value : [];
}

/** `name: message`, unless the message names it already (connection errors do). */
export function withName(name: string, message: string): string {
  return message.startsWith(name) ? message : `${name}: ${message}`;
}
