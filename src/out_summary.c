/* out_summary.c - the run in numbers: outcomes, failure phases and codes,
 * the servers and clients that fail most, reply latency percentiles per
 * command, and every finding with the sessions that showed it.
 *
 * Memory is bounded: at most SUM_MAX_HOSTS hosts are counted (the rest go
 * to "other"), at most SUM_MAX_SAMPLES latencies per command are kept
 * (reservoir sampling, deterministic), at most SUM_MAX_IDS session ids per
 * finding are listed.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "diagnosis.h"
#include "escape.h"
#include "output.h"

#define SUM_MAX_HOSTS 4096
#define SUM_MAX_SAMPLES 20000
#define SUM_MAX_IDS 12
#define SUM_TOP 5

struct host_count {
    struct endpoint ep;
    uint64_t sessions, failures;
};

struct finding_count {
    uint64_t sessions;
    uint32_t ids[SUM_MAX_IDS];
};

struct latency_set {
    int64_t *v;
    uint64_t seen;
    uint32_t n;
};

struct summary_sink {
    struct sink base;
    FILE *f;
    bool json;
    uint64_t sessions, by_verdict[VERDICT__COUNT], by_phase[PHASE__COUNT];
    uint64_t by_code[600];
    struct host_count *servers, *clients;
    uint32_t nservers, nclients;
    uint64_t other_hosts;
    struct finding_count findings[FINDING__COUNT]; /* by enum finding_id */
    uint16_t order[FINDING__COUNT]; /* the ids found, first seen first */
    uint32_t nfindings;
    struct latency_set lat[SMTP_CMD__COUNT];
    uint64_t rng;
    const struct run_counters *counters;
};

/* Open addressing over 2 * SUM_MAX_HOSTS slots: a slot is free while its
 * session count is 0. */
static struct host_count *host_slot(struct summary_sink *m, struct host_count **arr,
                                    uint32_t *n, const struct endpoint *ep)
{
    struct endpoint key = *ep;
    key.port = 0;
    if (!*arr && !(*arr = calloc(2 * SUM_MAX_HOSTS, sizeof **arr)))
        return NULL;
    uint32_t mask = 2 * SUM_MAX_HOSTS - 1;
    for (uint32_t i = flow_hash_symmetric(&key, &key) & mask;; i = (i + 1) & mask) {
        struct host_count *h = &(*arr)[i];
        if (h->sessions && endpoint_eq(&h->ep, &key))
            return h;
        if (!h->sessions) {
            if (*n >= SUM_MAX_HOSTS) {
                m->other_hosts++;
                return NULL;
            }
            (*n)++;
            h->ep = key;
            return h;
        }
    }
}

static void add_latency(struct summary_sink *m, int cmd, int64_t ns)
{
    struct latency_set *l = &m->lat[cmd];
    if (!l->v) {
        l->v = malloc(SUM_MAX_SAMPLES * sizeof *l->v);
        if (!l->v)
            return;
    }
    l->seen++;
    if (l->n < SUM_MAX_SAMPLES) {
        l->v[l->n++] = ns;
        return;
    }
    m->rng = m->rng * 6364136223846793005ULL + 1442695040888963407ULL;
    uint64_t k = (m->rng >> 11) % l->seen;
    if (k < SUM_MAX_SAMPLES)
        l->v[k] = ns;
}

static void summary_session(struct sink *base, const struct session *s)
{
    struct summary_sink *m = (struct summary_sink *)base;
    m->sessions++;
    if ((unsigned)s->verdict < VERDICT__COUNT)
        m->by_verdict[s->verdict]++;
    bool failed = s->verdict == VERDICT_FAILED;
    if (failed) {
        m->by_phase[s->failure.phase]++;
        if (s->failure.code > 0 && s->failure.code < 600)
            m->by_code[s->failure.code]++;
    }
    struct host_count *h = host_slot(m, &m->servers, &m->nservers, &s->server);
    if (h) {
        h->sessions++;
        h->failures += failed;
    }
    h = host_slot(m, &m->clients, &m->nclients, &s->client);
    if (h) {
        h->sessions++;
        h->failures += failed;
    }
    for (uint32_t i = 0; i < s->nanomalies; i++) {
        uint16_t id = s->anomalies[i].id;
        if (id >= FINDING__COUNT)
            continue;
        struct finding_count *fc = &m->findings[id];
        if (fc->sessions == 0)
            m->order[m->nfindings++] = id;
        if (fc->sessions < SUM_MAX_IDS)
            fc->ids[fc->sessions] = s->id;
        fc->sessions++;
    }
    size_t off = 0;
    const char *text;
    const struct tline *l;
    while ((l = session_next_line(s, &off, &text)))
        if (l->kind == TL_SERVER && l->latency_ns >= 0 && l->aux < SMTP_CMD__COUNT)
            add_latency(m, l->aux, l->latency_ns);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_hosts(const void *a, const void *b)
{
    const struct host_count *x = a, *y = b;
    if (x->failures != y->failures)
        return x->failures < y->failures ? 1 : -1;
    if (x->sessions != y->sessions)
        return x->sessions < y->sessions ? 1 : -1;
    return memcmp(x->ep.addr, y->ep.addr, sizeof x->ep.addr);
}

static double pct(const struct latency_set *l, double p)
{
    size_t i = (size_t)(p * (double)(l->n - 1) + 0.5);
    return (double)l->v[i] / 1e6;
}

/* A command's reply latencies: count, p50, p90, p99 in ms. */
/* One finding of --summary: its sessions and the first of their ids. */
static void finding_line(struct summary_sink *m, uint16_t id, bool comma)
{
    FILE *f = m->f;
    const struct finding_count *fc = &m->findings[id];
    uint32_t k = fc->sessions < SUM_MAX_IDS ? (uint32_t)fc->sessions : SUM_MAX_IDS;
    if (m->json) {
        fprintf(f, "%s{\"name\":\"%s\",\"kind\":\"%s\",\"sessions\":%" PRIu64
                ",\"ids\":[", comma ? "," : "", finding_name(id),
                finding_kind_name(finding_kind(id)), fc->sessions);
        for (uint32_t j = 0; j < k; j++)
            fprintf(f, "%s\"%08x\"", j ? "," : "", fc->ids[j]);
        fputs("]}", f);
        return;
    }
    fprintf(f, "#     %-26s %6" PRIu64 " sessions:", finding_name(id), fc->sessions);
    for (uint32_t j = 0; j < k; j++)
        fprintf(f, " %08x", fc->ids[j]);
    fputs(fc->sessions > k ? " ...\n" : "\n", f);
}

/* The percentiles come from a sorted copy: the reservoir itself stays in
 * sampling order, so a summary written mid-run (--top redraws it every
 * second) leaves the counting of what follows as it was. */
static void latency_line(struct summary_sink *m, int c, bool first)
{
    struct latency_set *src = &m->lat[c];
    struct latency_set copy = *src, *l = &copy;
    if ((copy.v = malloc(src->n * sizeof *copy.v)))
        memcpy(copy.v, src->v, src->n * sizeof *copy.v);
    else
        copy.v = src->v; /* out of memory: in place, the numbers still right */
    if (l->n > 1)
        qsort(l->v, l->n, sizeof *l->v, cmp_i64);
    const char *name = smtp_cmd_name((enum smtp_cmd)c);
    if (m->json)
        fprintf(m->f, "%s\"%s\":{\"count\":%" PRIu64 ",\"p50_ms\":%.3f,"
                      "\"p90_ms\":%.3f,\"p99_ms\":%.3f}", first ? "" : ",",
                c == SMTP_CMD_CONNECT ? "greeting" : name, l->seen,
                pct(l, .5), pct(l, .9), pct(l, .99));
    else
        fprintf(m->f, "#   %-14s %8" PRIu64 " replies  p50 %9.3f ms  p90 %9.3f ms"
                      "  p99 %9.3f ms\n",
                c == SMTP_CMD_CONNECT ? "greeting" : name, l->seen,
                pct(l, .5), pct(l, .9), pct(l, .99));
    if (copy.v != src->v)
        free(copy.v);
}

/* The hash table is sorted as a copy of its used slots: sorted in place,
 * the hosts a mid-run summary (--top) moved would be counted again in new
 * slots, one host listed several times with its counts split. */
static void hosts_out(struct summary_sink *m, const char *what,
                      const struct host_count *table, uint32_t n)
{
    struct host_count *arr = table && n ? malloc(n * sizeof *arr) : NULL;
    uint32_t used = 0;
    for (uint32_t i = 0; arr && i < 2 * SUM_MAX_HOSTS && used < n; i++)
        if (table[i].sessions)
            arr[used++] = table[i];
    n = used;
    if (n > 1) /* qsort's pointer must be valid even for 0 elements */
        qsort(arr, n, sizeof *arr, cmp_hosts);
    if (m->json)
        fprintf(m->f, ",\"top_%s\":[", what);
    else
        fprintf(m->f, "# top %s by failures:\n", what);
    uint32_t shown = 0;
    for (uint32_t i = 0; i < n && shown < SUM_TOP; i++) {
        if (!arr[i].failures)
            break;
        char ip[ENDPOINT_STRLEN];
        endpoint_addr_str(&arr[i].ep, ip);
        if (m->json)
            fprintf(m->f, "%s{\"ip\":\"%s\",\"failures\":%" PRIu64
                          ",\"sessions\":%" PRIu64 "}", shown ? "," : "", ip,
                    arr[i].failures, arr[i].sessions);
        else
            fprintf(m->f, "#   %-40s %6" PRIu64 " failed of %" PRIu64 "\n", ip,
                    arr[i].failures, arr[i].sessions);
        shown++;
    }
    if (m->json)
        fputc(']', m->f);
    else if (!shown)
        fputs("#   (none)\n", m->f);
    free(arr);
}

/* Everything the run saw, and everything it could not place. */
static void accounting_out(struct summary_sink *m)
{
    const struct run_counters *c = m->counters;
    if (!c)
        return;
    const struct {
        const char *name;
        uint64_t v;
    } rows[] = {
        {"frames", c->frames}, {"smtp_packets", c->smtp_packets},
        {"connections", c->connections}, {"sessions_written", c->sessions},
        {"undecodable_frames", c->undecodable}, {"ip_fragments", c->fragments},
        {"segments_cut_by_snaplen", c->payload_cut},
        {"picked_up_midstream", c->midstream}, {"sessions_with_gaps", c->gaps},
        {"evicted_streams", c->evicted}, {"kernel_drops", c->kernel_drops},
        {"reassembly_warnings", c->reassembly_warnings},
    };
    fputs(m->json ? ",\"accounting\":{" : "# accounting:", m->f);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        fprintf(m->f, m->json ? "%s\"%s\":%" PRIu64 : "%s%s %" PRIu64,
                m->json ? (i ? "," : "") : " ", rows[i].name, rows[i].v);
        if (c->selection && i == 3) /* --only, --phase: those written */
            fprintf(m->f, m->json ? ",\"sessions_selected\":%" PRIu64
                                  : " sessions_selected %" PRIu64, c->selected);
    }
    fputs(m->json ? "}" : "\n", m->f);
}

static void summary_finish(struct sink *base)
{
    struct summary_sink *m = (struct summary_sink *)base;
    FILE *f = m->f;
    static const char *const vnames[VERDICT__COUNT] = {
        [VERDICT_OK] = "ok", [VERDICT_FAILED] = "failed",
        [VERDICT_INCOMPLETE] = "incomplete", [VERDICT_ENCRYPTED] = "encrypted",
        [VERDICT_NOT_SMTP] = "not-smtp", [VERDICT_PARTIAL] = "partial"};
    if (m->json) {
        fprintf(f, "{\"type\":\"summary\",\"sessions\":%" PRIu64 ",\"by_verdict\":{",
                m->sessions);
        for (int v = 0; v < VERDICT__COUNT; v++)
            fprintf(f, "%s\"%s\":%" PRIu64, v ? "," : "", vnames[v], m->by_verdict[v]);
        fputs("},\"failures_by_phase\":{", f);
        bool first = true;
        for (int p = 0; p < PHASE__COUNT; p++)
            if (m->by_phase[p]) {
                fprintf(f, "%s\"%s\":%" PRIu64, first ? "" : ",",
                        phase_name((enum smtp_phase)p), m->by_phase[p]);
                first = false;
            }
        fputs("},\"failures_by_code\":{", f);
        first = true;
        for (int c = 0; c < 600; c++)
            if (m->by_code[c]) {
                fprintf(f, "%s\"%d\":%" PRIu64, first ? "" : ",", c, m->by_code[c]);
                first = false;
            }
        fputc('}', f);
    } else {
        fprintf(f, "# summary: %" PRIu64 " sessions:", m->sessions);
        for (int v = 0; v < VERDICT__COUNT; v++)
            fprintf(f, " %s %" PRIu64, vnames[v], m->by_verdict[v]);
        fputs("\n# failures by phase:", f);
        for (int p = 0; p < PHASE__COUNT; p++)
            if (m->by_phase[p])
                fprintf(f, " %s %" PRIu64, phase_name((enum smtp_phase)p), m->by_phase[p]);
        fputs("\n# failures by reply code:", f);
        for (int c = 0; c < 600; c++)
            if (m->by_code[c])
                fprintf(f, " %d: %" PRIu64, c, m->by_code[c]);
        fputc('\n', f);
    }
    hosts_out(m, "servers", m->servers, m->nservers);
    hosts_out(m, "clients", m->clients, m->nclients);
    if (m->json)
        fputs(",\"latency\":{", f);
    else
        fputs("# reply latency per command:\n", f);
    bool first = true;
    for (int c = 0; c < SMTP_CMD__COUNT; c++)
        if (m->lat[c].n) {
            latency_line(m, c, first);
            first = false;
        }
    if (m->json)
        fputs("},\"findings\":[", f);
    else
        fputs("# findings:\n", f);
    /* grouped by kind, in the registry's kind order; first seen first */
    uint32_t listed = 0;
    for (int k = 0; k < FKIND__COUNT; k++) {
        bool header = false;
        for (uint32_t i = 0; i < m->nfindings; i++) {
            if (finding_kind(m->order[i]) != (enum finding_kind)k)
                continue;
            if (!m->json && !header)
                fprintf(f, "#   %s:\n", finding_kind_name((enum finding_kind)k));
            header = true;
            finding_line(m, m->order[i], listed++ > 0);
        }
    }
    if (m->json)
        fputc(']', f);
    else if (!m->nfindings)
        fputs("#   (none)\n", f);
    accounting_out(m);
    if (m->json)
        fputs("}\n", f);
    fflush(f);
}

static void summary_destroy(struct sink *base)
{
    struct summary_sink *m = (struct summary_sink *)base;
    for (int c = 0; c < SMTP_CMD__COUNT; c++)
        free(m->lat[c].v);
    free(m->servers);
    free(m->clients);
    free(m);
}

struct sink *sink_summary_new(FILE *f, bool json, const struct run_counters *counters)
{
    struct summary_sink *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->base.session = summary_session;
    m->base.finish = summary_finish;
    m->base.destroy = summary_destroy;
    m->f = f;
    m->json = json;
    m->rng = 1;
    m->counters = counters;
    return &m->base;
}
