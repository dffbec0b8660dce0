#!/usr/bin/env python3
"""make_tls_fixtures.py OUTDIR - real TLS handshakes as byte streams.

Certificates are made with openssl at run time (no key is ever committed);
each handshake runs between two ssl.SSLObjects over memory BIOs, so the
bytes are exactly what OpenSSL's client and server wrote, with no network.

For each case OUTDIR gets NAME.bin, the streams as chunks in the order they
were written: [side: 0 client, 1 server][length: 4 bytes big-endian][bytes],
one chunk per write of one side; and NAME.expect, key=value lines of what a
reader must find, taken from Python's ssl and openssl (versions, cipher
names by `openssl ciphers -stdname`, certificate fields by
ssl._ssl._test_decode_cert and `openssl x509 -nameopt RFC2253`, alerts from
the peer's error) rather than written by hand. OUTDIR/ciphers lists
openssl's code/IANA-name pairs, to check the reader's table against, and
OUTDIR/list the cases; OUTDIR/fuzz/NAME holds the streams in fuzz_tls's input format. Everything is written to OUTDIR.tmp first and
renamed, so a reader never sees half a set.
"""
import os
import warnings
import shutil
import ssl
import subprocess
import sys
import tempfile

V = ssl.TLSVersion
VNAME = {V.SSLv3: "SSL 3.0", V.TLSv1: "TLS 1.0", V.TLSv1_1: "TLS 1.1",
         V.TLSv1_2: "TLS 1.2", V.TLSv1_3: "TLS 1.3"}
PYV = {"TLSv1": V.TLSv1, "TLSv1.1": V.TLSv1_1, "TLSv1.2": V.TLSv1_2,
       "TLSv1.3": V.TLSv1_3}


def sh(*args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw).stdout


class Certs:
    """Keys and certificates in a temporary directory."""

    def __init__(self, d):
        self.d = d

    def p(self, name):
        return os.path.join(self.d, name)

    def key(self, name, kind="ec"):
        if kind == "rsa":
            sh("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
               "rsa_keygen_bits:2048", "-out", self.p(name + ".key"))
        else:
            sh("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
               "ec_paramgen_curve:P-256", "-out", self.p(name + ".key"))
        return self.p(name + ".key")

    def self_signed(self, name, subj, sans, kind="ec"):
        key = self.key(name, kind)
        args = ["openssl", "req", "-x509", "-new", "-key", key, "-out",
                self.p(name + ".pem"), "-days", "30", "-subj", subj]
        if sans:
            args += ["-addext", "subjectAltName=" + ",".join("DNS:" + s for s in sans)]
        sh(*args)
        return self.p(name + ".pem"), key

    def signed(self, name, subj, sans, ca, kind="ec", key_ids=True):
        """A leaf signed by ca = (cert, key); without key identifiers only
        the names and the signature tie it to its issuer."""
        key = self.key(name, kind)
        csr = self.p(name + ".csr")
        sh("openssl", "req", "-new", "-key", key, "-out", csr, "-subj", subj)
        ext = self.p(name + ".ext")
        with open(ext, "w") as f:
            f.write("subjectAltName=" + ",".join("DNS:" + s for s in sans) + "\n")
            if not key_ids:
                f.write("subjectKeyIdentifier=none\nauthorityKeyIdentifier=none\n")
        sh("openssl", "x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1],
           "-CAcreateserial", "-days", "30", "-extfile", ext, "-out",
           self.p(name + ".pem"))
        return self.p(name + ".pem"), key

    def expired(self, name, subj, sans):
        """Self-signed, valid 2020-01-01 .. 2021-01-01 (openssl ca sets dates)."""
        key = self.key(name)
        csr = self.p(name + ".csr")
        sh("openssl", "req", "-new", "-key", key, "-out", csr, "-subj", subj)
        db = self.p(name + "-db")
        os.mkdir(db)
        open(os.path.join(db, "index.txt"), "w").close()
        cnf = self.p(name + ".cnf")
        with open(cnf, "w") as f:
            f.write(f"""[ca]
default_ca=c
[c]
database={db}/index.txt
new_certs_dir={db}
serial={db}/serial
default_md=sha256
policy=p
copy_extensions=none
x509_extensions=x
[p]
commonName=supplied
[x]
subjectAltName={",".join("DNS:" + s for s in sans)}
""")
        with open(os.path.join(db, "serial"), "w") as f:
            f.write("01\n")
        sh("openssl", "ca", "-batch", "-selfsign", "-config", cnf, "-keyfile", key,
           "-in", csr, "-out", self.p(name + ".pem"), "-startdate", "20200101000000Z",
           "-enddate", "20210101000000Z", "-notext")
        return self.p(name + ".pem"), key


def cert_expect(pem, self_signed):
    """What the reader must find in the leaf, from ssl and openssl."""
    dec = ssl._ssl._test_decode_cert(pem)
    names = [v for k, v in dec.get("subjectAltName", ()) if k == "DNS"]
    for rdn in dec["subject"]:
        for k, v in rdn:
            if k == "commonName" and v not in names:
                names.append(v)
    subj = sh("openssl", "x509", "-in", pem, "-noout", "-subject", "-nameopt", "RFC2253")
    iss = sh("openssl", "x509", "-in", pem, "-noout", "-issuer", "-nameopt", "RFC2253")
    return {
        "cert": "1",
        "cert_subject": subj.strip().split("=", 1)[1],
        "cert_issuer": iss.strip().split("=", 1)[1],
        "cert_names": ",".join(names[:16]),
        "cert_names_total": str(len(names)),
        "not_before": str(int(ssl.cert_time_to_seconds(dec["notBefore"]))),
        "not_after": str(int(ssl.cert_time_to_seconds(dec["notAfter"]))),
        "self_signed": "1" if self_signed else "0",
    }


def openssl_ciphers():
    """{openssl name: (code, IANA name)} from `openssl ciphers -V -stdname`."""
    out = sh("openssl", "ciphers", "-V", "-stdname", "ALL:COMPLEMENTOFALL:@SECLEVEL=0")
    table = {}
    for line in out.splitlines():
        parts = line.split()
        # 0x13,0x02 - TLS_AES_256_GCM_SHA384 - TLS_AES_256_GCM_SHA384 TLSv1.3 ...
        hi, lo = parts[0].split(",")
        table[parts[4]] = ((int(hi, 16) << 8) | int(lo, 16), parts[2])
    return table


def alert_from_error(e):
    """'TLSV1_ALERT_UNKNOWN_CA' -> ('unknown_ca'), or None."""
    reason = getattr(e, "reason", "") or ""
    if "ALERT_" not in reason:
        return None
    return reason.split("ALERT_", 1)[1].lower()


def run(client_ctx, server_ctx, sni):
    """Drives both sides to the end. Returns chunks, per-side error, and
    the chunk indexes of the application writes."""
    cin, cout, sin, sout = (ssl.MemoryBIO() for _ in range(4))
    c = client_ctx.wrap_bio(cin, cout, server_side=False, server_hostname=sni)
    s = server_ctx.wrap_bio(sin, sout, server_side=True)
    sides = [(c, cout, sin), (s, sout, cin)]
    chunks, err, done = [], [None, None], [False, False]

    def pump(side):
        data = sides[side][1].read()
        if data:
            chunks.append((side, data))
            sides[side][2].write(data)

    for _ in range(50):
        before = len(chunks)
        for side in (0, 1):
            if err[side] or done[side]:
                continue
            try:
                sides[side][0].do_handshake()
                done[side] = True
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLError as e:
                err[side] = e
            pump(side)
        if len(chunks) == before and (all(done) or any(err) or not any(done)) \
                and not (cin.pending or sin.pending):
            break
    app = {}
    if all(done):
        c.write(b"EHLO client.example\r\n")
        pump(0)
        app["client"] = len(chunks) - 1
        s.read(1024)
        pump(1)  # TLS 1.3: nothing more, the tickets went with the handshake
        s.write(b"250 mx.example.net\r\n")
        pump(1)
        app["server"] = len(chunks) - 1
        c.read(1024)
    return chunks, err, done, c, app


def contexts(cmin, cmax, smin, smax, cert, verify=False, seclevel=None, alpn=None):
    sc = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sc.minimum_version, sc.maximum_version = smin, smax
    sc.load_cert_chain(cert[0], cert[1])
    cc = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    cc.minimum_version, cc.maximum_version = cmin, cmax
    if seclevel is not None:
        for ctx in (sc, cc):
            ctx.set_ciphers("DEFAULT:@SECLEVEL=%d" % seclevel)
    if not verify:
        cc.check_hostname = False
        cc.verify_mode = ssl.CERT_NONE
    if alpn:
        cc.set_alpn_protocols(alpn)
        sc.set_alpn_protocols(alpn[-1:])
    return cc, sc


def offered(cmin, cmax):
    """What OpenSSL's client offers: supported_versions (max down to min)
    only when it can do TLS 1.3, else the one legacy_version."""
    if cmax >= V.TLSv1_3:
        return [VNAME[v] for v in sorted(VNAME, reverse=True) if cmin <= v <= cmax], "1"
    return [VNAME[cmax]], "0"


def case(out, name, cc, sc, sni, cmin, cmax, ciphers, *, alpn=None, cert=None,
         version=None, **extra):
    chunks, err, done, c, app = run(cc, sc, sni)
    with open(os.path.join(out, name + ".bin"), "wb") as f:
        for side, data in chunks:
            f.write(bytes([side]) + len(data).to_bytes(4, "big") + data)
    # the same streams as fuzz_tls input (seeds for test/fuzz/regress/tls)
    os.makedirs(os.path.join(out, "fuzz"), exist_ok=True)
    with open(os.path.join(out, "fuzz", name), "wb") as f:
        f.write(b"\0")
        for side, data in chunks:
            for at in range(0, len(data), 0xffff):
                piece = data[at:at + 0xffff]
                f.write(bytes([side | 2]) + len(piece).to_bytes(2, "big") + piece)
        f.write(b"\0")
    exp = {"sni": sni or "", "alpn": ",".join(alpn or []), "chunks": str(len(chunks))}
    exp["client_versions"], exp["client_versions_ext"] = offered(cmin, cmax)
    exp["client_versions"] = ",".join(exp["client_versions"])
    if all(done):
        exp["result"] = "complete"
        exp["version"] = VNAME[PYV[c.version()]]
        exp["cipher"] = ciphers[c.cipher()[0]][1]
        exp["data_chunk_client"] = str(app["client"])
        exp["data_chunk_server"] = str(app["server"])
        client_last = max(i for i, (s, _) in enumerate(chunks[:app["client"]]) if s == 0)
        exp["finished_chunk_client"] = str(client_last)
        if exp["version"] == "TLS 1.3":
            # its flight after the (last) ClientHello holds its Finished; its
            # first records after the client's Finished are session tickets,
            # which a reader cannot tell from data (both are encrypted)
            exp["finished_chunk_server"] = str(max(
                i for i, (s, _) in enumerate(chunks[:client_last]) if s == 1))
            exp["data_chunk_server"] = str(next(
                i for i, (s, _) in enumerate(chunks) if s == 1 and i > client_last))
        else:  # its last handshake write: CCS and Finished
            exp["finished_chunk_server"] = str(max(
                i for i, (s, _) in enumerate(chunks[:app["client"]]) if s == 1))
    else:
        exp["result"] = "failed"
        # the alert's name as the side that received it reported it
        for side in (1, 0):
            desc = err[side] and alert_from_error(err[side])
            if desc:
                exp["alert_from"] = "client" if side == 1 else "server"
                exp["alert_desc"] = desc
                exp["alert_level"] = "fatal"
        exp["version"] = version or ""
    if cert:
        exp.update(cert_expect(*cert))
    else:
        exp["cert"] = "0"
    exp.update(extra)
    with open(os.path.join(out, name + ".expect"), "w") as f:
        for k, v in exp.items():
            f.write(f"{k}={v}\n")
    return name


def build(out, work):
    certs = Certs(work)
    ciphers = openssl_ciphers()
    with open(os.path.join(out, "ciphers"), "w") as f:
        for code, std in sorted(ciphers.values()):
            f.write("%04x %s\n" % (code, std))
    ss = certs.self_signed("ss", "/CN=mx.example.net/O=Example Mail",
                           ["mx.example.net", "mail.example.net"], kind="rsa")
    ss_ec = certs.self_signed("ssec", "/CN=mx.example.net", ["mx.example.net"])
    old = certs.expired("old", "/CN=old.example.net", ["old.example.net"])
    ca = certs.self_signed("ca", "/CN=smtpscope test CA", [])
    wrong = certs.signed("wrong", "/CN=other.example.org",
                         ["other.example.org", "www.other.example.org"], ca)
    # issuer == subject, no key identifiers to tell them apart, but signed
    # by another key: only the signature shows it is not self-signed
    fake_ca = certs.self_signed("fakeca", "/CN=forged.example.net", [])
    forged = certs.signed("forged", "/CN=forged.example.net", ["forged.example.net"],
                          fake_ca, key_ids=False)
    # a leaf with 600 names and a chain of 80 CA copies: the Certificate
    # message spans records and passes the reader's 64 KiB bound
    big_ca = certs.self_signed("bigca", "/CN=smtpscope big CA", [], kind="rsa")
    big = certs.signed("big", "/CN=big.example.net",
                       ["n%03d.big.example.net" % i for i in range(600)], big_ca)
    big_chain = certs.p("bigchain.pem")
    with open(big_chain, "w") as f:
        f.write(open(big[0]).read() + open(big_ca[0]).read() * 80)

    t12, t13, t10 = V.TLSv1_2, V.TLSv1_3, V.TLSv1
    names = []
    add = names.append
    add(case(out, "tls13-selfsigned", *contexts(t12, t13, t12, t13, ss, alpn=["h2", "smtp"]),
             "mx.example.net", t12, t13, ciphers, alpn=["h2", "smtp"], cert=None))
    add(case(out, "tls12-selfsigned", *contexts(t12, t13, t12, t12, ss),
             "mx.example.net", t12, t13, ciphers, cert=(ss[0], True)))
    add(case(out, "tls12-ecdsa", *contexts(t12, t12, t12, t12, ss_ec),
             "mx.example.net", t12, t12, ciphers, cert=(ss_ec[0], True)))
    add(case(out, "tls12-expired", *contexts(t12, t12, t12, t12, old),
             "old.example.net", t12, t12, ciphers, cert=(old[0], True)))
    add(case(out, "tls12-wrongname", *contexts(t12, t13, t12, t12, wrong),
             "mx.example.net", t12, t13, ciphers, cert=(wrong[0], False)))
    add(case(out, "tls12-forged-issuer", *contexts(t12, t13, t12, t12, forged),
             "forged.example.net", t12, t13, ciphers, cert=(forged[0], False)))
    add(case(out, "tls12-bigchain", *contexts(t12, t12, t12, t12, (big_chain, big[1])),
             "big.example.net", t12, t12, ciphers, cert=(big[0], False), cert_cut="1"))
    add(case(out, "tls12-reject", *contexts(t12, t12, t12, t12, ss, verify=True),
             "mx.example.net", t12, t12, ciphers, cert=(ss[0], True), version="TLS 1.2"))
    # OpenSSL's client has not switched its write keys yet: its alert is in
    # clear even in TLS 1.3 (others encrypt it; the unit test makes one)
    add(case(out, "tls13-reject", *contexts(t12, t13, t12, t13, ss, verify=True),
             "mx.example.net", t12, t13, ciphers, version="TLS 1.3"))
    add(case(out, "version-mismatch", *contexts(t12, t12, t13, t13, ss),
             "mx.example.net", t12, t12, ciphers))
    add(case(out, "tls10-old", *contexts(t10, t10, t10, t10, ss, seclevel=0),
             "mx.example.net", t10, t10, ciphers, cert=(ss[0], True)))
    cc, sc = contexts(t12, t13, t12, t13, ss_ec)
    sc.set_ecdh_curve("secp384r1")  # the client's x25519 key share is refused
    add(case(out, "tls13-hrr", cc, sc, "mx.example.net", t12, t13, ciphers,
             hello_retry="1"))
    with open(os.path.join(out, "list"), "w") as f:
        f.write("\n".join(names) + "\n")


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_tls_fixtures.py OUTDIR")
    out = sys.argv[1].rstrip("/")
    warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.0, on purpose
    tmp = out + ".tmp.%d" % os.getpid()
    os.makedirs(tmp)
    try:
        with tempfile.TemporaryDirectory() as work:
            build(tmp, work)
        shutil.rmtree(out, ignore_errors=True)
        os.rename(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
