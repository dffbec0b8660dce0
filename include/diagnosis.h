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

#include "session.h"

/* Sets s->verdict, s->end_phase and, for connection-level failures,
 * s->failure. Called once by session_end. */
void diagnose_session(struct session *s);

const char *failure_class_name(enum failure_class c);
const char *verdict_name(enum verdict v);

#endif
