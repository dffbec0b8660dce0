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
#include <string.h>

/* Offset of the first ASCII-case-insensitive occurrence of needle[0..nlen)
 * in hay[0..len), or -1 when there is none (an empty needle is at 0). */
long text_find_ci(const char *hay, size_t len, const char *needle, size_t nlen);

static inline bool text_has_ci(const char *hay, size_t len, const char *needle)
{
    return text_find_ci(hay, len, needle, strlen(needle)) >= 0;
}

#endif
