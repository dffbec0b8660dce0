/* test_conntrack.c - the connection table as its bucket array grows: every
 * entry found from both directions, two entries of one key found newest
 * first after every growth, removal and the full table's refusal; the
 * room lists in activity order, through touches and removals. */
#include <stdint.h>
#include <string.h>

#include "conntrack.h"
#include "tap.h"

static struct endpoint ep(uint32_t host, uint16_t port)
{
    struct endpoint e;
    memset(&e, 0, sizeof e);
    e.family = 4;
    e.addr[0] = 198, e.addr[1] = 51, e.addr[2] = (uint8_t)(host >> 8), e.addr[3] = (uint8_t)host;
    e.port = port;
    return e;
}

#define N 20000

/* The room list's entries, oldest first, as host numbers; -1 ends it. */
static int room_order(const struct conntrack *ct, enum conn_room room, int *out, int max)
{
    int n = 0;
    for (struct conn *c = conntrack_room_oldest(ct, room); c && n < max; c = c->room_newer)
        out[n++] = c->client.addr[3];
    out[n] = -1;
    return n;
}

static void test_rooms(void)
{
    struct conntrack ct;
    conntrack_init(&ct, 16);
    struct endpoint srv = ep(0x0219, 25);
    struct conn *c[6];
    for (int i = 0; i < 6; i++) {
        struct endpoint cl = ep((uint32_t)i, (uint16_t)(2000 + i));
        c[i] = conntrack_add(&ct, &cl, &srv, 0);
        conntrack_room_join(&ct, c[i], i % 2 ? CONN_ROOM_DEAD : CONN_ROOM_ATTEMPT);
    }
    int got[8];
    room_order(&ct, CONN_ROOM_ATTEMPT, got, 7);
    CHECK(got[0] == 0 && got[1] == 2 && got[2] == 4 && got[3] == -1,
          "attempts oldest first: %d %d %d", got[0], got[1], got[2]);
    conntrack_touch(&ct, c[0], 2 * SMTP_NS_PER_SEC); /* a retransmitted SYN */
    room_order(&ct, CONN_ROOM_ATTEMPT, got, 7);
    CHECK(got[0] == 2 && got[1] == 4 && got[2] == 0, "a touched attempt moves to the new end");
    conntrack_room_join(&ct, c[2], CONN_ROOM_DEAD); /* it ended */
    room_order(&ct, CONN_ROOM_ATTEMPT, got, 7);
    int dead[8];
    room_order(&ct, CONN_ROOM_DEAD, dead, 7);
    CHECK(got[0] == 4 && got[1] == 0 && got[2] == -1 && dead[0] == 1 && dead[3] == 2 &&
              dead[4] == -1, "an entry joins one list at a time");
    conntrack_remove(&ct, c[4]);
    conntrack_remove(&ct, c[3]);
    room_order(&ct, CONN_ROOM_ATTEMPT, got, 7);
    room_order(&ct, CONN_ROOM_DEAD, dead, 7);
    CHECK(got[0] == 0 && got[1] == -1 && dead[0] == 1 && dead[1] == 5 && dead[2] == 2,
          "a removed entry leaves its room list");
    conntrack_room_leave(&ct, c[0]);
    CHECK(conntrack_room_oldest(&ct, CONN_ROOM_ATTEMPT) == NULL && c[0]->room == CONN_ROOM_NONE,
          "leaving empties the list");
    conntrack_free(&ct);
    CHECK(ct.room_oldest[CONN_ROOM_DEAD] == NULL, "freeing the table empties the lists");
}

int main(void)
{
    static struct conn *made[N];
    struct conntrack ct;
    CHECK(conntrack_init(&ct, N + 1) == 0, "a table of %d entries", N + 1);
    size_t first = ct.nbuckets;
    struct endpoint srv = ep(0x0219, 25);
    for (int i = 0; i < N; i++) {
        struct endpoint cl = ep((uint32_t)(i % 251), (uint16_t)(1024 + i));
        made[i] = conntrack_add(&ct, &cl, &srv, i);
    }
    CHECK(ct.nbuckets > first && ct.nbuckets <= ct.max_buckets && ct.nbuckets >= N / 2,
          "the buckets grew with the entries (%zu to %zu, at most %zu)", first, ct.nbuckets,
          ct.max_buckets);
    int lost = 0, wrong_dir = 0;
    for (int i = 0; i < N; i++) {
        struct endpoint cl = ep((uint32_t)(i % 251), (uint16_t)(1024 + i));
        bool fc = false, fs = true;
        if (conntrack_find(&ct, &cl, &srv, &fc) != made[i] ||
            conntrack_find(&ct, &srv, &cl, &fs) != made[i])
            lost++;
        else if (!fc || fs)
            wrong_dir++;
    }
    CHECK(made[N - 1] && lost == 0 && wrong_dir == 0,
          "every entry found from both sides after the growth (%d lost, %d wrong way)", lost,
          wrong_dir);

    /* one key twice (a tombstone and a new connection): the newer first */
    struct conntrack small;
    conntrack_init(&small, 5000);
    struct endpoint dup = ep(7, 4000);
    struct conn *old = conntrack_add(&small, &dup, &srv, 0), *newer = NULL;
    int order_kept = 0;
    for (int i = 0; i < 4000; i++) {
        struct endpoint cl = ep((uint32_t)(i % 200), (uint16_t)(5000 + i));
        conntrack_add(&small, &cl, &srv, i);
        if (i == 10)
            newer = conntrack_add(&small, &dup, &srv, i);
        bool fc;
        if (i > 10 && conntrack_find(&small, &dup, &srv, &fc) == newer)
            order_kept++;
    }
    CHECK(old && newer && order_kept == 4000 - 11 && small.nbuckets > 1024,
          "one key twice: the newer found first through every growth (%d of %d)", order_kept,
          4000 - 11);
    bool fc;
    conntrack_remove(&small, newer);
    CHECK(conntrack_find(&small, &dup, &srv, &fc) == old, "removed, the older one is found");
    conntrack_free(&small);

    for (int i = 0; i < N; i += 2)
        conntrack_remove(&ct, made[i]);
    int left = 0;
    for (int i = 0; i < N; i++) {
        struct endpoint cl = ep((uint32_t)(i % 251), (uint16_t)(1024 + i));
        left += conntrack_find(&ct, &cl, &srv, &fc) == (i % 2 ? made[i] : NULL);
    }
    CHECK(left == N && ct.count == N / 2, "half removed: the other half found (%d)", left);
    struct endpoint a = ep(1, 1), b = ep(2, 2);
    CHECK(conntrack_add(&ct, &a, &srv, 0) && conntrack_add(&ct, &b, &srv, 0),
          "room again after removals");
    conntrack_free(&ct);
    struct conntrack full;
    conntrack_init(&full, 2);
    conntrack_add(&full, &a, &srv, 0);
    conntrack_add(&full, &b, &srv, 0);
    struct endpoint c3 = ep(3, 3);
    CHECK(conntrack_add(&full, &c3, &srv, 0) == NULL, "a full table refuses a new entry");
    conntrack_free(&full);
    test_rooms();
    return tap_done();
}
