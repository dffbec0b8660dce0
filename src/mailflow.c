/* mailflow.c - outgoing deliveries and their DNS lookups (see mailflow.h). */
#include "mailflow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MF_KEEP 4096

struct mf_mx {
    char domain[DNS_NAME_MAX], host[DNS_NAME_MAX];
    uint16_t pref;
    smtp_time t;
};

struct mf_addr {           /* host (or the name asked for) -> address */
    char host[DNS_NAME_MAX];
    struct endpoint addr;
    smtp_time t;
};

struct mf_attempt {
    struct endpoint client, server;
    smtp_time t;
    bool connected;
    int reply;             /* a refusing greeting, once its session ended */
};

struct mailflow {
    struct mf_mx mx[MF_KEEP];
    struct mf_addr addr[MF_KEEP];
    struct mf_attempt at[MF_KEEP];
    unsigned nmx, naddr, nat; /* ever added; slot = n % MF_KEEP */
};

struct mailflow *mailflow_new(void) { return calloc(1, sizeof(struct mailflow)); }
void mailflow_free(struct mailflow *m) { free(m); }

static unsigned kept(unsigned n) { return n < MF_KEEP ? n : MF_KEEP; }

static bool same_addr(const struct endpoint *a, const struct endpoint *b)
{
    return a->family == b->family && memcmp(a->addr, b->addr, a->family == 6 ? 16 : 4) == 0;
}

/* A gateway asks for the same domains all day: an answer seen before is
 * kept once, with the time it was first seen (valid for every session
 * after it), so the tables hold distinct records and searches stay short. */
static void add_mx(struct mailflow *m, const char *domain, const char *host,
                   uint16_t pref, smtp_time t)
{
    for (unsigned i = 0; i < kept(m->nmx); i++) {
        struct mf_mx *x = &m->mx[i];
        if (strcasecmp(x->domain, domain) == 0 && strcasecmp(x->host, host) == 0) {
            x->pref = pref;
            return;
        }
    }
    struct mf_mx *x = &m->mx[m->nmx++ % MF_KEEP];
    snprintf(x->domain, sizeof x->domain, "%s", domain);
    snprintf(x->host, sizeof x->host, "%s", host);
    x->pref = pref;
    x->t = t;
}

static void add_addr(struct mailflow *m, const char *host, const struct endpoint *a,
                     smtp_time t)
{
    for (unsigned i = 0; i < kept(m->naddr); i++) {
        struct mf_addr *x = &m->addr[i];
        if (same_addr(&x->addr, a) && strcasecmp(x->host, host) == 0)
            return;
    }
    struct mf_addr *x = &m->addr[m->naddr++ % MF_KEEP];
    snprintf(x->host, sizeof x->host, "%s", host);
    x->addr = *a;
    x->t = t;
}

void mailflow_dns(struct mailflow *m, const struct dns_lookup *l)
{
    if (l->rcode != 0)
        return;
    for (int i = 0; i < l->nkept; i++) {
        const struct dns_answer *a = &l->an[i];
        if (a->type == 15) {
            add_mx(m, a->name, a->target, a->pref, l->t_response);
        } else if (a->type == 1 || a->type == 28) {
            /* under the record's owner and under the name asked for (a
             * CNAME in between) */
            add_addr(m, a->name, &a->addr, l->t_response);
            if (strcasecmp(l->qname, a->name) != 0)
                add_addr(m, l->qname, &a->addr, l->t_response);
        }
    }
}

void mailflow_attempt(struct mailflow *m, const struct endpoint *client,
                      const struct endpoint *server, smtp_time t)
{
    struct mf_attempt *x = &m->at[m->nat++ % MF_KEEP];
    memset(x, 0, sizeof *x);
    x->client = *client;
    x->server = *server;
    x->t = t;
}

static struct mf_attempt *attempt_of(struct mailflow *m, const struct endpoint *client,
                                     const struct endpoint *server)
{
    for (unsigned i = 0; i < kept(m->nat); i++) {
        struct mf_attempt *x = &m->at[(m->nat - 1 - i) % MF_KEEP];
        if (endpoint_eq(&x->client, client) && endpoint_eq(&x->server, server))
            return x;
    }
    return NULL;
}

void mailflow_connected(struct mailflow *m, const struct endpoint *client,
                        const struct endpoint *server)
{
    struct mf_attempt *x = attempt_of(m, client, server);
    if (x)
        x->connected = true;
}

/* The newest name whose address answer (before t) is `a`. */
static const struct mf_addr *host_of(const struct mailflow *m, const struct endpoint *a,
                                     smtp_time t, const char *want_host)
{
    for (unsigned i = 0; i < kept(m->naddr); i++) {
        const struct mf_addr *x = &m->addr[(m->naddr - 1 - i) % MF_KEEP];
        if (x->t <= t && same_addr(&x->addr, a) &&
            (!want_host || strcasecmp(x->host, want_host) == 0))
            return x;
    }
    return NULL;
}

static bool host_has_addr(const struct mailflow *m, const char *host, const struct endpoint *a,
                          smtp_time t)
{
    return host_of(m, a, t, host) != NULL;
}

/* The recipient domain of the session's first transaction. */
static void rcpt_domain(const struct session *s, char *out, size_t cap)
{
    out[0] = '\0';
    for (uint32_t i = 0; i < s->ntxn; i++) {
        const struct txn *t = &s->txns[i];
        if (!t->nrcpt)
            continue;
        const struct rcpt *r = &s->rcpts[t->first_rcpt];
        const char *a = session_str(s, r->addr);
        const char *at = memchr(a, '@', r->addr.len);
        if (!at)
            continue;
        size_t n = r->addr.len - (size_t)(at + 1 - a);
        while (n && (at[n] == '>' || at[n] == ' '))
            n--;
        snprintf(out, cap, "%.*s", (int)n, at + 1);
        return;
    }
}

/* Which MX of which domain this server address came from (NULL: none,
 * or the implicit MX); s->mx is set from it. */
static const struct mf_mx *link_route(struct mailflow *m, struct session *s)
{
    const struct mf_mx *via = NULL;
    const struct mf_addr *h = NULL;
    for (unsigned i = 0; i < kept(m->nmx) && !via; i++) {
        const struct mf_mx *x = &m->mx[(m->nmx - 1 - i) % MF_KEEP];
        if (x->t <= s->start && (h = host_of(m, &s->server, s->start, x->host)))
            via = x;
    }
    if (via || (h = host_of(m, &s->server, s->start, NULL))) {
        s->mx = calloc(1, sizeof *s->mx);
        if (s->mx && via) {
            snprintf(s->mx->domain, sizeof s->mx->domain, "%s", via->domain);
            snprintf(s->mx->host, sizeof s->mx->host, "%s", via->host);
            s->mx->pref = via->pref;
        } else if (s->mx) { /* implicit MX: the domain's own address */
            snprintf(s->mx->domain, sizeof s->mx->domain, "%s", h->host);
            snprintf(s->mx->host, sizeof s->mx->host, "%s", h->host);
            s->mx->pref = -1;
        }
    }
    return via;
}

/* mx-mismatch: an address none of the domain's MX hosts had, or a banner
 * naming another host than the MX. */
static void check_mismatch(const struct mailflow *m, struct session *s,
                           const struct mf_mx *via)
{
    char dom[DNS_NAME_MAX];
    rcpt_domain(s, dom, sizeof dom);
    const char *d = s->mx ? s->mx->domain : dom;
    /* the domain's MX hosts, known before this session */
    bool has_mx = false, addr_in_mx = false;
    for (unsigned i = 0; i < kept(m->nmx); i++) {
        const struct mf_mx *x = &m->mx[(m->nmx - 1 - i) % MF_KEEP];
        if (x->t > s->start || strcasecmp(x->domain, d) != 0)
            continue;
        has_mx = true;
        if (host_has_addr(m, x->host, &s->server, s->start))
            addr_in_mx = true;
    }
    char sip[ENDPOINT_STRLEN];
    endpoint_addr_str(&s->server, sip);
    if (has_mx && !addr_in_mx)
        session_find(s, FINDING_MX_MISMATCH, s->start,
                        "connected to %s, not an address of %s's MX hosts "
                        "(a proxy or a redirect of port 25?)", sip, d);
    else if (via && s->banner_host[0] && strcasecmp(s->banner_host, via->host) != 0)
        session_find(s, FINDING_MX_MISMATCH, s->start,
                        "the banner names %s, the MX host is %s (a proxy in between?)",
                        s->banner_host, via->host);
}

/* The domain's MX hosts preferred over `via`, with their addresses. */
struct better {
    const struct mf_mx *mx;
    struct endpoint addr[8];
    int naddr;
};

static int better_than(const struct mailflow *m, const struct mf_mx *via, smtp_time t,
                       struct better better[16])
{
    int nb = 0;
    for (unsigned j = 0; j < kept(m->nmx) && nb < 16; j++) {
        const struct mf_mx *y = &m->mx[j];
        if (strcasecmp(y->domain, via->domain) != 0 || y->pref >= via->pref || y->t > t)
            continue;
        struct better *b = &better[nb++];
        b->mx = y;
        b->naddr = 0;
        for (unsigned k = 0; k < kept(m->naddr) && b->naddr < 8; k++)
            if (m->addr[k].t <= t && strcasecmp(m->addr[k].host, y->host) == 0)
                b->addr[b->naddr++] = m->addr[k].addr;
    }
    return nb;
}

/* mx-fallback and mx-order: the client's earlier attempts at the more
 * preferred MX hosts, checked against them. */
static void check_order(const struct mailflow *m, struct session *s, const struct mf_mx *via,
                        const struct mf_attempt *self)
{
    struct better better[16];
    int nb = better_than(m, via, s->start, better);
    char chain[512], sip[ENDPOINT_STRLEN];
    endpoint_addr_str(&s->server, sip);
    size_t cl = 0;
    bool before_better = false, failed_better = false;
    chain[0] = '\0';
    for (unsigned i = kept(m->nat); nb && i-- > 0;) {
        const struct mf_attempt *x = &m->at[(m->nat - 1 - i) % MF_KEEP];
        if (x == self || x->t > s->start || !same_addr(&x->client, &s->client) ||
            s->start - x->t > 600LL * SMTP_NS_PER_SEC)
            continue;
        const struct mf_mx *y = NULL;
        for (int b = 0; b < nb && !y; b++)
            for (int k = 0; k < better[b].naddr && !y; k++)
                if (same_addr(&better[b].addr[k], &x->server))
                    y = better[b].mx;
        if (!y)
            continue;
        before_better = true;
        char xip[ENDPOINT_STRLEN];
        endpoint_addr_str(&x->server, xip);
        failed_better |= !x->connected || x->reply >= 400;
        if (cl < sizeof chain)
            cl += (size_t)snprintf(chain + cl, sizeof chain - cl, "%u %s (%s): %s, ",
                                   y->pref, y->host, xip,
                                   !x->connected ? "no connection" : "refused");
    }
    if (failed_better)
        session_find(s, FINDING_MX_FALLBACK, s->start, "%sthen %u %s (%s)", chain,
                        via->pref, via->host, sip);
    else if (!before_better && nb)
        session_find(s, FINDING_MX_ORDER, s->start,
                        "%u %s tried first while %u %s was preferred",
                        via->pref, via->host, better[0].mx->pref, better[0].mx->host);
}

static void mailflow_session(void *ctx, struct session *s, void *state)
{
    struct mailflow *m = ctx;
    (void)state;
    struct mf_attempt *self = attempt_of(m, &s->client, &s->server);
    if (self && s->failure.phase == PHASE_GREETING && s->failure.code)
        self->reply = s->failure.code;
    if (s->direction != DIR_OUTGOING)
        return;
    const struct mf_mx *via = link_route(m, s);
    check_mismatch(m, s, via);
    if (via)
        check_order(m, s, via, self);
}

struct observer mailflow_observer(struct mailflow *m)
{
    return (struct observer){.name = "mailflow", .ctx = m, .end = mailflow_session};
}
