/* findings.h - interference signatures and policy findings in a dialogue.
 *
 * Called by the session model as lines arrive; each finding becomes a named
 * session anomaly (JSON `anomalies`, an "Anomaly:" line in the text log):
 *   banner-masked, command-masked, ehlo-rejected-helo-fallback,
 *   starttls-masked, starttls-refused, banner-host-mismatch,
 *   slow-greeting, slow-reply, slow-end-of-data, idle-gap,
 *   greylisted, dnsbl-rejection, relay-denied, auth-required,
 *   message-too-large, mailbox-full; with --local-domains also
 *   open-relay, auth-cleartext, banner-disclosure.
 */
#ifndef SMTPSCOPE_FINDINGS_H
#define SMTPSCOPE_FINDINGS_H

#include "session.h"
#include "smtp_parser.h"

void findings_command(struct session *s, const struct smtp_command *c);
void findings_reply_line(struct session *s, const struct smtp_reply_line *l);
void findings_reply(struct session *s, const struct smtp_reply *r);
/* The relay and exposure audit (--local-domains), once the session ended:
 * open-relay, auth-cleartext; banner-disclosure is found as replies come. */
void findings_audit(struct session *s);

#endif
