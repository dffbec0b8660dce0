/* smtp_parser_reply.c - the server's side: reply lines, replies, and their
 * pairing with the pending commands, by queue order unless a reply's code
 * says otherwise (see smtp_parser.h).
 */
#include "smtp_parser_internal.h"

#include <stdio.h>
#include <string.h>

#include "esmtp.h"

/* How far down the queue a reply's code may look for the command it names:
 * bounded so that hostile replies cost no scan of a long queue. */
#define EVIDENCE_SCAN 64

/* "d.ddd.ddd" (RFC 3463 class 2, 4 or 5) at the start of s. */
static size_t enhanced_code_len(const char *s, size_t n)
{
    if (n < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.')
        return 0;
    size_t i = 2, digits = 0;
    while (i < n && sp_is_digit(s[i]) && digits < 3) i++, digits++;
    if (!digits || i >= n || s[i] != '.')
        return 0;
    i++;
    digits = 0;
    while (i < n && sp_is_digit(s[i]) && digits < 3) i++, digits++;
    if (!digits || (i < n && s[i] != ' '))
        return 0;
    return i;
}

/* "ddd" then a space, '-' or the line's end: where a reply may begin. */
bool sp_reply_start(const char *s, size_t n)
{
    return n >= 3 && s[0] >= '2' && s[0] <= '5' && sp_is_digit(s[1]) &&
           sp_is_digit(s[2]) &&
           (n == 3 || s[3] == ' ' || s[3] == '-' || s[3] == '\r');
}

/* ---- pairing by evidence ------------------------------------------------ */

static void report_resync(struct smtp_parser *p, smtp_time ts, const char *what)
{
    if (p->resync_reported)
        return;
    p->resync_reported = true;
    sp_anomaly_detail(p, SMTP_ANOM_PAIRING_RESYNC, SMTP_FROM_SERVER, ts, what);
}

/* The command a reply code can only answer; SMTP_CMD_NONE when the code
 * fits several. */
static enum smtp_cmd named_by_code(const struct smtp_parser *p, int code)
{
    const struct smtp_pending *front = sp_pending_front(p);
    switch (code) {
    case 354:
        return SMTP_CMD_DATA;
    case 334: case 235: case 534: case 535: case 538:
        return SMTP_CMD_AUTH;
    case 221:
        return SMTP_CMD_QUIT;
    case 220: /* the greeting, or the go-ahead of STARTTLS */
        return front && front->cmd != SMTP_CMD_CONNECT ? SMTP_CMD_STARTTLS
                                                       : SMTP_CMD_NONE;
    default:
        return SMTP_CMD_NONE;
    }
}

/* Drops the `n` oldest pending entries, whose replies were lost, saying
 * which (once per session). */
static void skip_pending(struct smtp_parser *p, uint32_t n, int code,
                         const char *why, smtp_time ts)
{
    char what[160];
    size_t len = (size_t)snprintf(what, sizeof what, "%d %s: no reply seen to", code, why);
    for (uint32_t i = 0; i < n; i++) {
        const char *name = smtp_cmd_name((enum smtp_cmd)sp_pending_front(p)->cmd);
        if (len < sizeof what - 1)
            len += (size_t)snprintf(what + len, sizeof what - len, "%s %s",
                                    i ? "," : "", name);
        sp_pending_pop(p);
    }
    report_resync(p, ts, what);
}

/* DATA answered by a 2xx: its 354 was lost and the body went through (the
 * client's bytes after DATA are held): read them as body, and the reply
 * answers the end of data. */
static void data_without_354(struct smtp_parser *p, int code, smtp_time ts)
{
    skip_pending(p, 1, code, "after DATA (its 354 lost)", ts);
    p->awaiting_mode_reply = false;
    if (p->mode == SMTP_MODE_COMMAND)
        sp_start_body(p);
    sp_hold_replay(p);
}

/* The front entry cannot take this code: returns how many entries to skip
 * (0: none), after which the queue is in order again. */
static uint32_t front_refuses(const struct smtp_parser *p, int code)
{
    const struct smtp_pending *front = sp_pending_front(p);
    if (!front || p->pend_count < 2 || code / 100 != 2)
        return 0;
    if (front->cmd == SMTP_CMD_CONNECT && code != 220)
        return 1; /* a 250 is no greeting: the greeting was not captured */
    if (front->cmd == SMTP_CMD_AUTH && code != 235)
        return 1; /* AUTH's result was lost */
    return 0;
}

/* Realigns the queue to the command a new reply's code names. When that
 * command is not pending at all, the reply answers one the capture did not
 * show: the queue is left alone (p->reply_unpaired). */
static void pair_by_evidence(struct smtp_parser *p, int code, smtp_time ts)
{
    p->reply_unpaired = false;
    const struct smtp_pending *front = sp_pending_front(p);
    if (!front)
        return;
    enum smtp_cmd named = named_by_code(p, code);
    if (named != SMTP_CMD_NONE && front->cmd != named) {
        uint32_t lim = p->pend_count < EVIDENCE_SCAN ? p->pend_count : EVIDENCE_SCAN;
        uint32_t i = 1;
        while (i < lim && sp_pending_at(p, i)->cmd != named) i++;
        char why[48];
        snprintf(why, sizeof why, "answers %s", smtp_cmd_name(named));
        if (i < lim) {
            skip_pending(p, i, code, why, ts);
        } else if (named != SMTP_CMD_STARTTLS) {
            p->reply_unpaired = true;
            snprintf(why, sizeof why, "answers a %s the capture did not show",
                     smtp_cmd_name(named));
            report_resync(p, ts, why);
        }
        return;
    }
    if (front->cmd == SMTP_CMD_DATA && code / 100 == 2 && p->hold.len) {
        data_without_354(p, code, ts);
        return;
    }
    uint32_t n = front_refuses(p, code);
    if (n) {
        char why[48];
        snprintf(why, sizeof why, "cannot answer %s",
                 smtp_cmd_name((enum smtp_cmd)front->cmd));
        skip_pending(p, n, code, why, ts);
    }
}

/* A later line of a multi-line 250 that is an EHLO keyword: the reply can
 * only answer an EHLO. When one is pending behind the front (the replies
 * before it were lost), the reply is re-paired with it from this line on
 * (rl->cmd says so). */
static void pair_by_keywords(struct smtp_parser *p, struct smtp_reply_line *rl, smtp_time ts)
{
    const struct smtp_pending *front = sp_pending_front(p);
    if (p->reply_unpaired || !front || front->cmd == SMTP_CMD_EHLO || rl->code != 250)
        return;
    const char *arg;
    size_t alen;
    if (!esmtp_keyword(rl->text.p, rl->text.len, &arg, &alen))
        return;
    uint32_t lim = p->pend_count < EVIDENCE_SCAN ? p->pend_count : EVIDENCE_SCAN;
    uint32_t i = 1;
    while (i < lim && sp_pending_at(p, i)->cmd != SMTP_CMD_EHLO)
        i++;
    if (i == lim)
        return; /* no EHLO pending: the queue stands */
    skip_pending(p, i, 250, "answers EHLO (its keywords)", ts);
    rl->cmd = SMTP_CMD_EHLO;
    rl->cmd_ts_last = sp_pending_front(p)->ts_last;
}

/* ---- replies ------------------------------------------------------------ */

static void reply_effects(struct smtp_parser *p, const struct smtp_reply *r,
                          smtp_time ts_last)
{
    switch (r->cmd) {
    case SMTP_CMD_DATA:
        p->awaiting_mode_reply = false;
        if (r->code == 354 && p->mode == SMTP_MODE_COMMAND)
            sp_start_body(p);
        break;
    case SMTP_CMD_STARTTLS:
        p->awaiting_mode_reply = false;
        if (r->code == 220) {
            p->tls = true;
            if (p->settings->on_tls)
                p->settings->on_tls(p, ts_last);
        }
        break;
    case SMTP_CMD_NONE:
        /* a 354 to a DATA the capture lost, nothing else pending: the
         * client's next lines are a body, not commands */
        if (r->code == 354 && p->reply_unpaired && !p->pend_count &&
            p->mode == SMTP_MODE_COMMAND)
            sp_start_body(p);
        break;
    default:
        break;
    }
    if (r->code != 334 && (r->cmd == SMTP_CMD_AUTH ||
                           named_by_code(p, r->code) == SMTP_CMD_AUTH))
        p->auth_answered = true; /* AUTH's result: redaction may end */
}

static void complete_reply(struct smtp_parser *p, smtp_time ts_last)
{
    const struct smtp_pending *front =
        p->reply_unpaired ? NULL : sp_pending_front(p);
    struct smtp_reply r = {
        .code = p->reply_code, .ts_first = p->reply_ts_first,
        .ts_last = ts_last, .nlines = p->reply_lines,
        .enhanced = {p->reply_enh, p->reply_enh_len},
        .text = {p->reply_text, p->reply_text_len},
    };
    if (front) {
        r.cmd = (enum smtp_cmd)front->cmd;
        r.tag = front->tag;
        r.cmd_ts_last = front->ts_last;
    } else {
        r.cmd = SMTP_CMD_NONE;
        r.cmd_ts_last = p->reply_ts_first;
        /* mid-stream, a reply before our first command answers one the
         * capture did not see */
        if (!p->reply_unpaired && !(p->midstream && p->resync[SMTP_FROM_CLIENT]))
            sp_anomaly(p, SMTP_ANOM_UNSOLICITED_REPLY, SMTP_FROM_SERVER,
                       p->reply_ts_first);
    }
    p->in_reply = false;

    bool intermediate = r.cmd == SMTP_CMD_AUTH && r.code == 334;
    if (front && !intermediate)
        sp_pending_pop(p);
    if (p->settings->on_reply)
        p->settings->on_reply(p, &r);
    p->last_code = r.code;
    p->last_to_connect = r.cmd == SMTP_CMD_CONNECT;
    reply_effects(p, &r, ts_last);
    p->reply_unpaired = false;
    if (!sp_client_must_hold(p))
        sp_hold_replay(p);
}

/* The first line of a reply: what it answers, its code and text. */
static void reply_begin(struct smtp_parser *p, struct smtp_reply_line *rl,
                        smtp_time ts_first)
{
    if (p->unplaced_on) /* mid-stream: the first reply places the client */
        sp_unplaced_resolve(p, false);
    pair_by_evidence(p, rl->code, ts_first);
    const struct smtp_pending *front =
        p->reply_unpaired ? NULL : sp_pending_front(p);
    p->in_reply = true;
    rl->first = true;
    rl->cmd = front ? (enum smtp_cmd)front->cmd : SMTP_CMD_NONE;
    rl->cmd_ts_last = front ? front->ts_last : ts_first;
    if (rl->code == 334) { /* a challenge: the client's next lines answer it */
        p->auth_open = true;
        p->auth_answered = false;
    }
    p->reply_code = rl->code;
    p->reply_lines = 0;
    p->reply_ts_first = ts_first;
    if (rl->code < 200 || rl->code > 599)
        sp_anomaly(p, SMTP_ANOM_REPLY_CODE_RANGE, SMTP_FROM_SERVER, ts_first);
    size_t el = enhanced_code_len(rl->text.p, rl->text.len);
    if (el && rl->text.p[0] != (char)('0' + rl->code / 100))
        el = 0; /* the class must agree with the reply code */
    memcpy(p->reply_enh, rl->text.p, el);
    p->reply_enh_len = el;
    const char *t = rl->text.p + el;
    size_t tl = rl->text.len - el;
    while (tl && *t == ' ') t++, tl--;
    if (tl > sizeof p->reply_text)
        tl = sizeof p->reply_text;
    memcpy(p->reply_text, t, tl);
    p->reply_text_len = tl;
}

/* A well-formed reply line. A multi-line reply ends where its code changes
 * (a "220-" greeting never finished, then the EHLO reply): the new code
 * begins a new reply, it never merges into the old one. */
static void reply_line(struct smtp_parser *p, struct smtp_reply_line *rl,
                       smtp_time ts_first, smtp_time ts_last)
{
    if (p->in_reply && rl->code != p->reply_code) {
        sp_anomaly(p, SMTP_ANOM_REPLY_CODE_CHANGED, SMTP_FROM_SERVER, ts_first);
        complete_reply(p, p->reply_ts_last);
        if (p->tls || p->not_smtp)
            return;
    }
    if (!p->in_reply)
        reply_begin(p, rl, ts_first);
    else
        pair_by_keywords(p, rl, ts_first);
    p->reply_lines++;
    p->reply_ts_last = ts_last;
    if (p->settings->on_reply_line)
        p->settings->on_reply_line(p, rl);
    if (rl->last)
        complete_reply(p, ts_last);
}

/* The server's first line is no SMTP reply: not SMTP. */
static void not_smtp(struct smtp_parser *p, struct smtp_span line, smtp_time ts)
{
    p->not_smtp = true;
    if (p->settings->on_not_smtp)
        p->settings->on_not_smtp(
            p, SMTP_FROM_SERVER,
            (struct smtp_span){line.p, line.len < SMTP_FIRST_BYTES
                                           ? line.len : SMTP_FIRST_BYTES},
            ts);
}

static void server_line_one(struct smtp_parser *p, enum smtp_dir dir,
                            struct smtp_span line, unsigned flags, size_t wire_len,
                            smtp_time ts_first, smtp_time ts_last)
{
    (void)dir;
    (void)wire_len;
    if (!p->tunnel[SMTP_FROM_SERVER])
        p->greeted = true;
    struct smtp_reply_line rl = {
        .line = line, .flags = flags, .ts = ts_first, .sep = ' ',
    };
    bool valid = line.len >= 3 && sp_is_digit(line.p[0]) && sp_is_digit(line.p[1]) &&
                 sp_is_digit(line.p[2]) &&
                 (line.len == 3 || line.p[3] == ' ' || line.p[3] == '-');
    if (p->tunnel[SMTP_FROM_SERVER]) { /* the proxy's HTTP response */
        if (line.len == 0)
            p->tunnel[SMTP_FROM_SERVER] = false;
        else if (line.len > 12 && memcmp(line.p, "HTTP/", 5) == 0 &&
                 p->settings->on_tunnel)
            p->settings->on_tunnel(p, line, ts_first);
        return;
    }
    if (p->resync[SMTP_FROM_SERVER]) {
        if (!valid) {
            sp_anomaly(p, SMTP_ANOM_MIDSTREAM_SKIP, SMTP_FROM_SERVER, ts_first);
            return;
        }
        p->resync[SMTP_FROM_SERVER] = false;
    }
    if (!valid && !p->midstream && !p->seen_reply) {
        not_smtp(p, line, ts_first);
        return;
    }
    if (!valid) {
        sp_anomaly(p, SMTP_ANOM_MALFORMED_REPLY, SMTP_FROM_SERVER, ts_first);
        rl.code = 0;
        rl.text = line;
        rl.first = !p->in_reply;
        rl.last = !p->in_reply; /* inside a reply it does not end it */
        if (p->settings->on_reply_line)
            p->settings->on_reply_line(p, &rl);
        return;
    }
    p->seen_reply = true;
    rl.code = (line.p[0] - '0') * 100 + (line.p[1] - '0') * 10 + (line.p[2] - '0');
    rl.sep = line.len > 3 ? line.p[3] : ' ';
    rl.text.p = line.p + (line.len > 3 ? 4 : 3);
    rl.text.len = line.len > 3 ? line.len - 4 : 0;
    rl.last = rl.sep != '-';
    reply_line(p, &rl, ts_first, ts_last);
}

void sp_server_line(struct smtp_parser *p, enum smtp_dir dir,
                    struct smtp_span line, unsigned flags, size_t wire_len,
                    smtp_time ts_first, smtp_time ts_last)
{
    if (p->greet_cut_set) {
        /* the client spoke while this line was the unterminated greeting:
         * if a reply starts where the line stood then, the greeting ended
         * there */
        size_t cut = p->greet_cut;
        p->greet_cut_set = false;
        if (cut < line.len && sp_reply_start(line.p + cut, line.len - cut)) {
            server_line_one(p, dir, (struct smtp_span){line.p, cut},
                            flags | SMTP_LINE_UNTERMINATED, 0, ts_first, ts_first);
            if (!p->not_smtp && !p->tls)
                server_line_one(p, dir, (struct smtp_span){line.p + cut, line.len - cut},
                                flags, 0, ts_last, ts_last);
            return;
        }
    }
    server_line_one(p, dir, line, flags, wire_len, ts_first, ts_last);
}

void sp_server_consume(struct smtp_parser *p, const char *buf, size_t len,
                       smtp_time ts)
{
    while (len > 0) {
        if (p->not_smtp)
            return;
        if (p->tls || sp_tls_after_220(p, SMTP_FROM_SERVER, buf, len, ts)) {
            sp_tls_bytes(p, SMTP_FROM_SERVER, buf, len, ts);
            return;
        }
        /* the greeting-cut check only while a cut is marked */
        size_t n = sp_line_scan(p, SMTP_FROM_SERVER, buf, len, ts,
                                p->greet_cut_set ? sp_server_line : server_line_one);
        buf += n;
        len -= n;
    }
}
