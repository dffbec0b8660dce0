/* reply_rules.h - what a reply means, per command it answers, as data.
 *
 * One row per command: the SMTP phase the command belongs to (a failing
 * reply fails the session there; a session that ends while it waits ended
 * there), the code that succeeds, whether a success clears an earlier
 * failure of the same phase (EHLO -> HELO fallback, a second AUTH), the
 * phase expected next, and whether the transaction rules (transaction.h)
 * have a say. The session model and the diagnosis both read it.
 */
#ifndef SMTPSCOPE_REPLY_RULES_H
#define SMTPSCOPE_REPLY_RULES_H

#include <stdbool.h>

#include "session.h"

struct reply_rule {
    enum smtp_phase phase;    /* PHASE_NONE: the phase the dialogue is in */
    int success;              /* the code that succeeds; 2: any 2xx */
    bool records_failure;     /* a failing reply is the session's failure */
    bool fail_unless_success; /* every other code fails, not only 4xx/5xx */
    bool recovers;            /* success clears a failure of this phase */
    enum smtp_phase next_ok;  /* expected after success (NONE: unchanged) */
    enum smtp_phase next_any; /* expected after any reply (NONE: unchanged) */
    bool txn;                 /* the transaction rules apply */
};

const struct reply_rule *reply_rule(enum smtp_cmd cmd);

/* The phase of a command (dflt where it has none of its own). */
enum smtp_phase reply_phase_of(enum smtp_cmd cmd, enum smtp_phase dflt);

/* What one reply did to the dialogue: the rule's view, which the
 * transaction rules may correct (a refused nested MAIL fails nothing). */
struct reply_effect {
    bool ok;                 /* the command succeeded */
    bool fail;               /* the reply is a failure to record */
    enum smtp_phase fail_phase;
    enum smtp_phase next;    /* the phase expected next (NONE: unchanged) */
};

struct reply_effect reply_effect_of(const struct reply_rule *rule, int code,
                                    enum smtp_phase current);

#endif
