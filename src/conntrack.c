/* conntrack.c - the SMTP connection table (see conntrack.h). */
#include "conntrack.h"

#include "pktbuf.h"

#include <stdlib.h>
#include <string.h>

#define CONNTRACK_FIRST_BUCKETS 1024

int conntrack_init(struct conntrack *ct, size_t max)
{
    memset(ct, 0, sizeof *ct);
    size_t n = CONNTRACK_FIRST_BUCKETS;
    while (n < 2 * max && n < ((size_t)1 << 25))
        n *= 2;
    ct->max_buckets = n;
    ct->nbuckets = CONNTRACK_FIRST_BUCKETS;
    ct->buckets = calloc(ct->nbuckets, sizeof *ct->buckets);
    if (!ct->buckets)
        return -1;
    ct->max = max;
    return 0;
}

/* Twice the buckets. Old bucket i splits into new i and i + n, each chain
 * keeping its order (of two entries with one key, the newer stays first).
 * Without memory the table stays as it is: longer chains, nothing lost. */
static void grow(struct conntrack *ct)
{
    size_t n = ct->nbuckets, mask = 2 * n - 1;
    struct conn **nb = calloc(2 * n, sizeof *nb);
    if (!nb)
        return;
    for (size_t i = 0; i < n; i++) {
        struct conn **tail[2] = {&nb[i], &nb[i + n]};
        for (struct conn *c = ct->buckets[i], *next; c; c = next) {
            next = c->hnext;
            struct conn ***t = &tail[(c->hash & mask) != i];
            c->hnext = NULL;
            c->hpprev = *t;
            **t = c;
            *t = &c->hnext;
        }
    }
    free(ct->buckets);
    ct->buckets = nb;
    ct->nbuckets = 2 * n;
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
    if (2 * ct->count >= ct->nbuckets && ct->nbuckets < ct->max_buckets)
        grow(ct);
    c->hash = flow_hash_symmetric(client, server);
    size_t b = c->hash & (ct->nbuckets - 1);
    c->hnext = ct->buckets[b];
    if (c->hnext)
        c->hnext->hpprev = &c->hnext;
    c->hpprev = &ct->buckets[b];
    ct->buckets[b] = c;
    list_append(ct, c);
    ct->count++;
    return c;
}

void conntrack_room_leave(struct conntrack *ct, struct conn *c)
{
    if (!c->room)
        return;
    if (c->room_older)
        c->room_older->room_newer = c->room_newer;
    else
        ct->room_oldest[c->room] = c->room_newer;
    if (c->room_newer)
        c->room_newer->room_older = c->room_older;
    else
        ct->room_newest[c->room] = c->room_older;
    c->room_older = c->room_newer = NULL;
    c->room = CONN_ROOM_NONE;
}

void conntrack_room_join(struct conntrack *ct, struct conn *c, enum conn_room room)
{
    conntrack_room_leave(ct, c);
    if (room == CONN_ROOM_NONE)
        return;
    c->room = (uint8_t)room;
    c->room_older = ct->room_newest[room];
    if (ct->room_newest[room])
        ct->room_newest[room]->room_newer = c;
    else
        ct->room_oldest[room] = c;
    ct->room_newest[room] = c;
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
        if (c->room) /* the room lists keep activity order too */
            conntrack_room_join(ct, c, c->room);
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
    *c->hpprev = c->hnext;
    if (c->hnext)
        c->hnext->hpprev = c->hpprev;
    list_unlink(ct, c);
    conntrack_room_leave(ct, c);
    ct->count--;
    free(c->notes);
    pktbuf_free(c->packets);
    reasm_flow_free(&c->flow);
    free(c);
}
