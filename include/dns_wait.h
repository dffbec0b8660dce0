/* dns_wait.h - the server's own DNS lookups, tied to the waits and the
 * refusals they explain.
 *
 * A slow greeting or reply is often the server waiting on DNS: the PTR of
 * the client, the sender domain's MX, a DNS block list. When the capture
 * holds those lookups, the wait is told as theirs (finding slow-dns-wait;
 * slow-greeting and slow-reply count only the rest), and a refusal that
 * followed a block-list listing of the client says so beside it. A lookup
 * is the server's when it came from the server's address, or when it asks
 * about the client's address (its PTR, or a DNSBL name: the reversed
 * address under a zone) from anywhere. Memory is bounded: the last
 * DNS_WAIT_KEEP lookups, and the tracker's pending ones.
 */
#ifndef SMTPSCOPE_DNS_WAIT_H
#define SMTPSCOPE_DNS_WAIT_H

#include "dns.h"
#include "observer.h"

#define DNS_WAIT_KEEP 2048

struct dns_wait;

/* tracker: where the engine keeps its DNS tracker (made on first use). */
struct dns_wait *dns_wait_new(struct dns_tracker *const *tracker);
void dns_wait_free(struct dns_wait *w);
/* Every lookup the tracker ended (answered or timed out). */
void dns_wait_lookup(struct dns_wait *w, const struct dns_lookup *l);
/* The observer: it runs before the findings, which read s->dns_wait_ns. */
struct observer dns_wait_observer(struct dns_wait *w);

/* "10.2.0.192" for 192.0.2.10 (IPv4), the nibbles for IPv6: the labels a
 * PTR or DNSBL name starts with. */
size_t dns_reversed(const struct endpoint *e, char *out, size_t cap);

#endif
