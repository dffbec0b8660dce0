/* floor_nids.c - the design floor: libnids reassembles every port-25
 * stream of a capture and the bytes are only counted. smtpscope does this
 * plus decoding, parsing and writing; the gap between the two is its cost.
 * libnids is set up as smtpscope sets it up (no checksum verification, no
 * port-scan detection, same stream table size).
 *
 *   floor_nids FILE [STREAMS]
 *
 * Built with -DFLOOR_LINES it is floor_lines, the second floor: the same,
 * plus finding every line end in every new chunk of payload (memchr), the
 * least work any SMTP transcript tool must add to reassembly.
 */
#include <nids.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t streams, bytes, lines;

#ifdef FLOOR_LINES
static void count_lines(const struct half_stream *h)
{
    const char *p = h->data, *end = h->data + h->count_new;
    while ((p = memchr(p, '\n', (size_t)(end - p)))) {
        lines++;
        p++;
    }
}
#endif

static void on_tcp(struct tcp_stream *ts, void **param)
{
    (void)param;
    switch (ts->nids_state) {
    case NIDS_JUST_EST:
        if (ts->addr.dest != 25)
            return;
        ts->client.collect++;
        ts->server.collect++;
        streams++;
        break;
    case NIDS_DATA:
        bytes += (uint64_t)ts->client.count_new + (uint64_t)ts->server.count_new;
#ifdef FLOOR_LINES
        count_lines(&ts->client);
        count_lines(&ts->server);
#endif
        break;
    default:
        break;
    }
}

static void quiet(int type, int err, struct ip *iph, void *data)
{
    (void)type; (void)err; (void)iph; (void)data;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: floor_nids FILE [STREAMS]\n");
        return 2;
    }
    /* opened here with the same 1 MiB read buffer smtpscope gives libpcap,
     * and handed to libnids as smtpscope does (pcap_desc) */
    static char readbuf[1 << 20];
    char err[PCAP_ERRBUF_SIZE];
    FILE *fp = fopen(argv[1], "rb");
    if (!fp) {
        perror(argv[1]);
        return 1;
    }
    setvbuf(fp, readbuf, _IOFBF, sizeof readbuf);
    pcap_t *pd = pcap_fopen_offline(fp, err);
    if (!pd) {
        fprintf(stderr, "floor_nids: %s\n", err);
        return 1;
    }
    nids_params.pcap_desc = pd;
    nids_params.filename = NULL;
    nids_params.n_tcp_streams = argc == 3 ? atoi(argv[2]) : 65536;
    nids_params.scan_num_hosts = 0;
    nids_params.tcp_workarounds = 0;
    nids_params.syslog = (void (*)())quiet;
    nids_params.pcap_filter = NULL; /* smtpscope filters nothing either */
    if (!nids_init()) {
        fprintf(stderr, "floor_nids: %s\n", nids_errbuf);
        return 1;
    }
    static struct nids_chksum_ctl none = {0, 0, NIDS_DONT_CHKSUM, 0};
    nids_register_chksum_ctl(&none, 1);
    nids_register_tcp((void *)on_tcp);
    nids_run();
    printf("streams %llu bytes %llu lines %llu\n", (unsigned long long)streams,
           (unsigned long long)bytes, (unsigned long long)lines);
    return 0;
}
