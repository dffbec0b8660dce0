/* test_tls_reader.c - the TLS reader on real handshakes and hostile bytes.
 *
 * The real handshakes are OpenSSL's own bytes, made at test time by
 * test/tls/make_tls_fixtures.py (run from here when build/tls-fixtures is
 * missing or older than the script; a fixture that cannot be made fails).
 * Each is fed whole, byte by byte, in fixed and in random splits, and
 * every field the script expects (from Python's ssl and openssl, not from
 * this reader) is checked. Hand-made records then lie about every length.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tap.h"
#include "tls_reader.h"

#define FIXDIR "build/tls-fixtures"
#define SCRIPT "test/tls/make_tls_fixtures.py"
#define T0 (INT64_C(1700000000) * SMTP_NS_PER_SEC)
#define TS(i) (T0 + (smtp_time)(i) * 1000000)

struct chunk {
    int side;
    const uint8_t *p;
    size_t n;
};

struct fixture {
    uint8_t *bytes;
    struct chunk chunks[64];
    size_t nchunks;
    char kv[48][2][1400];
    size_t nkv;
};

static const char *want(const struct fixture *f, const char *key)
{
    for (size_t i = 0; i < f->nkv; i++)
        if (strcmp(f->kv[i][0], key) == 0)
            return f->kv[i][1];
    return NULL;
}

static bool ensure_fixtures(void)
{
    struct stat list, script;
    if (stat(SCRIPT, &script) != 0)
        return false;
    if (stat(FIXDIR "/list", &list) != 0 || list.st_mtime < script.st_mtime)
        if (system("python3 " SCRIPT " " FIXDIR) != 0)
            return false;
    return stat(FIXDIR "/list", &list) == 0;
}

static bool load(struct fixture *f, const char *name)
{
    char path[256];
    memset(f, 0, sizeof *f);
    snprintf(path, sizeof path, FIXDIR "/%s.bin", name);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return false;
    static uint8_t buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    f->bytes = malloc(n ? n : 1);
    memcpy(f->bytes, buf, n);
    for (size_t i = 0; i + 5 <= n && f->nchunks < 64;) {
        size_t len = (size_t)f->bytes[i + 1] << 24 | (size_t)f->bytes[i + 2] << 16 |
                     (size_t)f->bytes[i + 3] << 8 | f->bytes[i + 4];
        if (len > n - i - 5)
            return false;
        f->chunks[f->nchunks++] = (struct chunk){f->bytes[i], f->bytes + i + 5, len};
        i += 5 + len;
    }
    snprintf(path, sizeof path, FIXDIR "/%s.expect", name);
    if (!(fp = fopen(path, "r")))
        return false;
    char line[1300];
    while (f->nkv < 48 && fgets(line, sizeof line, fp)) {
        line[strcspn(line, "\n")] = '\0';
        char *eq = strchr(line, '=');
        if (!eq)
            continue;
        *eq = '\0';
        snprintf(f->kv[f->nkv][0], sizeof f->kv[0][0], "%s", line);
        snprintf(f->kv[f->nkv++][1], sizeof f->kv[0][1], "%s", eq + 1);
    }
    fclose(fp);
    return f->nchunks > 0;
}

/* Feeds chunk i in pieces: step 0 whole, step 1 byte by byte, step k in
 * pieces of k bytes, step -1 random pieces. */
static void feed(struct tls_reader *r, const struct fixture *f, size_t upto,
                 int step, unsigned *rng)
{
    for (size_t i = 0; i < upto && i < f->nchunks; i++) {
        const struct chunk *c = &f->chunks[i];
        for (size_t off = 0; off < c->n;) {
            size_t k = c->n - off;
            if (step > 0 && (size_t)step < k)
                k = (size_t)step;
            if (step < 0) {
                *rng = *rng * 1103515245u + 12345u;
                size_t pick = 1 + (*rng >> 16) % 300;
                k = pick < k ? pick : k;
            }
            tls_reader_feed(r, (enum tls_side)c->side, c->p + off, k, TS(i));
            off += k;
        }
    }
}

static void join(char *out, size_t cap, const char *items, size_t stride, unsigned n,
                 const char *(*name)(const void *, char *))
{
    out[0] = '\0';
    for (unsigned i = 0; i < n; i++) {
        char buf[TLS_NAME_BUF];
        const char *s = name ? name((const char *)items + i * stride, buf)
                             : (const char *)items + i * stride;
        size_t len = strlen(out);
        snprintf(out + len, cap - len, "%s%s", i ? "," : "", s);
    }
}

static const char *version_of(const void *v, char *buf)
{
    return tls_version_name(*(const uint16_t *)v, buf);
}

static int fails;
static bool verbose;
static const char *fixture_name, *split_name;

static void expect(bool ok, const char *field, const char *got, const char *exp)
{
    if (!ok)
        fails++;
    if (verbose || (!ok && fails == 1))
        CHECK(ok, "%s (%s): %s is \"%s\" (expected \"%s\")", fixture_name, split_name,
              field, got, exp ? exp : "");
}

static void expect_str(const char *field, const char *got, const char *exp)
{
    expect(exp && strcmp(got, exp) == 0, field, got, exp);
}

static void expect_ts(const char *field, bool seen, smtp_time ts, const char *chunk)
{
    char got[32], exp[32];
    snprintf(got, sizeof got, "%s", seen ? "" : "not seen");
    if (seen)
        snprintf(got, sizeof got, "chunk %lld", (long long)((ts - T0) / 1000000));
    snprintf(exp, sizeof exp, "chunk %s", chunk ? chunk : "?");
    expect_str(field, got, exp);
}

static void check_cert(const struct tls_info *in, const struct fixture *f)
{
    const struct tls_cert *ct = &in->cert;
    bool want_cert = strcmp(want(f, "cert"), "1") == 0;
    expect(ct->present == want_cert, "certificate present", ct->present ? "1" : "0",
           want(f, "cert"));
    if (!want_cert)
        return;
    char buf[TLS_CERT_NAMES_MAX * TLS_CERT_NAME_MAX], n[32];
    expect(ct->parsed, "certificate parsed", ct->error ? ct->error : "", "");
    expect_str("subject", ct->subject, want(f, "cert_subject"));
    expect_str("issuer", ct->issuer, want(f, "cert_issuer"));
    join(buf, sizeof buf, ct->names[0], TLS_CERT_NAME_MAX, ct->nnames, NULL);
    expect_str("names", buf, want(f, "cert_names"));
    snprintf(n, sizeof n, "%u", ct->nnames_total);
    expect_str("names total", n, want(f, "cert_names_total"));
    snprintf(n, sizeof n, "%lld", (long long)(ct->not_before / SMTP_NS_PER_SEC));
    expect_str("not_before", n, want(f, "not_before"));
    snprintf(n, sizeof n, "%lld", (long long)(ct->not_after / SMTP_NS_PER_SEC));
    expect_str("not_after", n, want(f, "not_after"));
    expect_str("self_signed", ct->self_signed ? "1" : "0", want(f, "self_signed"));
    const char *cut = want(f, "cert_cut");
    expect_str("cut", ct->cut ? "1" : "0", cut ? cut : "0");
}

static void check_alert(const struct tls_info *in, const struct fixture *f)
{
    const char *desc = want(f, "alert_desc");
    char buf[TLS_NAME_BUF];
    if (!desc) {
        expect(!in->alert.seen, "alert", in->alert.seen ? "seen" : "none", "none");
        return;
    }
    expect_str("alert from", in->alert.seen ? (in->alert.from ? "server" : "client") : "none",
               want(f, "alert_from"));
    expect_str("alert level", tls_alert_level_name(in->alert.level), want(f, "alert_level"));
    expect_str("alert", in->alert.seen ? tls_alert_name(in->alert.code, buf) : "none", desc);
}

static void check_flights(const struct tls_info *in, const struct fixture *f)
{
    if (!want(f, "finished_chunk_client"))
        return;
    expect_ts("client Finished", in->finished_seen[0], in->finished_ts[0],
              want(f, "finished_chunk_client"));
    expect_ts("server Finished", in->finished_seen[1], in->finished_ts[1],
              want(f, "finished_chunk_server"));
    expect_ts("client data", in->data_seen[0], in->data_ts[0], want(f, "data_chunk_client"));
    expect_ts("server data", in->data_seen[1], in->data_ts[1], want(f, "data_chunk_server"));
}

static void check_all(const struct tls_info *in, const struct fixture *f)
{
    char buf[1024], vb[TLS_NAME_BUF];
    expect_str("result", tls_result_name(in->result), want(f, "result"));
    expect_str("version", in->version ? tls_version_name(in->version, vb) : "",
               want(f, "version"));
    if (want(f, "cipher"))
        expect_str("cipher", tls_cipher_name(in->cipher, vb), want(f, "cipher"));
    expect_str("sni", in->sni_present ? in->sni : "", want(f, "sni"));
    join(buf, sizeof buf, in->alpn[0], TLS_ALPN_LEN_MAX + 1, in->nalpn, NULL);
    expect_str("alpn", buf, want(f, "alpn"));
    join(buf, sizeof buf, (const char *)in->client_versions, sizeof(uint16_t),
         in->nclient_versions, version_of);
    expect_str("client versions", buf, want(f, "client_versions"));
    expect_str("supported_versions sent", in->client_versions_ext ? "1" : "0",
               want(f, "client_versions_ext"));
    const char *hrr = want(f, "hello_retry");
    expect_str("hello_retry", in->hello_retry ? "1" : "0", hrr ? hrr : "0");
    const char *ea = want(f, "encrypted_alert_client");
    expect_str("encrypted alert from client", in->encrypted_alert[0] ? "1" : "0",
               ea ? ea : "0");
    expect_str("error", in->error ? in->error : "", "");
    check_alert(in, f);
    check_cert(in, f);
    check_flights(in, f);
}

static void real_handshake(const char *name)
{
    struct fixture *f = calloc(1, sizeof *f);
    fixture_name = name;
    if (!CHECK(load(f, name), "%s: fixture loads", name)) {
        free(f);
        return;
    }
    static const int steps[] = {0, 1, 2, 3, 5, 7, 100, 4096, -1, -1, -1};
    unsigned rng = 1;
    for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
        char label[32];
        snprintf(label, sizeof label, "split %d", steps[s]);
        split_name = label;
        verbose = s == 0;
        fails = 0;
        struct tls_reader r;
        tls_reader_init(&r, false);
        feed(&r, f, f->nchunks, steps[s], &rng);
        tls_reader_end(&r, TLS_END_CLOSED, TS(f->nchunks));
        check_all(tls_reader_info(&r), f);
        tls_reader_free(&r);
        if (!verbose)
            CHECK(fails == 0, "%s: every field the same in %s", name, label);
    }
    free(f->bytes);
    free(f);
}

/* A handshake cut short: the client spoke, the server answered, no more. */
static void cut_short(void)
{
    struct fixture *f = calloc(1, sizeof *f);
    static const struct { const char *name; enum tls_end how; const char *result; } t[] = {
        {"tls13-selfsigned", TLS_END_CLOSED, "abandoned"},
        {"tls13-selfsigned", TLS_END_RESET, "abandoned"},
        {"tls13-selfsigned", TLS_END_CAPTURE, "incomplete"},
        {"tls12-selfsigned", TLS_END_CLOSED, "abandoned"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        if (!CHECK(load(f, t[i].name), "%s loads", t[i].name))
            break;
        struct tls_reader r;
        tls_reader_init(&r, true);
        unsigned rng = 7;
        feed(&r, f, 2, 1, &rng);
        tls_reader_end(&r, t[i].how, TS(2));
        const struct tls_info *in = tls_reader_info(&r);
        CHECK(strcmp(tls_result_name(in->result), t[i].result) == 0 && in->server_hello &&
                  !in->finished_seen[TLS_CLIENT] && in->implicit_tls,
              "%s after the ServerHello, end %d: %s (got %s)", t[i].name, t[i].how,
              t[i].result, tls_result_name(in->result));
        if (strcmp(t[i].name, "tls12-selfsigned") == 0)
            CHECK(in->cert.parsed && strcmp(in->cert.subject, want(f, "cert_subject")) == 0,
                  "the certificate is read before the client's answer");
        tls_reader_free(&r);
        free(f->bytes);
    }
    free(f);
}

/* TLS 1.3 as most clients do it (not OpenSSL's): the rejection is an
 * encrypted alert, a record too short to be a Finished, then the close. */
static void encrypted_alert13(void)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (CHECK(load(f, "tls13-selfsigned"), "tls13-selfsigned loads")) {
        struct tls_reader r;
        tls_reader_init(&r, false);
        unsigned rng = 3;
        feed(&r, f, 2, 0, &rng);
        uint8_t rec[5 + 19] = {23, 3, 3, 0, 19};
        memset(rec + 5, 0xa5, 19);
        tls_reader_feed(&r, TLS_CLIENT, rec, sizeof rec, TS(2));
        tls_reader_end(&r, TLS_END_CLOSED, TS(3));
        const struct tls_info *in = tls_reader_info(&r);
        CHECK(in->result == TLS_RESULT_ABANDONED && in->encrypted_alert[TLS_CLIENT] &&
                  !in->finished_seen[TLS_CLIENT] && !in->alert.seen,
              "TLS 1.3 encrypted alert from the client: abandoned, encrypted alert said (%s)",
              tls_result_name(in->result));
        tls_reader_free(&r);
        free(f->bytes);
    }
    free(f);
}

static void cipher_table(void)
{
    FILE *fp = fopen(FIXDIR "/ciphers", "r");
    if (!CHECK(fp != NULL, "openssl's cipher list was written"))
        return;
    unsigned code, named = 0, wrong = 0, tls13 = 0;
    char std[128], buf[TLS_NAME_BUF];
    while (fscanf(fp, "%x %127s", &code, std) == 2) {
        const char *mine = tls_cipher_name((uint16_t)code, buf);
        if (mine == buf)
            continue; /* not in the table: hex */
        named++;
        tls13 += code >> 8 == 0x13;
        if (strcmp(mine, std) != 0) {
            wrong++;
            CHECK(0, "cipher 0x%04x: table says %s, openssl %s", code, mine, std);
        }
    }
    fclose(fp);
    CHECK(wrong == 0 && named >= 30 && tls13 >= 3,
          "%u table names agree with openssl's IANA names (%u of TLS 1.3)", named, tls13);
}

/* ---- hand-made hostile records ---- */

static size_t put(uint8_t *out, size_t at, const void *p, size_t n)
{
    memcpy(out + at, p, n);
    return at + n;
}

/* A record around a handshake message of `type` whose header claims
 * `claim` bytes (the body given is what follows). */
static size_t hs_record(uint8_t *out, uint8_t type, uint32_t claim, const uint8_t *body,
                        size_t n)
{
    uint8_t h[9] = {22, 3, 1, (uint8_t)((n + 4) >> 8), (uint8_t)(n + 4), type,
                    (uint8_t)(claim >> 16), (uint8_t)(claim >> 8), (uint8_t)claim};
    size_t at = put(out, 0, h, 9);
    return put(out, at, body, n);
}

/* A ClientHello with these extensions, `ext_claim` its extensions length. */
static size_t client_hello(uint8_t *out, const uint8_t *ext, size_t n, size_t ext_claim)
{
    uint8_t body[1024];
    size_t at = 0;
    static const uint8_t head[2] = {3, 3};
    at = put(body, at, head, 2);
    memset(body + at, 0x11, 32);
    at += 32;
    static const uint8_t rest[] = {0, 0, 4, 0x1a, 0x1a, 0x13, 0x01, 1, 0};
    at = put(body, at, rest, sizeof rest);
    body[at++] = (uint8_t)(ext_claim >> 8);
    body[at++] = (uint8_t)ext_claim;
    at = put(body, at, ext, n);
    return hs_record(out, 1, (uint32_t)at, body, at);
}

static void feed_all(struct tls_reader *r, enum tls_side side, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) /* byte by byte: every boundary */
        tls_reader_feed(r, side, p + i, 1, T0);
}

static void hostile_client_hello(void)
{
    static const struct {
        const char *what;
        uint8_t ext[64];
        size_t n;
        int delta; /* added to the true extensions length */
        bool error, sni;
        unsigned versions;
    } t[] = {
        {"extensions length past the message", {0, 0, 0, 0}, 4, 40, true, false, 0},
        {"SNI list longer than its extension",
         {0, 0, 0, 9, 0, 0xff, 0, 0, 4, 'a', 'b', 'c', 'd'}, 13, 0, true, false, 0},
        {"SNI name longer than its list",
         {0, 0, 0, 9, 0, 7, 0, 0, 200, 'a', 'b', 'c', 'd'}, 13, 0, true, false, 0},
        {"ALPN name past its list", {0, 16, 0, 5, 0, 3, 200, 'h', '2'}, 9, 0, true, false, 0},
        {"supported_versions of odd length", {0, 43, 0, 4, 3, 3, 4, 3}, 8, 0, true, false, 1},
        {"extension body past the extensions", {0, 43, 0, 40, 2, 3, 4}, 7, 0, true, false, 0},
        {"GREASE versions left out",
         {0, 43, 0, 7, 6, 0x0a, 0x0a, 3, 4, 3, 3, 0, 0, 0, 8, 0, 6, 0, 0, 3, 'm', 'x', '.'},
         23, 0, false, true, 2},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        uint8_t rec[1200];
        size_t n = client_hello(rec, t[i].ext, t[i].n, t[i].n + t[i].delta);
        struct tls_reader r;
        tls_reader_init(&r, false);
        feed_all(&r, TLS_CLIENT, rec, n);
        tls_reader_end(&r, TLS_END_CLOSED, T0);
        const struct tls_info *in = tls_reader_info(&r);
        CHECK(in->client_hello && (in->error != NULL) == t[i].error &&
                  in->sni_present == t[i].sni && in->nclient_versions == t[i].versions &&
                  in->nclient_ciphers == 1 && in->client_ciphers[0] == 0x1301 &&
                  in->result == TLS_RESULT_ABANDONED,
              "ClientHello, %s: error %s, sni %d, %u versions", t[i].what,
              in->error ? in->error : "none", in->sni_present, in->nclient_versions);
        tls_reader_free(&r);
    }
}

static void hostile_records(void)
{
    static const struct {
        const char *what;
        uint8_t bytes[16];
        size_t n;
        enum tls_side side;
        enum tls_result result;
        bool error;
    } t[] = {
        {"record longer than TLS allows", {22, 3, 3, 0x48, 0x01, 1}, 6, TLS_CLIENT,
         TLS_RESULT_ABANDONED, true},
        {"record type 99", {99, 3, 3, 0, 1, 0}, 6, TLS_SERVER, TLS_RESULT_NOT_TLS, false},
        {"plaintext greeting", {'2', '2', '0', ' ', 'm', 'x', '\r', '\n'}, 8, TLS_SERVER,
         TLS_RESULT_NOT_TLS, false},
        {"SSL 2.0 ClientHello", {0x80, 0x2e, 1, 3, 1, 0, 0x15}, 7, TLS_CLIENT,
         TLS_RESULT_ABANDONED, true},
        {"alert of one byte", {21, 3, 3, 0, 1, 2}, 6, TLS_SERVER, TLS_RESULT_ABANDONED, true},
        {"empty handshake records", {22, 3, 3, 0, 0, 22, 3, 3, 0, 0}, 10, TLS_CLIENT,
         TLS_RESULT_ABANDONED, false},
        {"ClientHello of length 0", {22, 3, 1, 0, 4, 1, 0, 0, 0}, 9, TLS_CLIENT,
         TLS_RESULT_ABANDONED, true},
        {"warning alert then close", {21, 3, 3, 0, 2, 1, 0}, 7, TLS_SERVER,
         TLS_RESULT_FAILED, false},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct tls_reader r;
        tls_reader_init(&r, true);
        feed_all(&r, t[i].side, t[i].bytes, t[i].n);
        static const uint8_t more[] = {22, 3, 3, 0, 1, 0, 23, 3, 3};
        feed_all(&r, t[i].side, more, sizeof more); /* after garbage: ignored */
        tls_reader_end(&r, TLS_END_CLOSED, T0);
        const struct tls_info *in = tls_reader_info(&r);
        bool dead_ok = t[i].result != TLS_RESULT_NOT_TLS || in->records[t[i].side] == 0;
        CHECK(in->result == t[i].result && (in->error != NULL) == t[i].error && dead_ok,
              "%s: %s, error %s", t[i].what, tls_result_name(in->result),
              in->error ? in->error : "none");
        if (i == 2)
            CHECK(in->not_tls_side == TLS_SERVER &&
                      in->nfirst == (8 + sizeof more < TLS_FIRST_BYTES ? 8 + sizeof more
                                                                       : TLS_FIRST_BYTES) &&
                      memcmp(in->first, "220 mx\r\n", 8) == 0,
                  "not TLS: the server's first bytes are kept for the report");
        tls_reader_free(&r);
    }
}

/* A Certificate message claiming 16 MiB, delivered in full: the reader
 * keeps 64 KiB of it, skips the rest, and says it was cut. */
static void huge_certificate(bool whole)
{
    struct tls_reader r;
    tls_reader_init(&r, false);
    static uint8_t rec[5 + 16384];
    uint32_t claim = 0xffffff, sent = 0;
    uint8_t first[10] = {11, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfc, 0xff, 0xff, 0xf9};
    size_t records = 0;
    while (sent < claim + 4 && (whole || records < 8)) {
        uint32_t n = claim + 4 - sent < 16384 ? claim + 4 - sent : 16384;
        memset(rec + 5, 0x30, n);
        if (sent == 0)
            memcpy(rec + 5, first, sizeof first);
        rec[0] = 22, rec[1] = 3, rec[2] = 3, rec[3] = (uint8_t)(n >> 8), rec[4] = (uint8_t)n;
        tls_reader_feed(&r, TLS_SERVER, rec, 5 + n, T0);
        sent += n;
        records++;
    }
    tls_reader_end(&r, TLS_END_CAPTURE, T0);
    const struct tls_info *in = tls_reader_info(&r);
    if (whole)
        CHECK(in->cert.present && in->cert.cut && !in->cert.parsed && in->cert.error &&
                  r.dir[TLS_SERVER].hs_cap <= TLS_HS_MSG_MAX && in->records[1] == records &&
                  in->result == TLS_RESULT_INCOMPLETE,
              "16 MiB Certificate in %zu records: cut, %u bytes buffered, %s", records,
              r.dir[TLS_SERVER].hs_cap, in->cert.error ? in->cert.error : "no error");
    else
        CHECK(!in->cert.present && r.dir[TLS_SERVER].hs_cap <= TLS_HS_MSG_MAX,
              "16 MiB Certificate, capture ends in it: nothing claimed, %u bytes buffered",
              r.dir[TLS_SERVER].hs_cap);
    tls_reader_free(&r);
}

static void garbage_certificate(void)
{
    uint8_t body[3 + 3 + 10] = {0, 0, 13, 0, 0, 10, 0x30, 0x82, 0xff, 0xff, 1, 2, 3, 4, 5, 6};
    uint8_t rec[64];
    size_t n = hs_record(rec, 11, sizeof body, body, sizeof body);
    struct tls_reader r;
    tls_reader_init(&r, false);
    feed_all(&r, TLS_SERVER, rec, n);
    const struct tls_info *in = tls_reader_info(&r);
    CHECK(in->cert.present && !in->cert.parsed && in->cert.chain == 1 && in->cert.error,
          "a leaf that is not DER: present, not parsed (%s)",
          in->cert.error ? in->cert.error : "no error");
    tls_reader_free(&r);
}

static void names(void)
{
    char b[TLS_NAME_BUF];
    CHECK(strcmp(tls_version_name(0x0304, b), "TLS 1.3") == 0 &&
              strcmp(tls_version_name(0x0300, b), "SSL 3.0") == 0 &&
              strcmp(tls_version_name(0x7f17, b), "0x7f17") == 0,
          "version names, hex for unknown ones");
    CHECK(strcmp(tls_alert_name(48, b), "unknown_ca") == 0 &&
              strcmp(tls_alert_name(70, b), "protocol_version") == 0 &&
              strcmp(tls_alert_name(200, b), "0xc8") == 0,
          "alert names, hex for unknown ones");
    CHECK(strcmp(tls_cipher_name(0xfefe, b), "0xfefe") == 0 && tls_is_grease(0xdada) &&
              !tls_is_grease(0x0a1a),
          "unknown cipher in hex; GREASE recognised");
}

int main(void)
{
    bool have = ensure_fixtures();
    CHECK(have, "fixtures made by " SCRIPT " in " FIXDIR);
    if (have) {
        FILE *fp = fopen(FIXDIR "/list", "r");
        char name[128];
        unsigned n = 0;
        while (fp && fscanf(fp, "%127s", name) == 1 && ++n)
            real_handshake(name);
        if (fp)
            fclose(fp);
        CHECK(n >= 12, "%u real handshakes read", n);
        cut_short();
        encrypted_alert13();
        cipher_table();
    }
    hostile_client_hello();
    hostile_records();
    huge_certificate(true);
    huge_certificate(false);
    garbage_certificate();
    names();
    return tap_done();
}
