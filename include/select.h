/* select.h - which sessions a run writes (--only, --phase).
 *
 * A selection is two bit sets: verdicts and end phases (0: any). The
 * engine asks select_match before handing a session to the sinks, so
 * every sink (text, JSON, log dir, summary, HTML, --top, --messages, -w)
 * sees the same sessions.
 */
#ifndef SMTPSCOPE_SELECT_H
#define SMTPSCOPE_SELECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "session.h"

struct session_select {
    uint32_t verdicts; /* bit (1 << enum verdict); 0: every verdict */
    uint32_t phases;   /* bit (1 << enum smtp_phase): a failed or partial
                          session's failure phase, any other's end phase;
                          0: every phase */
};

/* "ok,partial,failed,incomplete,encrypted,not-smtp": 0, or -1 with the
 * word that is none of them in err. */
int select_parse_verdicts(struct session_select *sel, const char *list,
                          char *err, size_t errlen);
/* "RCPT,DATA" (phase names, any case): 0, or -1 with a message in err. */
int select_parse_phases(struct session_select *sel, const char *list,
                        char *err, size_t errlen);
static inline bool select_any(const struct session_select *sel)
{
    return sel->verdicts || sel->phases;
}
/* The session (ended: verdict and end phase set) is one the run writes. */
bool select_match(const struct session_select *sel, const struct session *s);
/* The lower-case verdict word --only and JSON use ("not-smtp"). */
const char *select_verdict_word(enum verdict v);

#endif
