/* diagnosis.h - the verdict of a finished session.
 *
 * Decides OK / FAILED / INCOMPLETE, the phase the session failed or ended
 * in, and for sessions that failed without a failing reply the TCP-level
 * cause (reset by which side, closed, idle timeout). Kept apart from the
 * session model so that the troubleshooting knowledge (hints, interference
 * signatures) grows here without touching how sessions are built.
 */
#ifndef SMTPSCOPE_DIAGNOSIS_H
#define SMTPSCOPE_DIAGNOSIS_H

#include "observer.h"
#include "session.h"

/* An observer whose end hook sets s->verdict, s->end_phase and, for
 * connection-level failures, s->failure. It must run last: it reads what
 * the other observers found. */
extern const struct observer diagnosis_observer;

const char *failure_class_name(enum failure_class c);
const char *verdict_name(enum verdict v);
/* The same as JSON and --only write it: "ok", "not-smtp", ... */
const char *verdict_key(enum verdict v);
/* PARTIAL: of the accepted messages' recipients, how many, how many taken. */
void diagnosis_partial(const struct session *s, uint32_t *all, uint32_t *ok);

#endif
