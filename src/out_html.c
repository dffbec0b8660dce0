/* out_html.c - --html FILE: one self-contained HTML report of the run.
 *
 * Every session's JSON record (the same as --json writes) is kept in a
 * temporary file while the run goes on; at the end the report is written:
 * src/report.html (compiled in, see the Makefile) with the records as a
 * JSON array in a script element of its own (type application/json). The
 * page draws the summary, the sessions over time, the reply latency, the
 * session table and, on demand, a session's ladder diagram; it fetches
 * nothing.
 * A '<' in the data is written as \u003c, so no text from the wire can end
 * the script element.
 */
#include "escape.h"
#include "output.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

extern const char report_html[]; /* build/gen/report_html.c */

struct html_sink {
    struct sink base;
    FILE *out;
    FILE *tmp;            /* one JSON record per line */
    struct sink *json;
    char *input;          /* what was read, for the title */
    const char *version;
};

static void html_session(struct sink *base, const struct session *s)
{
    struct html_sink *h = (struct html_sink *)base;
    h->json->session(h->json, s);
}

/* The records as the elements of a JSON array (a comma between two, none
 * after the last: JSON.parse reads them, faster than the script parser
 * reads an array literal); '<' made harmless. */
static void copy_records(struct html_sink *h)
{
    fflush(h->tmp);
    rewind(h->tmp);
    char buf[1 << 16];
    size_t n;
    bool sep = false; /* a record ended: a comma before the next one */
    while ((n = fread(buf, 1, sizeof buf, h->tmp)) > 0) {
        size_t from = 0;
        for (size_t i = 0; i <= n; i++) {
            if (i < n && buf[i] != '<' && buf[i] != '\n')
                continue;
            if (sep && (i > from || (i < n && buf[i] == '<'))) {
                fputs(",\n", h->out);
                sep = false;
            }
            fwrite(buf + from, 1, i - from, h->out);
            if (i < n && buf[i] == '<')
                fputs("\\u003c", h->out);
            else if (i < n)
                sep = true;
            from = i + 1;
        }
    }
}

static void html_finish(struct sink *base)
{
    struct html_sink *h = (struct html_sink *)base;
    if (!h->tmp)
        return;
    h->json->finish(h->json);
    static const char mark_s[] = "/*SESSIONS*/", mark_m[] = "/*META*/";
    const char *s = strstr(report_html, mark_s), *m = strstr(report_html, mark_m);
    if (!s || !m || m < s)
        return; /* the template is built in: cannot happen */
    fwrite(report_html, 1, (size_t)(s - report_html), h->out);
    copy_records(h);
    const char *after = s + sizeof mark_s - 1;
    fwrite(after, 1, (size_t)(m - after), h->out);
    fputs("{\"version\":", h->out);
    escape_js_string(h->out, h->version);
    fputs(",\"input\":", h->out);
    escape_js_string(h->out, h->input ? h->input : "");
    fputc('}', h->out);
    fputs(m + sizeof mark_m - 1, h->out);
    fflush(h->out);
    fclose(h->tmp);
    h->tmp = NULL;
}

static void html_destroy(struct sink *base)
{
    struct html_sink *h = (struct html_sink *)base;
    h->json->destroy(h->json);
    if (h->tmp)
        fclose(h->tmp);
    free(h->input);
    free(h);
}

struct sink *sink_html_new(FILE *out, const char *input, const char *version,
                           const struct output_options *o)
{
    struct html_sink *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->out = out;
    h->version = version;
    h->input = input ? strdup(input) : NULL;
    h->tmp = tmpfile();
    struct output_options jo = *o;
    jo.color = false;
    jo.tls_steps = true; /* the ladder draws them */
    h->json = h->tmp ? sink_json_new(h->tmp, &jo) : NULL;
    if (!h->json) {
        if (h->tmp)
            fclose(h->tmp);
        free(h->input);
        free(h);
        return NULL;
    }
    h->base.session = html_session;
    h->base.finish = html_finish;
    h->base.destroy = html_destroy;
    return &h->base;
}
