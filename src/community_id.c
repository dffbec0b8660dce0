/* community_id.c - Community ID v1 (see community_id.h). SHA-1 is GnuTLS's
 * (already linked for the TLS reader), base64 libresolv's. */
#include "community_id.h"

#include <gnutls/crypto.h>
#include <netinet/in.h>
#include <resolv.h>
#include <string.h>

/* a before b in the spec's order: address, then port */
static bool first_is(const struct endpoint *a, const struct endpoint *b, size_t alen)
{
    int c = memcmp(a->addr, b->addr, alen);
    return c < 0 || (c == 0 && a->port <= b->port);
}

bool community_id(const struct endpoint *a, const struct endpoint *b, uint8_t proto,
                  char out[COMMUNITY_ID_LEN])
{
    size_t alen = a->family == 6 ? 16 : 4;
    if (!first_is(a, b, alen)) {
        const struct endpoint *t = a;
        a = b;
        b = t;
    }
    uint8_t buf[2 + 16 + 16 + 2 + 4], *p = buf;
    *p++ = 0; /* seed 0 */
    *p++ = 0;
    memcpy(p, a->addr, alen);
    p += alen;
    memcpy(p, b->addr, alen);
    p += alen;
    *p++ = proto;
    *p++ = 0;
    *p++ = (uint8_t)(a->port >> 8);
    *p++ = (uint8_t)a->port;
    *p++ = (uint8_t)(b->port >> 8);
    *p++ = (uint8_t)b->port;
    uint8_t digest[20];
    out[0] = '\0';
    if (gnutls_hash_fast(GNUTLS_DIG_SHA1, buf, (size_t)(p - buf), digest) < 0)
        return false;
    memcpy(out, "1:", 2);
    if (b64_ntop(digest, sizeof digest, out + 2, COMMUNITY_ID_LEN - 2) < 0) {
        out[0] = '\0';
        return false;
    }
    return true;
}
