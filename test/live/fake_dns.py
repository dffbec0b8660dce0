#!/usr/bin/env python3
"""fake_dns.py ADDR [SECONDS] - a DNS server for the lab with the habits the
DNS-wait test needs: PTR queries are never answered (a resolver that times
out, as a broken reverse zone makes it), A queries under zen.example.org
answer 127.0.0.2 (a DNS block list listing every client), everything else
is NXDOMAIN. UDP only; stops after SECONDS (default 60) or 500 queries."""
import socket
import struct
import sys
import time

addr, life = sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 60.0
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((addr, 53))
s.settimeout(0.5)
deadline = time.time() + life


def question(msg):
    """(name, qtype, end of the question) of a query, or None."""
    i, labels = 12, []
    while i < len(msg) and msg[i] and len(labels) < 64:
        n = msg[i]
        labels.append(msg[i + 1:i + 1 + n].decode("ascii", "replace"))
        i += 1 + n
    if i + 5 > len(msg):
        return None
    return ".".join(labels).lower(), struct.unpack("!H", msg[i + 1:i + 3])[0], i + 5


for _ in range(500):
    if time.time() > deadline:
        break
    try:
        msg, peer = s.recvfrom(4096)
    except socket.timeout:
        continue
    q = question(msg) if len(msg) >= 12 else None
    if not q:
        continue
    name, qtype, end = q
    if qtype == 12:
        continue  # PTR: no answer, ever
    listed = qtype == 1 and name.endswith(".zen.example.org")
    flags = 0x8180 if listed else 0x8183
    head = msg[:2] + struct.pack("!HHHHH", flags, 1, 1 if listed else 0, 0, 0)
    answer = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + bytes([127, 0, 0, 2]) if listed else b""
    s.sendto(head + msg[12:end] + answer, peer)
