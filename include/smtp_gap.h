/* smtp_gap.h - telling the parser that bytes of a direction were lost.
 *
 * The parser itself (smtp_parser.h) sees only bytes; a capture can lack
 * some (snap length, a segment never captured). After a gap of len bytes
 * in direction dir: a line in progress is delivered as it was, a reply in
 * progress is complete, a message body goes on (the gap counted in its
 * size), and otherwise each direction waits for a line it can place (a
 * known verb, a well-formed reply), so later replies still pair with
 * their commands. */
#ifndef SMTPSCOPE_SMTP_GAP_H
#define SMTPSCOPE_SMTP_GAP_H

#include "smtp_parser.h"

void smtp_parser_gap(struct smtp_parser *p, enum smtp_dir dir, size_t len,
                     smtp_time ts);
/* The server speaks while a message body that lost bytes to a gap is still
 * open: its final "." was in the gap, and the body ends here (so the reply
 * pairs with the end of data). Returns false when no body is open. */
bool smtp_parser_body_lost_end(struct smtp_parser *p, smtp_time ts);

/* The capture begins inside TLS: nothing more is parsed as SMTP. */
void smtp_parser_encrypted(struct smtp_parser *p);

#endif
