/* dns.h - DNS lookups on the wire (UDP and TCP port 53), parsed with ldns.
 *
 * Queries are paired with their responses by transport, client address and
 * port, server address and message id; a query without a response within
 * DNS_TIMEOUT_S seconds is reported as a timeout. Each lookup is handed to
 * a callback (the engine passes it to the sinks). Only what mail needs is
 * kept: the question, the rcode, and MX, A, AAAA and CNAME answers.
 */
#ifndef SMTPSCOPE_DNS_H
#define SMTPSCOPE_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "direction.h"
#include "endpoint.h"
#include "finding.h"
#include "timeval.h"

#define DNS_TIMEOUT_S 5
#define DNS_MAX_ANSWERS 16
#define DNS_NAME_MAX 256
#define DNS_PENDING_MAX 4096

struct dns_answer {
    uint16_t type;                 /* 1 A, 28 AAAA, 15 MX, 5 CNAME */
    uint16_t pref;                 /* MX */
    char name[DNS_NAME_MAX];       /* the owner */
    char target[DNS_NAME_MAX];     /* MX exchange, CNAME target, or the address */
    struct endpoint addr;          /* A / AAAA (port 0) */
};

struct dns_lookup {
    struct endpoint client, server;
    uint16_t id;
    char qname[DNS_NAME_MAX];
    uint16_t qtype;
    smtp_time t_query, t_response; /* t_response 0: no response */
    bool tcp;                      /* over TCP (else UDP) */
    bool truncated;                /* TC set: the answer did not fit (UDP) */
    int rcode;                     /* -1: timeout */
    int nanswers;                  /* all answers; at most DNS_MAX_ANSWERS kept */
    int nkept;
    struct dns_answer an[DNS_MAX_ANSWERS];
};

typedef void (*dns_emit_fn)(void *ctx, const struct dns_lookup *l);

struct dns_tracker;

struct dns_tracker *dns_tracker_new(dns_emit_fn emit, void *ctx);
void dns_tracker_free(struct dns_tracker *t);
/* One DNS message from src to dst (ports set): a UDP datagram's payload,
 * or a message framed out of a TCP stream. */
void dns_observe(struct dns_tracker *t, const struct endpoint *src,
                 const struct endpoint *dst, const uint8_t *msg, size_t len,
                 bool tcp, smtp_time ts);

/* DNS over TCP (RFC 1035 4.2.2, RFC 7766): each message behind a two-byte
 * length, several per connection, pipelined. A stream frames both
 * directions of one reassembled connection; at most DNS_STREAMS_MAX are
 * followed at once (NULL beyond: the tracker counts them), each holding at
 * most one message per direction (64 KiB). */
#define DNS_STREAMS_MAX 256
struct dns_stream;
struct dns_stream *dns_stream_new(struct dns_tracker *t, const struct endpoint *client,
                                  const struct endpoint *server);
void dns_stream_feed(struct dns_stream *s, enum smtp_dir dir, const uint8_t *p,
                     size_t n, smtp_time ts);
void dns_stream_free(struct dns_stream *s);
/* The queries still waiting for a response (n of them), read-only, valid
 * until the tracker's next call. */
const struct dns_lookup *dns_pending(const struct dns_tracker *t, int *n);
/* TCP connections to port 53 not followed: DNS_STREAMS_MAX were open. */
uint64_t dns_streams_refused(const struct dns_tracker *t);
/* Queries older than DNS_TIMEOUT_S at `now` are reported as timeouts;
 * with `all`, every pending one is (end of capture). */
void dns_expire(struct dns_tracker *t, smtp_time now, bool all);

/* The lookup's findings, their ids into ids[], how many (0 to 2): on
 * the lookups mail needs (MX, A, AAAA) nxdomain, servfail, dns-timeout (a
 * delivery cannot follow), and slow-dns above slow_ms (0: off). */
int dns_findings(const struct dns_lookup *l, int slow_ms, enum finding_id ids[2]);

const char *dns_type_name(uint16_t type);
const char *dns_rcode_name(int rcode);

#endif
