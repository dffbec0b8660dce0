/* capture_live.c - live capture from an interface, and the BPF filters
 * smtpscope builds (see capture.h). */
#include "capture.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "capture_int.h"
#include "decode.h"
#include "endpoint.h"
#include "privdrop.h"

void capture_default_filter(const uint16_t *ports, int nports, int dlt,
                            char *out, size_t cap)
{
    /* SMTP ports, ICMP unreachables (they end connection attempts) and IPv4
     * fragments; on Ethernet the same again inside one and two VLAN tags,
     * because BPF offsets do not look through tags unless told to ("vlan"
     * shifts them for what follows it). */
    char base[600];
    size_t o = 0;
    base[0] = '\0';
    if (nports == 0) /* -p any */
        o = (size_t)snprintf(base, sizeof base, "tcp");
    for (int i = 0; i < nports && o < sizeof base; i++)
        o += (size_t)snprintf(base + o, sizeof base - o, "%stcp port %u",
                              i ? " or " : "", ports[i]);
    if (o < sizeof base)
        snprintf(base + o, sizeof base - o,
                 " or icmp[0] == 3 or (icmp6 and ip6[40] == 1) or udp port 53"
                 " or (ip and ip[6:2] & 0x3fff != 0)");
    if (dlt == DLT_EN10MB)
        snprintf(out, cap, "(%s) or (vlan and (%s)) or (vlan and vlan and (%s))",
                 base, base, base);
    else
        snprintf(out, cap, "%s", base);
}

bool capture_shard_filter(uint32_t k, uint32_t n, const char *filter,
                          char *out, size_t cap)
{
    /* the shard expression first: a "vlan" in the filter shifts the offsets
     * of everything after it */
    int len = snprintf(
        out, cap,
        "(not (ip or ip6) or icmp or icmp6"
        " or (ip and ((((ip[12:4] ^ ip[16:4]) * %u) >> 16) %% %u == %u))"
        " or (ip6 and ((((ip6[8:4] ^ ip6[12:4] ^ ip6[16:4] ^ ip6[20:4]"
        " ^ ip6[24:4] ^ ip6[28:4] ^ ip6[32:4] ^ ip6[36:4]) * %u) >> 16) %% %u == %u)))"
        " and (%s)",
        SHARD_HASH_MULT, n, k, SHARD_HASH_MULT, n, k, filter);
    return len > 0 && (size_t)len < cap;
}

struct live_ctx {
    const struct capture_hooks *h;
    int dlt;
    bool go;
};

static void live_handler(u_char *user, const struct pcap_pkthdr *ph,
                         const u_char *data)
{
    struct live_ctx *lc = (struct live_ctx *)(void *)user;
    if (!lc->h->on_frame(lc->h->ctx, lc->dlt, capture_ts_of(ph), data, ph->caplen))
        lc->go = false;
}

static smtp_time wallclock(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (smtp_time)t.tv_sec * SMTP_NS_PER_SEC + t.tv_nsec;
}

/* The interface opened, activated and filtered; NULL with a message. */
static pcap_t *open_live(const struct capture_live_config *cfg)
{
    char err[PCAP_ERRBUF_SIZE];
    const char *iface = cfg->iface;
    pcap_t *p = pcap_create(iface, err);
    if (!p) {
        fprintf(stderr, "smtpscope: %s: %s\n", iface, err);
        return NULL;
    }
    /* GRO/LRO can hand up super-packets far above the MTU. */
    pcap_set_snaplen(p, cfg->snaplen > 0 ? cfg->snaplen : 262144);
    pcap_set_promisc(p, 1);
    pcap_set_timeout(p, 200);
    pcap_set_buffer_size(p, cfg->buffer_kib > 0 ? cfg->buffer_kib * 1024 : 32 << 20);
    pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO);
    int rc = pcap_activate(p);
    if (rc == PCAP_ERROR_PERM_DENIED) {
        fprintf(stderr, "smtpscope: %s: %s: capture needs root or CAP_NET_RAW "
                        "(setcap cap_net_raw+ep, or a systemd unit's "
                        "AmbientCapabilities)\n", iface, pcap_geterr(p));
        pcap_close(p);
        return NULL;
    }
    if (rc < 0) {
        fprintf(stderr, "smtpscope: %s: %s\n", iface, pcap_geterr(p));
        pcap_close(p);
        return NULL;
    }
    if (rc > 0 && !cfg->quiet)
        fprintf(stderr, "smtpscope: %s: warning: %s\n", iface, pcap_geterr(p));
    if (!capture_check_linktype(p, iface, false)) {
        pcap_close(p);
        return NULL;
    }
    char def[2048], sharded[4096];
    const char *filter = cfg->filter;
    if (!filter) {
        capture_default_filter(cfg->ports, cfg->nports, pcap_datalink(p), def, sizeof def);
        filter = def;
    }
    /* a shard of the interface: the kernel keeps the other shards' packets
     * (a filter too long to narrow is used whole: the engine still splits) */
    if (cfg->nshards && capture_shard_filter(cfg->shard, cfg->nshards, filter,
                                             sharded, sizeof sharded))
        filter = sharded;
    struct bpf_program prog;
    if (pcap_compile(p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) < 0 ||
        pcap_setfilter(p, &prog) < 0) {
        fprintf(stderr, "smtpscope: filter \"%s\": %s\n", filter, pcap_geterr(p));
        pcap_close(p);
        return NULL;
    }
    pcap_freecode(&prog);
    return p;
}

/* tcpdump's first line: what is read, and as whom. The user's name is
 * taken before the process is confined (no /etc/passwd in the jail). */
static void say_listening(const struct capture_live_config *cfg, pcap_t *p, const char *who)
{
    if (cfg->quiet)
        return;
    char ports[6 * 64] = "";
    size_t o = 0;
    for (int i = 0; i < cfg->nports && o < sizeof ports; i++)
        o += (size_t)snprintf(ports + o, sizeof ports - o, "%s%u", i ? "," : "", cfg->ports[i]);
    const char *dlt = pcap_datalink_val_to_name(pcap_datalink(p));
    fprintf(stderr, "smtpscope: listening on %s, link-type %s, ports %s%s%s, as %s\n",
            cfg->iface, dlt ? dlt : "unknown", ports, cfg->filter ? ", filter " : "",
            cfg->filter ? cfg->filter : "", who);
}

/* The log directory must take files as the user the capture now runs as:
 * said at the start, not at the first session. Confined, it is "." */
static bool logdir_writable(const char *dir, bool confined)
{
    if (!dir || access(confined ? "." : dir, W_OK | X_OK) == 0)
        return true;
    fprintf(stderr, "smtpscope: --log-dir %s: %s (as the user the capture runs as)\n",
            dir, strerror(errno));
    return false;
}

/* After a stop (SIGINT, SIGTERM, -G): what the kernel still holds is read
 * before the end. A TPACKET_V3 block is handed over when full or when its
 * timeout (200 ms) retires it, so reads go on until a poll that outlasts
 * the timeout finds nothing; at most about 2 s. */
static void drain(pcap_t *p, struct pollfd *pfd, struct live_ctx *lc,
                  struct capture_result *res)
{
    for (int round = 0; round < 8 && lc->go; round++) {
        int ready = poll(pfd, 1, 250);
        int n = pcap_dispatch(p, -1, live_handler, (u_char *)lc);
        if (n > 0)
            res->packets += (uint64_t)n;
        if (n < 0 || (n == 0 && ready == 0))
            break;
    }
}

int capture_live(const struct capture_live_config *cfg,
                 const struct capture_hooks *h, struct capture_result *res)
{
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *p = open_live(cfg);
    if (!p)
        return -1;
    bool root = geteuid() == 0;
    char who[64];
    struct passwd *pw = getpwuid(geteuid());
    snprintf(who, sizeof who, "%s", root && cfg->drop_user ? cfg->drop_user
                                    : pw ? pw->pw_name : "?");
    if ((cfg->drop_user && privdrop(cfg->drop_user, cfg->jail) < 0) ||
        !logdir_writable(cfg->log_dir, root && cfg->drop_user)) {
        pcap_close(p);
        return -1;
    }
    say_listening(cfg, p, who);
    res->listened = true;
    struct live_ctx lc = {h, pcap_datalink(p), true};
    unsigned last_drop = 0;
    struct pcap_stat st;
    /* Non-blocking reads after our own poll with a timeout: the loop wakes
     * at least every 200 ms, to end idle sessions and to notice a signal
     * (with TPACKET_V3 a blocking read can sleep while nothing arrives). */
    struct pollfd pfd = {.fd = pcap_get_selectable_fd(p), .events = POLLIN};
    if (pfd.fd < 0 || pcap_setnonblock(p, 1, err) < 0) {
        fprintf(stderr, "smtpscope: %s: cannot poll the capture\n", cfg->iface);
        pcap_close(p);
        return -1;
    }
    while (!capture_stop && lc.go) {
        poll(&pfd, 1, 200);
        if (capture_stop)
            break;
        int n = pcap_dispatch(p, -1, live_handler, (u_char *)&lc);
        if (n < 0) {
            if (n == PCAP_ERROR)
                fprintf(stderr, "smtpscope: %s: %s\n", cfg->iface, pcap_geterr(p));
            break;
        }
        res->packets += (uint64_t)n;
        /* Time passes without packets too: idle sessions must still end.
         * Sessions open while the kernel dropped packets may miss some. */
        unsigned dropped = 0;
        if (pcap_stats(p, &st) == 0 && st.ps_drop > last_drop) {
            dropped = st.ps_drop - last_drop;
            last_drop = st.ps_drop;
        }
        if (!h->on_idle(h->ctx, wallclock(), dropped))
            lc.go = false;
    }
    if (capture_stop)
        drain(p, &pfd, &lc, res);
    if (pcap_stats(p, &st) == 0) {
        res->kernel_received = st.ps_recv;
        res->kernel_dropped = st.ps_drop;
        res->iface_dropped = st.ps_ifdrop;
    }
    pcap_close(p);
    return 0;
}

int capture_list_interfaces(FILE *f)
{
    char err[PCAP_ERRBUF_SIZE];
    pcap_if_t *all = NULL;
    if (pcap_findalldevs(&all, err) < 0) {
        fprintf(stderr, "smtpscope: -D: %s\n", err);
        return 2;
    }
    int i = 0;
    for (pcap_if_t *d = all; d; d = d->next) {
        fprintf(f, "%d.%s", ++i, d->name);
        if (d->description)
            fprintf(f, " (%s)", d->description);
        fprintf(f, " [%s%s%s]\n", d->flags & PCAP_IF_UP ? "Up" : "Down",
                d->flags & PCAP_IF_RUNNING ? ", Running" : "",
                d->flags & PCAP_IF_LOOPBACK ? ", Loopback" : "");
    }
    pcap_freealldevs(all);
    return 0;
}
