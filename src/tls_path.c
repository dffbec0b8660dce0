/* tls_path.c - STARTTLS offered before, missing now (see tls_path.h). */
#include "tls_path.h"

#include <stdlib.h>

#include "esmtp.h"
#include "session.h"

struct tls_path {
    struct endpoint servers[2 * TLS_PATH_SERVERS]; /* open addressing; family 0 = free */
    uint32_t n;
};

struct tls_path *tls_path_new(void)
{
    return calloc(1, sizeof(struct tls_path));
}

void tls_path_free(struct tls_path *t)
{
    free(t);
}

/* Finds (or with add, inserts) a server in the set. */
static bool tls_server(struct tls_path *t, const struct endpoint *srv, bool add)
{
    uint32_t mask = 2 * TLS_PATH_SERVERS - 1;
    for (uint32_t i = flow_hash_symmetric(srv, srv) & mask;; i = (i + 1) & mask) {
        struct endpoint *x = &t->servers[i];
        if (x->family == 0) {
            if (add && t->n < TLS_PATH_SERVERS) {
                *x = *srv;
                t->n++;
            }
            return false;
        }
        if (endpoint_eq(x, srv))
            return true;
    }
}

static void check_starttls_path(void *ctx, struct session *s, void *state)
{
    struct tls_path *t = ctx;
    (void)state;
    if (!s->ehlo_tried || s->helo_code < 200 || s->helo_code > 299)
        return;
    if (s->ehlo_keywords & KW_STARTTLS)
        tls_server(t, &s->server, true);
    else if (tls_server(t, &s->server, false) &&
             !session_found(s, FINDING_STARTTLS_MASKED))
        session_find(s, FINDING_STARTTLS_STRIPPED, s->end,
                     "this server offered STARTTLS in an earlier session; "
                     "not in this EHLO reply");
}

struct observer tls_path_observer(struct tls_path *t)
{
    return (struct observer){.name = "starttls-path", .ctx = t,
                             .end = check_starttls_path};
}
