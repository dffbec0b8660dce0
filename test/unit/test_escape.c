/* test_escape.c - wire bytes never reach an output raw. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "obuf.h"
#include "tap.h"

/* obuf_escape writes what escape_write writes, on random bytes chosen to
 * sit on every boundary of the eight-byte clean-run scan. */
static void obuf_agrees(void)
{
    static const char alpha[] = "aZ ~\"\\\x1f\x20\x7e\x7f\x80\xc3\xa9\xe2\x80\xae\r\n\0";
    static struct obuf ob;
    uint64_t rng = 5;
    int bad = 0, runs = 0;
    for (int r = 0; r < 40000; r++) {
        char in[40];
        rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
        size_t n = (rng >> 33) % sizeof in;
        for (size_t i = 0; i < n; i++) {
            rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
            /* mostly plain letters: long clean runs with a stop somewhere */
            in[i] = (rng >> 60) < 12 ? 'x' : alpha[(rng >> 35) % (sizeof alpha - 1)];
        }
        for (int m = 0; m < 2; m++) {
            enum escape_mode mode = m ? ESCAPE_JSON : ESCAPE_TEXT;
            char *a = NULL, *b = NULL;
            size_t alen = 0, blen = 0;
            FILE *fa = open_memstream(&a, &alen), *fb = open_memstream(&b, &blen);
            escape_write(fa, in, n, mode);
            ob.f = fb;
            obuf_escape(&ob, in, n, mode);
            obuf_flush(&ob);
            fclose(fa);
            fclose(fb);
            runs++;
            bad += alen != blen || memcmp(a, b, alen) != 0;
            free(a);
            free(b);
        }
    }
    CHECK(bad == 0, "%d random escapes through obuf agree with escape_write (%d differ)",
          runs, bad);
}

static const char *esc(const char *in, size_t n, enum escape_mode m)
{
    static char out[4096];
    escape_to(out, sizeof out, in, n, m);
    return out;
}

#define ESC_IS(in, n, mode, want, what) \
    CHECK(strcmp(esc(in, n, mode), want) == 0, "%s: got \"%s\"", what, esc(in, n, mode))

int main(void)
{
    ESC_IS("MAIL FROM:<a@b>", 15, ESCAPE_TEXT, "MAIL FROM:<a@b>", "printable ASCII kept");
    ESC_IS("a\r\nb\tc", 6, ESCAPE_TEXT, "a\\r\\nb\\tc", "CR, LF, TAB written as escapes");
    ESC_IS("x\\y", 3, ESCAPE_TEXT, "x\\\\y", "backslash doubled, so escapes are unambiguous");
    ESC_IS("\x1b[31mred", 8, ESCAPE_TEXT, "\\x1b[31mred", "ANSI escape sequence defused");
    ESC_IS("a\0b", 3, ESCAPE_TEXT, "a\\x00b", "NUL written as \\x00");
    ESC_IS("\x7f", 1, ESCAPE_TEXT, "\\x7f", "DEL escaped");
    ESC_IS("caf\xc3\xa9", 5, ESCAPE_TEXT, "caf\xc3\xa9", "well-formed UTF-8 kept");
    ESC_IS("\xc3", 1, ESCAPE_TEXT, "\\xc3", "truncated UTF-8 sequence escaped");
    ESC_IS("\xc0\xaf", 2, ESCAPE_TEXT, "\\xc0\\xaf", "overlong UTF-8 escaped");
    ESC_IS("\xed\xa0\x80", 3, ESCAPE_TEXT, "\\xed\\xa0\\x80", "UTF-16 surrogate escaped");
    ESC_IS("\xe2\x80\xae" "abc", 6, ESCAPE_TEXT, "\\u{202e}abc", "bidi override shown as \\u{202e}");
    ESC_IS("\xc2\x85", 2, ESCAPE_TEXT, "\\u{0085}", "C1 control (NEL) escaped");
    ESC_IS("\xe2\x80\xa8", 3, ESCAPE_TEXT, "\\u{2028}", "line separator escaped");
    ESC_IS("say \"hi\"", 8, ESCAPE_JSON, "say \\\"hi\\\"", "JSON: quotes escaped");
    ESC_IS("a\x01", 2, ESCAPE_JSON, "a\\\\x01", "JSON: control as the same \\x01 text as the log");
    ESC_IS("\xff", 1, ESCAPE_JSON, "\\\\xff", "JSON: invalid byte kept visible as \\xff text");
    ESC_IS("\r\n127.0.0.1 [00000001] 00:00:00.000 >>> 250 forged", 50, ESCAPE_TEXT,
           "\\r\\n127.0.0.1 [00000001] 00:00:00.000 >>> 250 forged",
           "a forged log line stays on the same line");

    char small[8];
    size_t n = escape_to(small, sizeof small, "\x01\x02\x03", 3, ESCAPE_TEXT);
    CHECK(n < sizeof small && small[n] == 0 && n % 4 == 0,
          "truncation at a whole escape, NUL-terminated (len %zu)", n);
    n = escape_to(small, sizeof small, "ab\xc3\xa9\xc3\xa9\xc3\xa9", 8, ESCAPE_TEXT);
    CHECK(n == 6 && memcmp(small, "ab\xc3\xa9\xc3\xa9", 6) == 0,
          "truncation never splits a UTF-8 character (len %zu)", n);
    obuf_agrees();
    return tap_done();
}
