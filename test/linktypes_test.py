#!/usr/bin/env python3
"""linktypes_test.py [SMTPSCOPE] - the same real sessions, re-encapsulated
into every link type smtpscope reads, give the same transcript as the
plain Ethernet capture: Linux cooked SLL and SLL2, raw IP, BSD NULL and
LOOP, 802.1Q and QinQ (stacked tags), pcapng (editcap), nanosecond pcap,
and the capture split into rotated files (editcap -c) read as one."""
import glob
import os
import shutil
import struct
import subprocess
import sys
import tempfile

os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
binary = sys.argv[1] if len(sys.argv) > 1 else "./smtpscope"
SRC = ["captures/core-two-transactions.pcap", "captures/proto-pipelining.pcap",
       "captures/diag-syn-dropped.pcap"]
work = tempfile.mkdtemp()
sys.path.insert(0, "test/lib")
from tap import check, finish  # noqa: E402


def read_pcap(path):
    d = open(path, "rb").read()
    magic, _, _, _, _, snap, dlt = struct.unpack("<IHHiIII", d[:24])
    assert magic == 0xA1B2C3D4 and dlt == 1, path
    off, pkts = 24, []
    while off + 16 <= len(d):
        sec, usec, incl, orig = struct.unpack("<IIII", d[off:off + 16])
        pkts.append((sec, usec, d[off + 16:off + 16 + incl]))
        off += 16 + incl
    return pkts


def write_pcap(path, dlt, pkts, nano=False):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B23C4D if nano else 0xA1B2C3D4, 2, 4, 0, 0,
                            262144, dlt))
        for sec, usec, data in pkts:
            f.write(struct.pack("<IIII", sec, usec * 1000 if nano else usec,
                                len(data), len(data)))
            f.write(data)


def recap(pkts, fn):
    return [(s, u, fn(d)) for s, u, d in pkts]


ETH_IP4 = b"\x08\x00"
encaps = {
    # Linux cooked v1: packet type, ARPHRD, addr len, 8 addr bytes, protocol
    "sll": (113, lambda e: struct.pack("!HHH8s", 0, 1, 6, e[6:12] + b"\0\0") + e[12:14] + e[14:]),
    # Linux cooked v2: protocol, reserved, ifindex, ARPHRD, type, addr len, addr
    "sll2": (276, lambda e: e[12:14] + b"\0\0" + struct.pack("!IHBB8s", 3, 1, 0, 6,
                                                          e[6:12] + b"\0\0") + e[14:]),
    "raw": (101, lambda e: e[14:]),
    "null": (0, lambda e: struct.pack("<I", 2) + e[14:]),
    "loop": (108, lambda e: struct.pack(">I", 2) + e[14:]),
    "vlan": (1, lambda e: e[:12] + b"\x81\x00" + struct.pack("!H", 42) + e[12:]),
    "qinq": (1, lambda e: e[:12] + b"\x88\xa8" + struct.pack("!H", 100) + b"\x81\x00"
             + struct.pack("!H", 42) + e[12:]),
}

for src in SRC:
    base = os.path.basename(src)[:-5]
    ref = subprocess.run([binary, "-q", "-r", src], capture_output=True).stdout
    pkts = read_pcap(src)
    variants = {}
    for name, (dlt, fn) in encaps.items():
        path = os.path.join(work, f"{base}-{name}.pcap")
        write_pcap(path, dlt, recap(pkts, fn))
        variants[name] = [path]
    path = os.path.join(work, f"{base}-nano.pcap")
    write_pcap(path, 1, pkts, nano=True)
    variants["nanosecond pcap"] = [path]
    if shutil.which("editcap"):
        ng = os.path.join(work, f"{base}.pcapng")
        subprocess.run(["editcap", "-F", "pcapng", src, ng], check=True)
        variants["pcapng"] = [ng]
        rot = os.path.join(work, f"{base}-rot.pcap")
        subprocess.run(["editcap", "-c", "5", src, rot], check=True)
        parts = sorted(glob.glob(os.path.join(work, f"{base}-rot_*.pcap")))
        variants[f"{len(parts)} rotated files"] = parts
    else:
        check(False, "editcap missing (apt-get install tshark)")
    for name, files in variants.items():
        out = subprocess.run([binary, "-q", *sum((["-r", f] for f in files), [])],
                             capture_output=True).stdout
        check(out == ref and len(ref) > 0, f"{base} as {name}: same transcript as Ethernet")
finish()
