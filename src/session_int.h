/* session_int.h - what session.c (storage, findings, lifecycle) and
 * session_dialogue.c (the parser's events) share; not for other modules. */
#ifndef SMTPSCOPE_SESSION_INT_H
#define SMTPSCOPE_SESSION_INT_H

#include "session.h"

/* Appends a transcript record: text[0..n) then tail[0..tail_n). */
void session_log_add(struct session *s, enum tline_kind kind, smtp_time ts,
                     int64_t latency, uint64_t value, unsigned flags,
                     uint16_t aux, const char *text, size_t n,
                     const char *tail, size_t tail_n);

/* Forgets a finding (its transcript line stays). */
void session_unfind(struct session *s, enum finding_id id);

/* Runs hook `h` of every observer that has it, with the hook's arguments. */
#define EACH_OBSERVER(s, h, ...)                                              \
    do {                                                                      \
        const struct observer_set *os_ = (s)->cfg->observers;                 \
        for (int i_ = 0; os_ && i_ < os_->n; i_++)                            \
            if (os_->list[i_].h)                                              \
                os_->list[i_].h(os_->list[i_].ctx, (s),                       \
                                session_observer_state((s), i_), __VA_ARGS__); \
    } while (0)

/* The parser callbacks, with header extraction and content observers as
 * asked (the parser looks at message content only then). */
const struct smtp_parser_settings *session_parser_settings(bool headers, bool body);

#endif
