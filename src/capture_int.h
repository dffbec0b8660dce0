/* capture_int.h - private to capture.c (files) and capture_live.c. */
#ifndef SMTPSCOPE_CAPTURE_INT_H
#define SMTPSCOPE_CAPTURE_INT_H

#include <pcap/pcap.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "timeval.h"

/* A packet's time; handles are opened with nanosecond precision, so
 * tv_usec holds nanoseconds. */
static inline smtp_time capture_ts_of(const struct pcap_pkthdr *h)
{
    return time_from_parts((int64_t)h->ts.tv_sec, (int64_t)h->ts.tv_usec);
}

/* The handle's link type is one decode.c reads; otherwise said (unless
 * quiet) and false. */
bool capture_check_linktype(pcap_t *p, const char *what, bool quiet);

/* A capture file or stream ("-": stdin) to hand to libpcap: gzip'd ones
 * inflated, xz/bzip2/zstd refused (*why says what to do); NULL with errno
 * or *why set. capture_gz.c. */
FILE *capture_open(const char *file, const char **why);

/* A classic pcap file read in place (capture_fast.c). */
struct fast_file {
    bool on;                  /* records come from here, not from libpcap */
    bool nsec;                /* nanosecond timestamps */
    bool maybe_swapped;       /* version 2.3: caplen > len means swapped */
    bool in_place;            /* data points into the mapping (read-only use) */
    const uint8_t *map;       /* the whole file, read-only */
    size_t size, pos;
    size_t released;          /* the mapping below this is given back */
    uint32_t snap;            /* libpcap's snapshot length for the file */
    struct bpf_program filter;
    bool filter_set;
    struct pcap_pkthdr hdr;   /* the record read last */
    const uint8_t *data;      /* buf or the mapping: the record's bytes */
    uint8_t *buf;
};

/* After libpcap opened fp as p: true when fp's records are read here
 * from now on (a regular classic pcap file of a plain link type). */
bool fast_open(struct fast_file *f, FILE *fp, pcap_t *p);
/* pcap_next_ex for p: from the mapping while f is on and the records are
 * plain, from libpcap after (f off, the filter handed to p). The record
 * it gave before is no longer readable. */
int fast_next(struct fast_file *f, pcap_t *p, FILE *fp, struct pcap_pkthdr **hdr,
              const u_char **data);
void fast_close(struct fast_file *f);

#endif
