/* dns_wait.c - which of the server's waits were its own DNS lookups.
 *
 * The lookups the tracker ended are kept in a ring; those still pending
 * are read from the tracker itself (a resolver that gives up after 5 s
 * and the greeting that follows can arrive before our own timeout says
 * so). At each reply that came a second or more after its command, the
 * server's lookups that began in that wait are laid on it; their union
 * is the time DNS explains.
 */
#include "dns_wait.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "session.h"

#define SEC INT64_C(1000000000)
#define WAIT_MIN (1 * SEC)      /* waits shorter than this are not looked into */
#define SLACK (SEC / 100)       /* capture-order noise around the edges */
#define DNSBL_BEFORE (300 * SEC) /* a listing this long before the refusal counts */
#define MAX_SPANS 32

struct dw_entry {
    struct endpoint querier;
    uint16_t qtype;
    int rcode;               /* -1: no response */
    smtp_time t_query, t_response; /* t_response 0: none */
    bool listed;             /* an A answer in 127.0.0.0/8 (a DNSBL's "listed") */
    uint8_t a[4];
    char qname[DNS_NAME_MAX];
};

struct dns_wait {
    struct dns_tracker *const *tracker;
    struct dw_entry *ring; /* DNS_WAIT_KEEP, made on the first lookup */
    unsigned head, n;
    unsigned listed;       /* entries of the ring that are DNSBL listings */
};

struct dns_wait *dns_wait_new(struct dns_tracker *const *tracker)
{
    struct dns_wait *w = calloc(1, sizeof *w);
    if (w)
        w->tracker = tracker;
    return w;
}

void dns_wait_free(struct dns_wait *w)
{
    if (w)
        free(w->ring);
    free(w);
}

static void entry_of(struct dw_entry *e, const struct dns_lookup *l)
{
    memset(e, 0, sizeof *e);
    e->querier = l->client;
    e->qtype = l->qtype;
    e->rcode = l->t_response ? l->rcode : -1;
    e->t_query = l->t_query;
    e->t_response = l->t_response;
    snprintf(e->qname, sizeof e->qname, "%s", l->qname);
    for (int i = 0; i < l->nkept && !e->listed; i++)
        if (l->an[i].type == 1 && l->an[i].addr.addr[0] == 127) {
            e->listed = true;
            memcpy(e->a, l->an[i].addr.addr, 4);
        }
}

void dns_wait_lookup(struct dns_wait *w, const struct dns_lookup *l)
{
    if (!w->ring && !(w->ring = malloc(DNS_WAIT_KEEP * sizeof *w->ring)))
        return; /* without memory, waits are just not explained */
    if (w->n == DNS_WAIT_KEEP && w->ring[w->head].listed)
        w->listed--;
    entry_of(&w->ring[w->head], l);
    w->listed += w->ring[w->head].listed;
    w->head = (w->head + 1) % DNS_WAIT_KEEP;
    if (w->n < DNS_WAIT_KEEP)
        w->n++;
}

size_t dns_reversed(const struct endpoint *e, char *out, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    if (cap < 64 + 1)
        return 0;
    size_t n = 0;
    if (e->family == 4)
        return (size_t)snprintf(out, cap, "%u.%u.%u.%u", e->addr[3], e->addr[2], e->addr[1],
                                e->addr[0]);
    for (int i = 15; i >= 0; i--) {
        out[n++] = hex[e->addr[i] & 0xf];
        out[n++] = '.';
        out[n++] = hex[e->addr[i] >> 4];
        out[n++] = i ? '.' : '\0';
    }
    return n - 1;
}

enum role { ROLE_NONE, ROLE_SERVER, ROLE_PTR, ROLE_DNSBL };

/* Whose lookup it is, for this session; *zone: a DNSBL's zone. */
static enum role role_of(const struct session *s, const struct dw_entry *e, const char *rev,
                         size_t rlen, const char **zone)
{
    if (rlen && strncasecmp(e->qname, rev, rlen) == 0 && e->qname[rlen] == '.') {
        const char *rest = e->qname + rlen + 1;
        if (strcasecmp(rest, "in-addr.arpa") == 0 || strcasecmp(rest, "ip6.arpa") == 0)
            return ROLE_PTR;
        *zone = rest;
        return ROLE_DNSBL;
    }
    bool server = e->querier.family == s->server.family &&
                  memcmp(e->querier.addr, s->server.addr, s->server.family == 6 ? 16 : 4) == 0;
    return server ? ROLE_SERVER : ROLE_NONE;
}

struct span {
    smtp_time a, b;
    struct dw_entry e; /* a copy: pending lookups are the tracker's */
    enum role role;
};

struct wait_ctx {
    const struct session *s;
    char rev[72];
    size_t rlen;
    smtp_time since, until;
    struct span spans[MAX_SPANS];
    int n;
};

/* One lookup laid on the wait [since, until): what of it the server spent
 * waiting (an answer after the reply, or none, ends at the reply). */
static void lay(struct wait_ctx *c, const struct dw_entry *e)
{
    const char *zone = NULL;
    enum role role = role_of(c->s, e, c->rev, c->rlen, &zone);
    if (role == ROLE_NONE || e->t_query < c->since - SLACK || e->t_query >= c->until ||
        c->n == MAX_SPANS)
        return;
    smtp_time end = e->t_response && e->t_response <= c->until + SLACK ? e->t_response
                                                                         : c->until;
    smtp_time a = e->t_query < c->since ? c->since : e->t_query;
    smtp_time b = end > c->until ? c->until : end;
    if (b > a)
        c->spans[c->n++] = (struct span){a, b, *e, role};
}

static int cmp_span(const void *x, const void *y)
{
    const struct span *a = x, *b = y;
    return (a->a > b->a) - (a->a < b->a);
}

static smtp_time union_of(struct span *sp, int n, const struct span **longest)
{
    qsort(sp, (size_t)n, sizeof *sp, cmp_span);
    smtp_time total = 0, cur_a = 0, cur_b = 0;
    *longest = NULL;
    for (int i = 0; i < n; i++) {
        if (!*longest || sp[i].b - sp[i].a > (*longest)->b - (*longest)->a)
            *longest = &sp[i];
        if (i && sp[i].a <= cur_b) {
            cur_b = sp[i].b > cur_b ? sp[i].b : cur_b;
            continue;
        }
        total += cur_b - cur_a;
        cur_a = sp[i].a;
        cur_b = sp[i].b;
    }
    return total + (cur_b - cur_a);
}

static void lay_all(struct wait_ctx *c, const struct dns_wait *w)
{
    for (unsigned i = 0; w->ring && i < w->n; i++)
        lay(c, &w->ring[i]);
    int np;
    const struct dns_lookup *p = dns_pending(*w->tracker, &np);
    for (int i = 0; i < np; i++) {
        struct dw_entry e;
        entry_of(&e, &p[i]);
        lay(c, &e);
    }
}

/* ---- the observer --------------------------------------------------------------- */

struct dw_state {
    bool dnsbl_said;
};

static const char *what_of(const struct span *sp, char *buf, size_t cap)
{
    if (sp->role == ROLE_PTR)
        return "PTR";
    if (sp->role == ROLE_DNSBL)
        return "DNSBL";
    snprintf(buf, cap, "%s", dns_type_name(sp->e.qtype));
    return buf;
}

static void say_wait(struct session *s, const struct smtp_reply *r, const struct span *sp,
                     smtp_time lat)
{
    char type[16], outcome[64], of[DNS_NAME_MAX];
    smtp_time took = (sp->e.t_response ? sp->e.t_response : r->ts_first) - sp->e.t_query;
    if (sp->e.t_response && sp->e.t_response <= r->ts_first + SLACK)
        snprintf(outcome, sizeof outcome, "answered %s after %.2f s",
                 dns_rcode_name(sp->e.rcode), (double)took / 1e9);
    else
        snprintf(outcome, sizeof outcome, "had no answer after %.2f s", (double)took / 1e9);
    if (sp->role == ROLE_PTR) /* the address reads better than its arpa name */
        endpoint_addr_str(&s->client, of);
    else
        snprintf(of, sizeof of, "%s", sp->e.qname);
    const char *what = r->cmd == SMTP_CMD_CONNECT ? "greeting" : smtp_cmd_name(r->cmd);
    const char *verb = r->cmd == SMTP_CMD_CONNECT ? "" : " answered";
    /* the first one is the finding's transcript line; later ones are notes
     * (session_find only counts a finding it has) */
    if (session_found(s, FINDING_SLOW_DNS_WAIT))
        session_note(s, r->ts_first, "%s%s after %.2f s: the server's %s lookup of %s %s", what,
                     verb, (double)lat / 1e9, what_of(sp, type, sizeof type), of, outcome);
    session_find(s, FINDING_SLOW_DNS_WAIT, r->ts_first,
                 "%s%s after %.2f s: the server's %s lookup of %s %s", what, verb,
                 (double)lat / 1e9, what_of(sp, type, sizeof type), of, outcome);
}

static void explain_wait(const struct dns_wait *w, struct session *s, const struct smtp_reply *r)
{
    struct wait_ctx c = {.s = s};
    c.since = r->cmd == SMTP_CMD_CONNECT ? s->start : r->cmd_ts_last;
    c.until = r->ts_first;
    if (r->cmd == SMTP_CMD_NONE || c.until - c.since < WAIT_MIN)
        return;
    c.rlen = dns_reversed(&s->client, c.rev, sizeof c.rev);
    lay_all(&c, w);
    if (!c.n)
        return;
    const struct span *longest;
    smtp_time waited = union_of(c.spans, c.n, &longest);
    smtp_time lat = c.until - c.since;
    if (waited * 2 < lat || waited < SEC / 2)
        return; /* the lookups were a small part of it: the server's own time */
    s->dns_wait_ns = waited;
    say_wait(s, r, longest, lat);
}

/* A refusal after a block list listed the client: said beside it. */
static void explain_refusal(const struct dns_wait *w, struct session *s, struct dw_state *st,
                            const struct smtp_reply *r)
{
    char rev[72];
    size_t rlen = dns_reversed(&s->client, rev, sizeof rev);
    for (unsigned i = 0; w->ring && i < w->n && !st->dnsbl_said; i++) {
        const struct dw_entry *e = &w->ring[i];
        const char *zone = NULL;
        if (!e->listed || role_of(s, e, rev, rlen, &zone) != ROLE_DNSBL ||
            e->t_query < s->start - DNSBL_BEFORE || e->t_query > r->ts_first)
            continue;
        st->dnsbl_said = true;
        session_note(s, r->ts_first, "the client is listed on %s (%s answered %u.%u.%u.%u)",
                     zone, e->qname, e->a[0], e->a[1], e->a[2], e->a[3]);
        if (!session_found(s, FINDING_DNSBL_REJECTION))
            session_find(s, FINDING_DNSBL_REJECTION, r->ts_first,
                         "%d after the client was found listed on %s (%u.%u.%u.%u)", r->code,
                         zone, e->a[0], e->a[1], e->a[2], e->a[3]);
    }
}

static void dns_wait_reply(void *ctx, struct session *s, void *state, const struct smtp_reply *r)
{
    const struct dns_wait *w = ctx;
    s->dns_wait_ns = 0;
    if (!w->ring && !*w->tracker)
        return; /* no DNS in this capture */
    explain_wait(w, s, r);
    if (r->code >= 400 && w->listed) /* most refusals follow no listing at all */
        explain_refusal(w, s, state, r);
}

struct observer dns_wait_observer(struct dns_wait *w)
{
    return (struct observer){.name = "dns-wait", .state_size = sizeof(struct dw_state),
                             .ctx = w, .reply = dns_wait_reply};
}
