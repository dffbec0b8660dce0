/* reasm_alias.c - IPv6 connections under IPv4 aliases (see reasm_alias.h). */
#include "reasm_alias.h"

#include <stdlib.h>
#include <string.h>

/* 0.0.0.0/8 ("this network") is never the source or destination of TCP
 * on a wire, unlike every routable range and even 240.0.0.0/4 (which
 * anonymised traces use). 0.0.0.0 itself stays unused: libnids rejects it. */
#define ALIAS_NET 0x00000001u
#define ALIAS_MAX ((1u << 23) - 1) /* two addresses per slot */


/* An alias whose handshake never completed (a SYN nobody answered, one
 * answered by a reset) is released by its owner's timeout: the connection
 * table's for SMTP. DNS over TCP keeps no such table, so when the aliases
 * run out, the ones never opened and idle this long are taken back. */
#define ALIAS_REAP_NS (120 * SMTP_NS_PER_SEC)

static struct alias *aliases;
static smtp_time last_reap; /* alias_reap's last scan, when reaped */
static bool reaped;
static uint32_t alias_cap, alias_free = ALIAS_NIL, alias_limit;
static uint32_t *alias_buckets;
static uint32_t alias_nbuckets;

int alias_init(int max_streams)
{
    alias_limit = (uint32_t)max_streams * 2u;
    if (alias_limit > ALIAS_MAX || alias_limit < 256)
        alias_limit = alias_limit < 256 ? 256 : ALIAS_MAX;
    for (alias_nbuckets = 256; alias_nbuckets < alias_limit;)
        alias_nbuckets *= 2;
    alias_buckets = malloc((size_t)alias_nbuckets * sizeof *alias_buckets);
    if (!alias_buckets)
        return -1;
    for (uint32_t i = 0; i < alias_nbuckets; i++)
        alias_buckets[i] = ALIAS_NIL;
    return 0;
}

void alias_free_all(void)
{
    free(aliases);
    free(alias_buckets);
    aliases = NULL;
    alias_buckets = NULL;
    alias_cap = 0;
    reaped = false;
    alias_free = ALIAS_NIL;
}

struct alias *alias_at(uint32_t i) { return &aliases[i]; }

static uint32_t alias_bucket(const struct endpoint *a, const struct endpoint *b)
{
    return flow_hash_symmetric(a, b) & (alias_nbuckets - 1);
}

/* The slot of the IPv6 connection between a and b, in either direction. */
uint32_t alias_find(const struct endpoint *a, const struct endpoint *b,
                           bool *a_is_client)
{
    if (!alias_buckets)
        return ALIAS_NIL;
    for (uint32_t i = alias_buckets[alias_bucket(a, b)]; i != ALIAS_NIL;
         i = aliases[i].hnext) {
        const struct alias *al = &aliases[i];
        if (endpoint_eq(&al->client, a) && endpoint_eq(&al->server, b)) {
            *a_is_client = true;
            return i;
        }
        if (endpoint_eq(&al->client, b) && endpoint_eq(&al->server, a)) {
            *a_is_client = false;
            return i;
        }
    }
    return ALIAS_NIL;
}

static void alias_reap(smtp_time now, struct reasm_stats *stats)
{
    /* a scan of the whole table: at most once a second of capture time, or
     * a flood of SYNs into a table full of live aliases would pay it for
     * every packet */
    if (reaped && now >= last_reap && now - last_reap < SMTP_NS_PER_SEC)
        return;
    reaped = true;
    last_reap = now;
    for (uint32_t i = 0; i < alias_cap; i++)
        if (aliases[i].used && !aliases[i].opened && now - aliases[i].last_ts > ALIAS_REAP_NS) {
            alias_remove(i);
            stats->alias_reaped++;
        }
}

uint32_t alias_add(const struct endpoint *client, const struct endpoint *server,
                   smtp_time ts, struct reasm_stats *stats)
{
    if (alias_free == ALIAS_NIL && alias_cap >= alias_limit)
        alias_reap(ts, stats);
    if (alias_free == ALIAS_NIL) {
        if (alias_cap >= alias_limit)
            return ALIAS_NIL;
        uint32_t ncap = alias_cap ? alias_cap * 2 : 256;
        if (ncap > alias_limit)
            ncap = alias_limit;
        struct alias *na = realloc(aliases, (size_t)ncap * sizeof *na);
        if (!na)
            return ALIAS_NIL;
        aliases = na;
        for (uint32_t i = ncap; i-- > alias_cap;) {
            aliases[i].used = false;
            aliases[i].hnext = alias_free;
            alias_free = i;
        }
        alias_cap = ncap;
    }
    uint32_t i = alias_free;
    alias_free = aliases[i].hnext;
    struct alias *al = &aliases[i];
    al->client = *client;
    al->server = *server;
    al->used = true;
    al->opened = false;
    al->last_ts = ts;
    uint32_t b = alias_bucket(client, server);
    al->hnext = alias_buckets[b];
    alias_buckets[b] = i;
    stats->v6_flows++;
    return i;
}

void alias_remove(uint32_t i)
{
    struct alias *al = &aliases[i];
    uint32_t *pp = &alias_buckets[alias_bucket(&al->client, &al->server)];
    while (*pp != ALIAS_NIL && *pp != i)
        pp = &aliases[*pp].hnext;
    if (*pp == i)
        *pp = al->hnext;
    al->used = false;
    al->hnext = alias_free;
    alias_free = i;
}

void alias_addrs(uint32_t i, uint8_t client[4], uint8_t server[4])
{
    uint32_t c = ALIAS_NET + 2 * i, s = c + 1;
    for (int k = 0; k < 4; k++) {
        client[k] = (uint8_t)(c >> (24 - 8 * k));
        server[k] = (uint8_t)(s >> (24 - 8 * k));
    }
}

uint32_t alias_of_addr(const void *addr4)
{
    uint8_t a[4];
    memcpy(a, addr4, 4);
    uint32_t v = (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 |
                 (uint32_t)a[2] << 8 | a[3];
    uint32_t i = (v - ALIAS_NET) / 2;
    return i < alias_cap && aliases[i].used ? i : ALIAS_NIL;
}

