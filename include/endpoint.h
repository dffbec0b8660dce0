/* endpoint.h - an IPv4 or IPv6 address and port, and the session id. */
#ifndef SMTPSCOPE_ENDPOINT_H
#define SMTPSCOPE_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "timeval.h"

struct endpoint {
    uint8_t addr[16]; /* IPv4 in the first 4 bytes */
    uint8_t family;   /* 4 or 6 */
    uint16_t port;
};

/* How the TCP connection ended, as reassembly saw it. */
enum tcp_end {
    TCP_END_NONE = 0,
    TCP_END_CLOSED,          /* FIN from both sides */
    TCP_END_RESET_BY_CLIENT,
    TCP_END_RESET_BY_SERVER,
    TCP_END_TIMEOUT,         /* idle longer than the idle timeout */
    TCP_END_EVICTED,         /* the stream table was full */
    TCP_END_CAPTURE_ENDED,   /* still open when the capture ended */
    TCP_END_NO_ANSWER,       /* SYN never answered */
    TCP_END_REFUSED,         /* SYN answered by RST */
    TCP_END_PORT_REUSED,     /* a new SYN on the same addresses and ports */
    TCP_END_HANDSHAKE_INCOMPLETE, /* SYN-ACK seen, handshake never completed */
    TCP_END_ICMP_UNREACHABLE, /* SYN answered by ICMP destination unreachable */
    TCP_END__COUNT
};

#define ENDPOINT_STRLEN 46 /* INET6_ADDRSTRLEN */

/* The address as text ("192.0.2.1", "2001:db8::1"). */
void endpoint_addr_str(const struct endpoint *e, char out[ENDPOINT_STRLEN]);
/* Address and port as text ("192.0.2.1:25", "[2001:db8::1]:25"). */
#define ENDPOINT_PORT_STRLEN (ENDPOINT_STRLEN + 8)
void endpoint_str(const struct endpoint *e, char out[ENDPOINT_PORT_STRLEN]);

/* Inline, with constant-size compares: the connection table calls it for
 * every packet. */
static inline bool endpoint_eq(const struct endpoint *a, const struct endpoint *b)
{
    if (a->port != b->port || a->family != b->family)
        return false;
    return a->family == 6 ? memcmp(a->addr, b->addr, 16) == 0
                          : memcmp(a->addr, b->addr, 4) == 0;
}

/* A hash of a connection's two endpoints that is the same in both
 * directions: for hash tables, and for splitting work between processes. */
uint32_t flow_hash_symmetric(const struct endpoint *a, const struct endpoint *b);
/* The same for both directions and every port of an address pair. */
uint32_t addr_pair_hash_symmetric(const struct endpoint *a, const struct endpoint *b);

/* The --shard and --workers split: by address pair, so shards keep all the
 * sessions between two hosts together (findings that compare sessions,
 * such as a stripped STARTTLS, need them side by side). Simple enough for
 * a classic-BPF filter to compute the same value in the kernel
 * (capture_shard_filter): a live worker then receives only its share. */
uint32_t shard_hash(const struct endpoint *a, const struct endpoint *b);
#define SHARD_HASH_MULT 2654435761u /* Knuth's multiplicative constant */

/* FNV-1a over n bytes, continuing from h (FNV1A_INIT to start): session
 * ids, and the string tables of --messages. */
#define FNV1A_INIT 2166136261u
uint32_t fnv1a(uint32_t h, const void *data, size_t n);

/* A 32-bit session id from the connection's addresses, ports and start
 * time: stable across runs, shards and workers, unlike a counter. */
uint32_t session_id_for(const struct endpoint *client,
                        const struct endpoint *server, smtp_time start);

#endif
