/* escape.c - safe printing of wire bytes (see escape.h). */
#include "escape.h"
#include "obuf.h"

#include <stdint.h>
#include <string.h>

/* Length of a well-formed UTF-8 sequence at s (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF), or 0. *cp receives the code point. */
static size_t utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t len;
    uint32_t v, min;
    if (c >= 0xc2 && c <= 0xdf) { len = 2; v = c & 0x1f; min = 0x80; }
    else if (c >= 0xe0 && c <= 0xef) { len = 3; v = c & 0x0f; min = 0x800; }
    else if (c >= 0xf0 && c <= 0xf4) { len = 4; v = c & 0x07; min = 0x10000; }
    else return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        v = v << 6 | (s[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return len;
}

static int dangerous_cp(uint32_t cp)
{
    return (cp >= 0x80 && cp <= 0x9f) ||           /* C1 controls (CSI...) */
           cp == 0x2028 || cp == 0x2029 ||          /* line/para separators */
           (cp >= 0x202a && cp <= 0x202e) ||        /* bidi embeddings */
           (cp >= 0x2066 && cp <= 0x2069) ||        /* bidi isolates */
           cp == 0x200e || cp == 0x200f || cp == 0xfeff;
}

/* Escapes one unit at in[*i]; writes at most 12 bytes to out. */
static size_t escape_unit(char *out, const unsigned char *in, size_t n,
                          size_t *i, enum escape_mode mode)
{
    static const char hex[] = "0123456789abcdef";
    const char *bs = mode == ESCAPE_JSON ? "\\\\" : "\\";
    size_t bl = strlen(bs), o = 0;
    unsigned char c = in[*i];
    if (c >= 0x20 && c < 0x7f) {
        if (c == '\\') {
            memcpy(out, bs, bl);
            memcpy(out + bl, bs, bl);
            o = 2 * bl;
        } else if (c == '"' && mode == ESCAPE_JSON) {
            out[0] = '\\';
            out[1] = '"';
            o = 2;
        } else {
            out[0] = (char)c;
            o = 1;
        }
        (*i)++;
        return o;
    }
    uint32_t cp;
    size_t ul = c >= 0x80 ? utf8_seq(in + *i, n - *i, &cp) : 0;
    if (ul && !dangerous_cp(cp)) {
        memcpy(out, in + *i, ul);
        *i += ul;
        return ul;
    }
    memcpy(out, bs, bl);
    o = bl;
    if (ul) { /* \u{XXXX} */
        o += (size_t)sprintf(out + o, "u{%04x}", (unsigned)cp);
        *i += ul;
        return o;
    }
    if (c == '\t' || c == '\r' || c == '\n') {
        out[o++] = c == '\t' ? 't' : c == '\r' ? 'r' : 'n';
    } else {
        out[o++] = 'x';
        out[o++] = hex[c >> 4];
        out[o++] = hex[c & 15];
    }
    (*i)++;
    return o;
}

size_t escape_to(char *out, size_t cap, const char *in, size_t n,
                 enum escape_mode mode)
{
    const unsigned char *u = (const unsigned char *)in;
    size_t i = 0, o = 0;
    char unit[16];
    if (cap == 0)
        return 0;
    while (i < n) {
        size_t save = i;
        size_t ul = escape_unit(unit, u, n, &i, mode);
        if (o + ul >= cap) {
            i = save;
            break;
        }
        memcpy(out + o, unit, ul);
        o += ul;
    }
    out[o] = '\0';
    return o;
}

void escape_write(FILE *f, const char *in, size_t n, enum escape_mode mode)
{
    const unsigned char *u = (const unsigned char *)in;
    size_t i = 0;
    char buf[4096 + 16];
    size_t o = 0;
    while (i < n) {
        /* fast path: a run of plain printable ASCII */
        size_t run = i;
        while (run < n && u[run] >= 0x20 && u[run] < 0x7f && u[run] != '\\' &&
               u[run] != '"')
            run++;
        if (run > i) {
            if (o)
                fwrite(buf, 1, o, f), o = 0;
            fwrite(in + i, 1, run - i, f);
            i = run;
            continue;
        }
        o += escape_unit(buf + o, u, n, &i, mode);
        if (o >= 4096)
            fwrite(buf, 1, o, f), o = 0;
    }
    if (o)
        fwrite(buf, 1, o, f);
}

/* ---- into a sink's own buffer (obuf.h) ----------------------------------
 * The same bytes as escape_write; the scan for the end of a clean run goes
 * eight bytes at a time (a byte below 0x20, from 0x7f up, a backslash, or
 * for JSON a quote stops it) and the run is copied whole. */

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

static inline uint64_t has_zero(uint64_t v) { return (v - ONES) & ~v & HIGHS; }

static inline int plain_byte(unsigned char c, enum escape_mode mode)
{
    return c >= 0x20 && c < 0x7f && c != '\\' && (c != '"' || mode != ESCAPE_JSON);
}

static size_t clean_run(const unsigned char *u, size_t i, size_t n, enum escape_mode mode)
{
    while (n - i >= 8) {
        uint64_t w;
        memcpy(&w, u + i, 8);
        uint64_t bad = ((w - ONES * 0x20) & ~w & HIGHS) | (w & HIGHS) |
                       has_zero(w ^ (ONES * 0x7f)) | has_zero(w ^ (ONES * '\\'));
        if (mode == ESCAPE_JSON)
            bad |= has_zero(w ^ (ONES * '"'));
        if (bad)
            break;
        i += 8;
    }
    while (i < n && plain_byte(u[i], mode))
        i++;
    return i;
}

void obuf_escape(struct obuf *o, const char *in, size_t n, enum escape_mode mode)
{
    const unsigned char *u = (const unsigned char *)in;
    size_t i = 0;
    while (i < n) {
        size_t run = clean_run(u, i, n, mode);
        if (run > i) {
            obuf_put(o, in + i, run - i);
            i = run;
            continue;
        }
        char *p = obuf_room(o, 16);
        o->len += escape_unit(p, u, n, &i, mode);
    }
}

void escape_js_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20 || *p == '<' || *p >= 0x7f)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}
