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
#include "obuf.h"
#include "output.h"
#include "tls_observer.h"

struct text_sink {
    struct sink base;
    struct output_options opt;
    char last_date[11];
    /* "IP [id] " of the lines being written: formatted once a session */
    char who[ENDPOINT_STRLEN + 12];
    size_t who_len;
    /* "HH:MM:SS." of the second clk_sec: formatted once a second */
    bool clk_valid;
    time_t clk_sec;
    char clk[9];
    struct obuf ob; /* a session at a time, then one fwrite (obuf.h) */
};

static void set_who(struct text_sink *t, const char *ip, uint32_t id)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = strnlen(ip, ENDPOINT_STRLEN);
    memcpy(t->who, ip, n);
    t->who[n++] = ' ';
    t->who[n++] = '[';
    for (int i = 7; i >= 0; i--)
        t->who[n++] = hex[(id >> (4 * i)) & 0xf];
    t->who[n++] = ']';
    t->who[n++] = ' ';
    t->who_len = n;
}

/* "IP [id] HH:MM:SS.mmm " of the current session (set_who), after a
 * "# date:" line when the calendar day differs from the line before. The
 * day and the clock change only with the second, so they are formatted
 * only when it does. */
static void stamp(struct text_sink *t, smtp_time ts)
{
    time_t sec;
    int64_t ns;
    time_split(ts, &sec, &ns);
    if (!t->clk_valid || sec != t->clk_sec) {
        char clock[13], date[11];
        time_clock(ts, t->opt.localtime, clock, date);
        if (strcmp(date, t->last_date) != 0) {
            obuf_printf(&t->ob, "# date: %s (%s)\n", date,
                        t->opt.localtime ? "local time" : "UTC");
            memcpy(t->last_date, date, sizeof date);
        }
        memcpy(t->clk, clock, sizeof t->clk);
        t->clk_sec = sec;
        t->clk_valid = true;
    }
    char *p = obuf_room(&t->ob, ENDPOINT_STRLEN + 32);
    memcpy(p, t->who, t->who_len);
    p += t->who_len;
    memcpy(p, t->clk, sizeof t->clk);
    p += sizeof t->clk;
    unsigned ms = (unsigned)(ns / 1000000) % 1000u;
    p[0] = (char)('0' + ms / 100);
    p[1] = (char)('0' + ms / 10 % 10);
    p[2] = (char)('0' + ms % 10);
    p[3] = ' ';
    t->ob.len += t->who_len + sizeof t->clk + 4;
}

static void prefix(struct text_sink *t, const char *ip, uint32_t id, smtp_time ts)
{
    set_who(t, ip, id);
    stamp(t, ts);
}

static void write_verdict(struct text_sink *t, const struct session *s);

#define RED "\033[31m"
#define YELLOW "\033[33m"
#define RESET "\033[0m"

static void write_summary(struct text_sink *t, const struct session *s)
{
    struct obuf *f = &t->ob;
    bool paint = t->opt.color && (s->verdict == VERDICT_FAILED ||
                                  s->verdict == VERDICT_NOT_SMTP);
    if (paint)
        obuf_puts(f, RED);
    write_verdict(t, s);
    if (paint)
        obuf_puts(f, RESET);
    obuf_putc(f, '\n');
}

/* "*** from=<...> rcpts=N (M rejected) messages=N bytes=N duration=Ns: " */
static void write_envelope(struct text_sink *t, const struct session *s)
{
    struct obuf *f = &t->ob;
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
    obuf_puts(f, "*** ");
    if (s->ntxn) {
        const struct txn *x0 = &s->txns[0];
        if (x0->has_mail) {
            obuf_puts(f, "from=<");
            obuf_escape(f, session_str(s, x0->mail_from), x0->mail_from.len,
                         ESCAPE_TEXT);
            obuf_putc(f, '>');
        } else {
            obuf_puts(f, "from=(no MAIL seen)"); /* <> is the null sender only */
        }
        if (s->ntxn > 1) {
            obuf_puts(f, " (+");
            obuf_putu(f, s->ntxn - 1);
            obuf_puts(f, " more)");
        }
        obuf_putc(f, ' ');
    }
    /* by hand, not printf: every session has this line */
    obuf_puts(f, "rcpts=");
    obuf_putu(f, rcpts);
    if (rejected) {
        obuf_puts(f, " (");
        obuf_putu(f, rejected);
        obuf_puts(f, " rejected)");
    }
    char dur[32];
    time_seconds(s->end - s->start, 3, dur, sizeof dur);
    obuf_puts(f, " messages=");
    obuf_putu(f, accepted);
    obuf_puts(f, " bytes=");
    obuf_putu(f, bytes);
    obuf_puts(f, " duration=");
    obuf_puts(f, dur);
    obuf_puts(f, "s: ");
}

/* "ENCRYPTED (TLS 1.3, ...) after STARTTLS (...), ended ..." */
static void write_encrypted(struct text_sink *t, const struct session *s)
{
    struct obuf *f = &t->ob;
    obuf_puts(f, "ENCRYPTED ");
    if (s->tls_hs && s->tls_hs->result == TLS_RESULT_COMPLETE) {
        char brief[300];
        size_t n = tls_handshake_brief(s->tls_hs, brief, sizeof brief);
        obuf_putc(f, '(');
        obuf_escape(f, brief, n, ESCAPE_TEXT);
        obuf_puts(f, ") ");
    }
    obuf_printf(f, s->tls_picked_up
                   ? "picked up inside TLS (%llu bytes from client, "
                     "%llu from server), ended %s"
                   : smtp_parser_info(&s->parser).implicit_tls
                   ? "from the start (implicit TLS; %llu bytes "
                     "from client, %llu from server), ended %s"
                   : "after STARTTLS (%llu bytes from client, "
                     "%llu from server in TLS), ended %s",
            (unsigned long long)smtp_parser_info(&s->parser).tls_bytes[SMTP_FROM_CLIENT],
            (unsigned long long)smtp_parser_info(&s->parser).tls_bytes[SMTP_FROM_SERVER],
            end_cause_name(s->tcp_end, false));
}

/* The session's outcome after the envelope: OK, NOT SMTP, ENCRYPTED,
 * INCOMPLETE, PARTIAL or FAILED with the reply and its hint. */
static void write_verdict(struct text_sink *t, const struct session *s)
{
    struct obuf *f = &t->ob;
    write_envelope(t, s);
    if (s->verdict == VERDICT_OK) {
        obuf_puts(f, "OK");
        return;
    }
    const struct failure *fl = &s->failure;
    if (s->verdict == VERDICT_NOT_SMTP) {
        obuf_printf(f, "NOT SMTP: no SMTP reply from the server (%llu bytes from "
                   "client, %llu from server)",
                (unsigned long long)smtp_parser_info(&s->parser).wire_bytes[SMTP_FROM_CLIENT],
                (unsigned long long)smtp_parser_info(&s->parser).wire_bytes[SMTP_FROM_SERVER]);
        return;
    }
    if (s->verdict == VERDICT_ENCRYPTED) {
        write_encrypted(t, s);
        return;
    }
    if (s->verdict == VERDICT_INCOMPLETE) {
        obuf_printf(f, "INCOMPLETE in %s: %s", phase_name(s->end_phase),
                s->incomplete_why ? s->incomplete_why
                                  : end_cause_name(s->tcp_end, false));
        return;
    }
    if (s->verdict == VERDICT_PARTIAL) {
        uint32_t all, ok;
        diagnosis_partial(s, &all, &ok);
        obuf_printf(f, "PARTIAL: %u of %u recipients accepted; ", ok, all);
    } else {
        obuf_puts(f, "FAILED at ");
        obuf_puts(f, phase_name(fl->phase));
        obuf_puts(f, ": ");
    }
    if (s->verdict == VERDICT_PARTIAL && fl->phase != PHASE_NONE) {
        obuf_puts(f, phase_name(fl->phase));
        obuf_putc(f, ' ');
    }
    if (fl->code)
        obuf_printf(f, "%d ", fl->code);
    if (fl->enhanced[0]) {
        obuf_puts(f, fl->enhanced);
        obuf_putc(f, ' ');
    }
    obuf_escape(f, fl->text, strlen(fl->text), ESCAPE_TEXT);
    if (fl->hint && fl->hint[0]) {
        obuf_puts(f, " -- hint: ");
        obuf_escape(f, fl->hint, strlen(fl->hint), ESCAPE_TEXT);
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
    struct obuf *f = &t->ob;
    /* by hand, not printf: once a session, and printf was most of its cost */
    if (s->direction == DIR_OUTGOING)
        obuf_puts(f, "Client session ");
    else if (s->handshake == HS_NONE)
        obuf_puts(f, "Connection attempt ");
    else
        obuf_puts(f, "Connected ");
    obuf_puts(f, v6l);
    obuf_puts(f, ip);
    obuf_puts(f, v6r);
    obuf_putc(f, ':');
    obuf_putu(f, s->client.port);
    obuf_puts(f, " -> ");
    obuf_puts(f, v6l);
    obuf_puts(f, sip);
    obuf_puts(f, v6r);
    obuf_putc(f, ':');
    obuf_putu(f, s->server.port);
    if (s->direction == DIR_OUTGOING)
        obuf_puts(f, s->handshake == HS_NONE ? " (not connected)"
                     : s->handshake == HS_MISSING ? " (picked up mid-session)" : "");
    else if (s->handshake == HS_NONE) {
        obuf_puts(f, " (");
        obuf_putu(f, s->syn_count);
        obuf_puts(f, s->syn_count == 1 ? " SYN)" : " SYNs)");
    } else
        obuf_puts(f, s->handshake == HS_MISSING ? " (picked up mid-session)" : "");
    obuf_putc(f, '\n');
}

/* One transcript record as a log line (set_who already called). */
static void write_line(struct text_sink *t, const struct session *s,
                       const struct tline *l, const char *text)
{
    struct obuf *f = &t->ob;
    stamp(t, l->ts);
    switch (l->kind) {
    /* server's view: >>> it sent, <<< it got; outgoing: our host's view */
    case TL_CLIENT: obuf_puts(f, s->direction == DIR_OUTGOING ? ">>> " : "<<< "); break;
    case TL_SERVER: obuf_puts(f, s->direction == DIR_OUTGOING ? "<<< " : ">>> "); break;
    default:
        /* own text: capitalised like the other system lines */
        if (l->kind == TL_ANOMALY && t->opt.color)
            obuf_puts(f, YELLOW);
        if (l->len) {
            obuf_putc(f, text[0] >= 'a' && text[0] <= 'z' ? text[0] - 32 : text[0]);
            obuf_escape(f, text + 1, l->len - 1, ESCAPE_TEXT);
        }
        if (l->kind == TL_ANOMALY && t->opt.color)
            obuf_puts(f, RESET);
        obuf_putc(f, '\n');
        return;
    }
    obuf_escape(f, text, l->len, ESCAPE_TEXT);
    if (l->flags & SMTP_LINE_TRUNCATED)
        obuf_puts(f, " [line truncated]");
    else if (l->flags & SMTP_LINE_UNTERMINATED)
        obuf_puts(f, " [no line end]");
    obuf_putc(f, '\n');
}

static void text_session(struct sink *base, const struct session *s)
{
    struct text_sink *t = (struct text_sink *)base;
    struct obuf *f = &t->ob;
    char ip[ENDPOINT_STRLEN];
    log_ip(s, ip);

    if (t->opt.verbosity == 1) { /* the verdict line only */
        prefix(t, ip, s->id, s->end);
        write_summary(t, s);
        obuf_flush(f);
        return;
    }
    if (!(t->opt.follow && s->followed)) { /* else already written live */
        write_opening(t, s);
        size_t off = 0;
        const char *text;
        const struct tline *l;
        while ((l = session_next_line(s, &off, &text)))
            write_line(t, s, l, text);
        if (s->log_dropped) {
            stamp(t, s->end);
            obuf_printf(f, "Transcript limit reached: %u more lines not kept\n",
                    s->log_dropped);
        }
    }
    prefix(t, ip, s->id, s->end);
    if (s->handshake == HS_NONE) {
        obuf_puts(f, "Not connected (");
        obuf_puts(f, end_cause_name(s->tcp_end, false));
    } else {
        obuf_puts(f, "Disconnected (");
        obuf_puts(f, end_cause_name(s->tcp_end, s->quit_ok));
        obuf_puts(f, s->quit_ok || s->tcp_end != TCP_END_CLOSED ? ""
                     : s->closed_by == SMTP_FROM_CLIENT ? " by client"
                     : s->closed_by == SMTP_FROM_SERVER ? " by server" : "");
    }
    obuf_puts(f, ")\n");
    stamp(t, s->end);
    write_summary(t, s);
    obuf_flush(f);
    if (t->opt.follow)
        fflush(f->f);
}

static void text_open(struct sink *base, const struct session *s)
{
    struct text_sink *t = (struct text_sink *)base;
    if (t->opt.verbosity > 1) {
        write_opening(t, s);
        obuf_flush(&t->ob);
        fflush(t->ob.f);
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
    set_who(t, ip, s->id);
    write_line(t, s, l, text);
    obuf_flush(&t->ob);
    fflush(t->ob.f);
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
    struct obuf *f = &t->ob;
    char ip[ENDPOINT_STRLEN], sip[ENDPOINT_STRLEN];
    endpoint_addr_str(&l->client, ip);
    endpoint_addr_str(&l->server, sip);
    prefix(t, ip, session_id_for(&l->client, &l->server, l->t_query), l->t_query);
    obuf_puts(f, "DNS query '");
    obuf_escape(f, l->qname, strlen(l->qname), ESCAPE_TEXT);
    obuf_printf(f, "' %s to %s%s [%s", dns_type_name(l->qtype), sip, l->tcp ? " over TCP" : "",
            dns_rcode_name(l->rcode));
    if (l->rcode < 0) {
        obuf_puts(f, " - no response seen]");
    } else {
        obuf_printf(f, " - %s%d answer%s", l->truncated ? "truncated, " : "", l->nanswers,
                l->nanswers == 1 ? "" : "s");
        for (int i = 0; i < l->nkept; i++) {
            const struct dns_answer *a = &l->an[i];
            obuf_puts(f, i ? ", " : ": ");
            if (a->type == 15)
                obuf_printf(f, "%u ", a->pref);
            else if (a->type == 5)
                obuf_puts(f, "CNAME ");
            obuf_escape(f, a->target, strlen(a->target), ESCAPE_TEXT);
        }
        obuf_printf(f, "] %.1f ms", (double)(l->t_response - l->t_query) / 1e6);
    }
    enum finding_id fnd[2];
    int nf = dns_findings(l, t->opt.slow_dns_ms, fnd);
    for (int i = 0; i < nf; i++)
        obuf_printf(f, "%s%s", i ? "," : " (finding: ", finding_name(fnd[i]));
    obuf_puts(f, nf ? ")\n" : "\n");
    obuf_flush(f);
}

static void text_finish(struct sink *base)
{
    struct text_sink *t = (struct text_sink *)base;
    obuf_flush(&t->ob);
    fflush(t->ob.f);
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
    t->ob.f = f;
    t->opt = *o;
    return &t->base;
}
