import { Unpackr } from "msgpackr";
import { MembenchError } from "../errors/mod.ts";
import { isProtocolName, PROTOCOL_NAMES } from "../protocol/mod.ts";
import {
  COLUMNS,
  crc32,
  type EventBlock,
  FrameKind,
  LEGACY_RESP_PROTOCOLS,
  MAX_FRAME,
  NO_VALUE,
  PROFILE_MAGIC,
  PROFILE_MIN_VERSION,
  PROFILE_VERSION,
  type ProfileConnection,
  type ProfileEvent,
  type ProfileFooter,
  type ProfileHeader,
  STATUS_NAMES,
  TRAILER_MAGIC,
} from "./spec.ts";

const unpackr = new Unpackr({ useRecords: false });

/** A byte source read front to back. */
export interface ProfileSource {
  /** Reads into `p`; the byte count, or null at the end. */
  read(p: Uint8Array): Promise<number | null>;
  /** Closes it. */
  close(): void;
}

/** Options for {@linkcode ProfileReader.open}. */
export interface ProfileReaderOptions {
  /**
   * Check each frame's CRC-32. Turn it off only for a file just read in full with checks on
   * (a replay's second pass), where it would cost time for nothing. @default {true}
   */
  verifyChecksums?: boolean;
}

/**
 * Reads a profile front to back in bounded memory (one frame at a time). `header` is read by
 * {@linkcode ProfileReader.open}; {@linkcode ProfileReader.blocks} yields event blocks and keeps
 * `connections` and `ops` up to date as their frames go by. A file cut short (no footer, or a
 * last frame that is incomplete) is read up to its last whole frame and flagged `truncated`
 * with a `warning`; a frame that fails its checksum, cannot be decoded, or decodes to fields
 * that are not the format's (a missing header field, an op table past 16-bit indexes) is
 * corruption and throws, naming the file, the byte offset and the field. The read buffer grows
 * with the bytes actually read, not with the lengths the file claims.
 *
 * @example Usage
 * ```ts ignore
 * const r = await ProfileReader.open("traffic.mbp");
 * for await (const b of r.blocks()) console.log(b.count);
 * if (r.truncated) console.warn(r.warning);
 * r.close();
 * ```
 */
export class ProfileReader {
  /** The header. */
  header!: ProfileHeader;
  /** Connections seen so far, by id. */
  readonly connections: Map<number, ProfileConnection> = new Map();
  /** Op names seen so far, by index. */
  readonly ops: string[] = [];
  /** Argument tokens seen so far, by index (format 2.1; empty before). */
  readonly tokens: string[] = [];
  /** The footer, once read (undefined for a truncated file). */
  footer: ProfileFooter | undefined;
  /** Whether the file ended before its footer. */
  truncated = false;
  /** Why it is considered truncated. */
  warning: string | undefined;
  /** Events read so far. */
  eventsRead = 0;

  #src: ProfileSource;
  #name: string;
  #buf = new Uint8Array(1 << 20);
  #start = 0;
  #end = 0;
  #eof = false;
  #offset = 0; // file offset of #buf[#start]
  #done = false;
  #verify = true;

  private constructor(src: ProfileSource, name: string) {
    this.#src = src;
    this.#name = name;
  }

  /**
   * Opens a profile and reads its header.
   *
   * @throws {MembenchError} `file` when the file is missing, not a profile, of another format
   *   version, or corrupted at its start.
   */
  static async open(path: string, options: ProfileReaderOptions = {}): Promise<ProfileReader> {
    let f: Deno.FsFile;
    try {
      f = await Deno.open(path, { read: true });
    } catch (e) {
      throw new MembenchError("file", `Cannot open profile ${path}: ${(e as Error).message}`);
    }
    try {
      return await ProfileReader.fromSource(f, path, options);
    } catch (e) {
      f.close();
      throw e;
    }
  }

  /** Reads a profile from any byte source. */
  static async fromSource(
    src: ProfileSource,
    name: string,
    options: ProfileReaderOptions = {},
  ): Promise<ProfileReader> {
    const r = new ProfileReader(src, name);
    r.#verify = options.verifyChecksums ?? true;
    await r.#fill(PROFILE_MAGIC.length);
    if (r.#end - r.#start < PROFILE_MAGIC.length) {
      throw r.#bad(0, `it is ${r.#end - r.#start} bytes long, shorter than the profile magic`);
    }
    for (let i = 0; i < 6; i++) {
      if (r.#buf[i] !== PROFILE_MAGIC[i]) {
        throw r.#bad(0, "wrong magic: this is not a membench profile");
      }
    }
    const version = r.#buf[7]!;
    if (version < PROFILE_MIN_VERSION || version > PROFILE_VERSION) {
      throw r.#bad(
        7,
        `format version ${version} is not supported (this membench reads ${PROFILE_MIN_VERSION} to ${PROFILE_VERSION})`,
      );
    }
    r.#consume(PROFILE_MAGIC.length);
    const first = await r.#nextFrame();
    if (!first && r.truncated) {
      throw r.#bad(PROFILE_MAGIC.length, "the file ends inside its header");
    }
    if (!first || first.kind !== FrameKind.Header) {
      throw r.#bad(PROFILE_MAGIC.length, "the first frame is not a header");
    }
    const problem = misfit(first.payload, HEADER_FIELDS) ??
      misfit((first.payload as { anonymization: unknown }).anonymization, ANONYMIZATION_FIELDS);
    if (problem) throw r.#bad(first.at, `the header ${problem}`);
    r.header = first.payload as ProfileHeader;
    return r;
  }

  /** Yields each block of events in file order. */
  async *blocks(): AsyncGenerator<EventBlock> {
    for (;;) {
      const f = await this.#nextFrame();
      if (!f) return;
      if (f.kind === FrameKind.Connections) {
        const p = f.payload as { connections: ProfileConnection[] };
        const problem = misfit(p, { connections: "array" }) ??
          p.connections.map((c) =>
            misfit(c, CONNECTION_FIELDS, ["closeUs", "respVersion"]) ?? protocolMisfit(c)
          ).find((x) => x);
        if (problem) throw this.#bad(f.at, `a connections frame ${problem}`);
        for (const c of p.connections) {
          // A later record of a connection updates it; its protocol comes whole (with or
          // without a RESP version), never half from an earlier record.
          const named = withProtocolName(c);
          const next = { ...this.connections.get(c.id), ...named };
          if (named.respVersion === undefined) delete next.respVersion;
          this.connections.set(c.id, next);
        }
      } else if (f.kind === FrameKind.Events) {
        const p = f.payload as {
          count: number;
          opBase: number;
          newOps: string[];
          tokenBase?: number;
          newTokens?: string[];
          cols: Record<string, Uint8Array>;
        };
        const problem = misfit(p, EVENTS_FIELDS) ?? opTableMisfit(p.newOps, p.opBase) ??
          (p.newTokens === undefined
            ? undefined
            : tokenTableMisfit(p.newTokens, p.tokenBase ?? -1)) ??
          (Number.isSafeInteger(p.count) && p.count >= 0 ? undefined : "has a bad count");
        if (problem) throw this.#bad(f.at, `an events frame ${problem}`);
        p.newOps.forEach((n, i) => this.ops[p.opBase + i] = n);
        p.newTokens?.forEach((n, i) => this.tokens[p.tokenBase! + i] = n);
        const block = this.#decodeBlock(p, f.at);
        this.eventsRead += block.count;
        yield block;
      } else if (f.kind === FrameKind.Footer) {
        const p = f.payload as ProfileFooter;
        const problem = misfit(p, FOOTER_FIELDS) ?? opTableMisfit(p.ops, 0) ??
          (p.tokens === undefined ? undefined : tokenTableMisfit(p.tokens, 0));
        if (problem) throw this.#bad(f.at, `the footer ${problem}`);
        this.footer = p;
        this.footer.ops.forEach((n, i) => this.ops[i] = n);
        this.footer.tokens?.forEach((n, i) => this.tokens[i] = n);
        return;
      } else {
        throw this.#bad(f.at, `unknown frame kind ${f.kind}`);
      }
    }
  }

  /** Yields every event as a plain object (convenient, slower than blocks). */
  async *events(): AsyncGenerator<ProfileEvent> {
    for await (const b of this.blocks()) {
      for (let i = 0; i < b.count; i++) yield eventAt(b, i, this.ops);
    }
  }

  /** Closes the file. */
  close(): void {
    try {
      this.#src.close();
    } catch { /* closed */ }
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #decodeBlock(
    p: { count: number; cols: Record<string, Uint8Array> },
    at: number,
  ): EventBlock {
    const n = p.count;
    const out: Record<string, unknown> = { count: n };
    for (const [name, Ctor] of COLUMNS) {
      const bytes = p.cols[name];
      if (name === "shape" && bytes === undefined) {
        // A version 1 block: one request per event, none quiet.
        out[name] = new Uint8Array(n);
        continue;
      }
      if (name === "argc" && bytes === undefined) {
        // Before format 2.1: no arguments kept.
        out[name] = new Uint16Array(n);
        continue;
      }
      if (!(bytes instanceof Uint8Array) || bytes.length !== n * Ctor.BYTES_PER_ELEMENT) {
        throw this.#bad(at, `event block column '${name}' has the wrong length`);
      }
      // Copy into an aligned buffer (msgpack bytes may sit at any offset).
      const copy = new Uint8Array(bytes.length);
      copy.set(bytes);
      out[name] = new Ctor(copy.buffer);
    }
    const argc = out.argc as Uint16Array;
    const argOff = new Uint32Array(n + 1);
    for (let i = 0; i < n; i++) argOff[i + 1] = argOff[i]! + argc[i]!;
    const words = argOff[n]!;
    const raw = p.cols.argv;
    if (
      raw === undefined ? words !== 0 : !(raw instanceof Uint8Array) || raw.length !== words * 4
    ) {
      throw this.#bad(at, `event block column 'argv' has the wrong length`);
    }
    const argv = new Uint32Array(words);
    if (raw) new Uint8Array(argv.buffer).set(raw);
    out.argv = argv;
    out.argOff = argOff;
    return out as unknown as EventBlock;
  }

  async #nextFrame(): Promise<{ kind: number; payload: unknown; at: number } | undefined> {
    if (this.#done) return undefined;
    await this.#fill(5);
    const avail = this.#end - this.#start;
    if (avail === 0) return this.#truncate("it ends without a footer");
    if (avail >= 16 && this.#isTrailer()) return this.#truncate("it ends without a footer");
    if (avail < 5) {
      return this.#truncate(`its last frame header is cut short (${avail} of 5 bytes)`);
    }
    const v = new DataView(this.#buf.buffer, this.#start);
    const len = v.getUint32(0, true);
    const kind = this.#buf[this.#start + 4]!;
    const at = this.#offset;
    if (len > MAX_FRAME || kind < 1 || kind > 4) {
      throw this.#bad(at, `frame header is invalid (kind ${kind}, length ${len})`);
    }
    await this.#fill(5 + len + 4);
    if (this.#end - this.#start < 5 + len + 4) {
      return this.#truncate(
        `its last frame, at byte ${at}, is cut short (${this.#end - this.#start} of ${
          len + 9
        } bytes)`,
      );
    }
    const body = this.#buf.subarray(this.#start + 5, this.#start + 5 + len);
    const crc = new DataView(this.#buf.buffer, this.#start + 5 + len, 4).getUint32(0, true);
    if (this.#verify && crc32(body) !== crc) {
      throw this.#bad(at, "frame fails its checksum (the file is corrupted)");
    }
    let payload: unknown;
    try {
      payload = unpackr.unpack(body.slice());
    } catch (e) {
      throw this.#bad(at, `frame cannot be decoded: ${(e as Error).message}`);
    }
    this.#consume(5 + len + 4);
    if (kind === FrameKind.Footer) this.#done = true;
    return { kind, payload, at };
  }

  #isTrailer(): boolean {
    for (let i = 0; i < 6; i++) if (this.#buf[this.#start + i] !== TRAILER_MAGIC[i]) return false;
    return true;
  }

  #truncate(why: string): undefined {
    this.#done = true;
    this.truncated = true;
    this.warning =
      `Profile ${this.#name} is truncated: ${why}; read ${this.eventsRead} events up to byte ${this.#offset}`;
    return undefined;
  }

  #consume(n: number): void {
    this.#start += n;
    this.#offset += n;
  }

  // Makes sure `n` bytes are buffered (fewer at the end of the file). The buffer grows only as
  // bytes arrive (doubling, at most to `n`), so that a frame length that claims more than the
  // file holds costs no memory: the buffer follows the file, not what its headers say.
  async #fill(n: number): Promise<void> {
    if (this.#end - this.#start >= n) return;
    if (this.#start > 0) {
      this.#buf.copyWithin(0, this.#start, this.#end);
      this.#end -= this.#start;
      this.#start = 0;
    }
    while (this.#end - this.#start < n && !this.#eof) {
      if (this.#end === this.#buf.length) {
        const nb = new Uint8Array(Math.min(n, this.#buf.length * 2));
        nb.set(this.#buf.subarray(0, this.#end));
        this.#buf = nb;
      }
      const got = await this.#src.read(this.#buf.subarray(this.#end));
      if (got === null) this.#eof = true;
      else this.#end += got;
    }
  }

  #bad(at: number, what: string): MembenchError {
    return new MembenchError("file", `Cannot read profile ${this.#name} at byte ${at}: ${what}`);
  }
}

// Frames are checked against the format before use: a file that decodes to something else (a
// writer's bug, or corruption that kept its checksum) is an error naming the frame and the field,
// never a TypeError in the reader or in what reads the profile after it.

type Kind = "number" | "string" | "boolean" | "map" | "array";

const HEADER_FIELDS: Record<string, Kind> = {
  formatVersion: "number",
  tool: "string",
  createdAt: "string",
  startUs: "number",
  source: "string",
  anonymization: "map",
};
const ANONYMIZATION_FIELDS: Record<string, Kind> = {
  scheme: "string",
  saltFingerprint: "string",
  keepTokens: "number",
  tokenDelimiter: "string",
  keepSlots: "boolean",
};
const CONNECTION_FIELDS: Record<string, Kind> = {
  id: "number",
  protocol: "string",
  openUs: "number",
  closeUs: "number",
  sawOpen: "boolean",
  sawClose: "boolean",
  respVersion: "number",
};
const EVENTS_FIELDS: Record<string, Kind> = {
  count: "number",
  opBase: "number",
  newOps: "array",
  cols: "map",
};
const FOOTER_FIELDS: Record<string, Kind> = {
  events: "number",
  blocks: "array",
  ops: "array",
  opCounts: "map",
  connections: "number",
  capture: "map",
  endUs: "number",
};

function kindOf(x: unknown): string {
  if (Array.isArray(x)) return "an array";
  if (x instanceof Uint8Array) return "bytes";
  if (x === null || x === undefined) return String(x);
  if (typeof x === "object") return "a map";
  return `a ${typeof x}`;
}

/** What is wrong with `x` as a map with these fields, as a phrase; undefined when it fits. */
function misfit(
  x: unknown,
  fields: Record<string, Kind>,
  optional: readonly string[] = [],
): string | undefined {
  if (kindOf(x) !== "a map") return `is ${kindOf(x)}, not a map`;
  for (const [name, kind] of Object.entries(fields)) {
    const v = (x as Record<string, unknown>)[name];
    if (v === undefined && optional.includes(name)) continue;
    const got = kindOf(v);
    const want = kind === "array" ? "an array" : `a ${kind}`;
    if (got !== want) return `has '${name}' ${got === "undefined" ? "missing" : `as ${got}`}`;
  }
  return undefined;
}

// A connection's protocol must be a protocol name, or a RESP name of profiles written before
// one protocol name (`resp2`, `resp3`); a RESP version, 2 or 3 on a RESP connection.
function protocolMisfit(c: ProfileConnection): string | undefined {
  const legacy = LEGACY_RESP_PROTOCOLS.get(c.protocol);
  if (!isProtocolName(c.protocol) && legacy === undefined) {
    return `has 'protocol' ${JSON.stringify(c.protocol)}, not one of ${PROTOCOL_NAMES.join(", ")}`;
  }
  if (c.respVersion === undefined) return undefined;
  if (c.protocol !== "resp" || (c.respVersion !== 2 && c.respVersion !== 3)) {
    return `has 'respVersion' ${c.respVersion} on a ${c.protocol} connection`;
  }
  return undefined;
}

// The connection with `resp2`/`resp3` read as protocol `resp` and its RESP version.
function withProtocolName(c: ProfileConnection): ProfileConnection {
  const legacy = LEGACY_RESP_PROTOCOLS.get(c.protocol);
  return legacy === undefined ? c : { ...c, protocol: "resp", respVersion: legacy };
}

// Op indexes are 16 bits: the table has at most 65,536 names, all strings.
function opTableMisfit(names: unknown[], base: number): string | undefined {
  if (!Number.isSafeInteger(base) || base < 0 || base + names.length > 0x10000) {
    return `has an op table past 16-bit op indexes (${names.length} names from index ${base})`;
  }
  return names.some((n) => typeof n !== "string")
    ? "has an op name that is not a string"
    : undefined;
}

// The token table: strings, indexed from a base that continues the table read so far.
function tokenTableMisfit(names: unknown, base: number): string | undefined {
  if (!Array.isArray(names)) return "has 'newTokens' that is not an array";
  if (!Number.isSafeInteger(base) || base < 0 || base + names.length > 0x1fffffff) {
    return `has a bad token table base (${base})`;
  }
  return names.some((n) => typeof n !== "string") ? "has a token that is not a string" : undefined;
}

/** Event `i` of a block as a plain object. */
export function eventAt(b: EventBlock, i: number, ops: readonly string[]): ProfileEvent {
  const keyLen = b.keyLen[i]!;
  return {
    t: b.t[i]!,
    conn: b.conn[i]!,
    op: ops[b.op[i]!] ?? `op${b.op[i]}`,
    key: keyLen === 0
      ? ""
      : b.keyHi[i]!.toString(16).padStart(8, "0") + b.keyLo[i]!.toString(16).padStart(8, "0"),
    keyLen,
    valueLen: b.valueLen[i] === NO_VALUE ? -1 : b.valueLen[i]!,
    flags: b.flags[i]!,
    ttl: b.ttl[i]!,
    status: STATUS_NAMES[b.status[i]!] ?? `status${b.status[i]}`,
    latencyUs: Number.isNaN(b.latency[i]!) ? null : b.latency[i]!,
    slot: b.slot[i]!,
    seq: b.seq[i]!,
  };
}

/** What {@linkcode verifyProfile} found. */
export interface ProfileCheck {
  /** Whole, with every checksum right and the footer's totals matching. */
  ok: boolean;
  /** Events read. */
  events: number;
  /** Event blocks read. */
  blocks: number;
  /** Whether the file was cut short. */
  truncated: boolean;
  /** Problems found, one sentence each. */
  problems: string[];
}

/**
 * Reads a whole profile and checks it: magic, version, every frame's checksum, the footer, and
 * that the footer's totals match what was read. Corruption is reported, not thrown.
 */
export async function verifyProfile(path: string): Promise<ProfileCheck> {
  const out: ProfileCheck = { ok: false, events: 0, blocks: 0, truncated: false, problems: [] };
  let r: ProfileReader;
  try {
    r = await ProfileReader.open(path);
  } catch (e) {
    out.problems.push((e as Error).message);
    return out;
  }
  try {
    for await (const b of r.blocks()) {
      out.blocks++;
      out.events += b.count;
    }
  } catch (e) {
    out.problems.push((e as Error).message);
  } finally {
    r.close();
  }
  out.truncated = r.truncated;
  if (r.warning) out.problems.push(r.warning);
  if (r.footer && r.footer.events !== out.events) {
    out.problems.push(`footer says ${r.footer.events} events, the blocks hold ${out.events}`);
  }
  out.ok = out.problems.length === 0;
  return out;
}
