/* out_logdir.c - --log-dir: daily log files, reopened on SIGHUP.
 *
 * Each session goes into the files of the day it started:
 * DIR/smtp-YYYYMMDD.log (text) and DIR/smtp-YYYYMMDD.jsonl (JSON Lines),
 * by UTC or, with --localtime, local days. Files are opened for appending
 * (mode 0640), so a restart continues the day's file. A reopen request
 * (SIGHUP, for logrotate) is honoured before the next session is written:
 * everything before it is in the old file, everything after in the new
 * one, nothing twice and nothing lost.
 */
#include "output.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "timeval.h"

volatile sig_atomic_t logdir_reopen;

struct logdir_sink {
    struct sink base;
    char *dir;
    int dirfd;                /* the directory, also once chrooted into it */
    struct output_options opt;
    char day[9];              /* YYYYMMDD of the open files, "" if none */
    FILE *f[2];               /* text, JSON */
    struct sink *inner[2];
    bool failed;              /* the last open failed (said once) */
};

static void close_files(struct logdir_sink *d)
{
    for (int i = 0; i < 2; i++) {
        if (d->inner[i]) {
            d->inner[i]->finish(d->inner[i]);
            d->inner[i]->destroy(d->inner[i]);
            d->inner[i] = NULL;
        }
        if (d->f[i] && fclose(d->f[i]) != 0)
            fprintf(stderr, "smtpscope: --log-dir %s: closing: %s\n", d->dir,
                    strerror(errno));
        d->f[i] = NULL;
    }
    d->day[0] = '\0';
}

static FILE *open_append(int dirfd, const char *name)
{
    int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW,
                    0640);
    if (fd < 0)
        return NULL;
    FILE *f = fdopen(fd, "a");
    if (!f)
        close(fd);
    return f;
}

static bool open_files(struct logdir_sink *d, const char *day)
{
    static const char *const ext[2] = {"log", "jsonl"};
    for (int i = 0; i < 2; i++) {
        char name[32];
        snprintf(name, sizeof name, "smtp-%s.%s", day, ext[i]);
        d->f[i] = open_append(d->dirfd, name);
        if (!d->f[i]) {
            if (!d->failed)
                fprintf(stderr, "smtpscope: --log-dir %s: %s: %s (sessions are "
                                "lost until it can be written)\n", d->dir, name,
                        strerror(errno));
            d->failed = true;
            close_files(d);
            return false;
        }
        struct output_options o = d->opt;
        o.color = false;
        d->inner[i] = i == 0 ? sink_text_new(d->f[i], &o) : sink_json_new(d->f[i], &o);
        if (!d->inner[i]) {
            close_files(d);
            return false;
        }
    }
    d->failed = false;
    memcpy(d->day, day, sizeof d->day);
    return true;
}

/* The files of the day `t` falls in, opened (or reopened after SIGHUP). */
static bool files_for(struct logdir_sink *d, smtp_time t)
{
    char clock[13], date[11], day[9];
    time_clock(t, d->opt.localtime, clock, date);
    memcpy(day, date, 4);
    memcpy(day + 4, date + 5, 2);
    memcpy(day + 6, date + 8, 2);
    day[8] = '\0';
    if (logdir_reopen) {
        logdir_reopen = 0;
        close_files(d);
    }
    if (strcmp(day, d->day) != 0) {
        close_files(d);
        if (!open_files(d, day))
            return false;
    }
    return true;
}

static void logdir_dns(struct sink *base, const struct dns_lookup *l)
{
    struct logdir_sink *d = (struct logdir_sink *)base;
    if (!files_for(d, l->t_query))
        return;
    for (int i = 0; i < 2; i++) {
        d->inner[i]->dns(d->inner[i], l);
        fflush(d->f[i]);
    }
}

static void logdir_session(struct sink *base, const struct session *s)
{
    struct logdir_sink *d = (struct logdir_sink *)base;
    if (!files_for(d, s->start))
        return;
    for (int i = 0; i < 2; i++)
        d->inner[i]->session(d->inner[i], s);
    /* a gateway's log is read while it grows: each session goes out whole */
    for (int i = 0; i < 2; i++)
        fflush(d->f[i]);
}

static void logdir_finish(struct sink *base)
{
    struct logdir_sink *d = (struct logdir_sink *)base;
    for (int i = 0; i < 2; i++)
        if (d->f[i])
            fflush(d->f[i]);
}

static void logdir_destroy(struct sink *base)
{
    struct logdir_sink *d = (struct logdir_sink *)base;
    close_files(d);
    close(d->dirfd);
    free(d->dir);
    free(d);
}

struct sink *sink_logdir_new(const char *dir, const struct output_options *o)
{
    struct logdir_sink *d = calloc(1, sizeof *d);
    if (!d || !(d->dir = strdup(dir))) {
        free(d);
        return NULL;
    }
    d->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d->dirfd < 0) {
        fprintf(stderr, "smtpscope: --log-dir %s: %s\n", dir, strerror(errno));
        free(d->dir);
        free(d);
        return NULL;
    }
    d->opt = *o;
    d->base.session = logdir_session;
    d->base.dns = logdir_dns;
    d->base.finish = logdir_finish;
    d->base.destroy = logdir_destroy;
    return &d->base;
}
