/* out_json_tls.c - the "tls_handshake" and "tcp" members of a JSON
 * session record: what the TLS handshake showed in clear (tls_observer.h)
 * and the TCP path's quality (tcp_path.h). */
#include "out_json_tls.h"

#include <string.h>

#include "escape.h"
#include "tcp_path.h"
#include "tls_reader.h"

static void str(FILE *f, const char *s, size_t n)
{
    fputc('"', f);
    escape_write(f, s, n, ESCAPE_JSON);
    fputc('"', f);
}

static void cstr(FILE *f, const char *s) { str(f, s, strlen(s)); }

static void version_or_null(FILE *f, uint16_t v)
{
    char b[TLS_NAME_BUF];
    if (v)
        cstr(f, tls_version_name(v, b));
    else
        fputs("null", f);
}

static void offered_versions(FILE *f, const struct tls_info *in)
{
    fputc('[', f);
    if (in->client_hello && (!in->client_versions_ext || in->nclient_versions == 0)) {
        version_or_null(f, in->client_legacy_version);
    } else {
        for (unsigned i = 0; i < in->nclient_versions; i++) {
            if (i)
                fputc(',', f);
            version_or_null(f, in->client_versions[i]);
        }
    }
    fputc(']', f);
}

static void alert(FILE *f, const struct tls_alert *a)
{
    char b[TLS_NAME_BUF];
    if (!a->seen) {
        fputs("null", f);
        return;
    }
    fprintf(f, "{\"from\":\"%s\",\"level\":", a->from == TLS_CLIENT ? "client" : "server");
    cstr(f, tls_alert_level_name(a->level));
    fputs(",\"description\":", f);
    cstr(f, tls_alert_name(a->code, b));
    fprintf(f, ",\"code\":%u}", a->code);
}

static void certificate(FILE *f, const struct tls_cert *c)
{
    char t[40];
    if (!c->parsed) {
        fputs("null", f);
        return;
    }
    fputs("{\"subject\":", f);
    cstr(f, c->subject);
    fputs(",\"issuer\":", f);
    cstr(f, c->issuer);
    fputs(",\"names\":[", f);
    for (unsigned i = 0; i < c->nnames; i++) {
        if (i)
            fputc(',', f);
        cstr(f, c->names[i]);
    }
    time_iso8601(c->not_before, t, sizeof t);
    fprintf(f, "],\"not_before\":\"%s\"", t);
    time_iso8601(c->not_after, t, sizeof t);
    fprintf(f, ",\"not_after\":\"%s\",\"self_signed\":%s}", t,
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

void json_tls_handshake(FILE *f, const struct tls_info *in)
{
    char b[TLS_NAME_BUF];
    fputs(",\"tls_handshake\":", f);
    if (!in) {
        fputs("null", f);
        return;
    }
    fputs("{\"version\":", f);
    version_or_null(f, in->server_hello ? in->version : 0);
    fputs(",\"cipher\":", f);
    if (in->server_hello)
        cstr(f, tls_cipher_name(in->cipher, b));
    else
        fputs("null", f);
    fputs(",\"sni\":", f);
    if (in->sni_present)
        str(f, in->sni, in->sni_len);
    else
        fputs("null", f);
    fputs(",\"alpn\":", f);
    if (in->alpn_present) {
        fputc('[', f);
        for (unsigned i = 0; i < in->nalpn; i++) {
            if (i)
                fputc(',', f);
            str(f, in->alpn[i], in->alpn_len[i]);
        }
        fputc(']', f);
    } else {
        fputs("null", f);
    }
    fputs(",\"client_versions\":", f);
    offered_versions(f, in);
    fprintf(f, ",\"result\":\"%s\",\"alert\":", result_name(in->result));
    alert(f, &in->alert);
    fputs(",\"certificate\":", f);
    certificate(f, &in->cert);
    fputc('}', f);
}

static void rtt(FILE *f, smtp_time d)
{
    char b[40];
    if (d < 0) {
        fputs("null", f);
        return;
    }
    time_fixed(d, SMTP_NS_PER_SEC / 1000, 3, b, sizeof b);
    fputs(b, f);
}

void json_tcp_path(FILE *f, const struct tcp_path *t)
{
    fputs(",\"tcp\":", f);
    if (!t) {
        fputs("null", f);
        return;
    }
    fputs("{\"rtt_ms\":{\"client_side\":", f);
    rtt(f, tcp_path_rtt(t, false));
    fputs(",\"server_side\":", f);
    rtt(f, tcp_path_rtt(t, true));
    fprintf(f, "},\"retransmits\":{\"client\":%u,\"server\":%u},"
               "\"out_of_order\":{\"client\":%u,\"server\":%u},"
               "\"zero_window\":{\"client\":%u,\"server\":%u},"
               "\"lost_bytes\":{\"client\":%llu,\"server\":%llu}}",
            t->retransmits[0], t->retransmits[1], t->out_of_order[0], t->out_of_order[1],
            t->zero_window[0], t->zero_window[1], (unsigned long long)t->lost_bytes[0],
            (unsigned long long)t->lost_bytes[1]);
}
