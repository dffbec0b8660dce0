/* test_esmtp.c - EHLO keywords, MAIL parameters, AUTH user names. */
#include <string.h>

#include "esmtp.h"
#include "tap.h"

static const char *user(const char *mech, unsigned step, const char *b64)
{
    static char out[64];
    out[0] = 0;
    esmtp_auth_user(mech, step, b64, strlen(b64), out, sizeof out);
    return out;
}

int main(void)
{
    const char *arg;
    size_t al;
    CHECK(esmtp_keyword("SIZE 10240000", 13, &arg, &al) == KW_SIZE && al == 8 &&
              memcmp(arg, "10240000", 8) == 0, "SIZE keyword with its limit");
    CHECK(esmtp_keyword("AUTH=PLAIN LOGIN", 16, &arg, &al) == KW_AUTH &&
              al == 11, "old AUTH= form gives the mechanisms");
    CHECK(esmtp_keyword("pipelining", 10, &arg, &al) == KW_PIPELINING,
          "keywords are case-insensitive");
    CHECK(esmtp_keyword("XFORWARD NAME ADDR", 18, &arg, &al) == 0, "unknown keyword is 0");
    CHECK(esmtp_keyword("STARTTLSX", 9, &arg, &al) == 0, "prefix of a keyword is not the keyword");

    const char *m = "FROM:<a b@example.com> SIZE=120 BODY=8BITMIME";
    const char *pp;
    size_t pl;
    esmtp_mail_params(m, strlen(m), &pp, &pl);
    CHECK(pl == 22 && memcmp(pp, "SIZE=120 BODY=8BITMIME", 22) == 0, "MAIL parameters after the path");
    esmtp_mail_params("FROM:<>", 7, &pp, &pl);
    CHECK(pl == 0, "no parameters");
    esmtp_mail_params("FROM: a@b.example", 17, &pp, &pl);
    CHECK(pl == 0, "FROM: addr without brackets has no parameters (got %zu bytes)", pl);
    esmtp_mail_params("FROM:a@b.example SIZE=9", 23, &pp, &pl);
    CHECK(pl == 6 && memcmp(pp, "SIZE=9", 6) == 0, "FROM:addr SIZE=9 gives SIZE=9");

    /* "\0alice\0secret" */
    CHECK(strcmp(user("PLAIN", 1, "AGFsaWNlAHNlY3JldA=="), "alice") == 0, "PLAIN gives the authcid");
    /* "admin\0alice\0secret" */
    CHECK(strcmp(user("plain", 1, "YWRtaW4AYWxpY2UAc2VjcmV0"), "alice") == 0,
          "PLAIN with an authzid still gives the authcid");
    CHECK(strcmp(user("LOGIN", 1, "YWxpY2U="), "alice") == 0, "LOGIN first response is the user");
    CHECK(user("LOGIN", 2, "c2VjcmV0")[0] == 0, "LOGIN second response (password) is never decoded");
    /* "alice 6d5ef3..." */
    CHECK(strcmp(user("CRAM-MD5", 1, "YWxpY2UgNmQ1ZWYz"), "alice") == 0, "CRAM-MD5 user before the digest");
    /* "user=alice@example.com\1auth=Bearer tok\1\1" */
    CHECK(strcmp(user("XOAUTH2", 1, "dXNlcj1hbGljZUBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB0b2sBAQ=="),
                 "alice@example.com") == 0, "XOAUTH2 user= field, token not taken");
    CHECK(user("PLAIN", 1, "!!!not base64")[0] == 0, "invalid base64 gives nothing");
    CHECK(user("PLAIN", 1, "c2VjcmV0")[0] == 0, "PLAIN without NULs gives nothing");
    return tap_done();
}
