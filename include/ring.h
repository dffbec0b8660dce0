/* ring.h - --workers on files: one reader, a ring of frames per worker.
 *
 * The reader reads the input once and puts each frame into the ring of
 * the worker whose shard it is (fanout.h); the worker takes them out as
 * if it read a capture. A ring is a single-producer, single-consumer
 * queue in a shared anonymous mapping made before fork(); each side
 * sleeps on a futex only when the ring is full or empty, and is woken
 * with hysteresis (the consumer once an eighth of the ring is waiting,
 * the producer once half of it is free), so a busy pair does not trade a
 * wake-up per packet. Either side may die: the parent, which sees it go,
 * marks the ring so that the other one does not wait for ever.
 */
#ifndef SMTPSCOPE_RING_H
#define SMTPSCOPE_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capture.h"
#include "timeval.h"

struct frame_ring;

/* What a record carries. */
enum ring_kind {
    RING_FRAME = 1, /* a captured frame: dlt, ts, the bytes */
    RING_TICK,      /* capture time passed (another worker's packet at ts) */
    RING_END,       /* the input ended: a struct capture_result */
    RING_PAD,       /* internal: the rest of the ring up to its end */
};

/* A frame longer than this is cut to it (pcap's own limit is 262144). */
#define RING_FRAME_MAX (1u << 20)

/* A ring of `bytes` (a power of two, at least 4 * RING_FRAME_MAX) in
 * memory shared with the children forked after this call. NULL: no
 * memory. */
struct frame_ring *ring_new(size_t bytes);
void ring_free(struct frame_ring *r);

/* The producer: puts one record (number: a frame's number in the input,
 * for the session's frame numbers), waiting while the ring is full. False
 * once the consumer is gone (the record is not put). */
bool ring_put(struct frame_ring *r, enum ring_kind kind, int dlt, smtp_time ts,
              uint64_t number, const void *data, size_t len);
/* Wakes a consumer waiting for less than its batch (the input is slow). */
void ring_flush(struct frame_ring *r);

/* The parent: the consumer or the producer has exited. */
void ring_consumer_gone(struct frame_ring *r);
void ring_producer_gone(struct frame_ring *r);

/* The consumer: hands every record to the hooks as capture_files would
 * (on_frame for each frame, on_idle every 1024 frames) until RING_END,
 * whose result is copied into res. A producer gone without RING_END is
 * said on stderr and counted in res->files_failed. */
void ring_drain(struct frame_ring *r, const struct capture_hooks *h,
                struct capture_result *res);

#endif
