/* test_hints.c - the code tables hold every code the RFCs define. */
#include <string.h>

#include "hints.h"
#include "tap.h"

/* RFC 5321 section 4.2.3 ("Reply Codes in Numeric Order"), with 334/235/
 * 432/454/530/534/535/538 of RFC 4954 and 521/556 of RFC 7504. */
static const int rfc_reply_codes[] = {
    211, 214, 220, 221, 250, 251, 252, 354, 421, 450, 451, 452, 455, 500,
    501, 502, 503, 504, 550, 551, 552, 553, 554, 555,
    334, 235, 432, 454, 530, 534, 535, 538, 521, 556,
};

/* RFC 3463 section 3: every subject.detail it defines. */
static const char *const rfc3463[] = {
    "5.0.0", "5.1.0", "5.1.1", "5.1.2", "5.1.3", "5.1.4", "5.1.5", "5.1.6",
    "5.1.7", "5.1.8", "5.2.0", "5.2.1", "5.2.2", "5.2.3", "5.2.4", "5.3.0",
    "5.3.1", "5.3.2", "5.3.3", "5.3.4", "5.3.5", "5.4.0", "5.4.1", "5.4.2",
    "5.4.3", "5.4.4", "5.4.5", "5.4.6", "5.4.7", "5.5.0", "5.5.1", "5.5.2",
    "5.5.3", "5.5.4", "5.5.5", "5.6.0", "5.6.1", "5.6.2", "5.6.3", "5.6.4",
    "5.6.5", "5.7.0", "5.7.1", "5.7.2", "5.7.3", "5.7.4", "5.7.5", "5.7.6",
    "5.7.7",
};

int main(void)
{
    unsigned missing = 0;
    for (size_t i = 0; i < sizeof rfc_reply_codes / sizeof *rfc_reply_codes; i++)
        if (!hint_reply_code(rfc_reply_codes[i])) {
            printf("# reply code %d has no text\n", rfc_reply_codes[i]);
            missing++;
        }
    CHECK(missing == 0, "every reply code of RFC 5321/4954/7504 has a meaning");
    missing = 0;
    for (size_t i = 0; i < sizeof rfc3463 / sizeof *rfc3463; i++)
        if (!hint_enhanced(rfc3463[i])) {
            printf("# enhanced code %s has no text\n", rfc3463[i]);
            missing++;
        }
    CHECK(missing == 0, "every enhanced status code of RFC 3463 has a meaning");
    CHECK(strcmp(hint_enhanced("4.2.2"), hint_enhanced("5.2.2")) == 0,
          "4.x.y and 5.x.y share the subject/detail meaning");
    CHECK(strstr(hint_enhanced("5.1.1"), "no such user") != NULL, "5.1.1 means no such user");
    CHECK(hint_enhanced("5.9.99") == NULL && hint_enhanced("garbage") == NULL &&
              hint_enhanced("5.1") == NULL && hint_enhanced("") == NULL,
          "unknown or malformed enhanced codes give no text");
    CHECK(strcmp(hint_enhanced_subject("5.7.99"), "security or policy status") == 0,
          "an unknown detail still gets its subject");
    CHECK(hint_reply_code(299) == NULL, "code outside the tables gives no text");

    const char *c = hint_cause("RCPT", 554, "5.7.1 <x@example.org>: Relay access denied");
    CHECK(c && strstr(c, "relaying denied"), "relay-denied text names relaying");
    c = hint_cause("RCPT", 450, "4.7.1 <x@y>: Recipient address rejected: Greylisted, see ...");
    CHECK(c && strstr(c, "greylisting"), "greylisting recognised in the text");
    c = hint_cause("MAIL", 554, "5.7.1 Service unavailable; Client host [192.0.2.10] blocked using zen.spamhaus.org");
    CHECK(c && strstr(c, "block list"), "DNSBL rejection recognised");
    c = hint_cause("CONNECT", 0, NULL);
    CHECK(c && strstr(c, "firewall"), "no answer at CONNECT points at a firewall");
    c = hint_cause("MAIL", 0, NULL);
    CHECK(c && strstr(c, "MAIL FROM"), "reset after MAIL FROM points at policy");

    char h[512];
    size_t n = hint_compose(h, sizeof h, "RCPT", 550, "5.1.1", "User unknown");
    CHECK(n == strlen(h) && strstr(h, "550: ") && strstr(h, "5.1.1: ") &&
              strstr(h, "permanent") && strstr(h, "likely cause"),
          "composed hint: code, enhanced code, class and cause (%s)", h);
    n = hint_compose(h, 40, "RCPT", 550, "5.1.1", "User unknown");
    CHECK(n == 39 && h[39] == '\0', "composed hint bounded by the buffer");
    return tap_done();
}
