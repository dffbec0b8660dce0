/* capture_fast.c - classic pcap files read in place.
 *
 * libpcap reads a savefile with two fread() calls a packet, which is a
 * tenth of smtpscope's instructions on a gateway's short packets and most
 * of what the --workers reader does. A regular file in the classic format
 * (version 2.3 or later, microsecond or nanosecond magic, either byte
 * order) is opened by libpcap as before, for its header checks, link
 * type and snapshot length, and then its records are read from a
 * read-only mapping here, with the checks and messages of libpcap 1.10's
 * sf-pcap.c, each record copied to a buffer of its own as libpcap does
 * (the engine writes into it): a record cut by the file's end is "truncated dump file"; a
 * captured length above 262144 is refused; one above the file's snapshot
 * length is cut to it. A user's filter runs through pcap_offline_filter.
 * Anything else (pcapng, the modified "Kuznetzov" format, pipes, gzip)
 * stays with libpcap. Only the link types decode.c reads are read here:
 * none has a pseudo-header libpcap byte-swaps (USB, NFLOG do; one added
 * to decode.c must be kept out here).
 * test/fastpcap_test.py holds the two readers to the same output.
 */
#include "capture_int.h"

#include "decode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#define PCAP_MAX_SNAPLEN 262144u /* libpcap's MAXIMUM_SNAPLEN */

static uint32_t u32_at(const uint8_t *p, bool swapped)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return swapped ? __builtin_bswap32(v) : v;
}

bool fast_open(struct fast_file *f, FILE *fp, pcap_t *p)
{
    struct stat st;
    memset(f, 0, sizeof *f);
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 24 ||
        !decode_linktype_supported(pcap_datalink(p)))
        return false;
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fileno(fp), 0);
    if (m == MAP_FAILED)
        return false;
    const uint8_t *b = m;
    uint32_t magic;
    memcpy(&magic, b, 4);
    bool swapped = magic == 0xd4c3b2a1u || magic == 0x4d3cb2a1u;
    bool nsec = magic == 0xa1b23c4du || magic == 0x4d3cb2a1u;
    uint16_t major, minor;
    memcpy(&major, b + 4, 2);
    memcpy(&minor, b + 6, 2);
    if (swapped) {
        major = __builtin_bswap16(major);
        minor = __builtin_bswap16(minor);
    }
    bool classic = swapped || nsec || magic == 0xa1b2c3d4u;
    /* a byte-swapped file stays with libpcap: its swap makes a time past
     * 2038 positive or negative by the value's low byte (fuzz_fastpcap) */
    if (!classic || swapped || major != 2 || minor < 3 || pcap_is_swapped(p) == 1) {
        munmap(m, (size_t)st.st_size);
        return false;
    }
    /* only a file whose every record is whole and within the snapshot
     * length: what libpcap does with a broken one (a record past the
     * snapshot length cut short by the end, say) stays libpcap's */
    uint32_t snap = (uint32_t)pcap_snapshot(p);
    size_t pos = 24, size = (size_t)st.st_size;
    while (size - pos >= 16) {
        uint32_t cap = u32_at(b + pos + 8, false);
        if (cap > snap || cap > PCAP_MAX_SNAPLEN || size - pos - 16 < cap)
            break;
        pos += 16 + (size_t)cap;
    }
    if (pos != size || !(f->buf = malloc(PCAP_MAX_SNAPLEN))) {
        munmap(m, (size_t)st.st_size);
        return false;
    }
    madvise(m, (size_t)st.st_size, MADV_SEQUENTIAL);
    f->map = b;
    f->size = (size_t)st.st_size;
    f->pos = 24;
    f->swapped = swapped;
    f->nsec = nsec;
    f->snap = (uint32_t)pcap_snapshot(p);
    f->on = true;
    return true;
}

void fast_close(struct fast_file *f)
{
    if (f->map)
        munmap((void *)f->map, f->size);
    if (f->filter_set)
        pcap_freecode(&f->filter);
    free(f->buf);
    memset(f, 0, sizeof *f);
}

/* One record at pos: 1, 0 at the end, -1 with err set (libpcap's words). */
static int read_record(struct fast_file *f)
{
    size_t left = f->size - f->pos;
    if (left == 0)
        return 0;
    if (left < 16) {
        snprintf(f->err, sizeof f->err, "truncated dump file; tried to read 16 header "
                 "bytes, only got %zu", left);
        return -1;
    }
    const uint8_t *h = f->map + f->pos;
    uint32_t sec = u32_at(h, f->swapped), frac = u32_at(h + 4, f->swapped);
    uint32_t caplen = u32_at(h + 8, f->swapped), len = u32_at(h + 12, f->swapped);
    if (caplen > PCAP_MAX_SNAPLEN) {
        if (caplen > f->snap)
            snprintf(f->err, sizeof f->err, "invalid packet capture length %u, bigger "
                     "than snaplen of %u", caplen, f->snap);
        else
            snprintf(f->err, sizeof f->err, "invalid packet capture length %u, bigger "
                     "than maximum of %u", caplen, PCAP_MAX_SNAPLEN);
        return -1;
    }
    if (left - 16 < caplen) {
        snprintf(f->err, sizeof f->err, "truncated dump file; tried to read %u captured "
                 "bytes, only got %zu", caplen > f->snap ? f->snap : caplen, left - 16);
        return -1;
    }
    /* signed 32-bit fields, as libpcap 1.10 reads a native file's */
    f->hdr.ts.tv_sec = (time_t)(int32_t)sec;
    f->hdr.ts.tv_usec = (suseconds_t)(int32_t)frac * (f->nsec ? 1 : 1000);
    f->hdr.caplen = caplen > f->snap ? f->snap : caplen; /* the rest is skipped */
    f->hdr.len = len;
    /* a copy: the engine opens the TCP window in place, and a write to
     * the mapping would cost a page copy a few packets */
    if (f->in_place) {
        f->data = h + 16;
    } else {
        memcpy(f->buf, h + 16, f->hdr.caplen);
        f->data = f->buf;
    }
    f->pos += 16 + (size_t)caplen;
    return 1;
}

int fast_next(struct fast_file *f)
{
    for (;;) {
        int rc = read_record(f);
        if (rc != 1 || !f->filter_set ||
            pcap_offline_filter(&f->filter, &f->hdr, f->data) != 0)
            return rc;
    }
}
