/* smtp_parser_mime.c - what the header tap reads in a MIME structure:
 * parameters of a Content-Type or Content-Disposition field (boundary,
 * filename, name), and whether a body line is one of the boundaries
 * declared so far. Only file names come out: never part contents. */
#include "smtp_parser_internal.h"

#include <string.h>
#include <strings.h>

size_t sp_mime_param(const char *v, size_t n, const char *key, const char **out)
{
    size_t kl = strlen(key);
    for (size_t i = 0; i + kl + 1 <= n; i++) {
        bool at_start = i == 0 || v[i - 1] == ';' || v[i - 1] == ' ' || v[i - 1] == '\t';
        if (!at_start || strncasecmp(v + i, key, kl) != 0 || v[i + kl] != '=')
            continue;
        const char *s = v + i + kl + 1;
        size_t left = n - (i + kl + 1);
        if (left && *s == '"') {
            const char *q = memchr(s + 1, '"', left - 1);
            *out = s + 1;
            return q ? (size_t)(q - s - 1) : left - 1;
        }
        size_t len = 0;
        while (len < left && s[len] != ';' && s[len] != ' ' && s[len] != '\t')
            len++;
        *out = s;
        return len;
    }
    return 0;
}

bool sp_mime_is_boundary(const char (*bound)[SP_MIME_BOUNDARY_MAX], const uint8_t *blen,
                         int nbound, const char *line, size_t n)
{
    if (n < 3 || line[0] != '-' || line[1] != '-')
        return false;
    for (int i = 0; i < nbound; i++)
        if (n >= 2 + (size_t)blen[i] && memcmp(line + 2, bound[i], blen[i]) == 0)
            return true; /* "--b" or the closing "--b--" */
    return false;
}
