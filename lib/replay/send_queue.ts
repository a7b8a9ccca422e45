// This module uses no Deno APIs.
// Requests routed to one connection and not yet sent: their bytes back to back in one buffer and
// their fields in a ring of typed arrays, so that routing an event allocates nothing.
export class SendQueue {
  bytes = new Uint8Array(128 * 1024);
  byteHead = 0; // first byte of the head request
  #byteTail = 0;
  len = new Int32Array(1024);
  unit = new Uint8Array(1024);
  op = new Int32Array(1024);
  read = new Uint8Array(1024);
  intended = new Float64Array(1024); // µs on the nowUs clock; 0 in max mode
  pipelined = new Uint8Array(1024);
  head = 0;
  length = 0;
  #mask = 1023;
  #carried = 0;

  /** Bytes of quiet requests written ahead of the next pushed request (see {@linkcode carry}). */
  get carried(): number {
    return this.#carried;
  }

  /**
   * Keeps `n` bytes written at `reserve(n)` as part of the next pushed request: a quiet or
   * noreply request, which gets no reply of its own, travels with the request that fences it.
   */
  carry(n: number): void {
    this.#byteTail += n;
    this.#carried += n;
  }

  /** Where `n` more bytes may be written (slides or grows the buffer when needed). */
  reserve(n: number): number {
    if (this.#byteTail + n > this.bytes.length) {
      const used = this.#byteTail - this.byteHead;
      if ((used + n) * 2 > this.bytes.length) {
        const nb = new Uint8Array(Math.max(this.bytes.length * 2, (used + n) * 2));
        nb.set(this.bytes.subarray(this.byteHead, this.#byteTail));
        this.bytes = nb;
      } else this.bytes.copyWithin(0, this.byteHead, this.#byteTail);
      this.byteHead = 0;
      this.#byteTail = used;
    }
    return this.#byteTail;
  }

  /**
   * Appends a request whose `n` bytes were written at `reserve(n)`. `pipelined`: whether it may go
   * while an earlier one is in flight; a number >= 2 marks a resend (a redirected request, sent
   * again: `pipelined - 1` tries so far), which never waits and is not counted as sent again.
   */
  push(
    n: number,
    unit: number,
    op: number,
    read: boolean,
    intended: number,
    pipelined: boolean | number,
  ) {
    if (this.length === this.len.length) this.#grow();
    const i = (this.head + this.length) & this.#mask;
    this.len[i] = n + this.#carried;
    this.#carried = 0;
    this.unit[i] = unit;
    this.op[i] = op;
    this.read[i] = read ? 1 : 0;
    this.intended[i] = intended;
    this.pipelined[i] = typeof pipelined === "number" ? pipelined : pipelined ? 1 : 0;
    this.length++;
    this.#byteTail += n;
  }

  /** Drops the head request (its bytes start at `byteHead` before the call). */
  shift(): void {
    this.byteHead += this.len[this.head]!;
    this.head = (this.head + 1) & this.#mask;
    if (--this.length === 0 && this.#carried === 0) this.byteHead = this.#byteTail = 0;
  }

  clear(): void {
    this.head =
      this.length =
      this.byteHead =
      this.#byteTail =
      this.#carried =
        0;
  }

  #grow(): void {
    const cap = this.len.length * 2;
    const h = this.head, n = this.length, m = this.#mask;
    const move = <A extends { [k: number]: number }>(from: A, to: A): A => {
      for (let k = 0; k < n; k++) to[k] = from[(h + k) & m]!;
      return to;
    };
    this.len = move(this.len, new Int32Array(cap));
    this.unit = move(this.unit, new Uint8Array(cap));
    this.op = move(this.op, new Int32Array(cap));
    this.read = move(this.read, new Uint8Array(cap));
    this.intended = move(this.intended, new Float64Array(cap));
    this.pipelined = move(this.pipelined, new Uint8Array(cap));
    this.head = 0;
    this.#mask = cap - 1;
  }
}
