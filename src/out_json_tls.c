/* out_json_tls.c - the "tls_handshake" and "tcp" members of a JSON
 * session record: what the TLS handshake showed in clear (tls_observer.h)
 * and the TCP path's quality (tcp_path.h). */
#include "out_json_tls.h"

#include <string.h>

#include "escape.h"
#include "obuf.h"
#include "tcp_path.h"
#include "tls_reader.h"

static void str(struct obuf *f, const char *s, size_t n)
{
    obuf_putc(f, '"');
    obuf_escape(f, s, n, ESCAPE_JSON);
    obuf_putc(f, '"');
}

static void cstr(struct obuf *f, const char *s) { str(f, s, strlen(s)); }

static void version_or_null(struct obuf *f, uint16_t v)
{
    char b[TLS_NAME_BUF];
    if (v)
        cstr(f, tls_version_name(v, b));
    else
        obuf_puts(f, "null");
}

static void offered_versions(struct obuf *f, const struct tls_info *in)
{
    obuf_putc(f, '[');
    if (in->client_hello && (!in->client_versions_ext || in->nclient_versions == 0)) {
        version_or_null(f, in->client_legacy_version);
    } else {
        for (unsigned i = 0; i < in->nclient_versions; i++) {
            if (i)
                obuf_putc(f, ',');
            version_or_null(f, in->client_versions[i]);
        }
    }
    obuf_putc(f, ']');
}

static void alert(struct obuf *f, const struct tls_alert *a)
{
    char b[TLS_NAME_BUF];
    if (!a->seen) {
        obuf_puts(f, "null");
        return;
    }
    obuf_printf(f, "{\"from\":\"%s\",\"level\":", a->from == TLS_CLIENT ? "client" : "server");
    cstr(f, tls_alert_level_name(a->level));
    obuf_puts(f, ",\"description\":");
    cstr(f, tls_alert_name(a->code, b));
    obuf_printf(f, ",\"code\":%u}", a->code);
}

static void certificate(struct obuf *f, const struct tls_cert *c)
{
    char t[40];
    if (!c->parsed) {
        obuf_puts(f, "null");
        return;
    }
    obuf_puts(f, "{\"subject\":");
    cstr(f, c->subject);
    obuf_puts(f, ",\"issuer\":");
    cstr(f, c->issuer);
    obuf_puts(f, ",\"names\":[");
    for (unsigned i = 0; i < c->nnames; i++) {
        if (i)
            obuf_putc(f, ',');
        cstr(f, c->names[i]);
    }
    time_iso8601(c->not_before, t, sizeof t);
    obuf_printf(f, "],\"not_before\":\"%s\"", t);
    time_iso8601(c->not_after, t, sizeof t);
    obuf_printf(f, ",\"not_after\":\"%s\",\"self_signed\":%s}", t,
            c->self_signed ? "true" : "false");
}

static const char *result_name(enum tls_result r)
{
    switch (r) {
    case TLS_RESULT_COMPLETE: return "complete";
    case TLS_RESULT_FAILED: case TLS_RESULT_NOT_TLS: return "failed";
    case TLS_RESULT_ABANDONED: return "abandoned";
    default: return "incomplete";
    }
}

void json_tls_handshake(struct obuf *f, const struct tls_info *in)
{
    char b[TLS_NAME_BUF];
    obuf_puts(f, ",\"tls_handshake\":");
    if (!in) {
        obuf_puts(f, "null");
        return;
    }
    obuf_puts(f, "{\"version\":");
    version_or_null(f, in->server_hello ? in->version : 0);
    obuf_puts(f, ",\"cipher\":");
    if (in->server_hello)
        cstr(f, tls_cipher_name(in->cipher, b));
    else
        obuf_puts(f, "null");
    obuf_puts(f, ",\"sni\":");
    if (in->sni_present)
        str(f, in->sni, in->sni_len);
    else
        obuf_puts(f, "null");
    obuf_puts(f, ",\"alpn\":");
    if (in->alpn_present) {
        obuf_putc(f, '[');
        for (unsigned i = 0; i < in->nalpn; i++) {
            if (i)
                obuf_putc(f, ',');
            str(f, in->alpn[i], in->alpn_len[i]);
        }
        obuf_putc(f, ']');
    } else {
        obuf_puts(f, "null");
    }
    obuf_puts(f, ",\"client_versions\":");
    offered_versions(f, in);
    obuf_printf(f, ",\"result\":\"%s\",\"alert\":", result_name(in->result));
    alert(f, &in->alert);
    obuf_puts(f, ",\"certificate\":");
    certificate(f, &in->cert);
    obuf_putc(f, '}');
}

static void rtt(struct obuf *f, smtp_time d)
{
    char b[40];
    if (d < 0) {
        obuf_puts(f, "null");
        return;
    }
    time_fixed(d, SMTP_NS_PER_SEC / 1000, 3, b, sizeof b);
    obuf_puts(f, b);
}

/* HEAD C,"server":S} (no printf: this is in every session's record) */
static void pair(struct obuf *f, const char *head, unsigned long long c, unsigned long long sv)
{
    obuf_puts(f, head);
    obuf_putu(f, c);
    obuf_puts(f, ",\"server\":");
    obuf_putu(f, sv);
    obuf_putc(f, '}');
}

void json_tcp_path(struct obuf *f, const struct tcp_path *t)
{
    obuf_puts(f, ",\"tcp\":");
    if (!t) {
        obuf_puts(f, "null");
        return;
    }
    obuf_puts(f, "{\"rtt_ms\":{\"client_side\":");
    rtt(f, tcp_path_rtt(t, false));
    obuf_puts(f, ",\"server_side\":");
    rtt(f, tcp_path_rtt(t, true));
    pair(f, "},\"retransmits\":{\"client\":", t->retransmits[0], t->retransmits[1]);
    pair(f, ",\"out_of_order\":{\"client\":", t->out_of_order[0], t->out_of_order[1]);
    pair(f, ",\"zero_window\":{\"client\":", t->zero_window[0], t->zero_window[1]);
    pair(f, ",\"lost_bytes\":{\"client\":", t->lost_bytes[0], t->lost_bytes[1]);
    obuf_putc(f, '}');
}

/* ---- the steps, for the ladder ----------------------------------------------------- */

struct step {
    smtp_time t;
    int from;          /* TLS_CLIENT, TLS_SERVER */
    char what[200];
};

static int add_step(struct step *st, int n, smtp_time t, int from, const char *what)
{
    if (n == 12 || t <= 0)
        return n;
    st[n].t = t;
    st[n].from = from;
    snprintf(st[n].what, sizeof st[n].what, "%s", what);
    for (int i = n; i > 0 && st[i].t < st[i - 1].t; i--) { /* in time order */
        struct step x = st[i];
        st[i] = st[i - 1];
        st[i - 1] = x;
    }
    return n + 1;
}

static int hello_steps(const struct tls_info *in, struct step *st)
{
    char b[TLS_NAME_BUF], c[TLS_NAME_BUF], what[200];
    int n = 0;
    if (in->client_hello) {
        snprintf(what, sizeof what, "ClientHello%s%.*s", in->sni_present ? " SNI " : "",
                 in->sni_present ? (int)in->sni_len : 0, in->sni);
        n = add_step(st, n, in->client_hello_ts, TLS_CLIENT, what);
    }
    if (in->server_hello) {
        snprintf(what, sizeof what, "ServerHello %s %s", tls_version_name(in->version, b),
                 tls_cipher_name(in->cipher, c));
        n = add_step(st, n, in->server_hello_ts, TLS_SERVER, what);
    }
    if (in->cert.present) {
        snprintf(what, sizeof what, "Certificate %.160s",
                 in->cert.parsed ? in->cert.subject : "(not read)");
        n = add_step(st, n, in->server_hello_ts, TLS_SERVER, what);
    }
    if (in->alert.seen) {
        snprintf(what, sizeof what, "alert %s (%s)", tls_alert_name(in->alert.code, b),
                 tls_alert_level_name(in->alert.level));
        n = add_step(st, n, in->alert.ts, (int)in->alert.from, what);
    }
    return n;
}

void json_tls_steps(struct obuf *f, const struct tls_info *in, smtp_time start)
{
    obuf_puts(f, ",\"tls_steps\":[");
    struct step st[12];
    int n = in ? hello_steps(in, st) : 0;
    for (int d = 0; in && d < 2; d++) {
        if (in->ccs_seen[d])
            n = add_step(st, n, in->ccs_ts[d], d, "ChangeCipherSpec");
        if (in->finished_seen[d])
            n = add_step(st, n, in->finished_ts[d], d, "Finished");
        if (in->data_seen[d])
            n = add_step(st, n, in->data_ts[d], d, "application data");
    }
    for (int i = 0; i < n; i++) {
        obuf_printf(f, "%s{\"t\":%.6f,\"from\":\"%s\",\"step\":", i ? "," : "",
                    (double)(st[i].t - start) / 1e9, st[i].from == TLS_CLIENT ? "C" : "S");
        cstr(f, st[i].what);
        obuf_putc(f, '}');
    }
    obuf_putc(f, ']');
}
