/* textfind.c - case-insensitive search in wire text (see textfind.h). */
#include "textfind.h"

#include <strings.h>

long text_find_ci(const char *hay, size_t len, const char *needle, size_t nlen)
{
    if (nlen == 0)
        return 0;
    if (nlen > len)
        return -1;
    /* OR-ing 0x20 folds ASCII letters to lower case; for other bytes it may
     * let a wrong byte through, never stop a right one: strncasecmp
     * decides. */
    unsigned char first = (unsigned char)needle[0] | 0x20;
    for (size_t i = 0, last = len - nlen; i <= last; i++)
        if (((unsigned char)hay[i] | 0x20) == first &&
            strncasecmp(hay + i, needle, nlen) == 0)
            return (long)i;
    return -1;
}

/* Four bytes folded as text_find_ci folds the first: |0x20 lets a wrong
 * byte through, never stops a right one; strncasecmp decides. Four, not
 * two: pairs like "re" are everywhere in a refusal's text. */
static inline uint32_t fold4(const char *p)
{
    uint32_t k;
    memcpy(&k, p, 4);
    return k | 0x20202020u;
}

static inline unsigned hash4(uint32_t k) { return (k * 2654435761u) >> 20; } /* 12 bits */

static void set_prepare(struct text_set *set)
{
    for (size_t j = 0; j < set->n && j < 64; j++) {
        size_t len = strlen(set->words[j]);
        set->len[j] = (uint8_t)(len > 255 ? 255 : len);
        if (len < 4) { /* looked for on its own */
            set->short_words |= 1ULL << j;
            continue;
        }
        set->key[j] = fold4(set->words[j]);
        unsigned h = hash4(set->key[j]);
        set->filter[h / 64] |= 1ULL << (h % 64);
    }
    set->ready = true;
}

uint64_t text_set_find(struct text_set *set, const char *hay, size_t len)
{
    if (!set->ready)
        set_prepare(set);
    size_t n = set->n < 64 ? set->n : 64;
    uint64_t found = 0;
    for (uint64_t m = set->short_words; m; m &= m - 1) {
        unsigned j = (unsigned)__builtin_ctzll(m);
        if (text_find_ci(hay, len, set->words[j], set->len[j]) >= 0)
            found |= 1ULL << j;
    }
    for (size_t i = 0; i + 4 <= len; i++) {
        uint32_t k = fold4(hay + i);
        unsigned h = hash4(k);
        if (!(set->filter[h / 64] >> (h % 64) & 1))
            continue;
        for (size_t j = 0; j < n; j++)
            if (set->key[j] == k && !(found >> j & 1) && set->len[j] <= len - i &&
                !(set->short_words >> j & 1) &&
                strncasecmp(hay + i, set->words[j], set->len[j]) == 0)
                found |= 1ULL << j;
    }
    return found;
}
