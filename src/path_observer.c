/* path_observer.c - see path_observer.h. */
#include "path_observer.h"

#include "session.h"

static void path_end(void *ctx, struct session *s, void *state)
{
    (void)ctx;
    (void)state;
    if (!s->tcp_known)
        return;
    const struct tcp_path *t = &s->tcp;
    uint32_t segs = t->segments[0] + t->segments[1];
    uint32_t re = t->retransmits[0] + t->retransmits[1];
    if (re >= 3 && (uint64_t)re * 100 > (uint64_t)segs * 3) /* above 3 % */
        session_find(s, FINDING_LOSSY_PATH, s->end, "%u of %u segments retransmitted "
                     "(client %u, server %u)", re, segs, t->retransmits[0], t->retransmits[1]);
    if (t->zero_window[0] || t->zero_window[1])
        session_find(s, FINDING_ZERO_WINDOW, s->end, "a receive window of 0 announced %u "
                     "times by the client and %u by the server: a receiver that stopped "
                     "reading", t->zero_window[0], t->zero_window[1]);
}

const struct observer path_observer = {.name = "tcp-path", .end = path_end};
