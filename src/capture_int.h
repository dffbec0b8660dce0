/* capture_int.h - private to capture.c (files) and capture_live.c. */
#ifndef SMTPSCOPE_CAPTURE_INT_H
#define SMTPSCOPE_CAPTURE_INT_H

#include <pcap/pcap.h>
#include <stdbool.h>
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

#endif
