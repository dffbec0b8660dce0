#!/usr/bin/env python3
"""fastpcap_test.py - classic pcap files read in place give what libpcap gives.

    python3 test/fastpcap_test.py SMTPSCOPE

A regular classic pcap file in this machine's byte order is read by
capture_fast.c until a record that is not plain, then by libpcap from
there; the same bytes on stdin are read by libpcap alone. For each variant of a bundled capture (as it
is, byte-swapped, with nanosecond timestamps, cut at many offsets inside
its last records and inside a record header, with records longer than
the snapshot length or longer than libpcap allows, with timestamps past
2038, version 2.3's swapped lengths, with a BPF filter) the log, the JSON and stderr must be the same
both ways, the file's name aside.
"""
import os
import struct
import subprocess
import sys
import tempfile

binary = sys.argv[1]
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import tap  # noqa: E402
from tap import check  # noqa: E402


def records(data):
    """(ts_sec, frac, caplen, len, bytes) of a little-endian usec pcap."""
    out, pos = [], 24
    while pos + 16 <= len(data):
        sec, frac, cap, ln = struct.unpack_from("<IIII", data, pos)
        out.append([sec, frac, cap, ln, data[pos + 16:pos + 16 + cap]])
        pos += 16 + cap
    return out


def build(recs, endian="<", nsec=False, snap=262144, dlt=None, scale=1, minor=4):
    magic = 0xA1B23C4D if nsec else 0xA1B2C3D4
    link = dlt if dlt is not None else base_dlt
    b = struct.pack(endian + "IHHiIII", magic, 2, minor, 0, 0, snap, link)
    for sec, frac, cap, ln, body in recs:
        b += struct.pack(endian + "IIII", sec, frac * scale, cap, ln) + body
    return b


def both(data, args=()):
    """(file run, stdin run): stdout and stderr of -j and of the text log."""
    fd, path = tempfile.mkstemp(suffix=".pcap")
    os.write(fd, data)
    os.close(fd)
    res = []
    for how in ("file", "stdin"):
        outs = []
        for extra in ([], ["-j"]):
            cmd = [binary, "--stats", *extra, "-r", path if how == "file" else "-", *args]
            r = subprocess.run(cmd, input=None if how == "file" else data,
                               capture_output=True)
            err = r.stderr.replace(path.encode(), b"X").replace(b"(stdin)", b"X")
            outs.append((r.returncode, r.stdout, err))
        res.append(outs)
    os.unlink(path)
    return res


def same(name, data, args=()):
    f, s = both(data, args)
    ok = f == s
    if not ok:
        for (rf, of, ef), (rs, os_, es) in zip(f, s):
            print(f"# exit {rf}/{rs}; stdout same: {of == os_}; stderr file: {ef[-300:]!r}"
                  f" stdin: {es[-300:]!r}")
    check(ok, f"{name}: read in place and by libpcap, the same output")
    return f


src = open("captures/core-success.pcap", "rb").read()
base_dlt = struct.unpack_from("<I", src, 20)[0]
recs = records(src)
check(len(recs) > 10 and struct.unpack_from("<I", src, 0)[0] == 0xA1B2C3D4,
      f"core-success.pcap is a little-endian usec pcap of {len(recs)} records")

same("as it is", build(recs))
same("big-endian", build(recs, endian=">"))
same("nanosecond magic", build(recs, nsec=True, scale=1000))
same("a BPF filter", build(recs), ["tcp", "and", "dst", "port", "25"])
same("a filter that matches nothing", build(recs), ["udp"])

whole = build(recs)
last = len(whole) - 16 - len(recs[-1][4])
cuts = sorted({last - 30, last - 16, last - 15, last - 1, last, last + 1, last + 8,
               last + 15, last + 16, last + 17, len(whole) - 1, 24, 25, 39, 40})
for cut in cuts:
    r = same(f"cut at byte {cut} of {len(whole)}", whole[:cut])
    if cut in (last + 8, len(whole) - 1):
        check(b"truncated" in r[0][2], f"cut at byte {cut}: said truncated")

# handed back to libpcap at the cut record, with the filter
same("a BPF filter on a file cut in its last record", whole[:last + 8],
     ["tcp", "and", "dst", "port", "25"])
mid = 24 + sum(16 + len(r[4]) for r in recs[:len(recs) // 2])
broken = bytearray(whole)
struct.pack_into("<I", broken, mid + 8, 300000)  # a damaged length mid-file
r = same("a damaged length in the middle, with a filter", bytes(broken), ["tcp"])
check(b"invalid packet capture length" in r[0][2] and b"Connected" in r[0][1],
      "a damaged length in the middle: the records before it read, the error said")

# records longer than the snapshot length (cut to it) and longer than
# libpcap accepts (an error, the rest of the file unread)
snap = 60
cut_recs = [[s, f, c, l, b] for s, f, c, l, b in recs]
same("records longer than the snapshot length", build(cut_recs, snap=snap))
r = same("records longer than the snapshot length, a filter that matches nothing",
         build(cut_recs, snap=snap), ["udp"])
check(b"Connected" not in r[0][1], "the filter holds after libpcap takes the file back")
huge = [r[:] for r in recs]
huge[5] = [huge[5][0], huge[5][1], 300000, 300000, b"\0" * 300000]
r = same("a record above 262144 bytes", build(huge))
check(b"invalid packet capture length" in r[0][2], "a record above 262144 bytes: said")
late = [[s + 0x80000000, f, c, l, b] for s, f, c, l, b in recs]
same("timestamps past 2038", build(late))
# version 2.3: libpcap takes a record whose caplen is above its len as
# written with the two swapped (some 2.3 writers did), and swaps them back
same("version 2.3", build(recs, minor=3))
odd = [r[:] for r in recs]
odd[5][3] = odd[5][2] - 10
r = same("version 2.3, a record with caplen above len", build(odd, minor=3))
same("version 2.4, a record with caplen above len", build(odd))
same("version 2.2 (lengths always swapped)", build(recs, minor=2))
bad_frac = [[s, 999999 + 5, c, l, b] for s, f, c, l, b in recs]
same("a microsecond field above a second", build(bad_frac))

# the generator's captures, interleaved sessions, several files merged
gen = os.environ.get("GEN_CAPTURE")
if gen:
    tmp = tempfile.mkdtemp()
    big = os.path.join(tmp, "g.pcap")
    subprocess.run([gen, "-o", big, "-s", "3", "-c", "50", "--mix", "gateway"],
                   check=True, capture_output=True)
    same("a generated gateway capture", open(big, "rb").read())
    os.unlink(big)
    os.rmdir(tmp)

print(f"# fastpcap: {tap.failed} failed")
tap.finish()
