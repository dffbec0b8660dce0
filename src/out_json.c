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
#include "output.h"

struct json_sink {
    struct sink base;
    FILE *f;
    int slow_dns_ms;
};

static void jstr(FILE *f, const char *s, size_t n)
{
    fputc('"', f);
    escape_write(f, s, n, ESCAPE_JSON);
    fputc('"', f);
}

static void jcstr(FILE *f, const char *s) { jstr(f, s, strlen(s)); }

static void jref(FILE *f, const struct session *s, struct strref r)
{
    jstr(f, session_str(s, r), r.len);
}

static void jcode(FILE *f, int code)
{
    if (code)
        fprintf(f, "%d", code);
    else
        fputs("null", f);
}

static void jtime(FILE *f, smtp_time t)
{
    char buf[40];
    time_iso8601(t, buf, sizeof buf);
    fprintf(f, "\"%s\"", buf);
}

static void jseconds(FILE *f, smtp_time d, int decimals)
{
    char buf[40];
    time_seconds(d, decimals, buf, sizeof buf);
    fputs(buf, f);
}

/* A duration in milliseconds with microsecond digits. */
static void jmillis(FILE *f, smtp_time d)
{
    char buf[40];
    time_fixed(d, SMTP_NS_PER_SEC / 1000, 3, buf, sizeof buf);
    fputs(buf, f);
}

static void jendpoint(FILE *f, const struct endpoint *e)
{
    char ip[ENDPOINT_STRLEN];
    endpoint_addr_str(e, ip);
    fprintf(f, "{\"ip\":\"%s\",\"port\":%u}", ip, e->port);
}

/* "community_id":"1:..." of a flow, or null if it could not be hashed */
static void jcommunity(FILE *f, const struct endpoint *a, const struct endpoint *b,
                       uint8_t proto)
{
    char id[COMMUNITY_ID_LEN];
    fputs(",\"community_id\":", f);
    if (community_id(a, b, proto, id))
        fprintf(f, "\"%s\"", id);
    else
        fputs("null", f);
}

/* The session's frames, and the Wireshark display filter that shows them. */
static void write_frames(FILE *f, const struct session *s)
{
    if (!s->first_frame) {
        fputs(",\"first_frame\":null,\"last_frame\":null,\"wireshark_filter\":null", f);
        return;
    }
    char a[ENDPOINT_STRLEN], b[ENDPOINT_STRLEN];
    endpoint_addr_str(&s->client, a);
    endpoint_addr_str(&s->server, b);
    const char *ip = s->client.family == 6 ? "ipv6.addr" : "ip.addr";
    fprintf(f, ",\"first_frame\":%llu,\"last_frame\":%llu,\"wireshark_filter\":"
               "\"%s==%s && %s==%s && tcp.port==%u && tcp.port==%u && "
               "frame.number>=%llu && frame.number<=%llu\"",
            (unsigned long long)s->first_frame, (unsigned long long)s->last_frame,
            ip, a, ip, b, s->client.port, s->server.port,
            (unsigned long long)s->first_frame, (unsigned long long)s->last_frame);
}

/* Cc, Reply-To, the mailer, the Received chain, attachment names. */
static void write_header_facts(FILE *f, const struct session *s, const struct txn *x)
{
    fputs(",\"cc\":", f);
    jref(f, s, x->hdr_cc);
    fputs(",\"reply_to\":", f);
    jref(f, s, x->hdr_reply_to);
    fputs(",\"mailer\":", f);
    jref(f, s, x->hdr_mailer);
    fprintf(f, ",\"received\":{\"hops\":%u,\"first\":", x->received);
    if (x->received_first.len)
        jref(f, s, x->received_first);
    else
        fputs("null", f);
    fputs(",\"last\":", f);
    if (x->received_last.len)
        jref(f, s, x->received_last);
    else
        fputs("null", f);
    fprintf(f, "},\"attachment_count\":%u,\"attachments\":[", x->nattach);
    for (uint32_t i = 0; i < x->nattach && i < TXN_ATTACH_MAX; i++) {
        if (i)
            fputc(',', f);
        jref(f, s, x->attach[i]);
    }
    fputc(']', f);
}

static void write_transactions(FILE *f, const struct session *s)
{
    fputs(",\"transactions\":[", f);
    for (uint32_t i = 0; i < s->ntxn; i++) {
        const struct txn *x = &s->txns[i];
        fputs(i ? ",{" : "{", f);
        fputs("\"mail_from\":", f); /* null: no MAIL seen; "": the null sender */
        if (x->has_mail)
            jref(f, s, x->mail_from);
        else
            fputs("null", f);
        fputs(",\"mail_params\":", f);
        jref(f, s, x->mail_params);
        if (s->cfg->extract_headers) {
            fputs(",\"headers\":{\"message_id\":", f);
            jref(f, s, x->hdr_message_id);
            fputs(",\"subject\":", f);
            jref(f, s, x->hdr_subject);
            fputs(",\"from\":", f);
            jref(f, s, x->hdr_from);
            fputs(",\"to\":", f);
            jref(f, s, x->hdr_to);
            fputs(",\"date\":", f);
            jref(f, s, x->hdr_date);
            write_header_facts(f, s, x);
            fputc('}', f);
        }
        fputs(",\"mail_code\":", f);
        jcode(f, x->mail_code);
        fputs(",\"rcpt\":[", f);
        for (uint32_t r = 0; r < x->nrcpt; r++) {
            const struct rcpt *rc = &s->rcpts[x->first_rcpt + r];
            fputs(r ? ",{\"addr\":" : "{\"addr\":", f);
            jref(f, s, rc->addr);
            fputs(",\"code\":", f);
            jcode(f, rc->code);
            fputc('}', f);
        }
        fputs("],\"data_cmd_code\":", f);
        jcode(f, x->bdat ? 0 : x->data_code);
        fputs(",\"data_code\":", f);
        jcode(f, x->final_code);
        fprintf(f, ",\"bdat\":%s,\"bytes\":%llu,\"queue_id\":",
                x->bdat ? "true" : "false", (unsigned long long)x->bytes);
        if (x->queue_id.len)
            jref(f, s, x->queue_id);
        else
            fputs("null", f);
        fprintf(f, ",\"result\":\"%s\"", txn_result_name(x->result));
        if (x->saved_as.len) {
            fputs(",\"saved_as\":", f);
            jref(f, s, x->saved_as);
        }
        if (x->result == TXN_REJECTED)
            fprintf(f, ",\"failed_phase\":\"%s\"", phase_name(x->failed_phase));
        fputc('}', f);
    }
    fputc(']', f);
}

static void write_transcript(FILE *f, const struct session *s)
{
    fputs(",\"transcript\":[", f);
    size_t off = 0;
    const char *text;
    const struct tline *l;
    bool first = true;
    while ((l = session_next_line(s, &off, &text))) {
        if (l->kind != TL_CLIENT && l->kind != TL_SERVER && l->kind != TL_BODY)
            continue;
        fputs(first ? "{\"t\":" : ",{\"t\":", f);
        first = false;
        jseconds(f, l->ts - s->start, 6);
        fputs(l->kind == TL_SERVER ? ",\"dir\":\"S\",\"line\":" : ",\"dir\":\"C\",\"line\":", f);
        jstr(f, text, l->len);
        if (l->kind == TL_BODY)
            fprintf(f, ",\"event\":\"body\",\"bytes\":%llu",
                    (unsigned long long)l->value);
        if (l->flags & SMTP_LINE_TRUNCATED)
            fputs(",\"truncated\":true", f);
        if (l->latency_ns >= 0) {
            fputs(",\"latency_ms\":", f);
            jmillis(f, l->latency_ns);
        }
        fputc('}', f);
    }
    fputc(']', f);
}

static void write_failure(FILE *f, const struct session *s)
{
    const struct failure *fl = &s->failure;
    fputs(",\"failure\":", f);
    if (s->verdict != VERDICT_FAILED && s->verdict != VERDICT_PARTIAL) {
        fputs("null", f);
        return;
    }
    fprintf(f, "{\"phase\":\"%s\",\"code\":", phase_name(fl->phase));
    jcode(f, fl->code);
    fputs(",\"enhanced\":", f);
    if (fl->enhanced[0])
        jcstr(f, fl->enhanced);
    else
        fputs("null", f);
    fputs(",\"text\":", f);
    jcstr(f, fl->text);
    fprintf(f, ",\"class\":\"%s\",\"hint\":", failure_class_name(fl->cls));
    jcstr(f, fl->hint ? fl->hint : "");
    fputc('}', f);
}

static void write_anomalies(FILE *f, const struct session *s)
{
    fputs(",\"anomalies\":[", f);
    for (uint32_t i = 0; i < s->nanomalies; i++) {
        const struct anomaly *a = &s->anomalies[i];
        fprintf(f, "%s{\"name\":\"%s\",\"kind\":\"%s\",\"count\":%u,"
                "\"t\":%.6f,\"detail\":", i ? "," : "", finding_name(a->id),
                finding_kind_name(finding_kind(a->id)), a->count,
                (double)(a->ts - s->start) / 1e9);
        jcstr(f, a->detail);
        fputc('}', f);
    }
    fputc(']', f);
}

static void json_session(struct sink *base, const struct session *s)
{
    FILE *f = ((struct json_sink *)base)->f;
    fprintf(f, "{\"type\":\"session\",\"id\":\"%08x\",\"client\":", s->id);
    jendpoint(f, &s->client);
    fputs(",\"server\":", f);
    jendpoint(f, &s->server);
    jcommunity(f, &s->client, &s->server, 6);
    fprintf(f, ",\"direction\":\"%s\"", direction_name(s->direction));
    if (s->mx) { /* outgoing, linked to its lookups (mailflow.h) */
        fputs(",\"mx\":{\"domain\":", f);
        jcstr(f, s->mx->domain);
        fputs(",\"host\":", f);
        jcstr(f, s->mx->host);
        if (s->mx->pref >= 0)
            fprintf(f, ",\"pref\":%d,\"implicit\":false}", s->mx->pref);
        else
            fputs(",\"pref\":null,\"implicit\":true}", f);
    }
    fputs(",\"start\":", f);
    jtime(f, s->start);
    fputs(",\"end\":", f);
    jtime(f, s->end);
    fputs(",\"duration_ms\":", f);
    jmillis(f, s->end - s->start);
    write_frames(f, s);
    fprintf(f, ",\"handshake\":\"%s\",\"syn_count\":%u,\"end_cause\":\"%s\","
               "\"tcp_end\":\"%s\",\"closed_by\":%s",
            handshake_name(s->handshake), s->syn_count,
            end_cause_name(s->tcp_end, s->quit_ok),
            end_cause_name(s->tcp_end, false),
            s->closed_by == SMTP_FROM_CLIENT   ? "\"client\""
            : s->closed_by == SMTP_FROM_SERVER ? "\"server\""
                                               : "null");
    fputs(",\"helo\":", f);
    if (s->helo.len || s->helo_code)
        jref(f, s, s->helo);
    else
        fputs("null", f);
    fprintf(f, ",\"tls\":%s,\"tls_bytes\":{\"client\":%llu,\"server\":%llu}"
               ",\"auth\":",
            s->tls ? "true" : "false",
            (unsigned long long)smtp_parser_info(&s->parser).tls_bytes[SMTP_FROM_CLIENT],
            (unsigned long long)smtp_parser_info(&s->parser).tls_bytes[SMTP_FROM_SERVER]);
    if (s->auth_mech[0]) {
        fputs("{\"mechanism\":", f);
        jcstr(f, s->auth_mech);
        fputs(",\"user\":", f);
        if (s->auth_user[0])
            jcstr(f, s->auth_user);
        else
            fputs("null", f);
        fputs(",\"code\":", f);
        jcode(f, s->auth_code);
        fprintf(f, ",\"ok\":%s}", s->auth_ok ? "true" : "false");
    } else {
        fputs("null", f);
    }
    fputs(",\"esmtp\":{\"keywords\":[", f);
    bool firstkw = true;
    for (unsigned i = 0; i < KW__COUNT; i++)
        if (s->ehlo_keywords & (1u << i)) {
            fputs(firstkw ? "\"" : ",\"", f); /* not printf: ~10 per session */
            fputs(esmtp_kw_name(i), f);
            fputc('"', f);
            firstkw = false;
        }
    fputs("],\"size\":", f);
    if (s->size_limit)
        fprintf(f, "%llu", (unsigned long long)s->size_limit);
    else
        fputs("null", f);
    fputs(",\"auth_mechanisms\":", f);
    if (s->auth_mechs.len)
        jref(f, s, s->auth_mechs);
    else
        fputs("null", f);
    fputc('}', f);
    fprintf(f, ",\"implicit_tls\":%s", smtp_parser_info(&s->parser).implicit_tls ? "true" : "false");
    fprintf(f, ",\"verdict\":\"%s\",\"end_phase\":\"%s\"",
            s->verdict == VERDICT_OK          ? "ok"
            : s->verdict == VERDICT_FAILED    ? "failed"
            : s->verdict == VERDICT_ENCRYPTED ? "encrypted"
            : s->verdict == VERDICT_NOT_SMTP  ? "not-smtp"
            : s->verdict == VERDICT_PARTIAL   ? "partial"
                                              : "incomplete",
            phase_name(s->end_phase));
    fputs(",\"incomplete_reason\":", f);
    if (s->verdict == VERDICT_INCOMPLETE)
        jcstr(f, s->incomplete_why ? s->incomplete_why
                                   : end_cause_name(s->tcp_end, false));
    else
        fputs("null", f);
    write_failure(f, s);
    fprintf(f, ",\"commands\":%u,\"replies\":%u,\"bytes\":{\"client\":%llu,"
               "\"server\":%llu}",
            s->ncommands, s->nreplies,
            (unsigned long long)smtp_parser_info(&s->parser).wire_bytes[SMTP_FROM_CLIENT],
            (unsigned long long)smtp_parser_info(&s->parser).wire_bytes[SMTP_FROM_SERVER]);
    write_transactions(f, s);
    write_anomalies(f, s);
    write_transcript(f, s);
    fprintf(f, ",\"transcript_dropped\":%u}\n", s->log_dropped);
}

/* {"type":"dns", ...}: one lookup, answered or timed out. */
static void json_dns(struct sink *base, const struct dns_lookup *l)
{
    FILE *f = ((struct json_sink *)base)->f;
    char when[40];
    time_iso8601(l->t_query, when, sizeof when);
    fprintf(f, "{\"type\":\"dns\",\"id\":\"%08x\",\"t\":\"%s\",\"client\":",
            session_id_for(&l->client, &l->server, l->t_query), when);
    jendpoint(f, &l->client);
    fputs(",\"server\":", f);
    jendpoint(f, &l->server);
    jcommunity(f, &l->client, &l->server, l->tcp ? 6 : 17);
    fprintf(f, ",\"transport\":\"%s\",\"dns_id\":%u,\"query\":", l->tcp ? "tcp" : "udp",
            l->id);
    jcstr(f, l->qname);
    fprintf(f, ",\"qtype\":\"%s\",\"rcode\":\"%s\",\"response_ms\":",
            dns_type_name(l->qtype), dns_rcode_name(l->rcode));
    if (l->rcode >= 0)
        jmillis(f, l->t_response - l->t_query);
    else
        fputs("null", f);
    fprintf(f, ",\"truncated\":%s,\"answer_count\":%d,\"answers\":[",
            l->truncated ? "true" : "false", l->nanswers);
    for (int i = 0; i < l->nkept; i++) {
        const struct dns_answer *a = &l->an[i];
        fprintf(f, "%s{\"type\":\"%s\",\"name\":", i ? "," : "", dns_type_name(a->type));
        jcstr(f, a->name);
        if (a->type == 15)
            fprintf(f, ",\"pref\":%u", a->pref);
        fputs(a->type == 1 || a->type == 28 ? ",\"address\":" : ",\"target\":", f);
        jcstr(f, a->target);
        fputc('}', f);
    }
    enum finding_id fnd[2];
    int nf = dns_findings(l, ((struct json_sink *)base)->slow_dns_ms, fnd);
    fputs("],\"findings\":[", f);
    for (int i = 0; i < nf; i++)
        fprintf(f, "%s\"%s\"", i ? "," : "", finding_name(fnd[i]));
    fputs("]}\n", f);
}

static void json_finish(struct sink *base)
{
    fflush(((struct json_sink *)base)->f);
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
    j->base.session = json_session;
    j->base.finish = json_finish;
    j->base.destroy = json_destroy;
    j->base.dns = json_dns;
    j->f = f;
    return &j->base;
}
