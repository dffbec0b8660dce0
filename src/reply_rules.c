/* reply_rules.c - the reply table (see reply_rules.h). */
#include "reply_rules.h"

#define P(x) PHASE_##x
static const struct reply_rule rules[SMTP_CMD__COUNT] = {
    /*                           phase            success rec  any-fail recov next_ok      next_any     txn */
    [SMTP_CMD_NONE]          = {P(NONE),          2,   true,  false, false, P(NONE),     P(NONE),     true},
    [SMTP_CMD_CONNECT]       = {P(GREETING),      2,   true,  true,  false, P(HELO),     P(NONE),     false},
    [SMTP_CMD_HELO]          = {P(HELO),          2,   true,  false, true,  P(MAIL),     P(NONE),     false},
    [SMTP_CMD_EHLO]          = {P(HELO),          2,   true,  false, true,  P(MAIL),     P(NONE),     false},
    [SMTP_CMD_STARTTLS]      = {P(STARTTLS),      220, true,  false, true,  P(HELO),     P(NONE),     false},
    [SMTP_CMD_AUTH]          = {P(AUTH),          2,   true,  false, true,  P(NONE),     P(NONE),     false},
    [SMTP_CMD_AUTH_RESPONSE] = {P(AUTH),          2,   true,  false, true,  P(NONE),     P(NONE),     false},
    [SMTP_CMD_MAIL]          = {P(MAIL),          2,   true,  false, false, P(RCPT),     P(NONE),     true},
    [SMTP_CMD_RCPT]          = {P(RCPT),          2,   true,  false, false, P(DATA),     P(NONE),     true},
    [SMTP_CMD_DATA]          = {P(DATA),          354, true,  false, false, P(DATA),     P(NONE),     true},
    [SMTP_CMD_END_OF_DATA]   = {P(END_OF_DATA),   2,   true,  true,  false, P(NONE),     P(MAIL),     true},
    [SMTP_CMD_BDAT]          = {P(DATA),          2,   true,  false, false, P(NONE),     P(NONE),     true},
    [SMTP_CMD_RSET]          = {P(NONE),          2,   false, false, false, P(MAIL),     P(NONE),     false},
    [SMTP_CMD_QUIT]          = {P(QUIT),          2,   true,  false, false, P(NONE),     P(QUIT),     false},
    /* NOOP, VRFY, EXPN, HELP, unknown commands: no phase of their own */
};
#undef P

const struct reply_rule *reply_rule(enum smtp_cmd cmd)
{
    return &rules[(unsigned)cmd < SMTP_CMD__COUNT ? cmd : SMTP_CMD_UNKNOWN];
}

enum smtp_phase reply_phase_of(enum smtp_cmd cmd, enum smtp_phase dflt)
{
    enum smtp_phase ph = cmd == SMTP_CMD_NONE ? PHASE_NONE : reply_rule(cmd)->phase;
    return ph != PHASE_NONE ? ph : dflt;
}

struct reply_effect reply_effect_of(const struct reply_rule *rule, int code,
                                    enum smtp_phase current)
{
    struct reply_effect e = {0};
    e.ok = rule->success == 2 ? code >= 200 && code < 300 : code == rule->success;
    e.fail = rule->records_failure && !e.ok &&
             (rule->fail_unless_success || code >= 400);
    e.fail_phase = rule->phase != PHASE_NONE ? rule->phase : current;
    e.next = e.ok && rule->next_ok != PHASE_NONE ? rule->next_ok : rule->next_any;
    return e;
}
