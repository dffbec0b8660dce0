/* timeval.h - capture timestamps as nanoseconds since the Unix epoch.
 *
 * One integer type end to end keeps nanosecond pcapng timestamps exact and
 * makes durations plain subtraction.
 */
#ifndef SMTPSCOPE_TIMEVAL_H
#define SMTPSCOPE_TIMEVAL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef int64_t smtp_time;

#define SMTP_NS_PER_SEC INT64_C(1000000000)

/* A capture timestamp (seconds and nanoseconds, as a file says them) in
 * nanoseconds, clamped to 1970..2255: a hostile file's 64-bit seconds must
 * not overflow the arithmetic every duration relies on. */
smtp_time time_from_parts(int64_t sec, int64_t nsec);

/* "YYYY-MM-DDTHH:MM:SS.uuuuuuZ" (UTC); returns the length written. */
size_t time_iso8601(smtp_time t, char *out, size_t cap);

/* "HH:MM:SS.mmm" in UTC or local time; `date` (optional, 11 bytes) gets
 * "YYYY-MM-DD" of the same instant. */
void time_clock(smtp_time t, int local, char out[13], char date[11]);
/* Whole seconds (rounded down) and the nanoseconds past them: the second
 * time_clock formats (a writer that has formatted it can reuse it). */
void time_split(smtp_time t, time_t *sec, int64_t *ns);

/* A duration as seconds with `decimals` digits (3 or 6), e.g. "1.250". */
size_t time_seconds(smtp_time d, int decimals, char *out, size_t cap);
/* The same in any unit of nanoseconds (SMTP_NS_PER_SEC / 1000: milliseconds),
 * decimals 3 or 6, truncated. */
size_t time_fixed(smtp_time d, smtp_time unit, int decimals, char *out, size_t cap);

#endif
