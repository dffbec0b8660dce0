/* workers.h - --workers N: N processes share the reassembly work.
 *
 * Each worker runs the whole pipeline on the connections of its shard
 * (the symmetric address-pair hash, so both directions and every session
 * between two hosts land in the same worker). Reading files, one reader
 * process reads the input once and hands each worker its frames through
 * a shared-memory ring (fanout.h, ring.h); live, each worker captures its
 * own shard through a kernel filter. A worker writes
 * each session's finished record as one frame on a pipe; the parent merges
 * the frames into one output: ordered by session end time when reading
 * files (the output does not depend on scheduling), as they arrive when
 * capturing live. The text log's "# date:" lines are re-derived by the
 * parent so that the merged log keeps the date recoverable.
 */
#ifndef SMTPSCOPE_WORKERS_H
#define SMTPSCOPE_WORKERS_H

#include <stdbool.h>
#include <stdio.h>

#include "output.h"

#define WORKERS_MAX 64

struct frame_ring;

/* Runs worker k of n in a child process; writes its frames to `fd` and
 * returns its exit status. in: the ring its frames come from (files), or
 * NULL (live: it captures its own shard). */
typedef int (*worker_fn)(void *ctx, int k, int n, int fd, struct frame_ring *in);

/* Reads the input once into the n workers' rings (fanout_read); returns
 * its exit status. */
typedef int (*reader_fn)(void *ctx, struct frame_ring *const *rings, int n);

/* Forks n workers, and with a reader (files) the reader, and merges the
 * workers' frames into `out`: in session end-time order with a reader (the
 * output does not depend on scheduling), as they arrive without one.
 * Returns the largest exit status of the children (3 when they could not
 * be started or one died). */
int workers_run(int n, worker_fn fn, reader_fn reader, void *ctx, FILE *out);

/* The worker's side: a text or JSON sink whose output for each session is
 * sent to `fd` as one frame; batch (files): frames are written a few
 * hundred KiB at a time instead of each at once. */
struct sink *frame_sink_new(int fd, bool json, bool batch, const struct output_options *o);

#endif
