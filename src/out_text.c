/* out_text.c - the VisNetic-Mail-Server-style text log.
 *
 *   <remote-ip> [<session id>] <HH:MM:SS.mmm> <text>
 *
 * `<<<` lines are what the client sent, `>>>` what the server sent (the
 * server's point of view); lines without an arrow are smtpscope's own
 * (Connected, message body size, TLS start, anomalies, Disconnected and the
 * `***` summary). A comment line "# date: YYYY-MM-DD" precedes the first
 * line and every line whose calendar day differs from the line before, so
 * the date is always recoverable. Each session is written as one block when
 * it ends.
 */
#include <stdlib.h>
#include <string.h>

#include "diagnosis.h"
#include "endpoint.h"
#include "escape.h"
#include "output.h"
#include "tls_observer.h"

struct text_sink {
    struct sink base;
    FILE *f;
    struct output_options opt;
    char last_date[11];
};

static void prefix(struct text_sink *t, const char *ip, uint32_t id,
                   smtp_time ts)
{
    char clock[13], date[11];
    time_clock(ts, t->opt.localtime, clock, date);
    if (strcmp(date, t->last_date) != 0) {
        fprintf(t->f, "# date: %s (%s)\n", date,
                t->opt.localtime ? "local time" : "UTC");
        memcpy(t->last_date, date, sizeof date);
    }
    /* "IP [id] HH:MM:SS.mmm " in one write: this runs for every line */
    static const char hex[] = "0123456789abcdef";
    char buf[ENDPOINT_STRLEN + 32];
    size_t n = strnlen(ip, ENDPOINT_STRLEN);
    memcpy(buf, ip, n);
    buf[n++] = ' ';
    buf[n++] = '[';
    for (int i = 7; i >= 0; i--)
        buf[n++] = hex[(id >> (4 * i)) & 0xf];
    buf[n++] = ']';
    buf[n++] = ' ';
    memcpy(buf + n, clock, 12);
    n += 12;
    buf[n++] = ' ';
    fwrite(buf, 1, n, t->f);
}

static void write_verdict(struct text_sink *t, const struct session *s);

#define RED "\033[31m"
#define YELLOW "\033[33m"
#define RESET "\033[0m"

static void write_summary(struct text_sink *t, const struct session *s)
{
    FILE *f = t->f;
    bool paint = t->opt.color && (s->verdict == VERDICT_FAILED ||
                                  s->verdict == VERDICT_NOT_SMTP);
    if (paint)
        fputs(RED, f);
    write_verdict(t, s);
    if (paint)
        fputs(RESET, f);
    fputc('\n', f);
}

static void write_verdict(struct text_sink *t, const struct session *s)
{
    FILE *f = t->f;
    uint32_t rcpts = 0, rejected = 0, accepted = 0;
    uint64_t bytes = 0;
    for (uint32_t i = 0; i < s->ntxn; i++) {
        const struct txn *x = &s->txns[i];
        for (uint32_t r = 0; r < x->nrcpt; r++) {
            int code = s->rcpts[x->first_rcpt + r].code;
            rcpts++;
            rejected += code >= 400;
        }
        if (x->result == TXN_ACCEPTED)
            accepted++;
        bytes += x->bytes;
    }
    fputs("*** ", f);
    if (s->ntxn) {
        const struct txn *x0 = &s->txns[0];
        if (x0->has_mail) {
            fputs("from=<", f);
            escape_write(f, session_str(s, x0->mail_from), x0->mail_from.len,
                         ESCAPE_TEXT);
            fputc('>', f);
        } else {
            fputs("from=(no MAIL seen)", f); /* <> is the null sender only */
        }
        if (s->ntxn > 1)
            fprintf(f, " (+%u more)", s->ntxn - 1);
        fputc(' ', f);
    }
    fprintf(f, "rcpts=%u", rcpts);
    if (rejected)
        fprintf(f, " (%u rejected)", rejected);
    char dur[32];
    time_seconds(s->end - s->start, 3, dur, sizeof dur);
    fprintf(f, " messages=%u bytes=%llu duration=%ss: ", accepted,
            (unsigned long long)bytes, dur);
    if (s->verdict == VERDICT_OK) {
        fputs("OK", f);
        return;
    }
    const struct failure *fl = &s->failure;
    if (s->verdict == VERDICT_NOT_SMTP) {
        fprintf(f, "NOT SMTP: no SMTP reply from the server (%llu bytes from "
                   "client, %llu from server)",
                (unsigned long long)smtp_parser_info(&s->parser).wire_bytes[SMTP_FROM_CLIENT],
                (unsigned long long)smtp_parser_info(&s->parser).wire_bytes[SMTP_FROM_SERVER]);
        return;
    }
    if (s->verdict == VERDICT_ENCRYPTED) {
        fputs("ENCRYPTED ", f);
        if (s->tls_hs && s->tls_hs->result == TLS_RESULT_COMPLETE) {
            char brief[300], esc[ESCAPE_MAX(300)];
            size_t n = tls_handshake_brief(s->tls_hs, brief, sizeof brief);
            escape_to(esc, sizeof esc, brief, n, ESCAPE_TEXT);
            fprintf(f, "(%s) ", esc);
        }
        fprintf(f, smtp_parser_info(&s->parser).implicit_tls
                       ? "from the start (implicit TLS; %llu bytes "
                         "from client, %llu from server), ended %s"
                       : "after STARTTLS (%llu bytes from client, "
                         "%llu from server in TLS), ended %s",
                (unsigned long long)smtp_parser_info(&s->parser).tls_bytes[SMTP_FROM_CLIENT],
                (unsigned long long)smtp_parser_info(&s->parser).tls_bytes[SMTP_FROM_SERVER],
                end_cause_name(s->tcp_end, false));
        return;
    }
    if (s->verdict == VERDICT_INCOMPLETE) {
        fprintf(f, "INCOMPLETE in %s: %s", phase_name(s->end_phase),
                s->incomplete_why ? s->incomplete_why
                                  : end_cause_name(s->tcp_end, false));
        return;
    }
    if (s->verdict == VERDICT_PARTIAL) {
        uint32_t all, ok;
        diagnosis_partial(s, &all, &ok);
        fprintf(f, "PARTIAL: %u of %u recipients accepted; ", ok, all);
    } else {
        fprintf(f, "FAILED at %s: ", phase_name(fl->phase));
    }
    if (s->verdict == VERDICT_PARTIAL && fl->phase != PHASE_NONE)
        fprintf(f, "%s ", phase_name(fl->phase));
    if (fl->code)
        fprintf(f, "%d ", fl->code);
    if (fl->enhanced[0])
        fprintf(f, "%s ", fl->enhanced);
    escape_write(f, fl->text, strlen(fl->text), ESCAPE_TEXT);
    if (fl->hint && fl->hint[0]) {
        fputs(" -- hint: ", f);
        escape_write(f, fl->hint, strlen(fl->hint), ESCAPE_TEXT);
    }
}

/* The address a line is filed under: the remote end. For an outgoing
 * delivery that is the server, as in the MTA's own client log. */
static void log_ip(const struct session *s, char ip[ENDPOINT_STRLEN])
{
    endpoint_addr_str(s->direction == DIR_OUTGOING ? &s->server : &s->client, ip);
}

/* "Connected ..." or "Connection attempt ...": the session's first line;
 * "Client session ..." for our host's outgoing delivery. */
static void write_opening(struct text_sink *t, const struct session *s)
{
    char ip[ENDPOINT_STRLEN], sip[ENDPOINT_STRLEN], lip[ENDPOINT_STRLEN];
    endpoint_addr_str(&s->client, ip);
    endpoint_addr_str(&s->server, sip);
    log_ip(s, lip);
    const char *v6l = s->client.family == 6 ? "[" : "";
    const char *v6r = s->client.family == 6 ? "]" : "";
    prefix(t, lip, s->id, s->start);
    if (s->direction == DIR_OUTGOING)
        fprintf(t->f, "Client session %s%s%s:%u -> %s%s%s:%u%s\n", v6l, ip, v6r,
                s->client.port, v6l, sip, v6r, s->server.port,
                s->handshake == HS_NONE ? " (not connected)"
                : s->handshake == HS_MISSING ? " (picked up mid-session)" : "");
    else if (s->handshake == HS_NONE)
        fprintf(t->f, "Connection attempt %s%s%s:%u -> %s%s%s:%u (%u SYN%s)\n",
                v6l, ip, v6r, s->client.port, v6l, sip, v6r, s->server.port,
                s->syn_count, s->syn_count == 1 ? "" : "s");
    else
        fprintf(t->f, "Connected %s%s%s:%u -> %s%s%s:%u%s\n", v6l, ip, v6r,
                s->client.port, v6l, sip, v6r, s->server.port,
                s->handshake == HS_MISSING ? " (picked up mid-session)" : "");
}

/* One transcript record as a log line. */
static void write_line(struct text_sink *t, const char *ip, const struct session *s,
                       const struct tline *l, const char *text)
{
    FILE *f = t->f;
    prefix(t, ip, s->id, l->ts);
    switch (l->kind) {
    /* server's view: >>> it sent, <<< it got; outgoing: our host's view */
    case TL_CLIENT: fputs(s->direction == DIR_OUTGOING ? ">>> " : "<<< ", f); break;
    case TL_SERVER: fputs(s->direction == DIR_OUTGOING ? "<<< " : ">>> ", f); break;
    default:
        /* own text: capitalised like the other system lines */
        if (l->kind == TL_ANOMALY && t->opt.color)
            fputs(YELLOW, f);
        if (l->len) {
            fputc(text[0] >= 'a' && text[0] <= 'z' ? text[0] - 32 : text[0], f);
            escape_write(f, text + 1, l->len - 1, ESCAPE_TEXT);
        }
        if (l->kind == TL_ANOMALY && t->opt.color)
            fputs(RESET, f);
        fputc('\n', f);
        return;
    }
    escape_write(f, text, l->len, ESCAPE_TEXT);
    if (l->flags & SMTP_LINE_TRUNCATED)
        fputs(" [line truncated]", f);
    else if (l->flags & SMTP_LINE_UNTERMINATED)
        fputs(" [no line end]", f);
    fputc('\n', f);
}

static void text_session(struct sink *base, const struct session *s)
{
    struct text_sink *t = (struct text_sink *)base;
    FILE *f = t->f;
    char ip[ENDPOINT_STRLEN];
    log_ip(s, ip);

    if (t->opt.verbosity == 1) { /* the verdict line only */
        prefix(t, ip, s->id, s->end);
        write_summary(t, s);
        return;
    }
    if (!(t->opt.follow && s->followed)) { /* else already written live */
        write_opening(t, s);
        size_t off = 0;
        const char *text;
        const struct tline *l;
        while ((l = session_next_line(s, &off, &text)))
            write_line(t, ip, s, l, text);
        if (s->log_dropped) {
            prefix(t, ip, s->id, s->end);
            fprintf(f, "Transcript limit reached: %u more lines not kept\n",
                    s->log_dropped);
        }
    }
    prefix(t, ip, s->id, s->end);
    if (s->handshake == HS_NONE)
        fprintf(f, "Not connected (%s)\n", end_cause_name(s->tcp_end, false));
    else
        fprintf(f, "Disconnected (%s%s)\n", end_cause_name(s->tcp_end, s->quit_ok),
                s->quit_ok || s->tcp_end != TCP_END_CLOSED ? ""
                : s->closed_by == SMTP_FROM_CLIENT ? " by client"
                : s->closed_by == SMTP_FROM_SERVER ? " by server" : "");
    prefix(t, ip, s->id, s->end);
    write_summary(t, s);
    if (t->opt.follow)
        fflush(f);
}

static void text_open(struct sink *base, const struct session *s)
{
    struct text_sink *t = (struct text_sink *)base;
    if (t->opt.verbosity > 1) {
        write_opening(t, s);
        fflush(t->f);
    }
}

static void text_line(struct sink *base, const struct session *s,
                      const struct tline *l, const char *text)
{
    struct text_sink *t = (struct text_sink *)base;
    if (t->opt.verbosity == 1)
        return;
    char ip[ENDPOINT_STRLEN];
    log_ip(s, ip);
    write_line(t, ip, s, l, text);
    fflush(t->f);
}

/* "DNS query 'example.net' MX to 192.0.2.53 [NOERROR - 2 answers: 10
 * mx1.example.net, 20 mx2.example.net] 1.2 ms", filed under the asking
 * host, as mail servers log their lookups ("to ... over TCP" for TCP, and
 * "truncated, " before the count when the answer did not fit). */
static void text_dns(struct sink *base, const struct dns_lookup *l)
{
    struct text_sink *t = (struct text_sink *)base;
    if (t->opt.verbosity == 1)
        return;
    FILE *f = t->f;
    char ip[ENDPOINT_STRLEN], sip[ENDPOINT_STRLEN];
    endpoint_addr_str(&l->client, ip);
    endpoint_addr_str(&l->server, sip);
    prefix(t, ip, session_id_for(&l->client, &l->server, l->t_query), l->t_query);
    fputs("DNS query '", f);
    escape_write(f, l->qname, strlen(l->qname), ESCAPE_TEXT);
    fprintf(f, "' %s to %s%s [%s", dns_type_name(l->qtype), sip, l->tcp ? " over TCP" : "",
            dns_rcode_name(l->rcode));
    if (l->rcode < 0) {
        fputs(" - no response seen]", f);
    } else {
        fprintf(f, " - %s%d answer%s", l->truncated ? "truncated, " : "", l->nanswers,
                l->nanswers == 1 ? "" : "s");
        for (int i = 0; i < l->nkept; i++) {
            const struct dns_answer *a = &l->an[i];
            fputs(i ? ", " : ": ", f);
            if (a->type == 15)
                fprintf(f, "%u ", a->pref);
            else if (a->type == 5)
                fputs("CNAME ", f);
            escape_write(f, a->target, strlen(a->target), ESCAPE_TEXT);
        }
        fprintf(f, "] %.1f ms", (double)(l->t_response - l->t_query) / 1e6);
    }
    enum finding_id fnd[2];
    int nf = dns_findings(l, t->opt.slow_dns_ms, fnd);
    for (int i = 0; i < nf; i++)
        fprintf(f, "%s%s", i ? "," : " (finding: ", finding_name(fnd[i]));
    fputs(nf ? ")\n" : "\n", f);
}

static void text_finish(struct sink *base)
{
    struct text_sink *t = (struct text_sink *)base;
    fflush(t->f);
}

static void text_destroy(struct sink *base)
{
    free(base);
}

struct sink *sink_text_new(FILE *f, const struct output_options *o)
{
    struct text_sink *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->base.session = text_session;
    t->base.finish = text_finish;
    t->base.destroy = text_destroy;
    t->base.dns = text_dns;
    if (o->follow) {
        t->base.open = text_open;
        t->base.line = text_line;
    }
    t->f = f;
    t->opt = *o;
    return &t->base;
}
