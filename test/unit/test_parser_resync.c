/* test_parser_resync.c - the dialogue model on messy captures: greetings
 * without an end or not captured, replies whose code changes, replies and
 * commands lost, a capture that begins inside a body, and reply latency
 * measured from the line a reply answers. Every scenario is fed under every
 * split (parser_harness.h). */
#include "parser_harness.h"

static void test_greeting_unterminated(void)
{
    /* the greeting's CRLF never came before the client spoke */
    static const struct turn conv[] = {
        {S, "220 mx.example.net ESMTP", 0},
        {C, "EHLO c\r\n", 0},
        {S, "250-mx\r\n250 PIPELINING\r\n", 0},
        {C, "QUIT\r\n", 0},
        {S, "221 bye\r\n", 0},
        END};
    char *log = check_splits("greeting without CRLF", conv);
    CHECK(has(log, "L 220  first=1 last=1 cmd=(connect) ts=1000 cts=0 flags=8 \"220 mx.example.net ESMTP\"") &&
              has(log, "R 220 cmd=(connect)"),
          "the unterminated greeting is the connect reply, flagged unterminated");
    CHECK(has(log, "R 250 cmd=EHLO tag=1 lines=2") && has(log, "R 221 cmd=QUIT"),
          "the reply that follows answers EHLO, whole, and QUIT stays paired");
    CHECK(has(log, "A early-talker"), "the client spoke before the greeting ended");
    free(log);

    /* the greeting goes on after the client spoke: still one line */
    static const struct turn on[] = {
        {S, "220 mx", 0}, {C, "EHLO c\r\n", 0}, {S, " ESMTP\r\n250 ok\r\n", 0}, END};
    log = check_splits("greeting finished after the client spoke", on);
    CHECK(has(log, "\"220 mx ESMTP\"") && has(log, "R 250 cmd=EHLO"),
          "a greeting finished late is not cut where the client spoke");
    free(log);

    /* longer than the line bound, no CRLF, then the client */
    static char big[SMTP_LINE_MAX + 600];
    memset(big, 'x', sizeof big);
    memcpy(big, "220 ", 4);
    static const struct turn longg[] = {
        {S, big, sizeof big}, {C, "HELO c\r\n", 0}, {S, "250 hello\r\n", 0}, END};
    log = check_splits("greeting over the line bound without CRLF", longg);
    CHECK(has(log, "R 220 cmd=(connect)") && has(log, "R 250 cmd=HELO"),
          "an over-long unterminated greeting ends when the client speaks");
    free(log);
}

static void test_no_greeting(void)
{
    static const struct turn conv[] = {
        {C, "EHLO c\r\n", 0},
        {S, "250-mx.example.net\r\n250-PIPELINING\r\n250 8BITMIME\r\n", 0},
        {C, "MAIL FROM:<a@b>\r\n", 0},
        {S, "250 ok\r\n", 0},
        END};
    char *log = check_splits("no greeting captured", conv);
    CHECK(has(log, "R 250 cmd=EHLO tag=1 lines=3") && has(log, "R 250 cmd=MAIL"),
          "the first server line answers EHLO, not the connection");
    CHECK(!has(log, "cmd=(connect)"), "no 250 is taken for a greeting");
    CHECK(count(log, "A pairing-resync") == 1 && has(log, "no reply seen to (connect)"),
          "the missing greeting is said once");
    free(log);
}

static void test_ehlo_keywords(void)
{
    /* RSET's 250 lost: a multi-line 250 whose lines are EHLO keywords can
     * only answer the EHLO behind it */
    static const struct turn conv[] = {
        {S, "220 mx ESMTP\r\n", 0},
        {C, "RSET\r\nEHLO c\r\n", 0},
        {S, "250-mx.example.net\r\n250-PIPELINING\r\n250 SIZE 100\r\n", 0},
        {C, "QUIT\r\n", 0},
        {S, "221 bye\r\n", 0},
        END};
    char *log = check_splits("a lost RSET reply before an EHLO reply", conv);
    CHECK(has(log, "R 250 cmd=EHLO") && !has(log, "R 250 cmd=RSET"),
          "the keyword reply answers EHLO, not the RSET before it");
    CHECK(has(log, "L 250- first=0 last=0 cmd=EHLO") && has(log, "answers EHLO (its keywords)"),
          "its lines from the first keyword on are EHLO's, and the resync says why");
    CHECK(has(log, "R 221 cmd=QUIT"), "QUIT stays paired");
    free(log);

    /* a 250 with a line that is no keyword stays with the command in front */
    static const struct turn plain[] = {
        {S, "220 mx ESMTP\r\n", 0},
        {C, "NOOP\r\nEHLO c\r\n", 0},
        {S, "250-ok\r\n250 fine\r\n250-mx\r\n250 8BITMIME\r\n", 0},
        END};
    log = check_splits("a multi-line 250 that lists no keyword", plain);
    CHECK(has(log, "R 250 cmd=NOOP") && has(log, "R 250 cmd=EHLO") && !has(log, "A pairing-resync"),
          "no keyword, no evidence: the queue order stands");
    free(log);
}

static void test_code_change(void)
{
    /* a pregreet trap: "220-" never finished, the client talks, the EHLO
     * reply comes */
    static const struct turn conv[] = {
        {S, "220-mx.example.net ESMTP\r\n", 0},
        {C, "EHLO c\r\n", 0},
        {S, "250-mx.example.net\r\n250 PIPELINING\r\n", 0},
        {C, "QUIT\r\n", 0},
        {S, "221 bye\r\n", 0},
        END};
    char *log = check_splits("220- never finished", conv);
    CHECK(has(log, "R 220 cmd=(connect) tag=0 lines=1"), "the greeting is one line");
    CHECK(has(log, "L 250- first=1 last=0 cmd=EHLO") && has(log, "R 250 cmd=EHLO tag=1 lines=2"),
          "a new reply begins where the code changes, answering EHLO");
    CHECK(has(log, "A early-talker") && has(log, "A reply-code-changed"),
          "the client that spoke before the greeting ended is an early talker");
    CHECK(has(log, "R 221 cmd=QUIT"), "later pairs unshifted");
    free(log);
}

static void test_lost_replies(void)
{
    /* the RCPT replies were lost: 354 names DATA */
    static const struct turn conv[] = {
        {S, "220 mx\r\n", 0},
        {C, "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nRCPT TO:<e@f>\r\nDATA\r\n", 0},
        {S, "250 ok\r\n354 go\r\n", 0},
        {C, "body\r\n.\r\n", 0},
        {S, "250 queued\r\n", 0},
        {C, "QUIT\r\n", 0},
        {S, "221 bye\r\n", 0},
        END};
    char *log = check_splits("RCPT replies lost", conv);
    CHECK(has(log, "R 354 cmd=DATA") && has(log, "B bytes=6 lines=1") &&
              has(log, "R 250 cmd=(end-of-data)") && has(log, "R 221 cmd=QUIT"),
          "354 answers DATA across the lost replies; later pairs unshifted");
    CHECK(count(log, "A pairing-resync") == 1 &&
              has(log, "354 answers DATA: no reply seen to RCPT, RCPT"),
          "the realignment is said once, with what was skipped");
    free(log);

    /* a 334 while MAIL is in front (its reply lost) */
    static const struct turn auth[] = {
        {S, "220 mx\r\n", 0},
        {C, "MAIL FROM:<a@b>\r\nAUTH LOGIN\r\n", 0},
        {S, "334 VXNlcm5hbWU6\r\n", 0},
        {C, "YWxpY2U=\r\n", 0},
        {S, "334 UGFzc3dvcmQ6\r\n", 0},
        {C, "c2VjcmV0\r\n", 0},
        {S, "235 ok\r\n", 0},
        {C, "NOOP\r\n", 0},
        {S, "250 ok\r\n", 0},
        END};
    log = check_splits("334 while MAIL is in front", auth);
    CHECK(has(log, "R 334 cmd=AUTH") && has(log, "R 235 cmd=AUTH") && has(log, "R 250 cmd=NOOP"),
          "334 realigns to AUTH; NOOP keeps its reply");
    free(log);

    /* a reply to a command the capture never showed (the DATA line lost),
     * then a command whose reply was lost */
    static const struct turn unseen[] = {
        {S, "220 mx\r\n", 0},
        {C, "MAIL FROM:<a@b>\r\n", 0},
        {S, "250 ok\r\n", 0},
        {C, "RCPT TO:<c@d>\r\n", 0},
        {S, "354 go\r\n250 rcpt ok\r\n", 0},
        {C, "RSET\r\nNOOP\r\nQUIT\r\n", 0},
        {S, "250 noop ok\r\n221 bye\r\n", 0},
        END};
    log = check_splits("reply to an unseen command, command with a lost reply", unseen);
    CHECK(has(log, "R 354 cmd=(none)") && has(log, "R 250 cmd=RCPT"),
          "a 354 with no DATA pending answers nothing and shifts nothing");
    CHECK(has(log, "R 221 cmd=QUIT"), "221 answers QUIT though RSET's reply was lost");
    CHECK(count(log, "A pairing-resync") == 1, "said once per session");
    free(log);
}

static void test_lost_354(void)
{
    static const struct turn conv[] = {
        {S, "220 mx\r\n", 0},
        {C, "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n", 0},
        {S, "250 ok\r\n250 ok\r\n", 0},
        {C, "DATA\r\n", 0},
        {C, "MAIL FROM:<quoted@x>\r\nhello\r\n.\r\n", 0},
        {S, "250 queued\r\n", 0},
        {C, "QUIT\r\n", 0},
        {S, "221 bye\r\n", 0},
        END};
    char *log = check_splits("DATA's 354 lost", conv);
    CHECK(has(log, "B bytes=29 lines=2") && has(log, "R 250 cmd=(end-of-data)"),
          "a 250 to DATA: the held bytes were the body, the 250 answers its end");
    CHECK(!has(log, "C MAIL flags=0 len=20"), "the body's lines are not commands");
    CHECK(has(log, "R 221 cmd=QUIT"), "QUIT still paired");
    free(log);
}

static void test_midstream_bounce(void)
{
    /* picked up inside a bounce that quotes a whole dialogue */
    static const struct turn conv[] = {
        {C, "quoted transcript follows:\r\nMAIL FROM:<x@y>\r\nRCPT TO:<z@w>\r\n"
            "250 ok\r\nDATA\r\nQUIT\r\n", 0},
        {C, ".\r\nQUIT\r\n", 0},
        {S, "250 2.0.0 Ok: queued as 9F\r\n221 bye\r\n", 0},
        END};
    midstream = true;
    char *log = check_splits("mid-stream inside a bounce", conv);
    midstream = false;
    CHECK(!has(log, "C MAIL") && !has(log, "C RCPT") && !has(log, "C DATA") &&
              count(log, "C QUIT") == 1,
          "body lines are not commands while no reply answers them");
    CHECK(has(log, "R 250 cmd=(end-of-data)") && has(log, "R 221 cmd=QUIT"),
          "the reply after the lone dot answers it; QUIT after it is a command");
    CHECK(count(log, "A midstream-skipped dir=0") == 7, "the 7 body lines skipped");
    free(log);

    /* mid-stream in the command phase: lines placed by the first reply */
    static const struct turn cmds[] = {
        {C, "tail\r\nRCPT TO:<a@b>\r\n", 0}, {S, "250 ok\r\n", 0}, END};
    midstream = true;
    log = check_splits("mid-stream in the command phase", cmds);
    midstream = false;
    CHECK(has(log, "R 250 cmd=RCPT") && count(log, "A midstream-skipped") == 1,
          "without a lone dot the lines are commands from the first verb on");
    free(log);
}

static void test_latency(void)
{
    static const struct turn auth[] = {
        {S, "220 mx\r\n", 0},
        {C, "AUTH LOGIN\r\n", 0},
        {S, "334 VXNlcm5hbWU6\r\n", 0},
        {C, "YWxpY2U=\r\n", 0},
        {S, "334 UGFzc3dvcmQ6\r\n", 0},
        {C, "c2VjcmV0\r\n", 0},
        {S, "235 ok\r\n", 0},
        END};
    char *log = check_splits("AUTH latency", auth);
    CHECK(has(log, "R 334 cmd=AUTH tag=1 lines=1 ts=3000-3000 cts=2000") &&
              has(log, "R 334 cmd=AUTH tag=1 lines=1 ts=5000-5000 cts=4000") &&
              has(log, "L 235  first=1 last=1 cmd=AUTH ts=7000 cts=6000") &&
              has(log, "R 235 cmd=AUTH tag=1 lines=1 ts=7000-7000 cts=6000"),
          "each AUTH reply is timed from the response it answers");
    free(log);

    static const struct turn bdat[] = {
        {S, "220 mx\r\n", 0},
        {C, "BDAT 10 LAST\r\n01234", 0},
        {C, "56789", 0},
        {S, "250 ok\r\n", 0},
        END};
    log = check_splits("BDAT latency", bdat);
    CHECK(has(log, "R 250 cmd=BDAT tag=1 lines=1 ts=4000-4000 cts=3000"),
          "a BDAT reply is timed from the chunk's last byte");
    free(log);
}

int main(void)
{
    test_greeting_unterminated();
    test_no_greeting();
    test_ehlo_keywords();
    test_code_change();
    test_lost_replies();
    test_lost_354();
    test_midstream_bounce();
    test_latency();
    return tap_done();
}
