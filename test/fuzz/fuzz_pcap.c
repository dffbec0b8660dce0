/* fuzz_pcap.c - libFuzzer target: a whole capture file through the full
 * pipeline (libpcap's file reader, link/IP/TCP decoding, connection table,
 * libnids, sessions, both outputs to /dev/null).
 */
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>

#include "engine.h"
#include "output.h"

static FILE *devnull;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!devnull)
        devnull = fopen("/dev/null", "w");
    FILE *f = fmemopen((void *)data, size, "rb");
    if (!f)
        return 0;
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_fopen_offline_with_tstamp_precision(
        f, PCAP_TSTAMP_PRECISION_NANO, err);
    if (!p) { /* pcap_fopen_offline leaves f to its caller on failure */
        fclose(f);
        return 0;
    }
    struct engine_config cfg;
    engine_config_defaults(&cfg);
    cfg.max_streams = 64;
    cfg.session.max_transcript = 64 * 1024;
    struct engine e;
    char msg[256];
    if (engine_init(&e, &cfg, msg, sizeof msg) < 0) {
        pcap_close(p);
        return 0;
    }
    struct output_options o = {0};
    struct sink *text = sink_text_new(devnull, &o);
    struct sink *json = sink_json_new(devnull, &o);
    struct sink *sum = sink_summary_new(devnull, false, &e.counters);
    engine_add_sink(&e, text);
    engine_add_sink(&e, json);
    engine_add_sink(&e, sum);
    int dlt = pcap_datalink(p);
    struct pcap_pkthdr *h;
    const u_char *d;
    for (int n = 0; n < 20000 && pcap_next_ex(p, &h, &d) == 1; n++)
        if (decode_linktype_supported(dlt))
            engine_packet(&e, dlt, time_from_parts(h->ts.tv_sec, h->ts.tv_usec),
                          d, h->caplen);
    engine_finish(&e);
    text->destroy(text);
    json->destroy(json);
    sum->destroy(sum);
    pcap_close(p);
    return 0;
}
