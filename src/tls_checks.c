/* tls_checks.c - what a TLS handshake read in clear means: its outcome in
 * words, why it made the session fail, and the TLS findings. */
#include "tls_checks.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "tls_observer.h"

/* What an alert in clear most often means in a mail delivery. */
static const struct {
    uint8_t code;
    const char *hint;
} alert_hints[] = {
    {40, "no cipher suite or parameters both sides accept (handshake_failure)"},
    {42, "the client refused the server's certificate (bad_certificate)"},
    {43, "the certificate's type or key is not supported by the peer"},
    {44, "the server's certificate was revoked"},
    {45, "the server's certificate has expired (or is not yet valid)"},
    {46, "the client could not validate the server's certificate"},
    {47, "a peer sent a value the other rejects (illegal_parameter): often a "
         "middlebox rewriting the handshake"},
    {48, "the client does not trust the server's certificate: self-signed, a private CA, "
         "an incomplete chain, or an intercepting middlebox's own certificate"},
    {49, "access denied by the peer's policy"},
    {50, "a handshake message could not be decoded: a broken peer or a middlebox"},
    {51, "a signature or key exchange did not verify: keys or an interception"},
    {70, "no TLS version both sides accept: one side is too old or too strict"},
    {71, "the server requires stronger ciphers than the client offers"},
    {80, "the peer failed internally (its TLS library or key)"},
    {86, "a downgrade was detected (inappropriate_fallback)"},
    {109, "a required TLS extension is missing"},
    {112, "the server has no certificate for the name the client asked for (SNI)"},
    {116, "the server requires a client certificate"},
    {120, "no application protocol (ALPN) both sides accept"},
};

static const char *alert_hint(uint8_t code)
{
    for (size_t i = 0; i < sizeof alert_hints / sizeof alert_hints[0]; i++)
        if (alert_hints[i].code == code)
            return alert_hints[i].hint;
    return "the peer ended the handshake with this alert";
}

static const char *end_words(const struct tls_info *in)
{
    return in->end_how == TLS_END_RESET ? "reset" : "closed";
}

/* The furthest step the handshake reached, for an abandoned one. */
static const char *last_step(const struct tls_info *in)
{
    if (in->finished_seen[TLS_SERVER] || in->cert.present)
        return "after the server's certificate";
    if (in->server_hello)
        return "after the ServerHello";
    if (in->client_hello)
        return "after the ClientHello, before any ServerHello";
    return "before any ClientHello";
}

/* The furthest step one side was seen to take (a one-sided capture). */
static const char *one_side_step(const struct tls_info *in, enum tls_side side)
{
    if (in->finished_seen[side])
        return "up to its Finished";
    if (side == TLS_CLIENT)
        return in->client_hello ? "up to the ClientHello" : "nothing whole";
    return in->cert.present ? "up to the certificate"
           : in->server_hello ? "up to the ServerHello" : "nothing whole";
}

bool tls_handshake_failure(const struct tls_info *in, char *text, size_t cap,
                           const char **hint)
{
    char b[TLS_NAME_BUF];
    if (!in)
        return false;
    switch (in->result) {
    case TLS_RESULT_FAILED:
        snprintf(text, cap, "TLS alert %s (%u) from %s", tls_alert_name(in->alert.code, b),
                 in->alert.code, in->alert.from == TLS_CLIENT ? "client" : "server");
        *hint = alert_hint(in->alert.code);
        return true;
    case TLS_RESULT_ABANDONED:
        if (in->encrypted_alert[TLS_CLIENT] && !in->finished_seen[TLS_CLIENT]) {
            snprintf(text, cap, "TLS handshake abandoned: the client sent an encrypted "
                     "alert and the connection was %s", end_words(in));
            *hint = "in TLS 1.3 alerts are encrypted: a client that sends one instead of "
                    "its Finished has refused the handshake, usually the server's "
                    "certificate (unknown CA, expired, wrong name)";
        } else {
            snprintf(text, cap, "TLS handshake abandoned %s: connection %s", last_step(in),
                     end_words(in));
            *hint = in->server_hello
                        ? "a peer gave up without an alert in clear: a certificate it "
                          "refused (TLS 1.3 hides the alert), or a middlebox cutting TLS"
                        : "the server never answered the ClientHello: a server that cannot "
                          "start TLS, or a middlebox blocking it";
        }
        return true;
    case TLS_RESULT_NOT_TLS:
        snprintf(text, cap, "the %s did not speak TLS: its first bytes are not a TLS record",
                 in->not_tls_side == TLS_CLIENT ? "client" : "server");
        *hint = "one side expected TLS and the other plaintext: implicit TLS against a "
                "plaintext port, or a proxy in between that does not pass TLS";
        return true;
    default:
        return false;
    }
}

size_t tls_handshake_brief(const struct tls_info *in, char *out, size_t cap)
{
    char vb[TLS_NAME_BUF], cb[TLS_NAME_BUF];
    int n = snprintf(out, cap, "%s", in->version ? tls_version_name(in->version, vb)
                                                 : "version unknown");
    if (in->server_hello && n >= 0 && (size_t)n < cap)
        n += snprintf(out + n, cap - (size_t)n, ", %s", tls_cipher_name(in->cipher, cb));
    if (in->sni_present && n >= 0 && (size_t)n < cap)
        n += snprintf(out + n, cap - (size_t)n, ", SNI %.*s", (int)in->sni_len, in->sni);
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

void log_result(struct session *s, const struct tls_info *in)
{
    char text[300];
    const char *hint;
    smtp_time at = in->ended ? in->end_ts : s->end;
    if (in->result == TLS_RESULT_NOT_TLS) {
        session_note(s, at, "not TLS: the %s's first bytes are: %.*s",
                     in->not_tls_side == TLS_CLIENT ? "client" : "server", (int)in->nfirst,
                     (const char *)in->first);
    }
    if (tls_handshake_failure(in, text, sizeof text, &hint)) {
        session_note(s, at, "TLS handshake failed: %s", text);
    } else if (in->result == TLS_RESULT_INCOMPLETE) {
        if (s->client_side_only || s->server_side_only)
            session_note(s, at, "TLS handshake incomplete: the capture holds only the %s's "
                         "packets (read: %s)", s->client_side_only ? "client" : "server",
                         one_side_step(in, s->client_side_only ? TLS_CLIENT : TLS_SERVER));
        else if (in->gap[TLS_CLIENT] || in->gap[TLS_SERVER])
            session_note(s, at, "TLS handshake incomplete: bytes of the %s not captured "
                         "(%s); read: client %s, server %s",
                         in->gap[TLS_CLIENT] ? in->gap[TLS_SERVER] ? "client and the server"
                                                                  : "client" : "server",
                         session_found(s, FINDING_SNAPLEN_CUT) ? "snap length" : "a gap",
                         one_side_step(in, TLS_CLIENT), one_side_step(in, TLS_SERVER));
        else
            session_note(s, at, "TLS handshake incomplete: the capture ended %s",
                         last_step(in));
    }
    if (in->error)
        session_note(s, at, "TLS reading stopped on the %s side: %s",
                     in->error_side == TLS_CLIENT ? "client" : "server", in->error);
}

void check_mismatch(struct session *s, const struct tls_info *in)
{
    struct smtp_parser_info pi = smtp_parser_info(&s->parser);
    bool smtps = s->server.port == TLS_IMPLICIT_PORT;
    if (s->tls_picked_up || pi.not_smtp)
        return;
    if (pi.tls_unasked)
        session_find(s, FINDING_TLS_MISMATCH, s->end, "the client sent a TLS record where a "
                     "command was due, with no STARTTLS accepted (it expected implicit TLS?)");
    else if (in && in->result == TLS_RESULT_NOT_TLS)
        session_find(s, FINDING_TLS_MISMATCH, s->end, "the client spoke TLS, the %s did not",
                     in->not_tls_side == TLS_CLIENT ? "client's later bytes" : "server");
    else if (pi.implicit_tls && !smtps)
        session_find(s, FINDING_TLS_MISMATCH, s->end, "TLS from the first byte on port %u, "
                     "a plaintext SMTP port", s->server.port);
    else if (!pi.implicit_tls && smtps && pi.wire_bytes[SMTP_FROM_SERVER] > 0 &&
             s->nreplies > 0)
        session_find(s, FINDING_TLS_MISMATCH, s->end, "plaintext SMTP on port %u, where "
                     "TLS starts with the first byte", s->server.port);
}

/* Does `name` (maybe "*.example.net") cover host `h`? RFC 6125: a wildcard
 * stands for exactly one left-most label. */
static bool name_covers(const char *name, const char *h, size_t hn)
{
    while (hn && h[hn - 1] == '.')
        hn--;
    if (name[0] == '*' && name[1] == '.') {
        const char *dot = memchr(h, '.', hn);
        if (!dot || dot == h)
            return false;
        size_t rest = hn - (size_t)(dot - h);
        return strlen(name + 1) == rest && strncasecmp(name + 1, dot, rest) == 0;
    }
    return strlen(name) == hn && strncasecmp(name, h, hn) == 0;
}

static bool cert_covers(const struct tls_cert *c, const char *h, size_t hn)
{
    for (unsigned i = 0; i < c->nnames; i++)
        if (name_covers(c->names[i], h, hn))
            return true;
    return false;
}

static void check_certificate(struct session *s, const struct tls_info *in)
{
    const struct tls_cert *c = &in->cert;
    char t[40];
    if (c->not_after && c->not_after < s->start) {
        time_iso8601(c->not_after, t, sizeof t);
        session_find(s, FINDING_TLS_CERT_EXPIRED, s->start, "expired %s: %.200s", t, c->subject);
    } else if (c->not_before > s->start) {
        time_iso8601(c->not_before, t, sizeof t);
        session_find(s, FINDING_TLS_CERT_EXPIRED, s->start, "not valid before %s: %.200s", t,
                     c->subject);
    }
    if (c->self_signed)
        session_find(s, FINDING_TLS_CERT_SELF_SIGNED, s->start, "%.200s", c->subject);
    bool sni = in->sni_present && in->sni_len > 0;
    bool banner = s->banner_host[0] != '\0';
    if (c->nnames && (sni || banner) &&
        !(sni && cert_covers(c, in->sni, in->sni_len)) &&
        !(banner && cert_covers(c, s->banner_host, strlen(s->banner_host))))
        session_find(s, FINDING_TLS_CERT_NAME_MISMATCH, s->start,
                     "certificate for %.100s%s; SNI %.*s, greeting %s", c->names[0],
                     c->nnames > 1 ? " (and others)" : "", sni ? (int)in->sni_len : 6,
                     sni ? in->sni : "(none)", banner ? s->banner_host : "(no host)");
    if (s->mx && s->mx->host[0] && c->nnames &&
        !cert_covers(c, s->mx->host, strlen(s->mx->host)))
        session_find(s, FINDING_TLS_INTERCEPTED, s->start, "the certificate (%.100s) does not "
                     "name %s, the MX host DNS gave for this address", c->names[0],
                     s->mx->host);
}

/* One server address, two certificates in one capture. */
static void check_same_cert(struct tls_seen *seen, struct session *s,
                            const struct tls_cert *c)
{
    struct seen_cert *e = seen ? tls_seen_slot(seen, &s->server) : NULL;
    if (!e)
        return;
    if (!e->has_cert) {
        e->has_cert = true;
        memcpy(e->sha256, c->sha256, sizeof e->sha256);
        snprintf(e->subject, sizeof e->subject, "%.95s", c->subject);
    } else if (memcmp(e->sha256, c->sha256, sizeof e->sha256) != 0) {
        char a[ENDPOINT_STRLEN];
        endpoint_addr_str(&s->server, a);
        session_find(s, FINDING_TLS_INTERCEPTED, s->start, "%s showed another certificate "
                     "earlier in this capture (%s, now %.120s)", a, e->subject, c->subject);
    }
}

void check_handshake(struct tls_seen *seen, struct session *s, const struct tls_info *in)
{
    char b[TLS_NAME_BUF];
    if (in->server_hello && in->version && in->version < TLS_V_1_2)
        session_find(s, FINDING_TLS_OLD_VERSION, in->server_hello_ts, "negotiated %s",
                     tls_version_name(in->version, b));
    else if (!in->server_hello && in->client_hello) {
        uint16_t best = in->client_versions_ext ? 0 : in->client_legacy_version;
        for (unsigned i = 0; i < in->nclient_versions; i++)
            best = in->client_versions[i] > best ? in->client_versions[i] : best;
        if (best && best < TLS_V_1_2)
            session_find(s, FINDING_TLS_OLD_VERSION, in->client_hello_ts,
                         "the client offered at best %s", tls_version_name(best, b));
    }
    if (in->cert.parsed) {
        check_certificate(s, in);
        check_same_cert(seen, s, &in->cert);
    }
}
