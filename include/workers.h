/* workers.h - --workers N: N processes share the reassembly work.
 *
 * Each worker runs the whole pipeline on the same input but keeps only the
 * connections of its shard (the symmetric address/port hash, so both
 * directions of a connection land in the same worker). A worker writes
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

/* Runs worker k of n in a child process; writes its frames to `fd` and
 * returns its exit status. */
typedef int (*worker_fn)(void *ctx, int k, int n, int fd);

/* Forks n workers, merges their frames into `out`; returns the largest
 * exit status of the workers (or 3 when they could not be started). */
int workers_run(int n, worker_fn fn, void *ctx, FILE *out, bool ordered);

/* The worker's side: a text or JSON sink whose output for each session is
 * sent to `fd` as one frame. */
struct sink *frame_sink_new(int fd, bool json, const struct output_options *o);

#endif
