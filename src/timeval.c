/* timeval.c - formatting of nanosecond timestamps (see timeval.h). */
#include "timeval.h"

#include <stdio.h>
#include <time.h>

static void split(smtp_time t, time_t *sec, int64_t *ns)
{
    int64_t s = t / SMTP_NS_PER_SEC, r = t % SMTP_NS_PER_SEC;
    if (r < 0) {
        r += SMTP_NS_PER_SEC;
        s--;
    }
    *sec = (time_t)s;
    *ns = r;
}

size_t time_iso8601(smtp_time t, char *out, size_t cap)
{
    time_t sec;
    int64_t ns;
    struct tm tm;
    split(t, &sec, &ns);
    gmtime_r(&sec, &tm);
    int n = snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec, (long long)(ns / 1000));
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

void time_clock(smtp_time t, int local, char out[13], char date[11])
{
    time_t sec;
    int64_t ns;
    struct tm tm;
    split(t, &sec, &ns);
    if (local)
        localtime_r(&sec, &tm);
    else
        gmtime_r(&sec, &tm);
    /* unsigned and bounded so the compiler can prove the widths */
    snprintf(out, 13, "%02u:%02u:%02u.%03u", (unsigned)tm.tm_hour % 24u,
             (unsigned)tm.tm_min % 60u, (unsigned)tm.tm_sec % 61u,
             (unsigned)(ns / 1000000) % 1000u);
    if (date)
        snprintf(date, 11, "%04u-%02u-%02u",
                 (unsigned)(tm.tm_year + 1900) % 10000u,
                 (unsigned)(tm.tm_mon + 1) % 13u, (unsigned)tm.tm_mday % 32u);
}

size_t time_seconds(smtp_time d, int decimals, char *out, size_t cap)
{
    int neg = d < 0;
    uint64_t a = neg ? (uint64_t)(-(d + 1)) + 1 : (uint64_t)d;
    uint64_t div = decimals == 6 ? 1000 : 1000000;
    uint64_t frac = (a % SMTP_NS_PER_SEC) / div;
    int n = snprintf(out, cap, "%s%llu.%0*llu", neg ? "-" : "",
                     (unsigned long long)(a / SMTP_NS_PER_SEC),
                     decimals == 6 ? 6 : 3, (unsigned long long)frac);
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

smtp_time time_from_parts(int64_t sec, int64_t nsec)
{
    const int64_t max_sec = INT64_C(9000000000); /* year 2255 */
    if (sec < 0)
        sec = 0;
    if (sec > max_sec)
        sec = max_sec;
    if (nsec < 0 || nsec >= SMTP_NS_PER_SEC)
        nsec = 0;
    return sec * SMTP_NS_PER_SEC + nsec;
}
