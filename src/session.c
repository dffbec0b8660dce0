/* session.c - the session: its storage, transcript, findings and life.
 *
 * A session owns its parser, a bounded transcript (wire lines and system
 * events, as records in one buffer), a bounded string arena, the findings
 * and, after its allocation, the state of every observer of the run. How
 * parser events build the dialogue is in session_dialogue.c; what they do
 * to transactions in transaction.c.
 */
#include "session_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_gap.h"
#include "transaction.h"

static const char *const phase_names[PHASE__COUNT] = {
    [PHASE_NONE] = "NONE",         [PHASE_CONNECT] = "CONNECT",
    [PHASE_GREETING] = "GREETING", [PHASE_HELO] = "HELO",
    [PHASE_STARTTLS] = "STARTTLS", [PHASE_AUTH] = "AUTH",
    [PHASE_MAIL] = "MAIL",         [PHASE_RCPT] = "RCPT",
    [PHASE_DATA] = "DATA",         [PHASE_END_OF_DATA] = "END-OF-DATA",
    [PHASE_QUIT] = "QUIT",
};

const char *phase_name(enum smtp_phase ph)
{
    return (unsigned)ph < PHASE__COUNT ? phase_names[ph] : "NONE";
}

const char *txn_result_name(enum txn_result r)
{
    switch (r) {
    case TXN_OPEN: return "open";
    case TXN_ACCEPTED: return "accepted";
    case TXN_REJECTED: return "rejected";
    case TXN_RESET: return "reset";
    case TXN_ABORTED: return "aborted";
    case TXN_INCOMPLETE: return "incomplete";
    }
    return "open";
}

const char *end_cause_name(enum tcp_end e, bool quit)
{
    if (quit)
        return "quit";
    switch (e) {
    case TCP_END_CLOSED: return "closed";
    case TCP_END_RESET_BY_CLIENT: return "reset-by-client";
    case TCP_END_RESET_BY_SERVER: return "reset-by-server";
    case TCP_END_TIMEOUT: return "timeout";
    case TCP_END_EVICTED: return "evicted";
    case TCP_END_CAPTURE_ENDED: return "capture-ended";
    case TCP_END_NO_ANSWER: return "no-answer";
    case TCP_END_REFUSED: return "refused";
    case TCP_END_PORT_REUSED: return "port-reused";
    case TCP_END_HANDSHAKE_INCOMPLETE: return "handshake-incomplete";
    case TCP_END_ICMP_UNREACHABLE: return "icmp-unreachable";
    default: return "unknown";
    }
}

const char *handshake_name(enum handshake hs)
{
    switch (hs) {
    case HS_COMPLETE: return "complete";
    case HS_MISSING: return "missing";
    default: return "none";
    }
}

void session_config_defaults(struct session_config *cfg)
{
    cfg->show_secrets = false;
    cfg->max_transcript = 1u << 20;
    cfg->max_strings = 256u << 10;
    cfg->slow_ms = 10000;
    cfg->idle_gap_ms = 60000;
    cfg->save_dirfd = -1;
    cfg->save_max = 10u << 20;
}

/* ---- storage helpers ---------------------------------------------------- */

struct strref session_keep_str(struct session *s, const char *p, size_t n)
{
    struct strref r = {0, 0};
    size_t off = s->strings.len;
    /* NUL-terminate so outputs may use the text directly. */
    char *at = bytebuf_extend(&s->strings, n + 1);
    if (!at)
        return r;
    memcpy(at, p, n);
    at[n] = '\0';
    r.off = (uint32_t)off;
    r.len = (uint32_t)n;
    return r;
}

void session_log_add(struct session *s, enum tline_kind kind, smtp_time ts,
                     int64_t latency, uint64_t value, unsigned flags,
                     uint16_t aux, const char *text, size_t n,
                     const char *tail, size_t tail_n)
{
    struct tline h = {
        .ts = ts, .latency_ns = latency, .value = value,
        .len = (uint32_t)(n + tail_n), .kind = (uint8_t)kind,
        .flags = (uint8_t)flags, .aux = aux,
    };
    /* records stay 8-byte aligned */
    size_t rec = (sizeof h + n + tail_n + 7) & ~(size_t)7;
    if (s->cfg->on_line && s->followed) {
        char live[SMTP_LINE_MAX + 512];
        size_t k = n < sizeof live ? n : sizeof live;
        memcpy(live, text, k);
        size_t t = tail_n < sizeof live - k ? tail_n : sizeof live - k;
        memcpy(live + k, tail, t);
        struct tline lh = h;
        lh.len = (uint32_t)(k + t);
        s->cfg->on_line(s->cfg->line_ctx, s, &lh, live);
    }
    char *at = bytebuf_extend(&s->log, rec);
    if (!at) {
        s->log_dropped++;
        return;
    }
    memcpy(at, &h, sizeof h);
    memcpy(at + sizeof h, text, n);
    if (tail_n)
        memcpy(at + sizeof h + n, tail, tail_n);
    s->log_lines++;
}

/* ---- observers ------------------------------------------------------------ */

static void observers_end(struct session *s, bool release)
{
    const struct observer_set *os = s->cfg->observers;
    for (int i = 0; os && i < os->n; i++) {
        void (*h)(void *, struct session *, void *) =
            release ? os->list[i].release : os->list[i].end;
        if (h)
            h(os->list[i].ctx, s, session_observer_state(s, i));
    }
}

const struct tline *session_next_line(const struct session *s, size_t *off,
                                      const char **text)
{
    if (*off + sizeof(struct tline) > s->log.len)
        return NULL;
    const struct tline *h = (const struct tline *)(s->log.p + *off);
    *text = s->log.p + *off + sizeof *h;
    *off += (sizeof *h + h->len + 7) & ~(size_t)7;
    return h;
}

/* ---- findings and notes ------------------------------------------------------ */

void session_find(struct session *s, enum finding_id id, smtp_time ts,
                  const char *detail_fmt, ...)
{
    if (finding_set_has(&s->found, id)) {
        struct anomaly *a = session_finding(s, id);
        if (a)
            a->count++;
        return;
    }
    if (s->nanomalies == s->anomaly_cap) {
        uint32_t cap = s->anomaly_cap ? s->anomaly_cap * 2 : 4;
        if (cap > SESSION_MAX_ANOMALIES)
            cap = SESSION_MAX_ANOMALIES;
        struct anomaly *n = cap > s->anomaly_cap
                            ? realloc(s->anomalies, cap * sizeof *n) : NULL;
        if (!n)
            return; /* the list is full (or no memory): the rest are not kept */
        s->anomalies = n;
        s->anomaly_cap = cap;
    }
    finding_set_add(&s->found, id);
    struct anomaly *a = &s->anomalies[s->nanomalies++];
    a->id = (uint16_t)id;
    a->count = 1;
    a->ts = ts;
    va_list ap;
    va_start(ap, detail_fmt);
    vsnprintf(a->detail, sizeof a->detail, detail_fmt, ap);
    va_end(ap);
    char text[200];
    int n = snprintf(text, sizeof text, "anomaly: %s%s%s%s", finding_name(id),
                     a->detail[0] ? " (" : "", a->detail, a->detail[0] ? ")" : "");
    if (n > (int)sizeof text - 1)
        n = (int)sizeof text - 1;
    session_log_add(s, TL_ANOMALY, ts, -1, 0, 0, (uint16_t)(s->nanomalies - 1), text,
            (size_t)n, NULL, 0);
}

struct anomaly *session_finding(struct session *s, enum finding_id id)
{
    if (!finding_set_has(&s->found, id))
        return NULL;
    for (uint32_t i = 0; i < s->nanomalies; i++)
        if (s->anomalies[i].id == id)
            return &s->anomalies[i];
    return NULL;
}

void session_unfind(struct session *s, enum finding_id id)
{
    struct anomaly *a = session_finding(s, id);
    if (!a)
        return;
    *a = s->anomalies[--s->nanomalies];
    finding_set_del(&s->found, id);
}

void session_note(struct session *s, smtp_time ts, const char *fmt, ...)
{
    char text[600];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (n > (int)sizeof text - 1)
        n = (int)sizeof text - 1;
    session_log_add(s, TL_NOTE, ts, -1, 0, 0, 0, text, (size_t)n, NULL, 0);
}

/* ---- lifecycle ------------------------------------------------------------ */

const char *direction_name(enum direction d)
{
    static const char *const n[] = {"unknown", "incoming", "outgoing", "internal",
                                    "transit"};
    return (unsigned)d < 5 ? n[d] : "unknown";
}

struct session *session_new(const struct session_config *cfg,
                            const struct endpoint *client,
                            const struct endpoint *server, smtp_time start,
                            enum handshake hs)
{
    const struct observer_set *os = cfg->observers;
    struct session *s = calloc(1, SESSION_STATE_BASE + (os ? os->state_bytes : 0));
    if (!s)
        return NULL;
    s->cfg = cfg;
    s->client = *client;
    s->server = *server;
    s->start = s->end = s->last_activity = start;
    s->handshake = hs;
    s->closed_by = -1;
    s->phase = PHASE_GREETING;
    s->id = session_id_for(client, server, start);
    if (cfg->local) {
        bool c = netlist_has(cfg->local, client), v = netlist_has(cfg->local, server);
        s->direction = c && v ? DIR_INTERNAL : c ? DIR_OUTGOING
                       : v    ? DIR_INCOMING : DIR_TRANSIT;
    }
    bytebuf_init(&s->log, cfg->max_transcript);
    bytebuf_init(&s->strings, cfg->max_strings);
    smtp_parser_init(&s->parser,
                     session_parser_settings(cfg->extract_headers, os && os->body_data),
                     s);
    return s;
}

/* The server speaks while a body that lost bytes to a gap is open: its
 * final dot was in the gap (see smtp_parser_body_lost_end). */
static __attribute__((noinline)) void end_body_lost(struct session *s, smtp_time ts)
{
    smtp_parser_body_lost_end(&s->parser, ts);
    s->body_gap = false;
}

void session_feed(struct session *s, enum smtp_dir dir, const char *data,
                  size_t len, smtp_time ts)
{
    s->last_activity = ts;
    if (__builtin_expect(s->body_gap, 0) && dir == SMTP_FROM_SERVER)
        end_body_lost(s, ts);
    smtp_parser_execute(&s->parser, dir, data, len, ts);
}

void session_gap(struct session *s, enum smtp_dir dir, size_t len, smtp_time ts)
{
    if (dir == SMTP_FROM_CLIENT && smtp_parser_info(&s->parser).body_open)
        s->body_gap = true;
    smtp_parser_gap(&s->parser, dir, len, ts);
    session_note(s, ts, "[%zu bytes from the %s not captured]", len,
                 dir == SMTP_FROM_CLIENT ? "client" : "server");
}

void session_set_encrypted(struct session *s, smtp_time ts)
{
    static const char text[] = "capture begins inside TLS: the session is encrypted";
    smtp_parser_encrypted(&s->parser);
    s->tls = s->tls_picked_up = true;
    session_log_add(s, TL_TLS, ts, -1, 0, 0, 0, text, sizeof text - 1, NULL, 0);
}

void session_set_midstream(struct session *s)
{
    smtp_parser_set_midstream(&s->parser);
    s->phase = PHASE_NONE;
}

void session_set_no_greeting(struct session *s)
{
    smtp_parser_no_greeting(&s->parser);
    s->phase = PHASE_HELO;
}

void session_note_fin(struct session *s, enum smtp_dir dir, smtp_time ts)
{
    s->last_activity = ts;
    if (s->closed_by < 0)
        s->closed_by = dir;
}

void session_end(struct session *s, enum tcp_end how, smtp_time ts)
{
    smtp_parser_finish(&s->parser, ts);
    s->end = ts > s->start ? ts : s->start;
    s->tcp_end = how;
    txn_session_end(s, how);
    observers_end(s, false); /* the findings' audit, ..., the diagnosis last */
}

void session_set_syn_retrans(struct session *s, const smtp_time *ts)
{
    free(s->syn_retrans);
    s->syn_retrans = NULL;
    uint32_t n = session_syn_retrans_bound(s->syn_count);
    if (n && (s->syn_retrans = malloc(n * sizeof *ts)))
        memcpy(s->syn_retrans, ts, n * sizeof *ts);
}

void session_free(struct session *s)
{
    if (!s)
        return;
    smtp_parser_free(&s->parser);
    bytebuf_free(&s->log);
    bytebuf_free(&s->strings);
    free(s->txns);
    free(s->rcpts);
    free(s->anomalies);
    free(s->syn_retrans);
    free(s->failure.hint);
    free(s->mx);
    observers_end(s, true);
    free(s);
}

