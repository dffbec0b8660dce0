#!/usr/bin/env python3
"""client_scripted.py HOST MODE - an SMTP client for the cases no real
client produces on purpose, played against a real server (Postfix):

  pipeline-xxxx   a PIPELINING batch MAIL/RCPT/XXXX/RCPT/DATA in one segment
  data-rejected   a batch whose only RCPT is refused, so DATA is refused too;
                  the client then goes on with commands (never a body)
  bdat            CHUNKING: a message in three BDAT chunks, the last LAST,
                  with chunk content that looks like SMTP commands
  bdat-malformed  "BDAT xyz" (refused), then a valid BDAT 0 LAST message
  early-talker    EHLO sent before the greeting
  misc            NOOP, VRFY, HELP, an unknown verb, RSET, one at a time
  idle            a message, with the client silent for 3 s before RCPT
Every wait is bounded (5 s socket timeout)."""
import socket
import sys

host, mode = sys.argv[1], sys.argv[2]
s = socket.create_connection((host, 25), timeout=5)
buf = b""


def reply():
    """Read one complete (possibly multi-line) reply."""
    global buf
    while True:
        while b"\r\n" in buf:
            line, buf = buf.split(b"\r\n", 1)
            if len(line) < 4 or line[3:4] != b"-":
                return line
        data = s.recv(4096)
        if not data:
            return b""
        buf += data


def replies(n):
    return [reply() for _ in range(n)]


def send(data):
    try:
        s.sendall(data)
    except OSError:  # the server hung up (Postfix closes after a 521)
        sys.exit(0)


if mode == "early-talker":
    send(b"EHLO client.example.com\r\n")   # before the 220
    replies(2)
else:
    reply()
    send(b"EHLO client.example.com\r\n")
    reply()

if mode == "pipeline-xxxx":
    send(b"MAIL FROM:<sender@example.com>\r\nRCPT TO:<alice@example.net>\r\n"
         b"XXXX\r\nRCPT TO:<bob@example.net>\r\nDATA\r\n")
    r = replies(5)
    if r[-1].startswith(b"354"):
        send(b"Subject: pipelined\r\n\r\nbody\r\n.\r\n")
        reply()
elif mode == "data-rejected":
    send(b"MAIL FROM:<sender@example.com>\r\nRCPT TO:<nobody@example.net>\r\nDATA\r\n")
    replies(3)
    send(b"RSET\r\nNOOP\r\n")
    replies(2)
elif mode == "bdat":
    send(b"MAIL FROM:<sender@example.com>\r\nRCPT TO:<alice@example.net>\r\n")
    replies(2)
    c1 = b"Subject: chunked\r\n\r\nQUIT\r\nRSET\r\n"
    c2 = b"binary \x00\x01\x02 content\r\n"
    c3 = b"last line\r\n"
    send(b"BDAT %d\r\n" % len(c1) + c1)
    reply()
    send(b"BDAT %d\r\n" % len(c2) + c2)
    reply()
    send(b"BDAT %d LAST\r\n" % len(c3) + c3)
    reply()
elif mode == "bdat-malformed":
    send(b"MAIL FROM:<sender@example.com>\r\nRCPT TO:<alice@example.net>\r\n")
    replies(2)
    send(b"BDAT xyz\r\n")
    if reply().startswith(b"521"):  # Postfix: syntax error, then it hangs up
        sys.exit(0)
    send(b"RSET\r\n")
    reply()
    send(b"MAIL FROM:<sender@example.com>\r\nRCPT TO:<alice@example.net>\r\n")
    replies(2)
    send(b"BDAT 0 LAST\r\n")
    reply()
elif mode == "early-talker":
    pass
elif mode == "idle":
    import time
    send(b"MAIL FROM:<sender@example.com>\r\n")
    reply()
    time.sleep(3)
    send(b"RCPT TO:<alice@example.net>\r\n")
    reply()
    send(b"DATA\r\n")
    reply()
    send(b"Subject: idle\r\n\r\nbody\r\n.\r\n")
    reply()
elif mode == "misc":
    for cmd in (b"NOOP", b"VRFY alice", b"HELP", b"XYZZY plugh", b"RSET"):
        send(cmd + b"\r\n")
        reply()
send(b"QUIT\r\n")
reply()
s.close()
