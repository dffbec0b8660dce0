/* fuzz_compare.c - libFuzzer target: --compare's pairing, diff and writers.
 *
 * The input is first checked as a raw digest frame (what a side's pipe
 * could carry: digest_check must refuse what is not one without reading
 * outside it), then read as two sides of up to 12 sessions each, built
 * from the bytes: addresses and ports from a small set (so tuples and
 * endpoints collide), start times, lines of every kind with their text and
 * latency, and the strings pairing uses. Every pair is diffed and written
 * as text, as JSON and as the --html page (its full views: every line of
 * both sides, every aligned row).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compare.h"

struct in {
    const uint8_t *p;
    size_t n;
};

static unsigned take(struct in *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

static struct dstr put(struct in *in, char *text, uint32_t *len, size_t max)
{
    size_t n = take(in) % 48;
    if (n > in->n)
        n = in->n;
    if (n > max - *len)
        n = max - *len;
    struct dstr s = {*len, (uint32_t)n};
    memcpy(text + *len, in->p, n);
    in->p += n;
    in->n -= n;
    *len += (uint32_t)n;
    return s;
}

#define TEXT_MAX 4096

static struct digest *build(struct in *in)
{
    unsigned nlines = take(in) % 40;
    size_t size = sizeof(struct digest) + nlines * sizeof(struct dline) + TEXT_MAX;
    struct digest *d = calloc(1, size);
    char *text = malloc(TEXT_MAX);
    if (!d || !text) {
        free(d);
        free(text);
        return NULL;
    }
    unsigned b = take(in);
    d->client = (struct endpoint){.addr = {192, 0, 2, (uint8_t)(b & 3)}, .family = 4,
                                  .port = (uint16_t)(40000 + (b >> 2 & 3))};
    d->server = (struct endpoint){.addr = {192, 0, 2, (uint8_t)(25 + (b >> 4 & 1))},
                                  .family = (uint8_t)(b & 0x20 ? 6 : 4), .port = 25};
    d->start = (smtp_time)(take(in) << 8 | take(in)) * 10000000;
    d->tcp_end = (uint8_t)(take(in) % TCP_END__COUNT);
    d->verdict = (uint8_t)(take(in) % VERDICT__COUNT);
    d->ehlo_keywords = take(in) << 4 | take(in);
    d->one_sided = take(in) & 1;
    d->cert = take(in) & 1;
    d->cert_sha256[0] = (uint8_t)take(in);
    d->msg_bytes = take(in);
    uint32_t len = 0;
    struct dline *l = (struct dline *)(d + 1);
    smtp_time t = d->start;
    for (unsigned i = 0; i < nlines; i++) {
        unsigned k = take(in);
        t += (smtp_time)take(in) * 1000000;
        struct dstr s = put(in, text, &len, TEXT_MAX);
        l[i] = (struct dline){.ts = t, .latency_ns = k & 0x10 ? (int64_t)take(in) * 1000000 : -1,
                              .value = k >> 5, .off = s.off, .len = s.len,
                              .kind = (uint8_t)(k & 3), .cmd = (uint8_t)(take(in) % 20),
                              .first = (k >> 2) & 1};
    }
    d->end = t;
    d->nlines = nlines;
    d->helo = put(in, text, &len, TEXT_MAX);
    d->mail_from = put(in, text, &len, TEXT_MAX);
    d->rcpts = put(in, text, &len, TEXT_MAX);
    d->message_id = put(in, text, &len, TEXT_MAX);
    d->first_cmd = put(in, text, &len, TEXT_MAX);
    d->text_len = len;
    memcpy(l + nlines, text, len);
    free(text);
    d->size = (uint32_t)(sizeof *d + nlines * sizeof(struct dline) + len);
    char err[128];
    if (!digest_check(d, err, sizeof err))
        abort(); /* the builder made a bad one: a bug of this target */
    return d;
}

static void raw_frame(const uint8_t *data, size_t size)
{
    if (size < sizeof(struct digest) || size > 65536)
        return;
    struct digest *d = malloc(size);
    if (!d)
        return;
    memcpy(d, data, size);
    d->size = (uint32_t)size; /* as digest_read leaves it: the bytes it read */
    char err[128];
    if (digest_check(d, err, sizeof err)) { /* then every offset is inside */
        const struct dline *l = digest_lines(d);
        volatile size_t sum = 0;
        for (uint32_t i = 0; i < d->nlines; i++)
            sum += (unsigned char)digest_text(d)[l[i].off + (l[i].len ? l[i].len - 1 : 0)];
        (void)sum;
    }
    free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *null;
    if (!null && !(null = fopen("/dev/null", "w")))
        return 0;
    raw_frame(data, size);
    struct in in = {data, size};
    struct digest *side[2][12];
    size_t n[2] = {take(&in) % 13, take(&in) % 13};
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < n[k]; i++)
            if (!(side[k][i] = build(&in)))
                n[k] = i;
    struct cmp_match *m;
    size_t nm;
    int64_t offset;
    if (compare_pair(side[0], n[0], side[1], n[1], &m, &nm, &offset) == 0) {
        struct cmp_writer *w[2] = {cmp_writer_new(null, false, true, false),
                                   cmp_writer_new(null, true, true, false)};
        static const char *const names[2] = {"client.pcap", "server.pcap"};
        struct cmp_html *h = cmp_html_new(null, names, "fuzz", offset);
        for (size_t i = 0; i < nm; i++) {
            const struct digest *c = m[i].c >= 0 ? side[0][m[i].c] : NULL;
            const struct digest *s = m[i].s >= 0 ? side[1][m[i].s] : NULL;
            struct cmp_result r;
            if (compare_diff(c, s, offset, 1000, &r) < 0)
                continue;
            for (int k = 0; k < 2; k++)
                if (w[k])
                    cmp_write_pair(w[k], &m[i], c, s, &r);
            if (h)
                cmp_html_pair(h, &m[i], c, s, &r);
            cmp_result_free(&r);
        }
        for (int k = 0; k < 2; k++)
            if (w[k]) {
                cmp_writer_finish(w[k], n[0], n[1], offset);
                cmp_writer_free(w[k]);
            }
        if (h)
            cmp_html_finish(h, n[0], n[1], offset);
        cmp_html_free(h);
        free(m);
    }
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < n[k]; i++)
            free(side[k][i]);
    return 0;
}
