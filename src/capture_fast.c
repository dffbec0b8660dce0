/* capture_fast.c - classic pcap files read in place.
 *
 * libpcap reads a savefile with two fread() calls a packet, which is a
 * tenth of smtpscope's instructions on a gateway's short packets and most
 * of what the --workers reader does. A regular file in the classic format
 * (version 2.3 or later, microsecond or nanosecond magic, this machine's
 * byte order) is opened by libpcap as before, for its header checks, link
 * type and snapshot length; then its records are read from a read-only
 * mapping here, as long as each is plain: whole, and within the snapshot
 * length. At the first one that is not (cut by the file's end, longer
 * than the snapshot length, a damaged length, in a version 2.3 file a
 * caplen above len, which libpcap swaps), the file goes back to
 * libpcap at that record (its stdio stream is seeked there; libpcap keeps
 * no other state between records), so what a broken file gives, and the
 * words of its error, are libpcap's own. A user's filter runs through
 * pcap_offline_filter, and is handed to libpcap with the file.
 * Byte-swapped files, pcapng, pipes and gzip stay with libpcap from the
 * start; so do link types decode.c does not read. Of those it reads, none
 * has a pseudo-header libpcap byte-swaps or fixes up (USB, NFLOG do; one
 * added to decode.c must be kept out here).
 * test/fastpcap_test.py and test/fuzz/fuzz_fastpcap.c hold the two readers
 * to the same records.
 */
#include "capture_int.h"

#include "decode.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#define PCAP_MAX_SNAPLEN 262144u /* libpcap's MAXIMUM_SNAPLEN */
/* Pages read are given back this often: a mapped page counts in the
 * process's resident size, and a 5 GB file must not look like 5 GB. */
#define FAST_RELEASE_BYTES (4u << 20)

static uint32_t u32_at(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

bool fast_open(struct fast_file *f, FILE *fp, pcap_t *p)
{
    struct stat st;
    memset(f, 0, sizeof *f);
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 24 ||
        !decode_linktype_supported(pcap_datalink(p)) || pcap_is_swapped(p) != 0)
        return false;
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fileno(fp), 0);
    if (m == MAP_FAILED)
        return false;
    const uint8_t *b = m;
    uint32_t magic = u32_at(b);
    uint16_t major, minor;
    memcpy(&major, b + 4, 2);
    memcpy(&minor, b + 6, 2);
    if ((magic != 0xa1b2c3d4u && magic != 0xa1b23c4du) || major != 2 || minor < 3 ||
        !(f->buf = malloc(PCAP_MAX_SNAPLEN))) {
        munmap(m, (size_t)st.st_size);
        return false;
    }
    madvise(m, (size_t)st.st_size, MADV_SEQUENTIAL);
    f->map = b;
    f->size = (size_t)st.st_size;
    f->pos = 24;
    f->nsec = magic == 0xa1b23c4du;
    f->maybe_swapped = minor == 3;
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

/* The mapping below pos is unmapped from the process (the page cache
 * keeps it): every record before pos has been handed on. */
static void release_read(struct fast_file *f)
{
    size_t upto = f->pos & ~(size_t)(FAST_RELEASE_BYTES - 1);
    if (upto > f->released) {
        madvise((void *)(f->map + f->released), upto - f->released, MADV_DONTNEED);
        f->released = upto;
    }
}

/* The record at pos into hdr/data: 1; 0 at the file's end; -1 when it is
 * not plain (libpcap takes it from there). The record read before it is
 * given up. */
static int read_record(struct fast_file *f)
{
    if (f->pos - f->released >= FAST_RELEASE_BYTES)
        release_read(f);
    size_t left = f->size - f->pos;
    if (left == 0)
        return 0;
    const uint8_t *h = f->map + f->pos;
    uint32_t caplen = left >= 16 ? u32_at(h + 8) : 0;
    if (left < 16 || caplen > f->snap || caplen > PCAP_MAX_SNAPLEN || left - 16 < caplen)
        return -1;
    /* version 2.3: libpcap takes caplen above len as the two swapped */
    if (f->maybe_swapped && caplen > u32_at(h + 12))
        return -1;
    /* signed 32-bit fields, as libpcap 1.10 reads a native file's */
    f->hdr.ts.tv_sec = (time_t)(int32_t)u32_at(h);
    f->hdr.ts.tv_usec = (suseconds_t)(int32_t)u32_at(h + 4) * (f->nsec ? 1 : 1000);
    f->hdr.caplen = caplen;
    f->hdr.len = u32_at(h + 12);
    /* a copy unless the reader only reads: the engine opens the TCP window
     * in place, and a write to the mapping would copy a page a few packets */
    if (f->in_place) {
        f->data = h + 16;
    } else {
        memcpy(f->buf, h + 16, caplen);
        f->data = f->buf;
    }
    f->pos += 16 + (size_t)caplen;
    return 1;
}

/* The file goes back to libpcap at pos, with the filter. */
static bool hand_back(struct fast_file *f, pcap_t *p, FILE *fp)
{
    bool ok = fseeko(fp, (off_t)f->pos, SEEK_SET) == 0 &&
              (!f->filter_set || pcap_setfilter(p, &f->filter) == 0);
    fast_close(f);
    return ok;
}

int fast_next(struct fast_file *f, pcap_t *p, FILE *fp, struct pcap_pkthdr **hdr,
              const u_char **data)
{
    while (f->on) {
        int rc = read_record(f);
        if (rc == 0)
            return PCAP_ERROR_BREAK;
        if (rc < 0) {
            if (!hand_back(f, p, fp))
                return PCAP_ERROR;
            break;
        }
        if (!f->filter_set || pcap_offline_filter(&f->filter, &f->hdr, f->data) != 0) {
            *hdr = &f->hdr;
            *data = f->data;
            return 1;
        }
    }
    return pcap_next_ex(p, hdr, data);
}
