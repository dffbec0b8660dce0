/* endpoint.c - address formatting and the stable session id. */
#include "endpoint.h"

#include <arpa/inet.h>
#include <string.h>

void endpoint_addr_str(const struct endpoint *e, char out[ENDPOINT_STRLEN])
{
    if (!inet_ntop(e->family == 6 ? AF_INET6 : AF_INET, e->addr, out,
                   ENDPOINT_STRLEN))
        strcpy(out, "?");
}

bool endpoint_eq(const struct endpoint *a, const struct endpoint *b)
{
    return a->family == b->family && a->port == b->port &&
           memcmp(a->addr, b->addr, a->family == 6 ? 16 : 4) == 0;
}

static uint32_t fnv1a(uint32_t h, const void *data, size_t n)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    return h;
}

static uint32_t endpoint_hash(uint32_t h, const struct endpoint *e)
{
    uint8_t port[2] = {(uint8_t)(e->port >> 8), (uint8_t)e->port};
    h = fnv1a(h, &e->family, 1);
    h = fnv1a(h, e->addr, e->family == 6 ? 16 : 4);
    return fnv1a(h, port, 2);
}

static int endpoint_cmp(const struct endpoint *a, const struct endpoint *b)
{
    int c = memcmp(a->addr, b->addr, 16);
    if (c)
        return c;
    return (int)a->port - (int)b->port;
}

uint32_t flow_hash_symmetric(const struct endpoint *a, const struct endpoint *b)
{
    if (endpoint_cmp(a, b) > 0) {
        const struct endpoint *t = a;
        a = b;
        b = t;
    }
    return endpoint_hash(endpoint_hash(2166136261u, a), b);
}

uint32_t addr_pair_hash_symmetric(const struct endpoint *a, const struct endpoint *b)
{
    struct endpoint x = *a, y = *b;
    x.port = y.port = 0;
    return flow_hash_symmetric(&x, &y);
}

uint32_t session_id_for(const struct endpoint *client,
                        const struct endpoint *server, smtp_time start)
{
    uint32_t h = endpoint_hash(endpoint_hash(2166136261u, client), server);
    uint8_t t[8];
    for (int i = 0; i < 8; i++)
        t[i] = (uint8_t)((uint64_t)start >> (56 - 8 * i));
    return fnv1a(h, t, 8);
}
