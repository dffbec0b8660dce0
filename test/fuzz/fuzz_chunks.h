/* fuzz_chunks.h - the input format the SMTP fuzz targets share: a first
 * byte of flags for the target, then chunks of [flags][length][bytes];
 * a chunk's flags give its direction (bit 0: from the server) and how far
 * the clock moves before it (the other bits, times `tick`). The seeds in
 * test/fuzz/regress/{session,parser} are in this format. */
#ifndef SMTPSCOPE_FUZZ_CHUNKS_H
#define SMTPSCOPE_FUZZ_CHUNKS_H

#include <stddef.h>
#include <stdint.h>

#include "smtp_parser.h"

struct fuzz_chunk {
    enum smtp_dir dir;
    const char *p;
    size_t len;
    smtp_time ts;
};

/* The next chunk from *at (start at 1); false at the end of the input. */
static inline bool fuzz_next_chunk(const uint8_t *data, size_t size, size_t *at,
                                   smtp_time tick, struct fuzz_chunk *c)
{
    size_t i = *at;
    if (i + 2 > size)
        return false;
    uint8_t flags = data[i];
    size_t len = data[i + 1];
    i += 2;
    if (len > size - i)
        len = size - i;
    c->ts += (smtp_time)(flags >> 1) * tick;
    c->dir = (flags & 1) ? SMTP_FROM_SERVER : SMTP_FROM_CLIENT;
    c->p = (const char *)data + i;
    c->len = len;
    *at = i + len;
    return true;
}

#endif
