#!/usr/bin/env python3
"""inject_reset.py IFACE SERVER_IP PORT - a middlebox forging a reset: it
watches the link (AF_PACKET) for the client's "DATA" command to
SERVER_IP:PORT and answers it with a TCP RST that claims to come from the
server, sent with TTL 200 (the real server's packets carry 64), as an
injecting firewall or ISP box would. Exits after one reset or 20 s."""
import socket
import struct
import sys
import time

iface, server, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
ready = sys.argv[4] if len(sys.argv) > 4 else None
srv = socket.inet_aton(server)
sniff = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(0x0800))
sniff.bind((iface, 0))
sniff.settimeout(1)
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
deadline = time.time() + 20
if ready:  # the recorder waits for this: watching before the client starts
    open(ready, "w").close()


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


while time.time() < deadline:
    try:
        frame = sniff.recv(65535)
    except socket.timeout:
        continue
    ip = frame[14:]
    if len(ip) < 40 or ip[9] != 6 or ip[16:20] != srv:
        continue
    ihl = (ip[0] & 15) * 4
    tcp = ip[ihl:]
    sport, dport, seq, ack = struct.unpack("!HHII", tcp[:12])
    off = (tcp[12] >> 4) * 4
    if dport != port or tcp[off:off + 6] != b"DATA\r\n":
        continue
    client = ip[12:16]
    # RST "from the server": its sequence number is what the client acks
    th = struct.pack("!HHIIBBHHH", port, sport, ack, 0, 5 << 4, 0x04, 0, 0, 0)
    pseudo = srv + client + struct.pack("!BBH", 0, 6, len(th))
    th = th[:16] + struct.pack("!H", csum(pseudo + th)) + th[18:]
    iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(th), 0x1234, 0, 200, 6, 0,
                      srv, client)
    iph = iph[:10] + struct.pack("!H", csum(iph)) + iph[12:]
    raw.sendto(iph + th, (socket.inet_ntoa(client), 0))
    break
