/* out_messages.c - --messages: one trail per message across the hops of a
 * capture (internet -> gateway -> filter -> mailbox server).
 *
 * Every transaction that carried (or tried to carry) a message is a hop.
 * At the end hops are grouped into messages: by Message-ID when the header
 * was read (the engine extracts headers for this), otherwise by envelope:
 * the same sender, a recipient in common, a size that grows by at most
 * what Received: headers add (4 KiB), within ten minutes of the previous
 * hop. Each record says which. Flags:
 *   stuck        accepted by a server that relays other mail in this
 *                capture, and never seen leaving it;
 *   bounce-risk  accepted at one hop and refused at a later one (the
 *                earlier hop now owes the sender a bounce).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "escape.h"
#include "output.h"

#define MSG_WINDOW_NS (600LL * SMTP_NS_PER_SEC)
#define MSG_GROWTH 4096
#define MSG_MAX_HOPS 1000000

struct hop {
    uint32_t session;
    smtp_time t;
    struct endpoint client, server;
    char *from, *rcpts;     /* every RCPT address, '\n'-separated */
    char *message_id, *queue_id;
    uint64_t bytes;
    int code;               /* final reply (or the refusing one) */
    enum txn_result result;
    int msg;                /* the message it was grouped into */
};

struct messages_sink {
    struct sink base;
    FILE *f;
    bool json;
    struct hop *hops;
    size_t n, cap;
    bool full;
};

static char *dup_ref(const struct session *s, struct strref r)
{
    char *p = malloc(r.len + 1);
    if (p) {
        memcpy(p, session_str(s, r), r.len);
        p[r.len] = '\0';
    }
    return p;
}

static void messages_session(struct sink *base, const struct session *s)
{
    struct messages_sink *m = (struct messages_sink *)base;
    for (uint32_t i = 0; i < s->ntxn; i++) {
        const struct txn *t = &s->txns[i];
        if (t->result == TXN_OPEN || (!t->body_seen && t->result != TXN_REJECTED))
            continue;
        if (m->n == m->cap) {
            size_t cap = m->cap ? m->cap * 2 : 256;
            struct hop *h = cap <= MSG_MAX_HOPS ? realloc(m->hops, cap * sizeof *h) : NULL;
            if (!h) {
                m->full = true;
                return;
            }
            m->hops = h;
            m->cap = cap;
        }
        struct hop *h = &m->hops[m->n];
        memset(h, 0, sizeof *h);
        h->session = s->id;
        h->t = t->start;
        h->client = s->client;
        h->server = s->server;
        h->from = dup_ref(s, t->mail_from);
        size_t len = 0;
        for (uint32_t r = 0; r < t->nrcpt; r++)
            len += s->rcpts[t->first_rcpt + r].addr.len + 1;
        h->rcpts = calloc(1, len + 1);
        for (uint32_t r = 0; h->rcpts && r < t->nrcpt; r++) {
            const struct rcpt *rc = &s->rcpts[t->first_rcpt + r];
            strncat(h->rcpts, session_str(s, rc->addr), rc->addr.len);
            strcat(h->rcpts, "\n");
        }
        h->message_id = t->hdr_message_id.len ? dup_ref(s, t->hdr_message_id) : NULL;
        h->queue_id = t->queue_id.len ? dup_ref(s, t->queue_id) : NULL;
        h->bytes = t->bytes;
        h->result = t->result;
        h->code = t->final_code ? t->final_code : t->data_code;
        if (t->result == TXN_REJECTED) /* the refusal itself: a RCPT's, if all were */
            for (uint32_t r = 0; r < t->nrcpt; r++) {
                int c = s->rcpts[t->first_rcpt + r].code;
                if (c >= 200 && c < 300)
                    break;
                if (c >= 400) {
                    h->code = c;
                    break;
                }
            }
        h->msg = -1;
        if (!h->from || !h->rcpts)
            continue;
        m->n++;
    }
}

static bool share_rcpt(const char *a, const char *b)
{
    for (const char *p = a; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        for (const char *q = b; *q;) {
            const char *nq = strchr(q, '\n');
            size_t k = nq ? (size_t)(nq - q) : strlen(q);
            if (k == n && strncasecmp(p, q, n) == 0)
                return true;
            q += k + (nq != NULL);
        }
        p += n + (nl != NULL);
    }
    return false;
}

static int cmp_time(const void *a, const void *b)
{
    const struct hop *x = a, *y = b;
    return x->t < y->t ? -1 : x->t > y->t;
}

/* A later hop of the same message by envelope: same sender, a recipient in
 * common, a little larger, soon after. */
static bool envelope_follows(const struct hop *prev, const struct hop *h)
{
    /* a hop refused before DATA carried no bytes: size says nothing */
    bool size_ok = (h->result == TXN_REJECTED && h->bytes == 0) ||
                   (h->bytes >= prev->bytes && h->bytes - prev->bytes <= MSG_GROWTH);
    return h->t >= prev->t && h->t - prev->t <= MSG_WINDOW_NS &&
           strcasecmp(prev->from, h->from) == 0 && share_rcpt(prev->rcpts, h->rcpts) &&
           size_ok && !endpoint_eq(&prev->server, &h->server);
}

static bool same_host(const struct endpoint *a, const struct endpoint *b)
{
    return a->family == b->family && memcmp(a->addr, b->addr, a->family == 6 ? 16 : 4) == 0;
}

/* ---- grouping in one pass over the hops, with hash tables --------------- */

/* Open addressing; slot counts are powers of two, at least twice the
 * entries. */
struct grouping {
    struct group {
        size_t first, last; /* its first and latest hops */
    } *msgs;
    int nmsgs;
    size_t mask;            /* of by_id and relays */
    int *by_id;             /* message whose first hop had this Message-ID */
    struct endpoint *relays; /* hosts that pass mail to another host */
    /* "sender\nrecipient" (case folded) -> messages whose hops carried that
     * pair, oldest first; pruned of the stale as they are read */
    struct pair {
        char *key;          /* NULL: free */
        int *msgs;
        size_t n, cap;
    } *pairs;
    size_t pmask;
    char *scratch;          /* a key being looked up */
    size_t scratch_cap;
};

static int *id_slot(struct grouping *g, const struct hop *hops, const char *id)
{
    size_t i = fnv1a(FNV1A_INIT, id, strlen(id)) & g->mask;
    while (g->by_id[i] >= 0 && strcmp(hops[g->msgs[g->by_id[i]].first].message_id, id) != 0)
        i = (i + 1) & g->mask;
    return &g->by_id[i];
}

/* The slot of sender + recipient (rcpt: n bytes), its key in g->scratch. */
static struct pair *pair_slot(struct grouping *g, const char *from, const char *rcpt, size_t n)
{
    size_t f = strlen(from), len = f + 1 + n;
    if (len + 1 > g->scratch_cap) {
        char *p = realloc(g->scratch, len + 1);
        if (!p)
            return NULL;
        g->scratch = p;
        g->scratch_cap = len + 1;
    }
    char *k = g->scratch;
    for (size_t i = 0; i < f; i++)
        k[i] = (char)(from[i] >= 'A' && from[i] <= 'Z' ? from[i] + 32 : from[i]);
    k[f] = '\n';
    for (size_t i = 0; i < n; i++)
        k[f + 1 + i] = (char)(rcpt[i] >= 'A' && rcpt[i] <= 'Z' ? rcpt[i] + 32 : rcpt[i]);
    k[len] = '\0';
    size_t i = fnv1a(FNV1A_INIT, k, len) & g->pmask;
    while (g->pairs[i].key && strcmp(g->pairs[i].key, k) != 0)
        i = (i + 1) & g->pmask;
    return &g->pairs[i];
}

/* Each recipient of a hop: rcpts is '\n'-separated. */
#define FOR_EACH_RCPT(p, n, rcpts)                                                  \
    for (const char *p = (rcpts), *p##_nl; *p; p += n + (p##_nl != NULL))           \
        if ((p##_nl = strchr(p, '\n')), (n = p##_nl ? (size_t)(p##_nl - p) : strlen(p)), 1)

static size_t host_slot(const struct grouping *g, const struct endpoint *e)
{
    size_t i = addr_pair_hash_symmetric(e, e) & g->mask;
    while (g->relays[i].family && !same_host(&g->relays[i], e))
        i = (i + 1) & g->mask;
    return i;
}

/* Does this host pass mail on to another host somewhere in the capture?
 * (A host talking to itself, filter on loopback, does not count.) */
static bool relays(const struct grouping *g, const struct endpoint *server)
{
    return g->relays[host_slot(g, server)].family != 0;
}

/* The message hop j belongs to: by Message-ID where both have one (a
 * message's id is its first hop's); a hop without one (refused before
 * DATA, headers not read) joins the oldest message whose latest hop its
 * envelope follows, found through the sender and recipient pairs they
 * share. -1: it starts a message. */
static int group_of(struct grouping *g, const struct hop *hops, size_t j)
{
    const struct hop *h = &hops[j];
    if (h->message_id) {
        int *slot = id_slot(g, hops, h->message_id);
        return *slot;
    }
    int best = -1;
    size_t n;
    FOR_EACH_RCPT(r, n, h->rcpts) {
        struct pair *pr = pair_slot(g, h->from, r, n);
        if (!pr || !pr->key)
            continue;
        size_t keep = 0;
        for (size_t k = 0; k < pr->n; k++) {
            int x = pr->msgs[k];
            const struct hop *last = &hops[g->msgs[x].last];
            if (h->t - last->t > MSG_WINDOW_NS)
                continue; /* stale for good: hops come in time order */
            pr->msgs[keep++] = x;
            if ((best < 0 || x < best) && envelope_follows(last, h))
                best = x;
        }
        pr->n = keep;
    }
    return best;
}

/* Hop j went to message x: x is found through each of its pairs. */
static void index_hop(struct grouping *g, const struct hop *h, int x)
{
    size_t n;
    FOR_EACH_RCPT(r, n, h->rcpts) {
        struct pair *pr = pair_slot(g, h->from, r, n);
        if (!pr)
            return;
        if (!pr->key && !(pr->key = strdup(g->scratch)))
            return;
        if (pr->n && pr->msgs[pr->n - 1] == x)
            continue;
        if (pr->n == pr->cap) {
            size_t cap = pr->cap ? 2 * pr->cap : 2;
            int *p = realloc(pr->msgs, cap * sizeof *p);
            if (!p)
                return;
            pr->msgs = p;
            pr->cap = cap;
        }
        pr->msgs[pr->n++] = x;
    }
}

static void write_str(FILE *f, const char *s, bool json)
{
    if (json) {
        fputc('"', f);
        escape_write(f, s, strlen(s), ESCAPE_JSON);
        fputc('"', f);
    } else {
        escape_write(f, s, strlen(s), ESCAPE_TEXT);
    }
}

static void write_message(struct messages_sink *m, const struct grouping *g, const size_t *idx,
                          size_t k, int no)
{
    FILE *f = m->f;
    const struct hop *first = &m->hops[idx[0]];
    bool by_id = first->message_id != NULL;
    bool stuck = false, bounce = false, accepted_before = false;
    const struct hop *last = &m->hops[idx[k - 1]];
    if (last->result == TXN_ACCEPTED && relays(g, &last->server))
        stuck = true;
    for (size_t i = 0; i < k; i++) {
        const struct hop *h = &m->hops[idx[i]];
        if (h->result == TXN_REJECTED && accepted_before)
            bounce = true;
        if (h->result == TXN_ACCEPTED)
            accepted_before = true;
    }
    char ip_c[ENDPOINT_STRLEN], ip_s[ENDPOINT_STRLEN], when[40];
    if (m->json) {
        fprintf(f, "{\"type\":\"message\",\"id\":%d,\"matched_by\":\"%s\",\"message_id\":",
                no, by_id ? "message-id" : "envelope");
        if (by_id)
            write_str(f, first->message_id, true);
        else
            fputs("null", f);
        fputs(",\"from\":", f);
        write_str(f, first->from, true);
        fputs(",\"hops\":[", f);
    } else {
        fprintf(f, "# message %d (%s", no, by_id ? "Message-ID " : "envelope match");
        if (by_id)
            write_str(f, first->message_id, false);
        fputs("): from <", f);
        write_str(f, first->from, false);
        fprintf(f, ">, %zu hop%s%s%s\n", k, k == 1 ? "" : "s",
                stuck ? ", STUCK" : "", bounce ? ", BOUNCE-RISK" : "");
    }
    for (size_t i = 0; i < k; i++) {
        const struct hop *h = &m->hops[idx[i]];
        endpoint_addr_str(&h->client, ip_c);
        endpoint_addr_str(&h->server, ip_s);
        time_iso8601(h->t, when, sizeof when);
        double delay = i ? (double)(h->t - m->hops[idx[i - 1]].t) / 1e6 : 0.0;
        const char *res = txn_result_name(h->result);
        if (m->json) {
            fprintf(f, "%s{\"session\":\"%08x\",\"t\":\"%s\",\"client\":\"%s\",\"server\":\"%s\","
                       "\"result\":\"%s\",\"code\":",
                    i ? "," : "", h->session, when, ip_c, ip_s, res);
            if (h->code)
                fprintf(f, "%d", h->code);
            else
                fputs("null", f);
            fprintf(f, ",\"bytes\":%" PRIu64 ",\"queue_id\":", h->bytes);
            if (h->queue_id)
                write_str(f, h->queue_id, true);
            else
                fputs("null", f);
            fprintf(f, ",\"delay_ms\":%.3f}", delay);
        } else {
            fprintf(f, "#   %s [%08x] %s -> %s: %s", when, h->session, ip_c, ip_s, res);
            if (h->code)
                fprintf(f, " %d", h->code);
            if (h->queue_id) {
                fputs(" queued as ", f);
                write_str(f, h->queue_id, false);
            }
            fprintf(f, " (%" PRIu64 " bytes)", h->bytes);
            if (i)
                fprintf(f, " +%.3f s", delay / 1000.0);
            fputc('\n', f);
        }
    }
    if (m->json) {
        fprintf(f, "],\"flags\":[%s%s%s]}\n", stuck ? "\"stuck\"" : "",
                stuck && bounce ? "," : "", bounce ? "\"bounce-risk\"" : "");
    } else if (stuck || bounce) {
        fprintf(f, "#   %s%s%s\n", stuck ? "stuck: accepted by a relay and never seen leaving it" : "",
                stuck && bounce ? "; " : "",
                bounce ? "bounce-risk: accepted at one hop, refused at a later one" : "");
    }
}

static void messages_finish(struct sink *base)
{
    struct messages_sink *m = (struct messages_sink *)base;
    size_t n = m->n, slots = 16, pslots = 16, npairs = 0;
    if (n)
        qsort(m->hops, n, sizeof *m->hops, cmp_time);
    for (size_t j = 0; j < n; j++) {
        size_t k;
        FOR_EACH_RCPT(r, k, m->hops[j].rcpts)
            npairs++;
    }
    while (slots < 2 * n)
        slots *= 2;
    while (pslots < 2 * npairs)
        pslots *= 2;
    struct grouping g = {
        .msgs = malloc((n ? n : 1) * sizeof *g.msgs), .mask = slots - 1,
        .by_id = malloc(slots * sizeof *g.by_id), .relays = calloc(slots, sizeof *g.relays),
        .pairs = calloc(pslots, sizeof *g.pairs), .pmask = pslots - 1,
    };
    size_t *idx = malloc((n ? n : 1) * sizeof *idx), *start = calloc(n + 1, sizeof *start);
    size_t *fill = NULL;
    if (!g.msgs || !g.by_id || !g.relays || !g.pairs || !idx || !start)
        goto out;
    for (size_t i = 0; i < slots; i++)
        g.by_id[i] = -1;
    for (size_t j = 0; j < n; j++) {
        struct hop *h = &m->hops[j];
        if (!same_host(&h->client, &h->server))
            g.relays[host_slot(&g, &h->client)] = h->client;
        int x = group_of(&g, m->hops, j);
        if (x < 0) { /* a new message */
            x = g.nmsgs++;
            g.msgs[x].first = j;
            if (h->message_id)
                *id_slot(&g, m->hops, h->message_id) = x;
        }
        g.msgs[x].last = j;
        h->msg = x;
        index_hop(&g, h, x);
        start[x + 1]++;
    }
    /* hops by message, each message's in time order; messages in the order
     * of their first hops */
    for (int x = 0; x < g.nmsgs; x++)
        start[x + 1] += start[x];
    if (!(fill = malloc((g.nmsgs ? (size_t)g.nmsgs : 1) * sizeof *fill)))
        goto out;
    memcpy(fill, start, (size_t)g.nmsgs * sizeof *fill);
    for (size_t j = 0; j < n; j++)
        idx[fill[m->hops[j].msg]++] = j;
    for (int x = 0; x < g.nmsgs; x++)
        write_message(m, &g, idx + start[x], start[x + 1] - start[x], x + 1);
    if (m->full)
        fputs(m->json ? "" : "# messages: too many hops; the rest are not tracked\n", m->f);
out:
    for (size_t i = 0; g.pairs && i < pslots; i++) {
        free(g.pairs[i].key);
        free(g.pairs[i].msgs);
    }
    free(g.pairs);
    free(g.scratch);
    free(g.msgs);
    free(g.by_id);
    free(g.relays);
    free(fill);
    free(idx);
    free(start);
    fflush(m->f);
}

static void messages_destroy(struct sink *base)
{
    struct messages_sink *m = (struct messages_sink *)base;
    for (size_t i = 0; i < m->n; i++) {
        free(m->hops[i].from);
        free(m->hops[i].rcpts);
        free(m->hops[i].message_id);
        free(m->hops[i].queue_id);
    }
    free(m->hops);
    free(m);
}

struct sink *sink_messages_new(FILE *f, bool json)
{
    struct messages_sink *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->f = f;
    m->json = json;
    m->base.session = messages_session;
    m->base.finish = messages_finish;
    m->base.destroy = messages_destroy;
    return &m->base;
}
