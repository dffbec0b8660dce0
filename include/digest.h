/* digest.h - what --compare keeps of a session seen at one capture point.
 *
 * Each side of a comparison runs the whole pipeline in its own process;
 * its only sink turns every finished session into a digest: the dialogue's
 * wire lines with their times (bounded), the envelope, the EHLO name and
 * keywords, the TLS certificate's hash, how TCP ended and the findings.
 * A digest is one contiguous block (fixed header, line table, text), so it
 * crosses the pipe to the parent as it is; the parent checks every offset
 * before it believes one.
 */
#ifndef SMTPSCOPE_DIGEST_H
#define SMTPSCOPE_DIGEST_H

#include <stdbool.h>
#include <stdint.h>

#include "endpoint.h"
#include "finding.h"
#include "output.h"
#include "timeval.h"

#define DIGEST_MAX_LINES 600
#define DIGEST_LINE_MAX 512       /* bytes of one line kept */
#define DIGEST_TEXT_MAX (96 * 1024)
#define DIGEST_MAX_SIZE (256 * 1024)

enum dline_kind { DL_CLIENT = 0, DL_SERVER, DL_BODY, DL_TLS };

struct dline {
    smtp_time ts;
    int64_t latency_ns; /* first line of a reply: since its command; else -1 */
    uint64_t value;     /* DL_BODY: bytes of the message */
    uint32_t off, len;  /* into the text */
    uint8_t kind;       /* enum dline_kind */
    uint8_t cmd;        /* first line of a reply: the command answered */
    uint8_t first;      /* the first line of a reply */
};

struct dstr {
    uint32_t off, len;
};

struct digest {
    uint32_t size;      /* bytes of the whole block */
    uint32_t id;        /* the session id on its side */
    struct endpoint client, server;
    smtp_time start, end;
    uint8_t handshake;  /* enum handshake */
    uint8_t tcp_end;    /* enum tcp_end */
    uint8_t verdict;    /* enum verdict */
    uint8_t fail_phase; /* enum smtp_phase of the failure */
    bool quit, tls, cert;
    bool one_sided;     /* only one direction of it was captured */
    int32_t fail_code;
    uint32_t ehlo_keywords; /* enum esmtp_kw bits of the last EHLO reply */
    uint32_t ntxn, nrcpt;
    uint64_t msg_bytes;     /* all message bodies */
    uint64_t first_frame;
    uint8_t cert_sha256[32];
    struct finding_set found;
    uint32_t nlines, lines_dropped;
    uint32_t text_len;
    /* in the text: helo name, first MAIL FROM, the recipients (lower case,
     * sorted, one space between), the first Message-ID, the client's first
     * line (what a proxy relays before it speaks for itself) */
    struct dstr helo, mail_from, rcpts, message_id, first_cmd;
    /* struct dline lines[nlines] and the text follow */
};

static inline const struct dline *digest_lines(const struct digest *d)
{
    return (const struct dline *)(d + 1);
}

static inline const char *digest_text(const struct digest *d)
{
    return (const char *)(digest_lines(d) + d->nlines);
}

static inline const char *digest_str(const struct digest *d, struct dstr s)
{
    return digest_text(d) + s.off;
}

/* The digest of a finished session (malloc'd, d->size bytes); NULL when
 * out of memory. */
struct digest *digest_of(const struct session *s);

/* The sink of one side's process: each session's digest as one frame on fd. */
struct sink *digest_sink_new(int fd);

/* The next digest from fd (malloc'd): 1 with *out set, 0 at the end of the
 * stream, -1 when what came is not a well-formed digest (said in err). */
int digest_read(int fd, struct digest **out, char *err, size_t errlen);
/* The same from a block in memory (a frame already read). */
bool digest_check(const struct digest *d, char *err, size_t errlen);

#endif
