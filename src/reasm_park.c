/* reasm_park.c - segments held back from libnids (see reasm_park.h). */
#include "reasm_park.h"

#include <stdlib.h>
#include <string.h>

static size_t parked_total; /* bytes parked in all connections */

static bool after(uint32_t a, uint32_t b) { return (int32_t)(a - b) > 0; }

/* libnids drops a segment whose TCP timestamp is older than the last one
 * it took from that side (PAWS), and a parked segment is older than the
 * copy that filled the hole before it: its timestamp option becomes NOPs
 * (the packet starts with a 20-byte IPv4 header, as handed over). */
static void strip_timestamp(uint8_t *ip, size_t len)
{
    if (len < 40)
        return;
    uint8_t *t = ip + 20;
    size_t hl = (size_t)(t[12] >> 4) * 4;
    if (hl > len - 20)
        return;
    for (size_t o = 20; o < hl;) {
        if (t[o] == 0)
            return;
        if (t[o] == 1) {
            o++;
            continue;
        }
        if (o + 1 >= hl || t[o + 1] < 2 || o + t[o + 1] > hl)
            return;
        if (t[o] == 8)
            memset(t + o, 1, t[o + 1]);
        o += t[o + 1];
    }
}

bool park_take(struct reasm_flow *f, int dir, uint32_t seq, const uint8_t *ip, size_t len)
{
    struct reasm_park_side *ps = &f->park[dir];
    if (ps->bytes + len > REASM_PARK_SIDE_MAX || parked_total + len > REASM_PARK_TOTAL_MAX)
        return false;
    struct reasm_parked **pp = &ps->head;
    if (ps->tail && after(seq, ps->tail->seq)) /* the usual case: in order */
        pp = &ps->tail->next;
    else
        while (*pp && after(seq, (*pp)->seq))
            pp = &(*pp)->next;
    if (*pp && (*pp)->seq == seq && (*pp)->len >= len)
        return true; /* a copy of one already parked */
    struct reasm_parked *p = malloc(sizeof *p + len);
    if (!p)
        return false;
    p->seq = seq;
    p->len = (uint32_t)len;
    memcpy(p->ip, ip, len);
    strip_timestamp(p->ip, len);
    p->next = *pp;
    *pp = p;
    if (!p->next)
        ps->tail = p;
    ps->bytes += len;
    parked_total += len;
    return true;
}

struct reasm_parked *park_pop(struct reasm_flow *f, int dir)
{
    struct reasm_park_side *ps = &f->park[dir];
    struct reasm_parked *p = ps->head;
    if (!p)
        return NULL;
    ps->head = p->next;
    if (!ps->head)
        ps->tail = NULL;
    ps->bytes -= p->len;
    parked_total -= p->len;
    return p;
}

void park_push_front(struct reasm_flow *f, int dir, struct reasm_parked *p)
{
    struct reasm_park_side *ps = &f->park[dir];
    p->next = ps->head;
    ps->head = p;
    if (!ps->tail)
        ps->tail = p;
    ps->bytes += p->len;
    parked_total += p->len;
}

void park_release(struct reasm_parked *p) { free(p); }

void reasm_flow_free(struct reasm_flow *f)
{
    for (int d = 0; d < 2; d++) {
        struct reasm_parked *p;
        while ((p = park_pop(f, d)))
            free(p);
    }
}
