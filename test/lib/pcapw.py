"""pcapw.py - write small captures for tests: TCP segments over raw IPv4
(link type 101) or Ethernet/IPv6 (link type 1), with valid checksums where
smtpscope could care, and a classic pcap file of them."""
import struct


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def tcp4(src, dst, sp, dp, seq, ack, flags, data=b"", ttl=64, win=65535):
    """A raw IPv4 packet carrying one TCP segment (link type 101); sequence
    numbers wrap."""
    tcp = struct.pack("!HHIIBBHHH", sp, dp, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      5 << 4, flags, win, 0, 0)
    ph = src + dst + struct.pack("!BBH", 0, 6, len(tcp) + len(data))
    tcp = tcp[:16] + struct.pack("!H", csum(ph + tcp + data)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40 + len(data), 0, 0x4000, ttl, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return ip + tcp + data


def eth_tcp6(src, dst, sp, dp, seq, ack, flags, data=b""):
    """An Ethernet frame carrying IPv6 and one TCP segment (link type 1)."""
    tcp = struct.pack("!HHIIBBHHH", sp, dp, seq, ack, 5 << 4, flags, 65535, 0, 0) + data
    ip6 = struct.pack("!IHBB16s16s", 6 << 28, len(tcp), 6, 64, src, dst) + tcp
    return b"\x02\0\0\0\0\x01\x02\0\0\0\0\x02\x86\xdd" + ip6


def udp4(src, dst, sp, dp, data):
    """A raw IPv4 packet carrying one UDP datagram (link type 101)."""
    udp = struct.pack("!HHHH", sp, dp, 8 + len(data), 0) + data
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return ip + udp


def write_pcap(path, frames, dlt, snaplen=None):
    """frames: (seconds as a float, bytes) in capture order; with snaplen,
    each frame is cut to that many bytes (its original length kept)."""
    snap = snaplen or 262144
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snap, dlt))
        for t, p in frames:
            f.write(struct.pack("<IIII", int(t), int(round((t % 1) * 1e6)) % 1000000,
                                min(len(p), snap), len(p)) + p[:snap])
