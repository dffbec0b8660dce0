/* obuf.h - a sink's own output buffer in front of its FILE.
 *
 * The text and JSON writers append a whole session here (a handful of
 * bytes at a time, hundreds of times a session) and hand it to stdio in one
 * fwrite when the session is written (obuf_flush): stdio's per-call locking
 * and bookkeeping are paid once a session, not once a fragment. Nothing
 * else writes to the FILE between a sink's appends and its flush, so the
 * bytes and their order are those of writing to the FILE directly.
 */
#ifndef SMTPSCOPE_OBUF_H
#define SMTPSCOPE_OBUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "escape.h"

#define OBUF_CAP (64 * 1024)

struct obuf {
    FILE *f;
    size_t len;
    char buf[OBUF_CAP];
};

/* Hands the buffered bytes to the FILE (fwrite; no fflush). */
void obuf_flush(struct obuf *o);
/* Room for n more bytes (n <= OBUF_CAP), flushing first when needed. */
static inline char *obuf_room(struct obuf *o, size_t n)
{
    if (OBUF_CAP - o->len < n)
        obuf_flush(o);
    return o->buf + o->len;
}

void obuf_put_big(struct obuf *o, const void *s, size_t n);

static inline void obuf_put(struct obuf *o, const void *s, size_t n)
{
    if (n > OBUF_CAP / 2) {
        obuf_put_big(o, s, n);
        return;
    }
    memcpy(obuf_room(o, n), s, n);
    o->len += n;
}

static inline void obuf_putc(struct obuf *o, char c)
{
    *obuf_room(o, 1) = c;
    o->len++;
}

static inline void obuf_puts(struct obuf *o, const char *s) { obuf_put(o, s, strlen(s)); }

/* A number in decimal, as printf's %u / %llu. */
static inline void obuf_putu(struct obuf *o, unsigned long long v)
{
    char d[20];
    size_t i = sizeof d;
    do
        d[--i] = (char)('0' + v % 10);
    while ((v /= 10));
    obuf_put(o, d + i, sizeof d - i);
}

/* As printf's %d. */
static inline void obuf_putd(struct obuf *o, int v)
{
    if (v < 0)
        obuf_putc(o, '-');
    obuf_putu(o, v < 0 ? -(unsigned long long)v : (unsigned long long)v);
}

/* As printf's %08x. */
static inline void obuf_puthex8(struct obuf *o, unsigned v)
{
    static const char hex[] = "0123456789abcdef";
    char *p = obuf_room(o, 8);
    for (int i = 0; i < 8; i++)
        p[i] = hex[(v >> (28 - 4 * i)) & 0xf];
    o->len += 8;
}

/* printf into the buffer: the same bytes fprintf would write. */
void obuf_printf(struct obuf *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* escape_write()'s bytes, into the buffer. */
void obuf_escape(struct obuf *o, const char *in, size_t n, enum escape_mode mode);

#endif
