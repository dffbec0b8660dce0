/* mailflow.h - outgoing deliveries linked to the DNS lookups that led to
 * them (needs --local-net, which says which sessions are outgoing).
 *
 * Fed with every DNS lookup and every connection attempt, it annotates an
 * outgoing session before the sinks see it: the recipient domain, the MX
 * host and preference its server address came from (or the implicit MX,
 * the domain's own address), and the findings
 *   mx-fallback  a preferred MX failed (no answer, refused, a 4xx/5xx
 *                greeting) and the next one was used: the whole chain;
 *   mx-order     a less preferred MX was tried first with none before it;
 *   mx-mismatch  the server's address is not among the answers for the
 *                recipient domain's MX hosts, or its banner names another
 *                host than the MX host (a proxy or a redirect of port 25).
 * Memory is bounded: the last MF_KEEP answers and attempts are kept.
 */
#ifndef SMTPSCOPE_MAILFLOW_H
#define SMTPSCOPE_MAILFLOW_H

#include "dns.h"
#include "observer.h"
#include "session.h"

struct mailflow;

struct mailflow *mailflow_new(void);
void mailflow_free(struct mailflow *m);
void mailflow_dns(struct mailflow *m, const struct dns_lookup *l);
void mailflow_attempt(struct mailflow *m, const struct endpoint *client,
                      const struct endpoint *server, smtp_time t);
void mailflow_connected(struct mailflow *m, const struct endpoint *client,
                        const struct endpoint *server);
/* The observer that links each ended session and adds its findings. */
struct observer mailflow_observer(struct mailflow *m);

#endif
