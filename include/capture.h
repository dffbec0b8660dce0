/* capture.h - reading packets from files or a live interface.
 *
 * Files are one capture merged by packet time, as mergecap merges them
 * (rotated files in any order, captures whose times overlap; a session
 * that spans a file rotation stays one session); a name with glob
 * characters that is no file is expanded; pcap and pcapng, with
 * nanosecond timestamps kept. A broken file is reported and the run goes
 * on with what could be read.
 */
#ifndef SMTPSCOPE_CAPTURE_H
#define SMTPSCOPE_CAPTURE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "timeval.h"

struct capture_result {
    int files_ok;        /* files opened and read to the end */
    int files_failed;    /* files that could not be opened or were cut */
    uint64_t packets;
    /* live only */
    bool listened;       /* the interface was opened and read */
    uint64_t kernel_received, kernel_dropped, iface_dropped;
};

/* Set from a signal handler to stop reading. */
extern volatile sig_atomic_t capture_stop;

/* What the progress line shows besides bytes and packets. */
struct capture_counts {
    uint64_t sessions, failed;
};

/* Where the frames go: capture knows nothing of what is above it. */
struct capture_hooks {
    void *ctx;
    /* One frame as captured: len bytes of link type dlt. Returns false
     * once the input should stop (-c reached). */
    bool (*on_frame)(void *ctx, int dlt, smtp_time ts, const uint8_t *data,
                     size_t len);
    /* Often: every 1024 frames, while --realtime waits, at each wake-up of
     * a live capture. now: the wall clock when live (idle sessions end),
     * -1 offline; dropped: packets the kernel dropped since the last call.
     * Returns false once the input should stop. */
    bool (*on_idle)(void *ctx, smtp_time now, unsigned dropped);
    /* The progress line's counts. */
    void (*stats)(void *ctx, struct capture_counts *c);
    /* Where frames come from another process (a --workers reader, which
     * does not give every worker every frame): the next frame's number in
     * the input, 1-based, before on_frame. NULL: frames are numbered as
     * they come. */
    void (*number)(void *ctx, uint64_t n);
    /* on_frame never writes into a frame (the --workers reader copies
     * it): a file read in place hands its bytes over where they lie. */
    bool read_only;
};

/* realtime: replay at the pace the packets were captured (a live view of
 * an old capture) instead of as fast as possible. */
/* filter: the user's BPF expression (NULL: every packet), compiled for
 * each file's link type; a file it does not compile for is not read. */
void capture_files(const char *const *files, int nfiles, const char *filter,
                   const struct capture_hooks *h, bool quiet, bool realtime,
                   struct capture_result *res);

struct capture_live_config {
    const char *iface;
    /* the user's BPF expression, or NULL for capture_default_filter's on
     * these ports; with a shard (--shard, --workers) it is narrowed by
     * capture_shard_filter */
    const char *filter;
    const uint16_t *ports;
    int nports;
    uint32_t shard, nshards; /* nshards 0: no shard */
    /* the user to become once the device is open (NULL: stay); jail: the
     * directory to confine the process to (NULL: an empty one) */
    const char *drop_user, *jail;
    const char *log_dir; /* --log-dir: checked writable once confined */
    int snaplen;      /* bytes per packet; 0: 262144 */
    int buffer_kib;   /* kernel buffer; 0: 32 MiB */
    bool quiet;
};

/* -D: the interfaces pcap can open, numbered as tcpdump -D lists them. */
int capture_list_interfaces(FILE *f);

/* Returns 0, or -1 when the interface could not be opened or privileges
 * could not be dropped (message printed). */
int capture_live(const struct capture_live_config *cfg,
                 const struct capture_hooks *h, struct capture_result *res);

/* "tcp port 25 or tcp port 587 ..." for the given ports (no ports: all
 * of TCP, for -p any), plus ICMP
 * unreachables, DNS and IPv4 fragments (which carry no ports until
 * reassembled); on Ethernet (dlt DLT_EN10MB) the same inside one and two
 * VLAN tags, which libpcap refuses for other link types. */
void capture_default_filter(const uint16_t *ports, int nports, int dlt,
                            char *out, size_t cap);

/* For shard k of n (--shard, --workers) on a live interface: "(the shard's
 * IPv4 and IPv6 address pairs, computed as shard_hash does) and (filter)",
 * so the kernel hands each worker only its share. What the filter cannot
 * place (ICMP, whose quoted segment decides; frames with VLAN tags still
 * in them; anything not IP) goes to every worker, whose own check decides.
 * Returns false when out is too small. */
bool capture_shard_filter(uint32_t k, uint32_t n, const char *filter,
                          char *out, size_t cap);

#endif
