/* smtp_parser_client.c - the client's side: commands, AUTH responses told
 * from commands by their own look (never by pairing), client bytes held
 * while a mode-changing answer is awaited, and mid-stream lines kept until
 * a reply places them.
 */
#include "smtp_parser_internal.h"

#include <string.h>

static void parse_bdat(struct smtp_command *c)
{
    const char *s = c->arg.p;
    size_t n = c->arg.len, i = 0;
    uint64_t v = 0;
    while (i < n && sp_is_digit(s[i])) {
        if (v > (UINT64_MAX - 9) / 10)
            return; /* absurd size: malformed */
        v = v * 10 + (uint64_t)(s[i] - '0');
        i++;
    }
    if (i == 0)
        return;
    size_t j = i;
    while (j < n && s[j] == ' ') j++;
    if (j < n) {
        /* "LAST" must fit in what is left: the argument need not be
         * NUL-terminated (a line cut by the end of the capture) */
        if (j == i || n - j < 4 || !sp_word_eq(s + j, 4, "LAST"))
            return;
        size_t k = j + 4;
        while (k < n && s[k] == ' ') k++;
        if (k != n)
            return;
        c->bdat_last = true;
    }
    c->bdat_size = v;
    c->flags |= SP_BDAT_VALID;
}

static enum smtp_cmd verb_lookup(const char *s, size_t n)
{
    static const struct { const char *w; enum smtp_cmd c; } verbs[] = {
        {"HELO", SMTP_CMD_HELO}, {"EHLO", SMTP_CMD_EHLO},
        {"MAIL", SMTP_CMD_MAIL}, {"RCPT", SMTP_CMD_RCPT},
        {"DATA", SMTP_CMD_DATA}, {"BDAT", SMTP_CMD_BDAT},
        {"RSET", SMTP_CMD_RSET}, {"NOOP", SMTP_CMD_NOOP},
        {"VRFY", SMTP_CMD_VRFY}, {"EXPN", SMTP_CMD_EXPN},
        {"HELP", SMTP_CMD_HELP}, {"QUIT", SMTP_CMD_QUIT},
        {"STARTTLS", SMTP_CMD_STARTTLS}, {"AUTH", SMTP_CMD_AUTH},
    };
    if (n != 4 && n != 8)
        return SMTP_CMD_UNKNOWN;
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        if (sp_word_eq(s, n, verbs[i].w))
            return verbs[i].c;
    return SMTP_CMD_UNKNOWN;
}

/* ---- AUTH responses, from the client's side alone ----------------------- */

/* A SASL response: base64 (RFC 4954 4) or "*" to cancel; empty is allowed. */
bool sp_sasl_like(struct smtp_span line)
{
    if (line.len == 1 && line.p[0] == '*')
        return true;
    for (size_t i = 0; i < line.len; i++) {
        char c = line.p[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              sp_is_digit(c) || c == '+' || c == '/' || c == '='))
            return false;
    }
    return true;
}

/* A known verb alone ("QUIT": its base64 decodes to no text) or followed
 * by a space (base64 has none). */
static bool clearly_command(struct smtp_span line, enum smtp_cmd cmd, size_t v)
{
    return cmd != SMTP_CMD_UNKNOWN && (v == line.len || line.p[v] == ' ');
}

/* Inside an AUTH exchange: is this line a response (a credential)? Then it
 * is announced, whole-line secret, and true is returned. Pairing plays no
 * part: a lost, late or merged 334 changes nothing. */
static bool auth_response(struct smtp_parser *p, struct smtp_command *c,
                          size_t v)
{
    enum smtp_cmd verb = verb_lookup(c->line.p, v);
    bool sasl = sp_sasl_like(c->line);
    if (clearly_command(c->line, verb, v) || (p->auth_answered && !sasl)) {
        p->auth_open = false;
        return false;
    }
    c->cmd = SMTP_CMD_AUTH_RESPONSE;
    if (!(c->line.len == 1 && c->line.p[0] == '*')) {
        c->secret = c->line;
        c->flags |= SMTP_LINE_SECRET;
    }
    uint32_t tag = sp_announce(p, c);
    struct smtp_pending *e = sp_pending_newest(p);
    if (p->auth_answered) /* after its final reply: the server answers it */
        sp_pending_push(p, SMTP_CMD_AUTH_RESPONSE, tag, c->ts_last);
    else if (e && e->cmd == SMTP_CMD_AUTH)
        e->ts_last = c->ts_last; /* the next 334 or the result answers it */
    return true;
}

/* ---- the greeting's end ------------------------------------------------- */

/* The client spoke while the server's first line had no end yet: that line
 * is the greeting however it ends. Over the line bound it ends now; else
 * the place is marked, and a reply that starts there ends it (see
 * sp_server_line). */
static void greeting_cut(struct smtp_parser *p, smtp_time ts)
{
    struct smtp_linebuf *lb = &p->line[SMTP_FROM_SERVER];
    const struct smtp_pending *front = sp_pending_front(p);
    if (p->greet_cut_set || p->in_reply || !lb->wire_len || !front ||
        front->cmd != SMTP_CMD_CONNECT || p->tunnel[SMTP_FROM_SERVER] ||
        p->hold.len)
        return;
    if (lb->truncated) {
        sp_line_deliver(p, SMTP_FROM_SERVER, lb->buf.p, lb->buf.len, false, ts,
                        sp_server_line);
        return;
    }
    p->greet_cut_set = true;
    p->greet_cut = lb->buf.len;
}

/* ---- mid-stream: lines kept until a reply places them ------------------- */

struct unplaced_rec {
    smtp_time ts_first, ts_last;
    size_t len, wire_len;
    unsigned flags;
};

static bool unplaced_store(struct smtp_parser *p, struct smtp_span line,
                           unsigned flags, size_t wire_len, smtp_time ts_first,
                           smtp_time ts_last)
{
    struct unplaced_rec rec = {ts_first, ts_last, line.len, wire_len, flags};
    char *at = bytebuf_extend(&p->unplaced, sizeof rec + line.len);
    if (!at)
        return false;
    memcpy(at, &rec, sizeof rec);
    memcpy(at + sizeof rec, line.p, line.len);
    return true;
}

/* Where the first lone "." line ends (offset after it), or 0. */
static size_t unplaced_dot_end(const struct bytebuf *b)
{
    size_t off = 0;
    while (off + sizeof(struct unplaced_rec) <= b->len) {
        struct unplaced_rec rec;
        memcpy(&rec, b->p + off, sizeof rec);
        off += sizeof rec + rec.len;
        if (rec.len == 1 && b->p[off - 1] == '.')
            return off;
    }
    return 0;
}

/* Places the kept lines. A lone "." among them ends a body the capture
 * began inside: the lines up to it are body (skipped, never commands,
 * however much they look like SMTP), the dot is the end of data the next
 * reply answers, and the lines after it are commands. Without a dot they
 * are read as before any placement: skipped up to the first verb, unless
 * `all_body` (so many lines without a reply: a body). */
void sp_unplaced_resolve(struct smtp_parser *p, bool all_body)
{
    if (!p->unplaced_on)
        return;
    struct bytebuf kept = p->unplaced;
    bytebuf_init(&p->unplaced, SMTP_UNPLACED_MAX);
    size_t dot = unplaced_dot_end(&kept), off = 0;
    if (!dot && all_body)
        dot = kept.len; /* still unplaced afterwards */
    else
        p->unplaced_on = false;
    while (off + sizeof(struct unplaced_rec) <= kept.len) {
        struct unplaced_rec rec;
        memcpy(&rec, kept.p + off, sizeof rec);
        off += sizeof rec;
        struct smtp_span line = {kept.p + off, rec.len};
        off += rec.len;
        if (off <= dot) {
            sp_anomaly(p, SMTP_ANOM_MIDSTREAM_SKIP, SMTP_FROM_CLIENT, rec.ts_first);
            if (off == dot && rec.len == 1) { /* no body seen: none reported */
                struct smtp_command c = {
                    .cmd = SMTP_CMD_END_OF_DATA, .line = {".", 1}, .wire_len = 3,
                    .ts_first = rec.ts_first, .ts_last = rec.ts_last,
                };
                p->resync[SMTP_FROM_CLIENT] = false;
                sp_pending_push(p, SMTP_CMD_END_OF_DATA, sp_announce(p, &c),
                                rec.ts_last);
            }
            continue;
        }
        sp_client_line(p, SMTP_FROM_CLIENT, line, rec.flags, rec.wire_len,
                       rec.ts_first, rec.ts_last);
    }
    bytebuf_free(&kept);
}

/* ---- client lines ------------------------------------------------------- */

/* HTTP CONNECT tunnel headers: true when the line was one of them. */
static bool tunnel_line(struct smtp_parser *p, struct smtp_span line,
                        smtp_time ts_first)
{
    if (p->tunnel[SMTP_FROM_CLIENT]) { /* HTTP request headers */
        if (line.len == 0)
            p->tunnel[SMTP_FROM_CLIENT] = false;
        return true;
    }
    /* "CONNECT host:25 HTTP/1.0" before any greeting: the SMTP dialogue
     * runs through an HTTP proxy tunnel (open proxies relaying spam, or a
     * corporate proxy). Both sides' HTTP headers are skipped. */
    if (!p->greeted && !p->commands_seen && !p->midstream && line.len > 8 &&
        memcmp(line.p, "CONNECT ", 8) == 0) {
        p->tunnel[SMTP_FROM_CLIENT] = p->tunnel[SMTP_FROM_SERVER] = true;
        if (p->settings->on_tunnel)
            p->settings->on_tunnel(p, (struct smtp_span){line.p + 8, line.len - 8},
                                   ts_first);
        return true;
    }
    return false;
}

/* What the command's verb tells before it is announced. */
static void command_args(struct smtp_parser *p, struct smtp_command *c)
{
    switch (c->cmd) {
    case SMTP_CMD_AUTH: {
        /* "AUTH mech [initial-response]": the response is a secret, and
         * every line after it is one until the exchange ends. */
        size_t m = 0;
        while (m < c->arg.len && c->arg.p[m] != ' ') m++;
        size_t r = m;
        while (r < c->arg.len && c->arg.p[r] == ' ') r++;
        if (r < c->arg.len) {
            c->secret.p = c->arg.p + r;
            c->secret.len = c->arg.len - r;
            c->flags |= SMTP_LINE_SECRET;
        }
        p->auth_open = true;
        p->auth_answered = false;
        break;
    }
    case SMTP_CMD_BDAT:
        parse_bdat(c);
        if (!(c->flags & SP_BDAT_VALID))
            sp_anomaly(p, SMTP_ANOM_BDAT_MALFORMED, SMTP_FROM_CLIENT, c->ts_first);
        break;
    case SMTP_CMD_MAIL:
    case SMTP_CMD_RSET:
        if (p->bdat_active) { /* an abandoned BDAT transfer */
            p->bdat_active = false;
            p->body_bytes = p->body_lines = 0;
        }
        break;
    default:
        break;
    }
}

/* After a BDAT command: its chunk follows. */
static void bdat_begin(struct smtp_parser *p, const struct smtp_command *c)
{
    if (!p->bdat_active) {
        sp_header_start(p);
        p->bdat_active = true;
        p->body_bytes = p->body_lines = 0;
        p->body_ts_first = -1;
    }
    p->chunk_left = c->bdat_size;
    p->chunk_last = c->bdat_last;
    p->mode = SMTP_MODE_CHUNK;
    if (c->bdat_size == 0) { /* "BDAT 0 LAST" carries no octets */
        p->mode = SMTP_MODE_COMMAND;
        if (c->bdat_last) {
            p->bdat_active = false;
            sp_body_finished(p, c->ts_last, true, false);
        }
    }
}

void sp_client_line(struct smtp_parser *p, enum smtp_dir dir,
                    struct smtp_span line, unsigned flags, size_t wire_len,
                    smtp_time ts_first, smtp_time ts_last)
{
    (void)dir;
    struct smtp_command c = {
        .line = line, .wire_len = wire_len, .flags = flags,
        .ts_first = ts_first, .ts_last = ts_last,
    };
    if (tunnel_line(p, line, ts_first))
        return;
    if (p->unplaced_on) {
        if (unplaced_store(p, line, flags, wire_len, ts_first, ts_last))
            return;
        sp_unplaced_resolve(p, true); /* 64 KiB and no reply: body */
        if (p->unplaced_on && unplaced_store(p, line, flags, wire_len, ts_first, ts_last))
            return;
    }
    greeting_cut(p, ts_first);
    p->commands_seen = true;
    size_t v = 0;
    while (v < line.len && line.p[v] != ' ') v++;
    if (p->auth_open && auth_response(p, &c, v))
        return;
    c.cmd = verb_lookup(line.p, v);
    if (p->resync[SMTP_FROM_CLIENT]) {
        if (c.cmd == SMTP_CMD_UNKNOWN) { /* tail of a line, body, ... */
            sp_anomaly(p, SMTP_ANOM_MIDSTREAM_SKIP, SMTP_FROM_CLIENT, ts_first);
            return;
        }
        p->resync[SMTP_FROM_CLIENT] = false;
    }
    size_t a = v;
    while (a < line.len && line.p[a] == ' ') a++;
    c.arg.p = line.p + a;
    c.arg.len = line.len - a;

    /* the greeting (maybe multi-line) has not ended yet */
    const struct smtp_pending *front = sp_pending_front(p);
    if (front && front->cmd == SMTP_CMD_CONNECT)
        sp_anomaly(p, SMTP_ANOM_EARLY_TALKER, SMTP_FROM_CLIENT, ts_first);

    command_args(p, &c);
    bool bdat_ok = (c.flags & SP_BDAT_VALID) != 0;
    c.flags &= ~SP_BDAT_VALID;

    sp_pending_push(p, c.cmd, sp_announce(p, &c), ts_last);

    if (c.cmd == SMTP_CMD_DATA || c.cmd == SMTP_CMD_STARTTLS)
        p->awaiting_mode_reply = true;
    else if (c.cmd == SMTP_CMD_BDAT && bdat_ok)
        bdat_begin(p, &c);
}



/* Held bytes are stored as records: timestamp, length, bytes. */
struct hold_rec {
    smtp_time ts;
    size_t len;
};


void sp_hold_bytes(struct smtp_parser *p, const char *buf, size_t len,
                   smtp_time ts)
{
    struct hold_rec rec = {ts, len};
    char *at = bytebuf_extend(&p->hold, sizeof rec + len);
    if (!at) {
        /* The client kept talking without the answer we wait for (lost in
         * the capture, or a misbehaving client): stop waiting. */
        sp_anomaly(p, SMTP_ANOM_HOLD_OVERFLOW, SMTP_FROM_CLIENT, ts);
        sp_hold_force_release(p, ts);
        sp_client_consume(p, buf, len, ts);
        return;
    }
    memcpy(at, &rec, sizeof rec);
    memcpy(at + sizeof rec, buf, len);
}

void sp_hold_replay(struct smtp_parser *p)
{
    if (p->hold.len == 0)
        return;
    struct bytebuf held = p->hold; /* replay may hold again: swap out */
    bytebuf_init(&p->hold, SMTP_HOLD_MAX);
    size_t off = 0;
    while (off + sizeof(struct hold_rec) <= held.len) {
        struct hold_rec rec;
        memcpy(&rec, held.p + off, sizeof rec);
        off += sizeof rec;
        sp_client_consume(p, held.p + off, rec.len, rec.ts);
        off += rec.len;
    }
    bytebuf_free(&held);
}

/* Stop waiting for the awaited answer and read on as if it were positive
 * for DATA (body follows) and as commands otherwise. */
void sp_hold_force_release(struct smtp_parser *p, smtp_time ts)
{
    (void)ts;
    enum smtp_cmd awaited = SMTP_CMD_NONE;
    if (p->pend_count)
        awaited = sp_pending_newest(p)->cmd;
    p->awaiting_mode_reply = false;
    if (awaited == SMTP_CMD_DATA)
        sp_start_body(p);
    /* STARTTLS, then TLS from the client: the go-ahead was given, only the
     * capture does not hold it (one-sided, or lost) */
    const char *first = p->hold.p + sizeof(struct hold_rec);
    if (awaited == SMTP_CMD_STARTTLS && p->hold.len > sizeof(struct hold_rec) + 1 &&
        (unsigned char)first[0] == 0x16 && first[1] == 0x03) {
        struct hold_rec rec;
        memcpy(&rec, p->hold.p, sizeof rec);
        p->tls = p->tls_inferred = true;
        if (p->settings->on_tls)
            p->settings->on_tls(p, rec.ts);
    }
    sp_hold_replay(p);
}

