/* smtp_parser_body.c - message content: DATA bodies scanned for their end
 * and dot-stuffing, BDAT chunks counted, and the opt-in header tap.
 *
 * Message bodies are scanned line by line, looking only at the first bytes
 * of each line for the terminating "." and dot-stuffing, so a megabyte body
 * costs one pass of a vector scan and no copies.
 */
#include "smtp_parser_internal.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h> /* AVX2, used only where the CPU has it */
#endif

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- opt-in header extraction ------------------------------------------- */

struct smtp_header_tap {
    char line[SMTP_HEADER_VALUE_MAX + 80]; /* the physical line being read */
    size_t line_len;
    bool line_cut;
    char field[SMTP_HEADER_VALUE_MAX + 80]; /* the logical (unfolded) field */
    size_t field_len;
    size_t seen; /* header bytes looked at */
    smtp_time ts;
    /* past the message's header: MIME part headers, for file names */
    bool in_body, part_hdr, part_named;
    char bound[SP_MIME_BOUNDARIES][SP_MIME_BOUNDARY_MAX];
    uint8_t blen[SP_MIME_BOUNDARIES];
    int nbound;
};

static const char *const wanted_headers[] = {
    "Message-ID", "Subject", "From", "To", "Cc", "Date", "Reply-To",
    "X-Mailer", "User-Agent", "Received",
};

static bool field_is(const char *f, size_t nl, const char *name)
{
    return strlen(name) == nl && strncasecmp(f, name, nl) == 0;
}

/* Content-Type and Content-Disposition, of the message or of a part: the
 * boundaries to follow, and a part's file name. */
static void mime_field(struct smtp_parser *p, const char *f, size_t nl,
                       const char *v, size_t vl)
{
    struct smtp_header_tap *h = p->hdr;
    bool ctype = field_is(f, nl, "Content-Type");
    if (!ctype && !field_is(f, nl, "Content-Disposition"))
        return;
    const char *x;
    size_t xl;
    if (ctype && (xl = sp_mime_param(v, vl, "boundary", &x)) &&
        xl < SP_MIME_BOUNDARY_MAX && h->nbound < SP_MIME_BOUNDARIES) {
        memcpy(h->bound[h->nbound], x, xl);
        h->blen[h->nbound++] = (uint8_t)xl;
    }
    if (h->part_named)
        return; /* one name a part: filename= and name= usually agree */
    xl = sp_mime_param(v, vl, ctype ? "name" : "filename", &x);
    if (!xl && !ctype)
        xl = sp_mime_param(v, vl, "filename*", &x); /* RFC 2231, as given */
    if (xl) {
        h->part_named = true;
        p->settings->on_header(p, (struct smtp_span){"filename", 8},
                               (struct smtp_span){x, xl}, h->ts);
    }
}

static void header_flush(struct smtp_parser *p)
{
    struct smtp_header_tap *h = p->hdr;
    const char *f = h->field;
    const char *colon = memchr(f, ':', h->field_len);
    if (colon) {
        size_t nl0 = (size_t)(colon - f);
        const char *v0 = colon + 1;
        size_t vl0 = h->field_len - nl0 - 1;
        while (vl0 && (*v0 == ' ' || *v0 == '\t'))
            v0++, vl0--;
        mime_field(p, f, nl0, v0, vl0);
    }
    if (colon && !h->in_body) { /* the message's own fields */
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

void sp_header_stop(struct smtp_parser *p)
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
    if (n == 0) { /* the empty line: end of a header section */
        if (h->field_len)
            header_flush(p);
        if (!h->in_body && !h->nbound) {
            sp_header_stop(p); /* not multipart: no part headers to read */
            return;
        }
        h->in_body = true;
        h->part_hdr = false;
        h->line_len = 0;
        return;
    }
    if (h->in_body && !h->part_hdr) { /* a part's content: only boundaries */
        if (sp_mime_is_boundary((const char (*)[SP_MIME_BOUNDARY_MAX])h->bound, h->blen,
                                h->nbound, h->line, n)) {
            h->part_hdr = true;
            h->part_named = false;
        }
        h->line_len = 0;
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
    if (p->hdr && p->hdr->seen > (p->hdr->in_body ? SMTP_MIME_SCAN_MAX
                                                  : SMTP_HEADER_SECTION_MAX))
        sp_header_stop(p); /* no end of header (or of parts) in sight: give up */
}

void sp_header_start(struct smtp_parser *p)
{
    sp_header_stop(p);
    if (p->settings->on_header)
        p->hdr = calloc(1, sizeof *p->hdr); /* NULL: simply no extraction */
}

void sp_start_body(struct smtp_parser *p)
{
    sp_header_start(p);
    p->mode = SMTP_MODE_BODY;
    p->body_state = BODY_BOL;
    p->body_bytes = p->body_lines = 0;
    p->body_ts_first = -1;
}

void sp_body_finished(struct smtp_parser *p, smtp_time ts, bool bdat,
                          bool incomplete)
{
    sp_header_stop(p);
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



/* The body ended with "." on a line of its own. */
void sp_end_of_data(struct smtp_parser *p, smtp_time ts)
{
    p->mode = SMTP_MODE_COMMAND;
    sp_body_finished(p, ts, false, false);
    struct smtp_command c = {
        .cmd = SMTP_CMD_END_OF_DATA, .line = {".", 1}, .wire_len = 3,
        .ts_first = ts, .ts_last = ts,
    };
    sp_pending_push(p, SMTP_CMD_END_OF_DATA, sp_announce(p, &c), ts);
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
                sp_anomaly(p, SMTP_ANOM_BARE_LF, SMTP_FROM_CLIENT, ts);
                sp_end_of_data(p, ts);
                return i + 1;
            } else {
                p->body_state = BODY_MID; /* the leading dot was stuffing */
            }
            break;
        case BODY_DOT_CR:
            if (buf[i] == '\n') {
                sp_end_of_data(p, ts);
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
        /* the BDAT's reply answers the chunk's last byte, not its line */
        struct smtp_pending *e = sp_pending_newest(p);
        if (e && e->cmd == SMTP_CMD_BDAT)
            e->ts_last = ts;
        p->mode = SMTP_MODE_COMMAND;
        if (p->chunk_last) {
            p->bdat_active = false;
            sp_body_finished(p, ts, true, false);
        }
    }
    return (size_t)n;
}

/* A TLS record (a ClientHello: 0x16 0x03) where a command line was due,
 * with no STARTTLS accepted: a client expecting implicit TLS on a
 * plaintext port, or one that ignored the refusal. Its bytes are TLS from
 * here, never commands. */
static bool client_starts_tls(struct smtp_parser *p, const char *buf,
                              size_t len, smtp_time ts)
{
    if (p->mode != SMTP_MODE_COMMAND || p->auth_open || p->midstream ||
        p->line[SMTP_FROM_CLIENT].wire_len != 0 || (unsigned char)buf[0] != 0x16 ||
        (len > 1 && buf[1] != 0x03))
        return false;
    p->tls = p->tls_unasked = true;
    if (p->settings->on_tls)
        p->settings->on_tls(p, ts);
    return true;
}

/* A TLS record header begins here (content type 20-23, version 3.x). */
static bool tls_record_start(const char *buf, size_t len)
{
    return len && (unsigned char)buf[0] >= 0x14 && (unsigned char)buf[0] <= 0x17 &&
           (len < 2 || buf[1] == 0x03);
}

bool sp_tls_after_220(struct smtp_parser *p, enum smtp_dir dir, const char *buf,
                      size_t len, smtp_time ts)
{
    if (p->tls || p->last_code != 220 || p->last_to_connect || p->in_reply ||
        p->mode != SMTP_MODE_COMMAND || p->line[dir].wire_len != 0 ||
        !tls_record_start(buf, len))
        return false;
    p->tls = p->tls_inferred = true;
    if (p->settings->on_tls)
        p->settings->on_tls(p, ts);
    return true;
}

/* All client bytes come here: with the body scan in the same file, the
 * hot path is one function. */
void sp_client_consume(struct smtp_parser *p, const char *buf, size_t len,
                           smtp_time ts)
{
    while (len > 0) {
        if (p->not_smtp)
            return;
        if (p->tls) {
            sp_tls_bytes(p, SMTP_FROM_CLIENT, buf, len, ts);
            return;
        }
        if (sp_client_must_hold(p)) {
            sp_hold_bytes(p, buf, len, ts);
            return;
        }
        if (sp_tls_after_220(p, SMTP_FROM_CLIENT, buf, len, ts) ||
            client_starts_tls(p, buf, len, ts))
            continue;
        size_t n;
        switch (p->mode) {
        case SMTP_MODE_BODY:
            n = body_scan(p, buf, len, ts);
            break;
        case SMTP_MODE_CHUNK:
            n = chunk_consume(p, buf, len, ts);
            break;
        default:
            n = sp_line_scan(p, SMTP_FROM_CLIENT, buf, len, ts, sp_client_line);
            break;
        }
        buf += n;
        len -= n;
    }
}
