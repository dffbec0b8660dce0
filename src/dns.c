/* dns.c - DNS lookups on the wire (see dns.h). ldns does the wire format:
 * name compression, label limits and truncated records are its job, not a
 * hand-written parser's. */
#include "dns.h"
#include "decode.h"

#include <ldns/ldns.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dns_tracker {
    dns_emit_fn emit;
    void *ctx;
    struct dns_lookup *pending; /* unordered; small */
    int npending;
    int nstreams;               /* DNS over TCP connections followed */
    uint64_t streams_refused;
};

struct dns_tracker *dns_tracker_new(dns_emit_fn emit, void *ctx)
{
    struct dns_tracker *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->pending = calloc(DNS_PENDING_MAX, sizeof *t->pending);
    if (!t->pending) {
        free(t);
        return NULL;
    }
    t->emit = emit;
    t->ctx = ctx;
    return t;
}

void dns_tracker_free(struct dns_tracker *t)
{
    if (!t)
        return;
    free(t->pending);
    free(t);
}

/* A name as text without the root's trailing dot ("example.net"). */
static void name_of(const ldns_rdf *rdf, char *out, size_t cap)
{
    out[0] = '\0';
    if (!rdf)
        return;
    char *s = ldns_rdf2str(rdf);
    if (!s)
        return;
    size_t n = strlen(s);
    if (n > 1 && s[n - 1] == '.')
        s[--n] = '\0';
    snprintf(out, cap, "%s", s);
    free(s);
}

static void take_answers(struct dns_lookup *l, const ldns_pkt *p)
{
    const ldns_rr_list *an = ldns_pkt_answer(p);
    size_t n = an ? ldns_rr_list_rr_count(an) : 0;
    l->nanswers = (int)n;
    for (size_t i = 0; i < n && l->nkept < DNS_MAX_ANSWERS; i++) {
        const ldns_rr *rr = ldns_rr_list_rr(an, i);
        uint16_t type = (uint16_t)ldns_rr_get_type(rr);
        struct dns_answer *a = &l->an[l->nkept];
        memset(a, 0, sizeof *a);
        a->type = type;
        name_of(ldns_rr_owner(rr), a->name, sizeof a->name);
        const ldns_rdf *d0 = ldns_rr_rdf(rr, 0), *d1 = ldns_rr_rdf(rr, 1);
        if (type == LDNS_RR_TYPE_MX && d0 && d1) {
            a->pref = ldns_rdf2native_int16(d0);
            name_of(d1, a->target, sizeof a->target);
        } else if (type == LDNS_RR_TYPE_CNAME && d0) {
            name_of(d0, a->target, sizeof a->target);
        } else if (type == LDNS_RR_TYPE_A && d0 && ldns_rdf_size(d0) == 4) {
            a->addr.family = 4;
            memcpy(a->addr.addr, ldns_rdf_data(d0), 4);
            endpoint_addr_str(&a->addr, a->target);
        } else if (type == LDNS_RR_TYPE_AAAA && d0 && ldns_rdf_size(d0) == 16) {
            a->addr.family = 6;
            memcpy(a->addr.addr, ldns_rdf_data(d0), 16);
            endpoint_addr_str(&a->addr, a->target);
        } else {
            continue; /* other types are counted, not kept */
        }
        l->nkept++;
    }
}

void dns_observe(struct dns_tracker *t, const struct endpoint *src,
                 const struct endpoint *dst, const uint8_t *msg, size_t len,
                 bool tcp, smtp_time ts)
{
    ldns_pkt *p = NULL;
    if (len < 12 || ldns_wire2pkt(&p, msg, len) != LDNS_STATUS_OK || !p)
        return; /* not DNS, or broken: nothing to pair */
    const ldns_rr_list *q = ldns_pkt_question(p);
    const ldns_rr *q0 = q && ldns_rr_list_rr_count(q) ? ldns_rr_list_rr(q, 0) : NULL;
    uint16_t id = ldns_pkt_id(p);
    if (!ldns_pkt_qr(p)) { /* a query: remember it */
        if (q0) {
            if (t->npending == DNS_PENDING_MAX) { /* full: the oldest times out */
                dns_expire(t, INT64_MAX, false);
                if (t->npending == DNS_PENDING_MAX)
                    t->npending--;
            }
            struct dns_lookup *l = &t->pending[t->npending++];
            memset(l, 0, sizeof *l);
            l->client = *src;
            l->server = *dst;
            l->id = id;
            l->tcp = tcp;
            l->qtype = (uint16_t)ldns_rr_get_type(q0);
            name_of(ldns_rr_owner(q0), l->qname, sizeof l->qname);
            l->t_query = ts;
            l->rcode = -1;
        }
        ldns_pkt_free(p);
        return;
    }
    for (int i = 0; i < t->npending; i++) {
        struct dns_lookup *l = &t->pending[i];
        if (l->id != id || l->tcp != tcp || !endpoint_eq(&l->client, dst) ||
            !endpoint_eq(&l->server, src))
            continue;
        l->t_response = ts;
        l->rcode = (int)ldns_pkt_get_rcode(p);
        l->truncated = ldns_pkt_tc(p);
        take_answers(l, p);
        t->emit(t->ctx, l);
        t->pending[i] = t->pending[--t->npending];
        break;
    }
    ldns_pkt_free(p);
}

/* ---- DNS over TCP ---------------------------------------------------------- */

struct dns_half {
    uint8_t *buf;   /* a message begun in one segment, ended in a later one */
    size_t len, cap;
    bool broken;    /* out of memory once: its framing is lost, ignored */
};

struct dns_stream {
    struct dns_tracker *t;
    struct endpoint client, server;
    struct dns_half half[2]; /* 0: from the client, 1: from the server */
};

/* A DNS-over-TCP length prefix (RFC 7766) at p, of n bytes there are;
 * SIZE_MAX when the prefix itself is not all there. */
static size_t len_prefix(const uint8_t *p, size_t n)
{
    uint16_t v;
    return decode_be16(p, n, 0, &v) ? v : SIZE_MAX;
}

struct dns_stream *dns_stream_new(struct dns_tracker *t, const struct endpoint *client,
                                  const struct endpoint *server)
{
    if (t->nstreams >= DNS_STREAMS_MAX) {
        t->streams_refused++;
        return NULL;
    }
    struct dns_stream *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->t = t;
    s->client = *client;
    s->server = *server;
    t->nstreams++;
    return s;
}

void dns_stream_free(struct dns_stream *s)
{
    if (!s)
        return;
    s->t->nstreams--;
    free(s->half[0].buf);
    free(s->half[1].buf);
    free(s);
}

uint64_t dns_streams_refused(const struct dns_tracker *t)
{
    return t ? t->streams_refused : 0;
}

static void deliver(struct dns_stream *s, enum smtp_dir dir, const uint8_t *m,
                    size_t n, smtp_time ts)
{
    if (dir == SMTP_FROM_CLIENT)
        dns_observe(s->t, &s->client, &s->server, m, n, true, ts);
    else
        dns_observe(s->t, &s->server, &s->client, m, n, true, ts);
}

void dns_stream_feed(struct dns_stream *s, enum smtp_dir dir, const uint8_t *p,
                     size_t n, smtp_time ts)
{
    struct dns_half *h = &s->half[dir == SMTP_FROM_CLIENT ? 0 : 1];
    while (n && !h->broken) {
        if (h->len == 0) { /* whole messages in this segment: read in place */
            size_t m;
            while ((m = len_prefix(p, n)) != SIZE_MAX && n - 2 >= m) {
                deliver(s, dir, p + 2, m, ts);
                p += 2 + m;
                n -= 2 + m;
            }
            if (!n)
                return;
        }
        /* the rest of the length prefix, or of the message it announces */
        size_t want = h->len < 2 ? 2 : 2 + len_prefix(h->buf, h->len);
        size_t k = want - h->len < n ? want - h->len : n;
        if (h->len + k > h->cap) {
            size_t cap = h->len < 2 ? 2 + 512 : want; /* never above 65537 */
            if (cap < h->len + k)
                cap = h->len + k;
            uint8_t *b = realloc(h->buf, cap);
            if (!b) {
                h->broken = true;
                return;
            }
            h->buf = b;
            h->cap = cap;
        }
        memcpy(h->buf + h->len, p, k);
        h->len += k;
        p += k;
        n -= k;
        if (h->len >= 2 && h->len == 2 + len_prefix(h->buf, h->len)) {
            deliver(s, dir, h->buf + 2, h->len - 2, ts);
            h->len = 0;
        }
    }
}

const struct dns_lookup *dns_pending(const struct dns_tracker *t, int *n)
{
    *n = t ? t->npending : 0;
    return t ? t->pending : NULL;
}

void dns_expire(struct dns_tracker *t, smtp_time now, bool all)
{
    smtp_time limit = (smtp_time)DNS_TIMEOUT_S * SMTP_NS_PER_SEC;
    for (int i = 0; i < t->npending;) {
        struct dns_lookup *l = &t->pending[i];
        if (all || (now != INT64_MAX ? now - l->t_query > limit : i == 0)) {
            t->emit(t->ctx, l);
            t->pending[i] = t->pending[--t->npending];
            if (now == INT64_MAX)
                return; /* make room: one is enough */
            continue;
        }
        i++;
    }
}

int dns_findings(const struct dns_lookup *l, int slow_ms, enum finding_id ids[2])
{
    int n = 0;
    bool mail = l->qtype == 15 || l->qtype == 1 || l->qtype == 28;
    if (mail && l->rcode == 3)
        ids[n++] = FINDING_NXDOMAIN;
    else if (mail && l->rcode == 2)
        ids[n++] = FINDING_SERVFAIL;
    else if (mail && l->rcode == -1)
        ids[n++] = FINDING_DNS_TIMEOUT;
    if (slow_ms > 0 && l->rcode >= 0 &&
        l->t_response - l->t_query > (smtp_time)slow_ms * 1000000)
        ids[n++] = FINDING_SLOW_DNS;
    return n;
}

const char *dns_type_name(uint16_t type)
{
    switch (type) {
    case 1: return "A";
    case 5: return "CNAME";
    case 15: return "MX";
    case 16: return "TXT";
    case 28: return "AAAA";
    case 12: return "PTR";
    case 6: return "SOA";
    case 2: return "NS";
    default: return "other";
    }
}

const char *dns_rcode_name(int rcode)
{
    switch (rcode) {
    case -1: return "TIMEOUT";
    case 0: return "NOERROR";
    case 1: return "FORMERR";
    case 2: return "SERVFAIL";
    case 3: return "NXDOMAIN";
    case 4: return "NOTIMP";
    case 5: return "REFUSED";
    default: return "other";
    }
}
