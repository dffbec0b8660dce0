/* cli.h - the command line as a table.
 *
 * One row per option (cli_options[]) says everything about it: long name,
 * short letter, kind, the field of struct options it fills, limits,
 * metavar, help text and how bash completes its argument. getopt_long's
 * table, the short-option string, --help and the bash completion
 * (dist/smtpscope.bash-completion) are all generated from it.
 *
 * Parsing is pure: no stat, no open, no privilege work. What touches the
 * file system (--log-dir, --save-messages, -o) runs after it, in main.c's
 * prepare step.
 */
#ifndef SMTPSCOPE_CLI_H
#define SMTPSCOPE_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "engine.h"
#include "netlist.h"
#include "output.h"

#define SMTPSCOPE_VERSION "0.1.0"

/* What the command line asks for besides a run. */
enum cli_action { CLI_RUN, CLI_HELP, CLI_VERSION, CLI_COMPLETION, CLI_LIST_IFACES };

struct options {
    enum cli_action action;
    const char **files;
    int nfiles;
    const char *iface;
    const char *iface2;    /* --compare: the server side's interface */
    bool compare;          /* --compare: two capture points, paired */
    const char *outfile;
    const char *log_dir;   /* --log-dir: daily files instead of -o/stdout */
    const char *html;      /* --html FILE: a report of the run */
    const char *pcap_out;  /* -w FILE: the written sessions' packets */
    const char *tsv;       /* --tsv FIELDS: the log as TSV columns */
    bool top;              /* --top: the live console */
    bool messages;         /* --messages: trails across hops */
    struct netlist local;  /* --local-net */
    struct domainlist domains; /* --local-domains */
    bool realtime;         /* --realtime: replay files at capture pace */
    const char *drop_user; /* -Z, live capture as root */
    long duration;         /* -G: stop live capture after this many seconds */
    const char *color;     /* auto, always, never */
    char *filter;          /* trailing BPF expression, for -i and -r */
    char *const *trailing; /* the words after the options (into argv) */
    int ntrailing;
    const char *filter_file; /* -F: the expression read from a file */
    long snaplen;          /* -s: live bytes per packet (0: 262144) */
    long buffer_kib;       /* -B: live kernel buffer in KiB (0: 32 MiB) */
    bool json, quiet, stats, summary;
    bool line_buffered;    /* -l: each session written at once, as live */
    int workers;           /* --workers N: N processes, merged output */
    struct output_options out;
    struct engine_config engine;
};

enum cli_kind {
    CLI_FLAG,    /* no argument: sets a bool */
    CLI_NUM,     /* a decimal number in [min, max] into an integer field */
    CLI_STRING,  /* the argument itself, kept as a pointer into argv */
    CLI_CHOICE,  /* one of the space-separated words in `choices` */
    CLI_CUSTOM,  /* the row's own parse function */
    CLI_ACTION,  /* stops parsing: help, version, completion */
    CLI_IGNORED, /* accepted and ignored (-n, a tcpdump habit) */
};

/* Where --help lists a row (CLI_HIDDEN: nowhere, nor in the completion). */
enum cli_section { CLI_INPUT, CLI_OUTPUT, CLI_LIMITS, CLI_GENERAL, CLI_HIDDEN };

/* How bash completes the row's argument. */
enum cli_complete {
    COMPLETE_NOTHING, /* a number or a list: nothing to offer */
    COMPLETE_CAPTURE, /* pcap files and directories */
    COMPLETE_FILE,
    COMPLETE_DIR,
    COMPLETE_IFACE,   /* /sys/class/net */
    COMPLETE_USER,
    COMPLETE_CHOICES, /* the row's `choices` */
};

struct cli_option {
    const char *name;      /* long name; NULL for a short-only option */
    char letter;           /* short option; 0 for a long-only one */
    enum cli_kind kind;
    size_t field, size;    /* offset and size of the target in struct options */
    long min, max;         /* CLI_NUM */
    const char *expected;  /* CLI_NUM, CLI_CHOICE: "expected ..." on error */
    const char *choices;   /* CLI_CHOICE */
    /* CLI_CUSTOM: stores arg; returns 0, or the exit status (message said) */
    int (*parse)(struct options *o, const char *arg);
    /* Optional, after the value is stored: what the option implies. */
    void (*then)(struct options *o);
    enum cli_action action; /* CLI_ACTION */
    const char *metavar;   /* the argument in --help; NULL: takes none */
    /* The argument may be left out (-v, -vv, -vvv as in tcpdump): parse
     * gets NULL or the letters after the first ("v", "vv"). */
    bool optional;
    enum cli_section section;
    enum cli_complete complete;
    const char *help;      /* --help text; '\n' starts an indented line */
};

extern const struct cli_option cli_options[];
extern const size_t cli_noptions;

/* Defaults of every option (what a run without options does). */
void cli_defaults(struct options *o);
/* Parses argv into o and checks the options against each other. Returns
 * 0, or the exit status (1 usage, 3 out of memory) with the message
 * printed. o->action says whether to run or to print something. */
int cli_parse(int argc, char **argv, struct options *o);
void cli_free(struct options *o);

/* The getopt_long table and short-option string the parser uses: `longs`
 * holds cli_noptions + 1 entries, `shorts` 3 * cli_noptions + 1 bytes. A
 * row's getopt value is its letter, or CLI_VAL_BASE + its index. */
#define CLI_VAL_BASE 256
struct option;
void cli_getopt_tables(struct option *longs, char *shorts);

/* The row of a getopt value; NULL for none. */
const struct cli_option *cli_option_of(int val);

/* --help, generated from the table. */
void cli_help(FILE *f);
/* The short usage and a pointer to --help (after a usage error). */
void cli_usage_hint(FILE *f);
/* The bash completion script (dist/smtpscope.bash-completion). */
void cli_bash_completion(FILE *f);

#endif
