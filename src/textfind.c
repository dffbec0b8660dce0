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
