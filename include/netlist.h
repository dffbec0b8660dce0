/* netlist.h - "our" networks (--local-net): address prefixes, IPv4 and IPv6,
 * and which side of a session they put it on. */
#ifndef SMTPSCOPE_NETLIST_H
#define SMTPSCOPE_NETLIST_H

#include <stdbool.h>
#include <stdint.h>

#include "endpoint.h"

#define NETLIST_MAX 64

struct netprefix {
    uint8_t family; /* 4 or 6 */
    uint8_t bits;
    uint8_t addr[16];
};

struct netlist {
    struct netprefix p[NETLIST_MAX];
    int n;
};

/* Adds "192.0.2.0/24,2001:db8::/32,198.51.100.7" (a bare address is a
 * host). Returns 0, or -1 with what is wrong in err. */
int netlist_parse(struct netlist *nl, const char *spec, char *err, size_t errlen);
bool netlist_has(const struct netlist *nl, const struct endpoint *e);

/* Our mail domains (--local-domains): a domain covers its subdomains. */
#define DOMAINLIST_MAX 64
struct domainlist {
    char d[DOMAINLIST_MAX][128];
    int n;
};
int domainlist_parse(struct domainlist *dl, const char *spec, char *err, size_t errlen);
/* Is the domain of this address (user@domain, <> and trailing dot
 * ignored) one of ours? */
bool domainlist_has_addr(const struct domainlist *dl, const char *addr, size_t len);

#endif
