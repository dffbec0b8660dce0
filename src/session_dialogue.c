/* session_dialogue.c - the session model built from SMTP parser events.
 *
 * Every parser callback lands here: commands open and fill transactions
 * (transaction.c), every wire line is appended to the transcript, and each
 * reply does what the reply table (reply_rules.c) says its command's
 * replies do: move the expected phase on, record the first failing reply
 * as the session's failure, or clear a failure again when a later attempt
 * of the same phase succeeds (EHLO -> HELO fallback, a second AUTH),
 * because the dialogue recovered from it. Observers see every event.
 */
#include "session_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "esmtp.h"
#include "reply_rules.h"
#include "transaction.h"

/* ---- failure bookkeeping ------------------------------------------------- */

static void record_failure(struct session *s, enum smtp_phase ph,
                           const struct smtp_reply *r)
{
    if (s->failure.phase != PHASE_NONE)
        return;
    struct failure *f = &s->failure;
    f->phase = ph;
    f->code = r->code;
    f->cls = r->code >= 500 || r->code < 400 ? FAIL_PERMANENT : FAIL_TRANSIENT;
    f->ts = r->ts_first;
    size_t el = r->enhanced.len < sizeof f->enhanced ? r->enhanced.len
                                                     : sizeof f->enhanced - 1;
    memcpy(f->enhanced, r->enhanced.p, el);
    f->enhanced[el] = '\0';
    size_t tl = r->text.len < sizeof f->text ? r->text.len : sizeof f->text - 1;
    memcpy(f->text, r->text.p, tl);
    f->text[tl] = '\0';
}

static void recover(struct session *s, enum smtp_phase ph)
{
    if (s->failure.phase == ph) {
        free(s->failure.hint);
        memset(&s->failure, 0, sizeof s->failure);
    }
}

/* ---- ESMTP details ---------------------------------------------------------- */

/* The user name of an AUTH exchange, from its first client response. */
static void learn_auth_user(struct session *s, struct smtp_span resp,
                            smtp_time ts)
{
    s->auth_step++;
    char user[sizeof s->auth_user];
    size_t n = esmtp_auth_user(s->auth_mech, s->auth_step, resp.p, resp.len,
                               user, sizeof user);
    if (n == 0)
        return;
    memcpy(s->auth_user, user, n + 1);
    session_note(s, ts, "AUTH %s user: %.*s", s->auth_mech, (int)n, user);
}

/* The first word of a reply text (a host name in banners and EHLO). */
size_t session_first_word(struct smtp_span t, const char **w)
{
    size_t i = 0;
    while (i < t.len && t.p[i] == ' ')
        i++;
    size_t j = i;
    while (j < t.len && t.p[j] != ' ')
        j++;
    *w = t.p + i;
    return j - i;
}

/* The greeting's first word, when it is a host name. */
static void learn_banner_host(struct session *s, struct smtp_span text)
{
    const char *w;
    size_t n = session_first_word(text, &w);
    if (n && n < sizeof s->banner_host && memchr(w, '.', n)) {
        memcpy(s->banner_host, w, n);
        s->banner_host[n] = '\0';
    }
}

/* One line of a 250 reply to EHLO: a keyword (the first line is the
 * server's name). */
static void learn_ehlo_line(struct session *s, const struct smtp_reply_line *l)
{
    if (l->first) {
        s->ehlo_keywords = 0;
        s->auth_mechs = (struct strref){0, 0};
        s->size_limit = 0;
        return;
    }
    const char *arg;
    size_t al;
    unsigned kw = esmtp_keyword(l->text.p, l->text.len, &arg, &al);
    s->ehlo_keywords |= kw;
    if (kw == KW_AUTH && al && !s->auth_mechs.len)
        s->auth_mechs = session_keep_str(s, arg, al);
    if (kw == KW_SIZE) {
        uint64_t v = 0;
        for (size_t i = 0; i < al && arg[i] >= '0' && arg[i] <= '9' &&
                           v < UINT64_MAX / 10 - 10; i++)
            v = v * 10 + (uint64_t)(arg[i] - '0');
        s->size_limit = v;
    }
}

/* ---- parser callbacks ------------------------------------------------------ */

static void learn_auth_command(struct session *s, const struct smtp_command *c)
{
    size_t m = 0;
    while (m < c->arg.len && c->arg.p[m] != ' ' && m < sizeof s->auth_mech - 1) {
        s->auth_mech[m] = c->arg.p[m];
        m++;
    }
    s->auth_mech[m] = '\0';
    s->auth_step = 0;
    s->auth_code = 0;
    if (c->secret.len) /* initial response */
        learn_auth_user(s, c->secret, c->ts_first);
}

static void log_command(struct session *s, const struct smtp_command *c)
{
    s->ncommands++;
    if ((c->flags & SMTP_LINE_SECRET) && !s->cfg->show_secrets) {
        size_t keep = (size_t)(c->secret.p - c->line.p);
        session_log_add(s, TL_CLIENT, c->ts_first, -1, 0, c->flags, 0, c->line.p,
                        keep, "***", 3);
    } else {
        session_log_add(s, TL_CLIENT, c->ts_first, -1, 0, c->flags, 0, c->line.p,
                        c->line.len, NULL, 0);
    }
}

static uint32_t on_command(struct smtp_parser *p, const struct smtp_command *c)
{
    struct session *s = p->data;
    EACH_OBSERVER(s, command, c);
    s->last_cmd = c->cmd;
    if (c->cmd != SMTP_CMD_END_OF_DATA)
        log_command(s, c);
    switch (c->cmd) {
    case SMTP_CMD_HELO:
    case SMTP_CMD_EHLO:
        s->helo = session_keep_str(s, c->arg.p, c->arg.len);
        s->ehlo_tried |= c->cmd == SMTP_CMD_EHLO;
        break;
    case SMTP_CMD_QUIT:
        s->quit_sent = true;
        break;
    case SMTP_CMD_AUTH:
        learn_auth_command(s, c);
        break;
    case SMTP_CMD_AUTH_RESPONSE:
        if (c->secret.len)
            learn_auth_user(s, c->secret, c->ts_first);
        break;
    default:
        break;
    }
    return txn_command(s, c);
}

static void on_reply_line(struct smtp_parser *p, const struct smtp_reply_line *l)
{
    struct session *s = p->data;
    int64_t latency = -1;
    if (l->first && l->cmd != SMTP_CMD_NONE && l->cmd != SMTP_CMD_CONNECT)
        latency = l->ts - l->cmd_ts_last;
    if (l->first && l->cmd == SMTP_CMD_CONNECT)
        latency = l->ts - s->start; /* greeting delay from the connection */
    /* aux of a reply's first line: the command it answers */
    session_log_add(s, TL_SERVER, l->ts, latency, 0, l->flags,
            l->first ? (uint16_t)l->cmd : 0, l->line.p, l->line.len, NULL, 0);
    if (l->first || l->cmd != SMTP_CMD_NONE) /* later: re-paired by its keywords */
        s->reply_cmd = l->cmd;
    if (l->first && l->cmd == SMTP_CMD_CONNECT)
        learn_banner_host(s, l->text);
    EACH_OBSERVER(s, reply_line, l);
    if (s->reply_cmd == SMTP_CMD_EHLO && l->code == 250)
        learn_ehlo_line(s, l);
    /* The queue id may be on any line of the final reply (Exim answers a
     * BDAT LAST with "250- 11 byte chunk, total 63" / "250 OK id=..."). */
    struct txn *t = txn_last(s);
    if ((s->reply_cmd == SMTP_CMD_END_OF_DATA || s->reply_cmd == SMTP_CMD_BDAT) &&
        l->code >= 200 && l->code < 300 && t && t->body_seen)
        txn_find_queue_id(s, t, l->text);
}

/* The session facts a reply establishes (beside what the table says). */
static void learn_reply(struct session *s, const struct smtp_reply *r)
{
    bool ok = r->code >= 200 && r->code < 300;
    switch (r->cmd) {
    case SMTP_CMD_HELO:
    case SMTP_CMD_EHLO:
        s->helo_code = r->code;
        if (ok) /* the name the server took; a later refused one does not erase it */
            s->helo_accepted = s->helo;
        else if (s->helo_accepted.len)
            s->helo = s->helo_accepted;
        break;
    case SMTP_CMD_AUTH:
        if (r->code != 334)
            s->auth_code = r->code;
        s->auth_ok |= ok;
        break;
    case SMTP_CMD_QUIT:
        s->quit_ok |= ok;
        break;
    default:
        break;
    }
}

static void on_reply(struct smtp_parser *p, const struct smtp_reply *r)
{
    struct session *s = p->data;
    s->nreplies++;
    EACH_OBSERVER(s, reply, r);
    learn_reply(s, r);
    const struct reply_rule *rule = reply_rule(r->cmd);
    struct reply_effect e = reply_effect_of(rule, r->code, s->phase);
    if (rule->txn)
        txn_reply(s, r, &e);
    if (e.ok && rule->recovers)
        recover(s, rule->phase);
    if (e.next != PHASE_NONE)
        s->phase = e.next;
    if (e.fail)
        record_failure(s, e.fail_phase, r);
}

static void on_body_end(struct smtp_parser *p, const struct smtp_body_end *b)
{
    struct session *s = p->data;
    struct txn *t = txn_last(s);
    if (t) {
        t->body_seen = true;
        t->bytes += b->bytes;
        t->lines += b->lines;
    }
    char text[96];
    int n = snprintf(text, sizeof text, "message body: %llu bytes%s%s",
                     (unsigned long long)b->bytes, b->bdat ? " (BDAT)" : "",
                     b->incomplete ? ", cut off before its end" : "");
    session_log_add(s, TL_BODY, b->ts_last, -1, b->bytes, 0, b->bdat, text,
            (size_t)n, NULL, 0);
    EACH_OBSERVER(s, body_end, b);
    if (!b->bdat && !b->incomplete)
        s->phase = PHASE_END_OF_DATA;
}

static void on_tls(struct smtp_parser *p, smtp_time ts)
{
    struct session *s = p->data;
    s->tls = true;
    const char *text = p->implicit_tls
                           ? "TLS from the first byte (implicit TLS): the session is encrypted"
                       : p->tls_unasked
                           ? "TLS from the client with no STARTTLS accepted: the rest "
                             "of the session is encrypted"
                       : p->tls_inferred
                           ? "TLS started after STARTTLS (half of that exchange is not "
                             "in the capture): the rest of the session is encrypted"
                           : "TLS started: the rest of the session is encrypted";
    session_log_add(s, TL_TLS, ts, -1, 0, 0, 0, text, strlen(text), NULL, 0);
}

static const enum finding_id parser_finding[SMTP_ANOM__COUNT] = {
    [SMTP_ANOM_LINE_TOO_LONG] = FINDING_LINE_TOO_LONG,
    [SMTP_ANOM_BARE_LF] = FINDING_BARE_LF,
    [SMTP_ANOM_NUL_BYTE] = FINDING_NUL_BYTE,
    [SMTP_ANOM_MALFORMED_REPLY] = FINDING_MALFORMED_REPLY,
    [SMTP_ANOM_REPLY_CODE_RANGE] = FINDING_REPLY_CODE_RANGE,
    [SMTP_ANOM_REPLY_CODE_CHANGED] = FINDING_REPLY_CODE_CHANGED,
    [SMTP_ANOM_UNSOLICITED_REPLY] = FINDING_UNSOLICITED_REPLY,
    [SMTP_ANOM_EARLY_TALKER] = FINDING_EARLY_TALKER,
    [SMTP_ANOM_PENDING_OVERFLOW] = FINDING_PENDING_OVERFLOW,
    [SMTP_ANOM_HOLD_OVERFLOW] = FINDING_HOLD_OVERFLOW,
    [SMTP_ANOM_BDAT_MALFORMED] = FINDING_BDAT_MALFORMED,
    [SMTP_ANOM_MIDSTREAM_SKIP] = FINDING_MIDSTREAM_SKIPPED,
    [SMTP_ANOM_PAIRING_RESYNC] = FINDING_PAIRING_RESYNC,
};

static void on_anomaly(struct smtp_parser *p, enum smtp_anomaly a,
                       enum smtp_dir dir, smtp_time ts, struct smtp_span detail)
{
    session_find(p->data, parser_finding[a], ts, "%s%s%.*s",
                 dir == SMTP_FROM_CLIENT ? "client" : "server",
                 detail.len ? ": " : "", (int)detail.len, detail.p);
}

static void on_not_smtp(struct smtp_parser *p, enum smtp_dir dir,
                        struct smtp_span first, smtp_time ts)
{
    struct session *s = p->data;
    (void)dir;
    /* Whatever the client sent so far was not SMTP commands either (an
     * HTTP request, a TLS hello): forget it as commands, show its bytes. */
    s->log.len = 0;
    s->log_lines = s->ncommands = s->ntxn = s->nrcpt = 0;
    session_unfind(s, FINDING_EARLY_TALKER); /* it was no early talk */
    s->txn_open = false;
    s->helo.len = 0;
    if (p->nfirst[SMTP_FROM_CLIENT]) {
        const char *c = "not SMTP: the client's first bytes are: ";
        session_log_add(s, TL_NOTE, ts, -1, 0, 0, 0, c, strlen(c), p->first[SMTP_FROM_CLIENT],
                p->nfirst[SMTP_FROM_CLIENT]);
    }
    const char *what = "not SMTP: the server's first bytes are: ";
    session_log_add(s, TL_NOTE, ts, -1, 0, 0, 0, what, strlen(what), first.p, first.len);
}

/* The relay's address in a Received field: the first bracketed address
 * ("from host (host [192.0.2.10])", "from [2001:db8::1]"). */
static struct smtp_span received_addr(struct smtp_span v)
{
    for (size_t i = 0; i < v.len; i++) {
        if (v.p[i] != '[')
            continue;
        size_t j = i + 1;
        if (v.len - j > 5 && strncasecmp(v.p + j, "IPv6:", 5) == 0)
            j += 5;
        size_t k = j;
        while (k < v.len && k - j < 45 && (isxdigit((unsigned char)v.p[k]) ||
                                           v.p[k] == '.' || v.p[k] == ':'))
            k++;
        if (k < v.len && v.p[k] == ']' && k > j)
            return (struct smtp_span){v.p + j, k - j};
    }
    return (struct smtp_span){"", 0};
}

/* Received hops and attachment names: counted and kept, not one slot. */
static bool header_fact(struct session *s, struct txn *t, struct smtp_span name,
                        struct smtp_span value, smtp_time ts)
{
    if (name.len == 8 && memcmp(name.p, "Received", 8) == 0) {
        struct smtp_span a = received_addr(value);
        struct strref r = session_keep_str(s, a.p, a.len);
        if (t->received++ == 0)
            t->received_last = r;
        if (a.len) /* the bottom one that names an address: the oldest relay */
            t->received_first = r;
        if (a.len)
            session_note(s, ts, "header Received: hop %u from %.*s", t->received,
                         (int)a.len, a.p);
        else
            session_note(s, ts, "header Received: hop %u, no address", t->received);
        return true;
    }
    if (name.len == 8 && memcmp(name.p, "filename", 8) == 0) {
        if (t->nattach < TXN_ATTACH_MAX)
            t->attach[t->nattach] = session_keep_str(s, value.p, value.len);
        t->nattach++;
        session_log_add(s, TL_NOTE, ts, -1, 0, 0, 0, "attachment: ", 12, value.p, value.len);
        return true;
    }
    return false;
}

static void on_header(struct smtp_parser *p, struct smtp_span name,
                      struct smtp_span value, smtp_time ts)
{
    struct session *s = p->data;
    struct txn *t = txn_last(s);
    if (!t)
        return;
    if (header_fact(s, t, name, value, ts))
        return;
    struct strref *slot = NULL;
    switch (name.p[0]) { /* the parser passes only the names it knows */
    case 'M': slot = &t->hdr_message_id; break;
    case 'S': slot = &t->hdr_subject; break;
    case 'F': slot = &t->hdr_from; break;
    case 'T': slot = &t->hdr_to; break;
    case 'C': slot = &t->hdr_cc; break;
    case 'D': slot = &t->hdr_date; break;
    case 'R': slot = &t->hdr_reply_to; break;
    case 'X': case 'U': slot = &t->hdr_mailer; break;
    default: return;
    }
    if (slot->len)
        return; /* the first occurrence counts */
    *slot = session_keep_str(s, value.p, value.len);
    char head[40];
    int n = snprintf(head, sizeof head, "header %.*s: ", (int)name.len, name.p);
    session_log_add(s, TL_NOTE, ts, -1, 0, 0, 0, head, (size_t)n, value.p, value.len);
}

static void on_tunnel(struct smtp_parser *p, struct smtp_span what, smtp_time ts)
{
    struct session *s = p->data;
    bool status = what.len > 5 && memcmp(what.p, "HTTP/", 5) == 0;
    const char *head = status ? "HTTP proxy answered: " : "HTTP CONNECT tunnel to ";
    session_log_add(s, TL_NOTE, ts, -1, 0, 0, 0, head, strlen(head), what.p, what.len);
    if (!status)
        session_find(s, FINDING_HTTP_CONNECT_TUNNEL, ts,
                        "the dialogue runs through an HTTP proxy (CONNECT)");
}

static void on_body_data(struct smtp_parser *p, const char *data, size_t n)
{
    struct session *s = p->data;
    EACH_OBSERVER(s, body_data, data, n);
}

static void on_tls_data(struct smtp_parser *p, enum smtp_dir dir,
                        const char *data, size_t n, smtp_time ts)
{
    struct session *s = p->data;
    EACH_OBSERVER(s, tls_data, dir, data, n, ts);
}

/* The same callbacks with and without header extraction and an observer
 * of message content: the parser looks at content only when asked. */
#define SESSION_CALLBACKS                                                   \
    .on_command = on_command, .on_reply_line = on_reply_line,               \
    .on_reply = on_reply, .on_body_end = on_body_end, .on_tls = on_tls,     \
    .on_anomaly = on_anomaly, .on_not_smtp = on_not_smtp,                  \
    .on_tunnel = on_tunnel, .on_tls_data = on_tls_data

static const struct smtp_parser_settings parser_settings = {SESSION_CALLBACKS};
static const struct smtp_parser_settings parser_settings_headers = {
    SESSION_CALLBACKS, .on_header = on_header};
static const struct smtp_parser_settings parser_settings_body = {
    SESSION_CALLBACKS, .on_body_data = on_body_data};
static const struct smtp_parser_settings parser_settings_headers_body = {
    SESSION_CALLBACKS, .on_header = on_header, .on_body_data = on_body_data};

const struct smtp_parser_settings *session_parser_settings(bool headers, bool body)
{
    return headers ? (body ? &parser_settings_headers_body : &parser_settings_headers)
                   : (body ? &parser_settings_body : &parser_settings);
}

