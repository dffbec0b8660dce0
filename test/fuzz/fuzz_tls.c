/* fuzz_tls.c - libFuzzer target: the TLS reader alone, both directions.
 *
 * Input: a first byte (bit 0: implicit TLS), then records of
 * [flags][len hi][len lo][len bytes]: flags bit 0 is the side, bits 1-7
 * add (bits >> 1) ms to the clock, so splits, interleaving and timing are
 * the fuzzer's. The last byte picks how the connection ends. The info is
 * read field by field afterwards, as a writer would.
 */
#include <stdio.h>
#include <string.h>

#include "tls_reader.h"

static volatile size_t sink;

static void read_info(const struct tls_info *in)
{
    char buf[TLS_NAME_BUF];
    size_t n = strlen(tls_result_name(in->result));
    n += strlen(tls_version_name(in->version, buf)) + strlen(tls_cipher_name(in->cipher, buf));
    for (unsigned i = 0; i < in->nclient_versions; i++)
        n += strlen(tls_version_name(in->client_versions[i], buf));
    for (unsigned i = 0; i < in->nalpn; i++)
        n += in->alpn_len[i] + strlen(in->alpn[i]);
    n += strlen(in->sni) + in->sni_len + in->nfirst;
    n += strlen(tls_alert_name(in->alert.code, buf)) + strlen(tls_alert_level_name(in->alert.level));
    n += strlen(in->cert.subject) + strlen(in->cert.issuer);
    for (unsigned i = 0; i < in->cert.nnames; i++)
        n += strlen(in->cert.names[i]);
    n += in->error ? strlen(in->error) : 0;
    n += in->cert.error ? strlen(in->cert.error) : 0;
    sink += n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tls_reader r;
    tls_reader_init(&r, size && (data[0] & 1));
    smtp_time now = 1700000000LL * SMTP_NS_PER_SEC;
    size_t i = size ? 1 : 0;
    while (i + 3 <= size) {
        uint8_t flags = data[i];
        size_t len = (size_t)data[i + 1] << 8 | data[i + 2];
        i += 3;
        if (len > size - i)
            len = size - i;
        now += (smtp_time)(flags >> 1) * 1000000;
        tls_reader_feed(&r, (enum tls_side)(flags & 1), data + i, len, now);
        i += len;
    }
    tls_reader_end(&r, (enum tls_end)(size ? data[size - 1] % 3 : 0), now);
    read_info(tls_reader_info(&r));
    tls_reader_free(&r);
    return 0;
}
