/* reasm_park.h - inside the reassembly module: segments beyond a hole that
 * smtpscope holds itself while libnids' queue is near its limit (libnids
 * throws its whole out-of-order queue away past 64 KiB, and a sender with a
 * modern window has far more than that in flight behind one lost segment).
 * Bounded per direction and in all; each is a copy of the IPv4 packet as it
 * would have been handed to libnids. Not for other modules. */
#ifndef SMTPSCOPE_REASM_PARK_H
#define SMTPSCOPE_REASM_PARK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reassembly.h"

/* libnids' queue is kept under this many bytes (of its truesize count):
 * beyond it segments park. Under REASM_QUEUE_MAX, so the rule that fills a
 * hole when the queue grows that long fires only when parking refused. */
#define REASM_PARK_AT 24576
#define REASM_PARK_SIDE_MAX (4u << 20)  /* bytes parked per direction */
#define REASM_PARK_TOTAL_MAX (64u << 20) /* ... and in all connections */

struct reasm_parked {
    struct reasm_parked *next;
    uint32_t seq, len; /* len: of the packet (ip) */
    uint8_t ip[];
};

/* Copies the packet into dir's list, in sequence order (a second copy of
 * a parked segment is dropped: it is a retransmission). False when over a
 * bound: the caller hands it to libnids as before. */
bool park_take(struct reasm_flow *f, int dir, uint32_t seq, const uint8_t *ip, size_t len);
/* Takes the lowest parked segment of dir off the list (the caller frees
 * it with park_release); NULL when none. */
struct reasm_parked *park_pop(struct reasm_flow *f, int dir);
void park_release(struct reasm_parked *p);
/* Puts a popped segment back at the head (it may not go to libnids yet). */
void park_push_front(struct reasm_flow *f, int dir, struct reasm_parked *p);

#endif
