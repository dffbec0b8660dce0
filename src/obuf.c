/* obuf.c - a sink's own output buffer (see obuf.h). */
#include "obuf.h"

void obuf_flush(struct obuf *o)
{
    if (o->len)
        fwrite(o->buf, 1, o->len, o->f);
    o->len = 0;
}

void obuf_put_big(struct obuf *o, const void *s, size_t n)
{
    obuf_flush(o);
    fwrite(s, 1, n, o->f);
}

void obuf_printf(struct obuf *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = OBUF_CAP - o->len;
    int n = vsnprintf(o->buf + o->len, room, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < room) {
        o->len += (size_t)n;
        return;
    }
    /* did not fit: flush, then again with the whole buffer (or past it) */
    obuf_flush(o);
    va_start(ap, fmt);
    if ((size_t)n < OBUF_CAP)
        o->len = (size_t)vsnprintf(o->buf, OBUF_CAP, fmt, ap);
    else
        vfprintf(o->f, fmt, ap);
    va_end(ap);
}
