/* output.h - where finished sessions go.
 *
 * A sink receives each session once it has ended, and a final call at the
 * end of the run. The text log and JSON Lines are sinks; later consumers
 * (summary, HTML report, live console, message tracking) plug in the same
 * way without touching capture or parsing.
 */
#ifndef SMTPSCOPE_OUTPUT_H
#define SMTPSCOPE_OUTPUT_H

#include <stdbool.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>

#include "dns.h"
#include "session.h"

struct sink {
    void (*session)(struct sink *, const struct session *);
    void (*finish)(struct sink *);
    void (*destroy)(struct sink *);
    /* Optional, for live following (--follow): a session began, and one of
     * its transcript lines was recorded (`text` holds `l->len` bytes). */
    void (*open)(struct sink *, const struct session *);
    void (*line)(struct sink *, const struct session *, const struct tline *l,
                 const char *text);
    /* Optional: called often by the capture loops (a live view redraws). */
    void (*tick)(struct sink *);
    /* Optional: a DNS lookup seen on the wire (answered or timed out). */
    void (*dns)(struct sink *, const struct dns_lookup *);
};

struct output_options {
    bool localtime; /* text log clock in local time instead of UTC */
    int verbosity;  /* text: 1 the *** line only, 2 (default) the dialogue,
                       3 also system notes such as message headers */
    bool color;     /* text: failures red, findings yellow (terminals only) */
    bool follow;    /* text: write each line as it happens (live tail) */
    int slow_dns_ms; /* DNS answers slower than this are findings (0: off) */
    bool tls_steps;  /* JSON: the TLS handshake's steps with their times, for
                        the HTML report's ladder (not in --json's output) */
};

struct sink *sink_text_new(FILE *f, const struct output_options *o);
/* --log-dir: DIR/smtp-YYYYMMDD.log and .jsonl, by the day a session
 * started; files are reopened before the next session once logdir_reopen
 * is set (SIGHUP). */
struct sink *sink_logdir_new(const char *dir, const struct output_options *o);
extern volatile sig_atomic_t logdir_reopen;
struct sink *sink_json_new(FILE *f, const struct output_options *o);
/* --html: a self-contained report written to f when the run finishes;
 * `input` names what was read (for the page's title line). */
struct sink *sink_html_new(FILE *f, const char *input, const char *version,
                           const struct output_options *o);
/* What the run saw and what it could not place, for the summary's
 * accounting (filled by the engine before the sinks finish). */
struct run_counters {
    uint64_t frames, smtp_packets, connections, sessions;
    uint64_t undecodable;      /* truncated, bad header, not IP */
    uint64_t fragments, payload_cut, midstream, gaps;
    uint64_t evicted, kernel_drops, reassembly_warnings;
    uint64_t selected; /* sessions written when --only/--phase select */
    bool selection;    /* --only or --phase was given */
};

/* Counts over the whole run, written at the end: as text, or as one JSON
 * record of "type": "summary" when json is set. `counters` is read when
 * the run finishes. */
struct sink *sink_summary_new(FILE *f, bool json, const struct run_counters *counters);

/* --top: the live console on /dev/tty (NULL when there is no terminal).
 * `open_sessions` is read at each redraw; q sets *stop. top_wait keeps the
 * final view up until q once the input has ended. */
struct sink *sink_top_new(const char *source, const uint64_t *open_sessions,
                          volatile sig_atomic_t *stop, const struct run_counters *counters);
void top_wait(struct sink *top);

/* -w FILE: the packets of the sessions written, as a pcap. With files
 * (not stdin) they are read again when the run finishes; files NULL: each
 * session's packets come with it (session.packets, a live capture).
 * NULL with the message said when FILE cannot be created; quiet: what
 * a stream's bounded buffers did not hold is not said; filter: the BPF
 * expression of the run (the second read sees the frames the first saw). */
struct sink *sink_pcap_new(const char *path, const char *const *files, int nfiles,
                           const char *filter, bool quiet);

/* --tsv FIELDS: a "#fields" line, then one tab-separated row a session
 * (zeek-cut style). tsv_parse_fields checks a list: the number of columns
 * (their indexes in cols), or -1 with the reason in err. */
int tsv_parse_fields(const char *list, unsigned char *cols, int max, char *err, size_t errlen);
struct sink *sink_tsv_new(FILE *f, const char *list);

/* --messages: at the end, one trail per message across the capture's hops
 * (text "# message" blocks, or JSON records of "type": "message"). */
struct sink *sink_messages_new(FILE *f, bool json);

#endif
