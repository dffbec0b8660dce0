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

/* Two bytes folded as text_find_ci folds the first: |0x20 lets a wrong byte
 * through, never stops a right one; strncasecmp decides. */
static inline unsigned fold2(const char *p)
{
    return ((unsigned char)p[0] | 0x20u) << 8 | ((unsigned char)p[1] | 0x20u);
}

static inline unsigned hash2(unsigned k) { return (k * 40503u >> 4) & 4095u; }

static void set_prepare(struct text_set *set)
{
    for (size_t j = 0; j < set->n && j < 64; j++) {
        set->len[j] = (uint8_t)strlen(set->words[j]);
        set->key[j] = (uint16_t)fold2(set->words[j]);
        unsigned h = hash2(set->key[j]);
        set->filter[h / 64] |= 1ULL << (h % 64);
    }
    set->ready = true;
}

uint64_t text_set_find(struct text_set *set, const char *hay, size_t len)
{
    if (!set->ready)
        set_prepare(set);
    size_t n = set->n < 64 ? set->n : 64;
    uint64_t found = 0, all = n == 64 ? ~0ULL : (1ULL << n) - 1;
    for (size_t i = 0; i + 1 < len; i++) {
        unsigned k = fold2(hay + i), h = hash2(k);
        if (!(set->filter[h / 64] >> (h % 64) & 1))
            continue;
        for (size_t j = 0; j < n; j++)
            if (set->key[j] == k && !(found >> j & 1) && set->len[j] <= len - i &&
                strncasecmp(hay + i, set->words[j], set->len[j]) == 0)
                found |= 1ULL << j;
        if (found == all)
            break;
    }
    return found;
}
