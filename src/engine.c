/* engine.c - packets to sessions (see engine.h).
 *
 * Per packet: decode, keep only TCP to/from an SMTP port (IPv4 fragments
 * go to libnids unfiltered, it reassembles them), note SYN/SYN-ACK/RST/FIN
 * in the connection table, then let libnids reassemble. Sessions are
 * created when libnids reports an established stream and ended by its
 * close/reset callbacks, by the idle sweep, or at the end of the capture.
 * Connection attempts that never completed a handshake are written too.
 */
#include "engine_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diagnosis.h"
#include "findings.h"
#include "path_observer.h"
#include "pktbuf.h"
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
bool engine_in_shard(const struct engine *e, const struct endpoint *a,
                     const struct endpoint *b)
{
    return e->cfg.nshards == 0 || shard_hash(a, b) % e->cfg.nshards == e->cfg.shard;
}

bool engine_named_port(const struct engine *e, uint16_t port)
{
    for (int i = 0; i < e->cfg.nports; i++)
        if (e->cfg.ports[i] == port)
            return true;
    return false;
}

bool engine_smtp_port(const struct engine *e, uint16_t port)
{
    if (e->cfg.any_port) /* by content (engine_sniff.c); DNS stays DNS */
        return port != 53;
    return engine_named_port(e, port);
}

void engine_conn_frame(struct engine *e, struct conn *c)
{
    if (!c->first_frame)
        c->first_frame = e->stats.frames;
    c->last_frame = e->stats.frames;
    if (e->cfg.keep_packets)
        pktbuf_add(&c->packets, e->frame.dlt, e->frame.ts, e->frame.data, e->frame.len);
}

static void emit(struct engine *e, struct session *s)
{
    if (e->stats.sessions_open)
        e->stats.sessions_open--;
    if (e->cfg.any_port && !engine_named_port(e, s->server.port) &&
        !engine_session_is_smtp(s))
        return; /* -p any: this connection carried something else */
    e->stats.sessions++;
    if ((unsigned)s->verdict < VERDICT__COUNT)
        e->stats.by_verdict[s->verdict]++;
    if (!select_match(&e->cfg.select, s))
        return; /* every sink sees the same selection */
    e->stats.selected++;
    for (int i = 0; i < e->nsinks; i++)
        e->sinks[i]->session(e->sinks[i], s);
    if (e->cfg.max_sessions && e->stats.selected >= e->cfg.max_sessions)
        e->stop = true;
}

/* "SYN retransmitted at +1.0 +3.0 +7.0 s": the client's back-off, which
 * tells a silently dropping firewall from a slow server. */
void engine_finish_conn(struct engine *e, struct conn *c, enum tcp_end how,
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
    _Static_assert(CONN_SYN_TIMES == SESSION_SYN_RETRANS_MAX + 1,
                   "the connection keeps the first SYN and the session's retransmissions");
    if (c->syn_count > 1)
        session_set_syn_retrans(s, c->syn_times + 1);
    s->first_frame = c->first_frame;
    s->last_frame = c->last_frame;
    if (c->notes && c->notes->end_detail[0])
        memcpy(s->tcp_detail, c->notes->end_detail, sizeof s->tcp_detail);
    if (c->notes && c->notes->rst_finding[0])
        session_find(s, FINDING_RESET_SUSPICIOUS, ts, "%s", c->notes->rst_finding);
    if (c->syn_count > 1 && (how == TCP_END_NO_ANSWER || !c->synack_seen))
        engine_note_syn_spacing(s, c, ts);
    if (c->drops && !session_found(s, FINDING_KERNEL_DROPS))
        session_find(s, FINDING_KERNEL_DROPS, ts, "the capture dropped packets while "
                        "this connection was open: it may be incomplete");
    engine_note_losses(e, c, s, ts);
    how = engine_one_sided(c, s, how);
    session_end(s, how, ts);
    s->packets = c->packets; /* -w writes them with the session */
    emit(e, s);
    s->packets = NULL;
    pktbuf_free(c->packets); /* a tombstone keeps none */
    c->packets = NULL;
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
        conntrack_room_join(&e->ct, c, CONN_ROOM_DEAD);
        return;
    }
    conntrack_remove(&e->ct, c);
}

/* ---- libnids callbacks ---------------------------------------------------- */

static void *on_open(void *ctx, const struct endpoint *client,
                     const struct endpoint *server, void *stream)
{
    struct engine *e = ctx;
    if (!engine_smtp_port(e, server->port) || !engine_in_shard(e, client, server))
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
    c->session->tcp_live = &c->path;
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
    engine_finish_conn(e, c, how, e->now);
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
    if (e->dns_wait)
        dns_wait_lookup(e->dns_wait, l);
    if (e->flow)
        mailflow_dns(e->flow, l);
    if (select_any(&e->cfg.select))
        return; /* a selection is of sessions: lookups are not written */
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
    if (server->port != 53 || !engine_in_shard(e, client, server) || !dns_of(e))
        return NULL;
    return dns_stream_new(e->dns, client, server);
}

static void dns_data(void *ctx, void *user, enum smtp_dir dir, const char *p,
                     size_t n)
{
    struct engine *e = ctx;
    dns_stream_feed(user, dir, (const uint8_t *)p, n, e->now);
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
    struct observer hs = tls_observer(e->tls_seen);
    if (e->dns_wait) { /* before the findings: they read s->dns_wait_ns */
        struct observer wait = dns_wait_observer(e->dns_wait);
        observer_add(&e->observers, &wait);
    }
    observer_add(&e->observers, &findings_observer);
    observer_add(&e->observers, &path_observer);
    observer_add(&e->observers, &tls);
    if (e->flow) {
        struct observer flow = mailflow_observer(e->flow);
        observer_add(&e->observers, &flow);
    }
    observer_add(&e->observers, &hs); /* after the flow: it reads s->mx */
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
    if (!(e->tls_path = tls_path_new()) || !(e->tls_seen = tls_seen_new()) ||
        !(e->dns_wait = dns_wait_new(&e->dns))) {
        snprintf(err, errlen, "out of memory for the STARTTLS and DNS tables");
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
    if (engine_in_shard(e, &p->src, &p->dst) && dns_of(e))
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

/* A tombstone outlives its connection this long: stragglers (a
 * retransmitted FIN, the other side's RST) come within a few RTOs, and a
 * busy gateway's table must not fill with the dead. */
#define TOMBSTONE_NS (10 * SMTP_NS_PER_SEC)

static void sweep(struct engine *e)
{
    smtp_time idle = (smtp_time)e->cfg.idle_timeout * SMTP_NS_PER_SEC;
    smtp_time syn = (smtp_time)e->cfg.syn_timeout * SMTP_NS_PER_SEC;
    smtp_time horizon = idle < syn ? idle : syn;
    if (horizon > TOMBSTONE_NS)
        horizon = TOMBSTONE_NS;
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
                engine_finish_conn(e, c, TCP_END_TIMEOUT, c->last_ts);
            }
        } else if (e->now - c->last_ts > syn) {
            engine_finish_conn(e, c, c->synack_seen ? TCP_END_HANDSHAKE_INCOMPLETE
                                             : TCP_END_NO_ANSWER,
                        c->last_ts);
        }
    }
}

/* Idle sessions and unanswered lookups end as capture time passes. */
static void every_second(struct engine *e)
{
    if (!engine_sweep_due(e->now, &e->last_sweep))
        return;
    sweep(e);
    if (e->dns)
        dns_expire(e->dns, e->now, false);
}

/* A reset injected by a middlebox usually carries the TTL (hop limit) of
 * the middlebox, not of the endpoint whose address it forges, and an IPv4
 * ID out of that endpoint's sequence. Compare each RST with the earlier
 * packets of the same side. */
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
    e->frame.dlt = dlt; /* for the connection the packet turns out to be of */
    e->frame.ts = ts;
    e->frame.data = data;
    e->frame.len = caplen;
    enum decode_status st = decode_packet(dlt, data, caplen, &pkt);
    if ((unsigned)st < 8)
        e->stats.decode[st]++;

    if (st == DECODE_OK && (pkt.proto == 1 || pkt.proto == 58)) {
        engine_observe_icmp(e, &pkt);
    } else if (st == DECODE_OK && pkt.proto == 17) {
        observe_udp(e, &pkt);
    } else if (st == DECODE_FRAGMENT) {
        e->stats.fragments++;
        if (pkt.ipver == 4)
            reasm_feed_ipv4(&pkt);
    } else if (st == DECODE_OK && pkt.proto == 6 &&
               (engine_smtp_port(e, pkt.src.port) || engine_smtp_port(e, pkt.dst.port)) &&
               engine_in_shard(e, &pkt.src, &pkt.dst)) {
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
        struct conn *refused = engine_observe_tcp(e, &pkt, &c, &from_client);
        if (c) /* before libnids, which may end it on this very packet */
            engine_conn_frame(e, c);
        engine_feed_tcp(e, c, &pkt, from_client);
        if (refused && !refused->session) {
            refused->refused = true;
            engine_finish_conn(e, refused, TCP_END_REFUSED, e->now);
        }
    } else if (st == DECODE_OK && pkt.proto == 6 &&
               (pkt.src.port == 53 || pkt.dst.port == 53) && engine_in_shard(e, &pkt.src, &pkt.dst)) {
        reasm_feed(&pkt); /* DNS over TCP: dns_open takes the stream */
    } else if (st == DECODE_OK && pkt.proto == 6) {
        engine_sniff_tcp(e, &pkt); /* SMTP on a port nobody named? */
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
    c->selected = s->selected;
    c->selection = select_any(&e->cfg.select);
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
            engine_finish_conn(e, c, TCP_END_CAPTURE_ENDED, e->now);
            continue;
        }
        /* A SYN the capture saw for a while without answer: no answer. */
        bool waited = e->now - c->syn_ts >= SMTP_NS_PER_SEC || c->syn_count > 1;
        enum tcp_end how = TCP_END_CAPTURE_ENDED;
        if (waited)
            how = c->synack_seen ? TCP_END_HANDSHAKE_INCOMPLETE : TCP_END_NO_ANSWER;
        engine_finish_conn(e, c, how, e->now);
    }
    conntrack_free(&e->ct);
    fill_counters(e);
    tls_path_free(e->tls_path);
    e->tls_path = NULL;
    tls_seen_free(e->tls_seen);
    e->tls_seen = NULL;
    for (int i = 0; i < e->nsinks; i++)
        e->sinks[i]->finish(e->sinks[i]);
    free(e->sinks); /* the sinks themselves are their creator's */
    e->sinks = NULL;
    e->nsinks = e->sinks_cap = 0;
    mailflow_free(e->flow);
    dns_wait_free(e->dns_wait);
    e->dns_wait = NULL;
    e->flow = NULL;
}
