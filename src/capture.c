/* capture.c - libpcap input (see capture.h). */
#include "capture.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <string.h>
#include <poll.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "decode.h"
#include "endpoint.h"
#include "privdrop.h"

volatile sig_atomic_t capture_stop;

static smtp_time ts_of(const struct pcap_pkthdr *h)
{
    /* handles are opened with nanosecond precision: tv_usec holds ns */
    return time_from_parts((int64_t)h->ts.tv_sec, (int64_t)h->ts.tv_usec);
}

static bool check_linktype(pcap_t *p, const char *what, bool quiet)
{
    int dlt = pcap_datalink(p);
    if (decode_linktype_supported(dlt))
        return true;
    if (!quiet) {
        const char *name = pcap_datalink_val_to_name(dlt);
        const char *desc = pcap_datalink_val_to_description(dlt);
        fprintf(stderr,
                "smtpscope: %s: unsupported link type %d (%s%s%s%s); skipped\n",
                what, dlt, name ? "DLT_" : "", name ? name : "unknown",
                desc ? ", " : "", desc ? desc : "");
    }
    return false;
}

/* The offline progress line: on a terminal only, after the first second,
 * at most four times a second, erased at the end. */
struct progress {
    bool on;
    struct timespec start, last;
    uint64_t total;      /* bytes of all files (0: unknown, e.g. stdin) */
    uint64_t done;       /* bytes of the files already finished */
    bool shown;
};

static double since(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

static void progress_show(struct progress *pg, const struct capture_hooks *h, FILE *fp,
                          const struct capture_result *res)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double run = since(&pg->start, &now);
    if (run < 1.0 || since(&pg->last, &now) < 0.25)
        return;
    pg->last = now;
    off_t pos = fp ? ftello(fp) : -1;
    uint64_t at = pg->done + (pos > 0 ? (uint64_t)pos : 0);
    double mbs = (double)at / 1e6 / run;
    char pct[48] = "", eta[32] = "";
    if (pg->total && at <= pg->total) {
        double f = (double)at / (double)pg->total;
        snprintf(pct, sizeof pct, "%.0f%% ", f * 100.0);
        if (f > 0.01) {
            unsigned left = (unsigned)(run / f - run);
            snprintf(eta, sizeof eta, ", ETA %u:%02u", left / 60, left % 60);
        }
    }
    struct capture_counts c = {0, 0};
    if (h->stats)
        h->stats(h->ctx, &c);
    fprintf(stderr, "\rsmtpscope: %s%.0f MB/s, %llu packets, %llu sessions, %llu failed%s\033[K",
            pct, mbs, (unsigned long long)res->packets, (unsigned long long)c.sessions,
            (unsigned long long)c.failed, eta);
    pg->shown = true;
}

/* The line is on when asked for; its total is the size of all files. */
static void progress_start(struct progress *pg, const char *const *files, int nfiles,
                           bool on)
{
    memset(pg, 0, sizeof *pg);
    pg->on = on;
    if (!on)
        return;
    clock_gettime(CLOCK_MONOTONIC, &pg->start);
    for (int i = 0; i < nfiles; i++) {
        struct stat st;
        if (strcmp(files[i], "-") == 0 || stat(files[i], &st) != 0 ||
            !S_ISREG(st.st_mode)) {
            pg->total = 0; /* a pipe among them: no percentage */
            return;
        }
        pg->total += (uint64_t)st.st_size;
    }
}

/* --realtime: wait until the packet's moment has come, at capture pace. */
static void pace(const struct capture_hooks *h, smtp_time ts, smtp_time *first,
                 struct timespec *wall0)
{
    if (*first < 0) {
        *first = ts;
        clock_gettime(CLOCK_MONOTONIC, wall0);
        return;
    }
    smtp_time due = ts - *first;
    for (int i = 0; i < 1000000 && !capture_stop; i++) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        smtp_time el = (smtp_time)(now.tv_sec - wall0->tv_sec) * SMTP_NS_PER_SEC +
                       (now.tv_nsec - wall0->tv_nsec);
        if (el >= due)
            return;
        smtp_time nap = due - el > 100000000 ? 100000000 : due - el;
        struct timespec d = {0, (long)nap};
        nanosleep(&d, NULL);
        h->on_idle(h->ctx, -1, 0);
    }
}

void capture_files(const char *const *files, int nfiles,
                   const struct capture_hooks *h, bool quiet, bool realtime,
                   struct capture_result *res)
{
    bool go = true; /* false once -c is reached: later files are opened, not read */
    smtp_time first_ts = -1;
    struct timespec wall0 = {0, 0};
    char err[PCAP_ERRBUF_SIZE];
    struct progress pg;
    progress_start(&pg, files, nfiles, !quiet && isatty(STDERR_FILENO));
    for (int i = 0; i < nfiles && !capture_stop; i++) {
        bool is_stdin = strcmp(files[i], "-") == 0;
        const char *name = is_stdin ? "(stdin)" : files[i];
        /* Opened here so that reads go through a 1 MiB buffer instead of
         * stdio's 4 KiB: a quarter of a gigabyte is otherwise 64 000 read
         * calls. One file is open at a time, so one static buffer. */
        static char readbuf[1 << 20];
        FILE *fp = is_stdin ? stdin : fopen(files[i], "rb");
        if (!fp) {
            fprintf(stderr, "smtpscope: %s: %s\n", name, strerror(errno));
            res->files_failed++;
            continue;
        }
        setvbuf(fp, readbuf, _IOFBF, sizeof readbuf);
        pcap_t *p = pcap_fopen_offline_with_tstamp_precision(
            fp, PCAP_TSTAMP_PRECISION_NANO, err);
        if (!p) {
            if (fp != stdin)
                fclose(fp);
            fprintf(stderr, "smtpscope: %s: %s\n", name, err);
            res->files_failed++;
            continue;
        }
        if (!check_linktype(p, name, false)) {
            pcap_close(p);
            res->files_failed++;
            continue;
        }
        int dlt = pcap_datalink(p);
        struct pcap_pkthdr *ph;
        const u_char *data;
        int rc = 0;
        while (!capture_stop && go && (rc = pcap_next_ex(p, &ph, &data)) == 1) {
            res->packets++;
            if (realtime)
                pace(h, ts_of(ph), &first_ts, &wall0);
            go = h->on_frame(h->ctx, dlt, ts_of(ph), data, ph->caplen);
            if ((res->packets & 1023) == 0) {
                go = h->on_idle(h->ctx, -1, 0) && go;
                if (pg.on && (res->packets & 4095) == 0)
                    progress_show(&pg, h, fp, res);
            }
        }
        if (pg.on) {
            struct stat st;
            if (fp != stdin && stat(files[i], &st) == 0)
                pg.done += (uint64_t)st.st_size;
        }
        if (!capture_stop && rc == PCAP_ERROR) {
            fprintf(stderr, "smtpscope: %s: %s (after %llu packets); "
                            "continuing with what was read\n",
                    name, pcap_geterr(p), (unsigned long long)res->packets);
            res->files_failed++;
        } else {
            res->files_ok++;
        }
        (void)quiet;
        pcap_close(p);
    }
    if (pg.shown)
        fputs("\r\033[K", stderr); /* the line goes: the log stays clean */
}

void capture_default_filter(const uint16_t *ports, int nports, int dlt,
                            char *out, size_t cap)
{
    /* SMTP ports, ICMP unreachables (they end connection attempts) and IPv4
     * fragments; on Ethernet the same again inside one and two VLAN tags,
     * because BPF offsets do not look through tags unless told to ("vlan"
     * shifts them for what follows it). */
    char base[600];
    size_t o = 0;
    base[0] = '\0';
    if (nports == 0) /* -p any */
        o = (size_t)snprintf(base, sizeof base, "tcp");
    for (int i = 0; i < nports && o < sizeof base; i++)
        o += (size_t)snprintf(base + o, sizeof base - o, "%stcp port %u",
                              i ? " or " : "", ports[i]);
    if (o < sizeof base)
        snprintf(base + o, sizeof base - o,
                 " or icmp[0] == 3 or (icmp6 and ip6[40] == 1) or udp port 53"
                 " or (ip and ip[6:2] & 0x3fff != 0)");
    if (dlt == DLT_EN10MB)
        snprintf(out, cap, "(%s) or (vlan and (%s)) or (vlan and vlan and (%s))",
                 base, base, base);
    else
        snprintf(out, cap, "%s", base);
}

bool capture_shard_filter(uint32_t k, uint32_t n, const char *filter,
                          char *out, size_t cap)
{
    /* the shard expression first: a "vlan" in the filter shifts the offsets
     * of everything after it */
    int len = snprintf(
        out, cap,
        "(not (ip or ip6) or icmp or icmp6"
        " or (ip and ((((ip[12:4] ^ ip[16:4]) * %u) >> 16) %% %u == %u))"
        " or (ip6 and ((((ip6[8:4] ^ ip6[12:4] ^ ip6[16:4] ^ ip6[20:4]"
        " ^ ip6[24:4] ^ ip6[28:4] ^ ip6[32:4] ^ ip6[36:4]) * %u) >> 16) %% %u == %u)))"
        " and (%s)",
        SHARD_HASH_MULT, n, k, SHARD_HASH_MULT, n, k, filter);
    return len > 0 && (size_t)len < cap;
}

struct live_ctx {
    const struct capture_hooks *h;
    int dlt;
    bool go;
};

static void live_handler(u_char *user, const struct pcap_pkthdr *ph,
                         const u_char *data)
{
    struct live_ctx *lc = (struct live_ctx *)(void *)user;
    if (!lc->h->on_frame(lc->h->ctx, lc->dlt, ts_of(ph), data, ph->caplen))
        lc->go = false;
}

static smtp_time wallclock(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (smtp_time)t.tv_sec * SMTP_NS_PER_SEC + t.tv_nsec;
}

/* The interface opened, activated and filtered; NULL with a message. */
static pcap_t *open_live(const struct capture_live_config *cfg)
{
    char err[PCAP_ERRBUF_SIZE];
    const char *iface = cfg->iface;
    pcap_t *p = pcap_create(iface, err);
    if (!p) {
        fprintf(stderr, "smtpscope: %s: %s\n", iface, err);
        return NULL;
    }
    /* GRO/LRO can hand up super-packets far above the MTU. */
    pcap_set_snaplen(p, 262144);
    pcap_set_promisc(p, 1);
    pcap_set_timeout(p, 200);
    pcap_set_buffer_size(p, 32 << 20);
    pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO);
    int rc = pcap_activate(p);
    if (rc < 0) {
        fprintf(stderr, "smtpscope: %s: %s\n", iface, pcap_geterr(p));
        pcap_close(p);
        return NULL;
    }
    if (rc > 0 && !cfg->quiet)
        fprintf(stderr, "smtpscope: %s: warning: %s\n", iface, pcap_geterr(p));
    if (!check_linktype(p, iface, false)) {
        pcap_close(p);
        return NULL;
    }
    char def[2048], sharded[4096];
    const char *filter = cfg->filter;
    if (!filter) {
        capture_default_filter(cfg->ports, cfg->nports, pcap_datalink(p), def, sizeof def);
        filter = def;
    }
    /* a shard of the interface: the kernel keeps the other shards' packets
     * (a filter too long to narrow is used whole: the engine still splits) */
    if (cfg->nshards && capture_shard_filter(cfg->shard, cfg->nshards, filter,
                                             sharded, sizeof sharded))
        filter = sharded;
    struct bpf_program prog;
    if (pcap_compile(p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) < 0 ||
        pcap_setfilter(p, &prog) < 0) {
        fprintf(stderr, "smtpscope: filter \"%s\": %s\n", filter, pcap_geterr(p));
        pcap_close(p);
        return NULL;
    }
    pcap_freecode(&prog);
    return p;
}

int capture_live(const struct capture_live_config *cfg,
                 const struct capture_hooks *h, struct capture_result *res)
{
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *p = open_live(cfg);
    if (!p)
        return -1;
    if (cfg->drop_user && privdrop(cfg->drop_user, cfg->jail) < 0) {
        pcap_close(p);
        return -1;
    }
    struct live_ctx lc = {h, pcap_datalink(p), true};
    unsigned last_drop = 0;
    struct pcap_stat st;
    /* Non-blocking reads after our own poll with a timeout: the loop wakes
     * at least every 200 ms, to end idle sessions and to notice a signal
     * (with TPACKET_V3 a blocking read can sleep while nothing arrives). */
    struct pollfd pfd = {.fd = pcap_get_selectable_fd(p), .events = POLLIN};
    if (pfd.fd < 0 || pcap_setnonblock(p, 1, err) < 0) {
        fprintf(stderr, "smtpscope: %s: cannot poll the capture\n", cfg->iface);
        pcap_close(p);
        return -1;
    }
    while (!capture_stop && lc.go) {
        poll(&pfd, 1, 200);
        if (capture_stop)
            break;
        int n = pcap_dispatch(p, -1, live_handler, (u_char *)&lc);
        if (n < 0) {
            if (n == PCAP_ERROR)
                fprintf(stderr, "smtpscope: %s: %s\n", cfg->iface, pcap_geterr(p));
            break;
        }
        res->packets += (uint64_t)n;
        /* Time passes without packets too: idle sessions must still end.
         * Sessions open while the kernel dropped packets may miss some. */
        unsigned dropped = 0;
        if (pcap_stats(p, &st) == 0 && st.ps_drop > last_drop) {
            dropped = st.ps_drop - last_drop;
            last_drop = st.ps_drop;
        }
        if (!h->on_idle(h->ctx, wallclock(), dropped))
            lc.go = false;
    }
    if (pcap_stats(p, &st) == 0) {
        res->kernel_received = st.ps_recv;
        res->kernel_dropped = st.ps_drop;
        res->iface_dropped = st.ps_ifdrop;
    }
    pcap_close(p);
    return 0;
}
