/* tls_path.h - STARTTLS removed on the way: a server seen offering
 * STARTTLS in an earlier session that does not offer it now (a firewall's
 * SMTP inspection stripped it) is finding starttls-stripped.
 *
 * An observer whose run-wide state is the bounded set of servers seen
 * offering STARTTLS (TLS_PATH_SERVERS addresses; past that, new ones are
 * not remembered). */
#ifndef SMTPSCOPE_TLS_PATH_H
#define SMTPSCOPE_TLS_PATH_H

#include "endpoint.h"
#include "observer.h"

#define TLS_PATH_SERVERS 4096

struct tls_path;

struct tls_path *tls_path_new(void);
void tls_path_free(struct tls_path *t);
/* The observer, with t as its state. */
struct observer tls_path_observer(struct tls_path *t);

#endif
