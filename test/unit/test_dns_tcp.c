/* test_dns_tcp.c - DNS over TCP framing: however the stream is cut into
 * segments, each message behind its two-byte length reaches the tracker
 * once, whole; lies in the length prefix cost nothing but that message. */
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "dns.h"
#include "tap.h"

static struct dns_lookup seen[16];
static int nseen;

static void emit(void *ctx, const struct dns_lookup *l)
{
    (void)ctx;
    if (nseen < 16)
        seen[nseen] = *l;
    nseen++;
}

/* A query (qr 0) or an answer with one A record (qr 1), in wire format. */
static size_t message(uint8_t *out, size_t cap, uint16_t id, const char *name, bool answer)
{
    ldns_pkt *p = NULL;
    ldns_pkt_query_new_frm_str(&p, name, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, 0);
    ldns_pkt_set_id(p, id);
    if (answer) {
        ldns_rr *rr = NULL;
        char text[300];
        snprintf(text, sizeof text, "%s 60 IN A 192.0.2.25", name);
        ldns_rr_new_frm_str(&rr, text, 0, NULL, NULL);
        ldns_pkt_set_qr(p, true);
        ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, rr);
    }
    uint8_t *wire = NULL;
    size_t n = 0;
    ldns_pkt2wire(&wire, p, &n);
    ldns_pkt_free(p);
    if (n > cap)
        n = 0;
    memcpy(out, wire, n);
    free(wire);
    return n;
}

/* len-prefixed messages one after another */
static size_t framed(uint8_t *out, const uint8_t *msg, size_t n)
{
    out[0] = (uint8_t)(n >> 8);
    out[1] = (uint8_t)n;
    memcpy(out + 2, msg, n);
    return n + 2;
}

int main(void)
{
    struct endpoint c = {.family = 4, .addr = {192, 0, 2, 10}, .port = 40000};
    struct endpoint s = {.family = 4, .addr = {192, 0, 2, 25}, .port = 53};
    uint8_t msg[600], q[2048], a[2048];
    size_t nq = 0, na = 0;
    /* two pipelined queries, then both answers in one direction's stream */
    nq += framed(q + nq, msg, message(msg, sizeof msg, 7, "mx1.example.net.", false));
    nq += framed(q + nq, msg, message(msg, sizeof msg, 8, "mx2.example.net.", false));
    na += framed(a + na, msg, message(msg, sizeof msg, 7, "mx1.example.net.", true));
    na += framed(a + na, msg, message(msg, sizeof msg, 8, "mx2.example.net.", true));

    /* every way of cutting each direction in two, and byte by byte */
    int bad = 0;
    for (size_t cut = 0; cut <= nq + na; cut++) {
        struct dns_tracker *t = dns_tracker_new(emit, NULL);
        struct dns_stream *st = dns_stream_new(t, &c, &s);
        nseen = 0;
        size_t cq = cut < nq ? cut : nq, ca = cut < na ? cut : na;
        dns_stream_feed(st, SMTP_FROM_CLIENT, q, cq, 1);
        dns_stream_feed(st, SMTP_FROM_CLIENT, q + cq, nq - cq, 2);
        dns_stream_feed(st, SMTP_FROM_SERVER, a, ca, 3);
        dns_stream_feed(st, SMTP_FROM_SERVER, a + ca, na - ca, 4);
        if (nseen != 2 || seen[0].nanswers != 1 || !seen[0].tcp ||
            strcmp(seen[0].qname, "mx1.example.net") || strcmp(seen[1].qname, "mx2.example.net"))
            bad++;
        dns_stream_free(st);
        dns_tracker_free(t);
    }
    CHECK(bad == 0, "two pipelined lookups, each direction cut at every offset (%d wrong)", bad);

    struct dns_tracker *t = dns_tracker_new(emit, NULL);
    struct dns_stream *st = dns_stream_new(t, &c, &s);
    nseen = 0;
    for (size_t i = 0; i < nq; i++)
        dns_stream_feed(st, SMTP_FROM_CLIENT, q + i, 1, 1);
    for (size_t i = 0; i < na; i++)
        dns_stream_feed(st, SMTP_FROM_SERVER, a + i, 1, 2);
    CHECK(nseen == 2 && seen[1].id == 8 && seen[1].t_response == 2,
          "byte by byte: %d lookups", nseen);

    /* a zero length and garbage are skipped; the framing holds after them */
    uint8_t g[2048];
    size_t ng = 0;
    g[ng++] = 0;
    g[ng++] = 0;
    uint8_t junk[40];
    memset(junk, 0xff, sizeof junk);
    ng += framed(g + ng, junk, sizeof junk);
    ng += framed(g + ng, msg, message(msg, sizeof msg, 9, "late.example.net.", false));
    nseen = 0;
    dns_stream_feed(st, SMTP_FROM_CLIENT, g, ng, 5);
    ng = framed(g, msg, message(msg, sizeof msg, 9, "late.example.net.", true));
    dns_stream_feed(st, SMTP_FROM_SERVER, g, ng, 6);
    CHECK(nseen == 1 && strcmp(seen[0].qname, "late.example.net") == 0,
          "an empty and a broken message skipped, the next one read");

    /* a length that promises 65535 bytes and never delivers holds at most
     * that one message, and ends with the stream */
    uint8_t lie[3] = {0xff, 0xff, 0x00};
    nseen = 0;
    dns_stream_feed(st, SMTP_FROM_CLIENT, lie, sizeof lie, 7);
    for (int i = 0; i < 100; i++)
        dns_stream_feed(st, SMTP_FROM_CLIENT, junk, sizeof junk, 7);
    CHECK(nseen == 0, "a lying length swallows only its own bytes");
    dns_stream_free(st);

    /* the number of followed streams is bounded */
    struct dns_stream *many[DNS_STREAMS_MAX + 1];
    int got = 0;
    for (int i = 0; i <= DNS_STREAMS_MAX; i++)
        if ((many[i] = dns_stream_new(t, &c, &s)))
            got++;
    CHECK(got == DNS_STREAMS_MAX && dns_streams_refused(t) == 1,
          "at most %d streams followed (%d), the next one counted", DNS_STREAMS_MAX, got);
    for (int i = 0; i <= DNS_STREAMS_MAX; i++)
        dns_stream_free(many[i]);
    struct dns_stream *again = dns_stream_new(t, &c, &s);
    CHECK(again != NULL, "a slot is free again once streams end");
    dns_stream_free(again);
    dns_expire(t, 0, true);
    dns_tracker_free(t);
    return tap_done();
}
