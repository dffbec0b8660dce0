/* capture_gz.c - what a capture file or stream is packed in.
 *
 * gzip is read through zlib, as tshark reads it; xz, bzip2 and zstd are
 * refused with the command to pipe them through. A regular file is looked
 * at and rewound. A stream (stdin, a FIFO) cannot be rewound: its first
 * bytes are read to look at and then served again ahead of the rest, plain
 * or inflated (zlib's inflate, gzip members one after another as gzip -d
 * reads them). Streams are read with read(2), which returns what a pipe
 * holds: a live `tcpdump -w - | smtpscope -l -r -` is not held back until
 * a buffer fills.
 */
#define _GNU_SOURCE /* fopencookie */
#include "capture_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define HEAD 6

/* xz, bzip2, zstd by their magic: the message, or NULL. */
static const char *refused(const unsigned char *head, size_t got)
{
    static const struct {
        const char *magic, *name;
        size_t len;
    } packed[] = {
        {"\xfd" "7zXZ", "xz", 5}, {"BZh", "bzip2", 3}, {"\x28\xb5\x2f\xfd", "zstd", 4},
    };
    for (size_t i = 0; i < sizeof packed / sizeof packed[0]; i++)
        if (got >= packed[i].len && memcmp(head, packed[i].magic, packed[i].len) == 0) {
            static char msg[128];
            snprintf(msg, sizeof msg, "compressed with %s, which is not read directly "
                     "(decompress it, or pipe it: %s -dc FILE | smtpscope -r -)",
                     packed[i].name, packed[i].name);
            return msg;
        }
    return NULL;
}

static bool gzip_magic(const unsigned char *head, size_t got)
{
    return got >= 2 && head[0] == 0x1f && head[1] == 0x8b;
}

/* ---- a regular file: gzread --------------------------------------------------- */

static ssize_t gz_read(void *c, char *buf, size_t n)
{
    int r = gzread((gzFile)c, buf, n > INT32_MAX ? INT32_MAX : (unsigned)n);
    return r < 0 ? -1 : r;
}

static int gz_close(void *c)
{
    return gzclose((gzFile)c) == Z_OK ? 0 : -1;
}

static FILE *gz_file(FILE *fp)
{
    gzFile gz = gzdopen(dup(fileno(fp)), "rb");
    fclose(fp);
    if (!gz)
        return NULL;
    gzbuffer(gz, 1 << 18);
    FILE *cf = fopencookie(gz, "rb", (cookie_io_functions_t){.read = gz_read, .close = gz_close});
    if (!cf)
        gzclose(gz);
    return cf;
}

/* ---- a stream: its first block served again, plain or inflated ------------------ */

#define BLOCK (1 << 16)

struct stream {
    FILE *in;            /* not ours to close (stdin) unless own */
    int fd;
    bool own, gz, done, eof;
    unsigned char block[BLOCK];
    size_t len, pos;     /* what of block is still unread */
    z_stream z;
};

static ssize_t read_some(struct stream *s, void *buf, size_t n)
{
    ssize_t r;
    do
        r = read(s->fd, buf, n);
    while (r < 0 && errno == EINTR);
    s->eof = r == 0;
    return r;
}

/* The next input bytes: what is left of the block, then the stream's. */
static size_t more(struct stream *s, const unsigned char **p)
{
    if (s->pos == s->len) {
        ssize_t r = read_some(s, s->block, BLOCK);
        s->len = r > 0 ? (size_t)r : 0;
        s->pos = 0;
    }
    *p = s->block + s->pos;
    size_t n = s->len - s->pos;
    s->pos = s->len;
    return n;
}

static ssize_t plain_read(struct stream *s, char *buf, size_t n)
{
    if (s->pos == s->len) /* past the first bytes: straight from the stream */
        return read_some(s, buf, n);
    size_t k = s->len - s->pos < n ? s->len - s->pos : n;
    memcpy(buf, s->block + s->pos, k);
    s->pos += k;
    return (ssize_t)k;
}

static ssize_t inflate_read(struct stream *s, char *buf, size_t n)
{
    s->z.next_out = (unsigned char *)buf;
    s->z.avail_out = n > UINT32_MAX ? UINT32_MAX : (unsigned)n;
    while (s->z.avail_out && !s->done) {
        if (!s->z.avail_in) {
            const unsigned char *p;
            s->z.avail_in = (unsigned)more(s, &p);
            s->z.next_in = (unsigned char *)p;
            if (!s->z.avail_in)
                break; /* the stream ended: what came is what there is */
        }
        int r = inflate(&s->z, Z_NO_FLUSH);
        if (r == Z_STREAM_END) { /* another member may follow */
            const unsigned char *p = s->z.next_in;
            unsigned left = s->z.avail_in;
            inflateReset(&s->z);
            s->z.next_in = (unsigned char *)p;
            s->z.avail_in = left;
            if (!left && s->eof && s->pos == s->len)
                s->done = true;
        } else if (r != Z_OK && r != Z_BUF_ERROR) {
            errno = EIO;
            return -1;
        }
    }
    return (ssize_t)(n - s->z.avail_out);
}

static ssize_t stream_read(void *c, char *buf, size_t n)
{
    struct stream *s = c;
    return s->gz ? inflate_read(s, buf, n) : plain_read(s, buf, n);
}

static int stream_close(void *c)
{
    struct stream *s = c;
    if (s->gz)
        inflateEnd(&s->z);
    int rc = s->own ? fclose(s->in) : 0;
    free(s);
    return rc;
}

static FILE *stream_file(FILE *in, bool own, const char **why)
{
    struct stream *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->in = in;
    s->fd = fileno(in);
    s->own = own;
    while (s->len < HEAD) { /* the magic: a few bytes, however they come */
        ssize_t r = read_some(s, s->block + s->len, HEAD - s->len);
        if (r <= 0)
            break;
        s->len += (size_t)r;
    }
    if ((*why = refused(s->block, s->len))) {
        free(s);
        return NULL;
    }
    s->gz = gzip_magic(s->block, s->len);
    if (s->gz && inflateInit2(&s->z, 16 + MAX_WBITS) != Z_OK) {
        free(s);
        return NULL;
    }
    FILE *cf = fopencookie(s, "rb", (cookie_io_functions_t){.read = stream_read,
                                                             .close = stream_close});
    if (!cf)
        stream_close(s);
    return cf;
}

FILE *capture_open(const char *file, const char **why)
{
    if (strcmp(file, "-") == 0)
        return stream_file(stdin, false, why);
    FILE *fp = fopen(file, "rb");
    if (!fp)
        return NULL;
    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode))
        return stream_file(fp, true, why); /* a FIFO or a device */
    unsigned char head[HEAD] = {0};
    size_t got = fread(head, 1, sizeof head, fp);
    rewind(fp);
    if ((*why = refused(head, got))) {
        fclose(fp);
        return NULL;
    }
    return gzip_magic(head, got) ? gz_file(fp) : fp;
}
