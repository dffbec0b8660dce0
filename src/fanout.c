/* fanout.c - the --workers reader (see fanout.h). */
#include "fanout.h"

#include <stdlib.h>

#include "decode.h"
#include "endpoint.h"
#include "engine.h"
#include "workers.h"

struct fanout {
    struct frame_ring *const *rings;
    int n, open;              /* open: rings whose worker is still there */
    bool gone[WORKERS_MAX];
    smtp_time last[WORKERS_MAX]; /* the latest time each worker was given */
    smtp_time now, last_sweep;   /* a single engine's clock over every frame */
    uint64_t frames;             /* frames read: the current one's number */
};

/* The worker whose shard the frame is, or -1: every worker decides. */
static int shard_of(const struct fanout *f, int dlt, const uint8_t *data, size_t len)
{
    struct packet pkt;
    if (decode_packet(dlt, data, len, &pkt) != DECODE_OK || (pkt.proto != 6 && pkt.proto != 17))
        return -1;
    return (int)(shard_hash(&pkt.src, &pkt.dst) % (uint32_t)f->n);
}

static void put(struct fanout *f, int k, enum ring_kind kind, int dlt, smtp_time ts,
                const uint8_t *data, size_t len)
{
    if (f->gone[k])
        return;
    if (!ring_put(f->rings[k], kind, dlt, ts, f->frames, data, len)) {
        f->gone[k] = true; /* that worker died: the parent says so */
        f->open--;
    }
    if (ts > f->last[k])
        f->last[k] = ts;
}

/* A worker's clock must read what a single engine's would wherever the
 * worker looks at it: at each of its own frames (a frame earlier than the
 * clock, merged captures out of order, needs the clock brought first) and
 * where the engine sweeps (it ends idle sessions by the clock). Between
 * those a worker runs no code, so its clock may lag there: a tick a
 * second per worker instead of one per frame. */
static bool on_frame(void *ctx, int dlt, smtp_time ts, const uint8_t *data, size_t len)
{
    struct fanout *f = ctx;
    smtp_time before = f->now;
    f->frames++;
    if (ts > f->now)
        f->now = ts;
    bool sweep = engine_sweep_due(f->now, &f->last_sweep);
    int to = shard_of(f, dlt, data, len);
    for (int k = 0; k < f->n; k++) {
        bool mine = to < 0 || k == to;
        if (mine && ts < before && f->last[k] < before)
            put(f, k, RING_TICK, 0, before, NULL, 0);
        if (mine)
            put(f, k, RING_FRAME, dlt, ts, data, len);
        else if (sweep && f->last[k] < f->now)
            put(f, k, RING_TICK, 0, f->now, NULL, 0);
    }
    return f->open > 0;
}

/* Every 1024 frames: a worker waiting for a batch gets what there is
 * (a slow input, a pipe, must not hold its sessions back). */
static bool on_idle(void *ctx, smtp_time now, unsigned dropped)
{
    struct fanout *f = ctx;
    (void)now;
    (void)dropped;
    for (int k = 0; k < f->n; k++)
        if (!f->gone[k])
            ring_flush(f->rings[k]);
    return f->open > 0;
}

int fanout_read(struct frame_ring *const *rings, int n, const struct fanout_input *in)
{
    struct fanout f = {.rings = rings, .n = n, .open = n};
    if (n < 1 || n > WORKERS_MAX)
        return 3;
    for (int k = 0; k < n; k++)
        f.last[k] = INT64_MIN;
    const struct capture_hooks hooks = {.ctx = &f, .on_frame = on_frame, .on_idle = on_idle,
                                        .read_only = true};
    struct capture_result res = {0};
    capture_files(in->files, in->nfiles, in->filter, &hooks, in->quiet, in->realtime, &res);
    for (int k = 0; k < n; k++) { /* sessions still open end by the clock */
        if (f.last[k] < f.now)
            put(&f, k, RING_TICK, 0, f.now, NULL, 0);
        put(&f, k, RING_END, 0, 0, (const uint8_t *)&res, sizeof res);
    }
    return res.files_ok == 0 && res.packets == 0 ? 2 : 0;
}
