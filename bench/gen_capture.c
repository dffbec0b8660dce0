/* gen_capture.c - write a large, realistic port-25 benchmark capture.
 *
 *   gen_capture -o FILE [-s MB] [-c CONCURRENT] [--mix bulk|gateway]
 *               [--seed N] [--start EPOCH]
 *   gen_capture -o FILE --hold N
 *
 * Default mode: about MB megabytes of Ethernet/IPv4 traffic in which
 * CONCURRENT sessions are open at any moment, their packets interleaved
 * in time, with the mix a gateway sees: deliveries with bodies from 1 KB
 * to 1 MB (half of them pipelined), rejections at RCPT, greylisting,
 * STARTTLS sessions, SYNs that get no answer, resets (--mix bulk, the
 * default: the bytes are mostly bodies). --mix gateway: short sessions,
 * most of them refused (see session_new_gateway). Sequence numbers,
 * acknowledgements and IPv4/TCP checksums are valid.
 *
 * --hold N: N sessions all open at once (handshake, greeting, EHLO, MAIL)
 * before any of them ends: the memory benchmark's capture.
 *
 * Addresses are documentation ranges: clients in 198.51.100.0/24 and
 * 203.0.113.0/24, servers in 192.0.2.0/24.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- random numbers (xorshift64*, reproducible from --seed) ------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

static uint32_t rnd_below(uint32_t n) { return (uint32_t)(rnd() % n); }

/* ---- pcap writing ------------------------------------------------------- */

static FILE *out;
static uint64_t bytes_written, packets_written;
static uint64_t now_us = 1764000000ULL * 1000000ULL; /* 2025-11-24 */

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); } /* host order */

static void pcap_header(void)
{
    uint8_t h[24];
    put32(h, 0xa1b2c3d4);
    h[4] = 2; h[5] = 0; h[6] = 4; h[7] = 0; /* version 2.4, little endian host */
    put32(h + 8, 0);
    put32(h + 12, 0);
    put32(h + 16, 65535);
    put32(h + 20, 1); /* Ethernet */
    fwrite(h, 1, sizeof h, out);
    bytes_written += sizeof h;
}

static uint16_t csum_fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
    for (; n >= 2; p += 2, n -= 2)
        sum += (uint32_t)(p[0] << 8 | p[1]);
    if (n)
        sum += (uint32_t)(p[0] << 8);
    return sum;
}

enum { F_FIN = 1, F_SYN = 2, F_RST = 4, F_PSH = 8, F_ACK = 16 };

static void emit(uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
                 uint32_t seq, uint32_t ack, uint8_t flags, const uint8_t *data,
                 size_t len, uint16_t *idp)
{
    static uint8_t pkt[14 + 20 + 20 + 1500];
    uint16_t ip_id = (*idp)++; /* per flow and direction, as Linux does */
    uint8_t *eth = pkt, *ip = pkt + 14, *tcp = ip + 20;
    memcpy(eth, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00", 14);
    size_t tot = 20 + 20 + len;
    memset(ip, 0, 40);
    ip[0] = 0x45;
    ip[2] = (uint8_t)(tot >> 8); ip[3] = (uint8_t)tot;
    ip[4] = (uint8_t)(ip_id >> 8); ip[5] = (uint8_t)ip_id;
    ip[6] = 0x40; /* DF */
    ip[8] = 64;
    ip[9] = 6;
    for (int i = 0; i < 4; i++) {
        ip[12 + i] = (uint8_t)(src >> (24 - 8 * i));
        ip[16 + i] = (uint8_t)(dst >> (24 - 8 * i));
    }
    uint16_t c = csum_fold(csum_add(0, ip, 20));
    ip[10] = (uint8_t)(c >> 8); ip[11] = (uint8_t)c;
    tcp[0] = (uint8_t)(sport >> 8); tcp[1] = (uint8_t)sport;
    tcp[2] = (uint8_t)(dport >> 8); tcp[3] = (uint8_t)dport;
    for (int i = 0; i < 4; i++) {
        tcp[4 + i] = (uint8_t)(seq >> (24 - 8 * i));
        tcp[8 + i] = (uint8_t)(ack >> (24 - 8 * i));
    }
    tcp[12] = 5 << 4;
    tcp[13] = flags;
    tcp[14] = 0xff; tcp[15] = 0xff; /* window 65535 */
    memcpy(tcp + 20, data, len);
    uint32_t sum = csum_add(0, ip + 12, 8);
    sum += 6 + (uint32_t)(20 + len);
    c = csum_fold(csum_add(sum, tcp, 20 + len));
    tcp[16] = (uint8_t)(c >> 8); tcp[17] = (uint8_t)c;

    uint8_t rec[16];
    put32(rec, (uint32_t)(now_us / 1000000));
    put32(rec + 4, (uint32_t)(now_us % 1000000));
    put32(rec + 8, (uint32_t)(14 + tot));
    put32(rec + 12, (uint32_t)(14 + tot));
    fwrite(rec, 1, 16, out);
    fwrite(pkt, 1, 14 + tot, out);
    bytes_written += 16 + 14 + tot;
    packets_written++;
}

/* ---- sessions ----------------------------------------------------------- */

enum kind { K_DELIVER, K_PIPELINED, K_REJECT, K_GREYLIST, K_STARTTLS,
            K_SYN_LOST, K_RESET, K_HOLD,
            /* the gateway mix (--mix gateway): short sessions */
            G_REFUSE_RCPT, G_REFUSE_MAIL, G_GREYLIST, G_BANNER_DROP, G_STARTTLS,
            G_DELIVER };

/* A session is a script of steps: who sends what. Bodies and TLS records
 * are generated on the fly so that a 1 MB message costs no memory. */
enum step_kind { S_SYN, S_SYNACK, S_ACK3, S_SEND, S_BODY, S_TLS, S_FIN, S_RST,
                 S_SYN_RETRY, S_WAIT_HOLD, S_END };

struct step {
    enum step_kind k;
    bool from_client;
    bool cut;          /* S_BODY: no final dot (the connection dies first) */
    int8_t ti;         /* S_SEND: index into the session's texts, or -1 */
    const char *lit;   /* S_SEND with ti -1: a fixed text */
    uint32_t size;     /* S_BODY / S_TLS */
};

#define MAX_STEPS 40

struct session {
    uint32_t cip, sip;
    uint16_t cport;
    uint32_t cseq, sseq;     /* next sequence number of each side */
    uint16_t cid, sid;       /* next IP ID of each side */
    struct step steps[MAX_STEPS];
    int nsteps, cur;
    uint32_t done;           /* bytes of the current S_BODY/S_TLS sent */
    uint32_t unacked;        /* body segments since the server's last ACK */
    char text[8][256];       /* per-session command texts */
};

static const char *const users[] = {"alice", "bob", "carol", "dave", "erin",
                                    "frank", "grace", "heidi"};
static const char *const domains[] = {"example.net", "example.org", "example.com"};

static uint16_t next_port[512];
static bool gateway; /* --mix gateway */

static void add(struct session *s, enum step_kind k, bool c, const char *t,
                uint32_t size)
{
    /* texts of the session itself are kept as indexes: sessions move */
    int8_t ti = -1;
    for (int i = 0; i < 8; i++)
        if (t == s->text[i])
            ti = (int8_t)i;
    if (s->nsteps < MAX_STEPS)
        s->steps[s->nsteps++] = (struct step){k, c, false, ti, ti < 0 ? t : NULL, size};
}

static uint32_t body_size(void)
{
    /* about log-uniform from 1 KB to 1 MB: many small messages, a few large */
    uint32_t base = 1024u << rnd_below(10);
    uint32_t n = base + rnd_below(base);
    return n > 1048576 ? 1048576 : n;
}

static void session_new(struct session *s, enum kind k)
{
    memset(s, 0, sizeof *s);
    uint32_t net = rnd_below(2) ? 0xc6336400u : 0xcb007100u; /* 198.51.100 / 203.0.113 */
    uint32_t host = 1 + rnd_below(254);
    s->cip = net | host;
    uint16_t *np = &next_port[(net == 0xc6336400u ? 0 : 256) + host];
    if (*np < 1024)
        *np = (uint16_t)(1024 + rnd_below(30000));
    s->cport = (*np)++;
    s->sip = 0xc0000200u | (1 + rnd_below(20));
    s->cseq = (uint32_t)rnd();
    s->sseq = (uint32_t)rnd();
    s->cid = (uint16_t)rnd();
    s->sid = (uint16_t)rnd();
    const char *u = users[rnd_below(8)], *d = domains[rnd_below(3)];
    snprintf(s->text[0], sizeof s->text[0], "220 mx%u.example.net ESMTP ready\r\n", s->sip & 0xff);
    snprintf(s->text[1], sizeof s->text[1], "EHLO client%u.example.com\r\n", s->cip & 0xff);
    snprintf(s->text[2], sizeof s->text[2],
             "250-mx%u.example.net\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
             "250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n250 8BITMIME\r\n",
             s->sip & 0xff);
    snprintf(s->text[3], sizeof s->text[3], "MAIL FROM:<%s@%s>\r\n", users[rnd_below(8)],
             domains[rnd_below(3)]);
    snprintf(s->text[4], sizeof s->text[4], "RCPT TO:<%s@%s>\r\n", u, d);
    snprintf(s->text[5], sizeof s->text[5], "MAIL FROM:<%s@%s>\r\nRCPT TO:<%s@%s>\r\nDATA\r\n",
             users[rnd_below(8)], domains[rnd_below(3)], u, d);
    snprintf(s->text[6], sizeof s->text[6], "250 2.0.0 Ok: queued as %08X\r\n", (uint32_t)rnd());

    add(s, S_SYN, true, NULL, 0);
    if (k == K_SYN_LOST) {
        add(s, S_SYN_RETRY, true, NULL, 0);
        add(s, S_SYN_RETRY, true, NULL, 0);
        add(s, S_END, true, NULL, 0);
        return;
    }
    add(s, S_SYNACK, false, NULL, 0);
    add(s, S_ACK3, true, NULL, 0);
    add(s, S_SEND, false, s->text[0], 0);
    if (k == K_RESET && rnd_below(2)) { /* the server resets after its banner */
        add(s, S_RST, false, NULL, 0);
        add(s, S_END, true, NULL, 0);
        return;
    }
    add(s, S_SEND, true, s->text[1], 0);
    add(s, S_SEND, false, s->text[2], 0);
    switch (k) {
    case K_STARTTLS:
        add(s, S_SEND, true, "STARTTLS\r\n", 0);
        add(s, S_SEND, false, "220 2.0.0 Ready to start TLS\r\n", 0);
        add(s, S_TLS, true, NULL, 300 + rnd_below(300));   /* ClientHello */
        add(s, S_TLS, false, NULL, 2000 + rnd_below(3000)); /* ServerHello.. */
        add(s, S_TLS, true, NULL, body_size());           /* the message */
        add(s, S_TLS, false, NULL, 200 + rnd_below(200));
        add(s, S_FIN, true, NULL, 0);
        add(s, S_FIN, false, NULL, 0);
        break;
    case K_PIPELINED:
        add(s, S_SEND, true, s->text[5], 0);
        add(s, S_SEND, false,
            "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n", 0);
        add(s, S_BODY, true, NULL, body_size());
        add(s, S_SEND, false, s->text[6], 0);
        add(s, S_SEND, true, "QUIT\r\n", 0);
        add(s, S_SEND, false, "221 2.0.0 Bye\r\n", 0);
        add(s, S_FIN, false, NULL, 0);
        add(s, S_FIN, true, NULL, 0);
        break;
    case K_HOLD:
        add(s, S_SEND, true, s->text[3], 0);
        add(s, S_SEND, false, "250 2.1.0 Ok\r\n", 0);
        add(s, S_WAIT_HOLD, true, NULL, 0);
        add(s, S_SEND, true, "QUIT\r\n", 0);
        add(s, S_SEND, false, "221 2.0.0 Bye\r\n", 0);
        add(s, S_FIN, false, NULL, 0);
        add(s, S_FIN, true, NULL, 0);
        break;
    default: /* deliver, reject, greylist, reset in DATA */
        add(s, S_SEND, true, s->text[3], 0);
        add(s, S_SEND, false, "250 2.1.0 Ok\r\n", 0);
        add(s, S_SEND, true, s->text[4], 0);
        if (k == K_REJECT || k == K_GREYLIST) {
            add(s, S_SEND, false, k == K_REJECT
                ? "550 5.1.1 <nobody@example.net>: Recipient address rejected: User unknown\r\n"
                : "450 4.7.1 Greylisted, see https://postgrey.example.net/\r\n", 0);
        } else {
            add(s, S_SEND, false, "250 2.1.5 Ok\r\n", 0);
            add(s, S_SEND, true, "DATA\r\n", 0);
            add(s, S_SEND, false, "354 End data with <CR><LF>.<CR><LF>\r\n", 0);
            if (k == K_RESET) { /* reset by the client in the middle of the body */
                add(s, S_BODY, true, NULL, 0);
                s->steps[s->nsteps - 1].size = 4000 + rnd_below(20000);
                s->steps[s->nsteps - 1].cut = true;
                add(s, S_RST, true, NULL, 0);
                add(s, S_END, true, NULL, 0);
                return;
            }
            add(s, S_BODY, true, NULL, body_size());
            add(s, S_SEND, false, s->text[6], 0);
        }
        add(s, S_SEND, true, "QUIT\r\n", 0);
        add(s, S_SEND, false, "221 2.0.0 Bye\r\n", 0);
        add(s, S_FIN, false, NULL, 0);
        add(s, S_FIN, true, NULL, 0);
        break;
    }
    add(s, S_END, true, NULL, 0);
}

static void send_seg(struct session *s, bool c, uint8_t flags, const uint8_t *d,
                     size_t n)
{
    if (c) {
        emit(s->cip, s->sip, s->cport, 25, s->cseq, s->sseq, flags, d, n, &s->cid);
        s->cseq += (uint32_t)n;
    } else {
        emit(s->sip, s->cip, 25, s->cport, s->sseq, s->cseq, flags, d, n, &s->sid);
        s->sseq += (uint32_t)n;
    }
}

/* Body text: header lines, then 76-character lines; never a lone ".". */
static uint8_t body_pattern[1448 * 8];

static void fill_body_pattern(void)
{
    static const char words[] = "lorem ipsum dolor sit amet consectetur adipiscing "
                                "elit sed do eiusmod tempor incididunt ut labore ";
    size_t n = 0, col = 0, w = 0;
    while (n < sizeof body_pattern) {
        if (col == 76) {
            body_pattern[n++] = '\r';
            if (n < sizeof body_pattern)
                body_pattern[n++] = '\n';
            col = 0;
            continue;
        }
        body_pattern[n++] = (uint8_t)words[w++ % (sizeof words - 1)];
        col++;
    }
}

/* One packet (or a small burst) of the session; false once it has ended. */
static bool session_step(struct session *s, bool *holding)
{
    struct step *st = &s->steps[s->cur];
    uint8_t buf[1448];
    switch (st->k) {
    case S_SYN:
        emit(s->cip, s->sip, s->cport, 25, s->cseq, 0, F_SYN, NULL, 0, &s->cid);
        s->cseq++;
        break;
    case S_SYN_RETRY:
        now_us += 1000; /* its retransmission comes later in the stream */
        emit(s->cip, s->sip, s->cport, 25, s->cseq - 1, 0, F_SYN, NULL, 0, &s->cid);
        break;
    case S_SYNACK:
        emit(s->sip, s->cip, 25, s->cport, s->sseq, s->cseq, F_SYN | F_ACK, NULL, 0, &s->sid);
        s->sseq++;
        break;
    case S_ACK3:
        send_seg(s, true, F_ACK, NULL, 0);
        break;
    case S_SEND: {
        const char *t = st->ti >= 0 ? s->text[st->ti] : st->lit;
        send_seg(s, st->from_client, F_ACK | F_PSH, (const uint8_t *)t, strlen(t));
        if (gateway && rnd_below(3) != 0) /* delayed ACK before the answer */
            send_seg(s, !st->from_client, F_ACK, NULL, 0);
        break;
    }
    case S_BODY:
    case S_TLS: {
        uint32_t left = st->size - s->done;
        size_t n = left > sizeof buf ? sizeof buf : left;
        if (left > n && left - n < 5)
            n = left - 5; /* the final CRLF.CRLF stays in one segment */
        bool last = n == left;
        if (st->k == S_BODY) {
            memcpy(buf, body_pattern + (s->done % (1448 * 4)), n);
            if (last && !st->cut && n >= 5)
                memcpy(buf + n - 5, "\r\n.\r\n", 5);
        } else {
            for (size_t i = 0; i < n; i++)
                buf[i] = (uint8_t)rnd();
            if (s->done == 0 && n >= 5)
                memcpy(buf, "\x16\x03\x01\x02\x00", 5);
        }
        send_seg(s, st->from_client, F_ACK | (last ? F_PSH : 0), buf, n);
        s->done += (uint32_t)n;
        if (++s->unacked == 2 || last) { /* delayed ACK from the receiver */
            send_seg(s, !st->from_client, F_ACK, NULL, 0);
            s->unacked = 0;
        }
        if (!last)
            return true;
        s->done = 0;
        break;
    }
    case S_FIN:
        send_seg(s, st->from_client, F_FIN | F_ACK, NULL, 0);
        if (st->from_client) s->cseq++; else s->sseq++;
        if (s->cur > 0 && s->steps[s->cur - 1].k == S_FIN) /* last ACK */
            send_seg(s, !st->from_client, F_ACK, NULL, 0);
        break;
    case S_RST:
        send_seg(s, st->from_client, F_RST | F_ACK, NULL, 0);
        break;
    case S_WAIT_HOLD:
        if (*holding)
            return true;
        break;
    case S_END:
        return false;
    }
    s->cur++;
    return s->steps[s->cur].k != S_END;
}

static enum kind pick_kind(void)
{
    uint32_t r = rnd_below(100);
    if (r < 35) return K_DELIVER;
    if (r < 60) return K_PIPELINED;
    if (r < 72) return K_REJECT;
    if (r < 78) return K_GREYLIST;
    if (r < 88) return K_STARTTLS;
    if (r < 94) return K_SYN_LOST;
    return K_RESET;
}

#include "gen_gateway.h" /* session_new_gateway, pick_gateway */

static void new_session(struct session *s)
{
    if (gateway)
        session_new_gateway(s, pick_gateway());
    else
        session_new(s, pick_kind());
}

static void usage(void)
{
    fprintf(stderr, "usage: gen_capture -o FILE [-s MB] [-c CONCURRENT] [--mix bulk|gateway]\n"
                    "                   [--seed N] [--start EPOCH]\n"
                    "       gen_capture -o FILE --hold N\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *file = NULL;
    uint64_t size_mb = 1024, concurrent = 2000, hold = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            usage();
        if (strcmp(a, "-o") == 0) file = v;
        else if (strcmp(a, "-s") == 0) size_mb = strtoull(v, NULL, 10);
        else if (strcmp(a, "-c") == 0) concurrent = strtoull(v, NULL, 10);
        else if (strcmp(a, "--seed") == 0) rng_state ^= strtoull(v, NULL, 10) * 0x2545F4914F6CDD1DULL;
        else if (strcmp(a, "--mix") == 0 && (!strcmp(v, "gateway") || !strcmp(v, "bulk")))
            gateway = strcmp(v, "gateway") == 0;
        else if (strcmp(a, "--hold") == 0) hold = strtoull(v, NULL, 10);
        else if (strcmp(a, "--start") == 0) now_us = (uint64_t)(strtod(v, NULL) * 1e6);
        else usage();
        i++;
    }
    if (!file || concurrent == 0 || concurrent > 1000000 || hold > 1000000)
        usage();
    out = fopen(file, "wb");
    if (!out) {
        perror(file);
        return 1;
    }
    static char obuf[1 << 20];
    setvbuf(out, obuf, _IOFBF, sizeof obuf);
    fill_body_pattern();
    pcap_header();

    size_t n = hold ? hold : concurrent;
    struct session *ss = calloc(n, sizeof *ss);
    if (!ss) {
        fprintf(stderr, "gen_capture: out of memory\n");
        return 1;
    }
    uint64_t limit = size_mb * 1000000ULL, sessions = 0;
    bool holding = hold > 0;
    size_t active = 0;

    if (hold) { /* open all, then let them all finish */
        for (size_t i = 0; i < n; i++) {
            session_new(&ss[i], K_HOLD);
            sessions++;
            while (ss[i].steps[ss[i].cur].k != S_WAIT_HOLD) {
                session_step(&ss[i], &holding);
                now_us += 10;
            }
        }
        holding = false;
        for (size_t i = 0; i < n; i++)
            while (session_step(&ss[i], &holding))
                now_us += 10;
    } else {
        for (; active < n; active++) {
            new_session(&ss[active]);
            sessions++;
        }
        /* Each packet goes to a random open session: thoroughly
         * interleaved, as on a busy gateway. A finished session is
         * replaced while the size target is not reached. */
        while (active > 0) {
            size_t i = rnd_below((uint32_t)active);
            now_us += 5 + rnd_below(20);
            if (session_step(&ss[i], &holding))
                continue;
            /* open sessions still have to finish: ~160 KB each on average
             * (the gateway mix's: ~8 KB) */
            if (bytes_written + active * (gateway ? 8000 : 160000) < limit) {
                new_session(&ss[i]);
                sessions++;
            } else {
                ss[i] = ss[--active];
            }
        }
    }
    if (fclose(out) != 0) {
        perror(file);
        return 1;
    }
    fprintf(stderr, "gen_capture: %s: %llu bytes, %llu packets, %llu sessions\n", file,
            (unsigned long long)bytes_written, (unsigned long long)packets_written,
            (unsigned long long)sessions);
    free(ss);
    return 0;
}
