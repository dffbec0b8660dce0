/* observer.h - analyses that watch a session's events.
 *
 * The session model (session.c) builds the dialogue; everything that
 * judges it (findings, the STARTTLS path check, mail flow, message saving,
 * and last the diagnosis) is an observer: a row of hooks with its own
 * per-session state, run in the order they were added. session.c knows
 * none of them; the engine puts the list together (analysis.h).
 *
 * When each hook runs, which decides where its findings stand in the
 * transcript:
 *   command     as a client line arrives, before the session records it
 *   reply_line  after the server line was recorded
 *   reply       as a complete reply arrives, before the model settles it
 *   body_data   message content as it passes (dot-unstuffed)
 *   body_end    after the body's summary line was recorded
 *   tls_data    bytes after TLS started, either direction (NULL: a gap)
 *   end         the session ended and its open transaction was settled
 *   release     the session is freed (close what the state holds)
 */
#ifndef SMTPSCOPE_OBSERVER_H
#define SMTPSCOPE_OBSERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "smtp_parser.h"

struct session;

struct observer {
    const char *name;
    size_t state_size; /* zeroed per session; 0: no state */
    void *ctx;         /* the observer's run-wide state */
    void (*command)(void *ctx, struct session *s, void *st,
                    const struct smtp_command *c);
    void (*reply_line)(void *ctx, struct session *s, void *st,
                       const struct smtp_reply_line *l);
    void (*reply)(void *ctx, struct session *s, void *st,
                  const struct smtp_reply *r);
    void (*body_data)(void *ctx, struct session *s, void *st, const char *p,
                      size_t n);
    void (*body_end)(void *ctx, struct session *s, void *st,
                     const struct smtp_body_end *b);
    void (*tls_data)(void *ctx, struct session *s, void *st, enum smtp_dir dir,
                     const char *p, size_t n, smtp_time ts);
    void (*end)(void *ctx, struct session *s, void *st);
    void (*release)(void *ctx, struct session *s, void *st);
};

#define OBSERVERS_MAX 12

/* The observers of a run, and where each one's state lies in a session. */
struct observer_set {
    struct observer list[OBSERVERS_MAX];
    size_t offset[OBSERVERS_MAX];
    int n;
    size_t state_bytes; /* all states, each 16-byte aligned */
    bool body_data;     /* some observer reads message content */
    bool tls_data;      /* some observer reads the bytes after TLS started */
};

/* Appends o; returns -1 when the set is full (a programming error). */
int observer_add(struct observer_set *set, const struct observer *o);

#endif
