/* reasm_flow.h - inside the reassembly module: holes, overlaps and the
 * evidence that a hole will not fill (reasm_flow.c), shared with the libnids
 * glue (reassembly.c). Not for other modules: see reassembly.h. */
#ifndef SMTPSCOPE_REASM_FLOW_H
#define SMTPSCOPE_REASM_FLOW_H

#include <nids.h>

#include "reassembly.h"

/* Sequence comparison modulo 2^32: a comes after b. */
static inline bool seq_after(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) > 0;
}

/* libnids' next expected sequence number from snd (data lands in rcv). */
static inline uint32_t expected_seq(const struct half_stream *snd,
                                    const struct half_stream *rcv)
{
    return snd->first_data_seq + (uint32_t)rcv->count + (uint32_t)rcv->urg_count;
}

static inline void wr16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void wr32(uint8_t *p, uint32_t v)
{
    wr16(p, v >> 16);
    wr16(p + 2, v);
}

void ipv4_header(uint8_t *ip, const uint8_t src[4], const uint8_t dst[4],
                 size_t tcp_len, uint8_t ttl);

/* reassembly.c: hand libnids one rebuilt IPv4 packet, with flow as the
 * flow of any data it delivers. */
void reasm_inject(const uint8_t *ip, size_t len, smtp_time ts, struct reasm_flow *flow);

/* Records [start, start+len) of a direction as filler (sorted; adjacent
 * holes of a kind merge; a full list records nothing). */
void hole_add(struct reasm_side *sd, uint32_t start, uint32_t len,
              enum reasm_gap_kind kind);
void hole_drop_first(struct reasm_side *sd);

bool flow_track_slow(struct reasm_flow *f, enum smtp_dir dir, const struct packet *pkt,
                     const uint8_t s4[4], const uint8_t d4[4]);
void flow_acked(struct reasm_side *peer, const struct packet *pkt);
void flow_fill_before_slow(struct reasm_flow *f, enum smtp_dir dir,
                           const struct packet *pkt, const uint8_t s4[4],
                           const uint8_t d4[4]);
void flow_fill_after_slow(struct reasm_flow *f, enum smtp_dir dir,
                          const struct packet *pkt, const uint8_t s4[4],
                          const uint8_t d4[4]);

/* Bookkeeping of one segment before libnids sees it: the sender's next
 * sequence number, the receiver's acknowledgement. Returns true when the
 * segment overlapped the bytes delivered last and differed. Inline: the
 * common segment (in order) costs a few comparisons. */
static inline bool flow_track(struct reasm_flow *f, enum smtp_dir dir,
                              const struct packet *pkt, const uint8_t s4[4],
                              const uint8_t d4[4])
{
    struct reasm_side *sd = &f->side[dir], *peer = &f->side[!dir];
    uint8_t fl = pkt->tcp_flags;
    if (fl & TCPF_SYN) {
        reasm_flow_start(f, dir, pkt->seq + 1);
        sd->seen = true;
        sd->fast = !sd->ooo;
        return false;
    }
    bool differs = false;
    if (pkt->payload_len) {
        if (sd->fast && pkt->seq == sd->next_seq)
            sd->next_seq += (uint32_t)pkt->payload_len;
        else
            differs = flow_track_slow(f, dir, pkt, s4, d4);
    }
    /* The receiver acknowledged more than the sender was seen to send
     * (one more is a FIN): bytes the capture missed, certainly sent. */
    if ((fl & TCPF_ACK) && peer->known && seq_after(pkt->ack, peer->next_seq + 1))
        flow_acked(peer, pkt);
    return differs;
}

/* Fills the holes that are certain (see reasm_feed_flow): before the
 * segment, the peer's (its acknowledgement, its wait); after it, the
 * sender's (its queue). */
static inline void flow_fill_before(struct reasm_flow *f, enum smtp_dir dir,
                                    const struct packet *pkt, const uint8_t s4[4],
                                    const uint8_t d4[4])
{
    const struct reasm_side *peer = &f->side[!dir];
    if (peer->acked_beyond || peer->ooo)
        flow_fill_before_slow(f, dir, pkt, s4, d4);
}

static inline void flow_fill_after(struct reasm_flow *f, enum smtp_dir dir,
                                   const struct packet *pkt, const uint8_t s4[4],
                                   const uint8_t d4[4])
{
    if (f->side[dir].ooo && (pkt->payload_len || f->park[dir].head))
        flow_fill_after_slow(f, dir, pkt, s4, d4);
}

/* Set by flow_track_slow for a segment beyond the next expected byte (the
 * only kind that parks), cleared by flow_park: the common segment pays one
 * test of it. */
extern bool reasm_may_park;

/* Parks the segment (ip, len: as it would go to libnids) when it lies
 * beyond a hole and libnids' queue is near its limit (reasm_park.h); true
 * when it did (libnids must not see it now). */
bool flow_park(struct reasm_flow *f, enum smtp_dir dir, const struct packet *pkt,
               const uint8_t s4[4], const uint8_t d4[4], const uint8_t *ip, size_t len);

/* Fills every hole of dir holding back queued data (limit: also up to the
 * peer's acknowledgement when has_limit). */
void flow_fill(struct tcp_stream *t, struct reasm_flow *f, enum smtp_dir dir,
               uint32_t limit, bool has_limit, smtp_time ts);

#endif
