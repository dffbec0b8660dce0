/* out_tsv.c - --tsv FIELDS: one tab-separated row per session with the
 * columns asked for, under a "#fields" line, the way zeek-cut gives
 * Zeek's logs to awk and sort. Unset values are "-", several values are
 * joined by ","; wire bytes are escaped as in the text log, so a row
 * never holds a raw tab or newline.
 */
#include <stdlib.h>
#include <string.h>

#include "community_id.h"
#include "escape.h"
#include "output.h"
#include "select.h"

typedef void (*tsv_put)(FILE *f, const struct session *s);

static void put_ref(FILE *f, const struct session *s, struct strref r)
{
    if (r.len)
        escape_write(f, session_str(s, r), r.len, ESCAPE_TEXT);
    else
        fputc('-', f);
}

static void put_str(FILE *f, const char *v)
{
    if (v && *v)
        escape_write(f, v, strlen(v), ESCAPE_TEXT);
    else
        fputc('-', f);
}

static void put_ip(FILE *f, const struct endpoint *e)
{
    char ip[ENDPOINT_STRLEN];
    endpoint_addr_str(e, ip);
    fputs(ip, f);
}

static void f_id(FILE *f, const struct session *s) { fprintf(f, "%08x", s->id); }
static void f_start(FILE *f, const struct session *s)
{
    char b[40];
    time_iso8601(s->start, b, sizeof b);
    fputs(b, f);
}
static void f_end(FILE *f, const struct session *s)
{
    char b[40];
    time_iso8601(s->end, b, sizeof b);
    fputs(b, f);
}
static void f_duration(FILE *f, const struct session *s)
{
    char b[40];
    time_fixed(s->end - s->start, SMTP_NS_PER_SEC / 1000, 3, b, sizeof b);
    fputs(b, f);
}
static void f_client(FILE *f, const struct session *s) { put_ip(f, &s->client); }
static void f_client_port(FILE *f, const struct session *s) { fprintf(f, "%u", s->client.port); }
static void f_server(FILE *f, const struct session *s) { put_ip(f, &s->server); }
static void f_server_port(FILE *f, const struct session *s) { fprintf(f, "%u", s->server.port); }
static void f_community_id(FILE *f, const struct session *s)
{
    char id[COMMUNITY_ID_LEN];
    put_str(f, community_id(&s->client, &s->server, 6, id) ? id : NULL);
}
static void f_first_frame(FILE *f, const struct session *s)
{
    fprintf(f, "%llu", (unsigned long long)s->first_frame);
}
static void f_last_frame(FILE *f, const struct session *s)
{
    fprintf(f, "%llu", (unsigned long long)s->last_frame);
}
static void f_helo(FILE *f, const struct session *s) { put_ref(f, s, s->helo); }
static void f_tls(FILE *f, const struct session *s) { fputs(s->tls ? "T" : "F", f); }
static void f_verdict(FILE *f, const struct session *s)
{
    fputs(select_verdict_word(s->verdict), f);
}
static void f_end_phase(FILE *f, const struct session *s) { fputs(phase_name(s->end_phase), f); }
static bool failed(const struct session *s)
{
    return s->verdict == VERDICT_FAILED || s->verdict == VERDICT_PARTIAL;
}
static void f_phase(FILE *f, const struct session *s)
{
    put_str(f, failed(s) ? phase_name(s->failure.phase) : NULL);
}
static void f_code(FILE *f, const struct session *s)
{
    if (failed(s) && s->failure.code)
        fprintf(f, "%d", s->failure.code);
    else
        fputc('-', f);
}
static void f_reply(FILE *f, const struct session *s)
{
    put_str(f, failed(s) ? s->failure.text : NULL);
}
static void f_mail_from(FILE *f, const struct session *s)
{
    bool any = false;
    for (uint32_t i = 0; i < s->ntxn; i++)
        if (s->txns[i].has_mail) {
            fputs(any ? "," : "", f);
            escape_write(f, session_str(s, s->txns[i].mail_from), s->txns[i].mail_from.len,
                         ESCAPE_TEXT);
            any = true;
        }
    if (!any)
        fputc('-', f);
}
static void f_rcpt(FILE *f, const struct session *s)
{
    for (uint32_t i = 0; i < s->nrcpt; i++) {
        fputs(i ? "," : "", f);
        escape_write(f, session_str(s, s->rcpts[i].addr), s->rcpts[i].addr.len, ESCAPE_TEXT);
    }
    if (!s->nrcpt)
        fputc('-', f);
}
static void f_messages(FILE *f, const struct session *s)
{
    unsigned n = 0;
    for (uint32_t i = 0; i < s->ntxn; i++)
        n += s->txns[i].result == TXN_ACCEPTED;
    fprintf(f, "%u", n);
}
static void f_findings(FILE *f, const struct session *s)
{
    for (uint32_t i = 0; i < s->nanomalies; i++)
        fprintf(f, "%s%s", i ? "," : "", finding_name(s->anomalies[i].id));
    if (!s->nanomalies)
        fputc('-', f);
}

static const struct {
    const char *name;
    tsv_put put;
} fields[] = {
    {"id", f_id}, {"start", f_start}, {"end", f_end}, {"duration_ms", f_duration},
    {"client", f_client}, {"client_port", f_client_port}, {"server", f_server},
    {"server_port", f_server_port}, {"community_id", f_community_id},
    {"first_frame", f_first_frame}, {"last_frame", f_last_frame}, {"helo", f_helo},
    {"tls", f_tls}, {"verdict", f_verdict}, {"end_phase", f_end_phase}, {"phase", f_phase},
    {"code", f_code}, {"reply", f_reply}, {"mail_from", f_mail_from}, {"rcpt", f_rcpt},
    {"messages", f_messages}, {"findings", f_findings},
};
#define NFIELDS (sizeof fields / sizeof fields[0])
#define TSV_MAX_COLUMNS 32

struct tsv_sink {
    struct sink base;
    FILE *f;
    int ncols;
    unsigned char col[TSV_MAX_COLUMNS]; /* indexes into fields[] */
    bool header_done;
};

int tsv_parse_fields(const char *list, unsigned char *cols, int max, char *err, size_t errlen)
{
    int n = 0;
    const char *p = list;
    do {
        size_t len = strcspn(p, ",");
        size_t i = 0;
        while (i < NFIELDS && (strlen(fields[i].name) != len ||
                               strncmp(fields[i].name, p, len) != 0))
            i++;
        if (i == NFIELDS || n == max) {
            int k = n == max ? snprintf(err, errlen, "at most %d fields", max)
                             : snprintf(err, errlen, "unknown field '%.*s' (fields:",
                                        (int)(len > 40 ? 40 : len), p);
            for (size_t j = 0; n < max && j < NFIELDS && k > 0 && (size_t)k < errlen; j++)
                k += snprintf(err + k, errlen - (size_t)k, " %s", fields[j].name);
            if (n < max && k > 0 && (size_t)k < errlen)
                snprintf(err + k, errlen - (size_t)k, ")");
            return -1;
        }
        cols[n++] = (unsigned char)i;
        p += len;
    } while (*p++ == ',');
    return n;
}

static void tsv_session(struct sink *base, const struct session *s)
{
    struct tsv_sink *t = (struct tsv_sink *)base;
    for (int i = 0; i < t->ncols; i++) {
        if (i)
            fputc('\t', t->f);
        fields[t->col[i]].put(t->f, s);
    }
    fputc('\n', t->f);
}

static void tsv_finish(struct sink *base) { fflush(((struct tsv_sink *)base)->f); }
static void tsv_destroy(struct sink *base) { free(base); }

struct sink *sink_tsv_new(FILE *f, const char *list)
{
    struct tsv_sink *t = calloc(1, sizeof *t);
    char err[8];
    if (!t)
        return NULL;
    t->ncols = tsv_parse_fields(list, t->col, TSV_MAX_COLUMNS, err, sizeof err);
    if (t->ncols <= 0) { /* the command line checked it already */
        free(t);
        return NULL;
    }
    t->f = f;
    fputs("#fields", f);
    for (int i = 0; i < t->ncols; i++)
        fprintf(f, "\t%s", fields[t->col[i]].name);
    fputc('\n', f);
    t->base.session = tsv_session;
    t->base.finish = tsv_finish;
    t->base.destroy = tsv_destroy;
    return &t->base;
}
