/* parser_harness.h - the split-testing harness of the parser's unit tests
 * (test_parser*.c): the SMTP parser gives the same events however the bytes
 * are split, and the events are the right ones.
 *
 * Each scenario is a conversation: turns of (direction, bytes, timestamp).
 * It is fed whole, one byte at a time, split at every single position of
 * every turn, and at pseudo-random positions; every run's event log must be
 * identical to the whole-turn run. Then the whole-turn log is checked for
 * what the scenario is about (reply matching, body size, secrets, ...).
 */
#ifndef SMTPSCOPE_PARSER_HARNESS_H
#define SMTPSCOPE_PARSER_HARNESS_H

#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "smtp_parser.h"
#include "tap.h"

/* ---- event log ---------------------------------------------------------- */

struct evlog {
    char *p;
    size_t len, cap;
};

static void ev_add(struct evlog *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void ev_add(struct evlog *e, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(e->p + e->len, e->cap - e->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            abort();
        if (e->len + (size_t)n < e->cap) {
            e->len += (size_t)n;
            return;
        }
        e->cap = e->cap * 2 + (size_t)n + 64;
        e->p = realloc(e->p, e->cap);
        if (!e->p)
            abort();
    }
}

static const char *esc(struct smtp_span s)
{
    static char buf[ESCAPE_MAX(SMTP_LINE_MAX + 16)];
    escape_to(buf, sizeof buf, s.p, s.len, ESCAPE_TEXT);
    return buf;
}

static uint32_t next_tag;
static bool midstream; /* run() starts the parser mid-stream */

/* Strings no client line may carry outside its secret span (passwords,
 * raw and base64): set by the AUTH corpus, counted in `leaks`. */
static const char *const *forbidden;
static unsigned leaks;

static void leak_check(const struct smtp_command *c)
{
    for (size_t k = 0; forbidden && forbidden[k]; k++) {
        size_t n = strlen(forbidden[k]);
        for (size_t i = 0; i + n <= c->line.len; i++) {
            if (memcmp(c->line.p + i, forbidden[k], n) != 0)
                continue;
            const char *at = c->line.p + i;
            bool covered = (c->flags & SMTP_LINE_SECRET) && at >= c->secret.p &&
                           at + n <= c->secret.p + c->secret.len;
            if (!covered)
                leaks++;
        }
    }
}

static uint32_t on_command(struct smtp_parser *p, const struct smtp_command *c)
{
    struct evlog *e = p->data;
    leak_check(c);
    ev_add(e, "C %s flags=%x len=%zu wire=%zu ts=%lld-%lld", smtp_cmd_name(c->cmd),
           c->flags, c->line.len, c->wire_len, (long long)c->ts_first,
           (long long)c->ts_last);
    ev_add(e, " line=\"%s\"", esc(c->line));
    ev_add(e, " arg=\"%s\"", esc(c->arg));
    if (c->secret.len)
        ev_add(e, " secret=\"%s\"", esc(c->secret));
    if (c->cmd == SMTP_CMD_BDAT)
        ev_add(e, " bdat=%llu%s", (unsigned long long)c->bdat_size,
               c->bdat_last ? " LAST" : "");
    ev_add(e, " tag=%u\n", next_tag);
    return next_tag++;
}

static void on_reply_line(struct smtp_parser *p, const struct smtp_reply_line *l)
{
    ev_add(p->data, "L %d%c first=%d last=%d cmd=%s ts=%lld cts=%lld flags=%x \"%s\"\n",
           l->code, l->sep, l->first, l->last,
           l->first || l->cmd != SMTP_CMD_NONE ? smtp_cmd_name(l->cmd) : "-", (long long)l->ts,
           l->first ? (long long)l->cmd_ts_last : 0LL, l->flags, esc(l->line));
}

static void on_reply(struct smtp_parser *p, const struct smtp_reply *r)
{
    struct evlog *e = p->data;
    ev_add(e, "R %d cmd=%s tag=%u lines=%u ts=%lld-%lld cts=%lld", r->code,
           smtp_cmd_name(r->cmd), r->tag, r->nlines, (long long)r->ts_first,
           (long long)r->ts_last, (long long)r->cmd_ts_last);
    ev_add(e, " enh=\"%s\"", esc(r->enhanced));
    ev_add(e, " text=\"%s\"\n", esc(r->text));
}

static void on_body_end(struct smtp_parser *p, const struct smtp_body_end *b)
{
    ev_add(p->data, "B bytes=%llu lines=%llu ts=%lld-%lld bdat=%d%s\n",
           (unsigned long long)b->bytes, (unsigned long long)b->lines,
           (long long)b->ts_first, (long long)b->ts_last, b->bdat,
           b->incomplete ? " cut-off" : "");
}

static void on_tls(struct smtp_parser *p, smtp_time ts)
{
    ev_add(p->data, "T ts=%lld\n", (long long)ts);
}

static void on_anomaly(struct smtp_parser *p, enum smtp_anomaly a,
                       enum smtp_dir d, smtp_time ts, struct smtp_span detail)
{
    ev_add(p->data, "A %s dir=%d ts=%lld", smtp_anomaly_name(a), d,
           (long long)ts);
    ev_add(p->data, detail.len ? " \"%s\"\n" : "\n", esc(detail));
}

static void on_not_smtp(struct smtp_parser *p, enum smtp_dir d,
                        struct smtp_span first, smtp_time ts)
{
    ev_add(p->data, "N dir=%d ts=%lld first=\"%s\"\n", d, (long long)ts, esc(first));
}

static void on_header(struct smtp_parser *p, struct smtp_span name,
                      struct smtp_span value, smtp_time ts)
{
    ev_add(p->data, "H %.*s ts=%lld", (int)name.len, name.p, (long long)ts);
    ev_add(p->data, " \"%s\"\n", esc(value));
}

static const struct smtp_parser_settings settings_headers;
static const struct smtp_parser_settings settings_tunnel;
static bool headers_on, tunnel_on;

static const struct smtp_parser_settings settings = {
    .on_not_smtp = on_not_smtp,
    .on_command = on_command, .on_reply_line = on_reply_line,
    .on_reply = on_reply, .on_body_end = on_body_end, .on_tls = on_tls,
    .on_anomaly = on_anomaly,
};

static const struct smtp_parser_settings settings_headers = {
    .on_not_smtp = on_not_smtp, .on_header = on_header,
    .on_command = on_command, .on_reply_line = on_reply_line,
    .on_reply = on_reply, .on_body_end = on_body_end, .on_tls = on_tls,
    .on_anomaly = on_anomaly,
};

static void on_tunnel(struct smtp_parser *p, struct smtp_span what, smtp_time ts)
{
    ev_add(p->data, "P ts=%lld \"%s\"\n", (long long)ts, esc(what));
}

static const struct smtp_parser_settings settings_tunnel = {
    .on_not_smtp = on_not_smtp, .on_tunnel = on_tunnel,
    .on_command = on_command, .on_reply_line = on_reply_line,
    .on_reply = on_reply, .on_body_end = on_body_end, .on_tls = on_tls,
    .on_anomaly = on_anomaly,
};

/* ---- conversations ------------------------------------------------------ */

struct turn {
    enum smtp_dir dir;
    const char *bytes;
    size_t len; /* 0: strlen(bytes) */
};

#define C SMTP_FROM_CLIENT
#define S SMTP_FROM_SERVER
#define END {C, NULL, 0}

static size_t turn_len(const struct turn *t)
{
    return t->len ? t->len : strlen(t->bytes);
}

/* How to cut a turn: returns the size of the next piece. */
enum split_kind { SPLIT_WHOLE, SPLIT_BYTES, SPLIT_AT, SPLIT_RANDOM };

struct splitter {
    enum split_kind kind;
    size_t turn, at;   /* SPLIT_AT: cut turn `turn` at offset `at` */
    uint64_t rng;
};

static size_t next_piece(struct splitter *s, size_t turn, size_t off, size_t left)
{
    switch (s->kind) {
    case SPLIT_BYTES:
        return 1;
    case SPLIT_AT:
        if (turn == s->turn && off < s->at && s->at < off + left)
            return s->at - off;
        return left;
    case SPLIT_RANDOM:
        s->rng = s->rng * 6364136223846793005ULL + 1442695040888963407ULL;
        return 1 + (size_t)((s->rng >> 33) % left);
    default:
        return left;
    }
}

/* Feeds a conversation; turn i carries timestamp (i + 1) * 1000. */
static void run(const struct turn *conv, struct splitter *s, struct evlog *e)
{
    struct smtp_parser p;
    e->len = 0;
    if (e->p)
        e->p[0] = 0;
    next_tag = 1;
    smtp_parser_init(&p, headers_on  ? &settings_headers
                         : tunnel_on ? &settings_tunnel
                                     : &settings, e);
    if (midstream)
        smtp_parser_set_midstream(&p);
    for (size_t i = 0; conv[i].bytes; i++) {
        size_t n = turn_len(&conv[i]), off = 0;
        while (off < n) {
            size_t k = next_piece(s, i, off, n - off);
            smtp_parser_execute(&p, conv[i].dir, conv[i].bytes + off, k,
                                (smtp_time)(i + 1) * 1000);
            off += k;
        }
    }
    size_t nturns = 0;
    while (conv[nturns].bytes) nturns++;
    smtp_parser_finish(&p, (smtp_time)(nturns + 1) * 1000);
    ev_add(e, "END awaiting=%s\n", smtp_cmd_name(smtp_parser_awaiting(&p)));
    smtp_parser_free(&p);
}

/* Runs every split of `conv`; returns the reference log (caller frees). */
static char *check_splits(const char *name, const struct turn *conv)
{
    struct evlog ref = {0}, got = {0};
    struct splitter s = {.kind = SPLIT_WHOLE};
    run(conv, &s, &ref);

    s.kind = SPLIT_BYTES;
    run(conv, &s, &got);
    CHECK(got.len == ref.len && memcmp(got.p, ref.p, ref.len) == 0,
          "%s: one byte at a time gives the same events", name);

    size_t bad_turn = 0, bad_at = 0, runs = 0;
    bool same = true;
    for (size_t i = 0; conv[i].bytes && same; i++) {
        for (size_t at = 1; at < turn_len(&conv[i]) && same; at++) {
            s = (struct splitter){.kind = SPLIT_AT, .turn = i, .at = at};
            run(conv, &s, &got);
            runs++;
            if (got.len != ref.len || memcmp(got.p, ref.p, ref.len) != 0) {
                same = false;
                bad_turn = i;
                bad_at = at;
            }
        }
    }
    if (!CHECK(same, "%s: split at each of %zu positions gives the same events",
               name, runs))
        printf("#   first difference: turn %zu split at %zu\n", bad_turn, bad_at);

    same = true;
    for (uint64_t seed = 1; seed <= 200 && same; seed++) {
        s = (struct splitter){.kind = SPLIT_RANDOM, .rng = seed};
        run(conv, &s, &got);
        same = got.len == ref.len && memcmp(got.p, ref.p, ref.len) == 0;
    }
    CHECK(same, "%s: 200 random splits give the same events", name);
    free(got.p);
    return ref.p;
}

static bool has(const char *log, const char *needle)
{
    return strstr(log, needle) != NULL;
}

static size_t count(const char *log, const char *needle)
{
    size_t n = 0;
    for (const char *p = log; (p = strstr(p, needle)); p++) n++;
    return n;
}

#endif
