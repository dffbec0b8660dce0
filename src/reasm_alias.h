/* reasm_alias.h - private to the reassembly glue: IPv6 connections under
 * IPv4 aliases, because libnids reassembles IPv4 only.
 *
 * Slot i of the alias table stands for one IPv6 connection; its client is
 * 0.0.0.1 + 2i and its server 0.0.0.2 + 2i (0.0.0.0/8, never on a wire), so
 * the reverse lookup is arithmetic and the forward lookup a hash chain.
 * Like libnids, the table is a singleton.
 */
#ifndef SMTPSCOPE_REASM_ALIAS_H
#define SMTPSCOPE_REASM_ALIAS_H

#include <stdbool.h>
#include <stdint.h>

#include "endpoint.h"
#include "reassembly.h"
#include "timeval.h"

#define ALIAS_NIL UINT32_MAX

struct alias {
    struct endpoint client, server;
    uint32_t hnext;  /* hash chain, or free list when unused */
    bool used;
    bool opened;     /* libnids established a stream on it */
    smtp_time last_ts; /* its last segment */
};

/* Sized for max_streams connections; -1 when out of memory. */
int alias_init(int max_streams);
void alias_free_all(void);

/* An aliased (0.0.0.0/8) IPv4 address. */
static inline bool alias_is(const uint8_t a[4]) { return a[0] == 0; }

/* The slot of the IPv6 connection between a and b, in either direction. */
uint32_t alias_find(const struct endpoint *a, const struct endpoint *b, bool *a_is_client);
/* A new slot (never-opened idle ones are reaped when the table is full),
 * or ALIAS_NIL; counted in stats. */
uint32_t alias_add(const struct endpoint *client, const struct endpoint *server,
                   smtp_time ts, struct reasm_stats *stats);
void alias_remove(uint32_t i);
struct alias *alias_at(uint32_t i);
/* The IPv4 aliases of slot i. */
void alias_addrs(uint32_t i, uint8_t client[4], uint8_t server[4]);
/* The slot of an aliased address, or ALIAS_NIL. */
uint32_t alias_of_addr(const void *addr4);

#endif
