/* tcp_path.c - TCP path quality per connection (see tcp_path.h). */
#include "tcp_path.h"

#include "decode.h"

/* a <= b in sequence space (RFC 1982 arithmetic, 32 bits) */
static bool seq_leq(uint32_t a, uint32_t b) { return (int32_t)(a - b) <= 0; }

static smtp_time min_ooo_window(const struct tcp_path *t)
{
    smtp_time three_ms = 3 * (SMTP_NS_PER_SEC / 1000);
    smtp_time rtt = t->synack_ts && t->ack_ts && t->syn_ts ? t->ack_ts - t->syn_ts : 0;
    return rtt > three_ms ? rtt : three_ms;
}

/* Was a segment starting at `seq` among the last ones seen from `side`? */
static bool seen_recently(const struct tcp_path *t, int side, uint32_t seq)
{
    for (unsigned k = 0; k < TCP_PATH_RING; k++)
        if (t->sent_ts[side][k] && t->sent_seq[side][k] == seq)
            return true;
    return false;
}

static void remember(struct tcp_path *t, int side, uint32_t seq, uint16_t ipid, smtp_time ts)
{
    unsigned k = t->sent_at[side]++ % TCP_PATH_RING;
    t->sent_seq[side][k] = seq;
    t->sent_ipid[side][k] = ipid;
    t->sent_ts[side][k] = ts;
}

/* A segment sent again: counted, and timed against its first copy when
 * that is among the last ones seen. A copy with the first one's IP ID
 * (not 0, which some stacks send always) is the network's duplicate: the
 * sender resends under a new one. */
static void retransmitted(struct tcp_path *t, int side, uint32_t seq, uint16_t ipid,
                          smtp_time ts)
{
    t->retransmits[side]++;
    for (unsigned k = 0; k < TCP_PATH_RING; k++)
        if (ipid && t->sent_ts[side][k] && t->sent_seq[side][k] == seq &&
            t->sent_ipid[side][k] == ipid) {
            t->duplicates[side]++;
            return;
        }
    for (unsigned k = 0; k < TCP_PATH_RING; k++)
        if (t->sent_ts[side][k] && t->sent_seq[side][k] == seq && ts > t->sent_ts[side][k]) {
            t->retrans_ts[side] = ts;
            t->retrans_wait[side] = ts - t->sent_ts[side][k];
            return;
        }
}

static void handshake(struct tcp_path *t, int side, uint8_t flags, smtp_time ts)
{
    bool syn = flags & TCPF_SYN, ack = flags & TCPF_ACK;
    if (side == 0 && syn && !ack && !t->synack_ts)
        t->syn_ts = ts; /* the last SYN before the answer */
    else if (side == 1 && syn && ack && !t->ack_ts && t->syn_ts) {
        if (!t->synack_ts)
            t->synack_ts = ts; /* the server side's RTT: the first answer */
        t->synack_last_ts = ts; /* the client's: the answer its ACK is to */
    } else if (side == 0 && !syn && ack && t->synack_ts && !t->ack_ts)
        t->ack_ts = ts;
}

/* A hole of `side` filled at ts: resent upstream (see tcp_path.h) when a
 * whole round trip passed since it opened. */
static void filled(struct tcp_path *t, int side, smtp_time ts)
{
    smtp_time rtt = t->synack_ts && t->ack_ts && t->syn_ts ? t->ack_ts - t->syn_ts : 0;
    if (rtt > 0 && t->hole_ts[side] && ts - t->hole_ts[side] >= rtt)
        t->resent_upstream[side]++;
}

smtp_time tcp_path_zero_window_stall(const struct tcp_path *t, int side, smtp_time end)
{
    smtp_time open = t->zw_since[side] ? end - t->zw_since[side] : 0;
    return open > t->zw_stall[side] ? open : t->zw_stall[side];
}

void tcp_path_segment_slow(struct tcp_path *t, int side, uint8_t flags, uint32_t seq,
                           uint32_t payload_len, uint16_t window, bool window_known,
                           uint16_t ipid, smtp_time ts)
{
    if (side != 0 && side != 1)
        return;
    t->segments[side]++;
    handshake(t, side, flags, ts);
    if (window_known && window == 0 && !(flags & (TCPF_SYN | TCPF_FIN | TCPF_RST))) {
        t->zero_window[side]++;
        if (!t->zw_since[side])
            t->zw_since[side] = ts;
    } else if (window_known && window && t->zw_since[side]) { /* reopened */
        t->zw_stall[side] = tcp_path_zero_window_stall(t, side, ts);
        t->zw_since[side] = 0;
    }
    if (flags & TCPF_RST)
        return;
    uint32_t len = payload_len + !!(flags & TCPF_SYN) + !!(flags & TCPF_FIN);
    if (len == 0)
        return; /* a pure ACK or a window probe carries no sequence space */
    if (!(flags & TCPF_SYN))
        t->data_segments[side]++;
    uint32_t end = seq + len;
    if (flags & TCPF_SYN) { /* SYN retransmissions are syn_count's, not the path's */
        if (!t->have_seq[side] || !seq_leq(end, t->next_seq[side]))
            t->next_seq[side] = end;
        t->have_seq[side] = true;
        return;
    }
    if (!t->have_seq[side]) {
        t->have_seq[side] = true;
        t->next_seq[side] = end;
        return;
    }
    if (seq_leq(end, t->next_seq[side]) || (int32_t)(seq - t->next_seq[side]) < 0) {
        /* a copy of a segment already seen fills no hole: sent again */
        bool fills_new_hole = t->hole_ts[side] && ts - t->hole_ts[side] < min_ooo_window(t) &&
                              !seen_recently(t, side, seq);
        if (fills_new_hole) {
            t->out_of_order[side]++;
            filled(t, side, ts);
            if (payload_len)
                remember(t, side, seq, ipid, ts); /* its copies are repeats */
        } else {
            retransmitted(t, side, seq, ipid, ts);
        }
        if (!seq_leq(end, t->next_seq[side])) /* partly new */
            t->next_seq[side] = end;
        return;
    }
    if (seq != t->next_seq[side])
        t->hole_ts[side] = ts; /* a jump: bytes are missing or come later */
    if (payload_len)
        remember(t, side, seq, ipid, ts);
    if (!seq_leq(end, t->next_seq[side]))
        t->next_seq[side] = end;
}

smtp_time tcp_path_rtt(const struct tcp_path *t, bool server_side)
{
    if (server_side)
        return t->syn_ts && t->synack_ts ? t->synack_ts - t->syn_ts : -1;
    return t->synack_ts && t->ack_ts ? t->ack_ts - t->synack_last_ts : -1;
}

smtp_time tcp_path_retrans_wait(const struct tcp_path *t, int side, smtp_time from,
                                smtp_time to)
{
    if ((side != 0 && side != 1) || !t->retrans_ts[side] || t->retrans_ts[side] <= from ||
        t->retrans_ts[side] > to)
        return 0;
    smtp_time lost = t->retrans_ts[side] - from;
    return lost < t->retrans_wait[side] ? lost : t->retrans_wait[side];
}
