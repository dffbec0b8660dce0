#!/usr/bin/env python3
"""server_scripted.py HOST PORT MODE - what some servers and middleboxes do
on port 25 that no MTA does when asked (one connection, bounded waits):

  close         accept, then close at once without a banner (FIN)
  reset         accept, then reset at once (RST: policy refusal, TCPREFUSE)
  partial       send "220-" lines but never the last banner line
  silent        accept and say nothing for 6 s"""
import socket
import struct
import sys
import time

host, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((host, port))
ls.listen(1)
ls.settimeout(30)
try:
    c, _ = ls.accept()
except socket.timeout:
    sys.exit(0)
if mode == "reset":
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
elif mode == "partial":
    c.sendall(b"220-mx.example.net ESMTP welcome\r\n220-please wait\r\n")
    time.sleep(6)
elif mode == "silent":
    time.sleep(6)
c.close()
