/* out_json_tls.h - the JSON writer's "tls_handshake" member. */
#ifndef SMTPSCOPE_OUT_JSON_TLS_H
#define SMTPSCOPE_OUT_JSON_TLS_H

#include "timeval.h"

struct obuf;
struct tls_info;
struct tcp_path;

/* Writes `,"tls_handshake":{...}` (or null) for the handshake `in`. */
void json_tls_handshake(struct obuf *f, const struct tls_info *in);
/* Writes `,"tls_steps":[{"t", "from", "step"}]`, the handshake's steps in
 * time order (t: seconds from `start`), for the HTML report's ladder. */
void json_tls_steps(struct obuf *f, const struct tls_info *in, smtp_time start);
/* Writes `,"tcp":{rtt_ms, retransmits, out_of_order, zero_window,
 * lost_bytes}` (or null: no connection was seen). */
void json_tcp_path(struct obuf *f, const struct tcp_path *t);

#endif
