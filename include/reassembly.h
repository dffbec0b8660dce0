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
#include "endpoint.h"
#include "smtp_parser.h"

struct reasm_callbacks {
    /* A connection completed its handshake: return a non-NULL user pointer
     * to follow it (stream is libnids' handle, for reasm_drop). */
    void *(*open)(void *ctx, const struct endpoint *client,
                  const struct endpoint *server, void *stream);
    void (*data)(void *ctx, void *user, enum smtp_dir dir, const char *p,
                 size_t n);
    /* The stream is gone from libnids after this. */
    void (*end)(void *ctx, void *user, enum tcp_end how);
};

struct reasm_stats {
    uint64_t ip_packets;         /* handed to libnids */
    uint64_t warnings[16];       /* libnids warnings by NIDS_WARN_* errnum */
    uint64_t evicted;            /* streams dropped because the table was full */
};

/* Returns 0, or -1 with a message in err. */
int reasm_init(int max_streams, const struct reasm_callbacks *cb, void *ctx,
               char *err, size_t errlen);
/* An IPv4 packet (pkt->l3 .. pkt->l3_caplen) for libnids. */
void reasm_feed_ipv4(const struct packet *pkt);
/* Forget a stream without callbacks (idle timeout, port reuse). */
void reasm_drop(void *stream);
/* End of input: every open stream gets its end callback. */
void reasm_finish(void);
const struct reasm_stats *reasm_get_stats(void);
const char *reasm_warning_name(int errnum);

#endif
