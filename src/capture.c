/* capture.c - libpcap input (see capture.h). */
#include "capture.h"

#include <errno.h>
#include <glob.h>
#include <stdlib.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <string.h>
#include <poll.h>
#include <pwd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "decode.h"
#include "endpoint.h"
#include "capture_int.h"
#include "privdrop.h"

volatile sig_atomic_t capture_stop;

bool capture_check_linktype(pcap_t *p, const char *what, bool quiet)
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

static void progress_show(struct progress *pg, const struct capture_hooks *h, off_t pos,
                          const struct capture_result *res)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double run = since(&pg->start, &now);
    if (run < 1.0 || since(&pg->last, &now) < 0.25)
        return;
    pg->last = now;
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

/* One input file of the merge: its handle and the packet read ahead. */
struct input {
    const char *name;
    FILE *fp;
    pcap_t *p;
    char *buf;
    int dlt;
    struct pcap_pkthdr *ph; /* the packet ahead; NULL once the file is done */
    const u_char *data;
    smtp_time ts;           /* of the packet ahead (computed once) */
    smtp_time last;         /* of the packet before it */
    uint64_t size;          /* of a regular file, for the progress line */
    bool backwards_said;
    struct fast_file fast;  /* a classic pcap file, read in place */
};

/* Names as given, a name with glob characters that is no file expanded
 * (-r 'day-*.pcap', sorted as glob sorts); NULL when out of memory. */
static const char **expand_names(const char *const *files, int nfiles, int *n)
{
    size_t cap = (size_t)nfiles + 16, len = 0;
    const char **out = malloc(cap * sizeof *out);
    for (int i = 0; out && i < nfiles; i++) {
        glob_t g;
        bool pattern = strpbrk(files[i], "*?[") && access(files[i], F_OK) != 0;
        if (!pattern || glob(files[i], 0, NULL, &g) != 0) {
            if (pattern)
                fprintf(stderr, "smtpscope: %s: no file matches\n", files[i]);
            else
                out[len++] = files[i];
            continue;
        }
        if (len + g.gl_pathc >= cap) {
            cap = len + g.gl_pathc + 16;
            const char **grown = realloc(out, cap * sizeof *out);
            if (!grown) {
                free(out);
                out = NULL;
                globfree(&g);
                break;
            }
            out = grown;
        }
        for (size_t k = 0; k < g.gl_pathc; k++)
            out[len++] = strdup(g.gl_pathv[k]); /* kept for the run */
        globfree(&g);
    }
    *n = (int)len;
    return out;
}

/* Opens one input and reads its first packet; false with the message. */
static bool input_open(struct input *in, const char *file, size_t bufsize, bool read_only)
{
    char err[PCAP_ERRBUF_SIZE];
    bool is_stdin = strcmp(file, "-") == 0;
    memset(in, 0, sizeof *in);
    in->name = is_stdin ? "(stdin)" : file;
    const char *why = NULL;
    in->fp = capture_open(file, &why);
    if (!in->fp) {
        fprintf(stderr, "smtpscope: %s: %s\n", in->name, why ? why : strerror(errno));
        return false;
    }
    /* a large buffer: a quarter of a gigabyte is otherwise 64 000 reads */
    if ((in->buf = malloc(bufsize)))
        setvbuf(in->fp, in->buf, _IOFBF, bufsize);
    in->p = pcap_fopen_offline_with_tstamp_precision(in->fp, PCAP_TSTAMP_PRECISION_NANO, err);
    if (!in->p) {
        fclose(in->fp);
        fprintf(stderr, "smtpscope: %s: %s\n", in->name, err);
        free(in->buf);
        in->buf = NULL;
        return false;
    }
    in->dlt = pcap_datalink(in->p);
    in->last = -1;
    struct stat st;
    if (!is_stdin && fstat(fileno(in->fp), &st) == 0 && S_ISREG(st.st_mode))
        in->size = (uint64_t)st.st_size;
    if (!capture_check_linktype(in->p, in->name, false))
        return false;
    if (!is_stdin && fast_open(&in->fast, in->fp, in->p))
        in->fast.in_place = read_only;
    return true;
}

static void input_close(struct input *in)
{
    fast_close(&in->fast);
    if (in->p)
        pcap_close(in->p); /* closes fp too */
    in->p = NULL;
    in->ph = NULL;
    free(in->buf);
    in->buf = NULL;
}

/* The next packet ahead; at the end or an error the file is closed.
 * Returns false on a read error (said). */
static bool input_advance(struct input *in, const struct capture_result *res, bool quiet)
{
    int rc = fast_next(&in->fast, in->p, in->fp, &in->ph, &in->data);
    if (rc == 1) {
        smtp_time ts = in->ts = capture_ts_of(in->ph);
        if (ts < in->last && !in->backwards_said && !quiet) {
            fprintf(stderr, "smtpscope: %s: its clock runs backwards (by %.6f s); "
                            "packets merged by time as they come\n",
                    in->name, (double)(in->last - ts) / 1e9);
            in->backwards_said = true;
        }
        return true;
    }
    bool ok = rc != PCAP_ERROR;
    if (!ok && !capture_stop)
        fprintf(stderr, "smtpscope: %s: %s (after %llu packets); "
                        "continuing with what was read\n",
                in->name, pcap_geterr(in->p), (unsigned long long)res->packets);
    input_close(in);
    return ok;
}

/* The input whose packet ahead is the earliest (the first given on a tie). */
static struct input *earliest(struct input *ins, int n)
{
    if (n == 1) /* the usual run: one file, no merge */
        return ins[0].ph ? &ins[0] : NULL;
    struct input *best = NULL;
    for (int i = 0; i < n; i++)
        if (ins[i].ph && (!best || ins[i].ts < best->ts))
            best = &ins[i];
    return best;
}

static off_t read_so_far(const struct input *ins, int n)
{
    off_t at = 0;
    for (int i = 0; i < n; i++)
        if (ins[i].p && ins[i].fp != stdin) {
            off_t pos = ins[i].fast.on ? (off_t)ins[i].fast.pos : ftello(ins[i].fp);
            at += pos > 0 ? pos : 0;
        }
    return at;
}

/* Several files are one capture merged by packet time, as mergecap does:
 * every file open at once, one packet read ahead of each, the earliest
 * handed on. Rotated files in any order, and captures from two points
 * whose times overlap, come out in time order; it is said once when the
 * files overlapped or were given out of time order. */
/* The user's expression on an offline handle; false with the message. */
static bool set_filter(struct input *in, const char *filter)
{
    struct bpf_program prog;
    if (!filter)
        return true;
    if (pcap_compile(in->p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) < 0 ||
        (!in->fast.on && pcap_setfilter(in->p, &prog) < 0)) {
        fprintf(stderr, "smtpscope: %s: filter \"%s\": %s\n", in->name, filter,
                pcap_geterr(in->p));
        return false;
    }
    if (in->fast.on) { /* run by fast_next */
        in->fast.filter = prog;
        in->fast.filter_set = true;
        return true;
    }
    pcap_freecode(&prog);
    return true;
}

void capture_files(const char *const *given, int ngiven, const char *filter,
                   const struct capture_hooks *h, bool quiet, bool realtime,
                   struct capture_result *res)
{
    int nfiles = 0;
    const char **files = expand_names(given, ngiven, &nfiles);
    struct input *ins = files && nfiles ? calloc((size_t)nfiles, sizeof *ins) : NULL;
    if (!ins) {
        if (nfiles)
            fprintf(stderr, "smtpscope: out of memory opening the inputs\n");
        free(files);
        return;
    }
    size_t bufsize = nfiles <= 8 ? (size_t)1 << 20 : (size_t)1 << 16;
    for (int i = 0; i < nfiles; i++) {
        if (!input_open(&ins[i], files[i], bufsize, h->read_only) || !set_filter(&ins[i], filter) ||
            !input_advance(&ins[i], res, quiet)) {
            input_close(&ins[i]);
            ins[i].name = NULL;
            res->files_failed++;
        }
    }
    smtp_time first_ts = -1;
    struct timespec wall0 = {0, 0};
    struct progress pg;
    progress_start(&pg, files, nfiles, !quiet && isatty(STDERR_FILENO));
    struct input *prev = NULL;
    bool go = true, said = false; /* go: false once -c is reached */
    struct input *in;
    while (!capture_stop && go && (in = earliest(ins, nfiles))) {
        /* given in time order, the merge only ever moves on to a later
         * file once the one before has ended */
        if (prev && in != prev && (prev->ph || in < prev) && !said && !quiet) {
            fprintf(stderr, "smtpscope: %s and %s overlap in time (or were given out "
                            "of time order): merged by packet time\n", prev->name, in->name);
            said = true;
        }
        prev = in;
        res->packets++;
        smtp_time ts = in->ts;
        if (realtime)
            pace(h, ts, &first_ts, &wall0);
        go = h->on_frame(h->ctx, in->dlt, ts, in->data, in->ph->caplen);
        in->last = ts;
        if ((res->packets & 1023) == 0) {
            go = h->on_idle(h->ctx, -1, 0) && go;
            if (pg.on && (res->packets & 4095) == 0)
                progress_show(&pg, h, read_so_far(ins, nfiles), res);
        }
        if (!input_advance(in, res, quiet)) {
            res->files_failed++;
            in->name = NULL;
        }
        if (!in->p)
            pg.done += in->size;
    }
    for (int i = 0; i < nfiles; i++) {
        if (ins[i].name)
            res->files_ok++;
        input_close(&ins[i]);
    }
    if (pg.shown)
        fputs("\r\033[K", stderr); /* the line goes: the log stays clean */
    for (int i = 0; i < nfiles; i++) { /* the names a glob gave */
        bool given_name = false;
        for (int k = 0; k < ngiven && !given_name; k++)
            given_name = files[i] == given[k];
        if (!given_name)
            free((char *)files[i]);
    }
    free(ins);
    free(files);
}

