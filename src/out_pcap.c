/* out_pcap.c - -w FILE: the packets of the sessions the run writes, as a
 * pcap for Wireshark.
 *
 * Files are read twice instead of keeping packets: the sink notes each
 * written session's addresses, ports and frame span (an index, a few
 * dozen bytes a session), and when the run finishes it reads the input
 * again through capture_files, counting frames the same way, and copies
 * every TCP frame of an indexed connection inside its span. A live
 * capture or stdin cannot be read again: there the engine keeps each
 * connection's packets in a bounded buffer (pktbuf.h) and the sink writes
 * them as the session is written, saying on stderr what did not fit.
 */
#include <errno.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "decode.h"
#include "output.h"
#include "pktbuf.h"

struct span {
    struct endpoint a, b;
    uint64_t first, last;
    struct span *next;  /* hash chain */
};

#define SPAN_BUCKETS 4096

struct pcap_sink {
    struct sink base;
    const char *path;
    FILE *f;                  /* opened at once: a bad path fails the start */
    pcap_t *dead;
    pcap_dumper_t *dump;
    int dlt;                  /* of the file; frames of others are skipped */
    uint64_t written, other_dlt;
    const char *const *files; /* NULL: buffered (live or stdin) */
    int nfiles;
    const char *filter;       /* the run's BPF expression, or NULL */
    bool quiet;
    struct span **buckets;
    uint64_t frame;           /* second pass: the frame being read */
};

/* The dumper, opened on the first frame with that frame's link type. */
static bool writer_for(struct pcap_sink *w, int dlt)
{
    if (!w->dump) {
        w->dlt = dlt;
        w->dead = pcap_open_dead_with_tstamp_precision(dlt, 262144,
                                                       PCAP_TSTAMP_PRECISION_NANO);
        if (w->dead)
            w->dump = pcap_dump_fopen(w->dead, w->f);
        if (!w->dump) {
            fprintf(stderr, "smtpscope: -w %s: cannot write a pcap\n", w->path);
            return false;
        }
        w->f = NULL; /* the dumper's now */
    }
    if (dlt != w->dlt) {
        w->other_dlt++;
        return false;
    }
    return true;
}

static void put(struct pcap_sink *w, int dlt, smtp_time ts, const uint8_t *data, size_t n)
{
    if (!writer_for(w, dlt))
        return;
    struct pcap_pkthdr h;
    memset(&h, 0, sizeof h);
    h.ts.tv_sec = (time_t)(ts / SMTP_NS_PER_SEC);
    h.ts.tv_usec = (suseconds_t)(ts % SMTP_NS_PER_SEC); /* nanoseconds: see open_dead */
    h.caplen = h.len = (bpf_u_int32)n;
    pcap_dump((u_char *)w->dump, &h, data);
    w->written++;
}

static size_t bucket(const struct endpoint *a, const struct endpoint *b)
{
    return flow_hash_symmetric(a, b) % SPAN_BUCKETS;
}

/* Buffered: the session's own packets now; files: its span in the index. */
static void pcap_session(struct sink *base, const struct session *s)
{
    struct pcap_sink *w = (struct pcap_sink *)base;
    if (!w->files) {
        size_t off = 0;
        const uint8_t *data;
        const struct pktrec *r;
        while ((r = pktbuf_next(s->packets, &off, &data)))
            put(w, r->dlt, r->ts, data, r->caplen);
        if (s->packets && s->packets->lost && !w->quiet)
            fprintf(stderr, "smtpscope: -w: session %08x: %llu packets not written "
                            "(over the %zu KiB kept per session while it is open)\n",
                    s->id, (unsigned long long)s->packets->lost,
                    PKTBUF_SESSION_MAX >> 10);
        return;
    }
    struct span *sp = s->first_frame ? malloc(sizeof *sp) : NULL;
    if (!sp)
        return;
    *sp = (struct span){s->client, s->server, s->first_frame, s->last_frame, NULL};
    size_t i = bucket(&s->client, &s->server);
    sp->next = w->buckets[i];
    w->buckets[i] = sp;
}

static bool indexed(const struct pcap_sink *w, const struct packet *p, uint64_t frame)
{
    for (const struct span *sp = w->buckets[bucket(&p->src, &p->dst)]; sp; sp = sp->next)
        if (frame >= sp->first && frame <= sp->last &&
            ((endpoint_eq(&sp->a, &p->src) && endpoint_eq(&sp->b, &p->dst)) ||
             (endpoint_eq(&sp->a, &p->dst) && endpoint_eq(&sp->b, &p->src))))
            return true;
    return false;
}

/* TCP segments of a session, and ICMP errors that quote one. */
static bool second_frame(void *ctx, int dlt, smtp_time ts, const uint8_t *data, size_t len)
{
    struct pcap_sink *w = ctx;
    struct packet p;
    struct icmp_unreach u;
    memset(&p, 0, sizeof p);
    w->frame++; /* as the engine counted them: every frame handed over */
    if (decode_packet(dlt, data, len, &p) != DECODE_OK)
        return true;
    if ((p.proto == 1 || p.proto == 58) && decode_icmp_unreach(&p, &u)) {
        p.src = u.src;
        p.dst = u.dst;
    } else if (p.proto != 6) {
        return true;
    }
    if (indexed(w, &p, w->frame))
        put(w, dlt, ts, data, len);
    return true;
}

static bool second_idle(void *ctx, smtp_time now, unsigned dropped)
{
    (void)ctx, (void)now, (void)dropped;
    return true;
}

static void pcap_finish(struct sink *base)
{
    struct pcap_sink *w = (struct pcap_sink *)base;
    if (w->files) {
        struct capture_hooks h = {.ctx = w, .on_frame = second_frame, .on_idle = second_idle};
        struct capture_result res;
        memset(&res, 0, sizeof res);
        capture_files(w->files, w->nfiles, w->filter, &h, true, false, &res);
    }
    if (!w->dump)
        writer_for(w, DLT_EN10MB); /* nothing written: an empty capture */
    if (w->other_dlt)
        fprintf(stderr, "smtpscope: -w %s: %llu frames of another link type than "
                        "the first (%s) not written\n", w->path,
                (unsigned long long)w->other_dlt, pcap_datalink_val_to_name(w->dlt));
    if (w->dump && pcap_dump_flush(w->dump) != 0)
        fprintf(stderr, "smtpscope: -w %s: %s\n", w->path, strerror(errno));
}

static void pcap_destroy(struct sink *base)
{
    struct pcap_sink *w = (struct pcap_sink *)base;
    if (w->dump)
        pcap_dump_close(w->dump);
    else if (w->f)
        fclose(w->f);
    if (w->dead)
        pcap_close(w->dead);
    for (size_t i = 0; w->buckets && i < SPAN_BUCKETS; i++)
        for (struct span *sp = w->buckets[i], *next; sp; sp = next) {
            next = sp->next;
            free(sp);
        }
    free(w->buckets);
    free(w);
}

struct sink *sink_pcap_new(const char *path, const char *const *files, int nfiles,
                           const char *filter, bool quiet)
{
    struct pcap_sink *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->path = path;
    w->files = files;
    w->nfiles = nfiles;
    w->filter = filter;
    w->quiet = quiet;
    if ((files && !(w->buckets = calloc(SPAN_BUCKETS, sizeof *w->buckets))) ||
        !(w->f = fopen(path, "wb"))) {
        if (!w->f)
            fprintf(stderr, "smtpscope: -w %s: %s\n", path, strerror(errno));
        free(w->buckets);
        free(w);
        return NULL;
    }
    w->base.session = pcap_session;
    w->base.finish = pcap_finish;
    w->base.destroy = pcap_destroy;
    return &w->base;
}
