/* test_shard_filter.c - the kernel's share of a live worker is the share
 * its own check keeps: libpcap compiles capture_shard_filter() and runs it
 * over frames; every TCP and DNS packet passes exactly one shard's filter,
 * the one shard_hash() names; ICMP, VLAN-tagged frames and ARP pass all. */
#include <pcap/pcap.h>
#include <stdint.h>
#include <string.h>

#include "capture.h"
#include "engine.h"
#include "endpoint.h"
#include "tap.h"

static uint64_t rng = 3;
static uint32_t rnd(void)
{
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rng >> 32);
}

/* An Ethernet frame (or a raw IP packet when eth is false) from a to b:
 * proto 6 (TCP, port 25), 17 (UDP, port 53) or 1 (ICMP unreachable). */
static size_t frame(uint8_t *f, bool eth, bool vlan, const struct endpoint *a,
                    const struct endpoint *b, uint8_t proto)
{
    size_t o = 0;
    bool v6 = a->family == 6;
    if (eth) {
        memset(f, 0x02, 12);
        o = 12;
        if (vlan) {
            f[o++] = 0x81, f[o++] = 0x00, f[o++] = 0x00, f[o++] = 42;
        }
        f[o++] = v6 ? 0x86 : 0x08, f[o++] = v6 ? 0xdd : 0x00;
    }
    uint8_t *ip = f + o;
    size_t l4 = 20;
    if (v6) {
        memset(ip, 0, 40);
        ip[0] = 0x60;
        ip[5] = (uint8_t)l4;
        ip[6] = proto == 1 ? 58 : proto;
        ip[7] = 64;
        memcpy(ip + 8, a->addr, 16);
        memcpy(ip + 24, b->addr, 16);
        o += 40;
    } else {
        memset(ip, 0, 20);
        ip[0] = 0x45;
        ip[3] = (uint8_t)(20 + l4);
        ip[8] = 64;
        ip[9] = proto;
        memcpy(ip + 12, a->addr, 4);
        memcpy(ip + 16, b->addr, 4);
        o += 20;
    }
    uint8_t *t = f + o;
    memset(t, 0, l4);
    if (proto == 1) {
        t[0] = v6 ? 1 : 3; /* destination unreachable */
    } else {
        uint16_t sp = (uint16_t)(1024 + rnd() % 60000), dp = proto == 6 ? 25 : 53;
        bool to_server = rnd() & 1; /* both directions */
        uint16_t x = to_server ? sp : dp, y = to_server ? dp : sp;
        t[0] = (uint8_t)(x >> 8), t[1] = (uint8_t)x, t[2] = (uint8_t)(y >> 8), t[3] = (uint8_t)y;
        if (proto == 6)
            t[12] = 0x50, t[13] = 0x18;
    }
    return o + l4;
}

static void random_endpoint(struct endpoint *e, int family)
{
    memset(e, 0, sizeof *e);
    e->family = (uint8_t)family;
    for (int i = 0; i < (family == 6 ? 16 : 4); i++)
        e->addr[i] = (uint8_t)rnd();
    if (rnd() % 4 == 0) /* documentation prefixes, where shards are near */
        memcpy(e->addr, family == 6 ? (const uint8_t *)"\x20\x01\x0d\xb8" : (const uint8_t *)"\xc0\x00\x02", family == 6 ? 4 : 3);
}

int main(void)
{
    struct engine_config cfg;
    engine_config_defaults(&cfg);
    static const uint32_t counts[] = {2, 3, 5, 64};
    for (int dl = 0; dl < 2; dl++) {
        bool eth = dl == 0;
        char base[2048];
        capture_default_filter(cfg.ports, cfg.nports, eth ? DLT_EN10MB : DLT_RAW, base,
                               sizeof base);
        pcap_t *dead = pcap_open_dead(eth ? DLT_EN10MB : DLT_RAW, 262144);
        for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
            uint32_t n = counts[c];
            struct bpf_program prog[64];
            bool compiled = true;
            for (uint32_t k = 0; k < n; k++) {
                char f[4096];
                compiled &= capture_shard_filter(k, n, base, f, sizeof f) &&
                            pcap_compile(dead, &prog[k], f, 1, PCAP_NETMASK_UNKNOWN) == 0;
            }
            if (!CHECK(compiled, "%s, %u shards: every shard's filter compiles",
                       eth ? "Ethernet" : "raw IP", n))
                continue;
            int wrong = 0, runs = 0, all_wrong = 0;
            for (int r = 0; r < 3000; r++) {
                struct endpoint a, b;
                int family = r % 2 ? 6 : 4;
                random_endpoint(&a, family);
                random_endpoint(&b, family);
                uint8_t proto = r % 3 == 0 ? 17 : r % 7 == 0 ? 1 : 6;
                bool vlan = eth && r % 11 == 0;
                uint8_t f[128];
                struct pcap_pkthdr h = {.caplen = 0};
                h.caplen = h.len = (bpf_u_int32)frame(f, eth, vlan, &a, &b, proto);
                uint32_t want = shard_hash(&a, &b) % n, passed = 0;
                bool ok = true;
                for (uint32_t k = 0; k < n; k++) {
                    bool p = pcap_offline_filter(&prog[k], &h, f) != 0;
                    passed += p;
                    if (proto != 1 && !vlan && p != (k == want))
                        ok = false;
                }
                runs++;
                if ((proto == 1 || vlan) ? passed != n : !ok) {
                    if ((proto == 1 || vlan) ? !all_wrong++ : !wrong++)
                        printf("# proto %u family %d vlan %d: passed %u shards, want %s%u\n",
                               proto, family, vlan, passed,
                               proto == 1 || vlan ? "all " : "only ", proto == 1 || vlan ? n : want);
                }
            }
            CHECK(wrong == 0, "%s, %u shards: %d TCP and DNS packets pass only the "
                  "shard shard_hash names (%d wrong)", eth ? "Ethernet" : "raw IP", n,
                  runs, wrong);
            CHECK(all_wrong == 0, "%s, %u shards: ICMP errors%s pass every shard "
                  "(%d did not)", eth ? "Ethernet" : "raw IP", n,
                  eth ? " and VLAN-tagged frames" : "", all_wrong);
            for (uint32_t k = 0; k < n; k++)
                pcap_freecode(&prog[k]);
        }
        pcap_close(dead);
    }
    /* smtpscope -i on every link type it decodes: the default filter, and
     * a worker's narrowed one, must compile (VLAN clauses only on
     * Ethernet: libpcap refuses them elsewhere, "-i any" included) */
    static const int dlts[] = {DLT_EN10MB, DLT_RAW, DLT_IPV4, DLT_IPV6, DLT_NULL,
                               DLT_LOOP, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_PPP};
    for (size_t i = 0; i < sizeof dlts / sizeof dlts[0]; i++) {
        char def[2048], narrowed[4096];
        capture_default_filter(cfg.ports, cfg.nports, dlts[i], def, sizeof def);
        capture_shard_filter(1, 2, def, narrowed, sizeof narrowed);
        pcap_t *dead = pcap_open_dead(dlts[i], 262144);
        struct bpf_program p1, p2;
        bool c1 = pcap_compile(dead, &p1, def, 1, PCAP_NETMASK_UNKNOWN) == 0;
        if (!c1)
            printf("# %s\n", pcap_geterr(dead));
        bool c2 = pcap_compile(dead, &p2, narrowed, 1, PCAP_NETMASK_UNKNOWN) == 0;
        if (!c2)
            printf("# %s\n", pcap_geterr(dead));
        CHECK(c1 && c2, "link type %s: the default filter and a shard of it compile",
              pcap_datalink_val_to_name(dlts[i]));
        if (c1)
            pcap_freecode(&p1);
        if (c2)
            pcap_freecode(&p2);
        pcap_close(dead);
    }
    char small[64];
    CHECK(!capture_shard_filter(0, 2, "tcp port 25", small, sizeof small),
          "a filter that does not fit is refused, not cut");
    return tap_done();
}
