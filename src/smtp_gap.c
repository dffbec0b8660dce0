/* smtp_gap.c - bytes of one direction the capture lacks (see smtp_parser.h).
 *
 * Built on smtp_parser_execute and the parser's public state only: the line
 * in progress is ended where the gap begins (fed a CR LF, not counted as
 * wire bytes), a reply in progress is completed there (its last line lost
 * with the gap: a terminating line of the same code is fed with the line
 * callback masked, so nothing made up reaches the transcript), and each
 * direction then waits for a line it can place, as after a mid-stream
 * pickup. A message body goes on: the gap counts as body bytes, and the
 * next bytes are taken to start a line (segments mostly end at one, and a
 * final "." after the gap must end the body).
 */
#include "smtp_gap.h"
#include "smtp_parser_internal.h"

#include <string.h>

/* smtp_parser.c's body state at the beginning of a line (BODY_BOL) */
#define GAP_BODY_BOL 0

/* Feeds bytes that are not wire bytes: the counters and the first bytes
 * kept for reports stay as they were. */
static void feed_quiet(struct smtp_parser *p, enum smtp_dir dir, const char *s,
                       size_t n, smtp_time ts,
                       const struct smtp_parser_settings *settings)
{
    const struct smtp_parser_settings *saved = p->settings;
    uint8_t nfirst = p->nfirst[dir];
    uint64_t wire = p->wire_bytes[dir];
    p->nfirst[dir] = SMTP_FIRST_BYTES;
    p->settings = settings;
    smtp_parser_execute(p, dir, s, n, ts);
    p->settings = saved;
    p->nfirst[dir] = nfirst;
    p->wire_bytes[dir] = wire;
}

static void chunk_gap(struct smtp_parser *p, size_t len, smtp_time ts)
{
    if (len < p->chunk_left) {
        p->chunk_left -= len;
        p->body_bytes += len;
        return;
    }
    /* The chunk ends inside the gap: the rest of it is fed as filler with
     * the body callbacks masked, so the chunk ends as the parser knows. */
    struct smtp_parser_settings quiet = *p->settings;
    quiet.on_body_data = NULL;
    quiet.on_header = NULL;
    static const char zeros[512];
    while (p->mode == SMTP_MODE_CHUNK && p->chunk_left) {
        size_t n = p->chunk_left < sizeof zeros ? (size_t)p->chunk_left : sizeof zeros;
        feed_quiet(p, SMTP_FROM_CLIENT, zeros, n, ts, &quiet);
    }
    p->resync[SMTP_FROM_CLIENT] = true;
}

bool smtp_parser_body_lost_end(struct smtp_parser *p, smtp_time ts)
{
    if (p->mode != SMTP_MODE_BODY || p->tls || p->not_smtp)
        return false;
    /* the gap, counted as body bytes, held the final ".\r\n" too */
    p->body_bytes -= p->body_bytes < 3 ? p->body_bytes : 3;
    p->body_state = GAP_BODY_BOL;
    feed_quiet(p, SMTP_FROM_CLIENT, ".\r\n", 3, ts, p->settings);
    return true;
}

void smtp_parser_gap(struct smtp_parser *p, enum smtp_dir dir, size_t len,
                     smtp_time ts)
{
    if (p->not_smtp || len == 0)
        return;
    if (p->tls) {
        sp_tls_bytes(p, dir, NULL, len, ts);
        return;
    }
    if (dir == SMTP_FROM_CLIENT && p->mode == SMTP_MODE_BODY) {
        p->body_bytes += len;
        p->body_state = GAP_BODY_BOL;
        return;
    }
    if (dir == SMTP_FROM_CLIENT && p->mode == SMTP_MODE_CHUNK) {
        chunk_gap(p, len, ts);
        return;
    }
    if (p->line[dir].wire_len > 0) { /* cut, not malformed: no findings */
        struct smtp_parser_settings quiet = *p->settings;
        quiet.on_anomaly = NULL;
        feed_quiet(p, dir, "\r\n", 2, ts, &quiet);
    }
    if (dir == SMTP_FROM_SERVER && p->in_reply && !p->not_smtp) {
        char end[8];
        int code = p->reply_code >= 100 && p->reply_code <= 999 ? p->reply_code : 0;
        end[0] = (char)('0' + code / 100);
        end[1] = (char)('0' + code / 10 % 10);
        end[2] = (char)('0' + code % 10);
        memcpy(end + 3, " \r\n", 3);
        struct smtp_parser_settings quiet = *p->settings;
        quiet.on_reply_line = NULL;
        quiet.on_anomaly = NULL;
        p->reply_lines--; /* the made-up line is not counted */
        feed_quiet(p, dir, end, 6, ts, &quiet);
    }
    p->resync[dir] = true;
}

void smtp_parser_encrypted(struct smtp_parser *p)
{
    p->tls = p->implicit_tls = true;
}
