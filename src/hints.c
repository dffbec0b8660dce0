/* hints.c - reply code tables and likely causes (see hints.h).
 *
 * Texts follow RFC 5321 section 4.2.2-4.2.3 (basic codes, plus AUTH codes
 * of RFC 4954, STARTTLS of RFC 3207 and 521/556 of RFC 7504) and RFC 3463
 * with the later entries of the IANA enhanced status code registry.
 */
#include "hints.h"
#include "textfind.h"

#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct code_text {
    int code;
    const char *text;
};

static const struct code_text reply_codes[] = {
    {211, "system status or help reply"},
    {214, "help message"},
    {220, "service ready"},
    {221, "service closing transmission channel"},
    {235, "authentication succeeded"},
    {250, "requested action okay, completed"},
    {251, "user not local; will forward"},
    {252, "cannot verify the user, but will accept the message and attempt delivery"},
    {334, "server challenge (AUTH continues)"},
    {354, "start mail input; end with <CRLF>.<CRLF>"},
    {421, "service not available, closing transmission channel"},
    {432, "a password transition is needed"},
    {450, "requested mail action not taken: mailbox unavailable (busy or blocked by policy)"},
    {451, "requested action aborted: local error in processing"},
    {452, "requested action not taken: insufficient system storage"},
    {454, "temporary authentication or TLS failure"},
    {455, "server unable to accommodate parameters"},
    {500, "syntax error, command unrecognized (or line too long)"},
    {501, "syntax error in parameters or arguments"},
    {502, "command not implemented"},
    {503, "bad sequence of commands"},
    {504, "command parameter not implemented"},
    {521, "host does not accept mail"},
    {530, "authentication required"},
    {534, "authentication mechanism is too weak"},
    {535, "authentication credentials invalid"},
    {538, "encryption required for requested authentication mechanism"},
    {550, "requested action not taken: mailbox unavailable (not found, no access, or policy)"},
    {551, "user not local"},
    {552, "requested mail action aborted: exceeded storage allocation"},
    {553, "requested action not taken: mailbox name not allowed"},
    {554, "transaction failed (or no SMTP service here)"},
    {555, "MAIL FROM/RCPT TO parameters not recognized or not implemented"},
    {556, "domain does not accept mail"},
};

struct enh_text {
    int subject, detail;
    const char *text;
};

static const struct enh_text enhanced_codes[] = {
    {0, 0, "other undefined status"},
    {1, 0, "other address status"},
    {1, 1, "bad destination mailbox address (no such user)"},
    {1, 2, "bad destination system address (domain does not exist or takes no mail)"},
    {1, 3, "bad destination mailbox address syntax"},
    {1, 4, "destination mailbox address ambiguous"},
    {1, 5, "destination address valid"},
    {1, 6, "destination mailbox has moved, no forwarding address"},
    {1, 7, "bad sender's mailbox address syntax"},
    {1, 8, "bad sender's system address"},
    {1, 9, "message relayed to non-compliant mailer"},
    {1, 10, "recipient address has null MX"},
    {2, 0, "other or undefined mailbox status"},
    {2, 1, "mailbox disabled, not accepting messages"},
    {2, 2, "mailbox full"},
    {2, 3, "message length exceeds administrative limit"},
    {2, 4, "mailing list expansion problem"},
    {3, 0, "other or undefined mail system status"},
    {3, 1, "mail system full"},
    {3, 2, "system not accepting network messages"},
    {3, 3, "system not capable of selected features"},
    {3, 4, "message too big for system"},
    {3, 5, "system incorrectly configured"},
    {3, 6, "requested priority was changed"},
    {4, 0, "other or undefined network or routing status"},
    {4, 1, "no answer from host"},
    {4, 2, "bad connection"},
    {4, 3, "directory server failure"},
    {4, 4, "unable to route"},
    {4, 5, "mail system congestion"},
    {4, 6, "routing loop detected"},
    {4, 7, "delivery time expired"},
    {5, 0, "other or undefined protocol status"},
    {5, 1, "invalid command"},
    {5, 2, "syntax error"},
    {5, 3, "too many recipients"},
    {5, 4, "invalid command arguments"},
    {5, 5, "wrong protocol version"},
    {5, 6, "authentication exchange line is too long"},
    {6, 0, "other or undefined media error"},
    {6, 1, "media not supported"},
    {6, 2, "conversion required and prohibited"},
    {6, 3, "conversion required but not supported"},
    {6, 4, "conversion with loss performed"},
    {6, 5, "conversion failed"},
    {6, 6, "message content not available"},
    {6, 7, "non-ASCII addresses not permitted for that sender or recipient"},
    {6, 8, "UTF-8 string reply is required, but not permitted by the client"},
    {6, 9, "UTF-8 header message cannot be transferred to one or more recipients"},
    {6, 10, "UTF-8 message cannot be transferred without conversion"},
    {7, 0, "other or undefined security status"},
    {7, 1, "delivery not authorized, message refused (policy)"},
    {7, 2, "mailing list expansion prohibited"},
    {7, 3, "security conversion required but not possible"},
    {7, 4, "security features not supported"},
    {7, 5, "cryptographic failure"},
    {7, 6, "cryptographic algorithm not supported"},
    {7, 7, "message integrity failure"},
    {7, 8, "authentication credentials invalid"},
    {7, 9, "authentication mechanism is too weak"},
    {7, 10, "encryption needed"},
    {7, 11, "encryption required for requested authentication mechanism"},
    {7, 12, "a password transition is needed"},
    {7, 13, "user account disabled"},
    {7, 14, "trust relationship required"},
    {7, 15, "priority level is too low"},
    {7, 16, "message is too big for the specified priority"},
    {7, 17, "mailbox owner has changed"},
    {7, 18, "domain owner has changed"},
    {7, 19, "RRVS test cannot be completed"},
    {7, 20, "no passing DKIM signature found"},
    {7, 21, "no acceptable DKIM signature found"},
    {7, 22, "no valid author-matched DKIM signature found"},
    {7, 23, "SPF validation failed"},
    {7, 24, "SPF validation error"},
    {7, 25, "reverse DNS validation failed"},
    {7, 26, "multiple authentication checks failed"},
    {7, 27, "sender address has null MX"},
    {7, 28, "mail flood detected"},
    {7, 29, "ARC validation failure"},
    {7, 30, "REQUIRETLS support required"},
};

static const char *const subjects[8] = {
    "other or undefined status", "addressing status", "mailbox status",
    "mail system status", "network and routing status",
    "mail delivery protocol status", "message content or media status",
    "security or policy status",
};

const char *hint_reply_code(int code)
{
    for (size_t i = 0; i < sizeof reply_codes / sizeof *reply_codes; i++)
        if (reply_codes[i].code == code)
            return reply_codes[i].text;
    return NULL;
}

/* Parses "c.s.d"; returns false unless it is one. */
static bool parse_enhanced(const char *code, int *c, int *s, int *d)
{
    char *end;
    if (!code || !*code)
        return false;
    long cl = strtol(code, &end, 10);
    if (*end != '.')
        return false;
    long sl = strtol(end + 1, &end, 10);
    if (*end != '.')
        return false;
    long dl = strtol(end + 1, &end, 10);
    if (*end != '\0' || cl < 2 || cl > 5 || sl < 0 || sl > 999 || dl < 0 ||
        dl > 999)
        return false;
    *c = (int)cl;
    *s = (int)sl;
    *d = (int)dl;
    return true;
}

const char *hint_enhanced(const char *code)
{
    int c, s, d;
    if (!parse_enhanced(code, &c, &s, &d))
        return NULL;
    for (size_t i = 0; i < sizeof enhanced_codes / sizeof *enhanced_codes; i++)
        if (enhanced_codes[i].subject == s && enhanced_codes[i].detail == d)
            return enhanced_codes[i].text;
    return NULL;
}

const char *hint_enhanced_subject(const char *code)
{
    int c, s, d;
    if (!parse_enhanced(code, &c, &s, &d) || s > 7)
        return NULL;
    return subjects[s];
}

/* Words in reply texts that name a cause, checked in order. */
struct text_cause {
    const char *word;
    const char *cause;
};

static const struct text_cause text_causes[] = {
    {"greylist", "greylisting: a temporary refusal of unknown senders; a "
                 "real MTA retries later and is then accepted"},
    {"graylist", "greylisting: a temporary refusal of unknown senders; a "
                 "real MTA retries later and is then accepted"},
    {"try again later", "a temporary refusal: the client should retry later"},
    {"spamhaus", "the client's address is on a DNS block list (Spamhaus): "
                 "check the listing and request delisting"},
    {"blocked using", "the client's address is on a DNS block list (DNSBL): "
                      "check the listing named in the reply"},
    {"dnsbl", "the client's address is on a DNS block list (DNSBL)"},
    {"blacklist", "the client's address or domain is on a block list"},
    {"blocklist", "the client's address or domain is on a block list"},
    {"relay", "relaying denied: the client is not allowed to send to that "
              "domain through this server; it must authenticate (AUTH) or "
              "the server must be told to accept mail for the domain"},
    {"authentication required", "the server requires AUTH before accepting "
                                "mail from this client"},
    {"user unknown", "the recipient does not exist on the server"},
    {"unknown user", "the recipient does not exist on the server"},
    {"no such user", "the recipient does not exist on the server"},
    {"mailbox full", "the recipient's mailbox is full"},
    {"quota", "the recipient's mailbox is over quota"},
    {"too large", "the message exceeds the server's size limit (see SIZE in "
                  "the EHLO reply)"},
    {"size limit", "the message exceeds the server's size limit (see SIZE in "
                   "the EHLO reply)"},
    {"spf", "the sender's domain SPF policy does not allow this client"},
    {"dmarc", "the message fails the sender domain's DMARC policy"},
    {"reverse dns", "the client's address has no (matching) reverse DNS name"},
    {"helo", "the server does not accept the HELO/EHLO name given"},
    {"too many", "a rate or count limit was hit (connections, recipients or "
                 "messages): retry later or spread the load"},
};


struct phase_cause {
    const char *phase;
    const char *no_reply; /* connection-level: no reply came */
    const char *refused;  /* a 4xx/5xx reply */
};

static const struct phase_cause phase_causes[] = {
    {"CONNECT",
     "no SMTP server reachable: a firewall drops or rejects port 25, the "
     "port forward is missing, or the host is down",
     "the connection was refused"},
    {"GREETING",
     "the server (or a proxy or firewall in front of it) accepted the TCP "
     "connection but sent no banner: a policy refusal (e.g. a reputation "
     "filter), an overloaded server, or a middlebox holding the connection",
     "the server refuses connections from this client (reputation, block "
     "list, rate limit or maintenance)"},
    {"HELO", "the connection ended after the greeting, before HELO/EHLO was answered",
     "the server does not accept the HELO/EHLO name, or the client must use "
     "HELO (old server, or a firewall filtering EHLO)"},
    {"STARTTLS", "the connection dropped at STARTTLS: a middlebox may be "
                 "interfering with TLS",
     "the server offered TLS but cannot start it (certificate or key "
     "problem), or a middlebox stripped it"},
    {"AUTH", "the connection dropped during AUTH",
     "wrong user name or password, a mechanism the server does not allow, "
     "or AUTH offered only after STARTTLS"},
    {"MAIL", "reset right after MAIL FROM: sender address or client IP "
             "refused by policy (block list, firewall content inspection)",
     "the sender address or the client is refused by policy (block list, "
     "SPF, unknown sender domain)"},
    {"RCPT", "the connection dropped at RCPT TO",
     "recipient unknown, or the server is not configured to accept mail for "
     "that domain (relaying denied)"},
    {"DATA", "the connection dropped while the message was sent: an MTU or "
             "firewall problem on large packets, or a content filter",
     "the server refuses the message content or has no valid recipients"},
    {"END-OF-DATA", "no reply after the final dot: a slow content scanner, "
                    "or a firewall/proxy that drops the connection",
     "the message was rejected after transfer: content, size or policy "
     "(spam or virus filter, DKIM/DMARC)"},
    {"QUIT", "the connection closed before the reply to QUIT (harmless)",
     "an unusual refusal of QUIT"},
};

/* The words of text_causes, in its order, searched in one pass. */
static const char *cause_words[sizeof text_causes / sizeof *text_causes];
static struct text_set cause_set = TEXT_SET(cause_words);

const char *hint_cause(const char *phase, int code, const char *text)
{
    if (!cause_words[0])
        for (size_t i = 0; i < sizeof text_causes / sizeof *text_causes; i++)
            cause_words[i] = text_causes[i].word;
    if (code >= 400 && text) { /* the first cause in the table's order */
        uint64_t found = text_set_find(&cause_set, text, strlen(text));
        if (found)
            return text_causes[__builtin_ctzll(found)].cause;
    }
    if (code >= 500 && code <= 504)
        return "a client protocol error: a command unknown, malformed or out "
               "of order (or a firewall/proxy rewriting the dialogue)";
    if (code == 421)
        return "the server is closing the connection: overloaded, shutting "
               "down, or rate limiting this client";
    if (code == 530)
        return "the server requires AUTH before accepting mail from this client";
    if (code == 552)
        return "the message exceeds the server's size or storage limit";
    for (size_t i = 0; i < sizeof phase_causes / sizeof *phase_causes; i++)
        if (phase && strcmp(phase, phase_causes[i].phase) == 0)
            return code ? phase_causes[i].refused : phase_causes[i].no_reply;
    return NULL;
}

/* Appends the strings of a NULL-terminated list at out[*n], truncated as
 * snprintf would (out stays NUL-terminated): a refusal's hint is composed
 * once a session, and printf's format parsing was most of its cost. */
static void append(char *out, size_t cap, size_t *n, ...)
{
    va_list ap;
    va_start(ap, n);
    for (const char *s; (s = va_arg(ap, const char *));) {
        size_t len = strlen(s), room = cap - 1 - *n;
        if (len > room)
            len = room;
        memcpy(out + *n, s, len);
        *n += len;
    }
    va_end(ap);
    out[*n] = '\0';
}

size_t hint_compose(char *out, size_t cap, const char *phase, int code,
                    const char *enhanced, const char *text)
{
    return hint_compose_cause(out, cap, phase, code, enhanced, text, NULL);
}

size_t hint_compose_cause(char *out, size_t cap, const char *phase, int code,
                          const char *enhanced, const char *text, const char *known)
{
    if (cap == 0)
        return 0;
    out[0] = '\0';
    size_t n = 0;
    const char *rc = code ? hint_reply_code(code) : NULL;
    if (rc) {
        char num[16];
        snprintf(num, sizeof num, "%d", code);
        append(out, cap, &n, num, ": ", rc, (const char *)NULL);
    }
    const char *eh = hint_enhanced(enhanced);
    if (!eh)
        eh = hint_enhanced_subject(enhanced);
    if (eh)
        append(out, cap, &n, n ? "; " : "", enhanced, ": ", eh, (const char *)NULL);
    if (code >= 400 && code < 500)
        append(out, cap, &n, n ? "; " : "", "transient (the client should retry)",
               (const char *)NULL);
    else if (code >= 500)
        append(out, cap, &n, n ? "; " : "", "permanent (retrying will not help)",
               (const char *)NULL);
    const char *cause = hint_cause(phase, code, text);
    if (known && (!cause || !strstr(cause, "block list"))) /* the reply's own words win */
        cause = known;
    if (cause)
        append(out, cap, &n, n ? "; " : "", "likely cause: ", cause, (const char *)NULL);
    return n;
}
