// This module uses no Deno APIs.

/** What a {@linkcode TcpStream} hands to its consumer. */
export interface StreamSink {
  /**
   * In-order bytes `buf[off, off + len)` that arrived in a packet at `tsUs`, whose ACK field
   * (what the sender had received of the other direction) was `ack`.
   */
  data(buf: Uint8Array, off: number, len: number, tsUs: number, ack: number): void;
  /** `lost` bytes are missing before the next data (a capture drop or a cut snaplen). */
  gap(lost: number, tsUs: number): void;
}

/** Counters of one direction of a connection. */
export interface StreamStats {
  /** Bytes delivered in order. */
  bytes: number;
  /** Segments that repeated bytes already delivered, dropped. */
  retransmits: number;
  /** Segments that partly overlapped delivered bytes (the new part was kept). */
  overlaps: number;
  /** Segments that arrived ahead of a hole and were buffered. */
  outOfOrder: number;
  /** Gaps declared. */
  gaps: number;
  /** Bytes lost in gaps. */
  lostBytes: number;
}

/** Signed difference of two sequence numbers (wrap-around safe). */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}

/**
 * One direction of a TCP connection, reassembled: segments in sequence order, retransmissions
 * and overlaps dropped, out-of-order segments held until the hole fills (up to `maxBuffered`
 * bytes, then the hole is declared a gap), sequence wrap-around handled, and captures that start
 * mid-connection accepted from their first segment.
 */
export class TcpStream {
  /** Counters. */
  readonly stats: StreamStats = {
    bytes: 0,
    retransmits: 0,
    overlaps: 0,
    outOfOrder: 0,
    gaps: 0,
    lostBytes: 0,
  };
  #next = 0;
  #started = false;
  #pending: Array<{ seq: number; data: Uint8Array; wire: number; tsUs: number; ack: number }> = [];
  #pendingBytes = 0;
  #holeSinceUs = 0;
  #maxBuffered: number;
  #maxHoldUs: number;
  #sink: StreamSink;

  /**
   * @param sink Receives the bytes in order, and gaps.
   * @param maxBuffered Out-of-order bytes held before a hole is declared a gap.
   * @param maxHoldUs Capture time a hole may stay open before it is declared a gap (reordering in
   *   a capture spans microseconds to milliseconds; a lost packet never comes).
   */
  constructor(sink: StreamSink, maxBuffered = 1 << 20, maxHoldUs = 20_000) {
    this.#sink = sink;
    this.#maxBuffered = maxBuffered;
    this.#maxHoldUs = maxHoldUs;
  }

  /** Bytes held out of order. */
  get buffered(): number {
    return this.#pendingBytes;
  }

  /** Sequence number of the next byte to deliver. */
  get next(): number {
    return this.#next;
  }

  /** Whether the stream has a starting point (a SYN or a first segment). */
  get started(): boolean {
    return this.#started;
  }

  /** A SYN: data starts at `isn + 1`. */
  syn(isn: number): void {
    if (this.#started) return;
    this.#next = (isn + 1) >>> 0;
    this.#started = true;
  }

  /**
   * A segment with `len` bytes at `seq`; `wireLen` > `len` means the capture cut it (the missing
   * tail becomes a gap).
   */
  segment(
    seq: number,
    buf: Uint8Array,
    off: number,
    len: number,
    wireLen: number,
    tsUs: number,
    ack = 0,
  ): void {
    if (wireLen === 0) return;
    if (!this.#started) {
      this.#next = seq;
      this.#started = true;
    }
    const d = seqDiff(seq, this.#next);
    if (d > 0) {
      // Ahead of a hole: hold a copy until the hole fills.
      this.stats.outOfOrder++;
      if (this.#pending.length === 0) this.#holeSinceUs = tsUs;
      this.#pending.push({ seq, data: buf.slice(off, off + len), wire: wireLen, tsUs, ack });
      this.#pendingBytes += len;
      while (
        this.#pending.length > 0 &&
        (this.#pendingBytes > this.#maxBuffered || tsUs - this.#holeSinceUs > this.#maxHoldUs)
      ) {
        this.#skipHole(tsUs);
        this.#holeSinceUs = tsUs;
      }
      return;
    }
    let skip = -d; // bytes of this segment already delivered
    if (skip >= wireLen) {
      this.stats.retransmits++;
      return;
    }
    if (skip > 0) this.stats.overlaps++;
    if (skip < len) this.#deliver(buf, off + skip, len - skip, tsUs, ack);
    else skip -= len;
    if (wireLen > len) {
      // The snaplen cut the segment: the rest is lost.
      const lost = wireLen - Math.max(len, skip);
      this.#lose(lost, tsUs);
    }
    this.#drain();
  }

  /**
   * The peer acknowledged up to `ack`: if that is past the first segment held after a hole, the
   * peer received the hole's bytes and the capture missed them, so the hole is a gap now.
   */
  acked(ack: number, tsUs: number): void {
    while (this.#pending.length > 0) {
      let lowest = this.#pending[0]!.seq;
      for (const p of this.#pending) if (seqDiff(p.seq, lowest) < 0) lowest = p.seq;
      if (seqDiff(ack, lowest) <= 0) return;
      this.#skipHole(tsUs);
      this.#holeSinceUs = tsUs;
    }
  }

  /** Called as capture time passes: a hole open for longer than the hold time becomes a gap. */
  tick(tsUs: number): void {
    while (this.#pending.length > 0 && tsUs - this.#holeSinceUs > this.#maxHoldUs) {
      this.#skipHole(tsUs);
      this.#holeSinceUs = tsUs;
    }
  }

  /** The connection ended: whatever is still held after a hole is delivered after a gap. */
  finish(tsUs: number): void {
    while (this.#pending.length > 0) this.#skipHole(tsUs);
  }

  #deliver(buf: Uint8Array, off: number, len: number, tsUs: number, ack: number): void {
    this.#next = (this.#next + len) >>> 0;
    this.stats.bytes += len;
    this.#sink.data(buf, off, len, tsUs, ack);
  }

  #lose(lost: number, tsUs: number): void {
    if (lost <= 0) return;
    this.#next = (this.#next + lost) >>> 0;
    this.stats.gaps++;
    this.stats.lostBytes += lost;
    this.#sink.gap(lost, tsUs);
  }

  // Delivers held segments that now fit.
  #drain(): void {
    let progress = true;
    while (progress && this.#pending.length > 0) {
      progress = false;
      for (let i = 0; i < this.#pending.length; i++) {
        const p = this.#pending[i]!;
        const d = seqDiff(p.seq, this.#next);
        if (d > 0) continue;
        this.#pending.splice(i, 1);
        this.#pendingBytes -= p.data.length;
        const skip = -d;
        if (skip >= p.wire) this.stats.retransmits++;
        else {
          if (skip > 0) this.stats.overlaps++;
          if (skip < p.data.length) {
            this.#deliver(p.data, skip, p.data.length - skip, p.tsUs, p.ack);
          }
          if (p.wire > p.data.length) this.#lose(p.wire - Math.max(p.data.length, skip), p.tsUs);
        }
        progress = true;
        break;
      }
    }
  }

  // Gives up on the hole before the lowest held segment.
  #skipHole(tsUs: number): void {
    let lowest = 0;
    for (let i = 1; i < this.#pending.length; i++) {
      if (seqDiff(this.#pending[i]!.seq, this.#pending[lowest]!.seq) < 0) lowest = i;
    }
    const p = this.#pending[lowest]!;
    const hole = seqDiff(p.seq, this.#next);
    if (hole > 0) this.#lose(hole, tsUs);
    this.#drain();
  }
}
