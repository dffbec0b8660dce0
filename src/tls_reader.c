/* tls_reader.c - the TLS record layer and handshake in clear (tls_reader.h).
 *
 * Per direction: a 5-byte record header, then the record's body. Handshake
 * records (type 22) in clear feed a second assembly, of handshake messages
 * (4-byte header, 24-bit length), which may span records; only the three
 * messages read here (ClientHello, ServerHello, Certificate) are buffered,
 * the others are skipped as they pass. Every field is read through a
 * checked cursor: a length never reaches past what is there.
 */
#include "tls_reader.h"

#include <stdlib.h>
#include <string.h>

/* ---- checked cursor (a read past the end returns 0 and marks it bad) --- */

struct cur {
    const uint8_t *p;
    size_t left;
    bool bad;
};

static const uint8_t *take(struct cur *c, size_t n)
{
    if (c->bad || n > c->left) {
        c->bad = true;
        c->left = 0;
        return NULL;
    }
    const uint8_t *at = c->p;
    c->p += n;
    c->left -= n;
    return at;
}

static uint32_t get_be(struct cur *c, size_t n)
{
    const uint8_t *at = take(c, n);
    uint32_t v = 0;
    for (size_t i = 0; at && i < n; i++)
        v = v << 8 | at[i];
    return v;
}

static uint8_t u8(struct cur *c) { return (uint8_t)get_be(c, 1); }
static uint16_t u16(struct cur *c) { return (uint16_t)get_be(c, 2); }

/* The next `lenbytes`-prefixed field as a cursor of its own. */
static struct cur sub(struct cur *c, size_t lenbytes)
{
    size_t n = get_be(c, lenbytes);
    const uint8_t *at = take(c, n);
    struct cur s = {at, at ? n : 0, at == NULL};
    return s;
}

static void set_error(struct tls_info *in, enum tls_side side, const char *why)
{
    if (!in->error) {
        in->error = why;
        in->error_side = side;
    }
}

/* ---- ClientHello ---- */

static void read_sni(struct tls_info *in, struct cur *body)
{
    struct cur list = sub(body, 2);
    while (list.left && !list.bad) {
        uint8_t type = u8(&list);
        struct cur name = sub(&list, 2);
        if (name.bad || type != 0 || in->sni_present)
            continue;
        size_t n = name.left < TLS_SNI_MAX ? name.left : TLS_SNI_MAX;
        memcpy(in->sni, name.p, n);
        in->sni[n] = '\0';
        in->sni_len = n;
        in->sni_present = true;
    }
    body->bad |= list.bad;
}

static void read_alpn(struct tls_info *in, struct cur *body)
{
    struct cur list = sub(body, 2);
    in->alpn_present = true;
    while (list.left && !list.bad) {
        struct cur name = sub(&list, 1);
        if (name.bad)
            break;
        in->nalpn_total++;
        if (in->nalpn == TLS_ALPN_MAX)
            continue;
        size_t n = name.left < TLS_ALPN_LEN_MAX ? name.left : TLS_ALPN_LEN_MAX;
        memcpy(in->alpn[in->nalpn], name.p, n);
        in->alpn[in->nalpn][n] = '\0';
        in->alpn_len[in->nalpn++] = (uint8_t)n;
    }
    body->bad |= list.bad;
}

static void read_client_versions(struct tls_info *in, struct cur *body)
{
    struct cur list = sub(body, 1);
    in->client_versions_ext = true;
    in->nclient_versions = 0;
    while (list.left >= 2) {
        uint16_t v = u16(&list);
        if (!tls_is_grease(v) && in->nclient_versions < TLS_VERSIONS_MAX)
            in->client_versions[in->nclient_versions++] = v;
    }
    body->bad |= list.bad || list.left;
}

static void read_cipher_offer(struct tls_info *in, struct cur *c)
{
    struct cur list = sub(c, 2);
    in->nclient_ciphers = in->nclient_ciphers_total = 0;
    while (list.left >= 2) {
        uint16_t s = u16(&list);
        if (tls_is_grease(s))
            continue;
        in->nclient_ciphers_total++;
        if (in->nclient_ciphers < TLS_CIPHERS_MAX)
            in->client_ciphers[in->nclient_ciphers++] = s;
    }
    c->bad |= list.left != 0;
}

static void reset_client_hello(struct tls_info *in)
{
    in->client_versions_ext = false;
    in->nclient_versions = in->nclient_ciphers = in->nclient_ciphers_total = 0;
    in->sni_present = in->alpn_present = false;
    in->sni_len = 0;
    in->sni[0] = '\0';
    in->nalpn = in->nalpn_total = 0;
}

static void parse_client_hello(struct tls_info *in, const uint8_t *p, size_t n,
                               smtp_time ts)
{
    struct cur c = {p, n, false};
    reset_client_hello(in);
    in->client_hello = true;
    in->client_hello_ts = ts;
    in->client_legacy_version = u16(&c);
    take(&c, 32);    /* random */
    (void)sub(&c, 1); /* legacy_session_id */
    read_cipher_offer(in, &c);
    (void)sub(&c, 1); /* compression methods */
    if (!c.bad && c.left) {
        struct cur ext = sub(&c, 2);
        while (ext.left && !ext.bad) {
            uint16_t type = u16(&ext);
            struct cur body = sub(&ext, 2);
            if (type == 0 && !in->sni_present)
                read_sni(in, &body);
            else if (type == 16 && !in->alpn_present)
                read_alpn(in, &body);
            else if (type == 43 && !in->client_versions_ext)
                read_client_versions(in, &body);
            ext.bad |= body.bad;
        }
        c.bad |= ext.bad;
    }
    if (!in->client_versions_ext && !c.bad) {
        in->client_versions[0] = in->client_legacy_version;
        in->nclient_versions = 1;
    }
    if (c.bad)
        set_error(in, TLS_CLIENT, "ClientHello: a length runs past the message");
}

/* ---- ServerHello (and HelloRetryRequest, which has its shape) ---- */

static const uint8_t hrr_random[32] = {
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c,
    0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb,
    0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c};

static void parse_server_hello(struct tls_info *in, const uint8_t *p, size_t n,
                               smtp_time ts)
{
    struct cur c = {p, n, false};
    uint16_t legacy = u16(&c);
    const uint8_t *random = take(&c, 32);
    (void)sub(&c, 1); /* legacy_session_id_echo */
    uint16_t cipher = u16(&c);
    (void)u8(&c); /* compression */
    uint16_t selected = 0;
    if (!c.bad && c.left) {
        struct cur ext = sub(&c, 2);
        while (ext.left && !ext.bad) {
            uint16_t type = u16(&ext);
            struct cur body = sub(&ext, 2);
            if (type == 43 && body.left == 2)
                selected = u16(&body);
        }
        c.bad |= ext.bad;
    }
    if (c.bad) {
        set_error(in, TLS_SERVER, "ServerHello: a length runs past the message");
        return;
    }
    in->version = selected ? selected : legacy;
    in->cipher = cipher;
    if (memcmp(random, hrr_random, 32) == 0) {
        in->hello_retry = true; /* the real ServerHello is still to come */
        return;
    }
    in->server_hello = true;
    in->server_hello_ts = ts;
}

/* ---- Certificate (TLS 1.2 and older: certificate_list<0..2^24-1>) ---- */

static void parse_certificate(struct tls_info *in, const uint8_t *p, size_t n,
                              bool cut)
{
    struct tls_cert *ct = &in->cert;
    struct cur c = {p, n, false};
    memset(ct, 0, sizeof *ct);
    ct->present = true;
    ct->cut = cut;
    size_t list_len = get_be(&c, 3);
    if (list_len > c.left && !cut) {
        set_error(in, TLS_SERVER, "Certificate: the list runs past the message");
        c.bad = true;
    }
    struct cur list = {c.p, list_len < c.left ? list_len : c.left, c.bad};
    while (list.left >= 3) {
        size_t len = get_be(&list, 3);
        const uint8_t *der = take(&list, len);
        if (!der) {
            if (ct->chain == 0)
                ct->error = cut ? "leaf certificate longer than the part kept"
                                : "leaf certificate runs past the message";
            break;
        }
        if (ct->chain++ == 0) {
            ct->leaf_len = (uint32_t)len;
            tls_x509_read_leaf(ct, der, len);
        }
    }
    if (ct->chain == 0 && !ct->error)
        ct->error = "no certificate in the message";
}

/* ---- handshake-message assembly ---- */

static bool message_wanted(const struct tls_info *in, enum tls_side side, uint8_t type)
{
    if (side == TLS_CLIENT)
        return type == 1;
    return type == 2 || (type == 11 && in->version != TLS_V_1_3);
}

static void message_done(struct tls_reader *r, enum tls_side side)
{
    struct tls_dir *d = &r->dir[side];
    struct tls_info *in = &r->info;
    if (!d->hs_keep)
        return;
    bool cut = d->hs_len > d->hs_kept;
    switch (d->hs_hdr[0]) {
    case 1: parse_client_hello(in, d->hs_buf, d->hs_kept, d->hs_ts); break;
    case 2: parse_server_hello(in, d->hs_buf, d->hs_kept, d->hs_ts); break;
    case 11: parse_certificate(in, d->hs_buf, d->hs_kept, cut); break;
    }
}

static void message_start(struct tls_reader *r, enum tls_side side)
{
    struct tls_dir *d = &r->dir[side];
    d->hs_len = (uint32_t)d->hs_hdr[1] << 16 | (uint32_t)d->hs_hdr[2] << 8 | d->hs_hdr[3];
    d->hs_left = d->hs_len;
    d->hs_kept = 0;
    d->hs_ts = d->rec_ts;
    d->hs_keep = message_wanted(&r->info, side, d->hs_hdr[0]);
    uint32_t want = d->hs_len < TLS_HS_MSG_MAX ? d->hs_len : TLS_HS_MSG_MAX;
    if (d->hs_keep && want > d->hs_cap) {
        uint8_t *nb = realloc(d->hs_buf, want);
        if (!nb) {
            set_error(&r->info, side, "out of memory for a handshake message");
            d->hs_keep = false;
            return;
        }
        d->hs_buf = nb;
        d->hs_cap = want;
    }
}

static void handshake_bytes(struct tls_reader *r, enum tls_side side,
                            const uint8_t *p, size_t n)
{
    struct tls_dir *d = &r->dir[side];
    while (n) {
        if (d->nhs_hdr < 4) {
            d->hs_hdr[d->nhs_hdr++] = *p++;
            n--;
            if (d->nhs_hdr == 4)
                message_start(r, side);
        } else {
            size_t k = n < d->hs_left ? n : d->hs_left;
            uint32_t room = d->hs_keep ? d->hs_cap - d->hs_kept : 0;
            size_t keep = k < room ? k : room;
            if (keep)
                memcpy(d->hs_buf + d->hs_kept, p, keep);
            d->hs_kept += (uint32_t)keep;
            d->hs_left -= (uint32_t)k;
            p += k;
            n -= k;
        }
        if (d->nhs_hdr == 4 && d->hs_left == 0) {
            message_done(r, side);
            d->nhs_hdr = 0;
        }
    }
}

/* ---- records ---- */

static void settle_complete(struct tls_reader *r)
{
    struct tls_info *in = &r->info;
    if (in->result != TLS_RESULT_PENDING || !in->finished_seen[TLS_CLIENT] ||
        !in->finished_seen[TLS_SERVER])
        return;
    in->result = TLS_RESULT_COMPLETE;
    for (int s = 0; s < 2; s++) { /* nothing in clear is left to assemble */
        free(r->dir[s].hs_buf);
        r->dir[s].hs_buf = NULL;
        r->dir[s].hs_cap = 0;
        r->dir[s].hs_keep = false;
    }
}

static void mark(bool *seen, smtp_time *at, smtp_time ts)
{
    if (!*seen) {
        *seen = true;
        *at = ts;
    }
}

static void alert_in_clear(struct tls_reader *r, enum tls_side side)
{
    struct tls_info *in = &r->info;
    struct tls_dir *d = &r->dir[side];
    if (d->rec_len < 2) {
        set_error(in, side, "alert record shorter than an alert");
        return;
    }
    if (!in->alert.seen || (in->alert.level != 2 && d->small[0] == 2)) {
        in->alert = (struct tls_alert){true, side, d->small[0], d->small[1], d->rec_ts};
    }
    if (d->small[0] == 2 && in->result == TLS_RESULT_PENDING)
        in->result = TLS_RESULT_FAILED;
}

/* The smallest TLS 1.3 record that can hold a Finished: header, a SHA-256
 * (SHA-384 for 0x1302) verify_data, the inner content type, the AEAD tag
 * (8 bytes for CCM_8, 16 otherwise). An alert is 2 + 1 + tag. */
static uint32_t finished13_min(uint16_t cipher)
{
    return 4 + (cipher == 0x1302 ? 48 : 32) + 1 + (cipher == 0x1305 ? 8 : 16);
}

/* A type-23 record of TLS 1.3, after the ServerHello. */
static void encrypted13(struct tls_reader *r, enum tls_side side)
{
    struct tls_info *in = &r->info;
    struct tls_dir *d = &r->dir[side];
    d->encrypted13++;
    if (side == TLS_SERVER) {
        if (!in->finished_seen[TLS_SERVER])
            mark(&in->finished_seen[TLS_SERVER], &in->finished_ts[TLS_SERVER], d->rec_ts);
        else if (in->finished_seen[TLS_CLIENT]) /* may be session tickets */
            mark(&in->data_seen[TLS_SERVER], &in->data_ts[TLS_SERVER], d->rec_ts);
    } else if (!in->finished_seen[TLS_CLIENT]) {
        if (d->rec_len >= finished13_min(in->cipher))
            mark(&in->finished_seen[TLS_CLIENT], &in->finished_ts[TLS_CLIENT], d->rec_ts);
        else
            in->encrypted_alert[TLS_CLIENT] = true;
    } else {
        mark(&in->data_seen[TLS_CLIENT], &in->data_ts[TLS_CLIENT], d->rec_ts);
    }
}

/* A record after this side's ChangeCipherSpec (TLS 1.2 and older). */
static void encrypted12(struct tls_reader *r, enum tls_side side)
{
    struct tls_info *in = &r->info;
    struct tls_dir *d = &r->dir[side];
    d->after_ccs++;
    if (d->type == 21)
        in->encrypted_alert[side] = true;
    else if (!in->finished_seen[side])
        mark(&in->finished_seen[side], &in->finished_ts[side], d->rec_ts);
    else if (d->type == 23)
        mark(&in->data_seen[side], &in->data_ts[side], d->rec_ts);
}

static void record_start(struct tls_reader *r, enum tls_side side)
{
    struct tls_info *in = &r->info;
    struct tls_dir *d = &r->dir[side];
    bool tls13 = in->server_hello && in->version == TLS_V_1_3;
    in->records[side]++;
    d->nsmall = 0;
    if (d->encrypted)
        encrypted12(r, side);
    else if (d->type == 23 && tls13)
        encrypted13(r, side);
    else if (d->type == 23 && side == TLS_CLIENT && !in->server_hello)
        in->early_data = true;
    else if (d->type == 20) {
        mark(&in->ccs_seen[side], &in->ccs_ts[side], d->rec_ts);
        /* TLS 1.3's middlebox-compatibility CCS changes nothing */
        if (in->version != TLS_V_1_3) {
            d->encrypted = true;
            d->after_ccs = 0;
        }
    }
    settle_complete(r);
}

static void record_body(struct tls_reader *r, enum tls_side side,
                        const uint8_t *p, size_t n)
{
    struct tls_dir *d = &r->dir[side];
    if (d->encrypted)
        return;
    if (d->type == 22)
        handshake_bytes(r, side, p, n);
    else if (d->type == 21)
        while (n-- && d->nsmall < 2)
            d->small[d->nsmall++] = *p++;
}

static void record_done(struct tls_reader *r, enum tls_side side)
{
    struct tls_dir *d = &r->dir[side];
    if (d->type == 21 && !d->encrypted)
        alert_in_clear(r, side);
    d->nhdr = 0;
}

/* SSL 2.0's ClientHello format (a 2-byte length with the top bit set, then
 * message type 1), which old clients sent to reach SSL 3.0 servers. */
static bool sslv2_hello(const uint8_t *h)
{
    return (h[0] & 0x80) && h[2] == 1;
}

/* A record header is complete: check it; false stops this direction. */
static bool record_header(struct tls_reader *r, enum tls_side side)
{
    struct tls_info *in = &r->info;
    struct tls_dir *d = &r->dir[side];
    const uint8_t *h = d->hdr;
    d->type = h[0];
    d->rec_len = d->rec_left = (uint32_t)h[3] << 8 | h[4];
    bool looks_tls = d->type >= 20 && d->type <= 24 && h[1] == 3 && h[2] <= 4;
    if (looks_tls && d->rec_len <= TLS_RECORD_MAX)
        return true;
    d->dead = true;
    if (looks_tls) {
        set_error(in, side, "record longer than TLS allows: reading stopped");
    } else if (in->records[side] == 0 && sslv2_hello(h)) {
        set_error(in, side, "SSL 2.0-format ClientHello (not read)");
    } else if (in->records[side] == 0) {
        in->result = TLS_RESULT_NOT_TLS;
        in->not_tls_side = side;
        r->dir[!side].dead = true;
    } else {
        set_error(in, side, "not a TLS record header: reading stopped");
    }
    return false;
}

/* Keeps the first bytes of a direction, for a not-TLS report. */
static void keep_first(struct tls_dir *d, const uint8_t *p, size_t n)
{
    while (n-- && d->nfirst < TLS_FIRST_BYTES)
        d->first[d->nfirst++] = *p++;
}

void tls_reader_feed(struct tls_reader *r, enum tls_side side, const uint8_t *p,
                     size_t n, smtp_time ts)
{
    struct tls_dir *d = &r->dir[side];
    struct tls_info *in = &r->info;
    if (side != TLS_CLIENT && side != TLS_SERVER)
        return;
    in->bytes[side] += n;
    if (in->records[side] == 0)
        keep_first(d, p, n);
    while (n && !d->dead) {
        if (d->nhdr < 5) {
            if (d->nhdr == 0)
                d->rec_ts = ts;
            d->hdr[d->nhdr++] = *p++;
            n--;
            if (d->nhdr < 5 || !record_header(r, side))
                continue;
            record_start(r, side);
            if (d->rec_left == 0)
                record_done(r, side);
            continue;
        }
        size_t k = n < d->rec_left ? n : d->rec_left;
        record_body(r, side, p, k);
        p += k;
        n -= k;
        d->rec_left -= (uint32_t)k;
        if (d->rec_left == 0)
            record_done(r, side);
    }
    if (in->result == TLS_RESULT_NOT_TLS && in->not_tls_side == side) {
        memcpy(in->first, d->first, d->nfirst);
        in->nfirst = d->nfirst;
    }
}

void tls_reader_gap(struct tls_reader *r, enum tls_side side)
{
    if (side != TLS_CLIENT && side != TLS_SERVER)
        return;
    r->info.gap[side] = true;
    if (r->dir[side].dead)
        return;
    r->dir[side].dead = true;
    if (r->info.result == TLS_RESULT_PENDING && !r->info.error)
        set_error(&r->info, side, "a gap in the capture: reading stopped");
}

void tls_reader_end(struct tls_reader *r, enum tls_end how, smtp_time ts)
{
    struct tls_info *in = &r->info;
    if (in->ended)
        return;
    in->ended = true;
    in->end_how = how;
    in->end_ts = ts;
    if (in->result != TLS_RESULT_PENDING)
        return;
    if (in->alert.seen)
        in->result = TLS_RESULT_FAILED;
    else if (how == TLS_END_CAPTURE)
        in->result = TLS_RESULT_INCOMPLETE;
    else
        in->result = TLS_RESULT_ABANDONED;
}

void tls_reader_init(struct tls_reader *r, bool implicit_tls)
{
    memset(r, 0, sizeof *r);
    r->info.implicit_tls = implicit_tls;
}

void tls_reader_free(struct tls_reader *r)
{
    for (int s = 0; s < 2; s++) {
        free(r->dir[s].hs_buf);
        r->dir[s].hs_buf = NULL;
        r->dir[s].hs_cap = 0;
    }
}

const struct tls_info *tls_reader_info(const struct tls_reader *r)
{
    return &r->info;
}
