/* pktbuf.h - a connection's own packets, kept while it is open, for -w
 * when the input cannot be read twice (live, stdin).
 *
 * Bounded twice: PKTBUF_SESSION_MAX bytes per connection, and
 * PKTBUF_TOTAL_MAX over all of them; what does not fit is counted (the -w
 * writer says so when the session is written), never kept.
 */
#ifndef SMTPSCOPE_PKTBUF_H
#define SMTPSCOPE_PKTBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bytebuf.h"
#include "timeval.h"

#define PKTBUF_SESSION_MAX ((size_t)1 << 20)
#define PKTBUF_TOTAL_MAX ((size_t)256 << 20)

struct pktbuf {
    struct bytebuf b;   /* records: struct pktrec, then caplen bytes, padded */
    uint64_t lost;      /* packets that did not fit */
};

struct pktrec {
    smtp_time ts;
    uint32_t caplen;
    int32_t dlt;
};

/* Keeps one frame in *pb (allocated on the first one). */
void pktbuf_add(struct pktbuf **pb, int dlt, smtp_time ts, const uint8_t *data,
                size_t caplen);
/* The next record from *off (start at 0), its bytes in *data; NULL at the end. */
const struct pktrec *pktbuf_next(const struct pktbuf *pb, size_t *off,
                                 const uint8_t **data);
void pktbuf_free(struct pktbuf *pb);

#endif
