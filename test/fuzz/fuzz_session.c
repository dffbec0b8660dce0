/* fuzz_session.c - libFuzzer target: one SMTP session from both sides.
 *
 * Input: records of [flags][len][len bytes]. flags bit 0 is the direction
 * (client/server), bits 1-7 add (bits >> 1) * 7 ms to the clock, so the
 * split points, interleaving and timing are all under the fuzzer's control.
 * The session goes through the parser, the session model, the findings,
 * the diagnosis and both output formats (written to /dev/null).
 */
#include <stdio.h>
#include <stdlib.h>

#include "diagnosis.h"
#include "findings.h"
#include "fuzz_chunks.h"
#include "output.h"
#include "session.h"

static FILE *devnull;
static struct sink *text, *json;
static struct session_config cfg;
static struct observer_set observers; /* the analyses the engine runs */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!devnull) {
        devnull = fopen("/dev/null", "w");
        struct output_options o = {0};
        text = sink_text_new(devnull, &o);
        json = sink_json_new(devnull, &o);
        session_config_defaults(&cfg);
        cfg.max_transcript = 64 * 1024;
        observer_add(&observers, &findings_observer);
        observer_add(&observers, &diagnosis_observer);
        cfg.observers = &observers;
    }
    /* exercise the optional paths on some inputs */
    cfg.extract_headers = size && (data[0] & 0x80);
    cfg.show_secrets = size && (data[0] & 0x40);
    struct endpoint c = {.family = 4, .addr = {192, 0, 2, 10}, .port = 40000};
    struct endpoint s = {.family = 4, .addr = {192, 0, 2, 25}, .port = 25};
    smtp_time now = 1700000000LL * SMTP_NS_PER_SEC;
    struct session *ss = session_new(&cfg, &c, &s, now, HS_COMPLETE);
    if (!ss)
        return 0;
    if (size && (data[0] & 0x20))
        session_set_midstream(ss);
    struct fuzz_chunk ch = {.ts = now};
    size_t at = 1;
    while (fuzz_next_chunk(data, size, &at, 7000000, &ch))
        session_feed(ss, ch.dir, ch.p, ch.len, ch.ts);
    now = ch.ts;
    session_end(ss, (enum tcp_end)(size ? data[size - 1] % TCP_END__COUNT : 0), now);
    text->session(text, ss);
    json->session(json, ss);
    session_free(ss);
    return 0;
}
