/* compare.h - --compare: one session seen at two capture points.
 *
 * The client side is the capture nearer the client (the first input), the
 * server side the one nearer the server. Pairing finds, for every session
 * of one side, the same session on the other, even when a middlebox
 * re-originated the connection (other ports, addresses, sequence numbers):
 * by the connection's addresses, the Message-ID, the envelope, the EHLO
 * name and the time, with the two clocks' offset estimated from the pairs
 * that are sure. The diff aligns the two dialogues line by line and says
 * what the path between the capture points did (findings of kind
 * "middlebox"), and what it cost in time per command.
 */
#ifndef SMTPSCOPE_COMPARE_H
#define SMTPSCOPE_COMPARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "digest.h"
#include "finding.h"

enum cmp_side { CMP_CLIENT_SIDE = 0, CMP_SERVER_SIDE = 1 };

/* What made two sessions a pair (bits of cmp_match.by), in output order. */
#define CMP_EVIDENCE(X)                                                       \
    X(TUPLE, "addresses")      /* the same four addresses and ports */          \
    X(CLIENT, "client-endpoint") /* the client's address and port */           \
    X(MESSAGE_ID, "message-id") X(ENVELOPE, "envelope") X(SIZE, "size")        \
    X(EHLO, "ehlo") X(FIRST_COMMAND, "first-command") X(TIME, "time")

enum cmp_evidence_bit {
#define CMP_EVIDENCE_ENUM(id, name) CMP_BIT_##id,
    CMP_EVIDENCE(CMP_EVIDENCE_ENUM)
#undef CMP_EVIDENCE_ENUM
    CMP_BIT__COUNT
};

const char *cmp_evidence_name(unsigned bit);

struct cmp_match {
    int c, s;        /* indexes into the sides' digests; -1: none there */
    int score;
    unsigned by;     /* 1u << CMP_BIT_* */
    bool ambiguous;  /* another candidate scored as well: the pair is a guess */
};

/* Pairs the sides' sessions. *out (malloc'd, *nout entries) holds every
 * session of both sides exactly once, paired or alone, in the order of
 * their start time (the client side's clock). *offset_ns: the server
 * side's clock minus the client side's, as estimated. Returns -1 when out
 * of memory. */
int compare_pair(struct digest *const *c, size_t nc, struct digest *const *s, size_t ns,
                 struct cmp_match **out, size_t *nout, int64_t *offset_ns);

/* One row of the aligned dialogues. */
enum cmp_mark { CMP_SAME = 0, CMP_CHANGED, CMP_ONLY };
struct cmp_row {
    int c, s;        /* line indexes on each side; -1: none there */
    uint8_t mark;
};

#define CMP_MAX_NOTES 16
struct cmp_note {
    uint16_t id;     /* enum finding_id */
    uint32_t count;  /* times seen in the pair; detail: the first */
    char detail[160];
};

struct cmp_delta {
    uint8_t cmd;     /* enum smtp_cmd answered */
    int64_t client_ns, server_ns; /* the reply's latency on each side */
};

#define CMP_MAX_DELTAS 64
struct cmp_result {
    struct cmp_row *rows;
    size_t nrows;
    struct finding_set found;
    struct cmp_note notes[CMP_MAX_NOTES];
    unsigned nnotes;
    struct cmp_delta deltas[CMP_MAX_DELTAS];
    unsigned ndeltas;
    int64_t added_median_ns; /* the middle of client minus server latency */
    bool added_known;
};

/* The diff of a pair (either digest may be NULL: a session one side only
 * saw); offset_ns: the server side's clock minus the client side's;
 * slow_ms: one reply delayed this much by the path is a finding (the
 * median reply, from 0.5 s). 0, or -1 when out of memory.
 * cmp_result_free releases what it holds. */
int compare_diff(const struct digest *c, const struct digest *s, int64_t offset_ns,
                 int slow_ms, struct cmp_result *r);
void cmp_result_free(struct cmp_result *r);
/* Adds a finding of the pair's own (the pairing's doubt, say). */
void cmp_result_note(struct cmp_result *r, enum finding_id id, const char *detail);

/* The writers: text interleaves both views, JSON writes one "type":
 * "pair" record a pair; the summary counts what the path did. */
struct cmp_writer;
struct cmp_writer *cmp_writer_new(FILE *f, bool json, bool summary, bool localtime);
void cmp_write_pair(struct cmp_writer *w, const struct cmp_match *m,
                    const struct digest *c, const struct digest *s,
                    const struct cmp_result *r);
void cmp_writer_finish(struct cmp_writer *w, size_t nc, size_t ns, int64_t offset_ns);
void cmp_writer_free(struct cmp_writer *w);
/* The JSON writer the HTML page reads: each pair also gets "view", every
 * line of both sides (the server side's shifted by offset_ns onto the
 * client side's clock) and every aligned row; it warns of nothing. */
void cmp_writer_views(struct cmp_writer *w, int64_t offset_ns);

/* --compare --html: the self-contained page (src/compare_report.html, with
 * the pairs as data): the tally, the table of pairs, a three-lane ladder
 * per pair. sides: the two sides' names, for the title. */
struct cmp_html;
struct cmp_html *cmp_html_new(FILE *out, const char *const sides[2], const char *version,
                              int64_t offset_ns);
void cmp_html_pair(struct cmp_html *h, const struct cmp_match *m, const struct digest *c,
                   const struct digest *s, const struct cmp_result *r);
/* Writes the page; false when the pairs could not be kept (out of memory,
 * or the temporary file failed). */
bool cmp_html_finish(struct cmp_html *h, size_t nc, size_t ns, int64_t offset_ns);
void cmp_html_free(struct cmp_html *h);

/* The run: side k (0 the client side, 1 the server side) runs in a child
 * process as run_side(ctx, k, fd), writing digests to fd; the parent pairs
 * what both sent once both have ended and writes to out. Returns the exit
 * status (the larger of the sides', 3 when out of memory). */
typedef int (*cmp_side_fn)(void *ctx, int side, int fd);
struct compare_config {
    bool json, summary, localtime;
    int slow_ms;
    FILE *html;               /* --html: the page goes there too (NULL: none) */
    const char *sides[2];     /* the sides' names, for the page */
    const char *version;
};
int compare_run(cmp_side_fn run_side, void *ctx, FILE *out, const struct compare_config *cfg);

#endif
