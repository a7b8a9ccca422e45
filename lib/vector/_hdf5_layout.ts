// Where a root-level HDF5 dataset's bytes are, when they are stored contiguously and unfiltered:
// just enough of the HDF5 file format (superblock, symbol-table or compact-link root group,
// object header, data layout and filter pipeline messages) to find that address, so that rows
// are read with positional reads straight into their final array instead of through h5wasm's
// heap. Anything this does not know (dense link storage, chunked or filtered data, external
// storage, an unexpected signature) answers `undefined`, and the caller reads through h5wasm;
// the caller also checks rows read both ways before it trusts the address.
// Format reference: "HDF5 File Format Specification Version 3.0" (The HDF Group).
import type { PositionalFile } from "./_file.ts";

/** Reads little-endian unsigned integers of 1 to 8 bytes; throws past the file's end. */
class Reader {
  #f: PositionalFile;
  constructor(f: PositionalFile) {
    this.#f = f;
  }
  bytes(at: number, n: number): Uint8Array {
    return this.#f.readSync(at, n);
  }
  uint(at: number, n: number): number {
    const b = this.bytes(at, n);
    let v = 0;
    for (let i = n - 1; i >= 0; i--) v = v * 256 + b[i]!;
    if (!Number.isSafeInteger(v)) throw new Error("address too large");
    return v;
  }
  ascii(at: number, n: number): string {
    return String.fromCharCode(...this.bytes(at, n));
  }
  cstring(at: number, max = 1024): string {
    const b = this.bytes(at, Math.min(max, this.#f.size - at));
    const end = b.indexOf(0);
    if (end < 0) throw new Error("unterminated name");
    return new TextDecoder().decode(b.subarray(0, end));
  }
}

const UNDEFINED_ADDRESS = 2 ** 53; // all-ones addresses read as >= this

interface Ctx {
  r: Reader;
  base: number; // the superblock's base address (a user block before it)
  O: number; // size of offsets
  L: number; // size of lengths
}

/** A message of an object header: its type and where its data is. */
interface Message {
  type: number;
  at: number;
  size: number;
}

/**
 * The byte offset of the raw data of dataset `/name` when it is contiguous and unfiltered, with
 * its stored size; `undefined` otherwise (or when the file uses a form this does not read).
 */
export function contiguousExtent(
  f: PositionalFile,
  superblockAt: number,
  name: string,
): { offset: number; size: number } | undefined {
  try {
    const r = new Reader(f);
    const version = r.uint(superblockAt + 8, 1);
    let ctx: Ctx;
    let rootHeader: number;
    let symbolTable: { btree: number; heap: number } | undefined;
    if (version === 0 || version === 1) {
      const O = r.uint(superblockAt + 13, 1), L = r.uint(superblockAt + 14, 1);
      let p = superblockAt + 24 + (version === 1 ? 4 : 0);
      const base = r.uint(p, O);
      p += 4 * O; // base, free-space, end of file, driver information addresses
      ctx = { r, base, O, L };
      // The root group's symbol table entry: name offset, object header, cache type, scratch.
      rootHeader = r.uint(p + O, O);
      if (r.uint(p + 2 * O, 4) === 1) {
        symbolTable = { btree: r.uint(p + 2 * O + 8, O), heap: r.uint(p + 3 * O + 8, O) };
      }
    } else if (version === 2 || version === 3) {
      const O = r.uint(superblockAt + 9, 1), L = r.uint(superblockAt + 10, 1);
      const base = r.uint(superblockAt + 12, O);
      ctx = { r, base, O, L };
      rootHeader = r.uint(superblockAt + 12 + 3 * O, O);
    } else return undefined;
    const messages = objectHeader(ctx, rootHeader);
    let dataset: number | undefined;
    const stab = messages.find((m) => m.type === 0x11);
    if (stab) {
      symbolTable = { btree: r.uint(stab.at, ctx.O), heap: r.uint(stab.at + ctx.O, ctx.O) };
    }
    if (symbolTable) dataset = findInSymbolTable(ctx, symbolTable, name);
    else {
      for (const m of messages.filter((m) => m.type === 0x06)) {
        const link = hardLink(ctx, m);
        if (link && link.name === name) dataset = link.address;
      }
    }
    if (dataset === undefined) return undefined;
    const ds = objectHeader(ctx, dataset);
    if (ds.some((m) => m.type === 0x0b)) return undefined; // a filter pipeline: compressed
    const layout = ds.find((m) => m.type === 0x08);
    if (!layout) return undefined;
    const lv = r.uint(layout.at, 1);
    if (lv !== 3 && lv !== 4) return undefined;
    if (r.uint(layout.at + 1, 1) !== 1) return undefined; // not contiguous
    const address = r.uint(layout.at + 2, ctx.O);
    const size = r.uint(layout.at + 2 + ctx.O, ctx.L);
    if (address >= UNDEFINED_ADDRESS) return undefined;
    const offset = ctx.base + address;
    if (offset + size > f.size) return undefined;
    return { offset, size };
  } catch {
    return undefined;
  }
}

/** The messages of an object header (version 1 or 2), continuation blocks followed. */
function objectHeader(c: Ctx, address: number): Message[] {
  const r = c.r;
  const at = c.base + address;
  const out: Message[] = [];
  const blocks: Array<{ at: number; len: number; v2: boolean }> = [];
  if (r.ascii(at, 4) === "OHDR") {
    if (r.uint(at + 4, 1) !== 2) throw new Error("object header version");
    const flags = r.uint(at + 5, 1);
    let p = at + 6 + (flags & 0x20 ? 16 : 0) + (flags & 0x10 ? 4 : 0);
    const w = 1 << (flags & 3);
    const len = r.uint(p, w);
    p += w;
    const creationOrder = (flags & 0x04) !== 0;
    blocks.push({ at: p, len, v2: true });
    for (let i = 0; i < blocks.length && i < 64; i++) {
      const b = blocks[i]!;
      let q = b.at;
      const end = b.at + b.len;
      while (q + 4 <= end) {
        const type = r.uint(q, 1), size = r.uint(q + 1, 2);
        const data = q + 4 + (creationOrder ? 2 : 0);
        if (data + size > end) break; // a gap at the end of the block
        out.push({ type, at: data, size });
        if (type === 0x10) {
          const cAt = c.base + r.uint(data, c.O), cLen = r.uint(data + c.O, c.L);
          if (r.ascii(cAt, 4) !== "OCHK") throw new Error("continuation signature");
          blocks.push({ at: cAt + 4, len: cLen - 8, v2: true }); // minus signature and checksum
        }
        q = data + size;
      }
    }
    return out;
  }
  if (r.uint(at, 1) !== 1) throw new Error("object header version");
  const count = r.uint(at + 2, 2);
  blocks.push({ at: at + 16, len: r.uint(at + 8, 4), v2: false });
  for (let i = 0; i < blocks.length && i < 64 && out.length < count; i++) {
    const b = blocks[i]!;
    let q = b.at;
    const end = b.at + b.len;
    while (q + 8 <= end && out.length < count) {
      const type = r.uint(q, 2), size = r.uint(q + 2, 2);
      out.push({ type, at: q + 8, size });
      if (type === 0x10) {
        blocks.push({ at: c.base + r.uint(q + 8, c.O), len: r.uint(q + 8 + c.O, c.L), v2: false });
      }
      q += 8 + size;
    }
  }
  return out;
}

/** Looks a name up in a version 1 B-tree of symbol table nodes with its local heap. */
function findInSymbolTable(
  c: Ctx,
  t: { btree: number; heap: number },
  name: string,
): number | undefined {
  const r = c.r;
  const heapAt = c.base + t.heap;
  if (r.ascii(heapAt, 4) !== "HEAP") throw new Error("local heap signature");
  const heapData = c.base + r.uint(heapAt + 8 + 2 * c.L, c.O);
  const pending = [c.base + t.btree];
  for (let guard = 0; pending.length > 0 && guard < 10_000; guard++) {
    const node = pending.pop()!;
    const sig = r.ascii(node, 4);
    if (sig === "SNOD") {
      const n = r.uint(node + 6, 2);
      const entry = 2 * c.O + 24;
      for (let i = 0; i < n; i++) {
        const e = node + 8 + i * entry;
        if (r.cstring(heapData + r.uint(e, c.O)) === name) return r.uint(e + c.O, c.O);
      }
      continue;
    }
    if (sig !== "TREE" || r.uint(node + 4, 1) !== 0) throw new Error("group B-tree node");
    const used = r.uint(node + 6, 2);
    // Keys (heap offsets, L bytes) and children (addresses) alternate after the sibling links.
    let p = node + 8 + 2 * c.O + c.L;
    for (let i = 0; i < used; i++, p += c.O + c.L) pending.push(c.base + r.uint(p, c.O));
  }
  return undefined;
}

/** A Link message (compact group storage) to a hard link: its name and object address. */
function hardLink(c: Ctx, m: Message): { name: string; address: number } | undefined {
  const r = c.r;
  if (r.uint(m.at, 1) !== 1) return undefined;
  const flags = r.uint(m.at + 1, 1);
  let p = m.at + 2;
  let type = 0;
  if (flags & 0x08) type = r.uint(p++, 1);
  if (flags & 0x04) p += 8; // creation order
  if (flags & 0x10) p += 1; // name character set
  const w = 1 << (flags & 3);
  const len = r.uint(p, w);
  p += w;
  const name = new TextDecoder().decode(r.bytes(p, len));
  if (type !== 0) return undefined; // soft or external
  return { name, address: r.uint(p + len, c.O) };
}
