/* transaction.h - a session's mail transactions, as rules.
 *
 * What each client command and each reply does to the transactions
 * (MAIL .. end-of-data, or BDAT chunks): a MAIL inside an accepted
 * transaction is nested (refused, the first goes on; accepted, it starts
 * over), a refused DATA leaves the transaction resumable by more RCPTs and
 * another DATA, RSET ends it, the capture's end leaves it incomplete.
 * Used by the session model (session_dialogue.c); unit-tested through it
 * (test/unit/test_transaction.c).
 */
#ifndef SMTPSCOPE_TRANSACTION_H
#define SMTPSCOPE_TRANSACTION_H

#include "reply_rules.h"
#include "session.h"

struct txn *txn_last(struct session *s);

/* A client command: returns the tag its reply will carry (a transaction
 * number, or for RCPT a recipient number). */
uint32_t txn_command(struct session *s, const struct smtp_command *c);

/* A reply the reply table sends here (rule->txn): settles what it answers
 * and corrects the table's view of it in *e. */
void txn_reply(struct session *s, const struct smtp_reply *r,
               struct reply_effect *e);

/* "250 2.0.0 Ok: queued as 4XyZ1" -> the transaction's queue id. */
void txn_find_queue_id(struct session *s, struct txn *t, struct smtp_span text);

/* The session ended: an open transaction was aborted, or cut off by the
 * end of the capture (incomplete). */
void txn_session_end(struct session *s, enum tcp_end how);

#endif
