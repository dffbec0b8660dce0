/* fuzz_parser.c - libFuzzer target: the SMTP parser alone (as llhttp's).
 *
 * Input: byte 0 picks the start (bit 0 mid-stream, bit 1 no greeting,
 * bit 2 header callback off), then records of [flags][len][len bytes]:
 * flags bit 0 is the direction, bits 1-7 add (bits >> 1) ms to the clock.
 * Every callback is set and reads every byte of every span it is handed,
 * so a span that points outside its buffer is an ASan report here, without
 * the session model in between (fuzz_session.c covers that).
 */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_chunks.h"
#include "smtp_parser.h"

static volatile unsigned sink; /* keeps the reads below from being elided */

static void touch(const char *p, size_t n)
{
    unsigned h = 0;
    for (size_t i = 0; i < n; i++)
        h = h * 31 + (unsigned char)p[i];
    sink += h;
}

static void touch_span(struct smtp_span s) { touch(s.p, s.len); }

static uint32_t on_command(struct smtp_parser *p, const struct smtp_command *c)
{
    touch_span(c->line);
    touch_span(c->arg);
    touch_span(c->secret);
    struct smtp_span addr;
    if (smtp_parse_path(c->arg, c->cmd == SMTP_CMD_RCPT ? "TO" : "FROM", &addr))
        touch_span(addr);
    sink += smtp_cmd_name(c->cmd)[0] + smtp_parser_awaiting(p);
    return (uint32_t)c->wire_len;
}

static void on_reply_line(struct smtp_parser *p, const struct smtp_reply_line *l)
{
    (void)p;
    touch_span(l->line);
    touch_span(l->text);
}

static void on_reply(struct smtp_parser *p, const struct smtp_reply *r)
{
    (void)p;
    touch_span(r->enhanced);
    touch_span(r->text);
    sink += r->tag + (unsigned)r->code + smtp_cmd_name(r->cmd)[0];
}

static void on_body_end(struct smtp_parser *p, const struct smtp_body_end *b)
{
    (void)p;
    sink += (unsigned)b->bytes + (unsigned)b->lines;
}

static void on_body_data(struct smtp_parser *p, const char *d, size_t n)
{
    (void)p;
    touch(d, n);
}

static void on_tls(struct smtp_parser *p, smtp_time ts)
{
    (void)p;
    sink += (unsigned)ts;
}

static void on_anomaly(struct smtp_parser *p, enum smtp_anomaly a, enum smtp_dir d,
                       smtp_time ts, struct smtp_span detail)
{
    (void)p;
    (void)ts;
    touch_span(detail);
    sink += smtp_anomaly_name(a)[0] + d;
}

static void on_not_smtp(struct smtp_parser *p, enum smtp_dir d, struct smtp_span first,
                        smtp_time ts)
{
    (void)p;
    (void)d;
    (void)ts;
    touch_span(first);
}

static void on_tunnel(struct smtp_parser *p, struct smtp_span what, smtp_time ts)
{
    (void)p;
    (void)ts;
    touch_span(what);
}

static void on_header(struct smtp_parser *p, struct smtp_span name,
                      struct smtp_span value, smtp_time ts)
{
    (void)p;
    (void)ts;
    touch_span(name);
    touch_span(value);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t start = size ? data[0] : 0;
    struct smtp_parser_settings settings = {
        .on_command = on_command,
        .on_reply_line = on_reply_line,
        .on_reply = on_reply,
        .on_body_end = on_body_end,
        .on_body_data = on_body_data,
        .on_tls = on_tls,
        .on_anomaly = on_anomaly,
        .on_not_smtp = on_not_smtp,
        .on_tunnel = on_tunnel,
        .on_header = (start & 4) ? NULL : on_header,
    };
    struct smtp_parser p;
    smtp_parser_init(&p, &settings, NULL);
    if (start & 1)
        smtp_parser_set_midstream(&p);
    if (start & 2)
        smtp_parser_no_greeting(&p);
    struct fuzz_chunk c = {.ts = 1700000000LL * SMTP_NS_PER_SEC};
    size_t at = 1;
    while (fuzz_next_chunk(data, size, &at, 1000000, &c))
        smtp_parser_execute(&p, c.dir, c.p, c.len, c.ts);
    smtp_parser_finish(&p, c.ts);
    smtp_parser_free(&p);
    return 0;
}
