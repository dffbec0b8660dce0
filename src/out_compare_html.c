/* out_compare_html.c - --compare --html FILE: one self-contained page of a comparison.
 *
 * Each pair's JSON record, as --compare --json writes it plus its full
 * views (every line of both sides, every aligned row: the ladder needs the
 * lines both saw alike too), is kept in a temporary file while the pairs
 * are written; then the page is written: src/compare_report.html (compiled
 * in, see the Makefile) with the records, the summary last, as a
 * JavaScript array. A '<' in the data is written as \u003c, so no text
 * from the wire can end the script element; JSON escaping has already
 * made every control byte text (\xHH).
 */
#include "compare.h"
#include "escape.h"

#include <stdlib.h>
#include <string.h>

extern const char compare_report_html[]; /* build/gen/compare_report_html.c */

struct cmp_html {
    FILE *out;
    FILE *tmp;            /* one JSON record per line */
    struct cmp_writer *w; /* JSON, with the summary and the views */
    char *sides[2];
    const char *version;
};

struct cmp_html *cmp_html_new(FILE *out, const char *const sides[2], const char *version,
                              int64_t offset_ns)
{
    struct cmp_html *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->out = out;
    h->version = version;
    h->tmp = tmpfile();
    h->w = h->tmp ? cmp_writer_new(h->tmp, true, true, false) : NULL;
    for (int k = 0; k < 2; k++)
        h->sides[k] = strdup(sides[k] ? sides[k] : "");
    if (!h->w || !h->sides[0] || !h->sides[1]) {
        cmp_html_free(h);
        return NULL;
    }
    cmp_writer_views(h->w, offset_ns);
    return h;
}

void cmp_html_pair(struct cmp_html *h, const struct cmp_match *m, const struct digest *c,
                   const struct digest *s, const struct cmp_result *r)
{
    cmp_write_pair(h->w, m, c, s, r);
}

/* The records, each followed by a comma; '<' made harmless. */
static void copy_records(struct cmp_html *h)
{
    rewind(h->tmp);
    char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, h->tmp)) > 0) {
        size_t from = 0;
        for (size_t i = 0; i < n; i++) {
            if (buf[i] != '<' && buf[i] != '\n')
                continue;
            fwrite(buf + from, 1, i - from, h->out);
            fputs(buf[i] == '<' ? "\\u003c" : ",\n", h->out);
            from = i + 1;
        }
        fwrite(buf + from, 1, n - from, h->out);
    }
}

bool cmp_html_finish(struct cmp_html *h, size_t nc, size_t ns, int64_t offset_ns)
{
    cmp_writer_finish(h->w, nc, ns, offset_ns);
    if (fflush(h->tmp) != 0 || ferror(h->tmp))
        return false;
    static const char mark_p[] = "/*PAIRS*/", mark_m[] = "/*META*/";
    const char *p = strstr(compare_report_html, mark_p);
    const char *m = strstr(compare_report_html, mark_m);
    if (!p || !m || m < p)
        return false; /* the template is built in: cannot happen */
    fwrite(compare_report_html, 1, (size_t)(p - compare_report_html), h->out);
    copy_records(h);
    const char *after = p + sizeof mark_p - 1;
    fwrite(after, 1, (size_t)(m - after), h->out);
    fputs("{\"version\":", h->out);
    escape_js_string(h->out, h->version ? h->version : "");
    fputs(",\"client_side\":", h->out);
    escape_js_string(h->out, h->sides[0]);
    fputs(",\"server_side\":", h->out);
    escape_js_string(h->out, h->sides[1]);
    fputc('}', h->out);
    fputs(m + sizeof mark_m - 1, h->out);
    return !ferror(h->tmp);
}

void cmp_html_free(struct cmp_html *h)
{
    if (!h)
        return;
    cmp_writer_free(h->w);
    if (h->tmp)
        fclose(h->tmp);
    free(h->sides[0]);
    free(h->sides[1]);
    free(h);
}
