/* findings.h - interference signatures and policy findings in a dialogue.
 *
 * An observer (observer.h) that looks at each line and reply as it
 * arrives and keeps a little state of its own, so nothing is re-read after
 * the fact; at the end it runs the relay and exposure audit
 * (--local-domains). Every finding it makes is in the registry
 * (finding.h): interference, policy and timing findings as the dialogue
 * runs, audit findings at its end.
 */
#ifndef SMTPSCOPE_FINDINGS_H
#define SMTPSCOPE_FINDINGS_H

#include "observer.h"

extern const struct observer findings_observer;

#endif
