// This module uses no Deno APIs.
/** A byte stream to a server: what the engine's hot loop reads and writes. */
export interface Transport {
  /** Reads into `p`; the number of bytes, or `null` at end of stream. */
  read(p: Uint8Array): Promise<number | null>;
  /** Writes some of `p`; the number of bytes written. */
  write(p: Uint8Array): Promise<number>;
  /** Closes the stream. Safe to call twice. */
  close(): void;
}
