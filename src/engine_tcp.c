/* engine_tcp.c - what the engine notes of each TCP segment before libnids
 * sees it (see engine_int.h): SYNs and their retransmissions, refusals,
 * resets whose sender looks forged, ICMP unreachables, connections picked
 * up mid-stream or inside TLS, a handshake captured out of order; and,
 * when a connection ends, what the capture lost of it (cuts, holes, one
 * side, kernel drops), named once each. */
#include "engine_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "reassembly.h"

void engine_note_syn_spacing(struct session *s, const struct conn *c,
                             smtp_time ts)
{
    char buf[100];
    size_t n = 0;
    uint32_t k = c->syn_count < 8 ? c->syn_count : 8;
    for (uint32_t i = 1; i < k && n < sizeof buf - 16; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, " +%.1f",
                              (double)(c->syn_times[i] - c->syn_times[0]) / 1e9);
    session_note(s, ts, "SYN sent %u times, retransmitted at%s s", c->syn_count,
                 buf);
}

/* The finding's detail and count, rewritten with the totals at the end. */
static void finding_total(struct session *s, enum finding_id id, uint32_t count,
                          const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void finding_total(struct session *s, enum finding_id id, uint32_t count,
                          const char *fmt, ...)
{
    struct anomaly *a = session_finding(s, id);
    if (!a)
        return;
    a->count = count;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->detail, sizeof a->detail, fmt, ap);
    va_end(ap);
}

/* Findings of the parser that a lost packet fakes (a reply whose command
 * was lost looks unsolicited, a lost greeting makes the client an early
 * talker, ...): on a session with losses they are uncertain, and say so. */
static void mark_uncertain(struct session *s, const char *why)
{
    static const enum finding_id fakeable[] = {
        FINDING_UNSOLICITED_REPLY, FINDING_EARLY_TALKER, FINDING_NUL_BYTE,
        FINDING_BARE_LF, FINDING_MALFORMED_REPLY};
    for (size_t k = 0; k < sizeof fakeable / sizeof fakeable[0]; k++) {
        struct anomaly *a = session_finding(s, fakeable[k]);
        if (!a)
            continue;
        char d[sizeof a->detail + 100];
        snprintf(d, sizeof d, "uncertain, %s: %s", why, a->detail);
        memcpy(a->detail, d, sizeof a->detail - 1);
        a->detail[sizeof a->detail - 1] = '\0';
    }
}

/* Path quality: the counts go with the session (path_observer.c judges
 * them when it ends). */
static void note_path(const struct conn *c, struct session *s)
{
    s->tcp = c->path;
    s->tcp_known = true;
    s->tcp_live = NULL; /* the connection goes; its counts stay in s->tcp */
    for (int d = 0; d < 2; d++)
        s->tcp.lost_bytes[d] = c->gap_bytes[d][REASM_GAP_LOST];
}

/* What the capture lost of the connection, named once each with totals. */
void engine_note_losses(struct engine *e, const struct conn *c, struct session *s,
                        smtp_time ts)
{
    const uint64_t (*g)[2] = c->gap_bytes;
    note_path(c, s);
    if (c->cut_segments) {
        char d[120];
        snprintf(d, sizeof d, "segments cut short by the capture's snap length "
                 "(%u bytes a packet); %llu bytes not captured, read as gaps",
                 e->stats.snaplen,
                 (unsigned long long)(g[0][REASM_GAP_CUT] + g[1][REASM_GAP_CUT]));
        if (!session_found(s, FINDING_SNAPLEN_CUT))
            session_find(s, FINDING_SNAPLEN_CUT, ts, "%s", d);
        finding_total(s, FINDING_SNAPLEN_CUT, c->cut_segments, "%s", d);
    }
    uint64_t lc = g[SMTP_FROM_CLIENT][REASM_GAP_LOST], ls = g[SMTP_FROM_SERVER][REASM_GAP_LOST];
    if (lc || ls)
        finding_total(s, FINDING_CAPTURE_GAP, (uint32_t)(c->gaps[0] + c->gaps[1]),
                      "%llu bytes from the client and %llu from the server never "
                      "captured; the dialogue resumed after each gap",
                      (unsigned long long)lc, (unsigned long long)ls);
    if (session_found(s, FINDING_KERNEL_DROPS))
        mark_uncertain(s, "the kernel dropped packets");
    else if (lc || ls || session_found(s, FINDING_CAPTURE_GAP))
        mark_uncertain(s, "packets missing from the capture");
    else if (c->cut_segments)
        mark_uncertain(s, "packets cut by the snap length");
}

/* Only one side's packets were captured: the session says which, and a FIN
 * from the side seen is a close (the other side's is not in the capture). */
enum tcp_end engine_one_sided(const struct conn *c, struct session *s, enum tcp_end how)
{
    if (s->handshake == HS_NONE || c->seen[0] == c->seen[1])
        return how;
    int side = c->seen[0] ? SMTP_FROM_CLIENT : SMTP_FROM_SERVER;
    s->client_side_only = side == SMTP_FROM_CLIENT;
    s->server_side_only = side == SMTP_FROM_SERVER;
    if (s->server_side_only)
        mark_uncertain(s, "the client's packets are not in the capture");
    if (c->fin[side] && (how == TCP_END_CAPTURE_ENDED || how == TCP_END_TIMEOUT))
        return TCP_END_CLOSED;
    return how;
}

/* Ends the connection's session (creating one for a connection that never
 * got past its SYN), writes it, and drops the connection. */
static void check_sender(struct conn *c, const struct packet *p, int side)
{
    if ((p->tcp_flags & TCPF_RST) && c->seen[side] &&
        !(c->notes && c->notes->rst_finding[0])) {
        int dt = (int)p->ttl - (int)c->ttl[side];
        uint16_t did = (uint16_t)(p->ipid - c->ipid[side]);
        bool ttl_odd = dt > 1 || dt < -1;
        bool id_odd = p->ipver == 4 && c->ipid[side] && p->ipid &&
                      did > 2048 && did < 65536 - 2048;
        struct conn_notes *n = ttl_odd || id_odd ? conn_notes(c) : NULL;
        if (n)
            snprintf(n->rst_finding, sizeof n->rst_finding,
                     "RST from the %s with TTL %u (earlier %u)%s; forged by a "
                     "middlebox?", side ? "server" : "client", p->ttl,
                     c->ttl[side], id_odd ? " and an IP ID out of sequence" : "");
    }
    c->ttl[side] = p->ttl;
    c->ipid[side] = p->ipid;
    c->seen[side] = true;
}

/* ICMP destination unreachable for a connection's packets: for a SYN it
 * ends the attempt (a router or firewall says no); later, it is noted. */
void engine_observe_icmp(struct engine *e, const struct packet *p)
{
    struct icmp_unreach u;
    if (!decode_icmp_unreach(p, &u) || !engine_in_shard(e, &u.src, &u.dst))
        return;
    if (!engine_smtp_port(e, u.dst.port) && !engine_smtp_port(e, u.src.port))
        return;
    bool from_client;
    struct conn *c = conntrack_find(&e->ct, &u.src, &u.dst, &from_client);
    if (!c || c->dead)
        return;
    engine_conn_frame(e, c); /* -w: the ICMP message goes with the session */
    e->stats.icmp_unreachable++;
    char router[ENDPOINT_STRLEN];
    endpoint_addr_str(&u.router, router);
    static const char *const v4_codes[16] = {
        "network unreachable", "host unreachable", "protocol unreachable",
        "port unreachable", "fragmentation needed", "source route failed",
        "network unknown", "host unknown", "source host isolated",
        "network administratively prohibited", "host administratively prohibited",
        "network unreachable for TOS", "host unreachable for TOS",
        "communication administratively prohibited", "host precedence violation",
        "precedence cutoff"};
    static const char *const v6_codes[8] = {
        "no route to destination", "communication administratively prohibited",
        "beyond scope of source address", "address unreachable",
        "port unreachable", "source address failed policy",
        "reject route to destination", "error in source routing header"};
    const char *what = u.router.family == 4
                           ? (u.code < 16 ? v4_codes[u.code] : "unknown code")
                           : (u.code < 8 ? v6_codes[u.code] : "unknown code");
    struct conn_notes *n = conn_notes(c);
    if (!n)
        return;
    snprintf(n->end_detail, sizeof n->end_detail,
             "ICMP%s destination unreachable: %s (type %u code %u) from %s",
             u.router.family == 6 ? "v6" : "", what, u.type, u.code, router);
    if (u.router.family == 4 && u.code == 4) {
        /* Path MTU discovery: not an ending, but large segments (DATA)
         * stall when these are filtered somewhere. */
        n->end_detail[0] = '\0';
        if (c->session)
            session_find(c->session, FINDING_ICMP_FRAG_NEEDED, e->now,
                            "path MTU %u from %s", u.mtu, router);
        return;
    }
    if (c->session) {
        session_find(c->session, FINDING_ICMP_UNREACHABLE, e->now, "%s",
                        n->end_detail);
        n->end_detail[0] = '\0';
        return;
    }
    engine_finish_conn(e, c, TCP_END_ICMP_UNREACHABLE, e->now);
}

/* A TLS record header at the start of the payload: content type 20-23,
 * version 3.x (SSL 3.0 to TLS 1.3 all say 3.1-3.4 or 3.0 on the wire). */
static bool looks_like_tls(const struct packet *p)
{
    size_t hl = p->l4_len - p->payload_len;
    if (p->l4_caplen < hl + 5)
        return false;
    const uint8_t *d = p->l4 + hl;
    return d[0] >= 0x14 && d[0] <= 0x17 && d[1] == 3 && d[2] <= 4;
}

/* Bytes no SMTP line carries: control characters other than TAB, LF, VT,
 * FF, CR and the ESC, SO and SI of ISO-2022 text, several of them in the
 * segment's first bytes. Ciphertext and DER (a capture that begins inside
 * a TLS record, after STARTTLS or on 465) have dozens in 256 bytes; mail
 * text has none. (A BINARYMIME chunk has them too: picked up inside one,
 * the session is called encrypted, which it is not; that is rare, and
 * neither verdict would be known.) */
static bool looks_binary(const struct packet *p)
{
    size_t hl = p->l4_len - p->payload_len;
    if (p->l4_caplen <= hl)
        return false;
    const uint8_t *d = p->l4 + hl;
    size_t n = p->l4_caplen - hl < 256 ? p->l4_caplen - hl : 256;
    unsigned odd = 0;
    for (size_t i = 0; i < n; i++)
        odd += d[i] < 0x20 && !(d[i] >= 0x09 && d[i] <= 0x0f) && d[i] != 0x1b;
    return odd >= 4;
}

/* A segment of a connection whose SYN was never seen (the capture started
 * after it): give libnids the missing handshake, numbered from this
 * segment, so the rest of the connection is reassembled. A SYN-ACK gets a
 * made-up SYN only; a segment with data gets all three. */
static struct conn *pick_up(struct engine *e, const struct packet *p)
{
    uint8_t fl = p->tcp_flags;
    bool synack = (fl & (TCPF_SYN | TCPF_ACK | TCPF_RST)) == (TCPF_SYN | TCPF_ACK);
    if (!synack && ((fl & (TCPF_SYN | TCPF_RST)) || !(fl & TCPF_ACK) ||
                    p->payload_len == 0))
        return NULL; /* nothing to reconstruct from */
    /* -p any: a named port, else the lower one (8025 < 50466), is the server */
    bool from_client = engine_named_port(e, p->dst.port) ||
                       (e->cfg.any_port && !engine_named_port(e, p->src.port) &&
                        p->dst.port < p->src.port);
    if (synack && from_client)
        return NULL;
    const struct endpoint *cl = from_client ? &p->src : &p->dst;
    const struct endpoint *sv = from_client ? &p->dst : &p->src;
    struct conn *c = conntrack_add(&e->ct, cl, sv, e->now);
    if (!c) {
        e->stats.conntrack_full++;
        return NULL;
    }
    e->stats.connections++;
    uint32_t client_isn = from_client ? p->seq - 1 : p->ack - 1;
    uint32_t server_isn = from_client ? p->ack - 1 : p->seq - 1;
    if (synack) {
        server_isn = p->seq;
        c->synthesized = REASM_SYN;
        c->synack_seen = true;
    } else {
        e->stats.midstream++;
        c->midstream = true;
        c->synthesized = REASM_SYN | REASM_SYNACK | REASM_ACK;
        c->synack_seen = true;
    }
    c->isn = client_isn;
    c->server_isn = server_isn;
    c->tls_pickup = !synack && (looks_like_tls(p) || looks_binary(p));
    reasm_synthesize(cl, sv, client_isn, server_isn, c->synthesized, e->now);
    reasm_flow_start(&c->flow, SMTP_FROM_CLIENT, client_isn + 1);
    reasm_flow_start(&c->flow, SMTP_FROM_SERVER, server_isn + 1);
    return c;
}

/* The table is full (a SYN flood, or more open connections than
 * --max-streams allows): the oldest tombstone goes, else the oldest
 * connection attempt still unanswered, reported as evicted (INCOMPLETE:
 * tracking stopped, nothing is claimed of its answer). Sessions under way
 * are never pushed out for a new SYN. */
static bool make_room(struct engine *e)
{
    struct conn *c = conntrack_room_oldest(&e->ct, CONN_ROOM_DEAD);
    if (c) {
        conntrack_remove(&e->ct, c);
        return true;
    }
    while ((c = conntrack_room_oldest(&e->ct, CONN_ROOM_ATTEMPT))) {
        if (c->session || !c->syn_held || c->synack_seen || c->dead) {
            conntrack_room_leave(&e->ct, c); /* answered since it joined */
            continue;
        }
        e->stats.syn_evicted++;
        engine_finish_conn(e, c, TCP_END_EVICTED, e->now);
        if (c->dead) /* no stragglers to catch: nothing reached libnids */
            conntrack_remove(&e->ct, c);
        return true;
    }
    return false;
}

/* A SYN: a retransmission of the one seen, or a new connection to an
 * SMTP port (which ends one that held the same addresses and ports).
 * Returns the connection, or NULL when none is tracked. */
static struct conn *on_syn(struct engine *e, const struct packet *p, struct conn *c,
                           bool from_client)
{
    if (c && from_client && c->isn == p->seq) {
        if (c->syn_count < CONN_SYN_TIMES)
            c->syn_times[c->syn_count] = e->now;
        c->syn_count++; /* retransmitted SYN */
        return c;
    }
    if (!engine_smtp_port(e, p->dst.port))
        return NULL; /* a SYN from the SMTP port: not a connection to it */
    if (c) { /* the same addresses and ports, a new connection */
        reasm_drop(c->stream);
        c->stream = NULL;
        engine_finish_conn(e, c, TCP_END_PORT_REUSED, e->now);
    }
    c = conntrack_add(&e->ct, &p->src, &p->dst, e->now);
    if (!c && make_room(e))
        c = conntrack_add(&e->ct, &p->src, &p->dst, e->now);
    if (!c) {
        e->stats.conntrack_full++;
        return NULL;
    }
    e->stats.connections++;
    if (e->flow)
        mailflow_attempt(e->flow, &p->src, &p->dst, e->now);
    c->isn = p->seq;
    c->syn_count = 1;
    c->syn_times[0] = e->now;
    c->syn_held = true;
    conntrack_room_join(&e->ct, c, CONN_ROOM_ATTEMPT);
    return c;
}

/* The held SYN goes to libnids before anything else of its connection. */
static void release_syn(struct engine *e, struct conn *c)
{
    if (!c->syn_held)
        return;
    c->syn_held = false;
    /* at the answer's time: libnids' clock must not run backwards */
    reasm_synthesize(&c->client, &c->server, c->isn, 0, REASM_SYN, e->now);
}

/* A handshake the capture did not show whole: the client goes on without
 * a SYN-ACK seen, or the server speaks without the client's ACK. */
static void complete_handshake(struct engine *e, struct conn *c, const struct packet *p,
                               bool from_client)
{
    uint8_t fl = p->tcp_flags;
    if (from_client && !c->synack_seen && !c->session &&
        (fl & (TCPF_SYN | TCPF_ACK | TCPF_RST)) == TCPF_ACK) {
        if (p->payload_len == 0 && !c->early_ack) {
            /* Perhaps a capture on several queues put the ACK before the
             * SYN-ACK: it is given to libnids again after the SYN-ACK. */
            c->early_ack = true;
            c->early_ack_ts = e->now;
        } else {
            /* The client goes on as if answered: the SYN-ACK was not
             * captured (one-sided capture, asymmetric routing). */
            c->synack_seen = true;
            c->synthesized |= REASM_SYNACK;
            release_syn(e, c);
            reasm_synthesize(&c->client, &c->server, c->isn, p->ack - 1,
                             REASM_SYNACK, e->now);
            reasm_flow_start(&c->flow, SMTP_FROM_SERVER, p->ack);
        }
    } else if (!c->session && !from_client && c->synack_seen && !c->dead &&
               p->payload_len && !(fl & (TCPF_SYN | TCPF_RST))) {
        /* The server speaks and the client's ACK was never seen (a capture
         * of the server's side only): the handshake is made whole. */
        c->synthesized |= REASM_ACK;
        release_syn(e, c);
        reasm_synthesize(&c->client, &c->server, c->isn, c->server_isn,
                         REASM_ACK, e->now);
    }
}

/* What every segment of a tracked connection adds: cuts, the sender's
 * marks, path counts, the SYN-ACK, FINs. */
static void note_segment(struct engine *e, struct conn *c, const struct packet *p,
                         bool from_client)
{
    uint8_t fl = p->tcp_flags;
    if (p->payload_cut && c->cut_segments++ == 0 && c->session)
        session_find(c->session, FINDING_SNAPLEN_CUT, e->now,
                        "segments cut short by the capture's snap length "
                        "(%u bytes a packet): what they lacked is a gap",
                        e->stats.snaplen);
    conntrack_touch(&e->ct, c, e->now);
    check_sender(c, p, from_client ? 0 : 1);
    uint16_t win = 0;
    bool win_known = decode_be16(p->l4, p->l4_caplen, 14, &win);
    tcp_path_segment(&c->path, from_client ? 0 : 1, fl, p->seq, (uint32_t)p->payload_len,
                     win, win_known, p->ipid, e->now);
    if ((fl & (TCPF_SYN | TCPF_ACK)) == (TCPF_SYN | TCPF_ACK) && !from_client) {
        c->synack_seen = true;
        c->server_isn = p->seq;
    }
    if (fl & TCPF_FIN) {
        c->fin[from_client ? 0 : 1] = true;
        if (c->session)
            session_note_fin(c->session, from_client ? SMTP_FROM_CLIENT
                                                     : SMTP_FROM_SERVER, e->now);
    }
}

/* Bookkeeping before libnids sees the packet. Returns the connection that
 * must be finished as refused after it, if any. */
struct conn *engine_observe_tcp(struct engine *e, const struct packet *p,
                                struct conn **conn, bool *client_sent)
{
    bool from_client = true;
    struct conn *c = conntrack_find(&e->ct, &p->src, &p->dst, &from_client);
    *conn = NULL;
    uint8_t fl = p->tcp_flags;
    if (c && c->dead) {
        if ((fl & (TCPF_SYN | TCPF_ACK | TCPF_RST)) != TCPF_SYN || !from_client ||
            c->isn == p->seq) {
            conntrack_touch(&e->ct, c, e->now);
            return NULL; /* a straggler of the connection that ended */
        }
        conntrack_remove(&e->ct, c); /* a new connection on the same ports */
        c = NULL;
    }
    bool syn = (fl & (TCPF_SYN | TCPF_ACK | TCPF_RST)) == TCPF_SYN;
    if (syn && !(c = on_syn(e, p, c, from_client)))
        return NULL;
    if (!c) {
        c = pick_up(e, p);
        from_client = c && endpoint_eq(&c->client, &p->src);
    } else {
        complete_handshake(e, c, p, from_client);
    }
    if (!c)
        return NULL;
    *conn = c;
    *client_sent = from_client;
    note_segment(e, c, p, from_client);
    if ((fl & TCPF_RST) && !from_client && !c->synack_seen && !c->session)
        return c; /* SYN answered by RST: refused */
    return NULL;
}

/* The segment to libnids, with its connection's reassembly state. */
void engine_feed_tcp(struct engine *e, struct conn *c, const struct packet *p,
                     bool from_client)
{
    if (!c) { /* none, or the tombstone of one that ended */
        /* a SYN the full table could not take stays out of libnids' too:
         * there it would only push out the sessions being followed */
        if ((p->tcp_flags & (TCPF_SYN | TCPF_ACK | TCPF_RST)) != TCPF_SYN)
            reasm_feed(p);
        return;
    }
    if (c->syn_held && (p->tcp_flags & (TCPF_SYN | TCPF_ACK | TCPF_RST)) == TCPF_SYN &&
        from_client)
        return; /* the SYN and its retransmissions wait for an answer */
    release_syn(e, c);
    if (reasm_feed_flow(p, &c->flow, (enum smtp_dir)!from_client) && c->session) {
        const struct reasm_flow *f = &c->flow;
        session_find(c->session, FINDING_OVERLAP_MISMATCH, e->now,
                        "%s retransmission differs from the first copy in "
                        "bytes %u-%u: evasion or injection? kept: the first "
                        "(libnids, as Linux)",
                        f->mismatch_dir == SMTP_FROM_CLIENT ? "client" : "server",
                        f->mismatch_off, f->mismatch_off + f->mismatch_len - 1);
    }
    if ((p->tcp_flags & TCPF_SYN) && c->early_ack && !from_client &&
        (p->tcp_flags & (TCPF_SYN | TCPF_ACK | TCPF_RST)) == (TCPF_SYN | TCPF_ACK)) {
        /* the client's ACK, captured before this SYN-ACK, in its place */
        c->early_ack = false;
        reasm_synthesize(&c->client, &c->server, c->isn, p->seq, REASM_ACK, e->now);
    }
}

