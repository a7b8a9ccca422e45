import { MembenchError } from "../errors/mod.ts";

/** One captured packet, as the readers hand it over: a view of their buffer, valid in the callback. */
export interface PacketView {
  /** Link-layer type (DLT/LINKTYPE: 1 Ethernet, 0 NULL, 113 SLL, 276 SLL2, 101 raw, …). */
  linkType: number;
  /**
   * Capture time, µs since the Unix epoch: fractional for finer resolutions, held to the nearest
   * double (a quarter µs in this century); `tsSec` and `tsNs` hold it exactly to the ns.
   */
  tsUs: number;
  /** Capture time, whole seconds since the Unix epoch. */
  tsSec: number;
  /** Nanoseconds within `tsSec` (a resolution finer than 1 ns is truncated, as Wireshark does). */
  tsNs: number;
  /** Buffer holding the packet. */
  buf: Uint8Array;
  /** Offset of the packet's first byte in `buf`. */
  off: number;
  /** Bytes captured. */
  capLen: number;
  /** Bytes on the wire (larger than `capLen` when the snaplen cut it). */
  origLen: number;
}

/** A byte source read front to back (a Deno.FsFile fits). */
export interface ByteSource {
  /** Reads into `p`; the byte count, or null at the end. */
  read(p: Uint8Array): Promise<number | null>;
  /** Closes it. */
  close(): void;
}

const PCAP_US = 0xa1b2c3d4;
const PCAP_NS = 0xa1b23c4d;
const PCAPNG_SHB = 0x0a0d0d0a;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const MAX_PACKET = 256 * 1024;
const MAX_BLOCK = 16 * 1024 * 1024;

/** One pcapng interface of the current section. */
interface Iface {
  linkType: number;
  /** Timestamp units per second (`if_tsresol`; 10^6 by default). */
  tps: number;
  /** The IDB's snaplen; 0 for none. */
  snapLen: number;
}

/**
 * Reads pcap and pcapng files with our own streaming parser, so offline work needs no libpcap.
 * pcap: microsecond and nanosecond magics, either byte order. pcapng: sections in either byte
 * order, several interfaces each with its link type and timestamp resolution (`if_tsresol`,
 * decimal or binary, converted exactly to seconds and ns), Enhanced and Simple Packet Blocks
 * (and the obsolete Packet Block); other blocks are skipped, and `if_tsoffset` is not applied.
 * A Simple Packet Block has no timestamp: its packet is given the time of the packet before it
 * in the file (0, the epoch, when none came before), so it keeps its place in time; `untimed`
 * counts such packets and `warning` says so. Its captured length is its original length cut to
 * the interface's snaplen, as the pcapng spec has it (the block's padding is never data).
 * Memory is one read buffer (grown only for a block larger than it, and only as its bytes
 * arrive: a length field that claims more than the file holds costs no memory). A file that is
 * not a capture, a cut-off header or a length that does not add up is an error naming the file and
 * byte offset; a file cut inside its last packet or block ends the read after the last whole
 * packet, with `truncated` set and `warning` naming the file and the byte offset of the cut record.
 *
 * @example Usage
 * ```ts ignore
 * const r = await CaptureFile.open("capture.pcap");
 * await r.forEach((p) => console.log(p.tsUs, p.capLen));
 * r.close();
 * ```
 */
export class CaptureFile {
  /** `pcap` or `pcapng`. */
  format: "pcap" | "pcapng" = "pcap";
  /** Packets read. */
  packets = 0;
  /** Bytes of packet data read. */
  bytes = 0;
  /** Packets whose capture was cut by the snaplen. */
  sliced = 0;
  /** Whether the file ended inside a record. */
  truncated = false;
  /** Packets without a timestamp of their own (pcapng Simple Packet Blocks). */
  untimed = 0;
  /** Interfaces seen (pcapng), or the one link type (pcap). */
  readonly linkTypes: number[] = [];

  #src: ByteSource;
  #name: string;
  #buf = new Uint8Array(1 << 20);
  #start = 0;
  #end = 0;
  #eof = false;
  #offset = 0; // file offset of #buf[#start]
  #le = true;
  #ns = false; // pcap: nanosecond timestamps
  #ifaces: Iface[] = []; // pcapng: the current section's interfaces
  #view: PacketView = {
    linkType: 0,
    tsUs: 0,
    tsSec: 0,
    tsNs: 0,
    buf: this.#buf,
    off: 0,
    capLen: 0,
    origLen: 0,
  };

  private constructor(src: ByteSource, name: string) {
    this.#src = src;
    this.#name = name;
  }

  /**
   * Opens a capture file and reads its global header (pcap) or first section header (pcapng).
   *
   * @throws {MembenchError} `file` naming the file: missing, unreadable, or not a capture.
   */
  static async open(path: string): Promise<CaptureFile> {
    let f: Deno.FsFile;
    try {
      f = await Deno.open(path, { read: true });
    } catch (e) {
      throw new MembenchError("file", `Cannot open capture ${path}: ${(e as Error).message}`);
    }
    try {
      return await CaptureFile.fromSource(f, path);
    } catch (e) {
      f.close();
      throw e;
    }
  }

  /** Reads a capture from any byte source. */
  static async fromSource(src: ByteSource, name: string): Promise<CaptureFile> {
    const r = new CaptureFile(src, name);
    await r.#fill(24);
    if (r.#avail < 4) {
      throw r.#bad(0, `file is ${r.#avail} bytes long: too short for a capture header`);
    }
    const b = r.#buf;
    const magicLe = (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
    const magicBe = ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
    if (magicLe === PCAPNG_SHB) {
      r.format = "pcapng";
      return r; // the section header is read as the first block
    }
    if (magicLe === PCAP_US || magicLe === PCAP_NS) r.#le = true;
    else if (magicBe === PCAP_US || magicBe === PCAP_NS) r.#le = false;
    else {
      throw r.#bad(
        0,
        `wrong magic 0x${magicBe.toString(16).padStart(8, "0")}: not a pcap or pcapng file`,
      );
    }
    if (r.#avail < 24) throw r.#bad(0, "pcap global header is cut short");
    r.#ns = (r.#le ? magicLe : magicBe) === PCAP_NS;
    const linkType = r.#u32(20) & 0x0fffffff;
    r.linkTypes.push(linkType);
    r.#view.linkType = linkType;
    r.#consume(24);
    return r;
  }

  /**
   * Calls `cb` for every packet, in file order, until it returns `false`. The view and its
   * buffer are reused: copy what must outlive the call.
   *
   * @throws {MembenchError} `file` for malformed records, with the byte offset.
   */
  async forEach(
    cb: (p: PacketView) => void | boolean | Promise<void | boolean>,
  ): Promise<void> {
    for (;;) {
      const got = this.format === "pcap" ? await this.#nextPcap() : await this.#nextBlock();
      if (got === 0) return;
      if (got === 1) {
        let r = cb(this.#view);
        if (r instanceof Promise) r = await r;
        if (r === false) return;
      }
    }
  }

  /** Closes the file. */
  close(): void {
    try {
      this.#src.close();
    } catch { /* closed */ }
  }

  get #avail(): number {
    return this.#end - this.#start;
  }

  // 0 end, 1 packet, 2 other record
  async #nextPcap(): Promise<0 | 1 | 2> {
    await this.#fill(16);
    if (this.#avail === 0) return 0;
    if (this.#avail < 16) {
      return this.#cut(`a record header is cut short (${this.#avail} of 16 bytes)`);
    }
    const sec = this.#u32(0);
    const frac = this.#u32(4);
    const capLen = this.#u32(8);
    const origLen = this.#u32(12);
    if (capLen > MAX_PACKET) {
      throw this.#bad(
        this.#offset,
        `record length ${capLen} is larger than ${MAX_PACKET}: the file is corrupted`,
      );
    }
    await this.#fill(16 + capLen);
    if (this.#avail < 16 + capLen) {
      return this.#cut(`the last packet is cut short (${this.#avail - 16} of ${capLen} bytes)`);
    }
    const v = this.#view;
    const perSec = this.#ns ? 1e9 : 1e6;
    // A fraction of a second or more (a writer's bug) is carried into the seconds.
    const carry = frac < perSec ? 0 : Math.floor(frac / perSec);
    v.tsSec = sec + carry;
    const f = frac - carry * perSec;
    v.tsNs = this.#ns ? f : f * 1000;
    v.tsUs = v.tsSec * 1e6 + (this.#ns ? f / 1000 : f);
    v.buf = this.#buf;
    v.off = this.#start + 16;
    v.capLen = capLen;
    v.origLen = origLen;
    this.#count(capLen, origLen);
    this.#consume(16 + capLen);
    return 1;
  }

  async #nextBlock(): Promise<0 | 1 | 2> {
    await this.#fill(12);
    if (this.#avail === 0) return 0;
    if (this.#avail < 12) {
      return this.#cut(`a block header is cut short (${this.#avail} of 12 bytes)`);
    }
    const at = this.#offset;
    const rawType = this.#u32le(0);
    if (rawType === PCAPNG_SHB) {
      // Section header: its byte-order magic decides the byte order of the whole section.
      const bom = this.#u32le(8);
      if (bom === BYTE_ORDER_MAGIC) this.#le = true;
      else if (bom === 0x4d3c2b1a) this.#le = false;
      else throw this.#bad(at + 8, "section header has no valid byte-order magic");
      this.#ifaces = [];
    }
    const type = this.#u32(0);
    const len = this.#u32(4);
    if (len < 12 || len % 4 !== 0 || len > MAX_BLOCK) {
      throw this.#bad(at, `block length ${len} is invalid (type 0x${type.toString(16)})`);
    }
    await this.#fill(len);
    if (this.#avail < len) {
      return this.#cut(`the last block is cut short (${this.#avail} of ${len} bytes)`);
    }
    if (this.#u32(len - 4) !== len) {
      throw this.#bad(
        at,
        `block length ${len} does not match its trailing copy ${this.#u32(len - 4)}`,
      );
    }
    let result: 1 | 2 = 2;
    switch (type) {
      case 0x00000001: // Interface Description Block
        this.#interface(len);
        break;
      case 0x00000006: // Enhanced Packet Block
      case 0x00000002: { // Packet Block (obsolete)
        const id = type === 6 ? this.#u32(8) : this.#u16(8);
        const iface = this.#ifaces[id];
        if (iface === undefined) {
          throw this.#bad(at, `packet names interface ${id}, which was not described`);
        }
        const capLen = this.#u32(20);
        const origLen = this.#u32(24);
        if (28 + capLen > len - 4) {
          throw this.#bad(at, `packet length ${capLen} overruns its block`);
        }
        this.#time(this.#u32(12), this.#u32(16), iface.tps);
        this.#packet(iface, 28, capLen, origLen);
        result = 1;
        break;
      }
      case 0x00000003: { // Simple Packet Block: interface 0, no timestamp (the last one stays)
        const iface = this.#ifaces[0];
        if (iface === undefined) throw this.#bad(at, "simple packet before any interface");
        const origLen = this.#u32(8);
        const capLen = iface.snapLen > 0 ? Math.min(origLen, iface.snapLen) : origLen;
        if (16 + capLen > len) {
          throw this.#bad(
            at,
            `simple packet block of ${len} bytes is too short for its ${capLen} bytes of data ` +
              `(original length ${origLen}, interface snaplen ${iface.snapLen})`,
          );
        }
        this.untimed++;
        this.#packet(iface, 12, capLen, origLen);
        result = 1;
        break;
      }
    }
    this.#consume(len);
    return result;
  }

  #interface(len: number): void {
    const linkType = this.#u16(8);
    const snapLen = this.#u32(12);
    let tps = 1e6; // default resolution 10^-6 s
    // Options start after link type (2), reserved (2), snaplen (4).
    let p = 16;
    while (p + 4 <= len - 4) {
      const code = this.#u16(p);
      const olen = this.#u16(p + 2);
      if (code === 0) break;
      if (code === 9 && olen >= 1) {
        const r = this.#buf[this.#start + p + 4]!;
        const exp = r & 0x7f;
        tps = r & 0x80 ? 2 ** exp : 10 ** exp;
        if (tps > 2 ** 64) {
          throw this.#bad(
            this.#offset + p,
            `interface ${this.#ifaces.length} has a timestamp resolution (if_tsresol 0x${
              r.toString(16)
            }) finer than 64-bit timestamps can use`,
          );
        }
      }
      p += 4 + ((olen + 3) & ~3);
    }
    this.#ifaces.push({ linkType, tps, snapLen });
    this.linkTypes.push(linkType);
  }

  /** Sets the view's time from a 64-bit count of `tps` units per second, exactly. */
  #time(hi: number, lo: number, tps: number): void {
    let sec: number;
    let rem: number; // units within the second
    if (tps <= 2 ** 37) {
      // Long division in 16-bit steps: every intermediate stays below 2^53, so it is exact.
      const q1 = Math.floor(hi / tps);
      let r = hi - q1 * tps;
      let x = r * 65536 + (lo >>> 16);
      const q2 = Math.floor(x / tps);
      r = x - q2 * tps;
      x = r * 65536 + (lo & 0xffff);
      const q3 = Math.floor(x / tps);
      rem = x - q3 * tps;
      sec = q1 * 4294967296 + q2 * 65536 + q3;
    } else {
      const t = (BigInt(hi) << 32n) | BigInt(lo);
      const d = BigInt(tps);
      sec = Number(t / d);
      rem = Number(t % d);
    }
    const v = this.#view;
    v.tsSec = sec;
    v.tsNs = Math.floor(tps <= 1e9 ? rem * (1e9 / tps) : rem / (tps / 1e9));
    v.tsUs = sec * 1e6 + (tps <= 1e6 ? rem * (1e6 / tps) : rem / (tps / 1e6));
  }

  #packet(iface: Iface, at: number, capLen: number, origLen: number): void {
    const v = this.#view;
    v.linkType = iface.linkType;
    v.buf = this.#buf;
    v.off = this.#start + at;
    v.capLen = capLen;
    v.origLen = origLen;
    this.#count(capLen, origLen);
  }

  #count(capLen: number, origLen: number): void {
    this.packets++;
    this.bytes += capLen;
    if (capLen < origLen) this.sliced++;
  }

  #cut(why: string): 0 {
    this.truncated = true;
    this.#truncation = `Capture ${this.#name} is truncated at byte ${this.#offset}: ${why}`;
    return 0;
  }

  #truncation: string | undefined;

  /** What the reader had to make up or leave out: the file's truncation, untimed packets. */
  get warning(): string | undefined {
    const untimed = this.untimed > 0
      ? `Capture ${this.#name} has ${this.untimed} packets without a timestamp (pcapng Simple ` +
        "Packet Blocks): each was given the time of the packet before it"
      : undefined;
    return [this.#truncation, untimed].filter((x) => x !== undefined).join("; ") || undefined;
  }

  #u32(i: number): number {
    const b = this.#buf;
    const o = this.#start + i;
    return this.#le
      ? (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0
      : ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
  }

  #u32le(i: number): number {
    const b = this.#buf;
    const o = this.#start + i;
    return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
  }

  #u16(i: number): number {
    const b = this.#buf;
    const o = this.#start + i;
    return this.#le ? b[o]! | (b[o + 1]! << 8) : (b[o]! << 8) | b[o + 1]!;
  }

  #consume(n: number): void {
    this.#start += n;
    this.#offset += n;
  }

  // Makes sure `n` bytes are buffered (fewer at the end of the file). The buffer grows only as
  // bytes arrive (doubling, at most to `n`), so that a length field that claims more than the
  // file holds costs no memory: the buffer follows the file, not what its headers say.
  async #fill(n: number): Promise<void> {
    if (this.#avail >= n) return;
    if (this.#start > 0 && this.#buf.length - this.#end < n - this.#avail) {
      this.#buf.copyWithin(0, this.#start, this.#end);
      this.#end -= this.#start;
      this.#start = 0;
    }
    while (this.#avail < n && !this.#eof) {
      if (this.#end === this.#buf.length) {
        // Full, and so compacted (#start is 0): there was not room enough for `n` bytes.
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
    return new MembenchError("file", `Cannot read capture ${this.#name} at byte ${at}: ${what}`, {
      hint: `see what tshark makes of it (tshark -r ${this.#name}); membench reads pcap and ` +
        "pcapng files as tcpdump, tshark, dumpcap, editcap and mergecap write them",
    });
  }
}
