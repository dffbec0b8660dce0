/* test_engine_drops.c - packets the kernel dropped (pcap_stats counts them,
 * it cannot say which): a session open while drops were counted is marked
 * kernel-drops, and no verdict a lost packet could explain is stated as a
 * fact. Drives the engine with raw IPv4 segments and engine_note_drops, as
 * the live capture loop does. */
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "diagnosis.h"
#include "tap.h"

#define MAXS 8
static struct {
    enum verdict verdict;
    bool drops, uncertain;
    char why[300];
} seen[MAXS];
static int nseen;

static void on_session(struct sink *k, const struct session *s)
{
    (void)k;
    if (nseen == MAXS)
        return;
    seen[nseen].verdict = s->verdict;
    seen[nseen].drops = session_found(s, FINDING_KERNEL_DROPS);
    for (uint32_t i = 0; i < s->nanomalies; i++)
        if (s->anomalies[i].id == FINDING_UNSOLICITED_REPLY)
            seen[nseen].uncertain = strncmp(s->anomalies[i].detail, "uncertain", 9) == 0;
    snprintf(seen[nseen].why, sizeof seen[nseen].why, "%s",
             s->incomplete_why ? s->incomplete_why : s->failure.text);
    nseen++;
}

static void nothing(struct sink *k) { (void)k; }

static void put16(uint8_t *p, unsigned v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, v >> 16); put16(p + 2, v & 0xffff); }

static smtp_time now = 1700000000LL * SMTP_NS_PER_SEC;

static void seg(struct engine *e, bool fc, uint16_t cport, uint32_t seq, uint32_t ack,
                uint8_t flags, const char *data)
{
    uint8_t p[40 + 256];
    size_t n = data ? strlen(data) : 0;
    memset(p, 0, 40);
    p[0] = 0x45;
    put16(p + 2, (unsigned)(40 + n));
    p[8] = 64;
    p[9] = 6;
    const uint8_t c[4] = {192, 0, 2, 10}, s[4] = {192, 0, 2, 25};
    memcpy(p + 12, fc ? c : s, 4);
    memcpy(p + 16, fc ? s : c, 4);
    put16(p + 20, fc ? cport : 25);
    put16(p + 22, fc ? 25 : cport);
    put32(p + 24, seq);
    put32(p + 28, ack);
    p[32] = 5 << 4;
    p[33] = flags;
    put16(p + 34, 65535);
    if (n)
        memcpy(p + 40, data, n);
    now += SMTP_NS_PER_SEC / 100;
    engine_packet(e, 101 /* DLT_RAW */, now, p, 40 + n);
}

static void run(bool drops)
{
    struct engine_config cfg;
    engine_config_defaults(&cfg);
    struct engine e;
    char err[200];
    if (engine_init(&e, &cfg, err, sizeof err) < 0) {
        CHECK(0, "engine_init: %s", err);
        return;
    }
    struct sink k = {.session = on_session, .finish = nothing, .destroy = nothing};
    engine_add_sink(&e, &k);
    nseen = 0;
    /* 1: SYN answered, the client's ACK lost among the drops */
    seg(&e, true, 40001, 100, 0, TCPF_SYN, NULL);
    seg(&e, false, 40001, 900, 101, TCPF_SYN | TCPF_ACK, NULL);
    /* 2: a session whose greeting was dropped: the EHLO reply looks
     * unsolicited, then the client closes */
    seg(&e, true, 40002, 200, 0, TCPF_SYN, NULL);
    seg(&e, false, 40002, 800, 201, TCPF_SYN | TCPF_ACK, NULL);
    seg(&e, true, 40002, 201, 801, TCPF_ACK, NULL);
    if (drops)
        engine_note_drops(&e, 500);
    seg(&e, false, 40002, 801, 201, TCPF_ACK | TCPF_PSH, "250 mx.example.net\r\n");
    seg(&e, false, 40002, 821, 201, TCPF_ACK | TCPF_PSH, "250 mx.example.net\r\n");
    seg(&e, true, 40002, 201, 841, TCPF_ACK | TCPF_FIN, NULL);
    seg(&e, false, 40002, 841, 202, TCPF_ACK | TCPF_FIN, NULL);
    seg(&e, true, 40002, 202, 842, TCPF_ACK, NULL);
    now += 120 * SMTP_NS_PER_SEC; /* the first attempt's SYN timeout */
    engine_tick(&e, now);
    engine_finish(&e);
}

int main(void)
{
    run(false);
    CHECK(nseen == 2, "without drops: two sessions (%d)", nseen);
    bool failed_connect = false;
    for (int i = 0; i < nseen; i++)
        failed_connect |= seen[i].verdict == VERDICT_FAILED &&
                          strstr(seen[i].why, "handshake never completed");
    CHECK(failed_connect, "without drops: SYN answered, no ACK is FAILED at CONNECT");

    run(true);
    CHECK(nseen == 2, "with drops: two sessions (%d)", nseen);
    for (int i = 0; i < nseen; i++) {
        CHECK(seen[i].drops, "with drops: session %d marked kernel-drops", i);
        CHECK(seen[i].verdict != VERDICT_FAILED,
              "with drops: session %d not FAILED (%s: %s)", i,
              verdict_name(seen[i].verdict), seen[i].why);
    }
    bool uncertain = false;
    for (int i = 0; i < nseen; i++)
        uncertain |= seen[i].uncertain;
    CHECK(uncertain, "with drops: the unsolicited reply is marked uncertain");
    return tap_done();
}
