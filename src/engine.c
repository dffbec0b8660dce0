/* engine.c - packets to sessions (see engine.h).
 *
 * Per packet: decode, keep only TCP to/from an SMTP port (IPv4 fragments
 * go to libnids unfiltered, it reassembles them), note SYN/SYN-ACK/RST/FIN
 * in the connection table, then let libnids reassemble. Sessions are
 * created when libnids reports an established stream and ended by its
 * close/reset callbacks, by the idle sweep, or at the end of the capture.
 * Connection attempts that never completed a handshake are written too.
 */
#include "engine.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diagnosis.h"
#include "findings.h"
#include "reassembly.h"
#include "save_messages.h"

void engine_config_defaults(struct engine_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    static const uint16_t dflt[] = {25, 465, 587, 2525};
    for (size_t i = 0; i < sizeof dflt / sizeof dflt[0]; i++)
        cfg->ports[cfg->nports++] = dflt[i];
    cfg->max_streams = 65536;
    cfg->idle_timeout = 600;
    cfg->syn_timeout = 75;
    session_config_defaults(&cfg->session);
}

/* --shard and --workers: a hash that is the same for both directions and
 * all ports of an address pair, so a connection (and every other one
 * between the same two hosts) always lands in one shard. On a live
 * interface the kernel's filter has already made the same choice
 * (capture_shard_filter); this decides for what it let through to all. */
static bool in_shard(const struct engine *e, const struct endpoint *a,
                     const struct endpoint *b)
{
    return e->cfg.nshards == 0 || shard_hash(a, b) % e->cfg.nshards == e->cfg.shard;
}

static bool smtp_port(const struct engine *e, uint16_t port)
{
    for (int i = 0; i < e->cfg.nports; i++)
        if (e->cfg.ports[i] == port)
            return true;
    return false;
}

static void emit(struct engine *e, struct session *s)
{
    e->stats.sessions++;
    if (e->stats.sessions_open)
        e->stats.sessions_open--;
    if ((unsigned)s->verdict < VERDICT__COUNT)
        e->stats.by_verdict[s->verdict]++;
    for (int i = 0; i < e->nsinks; i++)
        e->sinks[i]->session(e->sinks[i], s);
    if (e->cfg.max_sessions && e->stats.sessions >= e->cfg.max_sessions)
        e->stop = true;
}

/* "SYN retransmitted at +1.0 +3.0 +7.0 s": the client's back-off, which
 * tells a silently dropping firewall from a slow server. */
static void note_syn_spacing(struct session *s, const struct conn *c,
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

/* What the capture lost of the connection, named once each with totals. */
static void note_losses(struct engine *e, const struct conn *c, struct session *s,
                        smtp_time ts)
{
    const uint64_t (*g)[2] = c->gap_bytes;
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
static enum tcp_end one_sided(const struct conn *c, struct session *s, enum tcp_end how)
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
static void finish_conn(struct engine *e, struct conn *c, enum tcp_end how,
                        smtp_time ts)
{
    struct session *s = c->session;
    if (!s) {
        s = session_new(&e->cfg.session, &c->client, &c->server, c->syn_ts,
                        HS_NONE);
        if (!s) {
            conntrack_remove(&e->ct, c);
            return;
        }
        e->stats.sessions_open++; /* written at once below */
    }
    s->syn_count = c->syn_count;
    if (c->notes && c->notes->end_detail[0])
        memcpy(s->tcp_detail, c->notes->end_detail, sizeof s->tcp_detail);
    if (c->notes && c->notes->rst_finding[0])
        session_find(s, FINDING_RESET_SUSPICIOUS, ts, "%s", c->notes->rst_finding);
    if (c->syn_count > 1 && (how == TCP_END_NO_ANSWER || !c->synack_seen))
        note_syn_spacing(s, c, ts);
    if (c->drops && !session_found(s, FINDING_KERNEL_DROPS))
        session_find(s, FINDING_KERNEL_DROPS, ts, "the capture dropped packets while "
                        "this connection was open: it may be incomplete");
    note_losses(e, c, s, ts);
    how = one_sided(c, s, how);
    session_end(s, how, ts);
    emit(e, s);
    session_free(s);
    reasm_forget(&c->client, &c->server);
    if (how == TCP_END_CLOSED || how == TCP_END_RESET_BY_CLIENT ||
        how == TCP_END_RESET_BY_SERVER || how == TCP_END_REFUSED ||
        how == TCP_END_EVICTED) {
        /* Keep a tombstone for a while: segments still in flight after a
         * reset or close (retransmissions, the other side's RST), or the
         * rest of an evicted stream, must not be picked up as a new
         * mid-stream session (evictions would then feed on themselves). */
        c->dead = true;
        c->session = NULL;
        c->stream = NULL;
        conntrack_touch(&e->ct, c, e->now);
        return;
    }
    conntrack_remove(&e->ct, c);
}

/* ---- libnids callbacks ---------------------------------------------------- */

static void *on_open(void *ctx, const struct endpoint *client,
                     const struct endpoint *server, void *stream)
{
    struct engine *e = ctx;
    if (!smtp_port(e, server->port) || !in_shard(e, client, server))
        return NULL;
    bool from_client;
    struct conn *c = conntrack_find(&e->ct, client, server, &from_client);
    if (c && !from_client)
        return NULL; /* reversed: not the connection we saw the SYN of */
    if (c && c->dead) {
        /* libnids saw a whole new handshake on the tuple of a connection
         * that ended: a new connection, not the old one's tombstone (which
         * the sweep would free under the new stream). */
        conntrack_remove(&e->ct, c);
        c = NULL;
    }
    if (!c) {
        c = conntrack_add(&e->ct, client, server, e->now);
        if (!c)
            return NULL;
        c->syn_count = 1;
    }
    if (c->session)
        return NULL;
    c->session = session_new(&e->cfg.session, client, server, c->syn_ts,
                             c->synthesized ? HS_MISSING : HS_COMPLETE);
    if (!c->session)
        return NULL;
    e->stats.sessions_open++;
    if (e->flow)
        mailflow_connected(e->flow, client, server);
    if (e->cfg.session.on_line) { /* live following: announce it now */
        c->session->followed = true;
        for (int i = 0; i < e->nsinks; i++)
            if (e->sinks[i]->open)
                e->sinks[i]->open(e->sinks[i], c->session);
    }
    if (c->midstream) {
        session_set_midstream(c->session);
        session_note(c->session, e->now,
                     "handshake not captured: picked up mid-stream");
        if (c->tls_pickup)
            session_set_encrypted(c->session, e->now);
    } else if (c->synthesized & REASM_SYNACK) {
        session_set_no_greeting(c->session);
        session_note(c->session, c->early_ack ? c->early_ack_ts : e->now,
                     "server's SYN-ACK not captured (one-sided capture?)");
    } else if (c->synthesized & REASM_SYN) {
        session_note(c->session, e->now, "client's SYN not captured");
    }
    c->stream = stream;
    return c;
}

static void on_data(void *ctx, void *user, enum smtp_dir dir, const char *p,
                    size_t n)
{
    struct engine *e = ctx;
    struct conn *c = user;
    if (c->session) /* always, since the stream was opened for it */
        session_feed(c->session, dir, p, n, e->now);
}

static void on_end(void *ctx, void *user, enum tcp_end how)
{
    struct engine *e = ctx;
    struct conn *c = user;
    c->stream = NULL;
    finish_conn(e, c, how, e->now);
}

static void on_gap(void *ctx, void *user, enum smtp_dir dir, size_t held)
{
    struct engine *e = ctx;
    struct conn *c = user;
    e->stats.gaps++;
    session_find(c->session, FINDING_CAPTURE_GAP, e->now,
                    "bytes from the %s missing from the capture; %zu bytes "
                    "after the gap could not be placed",
                    dir == SMTP_FROM_CLIENT ? "client" : "server", held);
}

/* Bytes the capture lacks, in their place in the stream: the session
 * resumes after them. */
static void on_gap_bytes(void *ctx, void *user, enum smtp_dir dir, size_t len,
                         enum reasm_gap_kind kind)
{
    struct engine *e = ctx;
    struct conn *c = user;
    bool first_lost = kind == REASM_GAP_LOST &&
                      !c->gap_bytes[0][REASM_GAP_LOST] && !c->gap_bytes[1][REASM_GAP_LOST];
    c->gap_bytes[dir][kind] += len;
    c->gaps[dir] += kind == REASM_GAP_LOST;
    if (!c->session)
        return;
    session_gap(c->session, dir, len, e->now);
    if (first_lost) {
        e->stats.gaps++;
        session_find(c->session, FINDING_CAPTURE_GAP, e->now,
                        "%zu bytes from the %s never captured", len,
                        dir == SMTP_FROM_CLIENT ? "client" : "server");
    }
}

static const struct reasm_callbacks reasm_cbs = {on_open, on_data, on_gap,
                                                 on_gap_bytes, on_end};

static void emit_dns(void *ctx, const struct dns_lookup *l)
{
    struct engine *e = ctx;
    e->stats.dns_lookups++;
    if (e->flow)
        mailflow_dns(e->flow, l);
    for (int i = 0; i < e->nsinks; i++)
        if (e->sinks[i]->dns)
            e->sinks[i]->dns(e->sinks[i], l);
}

/* The lookup tracker, made on the first DNS message. */
static struct dns_tracker *dns_of(struct engine *e)
{
    if (!e->dns)
        e->dns = dns_tracker_new(emit_dns, e);
    return e->dns;
}

/* DNS over TCP: a second reader of libnids' streams, for port 53 only. */
static void *dns_open(void *ctx, const struct endpoint *client,
                      const struct endpoint *server, void *stream)
{
    struct engine *e = ctx;
    (void)stream;
    if (server->port != 53 || !in_shard(e, client, server) || !dns_of(e))
        return NULL;
    return dns_stream_new(e->dns, client, server);
}

static void dns_data(void *ctx, void *user, enum smtp_dir dir, const char *p,
                     size_t n)
{
    struct engine *e = ctx;
    dns_stream_feed(user, dir == SMTP_FROM_CLIENT, (const uint8_t *)p, n, e->now);
}

static void dns_end(void *ctx, void *user, enum tcp_end how)
{
    (void)ctx;
    (void)how;
    dns_stream_free(user);
}

static const struct reasm_callbacks dns_cbs = {dns_open, dns_data, NULL, NULL,
                                               dns_end};

/* ---- setup ------------------------------------------------------------------ */

static void follow_line(void *ctx, const struct session *s,
                        const struct tline *l, const char *text)
{
    struct engine *e = ctx;
    for (int i = 0; i < e->nsinks; i++)
        if (e->sinks[i]->line)
            e->sinks[i]->line(e->sinks[i], s, l, text);
}

/* The analyses every session goes through, in their order: the diagnosis
 * last, since it reads what the others found. */
static void add_observers(struct engine *e)
{
    struct observer tls = tls_path_observer(e->tls_path);
    observer_add(&e->observers, &findings_observer);
    observer_add(&e->observers, &tls);
    if (e->flow) {
        struct observer flow = mailflow_observer(e->flow);
        observer_add(&e->observers, &flow);
    }
    if (e->cfg.session.save_dirfd >= 0 && e->cfg.session.save_dir)
        observer_add(&e->observers, &save_messages_observer);
    observer_add(&e->observers, &diagnosis_observer);
    e->cfg.session.observers = &e->observers;
}

int engine_init(struct engine *e, const struct engine_config *cfg, char *err,
                size_t errlen)
{
    memset(e, 0, sizeof *e);
    e->cfg = *cfg;
    if (cfg->follow) {
        e->cfg.session.on_line = follow_line;
        e->cfg.session.line_ctx = e;
    }
    if (conntrack_init(&e->ct, (size_t)cfg->max_streams * 4) < 0) {
        snprintf(err, errlen, "out of memory for the connection table");
        return -1;
    }
    /* Deliveries are linked to lookups only where outgoing means something */
    if (cfg->session.local && !(e->flow = mailflow_new())) {
        snprintf(err, errlen, "out of memory for the mail flow tables");
        return -1;
    }
    if (!(e->tls_path = tls_path_new())) {
        snprintf(err, errlen, "out of memory for the STARTTLS server set");
        return -1;
    }
    add_observers(e);
    if (reasm_init(cfg->max_streams, &reasm_cbs, e, err, errlen) < 0)
        return -1;
    reasm_add_listener(&dns_cbs, e);
    return 0;
}

/* UDP to or from port 53: a DNS message for the tracker. */
static void observe_udp(struct engine *e, struct packet *p)
{
    struct udp_datagram u;
    if (!decode_udp(p, &u) || (u.sport != 53 && u.dport != 53))
        return;
    p->src.port = u.sport;
    p->dst.port = u.dport;
    if (in_shard(e, &p->src, &p->dst) && dns_of(e))
        dns_observe(e->dns, &p->src, &p->dst, u.payload, u.len, false, p->ts);
}

int engine_add_sink(struct engine *e, struct sink *s)
{
    if (e->nsinks == e->sinks_cap) {
        int cap = e->sinks_cap ? 2 * e->sinks_cap : 4;
        struct sink **grown = realloc(e->sinks, (size_t)cap * sizeof *grown);
        if (!grown)
            return -1;
        e->sinks = grown;
        e->sinks_cap = cap;
    }
    e->sinks[e->nsinks++] = s;
    return 0;
}

/* ---- per packet ------------------------------------------------------------- */

static void sweep(struct engine *e)
{
    smtp_time idle = (smtp_time)e->cfg.idle_timeout * SMTP_NS_PER_SEC;
    smtp_time syn = (smtp_time)e->cfg.syn_timeout * SMTP_NS_PER_SEC;
    smtp_time horizon = idle < syn ? idle : syn;
    struct conn *c = e->ct.oldest, *next;
    /* the list is in linked_ts order; last_ts says whether one is idle */
    for (; c && e->now - c->linked_ts > horizon; c = next) {
        next = c->newer;
        if (c->dead) {
            conntrack_remove(&e->ct, c);
        } else if (c->session) {
            if (e->now - c->last_ts > idle) {
                reasm_flush_holes(c->stream, &c->flow); /* may end it */
                if (c->dead || !c->session)
                    continue;
                reasm_drop(c->stream);
                c->stream = NULL;
                finish_conn(e, c, TCP_END_TIMEOUT, c->last_ts);
            }
        } else if (e->now - c->last_ts > syn) {
            finish_conn(e, c, c->synack_seen ? TCP_END_HANDSHAKE_INCOMPLETE
                                             : TCP_END_NO_ANSWER,
                        c->last_ts);
        }
    }
}

/* Idle sessions and unanswered lookups end as capture time passes. */
static void every_second(struct engine *e)
{
    if (e->now - e->last_sweep < SMTP_NS_PER_SEC)
        return;
    e->last_sweep = e->now;
    sweep(e);
    if (e->dns)
        dns_expire(e->dns, e->now, false);
}

/* A reset injected by a middlebox usually carries the TTL (hop limit) of
 * the middlebox, not of the endpoint whose address it forges, and an IPv4
 * ID out of that endpoint's sequence. Compare each RST with the earlier
 * packets of the same side. */
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
static void observe_icmp(struct engine *e, const struct packet *p)
{
    struct icmp_unreach u;
    if (!decode_icmp_unreach(p, &u) || !in_shard(e, &u.src, &u.dst))
        return;
    if (!smtp_port(e, u.dst.port) && !smtp_port(e, u.src.port))
        return;
    bool from_client;
    struct conn *c = conntrack_find(&e->ct, &u.src, &u.dst, &from_client);
    if (!c || c->dead)
        return;
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
    finish_conn(e, c, TCP_END_ICMP_UNREACHABLE, e->now);
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
    bool from_client = smtp_port(e, p->dst.port);
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
    c->tls_pickup = !synack && looks_like_tls(p);
    reasm_synthesize(cl, sv, client_isn, server_isn, c->synthesized, e->now);
    reasm_flow_start(&c->flow, SMTP_FROM_CLIENT, client_isn + 1);
    reasm_flow_start(&c->flow, SMTP_FROM_SERVER, server_isn + 1);
    return c;
}

/* Bookkeeping before libnids sees the packet. Returns the connection that
 * must be finished as refused after it, if any. */
static struct conn *observe_tcp(struct engine *e, const struct packet *p,
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

    if ((fl & (TCPF_SYN | TCPF_ACK | TCPF_RST)) == TCPF_SYN) {
        if (c && from_client && c->isn == p->seq) {
            if (c->syn_count < 8)
                c->syn_times[c->syn_count] = e->now;
            c->syn_count++; /* retransmitted SYN */
        } else if (!smtp_port(e, p->dst.port)) {
            return NULL; /* a SYN from the SMTP port: not a connection to it */
        } else {
            if (c) { /* the same addresses and ports, a new connection */
                reasm_drop(c->stream);
                c->stream = NULL;
                finish_conn(e, c, TCP_END_PORT_REUSED, e->now);
            }
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
        }
    }
    if (!c) {
        c = pick_up(e, p);
        from_client = c && endpoint_eq(&c->client, &p->src);
    } else if (from_client && !c->synack_seen && !c->session &&
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
            reasm_synthesize(&c->client, &c->server, c->isn, p->ack - 1,
                             REASM_SYNACK, e->now);
            reasm_flow_start(&c->flow, SMTP_FROM_SERVER, p->ack);
        }
    } else if (!c->session && !from_client && c->synack_seen && !c->dead &&
               p->payload_len && !(fl & (TCPF_SYN | TCPF_RST))) {
        /* The server speaks and the client's ACK was never seen (a capture
         * of the server's side only): the handshake is made whole. */
        c->synthesized |= REASM_ACK;
        reasm_synthesize(&c->client, &c->server, c->isn, c->server_isn,
                         REASM_ACK, e->now);
    }
    if (!c)
        return NULL;
    *conn = c;
    *client_sent = from_client;
    if (p->payload_cut && c->cut_segments++ == 0 && c->session)
        session_find(c->session, FINDING_SNAPLEN_CUT, e->now,
                        "segments cut short by the capture's snap length "
                        "(%u bytes a packet): what they lacked is a gap",
                        e->stats.snaplen);
    conntrack_touch(&e->ct, c, e->now);
    check_sender(c, p, from_client ? 0 : 1);
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
    if ((fl & TCPF_RST) && !from_client && !c->synack_seen && !c->session)
        return c; /* SYN answered by RST: refused */
    return NULL;
}

/* The segment to libnids, with its connection's reassembly state. */
static void feed_tcp(struct engine *e, struct conn *c, const struct packet *p,
                     bool from_client)
{
    if (!c) { /* none, or the tombstone of one that ended */
        reasm_feed(p);
        return;
    }
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

void engine_packet(struct engine *e, int dlt, smtp_time ts,
                   const uint8_t *data, size_t caplen)
{
    struct packet pkt;
    e->stats.frames++;
    e->stats.bytes += caplen;
    if (ts > e->now)
        e->now = ts; /* capture time never runs backwards for the engine */
    memset(&pkt, 0, sizeof pkt);
    pkt.ts = ts;
    enum decode_status st = decode_packet(dlt, data, caplen, &pkt);
    if ((unsigned)st < 8)
        e->stats.decode[st]++;

    if (st == DECODE_OK && (pkt.proto == 1 || pkt.proto == 58)) {
        observe_icmp(e, &pkt);
    } else if (st == DECODE_OK && pkt.proto == 17) {
        observe_udp(e, &pkt);
    } else if (st == DECODE_FRAGMENT) {
        e->stats.fragments++;
        if (pkt.ipver == 4)
            reasm_feed_ipv4(&pkt);
    } else if (st == DECODE_OK && pkt.proto == 6 &&
               (smtp_port(e, pkt.src.port) || smtp_port(e, pkt.dst.port)) &&
               in_shard(e, &pkt.src, &pkt.dst)) {
        e->stats.smtp_packets++;
        if (pkt.payload_cut) {
            e->stats.payload_cut++;
            if (caplen > e->stats.snaplen)
                e->stats.snaplen = (uint32_t)caplen;
        }
        if (pkt.ipver == 6)
            e->stats.ipv6_packets++;
        struct conn *c;
        bool from_client = true;
        struct conn *refused = observe_tcp(e, &pkt, &c, &from_client);
        feed_tcp(e, c, &pkt, from_client);
        if (refused && !refused->session) {
            refused->refused = true;
            finish_conn(e, refused, TCP_END_REFUSED, e->now);
        }
    } else if (st == DECODE_OK && pkt.proto == 6 &&
               (pkt.src.port == 53 || pkt.dst.port == 53) && in_shard(e, &pkt.src, &pkt.dst)) {
        reasm_feed(&pkt); /* DNS over TCP: dns_open takes the stream */
    }
    every_second(e);
}

void engine_poll_sinks(struct engine *e)
{
    for (int i = 0; i < e->nsinks; i++)
        if (e->sinks[i]->tick)
            e->sinks[i]->tick(e->sinks[i]);
}

void engine_tick(struct engine *e, smtp_time now)
{
    if (now <= e->now)
        return;
    e->now = now;
    every_second(e);
}

void engine_note_drops(struct engine *e, unsigned n)
{
    e->stats.kernel_drops += n;
    for (struct conn *c = e->ct.oldest; c; c = c->newer) {
        if (c->dead)
            continue;
        c->drops = true; /* a connection not yet established is marked too */
        if (c->session)
            session_find(c->session, FINDING_KERNEL_DROPS, e->now,
                            "the capture dropped packets while this session "
                            "was open: it may be incomplete");
    }
}

static void fill_counters(struct engine *e)
{
    const struct engine_stats *s = &e->stats;
    const struct reasm_stats *r = reasm_get_stats();
    struct run_counters *c = &e->counters;
    c->frames = s->frames;
    c->smtp_packets = s->smtp_packets;
    c->connections = s->connections;
    c->sessions = s->sessions;
    c->undecodable = s->decode[DECODE_TRUNCATED] + s->decode[DECODE_BAD_HEADER];
    c->fragments = s->fragments;
    c->payload_cut = s->payload_cut;
    c->midstream = s->midstream;
    c->gaps = s->gaps;
    c->evicted = r->evicted;
    c->kernel_drops = s->kernel_drops;
    c->reassembly_warnings = 0;
    for (int i = 0; i < 16; i++)
        c->reassembly_warnings += r->warnings[i];
}

void engine_finish(struct engine *e)
{
    if (e->dns) /* queries still unanswered when the capture ended */
        dns_expire(e->dns, e->now, true);
    /* Data libnids still holds behind a hole is read before the end. */
    for (struct conn *c = e->ct.oldest; c; c = c->newer)
        if (!c->dead && c->stream && c->session)
            reasm_flush_holes(c->stream, &c->flow);
    reasm_finish(); /* established streams: NIDS_EXITING -> capture-ended */
    if (e->dns) { /* after its TCP streams, which reasm_finish ended */
        e->stats.dns_streams_refused = dns_streams_refused(e->dns);
        dns_tracker_free(e->dns);
        e->dns = NULL;
    }
    while (e->ct.oldest) {
        struct conn *c = e->ct.oldest;
        if (c->dead) {
            conntrack_remove(&e->ct, c);
            continue;
        }
        if (c->session) {
            finish_conn(e, c, TCP_END_CAPTURE_ENDED, e->now);
            continue;
        }
        /* A SYN the capture saw for a while without answer: no answer. */
        bool waited = e->now - c->syn_ts >= SMTP_NS_PER_SEC || c->syn_count > 1;
        enum tcp_end how = TCP_END_CAPTURE_ENDED;
        if (waited)
            how = c->synack_seen ? TCP_END_HANDSHAKE_INCOMPLETE : TCP_END_NO_ANSWER;
        finish_conn(e, c, how, e->now);
    }
    conntrack_free(&e->ct);
    fill_counters(e);
    tls_path_free(e->tls_path);
    e->tls_path = NULL;
    for (int i = 0; i < e->nsinks; i++)
        e->sinks[i]->finish(e->sinks[i]);
    free(e->sinks); /* the sinks themselves are their creator's */
    e->sinks = NULL;
    e->nsinks = e->sinks_cap = 0;
    mailflow_free(e->flow);
    e->flow = NULL;
}
