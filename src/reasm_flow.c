/* reasm_flow.c - holes, overlaps and certain gaps (see reasm_flow.h).
 *
 * Per segment, in the common case (in order, not overlapping), this costs a
 * few comparisons inlined from reasm_flow.h. Only segments that overlap
 * what was seen, or that libnids must queue, take more: a lookup of
 * libnids' stream, a comparison with the bytes it delivered last.
 */
#include "reasm_flow.h"

#include <string.h>

#include "reasm_park.h"

/* libnids' queue element (its private tcp.h, libnids 1.2x): the fields
 * read here are the sequence number of an out-of-order segment. */
struct nids_skbuff {
    struct nids_skbuff *next, *prev;
    void *data;
    u_int len, truesize, urg_ptr;
    char fin, urg;
    u_int seq, ack;
};

/* Filler per side over the connection's life, and per fill: a hostile
 * acknowledgement far ahead must not make libnids copy gigabytes. */
#define FILL_SIDE_MAX (8u << 20)
#define FILL_CALL_MAX (1u << 20)
#define FILL_PIECE 65000u /* under the 16-bit IP total length */

static uint8_t filler[20 + 20 + FILL_PIECE];

/* An IPv4 header for `len` bytes of TCP (checksums are not verified). */
void ipv4_header(uint8_t *ip, const uint8_t src[4], const uint8_t dst[4],
                 size_t tcp_len, uint8_t ttl)
{
    memset(ip, 0, 20);
    ip[0] = 0x45;
    wr16(ip + 2, (uint32_t)(20 + tcp_len));
    ip[8] = ttl;
    ip[9] = 6;
    memcpy(ip + 12, src, 4);
    memcpy(ip + 16, dst, 4);
}

void hole_add(struct reasm_side *sd, uint32_t start, uint32_t len,
              enum reasm_gap_kind kind)
{
    if (len == 0)
        return;
    unsigned i = sd->nholes;
    while (i > 0 && seq_after(sd->hole_start[i - 1], start))
        i--;
    if (i > 0 && sd->hole_kind[i - 1] == kind &&
        sd->hole_start[i - 1] + sd->hole_len[i - 1] == start) {
        sd->hole_len[i - 1] += len;
        return;
    }
    if (sd->nholes == REASM_HOLES)
        return; /* its filler reaches the reader as NULs */
    memmove(sd->hole_start + i + 1, sd->hole_start + i, (sd->nholes - i) * sizeof *sd->hole_start);
    memmove(sd->hole_len + i + 1, sd->hole_len + i, (sd->nholes - i) * sizeof *sd->hole_len);
    memmove(sd->hole_kind + i + 1, sd->hole_kind + i, sd->nholes - i);
    sd->hole_start[i] = start;
    sd->hole_len[i] = len;
    sd->hole_kind[i] = (uint8_t)kind;
    sd->nholes++;
}

void hole_drop_first(struct reasm_side *sd)
{
    sd->nholes--;
    memmove(sd->hole_start, sd->hole_start + 1, sd->nholes * sizeof *sd->hole_start);
    memmove(sd->hole_len, sd->hole_len + 1, sd->nholes * sizeof *sd->hole_len);
    memmove(sd->hole_kind, sd->hole_kind + 1, sd->nholes);
}

/* ---- the slow path of flow_track ----------------------------------------- */

static struct tcp_stream *stream_of(enum smtp_dir dir, const struct packet *pkt,
                                    const uint8_t s4[4], const uint8_t d4[4]);

/* A segment at or before the next expected byte: compared with the last
 * chunk libnids delivered, whose bytes are still at the start of its
 * buffer (smtpscope's callbacks never keep data: libnids discards it all
 * and copies the next chunk to the start). */
static bool overlap_differs(struct reasm_flow *f, enum smtp_dir dir, const struct packet *pkt,
                            const uint8_t *data, size_t cap, const uint8_t s4[4],
                            const uint8_t d4[4])
{
    struct reasm_side *sd = &f->side[dir];
    if (!sd->last_len || sd->last_gap)
        return false;
    struct tcp_stream *t = stream_of(dir, pkt, s4, d4);
    if (!t)
        return false;
    const struct half_stream *snd = dir == SMTP_FROM_CLIENT ? &t->client : &t->server;
    const struct half_stream *rcv = dir == SMTP_FROM_CLIENT ? &t->server : &t->client;
    uint32_t e = expected_seq(snd, rcv), lo = e - sd->last_len, seq = pkt->seq;
    uint32_t a = seq_after(lo, seq) ? lo : seq;
    uint32_t b = seq_after(seq + (uint32_t)cap, e) ? e : seq + (uint32_t)cap;
    if (!rcv->data || !seq_after(b, a) || sd->last_len > (uint32_t)rcv->bufsize ||
        memcmp(rcv->data + (a - lo), data + (a - seq), b - a) == 0)
        return false;
    if (f->mismatches++ == 0) {
        f->mismatch_off = a - sd->base;
        f->mismatch_len = b - a;
        f->mismatch_dir = (uint8_t)dir;
    }
    return true;
}

bool reasm_may_park;

bool flow_track_slow(struct reasm_flow *f, enum smtp_dir dir, const struct packet *pkt,
                     const uint8_t s4[4], const uint8_t d4[4])
{
    struct reasm_side *sd = &f->side[dir];
    size_t hl = pkt->l4_len - pkt->payload_len;
    size_t cap = pkt->l4_caplen > hl ? pkt->l4_caplen - hl : 0;
    if (cap > pkt->payload_len)
        cap = pkt->payload_len;
    uint32_t seq = pkt->seq, end = seq + (uint32_t)pkt->payload_len;
    if (!sd->known)
        reasm_flow_start(f, dir, seq);
    sd->seen = true;
    sd->fast = !sd->ooo;
    bool differs = false;
    if (seq_after(seq, sd->next_seq)) {
        reasm_may_park = true;
        if (!sd->ooo) {
            sd->ooo = true;
            sd->fast = false;
            sd->ooo_since = pkt->ts;
        }
        return false;
    }
    if (seq != sd->next_seq)
        differs = overlap_differs(f, dir, pkt, pkt->l4 + hl, cap, s4, d4);
    if (seq_after(end, sd->next_seq))
        sd->next_seq = end;
    return differs;
}

void reasm_flow_start(struct reasm_flow *f, enum smtp_dir dir, uint32_t next_seq)
{
    struct reasm_side *sd = &f->side[dir];
    sd->known = true;
    sd->next_seq = sd->base = next_seq;
}

void flow_acked(struct reasm_side *peer, const struct packet *pkt)
{
    if (!peer->acked_beyond || seq_after(pkt->ack, peer->acked))
        peer->acked = pkt->ack;
    if (!peer->acked_beyond) {
        peer->acked_beyond = true;
        peer->acked_since = pkt->ts;
    }
}

/* ---- filling holes -------------------------------------------------------- */

static struct tcp_stream *stream_of(enum smtp_dir dir, const struct packet *pkt,
                                    const uint8_t s4[4], const uint8_t d4[4])
{
    struct tuple4 a;
    bool fc = dir == SMTP_FROM_CLIENT;
    memcpy(&a.saddr, fc ? s4 : d4, 4);
    memcpy(&a.daddr, fc ? d4 : s4, 4);
    a.source = fc ? pkt->src.port : pkt->dst.port;
    a.dest = fc ? pkt->dst.port : pkt->src.port;
    return nids_find_tcp_stream(&a);
}

/* Gives libnids len filler bytes from seq on, in direction dir. */
static void inject(struct tcp_stream *t, struct reasm_flow *f, enum smtp_dir dir,
                   uint32_t seq, uint32_t len, smtp_time ts)
{
    bool fc = dir == SMTP_FROM_CLIENT;
    struct half_stream *snd = fc ? &t->client : &t->server;
    struct half_stream *rcv = fc ? &t->server : &t->client;
    uint8_t src[4], dst[4];
    memcpy(src, fc ? (const void *)&t->addr.saddr : (const void *)&t->addr.daddr, 4);
    memcpy(dst, fc ? (const void *)&t->addr.daddr : (const void *)&t->addr.saddr, 4);
    hole_add(&f->side[dir], seq, len, REASM_GAP_LOST);
    f->side[dir].filled += len;
    while (len) {
        uint32_t n = len < FILL_PIECE ? len : FILL_PIECE;
        uint8_t *tcp = filler + 20;
        ipv4_header(filler, src, dst, 20 + n, 64);
        memset(tcp, 0, 20 + n);
        wr16(tcp, fc ? t->addr.source : t->addr.dest);
        wr16(tcp + 2, fc ? t->addr.dest : t->addr.source);
        wr32(tcp + 4, seq);
        wr32(tcp + 8, expected_seq(rcv, snd));
        tcp[12] = 5 << 4;
        tcp[13] = TCPF_ACK;
        wr16(tcp + 14, 65535);
        /* libnids takes a segment that ends before the receiver's last
         * acknowledgement for an old retransmission: not this one */
        u_int acked = rcv->ack_seq;
        rcv->ack_seq = seq;
        reasm_inject(filler, 40 + n, ts, f);
        if (seq_after(acked, rcv->ack_seq))
            rcv->ack_seq = acked;
        seq += n;
        len -= n;
    }
}

/* ---- parking (reasm_park.h) ------------------------------------------------ */

bool flow_park(struct reasm_flow *f, enum smtp_dir dir, const struct packet *pkt,
               const uint8_t s4[4], const uint8_t d4[4], const uint8_t *ip, size_t len)
{
    reasm_may_park = false;
    if (!f->side[dir].ooo && !f->park[dir].head)
        return false;
    if ((pkt->tcp_flags & (TCPF_SYN | TCPF_RST)) ||
        (!pkt->payload_len && !(pkt->tcp_flags & TCPF_FIN)))
        return false;
    struct tcp_stream *t = stream_of(dir, pkt, s4, d4);
    if (!t)
        return false;
    const struct half_stream *snd = dir == SMTP_FROM_CLIENT ? &t->client : &t->server;
    const struct half_stream *rcv = dir == SMTP_FROM_CLIENT ? &t->server : &t->client;
    if (!seq_after(pkt->seq, expected_seq(snd, rcv)))
        return false; /* it fills the hole (or is old): libnids' */
    /* behind segments already parked, or where libnids' queue is full */
    if (!f->park[dir].head && (size_t)rcv->rmem_alloc + len <= REASM_PARK_AT)
        return false;
    return park_take(f, (int)dir, pkt->seq, ip, len);
}

/* Hands libnids the parked segments of dir it can take: those the stream
 * has reached, and those beyond a hole while its queue has room. libnids
 * may end the stream on one (a parked FIN): it is looked up each time. */
static void release_parked(struct tcp_stream *t, struct reasm_flow *f, enum smtp_dir dir,
                           smtp_time ts)
{
    struct tuple4 addr = t->addr;
    struct reasm_parked *p;
    for (unsigned k = 0; k < 8192 && (p = park_pop(f, (int)dir)); k++) {
        if (!(t = nids_find_tcp_stream(&addr))) {
            park_release(p);
            continue; /* the stream is gone: what it held goes too */
        }
        const struct half_stream *snd = dir == SMTP_FROM_CLIENT ? &t->client : &t->server;
        struct half_stream *rcv = dir == SMTP_FROM_CLIENT ? &t->server : &t->client;
        if (seq_after(p->seq, expected_seq(snd, rcv)) &&
            (size_t)rcv->rmem_alloc + p->len > REASM_PARK_AT) {
            park_push_front(f, (int)dir, p);
            return;
        }
        /* the receiver may have acknowledged past it meanwhile (a hole
         * the capture lost): libnids would take it for an old copy */
        u_int acked = rcv->ack_seq;
        if (seq_after(acked, p->seq))
            rcv->ack_seq = p->seq;
        reasm_inject(p->ip, p->len, ts, f);
        if ((t = nids_find_tcp_stream(&addr))) {
            rcv = dir == SMTP_FROM_CLIENT ? &t->server : &t->client;
            if (seq_after(acked, rcv->ack_seq))
                rcv->ack_seq = acked;
        }
        park_release(p);
    }
}

void flow_fill(struct tcp_stream *t, struct reasm_flow *f, enum smtp_dir dir,
               uint32_t limit, bool has_limit, smtp_time ts)
{
    bool fc = dir == SMTP_FROM_CLIENT;
    struct half_stream *snd = fc ? &t->client : &t->server;
    struct half_stream *rcv = fc ? &t->server : &t->client;
    struct reasm_side *sd = &f->side[dir];
    uint32_t budget = FILL_CALL_MAX;
    /* a direction never captured (one-sided capture): nothing to place */
    if (!sd->seen)
        return;
    struct tuple4 addr = t->addr;
    for (int k = 0; k < 64 && rcv->collect && budget; k++) {
        if (f->park[dir].head) { /* a hole filled lets parked segments in */
            release_parked(t, f, dir, ts);
            if (!(t = nids_find_tcp_stream(&addr)))
                return;
            snd = fc ? &t->client : &t->server;
            rcv = fc ? &t->server : &t->client;
        }
        uint32_t e = expected_seq(snd, rcv), end;
        const struct nids_skbuff *q = (const struct nids_skbuff *)rcv->list;
        if (q && seq_after(q->seq, e))
            end = q->seq;
        else if (!q && has_limit)
            end = limit;
        else
            break;
        if (has_limit && seq_after(end, limit))
            end = limit;
        if (!seq_after(end, e) || sd->filled >= FILL_SIDE_MAX)
            break;
        if (end - e > budget)
            end = e + budget;
        if (end - e > FILL_SIDE_MAX - sd->filled)
            end = e + (FILL_SIDE_MAX - sd->filled);
        budget -= end - e;
        inject(t, f, dir, e, end - e, ts);
        if (expected_seq(snd, rcv) == e)
            break; /* libnids did not take it */
    }
    if (f->park[dir].head) {
        release_parked(t, f, dir, ts);
        if (!(t = nids_find_tcp_stream(&addr)))
            return;
        snd = fc ? &t->client : &t->server;
        rcv = fc ? &t->server : &t->client;
    }
    sd->next_seq = expected_seq(snd, rcv);
    sd->ooo = rcv->list != NULL || f->park[dir].head;
    sd->fast = sd->seen && !sd->ooo;
    if (!sd->acked_beyond || !seq_after(sd->acked, sd->next_seq + 1))
        sd->acked_beyond = false;
}

void flow_fill_before_slow(struct reasm_flow *f, enum smtp_dir dir,
                           const struct packet *pkt, const uint8_t s4[4],
                           const uint8_t d4[4])
{
    enum smtp_dir other = (enum smtp_dir)!dir;
    struct reasm_side *peer = &f->side[other];
    smtp_time ts = pkt->ts;
    /* The receiver acknowledged past the hole and now speaks (SMTP takes
     * turns: it read those bytes) or closes, or that was a while ago. */
    bool acked = peer->acked_beyond &&
                 (pkt->payload_len || (pkt->tcp_flags & (TCPF_FIN | TCPF_RST)) ||
                  ts - peer->acked_since >= REASM_ACK_WAIT_NS);
    bool waited = peer->ooo && ts - peer->ooo_since >= REASM_OOO_WAIT_NS;
    struct tcp_stream *t;
    if ((!acked && !waited) || !(t = stream_of(dir, pkt, s4, d4)))
        return;
    flow_fill(t, f, other, peer->acked, acked, ts);
}

void flow_fill_after_slow(struct reasm_flow *f, enum smtp_dir dir,
                          const struct packet *pkt, const uint8_t s4[4],
                          const uint8_t d4[4])
{
    struct reasm_side *sd = &f->side[dir];
    struct tcp_stream *t = stream_of(dir, pkt, s4, d4);
    if (!t)
        return;
    if (f->park[dir].head) { /* the copy came: what waited behind it goes in */
        release_parked(t, f, dir, pkt->ts);
        if (!(t = stream_of(dir, pkt, s4, d4)))
            return;
    }
    const struct half_stream *snd = dir == SMTP_FROM_CLIENT ? &t->client : &t->server;
    const struct half_stream *rcv = dir == SMTP_FROM_CLIENT ? &t->server : &t->client;
    if (!rcv->list && !f->park[dir].head) { /* the reordering resolved itself */
        sd->ooo = false;
        sd->fast = sd->seen;
        sd->next_seq = expected_seq(snd, rcv);
    } else if (rcv->rmem_alloc > REASM_QUEUE_MAX ||
               pkt->ts - sd->ooo_since >= REASM_OOO_WAIT_NS) {
        flow_fill(t, f, dir, 0, false, pkt->ts);
    }
}
