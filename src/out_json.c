/* out_json.c - one JSON object per session (JSON Lines).
 *
 * Keys are written in a fixed order, timestamps are ISO-8601 UTC with
 * microseconds, numbers are numbers, and every string from the wire is
 * escaped the same way as in the text log (then JSON-escaped), so the
 * output is valid UTF-8 JSON whatever the capture held.
 */
#include <stdlib.h>
#include <string.h>

#include "community_id.h"
#include "diagnosis.h"
#include "esmtp.h"
#include "escape.h"
#include "obuf.h"
#include "out_json_tls.h"
#include "output.h"

struct json_sink {
    struct sink base;
    int slow_dns_ms;
    bool tls_steps;
    struct obuf ob; /* a record at a time, then one fwrite (obuf.h) */
};

static void jstr(struct obuf *f, const char *s, size_t n)
{
    obuf_putc(f, '"');
    obuf_escape(f, s, n, ESCAPE_JSON);
    obuf_putc(f, '"');
}

static void jcstr(struct obuf *f, const char *s) { jstr(f, s, strlen(s)); }

static void jref(struct obuf *f, const struct session *s, struct strref r)
{
    jstr(f, session_str(s, r), r.len);
}

/* The string, or null when it is empty (not seen). */
static void jref_or_null(struct obuf *f, const struct session *s, struct strref r)
{
    if (r.len)
        jref(f, s, r);
    else
        obuf_puts(f, "null");
}

static void jcode(struct obuf *f, int code)
{
    if (code)
        obuf_putd(f, code);
    else
        obuf_puts(f, "null");
}

static void jtime(struct obuf *f, smtp_time t)
{
    char buf[40];
    time_iso8601(t, buf, sizeof buf);
    obuf_putc(f, '"');
    obuf_puts(f, buf);
    obuf_putc(f, '"');
}

static void jseconds(struct obuf *f, smtp_time d, int decimals)
{
    char buf[40];
    time_seconds(d, decimals, buf, sizeof buf);
    obuf_puts(f, buf);
}

/* A duration in milliseconds with microsecond digits. */
static void jmillis(struct obuf *f, smtp_time d)
{
    char buf[40];
    time_fixed(d, SMTP_NS_PER_SEC / 1000, 3, buf, sizeof buf);
    obuf_puts(f, buf);
}

static void jendpoint(struct obuf *f, const struct endpoint *e)
{
    char ip[ENDPOINT_STRLEN];
    endpoint_addr_str(e, ip);
    obuf_puts(f, "{\"ip\":\"");
    obuf_puts(f, ip);
    obuf_puts(f, "\",\"port\":");
    obuf_putu(f, e->port);
    obuf_putc(f, '}');
}

/* "community_id":"1:..." of a flow, or null if it could not be hashed */
static void jcommunity(struct obuf *f, const struct endpoint *a, const struct endpoint *b,
                       uint8_t proto)
{
    char id[COMMUNITY_ID_LEN];
    obuf_puts(f, ",\"community_id\":");
    if (community_id(a, b, proto, id))
        obuf_printf(f, "\"%s\"", id);
    else
        obuf_puts(f, "null");
}

/* The session's frames, and the Wireshark display filter that shows them. */
static void write_frames(struct obuf *f, const struct session *s)
{
    if (!s->first_frame) {
        obuf_puts(f, ",\"first_frame\":null,\"last_frame\":null,\"wireshark_filter\":null");
        return;
    }
    char a[ENDPOINT_STRLEN], b[ENDPOINT_STRLEN];
    endpoint_addr_str(&s->client, a);
    endpoint_addr_str(&s->server, b);
    const char *ip = s->client.family == 6 ? "ipv6.addr" : "ip.addr";
    obuf_puts(f, ",\"first_frame\":");
    obuf_putu(f, s->first_frame);
    obuf_puts(f, ",\"last_frame\":");
    obuf_putu(f, s->last_frame);
    /* "IP==A && IP==B && tcp.port==P && tcp.port==Q && frame.number>=F &&
     * frame.number<=L", by hand: this is in every session's record */
    obuf_puts(f, ",\"wireshark_filter\":\"");
    obuf_puts(f, ip);
    obuf_puts(f, "==");
    obuf_puts(f, a);
    obuf_puts(f, " && ");
    obuf_puts(f, ip);
    obuf_puts(f, "==");
    obuf_puts(f, b);
    obuf_puts(f, " && tcp.port==");
    obuf_putu(f, s->client.port);
    obuf_puts(f, " && tcp.port==");
    obuf_putu(f, s->server.port);
    obuf_puts(f, " && frame.number>=");
    obuf_putu(f, s->first_frame);
    obuf_puts(f, " && frame.number<=");
    obuf_putu(f, s->last_frame);
    obuf_putc(f, '"');
}

/* Cc, Reply-To, the mailer, the Received chain, attachment names. */
static void write_header_facts(struct obuf *f, const struct session *s, const struct txn *x)
{
    obuf_puts(f, ",\"cc\":");
    jref(f, s, x->hdr_cc);
    obuf_puts(f, ",\"reply_to\":");
    jref(f, s, x->hdr_reply_to);
    obuf_puts(f, ",\"mailer\":");
    jref(f, s, x->hdr_mailer);
    obuf_printf(f, ",\"received\":{\"hops\":%u,\"first\":", x->received);
    jref_or_null(f, s, x->received_first);
    obuf_puts(f, ",\"last\":");
    jref_or_null(f, s, x->received_last);
    obuf_printf(f, "},\"attachment_count\":%u,\"attachments\":[", x->nattach);
    for (uint32_t i = 0; i < x->nattach && i < TXN_ATTACH_MAX; i++) {
        if (i)
            obuf_putc(f, ',');
        jref(f, s, x->attach[i]);
    }
    obuf_putc(f, ']');
}

static void write_transactions(struct obuf *f, const struct session *s)
{
    obuf_puts(f, ",\"transactions\":[");
    for (uint32_t i = 0; i < s->ntxn; i++) {
        const struct txn *x = &s->txns[i];
        obuf_puts(f, i ? ",{" : "{");
        obuf_puts(f, "\"mail_from\":"); /* null: no MAIL seen; "": the null sender */
        if (x->has_mail)
            jref(f, s, x->mail_from);
        else
            obuf_puts(f, "null");
        obuf_puts(f, ",\"mail_params\":");
        jref(f, s, x->mail_params);
        if (s->cfg->extract_headers) {
            obuf_puts(f, ",\"headers\":{\"message_id\":");
            jref(f, s, x->hdr_message_id);
            obuf_puts(f, ",\"subject\":");
            jref(f, s, x->hdr_subject);
            obuf_puts(f, ",\"from\":");
            jref(f, s, x->hdr_from);
            obuf_puts(f, ",\"to\":");
            jref(f, s, x->hdr_to);
            obuf_puts(f, ",\"date\":");
            jref(f, s, x->hdr_date);
            write_header_facts(f, s, x);
            obuf_putc(f, '}');
        }
        obuf_puts(f, ",\"mail_code\":");
        jcode(f, x->mail_code);
        obuf_puts(f, ",\"rcpt\":[");
        for (uint32_t r = 0; r < x->nrcpt; r++) {
            const struct rcpt *rc = &s->rcpts[x->first_rcpt + r];
            obuf_puts(f, r ? ",{\"addr\":" : "{\"addr\":");
            jref(f, s, rc->addr);
            obuf_puts(f, ",\"code\":");
            jcode(f, rc->code);
            obuf_putc(f, '}');
        }
        obuf_puts(f, "],\"data_cmd_code\":");
        jcode(f, x->bdat ? 0 : x->data_code);
        obuf_puts(f, ",\"data_code\":");
        jcode(f, x->final_code);
        obuf_puts(f, x->bdat ? ",\"bdat\":true,\"bytes\":" : ",\"bdat\":false,\"bytes\":");
        obuf_putu(f, x->bytes);
        obuf_puts(f, ",\"queue_id\":");
        jref_or_null(f, s, x->queue_id);
        obuf_puts(f, ",\"result\":\"");
        obuf_puts(f, txn_result_name(x->result));
        obuf_putc(f, '"');
        if (x->saved_as.len) {
            obuf_puts(f, ",\"saved_as\":");
            jref(f, s, x->saved_as);
        }
        if (x->result == TXN_REJECTED) {
            obuf_puts(f, ",\"failed_phase\":\"");
            obuf_puts(f, phase_name(x->failed_phase));
            obuf_putc(f, '"');
        }
        obuf_putc(f, '}');
    }
    obuf_putc(f, ']');
}

static void write_transcript(struct obuf *f, const struct session *s)
{
    obuf_puts(f, ",\"transcript\":[");
    size_t off = 0;
    const char *text;
    const struct tline *l;
    bool first = true;
    while ((l = session_next_line(s, &off, &text))) {
        if (l->kind != TL_CLIENT && l->kind != TL_SERVER && l->kind != TL_BODY)
            continue;
        obuf_puts(f, first ? "{\"t\":" : ",{\"t\":");
        first = false;
        jseconds(f, l->ts - s->start, 6);
        obuf_puts(f, l->kind == TL_SERVER ? ",\"dir\":\"S\",\"line\":" : ",\"dir\":\"C\",\"line\":");
        jstr(f, text, l->len);
        if (l->kind == TL_BODY) {
            obuf_puts(f, ",\"event\":\"body\",\"bytes\":");
            obuf_putu(f, l->value);
        }
        if (l->flags & SMTP_LINE_TRUNCATED)
            obuf_puts(f, ",\"truncated\":true");
        if (l->latency_ns >= 0) {
            obuf_puts(f, ",\"latency_ms\":");
            jmillis(f, l->latency_ns);
        }
        /* the command this reply answers, as the parser paired it (a
         * pipelined reply is not the last command's): --summary's names */
        if (l->kind == TL_SERVER && l->latency_ns >= 0 && l->aux < SMTP_CMD__COUNT) {
            obuf_puts(f, ",\"answers\":\"");
            obuf_puts(f, l->aux == SMTP_CMD_CONNECT ? "greeting"
                                                     : smtp_cmd_name((enum smtp_cmd)l->aux));
            obuf_putc(f, '"');
        }
        obuf_putc(f, '}');
    }
    obuf_putc(f, ']');
}

static void write_failure(struct obuf *f, const struct session *s)
{
    const struct failure *fl = &s->failure;
    obuf_puts(f, ",\"failure\":");
    if (s->verdict != VERDICT_FAILED && s->verdict != VERDICT_PARTIAL) {
        obuf_puts(f, "null");
        return;
    }
    obuf_puts(f, "{\"phase\":\"");
    obuf_puts(f, phase_name(fl->phase));
    obuf_puts(f, "\",\"code\":");
    jcode(f, fl->code);
    obuf_puts(f, ",\"enhanced\":");
    if (fl->enhanced[0])
        jcstr(f, fl->enhanced);
    else
        obuf_puts(f, "null");
    obuf_puts(f, ",\"text\":");
    jcstr(f, fl->text);
    obuf_puts(f, ",\"class\":\"");
    obuf_puts(f, failure_class_name(fl->cls));
    obuf_puts(f, "\",\"hint\":");
    jcstr(f, fl->hint ? fl->hint : "");
    obuf_putc(f, '}');
}

static void write_anomalies(struct obuf *f, const struct session *s)
{
    obuf_puts(f, ",\"anomalies\":[");
    for (uint32_t i = 0; i < s->nanomalies; i++) {
        const struct anomaly *a = &s->anomalies[i];
        obuf_printf(f, "%s{\"name\":\"%s\",\"kind\":\"%s\",\"count\":%u,"
                "\"t\":%.6f,\"detail\":", i ? "," : "", finding_name(a->id),
                finding_kind_name(finding_kind(a->id)), a->count,
                (double)(a->ts - s->start) / 1e9);
        jcstr(f, a->detail);
        obuf_putc(f, '}');
    }
    obuf_putc(f, ']');
}

/* "mx": the lookup an outgoing session came from (mailflow.h), if any. */
static void write_mx(struct obuf *f, const struct session *s)
{
    if (!s->mx)
        return;
    {
        obuf_puts(f, ",\"mx\":{\"domain\":");
        jcstr(f, s->mx->domain);
        obuf_puts(f, ",\"host\":");
        jcstr(f, s->mx->host);
        if (s->mx->pref >= 0)
            obuf_printf(f, ",\"pref\":%d,\"implicit\":false}", s->mx->pref);
        else
            obuf_puts(f, ",\"pref\":null,\"implicit\":true}");
    }
}

/* "auth" and "esmtp": what the EHLO reply offered and AUTH gave. */
static void write_auth_esmtp(struct obuf *f, const struct session *s)
{
    obuf_puts(f, ",\"auth\":");
    if (s->auth_mech[0]) {
        obuf_puts(f, "{\"mechanism\":");
        jcstr(f, s->auth_mech);
        obuf_puts(f, ",\"user\":");
        if (s->auth_user[0])
            jcstr(f, s->auth_user);
        else
            obuf_puts(f, "null");
        obuf_puts(f, ",\"code\":");
        jcode(f, s->auth_code);
        obuf_puts(f, s->auth_ok ? ",\"ok\":true}" : ",\"ok\":false}");
    } else {
        obuf_puts(f, "null");
    }
    obuf_puts(f, ",\"esmtp\":{\"keywords\":[");
    bool firstkw = true;
    for (unsigned i = 0; i < KW__COUNT; i++)
        if (s->ehlo_keywords & (1u << i)) {
            obuf_puts(f, firstkw ? "\"" : ",\""); /* not printf: ~10 per session */
            obuf_puts(f, esmtp_kw_name(i));
            obuf_putc(f, '"');
            firstkw = false;
        }
    obuf_puts(f, "],\"size\":");
    if (s->size_limit)
        obuf_putu(f, s->size_limit);
    else
        obuf_puts(f, "null");
    obuf_puts(f, ",\"auth_mechanisms\":");
    jref_or_null(f, s, s->auth_mechs);
    obuf_putc(f, '}');
}

/* "verdict", "end_phase", "incomplete_reason". */
static void write_verdict(struct obuf *f, const struct session *s)
{
    obuf_puts(f, ",\"verdict\":\"");
    obuf_puts(f, verdict_key(s->verdict));
    obuf_puts(f, "\",\"end_phase\":\"");
    obuf_puts(f, phase_name(s->end_phase));
    obuf_putc(f, '"');
    obuf_puts(f, ",\"incomplete_reason\":");
    if (s->verdict == VERDICT_INCOMPLETE)
        jcstr(f, s->incomplete_why ? s->incomplete_why
                                   : end_cause_name(s->tcp_end, false));
    else
        obuf_puts(f, "null");
}

static void json_session(struct sink *base, const struct session *s)
{
    struct obuf *f = &((struct json_sink *)base)->ob;
    /* by hand, not printf: printf's format parsing was a sixth of the
     * writer's cost on short sessions */
    obuf_puts(f, "{\"type\":\"session\",\"id\":\"");
    obuf_puthex8(f, s->id);
    obuf_puts(f, "\",\"client\":");
    jendpoint(f, &s->client);
    obuf_puts(f, ",\"server\":");
    jendpoint(f, &s->server);
    jcommunity(f, &s->client, &s->server, 6);
    obuf_puts(f, ",\"direction\":\"");
    obuf_puts(f, direction_name(s->direction));
    obuf_putc(f, '"');
    write_mx(f, s);
    obuf_puts(f, ",\"start\":");
    jtime(f, s->start);
    obuf_puts(f, ",\"end\":");
    jtime(f, s->end);
    obuf_puts(f, ",\"duration_ms\":");
    jmillis(f, s->end - s->start);
    write_frames(f, s);
    obuf_puts(f, ",\"handshake\":\"");
    obuf_puts(f, handshake_name(s->handshake));
    obuf_puts(f, "\",\"syn_count\":");
    obuf_putu(f, s->syn_count);
    obuf_puts(f, ",\"syn_retransmits\":[");
    for (uint32_t i = 0, n = session_syn_retrans_kept(s); i < n; i++) {
        if (i)
            obuf_putc(f, ',');
        jseconds(f, s->syn_retrans[i] - s->start, 6);
    }
    obuf_putc(f, ']');
    obuf_puts(f, ",\"end_cause\":\"");
    obuf_puts(f, end_cause_name(s->tcp_end, s->quit_ok));
    obuf_puts(f, "\",\"tcp_end\":\"");
    obuf_puts(f, end_cause_name(s->tcp_end, false));
    obuf_puts(f, "\",\"closed_by\":");
    obuf_puts(f, s->closed_by == SMTP_FROM_CLIENT   ? "\"client\""
                 : s->closed_by == SMTP_FROM_SERVER ? "\"server\""
                                                    : "null");
    obuf_puts(f, ",\"helo\":");
    if (s->helo.len || s->helo_code)
        jref(f, s, s->helo);
    else
        obuf_puts(f, "null");
    obuf_puts(f, s->tls ? ",\"tls\":true,\"tls_bytes\":{\"client\":"
                        : ",\"tls\":false,\"tls_bytes\":{\"client\":");
    obuf_putu(f, smtp_parser_info(&s->parser).tls_bytes[SMTP_FROM_CLIENT]);
    obuf_puts(f, ",\"server\":");
    obuf_putu(f, smtp_parser_info(&s->parser).tls_bytes[SMTP_FROM_SERVER]);
    obuf_puts(f, "}");
    write_auth_esmtp(f, s);
    obuf_puts(f, smtp_parser_info(&s->parser).implicit_tls ? ",\"implicit_tls\":true"
                                                          : ",\"implicit_tls\":false");
    json_tls_handshake(f, s->tls_hs);
    if (((struct json_sink *)base)->tls_steps)
        json_tls_steps(f, s->tls_hs, s->start);
    json_tcp_path(f, s->tcp_known ? &s->tcp : NULL);
    write_verdict(f, s);
    write_failure(f, s);
    obuf_puts(f, ",\"commands\":");
    obuf_putu(f, s->ncommands);
    obuf_puts(f, ",\"replies\":");
    obuf_putu(f, s->nreplies);
    obuf_puts(f, ",\"bytes\":{\"client\":");
    obuf_putu(f, smtp_parser_info(&s->parser).wire_bytes[SMTP_FROM_CLIENT]);
    obuf_puts(f, ",\"server\":");
    obuf_putu(f, smtp_parser_info(&s->parser).wire_bytes[SMTP_FROM_SERVER]);
    obuf_putc(f, '}');
    write_transactions(f, s);
    write_anomalies(f, s);
    write_transcript(f, s);
    obuf_puts(f, ",\"transcript_dropped\":");
    obuf_putu(f, s->log_dropped);
    obuf_puts(f, "}\n");
    obuf_flush(f);
}

/* {"type":"dns", ...}: one lookup, answered or timed out. */
static void json_dns(struct sink *base, const struct dns_lookup *l)
{
    struct obuf *f = &((struct json_sink *)base)->ob;
    char when[40];
    time_iso8601(l->t_query, when, sizeof when);
    obuf_printf(f, "{\"type\":\"dns\",\"id\":\"%08x\",\"t\":\"%s\",\"client\":",
            session_id_for(&l->client, &l->server, l->t_query), when);
    jendpoint(f, &l->client);
    obuf_puts(f, ",\"server\":");
    jendpoint(f, &l->server);
    jcommunity(f, &l->client, &l->server, l->tcp ? 6 : 17);
    obuf_printf(f, ",\"transport\":\"%s\",\"dns_id\":%u,\"query\":", l->tcp ? "tcp" : "udp",
            l->id);
    jcstr(f, l->qname);
    obuf_printf(f, ",\"qtype\":\"%s\",\"rcode\":\"%s\",\"response_ms\":",
            dns_type_name(l->qtype), dns_rcode_name(l->rcode));
    if (l->rcode >= 0)
        jmillis(f, l->t_response - l->t_query);
    else
        obuf_puts(f, "null");
    obuf_printf(f, ",\"truncated\":%s,\"answer_count\":%d,\"answers\":[",
            l->truncated ? "true" : "false", l->nanswers);
    for (int i = 0; i < l->nkept; i++) {
        const struct dns_answer *a = &l->an[i];
        obuf_printf(f, "%s{\"type\":\"%s\",\"name\":", i ? "," : "", dns_type_name(a->type));
        jcstr(f, a->name);
        if (a->type == 15)
            obuf_printf(f, ",\"pref\":%u", a->pref);
        obuf_puts(f, a->type == 1 || a->type == 28 ? ",\"address\":" : ",\"target\":");
        jcstr(f, a->target);
        obuf_putc(f, '}');
    }
    enum finding_id fnd[2];
    int nf = dns_findings(l, ((struct json_sink *)base)->slow_dns_ms, fnd);
    obuf_puts(f, "],\"findings\":[");
    for (int i = 0; i < nf; i++)
        obuf_printf(f, "%s\"%s\"", i ? "," : "", finding_name(fnd[i]));
    obuf_puts(f, "]}\n");
    obuf_flush(f);
}

static void json_finish(struct sink *base)
{
    struct obuf *f = &((struct json_sink *)base)->ob;
    obuf_flush(f);
    fflush(f->f);
}

static void json_destroy(struct sink *base)
{
    free(base);
}

struct sink *sink_json_new(FILE *f, const struct output_options *o)
{
    struct json_sink *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->slow_dns_ms = o->slow_dns_ms;
    j->tls_steps = o->tls_steps;
    j->base.session = json_session;
    j->base.finish = json_finish;
    j->base.destroy = json_destroy;
    j->base.dns = json_dns;
    j->ob.f = f;
    return &j->base;
}
