#!/usr/bin/env python3
"""client_two_tx.py HOST - two transactions in one SMTP connection, with
RSET between them and a dot-stuffed line in the first body (standard
library smtplib: a real client, nothing hand-typed on the wire)."""
import smtplib
import sys

host = sys.argv[1]
body1 = ("Subject: first\r\nMessage-ID: <first@client.example.com>\r\n\r\n"
         "line one\r\n.a line that starts with a dot\r\n..two dots\r\n")
body2 = "Subject: second\r\nMessage-ID: <second@client.example.com>\r\n\r\nline two\r\n"
with smtplib.SMTP(host, 25, local_hostname="client.example.com", timeout=10) as s:
    s.ehlo()
    s.sendmail("sender@example.com", ["alice@example.net"], body1)
    s.rset()
    s.sendmail("sender@example.com", ["bob@example.net"], body2)
    s.quit()
