/* fuzz_fastpcap.c - libFuzzer target: capture_fast.c against libpcap.
 *
 * The input is written to a memory file (a regular file, which the fast
 * reader needs) and read twice: by libpcap's own savefile reader and by
 * capture_fast.c after libpcap opened it (which hands the file back to
 * libpcap at its first record that is not plain). Every record must come
 * out the same (times, lengths, bytes), and the two must end alike: at
 * the end of the file, or on an error. Any difference traps.
 */
#define _GNU_SOURCE
#include <pcap/pcap.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../src/capture_int.h"

static pcap_t *open_handle(FILE *f)
{
    char err[PCAP_ERRBUF_SIZE];
    return pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_NANO, err);
}

static void compare(pcap_t *lib, struct fast_file *fast, pcap_t *pf, FILE *ff)
{
    for (int n = 0; n < 100000; n++) {
        struct pcap_pkthdr *h, *hf;
        const u_char *d, *df;
        int rl = pcap_next_ex(lib, &h, &d), rf = fast_next(fast, pf, ff, &hf, &df);
        if (rl != rf)
            __builtin_trap();
        if (rl != 1)
            return;
        if (h->caplen != hf->caplen || h->len != hf->len || h->ts.tv_sec != hf->ts.tv_sec ||
            h->ts.tv_usec != hf->ts.tv_usec || memcmp(d, df, h->caplen) != 0)
            __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz", 0);
    if (fd < 0)
        return 0;
    if (write(fd, data, size) != (ssize_t)size || lseek(fd, 0, SEEK_SET) != 0) {
        close(fd);
        return 0;
    }
    FILE *fl = fmemopen((void *)data, size, "rb"), *ff = fdopen(fd, "rb");
    pcap_t *lib = fl ? open_handle(fl) : NULL, *pf = ff ? open_handle(ff) : NULL;
    if (!lib && fl)
        fclose(fl);
    if (!pf && ff)
        fclose(ff);
    else if (!ff)
        close(fd);
    struct fast_file fast;
    if (lib && pf && pcap_datalink(lib) == pcap_datalink(pf) && fast_open(&fast, ff, pf)) {
        compare(lib, &fast, pf, ff);
        fast_close(&fast);
    }
    if (lib)
        pcap_close(lib);
    if (pf)
        pcap_close(pf);
    return 0;
}
