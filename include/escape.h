/* escape.h - making wire bytes safe to print.
 *
 * Everything from the wire is attacker-controlled. The escaped form keeps
 * printable ASCII and well-formed UTF-8, and writes every other byte as
 * \xHH (\t \r \n for those three), backslash as \\, and Unicode controls
 * that could reorder or hide text on a terminal (C1 controls, bidi
 * overrides, line/paragraph separators) as \u{XXXX}. No raw control byte,
 * CR or LF ever reaches an output, so a line cannot forge another line.
 */
#ifndef SMTPSCOPE_ESCAPE_H
#define SMTPSCOPE_ESCAPE_H

#include <stddef.h>
#include <stdio.h>

enum escape_mode {
    ESCAPE_TEXT, /* for the text log */
    ESCAPE_JSON, /* inside a JSON string: the same, plus '"' and JSON's own backslash */
};

/* Worst case output size for n input bytes. */
#define ESCAPE_MAX(n) ((n) * 10 + 1)

/* Writes the escaped form of in[0..n) to f. */
void escape_write(FILE *f, const char *in, size_t n, enum escape_mode mode);

/* The same into a buffer; returns the length written (always NUL-terminated,
 * truncated at a character boundary when cap is too small). */
size_t escape_to(char *out, size_t cap, const char *in, size_t n,
                 enum escape_mode mode);

/* A JavaScript string literal of s for data inside a script element:
 * quotes and backslashes escaped, control bytes, '<' and every byte from
 * 0x7f as \u00XX, so no text can end the element (the HTML reports). */
void escape_js_string(FILE *f, const char *s);

#endif
