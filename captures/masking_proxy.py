#!/usr/bin/env python3
"""masking_proxy.py LISTEN_HOST LISTEN_PORT BACKEND_PORT [MODE] - an SMTP proxy that
behaves like a Cisco PIX/ASA with "fixup smtp" (mailguard) in front of a
real server: the banner text is replaced by asterisks, STARTTLS in the
EHLO reply is overwritten with X's, and client commands outside the small
allowed set are replaced by X's of the same length (the server answers 500).
MODE "no-ehlo" also masks EHLO (old mailguard: the client must fall back to
HELO); MODE "rename" instead leaves everything intact but announces its own
host name in the banner (a transparent proxy); MODE "strip" only removes
the STARTTLS line from the EHLO reply (TLS stripping).
One connection at a time; every wait bounded (10 s)."""
import socket
import sys

host, port, backend = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
mode = sys.argv[4] if len(sys.argv) > 4 else "mask"
ALLOWED = {b"HELO", b"EHLO", b"MAIL", b"RCPT", b"DATA", b"RSET", b"NOOP", b"QUIT"}
if mode == "no-ehlo":
    ALLOWED.discard(b"EHLO")

ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((host, port))
ls.listen(5)
ls.settimeout(60)


def mask_server_line(line, first):
    if mode == "strip":
        return None if line[4:].upper().startswith(b"STARTTLS") else line
    if mode == "rename":
        if first and line.startswith(b"220 "):
            return b"220 proxy.example.net ESMTP ready"
        return line
    if first and line.startswith(b"220"):
        body = line[4:]
        return line[:4] + b"*" * len(body)
    if line[4:].upper().startswith(b"STARTTLS"):
        return line[:4] + b"XXXXXXXA"
    return line


def mask_client_line(line, in_data):
    if in_data or mode in ("rename", "strip"):
        return line
    verb = line.split(b" ", 1)[0].upper()
    if verb in ALLOWED:
        return line
    return b"X" * len(line)


def serve(c):
    b = socket.create_connection(("127.0.0.1", backend), timeout=10)
    c.settimeout(10)
    first = True
    in_data = False
    cbuf = sbuf = b""
    import select
    while True:
        r, _, _ = select.select([c, b], [], [], 10)
        if not r:
            return
        for s in r:
            data = s.recv(65536)
            if not data:
                return
            if s is b:
                sbuf += data
                batch = b""  # what one read brought goes on in one write
                while b"\r\n" in sbuf:
                    line, sbuf = sbuf.split(b"\r\n", 1)
                    out = mask_server_line(line, first)
                    first = False
                    if line.startswith(b"354"):
                        in_data = True
                    if out is not None:
                        batch += out + b"\r\n"
                if batch:
                    c.sendall(batch)
            else:
                cbuf += data
                while b"\r\n" in cbuf:
                    line, cbuf = cbuf.split(b"\r\n", 1)
                    if in_data and line == b".":
                        in_data = False
                        b.sendall(b".\r\n")
                        continue
                    b.sendall(mask_client_line(line, in_data) + b"\r\n")


while True:
    try:
        c, _ = ls.accept()
    except socket.timeout:
        break
    try:
        serve(c)
    except OSError:
        pass
    finally:
        c.close()
