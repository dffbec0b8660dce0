/* reassembly.c - libnids glue (see reassembly.h).
 *
 * libnids keeps its state in globals, so this module is a singleton too.
 * While a packet is inside nids_pcap_handler, `cur` points at its decoded
 * form: that is how a RST callback learns which side sent the reset.
 */
#include "reassembly.h"

#include <nids.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct reasm_callbacks *cbs;
static void *cb_ctx;
static pcap_t *dead;
static const struct packet *cur;
static struct reasm_stats stats;

static void endpoints_of(const struct tcp_stream *t, struct endpoint *c,
                         struct endpoint *s)
{
    memset(c, 0, sizeof *c);
    memset(s, 0, sizeof *s);
    c->family = s->family = 4;
    memcpy(c->addr, &t->addr.saddr, 4);
    memcpy(s->addr, &t->addr.daddr, 4);
    c->port = t->addr.source;
    s->port = t->addr.dest;
}

static void tcp_callback(struct tcp_stream *t, void **user)
{
    switch (t->nids_state) {
    case NIDS_JUST_EST: {
        struct endpoint c, s;
        endpoints_of(t, &c, &s);
        void *u = cbs->open(cb_ctx, &c, &s, t);
        if (u) {
            *user = u;
            t->client.collect++;
            t->server.collect++;
        }
        return;
    }
    case NIDS_DATA:
        /* client.count_new: bytes the server sent to the client */
        if (t->client.count_new)
            cbs->data(cb_ctx, *user, SMTP_FROM_SERVER, t->client.data,
                      (size_t)t->client.count_new);
        if (t->server.count_new)
            cbs->data(cb_ctx, *user, SMTP_FROM_CLIENT, t->server.data,
                      (size_t)t->server.count_new);
        return;
    case NIDS_CLOSE:
        cbs->end(cb_ctx, *user, TCP_END_CLOSED);
        return;
    case NIDS_RESET: {
        enum tcp_end how = TCP_END_RESET_BY_SERVER;
        if (cur && cur->ipver == 4 &&
            memcmp(cur->src.addr, &t->addr.saddr, 4) == 0 &&
            cur->src.port == t->addr.source)
            how = TCP_END_RESET_BY_CLIENT;
        cbs->end(cb_ctx, *user, how);
        return;
    }
    case NIDS_TIMED_OUT: /* with tcp_workarounds off: only table eviction */
        stats.evicted++;
        cbs->end(cb_ctx, *user, TCP_END_EVICTED);
        return;
    case NIDS_EXITING:
        cbs->end(cb_ctx, *user, TCP_END_CAPTURE_ENDED);
        return;
    default:
        return;
    }
}

static const char *const warn_names[] = {
    "undefined", "ip-oversized", "ip-invalid-fragment-list", "ip-overlap",
    "ip-invalid-header", "ip-source-routed", "tcp-too-many-streams",
    "tcp-invalid-header", "tcp-queue-too-big", "tcp-invalid-flags",
};

const char *reasm_warning_name(int errnum)
{
    if (errnum < 0 || (size_t)errnum >= sizeof warn_names / sizeof warn_names[0])
        return "unknown";
    return warn_names[errnum];
}

/* libnids reports through this instead of syslog: counted, never printed
 * per packet (a hostile capture could make it print millions of lines). */
static void nids_warning(int type, int errnum, struct ip *iph, void *data)
{
    (void)type;
    (void)iph;
    (void)data;
    if (errnum >= 0 && errnum < 16)
        stats.warnings[errnum]++;
}

static void nids_out_of_memory(char *where)
{
    fprintf(stderr, "smtpscope: out of memory in libnids (%s)\n", where);
    exit(3);
}

int reasm_init(int max_streams, const struct reasm_callbacks *cb, void *ctx,
               char *err, size_t errlen)
{
    cbs = cb;
    cb_ctx = ctx;
    memset(&stats, 0, sizeof stats);
    dead = pcap_open_dead(DLT_RAW, 262144);
    if (!dead) {
        snprintf(err, errlen, "pcap_open_dead failed");
        return -1;
    }
    nids_params.pcap_desc = dead;
    nids_params.filename = NULL;
    nids_params.device = NULL;
    nids_params.pcap_filter = NULL;
    nids_params.n_tcp_streams = max_streams;
    nids_params.scan_num_hosts = 0;     /* no port-scan detection */
    nids_params.tcp_workarounds = 0;
    nids_params.tcp_flow_timeout = 0;   /* never free a stream silently */
    nids_params.multiproc = 0;
    nids_params.syslog = (void (*)())nids_warning;
    nids_params.no_mem = nids_out_of_memory;
    if (!nids_init()) {
        snprintf(err, errlen, "libnids: %s", nids_errbuf);
        return -1;
    }
    /* Offloaded checksums on the capturing host would otherwise make
     * libnids drop packets silently: verify nothing. */
    static struct nids_chksum_ctl no_checksums = {0, 0, NIDS_DONT_CHKSUM, 0};
    nids_register_chksum_ctl(&no_checksums, 1);
    nids_register_tcp((void *)tcp_callback);
    return 0;
}

void reasm_feed_ipv4(const struct packet *pkt)
{
    struct pcap_pkthdr h;
    h.ts.tv_sec = (time_t)(pkt->ts / SMTP_NS_PER_SEC);
    h.ts.tv_usec = (suseconds_t)((pkt->ts % SMTP_NS_PER_SEC) / 1000);
    h.caplen = (bpf_u_int32)pkt->l3_caplen;
    h.len = (bpf_u_int32)pkt->l3_caplen;
    stats.ip_packets++;
    cur = pkt;
    nids_pcap_handler(NULL, &h, (u_char *)pkt->l3);
    cur = NULL;
}

void reasm_drop(void *stream)
{
    if (stream)
        nids_free_tcp_stream(stream);
}

void reasm_finish(void)
{
    nids_exit();
    if (dead) {
        pcap_close(dead);
        dead = NULL;
    }
}

const struct reasm_stats *reasm_get_stats(void)
{
    return &stats;
}
