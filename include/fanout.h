/* fanout.h - the --workers reader: reads the input once, each frame to
 * the ring of the worker whose shard it is.
 *
 * The shard is engine_in_shard's (shard_hash of the decoded addresses):
 * TCP and UDP go to one worker; what only a worker can place (ICMP,
 * which quotes the flow it is about; IPv4 fragments, whose ports come
 * after reassembly; frames that do not decode) goes to every worker, and
 * each worker's own check decides, as when every worker read everything.
 * A worker gets the capture time (RING_TICK) where a single engine would
 * sweep and before a frame earlier than the time, so that its clock, and
 * with it every timeout, reads as a single process's does wherever the
 * worker reads it (engine_sweep_due).
 */
#ifndef SMTPSCOPE_FANOUT_H
#define SMTPSCOPE_FANOUT_H

#include <stdbool.h>

#include "ring.h"

struct fanout_input {
    const char *const *files;
    int nfiles;
    const char *filter;
    bool quiet, realtime;
};

/* Reads every file into the n rings, ends each with RING_END; returns 0,
 * or 2 when nothing could be read (as a single run would). */
int fanout_read(struct frame_ring *const *rings, int n, const struct fanout_input *in);

#endif
