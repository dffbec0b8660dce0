/* capture.h - reading packets from files or a live interface.
 *
 * Files are read in the order given, as one continuous capture (a session
 * that spans a file rotation stays one session); pcap and pcapng, with
 * nanosecond timestamps kept. A broken file is reported and the run goes
 * on with what could be read.
 */
#ifndef SMTPSCOPE_CAPTURE_H
#define SMTPSCOPE_CAPTURE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine.h"

struct capture_result {
    int files_ok;        /* files opened and read to the end */
    int files_failed;    /* files that could not be opened or were cut */
    uint64_t packets;
    /* live only */
    uint64_t kernel_received, kernel_dropped, iface_dropped;
};

/* Set from a signal handler to stop reading. */
extern volatile sig_atomic_t capture_stop;

/* realtime: replay at the pace the packets were captured (a live view of
 * an old capture) instead of as fast as possible. */
void capture_files(const char *const *files, int nfiles, struct engine *e,
                   bool quiet, bool realtime, struct capture_result *res);

/* Returns 0, or -1 when the interface could not be opened or privileges
 * could not be dropped (message printed). filter: the user's BPF
 * expression, or NULL for capture_default_filter's; with e's shard set
 * (--shard, --workers) it is narrowed by capture_shard_filter. drop_user:
 * the user to become once the device is open (NULL: stay); jail: the
 * directory to confine the process to (NULL: an empty one). */
int capture_live(const char *iface, const char *filter, const char *drop_user,
                 const char *jail, struct engine *e, bool quiet,
                 struct capture_result *res);

/* "tcp port 25 or tcp port 587 ..." for the configured ports, plus ICMP
 * unreachables, DNS and IPv4 fragments (which carry no ports until
 * reassembled); on Ethernet (dlt DLT_EN10MB) the same inside one and two
 * VLAN tags, which libpcap refuses for other link types. */
void capture_default_filter(const struct engine_config *cfg, int dlt, char *out,
                            size_t cap);

/* For shard k of n (--shard, --workers) on a live interface: "(the shard's
 * IPv4 and IPv6 address pairs, computed as shard_hash does) and (filter)",
 * so the kernel hands each worker only its share. What the filter cannot
 * place (ICMP, whose quoted segment decides; frames with VLAN tags still
 * in them; anything not IP) goes to every worker, whose own check decides.
 * Returns false when out is too small. */
bool capture_shard_filter(uint32_t k, uint32_t n, const char *filter,
                          char *out, size_t cap);

#endif
