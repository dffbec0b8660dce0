/* findings.c - interference signatures and policy findings (see findings.h).
 *
 * Each check looks at one line or reply as it arrives and at a little state
 * kept in the session (greeting host, last EHLO result), so nothing is
 * re-read after the fact. Texts are matched case-insensitively on words
 * MTAs actually use (Postfix, Exim, Sendmail, Exchange, Cisco).
 */
#include "findings.h"
#include "session.h"
#include "textfind.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* True when s is at least `min` characters, all of them `ch` (any case). */
static bool all_of(const char *s, size_t len, char ch, size_t min)
{
    if (len < min)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((s[i] | 0x20) != (ch | 0x20))
            return false;
    return true;
}

static double secs(smtp_time d)
{
    return (double)d / 1e9;
}

/* What the findings remember of a session between lines. */
struct findings_state {
    smtp_time last_line_ts; /* the last line either side sent, for idle gaps */
};

static void findings_command(void *ctx, struct session *s, void *state,
                             const struct smtp_command *c)
{
    struct findings_state *st = state;
    (void)ctx;
    /* Mailguard-style filters overwrite commands they block with X's. */
    size_t v = 0;
    while (v < c->line.len && c->line.p[v] != ' ')
        v++;
    if (c->cmd == SMTP_CMD_UNKNOWN && all_of(c->line.p, v, 'X', 4))
        session_find(s, FINDING_COMMAND_MASKED, c->ts_first,
                        "a command replaced by X characters (command "
                        "filtering firewall)");
    if (c->cmd == SMTP_CMD_HELO && s->helo_code >= 500 && s->ehlo_tried)
        session_find(s, FINDING_EHLO_REJECTED_HELO_FALLBACK, c->ts_first,
                        "EHLO refused with %d, the client fell back to HELO",
                        s->helo_code);
    /* Silence before the client spoke again. */
    smtp_time idle = (smtp_time)s->cfg->idle_gap_ms * 1000000;
    if (idle > 0 && st->last_line_ts && c->ts_first - st->last_line_ts > idle)
        session_find(s, FINDING_IDLE_GAP, c->ts_first,
                     "%.1f s of silence before %s", secs(c->ts_first - st->last_line_ts),
                     smtp_cmd_name(c->cmd));
    st->last_line_ts = c->ts_last;
}

/* MTA software a banner or EHLO reply may name, as MTAs write it. */
static const char *const mta_names[] = {
    "Microsoft ESMTP MAIL Service", "Postfix", "Exim", "Sendmail", "qmail",
    "OpenSMTPD", "Haraka", "MDaemon", "Zimbra", "hMailServer", "CommuniGate",
    "Kerio Connect", "IceWarp", "Courier", "Lotus Domino", "GroupWise",
    "Exchange", "MailEnable", "SmarterMail", "Axigen", "Halon", "Kumo",
};

/* "Exim 4.96": the software's name and the version that follows it. */
static void banner_disclosure(struct session *s, const struct smtp_reply_line *l,
                              const char *where)
{
    for (size_t k = 0; k < sizeof mta_names / sizeof mta_names[0]; k++) {
        size_t n = strlen(mta_names[k]);
        long at = text_find_ci(l->text.p, l->text.len, mta_names[k], n);
        if (at < 0)
            continue;
        size_t i = (size_t)at, j = i + n;
        while (j < l->text.len && j < i + n + 12 &&
               !(l->text.p[j] >= '0' && l->text.p[j] <= '9'))
            j++;
        size_t v = j;
        while (v < l->text.len && v < j + 24 &&
               ((l->text.p[v] >= '0' && l->text.p[v] <= '9') || l->text.p[v] == '.'))
            v++;
        if (v > j && j < l->text.len)
            session_find(s, FINDING_BANNER_DISCLOSURE, l->ts, "%s names %s version %.*s",
                            where, mta_names[k], (int)(v - j), l->text.p + j);
        else
            session_find(s, FINDING_BANNER_DISCLOSURE, l->ts, "%s names %s", where,
                            mta_names[k]);
        return;
    }
}

static void findings_reply_line(void *ctx, struct session *s, void *state,
                                const struct smtp_reply_line *l)
{
    struct findings_state *st = state;
    (void)ctx;
    st->last_line_ts = l->ts;
    if (s->cfg->local_domains && l->first &&
        (l->cmd == SMTP_CMD_CONNECT || l->cmd == SMTP_CMD_EHLO || l->cmd == SMTP_CMD_HELO))
        banner_disclosure(s, l, l->cmd == SMTP_CMD_CONNECT ? "the greeting"
                                                            : "the EHLO reply");
    if (l->first && l->cmd == SMTP_CMD_CONNECT) {
        /* PIX/ASA "fixup smtp" replaces the banner text by asterisks. */
        size_t stars = 0;
        for (size_t i = 0; i < l->text.len; i++)
            stars += l->text.p[i] == '*';
        if (stars >= 4 && stars * 2 >= l->text.len)
            session_find(s, FINDING_BANNER_MASKED, l->ts,
                            "greeting text replaced by asterisks (Cisco "
                            "PIX/ASA SMTP fixup or similar)");
    }
    if (l->cmd == SMTP_CMD_EHLO && l->first && l->code == 250 && s->banner_host[0]) {
        const char *w;
        size_t n = session_first_word(l->text, &w);
        if (n && memchr(w, '.', n) &&
            (strlen(s->banner_host) != n || strncasecmp(s->banner_host, w, n) != 0))
            session_find(s, FINDING_BANNER_HOST_MISMATCH, l->ts,
                            "greeting names %s, EHLO reply names %.*s "
                            "(a proxy in between?)", s->banner_host,
                            (int)(n < 60 ? n : 60), w);
    }
    /* A STARTTLS keyword overwritten as "XXXXXXXA" by a filtering device. */
    if (s->reply_cmd == SMTP_CMD_EHLO && l->code == 250 && !l->first) {
        const char *w;
        size_t n = session_first_word(l->text, &w);
        if (n == 8 && all_of(w, 7, 'X', 7) && (w[7] | 0x20) == 'a')
            session_find(s, FINDING_STARTTLS_MASKED, l->ts,
                            "STARTTLS in the EHLO reply overwritten as %.8s "
                            "(a firewall strips TLS)", w);
    }
}

/* The words policy_findings looks for in a refusal, found in one pass. */
enum { W_GREYLIST, W_GRAYLIST, W_TRY_AGAIN, W_BLOCKED_USING, W_DNSBL, W_SPAMHAUS, W_BLACKLIST, W_BLOCKLIST, W_RBL, W_RELAY, W_DENIED, W_NOT_PERMITTED, W_NOT_ALLOWED, W_REFUSED, W_AUTH_REQUIRED, W_MAILBOX_FULL, W_OVER_QUOTA };
static const char *const policy_words[] = {"greylist", "graylist", "try again later", "blocked using", "dnsbl", "spamhaus", "blacklist", "blocklist", " rbl", "relay", "denied", "not permitted", "not allowed", "refused", "authentication required", "mailbox full", "over quota"};
static struct text_set policy_set = TEXT_SET(policy_words);

static void policy_findings(struct session *s, const struct smtp_reply *r)
{
    struct smtp_span t = r->text;
    struct smtp_span e = r->enhanced;
    bool enh = e.len >= 5;
    uint64_t found = text_set_find(&policy_set, t.p, t.len); /* one pass */
#define HAS(w) ((found >> (w)) & 1)
    if (r->code >= 400 && r->code < 500 &&
        (HAS(W_GREYLIST) || HAS(W_GRAYLIST) ||
         HAS(W_TRY_AGAIN)))
        session_find(s, FINDING_GREYLISTED, r->ts_first, "%d %.*s", r->code,
                        (int)(t.len < 80 ? t.len : 80), t.p);
    if (HAS(W_BLOCKED_USING) || HAS(W_DNSBL) ||
        HAS(W_SPAMHAUS) || HAS(W_BLACKLIST) ||
        HAS(W_BLOCKLIST) || HAS(W_RBL))
        session_find(s, FINDING_DNSBL_REJECTION, r->ts_first, "%d %.*s", r->code,
                        (int)(t.len < 80 ? t.len : 80), t.p);
    if (HAS(W_RELAY) &&
        (HAS(W_DENIED) || HAS(W_NOT_PERMITTED) ||
         HAS(W_NOT_ALLOWED) || HAS(W_REFUSED)))
        session_find(s, FINDING_RELAY_DENIED, r->ts_first, "%d at %s", r->code,
                        smtp_cmd_name(r->cmd));
    if (r->code == 530 || (enh && e.p[0] != '2' && strncmp(e.p + 1, ".7.0", 4) == 0 &&
                           HAS(W_AUTH_REQUIRED)))
        session_find(s, FINDING_AUTH_REQUIRED, r->ts_first, "%d at %s", r->code,
                        smtp_cmd_name(r->cmd));
    if ((r->code == 552 && (!enh || strncmp(e.p + 1, ".2.2", 4) != 0)) ||
        (enh && e.p[0] != '2' && (strncmp(e.p + 1, ".3.4", 4) == 0 ||
                                  strncmp(e.p + 1, ".2.3", 4) == 0)))
        session_find(s, FINDING_MESSAGE_TOO_LARGE, r->ts_first, "%d %.*s", r->code,
                        (int)e.len, e.p);
    if ((enh && e.p[0] != '2' && strncmp(e.p + 1, ".2.2", 4) == 0) ||
        (r->code >= 400 && (HAS(W_MAILBOX_FULL) || HAS(W_OVER_QUOTA))))
        session_find(s, FINDING_MAILBOX_FULL, r->ts_first, "%d %.*s", r->code,
                        (int)e.len, e.p);
#undef HAS
}

static void findings_reply(void *ctx, struct session *s, void *state,
                           const struct smtp_reply *r)
{
    (void)ctx;
    (void)state;
    smtp_time slow = (smtp_time)s->cfg->slow_ms * 1000000;
    smtp_time lat = r->ts_first - r->cmd_ts_last;
    /* time the path lost resending the client's line is not the server's */
    smtp_time lost = s->tcp_live && r->cmd != SMTP_CMD_CONNECT
                         ? tcp_path_retrans_wait(s->tcp_live, 0, r->cmd_ts_last, r->ts_first)
                         : 0;
    if (lost > 0) {
        session_note(s, r->ts_first, "latency %.2f s, %.2f s of it retransmission",
                     secs(lat), secs(lost));
        lat -= lost;
    }
    if (r->cmd == SMTP_CMD_CONNECT)
        lat = r->ts_first - s->start;
    lat -= s->dns_wait_ns; /* nor is the time the server's DNS took (slow-dns-wait) */
    if (r->cmd == SMTP_CMD_CONNECT) {
        if (slow > 0 && lat > slow)
            session_find(s, FINDING_SLOW_GREETING, r->ts_first,
                            "greeting after %.1f s (tarpit or overloaded "
                            "server)", secs(lat));
    } else if (r->cmd == SMTP_CMD_END_OF_DATA) {
        if (slow > 0 && lat > slow)
            session_find(s, FINDING_SLOW_END_OF_DATA, r->ts_first,
                            "reply to the final dot after %.1f s (content "
                            "scanning proxy or filter)", secs(lat));
    } else if (r->cmd != SMTP_CMD_NONE && slow > 0 && lat > slow) {
        session_find(s, FINDING_SLOW_REPLY, r->ts_first,
                        "%s answered after %.1f s (tarpit?)",
                        smtp_cmd_name(r->cmd), secs(lat));
    }
    if (r->cmd == SMTP_CMD_STARTTLS && r->code >= 400)
        session_find(s, FINDING_STARTTLS_REFUSED, r->ts_first,
                        "STARTTLS answered %d", r->code);
    if (r->code >= 400)
        policy_findings(s, r);
}

/* The relay and exposure audit, once the session ended. */
static void findings_audit(void *ctx, struct session *s, void *state)
{
    (void)ctx;
    (void)state;
    const struct session_config *cfg = s->cfg;
    if (!cfg->local_domains)
        return;
    if (s->auth_mech[0] && !s->tls && !smtp_parser_info(&s->parser).implicit_tls)
        session_find(s, FINDING_AUTH_CLEARTEXT, s->end,
                        "AUTH %s on a connection without TLS: the credentials "
                        "crossed the network readable", s->auth_mech);
    /* An open relay: a client that is not ours, not authenticated, had a
     * message for a domain that is not ours accepted. */
    bool outsider = !cfg->local || !netlist_has(cfg->local, &s->client);
    if (!outsider || s->auth_ok)
        return;
    for (uint32_t i = 0; i < s->ntxn; i++) {
        const struct txn *t = &s->txns[i];
        if (t->result != TXN_ACCEPTED)
            continue;
        for (uint32_t r = 0; r < t->nrcpt; r++) {
            const struct rcpt *rc = &s->rcpts[t->first_rcpt + r];
            const char *a = session_str(s, rc->addr);
            if (rc->code >= 200 && rc->code < 300 &&
                !domainlist_has_addr(cfg->local_domains, a, rc->addr.len)) {
                session_find(s, FINDING_OPEN_RELAY, s->end,
                                "message for %.*s (not a local domain) accepted "
                                "from an outside client without AUTH",
                                (int)(rc->addr.len > 100 ? 100 : rc->addr.len), a);
                return;
            }
        }
    }
}

const struct observer findings_observer = {
    .name = "findings",
    .state_size = sizeof(struct findings_state),
    .command = findings_command,
    .reply_line = findings_reply_line,
    .reply = findings_reply,
    .end = findings_audit,
};
