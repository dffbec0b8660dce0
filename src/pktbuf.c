/* pktbuf.c - bounded per-connection packet buffers (see pktbuf.h). */
#include "pktbuf.h"

#include <stdlib.h>
#include <string.h>

static size_t total; /* bytes held by every buffer together */

static size_t padded(size_t n) { return (n + 7) & ~(size_t)7; }

void pktbuf_add(struct pktbuf **pb, int dlt, smtp_time ts, const uint8_t *data,
                size_t caplen)
{
    if (!*pb) {
        if (!(*pb = calloc(1, sizeof **pb)))
            return;
        bytebuf_init(&(*pb)->b, PKTBUF_SESSION_MAX);
    }
    struct pktbuf *p = *pb;
    size_t need = sizeof(struct pktrec) + padded(caplen);
    size_t before = p->b.cap;
    char *at = total + need <= PKTBUF_TOTAL_MAX ? bytebuf_extend(&p->b, need) : NULL;
    total += p->b.cap - before;
    if (!at) {
        p->lost++;
        return;
    }
    struct pktrec r = {ts, (uint32_t)caplen, dlt};
    memcpy(at, &r, sizeof r);
    memcpy(at + sizeof r, data, caplen);
}

const struct pktrec *pktbuf_next(const struct pktbuf *pb, size_t *off,
                                 const uint8_t **data)
{
    if (!pb || *off + sizeof(struct pktrec) > pb->b.len)
        return NULL;
    const struct pktrec *r = (const void *)(pb->b.p + *off);
    *data = (const uint8_t *)pb->b.p + *off + sizeof *r;
    *off += sizeof *r + padded(r->caplen);
    return r;
}

void pktbuf_free(struct pktbuf *pb)
{
    if (!pb)
        return;
    total -= pb->b.cap < total ? pb->b.cap : total;
    bytebuf_free(&pb->b);
    free(pb);
}
