/* tls_checks.h - private to tls_observer.c and tls_checks.c: what a read
 * handshake means (its result line, the TLS findings). */
#ifndef SMTPSCOPE_TLS_CHECKS_H
#define SMTPSCOPE_TLS_CHECKS_H

#include "session.h"
#include "tls_reader.h"

#define TLS_SEEN_SERVERS 4096 /* addresses remembered; later ones are not */

struct seen_cert {
    uint8_t addr[16];
    uint8_t family; /* 0: free */
    bool has_cert;
    uint8_t sha256[32];
    char subject[96];
};

struct tls_seen {
    struct seen_cert slot[2 * TLS_SEEN_SERVERS]; /* open addressing */
    unsigned n;
};

/* The entry of the server's address (port aside), made when there is
 * room; NULL when the table is full. */
struct seen_cert *tls_seen_slot(struct tls_seen *t, const struct endpoint *srv);

/* The handshake's outcome as one transcript line. */
void log_result(struct session *s, const struct tls_info *in);
/* tls-mismatch: TLS where plaintext was expected, or the reverse (in may be
 * NULL: no TLS was read). */
void check_mismatch(struct session *s, const struct tls_info *in);
/* The other TLS findings, from the handshake and the certificate. */
void check_handshake(struct tls_seen *seen, struct session *s, const struct tls_info *in);

#endif
