/* tls_observer.h - the TLS handshake of a session, read in clear.
 *
 * An observer (observer.h): from the first byte after TLS started (a 220
 * to STARTTLS, or the first byte on an implicit-TLS port) it feeds both
 * directions to a TLS reader (tls_reader.h), writes one transcript line
 * per handshake step, and when the session ends settles the result,
 * points session.tls_hs at what was read (for the diagnosis and the
 * writers) and raises the TLS findings. Run-wide it remembers the
 * certificate each server address showed, to tell an interception.
 */
#ifndef SMTPSCOPE_TLS_OBSERVER_H
#define SMTPSCOPE_TLS_OBSERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "observer.h"
#include "tls_reader.h"

struct tls_seen; /* run-wide: certificates by server address */

struct tls_seen *tls_seen_new(void);
void tls_seen_free(struct tls_seen *t);
struct observer tls_observer(struct tls_seen *t);

/* The port where TLS starts with the first byte (RFC 8314). */
#define TLS_IMPLICIT_PORT 465

/* A handshake that made the session fail (failed, abandoned, or answered
 * in plaintext): its cause in `text` ("TLS alert unknown_ca (48) from
 * client") and a hint; false when the handshake did not fail. */
bool tls_handshake_failure(const struct tls_info *in, char *text, size_t cap,
                           const char **hint);
/* "TLS 1.3, TLS_AES_256_GCM_SHA384, SNI mx.example.net" (what is known). */
size_t tls_handshake_brief(const struct tls_info *in, char *out, size_t cap);

#endif
