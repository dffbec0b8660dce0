/* reassembly.h - TCP reassembly through libnids.
 *
 * libnids is given a DLT_RAW pcap handle (pcap_open_dead) as
 * nids_params.pcap_desc and each IPv4 packet, already decoded by
 * smtpscope's own link layer, through nids_pcap_handler. So one libnids
 * instance serves every link type and every input file of a run (rotated
 * files stay one capture), and the packet loop stays in smtpscope's hands.
 * Checksum verification and port-scan detection are off; the stream table
 * is sized from the options.
 */
#ifndef SMTPSCOPE_REASSEMBLY_H
#define SMTPSCOPE_REASSEMBLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decode.h"
#include "direction.h"
#include "endpoint.h"

/* What the glue keeps per connection for its caller (stored in the
 * caller's connection entry, passed to reasm_feed): per direction, the
 * stream ranges it handed libnids as filler because the capture lacks
 * them (holes), libnids' next expected sequence number as far as the
 * segments tell, evidence that a hole will never fill, and how long the
 * last chunk libnids delivered was (its bytes stay in libnids' buffer until
 * the next: an overlapping retransmission is compared with them). Fixed
 * size, no copy of payload, except the segments parked behind a hole
 * deeper than libnids' queue (struct reasm_park_side): free them with
 * reasm_flow_free. */
#define REASM_HOLES 6

enum reasm_gap_kind {
    REASM_GAP_CUT = 0, /* the snap length cut the segment */
    REASM_GAP_LOST,    /* the segment was never captured */
};

struct reasm_side {
    uint32_t hole_start[REASM_HOLES], hole_len[REASM_HOLES];
    uint8_t hole_kind[REASM_HOLES];
    uint8_t nholes;
    bool known;          /* next_seq is set (from a SYN or the first segment) */
    bool seen;           /* data (or a SYN) of this direction was captured */
    bool fast;           /* known, seen and in order: flow_track's fast path */
    bool ooo;            /* a segment beyond next_seq waits in libnids */
    bool acked_beyond;   /* the peer acknowledged bytes beyond next_seq */
    uint32_t next_seq;   /* libnids' next expected sequence number, as seen */
    uint32_t acked;      /* the highest such acknowledgement */
    smtp_time ooo_since, acked_since;
    bool last_gap;       /* the last chunk held filler */
    uint32_t base;       /* the first sequence number known (offsets) */
    uint32_t filled;     /* filler bytes given for holes never captured */
    uint32_t last_len;   /* bytes of the last chunk delivered */
};

/* Segments beyond a hole held back from libnids (src/reasm_park.h): the
 * only allocation, made while a deep hole waits for its retransmission. */
struct reasm_park_side {
    struct reasm_parked *head, *tail; /* in sequence order */
    size_t bytes;
};

struct reasm_flow {
    struct reasm_side side[2];      /* by enum smtp_dir */
    struct reasm_park_side park[2]; /* by enum smtp_dir */
    /* the first overlapping retransmission whose bytes differ */
    uint32_t mismatches;
    uint32_t mismatch_off, mismatch_len; /* stream offset (from the first
                                            byte seen) and bytes compared */
    uint8_t mismatch_dir;
};

struct reasm_callbacks {
    /* A connection completed its handshake: return a non-NULL user pointer
     * to follow it (stream is libnids' handle, for reasm_drop). */
    void *(*open)(void *ctx, const struct endpoint *client,
                  const struct endpoint *server, void *stream);
    void (*data)(void *ctx, void *user, enum smtp_dir dir, const char *p,
                 size_t n);
    /* Bytes of one direction that libnids still held out of order when the
     * stream ended: data after a gap the capture never filled (optional). */
    void (*gap)(void *ctx, void *user, enum smtp_dir dir, size_t held);
    /* In stream order, where data would be: len bytes the capture lacks
     * (a hole given to libnids as filler, never passed to data). Optional:
     * without it (or without a flow in reasm_feed) the filler comes as NULs
     * through data. */
    void (*gap_bytes)(void *ctx, void *user, enum smtp_dir dir, size_t len,
                      enum reasm_gap_kind kind);
    /* The stream is gone from libnids after this. */
    void (*end)(void *ctx, void *user, enum tcp_end how);
};

struct reasm_stats {
    uint64_t ip_packets;         /* handed to libnids */
    uint64_t warnings[16];       /* libnids warnings by NIDS_WARN_* errnum */
    uint64_t evicted;            /* streams dropped because the table was full */
    uint64_t v6_flows;           /* IPv6 connections given an IPv4 alias */
    uint64_t alias_full;         /* IPv6 segments dropped: no alias left */
    uint64_t alias_reaped;       /* aliases of handshakes never completed, taken back */
    uint64_t alias_range_dropped; /* IPv4 segments from/to 0.0.0.0/8 */
    uint64_t synthesized;        /* handshake packets made up */
};

/* Returns 0, or -1 with a message in err. */
int reasm_init(int max_streams, const struct reasm_callbacks *cb, void *ctx,
               char *err, size_t errlen);
/* Another reader of the same streams (DNS over TCP beside SMTP): its open
 * is asked about every established stream too, and a stream it takes is
 * reported to it alone. Returns -1 when the two slots are taken. */
int reasm_add_listener(const struct reasm_callbacks *cb, void *ctx);
/* A raw IPv4 packet (pkt->l3 .. pkt->l3_caplen) for libnids, as captured:
 * for fragments, which libnids reassembles itself. */
void reasm_feed_ipv4(const struct packet *pkt);

/* A decoded TCP segment, IPv4 or IPv6 (see reasm_feed_flow). */
void reasm_feed(const struct packet *pkt);

/* The same, for a connection whose state the caller keeps (flow, zeroed
 * when the connection entry is made; dir: the segment's direction).
 * Bytes the snap length cut off are given to libnids as filler and come
 * back through gap_bytes, never data. A hole the capture will not fill is
 * filled the same way once that is certain: the peer acknowledged past it
 * and then spoke, or it waited REASM_ACK_WAIT_NS after that acknowledgement,
 * or the data queued behind it reached REASM_QUEUE_MAX bytes (libnids
 * would drop it all at 64 KiB) and smtpscope could park no more of it
 * (reasm_park.h: a deep hole waits for its copy as the receiver does), or
 * REASM_OOO_WAIT_NS passed. Reordering that resolves sooner is left to
 * libnids. Returns true when the segment
 * overlapped bytes already seen and differed (flow->mismatch_*). */
#define REASM_ACK_WAIT_NS (1 * SMTP_NS_PER_SEC)
#define REASM_OOO_WAIT_NS (10 * SMTP_NS_PER_SEC)
#define REASM_QUEUE_MAX 32768
bool reasm_feed_flow(const struct packet *pkt, struct reasm_flow *flow,
                     enum smtp_dir dir);
/* Frees what a flow holds (parked segments); it stays valid, empty. */
void reasm_flow_free(struct reasm_flow *flow);
/* libnids' next expected sequence number of a direction is known
 * (a handshake made up by reasm_synthesize). */
void reasm_flow_start(struct reasm_flow *flow, enum smtp_dir dir, uint32_t next_seq);
/* Before a stream ends for want of packets (idle timeout, end of input):
 * fill every hole that holds back data libnids queued, so it is read. */
void reasm_flush_holes(void *stream, struct reasm_flow *flow);

/* How a TCP segment is handed over. libnids is IPv4-only: an IPv6
 * connection is given a private IPv4 address pair from 0.0.0.0/8 (never
 * seen in TCP on a wire) and its segments are handed over under an IPv4
 * header with those addresses; callbacks get the real IPv6 endpoints back.
 * IPv4 packets that do use 0.0.0.0/8 are not reassembled (counted).
 * A segment whose IP length is 0 (TSO/GRO) is given its captured length. */

/* Give libnids handshake packets it did not see, so a connection picked up
 * mid-stream (or captured on one side only) is still reassembled. The
 * initial sequence numbers come from the first packets seen. */
#define REASM_SYN 1u
#define REASM_SYNACK 2u
#define REASM_ACK 4u
void reasm_synthesize(const struct endpoint *client,
                      const struct endpoint *server, uint32_t client_isn,
                      uint32_t server_isn, unsigned which, smtp_time ts);

/* Forget a stream without callbacks (idle timeout, port reuse). */
void reasm_drop(void *stream);
/* The connection is over for the caller: release its IPv6 alias, if any.
 * (A stream's alias goes when the stream ends; this is for connections
 * that never got one, or were dropped with reasm_drop.) */
void reasm_forget(const struct endpoint *client, const struct endpoint *server);
/* End of input: every open stream gets its end callback. */
void reasm_finish(void);
const struct reasm_stats *reasm_get_stats(void);
const char *reasm_warning_name(int errnum);

#endif
