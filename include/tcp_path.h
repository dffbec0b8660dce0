/* tcp_path.h - TCP path quality of one connection, counted as its
 * segments pass the connection table: round-trip time split at the
 * capture point, retransmissions, out-of-order segments and zero windows
 * per direction. Bounded (a few words per connection) and cheap: no
 * segment is kept. Plain data, so the session can carry the result.
 *
 * Retransmission, as tshark's tcp.analysis.retransmission: a segment
 * carrying data (or a FIN) that starts below the highest sequence number
 * already seen from that side. SYNs sent again are the session's
 * syn_count, not counted here. Out of order: such a segment that
 * fills a hole opened less than an RTT (at least 3 ms) before, which a
 * sender's retransmission timer could not have sent yet, and that is no
 * copy of one of the last segments seen (a copy fills no hole: it is a
 * retransmission, however soon it comes). Of those, duplicates: the same
 * packet, IP ID and all, which the network (not the sender) sent twice.
 *
 * Resent upstream: an out-of-order segment that filled its hole a whole
 * round trip (the handshake's, at the capture point) or more after it
 * opened. A segment lost before the capture point cannot come sooner: the
 * segment after it must reach the receiver, whose duplicate ACK must reach
 * the sender (or the sender's timer run out), and the copy come back.
 * Reordering on the way is usually sooner. Still counted out of order (as
 * tshark does), and as a loss for lossy-path: near the receiver, the
 * path's losses look like this.
 */
#ifndef SMTPSCOPE_TCP_PATH_H
#define SMTPSCOPE_TCP_PATH_H

#include <stdbool.h>
#include <stdint.h>

#include "timeval.h"

#define TCP_PATH_RING 8

struct tcp_path {
    uint32_t segments[2], retransmits[2], out_of_order[2], zero_window[2];
    uint32_t resent_upstream[2];   /* out of order, and resent (see above) */
    /* a zero window announced at zw_since (0: the window is open) and the
     * longest time a side's window stayed 0: the stall, not the count,
     * tells a receiver that stopped reading from flow control at work */
    smtp_time zw_since[2], zw_stall[2];
    uint32_t data_segments[2];     /* of segments[]: those with data or a FIN */
    uint32_t duplicates[2];        /* of retransmits[]: the first copy's IP ID */
    uint64_t lost_bytes[2];        /* filled in from the reassembly's gaps */
    uint32_t next_seq[2];          /* highest sequence end seen per side */
    bool have_seq[2];
    smtp_time hole_ts[2];          /* when the latest hole opened (0: none) */
    smtp_time syn_ts, synack_ts, ack_ts; /* the handshake, for the RTT */
    smtp_time synack_last_ts;      /* the SYN-ACK the client's ACK answers */
    /* the last new data segments per side (a ring), to time a
     * retransmission against the copy it repeats */
    uint32_t sent_seq[2][TCP_PATH_RING];
    uint16_t sent_ipid[2][TCP_PATH_RING];
    smtp_time sent_ts[2][TCP_PATH_RING];
    uint8_t sent_at[2];
    /* the latest retransmission per side whose first copy was seen: when
     * it came, and how long after that copy */
    smtp_time retrans_ts[2], retrans_wait[2];
};

/* The rare cases of tcp_path_segment: the handshake, holes, repeats. */
void tcp_path_segment_slow(struct tcp_path *t, int side, uint8_t flags, uint32_t seq,
                           uint32_t payload_len, uint16_t window, bool window_known,
                           uint16_t ipid, smtp_time ts);

/* A window closed this long is a receiver that stopped reading; shorter,
 * it is flow control at work (a busy MTA closes it for a moment). */
#define TCP_ZERO_WINDOW_STALL_NS (200 * 1000000LL)

/* The longest time side's window stayed 0, one still closed counted to
 * `end`. */
smtp_time tcp_path_zero_window_stall(const struct tcp_path *t, int side, smtp_time end);

/* One TCP segment: side 0 client, 1 server; flags as on the wire (0x07:
 * FIN, SYN, RST). Inline for the usual segment: the next data in order,
 * or a pure ACK once the handshake is done, with a window. */
static inline void tcp_path_segment(struct tcp_path *t, int side, uint8_t flags,
                                    uint32_t seq, uint32_t payload_len, uint16_t window,
                                    bool window_known, uint16_t ipid, smtp_time ts)
{
    if (!(flags & 0x07) && window && window_known && (side == 0 || side == 1) &&
        t->ack_ts && !t->zw_since[side] &&
        (payload_len == 0 || (t->have_seq[side] && seq == t->next_seq[side]))) {
        t->segments[side]++;
        if (payload_len) {
            t->data_segments[side]++;
            unsigned k = t->sent_at[side]++ % TCP_PATH_RING;
            t->sent_seq[side][k] = seq;
            t->sent_ipid[side][k] = ipid;
            t->sent_ts[side][k] = ts;
            t->next_seq[side] += payload_len;
        }
        return;
    }
    tcp_path_segment_slow(t, side, flags, seq, payload_len, window, window_known, ipid, ts);
}
/* The RTT halves, or -1 when the handshake did not show them: server side
 * SYN -> SYN-ACK, client side SYN-ACK -> ACK. */
smtp_time tcp_path_rtt(const struct tcp_path *t, bool server_side);
/* Of a wait from `from` to `to` for the other side's answer, the time
 * `side`'s retransmission in between lost (0 if none was seen). */
smtp_time tcp_path_retrans_wait(const struct tcp_path *t, int side, smtp_time from,
                                smtp_time to);

#endif
