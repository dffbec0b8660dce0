/* tls_reader.h - pure, streaming observer of a TLS handshake in clear.
 *
 * Bytes of one direction go in with a timestamp (llhttp style, any split);
 * what the handshake showed comes out in a struct tls_info. It knows
 * nothing of packets. It reads the record layer of each direction,
 * reassembles handshake messages across records, and extracts what is in
 * clear: the ClientHello (versions, SNI, ALPN, cipher suites), the
 * ServerHello (negotiated version and cipher, HelloRetryRequest), the
 * server's leaf certificate when sent in clear (TLS 1.2 and older; parsed
 * by GnuTLS, never by hand), alerts in clear, ChangeCipherSpec and the
 * first encrypted records, from which it tells when each side sent its
 * Finished flight and when application data flowed. Nothing is decrypted.
 *
 * Hostile input is normal: every length is checked against what is there.
 * Memory per reader: sizeof(struct tls_reader) (about 8 KiB, the info
 * included) plus at most TLS_HS_MSG_MAX bytes per direction while a
 * ClientHello, ServerHello or Certificate is collected; those buffers are
 * released when both sides went encrypted. Garbage stops the reading of
 * that direction with `error` set, never more.
 */
#ifndef SMTPSCOPE_TLS_READER_H
#define SMTPSCOPE_TLS_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "timeval.h"

enum tls_side { TLS_CLIENT = 0, TLS_SERVER = 1 };

enum tls_end {
    TLS_END_CLOSED = 0, /* FIN */
    TLS_END_RESET,      /* RST */
    TLS_END_CAPTURE     /* the capture ended with the connection open */
};

enum tls_result {
    TLS_RESULT_PENDING = 0, /* still going (before tls_reader_end) */
    TLS_RESULT_COMPLETE,    /* both sides sent their Finished flight */
    TLS_RESULT_FAILED,      /* an alert in clear ended it */
    TLS_RESULT_ABANDONED,   /* closed or reset before it completed */
    TLS_RESULT_INCOMPLETE,  /* the capture ended before it completed */
    TLS_RESULT_NOT_TLS      /* a side's first bytes are not a TLS record */
};

/* Bounds. A record longer than TLS_RECORD_MAX (RFC 5246 6.2.3, the
 * ciphertext bound) is garbage. Of a handshake message, the first
 * TLS_HS_MSG_MAX bytes are kept (the rest is skipped and `cut` said). */
#define TLS_RECORD_MAX (16384 + 2048)
#define TLS_HS_MSG_MAX (64 * 1024)
#define TLS_SNI_MAX 255
#define TLS_ALPN_MAX 8        /* protocols kept */
#define TLS_ALPN_LEN_MAX 64   /* bytes kept of each */
#define TLS_VERSIONS_MAX 8    /* offered versions kept (GREASE left out) */
#define TLS_CIPHERS_MAX 64    /* offered suites kept (GREASE left out) */
#define TLS_DN_MAX 512        /* subject and issuer, RFC 4514 strings */
#define TLS_CERT_NAMES_MAX 16 /* names kept; `nnames_total` counts all */
#define TLS_CERT_NAME_MAX 256
#define TLS_CERT_SANS_SCAN 1024 /* subject alt names looked at, at most */
#define TLS_FIRST_BYTES 48

/* Wire version numbers. */
#define TLS_V_SSL3 0x0300
#define TLS_V_1_0 0x0301
#define TLS_V_1_1 0x0302
#define TLS_V_1_2 0x0303
#define TLS_V_1_3 0x0304

struct tls_alert {
    bool seen;
    enum tls_side from;
    uint8_t level; /* 1 warning, 2 fatal */
    uint8_t code;  /* description */
    smtp_time ts;
};

struct tls_cert {
    bool present;    /* a Certificate message was seen in clear */
    bool parsed;     /* GnuTLS read the leaf; the fields below are valid */
    bool cut;        /* the message was longer than TLS_HS_MSG_MAX */
    unsigned chain;  /* certificates counted in the (kept part of the) message */
    uint32_t leaf_len;
    char subject[TLS_DN_MAX]; /* "CN=mx.example.net,O=Example" (RFC 4514) */
    char issuer[TLS_DN_MAX];  /* both cut at TLS_DN_MAX - 1 bytes */
    /* subjectAltName DNS names in order, then the CN if not among them */
    char names[TLS_CERT_NAMES_MAX][TLS_CERT_NAME_MAX];
    unsigned nnames, nnames_total;
    smtp_time not_before, not_after; /* clamped to 1970..2255 (timeval.h) */
    bool self_signed; /* issuer == subject and its own key verifies it */
    uint8_t sha256[32]; /* of the leaf's DER: tells two certificates apart */
    const char *error; /* why the leaf could not be read, or NULL */
};

struct tls_info {
    enum tls_result result;
    bool implicit_tls; /* as given to tls_reader_init */

    /* not TLS: the first bytes of `not_tls_side`, for the report */
    enum tls_side not_tls_side;
    uint8_t first[TLS_FIRST_BYTES];
    uint8_t nfirst;

    /* ClientHello (the last one: a second one follows a HelloRetryRequest) */
    bool client_hello;
    smtp_time client_hello_ts;
    uint16_t client_legacy_version;
    bool client_versions_ext; /* supported_versions was sent; else the one
                                 version is the legacy one */
    uint16_t client_versions[TLS_VERSIONS_MAX];
    unsigned nclient_versions;
    uint16_t client_ciphers[TLS_CIPHERS_MAX];
    unsigned nclient_ciphers, nclient_ciphers_total;
    bool sni_present; /* wire bytes, not escaped: the writer escapes */
    char sni[TLS_SNI_MAX + 1];
    size_t sni_len;
    bool alpn_present;
    char alpn[TLS_ALPN_MAX][TLS_ALPN_LEN_MAX + 1];
    uint8_t alpn_len[TLS_ALPN_MAX];
    unsigned nalpn, nalpn_total;

    /* ServerHello */
    bool server_hello;
    smtp_time server_hello_ts;
    uint16_t version; /* negotiated: supported_versions, else legacy; 0 unknown */
    uint16_t cipher;
    bool hello_retry; /* a HelloRetryRequest was seen */

    struct tls_cert cert; /* the server's, in clear (TLS 1.2 and older) */

    struct tls_alert alert; /* the first alert in clear (a fatal one wins) */
    /* a record that can only be an encrypted alert: TLS 1.2 an alert record
     * after the side's ChangeCipherSpec; TLS 1.3 the client's first
     * encrypted record too short to be its Finished (the client rejected
     * the server's certificate, usually) */
    bool encrypted_alert[2];

    /* the flights, by their first record; the *_seen flags say whether */
    bool ccs_seen[2], finished_seen[2], data_seen[2];
    smtp_time ccs_ts[2], finished_ts[2], data_ts[2];
    bool early_data; /* client records of type application_data before any
                        ServerHello (0-RTT) */

    bool ended;
    enum tls_end end_how;
    smtp_time end_ts;

    uint64_t records[2], bytes[2];
    bool gap[2]; /* bytes of that side never captured (a lost segment, a
                    snap-length cut): its reading stopped there */
    /* malformed input; parsing of error_side stopped (record layer) or the
     * message was left half read (handshake body) */
    const char *error;
    enum tls_side error_side;
};

/* Per-direction record and handshake-message assembly (private). */
struct tls_dir {
    uint8_t hdr[5];
    uint8_t nhdr;
    uint8_t type;
    uint32_t rec_len, rec_left;
    smtp_time rec_ts;
    uint8_t small[2]; /* alert and CCS bodies */
    uint8_t nsmall;
    uint8_t hs_hdr[4];
    uint8_t nhs_hdr;
    uint32_t hs_len, hs_left; /* whole message; still to come */
    bool hs_keep;
    uint8_t *hs_buf;
    uint32_t hs_cap, hs_kept;
    smtp_time hs_ts;
    uint8_t first[TLS_FIRST_BYTES];
    uint8_t nfirst;
    bool dead, encrypted;
    unsigned after_ccs;   /* records since this side's CCS (TLS 1.2) */
    unsigned encrypted13; /* type-23 records since the ServerHello (1.3) */
};

struct tls_reader {
    struct tls_dir dir[2];
    struct tls_info info;
};

void tls_reader_init(struct tls_reader *r, bool implicit_tls);
void tls_reader_free(struct tls_reader *r);
/* Bytes of one direction in stream order, all carrying timestamp ts. */
void tls_reader_feed(struct tls_reader *r, enum tls_side side, const uint8_t *p,
                     size_t n, smtp_time ts);
/* Bytes of one direction are missing from the capture: that direction's
 * records cannot be followed any more (said in `error` while the handshake
 * was still in clear). */
void tls_reader_gap(struct tls_reader *r, enum tls_side side);
/* The connection ended: settles `result` (complete and failed stay). */
void tls_reader_end(struct tls_reader *r, enum tls_end how, smtp_time ts);
const struct tls_info *tls_reader_info(const struct tls_reader *r);

/* Names for writers. Unknown values are written into `buf` as hex
 * ("0x1301", "0x7f") and `buf` is returned; known ones are static strings. */
#define TLS_NAME_BUF 8
const char *tls_version_name(uint16_t v, char buf[TLS_NAME_BUF]); /* "TLS 1.3" */
const char *tls_cipher_name(uint16_t code, char buf[TLS_NAME_BUF]); /* IANA */
const char *tls_alert_name(uint8_t code, char buf[TLS_NAME_BUF]);   /* "unknown_ca" */
const char *tls_alert_level_name(uint8_t level); /* "warning", "fatal", "unknown" */
const char *tls_result_name(enum tls_result r);  /* "complete", ..., "not-tls" */
/* GREASE (RFC 8701) values, 0x?a?a, are placeholders, not offers. */
bool tls_is_grease(uint16_t v);

/* The leaf of a Certificate message, read with GnuTLS (tls_x509.c). */
void tls_x509_read_leaf(struct tls_cert *out, const uint8_t *der, size_t len);

#endif
