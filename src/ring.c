/* ring.c - the reader's frames to one worker, through shared memory.
 *
 * Positions are free-running 32-bit byte counts (the ring's size is a
 * power of two, so they wrap with it). A record is a header and its
 * bytes, 8-aligned, never split by the ring's end: where it would not
 * fit, the rest of the ring is skipped (a RING_PAD header where one
 * fits, else implied). Each side keeps a copy of the other's position
 * and reads the shared one only when its copy says full or empty.
 */
#define _GNU_SOURCE
#include "ring.h"

#include <linux/futex.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct rec_hdr {
    uint32_t len;  /* bytes after the header */
    uint32_t kind; /* enum ring_kind */
    int32_t dlt;
    uint32_t unused;
    int64_t ts;
    uint64_t number; /* RING_FRAME: the frame's number in the input */
};
#define HDR ((uint32_t)sizeof(struct rec_hdr))
#define LINE 64

/* One side's state on a cache line of its own: the other side reads it
 * only to wait or to wake. */
struct side {
    _Atomic uint32_t pos;     /* producer: head; consumer: tail */
    _Atomic uint32_t wake;    /* the futex word this side sleeps on */
    _Atomic uint32_t waiting; /* this side sleeps, or is about to */
    _Atomic uint32_t gone;    /* this side has exited */
    uint32_t other;           /* this side's copy of the other's pos */
    char pad[LINE - 5 * sizeof(uint32_t)];
};

struct frame_ring {
    struct side prod, cons;
    uint32_t size, mask;
    size_t map_len;
    _Alignas(LINE) uint8_t data[];
};

static long futex(_Atomic uint32_t *word, int op, uint32_t val, const struct timespec *t)
{
    return syscall(SYS_futex, (uint32_t *)word, op, val, t, NULL, 0);
}

/* Sleeps until woken (or a second passed: a lost wake-up costs time,
 * never the run). */
static void sleep_on(struct side *s, uint32_t seen)
{
    const struct timespec second = {1, 0};
    futex(&s->wake, FUTEX_WAIT, seen, &second);
}

static void wake(struct side *s)
{
    if (atomic_load(&s->waiting)) {
        atomic_store(&s->waiting, 0);
        atomic_fetch_add(&s->wake, 1);
        futex(&s->wake, FUTEX_WAKE, 1, NULL);
    }
}

struct frame_ring *ring_new(size_t bytes)
{
    if (bytes < 4 * (size_t)RING_FRAME_MAX || (bytes & (bytes - 1)) || bytes > (1u << 30))
        return NULL;
    size_t len = sizeof(struct frame_ring) + bytes;
    void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    struct frame_ring *r = m; /* a fresh mapping is zeroed */
    r->size = (uint32_t)bytes;
    r->mask = (uint32_t)bytes - 1;
    r->map_len = len;
    return r;
}

void ring_free(struct frame_ring *r)
{
    if (r)
        munmap(r, r->map_len);
}

static uint32_t to_end(const struct frame_ring *r, uint32_t pos)
{
    return r->size - (pos & r->mask);
}

/* ---- producer ------------------------------------------------------------ */

static uint32_t free_space(struct frame_ring *r, uint32_t head)
{
    return r->size - (head - r->prod.other);
}

/* Waits until `need` bytes are free; false once the consumer is gone. */
static bool wait_space(struct frame_ring *r, uint32_t head, uint32_t need)
{
    for (;;) {
        r->prod.other = atomic_load_explicit(&r->cons.pos, memory_order_acquire);
        if (free_space(r, head) >= need)
            return true;
        if (atomic_load(&r->cons.gone))
            return false;
        uint32_t seen = atomic_load(&r->prod.wake);
        atomic_store(&r->prod.waiting, 1);
        r->prod.other = atomic_load(&r->cons.pos);
        if (free_space(r, head) >= need || atomic_load(&r->cons.gone)) {
            atomic_store(&r->prod.waiting, 0);
            continue;
        }
        wake(&r->cons); /* it may sleep on less than a batch: this is more */
        sleep_on(&r->prod, seen);
    }
}

static void put_hdr(struct frame_ring *r, uint32_t pos, uint32_t kind, uint32_t len,
                    int dlt, smtp_time ts, uint64_t number)
{
    struct rec_hdr h = {.len = len, .kind = kind, .dlt = dlt, .ts = ts, .number = number};
    memcpy(r->data + (pos & r->mask), &h, HDR);
}

bool ring_put(struct frame_ring *r, enum ring_kind kind, int dlt, smtp_time ts,
              uint64_t number, const void *data, size_t len)
{
    if (atomic_load_explicit(&r->cons.gone, memory_order_relaxed))
        return false;
    if (len > RING_FRAME_MAX)
        len = RING_FRAME_MAX;
    uint32_t head = atomic_load_explicit(&r->prod.pos, memory_order_relaxed);
    uint32_t total = (HDR + (uint32_t)len + 7u) & ~7u;
    uint32_t skip = to_end(r, head) < total ? to_end(r, head) : 0;
    if (free_space(r, head) < skip + total && !wait_space(r, head, skip + total))
        return false;
    if (skip >= HDR)
        put_hdr(r, head, RING_PAD, 0, 0, 0, 0);
    head += skip;
    put_hdr(r, head, (uint32_t)kind, (uint32_t)len, dlt, ts, number);
    if (len)
        memcpy(r->data + (head & r->mask) + HDR, data, len);
    head += total;
    atomic_store_explicit(&r->prod.pos, head, memory_order_release);
    atomic_thread_fence(memory_order_seq_cst);
    /* the consumer sleeps until a batch is waiting, or the input ends */
    if (atomic_load_explicit(&r->cons.waiting, memory_order_relaxed) &&
        (kind == RING_END || head - r->prod.other >= r->size / 8))
        wake(&r->cons);
    return true;
}

void ring_flush(struct frame_ring *r)
{
    atomic_thread_fence(memory_order_seq_cst);
    wake(&r->cons);
}

void ring_consumer_gone(struct frame_ring *r)
{
    atomic_store(&r->cons.gone, 1);
    atomic_store(&r->prod.waiting, 1); /* so that wake() wakes */
    wake(&r->prod);
}

void ring_producer_gone(struct frame_ring *r)
{
    atomic_store(&r->prod.gone, 1);
    atomic_store(&r->cons.waiting, 1);
    wake(&r->cons);
}

/* ---- consumer ------------------------------------------------------------ */

/* The next record at tail, or NULL when the producer is gone and the ring
 * is empty. Skips the ring's end where the producer did. */
static const struct rec_hdr *next_rec(struct frame_ring *r, uint32_t *tail)
{
    for (int spins = 0;;) {
        if (r->cons.other != *tail) {
            uint32_t left = to_end(r, *tail);
            const struct rec_hdr *h = (const void *)(r->data + (*tail & r->mask));
            if (left < HDR || h->kind == RING_PAD) {
                *tail += left;
                continue;
            }
            return h;
        }
        r->cons.other = atomic_load_explicit(&r->prod.pos, memory_order_acquire);
        if (r->cons.other != *tail)
            continue;
        if (++spins < 64)
            continue;
        uint32_t seen = atomic_load(&r->cons.wake);
        atomic_store(&r->cons.waiting, 1);
        r->cons.other = atomic_load(&r->prod.pos);
        if (r->cons.other != *tail) {
            atomic_store(&r->cons.waiting, 0);
            continue;
        }
        if (atomic_load(&r->prod.gone))
            return NULL;
        sleep_on(&r->cons, seen);
    }
}

/* Gives the record's bytes back; wakes a producer waiting for room once
 * half the ring is free. */
static void release(struct frame_ring *r, uint32_t *tail, const struct rec_hdr *h)
{
    *tail += (HDR + h->len + 7u) & ~7u;
    atomic_store_explicit(&r->cons.pos, *tail, memory_order_release);
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&r->prod.waiting, memory_order_relaxed) &&
        atomic_load(&r->prod.pos) - *tail <= r->size / 2) /* not the copy: it lags */
        wake(&r->prod);
}

void ring_drain(struct frame_ring *r, const struct capture_hooks *h,
                struct capture_result *res)
{
    uint32_t tail = atomic_load(&r->cons.pos);
    uint64_t frames = 0;
    bool go = true, ended = false;
    const struct rec_hdr *rec;
    while (!ended && (rec = next_rec(r, &tail))) {
        const uint8_t *body = (const uint8_t *)(rec + 1);
        if (rec->kind == RING_FRAME && go) {
            if (h->number)
                h->number(h->ctx, rec->number);
            go = h->on_frame(h->ctx, rec->dlt, rec->ts, body, rec->len);
            if ((++frames & 1023) == 0)
                go = h->on_idle(h->ctx, -1, 0) && go;
        } else if (rec->kind == RING_TICK && go) {
            go = h->on_idle(h->ctx, rec->ts, 0); /* the engine's clock moves on */
        } else if (rec->kind == RING_END) {
            memcpy(res, body, rec->len < sizeof *res ? rec->len : sizeof *res);
            ended = true;
        }
        release(r, &tail, rec);
    }
    if (!ended) {
        fprintf(stderr, "smtpscope: the --workers reader ended before the input did: "
                        "sessions after that point are missing\n");
        res->files_failed++;
    }
}
