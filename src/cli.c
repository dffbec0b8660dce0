/* cli.c - the option table and the pure parser (see cli.h). */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "select.h"
#include "workers.h"

/* ---- what some options do beyond storing their value ------------------------ */

static int add_file(struct options *o, const char *arg)
{
    o->files[o->nfiles++] = arg; /* room for argc entries: never full */
    return 0;
}

/* -i: once; twice with --compare (the two sides). */
static int add_iface(struct options *o, const char *arg)
{
    if (o->iface && o->iface2) {
        fprintf(stderr, "smtpscope: -i given more than twice\n");
        return 1;
    }
    *(o->iface ? &o->iface2 : &o->iface) = arg;
    return 0;
}

static int parse_ports(struct options *o, const char *s)
{
    struct engine_config *cfg = &o->engine;
    const char *arg = s;
    /* any: the default ports as ever, and every other one by content */
    cfg->any_port = strcmp(s, "any") == 0;
    if (cfg->any_port)
        return 0;
    cfg->nports = 0;
    while (*s) {
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (end == s || errno || v < 1 || v > 65535 ||
            cfg->nports == ENGINE_MAX_PORTS || (*end && *end != ','))
            break;
        cfg->ports[cfg->nports++] = (uint16_t)v;
        s = *end ? end + 1 : end;
    }
    if (!*s && cfg->nports)
        return 0;
    fprintf(stderr, "smtpscope: --ports: invalid list '%s'\n", arg);
    return 1;
}

/* A decimal number from s to `stop` (a character, '\0' for the end). */
static bool parse_num(const char *s, char stop, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end != stop || errno || v < min || v > max)
        return false;
    *out = v;
    return true;
}

static int parse_shard(struct options *o, const char *arg)
{
    long k, n;
    const char *slash = strchr(arg, '/');
    if (!slash || !parse_num(arg, '/', 0, 1 << 20, &k) ||
        !parse_num(slash + 1, '\0', 1, 1 << 20, &n) || k >= n) {
        fprintf(stderr, "smtpscope: --shard: expected K/N with 0 <= K < N\n");
        return 1;
    }
    o->engine.shard = (uint32_t)k;
    o->engine.nshards = (uint32_t)n;
    return 0;
}

static int add_local_net(struct options *o, const char *arg)
{
    char err[160];
    if (netlist_parse(&o->local, arg, err, sizeof err) < 0) {
        fprintf(stderr, "smtpscope: --local-net: %s\n", err);
        return 1;
    }
    o->engine.session.local = &o->local;
    return 0;
}

static int add_local_domains(struct options *o, const char *arg)
{
    char err[160];
    if (domainlist_parse(&o->domains, arg, err, sizeof err) < 0) {
        fprintf(stderr, "smtpscope: --local-domains: %s\n", err);
        return 1;
    }
    o->engine.session.local_domains = &o->domains;
    return 0;
}

static int parse_only(struct options *o, const char *arg)
{
    char err[96];
    if (select_parse_verdicts(&o->engine.select, arg, err, sizeof err) == 0)
        return 0;
    fprintf(stderr, "smtpscope: --only: %s (expected ok, partial, failed, "
                    "incomplete, encrypted, not-smtp)\n", err);
    return 1;
}

static int parse_phase(struct options *o, const char *arg)
{
    char err[96];
    if (select_parse_phases(&o->engine.select, arg, err, sizeof err) == 0)
        return 0;
    fprintf(stderr, "smtpscope: --phase: %s (expected CONNECT, GREETING, HELO, "
                    "STARTTLS, AUTH, MAIL, RCPT, DATA, END-OF-DATA, QUIT)\n", err);
    return 1;
}

static int parse_tsv(struct options *o, const char *arg)
{
    unsigned char cols[32];
    char err[400];
    if (tsv_parse_fields(arg, cols, 32, err, sizeof err) < 0) {
        fprintf(stderr, "smtpscope: --tsv: %s\n", err);
        return 1;
    }
    o->tsv = arg;
    return 0;
}

/* -v 2, -v2, --verbose=2; -v, -vv, -vvv alone (tcpdump's): the most */
static int parse_verbose(struct options *o, const char *arg)
{
    long v = 3;
    if (arg && strspn(arg, "v") != strlen(arg) && !parse_num(arg, '\0', 1, 3, &v)) {
        fprintf(stderr, "smtpscope: -v: expected 1, 2 or 3, got '%s'\n", arg);
        return 1;
    }
    o->out.verbosity = (int)v;
    if (v == 3) /* message headers are shown */
        o->engine.session.extract_headers = true;
    return 0;
}

static void follow_implies(struct options *o)
{
    o->engine.follow = true; /* the engine hands each line to the sinks */
}

static void messages_implies(struct options *o)
{
    o->engine.session.extract_headers = true; /* trails go by Message-ID */
}

/* ---- the table -------------------------------------------------------------- */

#define FIELD(f) .field = offsetof(struct options, f), \
                 .size = sizeof(((struct options *)0)->f)
#define FLAG(f) .kind = CLI_FLAG, FIELD(f)
#define STRING(f) .kind = CLI_STRING, FIELD(f)
#define NUM(f, lo, hi, what) .kind = CLI_NUM, FIELD(f), .min = (lo), .max = (hi), \
                             .expected = (what)
#define CHOICE(f, words, what) .kind = CLI_CHOICE, FIELD(f), .choices = (words), \
                               .expected = (what), .complete = COMPLETE_CHOICES
#define CUSTOM(fn) .kind = CLI_CUSTOM, .parse = (fn)
#define ACTION(a) .kind = CLI_ACTION, .action = (a)

/* In --help order. */
const struct cli_option cli_options[] = {
    {"read", 'r', CUSTOM(add_file), .metavar = "FILE", .section = CLI_INPUT,
     .complete = COMPLETE_CAPTURE,
     .help = "read a pcap or pcapng file, gzip'd or not ('-' for\n"
             "stdin); repeat, quote a glob ('day-*.pcap') or name\n"
             "several after it: one capture merged by packet time"},
    {"interface", 'i', CUSTOM(add_iface), .metavar = "IFACE", .section = CLI_INPUT,
     .complete = COMPLETE_IFACE, .help = "capture live on IFACE (needs CAP_NET_RAW)"},
    {"compare", 0, FLAG(compare), .section = CLI_INPUT,
     .help = "two capture points of one path, the client's side first:\n"
             "pair each session seen at both and say what the\n"
             "middlebox between them did (two -r, two -i, or two\n"
             "names after the options; a side's files: commas, a\n"
             "glob); --html draws it"},
    {"ports", 'p', CUSTOM(parse_ports), .metavar = "LIST", .section = CLI_INPUT,
     .help = "SMTP server ports, comma-separated (default 25,465,587,2525);\n"
             "any: those and every other TCP port where the content\n"
             "is SMTP (a 220 greeting, then EHLO or HELO)"},
    {"count", 'c', NUM(engine.max_sessions, 1, LONG_MAX, "a number of sessions"),
     .metavar = "N", .section = CLI_INPUT, .help = "stop after writing N sessions"},
    {"duration", 'G', NUM(duration, 1, 86400 * 365, "seconds"), .metavar = "S",
     .section = CLI_INPUT, .help = "live: stop after S seconds"},
    {"user", 'Z', STRING(drop_user), .metavar = "USER", .section = CLI_INPUT,
     .complete = COMPLETE_USER,
     .help = "live as root: become USER once the device is open\n(default nobody)"},
    {"filter-file", 'F', STRING(filter_file), .metavar = "FILE", .section = CLI_INPUT,
     .complete = COMPLETE_FILE,
     .help = "read the BPF expression from FILE ('#' starts a\ncomment), as tcpdump -F"},
    {"snapshot-length", 's', NUM(snaplen, 0, 262144, "0..262144"), .metavar = "N",
     .section = CLI_INPUT, .help = "live: capture N bytes of each packet (0, the\ndefault: 262144)"},
    {"buffer-size", 'B', NUM(buffer_kib, 1, 1L << 22, "KiB, 1..4194304"), .metavar = "KIB",
     .section = CLI_INPUT, .help = "live: kernel capture buffer in KiB (default 32768)"},
    {"list-interfaces", 'D', ACTION(CLI_LIST_IFACES), .section = CLI_INPUT,
     .help = "list the interfaces a capture can use, and exit"},
    {NULL, 'n', .kind = CLI_IGNORED, .section = CLI_INPUT,
     .help = "accepted for tcpdump habits (names are never resolved)"},

    {"json", 'j', FLAG(json), .section = CLI_OUTPUT,
     .help = "JSON Lines, one object per session (default: text log)"},
    {"tsv", 0, CUSTOM(parse_tsv), .metavar = "FIELDS", .section = CLI_OUTPUT,
     .help = "the log as tab-separated columns (zeek-cut style):\n"
             "FIELDS comma-separated from id, start, end, duration_ms,\n"
             "client, client_port, server, server_port, community_id,\n"
             "first_frame, last_frame, helo, tls, verdict, end_phase,\n"
             "phase, code, reply, mail_from, rcpt, messages, findings"},
    {"output", 'o', STRING(outfile), .metavar = "FILE", .section = CLI_OUTPUT,
     .complete = COMPLETE_FILE, .help = "write to FILE instead of standard output"},
    {"only", 0, CUSTOM(parse_only), .metavar = "LIST", .section = CLI_OUTPUT,
     .help = "write only sessions of these verdicts: ok, partial,\n"
             "failed, incomplete, encrypted, not-smtp (comma-separated;\n"
             "every output, the summary and -w follow it)"},
    {"phase", 0, CUSTOM(parse_phase), .metavar = "LIST", .section = CLI_OUTPUT,
     .help = "write only sessions that ended (or failed) in these\n"
             "phases, e.g. RCPT,DATA (CONNECT ... QUIT)"},
    {"write", 'w', STRING(pcap_out), .metavar = "FILE", .section = CLI_OUTPUT,
     .complete = COMPLETE_FILE,
     .help = "also write the packets of the sessions written (with\n"
             "--only/--phase: the selection) to FILE, a pcap"},
    {"localtime", 0, FLAG(out.localtime), .section = CLI_OUTPUT,
     .help = "text log clock in local time (default UTC)"},
    {"show-secrets", 0, FLAG(engine.session.show_secrets), .section = CLI_OUTPUT,
     .help = "print AUTH credentials instead of *** (dangerous)"},
    {"follow", 0, FLAG(out.follow), .then = follow_implies, .section = CLI_OUTPUT,
     .help = "text: write each line as it happens (live tail);\n"
             "the verdict follows when the session ends"},
    {"summary", 0, FLAG(summary), .section = CLI_OUTPUT,
     .help = "after the sessions: counts by outcome, failure phase\n"
             "and reply code, top failing hosts, reply latency\n"
             "percentiles, findings (default on a terminal)"},
    {"headers", 0, FLAG(engine.session.extract_headers), .section = CLI_OUTPUT,
     .help = "extract Message-ID, Subject, From, To, Cc, Date,\n"
             "Reply-To, X-Mailer, the Received chain and attachment\n"
             "names of each message (never the body)"},
    {"stats", 0, FLAG(stats), .section = CLI_OUTPUT,
     .help = "print packet and session counters on stderr at exit"},
    {"verbose", 'v', CUSTOM(parse_verbose), .optional = true,
     .choices = "1 2 3", .complete = COMPLETE_CHOICES, .metavar = "LEVEL",
     .section = CLI_OUTPUT,
     .help = "1: one line per session (the *** verdict); 2: every\n"
             "command and reply (default); 3: also message headers;\n"
             "-v, -vv, -vvv without a level: 3"},
    {"color", 0, CHOICE(color, "auto always never", "auto, always or never"),
     .metavar = "WHEN", .section = CLI_OUTPUT,
     .help = "auto (default: on a terminal), always or never;\n"
             "NO_COLOR in the environment means never"},
    {"html", 0, STRING(html), .metavar = "FILE", .section = CLI_OUTPUT,
     .complete = COMPLETE_FILE,
     .help = "also write a self-contained HTML report: summary,\n"
             "sessions over time by verdict, reply latency per command,\n"
             "session table (filter by address, HELO, IP), ladder\n"
             "diagrams; with --compare: the tally, the pairs and a\n"
             "three-lane ladder (client, middlebox, server) per pair"},
    {"local-net", 0, CUSTOM(add_local_net), .metavar = "LIST", .section = CLI_OUTPUT,
     .help = "our networks (CIDR, comma-separated, repeatable): each\n"
             "session is incoming, outgoing, internal or transit;\n"
             "outgoing ones are logged as our host's client log"},
    {"local-domains", 0, CUSTOM(add_local_domains), .metavar = "L",
     .section = CLI_OUTPUT,
     .help = "our mail domains (comma-separated): audit each session\n"
             "for open-relay, auth-cleartext, banner-disclosure"},
    {"save-messages", 0, STRING(engine.session.save_dir), .metavar = "DIR",
     .section = CLI_OUTPUT, .complete = COMPLETE_DIR,
     .help = "write each message (unstuffed DATA, joined BDAT) to\n"
             "DIR/<id>-<n>.eml, mode 0600, never overwriting"},
    {"save-max", 0, NUM(engine.session.save_max, 1, 1L << 40, "bytes"),
     .metavar = "BYTES", .section = CLI_OUTPUT,
     .help = "at most this much of each saved message (10 MiB)"},
    {"messages", 0, FLAG(messages), .then = messages_implies, .section = CLI_OUTPUT,
     .help = "after the sessions: one trail per message across the\n"
             "capture's hops (by Message-ID or envelope); flags\n"
             "stuck and bounce-risk"},
    {"top", 0, FLAG(top), .section = CLI_OUTPUT,
     .help = "full-screen live console (sessions per minute, open\n"
             "sessions, outcomes, codes, latency, last failures);\n"
             "keys: p pause, v view, q quit"},
    {"realtime", 0, FLAG(realtime), .section = CLI_OUTPUT,
     .help = "with -r: replay at the pace of the capture"},
    {"log-dir", 0, STRING(log_dir), .metavar = "DIR", .section = CLI_OUTPUT,
     .complete = COMPLETE_DIR,
     .help = "text log and JSON in DIR/smtp-YYYYMMDD.log and .jsonl,\n"
             "a file a day (UTC, or --localtime); SIGHUP reopens"},
    {"workers", 0, NUM(workers, 1, WORKERS_MAX, "1..64"), .metavar = "N",
     .section = CLI_OUTPUT,
     .help = "split the connections over N processes (symmetric\n"
             "address-pair hash), one merged output"},
    {"shard", 0, CUSTOM(parse_shard), .metavar = "K/N", .section = CLI_OUTPUT,
     .help = "only connections whose address-pair hash falls in\n"
             "shard K of N (run N copies in parallel, concatenate)"},
    {"line-buffered", 'l', FLAG(line_buffered), .section = CLI_OUTPUT,
     .help = "write each session as soon as it ends, as a live\n"
             "capture does (reading files is buffered otherwise)"},
    {"quiet", 'q', FLAG(quiet), .section = CLI_OUTPUT,
     .help = "no warnings and no progress line on stderr"},

    {"max-streams", 0, NUM(engine.max_streams, 16, 1 << 24, "16..16777216"),
     .metavar = "N", .section = CLI_LIMITS,
     .help = "TCP streams reassembled at once (default 65536)"},
    {"idle-timeout", 0, NUM(engine.idle_timeout, 1, 86400 * 7, "seconds"),
     .metavar = "S", .section = CLI_LIMITS,
     .help = "end a session after S seconds of silence (default 600)"},
    {"max-transcript", 0,
     NUM(engine.session.max_transcript, 4096, 1L << 30, "4096..1073741824"),
     .metavar = "B", .section = CLI_LIMITS,
     .help = "transcript bytes kept per session (default 1048576)"},
    {"slow", 0, NUM(engine.session.slow_ms, 0, 86400000, "milliseconds"),
     .metavar = "MS", .section = CLI_LIMITS,
     .help = "replies slower than MS are findings (default 10000)"},
    {"idle-gap", 0, NUM(engine.session.idle_gap_ms, 0, 86400000, "milliseconds"),
     .metavar = "MS", .section = CLI_LIMITS,
     .help = "client silences longer than MS are findings (default 60000)"},
    {"slow-dns", 0, NUM(out.slow_dns_ms, 0, 600000, "milliseconds"), .metavar = "MS",
     .section = CLI_LIMITS, .help = "DNS answers slower than MS are findings (default 1000)"},

    {"help", 'h', ACTION(CLI_HELP), .section = CLI_GENERAL, .help = "this help"},
    {"version", 'V', ACTION(CLI_VERSION), .section = CLI_GENERAL,
     .help = "version of smtpscope, libpcap and libnids"},
    /* writes dist/smtpscope.bash-completion (test/unit/test_cli.c checks) */
    {"bash-completion", 0, ACTION(CLI_COMPLETION), .section = CLI_HIDDEN,
     .help = "print the bash completion script"},
};

#define NOPTIONS (sizeof cli_options / sizeof cli_options[0])
const size_t cli_noptions = NOPTIONS;

/* ---- parsing ------------------------------------------------------------------ */

void cli_defaults(struct options *o)
{
    memset(o, 0, sizeof *o);
    engine_config_defaults(&o->engine);
    o->out.verbosity = 2;
    o->out.slow_dns_ms = 1000;
}

void cli_getopt_tables(struct option *longs, char *shorts)
{
    size_t nl = 0, ns = 0;
    for (size_t i = 0; i < NOPTIONS; i++) {
        const struct cli_option *r = &cli_options[i];
        int has_arg = !r->metavar ? no_argument
                      : r->optional ? optional_argument : required_argument;
        int val = r->letter ? r->letter : CLI_VAL_BASE + (int)i;
        if (r->name)
            longs[nl++] = (struct option){r->name, has_arg, NULL, val};
        if (r->letter) {
            shorts[ns++] = r->letter;
            if (r->metavar)
                shorts[ns++] = ':';
            if (r->metavar && r->optional)
                shorts[ns++] = ':';
        }
    }
    longs[nl] = (struct option){NULL, 0, NULL, 0};
    shorts[ns] = '\0';
}

const struct cli_option *cli_option_of(int val)
{
    if (val >= CLI_VAL_BASE && (size_t)(val - CLI_VAL_BASE) < NOPTIONS)
        return &cli_options[val - CLI_VAL_BASE];
    for (size_t i = 0; i < NOPTIONS; i++)
        if (val > 0 && cli_options[i].letter == val)
            return &cli_options[i];
    return NULL;
}

/* Numeric targets are int, long, uint32_t, uint64_t or size_t, and every
 * value is in [0, max]: stored by the target's width. */
static void store_num(void *target, size_t size, long v)
{
    if (size == sizeof(int32_t)) {
        int32_t x = (int32_t)v;
        memcpy(target, &x, sizeof x);
    } else {
        int64_t x = v;
        memcpy(target, &x, sizeof x);
    }
}

static bool is_choice(const char *words, const char *arg)
{
    size_t n = strlen(arg);
    for (const char *w = words; *w;) {
        size_t len = strcspn(w, " ");
        if (len == n && memcmp(w, arg, n) == 0)
            return true;
        w += len + (w[len] == ' ');
    }
    return false;
}

/* One option with its argument (NULL when it takes none) into o. */
static int apply(const struct cli_option *r, const char *arg, struct options *o)
{
    char *target = (char *)o + r->field;
    char name[48];
    if (r->letter) /* messages name an option by its short form if it has one */
        snprintf(name, sizeof name, "-%c", r->letter);
    else
        snprintf(name, sizeof name, "--%s", r->name);
    const bool yes = true;
    long v;
    switch (r->kind) {
    case CLI_FLAG: memcpy(target, &yes, sizeof yes); break;
    case CLI_STRING: memcpy(target, &arg, sizeof arg); break;
    case CLI_NUM:
        if (!parse_num(arg, '\0', r->min, r->max, &v)) {
            fprintf(stderr, "smtpscope: %s: expected %s, got '%s'\n", name, r->expected, arg);
            return 1;
        }
        store_num(target, r->size, v);
        break;
    case CLI_CHOICE:
        if (!is_choice(r->choices, arg)) {
            fprintf(stderr, "smtpscope: %s: expected %s, got '%s'\n", name, r->expected, arg);
            return 1;
        }
        memcpy(target, &arg, sizeof arg);
        break;
    case CLI_CUSTOM: {
        int rc = r->parse(o, arg);
        if (rc)
            return rc;
        break;
    }
    case CLI_ACTION: o->action = r->action; break;
    case CLI_IGNORED: break;
    }
    if (r->then)
        r->then(o);
    return 0;
}

/* Words after the options: a BPF expression for -i, joined by spaces. */
static int take_filter(int argc, char **argv, int first, struct options *o)
{
    o->trailing = argv + first;
    o->ntrailing = argc > first ? argc - first : 0;
    if (first >= argc)
        return 0;
    if (o->filter_file) {
        fprintf(stderr, "smtpscope: give the BPF expression with -F or after the "
                        "options, not both ('%s')\n", argv[first]);
        return 1;
    }
    size_t len = 0;
    for (int i = first; i < argc; i++)
        len += strlen(argv[i]) + 1;
    if (!(o->filter = malloc(len + 1)))
        return 3;
    o->filter[0] = '\0';
    for (int i = first; i < argc; i++) {
        strcat(o->filter, argv[i]);
        if (i + 1 < argc)
            strcat(o->filter, " ");
    }
    return 0;
}

/* --compare: two sides, of one kind, and only the outputs it writes. */
static int check_compare(const struct options *o)
{
    const char *clash = o->workers > 1         ? "--workers"
                        : o->engine.nshards    ? "--shard"
                        : o->out.follow        ? "--follow"
                        : o->top               ? "--top"
                        : o->pcap_out          ? "-w"
                        : o->tsv               ? "--tsv"
                        : o->messages          ? "--messages"
                        : o->log_dir           ? "--log-dir"
                        : o->engine.session.save_dir ? "--save-messages"
                        : select_any(&o->engine.select) ? "--only or --phase"
                        : o->engine.max_sessions ? "-c" : NULL;
    if (clash) {
        fprintf(stderr, "smtpscope: --compare cannot be combined with %s\n", clash);
        return 1;
    }
    bool files = o->nfiles == 2 && !o->iface, live = o->iface && o->iface2 && !o->nfiles;
    if (!files && !live) {
        fprintf(stderr, "smtpscope: --compare needs two sides, the client's first: "
                        "-r FILE -r FILE, -i IFACE -i IFACE, or two names after the "
                        "options\n");
        return 1;
    }
    return 0;
}

/* Options that cannot go together, and the input: exit status 1 or 0. */
static int check_combinations(const struct options *o)
{
    const char *clash = !o->log_dir       ? NULL
                        : o->outfile      ? "-o"
                        : o->json         ? "--json (it writes both)"
                        : o->tsv          ? "--tsv"
                        : o->out.follow   ? "--follow"
                        : o->workers > 1  ? "--workers" : NULL;
    if (clash) {
        fprintf(stderr, "smtpscope: --log-dir cannot be combined with %s\n", clash);
        return 1;
    }
    if (o->tsv && (o->json || o->out.follow)) {
        fprintf(stderr, "smtpscope: --tsv cannot be combined with %s\n",
                o->json ? "--json" : "--follow");
        return 1;
    }
    if (o->out.follow && select_any(&o->engine.select)) {
        fprintf(stderr, "smtpscope: --follow cannot be combined with --only or "
                        "--phase (a line is written before the verdict is known)\n");
        return 1;
    }
    clash = o->workers <= 1          ? NULL
            : o->engine.nshards      ? "--shard"
            : o->out.follow          ? "--follow"
            : o->summary             ? "--summary"
            : o->html                ? "--html"
            : o->top                 ? "--top"
            : o->messages            ? "--messages"
            : o->pcap_out            ? "-w"
            : o->tsv                 ? "--tsv"
            : o->engine.max_sessions ? "-c" : NULL;
    if (clash) {
        fprintf(stderr, "smtpscope: --workers cannot be combined with %s "
                        "(run without --workers for it)\n", clash);
        return 1;
    }
    if (o->compare)
        return check_compare(o);
    if (o->iface2) {
        fprintf(stderr, "smtpscope: -i twice needs --compare (see --help)\n");
        return 1;
    }
    if (!o->nfiles == !o->iface) {
        fprintf(stderr, "smtpscope: give either -r FILE or -i IFACE (see --help)\n");
        return 1;
    }
    return 0;
}

int cli_parse(int argc, char **argv, struct options *o)
{
    struct option longs[NOPTIONS + 1];
    char shorts[3 * NOPTIONS + 1];
    cli_getopt_tables(longs, shorts);
    if (!(o->files = calloc((size_t)argc + 1, sizeof *o->files)))
        return 3;
    optind = 0; /* glibc: start afresh (the unit test parses many times) */
    int c;
    while ((c = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
        const struct cli_option *r = cli_option_of(c);
        if (!r) { /* getopt said what was wrong */
            cli_usage_hint(stderr);
            return 1;
        }
        const char *arg = optarg;
        /* "-v 3": an optional argument in the next word, if it is one */
        if (r->optional && !arg && optind < argc && argv[optind][0] &&
            strspn(argv[optind], "0123456789") == strlen(argv[optind]))
            arg = argv[optind++];
        int rc = apply(r, arg, o);
        if (rc)
            return rc;
        if (o->action != CLI_RUN)
            return 0; /* --help and --version win over what follows */
    }
    /* --compare A B: the two sides may be the first two words left */
    if (o->compare && !o->nfiles && !o->iface)
        for (int k = 0; k < 2 && optind < argc; k++)
            add_file(o, argv[optind++]);
    int rc = take_filter(argc, argv, optind, o);
    return rc ? rc : check_combinations(o);
}

void cli_free(struct options *o)
{
    free(o->files);
    free(o->filter);
    o->files = NULL;
    o->filter = NULL;
}
