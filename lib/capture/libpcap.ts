import { MembenchError } from "../errors/mod.ts";
import type { PacketView } from "./pcap_file.ts";

/** Where Debian's libpcap0.8 lives, and its soname. */
const LIBRARY_PATHS = [
  "libpcap.so.0.8",
  "/usr/lib/x86_64-linux-gnu/libpcap.so.0.8",
  "/usr/lib/aarch64-linux-gnu/libpcap.so.0.8",
  "libpcap.so.1",
  "libpcap.so",
];

const SYMBOLS = {
  pcap_create: { parameters: ["buffer", "buffer"], result: "pointer" },
  pcap_open_offline: { parameters: ["buffer", "buffer"], result: "pointer" },
  pcap_set_snaplen: { parameters: ["pointer", "i32"], result: "i32" },
  pcap_set_promisc: { parameters: ["pointer", "i32"], result: "i32" },
  pcap_set_timeout: { parameters: ["pointer", "i32"], result: "i32" },
  pcap_set_buffer_size: { parameters: ["pointer", "i32"], result: "i32" },
  pcap_set_immediate_mode: { parameters: ["pointer", "i32"], result: "i32" },
  pcap_activate: { parameters: ["pointer"], result: "i32" },
  pcap_geterr: { parameters: ["pointer"], result: "pointer" },
  pcap_compile: { parameters: ["pointer", "buffer", "buffer", "i32", "u32"], result: "i32" },
  pcap_setfilter: { parameters: ["pointer", "buffer"], result: "i32" },
  pcap_freecode: { parameters: ["buffer"], result: "void" },
  pcap_setnonblock: { parameters: ["pointer", "i32", "buffer"], result: "i32" },
  pcap_datalink: { parameters: ["pointer"], result: "i32" },
  pcap_next_ex: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
  pcap_stats: { parameters: ["pointer", "buffer"], result: "i32" },
  pcap_close: { parameters: ["pointer"], result: "void" },
} as const;

type Lib = Deno.DynamicLibrary<typeof SYMBOLS>;

/** Options for {@linkcode LiveCapture.open}. */
export interface LiveCaptureOptions {
  /** Interface name (`lo`, `eth0`, `any`). */
  interface: string;
  /** BPF filter; default `tcp and (port P or port Q …)` from `ports`. */
  filter?: string;
  /** Server ports the default filter selects. */
  ports: number[];
  /** Bytes kept per packet. @default {262144} */
  snaplen?: number;
  /** Promiscuous mode. @default {false} */
  promisc?: boolean;
  /** Kernel buffer size in bytes. @default {64 MiB} */
  bufferSize?: number;
  /** Deliver packets at once instead of in blocks. @default {true} */
  immediate?: boolean;
}

/**
 * libpcap's own counters. When `pcap_stats` fails they are unknown: all three `null` and
 * `unknown` says why (never a 0 that would read as "nothing dropped").
 */
export interface LiveCaptureStats {
  /** Packets received by the filter; null when unknown. */
  received: number | null;
  /** Packets dropped because the buffer was full; null when unknown. */
  dropped: number | null;
  /** Packets dropped by the interface or driver; null when unknown. */
  ifDropped: number | null;
  /** Why the counters are unknown (libpcap's error), when they are. */
  unknown?: string;
}

const enc = new TextEncoder();

/**
 * A live capture through libpcap (Debian's `libpcap0.8`, loaded with `Deno.dlopen`; needs
 * `--allow-ffi` and the right to capture: root or CAP_NET_RAW). Packets are pulled with
 * {@linkcode LiveCapture.drain} in non-blocking mode; each is seen in libpcap's memory, in
 * place, and must be copied if kept beyond the callback.
 */
export class LiveCapture {
  /** Link type of the interface. */
  readonly linkType: number;
  /** The filter in force. */
  readonly filter: string;
  #lib: Lib;
  #p: Deno.PointerValue;
  #hdrPtr = new BigUint64Array(1);
  #dataPtr = new BigUint64Array(1);
  #view: PacketView;
  #closed = false;

  private constructor(lib: Lib, p: Deno.PointerValue, linkType: number, filter: string) {
    this.#lib = lib;
    this.#p = p;
    this.linkType = linkType;
    this.filter = filter;
    this.#view = {
      linkType,
      tsUs: 0,
      tsSec: 0,
      tsNs: 0,
      buf: new Uint8Array(0),
      off: 0,
      capLen: 0,
      origLen: 0,
    };
  }

  /**
   * Opens and activates a capture.
   *
   * @throws {MembenchError} `invalid_argument` when libpcap is missing (naming the package),
   *   `connection` when the interface cannot be opened (permission, no such device), or the
   *   filter does not compile.
   */
  static open(o: LiveCaptureOptions): LiveCapture {
    const lib = openLibrary();
    const err = new Uint8Array(256);
    const p = lib.symbols.pcap_create(cstr(o.interface), err);
    if (p === null) {
      lib.close();
      throw new MembenchError("connection", `Cannot capture on ${o.interface}: ${text(err)}`);
    }
    try {
      const s = lib.symbols;
      s.pcap_set_snaplen(p, o.snaplen ?? 262144);
      s.pcap_set_promisc(p, o.promisc ? 1 : 0);
      s.pcap_set_timeout(p, 10);
      s.pcap_set_buffer_size(p, o.bufferSize ?? 64 * 1024 * 1024);
      s.pcap_set_immediate_mode(p, o.immediate === false ? 0 : 1);
      const rc = s.pcap_activate(p);
      if (rc < 0) {
        const why = rc === -8
          ? "permission denied (run as root or give the deno binary CAP_NET_RAW)"
          : rc === -5
          ? "no such device"
          : `${geterr(lib, p)} (pcap_activate ${rc})`;
        throw new MembenchError("connection", `Cannot capture on ${o.interface}: ${why}`);
      }
      const filter = o.filter ?? `tcp and (${o.ports.map((x) => `port ${x}`).join(" or ")})`;
      const prog = new Uint8Array(16); // struct bpf_program { u_int bf_len; struct bpf_insn *bf_insns; }
      if (s.pcap_compile(p, prog, cstr(filter), 1, 0xffffffff) !== 0) {
        throw new MembenchError(
          "invalid_argument",
          `Cannot use the capture filter ${JSON.stringify(filter)}: ${geterr(lib, p)}`,
        );
      }
      const set = s.pcap_setfilter(p, prog);
      s.pcap_freecode(prog);
      if (set !== 0) {
        throw new MembenchError("connection", `Cannot set the capture filter: ${geterr(lib, p)}`);
      }
      if (s.pcap_setnonblock(p, 1, err) !== 0) {
        throw new MembenchError("connection", `Cannot make the capture non-blocking: ${text(err)}`);
      }
      return new LiveCapture(lib, p, s.pcap_datalink(p), filter);
    } catch (e) {
      lib.symbols.pcap_close(p);
      lib.close();
      throw e;
    }
  }

  /**
   * Opens a capture file through libpcap instead of an interface: a second, independent reader
   * of a file to check ours against. libpcap keeps no counters for a file, so
   * {@linkcode LiveCapture.stats} reports them unknown; {@linkcode LiveCapture.drain} returns 0
   * at the end of the file.
   *
   * @throws {MembenchError} `invalid_argument` when libpcap is missing, `file` when libpcap
   *   cannot read the file (its message).
   */
  static openSavefile(path: string): LiveCapture {
    const lib = openLibrary();
    const err = new Uint8Array(256);
    const p = lib.symbols.pcap_open_offline(cstr(path), err);
    if (p === null) {
      lib.close();
      throw new MembenchError("file", `Cannot read capture ${path} with libpcap: ${text(err)}`);
    }
    return new LiveCapture(lib, p, lib.symbols.pcap_datalink(p), "");
  }

  /**
   * Calls `cb` for up to `max` packets that are waiting; returns how many there were (0: none
   * now, try again shortly).
   *
   * @throws {MembenchError} `connection` when libpcap reports an error.
   */
  drain(cb: (p: PacketView) => void, max = 10_000): number {
    const s = this.#lib.symbols;
    const v = this.#view;
    let n = 0;
    while (n < max) {
      const rc = s.pcap_next_ex(this.#p, this.#hdrPtr, this.#dataPtr);
      if (rc === 0) break;
      if (rc < 0) {
        if (rc === -2) break;
        throw new MembenchError("connection", `Capture failed: ${geterr(this.#lib, this.#p)}`);
      }
      const hdr = new Deno.UnsafePointerView(Deno.UnsafePointer.create(this.#hdrPtr[0]!)!);
      // struct pcap_pkthdr { struct timeval ts; bpf_u_int32 caplen; bpf_u_int32 len; } (LP64)
      const sec = Number(hdr.getBigInt64(0));
      const usec = Number(hdr.getBigInt64(8));
      const capLen = hdr.getUint32(16);
      const len = hdr.getUint32(20);
      const data = Deno.UnsafePointerView.getArrayBuffer(
        Deno.UnsafePointer.create(this.#dataPtr[0]!)!,
        capLen,
      );
      v.tsUs = sec * 1e6 + usec;
      v.tsSec = sec;
      v.tsNs = usec * 1000;
      v.buf = new Uint8Array(data);
      v.off = 0;
      v.capLen = capLen;
      v.origLen = len;
      cb(v);
      n++;
    }
    return n;
  }

  /** libpcap's counters so far; unknown (null, with libpcap's reason) when pcap_stats fails. */
  stats(): LiveCaptureStats {
    const b = new Uint32Array(4);
    if (this.#lib.symbols.pcap_stats(this.#p, b) !== 0) {
      const why = geterr(this.#lib, this.#p);
      return { received: null, dropped: null, ifDropped: null, unknown: `pcap_stats: ${why}` };
    }
    return { received: b[0]!, dropped: b[1]!, ifDropped: b[2]! };
  }

  /** Stops the capture. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#lib.symbols.pcap_close(this.#p);
    this.#lib.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

function openLibrary(): Lib {
  let last: unknown;
  for (const path of LIBRARY_PATHS) {
    try {
      return Deno.dlopen(path, SYMBOLS);
    } catch (e) {
      last = e;
      if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) break;
    }
  }
  if (last instanceof Deno.errors.NotCapable || last instanceof Deno.errors.PermissionDenied) {
    throw new MembenchError("invalid_argument", "Cannot load libpcap: run deno with --allow-ffi");
  }
  throw new MembenchError(
    "invalid_argument",
    `Cannot load libpcap: ${(last as Error)?.message ?? "not found"}`,
    {
      hint:
        "install Debian's libpcap0.8 (apt-get install libpcap0.8), or read a pcap file with --pcap",
    },
  );
}

function cstr(s: string): Uint8Array {
  const b = enc.encode(s);
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  return out;
}

function text(b: Uint8Array): string {
  const z = b.indexOf(0);
  return new TextDecoder().decode(b.subarray(0, z < 0 ? b.length : z));
}

function geterr(lib: Lib, p: Deno.PointerValue): string {
  const ptr = lib.symbols.pcap_geterr(p);
  return ptr === null ? "unknown error" : new Deno.UnsafePointerView(ptr).getCString();
}
