/* transaction.c - the transaction rules (see transaction.h). */
#include "transaction.h"

#include <stdlib.h>
#include <string.h>

#include "esmtp.h"
#include "textfind.h"

/* Hostile sessions may send millions of MAIL or RCPT commands: beyond
 * these, they are still shown and counted, but not modelled. */
#define SESSION_MAX_TXN 10000
#define SESSION_MAX_RCPT 200000

static bool ok2(int code) { return code >= 200 && code < 300; }
static bool failed(int code) { return code >= 400; }

struct txn *txn_last(struct session *s)
{
    return s->ntxn ? &s->txns[s->ntxn - 1] : NULL;
}

static struct txn *txn_by_tag(struct session *s, uint32_t tag)
{
    return tag && tag <= s->ntxn ? &s->txns[tag - 1] : NULL;
}

static struct txn *new_txn(struct session *s, smtp_time ts)
{
    if (s->ntxn >= SESSION_MAX_TXN) {
        session_find(s, FINDING_MODEL_LIMIT, ts, "more than %d transactions: "
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
        session_find(s, FINDING_MODEL_LIMIT, t->start, "more than %d recipients: "
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
    r->addr = session_keep_str(s, a.p, a.len);
    r->code = 0;
    t->nrcpt++;
    return s->nrcpt; /* tag: index + 1 */
}

static void settle(struct session *s, struct txn *t, enum txn_result res,
                   enum smtp_phase ph)
{
    if (!t || t->result != TXN_OPEN)
        return;
    t->result = res;
    t->failed_phase = ph;
    if (t == txn_last(s))
        s->txn_open = false;
}

static bool all_rcpts_rejected(const struct session *s, const struct txn *t)
{
    for (uint32_t i = 0; i < t->nrcpt; i++)
        if (ok2(s->rcpts[t->first_rcpt + i].code))
            return false;
    return true;
}

void txn_find_queue_id(struct session *s, struct txn *t, struct smtp_span text)
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
                t->queue_id = session_keep_str(s, text.p + b, e - b);
                return;
            }
        }
    }
}

/* ---- commands ---------------------------------------------------------------- */

/* A MAIL inside a transaction the server accepted is "nested": the server
 * normally refuses it (503) and the first transaction goes on; only if it
 * is accepted does it replace the first one. */
static uint32_t mail_command(struct session *s, struct txn *t,
                             const struct smtp_command *c)
{
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
        t->has_mail = true;
        t->mail_from = session_keep_str(s, a.p, a.len);
        const char *pp;
        size_t pl;
        esmtp_mail_params(c->arg.p, c->arg.len, &pp, &pl);
        if (pl)
            t->mail_params = session_keep_str(s, pp, pl);
    }
    s->txn_open = t != NULL;
    return s->ntxn;
}

uint32_t txn_command(struct session *s, const struct smtp_command *c)
{
    struct txn *t = txn_last(s);
    if (t && t->resumable && (c->cmd == SMTP_CMD_RCPT || c->cmd == SMTP_CMD_DATA ||
                              c->cmd == SMTP_CMD_BDAT)) {
        t->resumable = false; /* the refused transaction goes on */
        t->result = TXN_OPEN;
        t->failed_phase = PHASE_NONE;
        s->txn_open = true;
    }
    switch (c->cmd) {
    case SMTP_CMD_MAIL:
        return mail_command(s, t, c);
    case SMTP_CMD_RCPT: {
        struct smtp_span a = {"", 0};
        if (!smtp_parse_path(c->arg, "TO", &a))
            a = c->arg;
        if (!t || t->result != TXN_OPEN)
            t = new_txn(s, c->ts_first); /* RCPT without MAIL */
        return t ? add_rcpt(s, t, a) : 0;
    }
    case SMTP_CMD_DATA:
    case SMTP_CMD_END_OF_DATA:
        return s->ntxn;
    case SMTP_CMD_BDAT:
        /* a chunk after a refused one belongs to the refused transfer */
        if (!t || (t->result != TXN_OPEN && !(t->bdat && t->result == TXN_REJECTED &&
                                               t->failed_phase == PHASE_DATA)))
            t = new_txn(s, c->ts_first);
        if (t) {
            t->bdat = true;
            t->bdat_cmds++;
            t->bdat_last_sent |= c->bdat_last;
        }
        return s->ntxn;
    case SMTP_CMD_RSET:
        if (t && t->result == TXN_OPEN)
            t->result = TXN_RESET;
        if (t)
            t->resumable = false;
        s->txn_open = false;
        return 0;
    default:
        return 0;
    }
}

/* ---- replies ------------------------------------------------------------------ */

static void mail_reply(struct session *s, struct txn *t, const struct smtp_reply *r,
                       struct reply_effect *e)
{
    if (t && t->nested) {
        t->nested = false;
        uint32_t i = (uint32_t)(t - s->txns);
        if (e->ok) { /* the server started over */
            if (i > 0 && s->txns[i - 1].result == TXN_OPEN)
                s->txns[i - 1].result = TXN_RESET;
            if (i > 0)
                s->txns[i - 1].resumable = false;
        } else if (i + 1 == s->ntxn && t->nrcpt == 0 && i > 0) {
            s->ntxn--; /* refused: the first transaction goes on */
            s->txn_open = s->txns[i - 1].result == TXN_OPEN;
            e->fail = false;
            return;
        }
    }
    if (t)
        t->mail_code = r->code;
    if (failed(r->code))
        settle(s, t, TXN_REJECTED, PHASE_MAIL);
}

static void data_reply(struct session *s, struct txn *t, const struct smtp_reply *r,
                       struct reply_effect *e)
{
    if (!t && e->ok && (t = new_txn(s, r->ts_first))) /* DATA without MAIL */
        s->txn_open = true;
    if (!t) {
        e->fail = false;
        return;
    }
    t->data_code = r->code;
    if (!e->ok && failed(r->code)) {
        settle(s, t, TXN_REJECTED, all_rcpts_rejected(s, t) ? PHASE_RCPT : PHASE_DATA);
        /* A refused DATA leaves the server's transaction in place: more
         * RCPTs and another DATA may still complete it. */
        t->resumable = ok2(t->mail_code);
    }
}

/* The reply that ends a message: to the final dot, or to BDAT ... LAST. */
static void final_reply(struct session *s, struct txn *t, const struct smtp_reply *r,
                        struct reply_effect *e)
{
    t->final_code = r->code;
    e->next = PHASE_MAIL;
    e->ok = ok2(r->code);
    e->fail = !e->ok;
    e->fail_phase = PHASE_END_OF_DATA;
    if (e->ok) {
        txn_find_queue_id(s, t, r->text);
        settle(s, t, TXN_ACCEPTED, PHASE_NONE);
    } else {
        settle(s, t, TXN_REJECTED, PHASE_END_OF_DATA);
    }
}

static void bdat_reply(struct session *s, struct txn *t, const struct smtp_reply *r,
                       struct reply_effect *e)
{
    e->fail = false;
    if (!t)
        return;
    t->bdat_replies++;
    if (t->result == TXN_REJECTED)
        return; /* the rest of a refused transfer */
    if (!t->data_code)
        t->data_code = r->code;
    if (t->bdat_last_sent && t->bdat_replies >= t->bdat_cmds) {
        final_reply(s, t, r, e);
    } else if (failed(r->code)) {
        t->final_code = r->code; /* the transfer ends here */
        settle(s, t, TXN_REJECTED, PHASE_DATA);
        e->fail = true;
        e->fail_phase = PHASE_DATA;
    }
}

/* Unsolicited, e.g. "421 timeout": fails the phase we are in, unless the
 * mail was already accepted and the server only closes a connection the
 * client left idle. */
static void unsolicited_reply(struct session *s, const struct smtp_reply *r,
                              struct reply_effect *e)
{
    struct txn *last = txn_last(s);
    if (e->fail && !s->txn_open && last && last->result == TXN_ACCEPTED) {
        session_find(s, FINDING_SERVER_CLOSED_IDLE, r->ts_first,
                     "%d after the mail was accepted (client did not QUIT)", r->code);
        e->fail = false;
    }
}

void txn_reply(struct session *s, const struct smtp_reply *r, struct reply_effect *e)
{
    struct txn *t = txn_by_tag(s, r->tag);
    switch (r->cmd) {
    case SMTP_CMD_MAIL: mail_reply(s, t, r, e); break;
    case SMTP_CMD_RCPT:
        if (r->tag && r->tag <= s->nrcpt)
            s->rcpts[r->tag - 1].code = r->code;
        break;
    case SMTP_CMD_DATA: data_reply(s, t, r, e); break;
    case SMTP_CMD_END_OF_DATA:
        if (t)
            final_reply(s, t, r, e);
        else
            e->fail = false;
        break;
    case SMTP_CMD_BDAT: bdat_reply(s, t, r, e); break;
    case SMTP_CMD_NONE: unsolicited_reply(s, r, e); break;
    default: break;
    }
}

void txn_session_end(struct session *s, enum tcp_end how)
{
    struct txn *t = txn_last(s);
    if (t && t->result == TXN_OPEN) {
        /* with one side missing from the capture, how it ended is unknown */
        bool incomplete = how == TCP_END_CAPTURE_ENDED || how == TCP_END_EVICTED ||
                          s->client_side_only || s->server_side_only;
        t->result = incomplete ? TXN_INCOMPLETE : TXN_ABORTED;
        s->txn_open = false;
    }
}
