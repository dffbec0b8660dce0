/* compare_diff.c - the two views of one session, aligned, and what differs.
 *
 * The dialogues are aligned by their longest common subsequence of equal
 * lines (after the common head and tail, which is most of a session on a
 * clean path). Between two equal lines, what is left on each side is
 * paired by kind in order: a client line against a client line is a
 * command changed on the way, a line with no partner was dropped or
 * injected. Claims about a line one side lacks are made only while that
 * side's capture was watching the session.
 */
#include "compare.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "esmtp.h"
#include "session.h"
#include "smtp_parser.h"

struct view {
    const struct digest *d;
    const struct dline *l;
    uint32_t n;
    uint8_t *reply_cmd; /* per line: the command its reply answers */
};

static bool same_line(const struct view *c, uint32_t i, const struct view *s, uint32_t j)
{
    const struct dline *a = &c->l[i], *b = &s->l[j];
    if (a->kind != b->kind)
        return false;
    if (a->kind == DL_BODY)
        return a->value == b->value;
    return a->len == b->len &&
           memcmp(digest_text(c->d) + a->off, digest_text(s->d) + b->off, a->len) == 0;
}

/* Most of a line is one filler byte: a device masked it ("XXXXXXXX",
 * "220 *****"), keeping its length. */
static bool masked(const char *t, uint32_t n)
{
    uint32_t x = 0;
    for (uint32_t k = 0; k < n; k++)
        x += t[k] == 'X' || t[k] == '*';
    return n && x * 5 >= n * 3;
}

static uint32_t verb_len(const char *t, uint32_t n)
{
    uint32_t k = 0;
    while (k < n && t[k] != ' ' && t[k] != ':')
        k++;
    return k;
}

/* Two lines in the same place that may be one line changed on the way:
 * a command with the same verb or masked, a reply to the same command. */
static bool similar(const struct view *c, uint32_t i, const struct view *s, uint32_t j)
{
    const struct dline *a = &c->l[i], *b = &s->l[j];
    if (a->kind != b->kind)
        return false;
    if (a->kind == DL_SERVER)
        return c->reply_cmd[i] == s->reply_cmd[j];
    if (a->kind != DL_CLIENT)
        return true;
    const char *x = digest_text(c->d) + a->off, *y = digest_text(s->d) + b->off;
    uint32_t vx = verb_len(x, a->len), vy = verb_len(y, b->len);
    return masked(x, a->len) || masked(y, b->len) ||
           (vx == vy && strncasecmp(x, y, vx) == 0);
}

/* One stream of a side: its client lines (with body and TLS notes) or its
 * server lines, in order. The two streams are aligned apart: pipelining
 * (a relay's, say) changes how commands and replies interleave, never
 * the order of the commands or of the replies. */
struct stream {
    const struct view *v;
    uint32_t *ix; /* line indexes */
    uint32_t n;
};

struct rows {
    struct cmp_row *r;
    size_t n;
};

static void push_row(struct rows *o, int c, int s, uint8_t mark)
{
    o->r[o->n++] = (struct cmp_row){c, s, mark}; /* room: rows never outnumber lines */
}

static bool same_at(const struct stream *c, uint32_t i, const struct stream *s, uint32_t j)
{
    return same_line(c->v, c->ix[i], s->v, s->ix[j]);
}

/* The lines between two equal ones: each client-side line is paired with
 * the first similar server-side line left (those skipped on the way are
 * the server side's alone), or stands alone. */
static void flush_run(struct rows *o, const struct stream *c, uint32_t i, uint32_t ie,
                      const struct stream *s, uint32_t j, uint32_t je)
{
    for (; i < ie; i++) {
        uint32_t k = j;
        while (k < je && !similar(c->v, c->ix[i], s->v, s->ix[k]))
            k++;
        if (k == je) {
            push_row(o, (int)c->ix[i], -1, CMP_ONLY);
            continue;
        }
        while (j < k)
            push_row(o, -1, (int)s->ix[j++], CMP_ONLY);
        push_row(o, (int)c->ix[i], (int)s->ix[j++], CMP_CHANGED);
    }
    while (j < je)
        push_row(o, -1, (int)s->ix[j++], CMP_ONLY);
}

/* LCS over the middle part [i0, ie) x [j0, je) (uint16: lines are bounded). */
static bool align_middle(struct rows *o, const struct stream *c, uint32_t i0, uint32_t ie,
                         const struct stream *s, uint32_t j0, uint32_t je)
{
    size_t n = ie - i0, m = je - j0, w = m + 1;
    uint16_t *L = calloc((n + 1) * w, sizeof *L);
    if (!L)
        return false;
    for (size_t i = n; i-- > 0;)
        for (size_t j = m; j-- > 0;)
            L[i * w + j] = same_at(c, (uint32_t)(i0 + i), s, (uint32_t)(j0 + j))
                               ? (uint16_t)(L[(i + 1) * w + j + 1] + 1)
                           : L[(i + 1) * w + j] >= L[i * w + j + 1] ? L[(i + 1) * w + j]
                                                                    : L[i * w + j + 1];
    size_t i = 0, j = 0, ri = 0, rj = 0;
    while (i < n && j < m) {
        if (same_at(c, (uint32_t)(i0 + i), s, (uint32_t)(j0 + j)) &&
            L[i * w + j] == L[(i + 1) * w + j + 1] + 1) {
            flush_run(o, c, (uint32_t)(i0 + ri), (uint32_t)(i0 + i), s, (uint32_t)(j0 + rj),
                      (uint32_t)(j0 + j));
            push_row(o, (int)c->ix[i0 + i], (int)s->ix[j0 + j], CMP_SAME);
            ri = ++i;
            rj = ++j;
        } else if (L[(i + 1) * w + j] >= L[i * w + j + 1]) {
            i++;
        } else {
            j++;
        }
    }
    free(L);
    flush_run(o, c, (uint32_t)(i0 + ri), ie, s, (uint32_t)(j0 + rj), je);
    return true;
}

/* Rows of one stream: the common head and tail (most of a session on a
 * clean path) directly, the LCS only in between. */
static bool align_stream(struct rows *o, const struct stream *c, const struct stream *s)
{
    uint32_t head = 0, tail = 0;
    while (head < c->n && head < s->n && same_at(c, head, s, head))
        push_row(o, (int)c->ix[head], (int)s->ix[head], CMP_SAME), head++;
    while (tail < c->n - head && tail < s->n - head &&
           same_at(c, c->n - 1 - tail, s, s->n - 1 - tail))
        tail++;
    if (!align_middle(o, c, head, c->n - tail, s, head, s->n - tail))
        return false;
    for (uint32_t k = tail; k > 0; k--)
        push_row(o, (int)c->ix[c->n - k], (int)s->ix[s->n - k], CMP_SAME);
    return true;
}

static void split(const struct view *v, uint32_t *buf, struct stream *cl, struct stream *sv)
{
    *cl = (struct stream){v, buf, 0};
    *sv = (struct stream){v, buf + v->n, 0};
    for (uint32_t k = 0; k < v->n; k++) {
        struct stream *t = v->l[k].kind == DL_SERVER ? sv : cl;
        t->ix[t->n++] = k;
    }
}

/* When a row happened, on the client side's clock. */
static smtp_time row_time(const struct cmp_row *w, const struct view *c, const struct view *s,
                          int64_t offset)
{
    return w->c >= 0 ? c->l[w->c].ts : s->l[w->s].ts - offset;
}

/* The two streams' rows as one dialogue, in time order (a command before
 * a reply at the same instant). */
static void merge(struct cmp_result *r, const struct rows *a, const struct rows *b,
                  const struct view *c, const struct view *s, int64_t offset)
{
    size_t i = 0, j = 0;
    while (i < a->n || j < b->n) {
        bool take_a = j == b->n || (i < a->n && row_time(&a->r[i], c, s, offset) <=
                                                    row_time(&b->r[j], c, s, offset));
        r->rows[r->nrows++] = take_a ? a->r[i++] : b->r[j++];
    }
}

static bool align(struct cmp_result *r, const struct view *c, const struct view *s,
                  int64_t offset)
{
    size_t lines = (size_t)c->n + s->n;
    uint32_t *ix = malloc((2 * lines + 1) * sizeof *ix);
    struct cmp_row *tmp = malloc((2 * lines + 1) * sizeof *tmp);
    r->rows = malloc((lines + 1) * sizeof *r->rows); /* a row takes one line at least */
    bool ok = ix && tmp && r->rows;
    if (ok) {
        struct stream cc, cs, sc, ss;
        split(c, ix, &cc, &cs);
        split(s, ix + 2 * c->n, &sc, &ss);
        struct rows a = {tmp, 0}, b = {tmp + lines, 0};
        ok = align_stream(&a, &cc, &sc) && align_stream(&b, &cs, &ss);
        if (ok)
            merge(r, &a, &b, c, s, offset);
    }
    free(ix);
    free(tmp);
    return ok;
}

/* ---- what the differences mean ------------------------------------------------ */

static void note(struct cmp_result *r, enum finding_id id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void note(struct cmp_result *r, enum finding_id id, const char *fmt, ...)
{
    for (unsigned k = 0; k < r->nnotes; k++)
        if (r->notes[k].id == id) { /* the first occurrence says it */
            r->notes[k].count++;
            return;
        }
    if (r->nnotes == CMP_MAX_NOTES)
        return;
    finding_set_add(&r->found, id);
    struct cmp_note *n = &r->notes[r->nnotes++];
    n->id = (uint16_t)id;
    n->count = 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(n->detail, sizeof n->detail, fmt, ap);
    va_end(ap);
}

#define QUOTE 60 /* bytes of a line quoted in a detail (escaped by the writers) */

static int qlen(const struct dline *l)
{
    return l->len < QUOTE ? (int)l->len : QUOTE;
}

static const char *qtext(const struct view *v, const struct dline *l)
{
    return digest_text(v->d) + l->off;
}

static bool watching(const struct digest *d, smtp_time ts)
{
    return !d->one_sided && ts >= d->start &&
           (ts <= d->end || d->tcp_end != TCP_END_CAPTURE_ENDED);
}

static void reply_cmds(struct view *v)
{
    uint8_t cur = SMTP_CMD_NONE;
    for (uint32_t k = 0; k < v->n; k++) {
        if (v->l[k].kind == DL_SERVER && v->l[k].first)
            cur = v->l[k].cmd;
        v->reply_cmd[k] = v->l[k].kind == DL_SERVER ? cur : SMTP_CMD_NONE;
    }
}

static void changed(struct cmp_result *r, const struct view *c, const struct dline *a,
                    const struct view *s, const struct dline *b, uint8_t cmd)
{
    if (a->kind == DL_BODY)
        note(r, FINDING_MESSAGE_ALTERED, "the client sent %llu bytes, the server got %llu",
             (unsigned long long)a->value, (unsigned long long)b->value);
    else if (a->kind == DL_CLIENT)
        note(r, FINDING_COMMAND_REWRITTEN, "'%.*s' reached the server as '%.*s'",
             qlen(a), qtext(c, a), qlen(b), qtext(s, b));
    else if (cmd == SMTP_CMD_CONNECT)
        note(r, FINDING_BANNER_REWRITTEN, "the server sent '%.*s', the client saw '%.*s'",
             qlen(b), qtext(s, b), qlen(a), qtext(c, a));
    else if (a->kind == DL_SERVER && cmd != SMTP_CMD_EHLO) /* keywords: below */
        note(r, FINDING_REPLY_REWRITTEN, "the server sent '%.*s', the client saw '%.*s'",
             qlen(b), qtext(s, b), qlen(a), qtext(c, a));
}

/* A line on the client side only (other: the server side). */
static void only_client(struct cmp_result *r, const struct view *c, const struct dline *a,
                        uint8_t cmd, const struct digest *other, int64_t offset)
{
    if (!watching(other, a->ts + offset))
        return;
    if (a->kind == DL_CLIENT)
        note(r, FINDING_COMMAND_DROPPED, "'%.*s' never reached the server", qlen(a),
             qtext(c, a));
    else if (a->kind == DL_SERVER && cmd == SMTP_CMD_CONNECT)
        note(r, FINDING_BANNER_REWRITTEN, "the client saw '%.*s', which the server never sent",
             qlen(a), qtext(c, a));
    else if (a->kind == DL_SERVER && cmd != SMTP_CMD_EHLO)
        note(r, FINDING_REPLY_INJECTED, "the client got '%.*s', which the server never sent",
             qlen(a), qtext(c, a));
}

static void only_server(struct cmp_result *r, const struct view *s, const struct dline *b,
                        uint8_t cmd, const struct digest *other, int64_t offset)
{
    if (!watching(other, b->ts - offset))
        return;
    if (b->kind == DL_CLIENT)
        note(r, FINDING_COMMAND_INJECTED, "the server got '%.*s', which the client never sent",
             qlen(b), qtext(s, b));
    else if (b->kind == DL_SERVER && cmd == SMTP_CMD_CONNECT)
        note(r, FINDING_BANNER_REWRITTEN, "the server sent '%.*s', which the client never saw",
             qlen(b), qtext(s, b));
    else if (b->kind == DL_SERVER && cmd != SMTP_CMD_EHLO)
        note(r, FINDING_REPLY_DROPPED, "the server's '%.*s' never reached the client",
             qlen(b), qtext(s, b));
}

static void add_delta(struct cmp_result *r, const struct dline *a, const struct dline *b)
{
    if (a->kind != DL_SERVER || !a->first || !b->first || a->latency_ns < 0 ||
        b->latency_ns < 0 || a->cmd != b->cmd || r->ndeltas == CMP_MAX_DELTAS)
        return;
    r->deltas[r->ndeltas++] = (struct cmp_delta){a->cmd, a->latency_ns, b->latency_ns};
}

static void read_rows(struct cmp_result *r, const struct view *c, const struct view *s,
                      int64_t offset)
{
    for (size_t k = 0; k < r->nrows; k++) {
        const struct cmp_row *w = &r->rows[k];
        const struct dline *a = w->c >= 0 ? &c->l[w->c] : NULL;
        const struct dline *b = w->s >= 0 ? &s->l[w->s] : NULL;
        if (a && b)
            add_delta(r, a, b);
        if (w->mark == CMP_CHANGED)
            changed(r, c, a, s, b, s->reply_cmd[w->s]);
        else if (w->mark == CMP_ONLY && a)
            only_client(r, c, a, c->reply_cmd[w->c], s->d, offset);
        else if (w->mark == CMP_ONLY)
            only_server(r, s, b, s->reply_cmd[w->s], c->d, offset);
    }
}

/* ---- what the sessions say as wholes ------------------------------------------ */

static bool saw_ehlo_reply(const struct view *v)
{
    for (uint32_t k = 0; k < v->n; k++)
        if (v->l[k].kind == DL_SERVER && v->l[k].first && v->l[k].cmd == SMTP_CMD_EHLO &&
            v->l[k].len >= 3 && memcmp(qtext(v, &v->l[k]), "250", 3) == 0)
            return true;
    return false;
}

static void keywords(struct cmp_result *r, const struct view *c, const struct view *s)
{
    if (!saw_ehlo_reply(c) || !saw_ehlo_reply(s))
        return;
    uint32_t gone = s->d->ehlo_keywords & ~c->d->ehlo_keywords;
    if (gone & KW_STARTTLS)
        note(r, FINDING_STARTTLS_REMOVED, "the server offered STARTTLS, the client's EHLO "
                                          "reply lacks it: TLS stripped on the way");
    gone &= ~(uint32_t)KW_STARTTLS;
    char list[160] = "";
    size_t len = 0;
    for (unsigned b = 0; b < KW__COUNT && len < sizeof list; b++)
        if (gone & (1u << b))
            len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", len ? ", " : "",
                                    esmtp_kw_name(b));
    if (gone)
        note(r, FINDING_KEYWORD_REMOVED, "the server offered %s; the client never saw it",
             list);
}

/* The side saw the session go on past t (its own clock) without the
 * reset the other side got: a reset the peer sent would have shown. */
static bool outlived(const struct digest *d, smtp_time t)
{
    return d->tcp_end != TCP_END_CAPTURE_ENDED || d->end > t + SMTP_NS_PER_SEC;
}

static void connection(struct cmp_result *r, const struct digest *c, const struct digest *s,
                       int64_t offset)
{
    char x[ENDPOINT_PORT_STRLEN], y[ENDPOINT_PORT_STRLEN];
    if (endpoint_eq(&c->client, &s->client) && !endpoint_eq(&c->server, &s->server)) {
        endpoint_str(&c->server, x);
        endpoint_str(&s->server, y);
        note(r, FINDING_REDIRECTED, "the client connected to %s; it arrived at %s", x, y);
    } else if (!endpoint_eq(&c->client, &s->client)) {
        endpoint_str(&c->client, x);
        endpoint_str(&s->client, y);
        note(r, FINDING_REORIGINATED, "the client is %s; the server's peer is %s (a proxy)",
             x, y);
    }
    if (c->tcp_end == TCP_END_RESET_BY_SERVER && s->tcp_end != TCP_END_RESET_BY_SERVER &&
        outlived(s, c->end + offset))
        note(r, FINDING_RESET_INJECTED, "the client got a reset in the server's name; the "
                                        "server side saw no reset (it ended: %s)",
             end_cause_name((enum tcp_end)s->tcp_end, s->quit));
    if (s->tcp_end == TCP_END_RESET_BY_CLIENT && c->tcp_end != TCP_END_RESET_BY_CLIENT &&
        outlived(c, s->end - offset))
        note(r, FINDING_RESET_INJECTED, "the server got a reset in the client's name; the "
                                        "client side saw no reset (it ended: %s)",
             end_cause_name((enum tcp_end)c->tcp_end, c->quit));
    if (c->cert && s->cert && memcmp(c->cert_sha256, s->cert_sha256, 32) != 0)
        note(r, FINDING_CERTIFICATE_REPLACED, "the client got certificate %02x%02x%02x%02x..., "
                                              "the server sent %02x%02x%02x%02x...",
             c->cert_sha256[0], c->cert_sha256[1], c->cert_sha256[2], c->cert_sha256[3],
             s->cert_sha256[0], s->cert_sha256[1], s->cert_sha256[2], s->cert_sha256[3]);
}

static int cmp_i64(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return (a > b) - (a < b);
}

static void delay(struct cmp_result *r, int slow_ms)
{
    if (!r->ndeltas)
        return;
    int64_t added[CMP_MAX_DELTAS];
    for (unsigned k = 0; k < r->ndeltas; k++)
        added[k] = r->deltas[k].client_ns - r->deltas[k].server_ns;
    qsort(added, r->ndeltas, sizeof *added, cmp_i64);
    r->added_median_ns = added[r->ndeltas / 2];
    r->added_known = true;
    int64_t worst = added[r->ndeltas - 1];
    if (r->added_median_ns >= 500 * INT64_C(1000000) ||
        (slow_ms > 0 && worst >= slow_ms * INT64_C(1000000)))
        note(r, FINDING_MIDDLEBOX_DELAY, "the path added %.3f s to the median reply, "
                                         "%.3f s at most",
             (double)r->added_median_ns / 1e9, (double)worst / 1e9);
}

static void one_side(struct cmp_result *r, const struct digest *d, bool client_side)
{
    const char *how = end_cause_name((enum tcp_end)d->tcp_end, d->quit);
    if (client_side)
        note(r, FINDING_ONE_SIDE_ONLY, "seen on the client side only (%s): it never reached "
                                       "the server side (blocked, or redirected elsewhere)",
             how);
    else
        note(r, FINDING_ONE_SIDE_ONLY, "seen on the server side only (%s): the client side "
                                       "never saw it (another route, or made by the middlebox)",
             how);
}

static void view_of(struct view *v, const struct digest *d, uint8_t *cmds)
{
    *v = (struct view){d, digest_lines(d), d->nlines, cmds};
    reply_cmds(v);
}

int compare_diff(const struct digest *c, const struct digest *s, int64_t offset_ns,
                 int slow_ms, struct cmp_result *r)
{
    memset(r, 0, sizeof *r);
    if (!c || !s) {
        one_side(r, c ? c : s, c != NULL);
        return 0;
    }
    uint8_t *cmds = malloc((size_t)c->nlines + s->nlines + 1);
    if (!cmds)
        return -1;
    struct view vc, vs;
    view_of(&vc, c, cmds);
    view_of(&vs, s, cmds + c->nlines);
    int rc = align(r, &vc, &vs, offset_ns) ? 0 : -1;
    if (!rc) {
        read_rows(r, &vc, &vs, offset_ns);
        keywords(r, &vc, &vs);
        connection(r, c, s, offset_ns);
        delay(r, slow_ms);
    }
    free(cmds);
    return rc;
}

void cmp_result_note(struct cmp_result *r, enum finding_id id, const char *detail)
{
    note(r, id, "%s", detail);
}

void cmp_result_free(struct cmp_result *r)
{
    free(r->rows);
    r->rows = NULL;
    r->nrows = 0;
}
