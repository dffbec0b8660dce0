/* test_parser_auth.c - no credential leaves the parser without
 * SMTP_LINE_SECRET covering it, however the AUTH dialogue is mangled: 334s
 * lost, merged or late, responses pipelined, the final reply missing, AUTH
 * at the end of the capture, mid-stream pickup. The harness (parser_harness.h)
 * checks every delivered client line of every split against the password's
 * forms, raw and base64. */
#include "parser_harness.h"

#define PLAIN "AGFsaWNlAHMzY3IzdC1wdw==" /* \0alice\0s3cr3t-pw */
#define USER64 "YWxpY2U="                /* alice */
#define PASS64 "czNjcjN0LXB3"            /* s3cr3t-pw */
#define CRAM "YWxpY2UgNGM3NWNmZGUzNjQ1MzEzZTg1NTJlNDBkMDk1MDI0NzY="
#define DIGEST "4c75cfde3645313e8552e40d09502476"
#define EHLO_REPLY "250-mx\r\n250 AUTH PLAIN LOGIN CRAM-MD5\r\n"

static const char *const secrets[] = {
    "s3cr3t-pw", PLAIN, PASS64, CRAM, DIGEST, NULL,
};

/* Runs a mangled dialogue under every split; no leak in any run. Returns
 * the whole-turn log for further checks (caller frees). */
static char *no_leak(const char *name, const struct turn *conv, bool mid)
{
    forbidden = secrets;
    leaks = 0;
    midstream = mid;
    char *log = check_splits(name, conv);
    midstream = false;
    forbidden = NULL;
    CHECK(leaks == 0, "%s: no password form outside a secret span (%u leaks)", name, leaks);
    return log;
}

static void test_plain(void)
{
    static const struct turn normal[] = {
        {S, "220 mx\r\n", 0}, {C, "EHLO c\r\n", 0}, {S, EHLO_REPLY, 0},
        {C, "AUTH PLAIN " PLAIN "\r\n", 0}, {S, "235 ok\r\n", 0},
        {C, "QUIT\r\n", 0}, {S, "221 bye\r\n", 0}, END};
    free(no_leak("PLAIN with initial response", normal, false));

    static const struct turn lost334[] = {
        {S, "220 mx\r\n", 0}, {C, "EHLO c\r\n", 0}, {S, EHLO_REPLY, 0},
        {C, "AUTH PLAIN\r\n", 0}, {C, PLAIN "\r\n", 0}, {S, "235 ok\r\n", 0},
        {C, "MAIL FROM:<a@b>\r\n", 0}, {S, "250 ok\r\n", 0}, END};
    char *log = no_leak("PLAIN, 334 lost", lost334, false);
    CHECK(has(log, "C (auth-response) flags=4") && has(log, "R 235 cmd=AUTH") &&
              has(log, "R 250 cmd=MAIL"),
          "PLAIN, 334 lost: the response is secret and the pairs stay right");
    free(log);

    static const struct turn pipelined[] = {
        {S, "220 mx\r\n", 0},
        {C, "EHLO c\r\nAUTH PLAIN " PLAIN "\r\nMAIL FROM:<a@b>\r\n", 0},
        {S, EHLO_REPLY "235 ok\r\n250 ok\r\n", 0}, END};
    log = no_leak("pipelined EHLO, AUTH PLAIN, MAIL", pipelined, false);
    CHECK(has(log, "R 235 cmd=AUTH") && has(log, "R 250 cmd=MAIL"),
          "pipelined AUTH: replies paired in order");
    free(log);
}

static void test_login(void)
{
    static const struct turn lost[] = {
        {S, "220 mx\r\n", 0}, {C, "AUTH LOGIN\r\n", 0},
        {C, USER64 "\r\n", 0}, {C, PASS64 "\r\n", 0},
        {S, "235 ok\r\n", 0}, {C, "NOOP\r\n", 0}, {S, "250 ok\r\n", 0}, END};
    char *log = no_leak("LOGIN, both 334 lost", lost, false);
    CHECK(count(log, "C (auth-response) flags=4") == 2 && has(log, "R 250 cmd=NOOP"),
          "LOGIN, 334s lost: both responses secret, NOOP paired");
    free(log);

    static const struct turn merged[] = {
        {S, "220 mx\r\n", 0}, {C, "AUTH LOGIN\r\n", 0},
        {S, "334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n", 0},
        {C, USER64 "\r\n" PASS64 "\r\nQUIT\r\n", 0},
        {S, "235 ok\r\n221 bye\r\n", 0}, END};
    log = no_leak("LOGIN, 334s and responses merged", merged, false);
    CHECK(has(log, "R 221 cmd=QUIT"), "merged: QUIT paired");
    free(log);

    static const struct turn early[] = {
        {S, "220 mx\r\n", 0}, {C, "AUTH LOGIN\r\n" USER64 "\r\n", 0},
        {S, "334 VXNlcm5hbWU6\r\n", 0}, {C, PASS64 "\r\n", 0},
        {S, "334 UGFzc3dvcmQ6\r\n", 0}, {S, "535 no\r\n", 0}, END};
    free(no_leak("LOGIN, continuation before its 334", early, false));

    static const struct turn at_end[] = {
        {S, "220 mx\r\n", 0}, {C, "AUTH LOGIN\r\n", 0},
        {S, "334 VXNlcm5hbWU6\r\n", 0}, {C, USER64 "\r\n", 0},
        {S, "334 UGFzc3dvcmQ6\r\n", 0}, {C, PASS64, 0}, END};
    free(no_leak("LOGIN at the capture's end, unterminated", at_end, false));

    static const struct turn no_result[] = {
        {S, "220 mx\r\n", 0}, {C, "AUTH LOGIN\r\n", 0},
        {S, "334 VXNlcm5hbWU6\r\n", 0}, {C, USER64 "\r\n", 0},
        {C, PASS64 "\r\n", 0}, {C, "MAIL FROM:<a@b>\r\n", 0},
        {S, "250 ok\r\n", 0}, END};
    log = no_leak("LOGIN, final reply lost", no_result, false);
    CHECK(has(log, "C MAIL") && has(log, "R 250 cmd=MAIL"),
          "a clear command ends the exchange; its reply is paired");
    free(log);

    static const struct turn raw[] = {
        {S, "220 mx\r\n", 0}, {C, "AUTH LOGIN\r\n", 0},
        {S, "334 VXNlcm5hbWU6\r\n", 0}, {C, "alice s3cr3t-pw\r\n", 0},
        {S, "535 bad\r\n", 0}, END};
    free(no_leak("LOGIN answered in clear text", raw, false));

    static const struct turn auth_lost[] = { /* the AUTH line itself lost */
        {S, "220 mx\r\n", 0}, {C, "EHLO c\r\n", 0}, {S, EHLO_REPLY, 0},
        {S, "334 UGFzc3dvcmQ6\r\n", 0}, {C, PASS64 "\r\n", 0},
        {S, "235 ok\r\n", 0}, END};
    free(no_leak("334 with no AUTH captured", auth_lost, false));
}

static void test_cram_md5(void)
{
    static const struct turn normal[] = {
        {S, "220 mx\r\n", 0}, {C, "AUTH CRAM-MD5\r\n", 0},
        {S, "334 PDE4OTYuNjk3MTcwOTUyQG14LmV4YW1wbGUubmV0Pg==\r\n", 0},
        {C, CRAM "\r\n", 0}, {S, "235 ok\r\n", 0}, END};
    free(no_leak("CRAM-MD5", normal, false));

    static const struct turn lost[] = {
        {S, "220 mx\r\n", 0}, {C, "AUTH CRAM-MD5\r\n", 0},
        {C, CRAM "\r\n", 0}, {C, "QUIT\r\n", 0}, {S, "221 bye\r\n", 0}, END};
    char *log = no_leak("CRAM-MD5, challenge and result lost", lost, false);
    CHECK(has(log, "R 221 cmd=QUIT"), "QUIT answered after a lost AUTH result");
    free(log);
}

static void test_midstream_auth(void)
{
    static const struct turn inside[] = {
        {C, USER64 "\r\n", 0}, {S, "334 UGFzc3dvcmQ6\r\n", 0},
        {C, PASS64 "\r\n", 0}, {S, "235 ok\r\n", 0},
        {C, "MAIL FROM:<a@b>\r\n", 0}, {S, "250 ok\r\n", 0}, END};
    char *log = no_leak("mid-stream inside AUTH", inside, true);
    CHECK(has(log, "R 250 cmd=MAIL"), "mid-stream AUTH: MAIL paired after");
    free(log);

    static const struct turn client_only[] = {
        {C, "AUTH LOGIN\r\n" USER64 "\r\n" PASS64 "\r\n", 0},
        {C, "AUTH PLAIN " PLAIN "\r\n", 0}, END};
    free(no_leak("mid-stream, client side only", client_only, true));

    static const struct turn body_then_auth[] = {
        {C, "body\r\n.\r\nAUTH PLAIN\r\n" PLAIN "\r\n", 0},
        {S, "250 queued\r\n334 \r\n235 ok\r\n", 0}, END};
    free(no_leak("mid-stream body, then pipelined AUTH", body_then_auth, true));
}

int main(void)
{
    test_plain();
    test_login();
    test_cram_md5();
    test_midstream_auth();
    return tap_done();
}
