/* esmtp.c - ESMTP details read from lines (see esmtp.h).
 *
 * Base64 is decoded with the C library's resolver b64_pton (glibc
 * libresolv): a long-standing, bounded decoder, not one of our own.
 */
#include "esmtp.h"

#include <resolv.h>
#include <string.h>
#include <strings.h>

static const char *const kw_names[KW__COUNT] = {
    "SIZE", "PIPELINING", "STARTTLS", "AUTH", "8BITMIME", "SMTPUTF8",
    "CHUNKING", "DSN", "ENHANCEDSTATUSCODES", "BINARYMIME", "ETRN", "VRFY",
    "REQUIRETLS", "DELIVERBY",
};

const char *esmtp_kw_name(unsigned i)
{
    return i < KW__COUNT ? kw_names[i] : "?";
}

unsigned esmtp_keyword(const char *text, size_t len, const char **arg,
                       size_t *arg_len)
{
    size_t k = 0;
    while (k < len && text[k] != ' ' && text[k] != '=')
        k++;
    size_t a = k;
    while (a < len && (text[a] == ' ' || text[a] == '='))
        a++;
    *arg = text + a;
    *arg_len = len - a;
    for (unsigned i = 0; i < KW__COUNT; i++)
        if (strlen(kw_names[i]) == k && strncasecmp(text, kw_names[i], k) == 0)
            return 1u << i;
    return 0;
}

void esmtp_mail_params(const char *arg, size_t len, const char **params,
                       size_t *params_len)
{
    /* skip "FROM:<path>" (the path may hold spaces inside quotes) */
    size_t i = 0;
    const char *gt = memchr(arg, '>', len);
    if (gt) {
        i = (size_t)(gt - arg) + 1;
    } else { /* "FROM: addr" without brackets: the word after the colon */
        const char *colon = memchr(arg, ':', len);
        i = colon ? (size_t)(colon - arg) + 1 : 0;
        while (i < len && arg[i] == ' ')
            i++;
        while (i < len && arg[i] != ' ')
            i++;
    }
    while (i < len && arg[i] == ' ')
        i++;
    *params = arg + i;
    *params_len = len - i;
}

/* Decodes at most 768 base64 characters; returns the decoded length or -1. */
static int b64(const char *in, size_t n, unsigned char *out, size_t cap)
{
    char tmp[769];
    if (n >= sizeof tmp)
        n = sizeof tmp - 1;
    memcpy(tmp, in, n);
    tmp[n] = '\0';
    return b64_pton(tmp, out, cap);
}

static size_t put(char *out, size_t cap, const unsigned char *p, size_t n)
{
    if (cap == 0)
        return 0;
    if (n > cap - 1)
        n = cap - 1;
    memcpy(out, p, n);
    out[n] = '\0';
    return n;
}

/* The value of `key` in "k1=v1<sep>k2=v2..." */
static size_t field(const unsigned char *d, size_t n, const char *key,
                    unsigned char sep, char *out, size_t cap)
{
    size_t kl = strlen(key);
    for (size_t i = 0; i + kl <= n;) {
        size_t end = i;
        while (end < n && d[end] != sep)
            end++;
        if (end - i >= kl && memcmp(d + i, key, kl) == 0)
            return put(out, cap, d + i + kl, end - i - kl);
        i = end + 1;
    }
    return 0;
}

size_t esmtp_auth_user(const char *mech, unsigned step, const char *b64in,
                       size_t b64_len, char *out, size_t cap)
{
    unsigned char d[600];
    if (step != 1 || cap == 0)
        return 0;
    int n = b64(b64in, b64_len, d, sizeof d);
    if (n <= 0)
        return 0;
    size_t len = (size_t)n;
    if (strcasecmp(mech, "PLAIN") == 0) {
        /* authzid NUL authcid NUL passwd */
        const unsigned char *z1 = memchr(d, 0, len);
        if (!z1)
            return 0;
        const unsigned char *u = z1 + 1;
        const unsigned char *z2 = memchr(u, 0, len - (size_t)(u - d));
        if (!z2)
            return 0;
        return put(out, cap, u, (size_t)(z2 - u));
    }
    if (strcasecmp(mech, "LOGIN") == 0)
        return put(out, cap, d, len);
    if (strcasecmp(mech, "CRAM-MD5") == 0) {
        const unsigned char *sp = memchr(d, ' ', len);
        return sp ? put(out, cap, d, (size_t)(sp - d)) : 0;
    }
    if (strcasecmp(mech, "XOAUTH2") == 0)
        return field(d, len, "user=", 0x01, out, cap);
    if (strcasecmp(mech, "OAUTHBEARER") == 0) {
        /* GS2 header "n,a=user," */
        return field(d, len, "a=", ',', out, cap);
    }
    return 0;
}
