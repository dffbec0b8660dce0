/* compare.c - --compare: both capture points read at once, then paired.
 *
 * libnids keeps its state in globals, so each side runs the pipeline in a
 * child process of its own (which also lets two live captures run side by
 * side); its sessions come back as digests over a pipe. The parent reads
 * both pipes as they fill (poll: a side must never wait on the other),
 * and pairs and writes once both have ended: a pair's partner may end
 * last.
 */
#include "compare.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct side {
    struct digest **d;
    size_t n, cap;
    int fd;             /* its digests */
    int errfd;          /* its stderr, each line said again with the side's name */
    char err[1024];
    size_t errlen;
    pid_t pid;
};

static const char *const side_names[] = {"client side", "server side"};

static bool keep(struct side *s, struct digest *d)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        struct digest **p = realloc(s->d, cap * sizeof *p);
        if (!p)
            return false;
        s->d = p;
        s->cap = cap;
    }
    s->d[s->n++] = d;
    return true;
}

static int start_side(struct side *s, int k, cmp_side_fn run_side, void *ctx,
                      const struct side *other)
{
    int p[2], e[2];
    if (pipe(p) != 0 || pipe(e) != 0) {
        fprintf(stderr, "smtpscope: --compare: pipe: %s\n", strerror(errno));
        return -1;
    }
    fflush(NULL); /* nothing buffered is written twice */
    s->pid = fork();
    if (s->pid < 0) {
        fprintf(stderr, "smtpscope: --compare: fork: %s\n", strerror(errno));
        close(p[0]), close(p[1]), close(e[0]), close(e[1]);
        return -1;
    }
    if (s->pid == 0) {
        close(p[0]);
        close(e[0]);
        dup2(e[1], STDERR_FILENO);
        close(e[1]);
        if (other) {
            close(other->fd);
            close(other->errfd);
        }
        int status = run_side(ctx, k, p[1]);
        close(p[1]);
        exit(status);
    }
    close(p[1]);
    close(e[1]);
    s->fd = p[0];
    s->errfd = e[0];
    return 0;
}

/* One line a side wrote on its stderr, said with the side's name:
 * "smtpscope: client side: warning: ..." */
static void say_line(const char *name, const char *line, size_t n)
{
    static const char own[] = "smtpscope: ";
    if (n >= sizeof own - 1 && memcmp(line, own, sizeof own - 1) == 0) {
        line += sizeof own - 1;
        n -= sizeof own - 1;
    }
    fprintf(stderr, "smtpscope: %s: %.*s\n", name, (int)n, line);
}

/* What a side's stderr holds now, line by line; false at its end. */
static bool read_err(struct side *s, const char *name)
{
    ssize_t r = read(s->errfd, s->err + s->errlen, sizeof s->err - s->errlen);
    if (r < 0 && errno == EINTR)
        return true;
    if (r > 0)
        s->errlen += (size_t)r;
    size_t from = 0;
    for (size_t i = 0; i < s->errlen; i++)
        if (s->err[i] == '\n') {
            say_line(name, s->err + from, i - from);
            from = i + 1;
        }
    if (from == 0 && s->errlen == sizeof s->err) /* a line longer than we keep */
        from = s->errlen, say_line(name, s->err, s->errlen);
    memmove(s->err, s->err + from, s->errlen - from);
    s->errlen -= from;
    if (r <= 0 && s->errlen) { /* its last line had no end */
        say_line(name, s->err, s->errlen);
        s->errlen = 0;
    }
    return r > 0;
}

/* Reads one digest from a side that poll said is ready; false once the
 * side has ended (or sent something that is not a digest: said). */
static bool read_side(struct side *s, const char *name, bool *oom)
{
    struct digest *d;
    char err[160];
    int r = digest_read(s->fd, &d, err, sizeof err);
    if (r < 0)
        fprintf(stderr, "smtpscope: --compare: the %s: %s\n", name, err);
    if (r <= 0)
        return false;
    if (!keep(s, d)) {
        free(d);
        *oom = true;
        return false;
    }
    return true;
}

static void collect(struct side sides[2], bool *oom)
{
    struct pollfd p[4] = {{sides[0].fd, POLLIN, 0}, {sides[1].fd, POLLIN, 0},
                          {sides[0].errfd, POLLIN, 0}, {sides[1].errfd, POLLIN, 0}};
    int open = 4;
    while (open > 0) {
        if (poll(p, 4, -1) < 0) {
            if (errno == EINTR)
                continue; /* Ctrl-C: the sides stop and end their streams */
            fprintf(stderr, "smtpscope: --compare: poll: %s\n", strerror(errno));
            return;
        }
        for (int k = 0; k < 4; k++) {
            if (p[k].fd < 0 || !(p[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            struct side *sd = &sides[k % 2];
            bool more = k < 2 ? read_side(sd, side_names[k % 2], oom)
                              : read_err(sd, side_names[k % 2]);
            if (!more) {
                close(p[k].fd);
                p[k].fd = -1;
                open--;
            }
        }
    }
}

static int wait_side(const struct side *s)
{
    int st;
    while (waitpid(s->pid, &st, 0) < 0)
        if (errno != EINTR)
            return 3;
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    fprintf(stderr, "smtpscope: --compare: a side ended by signal %d\n",
            WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    return 3;
}

/* The pairs to out and, with --html, to the page as well. */
static int write_pairs(struct side sides[2], FILE *out, const struct compare_config *cfg)
{
    struct cmp_match *m;
    size_t nm;
    int64_t offset;
    if (compare_pair(sides[0].d, sides[0].n, sides[1].d, sides[1].n, &m, &nm, &offset) < 0)
        return 3;
    struct cmp_writer *w = cmp_writer_new(out, cfg->json, cfg->summary, cfg->localtime);
    struct cmp_html *h = cfg->html ? cmp_html_new(cfg->html, cfg->sides, cfg->version, offset)
                                   : NULL;
    int status = w && (h || !cfg->html) ? 0 : 3;
    for (size_t i = 0; !status && i < nm; i++) {
        const struct digest *c = m[i].c >= 0 ? sides[0].d[m[i].c] : NULL;
        const struct digest *s = m[i].s >= 0 ? sides[1].d[m[i].s] : NULL;
        struct cmp_result r;
        if (compare_diff(c, s, offset, cfg->slow_ms, &r) < 0) {
            status = 3;
            break;
        }
        if (m[i].ambiguous)
            cmp_result_note(&r, FINDING_PAIRING_UNCERTAIN,
                            "another session fitted as well; paired by the closest start");
        cmp_write_pair(w, &m[i], c, s, &r);
        if (h)
            cmp_html_pair(h, &m[i], c, s, &r);
        cmp_result_free(&r);
    }
    if (!status)
        cmp_writer_finish(w, sides[0].n, sides[1].n, offset);
    if (!status && h && !cmp_html_finish(h, sides[0].n, sides[1].n, offset)) {
        fprintf(stderr, "smtpscope: --compare --html: the report could not be written\n");
        status = 3;
    }
    cmp_html_free(h);
    cmp_writer_free(w);
    free(m);
    return status;
}

int compare_run(cmp_side_fn run_side, void *ctx, FILE *out, const struct compare_config *cfg)
{
    struct side sides[2] = {{.fd = -1, .errfd = -1}, {.fd = -1, .errfd = -1}};
    int status = 0;
    if (start_side(&sides[0], 0, run_side, ctx, NULL) < 0)
        return 3;
    if (start_side(&sides[1], 1, run_side, ctx, &sides[0]) < 0) {
        close(sides[0].fd);
        close(sides[0].errfd);
        wait_side(&sides[0]);
        return 3;
    }
    bool oom = false;
    collect(sides, &oom);
    for (int k = 0; k < 2; k++) {
        int st = wait_side(&sides[k]);
        status = st > status ? st : status;
    }
    if (oom) {
        fprintf(stderr, "smtpscope: --compare: out of memory\n");
        status = 3;
    }
    if (status == 2)
        fprintf(stderr, "smtpscope: --compare: a side could not be read: nothing compared\n");
    if (status != 3 && status != 2) {
        int st = write_pairs(sides, out, cfg);
        status = st ? st : status;
    }
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; i < sides[k].n; i++)
            free(sides[k].d[i]);
        free(sides[k].d);
    }
    return status;
}
