/* smtp_parser.c - streaming SMTP conversation parser (see smtp_parser.h):
 * names, the pending-command queue, line assembly and the entry points.
 *
 * Design notes:
 * - Lines are found with memchr; a line that lies wholly inside one input
 *   call is handed out in place (no copy). Only lines split across calls are
 *   assembled in a bounded per-direction buffer.
 * - Replies are matched to a FIFO of pending commands, realigned when a
 *   reply's code names another pending command (smtp_parser_reply.c).
 * - A command whose answer decides how the client's next bytes are read
 *   (DATA, STARTTLS) makes the parser hold further client bytes until that
 *   answer arrives; then they are replayed as body, TLS or commands as the
 *   answer says. AUTH responses are told from commands by the client's
 *   side alone (smtp_parser_client.c).
 */
#include "smtp_parser_internal.h"

#include <stdlib.h>
#include <string.h>

static const char *const cmd_names[SMTP_CMD__COUNT] = {
    [SMTP_CMD_NONE] = "(none)",        [SMTP_CMD_CONNECT] = "(connect)",
    [SMTP_CMD_HELO] = "HELO",          [SMTP_CMD_EHLO] = "EHLO",
    [SMTP_CMD_MAIL] = "MAIL",          [SMTP_CMD_RCPT] = "RCPT",
    [SMTP_CMD_DATA] = "DATA",          [SMTP_CMD_BDAT] = "BDAT",
    [SMTP_CMD_END_OF_DATA] = "(end-of-data)",
    [SMTP_CMD_RSET] = "RSET",          [SMTP_CMD_NOOP] = "NOOP",
    [SMTP_CMD_VRFY] = "VRFY",          [SMTP_CMD_EXPN] = "EXPN",
    [SMTP_CMD_HELP] = "HELP",          [SMTP_CMD_QUIT] = "QUIT",
    [SMTP_CMD_STARTTLS] = "STARTTLS",  [SMTP_CMD_AUTH] = "AUTH",
    [SMTP_CMD_AUTH_RESPONSE] = "(auth-response)",
    [SMTP_CMD_UNKNOWN] = "(unknown)",
};

const char *smtp_cmd_name(enum smtp_cmd cmd)
{
    return (unsigned)cmd < SMTP_CMD__COUNT ? cmd_names[cmd] : "(invalid)";
}

static const char *const anomaly_names[SMTP_ANOM__COUNT] = {
    [SMTP_ANOM_LINE_TOO_LONG] = "line-too-long",
    [SMTP_ANOM_BARE_LF] = "bare-lf",
    [SMTP_ANOM_NUL_BYTE] = "nul-byte",
    [SMTP_ANOM_MALFORMED_REPLY] = "malformed-reply",
    [SMTP_ANOM_REPLY_CODE_RANGE] = "reply-code-out-of-range",
    [SMTP_ANOM_REPLY_CODE_CHANGED] = "reply-code-changed",
    [SMTP_ANOM_UNSOLICITED_REPLY] = "unsolicited-reply",
    [SMTP_ANOM_EARLY_TALKER] = "early-talker",
    [SMTP_ANOM_MIDSTREAM_SKIP] = "midstream-skipped",
    [SMTP_ANOM_PENDING_OVERFLOW] = "pending-overflow",
    [SMTP_ANOM_HOLD_OVERFLOW] = "hold-overflow",
    [SMTP_ANOM_BDAT_MALFORMED] = "bdat-malformed",
    [SMTP_ANOM_PAIRING_RESYNC] = "pairing-resync",
};

const char *smtp_anomaly_name(enum smtp_anomaly a)
{
    return (unsigned)a < SMTP_ANOM__COUNT ? anomaly_names[a] : "unknown";
}

void sp_anomaly_detail(struct smtp_parser *p, enum smtp_anomaly a,
                       enum smtp_dir dir, smtp_time ts, const char *detail)
{
    if (p->settings->on_anomaly)
        p->settings->on_anomaly(p, a, dir, ts,
                                (struct smtp_span){detail, strlen(detail)});
}

void sp_anomaly(struct smtp_parser *p, enum smtp_anomaly a, enum smtp_dir dir,
                smtp_time ts)
{
    sp_anomaly_detail(p, a, dir, ts, "");
}

/* ---- pending-command ring ---------------------------------------------- */

void sp_pending_push(struct smtp_parser *p, enum smtp_cmd cmd,
                     uint32_t tag, smtp_time ts_last)
{
    if (p->pend_count == p->pend_cap) {
        uint32_t ncap = p->pend_cap ? p->pend_cap * 2 : 8;
        struct smtp_pending *n;
        if (ncap > SMTP_PENDING_MAX ||
            !(n = malloc(ncap * sizeof *n))) {
            p->pend_dropped++;
            sp_anomaly(p, SMTP_ANOM_PENDING_OVERFLOW, SMTP_FROM_CLIENT, ts_last);
            return;
        }
        for (uint32_t i = 0; i < p->pend_count; i++)
            n[i] = p->pending[(p->pend_head + i) % p->pend_cap];
        free(p->pending);
        p->pending = n;
        p->pend_head = 0;
        p->pend_cap = ncap;
    }
    struct smtp_pending *e =
        &p->pending[(p->pend_head + p->pend_count) % p->pend_cap];
    e->cmd = (uint8_t)cmd;
    e->tag = tag;
    e->ts_last = ts_last;
    p->pend_count++;
}

void sp_pending_pop(struct smtp_parser *p)
{
    if (!p->pend_count)
        return;
    p->pend_head = (p->pend_head + 1) % p->pend_cap;
    p->pend_count--;
}

enum smtp_cmd smtp_parser_awaiting(const struct smtp_parser *p)
{
    const struct smtp_pending *e = sp_pending_front(p);
    return e ? (enum smtp_cmd)e->cmd : SMTP_CMD_NONE;
}

/* ---- init / free ------------------------------------------------------- */

void smtp_parser_init(struct smtp_parser *p,
                      const struct smtp_parser_settings *settings, void *data)
{
    memset(p, 0, sizeof *p);
    p->settings = settings;
    p->data = data;
    p->body_ts_first = -1; /* no body under way */
    for (int d = 0; d < 2; d++)
        bytebuf_init(&p->line[d].buf, SMTP_LINE_MAX + 2); /* + CR LF */
    bytebuf_init(&p->hold, SMTP_HOLD_MAX);
    bytebuf_init(&p->unplaced, SMTP_UNPLACED_MAX);
    /* The greeting answers the connection itself. */
    sp_pending_push(p, SMTP_CMD_CONNECT, 0, 0);
}

void smtp_parser_no_greeting(struct smtp_parser *p)
{
    p->pend_count = 0;
    p->greeted = true;
}

void smtp_parser_set_midstream(struct smtp_parser *p)
{
    smtp_parser_no_greeting(p);
    p->midstream = true;
    p->resync[SMTP_FROM_CLIENT] = p->resync[SMTP_FROM_SERVER] = true;
    p->unplaced_on = true; /* client lines wait for a reply to place them */
}

void smtp_parser_free(struct smtp_parser *p)
{
    for (int d = 0; d < 2; d++)
        bytebuf_free(&p->line[d].buf);
    bytebuf_free(&p->hold);
    bytebuf_free(&p->unplaced);
    sp_header_stop(p);
    free(p->pending);
    p->pending = NULL;
    p->pend_count = p->pend_cap = 0;
}

/* ---- small scanners ---------------------------------------------------- */

bool smtp_parse_path(struct smtp_span arg, const char *keyword,
                     struct smtp_span *addr)
{
    size_t kl = strlen(keyword), i = 0;
    const char *s = arg.p;
    while (i < arg.len && s[i] == ' ') i++;
    if (arg.len - i < kl + 1 || !sp_word_eq(s + i, kl, keyword) ||
        s[i + kl] != ':')
        return false;
    i += kl + 1;
    while (i < arg.len && s[i] == ' ') i++;
    size_t start = i;
    if (i < arg.len && s[i] == '<') {
        start = ++i;
        while (i < arg.len && s[i] != '>') i++;
    } else {
        while (i < arg.len && s[i] != ' ') i++;
    }
    addr->p = s + start;
    addr->len = i - start;
    return true;
}

/* ---- line assembly ------------------------------------------------------ */

void sp_line_deliver(struct smtp_parser *p, enum smtp_dir dir, const char *s,
                     size_t n, bool complete, smtp_time ts, sp_line_fn fn)
{
    struct smtp_linebuf *lb = &p->line[dir];
    unsigned flags = 0;
    if (complete) {
        n--; /* the LF */
        if (n > 0 && s[n - 1] == '\r')
            n--;
        else if (!lb->truncated) {
            flags |= SMTP_LINE_BARE_LF;
            sp_anomaly(p, SMTP_ANOM_BARE_LF, dir, ts);
        }
    }
    if (n > SMTP_LINE_MAX) {
        n = SMTP_LINE_MAX;
        lb->truncated = true;
    }
    if (!complete && !lb->truncated)
        flags |= SMTP_LINE_UNTERMINATED;
    if (lb->truncated) {
        flags |= SMTP_LINE_TRUNCATED;
        sp_anomaly(p, SMTP_ANOM_LINE_TOO_LONG, dir, ts);
    }
    if (lb->has_nul || memchr(s, '\0', n))
        sp_anomaly(p, SMTP_ANOM_NUL_BYTE, dir, ts);
    struct smtp_span line = {s, n};
    size_t wire_len = lb->wire_len;
    smtp_time ts_first = lb->ts_first;
    bytebuf_clear(&lb->buf);
    lb->wire_len = 0;
    lb->truncated = lb->has_nul = false;
    fn(p, dir, line, flags, wire_len, ts_first, ts);
}

/* Consumes input up to and including the next LF, delivering a complete
 * line to fn. Returns the number of bytes consumed. */
size_t sp_line_scan(struct smtp_parser *p, enum smtp_dir dir, const char *buf,
                    size_t len, smtp_time ts, sp_line_fn fn)
{
    struct smtp_linebuf *lb = &p->line[dir];
    const char *nl = memchr(buf, '\n', len);
    size_t take = nl ? (size_t)(nl - buf) + 1 : len;
    if (lb->wire_len == 0)
        lb->ts_first = ts;
    lb->wire_len += take;
    if (nl && lb->buf.len == 0 && lb->wire_len == take) {
        sp_line_deliver(p, dir, buf, take, true, ts, fn); /* in place */
        return take;
    }
    /* Keep at most SMTP_LINE_MAX + 2 bytes (room for CR LF); count the rest. */
    size_t room = SMTP_LINE_MAX + 2 - lb->buf.len;
    size_t keep = take < room ? take : room;
    if (memchr(buf, '\0', keep))
        lb->has_nul = true;
    bytebuf_append(&lb->buf, buf, keep);
    if (keep < take)
        lb->truncated = true;
    if (nl) {
        if (lb->truncated) {
            /* The kept prefix has no LF: deliver it as an unterminated line. */
            sp_line_deliver(p, dir, lb->buf.p, lb->buf.len, false, ts, fn);
        } else {
            sp_line_deliver(p, dir, lb->buf.p, lb->buf.len, true, ts, fn);
        }
    }
    return take;
}

/* The first bytes of each direction decide whether this is SMTP at all: a
 * TLS handshake record (0x16) as the very first byte means implicit TLS
 * (SMTPS, port 465), and so does an alert record (0x15 0x03) as the
 * server's first (its refusal of a ClientHello the capture may lack); the
 * server's first line being no reply means the port carries something
 * else (see server_line). */
static bool first_bytes(struct smtp_parser *p, enum smtp_dir dir,
                        const char *buf, size_t len, smtp_time ts)
{
    p->started[dir] = true;
    bool alert = dir == SMTP_FROM_SERVER && len > 1 && buf[0] == 0x15 && buf[1] == 0x03;
    if (len && ((unsigned char)buf[0] == 0x16 || alert) && !p->midstream && !p->tls &&
        (dir == SMTP_FROM_SERVER || !p->greeted ||
         p->wire_bytes[SMTP_FROM_SERVER] == 0)) { /* no greeting captured */
        p->tls = true;
        p->implicit_tls = true;
        if (p->settings->on_tls)
            p->settings->on_tls(p, ts);
        return true;
    }
    return false;
}

void smtp_parser_execute(struct smtp_parser *p, enum smtp_dir dir,
                         const char *buf, size_t len, smtp_time ts)
{
    p->wire_bytes[dir] += len;
    if (p->nfirst[dir] < SMTP_FIRST_BYTES) {
        size_t room = (size_t)SMTP_FIRST_BYTES - p->nfirst[dir];
        size_t k = room < len ? room : len;
        memcpy(p->first[dir] + p->nfirst[dir], buf, k);
        p->nfirst[dir] = (uint8_t)(p->nfirst[dir] + k);
    }
    if (!p->started[dir] && len && first_bytes(p, dir, buf, len, ts)) {
        sp_tls_bytes(p, dir, buf, len, ts);
        return;
    }
    if (p->not_smtp)
        return;
    if (dir == SMTP_FROM_SERVER)
        sp_server_consume(p, buf, len, ts);
    else
        sp_client_consume(p, buf, len, ts);
}

void smtp_parser_finish(struct smtp_parser *p, smtp_time ts)
{
    if (p->tls || p->not_smtp)
        return;
    sp_unplaced_resolve(p, false); /* no reply came to place them */
    /* Nothing more will answer: bytes held for an answer are read on. */
    for (int i = 0; p->hold.len && i < SMTP_PENDING_MAX; i++)
        sp_hold_force_release(p, ts); /* replay may hold again (one-sided capture) */
    /* A body cut off by the end of the connection: its bytes were on the
     * wire all the same (a reset in the middle of a large message). */
    if (p->body_ts_first >= 0) {
        bool bdat = p->mode != SMTP_MODE_BODY;
        p->mode = SMTP_MODE_COMMAND;
        sp_body_finished(p, p->body_ts_last, bdat, true);
    }
    for (int d = 0; d < 2; d++) {
        struct smtp_linebuf *lb = &p->line[d];
        if (lb->wire_len == 0)
            continue;
        if (d == SMTP_FROM_CLIENT && p->mode != SMTP_MODE_COMMAND)
            continue;
        sp_line_deliver(p, (enum smtp_dir)d, lb->buf.p ? lb->buf.p : "",
                     lb->buf.len, false, ts,
                     d == SMTP_FROM_CLIENT ? sp_client_line : sp_server_line);
    }
}

struct smtp_parser_info smtp_parser_info(const struct smtp_parser *p)
{
    struct smtp_parser_info i = {
        .not_smtp = p->not_smtp, .implicit_tls = p->implicit_tls, .tls = p->tls,
        .tls_unasked = p->tls_unasked,
        .in_reply = p->in_reply,
        .body_open = p->mode == SMTP_MODE_BODY,
    };
    for (int d = 0; d < 2; d++) {
        i.wire_bytes[d] = p->wire_bytes[d];
        i.tls_bytes[d] = p->tls_bytes[d];
    }
    return i;
}
