/* floor_pcap.c - the benchmark's floor: read every packet of a capture
 * with libpcap and do nothing with it. No tool that reads the file with
 * libpcap can be faster.
 *
 *   floor_pcap FILE
 */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>

static void count(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
    uint64_t *c = (uint64_t *)(void *)user;
    (void)bytes;
    c[0]++;
    c[1] += h->caplen;
}

int main(int argc, char **argv)
{
    char err[PCAP_ERRBUF_SIZE];
    if (argc != 2) {
        fprintf(stderr, "usage: floor_pcap FILE\n");
        return 2;
    }
    /* the same 1 MiB read buffer smtpscope gives libpcap */
    static char readbuf[1 << 20];
    FILE *fp = fopen(argv[1], "rb");
    if (!fp) {
        perror(argv[1]);
        return 1;
    }
    setvbuf(fp, readbuf, _IOFBF, sizeof readbuf);
    pcap_t *p = pcap_fopen_offline(fp, err);
    if (!p) {
        fprintf(stderr, "floor_pcap: %s\n", err);
        return 1;
    }
    uint64_t c[2] = {0, 0};
    if (pcap_loop(p, -1, count, (u_char *)c) == -1)
        fprintf(stderr, "floor_pcap: %s\n", pcap_geterr(p));
    pcap_close(p);
    printf("packets %llu bytes %llu\n", (unsigned long long)c[0], (unsigned long long)c[1]);
    return 0;
}
