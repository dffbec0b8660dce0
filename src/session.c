/* session.c - builds the session model from SMTP parser events.
 *
 * Every parser callback lands here: commands open and fill transactions,
 * replies settle them and move the expected phase on, and every wire line
 * is appended to the bounded transcript. The first failing reply is kept as
 * the session's failure; HELO/EHLO, STARTTLS and AUTH failures are cleared
 * again when a later attempt of the same phase succeeds (EHLO -> HELO
 * fallback, a second AUTH), because the dialogue recovered from them.
 */
#include "session.h"
#include "textfind.h"

#include <stdarg.h>
#include <stdio.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "diagnosis.h"
#include "esmtp.h"
#include "findings.h"

static const char *const phase_names[PHASE__COUNT] = {
    [PHASE_NONE] = "NONE",         [PHASE_CONNECT] = "CONNECT",
    [PHASE_GREETING] = "GREETING", [PHASE_HELO] = "HELO",
    [PHASE_STARTTLS] = "STARTTLS", [PHASE_AUTH] = "AUTH",
    [PHASE_MAIL] = "MAIL",         [PHASE_RCPT] = "RCPT",
    [PHASE_DATA] = "DATA",         [PHASE_END_OF_DATA] = "END-OF-DATA",
    [PHASE_QUIT] = "QUIT",
};

const char *phase_name(enum smtp_phase ph)
{
    return (unsigned)ph < PHASE__COUNT ? phase_names[ph] : "NONE";
}

const char *txn_result_name(enum txn_result r)
{
    switch (r) {
    case TXN_OPEN: return "open";
    case TXN_ACCEPTED: return "accepted";
    case TXN_REJECTED: return "rejected";
    case TXN_RESET: return "reset";
    case TXN_ABORTED: return "aborted";
    case TXN_INCOMPLETE: return "incomplete";
    }
    return "open";
}

const char *end_cause_name(enum tcp_end e, bool quit)
{
    if (quit)
        return "quit";
    switch (e) {
    case TCP_END_CLOSED: return "closed";
    case TCP_END_RESET_BY_CLIENT: return "reset-by-client";
    case TCP_END_RESET_BY_SERVER: return "reset-by-server";
    case TCP_END_TIMEOUT: return "timeout";
    case TCP_END_EVICTED: return "evicted";
    case TCP_END_CAPTURE_ENDED: return "capture-ended";
    case TCP_END_NO_ANSWER: return "no-answer";
    case TCP_END_REFUSED: return "refused";
    case TCP_END_PORT_REUSED: return "port-reused";
    case TCP_END_HANDSHAKE_INCOMPLETE: return "handshake-incomplete";
    case TCP_END_ICMP_UNREACHABLE: return "icmp-unreachable";
    default: return "unknown";
    }
}

const char *handshake_name(enum handshake hs)
{
    switch (hs) {
    case HS_COMPLETE: return "complete";
    case HS_MISSING: return "missing";
    default: return "none";
    }
}

void session_config_defaults(struct session_config *cfg)
{
    cfg->show_secrets = false;
    cfg->max_transcript = 1u << 20;
    cfg->max_strings = 256u << 10;
    cfg->slow_ms = 10000;
    cfg->idle_gap_ms = 60000;
    cfg->save_dirfd = -1;
    cfg->save_max = 10u << 20;
}

/* ---- storage helpers ---------------------------------------------------- */

static struct strref store_str(struct session *s, const char *p, size_t n)
{
    struct strref r = {0, 0};
    size_t off = s->strings.len;
    /* NUL-terminate so outputs may use the text directly. */
    char *at = bytebuf_extend(&s->strings, n + 1);
    if (!at)
        return r;
    memcpy(at, p, n);
    at[n] = '\0';
    r.off = (uint32_t)off;
    r.len = (uint32_t)n;
    return r;
}

static void log_add(struct session *s, enum tline_kind kind, smtp_time ts,
                    int64_t latency, uint64_t value, unsigned flags,
                    uint16_t aux, const char *text, size_t n,
                    const char *tail, size_t tail_n)
{
    struct tline h = {
        .ts = ts, .latency_ns = latency, .value = value,
        .len = (uint32_t)(n + tail_n), .kind = (uint8_t)kind,
        .flags = (uint8_t)flags, .aux = aux,
    };
    /* records stay 8-byte aligned */
    size_t rec = (sizeof h + n + tail_n + 7) & ~(size_t)7;
    if (s->cfg->on_line && s->followed) {
        char live[SMTP_LINE_MAX + 512];
        size_t k = n < sizeof live ? n : sizeof live;
        memcpy(live, text, k);
        size_t t = tail_n < sizeof live - k ? tail_n : sizeof live - k;
        memcpy(live + k, tail, t);
        struct tline lh = h;
        lh.len = (uint32_t)(k + t);
        s->cfg->on_line(s->cfg->line_ctx, s, &lh, live);
    }
    char *at = bytebuf_extend(&s->log, rec);
    if (!at) {
        s->log_dropped++;
        return;
    }
    memcpy(at, &h, sizeof h);
    memcpy(at + sizeof h, text, n);
    if (tail_n)
        memcpy(at + sizeof h + n, tail, tail_n);
    s->log_lines++;
}

const struct tline *session_next_line(const struct session *s, size_t *off,
                                      const char **text)
{
    if (*off + sizeof(struct tline) > s->log.len)
        return NULL;
    const struct tline *h = (const struct tline *)(s->log.p + *off);
    *text = s->log.p + *off + sizeof *h;
    *off += (sizeof *h + h->len + 7) & ~(size_t)7;
    return h;
}

static struct txn *last_txn(struct session *s)
{
    return s->ntxn ? &s->txns[s->ntxn - 1] : NULL;
}

/* Hostile sessions may send millions of MAIL or RCPT commands: beyond
 * these, they are still shown and counted, but not modelled. */
#define SESSION_MAX_TXN 10000
#define SESSION_MAX_RCPT 200000

static struct txn *new_txn(struct session *s, smtp_time ts)
{
    if (s->ntxn >= SESSION_MAX_TXN) {
        session_anomaly(s, "model-limit", ts, "more than %d transactions: "
                        "the rest are not modelled", SESSION_MAX_TXN);
        return NULL;
    }
    if (s->ntxn == s->txn_cap) {
        uint32_t ncap = s->txn_cap ? s->txn_cap * 2 : 2;
        struct txn *n = realloc(s->txns, ncap * sizeof *n);
        if (!n)
            return NULL;
        s->txns = n;
        s->txn_cap = ncap;
    }
    struct txn *t = &s->txns[s->ntxn++];
    memset(t, 0, sizeof *t);
    t->first_rcpt = s->nrcpt;
    t->start = ts;
    return t;
}

/* Recipients are bounded by the string arena: past it they are counted in
 * the transaction but their addresses are empty. */
static uint32_t add_rcpt(struct session *s, struct txn *t, struct smtp_span a)
{
    if (s->nrcpt >= SESSION_MAX_RCPT) {
        session_anomaly(s, "model-limit", t->start, "more than %d recipients: "
                        "the rest are not modelled", SESSION_MAX_RCPT);
        return 0;
    }
    if (s->nrcpt == s->rcpt_cap) {
        uint32_t ncap = s->rcpt_cap ? s->rcpt_cap * 2 : 4;
        struct rcpt *n = realloc(s->rcpts, ncap * sizeof *n);
        if (!n)
            return 0;
        s->rcpts = n;
        s->rcpt_cap = ncap;
    }
    /* a transaction's recipients are contiguous: only the last txn grows */
    struct rcpt *r = &s->rcpts[s->nrcpt++];
    r->addr = store_str(s, a.p, a.len);
    r->code = 0;
    t->nrcpt++;
    return s->nrcpt; /* tag: index + 1 */
}

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

static bool ok2(int code) { return code >= 200 && code < 300; }
static bool failed(int code) { return code >= 400; }

/* "250 2.0.0 Ok: queued as 4XyZ1" -> "4XyZ1" (Postfix, Exim "id=", ...). */
static void find_queue_id(struct session *s, struct txn *t,
                          struct smtp_span text)
{
    if (t->queue_id.len)
        return; /* an earlier line of the same reply named it */
    static const char *const markers[] = {"queued as ", "id=", "queued as"};
    for (size_t m = 0; m < sizeof markers / sizeof markers[0]; m++) {
        size_t ml = strlen(markers[m]);
        long at;
        for (size_t from = 0;
             (at = text_find_ci(text.p + from, text.len - from, markers[m], ml)) >= 0;
             from += (size_t)at + 1) {
            size_t b = from + (size_t)at + ml, e = b;
            while (e < text.len && text.p[e] != ' ' && text.p[e] != ')' &&
                   text.p[e] != ',' && text.p[e] != ';' && e - b < 64)
                e++;
            if (e > b) {
                t->queue_id = store_str(s, text.p + b, e - b);
                return;
            }
        }
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
        s->auth_mechs = store_str(s, arg, al);
    if (kw == KW_SIZE) {
        uint64_t v = 0;
        for (size_t i = 0; i < al && arg[i] >= '0' && arg[i] <= '9' &&
                           v < UINT64_MAX / 10 - 10; i++)
            v = v * 10 + (uint64_t)(arg[i] - '0');
        s->size_limit = v;
    }
}

/* ---- parser callbacks ------------------------------------------------------ */

static uint32_t on_command(struct smtp_parser *p, const struct smtp_command *c)
{
    struct session *s = p->data;
    struct txn *t = last_txn(s);
    uint32_t tag = 0;

    findings_command(s, c);
    s->last_cmd = c->cmd;
    if (t && t->resumable && (c->cmd == SMTP_CMD_RCPT || c->cmd == SMTP_CMD_DATA ||
                              c->cmd == SMTP_CMD_BDAT)) {
        t->resumable = false; /* the refused transaction goes on */
        t->result = TXN_OPEN;
        t->failed_phase = PHASE_NONE;
        s->txn_open = true;
    }
    if (c->cmd != SMTP_CMD_END_OF_DATA) {
        s->ncommands++;
        if ((c->flags & SMTP_LINE_SECRET) && !s->cfg->show_secrets) {
            size_t keep = (size_t)(c->secret.p - c->line.p);
            log_add(s, TL_CLIENT, c->ts_first, -1, 0, c->flags, 0, c->line.p,
                    keep, "***", 3);
        } else {
            log_add(s, TL_CLIENT, c->ts_first, -1, 0, c->flags, 0, c->line.p,
                    c->line.len, NULL, 0);
        }
    }

    switch (c->cmd) {
    case SMTP_CMD_HELO:
    case SMTP_CMD_EHLO:
        s->helo = store_str(s, c->arg.p, c->arg.len);
        break;
    case SMTP_CMD_MAIL: {
        /* A MAIL inside a transaction the server accepted is "nested": the
         * server normally refuses it (503) and the first transaction goes
         * on; only if it is accepted does it replace the first one. */
        bool nested = t && (t->result == TXN_OPEN || t->resumable) &&
                      !failed(t->mail_code);
        if (t && t->result == TXN_OPEN && !nested)
            t->result = TXN_RESET; /* superseded without RSET */
        struct smtp_span a = {"", 0};
        if (!smtp_parse_path(c->arg, "FROM", &a))
            a = c->arg;
        t = new_txn(s, c->ts_first);
        if (t) {
            t->nested = nested;
            t->mail_from = store_str(s, a.p, a.len);
            const char *pp;
            size_t pl;
            esmtp_mail_params(c->arg.p, c->arg.len, &pp, &pl);
            if (pl)
                t->mail_params = store_str(s, pp, pl);
        }
        s->txn_open = t != NULL;
        tag = s->ntxn;
        break;
    }
    case SMTP_CMD_RCPT: {
        struct smtp_span a = {"", 0};
        if (!smtp_parse_path(c->arg, "TO", &a))
            a = c->arg;
        if (!t || t->result != TXN_OPEN)
            t = new_txn(s, c->ts_first); /* RCPT without MAIL */
        if (t)
            tag = add_rcpt(s, t, a);
        break;
    }
    case SMTP_CMD_DATA:
    case SMTP_CMD_END_OF_DATA:
        tag = s->ntxn;
        break;
    case SMTP_CMD_BDAT:
        if (!t || t->result != TXN_OPEN)
            t = new_txn(s, c->ts_first);
        if (t) {
            t->bdat = true;
            t->bdat_cmds++;
            if (c->bdat_last)
                t->bdat_last_sent = true;
        }
        tag = s->ntxn;
        break;
    case SMTP_CMD_RSET:
        if (t && t->result == TXN_OPEN)
            t->result = TXN_RESET;
        if (t)
            t->resumable = false;
        s->txn_open = false;
        break;
    case SMTP_CMD_QUIT:
        s->quit_sent = true;
        break;
    case SMTP_CMD_AUTH: {
        size_t m = 0;
        while (m < c->arg.len && c->arg.p[m] != ' ' &&
               m < sizeof s->auth_mech - 1) {
            s->auth_mech[m] = c->arg.p[m];
            m++;
        }
        s->auth_mech[m] = '\0';
        s->auth_step = 0;
        s->auth_code = 0;
        if (c->secret.len) /* initial response */
            learn_auth_user(s, c->secret, c->ts_first);
        break;
    }
    case SMTP_CMD_AUTH_RESPONSE:
        if (c->secret.len)
            learn_auth_user(s, c->secret, c->ts_first);
        break;
    default:
        break;
    }
    return tag;
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
    log_add(s, TL_SERVER, l->ts, latency, 0, l->flags,
            l->first ? (uint16_t)l->cmd : 0, l->line.p, l->line.len, NULL, 0);
    if (l->first)
        s->reply_cmd = l->cmd;
    findings_reply_line(s, l);
    if (s->reply_cmd == SMTP_CMD_EHLO && l->code == 250)
        learn_ehlo_line(s, l);
    /* The queue id may be on any line of the final reply (Exim answers a
     * BDAT LAST with "250- 11 byte chunk, total 63" / "250 OK id=..."). */
    struct txn *t = last_txn(s);
    if ((s->reply_cmd == SMTP_CMD_END_OF_DATA || s->reply_cmd == SMTP_CMD_BDAT) &&
        l->code >= 200 && l->code < 300 && t && t->body_seen)
        find_queue_id(s, t, l->text);
}

static struct txn *txn_by_tag(struct session *s, uint32_t tag)
{
    return tag && tag <= s->ntxn ? &s->txns[tag - 1] : NULL;
}

static void settle_txn(struct session *s, struct txn *t, enum txn_result res,
                       enum smtp_phase ph)
{
    if (!t || t->result != TXN_OPEN)
        return;
    t->result = res;
    t->failed_phase = ph;
    if (t == last_txn(s))
        s->txn_open = false;
}

static bool all_rcpts_rejected(const struct session *s, const struct txn *t)
{
    if (t->nrcpt == 0)
        return true;
    for (uint32_t i = 0; i < t->nrcpt; i++)
        if (ok2(s->rcpts[t->first_rcpt + i].code))
            return false;
    return true;
}

static void on_reply(struct smtp_parser *p, const struct smtp_reply *r)
{
    struct session *s = p->data;
    s->nreplies++;
    findings_reply(s, r);
    struct txn *t = txn_by_tag(s, r->tag);

    switch (r->cmd) {
    case SMTP_CMD_CONNECT:
        if (ok2(r->code))
            s->phase = PHASE_HELO;
        else
            record_failure(s, PHASE_GREETING, r);
        break;
    case SMTP_CMD_HELO:
    case SMTP_CMD_EHLO:
        s->helo_code = r->code;
        if (ok2(r->code)) {
            recover(s, PHASE_HELO);
            s->phase = PHASE_MAIL;
        } else if (failed(r->code)) {
            record_failure(s, PHASE_HELO, r);
        }
        break;
    case SMTP_CMD_STARTTLS:
        if (r->code == 220) {
            recover(s, PHASE_STARTTLS);
            s->phase = PHASE_HELO;
        } else if (failed(r->code)) {
            record_failure(s, PHASE_STARTTLS, r);
        }
        break;
    case SMTP_CMD_AUTH:
        if (r->code != 334)
            s->auth_code = r->code;
        if (ok2(r->code)) {
            s->auth_ok = true;
            recover(s, PHASE_AUTH);
        } else if (failed(r->code)) {
            record_failure(s, PHASE_AUTH, r);
        }
        break;
    case SMTP_CMD_MAIL:
        if (t && t->nested) {
            t->nested = false;
            uint32_t i = (uint32_t)(t - s->txns);
            if (ok2(r->code)) { /* the server started over */
                if (i > 0 && s->txns[i - 1].result == TXN_OPEN)
                    s->txns[i - 1].result = TXN_RESET;
                if (i > 0)
                    s->txns[i - 1].resumable = false;
            } else if (i + 1 == s->ntxn && t->nrcpt == 0 && i > 0) {
                s->ntxn--; /* refused: the first transaction goes on */
                s->txn_open = s->txns[i - 1].result == TXN_OPEN;
                break;
            }
        }
        if (t)
            t->mail_code = r->code;
        if (ok2(r->code)) {
            s->phase = PHASE_RCPT;
        } else if (failed(r->code)) {
            settle_txn(s, t, TXN_REJECTED, PHASE_MAIL);
            record_failure(s, PHASE_MAIL, r);
        }
        break;
    case SMTP_CMD_RCPT:
        if (r->tag && r->tag <= s->nrcpt)
            s->rcpts[r->tag - 1].code = r->code;
        if (ok2(r->code))
            s->phase = PHASE_DATA;
        else if (failed(r->code))
            record_failure(s, PHASE_RCPT, r);
        break;
    case SMTP_CMD_DATA:
        if (t)
            t->data_code = r->code;
        if (r->code == 354) {
            s->phase = PHASE_DATA;
        } else if (failed(r->code) && t) {
            settle_txn(s, t, TXN_REJECTED,
                       all_rcpts_rejected(s, t) ? PHASE_RCPT : PHASE_DATA);
            /* A refused DATA leaves the server's transaction in place:
             * more RCPTs and another DATA may still complete it. */
            t->resumable = ok2(t->mail_code);
            record_failure(s, PHASE_DATA, r);
        }
        break;
    case SMTP_CMD_END_OF_DATA:
        s->phase = PHASE_MAIL;
        if (t) {
            t->final_code = r->code;
            if (ok2(r->code)) {
                find_queue_id(s, t, r->text);
                settle_txn(s, t, TXN_ACCEPTED, PHASE_NONE);
            } else {
                settle_txn(s, t, TXN_REJECTED, PHASE_END_OF_DATA);
                record_failure(s, PHASE_END_OF_DATA, r);
            }
        }
        break;
    case SMTP_CMD_BDAT:
        if (!t)
            break;
        t->bdat_replies++;
        if (!t->data_code)
            t->data_code = r->code;
        if (t->bdat_last_sent && t->bdat_replies >= t->bdat_cmds) {
            t->final_code = r->code;
            s->phase = PHASE_MAIL;
            if (ok2(r->code)) {
                find_queue_id(s, t, r->text);
                settle_txn(s, t, TXN_ACCEPTED, PHASE_NONE);
            } else {
                settle_txn(s, t, TXN_REJECTED, PHASE_END_OF_DATA);
                record_failure(s, PHASE_END_OF_DATA, r);
            }
        } else if (failed(r->code)) {
            t->final_code = r->code; /* the transfer ends here */
            settle_txn(s, t, TXN_REJECTED, PHASE_DATA);
            record_failure(s, PHASE_DATA, r);
        }
        break;
    case SMTP_CMD_RSET:
        if (ok2(r->code))
            s->phase = PHASE_MAIL;
        break;
    case SMTP_CMD_QUIT:
        s->phase = PHASE_QUIT;
        if (ok2(r->code))
            s->quit_ok = true;
        else if (failed(r->code))
            record_failure(s, PHASE_QUIT, r);
        break;
    case SMTP_CMD_NONE:
        /* Unsolicited, e.g. "421 timeout": fails the phase we are in, unless
         * the mail was already accepted and the server only closes a
         * connection the client left idle. */
        if (failed(r->code)) {
            if (!s->txn_open && s->ntxn && last_txn(s)->result == TXN_ACCEPTED)
                session_anomaly(s, "server-closed-idle", r->ts_first,
                                "%d after the mail was accepted (client "
                                "did not QUIT)", r->code);
            else
                record_failure(s, s->phase, r);
        }
        break;
    default: /* NOOP, VRFY, EXPN, HELP, unknown: no phase of their own */
        break;
    }
}

static void save_close(struct session *s, struct txn *t, smtp_time ts);

static void on_body_end(struct smtp_parser *p, const struct smtp_body_end *b)
{
    struct session *s = p->data;
    struct txn *t = last_txn(s);
    if (t) {
        t->body_seen = true;
        t->bytes += b->bytes;
        t->lines += b->lines;
    }
    char text[96];
    int n = snprintf(text, sizeof text, "message body: %llu bytes%s%s",
                     (unsigned long long)b->bytes, b->bdat ? " (BDAT)" : "",
                     b->incomplete ? ", cut off before its end" : "");
    log_add(s, TL_BODY, b->ts_last, -1, b->bytes, 0, b->bdat, text,
            (size_t)n, NULL, 0);
    save_close(s, t, b->ts_last);
    if (!b->bdat && !b->incomplete)
        s->phase = PHASE_END_OF_DATA;
}

static void on_tls(struct smtp_parser *p, smtp_time ts)
{
    struct session *s = p->data;
    s->tls = true;
    const char *text = p->implicit_tls
                           ? "TLS from the first byte (implicit TLS): the session is encrypted"
                           : "TLS started: the rest of the session is encrypted";
    log_add(s, TL_TLS, ts, -1, 0, 0, 0, text, strlen(text), NULL, 0);
}

void session_anomaly(struct session *s, const char *name, smtp_time ts,
                     const char *detail_fmt, ...)
{
    for (uint32_t i = 0; i < s->nanomalies; i++)
        if (strcmp(s->anomalies[i].name, name) == 0) {
            s->anomalies[i].count++;
            return;
        }
    if (s->nanomalies == s->anomaly_cap) {
        uint32_t cap = s->anomaly_cap ? s->anomaly_cap * 2 : 4;
        if (cap > SESSION_MAX_ANOMALIES)
            cap = SESSION_MAX_ANOMALIES;
        struct anomaly *n = cap > s->anomaly_cap
                            ? realloc(s->anomalies, cap * sizeof *n) : NULL;
        if (!n)
            return; /* the list is full (or no memory): the rest are not kept */
        s->anomalies = n;
        s->anomaly_cap = cap;
    }
    struct anomaly *a = &s->anomalies[s->nanomalies++];
    a->name = name;
    a->count = 1;
    a->ts = ts;
    va_list ap;
    va_start(ap, detail_fmt);
    vsnprintf(a->detail, sizeof a->detail, detail_fmt, ap);
    va_end(ap);
    char text[200];
    int n = snprintf(text, sizeof text, "anomaly: %s%s%s%s", name,
                     a->detail[0] ? " (" : "", a->detail, a->detail[0] ? ")" : "");
    if (n > (int)sizeof text - 1)
        n = (int)sizeof text - 1;
    log_add(s, TL_ANOMALY, ts, -1, 0, 0, (uint16_t)(s->nanomalies - 1), text,
            (size_t)n, NULL, 0);
}

bool session_has_anomaly(const struct session *s, const char *name)
{
    for (uint32_t i = 0; i < s->nanomalies; i++)
        if (strcmp(s->anomalies[i].name, name) == 0)
            return true;
    return false;
}

void session_note(struct session *s, smtp_time ts, const char *fmt, ...)
{
    char text[200];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (n > (int)sizeof text - 1)
        n = (int)sizeof text - 1;
    log_add(s, TL_NOTE, ts, -1, 0, 0, 0, text, (size_t)n, NULL, 0);
}

static void on_anomaly(struct smtp_parser *p, enum smtp_anomaly a,
                       enum smtp_dir dir, smtp_time ts, struct smtp_span detail)
{
    session_anomaly(p->data, smtp_anomaly_name(a), ts, "%s%s%.*s",
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
    for (uint32_t i = 0; i < s->nanomalies; i++) /* it was no early talk */
        if (strcmp(s->anomalies[i].name, "early-talker") == 0)
            s->anomalies[i] = s->anomalies[--s->nanomalies];
    s->txn_open = false;
    s->helo.len = 0;
    if (p->nfirst[SMTP_FROM_CLIENT]) {
        const char *c = "not SMTP: the client's first bytes are: ";
        log_add(s, TL_NOTE, ts, -1, 0, 0, 0, c, strlen(c), p->first[SMTP_FROM_CLIENT],
                p->nfirst[SMTP_FROM_CLIENT]);
    }
    const char *what = "not SMTP: the server's first bytes are: ";
    log_add(s, TL_NOTE, ts, -1, 0, 0, 0, what, strlen(what), first.p, first.len);
}

static void on_header(struct smtp_parser *p, struct smtp_span name,
                      struct smtp_span value, smtp_time ts)
{
    struct session *s = p->data;
    struct txn *t = last_txn(s);
    if (!t)
        return;
    struct strref *slot = NULL;
    switch (name.p[0]) {
    case 'M': slot = &t->hdr_message_id; break;
    case 'S': slot = &t->hdr_subject; break;
    case 'F': slot = &t->hdr_from; break;
    case 'T': slot = &t->hdr_to; break;
    case 'D': slot = &t->hdr_date; break;
    default: return;
    }
    if (slot->len)
        return; /* the first occurrence counts */
    *slot = store_str(s, value.p, value.len);
    char head[40];
    int n = snprintf(head, sizeof head, "header %.*s: ", (int)name.len, name.p);
    log_add(s, TL_NOTE, ts, -1, 0, 0, 0, head, (size_t)n, value.p, value.len);
}

static void on_tunnel(struct smtp_parser *p, struct smtp_span what, smtp_time ts)
{
    struct session *s = p->data;
    bool status = what.len > 5 && memcmp(what.p, "HTTP/", 5) == 0;
    const char *head = status ? "HTTP proxy answered: " : "HTTP CONNECT tunnel to ";
    log_add(s, TL_NOTE, ts, -1, 0, 0, 0, head, strlen(head), what.p, what.len);
    if (!status)
        session_anomaly(s, "http-connect-tunnel", ts,
                        "the dialogue runs through an HTTP proxy (CONNECT)");
}

/* --save-messages: the content goes to DIR/<id>-<n>.eml, created anew
 * (never over an existing file), mode 0600, cut at save_max. Its state is
 * allocated with the session only when the option is on (this callback
 * runs only then). */
struct message_save {
    int fd;        /* the message being saved, -1 none, -2 failed to open */
    uint64_t bytes;
    bool cut;      /* longer than save_max: the rest not saved */
    char name[32];
};

static void on_body_data(struct smtp_parser *p, const char *data, size_t n)
{
    struct session *s = p->data;
    struct message_save *m = s->save;
    if (m->fd == -1) {
        snprintf(m->name, sizeof m->name, "%08x-%u.eml", s->id,
                 s->ntxn ? s->ntxn : 1);
        m->fd = openat(s->cfg->save_dirfd, m->name,
                       O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        m->bytes = 0;
        m->cut = false;
        if (m->fd < 0) {
            session_note(s, s->last_activity, "message not saved: %s/%s: %s",
                         s->cfg->save_dir, m->name, strerror(errno));
            m->fd = -2; /* not again for this message */
            return;
        }
    }
    if (m->fd < 0)
        return;
    uint64_t room = s->cfg->save_max - m->bytes;
    if (n > room) {
        n = (size_t)room;
        m->cut = true;
    }
    while (n) {
        ssize_t w = write(m->fd, data, n);
        if (w <= 0) {
            m->cut = true;
            return;
        }
        data += w;
        n -= (size_t)w;
        m->bytes += (uint64_t)w;
    }
}

/* The message ended (or the connection did): its file is complete. */
static void save_close(struct session *s, struct txn *t, smtp_time ts)
{
    struct message_save *m = s->save;
    if (!m)
        return;
    if (m->fd == -2)
        m->fd = -1;
    if (m->fd < 0)
        return;
    close(m->fd);
    m->fd = -1;
    char path[PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/%s", s->cfg->save_dir, m->name);
    if (n < 0 || (size_t)n >= sizeof path)
        return;
    if (t)
        t->saved_as = store_str(s, path, (size_t)n);
    session_note(s, ts, "message saved as %s (%llu bytes%s)", path,
                 (unsigned long long)m->bytes,
                 m->cut ? ", cut at the --save-max limit" : "");
}

/* The same callbacks with and without header extraction and message
 * saving: the parser looks at message content only when asked. */
#define SESSION_CALLBACKS                                                   \
    .on_command = on_command, .on_reply_line = on_reply_line,               \
    .on_reply = on_reply, .on_body_end = on_body_end, .on_tls = on_tls,     \
    .on_anomaly = on_anomaly, .on_not_smtp = on_not_smtp, .on_tunnel = on_tunnel

static const struct smtp_parser_settings parser_settings = {SESSION_CALLBACKS};
static const struct smtp_parser_settings parser_settings_headers = {
    SESSION_CALLBACKS, .on_header = on_header};
static const struct smtp_parser_settings parser_settings_save = {
    SESSION_CALLBACKS, .on_body_data = on_body_data};
static const struct smtp_parser_settings parser_settings_headers_save = {
    SESSION_CALLBACKS, .on_header = on_header, .on_body_data = on_body_data};

/* ---- lifecycle ------------------------------------------------------------ */

const char *direction_name(enum direction d)
{
    static const char *const n[] = {"unknown", "incoming", "outgoing", "internal",
                                    "transit"};
    return (unsigned)d < 5 ? n[d] : "unknown";
}

struct session *session_new(const struct session_config *cfg,
                            const struct endpoint *client,
                            const struct endpoint *server, smtp_time start,
                            enum handshake hs)
{
    struct session *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->cfg = cfg;
    s->client = *client;
    s->server = *server;
    s->start = s->end = s->last_activity = start;
    s->handshake = hs;
    s->closed_by = -1;
    s->phase = PHASE_GREETING;
    s->id = session_id_for(client, server, start);
    if (cfg->local) {
        bool c = netlist_has(cfg->local, client), v = netlist_has(cfg->local, server);
        s->direction = c && v ? DIR_INTERNAL : c ? DIR_OUTGOING
                       : v    ? DIR_INCOMING : DIR_TRANSIT;
    }
    bytebuf_init(&s->log, cfg->max_transcript);
    bytebuf_init(&s->strings, cfg->max_strings);
    bool save = cfg->save_dirfd >= 0 && cfg->save_dir;
    if (save) {
        if (!(s->save = malloc(sizeof *s->save))) {
            free(s);
            return NULL;
        }
        s->save->fd = -1;
    }
    smtp_parser_init(&s->parser,
                     cfg->extract_headers ? (save ? &parser_settings_headers_save
                                                  : &parser_settings_headers)
                                          : (save ? &parser_settings_save
                                                  : &parser_settings), s);
    return s;
}

void session_feed(struct session *s, enum smtp_dir dir, const char *data,
                  size_t len, smtp_time ts)
{
    s->last_activity = ts;
    smtp_parser_execute(&s->parser, dir, data, len, ts);
}

void session_set_midstream(struct session *s)
{
    smtp_parser_set_midstream(&s->parser);
    s->phase = PHASE_NONE;
}

void session_set_no_greeting(struct session *s)
{
    smtp_parser_no_greeting(&s->parser);
    s->phase = PHASE_HELO;
}

void session_note_fin(struct session *s, enum smtp_dir dir, smtp_time ts)
{
    s->last_activity = ts;
    if (s->closed_by < 0)
        s->closed_by = dir;
}

void session_end(struct session *s, enum tcp_end how, smtp_time ts)
{
    smtp_parser_finish(&s->parser, ts);
    s->end = ts > s->start ? ts : s->start;
    s->tcp_end = how;
    findings_audit(s);
    struct txn *t = last_txn(s);
    if (t && t->result == TXN_OPEN) {
        bool incomplete = how == TCP_END_CAPTURE_ENDED || how == TCP_END_EVICTED;
        t->result = incomplete ? TXN_INCOMPLETE : TXN_ABORTED;
        s->txn_open = false;
    }
    diagnose_session(s);
}

void session_free(struct session *s)
{
    if (!s)
        return;
    smtp_parser_free(&s->parser);
    bytebuf_free(&s->log);
    bytebuf_free(&s->strings);
    free(s->txns);
    free(s->rcpts);
    free(s->anomalies);
    free(s->failure.hint);
    free(s->mx);
    if (s->save && s->save->fd >= 0)
        close(s->save->fd);
    free(s->save);
    free(s);
}
