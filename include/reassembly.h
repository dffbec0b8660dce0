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

#include <stddef.h>
#include <stdint.h>

#include "decode.h"
#include "direction.h"
#include "endpoint.h"

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

/* A decoded TCP segment, IPv4 or IPv6. libnids is IPv4-only: an IPv6
 * connection is given a private IPv4 address pair from 0.0.0.0/8 (never
 * seen in TCP on a wire) and its segments are handed over under an IPv4
 * header with those addresses; callbacks get the real IPv6 endpoints back.
 * IPv4 packets that do use 0.0.0.0/8 are not reassembled (counted).
 * A segment whose IP length is 0 (TSO/GRO) is given its captured length. */
void reasm_feed(const struct packet *pkt);

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
