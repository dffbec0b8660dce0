/* test_transaction.c - the transaction and reply rules, through the session
 * model: dialogues as byte strings, alternating client and server turns,
 * then the transactions, the failure and the verdict they leave. */
#include <string.h>

#include "diagnosis.h"
#include "findings.h"
#include "session.h"
#include "tap.h"

static struct session_config cfg;
static struct observer_set observers;

/* turns[]: client and server lines, "C:" or "S:" first; NULL ends. */
static struct session *run_as(const char *const *turns, enum tcp_end how,
                              bool midstream)
{
    struct endpoint c = {.family = 4, .addr = {192, 0, 2, 10}, .port = 40000};
    struct endpoint v = {.family = 4, .addr = {192, 0, 2, 25}, .port = 25};
    smtp_time t = 1700000000LL * SMTP_NS_PER_SEC;
    struct session *s = session_new(&cfg, &c, &v, t,
                                    midstream ? HS_MISSING : HS_COMPLETE);
    if (midstream)
        session_set_midstream(s);
    for (; *turns; turns++) {
        t += SMTP_NS_PER_SEC / 100;
        enum smtp_dir dir = (*turns)[0] == 'C' ? SMTP_FROM_CLIENT : SMTP_FROM_SERVER;
        session_feed(s, dir, *turns + 2, strlen(*turns + 2), t);
    }
    session_end(s, how, t + SMTP_NS_PER_SEC);
    return s;
}

static struct session *run(const char *const *turns, enum tcp_end how)
{
    return run_as(turns, how, false);
}

static const char *const nested_refused[] = {
    "S:220 mx ESMTP\r\n", "C:EHLO c\r\n", "S:250 mx\r\n",
    "C:MAIL FROM:<a@x>\r\n", "S:250 ok\r\n", "C:RCPT TO:<b@y>\r\n", "S:250 ok\r\n",
    "C:MAIL FROM:<c@x>\r\n", "S:503 5.5.1 nested MAIL command\r\n",
    "C:DATA\r\n", "S:354 go\r\n", "C:hi\r\n.\r\n", "S:250 2.0.0 queued as 4AB\r\n",
    "C:QUIT\r\n", "S:221 bye\r\n", NULL};

static const char *const data_after_refused_data[] = {
    "S:220 mx\r\n", "C:HELO c\r\n", "S:250 mx\r\n",
    "C:MAIL FROM:<a@x>\r\n", "S:250 ok\r\n", "C:RCPT TO:<b@y>\r\n", "S:550 no\r\n",
    "C:DATA\r\n", "S:554 no valid recipients\r\n",
    "C:RCPT TO:<c@y>\r\n", "S:250 ok\r\n", "C:DATA\r\n", "S:354 go\r\n",
    "C:hi\r\n.\r\n", "S:250 ok id=1x\r\n", "C:QUIT\r\n", "S:221 bye\r\n", NULL};

static const char *const ehlo_refused_helo_ok[] = {
    "S:220 mx\r\n", "C:EHLO c\r\n", "S:502 no EHLO\r\n", "C:HELO c\r\n", "S:250 mx\r\n",
    "C:QUIT\r\n", "S:221 bye\r\n", NULL};

static const char *const bdat_chunks[] = {
    "S:220 mx\r\n", "C:EHLO c\r\n", "S:250 mx\r\n", "C:MAIL FROM:<a@x>\r\n",
    "S:250 ok\r\n", "C:RCPT TO:<b@y>\r\n", "S:250 ok\r\n", "C:BDAT 3\r\nabc",
    "S:250 3 octets\r\n", "C:BDAT 2 LAST\r\nde", "S:250 ok queued as Q9\r\n",
    "C:QUIT\r\n", "S:221 bye\r\n", NULL};

static const char *const rset_then_cut[] = {
    "S:220 mx\r\n", "C:EHLO c\r\n", "S:250 mx\r\n", "C:MAIL FROM:<a@x>\r\n",
    "S:250 ok\r\n", "C:RSET\r\n", "S:250 ok\r\n", "C:MAIL FROM:<b@x>\r\n",
    "S:250 ok\r\n", "C:RCPT TO:<c@y>\r\n", NULL};

static const char *const unsolicited_after_delivery[] = {
    "S:220 mx\r\n", "C:HELO c\r\n", "S:250 mx\r\n", "C:MAIL FROM:<a@x>\r\n",
    "S:250 ok\r\n", "C:RCPT TO:<b@y>\r\n", "S:250 ok\r\n", "C:DATA\r\n",
    "S:354 go\r\n", "C:hi\r\n.\r\n", "S:250 ok\r\n", "S:421 timeout\r\n", NULL};

static const char *const second_message_cut[] = {
    "S:220 mx\r\n", "C:HELO c\r\n", "S:250 mx\r\n", "C:MAIL FROM:<a@x>\r\n",
    "S:250 ok\r\n", "C:RCPT TO:<b@y>\r\n", "S:250 ok\r\n", "C:DATA\r\n",
    "S:354 go\r\n", "C:hi\r\n.\r\n", "S:250 ok\r\n", "C:MAIL FROM:<a@x>\r\n",
    "S:250 ok\r\n", "C:RCPT TO:<c@y>\r\n", "S:250 ok\r\n", "C:DATA\r\n",
    "S:354 go\r\n", "C:half a message\r\n", NULL};

static const char *const data_without_mail[] = {
    "S:220 mx\r\n", "C:HELO c\r\n", "S:250 mx\r\n", "C:DATA\r\n", "S:354 go\r\n",
    "C:12345678\r\n.\r\n", "S:250 ok\r\n", "C:QUIT\r\n", "S:221 bye\r\n", NULL};

static const char *const rcpt_without_mail[] = {
    "S:220 mx\r\n", "C:HELO c\r\n", "S:250 mx\r\n", "C:RCPT TO:<b@y>\r\n",
    "S:503 need MAIL\r\n", "C:QUIT\r\n", "S:221 bye\r\n", NULL};

static const char *const null_sender[] = {
    "S:220 mx\r\n", "C:HELO c\r\n", "S:250 mx\r\n", "C:MAIL FROM:<>\r\n",
    "S:250 ok\r\n", "C:QUIT\r\n", "S:221 bye\r\n", NULL};

static const char *const bdat_after_refused_bdat[] = {
    "S:220 mx\r\n", "C:EHLO c\r\n", "S:250 mx\r\n", "C:MAIL FROM:<a@x>\r\n",
    "S:250 ok\r\n", "C:RCPT TO:<b@y>\r\n", "S:250 ok\r\n", "C:BDAT 3\r\nabc",
    "S:552 too big\r\n", "C:BDAT 2 LAST\r\nde", "S:503 no transaction\r\n",
    "C:QUIT\r\n", "S:221 bye\r\n", NULL};

static const char *const ehlo_refused_after_helo[] = {
    "S:220 mx\r\n", "C:HELO first.example\r\n", "S:250 mx\r\n",
    "C:EHLO second.example\r\n", "S:500 no\r\n", "C:QUIT\r\n", "S:221 bye\r\n", NULL};

static const char *const some_rcpts_refused[] = {
    "S:220 mx\r\n", "C:HELO c\r\n", "S:250 mx\r\n", "C:MAIL FROM:<a@x>\r\n",
    "S:250 ok\r\n", "C:RCPT TO:<b@y>\r\n", "S:250 ok\r\n", "C:RCPT TO:<n@y>\r\n",
    "S:550 5.1.1 no such user\r\n", "C:DATA\r\n", "S:354 go\r\n", "C:hi\r\n.\r\n",
    "S:250 ok\r\n", "C:QUIT\r\n", "S:221 bye\r\n", NULL};

static const char *const retry_overcame[] = {
    "S:220 mx\r\n", "C:HELO c\r\n", "S:250 mx\r\n", "C:MAIL FROM:<a@x>\r\n",
    "S:451 4.3.0 try again\r\n", "C:MAIL FROM:<a@x>\r\n", "S:250 ok\r\n",
    "C:RCPT TO:<b@y>\r\n", "S:250 ok\r\n", "C:DATA\r\n", "S:354 go\r\n",
    "C:hi\r\n.\r\n", "S:250 ok\r\n", "C:QUIT\r\n", "S:221 bye\r\n", NULL};

static const char *const midstream_reset[] = {"S:250 2.0.0 Ok\r\n", NULL};
static const char *const midstream_mail_reset[] = {
    "S:250 2.0.0 Ok\r\n", "C:MAIL FROM:<a@x>\r\n", NULL};

static void verdicts(void)
{
    struct session *m = run_as(midstream_reset, TCP_END_RESET_BY_SERVER, true);
    CHECK(m->end_phase != PHASE_NONE && m->end_phase != PHASE_CONNECT &&
              !(m->verdict == VERDICT_FAILED && m->failure.phase == PHASE_CONNECT),
          "picked up mid-stream and reset: never blamed on CONNECT (verdict %d, "
          "failure %s, end %s)", m->verdict, phase_name(m->failure.phase),
          phase_name(m->end_phase));
    session_free(m);
    m = run_as(midstream_mail_reset, TCP_END_RESET_BY_SERVER, true);
    CHECK(m->verdict == VERDICT_FAILED && m->failure.phase == PHASE_MAIL,
          "mid-stream, MAIL answered by a reset: FAILED at MAIL (%s)",
          phase_name(m->failure.phase));
    session_free(m);

    struct session *s = run(some_rcpts_refused, TCP_END_CLOSED);
    CHECK(s->verdict == VERDICT_PARTIAL && s->failure.phase == PHASE_RCPT &&
              s->failure.code == 550,
          "delivered to one recipient of two: PARTIAL, the RCPT refusal kept (verdict %d)",
          s->verdict);
    session_free(s);
    s = run(retry_overcame, TCP_END_CLOSED);
    CHECK(s->verdict == VERDICT_OK && s->failure.phase == PHASE_NONE && s->ntxn == 2,
          "a refused MAIL that a retry overcame: OK (verdict %d)", s->verdict);
    session_free(s);
}

static void envelope_facts(void)
{
    struct session *s = run(second_message_cut, TCP_END_CAPTURE_ENDED);
    CHECK(s->verdict == VERDICT_INCOMPLETE && s->end_phase == PHASE_DATA,
          "a second message cut off by the capture's end: INCOMPLETE in DATA, not OK "
          "(verdict %d, phase %s)", s->verdict, phase_name(s->end_phase));
    session_free(s);
    s = run(data_without_mail, TCP_END_CLOSED);
    CHECK(s->ntxn == 1 && s->txns[0].result == TXN_ACCEPTED && s->txns[0].bytes == 10 &&
              !s->txns[0].has_mail,
          "DATA accepted without MAIL is a transaction with its size (%u txns)", s->ntxn);
    session_free(s);
    s = run(rcpt_without_mail, TCP_END_CLOSED);
    CHECK(s->ntxn == 1 && !s->txns[0].has_mail, "RCPT without MAIL: no sender seen");
    session_free(s);
    s = run(null_sender, TCP_END_CLOSED);
    CHECK(s->ntxn == 1 && s->txns[0].has_mail && s->txns[0].mail_from.len == 0,
          "MAIL FROM:<> is a real null sender");
    session_free(s);
    s = run(bdat_after_refused_bdat, TCP_END_CLOSED);
    CHECK(s->ntxn == 1 && s->txns[0].result == TXN_REJECTED,
          "a BDAT after a refused one invents no transaction (%u txns)", s->ntxn);
    session_free(s);
    s = run(ehlo_refused_after_helo, TCP_END_CLOSED);
    CHECK(strcmp(session_str(s, s->helo), "first.example") == 0,
          "a refused EHLO keeps the accepted HELO name (%s)", session_str(s, s->helo));
    session_free(s);
}

int main(void)
{
    session_config_defaults(&cfg);
    observer_add(&observers, &findings_observer);
    observer_add(&observers, &diagnosis_observer);
    cfg.observers = &observers;

    struct session *s = run(nested_refused, TCP_END_CLOSED);
    CHECK(s->ntxn == 1 && s->txns[0].result == TXN_ACCEPTED,
          "a refused nested MAIL leaves the first transaction, which is delivered (%u txns)",
          s->ntxn);
    CHECK(s->failure.phase == PHASE_NONE && s->verdict == VERDICT_OK,
          "the refused nested MAIL is no failure (verdict %d)", s->verdict);
    CHECK(strcmp(session_str(s, s->txns[0].queue_id), "4AB") == 0, "queue id from the reply");
    session_free(s);

    s = run(data_after_refused_data, TCP_END_CLOSED);
    CHECK(s->ntxn == 1 && s->txns[0].result == TXN_ACCEPTED && s->txns[0].nrcpt == 2,
          "DATA after a refused DATA resumes the transaction (result %d, %u rcpts)",
          s->ntxn ? (int)s->txns[0].result : -1, s->ntxn ? s->txns[0].nrcpt : 0);
    CHECK(s->rcpts[0].code == 550 && s->rcpts[1].code == 250, "each RCPT keeps its code");
    session_free(s);

    s = run(ehlo_refused_helo_ok, TCP_END_CLOSED);
    CHECK(s->failure.phase == PHASE_NONE && s->verdict == VERDICT_OK && s->helo_code == 250,
          "a HELO after a refused EHLO recovers the HELO phase");
    CHECK(session_found(s, FINDING_EHLO_REJECTED_HELO_FALLBACK), "and it is a finding");
    session_free(s);

    s = run(bdat_chunks, TCP_END_CLOSED);
    CHECK(s->ntxn == 1 && s->txns[0].bdat && s->txns[0].result == TXN_ACCEPTED &&
              s->txns[0].final_code == 250 && s->txns[0].bdat_replies == 2,
          "BDAT chunks: the reply to LAST settles the transaction");
    session_free(s);

    s = run(rset_then_cut, TCP_END_CAPTURE_ENDED);
    CHECK(s->ntxn == 2 && s->txns[0].result == TXN_RESET &&
              s->txns[1].result == TXN_INCOMPLETE,
          "RSET resets; the capture's end leaves the next one incomplete");
    CHECK(s->verdict == VERDICT_INCOMPLETE && s->end_phase == PHASE_RCPT,
          "the session is INCOMPLETE in RCPT (verdict %d, phase %s)", s->verdict,
          phase_name(s->end_phase));
    session_free(s);

    s = run(unsolicited_after_delivery, TCP_END_CLOSED);
    CHECK(s->verdict == VERDICT_OK && session_found(s, FINDING_SERVER_CLOSED_IDLE),
          "a 421 after the mail was accepted: OK, server-closed-idle");
    session_free(s);
    envelope_facts();
    verdicts();
    return tap_done();
}
