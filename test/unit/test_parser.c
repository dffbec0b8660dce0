/* test_parser.c - the SMTP parser's events on whole conversations, under
 * every split of the input (see parser_harness.h). */
#include "parser_harness.h"

/* ---- scenarios ---------------------------------------------------------- */

static void test_full_session(void)
{
    static const struct turn conv[] = {
        {S, "220-mx.example.net ESMTP\r\n220 second line\r\n", 0},
        {C, "EHLO client.example.com\r\n", 0},
        {S, "250-mx.example.net\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 8BITMIME\r\n", 0},
        {C, "MAIL FROM:<sender@example.com> SIZE=120\r\n", 0},
        {S, "250 2.1.0 Ok\r\n", 0},
        {C, "RCPT TO:<alice@example.net>\r\n", 0},
        {S, "250 2.1.5 Ok\r\n", 0},
        {C, "RCPT TO:<nobody@example.net>\r\n", 0},
        {S, "550 5.1.1 <nobody@example.net>: Recipient address rejected: User unknown\r\n", 0},
        {C, "DATA\r\n", 0},
        {S, "354 End data with <CR><LF>.<CR><LF>\r\n", 0},
        /* 15 + 2 + 7 + 9 (".." unstuffed to ".") + 2 = 35 body bytes */
        {C, "Subject: test\r\n\r\nhello\r\n..hidden\r\n\r\n.\r\n", 0},
        {S, "250 2.0.0 Ok: queued as 4ABCD1234\r\n", 0},
        {C, "RSET\r\nNOOP\r\nVRFY alice\r\nHELP\r\nXYZZY plugh\r\n", 0},
        {S, "250 2.0.0 Ok\r\n250 2.0.0 Ok\r\n252 2.0.0 alice\r\n214 2.0.0 Ok\r\n502 5.5.2 Error: command not recognized\r\n", 0},
        {C, "QUIT\r\n", 0},
        {S, "221 2.0.0 Bye\r\n", 0},
        END};
    char *log = check_splits("full session", conv);
    CHECK(has(log, "R 220 cmd=(connect) tag=0 lines=2"), "greeting of two lines answers the connect");
    CHECK(has(log, "R 250 cmd=EHLO tag=1 lines=4"), "EHLO reply of four lines matched to EHLO");
    CHECK(has(log, "R 550 cmd=RCPT tag=4") && has(log, "enh=\"5.1.1\""),
          "550 5.1.1 matched to the second RCPT with its enhanced code");
    CHECK(has(log, "B bytes=35 lines=5"), "body counted dot-unstuffed: 35 bytes, 5 lines");
    CHECK(has(log, "R 250 cmd=(end-of-data)") && has(log, "text=\"Ok: queued as 4ABCD1234\""),
          "end-of-data reply carries the queue id text");
    CHECK(has(log, "R 252 cmd=VRFY") && has(log, "R 214 cmd=HELP") &&
          has(log, "R 502 cmd=(unknown)"), "pipelined RSET/NOOP/VRFY/HELP/unknown matched in order");
    CHECK(has(log, "R 221 cmd=QUIT") && has(log, "END awaiting=(none)"),
          "QUIT answered, nothing left pending");
    CHECK(!has(log, "\nA "), "no anomaly on a clean session");
    free(log);
}

static void test_pipelining_data_rejected(void)
{
    static const struct turn conv[] = {
        {S, "220 mx ESMTP\r\n", 0},
        {C, "EHLO c\r\n", 0},
        {S, "250-mx\r\n250 PIPELINING\r\n", 0},
        {C, "MAIL FROM:<a@example.com>\r\nRCPT TO:<x@example.net>\r\nXXXX\r\nDATA\r\n", 0},
        {S, "250 2.1.0 Ok\r\n550 5.1.1 unknown\r\n502 5.5.2 what\r\n554 5.5.1 Error: no valid recipients\r\n", 0},
        {C, "RSET\r\nQUIT\r\n", 0},
        {S, "250 2.0.0 Ok\r\n221 2.0.0 Bye\r\n", 0},
        END};
    char *log = check_splits("pipelined batch, DATA rejected", conv);
    CHECK(has(log, "R 550 cmd=RCPT") && has(log, "R 502 cmd=(unknown)") &&
          has(log, "R 554 cmd=DATA"), "each batched reply matched to its own command, XXXX included");
    CHECK(has(log, "C RSET") && has(log, "C QUIT") && has(log, "R 221 cmd=QUIT"),
          "after a rejected DATA the client's lines are commands again");
    CHECK(!has(log, "\nB "), "no message body after a rejected DATA");
    /* latency: the 550 is measured from the RCPT line, which carried ts 4000 */
    CHECK(has(log, "R 550 cmd=RCPT tag=3 lines=1 ts=5000-5000 cts=4000"),
          "a batched reply keeps its own command's timestamp");
    free(log);
}

static void test_data_pipelined_with_body(void)
{
    /* A client that sends the body before the 354 arrives (not allowed, but
     * seen): it is held and read as body once the 354 comes. */
    static const struct turn conv[] = {
        {S, "220 mx\r\n", 0},
        {C, "HELO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nbody line\r\n.\r\nQUIT\r\n", 0},
        {S, "250 mx\r\n250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n221 bye\r\n", 0},
        END};
    char *log = check_splits("body sent before the 354", conv);
    CHECK(has(log, "B bytes=11 lines=1"), "held body read as body after the 354");
    CHECK(has(log, "R 250 cmd=(end-of-data)") && has(log, "R 221 cmd=QUIT"),
          "end-of-data and QUIT matched");
    free(log);
}

static void test_bdat(void)
{
    static const struct turn conv[] = {
        {S, "220 mx\r\n", 0},
        {C, "EHLO c\r\n", 0},
        {S, "250-mx\r\n250 CHUNKING\r\n", 0},
        {C, "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n", 0},
        {S, "250 ok\r\n250 ok\r\n", 0},
        /* chunk content that looks like commands must stay content */
        {C, "BDAT 12\r\nQUIT\r\nRSET\r\nBDAT 5 LAST\r\n\x00\x01\r\n.\r", 34},
        {S, "250 12 octets\r\n250 2.0.0 queued\r\n", 0},
        {C, "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nBDAT 0 LAST\r\n", 0},
        {S, "250 ok\r\n250 ok\r\n250 empty\r\n", 0},
        {C, "BDAT twelve\r\nNOOP\r\n", 0},
        {S, "501 bad\r\n250 ok\r\n", 0},
        END};
    char *log = check_splits("BDAT chunks", conv);
    CHECK(count(log, "C BDAT") == 4, "four BDAT commands, none taken from chunk content");
    CHECK(!has(log, "C QUIT") && !has(log, "C RSET"), "chunk content never parsed as commands");
    CHECK(has(log, "B bytes=17 lines=0") && has(log, "bdat=1"), "chunked message of 12+5 octets");
    CHECK(has(log, "B bytes=0 lines=0"), "BDAT 0 LAST ends an empty message");
    CHECK(has(log, "A bdat-malformed") && has(log, "C NOOP") && has(log, "R 250 cmd=NOOP"),
          "malformed BDAT flagged and parsing recovers at the next command");
    free(log);
}

static void test_body_cut_off(void)
{
    /* A reset in the middle of a message: the bytes that did pass are
     * reported, marked as cut off, timed at the last body byte. */
    static const struct turn data[] = {
        {S, "220 mx\r\n", 0},
        {C, "HELO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n", 0},
        {S, "250 mx\r\n250 ok\r\n250 ok\r\n354 go\r\n", 0},
        {C, "Subject: x\r\n\r\nfirst half of the bo", 0},
        END};
    char *log = check_splits("DATA body cut off", data);
    CHECK(has(log, "B bytes=34 lines=2 ts=4000-4000 bdat=0 cut-off"),
          "a body cut off by the end reports its 34 bytes, marked cut off");
    CHECK(!has(log, "(end-of-data)"), "no end-of-data made up for a cut body");
    free(log);

    static const struct turn chunk[] = {
        {S, "220 mx\r\n", 0},
        {C, "EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nBDAT 10\r\n0123456789", 0},
        {S, "250 mx\r\n250 ok\r\n250 ok\r\n250 10 octets\r\n", 0},
        {C, "BDAT 100 LAST\r\nabc", 0},
        END};
    log = check_splits("BDAT chunk cut off", chunk);
    CHECK(has(log, "B bytes=13 lines=0 ts=2000-4000 bdat=1 cut-off"),
          "a BDAT message cut off in its last chunk reports 10+3 bytes");
    free(log);

    static const struct turn none[] = {
        {S, "220 mx\r\n", 0},
        {C, "HELO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n", 0},
        {S, "250 mx\r\n250 ok\r\n250 ok\r\n354 go\r\n", 0},
        END};
    log = check_splits("DATA with no body byte", none);
    CHECK(!has(log, "B bytes"), "no body event when no body byte was sent");
    free(log);
}

static void test_starttls(void)
{
    static const struct turn conv[] = {
        {S, "220 mx\r\n", 0},
        {C, "EHLO c\r\nSTARTTLS\r\n", 0},
        {S, "250-mx\r\n250 STARTTLS\r\n454 4.7.0 TLS not available\r\n", 0},
        {C, "STARTTLS\r\n\x16\x03\x01\x02\x00\x01", 16},
        {S, "220 2.0.0 Ready to start TLS\r\n", 0},
        {S, "\x16\x03\x03\x00\x10QUIT\r\n250 fake\r\n", 21},
        {C, "\x17\x03\x03\x00\x20MAIL FROM:<x@y>\r\n", 22},
        END};
    char *log = check_splits("STARTTLS refused then accepted", conv);
    CHECK(has(log, "R 454 cmd=STARTTLS"), "refused STARTTLS (454) continues in clear");
    CHECK(count(log, "C STARTTLS") == 2 && count(log, "T ts=") == 1,
          "TLS starts once, at the 220");
    CHECK(!has(log, "C MAIL") && !has(log, "R 250 cmd=(none)"),
          "bytes after the TLS start are not parsed as SMTP");
    free(log);
}

static void test_auth(void)
{
    static const struct turn conv[] = {
        {S, "220 mx\r\n", 0},
        {C, "EHLO c\r\n", 0},
        {S, "250-mx\r\n250 AUTH PLAIN LOGIN\r\n", 0},
        {C, "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n", 0},
        {S, "535 5.7.8 Error: authentication failed\r\n", 0},
        {C, "AUTH LOGIN\r\n", 0},
        {S, "334 VXNlcm5hbWU6\r\n", 0},
        {C, "YWxpY2U=\r\n", 0},
        {S, "334 UGFzc3dvcmQ6\r\n", 0},
        {C, "c2VjcmV0\r\nMAIL FROM:<a@b>\r\n", 0},
        {S, "235 2.7.0 Authentication successful\r\n250 ok\r\n", 0},
        END};
    char *log = check_splits("AUTH PLAIN and LOGIN", conv);
    CHECK(has(log, "secret=\"AGFsaWNlAHNlY3JldA==\""), "PLAIN initial response marked secret");
    CHECK(count(log, "C (auth-response) flags=4") == 2, "both LOGIN responses marked secret");
    CHECK(has(log, "R 235 cmd=AUTH") && has(log, "R 250 cmd=MAIL"),
          "AUTH result and the pipelined MAIL matched after the 334 loop");
    free(log);
}

static void test_hostile_lines(void)
{
    static char longline[5000 + 32];
    memset(longline, 'A', 5000);
    memcpy(longline, "NOOP ", 5);
    memcpy(longline + 5000, "\r\nNOOP\nQUIT\r\n", 13);
    static const struct turn conv[] = {
        {C, "EHLO early\r\n", 0},
        {S, "220 mx\r\n", 0},
        {S, "250 hi\r\n", 0},
        {C, longline, 5013},
        {S, "250 ok\r\n250-ok\r\n251 changed\r\n", 0},
        {C, "VRFY a\x00" "b\r\n", 10},
        {S, "hello there\r\n999 weird\r\n221 bye\r\n", 0},
        {S, "250 nobody asked\r\n", 0},
        {C, "DATA", 0},
        END};
    char *log = check_splits("hostile lines", conv);
    CHECK(has(log, "A early-talker"), "client speaking before the greeting is flagged");
    CHECK(has(log, "C NOOP flags=1 len=2048 wire=5002"), "5000-byte line cut at 2048, flagged, wire length kept");
    CHECK(has(log, "A line-too-long") && has(log, "C NOOP flags=2"), "bare LF line still a command, flagged");
    CHECK(has(log, "A bare-lf"), "bare LF reported");
    CHECK(has(log, "A reply-code-changed"), "code change inside a multi-line reply flagged");
    CHECK(has(log, "A nul-byte"), "NUL inside a command flagged");
    CHECK(has(log, "A malformed-reply") && has(log, "A reply-code-out-of-range"), "malformed reply and code 999 flagged");
    CHECK(has(log, "A unsolicited-reply"), "reply with nothing pending flagged");
    CHECK(has(log, "flags=8 len=4 wire=4") && has(log, "END awaiting=DATA"),
          "unterminated last line delivered at finish, flagged");
    free(log);
}

static void test_midstream(void)
{
    /* Picked up inside a body, then a reply to its end, then commands. */
    static const struct turn conv[] = {
        {C, "ody line two\r\nSubject: not a command\r\n.\r\n", 0},
        {S, "50 tail of a reply\r\n250 2.0.0 Ok: queued as 9F\r\n", 0},
        {C, "MAIL FROM:<a@example.com>\r\n", 0},
        {S, "250 2.1.0 Ok\r\n", 0},
        {C, "QUIT\r\n", 0},
        {S, "221 Bye\r\n", 0},
        END};
    midstream = true;
    char *log = check_splits("mid-stream pickup", conv);
    midstream = false;
    CHECK(count(log, "A midstream-skipped dir=0") == 3 &&
              count(log, "A midstream-skipped dir=1") == 1,
          "each skipped line reported: 3 from the client, 1 from the server");
    CHECK(!has(log, "C (unknown)") && !has(log, "A early-talker"),
          "body lines before the first verb are not taken for commands");
    CHECK(has(log, "R 250 cmd=(end-of-data)") && !has(log, "A unsolicited-reply") &&
              !has(log, "\nB "),
          "the reply after the lone dot answers the end of data; no body made up");
    CHECK(has(log, "R 250 cmd=MAIL") && has(log, "R 221 cmd=QUIT"),
          "replies matched once commands are seen");
    free(log);
}

static void test_not_smtp(void)
{
    static const struct turn http[] = {
        {C, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 0},
        {S, "HTTP/1.1 400 Bad Request\r\n\r\n", 0},
        {C, "QUIT\r\n", 0},
        END};
    char *log = check_splits("HTTP on the SMTP port", http);
    CHECK(has(log, "N dir=1 ts=2000 first=\"HTTP/1.1 400 Bad Request\""),
          "server's first line is no reply: not SMTP, first bytes kept");
    CHECK(!has(log, "C QUIT") && !has(log, "\nL "), "nothing parsed after the decision");
    free(log);

    static const struct turn tls[] = {
        {C, "\x16\x03\x01\x00\x10\nEHLO x\r\n", 0},
        {S, "\x16\x03\x03\x00\x20\n220 fake\r\n", 0},
        END};
    log = check_splits("implicit TLS", tls);
    CHECK(count(log, "T ts=1000") == 1 && !has(log, "C EHLO") && !has(log, "L 220"),
          "a TLS record as the client's first byte: encrypted, nothing parsed");
    free(log);
}

static void test_headers(void)
{
    static const struct turn conv[] = {
        {S, "220 mx\r\n", 0},
        {C, "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n", 0},
        {S, "250 ok\r\n250 ok\r\n354 go\r\n", 0},
        {C, "Received: from x\r\nX-Spam: no\r\nSubject: a folded\r\n\tsubject line\r\n"
            "message-id: <1@example.com>\r\nFrom: <a@b>\r\n"
            "\r\nTo: not a header, in the body\r\n..Date: body too\r\n.\r\n", 0},
        {S, "250 queued\r\n", 0},
        {C, "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nBDAT 24 LAST\r\nTo: <c@d>\r\n\r\nbody\r\n", 0},
        {S, "250 ok\r\n250 ok\r\n250 queued\r\n", 0},
        END};
    headers_on = true;
    char *log = check_splits("header extraction", conv);
    headers_on = false;
    CHECK(has(log, "H Subject ts=4000 \"a folded\\tsubject line\""), "folded Subject unfolded");
    CHECK(has(log, "H Message-ID ts=4000 \"<1@example.com>\""), "header names matched case-insensitively");
    CHECK(count(log, "H To") == 1 && count(log, "H Date") == 0,
          "lines after the empty line are body, not headers");
    CHECK(has(log, "H To ts=6000 \"<c@d>\""), "headers of a BDAT message too");
    CHECK(has(log, "H Received ts=4000 \"from x\"") && !has(log, "H X-Spam"),
          "only the fields asked for are extracted (Received is, X-Spam not)");
    free(log);
}

static void test_tunnel(void)
{
    static const struct turn conv[] = {
        {C, "CONNECT mx.example.net:25 HTTP/1.0\r\nUser-Agent: x\r\n\r\n", 0},
        {S, "HTTP/1.0 200 Connection established\r\n\r\n", 0},
        {S, "220 mx ESMTP\r\n", 0},
        {C, "HELO c\r\n", 0},
        {S, "250 ok\r\n", 0},
        END};
    tunnel_on = true;
    char *log = check_splits("HTTP CONNECT tunnel", conv);
    tunnel_on = false;
    CHECK(has(log, "P ts=1000 \"mx.example.net:25 HTTP/1.0\"") &&
              has(log, "P ts=2000 \"HTTP/1.0 200 Connection established\""),
          "tunnel target and the proxy's answer reported");
    CHECK(has(log, "R 220 cmd=(connect)") && has(log, "R 250 cmd=HELO") &&
              !has(log, "\nA "), "SMTP inside the tunnel parsed, no anomaly");
    free(log);
}

static void test_parse_path(void)
{
    struct smtp_span a;
    const char *s1 = "FROM:<alice@example.com> SIZE=10";
    CHECK(smtp_parse_path((struct smtp_span){s1, strlen(s1)}, "FROM", &a) &&
              a.len == 17 && memcmp(a.p, "alice@example.com", 17) == 0,
          "path inside <> after FROM:");
    const char *s2 = "to: <>";
    CHECK(smtp_parse_path((struct smtp_span){s2, strlen(s2)}, "TO", &a) && a.len == 0,
          "null path, lower case keyword and a space");
    const char *s3 = "FROMX:<a@b>";
    CHECK(!smtp_parse_path((struct smtp_span){s3, strlen(s3)}, "FROM", &a),
          "keyword must be followed by a colon");
}

/* Long bodies of random lines (lengths 0 to 300, dots anywhere, lines that
 * begin with one or two dots, line ends at every offset of the 64-byte
 * blocks the bulk scan reads): bytes and lines as a plain byte-by-byte
 * model of RFC 5321 4.5.2 counts them, whole and in random pieces. */
static void test_random_bodies(void)
{
    static char body[200000];
    static const char alphabet[] = "abc .\r\t=xyz0123456789";
    uint64_t rng = 42;
    int bad = 0, cases = 0;
    for (int round = 0; round < 60; round++) {
        size_t n = 0;
        uint64_t want_bytes = 0, want_lines = 0;
        while (n < sizeof body - 400) {
            rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
            size_t len = (size_t)(rng >> 33) % (round < 30 ? 90 : 300);
            bool dotted = ((rng >> 20) & 7) == 0;
            size_t start = n;
            if (dotted) /* stuffed: one dot on the wire is dropped */
                body[n++] = '.';
            for (size_t k = 0; k < len; k++) {
                rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
                char c = alphabet[(rng >> 40) % (sizeof alphabet - 1)];
                if (c == '\r' || (c == '.' && n == start && !dotted))
                    c = 'r'; /* no CR inside a line; a leading dot is stuffed */
                body[n++] = c;
            }
            if (dotted && n - start == 1)
                body[n++] = 'x'; /* not the lone dot that ends the body */
            body[n++] = '\r';
            body[n++] = '\n';
            want_bytes += n - start - (dotted ? 1 : 0);
            want_lines++;
            if (((rng >> 50) & 63) == 0)
                break;
        }
        memcpy(body + n, ".\r\n", 3);
        n += 3;
        struct turn conv[] = {
            {S, "220 mx\r\n", 0}, {C, "MAIL FROM:<a@b>\r\n", 0}, {S, "250 ok\r\n", 0},
            {C, "RCPT TO:<c@d>\r\n", 0}, {S, "250 ok\r\n", 0}, {C, "DATA\r\n", 0},
            {S, "354 go\r\n", 0}, {C, body, n}, {S, "250 queued\r\n", 0}, END};
        char want[128];
        snprintf(want, sizeof want, "B bytes=%llu lines=%llu ",
                 (unsigned long long)want_bytes, (unsigned long long)want_lines);
        struct evlog got = {0};
        for (uint64_t seed = 0; seed < 4; seed++, cases++) {
            struct splitter s = {.kind = seed ? SPLIT_RANDOM : SPLIT_WHOLE, .rng = seed + round};
            run(conv, &s, &got);
            if (!has(got.p, want) || !has(got.p, "R 250 cmd=(end-of-data)")) {
                if (!bad++)
                    printf("#   round %d seed %llu: want \"%s\"\n%s", round,
                           (unsigned long long)seed, want, got.p);
            }
        }
        free(got.p);
    }
    CHECK(bad == 0, "random bodies: bytes and lines as the byte-by-byte model counts (%d of %d wrong)",
          bad, cases);
}

int main(void)
{
    test_full_session();
    test_pipelining_data_rejected();
    test_data_pipelined_with_body();
    test_bdat();
    test_body_cut_off();
    test_starttls();
    test_auth();
    test_hostile_lines();
    test_midstream();
    test_not_smtp();
    test_headers();
    test_tunnel();
    test_parse_path();
    test_random_bodies();
    return tap_done();
}
