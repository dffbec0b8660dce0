/* out_compare.c - --compare's output: the two views of each pair, and the tally.
 *
 * Text: a "# pair" header, then the aligned dialogue; a line both sides
 * saw the same is written once ("=="), a changed one twice ("C~" as the
 * client side saw it, "S~" as the server side did), a line only one side
 * has once ("C+" or "S+"). Each line names the IP, session id and clock of
 * the side it comes from; arrows as in the log (<<< the client's, >>> the
 * server's). "*** middlebox" lines close the pair. JSON: one record of
 * "type": "pair" a pair, with only the rows that differ; the writer the
 * HTML page reads also adds each pair's full views ("view": every line of
 * both sides on the client side's clock, and every aligned row). Wire
 * text is escaped on the way out, like every other writer's.
 */
#include <stdlib.h>
#include <string.h>

#include "compare.h"
#include "diagnosis.h"
#include "escape.h"
#include "session.h"
#include "smtp_parser.h"

struct cmp_writer {
    FILE *f;
    bool json, summary, localtime;
    uint64_t pairs, uncertain, only[2];
    uint64_t by_finding[FINDING__COUNT];
    int64_t *added; /* each pair's median, for the tally's median */
    size_t nadded, added_cap;
    /* replies where one side waited clearly longer: which side is nearer
     * the client shows in them (its replies wait for the path too) */
    uint64_t client_slower, server_slower;
    bool views;        /* the HTML page's writer: full views, no warnings */
    int64_t offset_ns; /* for the views: the server side's clock minus the client's */
};

struct cmp_writer *cmp_writer_new(FILE *f, bool json, bool summary, bool localtime)
{
    struct cmp_writer *w = calloc(1, sizeof *w);
    if (w)
        *w = (struct cmp_writer){.f = f, .json = json, .summary = summary,
                                 .localtime = localtime};
    return w;
}

void cmp_writer_views(struct cmp_writer *w, int64_t offset_ns)
{
    w->views = true;
    w->offset_ns = offset_ns;
}

void cmp_writer_free(struct cmp_writer *w)
{
    if (w)
        free(w->added);
    free(w);
}

/* ---- text -------------------------------------------------------------------- */

static void text_side(FILE *f, const char *name, const struct digest *d)
{
    char c[ENDPOINT_PORT_STRLEN], s[ENDPOINT_PORT_STRLEN], when[40];
    endpoint_str(&d->client, c);
    endpoint_str(&d->server, s);
    time_iso8601(d->start, when, sizeof when);
    fprintf(f, "%s [%08x] %s -> %s at %s", name, d->id, c, s, when);
}

static void text_header(struct cmp_writer *w, const struct cmp_match *m,
                        const struct digest *c, const struct digest *s)
{
    fprintf(w->f, "# %s %llu: ", c && s ? "pair" : "unpaired",
            (unsigned long long)(w->pairs + w->only[0] + w->only[1]));
    if (c)
        text_side(w->f, "client side", c);
    if (c && s)
        fputs("; ", w->f);
    if (s)
        text_side(w->f, "server side", s);
    if (c && s) {
        fputs(" (by ", w->f);
        bool first = true;
        for (unsigned b = 0; b < CMP_BIT__COUNT; b++)
            if (m->by & (1u << b)) {
                fprintf(w->f, "%s%s", first ? "" : ", ", cmp_evidence_name(b));
                first = false;
            }
        fputs(m->ambiguous ? "; uncertain)" : ")", w->f);
    }
    fputc('\n', w->f);
}

static void text_line(struct cmp_writer *w, const struct digest *d, const struct dline *l,
                      const char *mark)
{
    char ip[ENDPOINT_STRLEN], clock[13];
    endpoint_addr_str(&d->client, ip);
    time_clock(l->ts, w->localtime, clock, NULL);
    fprintf(w->f, "%s [%08x] %s %s ", ip, d->id, clock, mark);
    const char *arrow = l->kind == DL_CLIENT ? "<<< " : l->kind == DL_SERVER ? ">>> " : "";
    fputs(arrow, w->f);
    escape_write(w->f, digest_text(d) + l->off, l->len, ESCAPE_TEXT);
    fputc('\n', w->f);
}

static void text_rows(struct cmp_writer *w, const struct digest *c, const struct digest *s,
                      const struct cmp_result *r)
{
    if (!c || !s) {
        const struct digest *d = c ? c : s;
        for (uint32_t k = 0; k < d->nlines; k++)
            text_line(w, d, &digest_lines(d)[k], c ? "C+" : "S+");
        return;
    }
    for (size_t k = 0; k < r->nrows; k++) {
        const struct cmp_row *row = &r->rows[k];
        if (row->mark == CMP_SAME) {
            text_line(w, c, &digest_lines(c)[row->c], "==");
            continue;
        }
        const char *cm = row->mark == CMP_CHANGED ? "C~" : "C+";
        const char *sm = row->mark == CMP_CHANGED ? "S~" : "S+";
        if (row->c >= 0)
            text_line(w, c, &digest_lines(c)[row->c], cm);
        if (row->s >= 0)
            text_line(w, s, &digest_lines(s)[row->s], sm);
    }
}

/* Which side's capture ended while the session went on at the other: what
 * it lacks from then on is not evidence of anything (NULL: neither). */
static const char *cut_side(const struct digest *c, const struct digest *s)
{
    bool cc = c && c->tcp_end == TCP_END_CAPTURE_ENDED;
    bool sc = s && s->tcp_end == TCP_END_CAPTURE_ENDED;
    return !c || !s || cc == sc ? NULL : cc ? "client" : "server";
}

static void text_notes(struct cmp_writer *w, const struct digest *d, const struct cmp_result *r,
                       const char *cut)
{
    char ip[ENDPOINT_STRLEN];
    endpoint_addr_str(&d->client, ip);
    if (cut)
        fprintf(w->f, "%s [%08x] *** the %s side's capture ended before the session did: "
                      "what it lacks after that is not compared\n",
                ip, d->id, cut);
    for (unsigned k = 0; k < r->nnotes; k++) {
        fprintf(w->f, "%s [%08x] *** middlebox: %s: ", ip, d->id,
                finding_name((enum finding_id)r->notes[k].id));
        escape_write(w->f, r->notes[k].detail, strlen(r->notes[k].detail), ESCAPE_TEXT);
        if (r->notes[k].count > 1)
            fprintf(w->f, " (%u times)", r->notes[k].count);
        fputc('\n', w->f);
    }
    if (r->added_known) {
        fprintf(w->f, "%s [%08x] *** path delay: %+.3f s on the median reply (", ip, d->id,
                (double)r->added_median_ns / 1e9);
        for (unsigned k = 0; k < r->ndeltas && k < 12; k++)
            fprintf(w->f, "%s%s %+.3f", k ? ", " : "",
                    smtp_cmd_name((enum smtp_cmd)r->deltas[k].cmd),
                    (double)(r->deltas[k].client_ns - r->deltas[k].server_ns) / 1e9);
        fputs(r->ndeltas > 12 ? ", ...)\n" : ")\n", w->f);
    }
    if (!r->nnotes)
        fprintf(w->f, "%s [%08x] *** middlebox: no change seen between the capture points%s\n",
                ip, d->id, cut ? " while both saw the session" : "");
}

/* ---- JSON -------------------------------------------------------------------- */

static void jstr(FILE *f, const char *p, size_t n)
{
    fputc('"', f);
    escape_write(f, p, n, ESCAPE_JSON);
    fputc('"', f);
}

/* A string the session may not have had: null then, as the session
 * records write it. */
static void jopt(FILE *f, const struct digest *d, struct dstr s)
{
    if (s.len)
        jstr(f, digest_str(d, s), s.len);
    else
        fputs("null", f);
}

static void jendpoint(FILE *f, const struct endpoint *e)
{
    char a[ENDPOINT_STRLEN];
    endpoint_addr_str(e, a);
    fprintf(f, "{\"ip\":\"%s\",\"port\":%u}", a, e->port);
}

static void json_side(FILE *f, const struct digest *d)
{
    if (!d) {
        fputs("null", f);
        return;
    }
    char when[40];
    time_iso8601(d->start, when, sizeof when);
    fprintf(f, "{\"id\":\"%08x\",\"client\":", d->id);
    jendpoint(f, &d->client);
    fputs(",\"server\":", f);
    jendpoint(f, &d->server);
    fprintf(f, ",\"start\":\"%s\",\"first_frame\":%llu,\"verdict\":\"%s\",\"end_cause\":\"%s\","
               "\"helo\":",
            when, (unsigned long long)d->first_frame, verdict_key((enum verdict)d->verdict),
            end_cause_name((enum tcp_end)d->tcp_end, d->quit));
    jopt(f, d, d->helo);
    fputs(",\"mail_from\":", f);
    jopt(f, d, d->mail_from);
    fputs(",\"message_id\":", f);
    jopt(f, d, d->message_id);
    fprintf(f, ",\"message_bytes\":%llu,\"lines\":%u,\"lines_dropped\":%u}",
            (unsigned long long)d->msg_bytes, d->nlines, d->lines_dropped);
}

static const char *const kinds[] = {"C", "S", "body", "tls"};

static void json_line(FILE *f, const char *key, const struct digest *d, int i)
{
    const struct dline *l = &digest_lines(d)[i];
    fprintf(f, "\"%s\":{\"dir\":\"%s\",\"line\":", key, kinds[l->kind]);
    jstr(f, digest_text(d) + l->off, l->len);
    fputc('}', f);
}

static void json_differences(FILE *f, const struct digest *c, const struct digest *s,
                             const struct cmp_result *r)
{
    fputs(",\"differences\":[", f);
    bool first = true;
    for (size_t k = 0; c && s && k < r->nrows; k++) {
        const struct cmp_row *row = &r->rows[k];
        if (row->mark == CMP_SAME)
            continue;
        fprintf(f, "%s{\"mark\":\"%s\"", first ? "" : ",",
                row->mark == CMP_CHANGED ? "changed" : "only");
        first = false;
        if (row->c >= 0) {
            fputc(',', f);
            json_line(f, "client_side", c, row->c);
        }
        if (row->s >= 0) {
            fputc(',', f);
            json_line(f, "server_side", s, row->s);
        }
        fputc('}', f);
    }
    fputc(']', f);
}

static void json_findings(FILE *f, const struct cmp_result *r)
{
    fputs(",\"findings\":[", f);
    for (unsigned k = 0; k < r->nnotes; k++) {
        enum finding_id id = (enum finding_id)r->notes[k].id;
        fprintf(f, "%s{\"name\":\"%s\",\"kind\":\"%s\",\"severity\":\"%s\",\"detail\":",
                k ? "," : "", finding_name(id), finding_kind_name(finding_kind(id)),
                finding_severity_name(finding_severity(id)));
        jstr(f, r->notes[k].detail, strlen(r->notes[k].detail));
        fprintf(f, ",\"count\":%u}", r->notes[k].count);
    }
    fputc(']', f);
}

static void json_delays(FILE *f, const struct cmp_result *r)
{
    fputs(",\"delays\":[", f);
    for (unsigned k = 0; k < r->ndeltas; k++) {
        const struct cmp_delta *d = &r->deltas[k];
        fprintf(f, "%s{\"command\":\"%s\",\"client_side_ms\":%.3f,\"server_side_ms\":%.3f,"
                   "\"added_ms\":%.3f}",
                k ? "," : "", smtp_cmd_name((enum smtp_cmd)d->cmd), (double)d->client_ns / 1e6,
                (double)d->server_ns / 1e6, (double)(d->client_ns - d->server_ns) / 1e6);
    }
    fputc(']', f);
    if (r->added_known)
        fprintf(f, ",\"added_median_ms\":%.3f", (double)r->added_median_ns / 1e6);
    else
        fputs(",\"added_median_ms\":null", f);
}

/* ---- the full views (the HTML page's writer only) -------------------------------- */

static double ms_of(int64_t ns)
{
    return (double)ns / 1e6;
}

/* One side's lines as [dir, ms, latency ms or null, text, body bytes], its
 * times on the client side's clock (shift: what its clock is ahead by),
 * from ref. */
static void view_side(FILE *f, const struct digest *d, smtp_time ref, int64_t shift)
{
    if (!d) {
        fputs("null", f);
        return;
    }
    fprintf(f, "{\"start_ms\":%.3f,\"end_ms\":%.3f,\"tcp_end\":\"%s\",\"quit\":%s,"
               "\"one_sided\":%s,\"lines\":[",
            ms_of(d->start - shift - ref), ms_of(d->end - shift - ref),
            end_cause_name((enum tcp_end)d->tcp_end, false), d->quit ? "true" : "false",
            d->one_sided ? "true" : "false");
    for (uint32_t k = 0; k < d->nlines; k++) {
        const struct dline *l = &digest_lines(d)[k];
        fprintf(f, "%s[\"%s\",%.3f,", k ? "," : "", kinds[l->kind], ms_of(l->ts - shift - ref));
        if (l->kind == DL_SERVER && l->first && l->latency_ns >= 0)
            fprintf(f, "%.3f,", ms_of(l->latency_ns));
        else
            fputs("null,", f);
        jstr(f, digest_text(d) + l->off, l->len);
        fprintf(f, ",%llu]", (unsigned long long)(l->kind == DL_BODY ? l->value : 0));
    }
    fputs("]}", f);
}

/* The delay the path added to a reply both sides saw, as compare_diff
 * counts it (the first line of a reply to the same command). */
static bool row_added(const struct dline *a, const struct dline *b, int64_t *ns)
{
    if (a->kind != DL_SERVER || b->kind != DL_SERVER || !a->first || !b->first ||
        a->latency_ns < 0 || b->latency_ns < 0 || a->cmd != b->cmd)
        return false;
    *ns = a->latency_ns - b->latency_ns;
    return true;
}

/* Rows as [mark (0 same, 1 changed, 2 one side only), client-side line,
 * server-side line (-1: none), added ms (with both, when known)]. */
static void view_rows(FILE *f, const struct digest *c, const struct digest *s,
                      const struct cmp_result *r)
{
    fputs(",\"rows\":[", f);
    if (!c || !s) {
        for (uint32_t k = 0; k < (c ? c : s)->nlines; k++)
            fprintf(f, "%s[2,%d,%d]", k ? "," : "", c ? (int)k : -1, c ? -1 : (int)k);
        fputc(']', f);
        return;
    }
    for (size_t k = 0; k < r->nrows; k++) {
        const struct cmp_row *row = &r->rows[k];
        fprintf(f, "%s[%u,%d,%d", k ? "," : "", row->mark, row->c, row->s);
        int64_t added;
        if (row->c >= 0 && row->s >= 0 &&
            row_added(&digest_lines(c)[row->c], &digest_lines(s)[row->s], &added))
            fprintf(f, ",%.3f", ms_of(added));
        fputc(']', f);
    }
    fputc(']', f);
}

static void json_view(struct cmp_writer *w, const struct digest *c, const struct digest *s,
                      const struct cmp_result *r)
{
    smtp_time ref = c ? c->start : s->start - w->offset_ns;
    char when[40];
    time_iso8601(ref, when, sizeof when);
    fprintf(w->f, ",\"view\":{\"t0\":\"%s\",\"client_side\":", when);
    view_side(w->f, c, ref, 0);
    fputs(",\"server_side\":", w->f);
    view_side(w->f, s, ref, w->offset_ns);
    view_rows(w->f, c, s, r);
    fputc('}', w->f);
}

static void json_pair(struct cmp_writer *w, const struct cmp_match *m, const struct digest *c,
                      const struct digest *s, const struct cmp_result *r)
{
    FILE *f = w->f;
    fprintf(f, "{\"type\":\"pair\",\"pair\":%llu,\"paired_by\":[",
            (unsigned long long)(w->pairs + w->only[0] + w->only[1]));
    bool first = true;
    for (unsigned b = 0; b < CMP_BIT__COUNT; b++)
        if (m->by & (1u << b)) {
            fprintf(f, "%s\"%s\"", first ? "" : ",", cmp_evidence_name(b));
            first = false;
        }
    fprintf(f, "],\"score\":%d,\"uncertain\":%s,\"client_side\":", m->score,
            m->ambiguous ? "true" : "false");
    json_side(f, c);
    fputs(",\"server_side\":", f);
    json_side(f, s);
    const char *cut = cut_side(c, s);
    fprintf(f, cut ? ",\"cut_side\":\"%s\"" : ",\"cut_side\":null", cut);
    json_findings(f, r);
    json_delays(f, r);
    json_differences(f, c, s, r);
    if (w->views)
        json_view(w, c, s, r);
    fputs("}\n", f);
}

/* ---- both, and the tally -------------------------------------------------------- */

static void tally(struct cmp_writer *w, const struct digest *c, const struct digest *s,
                  const struct cmp_result *r, bool uncertain)
{
    if (c && s)
        w->pairs++;
    else
        w->only[c ? 0 : 1]++;
    w->uncertain += uncertain;
    for (unsigned id = 0; id < FINDING__COUNT; id++)
        w->by_finding[id] += finding_set_has(&r->found, (enum finding_id)id);
    for (unsigned k = 0; k < r->ndeltas; k++) {
        int64_t d = r->deltas[k].client_ns - r->deltas[k].server_ns;
        w->client_slower += d > 1000000;
        w->server_slower += d < -1000000;
    }
    if (!r->added_known)
        return;
    if (w->nadded == w->added_cap) {
        size_t cap = w->added_cap ? w->added_cap * 2 : 64;
        int64_t *p = realloc(w->added, cap * sizeof *p);
        if (!p)
            return; /* the tally's median leaves this pair out */
        w->added = p;
        w->added_cap = cap;
    }
    w->added[w->nadded++] = r->added_median_ns;
}

void cmp_write_pair(struct cmp_writer *w, const struct cmp_match *m, const struct digest *c,
                    const struct digest *s, const struct cmp_result *r)
{
    tally(w, c, s, r, m->ambiguous);
    if (w->json) {
        json_pair(w, m, c, s, r);
        return;
    }
    text_header(w, m, c, s);
    text_rows(w, c, s, r);
    text_notes(w, c ? c : s, r, cut_side(c, s));
}

static int cmp_i64(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return (a > b) - (a < b);
}

/* The sides given in the wrong order show in the delays: the client
 * side's replies wait for the path as well as the server. */
static bool sides_look_swapped(const struct cmp_writer *w)
{
    return w->server_slower >= 5 && w->server_slower > 4 * w->client_slower;
}

static void summary_text(struct cmp_writer *w, size_t nc, size_t ns, int64_t offset_ns,
                         int64_t median, bool median_known)
{
    FILE *f = w->f;
    fprintf(f, "# compare: client side %zu sessions, server side %zu; %llu paired "
               "(%llu uncertain), %llu client side only, %llu server side only\n",
            nc, ns, (unsigned long long)w->pairs, (unsigned long long)w->uncertain,
            (unsigned long long)w->only[0], (unsigned long long)w->only[1]);
    fprintf(f, "# compare: server side clock %+.3f s from the client side's\n",
            (double)offset_ns / 1e9);
    if (median_known)
        fprintf(f, "# compare: the path added %+.3f s to the median reply (median of %zu "
                   "pairs)\n",
                (double)median / 1e9, w->nadded);
    for (unsigned id = 0; id < FINDING__COUNT; id++)
        if (w->by_finding[id])
            fprintf(f, "# compare: %-22s %llu sessions\n", finding_name((enum finding_id)id),
                    (unsigned long long)w->by_finding[id]);
}

static void summary_json(struct cmp_writer *w, size_t nc, size_t ns, int64_t offset_ns,
                         int64_t median, bool median_known)
{
    FILE *f = w->f;
    fprintf(f, "{\"type\":\"compare_summary\",\"client_side_sessions\":%zu,"
               "\"server_side_sessions\":%zu,\"paired\":%llu,\"uncertain\":%llu,"
               "\"client_side_only\":%llu,\"server_side_only\":%llu,\"clock_offset_ms\":%.3f,",
            nc, ns, (unsigned long long)w->pairs, (unsigned long long)w->uncertain,
            (unsigned long long)w->only[0], (unsigned long long)w->only[1],
            (double)offset_ns / 1e6);
    if (median_known)
        fprintf(f, "\"added_median_ms\":%.3f", (double)median / 1e6);
    else
        fputs("\"added_median_ms\":null", f);
    fprintf(f, ",\"sides_look_swapped\":%s,\"findings\":{",
            sides_look_swapped(w) ? "true" : "false");
    bool first = true;
    for (unsigned id = 0; id < FINDING__COUNT; id++)
        if (w->by_finding[id]) {
            fprintf(f, "%s\"%s\":%llu", first ? "" : ",", finding_name((enum finding_id)id),
                    (unsigned long long)w->by_finding[id]);
            first = false;
        }
    fputs("}}\n", f);
}

void cmp_writer_finish(struct cmp_writer *w, size_t nc, size_t ns, int64_t offset_ns)
{
    int64_t median = 0;
    bool known = w->nadded > 0;
    if (known) {
        qsort(w->added, w->nadded, sizeof *w->added, cmp_i64);
        median = w->added[w->nadded / 2];
    }
    if (sides_look_swapped(w) && !w->views) /* the main writer has said it */
        fprintf(stderr, "smtpscope: --compare: warning: the second capture's replies wait "
                        "longer than the first's (%llu replies against %llu): it looks "
                        "nearer the client; give the client's side first\n",
                (unsigned long long)w->server_slower, (unsigned long long)w->client_slower);
    if (w->summary && w->json)
        summary_json(w, nc, ns, offset_ns, median, known);
    else if (w->summary)
        summary_text(w, nc, ns, offset_ns, median, known);
}
