/* test_endpoint.c - addresses written by hand read exactly as inet_ntop's. */
#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

#include "endpoint.h"
#include "tap.h"

int main(void)
{
    int bad = 0, runs = 0;
    uint64_t rng = 5;
    for (int r = 0; r < 100000; r++) {
        struct endpoint e;
        memset(&e, 0, sizeof e);
        e.family = 4;
        rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
        uint32_t v = (uint32_t)(rng >> 32);
        if (r < 1024) /* every value of every byte, the others 0 or 255 */
            v = (uint32_t)(r & 255) << (8 * ((r >> 8) & 3)) |
                (r & 1 ? 0 : 0xffu << (8 * (((r >> 8) + 1) & 3)));
        memcpy(e.addr, &v, 4);
        char got[ENDPOINT_STRLEN], want[INET_ADDRSTRLEN];
        memset(got, 'x', sizeof got);
        endpoint_addr_str(&e, got);
        inet_ntop(AF_INET, e.addr, want, sizeof want);
        runs++;
        if (strcmp(got, want) != 0 && !bad++)
            printf("# %s written as %.*s\n", want, (int)sizeof got, got);
    }
    CHECK(bad == 0, "%d IPv4 addresses read as inet_ntop's (%d differ)", runs, bad);

    struct endpoint e6;
    memset(&e6, 0, sizeof e6);
    e6.family = 6;
    static const uint8_t doc[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 0x25};
    memcpy(e6.addr, doc, 16);
    char s6[ENDPOINT_STRLEN];
    endpoint_addr_str(&e6, s6);
    CHECK(strcmp(s6, "2001:db8::25") == 0, "IPv6 still through inet_ntop: %s", s6);
    return tap_done();
}
