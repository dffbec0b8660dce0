#!/usr/bin/env python3
"""tls_intercept_proxy.py LISTEN_ADDR LISTEN_PORT SERVER_ADDR SERVER_PORT CERT KEY

A TLS-intercepting SMTP proxy, as inspecting middleboxes do it: it relays
the dialogue in clear up to STARTTLS, answers the client's STARTTLS itself
with its own certificate (CERT/KEY, signed by its own CA), starts TLS to
the real server on its own, and relays the decrypted dialogue between the
two. One connection at a time; it stops after 20 connections or 60 s."""
import socket
import ssl
import sys
import time

la, lp, sa, sp, cert, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), \
    sys.argv[5], sys.argv[6]


def lines(sock):
    buf = b""
    while True:
        while b"\r\n" not in buf:
            more = sock.recv(4096)
            if not more:
                return
            buf += more
        line, buf = buf.split(b"\r\n", 1)
        yield line + b"\r\n"


def reply(server_lines):
    """A whole reply (multi-line until 'NNN ')."""
    out = b""
    for line in server_lines:
        out += line
        if len(line) < 4 or line[3:4] != b"-":
            return out
    return out


def relay(a, b):
    a.settimeout(10)
    b.settimeout(10)
    import select
    socks = [a, b]
    end = time.time() + 20
    while time.time() < end:
        r, _, _ = select.select(socks, [], [], 1)
        for s in r:
            try:
                data = s.recv(65536)
            except (ssl.SSLError, OSError):
                return
            if not data:
                return
            (b if s is a else a).sendall(data)


def handle(client):
    up = socket.create_connection((sa, sp), timeout=10)
    up_lines = lines(up)
    client.sendall(reply(up_lines))
    for line in lines(client):
        if line.upper().startswith(b"STARTTLS"):
            client.sendall(b"220 2.0.0 Ready to start TLS\r\n")
            up.sendall(b"EHLO proxy.example.net\r\n")
            reply(up_lines)
            up.sendall(b"STARTTLS\r\n")
            reply(up_lines)
            sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            sctx.load_cert_chain(cert, key)
            cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            cctx.check_hostname = False
            cctx.verify_mode = ssl.CERT_NONE
            tc = sctx.wrap_socket(client, server_side=True)
            tu = cctx.wrap_socket(up, server_hostname="mx.example.net")
            tu.sendall(b"EHLO proxy.example.net\r\n")
            reply(lines(tu))
            relay(tc, tu)
            return
        up.sendall(line)
        client.sendall(reply(up_lines))


srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((la, lp))
srv.listen(5)
srv.settimeout(1)
deadline, served = time.time() + 60, 0
while time.time() < deadline and served < 20:
    try:
        c, _ = srv.accept()
    except socket.timeout:
        continue
    served += 1
    try:
        handle(c)
    except (OSError, ssl.SSLError):
        pass
    finally:
        c.close()
