/* workers.c - N worker processes and the merge of their output. */
#include "workers.h"

#include "fdio.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fdio.h"

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

static bool read_all(int fd, void *p, size_t n)
{
    return fd_read_all(fd, p, n) == 1;
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
};

/* What the inner sink wrote since the last frame goes out as one frame. */
static void send_frame(struct frame_sink *f, int64_t key)
{
    if (fflush(f->stream) != 0)
        f->broken = true;
    off_t len = ftello(f->stream);
    if (f->broken || len <= 0)
        return;
    struct frame_hdr h = {.len = (uint32_t)len, .seq = f->seq++, .key = key};
    if ((uint64_t)len >= FRAME_MAX || !write_all(f->fd, &h, sizeof h) ||
        !write_all(f->fd, f->buf, (size_t)len))
        f->broken = true; /* the parent is gone: nothing left to do */
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
    fclose(f->stream);
    free(f->buf);
    free(f);
}

struct sink *frame_sink_new(int fd, bool json, const struct output_options *o)
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
    return &f->base;
}

/* ---- the parent side: merging ------------------------------------------- */

struct worker {
    pid_t pid;
    int fd;
    bool eof;
    bool have;             /* a frame is waiting in buf */
    struct frame_hdr h;
    char *buf;
    size_t cap;
    char date[64];         /* the last "# date:" line this worker wrote */
};

struct merger {
    FILE *out;
    char date[64];         /* the last "# date:" line written to out */
};

/* Reads the worker's next frame; false at end of stream. */
static bool next_frame(struct worker *w)
{
    w->have = false;
    if (w->eof)
        return false;
    if (!read_all(w->fd, &w->h, sizeof w->h) || w->h.len >= FRAME_MAX) {
        w->eof = true;
        return false;
    }
    if (w->h.len > w->cap) {
        char *nb = realloc(w->buf, w->h.len);
        if (!nb) {
            w->eof = true;
            return false;
        }
        w->buf = nb;
        w->cap = w->h.len;
    }
    if (!read_all(w->fd, w->buf, w->h.len)) {
        w->eof = true;
        return false;
    }
    w->have = true;
    return true;
}

/* Writes a frame; a "# date:" line is written only where the merged log
 * changes day, so the date stays recoverable from the merged log. */
static void emit_frame(struct merger *m, struct worker *w)
{
    static const char tag[] = "# date: ";
    const char *p = w->buf, *end = w->buf + w->h.len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
        if (n > sizeof tag - 1 && n < sizeof w->date && memcmp(p, tag, sizeof tag - 1) == 0) {
            memcpy(w->date, p, n);
            w->date[n] = '\0';
        } else {
            if (w->date[0] && strcmp(w->date, m->date) != 0) {
                fputs(w->date, m->out);
                memcpy(m->date, w->date, sizeof m->date);
            }
            fwrite(p, 1, n, m->out);
        }
        p += n;
    }
    w->have = false;
}

static bool frame_before(const struct worker *a, const struct worker *b)
{
    if (a->h.key != b->h.key)
        return a->h.key < b->h.key;
    return a->h.seq < b->h.seq;
}

/* Files: each worker's frames come in end-time order; a k-way merge. */
static void merge_ordered(struct merger *m, struct worker *w, int n)
{
    for (int k = 0; k < n; k++)
        next_frame(&w[k]);
    for (;;) {
        struct worker *best = NULL;
        for (int k = 0; k < n; k++)
            if (w[k].have && (!best || frame_before(&w[k], best)))
                best = &w[k];
        if (!best)
            return;
        emit_frame(m, best);
        next_frame(best);
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
            if (pfd[k].revents && next_frame(&w[k])) {
                emit_frame(m, &w[k]);
                fflush(m->out); /* a live log is read as it grows */
            }
    }
}

static pid_t worker_pids[WORKERS_MAX];
static volatile sig_atomic_t nworker_pids;

static void forward_signal(int sig)
{
    (void)sig;
    for (int k = 0; k < nworker_pids; k++)
        kill(worker_pids[k], SIGTERM);
}

int workers_run(int n, worker_fn fn, void *ctx, FILE *out, bool ordered)
{
    struct worker w[WORKERS_MAX];
    memset(w, 0, sizeof w);
    if (n < 1 || n > WORKERS_MAX)
        return 1;
    fflush(out);
    fflush(stderr);
    int started = 0;
    for (int k = 0; k < n; k++) {
        int p[2];
        if (pipe(p) < 0)
            break;
        pid_t pid = fork();
        if (pid < 0) {
            close(p[0]);
            close(p[1]);
            break;
        }
        if (pid == 0) {
            close(p[0]);
            for (int j = 0; j < k; j++)
                close(w[j].fd);
            signal(SIGPIPE, SIG_IGN);
            int rc = fn(ctx, k, n, p[1]);
            close(p[1]);
            _exit(rc);
        }
        close(p[1]);
        w[k].pid = pid;
        w[k].fd = p[0];
        started++;
    }
    /* A worker that could not start leaves its shard unread: say so, stop. */
    int status = 0;
    if (started < n) {
        fprintf(stderr, "smtpscope: could not start %d workers: %s\n", n, strerror(errno));
        for (int k = 0; k < started; k++)
            kill(w[k].pid, SIGTERM);
        status = 3;
    } else {
        /* INT/TERM go on to the workers: they finish their sessions and
         * the parent merges until every pipe ends. */
        nworker_pids = n;
        for (int k = 0; k < n; k++)
            worker_pids[k] = w[k].pid;
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = forward_signal;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        struct merger m = {.out = out};
        if (ordered)
            merge_ordered(&m, w, n);
        else
            merge_live(&m, w, n);
    }
    for (int k = 0; k < started; k++) {
        int st = 0;
        close(w[k].fd);
        while (waitpid(w[k].pid, &st, 0) < 0 && errno == EINTR) {}
        int rc = WIFEXITED(st) ? WEXITSTATUS(st) : 3;
        if (!WIFEXITED(st))
            fprintf(stderr, "smtpscope: worker %d died (signal %d): its sessions "
                            "may be missing\n", k, WIFSIGNALED(st) ? WTERMSIG(st) : 0);
        if (rc > status)
            status = rc;
        free(w[k].buf);
    }
    return status;
}
