/* smtp_parser.c - streaming SMTP conversation parser (see smtp_parser.h).
 *
 * Design notes:
 * - Lines are found with memchr; a line that lies wholly inside one input
 *   call is handed out in place (no copy). Only lines split across calls are
 *   assembled in a bounded per-direction buffer.
 * - Message bodies are scanned line by line with memchr, looking only at the
 *   first bytes of each line for the terminating "." and dot-stuffing, so a
 *   megabyte body costs one pass of memchr and no copies.
 * - Replies are matched to a FIFO of pending commands. A command whose answer
 *   decides how the client's next bytes are read (DATA, STARTTLS, AUTH) makes
 *   the parser hold further client bytes until that answer arrives; then they
 *   are replayed as body, AUTH response, TLS or commands as the answer says.
 */
#include "smtp_parser.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h> /* AVX2, used only where the CPU has it */
#endif

#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { BODY_BOL = 0, BODY_MID, BODY_DOT, BODY_DOT_CR };

static void header_stop(struct smtp_parser *p);

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
};

const char *smtp_anomaly_name(enum smtp_anomaly a)
{
    return (unsigned)a < SMTP_ANOM__COUNT ? anomaly_names[a] : "unknown";
}

static void anomaly(struct smtp_parser *p, enum smtp_anomaly a,
                    enum smtp_dir dir, smtp_time ts)
{
    if (p->settings->on_anomaly)
        p->settings->on_anomaly(p, a, dir, ts);
}

/* ---- pending-command ring ---------------------------------------------- */

static void pending_push(struct smtp_parser *p, enum smtp_cmd cmd,
                         uint32_t tag, smtp_time ts_last)
{
    if (p->pend_count == p->pend_cap) {
        uint32_t ncap = p->pend_cap ? p->pend_cap * 2 : 8;
        struct smtp_pending *n;
        if (ncap > SMTP_PENDING_MAX ||
            !(n = malloc(ncap * sizeof *n))) {
            p->pend_dropped++;
            anomaly(p, SMTP_ANOM_PENDING_OVERFLOW, SMTP_FROM_CLIENT, ts_last);
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

static const struct smtp_pending *pending_front(const struct smtp_parser *p)
{
    return p->pend_count ? &p->pending[p->pend_head] : NULL;
}

static void pending_pop(struct smtp_parser *p)
{
    if (!p->pend_count)
        return;
    p->pend_head = (p->pend_head + 1) % p->pend_cap;
    p->pend_count--;
}

enum smtp_cmd smtp_parser_awaiting(const struct smtp_parser *p)
{
    const struct smtp_pending *e = pending_front(p);
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
    /* The greeting answers the connection itself. */
    pending_push(p, SMTP_CMD_CONNECT, 0, 0);
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
}

void smtp_parser_free(struct smtp_parser *p)
{
    for (int d = 0; d < 2; d++)
        bytebuf_free(&p->line[d].buf);
    bytebuf_free(&p->hold);
    header_stop(p);
    free(p->pending);
    p->pending = NULL;
    p->pend_count = p->pend_cap = 0;
}

/* ---- small scanners ---------------------------------------------------- */

static char upper(char c) { return (c >= 'a' && c <= 'z') ? c - 32 : c; }

static bool word_eq(const char *s, size_t n, const char *word)
{
    size_t i = 0;
    for (; i < n && word[i]; i++)
        if (upper(s[i]) != word[i])
            return false;
    return i == n && word[i] == '\0';
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
        if (word_eq(s, n, verbs[i].w))
            return verbs[i].c;
    return SMTP_CMD_UNKNOWN;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* "d.ddd.ddd" (RFC 3463 class 2, 4 or 5) at the start of s. */
static size_t enhanced_code_len(const char *s, size_t n)
{
    if (n < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.')
        return 0;
    size_t i = 2, digits = 0;
    while (i < n && is_digit(s[i]) && digits < 3) i++, digits++;
    if (!digits || i >= n || s[i] != '.')
        return 0;
    i++;
    digits = 0;
    while (i < n && is_digit(s[i]) && digits < 3) i++, digits++;
    if (!digits || (i < n && s[i] != ' '))
        return 0;
    return i;
}

bool smtp_parse_path(struct smtp_span arg, const char *keyword,
                     struct smtp_span *addr)
{
    size_t kl = strlen(keyword), i = 0;
    const char *s = arg.p;
    while (i < arg.len && s[i] == ' ') i++;
    if (arg.len - i < kl + 1 || !word_eq(s + i, kl, keyword) ||
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

typedef void (*line_fn)(struct smtp_parser *, enum smtp_dir,
                        struct smtp_span line, unsigned flags,
                        size_t wire_len, smtp_time ts_first, smtp_time ts_last);

static void line_deliver(struct smtp_parser *p, enum smtp_dir dir,
                         const char *s, size_t n, bool complete,
                         smtp_time ts, line_fn fn)
{
    struct smtp_linebuf *lb = &p->line[dir];
    unsigned flags = 0;
    if (complete) {
        n--; /* the LF */
        if (n > 0 && s[n - 1] == '\r')
            n--;
        else if (!lb->truncated) {
            flags |= SMTP_LINE_BARE_LF;
            anomaly(p, SMTP_ANOM_BARE_LF, dir, ts);
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
        anomaly(p, SMTP_ANOM_LINE_TOO_LONG, dir, ts);
    }
    if (lb->has_nul || memchr(s, '\0', n))
        anomaly(p, SMTP_ANOM_NUL_BYTE, dir, ts);
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
static size_t line_scan(struct smtp_parser *p, enum smtp_dir dir,
                        const char *buf, size_t len, smtp_time ts, line_fn fn)
{
    struct smtp_linebuf *lb = &p->line[dir];
    const char *nl = memchr(buf, '\n', len);
    size_t take = nl ? (size_t)(nl - buf) + 1 : len;
    if (lb->wire_len == 0)
        lb->ts_first = ts;
    lb->wire_len += take;
    if (nl && lb->buf.len == 0 && lb->wire_len == take) {
        line_deliver(p, dir, buf, take, true, ts, fn); /* in place */
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
            line_deliver(p, dir, lb->buf.p, lb->buf.len, false, ts, fn);
        } else {
            line_deliver(p, dir, lb->buf.p, lb->buf.len, true, ts, fn);
        }
    }
    return take;
}

/* ---- client side ------------------------------------------------------- */

static void client_consume(struct smtp_parser *p, const char *buf, size_t len,
                           smtp_time ts);

static void hold_bytes(struct smtp_parser *p, const char *buf, size_t len,
                       smtp_time ts);

static bool client_must_hold(const struct smtp_parser *p)
{
    return p->awaiting_mode_reply && p->mode == SMTP_MODE_COMMAND;
}

/* ---- opt-in header extraction ------------------------------------------- */

struct smtp_header_tap {
    char line[SMTP_HEADER_VALUE_MAX + 80]; /* the physical line being read */
    size_t line_len;
    bool line_cut;
    char field[SMTP_HEADER_VALUE_MAX + 80]; /* the logical (unfolded) field */
    size_t field_len;
    size_t seen; /* header bytes looked at */
    smtp_time ts;
};

static const char *const wanted_headers[] = {
    "Message-ID", "Subject", "From", "To", "Date",
};

static void header_flush(struct smtp_parser *p)
{
    struct smtp_header_tap *h = p->hdr;
    const char *f = h->field;
    const char *colon = memchr(f, ':', h->field_len);
    if (colon) {
        size_t nl = (size_t)(colon - f);
        for (size_t i = 0; i < sizeof wanted_headers / sizeof *wanted_headers; i++) {
            if (strlen(wanted_headers[i]) != nl ||
                strncasecmp(f, wanted_headers[i], nl) != 0)
                continue;
            const char *v = colon + 1;
            size_t vl = h->field_len - nl - 1;
            while (vl && (*v == ' ' || *v == '\t'))
                v++, vl--;
            if (vl > SMTP_HEADER_VALUE_MAX)
                vl = SMTP_HEADER_VALUE_MAX;
            p->settings->on_header(p, (struct smtp_span){wanted_headers[i], nl},
                                   (struct smtp_span){v, vl}, h->ts);
            break;
        }
    }
    h->field_len = 0;
}

static void header_stop(struct smtp_parser *p)
{
    free(p->hdr);
    p->hdr = NULL;
}

static void header_line(struct smtp_parser *p)
{
    struct smtp_header_tap *h = p->hdr;
    size_t n = h->line_len;
    if (n && h->line[n - 1] == '\r')
        n--;
    if (n == 0) { /* the empty line: end of the header section */
        if (h->field_len)
            header_flush(p);
        header_stop(p);
        return;
    }
    if (h->line[0] == ' ' || h->line[0] == '\t') { /* folded: continue */
        size_t room = sizeof h->field - h->field_len;
        size_t k = n < room ? n : room;
        memcpy(h->field + h->field_len, h->line, k);
        h->field_len += k;
    } else {
        if (h->field_len)
            header_flush(p);
        memcpy(h->field, h->line, n);
        h->field_len = n;
    }
    h->line_len = 0;
    h->line_cut = false;
}

/* Message content (already dot-unstuffed) while its header is read. */
static void header_feed(struct smtp_parser *p, const char *d, size_t n,
                        smtp_time ts)
{
    struct smtp_header_tap *h = p->hdr;
    if (!h)
        return;
    h->ts = ts;
    h->seen += n;
    while (n && p->hdr) {
        const char *nl = memchr(d, '\n', n);
        size_t take = nl ? (size_t)(nl - d) : n;
        size_t room = sizeof h->line - h->line_len;
        size_t k = take < room ? take : room;
        memcpy(h->line + h->line_len, d, k);
        h->line_len += k;
        if (!nl)
            break;
        header_line(p);
        d += take + 1;
        n -= take + 1;
    }
    if (p->hdr && p->hdr->seen > SMTP_HEADER_SECTION_MAX)
        header_stop(p); /* no end of header in sight: give up */
}

static void header_start(struct smtp_parser *p)
{
    header_stop(p);
    if (p->settings->on_header)
        p->hdr = calloc(1, sizeof *p->hdr); /* NULL: simply no extraction */
}

static void start_body(struct smtp_parser *p)
{
    header_start(p);
    p->mode = SMTP_MODE_BODY;
    p->body_state = BODY_BOL;
    p->body_bytes = p->body_lines = 0;
    p->body_ts_first = -1;
}

static void body_finished(struct smtp_parser *p, smtp_time ts, bool bdat,
                          bool incomplete)
{
    header_stop(p);
    if (p->settings->on_body_end) {
        struct smtp_body_end e = {
            .bytes = p->body_bytes, .lines = p->body_lines,
            .ts_first = p->body_ts_first < 0 ? ts : p->body_ts_first,
            .ts_last = ts, .bdat = bdat, .incomplete = incomplete,
        };
        p->settings->on_body_end(p, &e);
    }
    p->body_bytes = p->body_lines = 0;
    p->body_ts_first = -1;
}

static uint32_t announce(struct smtp_parser *p, const struct smtp_command *c)
{
    return p->settings->on_command ? p->settings->on_command(p, c) : 0;
}

/* The body ended with "." on a line of its own. */
static void end_of_data(struct smtp_parser *p, smtp_time ts)
{
    p->mode = SMTP_MODE_COMMAND;
    body_finished(p, ts, false, false);
    struct smtp_command c = {
        .cmd = SMTP_CMD_END_OF_DATA, .line = {".", 1}, .wire_len = 3,
        .ts_first = ts, .ts_last = ts,
    };
    pending_push(p, SMTP_CMD_END_OF_DATA, announce(p, &c), ts);
}

/* Body text in the middle of a line: consumes whole lines up to the first
 * one that is followed by a '.' (stuffing or the end) or by the end of the
 * buffer, counting them; returns the bytes consumed (len: no line ended,
 * or the last one ended exactly at len). Sixteen bytes at a time where
 * SSE2 is there, since a message body is most of what SMTP carries. */
static size_t body_lines_sse2(const char *buf, size_t len, uint64_t *lines)
{
    size_t i = 0;
#ifdef __SSE2__
    const __m128i lf = _mm_set1_epi8('\n');
    for (; i + 16 <= len; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(buf + i));
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, lf));
        while (m) {
            size_t at = i + (size_t)__builtin_ctz(m);
            m &= m - 1;
            (*lines)++;
            if (at + 1 == len || buf[at + 1] == '.')
                return at + 1;
        }
    }
#endif
    for (; i < len; i++) {
        if (buf[i] != '\n')
            continue;
        (*lines)++;
        if (i + 1 == len || buf[i + 1] == '.')
            return i + 1;
    }
    return len;
}

#if defined(__x86_64__) && defined(__GNUC__)
/* The same, 64 bytes at a time and without a branch per line: a mask of the
 * line ends, a mask of the dots one byte further on; their AND is where to
 * stop, and lines are counted by popcount. Chosen at run time where the CPU
 * has AVX2 (Debian's baseline is SSE2). */
__attribute__((target("avx2,popcnt"))) static size_t
body_lines_avx2(const char *buf, size_t len, uint64_t *lines)
{
    const __m256i lf = _mm256_set1_epi8('\n'), dot = _mm256_set1_epi8('.');
    size_t i = 0;
    for (; i + 65 <= len; i += 64) { /* byte i + 64 is read: the one after */
        const char *b = buf + i;
        __m256i a0 = _mm256_loadu_si256((const __m256i *)(const void *)b);
        __m256i a1 = _mm256_loadu_si256((const __m256i *)(const void *)(b + 32));
        __m256i d0 = _mm256_loadu_si256((const __m256i *)(const void *)(b + 1));
        __m256i d1 = _mm256_loadu_si256((const __m256i *)(const void *)(b + 33));
        uint64_t nl = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(a0, lf)) |
                      (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(a1, lf)) << 32;
        uint64_t dt = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(d0, dot)) |
                      (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(d1, dot)) << 32;
        uint64_t stop = nl & dt;
        if (stop) {
            unsigned at = (unsigned)__builtin_ctzll(stop);
            uint64_t upto = at == 63 ? ~0ull : (2ull << at) - 1;
            *lines += (uint64_t)__builtin_popcountll(nl & upto);
            return i + at + 1;
        }
        *lines += (uint64_t)__builtin_popcountll(nl);
    }
    return i + body_lines_sse2(buf + i, len - i, lines);
}

static size_t body_lines_pick(const char *buf, size_t len, uint64_t *lines);
static size_t (*body_lines_bulk)(const char *, size_t, uint64_t *) = body_lines_pick;

/* The first call chooses for all later ones. */
static size_t body_lines_pick(const char *buf, size_t len, uint64_t *lines)
{
    __builtin_cpu_init();
    body_lines_bulk = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt")
                          ? body_lines_avx2
                          : body_lines_sse2;
    return body_lines_bulk(buf, len, lines);
}
#else
#define body_lines_bulk body_lines_sse2
#endif

static size_t body_scan(struct smtp_parser *p, const char *buf, size_t len,
                        smtp_time ts)
{
    size_t i = 0;
    if (p->body_ts_first < 0 && len)
        p->body_ts_first = ts;
    if (len)
        p->body_ts_last = ts;
    while (i < len) {
        switch (p->body_state) {
        case BODY_MID: {
            if (!p->hdr) { /* the common case: lines in bulk */
                size_t n = body_lines_bulk(buf + i, len - i, &p->body_lines);
                if (p->settings->on_body_data && n)
                    p->settings->on_body_data(p, buf + i, n);
                p->body_bytes += n;
                i += n;
                if (n && buf[i - 1] == '\n')
                    p->body_state = BODY_BOL;
                break;
            }
            const char *nl = memchr(buf + i, '\n', len - i);
            size_t n = nl ? (size_t)(nl - (buf + i)) + 1 : len - i;
            if (p->settings->on_body_data)
                p->settings->on_body_data(p, buf + i, n);
            if (!nl) {
                if (p->hdr)
                    header_feed(p, buf + i, len - i, ts);
                p->body_bytes += len - i;
                return len;
            }
            if (p->hdr)
                header_feed(p, buf + i, n, ts);
            p->body_bytes += n;
            p->body_lines++;
            i += n;
            p->body_state = BODY_BOL;
            break;
        }
        case BODY_BOL:
            if (buf[i] == '.') {
                p->body_state = BODY_DOT; /* not counted: stuffing or end */
                i++;
            } else {
                p->body_state = BODY_MID;
            }
            break;
        case BODY_DOT:
            if (buf[i] == '\r') {
                p->body_state = BODY_DOT_CR;
                i++;
            } else if (buf[i] == '\n') { /* ".\n": lenient end, as MTAs are */
                anomaly(p, SMTP_ANOM_BARE_LF, SMTP_FROM_CLIENT, ts);
                end_of_data(p, ts);
                return i + 1;
            } else {
                p->body_state = BODY_MID; /* the leading dot was stuffing */
            }
            break;
        case BODY_DOT_CR:
            if (buf[i] == '\n') {
                end_of_data(p, ts);
                return i + 1;
            }
            p->body_bytes++; /* the CR of ".\r" not followed by LF */
            if (p->settings->on_body_data)
                p->settings->on_body_data(p, "\r", 1);
            p->body_state = BODY_MID;
            break;
        }
    }
    return len;
}

static void parse_bdat(struct smtp_command *c)
{
    const char *s = c->arg.p;
    size_t n = c->arg.len, i = 0;
    uint64_t v = 0;
    while (i < n && is_digit(s[i])) {
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
        if (j == i || n - j < 4 || !word_eq(s + j, 4, "LAST"))
            return;
        size_t k = j + 4;
        while (k < n && s[k] == ' ') k++;
        if (k != n)
            return;
        c->bdat_last = true;
    }
    c->bdat_size = v;
    c->flags |= 0x100u; /* valid marker, private to this file */
}

static void client_line(struct smtp_parser *p, enum smtp_dir dir,
                        struct smtp_span line, unsigned flags, size_t wire_len,
                        smtp_time ts_first, smtp_time ts_last)
{
    (void)dir;
    struct smtp_command c = {
        .line = line, .wire_len = wire_len, .flags = flags,
        .ts_first = ts_first, .ts_last = ts_last,
    };
    if (p->mode == SMTP_MODE_AUTH) {
        /* A response to a 334 challenge: always a secret (or "*" to cancel). */
        c.cmd = SMTP_CMD_AUTH_RESPONSE;
        if (!(line.len == 1 && line.p[0] == '*')) {
            c.secret = line;
            c.flags |= SMTP_LINE_SECRET;
        }
        p->mode = SMTP_MODE_COMMAND; /* the next answer decides again */
        announce(p, &c);
        return;
    }

    if (p->tunnel[SMTP_FROM_CLIENT]) { /* HTTP request headers */
        if (line.len == 0)
            p->tunnel[SMTP_FROM_CLIENT] = false;
        return;
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
        return;
    }
    p->commands_seen = true;
    size_t v = 0;
    while (v < line.len && line.p[v] != ' ') v++;
    c.cmd = verb_lookup(line.p, v);
    if (p->resync[SMTP_FROM_CLIENT]) {
        if (c.cmd == SMTP_CMD_UNKNOWN) { /* tail of a line, body, ... */
            anomaly(p, SMTP_ANOM_MIDSTREAM_SKIP, SMTP_FROM_CLIENT, ts_first);
            return;
        }
        p->resync[SMTP_FROM_CLIENT] = false;
    }
    size_t a = v;
    while (a < line.len && line.p[a] == ' ') a++;
    c.arg.p = line.p + a;
    c.arg.len = line.len - a;

    const struct smtp_pending *front = pending_front(p);
    if (!p->greeted && front && front->cmd == SMTP_CMD_CONNECT)
        anomaly(p, SMTP_ANOM_EARLY_TALKER, SMTP_FROM_CLIENT, ts_first);

    switch (c.cmd) {
    case SMTP_CMD_AUTH: {
        /* "AUTH mech [initial-response]": the response is a secret. */
        size_t m = 0;
        while (m < c.arg.len && c.arg.p[m] != ' ') m++;
        size_t r = m;
        while (r < c.arg.len && c.arg.p[r] == ' ') r++;
        if (r < c.arg.len) {
            c.secret.p = c.arg.p + r;
            c.secret.len = c.arg.len - r;
            c.flags |= SMTP_LINE_SECRET;
        }
        break;
    }
    case SMTP_CMD_BDAT:
        parse_bdat(&c);
        if (!(c.flags & 0x100u))
            anomaly(p, SMTP_ANOM_BDAT_MALFORMED, SMTP_FROM_CLIENT, ts_first);
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
    bool bdat_ok = (c.flags & 0x100u) != 0;
    c.flags &= ~0x100u;

    pending_push(p, c.cmd, announce(p, &c), ts_last);

    switch (c.cmd) {
    case SMTP_CMD_DATA:
    case SMTP_CMD_STARTTLS:
    case SMTP_CMD_AUTH:
        p->awaiting_mode_reply = true;
        break;
    case SMTP_CMD_BDAT:
        if (bdat_ok) {
            if (!p->bdat_active) {
                header_start(p);
                p->bdat_active = true;
                p->body_bytes = p->body_lines = 0;
                p->body_ts_first = -1;
            }
            p->chunk_left = c.bdat_size;
            p->chunk_last = c.bdat_last;
            p->mode = SMTP_MODE_CHUNK;
            if (c.bdat_size == 0) { /* "BDAT 0 LAST" carries no octets */
                p->mode = SMTP_MODE_COMMAND;
                if (c.bdat_last) {
                    p->bdat_active = false;
                    body_finished(p, ts_last, true, false);
                }
            }
        }
        break;
    default:
        break;
    }
}

static size_t chunk_consume(struct smtp_parser *p, const char *buf, size_t len,
                            smtp_time ts)
{
    if (p->body_ts_first < 0 && len)
        p->body_ts_first = ts;
    if (len)
        p->body_ts_last = ts;
    uint64_t n = len < p->chunk_left ? len : p->chunk_left;
    if (p->hdr)
        header_feed(p, buf, (size_t)n, ts);
    if (p->settings->on_body_data && n)
        p->settings->on_body_data(p, buf, (size_t)n);
    p->chunk_left -= n;
    p->body_bytes += n;
    if (p->chunk_left == 0) {
        p->mode = SMTP_MODE_COMMAND;
        if (p->chunk_last) {
            p->bdat_active = false;
            body_finished(p, ts, true, false);
        }
    }
    return (size_t)n;
}

static void client_consume(struct smtp_parser *p, const char *buf, size_t len,
                           smtp_time ts)
{
    while (len > 0) {
        if (p->not_smtp)
            return;
        if (p->tls) {
            p->tls_bytes[SMTP_FROM_CLIENT] += len;
            return;
        }
        if (client_must_hold(p)) {
            hold_bytes(p, buf, len, ts);
            return;
        }
        size_t n;
        switch (p->mode) {
        case SMTP_MODE_BODY:
            n = body_scan(p, buf, len, ts);
            break;
        case SMTP_MODE_CHUNK:
            n = chunk_consume(p, buf, len, ts);
            break;
        default:
            n = line_scan(p, SMTP_FROM_CLIENT, buf, len, ts, client_line);
            break;
        }
        buf += n;
        len -= n;
    }
}

/* Held bytes are stored as records: timestamp, length, bytes. */
struct hold_rec {
    smtp_time ts;
    size_t len;
};

static void hold_force_release(struct smtp_parser *p, smtp_time ts);

static void hold_bytes(struct smtp_parser *p, const char *buf, size_t len,
                       smtp_time ts)
{
    struct hold_rec rec = {ts, len};
    char *at = bytebuf_extend(&p->hold, sizeof rec + len);
    if (!at) {
        /* The client kept talking without the answer we wait for (lost in
         * the capture, or a misbehaving client): stop waiting. */
        anomaly(p, SMTP_ANOM_HOLD_OVERFLOW, SMTP_FROM_CLIENT, ts);
        hold_force_release(p, ts);
        client_consume(p, buf, len, ts);
        return;
    }
    memcpy(at, &rec, sizeof rec);
    memcpy(at + sizeof rec, buf, len);
}

static void hold_replay(struct smtp_parser *p)
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
        client_consume(p, held.p + off, rec.len, rec.ts);
        off += rec.len;
    }
    bytebuf_free(&held);
}

/* Stop waiting for the awaited answer and read on as if it were positive
 * for DATA (body follows) and as commands otherwise. */
static void hold_force_release(struct smtp_parser *p, smtp_time ts)
{
    (void)ts;
    enum smtp_cmd awaited = SMTP_CMD_NONE;
    if (p->pend_count)
        awaited = p->pending[(p->pend_head + p->pend_count - 1) % p->pend_cap].cmd;
    p->awaiting_mode_reply = false;
    if (awaited == SMTP_CMD_DATA)
        start_body(p);
    hold_replay(p);
}

/* ---- server side ------------------------------------------------------- */

static void complete_reply(struct smtp_parser *p, smtp_time ts_last)
{
    const struct smtp_pending *front = pending_front(p);
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
        if (!(p->midstream && p->resync[SMTP_FROM_CLIENT]))
            anomaly(p, SMTP_ANOM_UNSOLICITED_REPLY, SMTP_FROM_SERVER,
                    p->reply_ts_first);
    }
    p->in_reply = false;

    bool intermediate = r.cmd == SMTP_CMD_AUTH && r.code == 334;
    if (!intermediate)
        pending_pop(p);
    if (p->settings->on_reply)
        p->settings->on_reply(p, &r);

    switch (r.cmd) {
    case SMTP_CMD_DATA:
        p->awaiting_mode_reply = false;
        if (r.code == 354 && p->mode == SMTP_MODE_COMMAND)
            start_body(p);
        break;
    case SMTP_CMD_STARTTLS:
        p->awaiting_mode_reply = false;
        if (r.code == 220) {
            p->tls = true;
            if (p->settings->on_tls)
                p->settings->on_tls(p, ts_last);
        }
        break;
    case SMTP_CMD_AUTH:
        p->awaiting_mode_reply = false;
        if (intermediate) {
            p->mode = SMTP_MODE_AUTH;
            p->awaiting_mode_reply = true; /* again after the one response */
        }
        break;
    default:
        break;
    }
    if (!client_must_hold(p))
        hold_replay(p);
}

static void server_line(struct smtp_parser *p, enum smtp_dir dir,
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
    bool valid = line.len >= 3 && is_digit(line.p[0]) && is_digit(line.p[1]) &&
                 is_digit(line.p[2]) &&
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
            anomaly(p, SMTP_ANOM_MIDSTREAM_SKIP, SMTP_FROM_SERVER, ts_first);
            return;
        }
        p->resync[SMTP_FROM_SERVER] = false;
    }
    if (!valid && !p->midstream && !p->seen_reply) {
        /* The very first server line is no SMTP reply: not SMTP. */
        p->not_smtp = true;
        if (p->settings->on_not_smtp)
            p->settings->on_not_smtp(
                p, SMTP_FROM_SERVER,
                (struct smtp_span){line.p, line.len < SMTP_FIRST_BYTES
                                               ? line.len : SMTP_FIRST_BYTES},
                ts_first);
        return;
    }
    if (valid)
        p->seen_reply = true;
    if (!valid) {
        anomaly(p, SMTP_ANOM_MALFORMED_REPLY, SMTP_FROM_SERVER, ts_first);
        rl.code = 0;
        rl.text = line;
        rl.first = !p->in_reply;
        rl.last = !p->in_reply; /* inside a reply it does not end it */
        if (p->settings->on_reply_line)
            p->settings->on_reply_line(p, &rl);
        return;
    }
    rl.code = (line.p[0] - '0') * 100 + (line.p[1] - '0') * 10 + (line.p[2] - '0');
    rl.sep = line.len > 3 ? line.p[3] : ' ';
    rl.text.p = line.p + (line.len > 3 ? 4 : 3);
    rl.text.len = line.len > 3 ? line.len - 4 : 0;
    rl.last = rl.sep != '-';

    if (!p->in_reply) {
        const struct smtp_pending *front = pending_front(p);
        p->in_reply = true;
        rl.first = true;
        rl.cmd = front ? (enum smtp_cmd)front->cmd : SMTP_CMD_NONE;
        rl.cmd_ts_last = front ? front->ts_last : ts_first;
        p->reply_code = rl.code;
        p->reply_lines = 0;
        p->reply_ts_first = ts_first;
        if (rl.code < 200 || rl.code > 599)
            anomaly(p, SMTP_ANOM_REPLY_CODE_RANGE, SMTP_FROM_SERVER, ts_first);
        size_t el = enhanced_code_len(rl.text.p, rl.text.len);
        if (el && rl.text.p[0] != (char)('0' + rl.code / 100))
            el = 0; /* the class must agree with the reply code */
        memcpy(p->reply_enh, rl.text.p, el);
        p->reply_enh_len = el;
        const char *t = rl.text.p + el;
        size_t tl = rl.text.len - el;
        while (tl && *t == ' ') t++, tl--;
        if (tl > sizeof p->reply_text)
            tl = sizeof p->reply_text;
        memcpy(p->reply_text, t, tl);
        p->reply_text_len = tl;
    } else if (rl.code != p->reply_code) {
        anomaly(p, SMTP_ANOM_REPLY_CODE_CHANGED, SMTP_FROM_SERVER, ts_first);
    }
    p->reply_lines++;
    if (p->settings->on_reply_line)
        p->settings->on_reply_line(p, &rl);
    if (rl.last)
        complete_reply(p, ts_last);
}

static void server_consume(struct smtp_parser *p, const char *buf, size_t len,
                           smtp_time ts)
{
    while (len > 0) {
        if (p->not_smtp)
            return;
        if (p->tls) {
            p->tls_bytes[SMTP_FROM_SERVER] += len;
            return;
        }
        size_t n = line_scan(p, SMTP_FROM_SERVER, buf, len, ts, server_line);
        buf += n;
        len -= n;
    }
}

/* The first bytes of each direction decide whether this is SMTP at all: a
 * TLS handshake record (0x16) as the very first byte means implicit TLS
 * (SMTPS, port 465); the server's first line being no reply means the
 * port carries something else (see server_line). */
static bool first_bytes(struct smtp_parser *p, enum smtp_dir dir,
                        const char *buf, size_t len, smtp_time ts)
{
    p->started[dir] = true;
    if (len && (unsigned char)buf[0] == 0x16 && !p->midstream && !p->tls &&
        (dir == SMTP_FROM_SERVER || !p->greeted)) {
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
        p->tls_bytes[dir] += len;
        return;
    }
    if (p->not_smtp)
        return;
    if (dir == SMTP_FROM_SERVER)
        server_consume(p, buf, len, ts);
    else
        client_consume(p, buf, len, ts);
}

void smtp_parser_finish(struct smtp_parser *p, smtp_time ts)
{
    if (p->tls || p->not_smtp)
        return;
    /* Nothing more will answer: bytes held for an answer are read on. */
    for (int i = 0; p->hold.len && i < SMTP_PENDING_MAX; i++)
        hold_force_release(p, ts); /* replay may hold again (one-sided capture) */
    /* A body cut off by the end of the connection: its bytes were on the
     * wire all the same (a reset in the middle of a large message). */
    if (p->body_ts_first >= 0) {
        bool bdat = p->mode != SMTP_MODE_BODY;
        p->mode = SMTP_MODE_COMMAND;
        body_finished(p, p->body_ts_last, bdat, true);
    }
    for (int d = 0; d < 2; d++) {
        struct smtp_linebuf *lb = &p->line[d];
        if (lb->wire_len == 0)
            continue;
        if (d == SMTP_FROM_CLIENT && p->mode != SMTP_MODE_COMMAND &&
            p->mode != SMTP_MODE_AUTH)
            continue;
        line_deliver(p, (enum smtp_dir)d, lb->buf.p ? lb->buf.p : "",
                     lb->buf.len, false, ts,
                     d == SMTP_FROM_CLIENT ? client_line : server_line);
    }
}
