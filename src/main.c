/* main.c - smtpscope's wiring: options in, files opened, one engine (or
 * --workers N of them) run, exit status out. The options themselves are
 * a table in cli.c.
 *
 * Exit status: 0 success; 1 usage error; 2 no input could be read (every
 * file failed to open, or the interface could not be opened); 3 out of
 * memory. A capture that is cut or corrupt part-way still exits 0 after
 * writing every session it held, with the problem reported on stderr.
 */
#include <errno.h>
#include <nids.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture.h"
#include "cli.h"
#include "compare.h"
#include "digest.h"
#include "engine.h"
#include "output.h"
#include "prepare.h"
#include "reassembly.h"
#include "workers.h"
#include "fanout.h"
#include "ring.h"

static void on_signal(int sig)
{
    if (sig == SIGHUP)
        logdir_reopen = 1; /* files are reopened before the next session */
    else
        capture_stop = 1;
}

static void print_stats(FILE *f, const char *who, const struct engine *e,
                        const struct capture_result *r)
{
    const struct engine_stats *s = &e->stats;
    const struct reasm_stats *rs = reasm_get_stats();
    fprintf(f,
            "%s%llu frames, %llu SMTP packets, %llu connections, "
            "%llu sessions written (%llu OK, %llu partial, %llu failed, %llu incomplete, "
            "%llu encrypted, %llu not SMTP); %llu picked up mid-stream\n", who,
            (unsigned long long)s->frames, (unsigned long long)s->smtp_packets,
            (unsigned long long)s->connections, (unsigned long long)s->sessions,
            (unsigned long long)s->by_verdict[VERDICT_OK],
            (unsigned long long)s->by_verdict[VERDICT_PARTIAL],
            (unsigned long long)s->by_verdict[VERDICT_FAILED],
            (unsigned long long)s->by_verdict[VERDICT_INCOMPLETE],
            (unsigned long long)s->by_verdict[VERDICT_ENCRYPTED],
            (unsigned long long)s->by_verdict[VERDICT_NOT_SMTP],
            (unsigned long long)s->midstream);
    if (select_any(&e->cfg.select))
        fprintf(f, "%s%llu sessions selected by --only/--phase\n", who,
                (unsigned long long)s->selected);
    fprintf(f,
            "%sdecode: %llu truncated, %llu bad header, %llu not IP, "
            "%llu fragments; %llu segments cut by snap length\n", who,
            (unsigned long long)s->decode[DECODE_TRUNCATED],
            (unsigned long long)s->decode[DECODE_BAD_HEADER],
            (unsigned long long)s->decode[DECODE_NOT_IP],
            (unsigned long long)s->fragments, (unsigned long long)s->payload_cut);
    if (s->dns_lookups)
        fprintf(f, "%s%llu DNS lookups on port 53\n", who,
                (unsigned long long)s->dns_lookups);
    if (rs->alias_reaped)
        fprintf(f, "%s%llu IPv6 handshakes never completed: their aliases "
                "taken back\n", who, (unsigned long long)rs->alias_reaped);
    if (s->dns_streams_refused)
        fprintf(f, "%s%llu DNS-over-TCP connections not followed "
                "(%d were open)\n", who, (unsigned long long)s->dns_streams_refused,
                DNS_STREAMS_MAX);
    for (int i = 1; i < 16; i++)
        if (rs->warnings[i])
            fprintf(f, "%slibnids: %llu x %s\n", who,
                    (unsigned long long)rs->warnings[i], reasm_warning_name(i));
    if (r->kernel_received || r->kernel_dropped)
        fprintf(f, "%skernel: %llu received, %llu dropped, "
                        "%llu dropped by interface\n", who,
                (unsigned long long)r->kernel_received,
                (unsigned long long)r->kernel_dropped,
                (unsigned long long)r->iface_dropped);
}

/* No session at all: perhaps the SMTP is on a port nobody named. */
static void hint_ports(const struct engine *e)
{
    char seen[128], ports[8 * ENGINE_MAX_PORTS];
    if (e->stats.sessions || e->cfg.any_port || !engine_smtp_hint(e, seen, sizeof seen))
        return;
    size_t o = 0;
    for (int i = 0; i < e->cfg.nports && o < sizeof ports; i++)
        o += (size_t)snprintf(ports + o, sizeof ports - o, "%s%u", i ? "," : "",
                              e->cfg.ports[i]);
    fprintf(stderr, "smtpscope: no sessions on ports %s; SMTP seen on %s: try -p %s\n",
            ports, seen, seen);
}

static void warn_losses(const struct engine *e, const struct capture_result *r)
{
    const struct engine_stats *s = &e->stats;
    const struct reasm_stats *rs0 = reasm_get_stats();
    if (rs0->alias_full)
        fprintf(stderr, "smtpscope: warning: %llu IPv6 SMTP segments not "
                        "reconstructed: IPv6 connection table full (raise "
                        "--max-streams)\n",
                (unsigned long long)rs0->alias_full);
    if (rs0->alias_range_dropped)
        fprintf(stderr, "smtpscope: warning: %llu SMTP segments from or to "
                        "0.0.0.0/8 not reconstructed (not valid on a wire; "
                        "the range stands for IPv6 connections inside)\n",
                (unsigned long long)rs0->alias_range_dropped);
    if (s->conntrack_full)
        fprintf(stderr, "smtpscope: warning: %llu connections not tracked: "
                        "connection table full (raise --max-streams)\n",
                (unsigned long long)s->conntrack_full);
    if (s->syn_evicted)
        fprintf(stderr, "smtpscope: warning: %llu unanswered connection attempts "
                        "evicted from a full connection table for newer ones (a SYN "
                        "flood?), reported as incomplete (raise --max-streams)\n",
                (unsigned long long)s->syn_evicted);
    const struct reasm_stats *rs = reasm_get_stats();
    if (rs->evicted)
        fprintf(stderr, "smtpscope: warning: %llu sessions evicted from a full "
                        "stream table (raise --max-streams)\n",
                (unsigned long long)rs->evicted);
    if (s->payload_cut)
        fprintf(stderr, "smtpscope: warning: %llu SMTP segments cut short by the "
                        "snap length: packets were captured %u bytes long at "
                        "most; what they lacked is shown as gaps (capture "
                        "with -s 0)\n",
                (unsigned long long)s->payload_cut, s->snaplen);
    if (r->kernel_dropped)
        fprintf(stderr, "smtpscope: warning: the kernel dropped %llu packets: "
                        "sessions may be incomplete\n",
                (unsigned long long)r->kernel_dropped);
}

/* ---- the capture's view of the engine --------------------------------------- */

static bool on_frame(void *ctx, int dlt, smtp_time ts, const uint8_t *data, size_t len)
{
    struct engine *e = ctx;
    engine_packet(e, dlt, ts, data, len);
    return !e->stop;
}

/* A --workers reader's frame number: the engine counts on from it. */
static void on_number(void *ctx, uint64_t n)
{
    struct engine *e = ctx;
    e->stats.frames = n - 1;
}

static bool on_idle(void *ctx, smtp_time now, unsigned dropped)
{
    struct engine *e = ctx;
    if (now >= 0) /* live: time passes without packets too */
        engine_tick(e, now);
    engine_poll_sinks(e);
    if (dropped)
        engine_note_drops(e, dropped);
    return !e->stop;
}

static void on_stats(void *ctx, struct capture_counts *c)
{
    const struct engine *e = ctx;
    c->sessions = e->stats.sessions;
    c->failed = e->stats.by_verdict[VERDICT_FAILED];
}

/* ---- the sinks of a run ------------------------------------------------------ */

struct run {
    struct options *o;
    struct engine *e;
    FILE *out;
    int frame_fd;   /* >= 0: a worker; each record goes to the parent */
    bool digest;    /* a --compare side: each session's digest goes to frame_fd */
    struct frame_ring *ring; /* a worker on files: the reader's frames */
    FILE *html_f;   /* --html's file, closed after its sink */
    struct sink *top;
};

/* Makes one sink of the run: 0 with *s set (NULL: not in this run), or
 * the exit status with the message said. */
typedef int (*sink_maker)(struct run *r, struct sink **s);

static const char *input_name(const struct options *o)
{
    return o->iface ? o->iface : o->files[0];
}

/* The log: text, JSON, daily files or a worker's frames. With --top the
 * screen is the console's: logs go only where -o or --log-dir send them. */
static int make_log(struct run *r, struct sink **s)
{
    const struct options *o = r->o;
    if (o->top && !o->outfile && !o->log_dir && r->frame_fd < 0)
        return 0;
    *s = r->digest        ? digest_sink_new(r->frame_fd)
         : r->frame_fd >= 0 ? frame_sink_new(r->frame_fd, o->json, r->ring != NULL, &o->out)
         : o->log_dir     ? sink_logdir_new(o->log_dir, &o->out)
         : o->json        ? sink_json_new(r->out, &o->out)
         : o->tsv         ? sink_tsv_new(r->out, o->tsv)
                          : sink_text_new(r->out, &o->out);
    return *s ? 0 : 3;
}

static int make_top(struct run *r, struct sink **s)
{
    if (!r->o->top)
        return 0;
    *s = r->top = sink_top_new(input_name(r->o), &r->e->stats.sessions_open,
                               &capture_stop, &r->e->counters);
    if (*s)
        return 0;
    fprintf(stderr, "smtpscope: --top needs a terminal (/dev/tty)\n");
    return 2;
}

/* The summary follows the sessions; on a terminal an offline run gets it
 * without asking. */
static int make_summary(struct run *r, struct sink **s)
{
    const struct options *o = r->o;
    if (r->frame_fd >= 0 || o->top ||
        !(o->summary || (!o->iface && !o->json && !o->tsv && isatty(fileno(r->out)))))
        return 0;
    *s = sink_summary_new(r->out, o->json, &r->e->counters);
    return *s ? 0 : 3;
}

static int make_messages(struct run *r, struct sink **s)
{
    if (!r->o->messages || r->frame_fd >= 0)
        return 0;
    *s = sink_messages_new(r->out, r->o->json);
    return *s ? 0 : 3;
}

static int make_html(struct run *r, struct sink **s)
{
    const struct options *o = r->o;
    if (!o->html || r->frame_fd >= 0)
        return 0;
    if (!(r->html_f = fopen(o->html, "w"))) {
        fprintf(stderr, "smtpscope: --html %s: %s\n", o->html, strerror(errno));
        return 2;
    }
    /* the report's header names every input, not just the first */
    static char inputs[2048];
    size_t len = 0;
    for (int i = 0; !o->iface && i < o->nfiles && len < sizeof inputs; i++)
        len += (size_t)snprintf(inputs + len, sizeof inputs - len, "%s%s",
                                i ? ", " : "", o->files[i]);
    *s = sink_html_new(r->html_f, o->iface ? o->iface : inputs, SMTPSCOPE_VERSION, &o->out);
    return *s ? 0 : 3;
}

/* -w: files are read again at the end; a stream's packets are kept by
 * the engine per connection until its session is written. */
static int make_pcap(struct run *r, struct sink **s)
{
    struct options *o = r->o;
    if (!o->pcap_out || r->frame_fd >= 0)
        return 0;
    bool stream = o->iface != NULL;
    for (int i = 0; i < o->nfiles; i++)
        stream = stream || strcmp(o->files[i], "-") == 0;
    o->engine.keep_packets = stream;
    *s = sink_pcap_new(o->pcap_out, stream ? NULL : o->files, o->nfiles, o->filter,
                       o->quiet);
    return *s ? 0 : 2;
}

/* Live (or -l): each finished session, and each DNS record, leaves the
 * output buffer at once, so a log or a pipe to jq sees it then and a crash
 * loses only the sessions still open. Files read stay fully buffered. */
struct flush_sink {
    struct sink base;
    FILE *out;
};

static void flush_session(struct sink *s, const struct session *sess)
{
    (void)sess;
    fflush(((struct flush_sink *)s)->out);
}

static void flush_dns(struct sink *s, const struct dns_lookup *l)
{
    (void)l;
    fflush(((struct flush_sink *)s)->out);
}

static void flush_nothing(struct sink *s)
{
    (void)s;
}

static void flush_destroy(struct sink *s)
{
    free(s);
}

static int make_flush(struct run *r, struct sink **s)
{
    if (!(r->o->iface || r->o->line_buffered) || !r->out || r->frame_fd >= 0)
        return 0;
    struct flush_sink *f = calloc(1, sizeof *f);
    if (!f)
        return 3;
    f->base = (struct sink){.session = flush_session, .finish = flush_nothing,
                            .destroy = flush_destroy, .dns = flush_dns};
    f->out = r->out;
    *s = &f->base;
    return 0;
}

/* In the order the engine hands them each session. */
static const sink_maker sink_makers[] = {
    make_log, make_flush, make_top, make_summary, make_messages, make_html,
    make_pcap,
};
#define NSINK_MAKERS (sizeof sink_makers / sizeof sink_makers[0])

/* ---- one run ------------------------------------------------------------------- */

/* Reads the whole input into the engine and ends it. */
static int read_input(struct run *r, struct capture_result *res)
{
    const struct options *o = r->o;
    const struct capture_hooks hooks = {.ctx = r->e, .on_frame = on_frame, .on_idle = on_idle,
                                        .stats = on_stats,
                                        .number = r->ring ? on_number : NULL};
    /* Input problems are the same for every worker: the first one says. */
    bool quiet = o->quiet || (r->frame_fd >= 0 && o->engine.shard != 0);
    int status = 0;
    if (r->ring) {
        ring_drain(r->ring, &hooks, res);
        if (res->files_ok == 0 && res->packets == 0)
            status = 2;
    } else if (o->iface) {
        struct capture_live_config live = {
            .iface = o->iface, .filter = o->filter,
            .ports = o->engine.ports, /* -p any: all of TCP */
            .nports = o->engine.any_port ? 0 : o->engine.nports,
            .shard = o->engine.shard, .nshards = o->engine.nshards,
            .drop_user = o->drop_user ? o->drop_user : "nobody",
            .jail = o->log_dir, .log_dir = o->log_dir, .quiet = quiet,
            .snaplen = (int)o->snaplen, .buffer_kib = (int)o->buffer_kib,
        };
        if (o->duration)
            alarm((unsigned)o->duration);
        if (capture_live(&live, &hooks, res) < 0)
            status = 2;
    } else {
        capture_files(o->files, o->nfiles, o->filter, &hooks, quiet || o->top,
                      o->realtime, res);
        if (res->files_ok == 0 && res->packets == 0)
            status = 2;
    }
    engine_finish(r->e);
    if (r->top) /* the final numbers stay up until q */
        top_wait(r->top);
    return status;
}

/* After the run, on stderr: what was lost, and with --stats the counters
 * (a worker's block in one write, its lines named). */
static void report(const struct options *o, const struct engine *e,
                   const struct capture_result *res, int frame_fd)
{
    if (!o->quiet) {
        warn_losses(e, res);
        hint_ports(e);
    }
    if (!o->quiet && res->listened && frame_fd < 0) /* tcpdump's last lines */
        fprintf(stderr, "smtpscope: %llu packets captured, %llu sessions written, "
                        "%llu packets dropped by kernel\n",
                (unsigned long long)res->packets, (unsigned long long)e->stats.sessions,
                (unsigned long long)res->kernel_dropped);
    if (!o->stats)
        return;
    if (frame_fd < 0) {
        print_stats(stderr, "smtpscope: ", e, res);
        return;
    }
    char who[48], *buf = NULL;
    size_t len = 0;
    snprintf(who, sizeof who, "smtpscope: worker %u of %u: ", o->engine.shard + 1,
             o->engine.nshards);
    FILE *m = open_memstream(&buf, &len);
    if (m) {
        print_stats(m, who, e, res);
        if (fclose(m) == 0)
            fwrite(buf, 1, len, stderr);
    }
    free(buf);
}

/* One engine over the whole input: the normal run, or one worker's shard
 * (frame_fd >= 0: each session's record goes to the parent as a frame).
 * The sinks are made first, then the engine; whatever fails, everything
 * made is undone on the one way out. */
static int run_engine(struct options *o, FILE *out, int frame_fd, bool digest,
                      struct frame_ring *ring)
{
    struct engine e;
    struct run r = {.o = o, .e = &e, .out = out, .frame_fd = frame_fd, .digest = digest,
                    .ring = ring};
    struct sink *sinks[NSINK_MAKERS] = {NULL};
    int status = 0;
    for (size_t i = 0; i < NSINK_MAKERS && !status; i++)
        status = sink_makers[i](&r, &sinks[i]);
    char err[256];
    if (!status && engine_init(&e, &o->engine, err, sizeof err) < 0) {
        fprintf(stderr, "smtpscope: %s\n", err);
        status = 3;
    }
    for (size_t i = 0; i < NSINK_MAKERS && !status; i++)
        if (sinks[i] && engine_add_sink(&e, sinks[i]) < 0)
            status = 3;
    struct capture_result res;
    memset(&res, 0, sizeof res);
    bool ran = !status;
    if (ran)
        status = read_input(&r, &res);
    for (size_t i = 0; i < NSINK_MAKERS; i++) /* the console gives the screen back */
        if (sinks[i])
            sinks[i]->destroy(sinks[i]);
    if (r.html_f && fclose(r.html_f) != 0) {
        fprintf(stderr, "smtpscope: --html %s: %s\n", o->html, strerror(errno));
        status = status ? status : 2;
    }
    if (ran)
        report(o, &e, &res, frame_fd);
    return status;
}

static int run_worker(void *ctx, int k, int n, int fd, struct frame_ring *in)
{
    struct options *o = ctx;
    o->engine.shard = (uint32_t)k;
    o->engine.nshards = (uint32_t)n;
    return run_engine(o, NULL, fd, false, in);
}

/* --workers on files: the one process that reads them. */
static int run_reader(void *ctx, struct frame_ring *const *rings, int n)
{
    const struct options *o = ctx;
    const struct fanout_input in = {.files = o->files, .nfiles = o->nfiles,
                                    .filter = o->filter, .quiet = o->quiet,
                                    .realtime = o->realtime};
    return fanout_read(rings, n, &in);
}

/* --compare: side k's inputs (a side named "a.pcap,b.pcap" is two files),
 * its sessions' digests to fd; in the side's own process. */
static int run_side(void *ctx, int k, int fd)
{
    struct options *o = ctx;
    o->engine.session.extract_headers = true; /* the Message-ID pairs proxied sessions */
    if (o->iface) {
        o->iface = k ? o->iface2 : o->iface;
        return run_engine(o, NULL, fd, true, NULL);
    }
    char *names = strdup(o->files[k]);
    const char **files = calloc(strlen(o->files[k]) / 2 + 2, sizeof *files);
    if (!names || !files) {
        free(names);
        free(files);
        return 3;
    }
    int n = 0;
    for (char *save = NULL, *t = strtok_r(names, ",", &save); t; t = strtok_r(NULL, ",", &save))
        files[n++] = t;
    const char **given = o->files; /* cli_free frees it */
    o->files = files;
    o->nfiles = n;
    int status = n ? run_engine(o, NULL, fd, true, NULL) : 2;
    o->files = given;
    free(files);
    free(names);
    return status;
}

/* --compare; with --html, the page is opened before the sides start (a
 * name that cannot be written stops the run before any capture). */
static int run_compare(struct options *o, FILE *out)
{
    struct compare_config cfg = {
        .json = o->json, .localtime = o->out.localtime,
        .summary = o->summary || (!o->json && isatty(fileno(out))),
        .slow_ms = o->engine.session.slow_ms,
        .sides = {o->iface ? o->iface : o->files[0], o->iface ? o->iface2 : o->files[1]},
        .version = SMTPSCOPE_VERSION,
    };
    if (o->html && !(cfg.html = fopen(o->html, "w"))) {
        fprintf(stderr, "smtpscope: --html %s: %s\n", o->html, strerror(errno));
        return 2;
    }
    int status = compare_run(run_side, o, out, &cfg);
    if (cfg.html && fclose(cfg.html) != 0) {
        fprintf(stderr, "smtpscope: --html %s: %s\n", o->html, strerror(errno));
        status = status ? status : 2;
    }
    return status;
}

static void catch_signals(const struct options *o)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART; /* a signal must not cut a read from a file or pipe */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (o->log_dir)
        sigaction(SIGHUP, &sa, NULL);
    if (o->duration)
        sigaction(SIGALRM, &sa, NULL);
}

/* --help, --version, --bash-completion, -D: 0 or the exit status. */
static int print_action(enum cli_action a)
{
    if (a == CLI_HELP)
        cli_help(stdout);
    else if (a == CLI_COMPLETION)
        cli_bash_completion(stdout);
    else if (a == CLI_LIST_IFACES)
        return capture_list_interfaces(stdout);
    else
        printf("smtpscope %s\n%s\nlibnids %d.%d\n", SMTPSCOPE_VERSION,
               pcap_lib_version(), NIDS_MAJOR, NIDS_MINOR);
    return 0;
}

int main(int argc, char **argv)
{
    static struct options o; /* the lists in it are large */
    cli_defaults(&o);
    FILE *out = stdout;
    int status = cli_parse(argc, argv, &o);
    if (!status && o.action != CLI_RUN)
        status = print_action(o.action);
    if (!status && o.action == CLI_RUN)
        status = prepare(&o, &out);
    if (status || o.action != CLI_RUN) {
        cli_free(&o);
        return status;
    }
    static char outbuf[1 << 20];
    setvbuf(out, outbuf, _IOFBF, sizeof outbuf);
    catch_signals(&o);
    status = o.compare       ? run_compare(&o, out)
             : o.workers > 1 ? workers_run(o.workers, run_worker, o.iface ? NULL : run_reader, &o, out)
                             : run_engine(&o, out, -1, false, NULL);
    if (fflush(out) != 0 || (out != stdout && fclose(out) != 0)) {
        fprintf(stderr, "smtpscope: writing output: %s\n", strerror(errno));
        status = status ? status : 2;
    }
    cli_free(&o);
    return status;
}
