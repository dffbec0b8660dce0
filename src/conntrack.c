/* conntrack.c - the SMTP connection table (see conntrack.h). */
#include "conntrack.h"

#include "pktbuf.h"

#include <stdlib.h>
#include <string.h>

int conntrack_init(struct conntrack *ct, size_t max)
{
    memset(ct, 0, sizeof *ct);
    size_t n = 1024;
    while (n < max && n < ((size_t)1 << 24))
        n *= 2;
    ct->buckets = calloc(n, sizeof *ct->buckets);
    if (!ct->buckets)
        return -1;
    ct->nbuckets = n;
    ct->max = max;
    return 0;
}

void conntrack_free(struct conntrack *ct)
{
    while (ct->oldest)
        conntrack_remove(ct, ct->oldest);
    free(ct->buckets);
    ct->buckets = NULL;
}

static size_t bucket_of(const struct conntrack *ct, const struct endpoint *a,
                        const struct endpoint *b)
{
    return flow_hash_symmetric(a, b) & (ct->nbuckets - 1);
}

struct conn *conntrack_find(struct conntrack *ct, const struct endpoint *a,
                            const struct endpoint *b, bool *from_client)
{
    for (struct conn *c = ct->buckets[bucket_of(ct, a, b)]; c; c = c->hnext) {
        if (endpoint_eq(&c->client, a) && endpoint_eq(&c->server, b)) {
            *from_client = true;
            return c;
        }
        if (endpoint_eq(&c->client, b) && endpoint_eq(&c->server, a)) {
            *from_client = false;
            return c;
        }
    }
    return NULL;
}

static void list_unlink(struct conntrack *ct, struct conn *c)
{
    if (c->older)
        c->older->newer = c->newer;
    else
        ct->oldest = c->newer;
    if (c->newer)
        c->newer->older = c->older;
    else
        ct->newest = c->older;
    c->older = c->newer = NULL;
}

static void list_append(struct conntrack *ct, struct conn *c)
{
    c->older = ct->newest;
    c->newer = NULL;
    if (ct->newest)
        ct->newest->newer = c;
    else
        ct->oldest = c;
    ct->newest = c;
}

struct conn *conntrack_add(struct conntrack *ct, const struct endpoint *client,
                           const struct endpoint *server, smtp_time ts)
{
    if (ct->count >= ct->max)
        return NULL;
    struct conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->client = *client;
    c->server = *server;
    c->syn_ts = c->last_ts = c->linked_ts = ts;
    size_t b = bucket_of(ct, client, server);
    c->hnext = ct->buckets[b];
    ct->buckets[b] = c;
    list_append(ct, c);
    ct->count++;
    return c;
}

/* The activity list is ordered to the second, not to the packet: moving an
 * entry touches its two neighbours, cache misses on every packet of a busy
 * capture. An entry's last_ts is at most a second past its linked_ts. */
void conntrack_touch(struct conntrack *ct, struct conn *c, smtp_time ts)
{
    c->last_ts = ts;
    if (ts - c->linked_ts >= SMTP_NS_PER_SEC && ct->newest != c) {
        list_unlink(ct, c);
        list_append(ct, c);
        c->linked_ts = ts;
    }
}

struct conn_notes *conn_notes(struct conn *c)
{
    if (!c->notes)
        c->notes = calloc(1, sizeof *c->notes);
    return c->notes;
}

void conntrack_remove(struct conntrack *ct, struct conn *c)
{
    struct conn **pp = &ct->buckets[bucket_of(ct, &c->client, &c->server)];
    while (*pp && *pp != c)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = c->hnext;
    list_unlink(ct, c);
    ct->count--;
    free(c->notes);
    pktbuf_free(c->packets);
    reasm_flow_free(&c->flow);
    free(c);
}
