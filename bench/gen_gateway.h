/* gen_gateway.h - the gateway mix of gen_capture.c (--mix gateway), kept
 * apart for size: included once, by gen_capture.c, after its session
 * scripts (add, session_new), whose statics it uses.
 */
/* ---- the gateway mix (--mix gateway) -------------------------------------
 * What a gateway's port 25 mostly sees: short sessions of 6 to 30 lines
 * that never reach DATA. 40 % refused at RCPT or MAIL (DNSBL, unknown
 * users), 15 % greylisted, 10 % bots that leave after a (postscreen-style,
 * multi-line) banner, 10 % STARTTLS, 25 % deliveries of 1-50 KB. */

static uint32_t gw_body_size(void)
{
    uint32_t base = 1024u << rnd_below(6);
    uint32_t n = base + rnd_below(base);
    return n > 51200 ? 51200 : n;
}

/* "250-..." lines of an EHLO reply: 3 to 9 of them */
static void gw_ehlo_reply(char *t, size_t cap, unsigned host)
{
    static const char *const kw[] = {"PIPELINING", "SIZE 10240000", "VRFY", "ETRN",
                                     "STARTTLS", "ENHANCEDSTATUSCODES", "8BITMIME",
                                     "DSN", "SMTPUTF8"};
    unsigned n = 2 + rnd_below(8), o = 0;
    o += (unsigned)snprintf(t + o, cap - o, "250-mx%u.example.net\r\n", host);
    for (unsigned i = 0; i < n && o < cap; i++)
        o += (unsigned)snprintf(t + o, cap - o, "250%c%s\r\n", i + 1 == n ? ' ' : '-', kw[i]);
}

static void gw_close(struct session *s, bool quit)
{
    if (quit) {
        add(s, S_SEND, true, "QUIT\r\n", 0);
        add(s, S_SEND, false, "221 2.0.0 Bye\r\n", 0);
        add(s, S_FIN, false, NULL, 0);
        add(s, S_FIN, true, NULL, 0);
    } else if (rnd_below(2)) { /* the client just goes */
        add(s, S_FIN, true, NULL, 0);
        add(s, S_FIN, false, NULL, 0);
    } else {
        add(s, S_RST, true, NULL, 0);
    }
    add(s, S_END, true, NULL, 0);
}

static void gw_rcpts(struct session *s, unsigned n, const char *reply)
{
    for (unsigned i = 0; i < n; i++) {
        add(s, S_SEND, true, s->text[4 + i % 2], 0);
        add(s, S_SEND, false, reply, 0);
    }
}

static void session_new_gateway(struct session *s, enum kind k)
{
    session_new(s, K_HOLD); /* addresses, ports, sequence numbers, texts */
    s->nsteps = 0;
    unsigned mx = s->sip & 0xff;
    snprintf(s->text[5], sizeof s->text[5], "RCPT TO:<%s@%s>\r\n", users[rnd_below(8)],
             domains[rnd_below(3)]);
    add(s, S_SYN, true, NULL, 0);
    add(s, S_SYNACK, false, NULL, 0);
    add(s, S_ACK3, true, NULL, 0);
    if (k == G_BANNER_DROP) {
        unsigned n = 5 + rnd_below(4), o = 0;
        for (unsigned i = 0; i + 1 < n; i++)
            o += (unsigned)snprintf(s->text[0] + o, sizeof s->text[0] - o,
                                    "220-mx%u.example.net ESMTP\r\n", mx);
        snprintf(s->text[0] + o, sizeof s->text[0] - o, "220 mx%u.example.net ESMTP\r\n", mx);
        add(s, S_SEND, false, s->text[0], 0);
        gw_close(s, rnd_below(2));
        return;
    }
    add(s, S_SEND, false, s->text[0], 0);
    if (rnd_below(5) == 0) { /* HELO: a one-line answer */
        snprintf(s->text[1], sizeof s->text[1], "HELO client%u.example.com\r\n", s->cip & 0xff);
        snprintf(s->text[2], sizeof s->text[2], "250 mx%u.example.net\r\n", mx);
    } else {
        gw_ehlo_reply(s->text[2], sizeof s->text[2], mx);
    }
    add(s, S_SEND, true, s->text[1], 0);
    add(s, S_SEND, false, s->text[2], 0);
    switch (k) {
    case G_STARTTLS:
        add(s, S_SEND, true, "STARTTLS\r\n", 0);
        add(s, S_SEND, false, "220 2.0.0 Ready to start TLS\r\n", 0);
        add(s, S_TLS, true, NULL, 300 + rnd_below(300));
        add(s, S_TLS, false, NULL, 2000 + rnd_below(3000));
        add(s, S_TLS, true, NULL, gw_body_size());
        add(s, S_TLS, false, NULL, 200 + rnd_below(200));
        add(s, S_FIN, true, NULL, 0);
        add(s, S_FIN, false, NULL, 0);
        add(s, S_END, true, NULL, 0);
        return;
    case G_REFUSE_MAIL:
        add(s, S_SEND, true, s->text[3], 0);
        add(s, S_SEND, false, rnd_below(2)
            ? "554 5.7.1 Service unavailable; Client host blocked using zen.example.org\r\n"
            : "550 5.7.1 <sender@example.org>: Sender address rejected: Access denied\r\n", 0);
        gw_close(s, rnd_below(2));
        return;
    default:
        break;
    }
    add(s, S_SEND, true, s->text[3], 0);
    add(s, S_SEND, false, "250 2.1.0 Ok\r\n", 0);
    if (k == G_REFUSE_RCPT) {
        gw_rcpts(s, 1 + rnd_below(5), rnd_below(2)
                 ? "550 5.1.1 <nobody@example.net>: Recipient address rejected: User unknown\r\n"
                 : "554 5.7.1 Client host rejected: listed at bl.example.org\r\n");
        gw_close(s, rnd_below(3) != 0);
        return;
    }
    if (k == G_GREYLIST) {
        gw_rcpts(s, 1 + rnd_below(4),
                 "450 4.7.1 <nobody@example.net>: Recipient address rejected: Greylisted\r\n");
        gw_close(s, true);
        return;
    }
    gw_rcpts(s, 1 + rnd_below(3), "250 2.1.5 Ok\r\n"); /* G_DELIVER */
    add(s, S_SEND, true, "DATA\r\n", 0);
    add(s, S_SEND, false, "354 End data with <CR><LF>.<CR><LF>\r\n", 0);
    add(s, S_BODY, true, NULL, gw_body_size());
    add(s, S_SEND, false, s->text[6], 0);
    gw_close(s, true);
}

static enum kind pick_gateway(void)
{
    uint32_t r = rnd_below(100);
    if (r < 30) return G_REFUSE_RCPT;
    if (r < 40) return G_REFUSE_MAIL;
    if (r < 55) return G_GREYLIST;
    if (r < 65) return G_BANNER_DROP;
    if (r < 75) return G_STARTTLS;
    return G_DELIVER;
}

