/* reasm_park.c - segments held back from libnids (see reasm_park.h). */
#include "reasm_park.h"

#include <stdlib.h>
#include <string.h>

static size_t parked_total; /* bytes parked in all connections */

static bool after(uint32_t a, uint32_t b) { return (int32_t)(a - b) > 0; }

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
