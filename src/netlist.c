/* netlist.c - address prefixes (see netlist.h). */
#include "netlist.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int parse_one(struct netprefix *p, const char *s, size_t len, char *err, size_t errlen)
{
    char buf[64];
    if (len == 0 || len >= sizeof buf) {
        snprintf(err, errlen, "'%.*s' is not an address or prefix", (int)(len > 60 ? 60 : len), s);
        return -1;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *slash = strchr(buf, '/');
    long bits = -1;
    if (slash) {
        char *end;
        *slash = '\0';
        bits = strtol(slash + 1, &end, 10);
        if (end == slash + 1 || *end || bits < 0) {
            snprintf(err, errlen, "'%.*s': bad prefix length", (int)len, s);
            return -1;
        }
    }
    memset(p, 0, sizeof *p);
    if (inet_pton(AF_INET, buf, p->addr) == 1) {
        p->family = 4;
        if (bits < 0)
            bits = 32;
        if (bits > 32) {
            snprintf(err, errlen, "'%.*s': an IPv4 prefix is at most /32", (int)len, s);
            return -1;
        }
    } else if (inet_pton(AF_INET6, buf, p->addr) == 1) {
        p->family = 6;
        if (bits < 0)
            bits = 128;
        if (bits > 128) {
            snprintf(err, errlen, "'%.*s': an IPv6 prefix is at most /128", (int)len, s);
            return -1;
        }
    } else {
        snprintf(err, errlen, "'%.*s' is not an IPv4 or IPv6 address", (int)len, s);
        return -1;
    }
    p->bits = (uint8_t)bits;
    return 0;
}

int netlist_parse(struct netlist *nl, const char *spec, char *err, size_t errlen)
{
    const char *s = spec;
    for (;;) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        if (nl->n == NETLIST_MAX) {
            snprintf(err, errlen, "at most %d networks", NETLIST_MAX);
            return -1;
        }
        if (parse_one(&nl->p[nl->n], s, len, err, errlen) < 0)
            return -1;
        nl->n++;
        if (!comma)
            return 0;
        s = comma + 1;
    }
}

static bool in_prefix(const struct netprefix *p, const struct endpoint *e)
{
    if (p->family != e->family)
        return false;
    unsigned full = p->bits / 8, rest = p->bits % 8;
    if (memcmp(p->addr, e->addr, full) != 0)
        return false;
    if (!rest)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (p->addr[full] & mask) == (e->addr[full] & mask);
}

bool netlist_has(const struct netlist *nl, const struct endpoint *e)
{
    for (int i = 0; i < nl->n; i++)
        if (in_prefix(&nl->p[i], e))
            return true;
    return false;
}

int domainlist_parse(struct domainlist *dl, const char *spec, char *err, size_t errlen)
{
    const char *s = spec;
    for (;;) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        while (len && s[len - 1] == '.')
            len--;
        if (len == 0 || len >= sizeof dl->d[0] || memchr(s, '@', len)) {
            snprintf(err, errlen, "'%.*s' is not a domain", (int)(len > 60 ? 60 : len), s);
            return -1;
        }
        if (dl->n == DOMAINLIST_MAX) {
            snprintf(err, errlen, "at most %d domains", DOMAINLIST_MAX);
            return -1;
        }
        memcpy(dl->d[dl->n], s, len);
        dl->d[dl->n][len] = '\0';
        dl->n++;
        if (!comma)
            return 0;
        s = comma + 1;
    }
}

bool domainlist_has_addr(const struct domainlist *dl, const char *addr, size_t len)
{
    const char *at = NULL;
    for (size_t i = 0; i < len; i++)
        if (addr[i] == '@')
            at = addr + i;
    if (!at)
        return false; /* "postmaster" alone is always local */
    const char *d = at + 1;
    size_t dn = (size_t)(addr + len - d);
    while (dn && (d[dn - 1] == '>' || d[dn - 1] == '.' || d[dn - 1] == ' '))
        dn--;
    for (int i = 0; i < dl->n; i++) {
        size_t n = strlen(dl->d[i]);
        if (dn < n || strncasecmp(d + dn - n, dl->d[i], n) != 0)
            continue;
        if (dn == n || d[dn - n - 1] == '.') /* the domain or a subdomain */
            return true;
    }
    return false;
}
