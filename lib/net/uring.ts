/**
 * Linux io_uring for the bench engine's hot loop, reached through `Deno.dlopen` on libc (no
 * native addon): non-blocking TCP sockets opened with libc, a submission/completion ring mapped
 * into the isolate, and a {@linkcode SocketTransport} that speaks the same {@linkcode Transport}
 * interface for handshakes (AUTH, HELLO, SASL) before the engine takes the socket over.
 *
 * Why: at pipeline 1 a request costs one send and one receive. Through Deno's async ops each is a
 * promise and an op round trip (about 2 µs of CPU per request here); through the ring, all the
 * sends and receives of one loop turn go to the kernel in one system call, and the completions
 * come back in shared memory. On this 2-core machine that is what puts membench level with
 * memaslap (see bench/memcache_compare.ts).
 *
 * @module
 */
import { MembenchError } from "../errors/mod.ts";
import type { Transport } from "./transport_type.ts";

const SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  connect: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  shutdown: { parameters: ["i32", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  // Lengths are u32: size_t parameters take Deno's slow call path (about 80 ns against 12 ns).
  // x86-64 and arm64 pass a u32 zero-extended in a 64-bit register, so the callee reads it right.
  send: { parameters: ["i32", "buffer", "u32", "i32"], result: "i32" },
  recv: { parameters: ["i32", "buffer", "u32", "i32"], result: "i32" },
  poll: { parameters: ["buffer", "u32", "i32"], result: "i32", nonblocking: true },
  __errno_location: { parameters: [], result: "pointer" },
  uring_setup: { name: "syscall", parameters: ["i64", "u32", "buffer"], result: "i64" },
  uring_enter: {
    name: "syscall",
    parameters: ["i64", "i32", "u32", "u32", "u32", "pointer", "i64"],
    result: "i64",
  },
  mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
  munmap: { parameters: ["pointer", "usize"], result: "i32" },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

// x86-64 numbers; io_uring's syscall numbers are the same on every architecture since 5.1.
const SYS_IO_URING_SETUP = 425n;
const SYS_IO_URING_ENTER = 426n;
const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_STREAM_NONBLOCK_CLOEXEC = 1 | 0o4000 | 0o2000000;
const IPPROTO_TCP = 6;
const TCP_NODELAY = 1;
const SOL_SOCKET = 1;
const SO_ERROR = 4;
const MSG_DONTWAIT = 0x40;
const MSG_NOSIGNAL = 0x4000;
const MSG_WAITALL = 0x100;
const EAGAIN = 11;
const EINPROGRESS = 115;
const EINTR = 4;
const ETIME = 62;
const POLLIN = 1;
const POLLOUT = 4;
const SETUP_COOP_TASKRUN = 1 << 8;
const ENTER_GETEVENTS = 1;
const ENTER_EXT_ARG = 8;
const FEAT_SINGLE_MMAP = 1;
const FEAT_EXT_ARG = 1 << 8;
const OP_SEND = 26;
const OP_RECV = 27;
const RECVSEND_POLL_FIRST = 1;
const OFF_SQES = 0x10000000n;

let handle: Deno.DynamicLibrary<typeof SYMBOLS> | undefined;
let users = 0;
let support: { ok: true } | { ok: false; reason: string } | undefined;

// libc is opened by the first ring or socket and closed with the last one, so that nothing
// stays loaded between runs.
function acquire(): Libc {
  if (!handle) {
    if (Deno.build.os !== "linux") throw new Error(`io_uring needs Linux, not ${Deno.build.os}`);
    handle = Deno.dlopen("libc.so.6", SYMBOLS);
  }
  users++;
  return handle.symbols;
}

function release(): void {
  if (--users === 0 && handle) {
    handle.close();
    handle = undefined;
  }
}

function errno(l: Libc): number {
  const p = l.__errno_location();
  return p === null ? 0 : new Deno.UnsafePointerView(p).getInt32();
}

/**
 * Whether this process can run the io_uring loop: Linux, FFI allowed, libc found, and a ring with
 * the features the loop uses (single mmap, timed waits, send/recv ops) can be set up. Cached.
 */
export function uringSupport(): { ok: true } | { ok: false; reason: string } {
  if (support) return support;
  // Ask before loading: without --allow-ffi, dlopen would prompt on a terminal.
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
    return support = { ok: false, reason: "FFI is not allowed (--allow-ffi)" };
  }
  try {
    const r = new Ring(8);
    r.close();
    support = { ok: true };
  } catch (e) {
    const m = e instanceof Error ? e.message : String(e);
    support = {
      ok: false,
      reason: /--allow-ffi|NotCapable|Requires ffi/i.test(m)
        ? "FFI is not allowed (--allow-ffi)"
        : m,
    };
  }
  return support;
}

/** The address of a typed array's bytes (stable: buffers over 64 bytes live off the JS heap). */
export function bufferAddress(b: Uint8Array): number {
  if (b.buffer.byteLength <= 64) throw new RangeError("a ring buffer must be over 64 bytes");
  const p = Deno.UnsafePointer.of(b);
  return p === null ? 0 : Number(Deno.UnsafePointer.value(p));
}

/**
 * One submission/completion ring. Requests carry a 32-bit tag that comes back with the result.
 * Not thread-safe; one per isolate.
 */
export class Ring {
  #fd!: number;
  #l: Libc;
  #ringPtr!: Deno.PointerValue;
  #ringSize!: number;
  #sqePtr!: Deno.PointerValue;
  #sqeSize!: number;
  #ring!: Uint32Array;
  #ringI!: Int32Array;
  #sqes!: Uint32Array;
  #sqTail!: number;
  #sqHead!: number;
  #sqMask!: number;
  #sqEntries!: number;
  #cqHead!: number;
  #cqTail!: number;
  #cqMask!: number;
  #cqes!: number;
  #pending = 0;
  #arg!: Uint8Array;
  #argPtr!: Deno.PointerValue;
  #argView!: DataView;
  #closed = false;
  /** Tag of the completion {@linkcode next} last returned. */
  tag = 0;
  /** Result of that completion: bytes, or a negative errno. */
  res = 0;

  /** Sets up a ring with room for `entries` requests in submission (rounded up to a power of 2). */
  constructor(entries: number) {
    const l = acquire();
    this.#l = l;
    try {
      this.#setup(l, entries);
    } catch (e) {
      release();
      throw e;
    }
  }

  #setup(l: Libc, entries: number): void {
    const params = new Uint8Array(120);
    const pv = new DataView(params.buffer);
    pv.setUint32(8, SETUP_COOP_TASKRUN, true);
    let fd = Number(l.uring_setup(SYS_IO_URING_SETUP, entries, params));
    if (fd < 0) {
      // COOP_TASKRUN needs 5.19; retry without it before giving up.
      pv.setUint32(8, 0, true);
      fd = Number(l.uring_setup(SYS_IO_URING_SETUP, entries, params));
      if (fd < 0) throw new Error(`io_uring_setup failed (errno ${errno(l)})`);
    }
    this.#fd = fd;
    const features = pv.getUint32(20, true);
    const need = FEAT_SINGLE_MMAP | FEAT_EXT_ARG;
    if ((features & need) !== need) {
      l.close(fd);
      throw new Error("io_uring lacks single mmap or timed waits (kernel older than 5.11)");
    }
    const sqEntries = pv.getUint32(0, true);
    const cqEntries = pv.getUint32(4, true);
    const sq = (o: number) => pv.getUint32(40 + o, true);
    const cq = (o: number) => pv.getUint32(80 + o, true);
    this.#ringSize = Math.max(sq(24) + sqEntries * 4, cq(20) + cqEntries * 16);
    this.#sqeSize = sqEntries * 64;
    // PROT_READ|PROT_WRITE, MAP_SHARED|MAP_POPULATE
    this.#ringPtr = l.mmap(null, BigInt(this.#ringSize), 3, 0x8001, fd, 0n);
    this.#sqePtr = l.mmap(null, BigInt(this.#sqeSize), 3, 0x8001, fd, OFF_SQES);
    const failed = (p: Deno.PointerValue) =>
      p === null || Deno.UnsafePointer.value(p) === 0xffffffffffffffffn;
    if (failed(this.#ringPtr) || failed(this.#sqePtr)) {
      l.close(fd);
      throw new Error(`io_uring mmap failed (errno ${errno(l)})`);
    }
    const ringBuf = Deno.UnsafePointerView.getArrayBuffer(this.#ringPtr!, this.#ringSize);
    this.#ring = new Uint32Array(ringBuf);
    this.#ringI = new Int32Array(ringBuf);
    this.#sqes = new Uint32Array(
      Deno.UnsafePointerView.getArrayBuffer(this.#sqePtr!, this.#sqeSize),
    );
    this.#sqHead = sq(0) >> 2;
    this.#sqTail = sq(4) >> 2;
    this.#sqMask = this.#ring[sq(8) >> 2]!;
    this.#sqEntries = sqEntries;
    const array = sq(24) >> 2;
    for (let i = 0; i < sqEntries; i++) this.#ring[array + i] = i;
    this.#cqHead = cq(0) >> 2;
    this.#cqTail = cq(4) >> 2;
    this.#cqMask = this.#ring[cq(8) >> 2]!;
    this.#cqes = cq(20) >> 2;
    // io_uring_getevents_arg { u64 sigmask; u32 sigmask_sz; u32 pad; u64 ts } then the timespec.
    this.#arg = new Uint8Array(256);
    this.#argView = new DataView(this.#arg.buffer);
    this.#argPtr = Deno.UnsafePointer.of(this.#arg);
    const tsAddr = BigInt(bufferAddress(this.#arg) + 32);
    this.#argView.setBigUint64(16, tsAddr, true);
  }

  /** Requests written but not yet submitted. */
  get pending(): number {
    return this.#pending;
  }

  /** Room left in the submission queue before {@linkcode submit} is needed. */
  get room(): number {
    return this.#sqEntries - (this.#ring[this.#sqTail]! - this.#ring[this.#sqHead]!);
  }

  #sqe(
    op: number,
    ioprio: number,
    fd: number,
    addr: number,
    len: number,
    flags: number,
    tag: number,
  ) {
    if (this.room === 0) this.submit();
    const tail = this.#ring[this.#sqTail]!;
    const s = this.#sqes;
    const o = (tail & this.#sqMask) * 16;
    s[o] = op | (ioprio << 16);
    s[o + 1] = fd;
    s[o + 2] = 0;
    s[o + 3] = 0;
    s[o + 4] = addr % 4294967296;
    s[o + 5] = Math.floor(addr / 4294967296);
    s[o + 6] = len;
    s[o + 7] = flags;
    s[o + 8] = tag;
    s[o + 9] = 0;
    s[o + 10] = 0;
    s[o + 11] = 0;
    s[o + 12] = 0;
    s[o + 13] = 0;
    s[o + 14] = 0;
    s[o + 15] = 0;
    this.#ring[this.#sqTail] = tail + 1;
    this.#pending++;
  }

  /** Queues a send of `len` bytes at `addr`; the whole length goes, or the result is an error. */
  send(fd: number, addr: number, len: number, tag: number): void {
    this.#sqe(OP_SEND, 0, fd, addr, len, MSG_NOSIGNAL | MSG_WAITALL, tag);
  }

  /** Queues a receive of up to `len` bytes into `addr`; 0 means the peer closed. */
  recv(fd: number, addr: number, len: number, tag: number): void {
    this.#sqe(OP_RECV, RECVSEND_POLL_FIRST, fd, addr, len, 0, tag);
  }

  /** Submits what is queued without waiting. */
  submit(): void {
    this.#enter(0, 0);
  }

  /**
   * Submits what is queued and waits until a completion is there or `timeoutUs` passed. Then read
   * completions with {@linkcode next}.
   */
  wait(timeoutUs: number): void {
    const us = Math.max(0, Math.floor(timeoutUs));
    // The timespec as two little-endian u32 pairs: no BigInt per call on the hot path.
    const v = this.#argView;
    v.setUint32(32, Math.floor(us / 1e6), true);
    v.setUint32(36, 0, true);
    v.setUint32(40, (us % 1e6) * 1000, true);
    v.setUint32(44, 0, true);
    this.#enter(1, ENTER_GETEVENTS | ENTER_EXT_ARG);
  }

  // Consecutive io_uring_enter failures with an errno it should not give.
  #strange = 0;

  #enter(min: number, flags: number): void {
    if (this.#closed) throw new Error("io_uring ring is closed");
    const n = this.#pending;
    this.#pending = 0;
    const r = Number(
      // The wait argument only with EXT_ARG; a plain submit passes none.
      (flags & ENTER_EXT_ARG)
        ? this.#l.uring_enter(SYS_IO_URING_ENTER, this.#fd, n, min, flags, this.#argPtr, 24n)
        : this.#l.uring_enter(SYS_IO_URING_ENTER, this.#fd, n, min, flags, null, 0n),
    );
    if (r < 0) {
      // Nothing was submitted (the kernel returns the count when anything was): those entries
      // go with the next call.
      this.#pending += n;
      const e = errno(this.#l);
      if (e === ETIME || e === EINTR || e === EAGAIN) {
        this.#strange = 0;
        return;
      }
      // errno is read by a second call: a signal handler that ran when the wait was interrupted
      // (a child process ending) may have changed it (ENOENT seen under load). A ring that is
      // really broken fails every time.
      if (++this.#strange < 4) return;
      throw new Error(`io_uring_enter failed (errno ${e})`);
    }
    this.#strange = 0;
  }

  /** Takes the next completion into {@linkcode tag} and {@linkcode res}; false when none. */
  next(): boolean {
    const h = this.#ring[this.#cqHead]!;
    if (h === this.#ring[this.#cqTail]) return false;
    const o = this.#cqes + (h & this.#cqMask) * 4;
    this.tag = this.#ring[o]!;
    this.res = this.#ringI[o + 2]!;
    this.#ring[this.#cqHead] = h + 1;
    return true;
  }

  /** Unmaps and closes the ring; requests still in the kernel are cancelled. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#l.munmap(this.#sqePtr, BigInt(this.#sqeSize));
    this.#l.munmap(this.#ringPtr, BigInt(this.#ringSize));
    this.#l.close(this.#fd);
    release();
  }
}

/** Parses an IP literal into a sockaddr; `localhost` is 127.0.0.1. Undefined for a host name. */
export function socketAddress(host: string, port: number): Uint8Array | undefined {
  const h = host === "localhost" ? "127.0.0.1" : host.replace(/^\[|\]$/g, "");
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(h);
  if (v4) {
    const b = v4.slice(1).map(Number);
    if (b.some((x) => x > 255)) return undefined;
    const sa = new Uint8Array(16);
    const v = new DataView(sa.buffer);
    v.setUint16(0, AF_INET, true);
    v.setUint16(2, port, false);
    sa.set(b, 4);
    return sa;
  }
  const words = parseIpv6(h);
  if (!words) return undefined;
  const sa = new Uint8Array(28);
  const v = new DataView(sa.buffer);
  v.setUint16(0, AF_INET6, true);
  v.setUint16(2, port, false);
  words.forEach((w, i) => v.setUint16(8 + 2 * i, w, false));
  return sa;
}

function parseIpv6(h: string): number[] | undefined {
  if (!/^[0-9a-fA-F:]+$/.test(h) || !h.includes(":")) return undefined;
  const halves = h.split("::");
  if (halves.length > 2) return undefined;
  const part = (s: string) => (s === "" ? [] : s.split(":").map((x) => parseInt(x, 16)));
  const a = part(halves[0]!);
  const b = halves.length === 2 ? part(halves[1]!) : [];
  if ([...a, ...b].some((x) => !(x >= 0 && x <= 0xffff))) return undefined;
  const fill = 8 - a.length - b.length;
  if (halves.length === 1 ? fill !== 0 : fill < 1) return undefined;
  return [...a, ...new Array(halves.length === 2 ? fill : 0).fill(0), ...b];
}

const ERRNO_TEXT: Record<number, string> = {
  111: "connection refused",
  113: "no route to host",
  101: "network is unreachable",
  110: "connect timed out",
  99: "cannot assign the local address",
  104: "connection reset by peer",
  32: "broken pipe",
  9: "bad file descriptor",
};

/** A socket errno in words (`connection reset by peer`), or `errno N`. */
export function errnoText(e: number): string {
  return ERRNO_TEXT[e] ?? `errno ${e}`;
}

async function pollFd(l: Libc, fd: number, events: number, timeoutMs: number): Promise<boolean> {
  const pfd = new Uint8Array(8);
  const v = new DataView(pfd.buffer);
  v.setInt32(0, fd, true);
  v.setInt16(4, events, true);
  const n = await l.poll(pfd, 1, Math.max(0, Math.ceil(timeoutMs)));
  return n > 0;
}

/**
 * A TCP socket opened with libc, non-blocking, `TCP_NODELAY`. Its {@linkcode Transport} methods
 * serve handshakes (each read waits in a poll on a helper thread, so the isolate stays free);
 * {@linkcode fd} is for the ring.
 */
export class SocketTransport implements Transport {
  /** The socket. */
  readonly fd: number;
  #l: Libc;
  #closed = false;

  private constructor(l: Libc, fd: number) {
    this.#l = l;
    this.fd = fd;
  }

  /**
   * Connects to an IP literal (or `localhost`) within `timeoutMs`.
   *
   * @throws {MembenchError} `connection` naming the endpoint and the reason.
   */
  static async connect(
    host: string,
    port: number,
    name: string,
    timeoutMs: number,
  ): Promise<SocketTransport> {
    const sa = socketAddress(host, port);
    if (!sa) throw new MembenchError("invalid_argument", `${name}: not an IP address`);
    const l = acquire();
    const fd = l.socket(sa.length === 16 ? AF_INET : AF_INET6, SOCK_STREAM_NONBLOCK_CLOEXEC, 0);
    if (fd < 0) {
      const e = errno(l);
      release();
      throw new MembenchError("connection", `${name}: socket() failed (errno ${e})`);
    }
    const fail = (why: string) => {
      l.close(fd);
      release();
      return new MembenchError("connection", `${name}: ${why}`);
    };
    if (l.connect(fd, sa, sa.length) !== 0) {
      const e = errno(l);
      if (e !== EINPROGRESS) throw fail(ERRNO_TEXT[e] ?? `connect failed (errno ${e})`);
      if (!(await pollFd(l, fd, POLLOUT, timeoutMs))) {
        throw fail(`connect timed out after ${timeoutMs} ms`);
      }
      const err = new Int32Array(1);
      const len = new Uint32Array([4]);
      l.getsockopt(
        fd,
        SOL_SOCKET,
        SO_ERROR,
        new Uint8Array(err.buffer),
        new Uint8Array(len.buffer),
      );
      if (err[0] !== 0) throw fail(ERRNO_TEXT[err[0]!] ?? `connect failed (errno ${err[0]})`);
    }
    l.setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, new Uint8Array(new Int32Array([1]).buffer), 4);
    return new SocketTransport(l, fd);
  }

  /** Reads what is there, waiting for data; `null` at end of stream. */
  async read(p: Uint8Array): Promise<number | null> {
    for (;;) {
      if (this.#closed) return null;
      const n = this.#l.recv(this.fd, p, p.length, MSG_DONTWAIT);
      if (n > 0) return n;
      if (n === 0) return null;
      const e = errno(this.#l);
      if (e !== EAGAIN && e !== EINTR) {
        throw new Error(ERRNO_TEXT[e] ?? `recv failed (errno ${e})`);
      }
      await pollFd(this.#l, this.fd, POLLIN, 50);
    }
  }

  /** Writes some of `p`, waiting for room when the socket is full. */
  async write(p: Uint8Array): Promise<number> {
    for (;;) {
      if (this.#closed) throw new Error("connection closed");
      const n = this.#l.send(this.fd, p, p.length, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n >= 0) return n;
      const e = errno(this.#l);
      if (e !== EAGAIN && e !== EINTR) {
        throw new Error(ERRNO_TEXT[e] ?? `send failed (errno ${e})`);
      }
      await pollFd(this.#l, this.fd, POLLOUT, 50);
    }
  }

  /**
   * Shuts the socket down (which ends any receive the ring holds on it) and closes it. Safe to
   * call twice.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#l.shutdown(this.fd, 2);
    this.#l.close(this.fd);
    release();
  }
}
