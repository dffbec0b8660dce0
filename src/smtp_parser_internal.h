/* smtp_parser_internal.h - what the parser's files share (not an API).
 *
 * smtp_parser.c         names, pending queue, line assembly, entry points
 * smtp_parser_client.c  client lines: commands, AUTH responses, the hold,
 *                       mid-stream placement
 * smtp_parser_reply.c   server lines: replies, pairing by evidence
 * smtp_parser_body.c    DATA bodies, BDAT chunks, the header tap
 */
#ifndef SMTPSCOPE_SMTP_PARSER_INTERNAL_H
#define SMTPSCOPE_SMTP_PARSER_INTERNAL_H

#include "smtp_parser.h"

enum { BODY_BOL = 0, BODY_MID, BODY_DOT, BODY_DOT_CR };

/* private flag of a parsed BDAT command: its size was valid */
#define SP_BDAT_VALID 0x100u

static inline char sp_upper(char c) { return (c >= 'a' && c <= 'z') ? c - 32 : c; }
static inline bool sp_is_digit(char c) { return c >= '0' && c <= '9'; }

static inline bool sp_word_eq(const char *s, size_t n, const char *word)
{
    size_t i = 0;
    for (; i < n && word[i]; i++)
        if (sp_upper(s[i]) != word[i])
            return false;
    return i == n && word[i] == '\0';
}

void sp_anomaly(struct smtp_parser *p, enum smtp_anomaly a, enum smtp_dir dir,
                smtp_time ts);
void sp_anomaly_detail(struct smtp_parser *p, enum smtp_anomaly a,
                       enum smtp_dir dir, smtp_time ts, const char *detail);

static inline uint32_t sp_announce(struct smtp_parser *p,
                                   const struct smtp_command *c)
{
    return p->settings->on_command ? p->settings->on_command(p, c) : 0;
}

/* pending queue */
void sp_pending_push(struct smtp_parser *p, enum smtp_cmd cmd, uint32_t tag,
                     smtp_time ts_last);
static inline struct smtp_pending *sp_pending_at(const struct smtp_parser *p,
                                                 uint32_t i)
{
    return &p->pending[(p->pend_head + i) % p->pend_cap];
}
static inline struct smtp_pending *sp_pending_front(const struct smtp_parser *p)
{
    return p->pend_count ? sp_pending_at(p, 0) : NULL;
}
static inline struct smtp_pending *sp_pending_newest(const struct smtp_parser *p)
{
    return p->pend_count ? sp_pending_at(p, p->pend_count - 1) : NULL;
}
void sp_pending_pop(struct smtp_parser *p);

/* line assembly */
typedef void (*sp_line_fn)(struct smtp_parser *, enum smtp_dir,
                           struct smtp_span line, unsigned flags,
                           size_t wire_len, smtp_time ts_first, smtp_time ts_last);
size_t sp_line_scan(struct smtp_parser *p, enum smtp_dir dir, const char *buf,
                    size_t len, smtp_time ts, sp_line_fn fn);
void sp_line_deliver(struct smtp_parser *p, enum smtp_dir dir, const char *s,
                     size_t n, bool complete, smtp_time ts, sp_line_fn fn);

/* client side */
void sp_client_line(struct smtp_parser *p, enum smtp_dir dir,
                    struct smtp_span line, unsigned flags, size_t wire_len,
                    smtp_time ts_first, smtp_time ts_last);
/* Bytes after TLS started: counted, and shown to the TLS reader. */
static inline void sp_tls_bytes(struct smtp_parser *p, enum smtp_dir dir,
                                const char *buf, size_t len, smtp_time ts)
{
    p->tls_bytes[dir] += len;
    if (p->settings->on_tls_data)
        p->settings->on_tls_data(p, dir, buf, len, ts);
}

void sp_client_consume(struct smtp_parser *p, const char *buf, size_t len,
                       smtp_time ts); /* in smtp_parser_body.c */
/* A TLS record at a line start of `dir` right after a 220 that was not the
 * greeting: the STARTTLS go-ahead, its command not in the capture. Starts
 * TLS (tls_inferred) and returns true; false otherwise. */
bool sp_tls_after_220(struct smtp_parser *p, enum smtp_dir dir, const char *buf,
                      size_t len, smtp_time ts);
void sp_hold_bytes(struct smtp_parser *p, const char *buf, size_t len,
                   smtp_time ts);
void sp_hold_replay(struct smtp_parser *p);
void sp_hold_force_release(struct smtp_parser *p, smtp_time ts);
static inline bool sp_client_must_hold(const struct smtp_parser *p)
{
    return p->awaiting_mode_reply && p->mode == SMTP_MODE_COMMAND;
}
void sp_unplaced_resolve(struct smtp_parser *p, bool body_ended_ok);
bool sp_sasl_like(struct smtp_span line);

/* server side */
void sp_server_line(struct smtp_parser *p, enum smtp_dir dir,
                    struct smtp_span line, unsigned flags, size_t wire_len,
                    smtp_time ts_first, smtp_time ts_last);
void sp_server_consume(struct smtp_parser *p, const char *buf, size_t len,
                       smtp_time ts);
bool sp_reply_start(const char *s, size_t n);

/* bodies */
/* smtp_parser_mime.c: the value of parameter key (boundary, filename,
 * name) in a field value, quotes taken off; 0 when absent. */
#define SP_MIME_BOUNDARY_MAX 72 /* RFC 2046: at most 70 characters */
#define SP_MIME_BOUNDARIES 4    /* nested multiparts followed */
size_t sp_mime_param(const char *v, size_t n, const char *key, const char **out);
bool sp_mime_is_boundary(const char (*bound)[SP_MIME_BOUNDARY_MAX], const uint8_t *blen,
                         int nbound, const char *line, size_t n);

void sp_header_start(struct smtp_parser *p);
void sp_header_stop(struct smtp_parser *p);
void sp_start_body(struct smtp_parser *p);
void sp_body_finished(struct smtp_parser *p, smtp_time ts, bool bdat,
                      bool incomplete);
void sp_end_of_data(struct smtp_parser *p, smtp_time ts);

#endif
