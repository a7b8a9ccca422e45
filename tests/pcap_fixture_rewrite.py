#!/usr/bin/python3
"""Fixture builder for tests/pcap_formats_test.ts: rewrites capture files written by
independent tools (tcpdump, editcap, mergecap) into variants that no tool here writes.

  pcap_fixture_rewrite.py be-pcapng IN OUT   every pcapng section rewritten in big-endian order
  pcap_fixture_rewrite.py be-pcap IN OUT     a classic pcap rewritten in big-endian order
  pcap_fixture_rewrite.py spb IN OUT [K]     every K-th (default every) Enhanced Packet Block of
                                             interface 0 becomes a Simple Packet Block

The byte-order rewrite swaps every field it knows (block headers, SHB/IDB/EPB/ISB/NRB fixed
fields and the numeric options of the pcapng spec) and keeps string and byte options as they
are; a block or option it does not know is an error, not a silent copy. The results are
checked with tshark by the test, never trusted as they are.
"""
import struct
import sys

# Options whose value is one number, by block type: option code -> struct format.
NUMERIC_OPTIONS = {
    0x0A0D0D0A: {},  # SHB: shb_hardware, shb_os, shb_userappl are strings
    0x00000001: {8: "Q", 10: "I", 14: "q"},  # IDB: if_speed, if_tzone, if_tsoffset
    0x00000006: {2: "I", 4: "Q", 5: "Q", 6: "I"},  # EPB: flags, dropcount, packetid, queue
    0x00000005: {4: "Q", 5: "Q", 6: "Q", 7: "Q", 8: "Q"},  # ISB counters
}
# Options kept byte for byte (strings, addresses, single bytes, hashes, verdicts).
BYTE_OPTIONS = {
    0x0A0D0D0A: {1, 2, 3, 4, 2988, 2989, 19372, 19373},
    0x00000001: {1, 2, 3, 4, 5, 6, 7, 9, 11, 12, 13, 15, 2988, 2989, 19372, 19373},
    0x00000006: {1, 3, 7, 2988, 2989, 19372, 19373},
    0x00000005: {1, 2988, 2989, 19372, 19373},
    0x00000004: {1, 2, 3, 4, 2988, 2989, 19372, 19373},
}
# ISB isb_starttime / isb_endtime: two u32 (high, low), each in section order.
ISB_TIME_OPTIONS = {2, 3}


def swap_options(data: bytes, block_type: int, src: str) -> bytes:
    out = bytearray()
    p = 0
    while p + 4 <= len(data):
        code, olen = struct.unpack_from(src + "HH", data, p)
        value = data[p + 4 : p + 4 + olen]
        padded = (olen + 3) & ~3
        out += struct.pack(">HH", code, olen)
        if code == 0:
            out += data[p + 4 : p + 4 + padded]
            p += 4 + padded
            break
        fmt = NUMERIC_OPTIONS.get(block_type, {}).get(code)
        if fmt is not None:
            out += struct.pack(">" + fmt, *struct.unpack(src + fmt, value))
        elif block_type == 0x00000005 and code in ISB_TIME_OPTIONS:
            out += struct.pack(">II", *struct.unpack(src + "II", value))
        elif code in BYTE_OPTIONS.get(block_type, set()):
            out += value
        else:
            raise SystemExit(f"option {code} of block 0x{block_type:08x}: unknown, not rewritten")
        out += data[p + 4 + olen : p + 4 + padded]
        p += 4 + padded
    if p != len(data):
        out += data[p:]  # trailing bytes after opt_endofopt (none in files written by Wireshark)
    return bytes(out)


def be_pcapng(d: bytes) -> bytes:
    out = bytearray()
    o = 0
    src = "<"
    while o < len(d):
        if d[o : o + 4] == b"\x0a\x0d\x0d\x0a":
            bom = d[o + 8 : o + 12]
            src = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
        btype, blen = struct.unpack_from(src + "II", d, o)
        body = d[o + 8 : o + blen - 4]
        if btype == 0x0A0D0D0A:
            major, minor, slen = struct.unpack_from(src + "HHq", body, 4)
            nb = struct.pack(">IHHq", 0x1A2B3C4D, major, minor, slen) + swap_options(body[16:], btype, src)
        elif btype == 0x00000001:
            link, res, snap = struct.unpack_from(src + "HHI", body, 0)
            nb = struct.pack(">HHI", link, res, snap) + swap_options(body[8:], btype, src)
        elif btype == 0x00000006:
            iface, hi, lo, cap, orig = struct.unpack_from(src + "IIIII", body, 0)
            padded = (cap + 3) & ~3
            nb = struct.pack(">IIIII", iface, hi, lo, cap, orig) + body[20 : 20 + padded]
            nb += swap_options(body[20 + padded :], btype, src)
        elif btype == 0x00000003:
            (orig,) = struct.unpack_from(src + "I", body, 0)
            nb = struct.pack(">I", orig) + body[4:]
        elif btype == 0x00000005:
            iface, hi, lo = struct.unpack_from(src + "III", body, 0)
            nb = struct.pack(">III", iface, hi, lo) + swap_options(body[12:], btype, src)
        else:
            raise SystemExit(f"block 0x{btype:08x} at byte {o}: unknown, not rewritten")
        if len(nb) + 12 != blen:
            raise SystemExit(f"block at byte {o} changed length in the rewrite")
        out += struct.pack(">II", btype, blen) + nb + struct.pack(">I", blen)
        o += blen
    return bytes(out)


def be_pcap(d: bytes) -> bytes:
    (magic,) = struct.unpack_from("<I", d, 0)
    if magic not in (0xA1B2C3D4, 0xA1B23C4D):
        raise SystemExit("be-pcap wants a little-endian classic pcap")
    out = bytearray(struct.pack(">IHHiIII", *struct.unpack_from("<IHHiIII", d, 0)))
    o = 24
    while o < len(d):
        sec, frac, cap, orig = struct.unpack_from("<IIII", d, o)
        out += struct.pack(">IIII", sec, frac, cap, orig) + d[o + 16 : o + 16 + cap]
        o += 16 + cap
    return bytes(out)


def spb(d: bytes, every: int) -> bytes:
    out = bytearray()
    o = 0
    src = "<"
    n = 0
    while o < len(d):
        if d[o : o + 4] == b"\x0a\x0d\x0d\x0a":
            src = "<" if d[o + 8 : o + 12] == b"\x4d\x3c\x2b\x1a" else ">"
        btype, blen = struct.unpack_from(src + "II", d, o)
        if btype == 0x00000006:
            iface, _hi, _lo, cap, orig = struct.unpack_from(src + "IIIII", d, o + 8)
            if iface == 0:
                n += 1
                if n % every == 0:
                    padded = (cap + 3) & ~3
                    data = d[o + 28 : o + 28 + padded]
                    size = 16 + padded
                    out += struct.pack(src + "III", 3, size, orig) + data + struct.pack(src + "I", size)
                    o += blen
                    continue
        out += d[o : o + blen]
        o += blen
    return bytes(out)


def main() -> None:
    mode, src, dst = sys.argv[1], sys.argv[2], sys.argv[3]
    d = open(src, "rb").read()
    if mode == "be-pcapng":
        r = be_pcapng(d)
    elif mode == "be-pcap":
        r = be_pcap(d)
    elif mode == "spb":
        r = spb(d, int(sys.argv[4]) if len(sys.argv) > 4 else 1)
    else:
        raise SystemExit(f"unknown mode {mode}")
    open(dst, "wb").write(r)


if __name__ == "__main__":
    main()
