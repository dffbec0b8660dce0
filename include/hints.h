/* hints.h - the troubleshooting knowledge: what reply codes and enhanced
 * status codes mean (RFC 5321 section 4.2, RFC 3463 and the IANA registry of
 * enhanced status codes), and the likely cause of a failure in each phase.
 *
 * Tables only, no session logic: the diagnosis module composes a hint from
 * them. Every text is a constant string.
 */
#ifndef SMTPSCOPE_HINTS_H
#define SMTPSCOPE_HINTS_H

#include <stddef.h>

/* Meaning of a basic reply code (e.g. 550), or NULL if not in RFC 5321. */
const char *hint_reply_code(int code);

/* Meaning of an enhanced status code "c.s.d" (class 2, 4 or 5), or NULL.
 * The class is ignored: 4.1.1 and 5.1.1 share a subject and detail. */
const char *hint_enhanced(const char *code);

/* Meaning of just the subject ("addressing status", ...) of "c.s.d". */
const char *hint_enhanced_subject(const char *code);

/* The likely cause of a failure, by phase name (CONNECT, GREETING, HELO,
 * STARTTLS, AUTH, MAIL, RCPT, DATA, END-OF-DATA, QUIT), reply code (0 when
 * there was no reply) and reply text (searched for well-known words:
 * relay, greylist, block lists, ...). */
const char *hint_cause(const char *phase, int code, const char *text);

/* The whole hint: "<code meaning>; <enhanced meaning>; <transient|permanent>:
 * <cause>". Returns the length written (always NUL-terminated). */
size_t hint_compose(char *out, size_t cap, const char *phase, int code,
                    const char *enhanced, const char *text);
/* The same, with a cause the capture itself showed (a DNSBL listing seen
 * on the wire) in place of the one guessed from the words, unless the
 * reply's words name a block list themselves. */
size_t hint_compose_cause(char *out, size_t cap, const char *phase, int code,
                          const char *enhanced, const char *text, const char *known);

#endif
