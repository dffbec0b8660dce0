/* cli_text.c - --help and the bash completion, written from the option
 * table (see cli.h). */
#include "cli.h"

#include <string.h>

#define HELP_COLUMN 25 /* where the help text starts */

static const char synopsis[] =
    "Usage: smtpscope [options] -r FILE [-r FILE...] [BPF expression]\n"
    "       smtpscope [options] -i IFACE [BPF expression]\n";

/* "  -r, --read FILE", "      --summary", "  -n" */
static int help_label(const struct cli_option *r, char *buf, size_t cap)
{
    int n;
    if (r->letter && r->name)
        n = snprintf(buf, cap, "  -%c, --%s", r->letter, r->name);
    else if (r->letter)
        n = snprintf(buf, cap, "  -%c", r->letter);
    else
        n = snprintf(buf, cap, "      --%s", r->name);
    if (r->metavar && n > 0 && (size_t)n < cap)
        n += snprintf(buf + n, cap - (size_t)n, " %s", r->metavar);
    return n;
}

static void help_row(FILE *f, const struct cli_option *r)
{
    char label[80];
    int n = help_label(r, label, sizeof label);
    fputs(label, f);
    /* a label too long for the column keeps two spaces before its text */
    fprintf(f, "%*s", n < HELP_COLUMN ? HELP_COLUMN - n : 2, "");
    for (const char *p = r->help; *p;) {
        size_t len = strcspn(p, "\n");
        fprintf(f, "%.*s\n", (int)len, p);
        p += len;
        if (*p == '\n' && *++p)
            fprintf(f, "%*s", HELP_COLUMN, "");
    }
}

void cli_help(FILE *f)
{
    static const char *const title[] = {
        [CLI_INPUT] = "Input:\n", [CLI_OUTPUT] = "Output:\n",
        [CLI_LIMITS] = "Limits:\n", [CLI_GENERAL] = "",
    };
    fputs(synopsis, f);
    fputs("Reconstruct SMTP sessions from captured traffic and say where each failed.\n", f);
    for (int s = CLI_INPUT; s <= CLI_GENERAL; s++) {
        fprintf(f, "\n%s", title[s]);
        for (size_t i = 0; i < cli_noptions; i++)
            if (cli_options[i].section == (enum cli_section)s)
                help_row(f, &cli_options[i]);
    }
    fputs("\n"
          "Examples:\n"
          "  smtpscope -r gateway.pcap\n"
          "  smtpscope --json -r day1.pcap -r day2.pcap > sessions.jsonl\n"
          "  smtpscope -i eth0 'host 192.0.2.25'\n", f);
}

void cli_usage_hint(FILE *f)
{
    fputs("Usage: smtpscope [options] -r FILE... | -i IFACE [BPF expression]\n"
          "Try 'smtpscope --help' for the options.\n", f);
}

/* ---- bash completion ---------------------------------------------------------- */

/* What bash offers after an option of each kind (NULL: nothing). */
static const char *const reply_of[] = {
    [COMPLETE_NOTHING] = NULL,
    [COMPLETE_CAPTURE] = "$(compgen -f -X '!*.@(pcap|pcapng|cap|pcap[0-9]*|dmp)' -- \"$cur\") \\\n"
                         "                       $(compgen -d -- \"$cur\")",
    [COMPLETE_FILE] = "$(compgen -f -- \"$cur\")",
    [COMPLETE_DIR] = "$(compgen -d -- \"$cur\")",
    [COMPLETE_IFACE] = "$(compgen -W \"$(ls /sys/class/net 2>/dev/null)\" -- \"$cur\")",
    [COMPLETE_USER] = "$(compgen -u -- \"$cur\")",
};

/* Words on lines that wrap before 80 columns, continued at 8 spaces. */
struct wrap {
    FILE *f;
    const char *sep; /* between words on a line */
    const char *eol; /* ends a line that goes on */
    int col;         /* length of the line so far */
    bool empty;      /* no word written yet */
};

static void wrap_word(struct wrap *w, const char *dashes, const char *word)
{
    int len = (int)(strlen(dashes) + strlen(word));
    if (!w->empty && w->col + (int)strlen(w->sep) + len > 78) {
        fprintf(w->f, "%s\n        ", w->eol);
        w->col = 8;
    } else if (!w->empty) {
        w->col += fprintf(w->f, "%s", w->sep);
    }
    w->col += fprintf(w->f, "%s%s", dashes, word);
    w->empty = false;
}

/* Both spellings of an option: "-r" and "--read". */
static void wrap_option(struct wrap *w, const struct cli_option *r)
{
    char letter[2] = {r->letter, '\0'};
    if (r->letter)
        wrap_word(w, "-", letter);
    if (r->name)
        wrap_word(w, "--", r->name);
}

static bool completed(const struct cli_option *r)
{
    return r->section != CLI_HIDDEN;
}

/* "-r|--read)" for the rows that take an argument completed as `kind`
 * (or only row `only`, for choices). Returns false when there are none. */
static bool case_pattern(FILE *f, enum cli_complete kind, const struct cli_option *only)
{
    struct wrap w = {f, "|", "|\\", 0, true};
    for (size_t i = 0; i < cli_noptions; i++) {
        const struct cli_option *r = &cli_options[i];
        if (!r->metavar || !completed(r) || r->complete != kind || (only && r != only))
            continue;
        if (w.empty)
            w.col = fprintf(f, "        ");
        wrap_option(&w, r);
    }
    if (!w.empty)
        fputs(")\n", f);
    return !w.empty;
}

static void case_reply(FILE *f, const char *reply)
{
    if (reply)
        fprintf(f, "            COMPREPLY=(%s)\n            return ;;\n", reply);
    else
        fputs("            return ;;\n", f);
}

/* Every option, for a word that begins with a dash. */
static void option_words(FILE *f)
{
    struct wrap w = {f, " ", "", 0, true};
    w.col = fprintf(f, "    local opts=\"");
    for (size_t i = 0; i < cli_noptions; i++)
        if (completed(&cli_options[i]))
            wrap_option(&w, &cli_options[i]);
    fputs("\"\n", f);
}

void cli_bash_completion(FILE *f)
{
    fputs("# bash completion for smtpscope(1)\n"
          "# Generated from the option table in src/cli.c by\n"
          "# `smtpscope --bash-completion`: change the table, not this file.\n"
          "_smtpscope()\n"
          "{\n"
          "    local cur prev\n"
          "    cur=${COMP_WORDS[COMP_CWORD]}\n"
          "    prev=${COMP_WORDS[COMP_CWORD-1]}\n"
          "    case $prev in\n", f);
    for (int k = COMPLETE_CAPTURE; k <= COMPLETE_USER; k++)
        if (case_pattern(f, (enum cli_complete)k, NULL))
            case_reply(f, reply_of[k]);
    for (size_t i = 0; i < cli_noptions; i++) {
        const struct cli_option *r = &cli_options[i];
        if (r->complete == COMPLETE_CHOICES && completed(r) &&
            case_pattern(f, COMPLETE_CHOICES, r)) {
            char reply[160];
            snprintf(reply, sizeof reply, "$(compgen -W \"%s\" -- \"$cur\")", r->choices);
            case_reply(f, reply);
        }
    }
    if (case_pattern(f, COMPLETE_NOTHING, NULL))
        case_reply(f, NULL);
    fputs("    esac\n", f);
    option_words(f);
    fputs("    if [[ $cur == -* ]]; then\n"
          "        COMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n"
          "    fi\n"
          "}\n"
          "complete -F _smtpscope smtpscope\n", f);
}
