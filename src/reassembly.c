/* reassembly.c - libnids glue (see reassembly.h).
 *
 * libnids keeps its state in globals, so this module is a singleton too.
 * While a packet is inside nids_pcap_handler, `cur` points at its decoded
 * form: that is how a RST callback learns which side sent the reset.
 * IPv6 connections go to libnids under IPv4 aliases (reasm_alias.h).
 */
#include "reassembly.h"
#include "reasm_alias.h"
#include "reasm_flow.h"

#include <nids.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Readers of the streams (SMTP; DNS over TCP): libnids keeps a user
 * pointer per stream for each registered callback that collects. */
#define REASM_MAX_LISTENERS 2
static struct listener {
    const struct reasm_callbacks *cb;
    void *ctx;
} listeners[REASM_MAX_LISTENERS];
static int nlisteners;
static pcap_t *dead;
static const struct packet *cur;
/* The flow of the packet being fed: libnids calls back with data only for
 * the stream of the packet it is processing. */
static struct reasm_flow *cur_flow;
static struct reasm_stats stats;

/* Segment rebuilt under an IPv4 header (IPv6 alias, IP length fixed). */
static uint8_t rebuilt[60 + 262144];

static void endpoints_of(const struct tcp_stream *t, struct endpoint *c,
                         struct endpoint *s)
{
    if (alias_is((const uint8_t *)&t->addr.saddr)) {
        uint32_t i = alias_of_addr(&t->addr.saddr);
        if (i != ALIAS_NIL) {
            *c = alias_at(i)->client;
            *s = alias_at(i)->server;
            return;
        }
    }
    memset(c, 0, sizeof *c);
    memset(s, 0, sizeof *s);
    c->family = s->family = 4;
    memcpy(c->addr, &t->addr.saddr, 4);
    memcpy(s->addr, &t->addr.daddr, 4);
    c->port = t->addr.source;
    s->port = t->addr.dest;
}

/* Out-of-order data libnids still holds: the capture missed the bytes
 * before it (half `server` holds what the client sent). */
static void report_gaps(const struct listener *l, struct tcp_stream *t, void *user)
{
    if (!l->cb->gap)
        return;
    if (t->server.rmem_alloc > 0)
        l->cb->gap(l->ctx, user, SMTP_FROM_CLIENT, (size_t)t->server.rmem_alloc);
    if (t->client.rmem_alloc > 0)
        l->cb->gap(l->ctx, user, SMTP_FROM_SERVER, (size_t)t->client.rmem_alloc);
}

/* The stream is gone: an IPv6 connection's alias goes with it (whoever
 * read the stream; a second call for the same stream finds it free). */
static void release_alias(const struct tcp_stream *t)
{
    if (!alias_is((const uint8_t *)&t->addr.saddr))
        return;
    uint32_t i = alias_of_addr(&t->addr.saddr);
    if (i != ALIAS_NIL && alias_at(i)->used)
        alias_remove(i);
}

/* New data from snd: bytes at stream positions the flow's holes cover are
 * gaps (filler libnids was given), the rest is data. Holes are kept in
 * sequence order; one that lies behind the data was never used (a full
 * copy of its bytes came first) and goes. */
static void deliver_split(const struct listener *l, void *user, enum smtp_dir dir,
                          const struct half_stream *snd, const struct half_stream *rcv,
                          struct reasm_side *sd)
{
    const char *p = rcv->data;
    size_t n = (size_t)rcv->count_new;
    uint32_t at = expected_seq(snd, rcv) - (uint32_t)n;
    size_t off = 0;
    while (off < n && sd->nholes) {
        uint32_t pos = at + (uint32_t)off;
        uint32_t hs = sd->hole_start[0], he = hs + sd->hole_len[0];
        if (!seq_after(he, pos)) {
            hole_drop_first(sd);
            continue;
        }
        size_t left = n - off;
        if (seq_after(hs, pos)) {
            size_t real = hs - pos < left ? hs - pos : left;
            l->cb->data(l->ctx, user, dir, p + off, real);
            off += real;
            continue;
        }
        size_t in = he - pos < left ? he - pos : left;
        l->cb->gap_bytes(l->ctx, user, dir, in, (enum reasm_gap_kind)sd->hole_kind[0]);
        off += in;
        if (!seq_after(he, at + (uint32_t)off))
            hole_drop_first(sd);
    }
    if (off < n)
        l->cb->data(l->ctx, user, dir, p + off, n - off);
}

static inline void deliver(const struct listener *l, void *user, enum smtp_dir dir,
                           const struct half_stream *snd, const struct half_stream *rcv)
{
    struct reasm_side *sd = cur_flow ? &cur_flow->side[dir] : NULL;
    if (sd) {
        sd->last_len = (uint32_t)rcv->count_new; /* in libnids' buffer until the next */
        sd->last_gap = sd->nholes != 0;
        if (sd->last_gap && l->cb->gap_bytes) {
            deliver_split(l, user, dir, snd, rcv, sd);
            return;
        }
    }
    l->cb->data(l->ctx, user, dir, rcv->data, (size_t)rcv->count_new);
}

static void stream_event(const struct listener *l, struct tcp_stream *t, void **user)
{
    const struct reasm_callbacks *cb = l->cb;
    enum tcp_end how;
    switch (t->nids_state) {
    case NIDS_JUST_EST: {
        struct endpoint c, s;
        endpoints_of(t, &c, &s);
        if (alias_is((const uint8_t *)&t->addr.saddr)) {
            uint32_t i = alias_of_addr(&t->addr.saddr);
            if (i != ALIAS_NIL)
                alias_at(i)->opened = true;
        }
        void *u = cb->open(l->ctx, &c, &s, t);
        if (u) {
            *user = u;
            t->client.collect++;
            t->server.collect++;
        }
        return;
    }
    case NIDS_DATA:
        /* client.count_new: bytes the server sent to the client */
        if (t->client.count_new)
            deliver(l, *user, SMTP_FROM_SERVER, &t->server, &t->client);
        if (t->server.count_new)
            deliver(l, *user, SMTP_FROM_CLIENT, &t->client, &t->server);
        return;
    case NIDS_CLOSE:
        how = TCP_END_CLOSED;
        break;
    case NIDS_RESET: {
        how = TCP_END_RESET_BY_SERVER;
        struct endpoint c, s;
        endpoints_of(t, &c, &s);
        if (cur && endpoint_eq(&cur->src, &c))
            how = TCP_END_RESET_BY_CLIENT;
        break;
    }
    case NIDS_TIMED_OUT: /* with tcp_workarounds off: only table eviction */
        stats.evicted++;
        how = TCP_END_EVICTED;
        break;
    case NIDS_EXITING:
        how = TCP_END_CAPTURE_ENDED;
        break;
    default:
        return;
    }
    report_gaps(l, t, *user);
    cb->end(l->ctx, *user, how);
    release_alias(t);
}

/* libnids passes no context: one entry point per listener slot. */
static void tcp_callback0(struct tcp_stream *t, void **user)
{
    stream_event(&listeners[0], t, user);
}

static void tcp_callback1(struct tcp_stream *t, void **user)
{
    stream_event(&listeners[1], t, user);
}

static void (*const entry_points[REASM_MAX_LISTENERS])(struct tcp_stream *, void **) = {
    tcp_callback0, tcp_callback1,
};

static const char *const warn_names[] = {
    "undefined", "ip-oversized", "ip-invalid-fragment-list", "ip-overlap",
    "ip-invalid-header", "ip-source-routed", "tcp-too-many-streams",
    "tcp-invalid-header", "tcp-queue-too-big", "tcp-invalid-flags",
};

const char *reasm_warning_name(int errnum)
{
    if (errnum < 0 || (size_t)errnum >= sizeof warn_names / sizeof warn_names[0])
        return "unknown";
    return warn_names[errnum];
}

/* libnids reports through this instead of syslog: counted, never printed
 * per packet (a hostile capture could make it print millions of lines). */
static void nids_warning(int type, int errnum, struct ip *iph, void *data)
{
    (void)type;
    (void)iph;
    (void)data;
    if (errnum >= 0 && errnum < 16)
        stats.warnings[errnum]++;
}

static void nids_out_of_memory(char *where)
{
    fprintf(stderr, "smtpscope: out of memory in libnids (%s)\n", where);
    exit(3);
}

int reasm_init(int max_streams, const struct reasm_callbacks *cb, void *ctx,
               char *err, size_t errlen)
{
    listeners[0] = (struct listener){cb, ctx};
    nlisteners = 1;
    memset(&stats, 0, sizeof stats);
    dead = pcap_open_dead(DLT_RAW, 262144);
    if (!dead) {
        snprintf(err, errlen, "pcap_open_dead failed");
        return -1;
    }
    nids_params.pcap_desc = dead;
    nids_params.filename = NULL;
    nids_params.device = NULL;
    nids_params.pcap_filter = NULL;
    nids_params.n_tcp_streams = max_streams;
    if (alias_init(max_streams) < 0) {
        snprintf(err, errlen, "out of memory for the IPv6 alias table");
        return -1;
    }
    nids_params.scan_num_hosts = 0;     /* no port-scan detection */
    nids_params.tcp_workarounds = 0;
    nids_params.tcp_flow_timeout = 0;   /* never free a stream silently */
    nids_params.multiproc = 0;
    nids_params.syslog = (void (*)())nids_warning;
    nids_params.no_mem = nids_out_of_memory;
    if (!nids_init()) {
        snprintf(err, errlen, "libnids: %s", nids_errbuf);
        return -1;
    }
    /* Offloaded checksums on the capturing host would otherwise make
     * libnids drop packets silently: verify nothing. */
    static struct nids_chksum_ctl no_checksums = {0, 0, NIDS_DONT_CHKSUM, 0};
    nids_register_chksum_ctl(&no_checksums, 1);
    nids_register_tcp((void *)entry_points[0]);
    return 0;
}

int reasm_add_listener(const struct reasm_callbacks *cb, void *ctx)
{
    if (nlisteners == REASM_MAX_LISTENERS)
        return -1;
    listeners[nlisteners] = (struct listener){cb, ctx};
    nids_register_tcp((void *)entry_points[nlisteners]);
    nlisteners++;
    return 0;
}

static void feed_raw(const uint8_t *ip, size_t len, smtp_time ts);

void reasm_feed_ipv4(const struct packet *pkt)
{
    cur = pkt;
    feed_raw(pkt->l3, pkt->l3_caplen, pkt->ts);
    cur = NULL;
}

static smtp_time last_ts; /* of the last packet fed */

static void feed_raw(const uint8_t *ip, size_t len, smtp_time ts)
{
    struct pcap_pkthdr h;
    last_ts = ts;
    h.ts.tv_sec = (time_t)(ts / SMTP_NS_PER_SEC);
    h.ts.tv_usec = (suseconds_t)((ts % SMTP_NS_PER_SEC) / 1000);
    h.caplen = (bpf_u_int32)len;
    h.len = (bpf_u_int32)len;
    stats.ip_packets++;
    nids_pcap_handler(NULL, &h, (u_char *)ip);
}

/* The IPv4 addresses libnids knows the connection of a and b by. */
static bool v4_addrs(const struct endpoint *src, const struct endpoint *dst,
                     bool create, smtp_time ts, uint8_t s4[4], uint8_t d4[4])
{
    if (src->family == 4) {
        memcpy(s4, src->addr, 4);
        memcpy(d4, dst->addr, 4);
        return true;
    }
    bool src_is_client = true;
    uint32_t i = alias_find(src, dst, &src_is_client);
    if (i == ALIAS_NIL) {
        if (!create)
            return false;
        i = alias_add(src, dst, ts, &stats);
        if (i == ALIAS_NIL) {
            stats.alias_full++;
            return false;
        }
    }
    alias_at(i)->last_ts = ts;
    uint8_t c4[4], sv4[4];
    alias_addrs(i, c4, sv4);
    memcpy(s4, src_is_client ? c4 : sv4, 4);
    memcpy(d4, src_is_client ? sv4 : c4, 4);
    return true;
}

/* libnids drops a segment beyond the receiver's advertised window. A
 * passive observer should not: captures miss ACKs, and some senders (and
 * packet generators) overrun the window. So every window is made maximal:
 * 65535 in each segment, and a window scale of 2^14 in each SYN (set, or
 * appended when the SYN has room and no payload). A SYN's timestamp option
 * becomes NOPs: with it libnids checks PAWS against the newest timestamp
 * it took, without the receiver's tolerance, and drops a reordered segment
 * sent just before a resent one that overtook it (the receiver took it);
 * handshakes made up for pickups carry none either. Returns the new length. */
static size_t open_window(uint8_t *t, size_t len)
{
    if (len < 20)
        return len;
    wr16(t + 14, 65535);
    if (!(t[13] & TCPF_SYN))
        return len;
    size_t hl = (size_t)(t[12] >> 4) * 4;
    if (hl < 20 || hl > len)
        return len;
    bool scaled = false;
    for (size_t o = 20; o < hl;) {
        uint8_t kind = t[o];
        if (kind == 0)
            break;
        if (kind == 1) {
            o++;
            continue;
        }
        if (o + 1 >= hl || t[o + 1] < 2 || o + t[o + 1] > hl)
            break;
        if (kind == 3 && t[o + 1] == 3) {
            t[o + 2] = 14;
            scaled = true;
        }
        size_t olen = t[o + 1];
        if (kind == 8)
            memset(t + o, 1, olen);
        o += olen;
    }
    if (scaled)
        return len;
    if (hl + 4 > 60 || len != hl)
        return len;
    static const uint8_t ws[4] = {1, 3, 3, 14};
    memcpy(t + hl, ws, 4);
    t[12] = (uint8_t)(((hl + 4) / 4) << 4 | (t[12] & 0x0f));
    return len + 4;
}

void reasm_inject(const uint8_t *ip, size_t len, smtp_time ts, struct reasm_flow *flow)
{
    struct reasm_flow *saved = cur_flow;
    const struct packet *saved_pkt = cur;
    cur_flow = flow;
    cur = NULL;
    feed_raw(ip, len, ts);
    cur_flow = saved;
    cur = saved_pkt;
}

static void feed_segment(const struct packet *pkt, struct reasm_flow *f,
                         enum smtp_dir dir, const uint8_t s4[4], const uint8_t d4[4]);

void reasm_feed(const struct packet *pkt)
{
    reasm_feed_flow(pkt, NULL, SMTP_FROM_CLIENT);
}

bool reasm_feed_flow(const struct packet *pkt, struct reasm_flow *f,
                     enum smtp_dir dir)
{
    if (!pkt->l4)
        return false;
    if (pkt->ipver == 4 &&
        (alias_is(pkt->src.addr) || alias_is(pkt->dst.addr))) {
        stats.alias_range_dropped++;
        return false;
    }
    /* A new IPv6 connection starts with its SYN (or is picked up through
     * reasm_synthesize, which creates its alias). */
    uint8_t s4[4], d4[4];
    bool syn = (pkt->tcp_flags & (TCPF_SYN | TCPF_ACK)) == TCPF_SYN;
    if (!v4_addrs(&pkt->src, &pkt->dst, syn, pkt->ts, s4, d4))
        return false;
    bool differs = false;
    if (f) {
        differs = flow_track(f, dir, pkt, s4, d4);
        flow_fill_before(f, dir, pkt, s4, d4);
    }
    cur_flow = f;
    feed_segment(pkt, f, dir, s4, d4);
    cur_flow = NULL;
    if (f)
        flow_fill_after(f, dir, pkt, s4, d4);
    return differs;
}

void reasm_flush_holes(void *stream, struct reasm_flow *f)
{
    struct tcp_stream *t = stream;
    if (!t || !f)
        return;
    for (int d = 0; d < 2; d++) {
        struct reasm_side *sd = &f->side[d];
        flow_fill(t, f, (enum smtp_dir)d, 0, false, last_ts);
        if (sd->acked_beyond)
            flow_fill(t, f, (enum smtp_dir)d, sd->acked, true, last_ts);
    }
}

static void feed_segment(const struct packet *pkt, struct reasm_flow *f,
                         enum smtp_dir dir, const uint8_t s4[4], const uint8_t d4[4])
{
    size_t tcp_len = pkt->l4_len, have = pkt->l4_caplen;
    /* The common case, a whole IPv4 segment with a plain header and no
     * SYN, is handed over where it lies, its window opened in place: no
     * copy. The capture buffer is libpcap's own, writable memory (a stdio
     * buffer, or the mmap ring it maps read-write); nothing reads the
     * window field after this. */
    if (pkt->ipver == 4 && !(pkt->tcp_flags & TCPF_SYN) && pkt->l3[0] == 0x45 &&
        pkt->l4 == pkt->l3 + 20 && have >= tcp_len && tcp_len >= 20 &&
        (size_t)(pkt->l3[2] << 8 | pkt->l3[3]) == 20 + tcp_len) {
        uint8_t *t = (uint8_t *)(uintptr_t)pkt->l4;
        wr16(t + 14, 65535);
        if (reasm_may_park && flow_park(f, dir, pkt, s4, d4, pkt->l3, 20 + tcp_len))
            return;
        cur = pkt;
        feed_raw(pkt->l3, 20 + tcp_len, pkt->ts);
        cur = NULL;
        return;
    }
    /* Otherwise the segment is handed over rebuilt: a plain IPv4 header, the TCP
     * segment with its window opened (see open_window), and the bytes the
     * snap length cut off given as filler, so the stream keeps its sequence
     * space; with a flow, the filler is a hole and comes back as a gap. */
    if (tcp_len > sizeof rebuilt - 24)
        tcp_len = sizeof rebuilt - 24;
    if (have > tcp_len)
        have = tcp_len;
    size_t hl = pkt->l4_len - pkt->payload_len;
    if (f && have < tcp_len && pkt->payload_len && !(pkt->tcp_flags & TCPF_SYN)) {
        size_t cap = have > hl ? have - hl : 0;
        hole_add(&f->side[dir], pkt->seq + (uint32_t)cap,
                 (uint32_t)(tcp_len - hl - cap), REASM_GAP_CUT);
    }
    memcpy(rebuilt + 20, pkt->l4, have);
    memset(rebuilt + 20 + have, 0, tcp_len - have);
    tcp_len = open_window(rebuilt + 20, tcp_len);
    ipv4_header(rebuilt, s4, d4, tcp_len, pkt->ttl);
    if (reasm_may_park && flow_park(f, dir, pkt, s4, d4, rebuilt, 20 + tcp_len))
        return;
    cur = pkt;
    feed_raw(rebuilt, 20 + tcp_len, pkt->ts);
    cur = NULL;
}

void reasm_synthesize(const struct endpoint *client,
                      const struct endpoint *server, uint32_t client_isn,
                      uint32_t server_isn, unsigned which, smtp_time ts)
{
    uint8_t c4[4], s4[4];
    if (!v4_addrs(client, server, true, ts, c4, s4))
        return;
    /* Window scaling 2^14 on both sides: the real scale is unknown, and a
     * window read too small would make libnids drop in-window data. No
     * timestamps option, so libnids' PAWS check stays off. */
    static const uint8_t opts[4] = {1, 3, 3, 14}; /* NOP, WS shift 14 */
    uint8_t pkt[20 + 24];
    uint8_t *t = pkt + 20;
    struct {
        unsigned flag;
        bool from_client;
        uint32_t seq, ack;
        uint8_t flags;
    } steps[3] = {
        {REASM_SYN, true, client_isn, 0, TCPF_SYN},
        {REASM_SYNACK, false, server_isn, client_isn + 1, TCPF_SYN | TCPF_ACK},
        {REASM_ACK, true, client_isn + 1, server_isn + 1, TCPF_ACK},
    };
    for (int k = 0; k < 3; k++) {
        if (!(which & steps[k].flag))
            continue;
        bool fc = steps[k].from_client;
        bool has_opts = steps[k].flags & TCPF_SYN;
        size_t tl = has_opts ? 24 : 20;
        ipv4_header(pkt, fc ? c4 : s4, fc ? s4 : c4, tl, 64);
        memset(t, 0, 24);
        wr16(t, fc ? client->port : server->port);
        wr16(t + 2, fc ? server->port : client->port);
        wr32(t + 4, steps[k].seq);
        wr32(t + 8, steps[k].ack);
        t[12] = (uint8_t)((tl / 4) << 4);
        t[13] = steps[k].flags;
        wr16(t + 14, 65535);
        if (has_opts)
            memcpy(t + 20, opts, 4);
        stats.synthesized++;
        feed_raw(pkt, 20 + tl, ts);
    }
}

void reasm_forget(const struct endpoint *client, const struct endpoint *server)
{
    if (client->family != 6)
        return;
    bool dummy;
    uint32_t i = alias_find(client, server, &dummy);
    if (i != ALIAS_NIL)
        alias_remove(i);
}

void reasm_drop(void *stream)
{
    if (stream)
        nids_free_tcp_stream(stream);
}

void reasm_finish(void)
{
    nids_exit();
    /* nids_exit leaves the callback list alone: unregister, which frees
     * its node, so a later reasm_init (tests, fuzzing) leaks nothing. */
    for (int i = 0; i < nlisteners; i++)
        nids_unregister_tcp((void *)entry_points[i]);
    nlisteners = 0;
    alias_free_all();
    if (dead) {
        pcap_close(dead);
        dead = NULL;
    }
}

const struct reasm_stats *reasm_get_stats(void)
{
    return &stats;
}
