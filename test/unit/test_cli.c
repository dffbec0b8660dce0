/* test_cli.c - the option table: every row parses back into its field
 * through the generated getopt table, --help lists exactly the visible
 * rows, the committed bash completion is the one the table writes, and
 * parsing touches nothing outside (run from the checkout's top). */
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tap.h"

#define COMPLETION_FILE "dist/smtpscope.bash-completion"

/* Parses "smtpscope ARGS... -r x.pcap" (NULL-terminated) into a fresh o. */
static int parse(struct options *o, ...)
{
    char *argv[32];
    int argc = 0;
    argv[argc++] = "smtpscope";
    va_list ap;
    va_start(ap, o);
    for (char *a; (a = va_arg(ap, char *)) && argc < 28;)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    cli_free(o);
    cli_defaults(o);
    return cli_parse(argc, argv, o);
}

static long read_num(const struct options *o, const struct cli_option *r)
{
    const char *p = (const char *)o + r->field;
    if (r->size == sizeof(int32_t)) {
        int32_t x;
        memcpy(&x, p, sizeof x);
        return x;
    }
    int64_t x;
    memcpy(&x, p, sizeof x);
    return (long)x;
}

static const void *target(const struct options *o, const struct cli_option *r)
{
    return (const char *)o + r->field;
}

/* "--name" or "-c" as a string the parser can be given. */
static char *spelling(const struct cli_option *r, bool use_long, char *buf, size_t cap)
{
    if (use_long)
        snprintf(buf, cap, "--%s", r->name);
    else
        snprintf(buf, cap, "-%c", r->letter);
    return buf;
}

/* A valid argument for each row with its own parser, and what it sets. */
static bool custom_sample(const struct cli_option *r, const char **arg)
{
    static const struct { const char *name, *arg; } samples[] = {
        {"read", "x.pcap"}, {"ports", "25,587"}, {"shard", "1/4"},
        {"local-net", "192.0.2.0/24"}, {"local-domains", "example.net"},
        {"only", "failed,partial"}, {"phase", "RCPT,DATA"}, {"tsv", "id,verdict"},
        {"verbose", "1"}, {"interface", "eth0"},
    };
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++)
        if (r->name && strcmp(r->name, samples[i].name) == 0) {
            *arg = samples[i].arg;
            return true;
        }
    return false;
}

static bool custom_took(const struct options *o, const char *name)
{
    if (strcmp(name, "read") == 0) /* given twice: the row's and the test's */
        return o->nfiles == 2 && strcmp(o->files[0], "x.pcap") == 0;
    if (strcmp(name, "ports") == 0)
        return o->engine.nports == 2 && o->engine.ports[1] == 587;
    if (strcmp(name, "shard") == 0)
        return o->engine.shard == 1 && o->engine.nshards == 4;
    if (strcmp(name, "local-net") == 0)
        return o->local.n == 1 && o->engine.session.local == &o->local;
    if (strcmp(name, "tsv") == 0)
        return o->tsv && strcmp(o->tsv, "id,verdict") == 0;
    if (strcmp(name, "only") == 0)
        return o->engine.select.verdicts == (1u << VERDICT_FAILED | 1u << VERDICT_PARTIAL);
    if (strcmp(name, "phase") == 0)
        return o->engine.select.phases == (1u << PHASE_RCPT | 1u << PHASE_DATA);
    if (strcmp(name, "verbose") == 0)
        return o->out.verbosity == 1;
    if (strcmp(name, "interface") == 0)
        return o->iface && strcmp(o->iface, "eth0") == 0 && !o->iface2;
    return o->domains.n == 1 && o->engine.session.local_domains == &o->domains;
}

/* One spelling of one row, given a valid argument: the field holds it. */
static void round_trip(const struct cli_option *r, bool use_long)
{
    struct options o = {0};
    char opt[64], num[32];
    const char *what = spelling(r, use_long, opt, sizeof opt);
    const char *arg = NULL;
    /* the input every run needs, unless the row is the input */
    bool is_iface = r->field == offsetof(struct options, iface) && r->kind == CLI_STRING;
    char *in = is_iface ? NULL : "-r", *file = "x.pcap";
    int rc;
    switch (r->kind) {
    case CLI_FLAG: /* --compare needs its two sides */
        rc = r->field == offsetof(struct options, compare)
                 ? parse(&o, opt, "-r", "x.pcap", "-r", "y.pcap", NULL)
                 : parse(&o, opt, "-r", "x.pcap", NULL);
        CHECK(rc == 0 && *(const bool *)target(&o, r), "%s sets its flag", what);
        break;
    case CLI_STRING:
        rc = parse(&o, opt, "value", in, file, NULL);
        CHECK(rc == 0 && strcmp(*(const char *const *)target(&o, r), "value") == 0,
              "%s keeps its argument", what);
        break;
    case CLI_NUM:
        for (int end = 0; end < 2; end++) {
            long v = end ? r->max : r->min;
            snprintf(num, sizeof num, "%ld", v);
            rc = parse(&o, opt, num, "-r", "x.pcap", NULL);
            CHECK(rc == 0 && read_num(&o, r) == v, "%s %s stored (got %ld)", what, num,
                  read_num(&o, r));
        }
        snprintf(num, sizeof num, "%ld", r->min - 1);
        CHECK(parse(&o, opt, num, "-r", "x.pcap", NULL) == 1, "%s %s refused", what, num);
        if (r->max < LONG_MAX) {
            snprintf(num, sizeof num, "%ld", r->max + 1);
            CHECK(parse(&o, opt, num, "-r", "x.pcap", NULL) == 1, "%s %s refused", what, num);
        }
        CHECK(parse(&o, opt, "12x", "-r", "x.pcap", NULL) == 1, "%s 12x refused", what);
        break;
    case CLI_CHOICE:
        for (const char *w = r->choices; *w;) {
            size_t len = strcspn(w, " ");
            char word[32];
            snprintf(word, sizeof word, "%.*s", (int)len, w);
            rc = parse(&o, opt, word, "-r", "x.pcap", NULL);
            CHECK(rc == 0 && strcmp(*(const char *const *)target(&o, r), word) == 0,
                  "%s %s kept", what, word);
            w += len + (w[len] == ' ');
        }
        CHECK(parse(&o, opt, "nonsense", "-r", "x.pcap", NULL) == 1, "%s nonsense refused",
              what);
        break;
    case CLI_CUSTOM:
        if (!CHECK(custom_sample(r, &arg), "%s has a sample argument in this test", what))
            break;
        rc = r->letter == 'i' ? parse(&o, opt, arg, NULL) /* the input itself */
                              : parse(&o, opt, arg, "-r", "x.pcap", NULL);
        CHECK(rc == 0 && custom_took(&o, r->name), "%s %s parsed", what, arg);
        break;
    case CLI_ACTION:
        rc = parse(&o, opt, "--no-such-option-after-it", NULL);
        CHECK(rc == 0 && o.action == r->action, "%s asks for its action first", what);
        break;
    case CLI_IGNORED:
        rc = parse(&o, opt, "-r", "x.pcap", NULL);
        CHECK(rc == 0 && o.action == CLI_RUN, "%s accepted", what);
        break;
    }
    cli_free(&o);
}

static void check_getopt_tables(void)
{
    struct option longs[128];
    char shorts[400];
    if (!CHECK(cli_noptions < 120, "the table fits this test's arrays"))
        return;
    cli_getopt_tables(longs, shorts);
    for (size_t i = 0; i < cli_noptions; i++) {
        const struct cli_option *r = &cli_options[i];
        const char *label = r->name ? r->name : "-n";
        CHECK(r->name || r->letter, "row %zu has a name or a letter", i);
        CHECK(r->help && *r->help, "%s has help", label);
        CHECK(r->kind != CLI_NUM || r->size == 4 || r->size == 8, "%s: an integer field", label);
        CHECK(r->kind != CLI_NUM || r->size == 8 || r->max <= INT32_MAX,
              "%s: its limit fits its field", label);
        bool takes = r->kind == CLI_NUM || r->kind == CLI_STRING || r->kind == CLI_CHOICE ||
                     r->kind == CLI_CUSTOM;
        CHECK(takes == (r->metavar != NULL), "%s: a metavar exactly when it takes an argument",
              label);
        if (r->name) {
            const struct option *l = longs;
            while (l->name && strcmp(l->name, r->name) != 0)
                l++;
            CHECK(l->name && cli_option_of(l->val) == r &&
                      l->has_arg == (!r->metavar ? no_argument
                                     : r->optional ? optional_argument : required_argument),
                  "--%s is in getopt's table and maps back to its row", r->name);
        }
        if (r->letter) {
            const char *s = strchr(shorts, r->letter);
            CHECK(s && (s[1] == ':') == (r->metavar != NULL) &&
                      (s[1] == ':' && s[2] == ':') == r->optional && cli_option_of(r->letter) == r,
                  "-%c is in the short options and maps back to its row", r->letter);
        }
        size_t twin = 0;
        while (twin < i && !(r->letter && r->letter == cli_options[twin].letter) &&
               !(r->name && cli_options[twin].name && !strcmp(r->name, cli_options[twin].name)))
            twin++;
        CHECK(twin == i, "%s is in no earlier row", label);
    }
}

/* Every visible row in --help (as "-x" or "--name" after two spaces), the
 * hidden ones nowhere. */
static void check_help(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    cli_help(m);
    fclose(m);
    for (size_t i = 0; i < cli_noptions; i++) {
        const struct cli_option *r = &cli_options[i];
        char word[64];
        if (r->name)
            snprintf(word, sizeof word, "--%s%s", r->name, r->metavar ? " " : "  ");
        else
            snprintf(word, sizeof word, "  -%c ", r->letter);
        bool listed = strstr(text, word) != NULL;
        CHECK(listed == (r->section != CLI_HIDDEN), "%s %s in --help", word,
              r->section == CLI_HIDDEN ? "not" : "is");
    }
    CHECK(strncmp(text, "Usage: smtpscope [options] -r FILE", 34) == 0, "--help starts with usage");
    free(text);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(1 << 16);
    size_t n = buf ? fread(buf, 1, (1 << 16) - 1, f) : 0;
    fclose(f);
    if (buf)
        buf[n] = '\0';
    return buf;
}

static void check_completion(void)
{
    char *made = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&made, &len);
    cli_bash_completion(m);
    fclose(m);
    char *committed = slurp(COMPLETION_FILE);
    CHECK(committed && strcmp(committed, made) == 0,
          COMPLETION_FILE " is what the table writes (else: ./smtpscope "
          "--bash-completion > " COMPLETION_FILE ")");
    /* the words offered after a dash: local opts="..." */
    char *opts = strstr(made, "local opts=\"");
    char *end = opts ? strchr(opts + 12, '"') : NULL;
    if (!CHECK(end, "the completion has its option words")) {
        free(made);
        free(committed);
        return;
    }
    *end = '\0';
    opts[11] = ' ';
    for (size_t i = 0; i < cli_noptions; i++) {
        const struct cli_option *r = &cli_options[i];
        char word[64];
        if (r->name)
            snprintf(word, sizeof word, " --%s", r->name);
        else
            snprintf(word, sizeof word, " -%c", r->letter);
        size_t n = strlen(word);
        const char *at = opts;
        while ((at = strstr(at, word)) && at[n] && at[n] != ' ' && at[n] != '\n')
            at++;
        bool listed = at != NULL;
        CHECK(listed == (r->section != CLI_HIDDEN), "completion %s%s", word + 1,
              listed ? " offered" : " not offered");
    }
    free(made);
    free(committed);
}

/* Options against each other, and what parsing must not do. */
static void check_combinations(void)
{
    struct options o = {0};
    CHECK(parse(&o, NULL) == 1, "no input: usage error");
    CHECK(parse(&o, "-r", "a", "-i", "lo", NULL) == 1, "-r and -i: usage error");
    CHECK(parse(&o, "--no-such-option", "-r", "a", NULL) == 1, "unknown option: usage error");
    CHECK(parse(&o, "-r", "a", "tcp", "port", "25", NULL) == 0 &&
              strcmp(o.filter, "tcp port 25") == 0, "a filter applies to -r too");
    CHECK(parse(&o, "-r", "a", "-F", "f", "tcp", NULL) == 1, "-F and a filter: usage error");
    CHECK(parse(&o, "-i", "lo", "-s", "0", "-B", "4096", NULL) == 0 && o.snaplen == 0 &&
              o.buffer_kib == 4096, "-s and -B as tcpdump's");
    CHECK(parse(&o, "-i", "lo", "tcp", "port", "25", NULL) == 0 &&
              strcmp(o.filter, "tcp port 25") == 0, "-i's trailing words are its filter");
    CHECK(parse(&o, "-r", "a", "--log-dir", "d", "-j", NULL) == 1, "--log-dir with --json refused");
    CHECK(parse(&o, "-r", "a", "--workers", "2", "--html", "h", NULL) == 1,
          "--workers with --html refused");
    CHECK(parse(&o, "-r", "a", "--workers", "1", "--summary", NULL) == 0,
          "--workers 1 goes with --summary");
    CHECK(parse(&o, "-r", "a", "-v", "3", NULL) == 0 && o.engine.session.extract_headers,
          "-v 3 extracts headers");
    CHECK(parse(&o, "-r", "a", "-v", "1", NULL) == 0 && o.out.verbosity == 1, "-v 1: level 1");
    CHECK(parse(&o, "-v", "-r", "a", NULL) == 0 && o.out.verbosity == 3 && o.nfiles == 1,
          "-v alone, as tcpdump's: level 3, -r still read");
    CHECK(parse(&o, "-r", "a", "-vv", NULL) == 0 && o.out.verbosity == 3, "-vv: level 3");
    CHECK(parse(&o, "-r", "a", "-vvv", NULL) == 0 && o.out.verbosity == 3, "-vvv: level 3");
    CHECK(parse(&o, "-r", "a", "-v2", NULL) == 0 && o.out.verbosity == 2, "-v2: level 2");
    CHECK(parse(&o, "-r", "a", "-v", "4", NULL) == 1, "-v 4: usage error");
    CHECK(parse(&o, "--compare", "out.pcap", "in.pcap", "port", "25", NULL) == 0 &&
              o.nfiles == 2 && strcmp(o.files[1], "in.pcap") == 0 &&
              strcmp(o.filter, "port 25") == 0,
          "--compare A B: the first two words are the sides, the rest the filter");
    CHECK(parse(&o, "--compare", "-i", "eth0", "-i", "eth1", NULL) == 0 &&
              strcmp(o.iface2, "eth1") == 0, "--compare -i -i: two live sides");
    CHECK(parse(&o, "--compare", "-r", "a", NULL) == 1, "--compare with one side refused");
    CHECK(parse(&o, "--compare", "-r", "a", "-i", "lo", NULL) == 1,
          "--compare with a file and an interface refused");
    CHECK(parse(&o, "--compare", "a", "b", "--top", NULL) == 1, "--compare with --top refused");
    CHECK(parse(&o, "--compare", "a", "b", "--html", "r.html", NULL) == 0 &&
              strcmp(o.html, "r.html") == 0,
          "--compare --html: the comparison's page");
    CHECK(parse(&o, "-i", "lo", "-i", "lo", NULL) == 1, "-i twice without --compare refused");
    CHECK(parse(&o, "-i", "a", "-i", "b", "-i", "c", NULL) == 1, "-i three times refused");
    CHECK(parse(&o, "-r", "a", "--follow", NULL) == 0 && o.engine.follow,
          "--follow has the engine hand over each line");
    CHECK(parse(&o, "-r", "a", "--messages", NULL) == 0 && o.engine.session.extract_headers,
          "--messages extracts headers");
    CHECK(parse(&o, "-r", "a", "--log-dir", "/nonexistent/d", "--save-messages",
                "/nonexistent/s", NULL) == 0 && o.engine.session.save_dirfd == -1,
          "parsing neither checks --log-dir nor opens --save-messages");
    cli_free(&o);
}

int main(void)
{
    check_getopt_tables();
    for (size_t i = 0; i < cli_noptions; i++) {
        if (cli_options[i].name)
            round_trip(&cli_options[i], true);
        if (cli_options[i].letter)
            round_trip(&cli_options[i], false);
    }
    check_help();
    check_completion();
    check_combinations();
    return tap_done();
}
