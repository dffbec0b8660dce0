/* out_top.c - --top: a full-screen live console, refreshed every second.
 *
 * What it shows is what the run's summary says (the summary sink renders
 * into memory each second), plus what only a live view needs: sessions in
 * the last minute of capture time, sessions open now, and the verdict
 * lines of the last failed sessions (from a text sink at verbosity 1).
 * Keys: p pauses the display, v switches views, q quits. It draws on
 * /dev/tty with plain ANSI sequences in the alternate screen, which is
 * restored on exit; logs still go where -o, --log-dir or --html say.
 */
#define _GNU_SOURCE /* memmem */
#include "output.h"

#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define TOP_LAST 50   /* failed sessions remembered */
#define TOP_LINE 400  /* bytes kept of each verdict line */

struct memsink {          /* a sink rendering into memory */
    FILE *f;
    char *buf;
    size_t size;
    struct sink *s;
};

struct top_sink {
    struct sink base;
    struct memsink sum, verdict;
    char last[TOP_LAST][TOP_LINE];
    unsigned nlast, head;
    uint64_t per_second[64];  /* sessions ended, by capture second mod 64 */
    int64_t second[64];       /* ... and which second each bucket holds */
    int64_t now_sec;
    uint64_t total;
    const uint64_t *open;
    volatile sig_atomic_t *stop;
    const char *source;
    int tty;
    struct termios saved;
    bool raw, paused, done, quit;
    int view;
    struct timespec last_draw;
};

static bool memsink_open(struct memsink *m, bool summary, const struct run_counters *c)
{
    m->f = open_memstream(&m->buf, &m->size);
    if (!m->f)
        return false;
    struct output_options o = {.verbosity = 1};
    m->s = summary ? sink_summary_new(m->f, false, c) : sink_text_new(m->f, &o);
    return m->s != NULL;
}

static void memsink_close(struct memsink *m)
{
    if (m->s)
        m->s->destroy(m->s);
    if (m->f)
        fclose(m->f);
    free(m->buf);
}

/* The *** line with its outcome moved up front ("... *** FAILED at RCPT:
 * 550 5.1.1 no such user; from=<a@b> rcpts=1 ... -- hint: ..."): a line cut
 * to the screen's width still shows the phase and the reply code. */
static void keep_verdict(char *slot, const char *line, size_t n)
{
    const char *end = line + n;
    const char *stars = memmem(line, n, "*** ", 4);
    const char *v = stars ? memmem(stars, (size_t)(end - stars), ": FAILED", 8) : NULL;
    if (!v) {
        memcpy(slot, line, n);
        slot[n] = '\0';
        return;
    }
    const char *hint = memmem(v, (size_t)(end - v), " -- ", 4);
    const char *vend = hint ? hint : end;
    size_t head = (size_t)(stars + 4 - line);
    snprintf(slot, TOP_LINE, "%.*s%.*s; %.*s%.*s", (int)head, line,
             (int)(vend - v - 2), v + 2, (int)(v - stars - 4), stars + 4,
             (int)(end - vend), vend);
}

static void top_session(struct sink *base, const struct session *s)
{
    struct top_sink *t = (struct top_sink *)base;
    t->sum.s->session(t->sum.s, s);
    t->total++;
    int64_t sec = s->end / SMTP_NS_PER_SEC;
    if (sec > t->now_sec)
        t->now_sec = sec;
    unsigned b = (unsigned)(sec & 63);
    if (t->second[b] != sec) {
        t->second[b] = sec;
        t->per_second[b] = 0;
    }
    t->per_second[b]++;
    if (s->verdict != VERDICT_FAILED)
        return;
    /* the *** line of a failed session, as the text log writes it */
    fseeko(t->verdict.f, 0, SEEK_SET);
    t->verdict.s->session(t->verdict.s, s);
    fflush(t->verdict.f);
    off_t len = ftello(t->verdict.f);
    const char *p = t->verdict.buf, *end = p + (len > 0 ? len : 0);
    const char *line = p;
    for (const char *q = p; q < end; q++)
        if (*q == '\n' && q + 1 < end)
            line = q + 1; /* the last line: the *** verdict */
    size_t n = (size_t)(end - line);
    while (n && (line[n - 1] == '\n'))
        n--;
    if (n >= TOP_LINE)
        n = TOP_LINE - 1;
    keep_verdict(t->last[t->head], line, n);
    t->head = (t->head + 1) % TOP_LAST;
    if (t->nlast < TOP_LAST)
        t->nlast++;
}

static uint64_t last_minute(const struct top_sink *t)
{
    uint64_t n = 0;
    for (int b = 0; b < 64; b++)
        if (t->second[b] > t->now_sec - 60 && t->second[b] <= t->now_sec)
            n += t->per_second[b];
    return n;
}

/* Appends a line cut to the screen's width. */
static void put_line(FILE *f, const char *p, size_t n, int cols)
{
    if ((int)n > cols)
        n = (size_t)cols;
    fwrite(p, 1, n, f);
    fputs("\033[K\r\n", f);
}

static void draw(struct top_sink *t)
{
    struct winsize ws = {.ws_row = 24, .ws_col = 80};
    ioctl(t->tty, TIOCGWINSZ, &ws);
    int rows = ws.ws_row ? ws.ws_row : 24, cols = ws.ws_col ? ws.ws_col : 80;
    char *scr = NULL;
    size_t scr_len = 0;
    FILE *f = open_memstream(&scr, &scr_len);
    if (!f)
        return;
    fputs("\033[H", f);
    char head[256];
    int n = snprintf(head, sizeof head,
                     "smtpscope --top  %s  [%s]   p: pause  v: view (%s)  q: quit",
                     t->source, t->paused ? "paused" : t->done ? "input ended" : "running",
                     t->view == 0 ? "overview" : "failures");
    put_line(f, head, (size_t)n, cols);
    n = snprintf(head, sizeof head,
                 "sessions: %llu   open now: %llu   ended in the last minute: %llu",
                 (unsigned long long)t->total, (unsigned long long)*t->open,
                 (unsigned long long)last_minute(t));
    put_line(f, head, (size_t)n, cols);
    put_line(f, "", 0, cols);
    int used = 3;
    if (t->view == 0) {
        /* the summary as of now, without its accounting (counted at the end) */
        fseeko(t->sum.f, 0, SEEK_SET);
        t->sum.s->finish(t->sum.s);
        off_t len = ftello(t->sum.f);
        const char *p = t->sum.buf, *end = p + (len > 0 ? len : 0);
        while (p < end && used < rows - 8) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t ln = nl ? (size_t)(nl - p) : (size_t)(end - p);
            const char *l = p;
            p += ln + 1;
            if (ln >= 2 && l[0] == '#' && l[1] == ' ') {
                l += 2;
                ln -= 2;
            }
            if (ln >= 10 && memcmp(l, "accounting", 10) == 0)
                continue;
            put_line(f, l, ln, cols);
            used++;
        }
        put_line(f, "", 0, cols);
        put_line(f, "last failed sessions:", 21, cols);
        used += 2;
    } else {
        put_line(f, "failed sessions, newest first:", 30, cols);
        used++;
    }
    for (unsigned i = 0; i < t->nlast && used < rows - 1; i++, used++) {
        const char *l = t->last[(t->head + TOP_LAST - 1 - i) % TOP_LAST];
        put_line(f, l, strlen(l), cols);
    }
    fputs("\033[J", f); /* clear what the previous frame had below */
    fclose(f);
    for (size_t off = 0; off < scr_len;) {
        ssize_t w = write(t->tty, scr + off, scr_len - off);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    free(scr);
}

static void read_keys(struct top_sink *t)
{
    char k[16];
    ssize_t n;
    while ((n = read(t->tty, k, sizeof k)) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            if (k[i] == 'q' || k[i] == 'Q') {
                t->quit = true;
                *t->stop = 1;
            } else if (k[i] == 'p' || k[i] == 'P' || k[i] == ' ') {
                t->paused = !t->paused;
            } else if (k[i] == 'v' || k[i] == 'V' || k[i] == '\t') {
                t->view = (t->view + 1) % 2;
            }
        }
        draw(t); /* a key answers at once, paused or not */
    }
}

static double since(const struct timespec *a)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - a->tv_sec) + (double)(now.tv_nsec - a->tv_nsec) / 1e9;
}

static void top_tick(struct sink *base)
{
    struct top_sink *t = (struct top_sink *)base;
    read_keys(t);
    if (since(&t->last_draw) < 1.0)
        return;
    clock_gettime(CLOCK_MONOTONIC, &t->last_draw);
    if (!t->paused)
        draw(t);
}

static void top_finish(struct sink *base)
{
    struct top_sink *t = (struct top_sink *)base;
    t->done = true;
    draw(t);
}

void top_wait(struct sink *base)
{
    struct top_sink *t = (struct top_sink *)base;
    while (!t->quit) {
        struct pollfd p = {.fd = t->tty, .events = POLLIN};
        if (poll(&p, 1, 1000) < 0)
            break;
        if (p.revents & (POLLHUP | POLLERR | POLLNVAL))
            break;
        read_keys(t);
        if (!t->paused)
            draw(t);
    }
}

static void top_destroy(struct sink *base)
{
    struct top_sink *t = (struct top_sink *)base;
    if (t->raw) {
        static const char bye[] = "\033[?25h\033[?1049l";
        if (write(t->tty, bye, sizeof bye - 1) < 0) {
            /* nothing more to do for a terminal that went away */
        }
        tcsetattr(t->tty, TCSANOW, &t->saved);
    }
    if (t->tty >= 0)
        close(t->tty);
    memsink_close(&t->sum);
    memsink_close(&t->verdict);
    free(t);
}

struct sink *sink_top_new(const char *source, const uint64_t *open_sessions,
                          volatile sig_atomic_t *stop, const struct run_counters *counters)
{
    struct top_sink *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->tty = open("/dev/tty", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    t->source = source;
    t->open = open_sessions;
    t->stop = stop;
    for (int b = 0; b < 64; b++)
        t->second[b] = -1;
    if (t->tty < 0 || !memsink_open(&t->sum, true, counters) ||
        !memsink_open(&t->verdict, false, counters)) {
        if (t->tty >= 0)
            close(t->tty);
        memsink_close(&t->sum);
        memsink_close(&t->verdict);
        free(t);
        return NULL;
    }
    struct termios raw;
    if (tcgetattr(t->tty, &t->saved) == 0) {
        raw = t->saved;
        raw.c_lflag &= (tcflag_t) ~(ICANON | ECHO);
        raw.c_cc[VMIN] = 0;
        raw.c_cc[VTIME] = 0;
        if (tcsetattr(t->tty, TCSANOW, &raw) == 0) {
            t->raw = true;
            static const char hello[] = "\033[?1049h\033[?25l\033[H\033[2J";
            if (write(t->tty, hello, sizeof hello - 1) < 0)
                t->raw = true; /* restored in destroy all the same */
        }
    }
    t->base.session = top_session;
    t->base.finish = top_finish;
    t->base.destroy = top_destroy;
    t->base.tick = top_tick;
    clock_gettime(CLOCK_MONOTONIC, &t->last_draw);
    t->last_draw.tv_sec -= 2; /* the first tick draws */
    return &t->base;
}
