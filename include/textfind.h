/* textfind.h - case-insensitive search in wire text.
 *
 * Replies and headers are matched on words MTAs use ("queued as",
 * "greylist", "Postfix"), in any case, inside text that is not
 * NUL-terminated. One helper for all of them, with a first-byte filter so
 * that the full comparison runs only where the first letter matches.
 */
#ifndef SMTPSCOPE_TEXTFIND_H
#define SMTPSCOPE_TEXTFIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Offset of the first ASCII-case-insensitive occurrence of needle[0..nlen)
 * in hay[0..len), or -1 when there is none (an empty needle is at 0). */
long text_find_ci(const char *hay, size_t len, const char *needle, size_t nlen);

static inline bool text_has_ci(const char *hay, size_t len, const char *needle)
{
    return text_find_ci(hay, len, needle, strlen(needle)) >= 0;
}

/* Several needles (up to 64; best of four bytes or more) looked for in one
 * pass over the text: a refusal is matched on some twenty words, and twenty
 * scans of it cost more than the rest of its handling. Declare a set as
 * `static struct text_set set = TEXT_SET(words)`; text_set_find returns a
 * mask whose bit i says words[i] occurs (ASCII case ignored), the same
 * answer as text_has_ci for each word. */
struct text_set {
    const char *const *words;
    size_t n;
    bool ready;
    uint64_t short_words;       /* under four bytes: searched one by one */
    uint8_t len[64];
    uint32_t key[64];           /* the first four bytes, folded */
    uint64_t filter[4096 / 64]; /* the keys, hashed: one test a position */
};
#define TEXT_SET(w) {(w), sizeof(w) / sizeof *(w), false, 0, {0}, {0}, {0}}

uint64_t text_set_find(struct text_set *set, const char *hay, size_t len);

#endif
