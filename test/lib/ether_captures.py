#!/usr/bin/env python3
"""ether_captures.py - the bundled pcap files whose link type is Ethernet,
one per line: the ones mergecap can merge into a single capture that
libpcap reads back (a pcapng mixing link types is refused by libpcap 1.10)."""
import glob
import struct

for path in sorted(glob.glob("captures/*.pcap")):
    with open(path, "rb") as f:
        h = f.read(24)
    if len(h) < 24:
        continue
    endian = "<" if h[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    if struct.unpack(endian + "I", h[20:24])[0] == 1:
        print(path)
