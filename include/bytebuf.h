/* bytebuf.h - a growable byte buffer with a hard upper bound.
 *
 * Written once and used by every module that must keep bytes from the wire:
 * it starts empty (no allocation until first use), doubles as it grows and
 * refuses to grow past `max`, reporting what did not fit instead of
 * allocating without limit.
 */
#ifndef SMTPSCOPE_BYTEBUF_H
#define SMTPSCOPE_BYTEBUF_H

#include <stdbool.h>
#include <stddef.h>

struct bytebuf {
    char *p;
    size_t len, cap, max;
};

static inline void bytebuf_init(struct bytebuf *b, size_t max)
{
    b->p = NULL;
    b->len = b->cap = 0;
    b->max = max;
}

void bytebuf_free(struct bytebuf *b);

/* Appends as much of data as fits under max; returns the bytes appended. */
size_t bytebuf_append(struct bytebuf *b, const void *data, size_t n);

/* Reserves n bytes at the end and returns them, or NULL if over max. */
void *bytebuf_extend(struct bytebuf *b, size_t n);

static inline void bytebuf_clear(struct bytebuf *b) { b->len = 0; }

#endif
