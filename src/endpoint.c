/* endpoint.c - address formatting and the stable session id. */
#include "endpoint.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

void endpoint_addr_str(const struct endpoint *e, char out[ENDPOINT_STRLEN])
{
    if (e->family != 6) {
        /* by hand: every session's log names two or three addresses, and
         * inet_ntop costs thirty times this */
        char *o = out;
        for (int i = 0; i < 4; i++) {
            unsigned b = e->addr[i];
            if (b >= 100)
                *o++ = (char)('0' + b / 100);
            if (b >= 10)
                *o++ = (char)('0' + b / 10 % 10);
            *o++ = (char)('0' + b % 10);
            *o++ = i < 3 ? '.' : '\0';
        }
        return;
    }
    if (!inet_ntop(e->family == 6 ? AF_INET6 : AF_INET, e->addr, out,
                   ENDPOINT_STRLEN))
        strcpy(out, "?");
}


uint32_t fnv1a(uint32_t h, const void *data, size_t n)
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

/* Tables and shards hash every packet's endpoints: a few multiplies over
 * 64-bit words rather than FNV byte by byte (FNV stays for session ids,
 * which must not change). Symmetric because the two halves are added. */
static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static uint64_t endpoint_mix(const struct endpoint *e)
{
    uint64_t w0 = 0, w1 = 0;
    if (e->family == 6) {
        memcpy(&w0, e->addr, 8);
        memcpy(&w1, e->addr + 8, 8);
    } else {
        uint32_t v4;
        memcpy(&v4, e->addr, 4);
        w0 = v4;
    }
    return mix64(w0 ^ (w1 << 29 | w1 >> 35) ^ ((uint64_t)e->port << 48) ^ e->family);
}

uint32_t flow_hash_symmetric(const struct endpoint *a, const struct endpoint *b)
{
    return (uint32_t)mix64(endpoint_mix(a) + endpoint_mix(b));
}

uint32_t addr_pair_hash_symmetric(const struct endpoint *a, const struct endpoint *b)
{
    struct endpoint x = *a, y = *b;
    x.port = y.port = 0;
    return flow_hash_symmetric(&x, &y);
}

uint32_t shard_hash(const struct endpoint *a, const struct endpoint *b)
{
    /* the XOR of the addresses' 32-bit big-endian words (symmetric), spread
     * by a multiply; the upper 16 bits, as BPF's "* K >> 16" leaves them */
    uint32_t x = 0;
    for (int i = 0; i < (a->family == 6 ? 16 : 4); i += 4)
        x ^= ((uint32_t)a->addr[i] << 24 | (uint32_t)a->addr[i + 1] << 16 |
              (uint32_t)a->addr[i + 2] << 8 | a->addr[i + 3]) ^
             ((uint32_t)b->addr[i] << 24 | (uint32_t)b->addr[i + 1] << 16 |
              (uint32_t)b->addr[i + 2] << 8 | b->addr[i + 3]);
    return (uint32_t)(x * SHARD_HASH_MULT) >> 16;
}

uint32_t session_id_for(const struct endpoint *client,
                        const struct endpoint *server, smtp_time start)
{
    uint32_t h = endpoint_hash(endpoint_hash(FNV1A_INIT, client), server);
    uint8_t t[8];
    for (int i = 0; i < 8; i++)
        t[i] = (uint8_t)((uint64_t)start >> (56 - 8 * i));
    return fnv1a(h, t, 8);
}

void endpoint_str(const struct endpoint *e, char out[ENDPOINT_PORT_STRLEN])
{
    char a[ENDPOINT_STRLEN];
    endpoint_addr_str(e, a);
    snprintf(out, ENDPOINT_PORT_STRLEN, e->family == 6 ? "[%s]:%u" : "%s:%u", a, e->port);
}
