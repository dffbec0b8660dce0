/* engine_int.h - what engine.c (setup, libnids callbacks, sessions' ends)
 * and engine_tcp.c (each segment's bookkeeping, what the capture lost)
 * share; not for other modules. */
#ifndef SMTPSCOPE_ENGINE_INT_H
#define SMTPSCOPE_ENGINE_INT_H

#include "engine.h"

bool engine_in_shard(const struct engine *e, const struct endpoint *a,
                     const struct endpoint *b);
bool engine_smtp_port(const struct engine *e, uint16_t port);
/* One of the ports -p named (or the defaults), even with -p any. */
bool engine_named_port(const struct engine *e, uint16_t port);
/* Ends the connection's session (making one for a connection that never
 * got past its SYN), writes it, and drops or tombstones the connection. */
void engine_finish_conn(struct engine *e, struct conn *c, enum tcp_end how,
                        smtp_time ts);

/* The frame being handled is one of c's: its frame span (and with -w on
 * a stream, its packets) include it. */
void engine_conn_frame(struct engine *e, struct conn *c);

/* engine_sniff.c: a TCP packet not on an SMTP port; with -p any, whether
 * an ended session was SMTP by its content */
void engine_sniff_tcp(struct engine *e, const struct packet *p);
bool engine_session_is_smtp(const struct session *s);

/* engine_tcp.c */
void engine_note_syn_spacing(struct session *s, const struct conn *c,
                             smtp_time ts);
void engine_note_losses(struct engine *e, const struct conn *c, struct session *s,
                        smtp_time ts);
enum tcp_end engine_one_sided(const struct conn *c, struct session *s, enum tcp_end how);
void engine_observe_icmp(struct engine *e, const struct packet *p);
struct conn *engine_observe_tcp(struct engine *e, const struct packet *p,
                                struct conn **conn, bool *client_sent);
void engine_feed_tcp(struct engine *e, struct conn *c, const struct packet *p,
                     bool from_client);

#endif
