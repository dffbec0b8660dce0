/* path_observer.c - see path_observer.h. */
#include "path_observer.h"

#include <stdio.h>

#include "session.h"

/* A window that stayed 0 for a while (still 0 at the end counts to the
 * end); announced for a moment only, it is counted in the record and no
 * finding. */
static void zero_window_finding(struct session *s, smtp_time end)
{
    const struct tcp_path *t = &s->tcp;
    static const char *const who[2] = {"client", "server"};
    smtp_time stall[2] = {tcp_path_zero_window_stall(t, 0, end),
                          tcp_path_zero_window_stall(t, 1, end)};
    int side = stall[1] >= stall[0];
    if (stall[side] < TCP_ZERO_WINDOW_STALL_NS)
        return;
    session_find(s, FINDING_ZERO_WINDOW, end, "the %s stopped reading: its window stayed "
                 "0 for %.3f s (zero windows: client %u, server %u)", who[side],
                 (double)stall[side] / 1e9, t->zero_window[0], t->zero_window[1]);
}

static void path_end(void *ctx, struct session *s, void *state)
{
    (void)ctx;
    (void)state;
    if (!s->tcp_known)
        return;
    const struct tcp_path *t = &s->tcp;
    smtp_time ts = s->end;
    /* of the segments that could be sent again: pure ACKs never are, and
     * a bulk transfer sends nearly one per data segment */
    uint32_t segs = t->data_segments[0] + t->data_segments[1];
    /* the network's duplicates are no loss */
    uint32_t re = t->retransmits[0] - t->duplicates[0] + t->retransmits[1] - t->duplicates[1];
    /* near the receiver, a loss upstream is a hole filled a round trip or
     * more after it opened (tcp_path.h): as much a retransmission */
    uint32_t up = t->resent_upstream[0] + t->resent_upstream[1];
    if (re + up >= 3 && (uint64_t)(re + up) * 100 > (uint64_t)segs * 3) { /* above 3 % */
        char more[120] = "";
        if (up)
            snprintf(more, sizeof more, "; %u of them lost before the capture point (holes "
                     "filled a round trip or more after they opened)", up);
        session_find(s, FINDING_LOSSY_PATH, ts, "%u of %u data segments retransmitted "
                     "(client %u, server %u)%s", re + up, segs,
                     t->retransmits[0] - t->duplicates[0] + t->resent_upstream[0],
                     t->retransmits[1] - t->duplicates[1] + t->resent_upstream[1], more);
    }
    zero_window_finding(s, ts);
}

const struct observer path_observer = {.name = "tcp-path", .end = path_end};
