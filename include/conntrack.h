/* conntrack.h - every TCP connection to an SMTP port, from its first SYN.
 *
 * libnids reports a connection only once its handshake is complete; this
 * table sees the SYN, so it knows when a session really started, how often
 * the SYN was retried, whether it was answered, refused or never answered,
 * and who sent the first FIN. Entries are kept in a hash table (symmetric
 * hash: both directions find the same entry) and in a list ordered by last
 * activity (to the second), so idle sweeps touch only the entries that are
 * old.
 */
#ifndef SMTPSCOPE_CONNTRACK_H
#define SMTPSCOPE_CONNTRACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "endpoint.h"
#include "reassembly.h"
#include "tcp_path.h"
#include "timeval.h"

struct session;

struct conn_notes {
    char end_detail[120];    /* how it ended, when more than tcp_end says */
    char rst_finding[120];   /* a reset that does not look like its sender */
};

struct conn {
    struct endpoint client, server;
    struct conn *hnext;      /* hash chain: in the first cache line, with the key */
    struct conn **hpprev;    /* what points to it: removal walks no chain */
    uint32_t hash;           /* flow_hash_symmetric of the key */
    smtp_time syn_ts, last_ts;
    smtp_time linked_ts;     /* when it was last moved to the list's end */
    uint32_t isn, syn_count;
    uint64_t first_frame, last_frame; /* frame numbers of its packets */
    struct pktbuf *packets;  /* -w on a stream: its packets so far */
    bool synack_seen, refused;
    bool midstream;          /* no SYN seen: picked up mid-stream */
    bool dead;               /* ended by the peers: a tombstone for stragglers */
    uint8_t synthesized;     /* REASM_* handshake packets made up for it */
    uint32_t cut_segments;   /* segments cut short by the snap length */
    uint32_t server_isn;     /* the SYN-ACK's sequence number, once seen */
    bool early_ack;          /* the client's ACK came before the SYN-ACK */
    /* the client's SYN is held back from libnids until the connection is
     * answered (a SYN flood must not fill libnids' stream table and push
     * out the sessions in it): given to it, made up from isn, then */
    bool syn_held;
    smtp_time early_ack_ts;
    bool fin[2];             /* a FIN was seen from that side */
    bool drops;              /* open while the kernel dropped packets */
    bool tls_pickup;         /* picked up mid-stream inside TLS */
    uint64_t gap_bytes[2][2]; /* [dir][enum reasm_gap_kind] not captured */
    uint32_t gaps[2];        /* holes per direction */
    struct reasm_flow flow;  /* the reassembly glue's state (reassembly.h) */
    struct tcp_path path;    /* retransmissions, RTT, windows (tcp_path.h) */
    /* the first SYN and the first retransmissions: their spacing, and the
     * session's SYN times (SESSION_SYN_RETRANS_MAX + 1, engine.c checks) */
#define CONN_SYN_TIMES 9
    smtp_time syn_times[CONN_SYN_TIMES];
    uint8_t ttl[2];          /* last TTL / hop limit seen from each side */
    uint16_t ipid[2];        /* last IPv4 ID seen from each side */
    bool seen[2];            /* a packet from that side was seen */
    struct conn_notes *notes; /* rare, so allocated on the first one */
    struct session *session; /* once the handshake completed */
    void *stream;            /* libnids' stream while it has one */
    struct conn *older, *newer; /* activity list */
    struct conn *room_older, *room_newer; /* its room list, if any */
    uint8_t room;            /* enum conn_room: which one */
};

/* What a full table may give up for a new SYN, each in a list of its own
 * in activity order, so a flood's SYN finds one without walking the
 * sessions: tombstones, and connection attempts not yet answered (an
 * attempt may stop being one without leaving: the taker checks). */
enum conn_room { CONN_ROOM_NONE, CONN_ROOM_DEAD, CONN_ROOM_ATTEMPT, CONN_ROOMS };

/* The bucket array grows with the entries (two buckets an entry at most)
 * up to max_buckets: a lookup's first load is a miss in a 4 MB array sized
 * for --max-streams, but not in one sized for the connections open. */
struct conntrack {
    struct conn **buckets;
    size_t nbuckets, max_buckets, count, max;
    struct conn *oldest, *newest;
    struct conn *room_oldest[CONN_ROOMS], *room_newest[CONN_ROOMS];
};

int conntrack_init(struct conntrack *ct, size_t max);
void conntrack_free(struct conntrack *ct);

/* Finds the connection of a packet from a to b; *from_client tells the
 * packet's direction. */
struct conn *conntrack_find(struct conntrack *ct, const struct endpoint *a,
                            const struct endpoint *b, bool *from_client);
/* NULL when the table holds `max` entries (the caller evicts first). */
struct conn *conntrack_add(struct conntrack *ct, const struct endpoint *client,
                           const struct endpoint *server, smtp_time ts);
void conntrack_touch(struct conntrack *ct, struct conn *c, smtp_time ts);
/* The connection's notes, allocated on first use; NULL without memory. */
struct conn_notes *conn_notes(struct conn *c);
/* Puts c at the end of the room list (leaving the one it was on). */
void conntrack_room_join(struct conntrack *ct, struct conn *c, enum conn_room room);
void conntrack_room_leave(struct conntrack *ct, struct conn *c);
static inline struct conn *conntrack_room_oldest(const struct conntrack *ct,
                                                 enum conn_room room)
{
    return ct->room_oldest[room];
}
/* Unlinks and frees the entry (not its session). */
void conntrack_remove(struct conntrack *ct, struct conn *c);

#endif
