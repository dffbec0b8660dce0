/* workers.c - N worker processes and the merge of their output. */
#include "workers.h"

#include "fdio.h"
#include "ring.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* A frame on a worker's pipe: this header, then `len` bytes of output. */
struct frame_hdr {
    uint32_t len;
    uint32_t seq;   /* per worker, tie-break */
    int64_t key;    /* session end time (ns); INT64_MAX: end of run */
};

#define FRAME_MAX (256u << 20) /* far above --max-transcript's largest */

static bool write_all(int fd, const void *p, size_t n)
{
    return fd_write_all(fd, p, n);
}

/* ---- the worker side: a framing sink ------------------------------------ */

struct frame_sink {
    struct sink base;
    struct sink *inner;    /* text or JSON, writing to `stream` */
    FILE *stream;          /* an open_memstream over buf/size */
    char *buf;
    size_t size;
    int fd;
    uint32_t seq;
    bool broken;
    bool batch;            /* files: frames go out BATCH_BYTES at a time */
    char *out;             /* frames not yet written */
    size_t out_len, out_cap;
};

/* A pipe write and a wake-up of the parent a session cost more than the
 * session's log on a gateway's short sessions: files send frames in
 * batches (the merge orders them anyway); live sends each at once. */
#define BATCH_BYTES ((size_t)256 << 10)

static void flush_out(struct frame_sink *f)
{
    if (f->out_len && !f->broken && !write_all(f->fd, f->out, f->out_len))
        f->broken = true; /* the parent is gone: nothing left to do */
    f->out_len = 0;
}

static bool append_out(struct frame_sink *f, const void *p, size_t n)
{
    if (f->out_len + n > f->out_cap) {
        size_t cap = f->out_cap ? f->out_cap : BATCH_BYTES;
        while (cap < f->out_len + n)
            cap *= 2;
        char *nb = realloc(f->out, cap);
        if (!nb)
            return false;
        f->out = nb;
        f->out_cap = cap;
    }
    memcpy(f->out + f->out_len, p, n);
    f->out_len += n;
    return true;
}

/* What the inner sink wrote since the last frame goes out as one frame. */
static void send_frame(struct frame_sink *f, int64_t key)
{
    if (fflush(f->stream) != 0)
        f->broken = true;
    off_t len = ftello(f->stream);
    if (f->broken || len <= 0)
        return;
    struct frame_hdr h = {.len = (uint32_t)len, .seq = f->seq++, .key = key};
    if ((uint64_t)len >= FRAME_MAX || !append_out(f, &h, sizeof h) ||
        !append_out(f, f->buf, (size_t)len))
        f->broken = true;
    if (!f->batch || f->out_len >= BATCH_BYTES || key == INT64_MAX)
        flush_out(f);
    fseeko(f->stream, 0, SEEK_SET);
}

static void fs_session(struct sink *s, const struct session *ss)
{
    struct frame_sink *f = (struct frame_sink *)s;
    f->inner->session(f->inner, ss);
    send_frame(f, ss->end);
}

static void fs_dns(struct sink *s, const struct dns_lookup *l)
{
    struct frame_sink *f = (struct frame_sink *)s;
    if (f->inner->dns) {
        f->inner->dns(f->inner, l);
        send_frame(f, l->t_query);
    }
}

static void fs_finish(struct sink *s)
{
    struct frame_sink *f = (struct frame_sink *)s;
    if (f->inner->finish)
        f->inner->finish(f->inner);
    send_frame(f, INT64_MAX);
}

static void fs_destroy(struct sink *s)
{
    struct frame_sink *f = (struct frame_sink *)s;
    f->inner->destroy(f->inner);
    send_frame(f, INT64_MAX);
    flush_out(f);
    fclose(f->stream);
    free(f->buf);
    free(f->out);
    free(f);
}

struct sink *frame_sink_new(int fd, bool json, bool batch, const struct output_options *o)
{
    struct frame_sink *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->stream = open_memstream(&f->buf, &f->size);
    f->inner = !f->stream ? NULL
               : json     ? sink_json_new(f->stream, o)
                          : sink_text_new(f->stream, o);
    if (!f->inner) {
        if (f->stream)
            fclose(f->stream);
        free(f->buf);
        free(f);
        return NULL;
    }
    f->base.session = fs_session;
    f->base.finish = fs_finish;
    f->base.dns = fs_dns;
    f->base.destroy = fs_destroy;
    f->fd = fd;
    f->batch = batch;
    return &f->base;
}

/* ---- the parent side: merging ------------------------------------------- */

/* A frame read from a worker, waiting for its turn. */
struct qframe {
    struct qframe *next;
    struct frame_hdr h;
    char data[];
};

struct worker {
    pid_t pid;
    int fd;
    bool eof;
    struct qframe *head, **tailp; /* frames read, oldest first */
    struct frame_ring *ring;      /* files: the reader's frames to it */
    char *in;                     /* read from the pipe, not yet a whole frame */
    size_t in_len, in_cap;
    char date[64];         /* the last "# date:" line this worker wrote */
};

struct merger {
    FILE *out;
    char date[64];         /* the last "# date:" line written to out */
};

static void worker_gone(struct worker *w)
{
    w->eof = true;
    if (w->ring)
        ring_consumer_gone(w->ring); /* the reader must not wait for it */
}

static void queue_frame(struct worker *w, const struct frame_hdr *h, const char *body)
{
    struct qframe *q = malloc(sizeof *q + h->len);
    if (!q) {
        fprintf(stderr, "smtpscope: out of memory merging the workers' output\n");
        worker_gone(w);
        return;
    }
    q->h = *h;
    q->next = NULL;
    memcpy(q->data, body, h->len);
    if (!w->head)
        w->tailp = &w->head;
    *w->tailp = q;
    w->tailp = &q->next;
}

/* One read from the worker's pipe (a batch of frames, or part of one); the
 * whole frames in it are queued. False at the end of the stream. */
static bool read_frames(struct worker *w)
{
    if (w->eof)
        return false;
    if (w->in_cap - w->in_len < (64u << 10)) {
        size_t cap = w->in_cap ? w->in_cap * 2 : (size_t)512 << 10;
        char *nb = cap <= 2 * (size_t)FRAME_MAX ? realloc(w->in, cap) : NULL;
        if (!nb) {
            worker_gone(w);
            return false;
        }
        w->in = nb;
        w->in_cap = cap;
    }
    ssize_t n;
    while ((n = read(w->fd, w->in + w->in_len, w->in_cap - w->in_len)) < 0 && errno == EINTR) {}
    if (n <= 0) {
        worker_gone(w);
        return false;
    }
    w->in_len += (size_t)n;
    size_t off = 0;
    struct frame_hdr h;
    while (!w->eof && w->in_len - off >= sizeof h) {
        memcpy(&h, w->in + off, sizeof h);
        if (h.len >= FRAME_MAX) {
            worker_gone(w);
            return false;
        }
        if (w->in_len - off - sizeof h < h.len)
            break; /* the rest comes with the next read */
        queue_frame(w, &h, w->in + off + sizeof h);
        off += sizeof h + h.len;
    }
    memmove(w->in, w->in + off, w->in_len - off);
    w->in_len -= off;
    return true;
}

static struct qframe *pop(struct worker *w)
{
    struct qframe *q = w->head;
    w->head = q->next;
    return q;
}

/* A "# date:" line of the worker's: remembered, not written. */
static bool take_date(struct worker *w, const char *p, size_t n)
{
    static const char tag[] = "# date: ";
    if (n <= sizeof tag - 1 || n >= sizeof w->date || memcmp(p, tag, sizeof tag - 1) != 0)
        return false;
    memcpy(w->date, p, n);
    w->date[n] = '\0';
    return true;
}

/* Before the worker's lines: its date, where the merged log's differs. */
static void put_date(struct merger *m, const struct worker *w)
{
    if (w->date[0] && strcmp(w->date, m->date) != 0) {
        fputs(w->date, m->out);
        memcpy(m->date, w->date, sizeof m->date);
    }
}

/* The next line of buf that starts with '#' (or end). */
static const char *next_hash_line(const char *buf, const char *p, const char *end)
{
    while (p < end) {
        const char *h = memchr(p, '#', (size_t)(end - p));
        if (!h)
            return end;
        if (h == buf || h[-1] == '\n')
            return h;
        p = h + 1;
    }
    return end;
}

/* Writes a frame; a "# date:" line is written only where the merged log
 * changes day, so the date stays recoverable from the merged log. What is
 * between the date lines goes out in one write. */
static void emit_frame(struct merger *m, struct worker *w, const char *buf, size_t len)
{
    const char *p = buf, *end = buf + len;
    while (p < end) {
        const char *d = next_hash_line(buf, p, end);
        if (d > p) {
            put_date(m, w);
            fwrite(p, 1, (size_t)(d - p), m->out);
        }
        if (d == end)
            return;
        const char *nl = memchr(d, '\n', (size_t)(end - d));
        size_t n = nl ? (size_t)(nl - d) + 1 : (size_t)(end - d);
        if (!take_date(w, d, n)) {
            put_date(m, w);
            fwrite(d, 1, n, m->out);
        }
        p = d + n;
    }
}

static bool frame_before(const struct qframe *a, const struct qframe *b)
{
    if (a->h.key != b->h.key)
        return a->h.key < b->h.key;
    return a->h.seq < b->h.seq;
}

/* The worker whose frame is next in end-time order, once every worker
 * still running has one waiting (each worker's frames come in order). */
static struct worker *next_in_order(struct worker *w, int n)
{
    struct worker *best = NULL;
    for (int k = 0; k < n; k++) {
        if (!w[k].head && !w[k].eof)
            return NULL;
        if (w[k].head && (!best || frame_before(w[k].head, best->head)))
            best = &w[k];
    }
    return best;
}

/* Files: a k-way merge by session end time. Every pipe is read as soon as
 * it has a frame, whatever the order needs next: the workers share one
 * reader, and a worker blocked on its pipe would stop the reader and with
 * it the worker the order waits for. reader_fd: ends when the reader
 * exits (-1: no reader). */
static void merge_ordered(struct merger *m, struct worker *w, int n, int reader_fd)
{
    struct pollfd pfd[WORKERS_MAX + 1];
    for (;;) {
        struct worker *best;
        while ((best = next_in_order(w, n))) {
            struct qframe *q = pop(best);
            emit_frame(m, best, q->data, q->h.len);
            free(q);
        }
        int nfd = 0, open = 0;
        for (int k = 0; k < n; k++) {
            pfd[nfd++] = (struct pollfd){.fd = w[k].eof ? -1 : w[k].fd, .events = POLLIN};
            open += !w[k].eof;
        }
        if (!open)
            return;
        pfd[nfd++] = (struct pollfd){.fd = reader_fd, .events = POLLIN};
        if (poll(pfd, (nfds_t)nfd, -1) < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        for (int k = 0; k < n; k++)
            if (pfd[k].revents)
                read_frames(&w[k]);
        if (reader_fd >= 0 && pfd[n].revents) { /* the reader exited */
            for (int k = 0; k < n; k++)
                if (w[k].ring)
                    ring_producer_gone(w[k].ring);
            reader_fd = -1; /* workers_run closes it */
        }
    }
}

/* Live: frames as they arrive. */
static void merge_live(struct merger *m, struct worker *w, int n)
{
    struct pollfd pfd[WORKERS_MAX];
    for (;;) {
        int open = 0;
        for (int k = 0; k < n; k++) {
            pfd[k].fd = w[k].eof ? -1 : w[k].fd;
            pfd[k].events = POLLIN;
            pfd[k].revents = 0;
            open += !w[k].eof;
        }
        if (!open)
            return;
        if (poll(pfd, (nfds_t)n, -1) < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        for (int k = 0; k < n; k++)
            if (pfd[k].revents && read_frames(&w[k])) {
                while (w[k].head) {
                    struct qframe *q = pop(&w[k]);
                    emit_frame(m, &w[k], q->data, q->h.len);
                    free(q);
                }
                fflush(m->out); /* a live log is read as it grows */
            }
    }
}

/* Who INT/TERM go on to: with a reader, the reader alone (it stops
 * reading, the workers end their sessions at the input's end); live, the
 * workers. */
static pid_t stop_pids[WORKERS_MAX];
static volatile sig_atomic_t nstop_pids;

static void forward_signal(int sig)
{
    (void)sig;
    for (int k = 0; k < nstop_pids; k++)
        kill(stop_pids[k], SIGTERM);
}

static void forward_signals(const pid_t *pids, int n)
{
    for (int k = 0; k < n; k++)
        stop_pids[k] = pids[k];
    nstop_pids = n;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = forward_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* Forks worker k: its frames to the parent on a pipe. */
static bool start_worker(struct worker *all, int k, int n, worker_fn fn, void *ctx)
{
    struct worker *w = &all[k];
    int p[2];
    if (pipe(p) < 0)
        return false;
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return false;
    }
    if (pid == 0) {
        close(p[0]);
        for (int j = 0; j < k; j++)
            close(all[j].fd);
        signal(SIGPIPE, SIG_IGN);
        int rc = fn(ctx, k, n, p[1], w->ring);
        close(p[1]);
        _exit(rc);
    }
    close(p[1]);
    w->pid = pid;
    w->fd = p[0];
    return true;
}

/* Forks the reader; *fd ends (EOF) when it exits. */
static pid_t start_reader(reader_fn reader, void *ctx, struct frame_ring *const *rings,
                          int n, const struct worker *w, int *fd)
{
    int p[2];
    if (pipe(p) < 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        for (int k = 0; k < n; k++)
            close(w[k].fd);
        _exit(reader(ctx, rings, n));
    }
    close(p[1]);
    if (pid < 0)
        close(p[0]);
    else
        *fd = p[0];
    return pid;
}

/* Waits for a child; its exit status, 3 (said) when it died. */
static int reap(pid_t pid, const char *who, int k)
{
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    if (k >= 0)
        fprintf(stderr, "smtpscope: worker %d died (signal %d): its sessions "
                        "may be missing\n", k, WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    else
        fprintf(stderr, "smtpscope: %s died (signal %d): sessions may be missing\n", who,
                WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    return 3;
}

/* 4 MiB a worker: a few thousand frames of slack between the reader and
 * each worker, and room for the largest frame pcap gives. */
#define RING_BYTES ((size_t)4 << 20)

static bool make_rings(struct worker *w, struct frame_ring **rings, int n)
{
    for (int k = 0; k < n; k++)
        if (!(rings[k] = w[k].ring = ring_new(RING_BYTES)))
            return false;
    return true;
}

int workers_run(int n, worker_fn fn, reader_fn reader, void *ctx, FILE *out)
{
    struct worker w[WORKERS_MAX];
    struct frame_ring *rings[WORKERS_MAX] = {NULL};
    memset(w, 0, sizeof w);
    if (n < 1 || n > WORKERS_MAX)
        return 1;
    fflush(out);
    fflush(stderr);
    int started = 0, reader_fd = -1, status = 0;
    pid_t reader_pid = -1;
    if (!reader || make_rings(w, rings, n))
        while (started < n && start_worker(w, started, n, fn, ctx))
            started++;
    if (started == n && reader)
        reader_pid = start_reader(reader, ctx, rings, n, w, &reader_fd);
    if (started < n || (reader && reader_pid < 0)) {
        /* a worker that could not start leaves its shard unread: stop */
        fprintf(stderr, "smtpscope: could not start %d workers: %s\n", n, strerror(errno));
        for (int k = 0; k < started; k++)
            kill(w[k].pid, SIGTERM);
        for (int k = 0; k < started && reader; k++)
            ring_producer_gone(rings[k]);
        status = 3;
    } else {
        /* INT/TERM go on: sessions are finished and merged until every
         * pipe ends. */
        pid_t pids[WORKERS_MAX];
        for (int k = 0; k < n; k++)
            pids[k] = w[k].pid;
        forward_signals(reader ? &reader_pid : pids, reader ? 1 : n);
        struct merger m = {.out = out};
        if (reader)
            merge_ordered(&m, w, n, reader_fd);
        else
            merge_live(&m, w, n);
    }
    if (reader_fd >= 0)
        close(reader_fd);
    if (reader_pid > 0) {
        int rc = reap(reader_pid, "the --workers reader", -1);
        status = rc > status ? rc : status;
    }
    for (int k = 0; k < started; k++) {
        close(w[k].fd);
        int rc = reap(w[k].pid, NULL, k);
        status = rc > status ? rc : status;
        while (w[k].head)
            free(pop(&w[k]));
        free(w[k].in);
    }
    for (int k = 0; k < n; k++)
        ring_free(rings[k]);
    return status;
}
