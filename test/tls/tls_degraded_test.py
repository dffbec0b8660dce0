#!/usr/bin/env python3
"""tls_degraded_test.py BINARY - TLS handshakes in degraded captures.

The real handshakes of make_tls_fixtures.py (OpenSSL's bytes), laid into
byte-exact TCP captures (pcapw.py) after STARTTLS on port 25 and from the
first byte on port 465, then degraded the ways real captures are: one
direction only (asymmetric routing), small snap lengths, segments merged
or split to single bytes, reordered, duplicated and overlapping, one
segment lost inside the Certificate, the capture beginning or ending at
every point of the handshake. What each capture really shows is worked
out here from the bytes (the TLS records and handshake messages in each
direction, and which of them the capture holds whole); smtpscope must
report that or less, never more: a field it gives (version, cipher, SNI,
certificate) is the handshake's real one, a verdict it states (FAILED) is
one the captured bytes prove, and what the capture cannot show is
INCOMPLETE. The TCP path counts must not grow from a cut or a missing
side. AUTH secrets in one-sided captures around a STARTTLS stay hidden."""
import base64
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from pcapw import write_pcap  # noqa: E402
from tap import check, finish  # noqa: E402
sys.path.insert(0, HERE)
from tls_capture import FIX, SYN, Conn, chunks, landmarks, starttls_prefix  # noqa: E402

BIN = sys.argv[1]
T0 = 0.0  # set in main from the fixtures' date (their certificates are fresh)
TMP = tempfile.mkdtemp()


# ---- the fixtures and what their bytes hold ---------------------------------

_expect = {}


def expect(name):
    """The .expect file; for a handshake that failed after the ServerHello
    it names no cipher: tshark reads it from the bytes."""
    if name in _expect:
        return _expect[name]
    ex = dict(line.rstrip("\n").split("=", 1)
              for line in open(os.path.join(FIX, name + ".expect")))
    if "cipher" not in ex:
        ex["cipher"] = tshark_cipher(name)
    _expect[name] = ex
    return ex


def tshark_cipher(name):
    c = Conn(39000, 465, T0)
    for fc, d in chunks(name):
        c.send(fc, d)
    path = os.path.join(TMP, "cipher.pcap")
    write_pcap(path, c.frames(), 101)
    out = subprocess.run(["tshark", "-r", path, "-d", "tcp.port==465,tls", "-Y",
                          "tls.handshake.type == 2", "-T", "fields", "-e",
                          "tls.handshake.ciphersuite"], capture_output=True, text=True).stdout
    codes = [int(x, 16) for x in out.split()]
    table = dict(line.split() for line in open(os.path.join(FIX, "ciphers")))
    return table.get("%04x" % codes[-1]) if codes else None


PORTS = {25: 40000, 465: 41000}
_next_port = [0]


def tls_conn(name, port, mss=1400, merge=False, close=True):
    """The fixture's handshake over TCP. merge: each run of one side's
    writes in one segment (several records a segment)."""
    _next_port[0] += 1
    c = Conn(PORTS[port] + _next_port[0] % 900, port, T0)
    if port == 25:
        starttls_prefix(c)
    c.tls_at = {True: c.seq[True], False: c.seq[False]}
    ch = chunks(name)
    if merge:
        runs = []
        for fc, d in ch:
            if runs and runs[-1][0] == fc:
                runs[-1] = (fc, runs[-1][1] + d)
            else:
                runs.append((fc, d))
        ch = runs
    for fc, d in ch:
        c.send(fc, d, mss)
    if close:
        ex = expect(name)
        c.close(ex.get("alert_from", "client") == "client" or ex["result"] == "complete")
    return c


def run(frames, *opts, snaplen=None):
    path = os.path.join(TMP, "x.pcap")
    write_pcap(path, frames, 101, snaplen=snaplen)
    j = subprocess.run([BIN, "-q", "-j", *opts, "-r", path], capture_output=True, text=True)
    t = subprocess.run([BIN, "-q", *opts, "-r", path], capture_output=True, text=True)
    bad = j.returncode or t.returncode or "runtime error" in j.stderr + t.stderr or \
        "ERROR: AddressSanitizer" in j.stderr + t.stderr
    recs = [json.loads(x) for x in j.stdout.splitlines() if x.strip()]
    return [r for r in recs if r.get("type") == "session"], t.stdout, bad


def names(r):
    return {a["name"] for a in r["anomalies"]}


def no_tls_as_lines(r, text):
    """TLS bytes are never commands or replies."""
    return all(t["line"].isprintable() and "\\x16\\x03" not in t["line"]
               for t in r["transcript"] if t["dir"] in ("C", "S")) and "\\x16\\x03" not in text


class Truth:
    """What a capture holding `have[side]` TLS bytes of each direction
    (from the start of TLS) shows of the fixture's handshake."""

    def __init__(self, name, have):
        ex = self.ex = expect(name)
        self.name = name
        streams = {True: b"", False: b""}
        self.chunk_at = {}  # chunk index: where it begins in its side's stream
        for k, (fc, d) in enumerate(chunks(name)):
            self.chunk_at[k] = len(streams[fc])
            streams[fc] += d
        tls13 = ex["version"] == "TLS 1.3"
        self.marks = {fc: landmarks(streams[fc], tls13) for fc in (True, False)}
        self.total = {fc: len(streams[fc]) for fc in (True, False)}
        self.have = have

    def holds(self, fc, what):
        return what in self.marks[fc] and self.have[fc] >= self.marks[fc][what]

    def finished_whole(self):
        """Both finishing flights are whole in the capture."""
        ex = self.ex
        if ex["result"] != "complete":
            return False
        ends = {}
        for k, (fc, d) in enumerate(chunks(self.name)):
            ends[k] = self.chunk_at[k] + len(d)
        return (self.have[True] >= ends[int(ex["finished_chunk_client"])] and
                self.have[False] >= ends[int(ex["finished_chunk_server"])])

    def finished_seen(self):
        """The capture shows that both Finished flights were sent: the
        client's, and the server's (in TLS 1.3 the client's Finished
        proves it, as the client sends it only after checking the
        server's)."""
        ex = self.ex
        if ex["result"] != "complete":
            return False
        ok = self.have[True] > self.chunk_at[int(ex["finished_chunk_client"])]
        if ex["version"] != "TLS 1.3":
            ok &= self.have[False] > self.chunk_at[int(ex["finished_chunk_server"])]
        return ok


def check_claims(what, r, tr, text):
    """Every field smtpscope gives is the real one; what the capture holds
    whole is given; the result is one the captured bytes prove."""
    ex, hs = tr.ex, r["tls_handshake"]
    if hs is None:
        check(not tr.holds(True, 1) and not tr.holds(False, 2),
              "%s: no handshake read, and none was whole in the capture" % what)
        return
    ok = True
    if hs["version"] is not None:
        ok &= hs["version"] == ex["version"]
    if hs["cipher"] is not None:
        ok &= hs["cipher"] == ex["cipher"]
    if hs["sni"] is not None:
        ok &= hs["sni"] == ex["sni"]
    if hs["client_versions"]:
        ok &= hs["client_versions"] == ex["client_versions"].split(",")
    if hs["certificate"] is not None:
        ok &= ex["cert"] == "1" and hs["certificate"]["subject"] == ex["cert_subject"] and \
            hs["certificate"]["names"] == ex["cert_names"].split(",")
    if hs["alert"] is not None:
        ok &= hs["alert"]["description"] == ex.get("alert_desc") and \
            hs["alert"]["from"] == ex.get("alert_from")
    check(ok, "%s: every field given is the handshake's own (%s)" % (what, json.dumps(hs)))
    need = []
    if tr.holds(True, 1) and hs["sni"] != (ex["sni"] or None):
        need.append("SNI")
    if tr.holds(False, 2) and ex["version"] and hs["version"] is None:
        need.append("version")
    if tr.holds(False, 11) and ex["cert"] == "1" and ex.get("cert_cut") != "1" and \
            hs["certificate"] is None:
        need.append("certificate")
    check(not need, "%s: what the capture holds whole is read (%s missing)" % (what, need))
    alert_side = {"client": True, "server": False}.get(ex.get("alert_from"))
    alert_held = alert_side is not None and tr.holds(alert_side, "alert")
    if hs["result"] == "failed":
        check(alert_held, "%s: failed only on an alert the capture holds" % what)
    if hs["result"] == "complete":
        check(tr.finished_seen(), "%s: complete only when both Finished flights are "
              "in the capture" % what)
    if hs["result"] == "abandoned":
        check(False, "%s: abandoned, though the capture does not hold the whole "
              "connection (%s)" % (what, r["verdict"]))
    v = r["verdict"]
    if v == "failed":
        check(hs["result"] == "failed" and r["end_phase"] == "STARTTLS",
              "%s: FAILED only for the alert (%s)" % (what, (r["failure"] or {}).get("text")))
    else:
        check(v in ("incomplete", "encrypted"), "%s: INCOMPLETE or ENCRYPTED (%s, %s)" %
              (what, v, r.get("incomplete_reason")))
    check(no_tls_as_lines(r, text), "%s: no TLS bytes shown as commands or replies" % what)
    check(text_verdict(r, text), "%s: the text log's verdict is the JSON one" % what)


def text_verdict(r, text):
    """The text log's summary line states the JSON record's verdict (and
    for INCOMPLETE and FAILED, its phase)."""
    last = [x for x in text.splitlines() if "*** " in x]
    if len(last) != 1:
        return False
    v = {"incomplete": "INCOMPLETE in ", "failed": "FAILED at ", "encrypted": "ENCRYPTED ",
         "ok": "OK", "not-smtp": "NOT SMTP"}.get(r["verdict"], "?")
    if r["verdict"] in ("incomplete", "failed"):
        v += r["end_phase"]
    return v in last[0]


# ---- 1. one side of the connection only --------------------------------------

def one_sided():
    for name in open(os.path.join(FIX, "list")).read().split():
        ex = expect(name)
        for port in (25, 465):
            for side in ("client", "server"):
                fc = side == "client"
                c = tls_conn(name, port, close=False)
                if ex["result"] == "complete":
                    c.send(True, b"\x17\x03\x03\x00\x20" + b"\0" * 32)
                c.close(ex.get("alert_from", "client") == "client")
                recs, text, bad = run(c.frames([g for g in c.segs if g[1] == fc]))
                what = "%s on %d, %s side only" % (name, port, side)
                if not check(not bad and len(recs) == 1, "%s: one session" % what):
                    continue
                r = recs[0]
                hs = r["tls_handshake"]
                missing = "server side" if fc else "client side"
                seen_alert = ex.get("alert_from") == side
                if seen_alert:
                    check(r["verdict"] == "failed" and hs and hs["result"] == "failed",
                          "%s: the %s's own alert: FAILED (%s)" % (what, side, r["verdict"]))
                else:
                    check(r["verdict"] == "incomplete" and
                          missing in (r.get("incomplete_reason") or ""),
                          "%s: INCOMPLETE, the %s missing (%s: %s)" %
                          (what, missing, r["verdict"], r.get("incomplete_reason") or
                           (r["failure"] or {}).get("text")))
                    check(hs is not None and hs["result"] == "incomplete",
                          "%s: handshake read, result incomplete (%s)" %
                          (what, hs and hs["result"]))
                if hs:
                    have = {fc: 1 << 30, not fc: 0}
                    check_claims(what, r, Truth(name, have), text)
                check("tls-mismatch" not in names(r), "%s: no tls-mismatch (%s)" %
                      (what, [a["detail"] for a in r["anomalies"] if a["name"] == "tls-mismatch"]))
                t = r["tcp"]
                check(t["rtt_ms"] == {"client_side": None, "server_side": None} and
                      sum(t["retransmits"].values()) == 0 and
                      sum(t["out_of_order"].values()) == 0 and
                      not {"lossy-path", "zero-window"} & names(r),
                      "%s: no RTT, no retransmissions, no path findings (%s)" % (what, t))


# ---- 2. snap lengths ---------------------------------------------------------

def snaplens():
    for name in ("tls12-selfsigned", "tls13-selfsigned", "tls12-reject", "version-mismatch"):
        for port in (25, 465):
            for snap in (54, 64, 96, 120, 200, 300, 600, 1000):
                c = tls_conn(name, port)
                recs, text, bad = run(c.frames(), snaplen=snap)
                what = "%s on %d, snap length %d" % (name, port, snap)
                if not check(not bad and len(recs) == 1, "%s: one session" % what):
                    continue
                r = recs[0]
                # what each side's bytes keep whole: up to the first cut
                have = {}
                for fc in (True, False):
                    got = 0
                    for g in c.segs:
                        if g[1] != fc or not g[5] or g[2] < c.tls_at[fc]:
                            continue
                        kept = max(0, snap - 40)
                        if kept >= len(g[5]):
                            got += len(g[5])
                        else:
                            got += kept
                            break
                    have[fc] = got
                tr = Truth(name, have)
                check_claims(what, r, tr, text)
                cut = any(len(g[5]) > snap - 40 for g in c.segs)
                if cut:
                    check("snaplen-cut" in names(r), "%s: snaplen-cut named" % what)
                    check(r["verdict"] != "ok", "%s: not OK" % what)
                if r["verdict"] == "incomplete":
                    check("snaplen" in (r.get("incomplete_reason") or ""),
                          "%s: INCOMPLETE says the snap length (%s)" %
                          (what, r.get("incomplete_reason")))
                t = r["tcp"]
                check(sum(t["retransmits"].values()) == 0 and
                      sum(t["out_of_order"].values()) == 0 and "lossy-path" not in names(r),
                      "%s: the cut makes no retransmission (%s)" % (what, t["retransmits"]))


# ---- 3. segments merged, split, reordered, duplicated, overlapping -----------

def clean_result(name, port):
    c = tls_conn(name, port)
    recs, text, _ = run(c.frames())
    return recs[0]


def same_handshake(what, r, ref):
    hs, rh = r["tls_handshake"], ref["tls_handshake"]
    check(hs == rh and r["verdict"] == ref["verdict"] and r["end_phase"] == ref["end_phase"],
          "%s: the handshake as from the clean capture (%s %s / %s %s)" %
          (what, r["verdict"], hs and hs["result"], ref["verdict"], rh and rh["result"]))
    check(not {"capture-gap", "overlap-mismatch", "tls-mismatch"} & names(r),
          "%s: no gap, no mismatch (%s)" % (what, sorted(names(r))))


def tcp_repeats(segs):
    """Per side, of the segments carrying data that start below the highest
    sequence number already seen: those whose every byte the capture held
    already (sent again: retransmissions) and those filling a hole (out of
    order, as all come within a fraction of the RTT)."""
    seen, top = {True: set(), False: set()}, {}
    n = {(fc, k): 0 for fc in (True, False) for k in ("re", "ooo")}
    for t, fc, seq, ack, fl, d in segs:
        if fl & SYN:
            top[fc] = seq + 1
            continue
        if not d:
            continue
        rng = set(range(seq, seq + len(d)))
        if fc in top and seq < top[fc]:
            n[(fc, "re" if rng <= seen[fc] else "ooo")] += 1
        seen[fc] |= rng
        top[fc] = max(top.get(fc, 0), seq + len(d))
    return {("client" if fc else "server", k): v for (fc, k), v in n.items()}


def segmentation():
    for name in ("tls12-selfsigned", "tls13-selfsigned", "tls12-reject", "tls13-hrr",
                 "tls12-bigchain"):
        for port in (25, 465):
            ref = clean_result(name, port)
            for mss, merge in ((1, False), (7, False), (100, False), (536, False),
                               (1400, True), (16000, True)):
                c = tls_conn(name, port, mss=mss, merge=merge)
                if mss == 1 and len(c.segs) > 20000:
                    continue
                recs, text, bad = run(c.frames())
                what = "%s on %d, %d-byte segments%s" % (name, port, mss,
                                                        ", records merged" if merge else "")
                if check(not bad and len(recs) == 1, "%s: one session" % what):
                    same_handshake(what, recs[0], ref)
            rnd = random.Random(hash((name, port)) & 0xffff)
            for trial in range(3):
                c = tls_conn(name, port, mss=300)
                segs = reorder(c.segs, rnd)
                recs, text, bad = run(c.frames(segs))
                what = "%s on %d, reordered, duplicated, overlapping (%d)" % (name, port, trial)
                if check(not bad and len(recs) == 1, "%s: one session" % what):
                    r = recs[0]
                    same_handshake(what, r, ref)
                    want = tcp_repeats(segs)
                    t = r["tcp"]
                    got = {(sd, k): t["retransmits" if k == "re" else "out_of_order"][sd]
                           for sd, k in want}
                    check(got == want, "%s: copies are retransmissions, fills of a hole out "
                          "of order (%s, want %s)" % (what, sorted(got.items()),
                                                      sorted(want.items())))


def reorder(segs, rnd):
    """Within runs of one side's data segments: swaps, duplicates, and
    overlapping resends (two segments' bytes in one), all in the TLS part."""
    out = [list(g) for g in segs[:3]]
    rest = [list(g) for g in segs[3:]]
    i = 0
    while i < len(rest):
        j = i
        while j < len(rest) and rest[j][1] == rest[i][1] and rest[j][5] and j - i < 6:
            j += 1
        run_ = rest[i:max(j, i + 1)]
        if len(run_) > 1 and rnd.random() < 0.7:
            rnd.shuffle(run_)
        if len(run_) > 0 and run_[0][5] and rnd.random() < 0.5:
            run_.append(list(run_[rnd.randrange(len(run_))]))
        if len(run_) > 2 and rnd.random() < 0.5:
            a, b = sorted(run_[:2], key=lambda g: g[2])
            if a[2] + len(a[5]) == b[2]:
                run_.append([b[0], a[1], a[2], a[3], a[4], a[5] + b[5]])
        out += run_
        i = max(j, i + 1)
    t = segs[0][0]
    for k, g in enumerate(out):
        g[0] = t + 0.0002 * k  # reordering within a fraction of the RTT
    return out


# ---- 4. a segment lost inside the Certificate --------------------------------

def lost_in_certificate():
    for name in ("tls12-selfsigned", "tls12-bigchain", "tls12-expired"):
        for port in (25, 465):
            c = tls_conn(name, port, mss=200)
            tr0 = Truth(name, {True: 1 << 30, False: 1 << 30})
            sh_end = tr0.marks[False][2] + c.tls_at[False]
            cert_end = tr0.marks[False][11] + c.tls_at[False]
            inside = [g for g in c.segs if not g[1] and g[5] and g[2] >= sh_end and
                      g[2] + len(g[5]) <= cert_end]
            for lost in inside[::max(1, len(inside) // 6)]:
                segs = [g for g in c.segs if g is not lost]
                recs, text, bad = run(c.frames(segs))
                what = "%s on %d, lost %d bytes at certificate offset %d" % (
                    name, port, len(lost[5]), lost[2] - sh_end)
                if not check(not bad and len(recs) == 1, "%s: one session" % what):
                    continue
                r = recs[0]
                have = {True: 1 << 30, False: lost[2] - c.tls_at[False]}
                check_claims(what, r, Truth(name, have), text)
                hs = r["tls_handshake"]
                check(hs and hs["version"] == tr0.ex["version"] and
                      hs["cipher"] == tr0.ex["cipher"],
                      "%s: the ServerHello before the loss is read" % what)
                check(r["verdict"] == "incomplete" and "capture-gap" in names(r) and
                      "gap" in (r.get("incomplete_reason") or ""),
                      "%s: INCOMPLETE with the gap named (%s, %s, %s)" %
                      (what, r["verdict"], sorted(names(r)), r.get("incomplete_reason")))
                check(r["tcp"]["lost_bytes"]["server"] == len(lost[5]),
                      "%s: lost_bytes %s" % (what, r["tcp"]["lost_bytes"]))


# ---- 5. the capture ends, or begins, part-way ---------------------------------

def cut_ends():
    for name in ("tls12-selfsigned", "tls13-selfsigned", "tls12-reject", "version-mismatch",
                 "tls13-hrr"):
        for port in (25, 465):
            c = tls_conn(name, port, mss=400)
            first = next(k for k, g in enumerate(c.segs)
                         if g[5] and g[2] >= c.tls_at[g[1]])
            for k in range(first, len(c.segs)):
                segs = c.segs[:k]
                recs, text, bad = run(c.frames(segs))
                what = "%s on %d, capture ends before segment %d" % (name, port, k)
                if not check(not bad and len(recs) == 1, "%s: one session" % what):
                    continue
                r = recs[0]
                have = {fc: sum(len(g[5]) for g in segs if g[1] == fc and
                                g[2] >= c.tls_at[fc]) for fc in (True, False)}
                tr = Truth(name, have)
                check_claims(what, r, tr, text)
                hs = r["tls_handshake"]
                if tr.finished_whole():
                    check(hs and hs["result"] == "complete" and r["verdict"] == "encrypted",
                          "%s: both Finished flights in the capture: complete, ENCRYPTED "
                          "(%s, %s)" % (what, hs and hs["result"], r["verdict"]))
                if hs and hs["result"] != "failed" and not (
                        hs["result"] == "complete" and r["verdict"] == "encrypted"):
                    check(r["verdict"] == "incomplete" and r["end_phase"] == "STARTTLS",
                          "%s: INCOMPLETE at STARTTLS (%s at %s)" % (what, r["verdict"],
                                                                    r["end_phase"]))


def cut_starts():
    for name in ("tls12-selfsigned", "tls13-selfsigned", "tls12-reject"):
        for port in (25, 465):
            c = tls_conn(name, port, mss=400)
            first = next(k for k, g in enumerate(c.segs)
                         if g[5] and g[2] >= c.tls_at[g[1]])
            for k in range(first + 1, len(c.segs) - 3):
                segs = c.segs[k:]
                recs, text, bad = run(c.frames(segs))
                what = "%s on %d, capture begins at segment %d" % (name, port, k)
                if not check(not bad and len(recs) <= 1, "%s: at most one session" % what):
                    continue
                if not recs:
                    continue
                r = recs[0]
                # every byte in the capture is TLS: picked up inside TLS
                check(r["verdict"] == "encrypted",
                      "%s: ENCRYPTED (picked up inside TLS), never FAILED (%s: %s)" %
                      (what, r["verdict"], r.get("incomplete_reason") or
                       (r["failure"] or {}).get("text")))
                smtp_claims = {"bare-lf", "nul-byte", "malformed-reply", "unsolicited-reply",
                               "early-talker", "line-too-long"} & names(r)
                check(not smtp_claims, "%s: no SMTP findings from TLS bytes (%s)" %
                      (what, sorted(smtp_claims)))
                if port == 25:
                    check("implicit TLS" not in text, "%s: not called implicit TLS" % what)
                check(r["end_phase"] != "CONNECT", "%s: not blamed on CONNECT" % what)
                check(no_tls_as_lines(r, text), "%s: no TLS bytes shown as lines" % what)
                check(text_verdict(r, text), "%s: the text log's verdict is the JSON one" % what)
                hs = r["tls_handshake"]
                if hs:
                    have = {fc: 1 << 30 for fc in (True, False)}
                    check_claims(what, r, Truth(name, have), text)


# ---- 6. AUTH around STARTTLS, one side only ----------------------------------

USER, PASSWORD = b"alice@example.net", b"Tr0ub4dor&3-tlsdeg"
PLAIN = base64.b64encode(b"\0" + USER + b"\0" + PASSWORD)
LPASS = base64.b64encode(PASSWORD)
FORBIDDEN = [PASSWORD, PLAIN, LPASS]


def auth_dialogue(mech, refused_tls):
    _next_port[0] += 1
    c = Conn(42000 + _next_port[0] % 900, 25, T0)
    c.send(False, b"220 mx.example.net ESMTP Postfix\r\n")
    c.send(True, b"EHLO client.example.com\r\n")
    c.send(False, b"250-mx.example.net\r\n250-AUTH PLAIN LOGIN\r\n250 STARTTLS\r\n")
    if mech == "PLAIN":
        c.send(True, b"AUTH PLAIN " + PLAIN + b"\r\n")
    else:
        c.send(True, b"AUTH LOGIN\r\n")
        c.send(False, b"334 VXNlcm5hbWU6\r\n")
        c.send(True, base64.b64encode(USER) + b"\r\n")
        c.send(False, b"334 UGFzc3dvcmQ6\r\n")
        c.send(True, LPASS + b"\r\n")
    c.send(False, b"235 2.7.0 Authentication successful\r\n")
    c.send(True, b"STARTTLS\r\n")
    if refused_tls:  # then AUTH again, in clear
        c.send(False, b"454 4.7.0 TLS not available\r\n")
        c.send(True, b"AUTH LOGIN\r\n")
        c.send(False, b"334 VXNlcm5hbWU6\r\n")
        c.send(True, base64.b64encode(USER) + b"\r\n")
        c.send(False, b"334 UGFzc3dvcmQ6\r\n")
        c.send(True, LPASS + b"\r\n")
        c.send(False, b"235 2.7.0 Authentication successful\r\n")
        c.send(True, b"QUIT\r\n")
        c.send(False, b"221 Bye\r\n")
    else:
        c.send(False, b"220 2.0.0 Ready to start TLS\r\n")
        for fc, d in chunks("tls12-selfsigned"):
            c.send(fc, d)
    c.close()
    return c


def auth_one_sided():
    for mech in ("PLAIN", "LOGIN"):
        for refused in (False, True):
            for side in ("client", "server", "both"):
                c = auth_dialogue(mech, refused)
                segs = [g for g in c.segs if side == "both" or g[1] == (side == "client")]
                path = os.path.join(TMP, "auth.pcap")
                write_pcap(path, c.frames(segs), 101)
                out = b""
                for opts in ([], ["-j"], ["-vvv"], ["--summary"]):
                    out += subprocess.run([BIN, "-q", *opts, "-r", path],
                                          capture_output=True).stdout
                leaked = [f for f in FORBIDDEN if f in out]
                check(not leaked, "AUTH %s, STARTTLS %s, %s side%s: no secret in text, JSON, "
                      "-vvv, --summary%s" % (mech, "refused" if refused else "accepted", side,
                                             "s" if side == "both" else " only",
                                             " (leaked %s)" % leaked if leaked else ""))
                shown = subprocess.run([BIN, "-q", "--show-secrets", "-r", path],
                                       capture_output=True).stdout
                if side != "server":
                    check(any(f in shown for f in FORBIDDEN),
                          "AUTH %s, %s side: --show-secrets shows it (the test can fail)" %
                          (mech, side))


def main():
    global T0
    if not os.path.exists(os.path.join(FIX, "list")):
        subprocess.run([sys.executable, os.path.join(HERE, "make_tls_fixtures.py"), FIX],
                       check=True)
    T0 = float(int(os.path.getmtime(os.path.join(FIX, "list"))))
    only = os.environ.get("TLSDEG_ONLY", "").split(",")
    for part in (one_sided, snaplens, segmentation, lost_in_certificate, cut_ends, cut_starts,
                 auth_one_sided):
        if only == [""] or part.__name__ in only:
            print("# " + part.__name__)
            part()
    shutil.rmtree(TMP, ignore_errors=True)
    finish()


main()
