/* engine.h - one run: packets in, finished sessions out to the sinks.
 *
 * The engine decodes each frame, keeps the connection table, hands IPv4
 * TCP to libnids, feeds reassembled bytes to each session's parser, ends
 * sessions (FIN/RST, idle timeout, eviction, end of capture) and passes
 * every ended session to every sink exactly once.
 */
#ifndef SMTPSCOPE_ENGINE_H
#define SMTPSCOPE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conntrack.h"
#include "decode.h"
#include "dns.h"
#include "dns_wait.h"
#include "mailflow.h"
#include "output.h"
#include "select.h"
#include "session.h"
#include "tls_observer.h"
#include "tls_path.h"

#define ENGINE_MAX_PORTS 32

struct engine_config {
    uint16_t ports[ENGINE_MAX_PORTS]; /* server ports that carry SMTP */
    int nports;
    bool any_port;          /* -p any: every TCP port, SMTP decided by content */
    int max_streams;        /* libnids stream table size */
    int idle_timeout;       /* seconds without traffic that end a session */
    int syn_timeout;        /* seconds a SYN may wait for its answer */
    uint64_t max_sessions;  /* stop after writing this many (0: no limit) */
    bool follow;            /* sinks get each transcript line as it happens */
    bool keep_packets;      /* -w on a stream: each connection's packets kept */
    uint32_t shard, nshards; /* keep connections whose symmetric hash mod
                                nshards is shard (nshards 0: all) */
    struct session_select select; /* --only, --phase: the sessions written */
    struct session_config session;
};

struct engine_stats {
    uint64_t frames, bytes;
    uint64_t decode[8];        /* by enum decode_status */
    uint64_t smtp_packets;     /* TCP to or from an SMTP port */
    uint64_t ipv6_packets;     /* SMTP over IPv6 */
    uint64_t midstream;        /* connections picked up without their SYN */
    uint64_t gaps;             /* sessions with data lost to capture gaps */
    uint64_t icmp_unreachable; /* ICMP unreachable about SMTP connections */
    uint64_t kernel_drops;     /* packets the kernel dropped (live) */
    uint64_t fragments;
    uint64_t payload_cut;      /* segments cut short by the snap length */
    uint32_t snaplen;          /* the longest frame among those cut */
    uint64_t connections;      /* SYNs that opened a connection entry */
    uint64_t conntrack_full;   /* SYNs not tracked: table full */
    uint64_t syn_evicted;      /* unanswered attempts pushed out for new SYNs */
    uint64_t sessions;         /* sessions ended (written, or not selected) */
    uint64_t selected;         /* sessions written (--only, --phase) */
    uint64_t sessions_open;    /* begun and not yet written */
    uint64_t dns_lookups;      /* DNS queries seen (answered or not) */
    uint64_t dns_streams_refused; /* DNS over TCP connections not followed */
    uint64_t by_verdict[VERDICT__COUNT];
};

/* A port that is not an SMTP port, as far as its traffic looked like SMTP
 * (engine_sniff.c). */
#define ENGINE_SNIFF_PORTS 16
struct sniffed_port {
    uint16_t port;
    uint32_t greetings, dialogues; /* 220 lines from it; EHLO/HELO after one */
};

struct engine {
    struct engine_config cfg;
    struct conntrack ct;
    struct sink **sinks;    /* grown by engine_add_sink, freed by engine_finish */
    int nsinks, sinks_cap;
    smtp_time now, last_sweep; /* both 0 at first (engine_sweep_due) */
    bool stop;              /* max_sessions reached: input should stop */
    struct engine_stats stats;
    struct run_counters counters; /* filled at engine_finish, for sinks */
    struct tls_path *tls_path;    /* servers seen offering STARTTLS */
    struct tls_seen *tls_seen;    /* certificates by server address */
    struct observer_set observers; /* what every session goes through */
    struct dns_tracker *dns;      /* lookups on UDP and TCP port 53 */
    struct dns_wait *dns_wait;    /* the server's lookups behind its waits */
    struct mailflow *flow;        /* with --local-net: deliveries and lookups */
    struct sniffed_port sniffed[ENGINE_SNIFF_PORTS];
    int nsniffed;
    struct {                      /* the frame being handled */
        int dlt;
        smtp_time ts;
        const uint8_t *data;
        size_t len;
    } frame;
};

/* The engine's clock: `now` is the latest capture time seen (it never runs
 * backwards) and idle connections are swept once a second of it, at the
 * first packet or tick a second after the last sweep. The --workers
 * reader (fanout.c) runs the same rule over all packets to give each
 * worker its time exactly where a single engine would sweep. */
static inline bool engine_sweep_due(smtp_time now, smtp_time *last_sweep)
{
    if (now - *last_sweep < SMTP_NS_PER_SEC)
        return false;
    *last_sweep = now;
    return true;
}

void engine_config_defaults(struct engine_config *cfg);
/* Returns 0, or -1 with a message in err. */
int engine_init(struct engine *e, const struct engine_config *cfg,
                char *err, size_t errlen);
/* Returns 0, or -1 when out of memory (the sink is not added). */
int engine_add_sink(struct engine *e, struct sink *s);
void engine_packet(struct engine *e, int dlt, smtp_time ts,
                   const uint8_t *data, size_t caplen);
/* Gives sinks with a tick (the live console) their turn. */
void engine_poll_sinks(struct engine *e);
/* Live capture: the clock moves on without packets (idle timeouts). */
void engine_tick(struct engine *e, smtp_time now);
/* The kernel dropped n packets: every open session may miss some. */
void engine_note_drops(struct engine *e, unsigned n);
/* "8240,2526": the ports that are not SMTP ports and carried SMTP-like
 * dialogues (a 220 greeting, then EHLO or HELO); 0 (out empty) for none. */
size_t engine_smtp_hint(const struct engine *e, char *out, size_t cap);
/* End of input: every open session is ended and written. */
void engine_finish(struct engine *e);

#endif
