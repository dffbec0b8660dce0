/* tls_observer.c - the TLS handshake of a session (see tls_observer.h). */
#include "tls_observer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "session.h"
#include "tls_checks.h"

/* ---- run-wide: the certificate each server address showed ---------------- */



struct tls_seen *tls_seen_new(void) { return calloc(1, sizeof(struct tls_seen)); }
void tls_seen_free(struct tls_seen *t) { free(t); }

/* The entry of the server's address, made when there is room; NULL else. */
struct seen_cert *tls_seen_slot(struct tls_seen *t, const struct endpoint *srv)
{
    struct endpoint a = *srv;
    a.port = 0;
    uint32_t mask = 2 * TLS_SEEN_SERVERS - 1;
    for (uint32_t i = fnv1a(2166136261u, a.addr, 16) & mask;; i = (i + 1) & mask) {
        struct seen_cert *c = &t->slot[i];
        if (c->family == a.family && memcmp(c->addr, a.addr, 16) == 0)
            return c;
        if (c->family == 0) {
            if (t->n >= TLS_SEEN_SERVERS)
                return NULL;
            t->n++;
            memcpy(c->addr, a.addr, 16);
            c->family = a.family;
            return c;
        }
    }
}

/* ---- per session ---------------------------------------------------------- */

struct tls_state {
    struct tls_reader *r;
    bool no_memory, gap;
    /* the handshake steps already written to the transcript */
    bool ch, sh, cert, alert, enc_alert, complete;
};

static enum tls_side side_of(enum smtp_dir d)
{
    return d == SMTP_FROM_CLIENT ? TLS_CLIENT : TLS_SERVER;
}

static const char *side_name(enum tls_side s) { return s == TLS_CLIENT ? "client" : "server"; }

/* "TLS 1.3, TLS 1.2" into out; the offered versions, else the legacy one. */
static void client_versions(const struct tls_info *in, char *out, size_t cap)
{
    char b[TLS_NAME_BUF];
    size_t n = 0;
    out[0] = '\0';
    if (!in->client_versions_ext || in->nclient_versions == 0) {
        snprintf(out, cap, "%s", tls_version_name(in->client_legacy_version, b));
        return;
    }
    for (unsigned i = 0; i < in->nclient_versions && n < cap; i++) {
        int k = snprintf(out + n, cap - n, "%s%s", i ? ", " : "",
                         tls_version_name(in->client_versions[i], b));
        n += k > 0 ? (size_t)k : 0;
    }
}

static void log_client_hello(struct session *s, const struct tls_info *in)
{
    char vers[96], alpn[160] = "";
    client_versions(in, vers, sizeof vers);
    size_t n = 0;
    for (unsigned i = 0; i < in->nalpn && n < sizeof alpn; i++) {
        int k = snprintf(alpn + n, sizeof alpn - n, "%s%.*s", i ? ", " : "; ALPN ",
                         (int)in->alpn_len[i], in->alpn[i]);
        n += k > 0 ? (size_t)k : 0;
    }
    session_note(s, in->client_hello_ts, "TLS ClientHello: offers %s%s%.*s%s; %u cipher suites",
                 vers, in->sni_present ? "; SNI " : "", (int)in->sni_len, in->sni, alpn,
                 in->nclient_ciphers_total);
}

static void log_server_hello(struct session *s, const struct tls_info *in)
{
    char vb[TLS_NAME_BUF], cb[TLS_NAME_BUF];
    if (in->hello_retry && !in->version)
        session_note(s, in->server_hello_ts, "TLS HelloRetryRequest");
    else
        session_note(s, in->server_hello_ts, "TLS ServerHello: %s, %s%s",
                     in->version ? tls_version_name(in->version, vb) : "version unknown",
                     tls_cipher_name(in->cipher, cb),
                     in->hello_retry ? " (after a HelloRetryRequest)" : "");
}

static void log_certificate(struct session *s, const struct tls_info *in, smtp_time ts)
{
    const struct tls_cert *c = &in->cert;
    if (!c->parsed) {
        session_note(s, ts, "TLS certificate (%u in the chain): not read: %s", c->chain,
                     c->error ? c->error : c->cut ? "message too long" : "no certificate");
        return;
    }
    char names[300] = "", from[40], to[40];
    size_t n = 0;
    for (unsigned i = 0; i < c->nnames && n < sizeof names; i++) {
        int k = snprintf(names + n, sizeof names - n, "%s%s", i ? ", " : "", c->names[i]);
        n += k > 0 ? (size_t)k : 0;
    }
    time_iso8601(c->not_before, from, sizeof from);
    time_iso8601(c->not_after, to, sizeof to);
    session_note(s, ts, "TLS certificate (%u in the chain): subject %.120s; issuer %.120s; "
                 "names %s%s; valid %.10s to %.10s%s", c->chain, c->subject, c->issuer,
                 c->nnames ? names : "(none)",
                 c->nnames_total > c->nnames ? " and more" : "", from, to,
                 c->self_signed ? "; self-signed" : "");
}

/* One transcript line per handshake step, as each becomes known. */
static void log_steps(struct session *s, struct tls_state *st, smtp_time ts)
{
    const struct tls_info *in = tls_reader_info(st->r);
    if (in->client_hello && !st->ch) {
        st->ch = true;
        log_client_hello(s, in);
    }
    if (in->server_hello && !st->sh && (in->version || !in->hello_retry)) {
        st->sh = true;
        log_server_hello(s, in);
    }
    if ((in->cert.parsed || in->cert.error || in->cert.cut) && !st->cert) {
        st->cert = true;
        log_certificate(s, in, ts);
    }
    if (in->alert.seen && !st->alert) {
        char b[TLS_NAME_BUF];
        st->alert = true;
        session_note(s, in->alert.ts, "TLS alert from %s: %s %s (%u)", side_name(in->alert.from),
                     tls_alert_level_name(in->alert.level), tls_alert_name(in->alert.code, b),
                     in->alert.code);
    }
    if (in->encrypted_alert[TLS_CLIENT] && !st->enc_alert && !in->finished_seen[TLS_CLIENT]) {
        st->enc_alert = true;
        session_note(s, ts, "TLS: the client sent an encrypted alert instead of its Finished "
                            "(it refused the handshake, most often the certificate)");
    }
    if (in->result == TLS_RESULT_COMPLETE && !st->complete) {
        st->complete = true;
        session_note(s, in->finished_ts[TLS_CLIENT], "TLS handshake complete");
    }
}

static void tls_data(void *ctx, struct session *s, void *state, enum smtp_dir dir,
                     const char *p, size_t n, smtp_time ts)
{
    struct tls_state *st = state;
    (void)ctx;
    if (s->tls_picked_up || st->no_memory)
        return; /* began inside TLS: the handshake is not in the capture */
    if (!st->r) {
        if (!(st->r = malloc(sizeof *st->r))) {
            st->no_memory = true;
            session_note(s, ts, "TLS handshake not read: out of memory");
            return;
        }
        tls_reader_init(st->r, smtp_parser_info(&s->parser).implicit_tls);
    }
    if (!p) {
        st->gap = true;
        tls_reader_gap(st->r, side_of(dir));
        return;
    }
    tls_reader_feed(st->r, side_of(dir), (const uint8_t *)p, n, ts);
    log_steps(s, st, ts);
}

static enum tls_end end_how(const struct session *s, bool gap)
{
    if (gap)
        return TLS_END_CAPTURE; /* what the gap held is unknown */
    /* One direction never captured (asymmetric routing): its silence says
     * nothing, so the handshake did not end as far as the capture shows. */
    if (s->client_side_only || s->server_side_only)
        return TLS_END_CAPTURE;
    switch (s->tcp_end) {
    case TCP_END_CLOSED: case TCP_END_PORT_REUSED: return TLS_END_CLOSED;
    case TCP_END_RESET_BY_CLIENT: case TCP_END_RESET_BY_SERVER: return TLS_END_RESET;
    default: return TLS_END_CAPTURE;
    }
}

static void tls_end(void *ctx, struct session *s, void *state)
{
    struct tls_state *st = state;
    if (st->r) {
        tls_reader_end(st->r, end_how(s, st->gap), s->end);
        log_steps(s, st, s->end);
        s->tls_hs = tls_reader_info(st->r);
        log_result(s, s->tls_hs);
    }
    check_mismatch(s, s->tls_hs);
    if (s->tls_hs)
        check_handshake(ctx, s, s->tls_hs);
}

static void tls_release(void *ctx, struct session *s, void *state)
{
    struct tls_state *st = state;
    (void)ctx;
    s->tls_hs = NULL;
    if (st->r) {
        tls_reader_free(st->r);
        free(st->r);
        st->r = NULL;
    }
}

struct observer tls_observer(struct tls_seen *t)
{
    return (struct observer){.name = "tls-handshake", .ctx = t,
                             .state_size = sizeof(struct tls_state),
                             .tls_data = tls_data, .end = tls_end,
                             .release = tls_release};
}
