#!/usr/bin/env python3
"""client_mx.py DNS_SERVER RECIPIENT - deliver one message the way an MTA's
client does: look up the recipient domain's MX hosts (dig, against the
lab's DNS server), resolve each host, try them in order of preference with
a 3 s connection timeout, and hand the message to the first that answers.
Every wait is bounded."""
import smtplib
import subprocess
import sys

dns, rcpt = sys.argv[1], sys.argv[2]
domain = rcpt.split("@", 1)[1]


def dig(name, rtype):
    r = subprocess.run(["dig", "@" + dns, "+short", "+tries=1", "+timeout=2", name, rtype],
                       capture_output=True, text=True, timeout=10)
    return [l.split() for l in r.stdout.splitlines() if l.strip()]


mxs = sorted((int(p), h.rstrip(".")) for p, h in dig(domain, "MX"))
if not mxs:
    mxs = [(0, domain)]  # implicit MX: the domain itself
for pref, host in mxs:
    for (addr,) in dig(host, "A"):
        try:
            s = smtplib.SMTP(addr, 25, local_hostname="client.example.com", timeout=3)
        except OSError as e:
            print(f"client_mx: {pref} {host} ({addr}): {e}", file=sys.stderr)
            continue
        try:
            s.sendmail("sender@example.com", [rcpt],
                       f"Subject: to {domain}\r\n\r\nvia MX {pref} {host}\r\n")
        except smtplib.SMTPException as e:
            print(f"client_mx: {host}: {e}", file=sys.stderr)
        finally:
            try:
                s.quit()
            except smtplib.SMTPException:
                pass
        sys.exit(0)
sys.exit(1)
