/* main.c - smtpscope's command line: options, wiring, exit status.
 *
 * Exit status: 0 success; 1 usage error; 2 no input could be read (every
 * file failed to open, or the interface could not be opened); 3 out of
 * memory. A capture that is cut or corrupt part-way still exits 0 after
 * writing every session it held, with the problem reported on stderr.
 */
#include <errno.h>
#include <getopt.h>
#include <nids.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture.h"
#include "engine.h"
#include "output.h"
#include "reassembly.h"
#include "workers.h"

#define SMTPSCOPE_VERSION "0.1.0"

struct options {
    const char **files;
    int nfiles;
    const char *iface;
    const char *outfile;
    const char *log_dir;   /* --log-dir: daily files instead of -o/stdout */
    const char *html;      /* --html FILE: a report of the run */
    bool top;              /* --top: the live console */
    bool messages;         /* --messages: trails across hops */
    struct netlist local;  /* --local-net */
    struct domainlist domains; /* --local-domains */
    bool realtime;         /* --realtime: replay files at capture pace */
    const char *drop_user; /* -Z, live capture as root */
    long duration;         /* -G: stop live capture after this many seconds */
    const char *color;     /* auto, always, never */
    char *filter; /* trailing BPF expression for live capture */
    bool json, quiet, stats, summary;
    int workers;           /* --workers N: N processes, merged output */
    struct output_options out;
    struct engine_config engine;
};

static void usage(FILE *f)
{
    fputs(
"Usage: smtpscope [options] -r FILE [-r FILE...]\n"
"       smtpscope [options] -i IFACE [BPF expression]\n"
"Reconstruct SMTP sessions from captured traffic and say where each failed.\n"
"\n"
"Input:\n"
"  -r, --read FILE        read a pcap or pcapng file ('-' for stdin); repeat\n"
"                         for rotated files: they are read as one capture\n"
"  -i, --interface IFACE  capture live on IFACE (needs CAP_NET_RAW)\n"
"  -p, --ports LIST       SMTP server ports, comma-separated (default 25,465,587,2525)\n"
"  -c, --count N          stop after writing N sessions\n"
"  -G, --duration S       live: stop after S seconds\n"
"  -Z, --user USER        live as root: become USER once the device is open\n"
"                         (default nobody)\n"
"  -n                     accepted for tcpdump habits (names are never resolved)\n"
"\n"
"Output:\n"
"  -j, --json             JSON Lines, one object per session (default: text log)\n"
"  -o, --output FILE      write to FILE instead of standard output\n"
"      --localtime        text log clock in local time (default UTC)\n"
"      --show-secrets     print AUTH credentials instead of *** (dangerous)\n"
"      --follow           text: write each line as it happens (live tail);\n"
"                         the verdict follows when the session ends\n"
"      --summary          after the sessions: counts by outcome, failure phase\n"
"                         and reply code, top failing hosts, reply latency\n"
"                         percentiles, findings (default on a terminal)\n"
"      --headers          extract Message-ID, Subject, From, To, Date of each\n"
"                         message (never the body)\n"
"      --stats            print packet and session counters on stderr at exit\n"
"  -v, --verbose LEVEL    1: one line per session (the *** verdict); 2: every\n"
"                         command and reply (default); 3: also message headers\n"
"      --color WHEN       auto (default: on a terminal), always or never;\n"
"                         NO_COLOR in the environment means never\n"
"      --html FILE        also write a self-contained HTML report: summary,\n"
"                         timeline, session table, ladder diagrams\n"
"      --local-net LIST   our networks (CIDR, comma-separated, repeatable): each\n"
"                         session is incoming, outgoing, internal or transit;\n"
"                         outgoing ones are logged as our host's client log\n"
"      --local-domains L  our mail domains (comma-separated): audit each session\n"
"                         for open-relay, auth-cleartext, banner-disclosure\n"
"      --save-messages DIR  write each message (unstuffed DATA, joined BDAT) to\n"
"                         DIR/<id>-<n>.eml, mode 0600, never overwriting\n"
"      --save-max BYTES   at most this much of each saved message (10 MiB)\n"
"      --messages         after the sessions: one trail per message across the\n"
"                         capture's hops (by Message-ID or envelope); flags\n"
"                         stuck and bounce-risk\n"
"      --top              full-screen live console (sessions per minute, open\n"
"                         sessions, outcomes, codes, latency, last failures);\n"
"                         keys: p pause, v view, q quit\n"
"      --realtime         with -r: replay at the pace of the capture\n"
"      --log-dir DIR      text log and JSON in DIR/smtp-YYYYMMDD.log and .jsonl,\n"
"                         a file a day (UTC, or --localtime); SIGHUP reopens\n"
"      --workers N        split the connections over N processes (symmetric\n"
"                         address-pair hash), one merged output\n"
"      --shard K/N        only connections whose address-pair hash falls in\n"
"                         shard K of N (run N copies in parallel, concatenate)\n"
"  -q, --quiet            no warnings and no progress line on stderr\n"
"\n"
"Limits:\n"
"      --max-streams N    TCP streams reassembled at once (default 65536)\n"
"      --idle-timeout S   end a session after S seconds of silence (default 600)\n"
"      --max-transcript B transcript bytes kept per session (default 1048576)\n"
"      --slow MS          replies slower than MS are findings (default 10000)\n"
"      --idle-gap MS      client silences longer than MS are findings (default 60000)\n"
"      --slow-dns MS      DNS answers slower than MS are findings (default 1000)\n"
"\n"
"  -h, --help             this help\n"
"  -V, --version          version of smtpscope, libpcap and libnids\n"
"\n"
"Examples:\n"
"  smtpscope -r gateway.pcap\n"
"  smtpscope --json -r day1.pcap -r day2.pcap > sessions.jsonl\n"
"  smtpscope -i eth0 'host 192.0.2.25'\n", f);
}

static int parse_ports(const char *s, struct engine_config *cfg)
{
    cfg->nports = 0;
    while (*s) {
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (end == s || errno || v < 1 || v > 65535 ||
            cfg->nports == ENGINE_MAX_PORTS || (*end && *end != ','))
            return -1;
        cfg->ports[cfg->nports++] = (uint16_t)v;
        s = *end ? end + 1 : end;
    }
    return cfg->nports ? 0 : -1;
}

static int parse_num(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* A numeric option: parsed, range-checked, or a message naming it. */
static bool num_opt(const char *opt, const char *arg, long min, long max,
                    const char *expected, long *out)
{
    if (parse_num(arg, min, max, out) == 0)
        return true;
    fprintf(stderr, "smtpscope: %s: expected %s, got '%s'\n", opt, expected, arg);
    return false;
}

enum { OPT_LOCALTIME = 256, OPT_SHOW_SECRETS, OPT_HEADERS, OPT_SUMMARY, OPT_STATS, OPT_WORKERS, OPT_LOG_DIR, OPT_HTML, OPT_TOP, OPT_REALTIME, OPT_LOCAL_NET, OPT_LOCAL_DOMAINS, OPT_SAVE_MESSAGES, OPT_SAVE_MAX, OPT_MESSAGES, OPT_SLOW_DNS, OPT_MAX_STREAMS,
       OPT_IDLE_TIMEOUT, OPT_MAX_TRANSCRIPT, OPT_SLOW, OPT_IDLE_GAP, OPT_COLOR,
       OPT_SHARD, OPT_FOLLOW };

static int parse_args(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"read", required_argument, NULL, 'r'},
        {"interface", required_argument, NULL, 'i'},
        {"ports", required_argument, NULL, 'p'},
        {"json", no_argument, NULL, 'j'},
        {"output", required_argument, NULL, 'o'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {"localtime", no_argument, NULL, OPT_LOCALTIME},
        {"show-secrets", no_argument, NULL, OPT_SHOW_SECRETS},
        {"headers", no_argument, NULL, OPT_HEADERS},
        {"summary", no_argument, NULL, OPT_SUMMARY},
        {"stats", no_argument, NULL, OPT_STATS},
        {"max-streams", required_argument, NULL, OPT_MAX_STREAMS},
        {"workers", required_argument, NULL, OPT_WORKERS},
        {"log-dir", required_argument, NULL, OPT_LOG_DIR},
        {"html", required_argument, NULL, OPT_HTML},
        {"top", no_argument, NULL, OPT_TOP},
        {"realtime", no_argument, NULL, OPT_REALTIME},
        {"local-net", required_argument, NULL, OPT_LOCAL_NET},
        {"local-domains", required_argument, NULL, OPT_LOCAL_DOMAINS},
        {"save-messages", required_argument, NULL, OPT_SAVE_MESSAGES},
        {"save-max", required_argument, NULL, OPT_SAVE_MAX},
        {"messages", no_argument, NULL, OPT_MESSAGES},
        {"slow-dns", required_argument, NULL, OPT_SLOW_DNS},
        {"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
        {"max-transcript", required_argument, NULL, OPT_MAX_TRANSCRIPT},
        {"slow", required_argument, NULL, OPT_SLOW},
        {"idle-gap", required_argument, NULL, OPT_IDLE_GAP},
        {"count", required_argument, NULL, 'c'},
        {"duration", required_argument, NULL, 'G'},
        {"user", required_argument, NULL, 'Z'},
        {"verbose", required_argument, NULL, 'v'},
        {"color", required_argument, NULL, OPT_COLOR},
        {"shard", required_argument, NULL, OPT_SHARD},
        {"follow", no_argument, NULL, OPT_FOLLOW},
        {NULL, 0, NULL, 0},
    };
    o->files = calloc((size_t)argc + 1, sizeof *o->files);
    if (!o->files)
        return 3;
    int c;
    long v;
    while ((c = getopt_long(argc, argv, "r:i:p:jo:qhVc:G:Z:nv:", longopts, NULL)) != -1) {
        switch (c) {
        case 'r': o->files[o->nfiles++] = optarg; break;
        case 'i': o->iface = optarg; break;
        case 'p':
            if (parse_ports(optarg, &o->engine) < 0) {
                fprintf(stderr, "smtpscope: --ports: invalid list '%s'\n", optarg);
                return 1;
            }
            break;
        case 'j': o->json = true; break;
        case 'o': o->outfile = optarg; break;
        case 'q': o->quiet = true; break;
        case 'h': usage(stdout); exit(0);
        case 'V':
            printf("smtpscope %s\n%s\nlibnids %d.%d\n", SMTPSCOPE_VERSION,
                   pcap_lib_version(), NIDS_MAJOR, NIDS_MINOR);
            exit(0);
        case 'c':
            if (!num_opt("-c", optarg, 1, LONG_MAX, "a number of sessions", &v))
                return 1;
            o->engine.max_sessions = (uint64_t)v;
            break;
        case 'G':
            if (!num_opt("-G", optarg, 1, 86400 * 365, "seconds", &v))
                return 1;
            o->duration = v;
            break;
        case 'Z': o->drop_user = optarg; break;
        case 'v':
            if (!num_opt("-v", optarg, 1, 3, "1, 2 or 3", &v))
                return 1;
            o->out.verbosity = (int)v;
            if (v == 3)
                o->engine.session.extract_headers = true;
            break;
        case OPT_COLOR:
            if (strcmp(optarg, "auto") && strcmp(optarg, "always") && strcmp(optarg, "never")) {
                fprintf(stderr, "smtpscope: --color: expected auto, always or never, got '%s'\n", optarg);
                return 1;
            }
            o->color = optarg;
            break;
        case OPT_SHARD: {
            long k, n;
            char *slash = strchr(optarg, '/');
            if (!slash || (*slash = '\0', parse_num(optarg, 0, 1 << 20, &k) < 0) ||
                parse_num(slash + 1, 1, 1 << 20, &n) < 0 || k >= n) {
                fprintf(stderr, "smtpscope: --shard: expected K/N with 0 <= K < N\n");
                return 1;
            }
            o->engine.shard = (uint32_t)k;
            o->engine.nshards = (uint32_t)n;
            break;
        }
        case 'n': break; /* tcpdump habit: smtpscope never resolves names */
        case OPT_SLOW:
            if (!num_opt("--slow", optarg, 0, 86400000, "milliseconds", &v))
                return 1;
            o->engine.session.slow_ms = (int)v;
            break;
        case OPT_IDLE_GAP:
            if (!num_opt("--idle-gap", optarg, 0, 86400000, "milliseconds", &v))
                return 1;
            o->engine.session.idle_gap_ms = (int)v;
            break;
        case OPT_LOCALTIME: o->out.localtime = true; break;
        case OPT_SHOW_SECRETS: o->engine.session.show_secrets = true; break;
        case OPT_HEADERS: o->engine.session.extract_headers = true; break;
        case OPT_SUMMARY: o->summary = true; break;
        case OPT_FOLLOW:
            o->out.follow = true;
            o->engine.follow = true;
            break;
        case OPT_STATS: o->stats = true; break;
        case OPT_LOG_DIR: o->log_dir = optarg; break;
        case OPT_HTML: o->html = optarg; break;
        case OPT_TOP: o->top = true; break;
        case OPT_REALTIME: o->realtime = true; break;
        case OPT_LOCAL_NET: {
            char err[160];
            if (netlist_parse(&o->local, optarg, err, sizeof err) < 0) {
                fprintf(stderr, "smtpscope: --local-net: %s\n", err);
                return 1;
            }
            o->engine.session.local = &o->local;
            break;
        }
        case OPT_SLOW_DNS:
            if (!num_opt("--slow-dns", optarg, 0, 600000, "milliseconds", &v))
                return 1;
            o->out.slow_dns_ms = (int)v;
            break;
        case OPT_MESSAGES:
            o->messages = true;
            o->engine.session.extract_headers = true; /* Message-ID */
            break;
        case OPT_SAVE_MESSAGES: o->engine.session.save_dir = optarg; break;
        case OPT_SAVE_MAX:
            if (!num_opt("--save-max", optarg, 1, 1L << 40, "bytes", &v))
                return 1;
            o->engine.session.save_max = (uint64_t)v;
            break;
        case OPT_LOCAL_DOMAINS: {
            char err[160];
            if (domainlist_parse(&o->domains, optarg, err, sizeof err) < 0) {
                fprintf(stderr, "smtpscope: --local-domains: %s\n", err);
                return 1;
            }
            o->engine.session.local_domains = &o->domains;
            break;
        }
        case OPT_WORKERS:
            if (!num_opt("--workers", optarg, 1, WORKERS_MAX, "1..64", &v))
                return 1;
            o->workers = (int)v;
            break;
        case OPT_MAX_STREAMS:
            if (!num_opt("--max-streams", optarg, 16, 1 << 24, "16..16777216", &v))
                return 1;
            o->engine.max_streams = (int)v;
            break;
        case OPT_IDLE_TIMEOUT:
            if (!num_opt("--idle-timeout", optarg, 1, 86400 * 7, "seconds", &v))
                return 1;
            o->engine.idle_timeout = (int)v;
            break;
        case OPT_MAX_TRANSCRIPT:
            if (!num_opt("--max-transcript", optarg, 4096, 1L << 30, "4096..1073741824", &v))
                return 1;
            o->engine.session.max_transcript = (size_t)v;
            break;
        default:
            usage(stderr);
            return 1;
        }
    }
    if (optind < argc) {
        if (!o->iface) {
            fprintf(stderr, "smtpscope: unexpected argument '%s' (a BPF "
                            "expression applies to -i only)\n", argv[optind]);
            return 1;
        }
        size_t len = 0;
        for (int i = optind; i < argc; i++)
            len += strlen(argv[i]) + 1;
        o->filter = malloc(len + 1);
        if (!o->filter)
            return 3;
        o->filter[0] = '\0';
        for (int i = optind; i < argc; i++) {
            strcat(o->filter, argv[i]);
            if (i + 1 < argc)
                strcat(o->filter, " ");
        }
    }
    if (o->log_dir) {
        const char *clash = o->outfile     ? "-o"
                            : o->json      ? "--json (it writes both)"
                            : o->out.follow ? "--follow"
                            : o->workers > 1 ? "--workers" : NULL;
        if (clash) {
            fprintf(stderr, "smtpscope: --log-dir cannot be combined with %s\n", clash);
            return 1;
        }
        struct stat st;
        if (stat(o->log_dir, &st) != 0) {
            fprintf(stderr, "smtpscope: --log-dir %s: %s\n", o->log_dir, strerror(errno));
            return 2;
        }
        if (!S_ISDIR(st.st_mode)) {
            fprintf(stderr, "smtpscope: --log-dir %s: not a directory\n", o->log_dir);
            return 2;
        }
    }
    if (o->engine.session.save_dir) {
        /* Opened now: a live capture as root is confined afterwards. */
        int fd = open(o->engine.session.save_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
            fprintf(stderr, "smtpscope: --save-messages %s: %s\n",
                    o->engine.session.save_dir, strerror(errno));
            return 2;
        }
        o->engine.session.save_dirfd = fd;
        fprintf(stderr, "smtpscope: warning: --save-messages: message contents are "
                        "being written to %s (up to %llu bytes each)\n",
                o->engine.session.save_dir,
                (unsigned long long)o->engine.session.save_max);
    }
    if (o->workers > 1) {
        const char *clash = o->engine.nshards ? "--shard"
                            : o->out.follow   ? "--follow"
                            : o->summary      ? "--summary"
                            : o->html         ? "--html"
                            : o->top          ? "--top"
                            : o->messages     ? "--messages"
                            : o->engine.max_sessions ? "-c" : NULL;
        if (clash) {
            fprintf(stderr, "smtpscope: --workers cannot be combined with %s "
                            "(run without --workers for it)\n", clash);
            return 1;
        }
    }
    if (!o->nfiles == !o->iface) {
        fprintf(stderr, "smtpscope: give either -r FILE or -i IFACE (see --help)\n");
        return 1;
    }
    return 0;
}

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
            "%llu sessions written (%llu OK, %llu failed, %llu incomplete, "
            "%llu encrypted, %llu not SMTP); %llu picked up mid-stream\n", who,
            (unsigned long long)s->frames, (unsigned long long)s->smtp_packets,
            (unsigned long long)s->connections, (unsigned long long)s->sessions,
            (unsigned long long)s->by_verdict[VERDICT_OK],
            (unsigned long long)s->by_verdict[VERDICT_FAILED],
            (unsigned long long)s->by_verdict[VERDICT_INCOMPLETE],
            (unsigned long long)s->by_verdict[VERDICT_ENCRYPTED],
            (unsigned long long)s->by_verdict[VERDICT_NOT_SMTP],
            (unsigned long long)s->midstream);
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

/* One engine over the whole input: the normal run, or one worker's shard
 * (frame_fd >= 0: each session's record goes to the parent as a frame). */
static int run_engine(struct options *o, FILE *out, int frame_fd)
{
    struct engine e;
    char err[256];
    if (engine_init(&e, &o->engine, err, sizeof err) < 0) {
        fprintf(stderr, "smtpscope: %s\n", err);
        return 3;
    }
    /* With --top the screen is the console's: logs go only where -o or
     * --log-dir send them. */
    bool log_out = !o->top || o->outfile || o->log_dir || frame_fd >= 0;
    struct sink *sink = !log_out      ? NULL
                        : frame_fd >= 0 ? frame_sink_new(frame_fd, o->json, &o->out)
                        : o->log_dir  ? sink_logdir_new(o->log_dir, &o->out)
                        : o->json     ? sink_json_new(out, &o->out)
                                      : sink_text_new(out, &o->out);
    if (log_out && !sink)
        return 3;
    if (sink)
        engine_add_sink(&e, sink);
    struct sink *top = NULL;
    if (o->top) {
        top = sink_top_new(o->iface ? o->iface : o->files[0], &e.stats.sessions_open,
                           &capture_stop, &e.counters);
        if (!top) {
            fprintf(stderr, "smtpscope: --top needs a terminal (/dev/tty)\n");
            return 2;
        }
        engine_add_sink(&e, top);
    }
    /* The summary follows the sessions; on a terminal an offline run gets it
     * without asking. */
    bool want_summary = frame_fd < 0 && !o->top &&
        (o->summary || (!o->iface && !o->json && isatty(fileno(out))));
    struct sink *summary = want_summary ? sink_summary_new(out, o->json, &e.counters)
                                        : NULL;
    if (summary)
        engine_add_sink(&e, summary);
    struct sink *msgs = o->messages && frame_fd < 0 ? sink_messages_new(out, o->json) : NULL;
    if (o->messages && frame_fd < 0 && !msgs)
        return 3;
    if (msgs)
        engine_add_sink(&e, msgs);
    FILE *html_f = NULL;
    struct sink *html = NULL;
    if (o->html && frame_fd < 0) {
        if (!(html_f = fopen(o->html, "w"))) {
            fprintf(stderr, "smtpscope: --html %s: %s\n", o->html, strerror(errno));
            return 2;
        }
        html = sink_html_new(html_f, o->iface ? o->iface : o->files[0],
                             SMTPSCOPE_VERSION, &o->out);
        if (!html)
            return 3;
        engine_add_sink(&e, html);
    }

    struct capture_result res;
    memset(&res, 0, sizeof res);
    int status = 0;
    /* Input problems are the same for every worker: the first one says. */
    bool quiet_input = o->quiet || (frame_fd >= 0 && o->engine.shard != 0);
    if (o->iface) {
        if (o->duration)
            alarm((unsigned)o->duration);
        const char *user = o->drop_user ? o->drop_user : "nobody";
        if (capture_live(o->iface, o->filter, user, o->log_dir, &e, quiet_input,
                         &res) < 0)
            status = 2;
    } else {
        capture_files(o->files, o->nfiles, &e, quiet_input || o->top, o->realtime, &res);
        if (res.files_ok == 0 && res.packets == 0)
            status = 2;
    }
    engine_finish(&e);
    if (top) { /* the final numbers stay up until q; then the screen is back */
        top_wait(top);
        top->destroy(top);
    }
    if (!o->quiet)
        warn_losses(&e, &res);
    if (o->stats && frame_fd < 0) {
        print_stats(stderr, "smtpscope: ", &e, &res);
    } else if (o->stats) { /* a worker's block in one write, lines named */
        char who[48], *buf = NULL;
        size_t len = 0;
        snprintf(who, sizeof who, "smtpscope: worker %u of %u: ",
                 o->engine.shard + 1, o->engine.nshards);
        FILE *m = open_memstream(&buf, &len);
        if (m) {
            print_stats(m, who, &e, &res);
            if (fclose(m) == 0)
                fwrite(buf, 1, len, stderr);
        }
        free(buf);
    }
    if (sink)
        sink->destroy(sink);
    if (summary)
        summary->destroy(summary);
    if (msgs)
        msgs->destroy(msgs);
    if (html) {
        html->destroy(html);
        if (fclose(html_f) != 0) {
            fprintf(stderr, "smtpscope: --html %s: %s\n", o->html, strerror(errno));
            status = status ? status : 2;
        }
    }
    return status;
}

static int run_worker(void *ctx, int k, int n, int fd)
{
    struct options *o = ctx;
    o->engine.shard = (uint32_t)k;
    o->engine.nshards = (uint32_t)n;
    return run_engine(o, NULL, fd);
}

int main(int argc, char **argv)
{
    struct options o;
    memset(&o, 0, sizeof o);
    engine_config_defaults(&o.engine);
    o.out.verbosity = 2;
    o.out.slow_dns_ms = 1000;
    int rc = parse_args(argc, argv, &o);
    if (rc) {
        free(o.files);
        free(o.filter);
        return rc;
    }

    FILE *out = stdout;
    if (o.outfile && !(out = fopen(o.outfile, "w"))) {
        fprintf(stderr, "smtpscope: %s: %s\n", o.outfile, strerror(errno));
        return 2;
    }
    /* Colour only where a person reads it; never into files or pipes. */
    const char *when = o.color ? o.color : "auto";
    o.out.color = strcmp(when, "always") == 0 ||
                  (strcmp(when, "auto") == 0 && !getenv("NO_COLOR") &&
                   isatty(fileno(out)));
    if (o.json)
        o.out.color = false;
    static char outbuf[1 << 20];
    setvbuf(out, outbuf, _IOFBF, sizeof outbuf);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART; /* a signal must not cut a read from a file or pipe */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (o.log_dir)
        sigaction(SIGHUP, &sa, NULL);
    if (o.duration)
        sigaction(SIGALRM, &sa, NULL);

    int status = o.workers > 1 ? workers_run(o.workers, run_worker, &o, out, !o.iface)
                               : run_engine(&o, out, -1);
    if (fflush(out) != 0 || (out != stdout && fclose(out) != 0)) {
        fprintf(stderr, "smtpscope: writing output: %s\n", strerror(errno));
        status = status ? status : 2;
    }
    free(o.files);
    free(o.filter);
    return status;
}
