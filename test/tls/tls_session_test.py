#!/usr/bin/env python3
"""tls_session_test.py BINARY - the TLS handshake read in clear, end to end.

Real handshakes (OpenSSL's bytes, from make_tls_fixtures.py: self-signed,
expired, wrong-name, rejected, version mismatch, TLS 1.0, HelloRetryRequest)
are laid into TCP captures two ways: after a 220 to STARTTLS on port 25, and
from the first byte on port 465. What smtpscope reports (JSON tls_handshake,
the verdict, the findings, the text log) is checked against what Python's
ssl and openssl said about each handshake (the .expect files), not against
smtpscope's own output. Then the cases the fixtures cannot give: a capture
cut during the handshake, a handshake abandoned with a reset, a gap in it,
TLS where plaintext was expected and the reverse, one server showing two
certificates, and a hostile SNI that must come out escaped."""
import json
import os
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from pcapw import tcp4, write_pcap  # noqa: E402
from tap import check, finish  # noqa: E402
sys.path.insert(0, HERE)
from tls_capture import ACK, C, FIN, FIX, PSH, RST, S, SYN, chunks  # noqa: E402,F401

BIN = sys.argv[1]
# the fixtures' certificates are made now: the capture is dated now too
T0 = float(int(os.path.getmtime(os.path.join(FIX, "list")) if os.path.exists(
    os.path.join(FIX, "list")) else 0))


class Conn:
    """One TCP connection's packets, in wire order."""

    def __init__(self, cport, sport, t, srv=S):
        self.cp, self.sp, self.t, self.srv = cport, sport, t, srv
        self.seq = {True: 1000, False: 5000}
        self.frames = []
        self.pkt(True, SYN, b"")
        self.seq[True] += 1
        self.pkt(False, SYN | ACK, b"")
        self.seq[False] += 1
        self.pkt(True, ACK, b"")

    def pkt(self, fc, flags, data, skip=False):
        self.t += 0.005
        src, dst = (C, self.srv) if fc else (self.srv, C)
        sp, dp = (self.cp, self.sp) if fc else (self.sp, self.cp)
        if not skip:
            self.frames.append((self.t, tcp4(src, dst, sp, dp, self.seq[fc],
                                             self.seq[not fc], flags, data)))
        self.seq[fc] += len(data)

    def send(self, fc, data, skip=False):
        for i in range(0, len(data), 1400):
            self.pkt(fc, ACK | PSH, data[i:i + 1400], skip)

    def close(self, fc_first=True):
        self.pkt(fc_first, FIN | ACK, b"")
        self.seq[fc_first] += 1
        self.pkt(not fc_first, FIN | ACK, b"")
        self.seq[not fc_first] += 1
        self.pkt(fc_first, ACK, b"")

    def reset(self, fc):
        self.pkt(fc, RST | ACK, b"")


def expect(name):
    return dict(line.rstrip("\n").split("=", 1)
                for line in open(os.path.join(FIX, name + ".expect")))


def starttls_prefix(c):
    c.send(False, b"220 mx.example.net ESMTP Postfix\r\n")
    c.send(True, b"EHLO client.example.com\r\n")
    c.send(False, b"250-mx.example.net\r\n250-PIPELINING\r\n250 STARTTLS\r\n")
    c.send(True, b"STARTTLS\r\n")
    c.send(False, b"220 2.0.0 Ready to start TLS\r\n")


def run(frames, *opts):
    with tempfile.NamedTemporaryFile(suffix=".pcap", delete=False) as f:
        path = f.name
    try:
        write_pcap(path, frames, 101)
        j = subprocess.run([BIN, "-q", "-j", *opts, "-r", path], capture_output=True, text=True)
        t = subprocess.run([BIN, "-q", *opts, "-r", path], capture_output=True, text=True)
    finally:
        os.unlink(path)
    recs = [json.loads(line) for line in j.stdout.splitlines() if line.strip()]
    return [r for r in recs if r.get("type") == "session"], t.stdout, j.returncode | t.returncode


def findings(rec):
    return {a["name"] for a in rec["anomalies"]}


def fixture_session(name, port, prefix):
    c = Conn(40000 + port, port, T0)
    if prefix:
        starttls_prefix(c)
    for fc, data in chunks(name):
        c.send(fc, data)
    ex = expect(name)
    if ex["result"] == "complete":
        c.send(True, b"\x17\x03\x03\x00\x20" + b"\0" * 32)  # some data, then a close
        c.close()
    else:  # the side that refused hangs up
        c.close(ex.get("alert_from", "client") == "client")
    return c.frames, ex


def check_fixture(name, port, prefix):
    frames, ex = fixture_session(name, port, prefix)
    recs, text, rc = run(frames)
    what = "%s on port %d" % (name, port)
    if not check(rc == 0 and len(recs) == 1, "%s: one session reported" % what):
        return
    r = recs[0]
    hs = r["tls_handshake"]
    if not check(hs is not None, "%s: tls_handshake read" % what):
        return
    check(hs["sni"] == (ex["sni"] or None), "%s: SNI %r" % (what, hs["sni"]))
    check(hs["alpn"] == (ex["alpn"].split(",") if ex["alpn"] else None),
          "%s: ALPN %r" % (what, hs["alpn"]))
    check(hs["client_versions"] == ex["client_versions"].split(","),
          "%s: offered %s" % (what, hs["client_versions"]))
    if ex["result"] == "complete":
        check(hs["result"] == "complete" and r["verdict"] == "encrypted",
              "%s: complete, ENCRYPTED (%s, %s)" % (what, hs["result"], r["verdict"]))
        check(hs["version"] == ex["version"] and hs["cipher"] == ex["cipher"],
              "%s: %s %s negotiated" % (what, hs["version"], hs["cipher"]))
        brief = "ENCRYPTED (%s, %s%s)" % (ex["version"], ex["cipher"],
                                         ", SNI " + ex["sni"] if ex["sni"] else "")
        check(brief in text, "%s: text verdict says %s" % (what, brief))
    else:
        f = r["failure"] or {}
        check(r["verdict"] == "failed" and r["end_phase"] == "STARTTLS" and
              hs["result"] in ("failed", "abandoned"),
              "%s: FAILED at STARTTLS (%s, %s, %s)" % (what, r["verdict"], r["end_phase"],
                                                       hs["result"]))
        if hs["alert"]:
            check(hs["alert"]["description"] == ex["alert_desc"] and
                  hs["alert"]["from"] == ex["alert_from"] and
                  f.get("text", "").startswith("TLS alert %s (" % ex["alert_desc"]),
                  "%s: alert %s from %s, said in the failure" % (what, ex["alert_desc"],
                                                                  ex["alert_from"]))
        else:
            check(f.get("text", "").startswith("TLS handshake abandoned"),
                  "%s: no alert in clear: abandoned (%s)" % (what, f.get("text")))
        check(bool(f.get("hint")), "%s: the failure has a hint" % what)
    cert = hs["certificate"]
    if ex["cert"] == "1":
        if check(cert is not None, "%s: certificate read" % what):
            check(cert["subject"] == ex["cert_subject"] and cert["issuer"] == ex["cert_issuer"],
                  "%s: subject and issuer" % what)
            check(cert["names"] == ex["cert_names"].split(","), "%s: names" % what)
            check(cert["self_signed"] == (ex["self_signed"] == "1"), "%s: self-signed" % what)
            check(("tls-cert-self-signed" in findings(r)) == (ex["self_signed"] == "1"),
                  "%s: tls-cert-self-signed iff self-signed" % what)
            expired = int(ex["not_after"]) < T0 or int(ex["not_before"]) > T0
            check(("tls-cert-expired" in findings(r)) == expired,
                  "%s: tls-cert-expired iff expired at capture time" % what)
            # the names to match: the SNI, and the greeting's host (port 25)
            refs = [h for h in (ex["sni"], "mx.example.net" if prefix else "") if h]
            covered = not refs or any(n in refs for n in cert["names"])
            check(("tls-cert-name-mismatch" in findings(r)) == (not covered),
                  "%s: tls-cert-name-mismatch iff the names miss SNI and greeting" % what)
    else:
        check(cert is None, "%s: no certificate in clear" % what)
    old = hs["version"] in ("TLS 1.0", "TLS 1.1") or (
        hs["version"] is None and ex["client_versions"] in ("TLS 1.0", "TLS 1.1"))
    check(("tls-old-version" in findings(r)) == old, "%s: tls-old-version iff old" % what)
    check(("tls-mismatch" in findings(r)) is False, "%s: no tls-mismatch" % what)
    check(all(t["dir"] != "C" or t["line"].isprintable() for t in r["transcript"]),
          "%s: no TLS bytes shown as commands" % what)


def cut_and_abandoned():
    hello = chunks("tls12-selfsigned")
    # the capture ends after the server's first flight: incomplete
    c = Conn(41000, 25, T0)
    starttls_prefix(c)
    for fc, data in hello[:2]:
        c.send(fc, data)
    recs, _, _ = run(c.frames)
    r = recs[0]
    check(r["tls_handshake"]["result"] == "incomplete" and r["verdict"] == "incomplete" and
          r["end_phase"] == "STARTTLS", "capture cut in the handshake: INCOMPLETE at STARTTLS "
          "(%s, %s)" % (r["tls_handshake"]["result"], r["verdict"]))
    # the client resets after the server's certificate: abandoned
    c = Conn(41001, 25, T0)
    starttls_prefix(c)
    for fc, data in hello[:2]:
        c.send(fc, data)
    c.reset(True)
    recs, text, _ = run(c.frames)
    r = recs[0]
    check(r["tls_handshake"]["result"] == "abandoned" and r["verdict"] == "failed" and
          "abandoned after the server's certificate" in (r["failure"] or {}).get("text", ""),
          "reset after the certificate: abandoned, FAILED at STARTTLS (%s)" %
          (r["failure"] or {}).get("text"))
    # a gap (a lost segment) inside the handshake: what it held is unknown
    c = Conn(41002, 25, T0)
    starttls_prefix(c)
    for i, (fc, data) in enumerate(hello):
        c.send(fc, data, skip=(i == 1))
    c.close()
    recs, _, _ = run(c.frames)
    r = recs[0]
    check(r["tls_handshake"]["result"] == "incomplete" and r["verdict"] != "failed",
          "a gap in the handshake: incomplete, not blamed on the peers (%s, %s)" %
          (r["tls_handshake"]["result"], r["verdict"]))


def mismatches():
    hello = chunks("tls13-selfsigned")
    # a ClientHello on port 25 where a command was due
    c = Conn(42000, 25, T0)
    c.send(False, b"220 mx.example.net ESMTP Postfix\r\n")
    c.send(True, hello[0][1])
    c.send(False, b"500 5.5.2 Error: command not recognized\r\n")
    c.close(False)
    recs, text, _ = run(c.frames)
    r = recs[0]
    check("tls-mismatch" in findings(r), "ClientHello on port 25: tls-mismatch")
    check(not any(t["dir"] == "C" for t in r["transcript"]),
          "ClientHello on port 25: its bytes are no command")
    check("\\x16\\x03" not in text and "\x16" not in text,
          "ClientHello on port 25: no TLS bytes in the text log")
    # plaintext SMTP on port 465
    c = Conn(42001, 465, T0)
    c.send(False, b"220 mx.example.net ESMTP\r\n")
    c.send(True, b"QUIT\r\n")
    c.send(False, b"221 Bye\r\n")
    c.close(False)
    recs, _, _ = run(c.frames)
    check("tls-mismatch" in findings(recs[0]), "plaintext greeting on port 465: tls-mismatch")
    # a ClientHello on 465 answered in plaintext
    c = Conn(42002, 465, T0)
    c.send(True, hello[0][1])
    c.send(False, b"220 mx.example.net ESMTP plaintext\r\n")
    c.close(False)
    recs, text, _ = run(c.frames)
    r = recs[0]
    check("tls-mismatch" in findings(r) and r["verdict"] == "failed" and
          r["end_phase"] == "STARTTLS", "ClientHello answered in plaintext: tls-mismatch, "
          "FAILED at STARTTLS (%s)" % r["verdict"])
    check("220 mx.example.net" in text, "the plaintext answer is shown")


def interception():
    frames = []
    for i, name in enumerate(("tls12-selfsigned", "tls12-wrongname")):
        c = Conn(43000 + i, 25, T0 + 10 * i)
        starttls_prefix(c)
        for fc, data in chunks(name):
            c.send(fc, data)
        c.close()
        frames += c.frames
    recs, _, _ = run(sorted(frames, key=lambda f: f[0]))
    recs.sort(key=lambda r: r["start"])
    check(len(recs) == 2 and "tls-intercepted" not in findings(recs[0]) and
          "tls-intercepted" in findings(recs[1]),
          "one server address, two certificates: the second is tls-intercepted")


def client_hello(sni):
    """A minimal ClientHello offering TLS 1.3 with the given SNI bytes."""
    name = struct.pack("!BH", 0, len(sni)) + sni
    ext_sni = struct.pack("!HHH", 0, len(name) + 2, len(name)) + name
    ext_sv = struct.pack("!HHBH", 43, 3, 2, 0x0304)
    exts = ext_sni + ext_sv
    body = (struct.pack("!H", 0x0303) + b"\x11" * 32 + b"\0" + struct.pack("!HH", 2, 0x1301) +
            b"\x01\x00" + struct.pack("!H", len(exts)) + exts)
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs


def hostile_sni():
    c = Conn(44000, 25, T0)
    starttls_prefix(c)
    c.send(True, client_hello(b"evil\x1b[31m.example\r\nX: y"))
    c.close()
    recs, text, rc = run(c.frames)
    check(rc == 0 and "\x1b" not in text and "\r" not in text,
          "hostile SNI: no raw control bytes in the text log")
    check(recs and recs[0]["tls_handshake"]["sni"] is not None and
          "\x1b" not in recs[0]["tls_handshake"]["sni"],
          "hostile SNI: escaped in JSON (%r)" % (recs and recs[0]["tls_handshake"]["sni"]))


def main():
    if not os.path.exists(os.path.join(FIX, "list")):
        subprocess.run([sys.executable, os.path.join(HERE, "make_tls_fixtures.py"), FIX],
                       check=True)
    global T0
    T0 = float(int(os.path.getmtime(os.path.join(FIX, "list"))))
    names = open(os.path.join(FIX, "list")).read().split()
    check(len(names) >= 10, "%d handshake fixtures" % len(names))
    for name in names:
        check_fixture(name, 25, True)
        check_fixture(name, 465, False)
    cut_and_abandoned()
    mismatches()
    interception()
    hostile_sni()
    finish()


main()
