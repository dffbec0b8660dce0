/* bytebuf.c - bounded growable byte buffer (see bytebuf.h). */
#include "bytebuf.h"

#include <stdlib.h>
#include <string.h>

void bytebuf_free(struct bytebuf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* Grows capacity to hold `need` bytes, doubling, never above max. */
static bool bytebuf_reserve(struct bytebuf *b, size_t need)
{
    if (need <= b->cap)
        return true;
    if (need > b->max)
        return false;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > b->max / 2 ? b->max : cap * 2;
    char *p = realloc(b->p, cap);
    if (!p)
        return false;
    b->p = p;
    b->cap = cap;
    return true;
}

size_t bytebuf_append(struct bytebuf *b, const void *data, size_t n)
{
    size_t room = b->max - b->len;
    if (n > room)
        n = room;
    if (n == 0 || !bytebuf_reserve(b, b->len + n))
        return 0;
    memcpy(b->p + b->len, data, n);
    b->len += n;
    return n;
}

void *bytebuf_extend(struct bytebuf *b, size_t n)
{
    if (n > b->max - b->len || !bytebuf_reserve(b, b->len + n))
        return NULL;
    void *at = b->p + b->len;
    b->len += n;
    return at;
}
