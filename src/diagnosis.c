/* diagnosis.c - verdict and failure phase of a finished session.
 *
 * A failing reply recorded while the dialogue ran always wins. Without one,
 * the session is OK when QUIT was answered (or asked and the connection then
 * closed cleanly), or when mail was accepted and the client simply hung up.
 * Otherwise the TCP ending is the failure, placed in the phase of the
 * command still waiting for its reply, or in the phase expected next. A
 * session cut off by the end of the capture (or table eviction) is
 * INCOMPLETE, never FAILED: the capture, not the peers, stopped it.
 */
#include "diagnosis.h"

#include "hints.h"
#include "reply_rules.h"
#include "tls_observer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *failure_class_name(enum failure_class c)
{
    switch (c) {
    case FAIL_TRANSIENT: return "transient";
    case FAIL_PERMANENT: return "permanent";
    case FAIL_CONNECTION: return "connection";
    default: return "none";
    }
}

const char *verdict_name(enum verdict v)
{
    switch (v) {
    case VERDICT_OK: return "OK";
    case VERDICT_FAILED: return "FAILED";
    case VERDICT_ENCRYPTED: return "ENCRYPTED";
    case VERDICT_NOT_SMTP: return "NOT SMTP";
    case VERDICT_PARTIAL: return "PARTIAL";
    default: return "INCOMPLETE";
    }
}

const char *verdict_key(enum verdict v)
{
    switch (v) {
    case VERDICT_OK: return "ok";
    case VERDICT_FAILED: return "failed";
    case VERDICT_ENCRYPTED: return "encrypted";
    case VERDICT_NOT_SMTP: return "not-smtp";
    case VERDICT_PARTIAL: return "partial";
    default: return "incomplete";
    }
}

static const char *tcp_cause_text(const struct session *s)
{
    if (s->tcp_detail[0])
        return s->tcp_detail;
    switch (s->tcp_end) {
    case TCP_END_RESET_BY_CLIENT: return "connection reset by client";
    case TCP_END_RESET_BY_SERVER: return "connection reset by server";
    case TCP_END_TIMEOUT: return "connection idle until timeout";
    case TCP_END_EVICTED: return "stream table full, session evicted";
    case TCP_END_CAPTURE_ENDED: return "capture ended";
    case TCP_END_NO_ANSWER: return "no answer to SYN";
    case TCP_END_REFUSED: return "connection refused (RST to SYN)";
    case TCP_END_HANDSHAKE_INCOMPLETE: return "SYN answered, handshake never completed";
    case TCP_END_PORT_REUSED: return "a new connection reused the addresses and ports";
    case TCP_END_CLOSED:
        if (s->closed_by == SMTP_FROM_SERVER)
            return "connection closed by server";
        if (s->closed_by == SMTP_FROM_CLIENT)
            return "connection closed by client";
        return "connection closed";
    default: return "connection ended";
    }
}

static bool any_accepted(const struct session *s)
{
    for (uint32_t i = 0; i < s->ntxn; i++)
        if (s->txns[i].result == TXN_ACCEPTED)
            return true;
    return false;
}

/* Recipients of accepted messages: how many there were, how many taken. */
static void accepted_recipients(const struct session *s, uint32_t *all, uint32_t *ok)
{
    *all = *ok = 0;
    for (uint32_t i = 0; i < s->ntxn; i++) {
        const struct txn *t = &s->txns[i];
        if (t->result != TXN_ACCEPTED)
            continue;
        for (uint32_t r = 0; r < t->nrcpt; r++) {
            int code = s->rcpts[t->first_rcpt + r].code;
            *all += code != 0;
            *ok += code >= 200 && code < 300;
        }
    }
}

void diagnosis_partial(const struct session *s, uint32_t *all, uint32_t *ok)
{
    accepted_recipients(s, all, ok);
}

/* Every refused transaction was followed by an accepted one from the same
 * sender: the client's retry overcame the refusal. */
static bool refusals_overcome(const struct session *s)
{
    bool any = false;
    for (uint32_t i = 0; i < s->ntxn; i++) {
        const struct txn *t = &s->txns[i];
        any |= t->result == TXN_ACCEPTED;
        if (t->result != TXN_REJECTED)
            continue;
        bool retried = false;
        for (uint32_t j = i + 1; j < s->ntxn && !retried; j++)
            retried = s->txns[j].result == TXN_ACCEPTED &&
                      s->txns[j].mail_from.len == t->mail_from.len &&
                      strcmp(session_str(s, s->txns[j].mail_from),
                             session_str(s, t->mail_from)) == 0;
        if (!retried)
            return false;
    }
    return any;
}

static bool envelope_phase(enum smtp_phase ph)
{
    return ph == PHASE_MAIL || ph == PHASE_RCPT || ph == PHASE_DATA ||
           ph == PHASE_END_OF_DATA;
}

/* OK, or PARTIAL where an accepted message lost some of its recipients. */
static void delivered(struct session *s)
{
    uint32_t all, ok;
    accepted_recipients(s, &all, &ok);
    s->verdict = ok < all ? VERDICT_PARTIAL : VERDICT_OK;
}

/* A message that reached its content and ended as `res`. */
static bool message_ended(const struct session *s, enum txn_result res)
{
    for (uint32_t i = 0; i < s->ntxn; i++) {
        const struct txn *t = &s->txns[i];
        if (t->result == res && (t->body_seen || t->data_code == 354 || t->bdat))
            return true;
    }
    return false;
}

static bool all_accepted(const struct session *s)
{
    for (uint32_t i = 0; i < s->ntxn; i++)
        if (s->txns[i].result != TXN_ACCEPTED)
            return false;
    return s->ntxn > 0;
}

/* A connection that never completed its handshake fails at CONNECT. */
static void diagnose_unconnected(struct session *s)
{
    s->end_phase = PHASE_CONNECT;
    if (s->tcp_end == TCP_END_CAPTURE_ENDED) {
        s->verdict = VERDICT_INCOMPLETE;
        return;
    }
    if (s->tcp_end == TCP_END_EVICTED) { /* a full table, not the network */
        s->verdict = VERDICT_INCOMPLETE;
        s->incomplete_why = "evicted: the connection table was full, tracking stopped "
                            "before an answer was seen (raise --max-streams)";
        return;
    }
    if (session_found(s, FINDING_KERNEL_DROPS)) {
        /* the answer, or the client's ACK, may be among the drops */
        s->verdict = VERDICT_INCOMPLETE;
        s->incomplete_why = "kernel-drops: the capture dropped packets while "
                            "it was open; the handshake may have gone on unseen";
        return;
    }
    struct failure *f = &s->failure;
    f->phase = PHASE_CONNECT;
    f->cls = FAIL_CONNECTION;
    f->ts = s->end;
    snprintf(f->text, sizeof f->text, "%s (%u SYN%s)", tcp_cause_text(s),
             s->syn_count, s->syn_count == 1 ? "" : "s");
    s->verdict = VERDICT_FAILED;
}

static void diagnose(struct session *s);

/* A refusal after the capture showed the client listed (dns_wait.c). */
static const char *dnsbl_cause(const struct session *s)
{
    return s->failure.code >= 400 && session_found(s, FINDING_DNSBL_REJECTION)
               ? "the client's address is on a DNS block list (DNSBL): see the listing "
                 "beside the refusal"
               : NULL;
}


/* A TLS handshake read in clear that failed, was abandoned or was answered
 * in plaintext decides the session: FAILED at STARTTLS (the handshake is
 * the first phase on an implicit-TLS port too). One the capture cut off
 * is INCOMPLETE. */
static bool tls_decides(struct session *s)
{
    const char *hint;
    char text[sizeof s->failure.text];
    const struct tls_info *in = s->tls_hs;
    if (!in)
        return false;
    if (in->result == TLS_RESULT_INCOMPLETE) {
        s->end_phase = PHASE_STARTTLS;
        s->verdict = VERDICT_INCOMPLETE;
        s->incomplete_why = s->client_side_only
                                ? "server side not in the capture: how the TLS "
                                  "handshake ended is unknown"
                            : s->server_side_only
                                ? "client side not in the capture: how the TLS "
                                  "handshake ended is unknown"
                            : in->gap[TLS_CLIENT] || in->gap[TLS_SERVER]
                                ? session_found(s, FINDING_SNAPLEN_CUT)
                                      ? "snaplen-cut: the snap length cut the TLS "
                                        "handshake short; how it ended is unknown"
                                      : "a gap in the capture inside the TLS handshake; "
                                        "how it ended is unknown"
                                : "the capture ended during the TLS handshake";
        return true;
    }
    if (!tls_handshake_failure(in, text, sizeof text, &hint))
        return false;
    (void)hint; /* diagnose_session composes it */
    s->end_phase = PHASE_STARTTLS;
    struct failure *f = &s->failure;
    free(f->hint);
    memset(f, 0, sizeof *f);
    f->phase = PHASE_STARTTLS;
    f->cls = FAIL_CONNECTION;
    f->ts = in->ended ? in->end_ts : s->end;
    snprintf(f->text, sizeof f->text, "%s", text);
    s->verdict = VERDICT_FAILED;
    return true;
}

static void diagnose_session(void *ctx, struct session *s, void *state)
{
    (void)ctx;
    (void)state;
    diagnose(s);
    if (s->verdict != VERDICT_FAILED && s->verdict != VERDICT_PARTIAL)
        s->failure.phase = PHASE_NONE; /* a refusal the dialogue overcame */
    if (s->verdict == VERDICT_FAILED || s->verdict == VERDICT_PARTIAL) {
        struct failure *f = &s->failure;
        char hint[512], cause[sizeof f->text];
        const char *tls_hint = NULL;
        if (f->phase == PHASE_STARTTLS && f->code == 0 &&
            tls_handshake_failure(s->tls_hs, cause, sizeof cause, &tls_hint))
            snprintf(hint, sizeof hint, "%s", tls_hint);
        else
            hint_compose_cause(hint, sizeof hint, phase_name(f->phase), f->code, f->enhanced,
                               f->text, dnsbl_cause(s));
        free(f->hint);
        f->hint = hint[0] ? strdup(hint) : NULL; /* NULL: simply no hint */
    }
}

/* The session carried no plain SMTP to judge: not SMTP, cut too short to
 * tell, or TLS (the handshake decides, or it ran from the first byte). */
static bool diagnose_not_plain(struct session *s)
{
    if (smtp_parser_info(&s->parser).not_smtp && session_found(s, FINDING_SNAPLEN_CUT)) {
        /* NULs where the snap length cut the payload: no verdict possible */
        s->end_phase = PHASE_GREETING;
        s->verdict = VERDICT_INCOMPLETE;
        s->incomplete_why = "payload not captured (snap length too small)";
        return true;
    }
    if (smtp_parser_info(&s->parser).not_smtp) {
        s->end_phase = PHASE_GREETING;
        s->verdict = VERDICT_NOT_SMTP;
        return true;
    }
    if (tls_decides(s))
        return true;
    if (smtp_parser_info(&s->parser).implicit_tls) {
        s->end_phase = PHASE_GREETING;
        s->verdict = VERDICT_ENCRYPTED;
        return true;
    }
    return false;
}

/* Only one direction was captured: no verdict the other side's silence
 * would decide. */
static bool diagnose_one_side(struct session *s)
{
    if (s->server_side_only) {
        s->verdict = VERDICT_INCOMPLETE;
        s->incomplete_why = "client side not in the capture";
        return true;
    }
    if (s->client_side_only || (smtp_parser_info(&s->parser).wire_bytes[SMTP_FROM_SERVER] == 0 &&
                                smtp_parser_info(&s->parser).wire_bytes[SMTP_FROM_CLIENT] > 0 &&
                                s->handshake == HS_MISSING)) {
        /* Only the client's packets were captured: no verdict is possible;
         * the client got as far as its last command. */
        s->end_phase = reply_phase_of(s->last_cmd, s->end_phase);
        s->verdict = VERDICT_INCOMPLETE;
        s->incomplete_why = "server side not in the capture";
        return true;
    }
    return false;
}

/* What the capture lacks that could explain how the session ended:
 * INCOMPLETE (ENCRYPTED after STARTTLS), never stated as a failure. */
static bool diagnose_capture_limits(struct session *s)
{
    static const struct {
        enum finding_id id;
        const char *why;
    } losses[] = {
        {FINDING_CAPTURE_GAP, "a gap in the capture: the dialogue after it is unknown"},
        {FINDING_SNAPLEN_CUT, "snaplen-cut: packets cut short by the snap length "
                              "hid what decides the outcome"},
        {FINDING_KERNEL_DROPS, "kernel-drops: the capture dropped packets; what "
                               "decides the outcome may be among them"},
    };
    for (size_t i = 0; i < sizeof losses / sizeof losses[0]; i++)
        if (session_found(s, losses[i].id)) {
            s->verdict = VERDICT_INCOMPLETE;
            s->incomplete_why = losses[i].why;
            return true;
        }
    /* After STARTTLS the dialogue cannot be read: whether mail flowed is
     * unknown, so say so rather than guess from how TCP ended (a close, a
     * reset or the end of the capture alike, as on port 465). */
    if (s->tls) {
        s->end_phase = PHASE_STARTTLS;
        s->verdict = VERDICT_ENCRYPTED;
        return true;
    }
    if (s->tcp_end == TCP_END_CAPTURE_ENDED || s->tcp_end == TCP_END_EVICTED) {
        s->verdict = VERDICT_INCOMPLETE;
        return true;
    }
    if (s->end_phase == PHASE_NONE && s->handshake == HS_MISSING) {
        /* Picked up mid-stream with nothing placed: the dialogue was under
         * way (past CONNECT and the greeting) before the capture began, and
         * where it stood when the connection ended is not in the capture. */
        s->end_phase = PHASE_HELO;
        s->verdict = VERDICT_INCOMPLETE;
        s->incomplete_why = "picked up mid-stream: no command in the capture "
                            "tells where the dialogue stood when it ended";
        return true;
    }
    return false;
}

/* The connection ended while `waiting` for a reply (or with nothing said):
 * a connection-level failure in the phase it stood in. */
static void connection_failure(struct session *s, enum smtp_cmd waiting)
{
    struct failure *f = &s->failure;
    f->phase = s->end_phase == PHASE_NONE ? PHASE_CONNECT : s->end_phase;
    f->cls = FAIL_CONNECTION;
    f->code = 0;
    f->enhanced[0] = '\0';
    f->ts = s->end;
    if (waiting != SMTP_CMD_NONE && smtp_parser_info(&s->parser).in_reply)
        snprintf(f->text, sizeof f->text, "%s; the %s was never completed",
                 tcp_cause_text(s),
                 waiting == SMTP_CMD_CONNECT ? "greeting (banner)" : "reply");
    else if (waiting != SMTP_CMD_NONE)
        snprintf(f->text, sizeof f->text, "%s, no reply to %s",
                 tcp_cause_text(s),
                 waiting == SMTP_CMD_CONNECT ? "the connection (no greeting)"
                                             : smtp_cmd_name(waiting));
    else
        snprintf(f->text, sizeof f->text, "%s", tcp_cause_text(s));
    s->verdict = VERDICT_FAILED;
}

/* The verdict, in order: what the dialogue shows first, then what the
 * capture could not show, then how the connection ended. */
static void diagnose(struct session *s)
{
    if (s->handshake == HS_NONE) {
        diagnose_unconnected(s);
        return;
    }
    if (diagnose_not_plain(s))
        return;
    enum smtp_cmd waiting = s->tls ? SMTP_CMD_NONE
                                   : smtp_parser_awaiting(&s->parser);
    /* once TLS started, the dialogue got at least that far */
    s->end_phase = s->tls ? PHASE_STARTTLS : reply_phase_of(waiting, s->phase);

    /* A refused HELO/EHLO, STARTTLS or AUTH that the client got past (mail
     * accepted in clear, unauthenticated, after HELO) is not the outcome:
     * the findings keep the record of it. */
    enum smtp_phase fp = s->failure.phase;
    if ((fp == PHASE_HELO || fp == PHASE_STARTTLS || fp == PHASE_AUTH) &&
        all_accepted(s))
        s->failure.phase = PHASE_NONE;
    /* A refused RCPT in a message that was delivered all the same, or a
     * refusal a retry overcame: the session delivered (maybe partly). The
     * failure record stays for the PARTIAL line; the findings keep it. */
    bool overcome = envelope_phase(s->failure.phase) && refusals_overcome(s);
    if (s->failure.phase != PHASE_NONE && !overcome) {
        s->verdict = VERDICT_FAILED;
        return;
    }
    if (diagnose_one_side(s))
        return;
    bool clean_tcp = s->tcp_end == TCP_END_CLOSED;
    if (s->quit_ok || (waiting == SMTP_CMD_QUIT && clean_tcp)) {
        delivered(s);
        return;
    }
    if (message_ended(s, TXN_INCOMPLETE)) {
        s->verdict = VERDICT_INCOMPLETE;
        s->incomplete_why = "a message was cut off by the end of the capture";
        return;
    }
    if (waiting == SMTP_CMD_NONE && !s->txn_open && any_accepted(s) &&
        !message_ended(s, TXN_ABORTED)) {
        delivered(s); /* then hung up, or the capture ended */
        return;
    }
    if (!diagnose_capture_limits(s))
        connection_failure(s, waiting);
}

const struct observer diagnosis_observer = {
    .name = "diagnosis",
    .end = diagnose_session,
};
