/* digest.c - a session as --compare keeps it, and its trip over a pipe.
 *
 * The transcript already holds credentials as "***" (session.c), so a
 * digest never carries a secret; it keeps wire lines, not escaped ones:
 * the writers escape.
 */
#include "digest.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fdio.h"
#include "session.h"
#include "tls_reader.h"

struct builder {
    struct digest *d;
    struct dline *lines;
    char *text;
    bool prev_final; /* the server's last line ended its reply */
};

static struct dstr put_text(struct builder *b, const char *p, size_t n)
{
    struct digest *d = b->d;
    if (n > DIGEST_LINE_MAX)
        n = DIGEST_LINE_MAX;
    if (n > DIGEST_TEXT_MAX - d->text_len)
        n = DIGEST_TEXT_MAX - d->text_len;
    struct dstr s = {d->text_len, (uint32_t)n};
    memcpy(b->text + d->text_len, p, n);
    d->text_len += (uint32_t)n;
    return s;
}

static bool is_final_reply_line(const char *t, size_t n)
{
    return n < 4 || t[3] != '-';
}

static void add_line(struct builder *b, const struct tline *l, const char *text)
{
    static const uint8_t kind_of[] = {
        [TL_CLIENT] = DL_CLIENT, [TL_SERVER] = DL_SERVER, [TL_BODY] = DL_BODY,
        [TL_TLS] = DL_TLS,
    };
    if (l->kind > TL_TLS)
        return; /* notes and findings are smtpscope's, not the wire's */
    struct digest *d = b->d;
    if (d->nlines == DIGEST_MAX_LINES || d->text_len == DIGEST_TEXT_MAX) {
        d->lines_dropped++;
        return;
    }
    struct dline *o = &b->lines[d->nlines++];
    struct dstr s = put_text(b, text, l->len);
    *o = (struct dline){.ts = l->ts, .latency_ns = l->latency_ns, .value = l->value,
                        .off = s.off, .len = s.len, .kind = kind_of[l->kind]};
    if (l->kind == TL_CLIENT && !d->first_cmd.len)
        d->first_cmd = s;
    if (l->kind == TL_SERVER) {
        o->first = b->prev_final;
        o->cmd = o->first ? (uint8_t)l->aux : 0;
        b->prev_final = is_final_reply_line(text, l->len);
    } else {
        b->prev_final = true;
    }
}

static int cmp_words(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The recipients as one comparable string: lower case, sorted, spaced. */
static struct dstr put_rcpts(struct builder *b, const struct session *s)
{
    enum { MAX = 64 };
    char *words[MAX], buf[4096];
    size_t used = 0, n = 0;
    for (uint32_t i = 0; i < s->nrcpt && n < MAX; i++) {
        const char *a = session_str(s, s->rcpts[i].addr);
        size_t len = strlen(a);
        if (len + 1 > sizeof buf - used)
            break;
        words[n++] = buf + used;
        for (size_t k = 0; k < len; k++)
            buf[used++] = (char)tolower((unsigned char)a[k]);
        buf[used++] = '\0';
    }
    qsort(words, n, sizeof *words, cmp_words);
    char joined[4096];
    size_t jl = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(words[i]);
        if (jl + len + 1 > sizeof joined)
            break;
        if (jl)
            joined[jl++] = ' ';
        memcpy(joined + jl, words[i], len);
        jl += len;
    }
    return put_text(b, joined, jl);
}

static void put_envelope(struct builder *b, const struct session *s)
{
    struct digest *d = b->d;
    const char *h = session_str(s, s->helo);
    d->helo = put_text(b, h, strlen(h));
    for (uint32_t i = 0; i < s->ntxn; i++) {
        const struct txn *t = &s->txns[i];
        d->msg_bytes += t->body_seen ? t->bytes : 0;
        /* a reference never set (len 0) points at the strings' start, the
         * HELO name: only its length says it is there */
        const char *from = session_str(s, t->mail_from);
        if (t->has_mail && !d->mail_from.len && t->mail_from.len && *from)
            d->mail_from = put_text(b, from, strlen(from));
        const char *mid = session_str(s, t->hdr_message_id);
        if (!d->message_id.len && t->hdr_message_id.len && *mid)
            d->message_id = put_text(b, mid, strlen(mid));
    }
    d->rcpts = put_rcpts(b, s);
}

static void put_facts(struct digest *d, const struct session *s)
{
    d->id = s->id;
    d->client = s->client;
    d->server = s->server;
    d->start = s->start;
    d->end = s->end;
    d->handshake = (uint8_t)s->handshake;
    d->tcp_end = (uint8_t)s->tcp_end;
    d->verdict = (uint8_t)s->verdict;
    d->fail_phase = (uint8_t)s->failure.phase;
    d->fail_code = s->failure.code;
    d->quit = s->quit_ok;
    d->tls = s->tls;
    d->one_sided = s->client_side_only || s->server_side_only;
    d->ehlo_keywords = s->ehlo_keywords;
    d->ntxn = s->ntxn;
    d->nrcpt = s->nrcpt;
    d->first_frame = s->first_frame;
    d->found = s->found;
    if (s->tls_hs && s->tls_hs->cert.parsed) {
        d->cert = true;
        memcpy(d->cert_sha256, s->tls_hs->cert.sha256, sizeof d->cert_sha256);
    }
}

struct digest *digest_of(const struct session *s)
{
    size_t cap = sizeof(struct digest) + DIGEST_MAX_LINES * sizeof(struct dline) +
                 DIGEST_TEXT_MAX;
    struct digest *d = calloc(1, cap);
    if (!d)
        return NULL;
    struct builder b = {.d = d, .lines = (struct dline *)(d + 1), .prev_final = true};
    char *text = malloc(DIGEST_TEXT_MAX);
    if (!text) {
        free(d);
        return NULL;
    }
    b.text = text;
    put_facts(d, s);
    size_t off = 0;
    const char *t;
    for (const struct tline *l; (l = session_next_line(s, &off, &t));)
        add_line(&b, l, t);
    put_envelope(&b, s);
    /* the text goes right after the lines actually used */
    memcpy((char *)(b.lines + d->nlines), text, d->text_len);
    free(text);
    d->size = (uint32_t)(sizeof *d + d->nlines * sizeof(struct dline) + d->text_len);
    struct digest *small = realloc(d, d->size);
    return small ? small : d;
}

/* ---- the side's sink: one frame a session ----------------------------------------- */

struct digest_sink {
    struct sink base;
    int fd;
    bool broken; /* the parent is gone: stop trying */
};


static void digest_sink_session(struct sink *base, const struct session *s)
{
    struct digest_sink *k = (struct digest_sink *)base;
    if (k->broken)
        return;
    struct digest *d = digest_of(s);
    if (!d) {
        fprintf(stderr, "smtpscope: --compare: out of memory: session %08x not compared\n",
                s->id);
        return;
    }
    if (!fd_write_all(k->fd, d, d->size))
        k->broken = true;
    free(d);
}

static void digest_sink_finish(struct sink *base)
{
    (void)base;
}

static void digest_sink_destroy(struct sink *base)
{
    free(base);
}

struct sink *digest_sink_new(int fd)
{
    struct digest_sink *k = calloc(1, sizeof *k);
    if (!k)
        return NULL;
    k->base = (struct sink){.session = digest_sink_session, .finish = digest_sink_finish,
                            .destroy = digest_sink_destroy};
    k->fd = fd;
    return &k->base;
}

/* ---- the parent's side: frames back into digests ------------------------------ */


static bool str_ok(const struct digest *d, struct dstr s)
{
    return s.off <= d->text_len && s.len <= d->text_len - s.off;
}

bool digest_check(const struct digest *d, char *err, size_t errlen)
{
    const char *why = NULL;
    if (d->nlines > DIGEST_MAX_LINES || d->text_len > DIGEST_TEXT_MAX ||
        d->size != sizeof *d + d->nlines * sizeof(struct dline) + d->text_len)
        why = "sizes do not add up";
    for (uint32_t i = 0; !why && i < d->nlines; i++) {
        const struct dline *l = &digest_lines(d)[i];
        if (l->off > d->text_len || l->len > d->text_len - l->off || l->kind > DL_TLS)
            why = "a line outside the text";
    }
    if (!why && !(str_ok(d, d->helo) && str_ok(d, d->mail_from) && str_ok(d, d->rcpts) &&
                  str_ok(d, d->message_id) && str_ok(d, d->first_cmd)))
        why = "a string outside the text";
    if (why)
        snprintf(err, errlen, "a side sent a bad session record: %s", why);
    return !why;
}

int digest_read(int fd, struct digest **out, char *err, size_t errlen)
{
    uint32_t size;
    int r = fd_read_all(fd, &size, sizeof size);
    if (r <= 0) {
        if (r < 0)
            snprintf(err, errlen, "a side's record stream was cut");
        return r;
    }
    if (size < sizeof(struct digest) || size > DIGEST_MAX_SIZE) {
        snprintf(err, errlen, "a side sent a record of %u bytes", size);
        return -1;
    }
    struct digest *d = malloc(size);
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    d->size = size;
    if (fd_read_all(fd, (char *)d + sizeof size, size - sizeof size) != 1) {
        snprintf(err, errlen, "a side's record stream was cut");
        free(d);
        return -1;
    }
    if (!digest_check(d, err, errlen)) {
        free(d);
        return -1;
    }
    *out = d;
    return 1;
}
