/* timeval.c - formatting of nanosecond timestamps (see timeval.h). */
#include "timeval.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

void time_split(smtp_time t, time_t *sec, int64_t *ns)
{
    int64_t s = t / SMTP_NS_PER_SEC, r = t % SMTP_NS_PER_SEC;
    if (r < 0) {
        r += SMTP_NS_PER_SEC;
        s--;
    }
    *sec = (time_t)s;
    *ns = r;
}

static void digits(char *p, unsigned v, int n)
{
    while (n-- > 0) {
        p[n] = (char)('0' + v % 10);
        v /= 10;
    }
}

size_t time_iso8601(smtp_time t, char *out, size_t cap)
{
    time_t sec;
    int64_t ns;
    struct tm tm;
    time_split(t, &sec, &ns);
    gmtime_r(&sec, &tm);
    int year = tm.tm_year + 1900;
    if (year < 0 || year > 9999 || cap < 28) { /* not in a capture's range */
        int n = snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ",
                         year, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                         tm.tm_min, tm.tm_sec, (long long)(ns / 1000));
        return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
    }
    /* by hand: two per JSON session record, and snprintf's format parsing
     * cost more than the rest of the record's times */
    digits(out, (unsigned)year, 4);
    out[4] = '-';
    digits(out + 5, (unsigned)tm.tm_mon + 1, 2);
    out[7] = '-';
    digits(out + 8, (unsigned)tm.tm_mday, 2);
    out[10] = 'T';
    digits(out + 11, (unsigned)tm.tm_hour, 2);
    out[13] = ':';
    digits(out + 14, (unsigned)tm.tm_min, 2);
    out[16] = ':';
    digits(out + 17, (unsigned)tm.tm_sec, 2);
    out[19] = '.';
    digits(out + 20, (unsigned)(ns / 1000), 6);
    out[26] = 'Z';
    out[27] = '\0';
    return 27;
}

/* Every line of the text log carries a clock: the broken-down time of the
 * last second is kept, so most lines cost no gmtime/localtime call. */
void time_clock(smtp_time t, int local, char out[13], char date[11])
{
    static time_t last_sec = -1;
    static int last_local = -1;
    static struct tm tm;
    time_t sec;
    int64_t ns;
    time_split(t, &sec, &ns);
    if (sec != last_sec || local != last_local) {
        if (local)
            localtime_r(&sec, &tm);
        else
            gmtime_r(&sec, &tm);
        last_sec = sec;
        last_local = local;
    }
    digits(out, (unsigned)tm.tm_hour % 24u, 2);
    out[2] = ':';
    digits(out + 3, (unsigned)tm.tm_min % 60u, 2);
    out[5] = ':';
    digits(out + 6, (unsigned)tm.tm_sec % 61u, 2);
    out[8] = '.';
    digits(out + 9, (unsigned)(ns / 1000000) % 1000u, 3);
    out[12] = '\0';
    if (date) {
        digits(date, (unsigned)(tm.tm_year + 1900) % 10000u, 4);
        date[4] = '-';
        digits(date + 5, (unsigned)(tm.tm_mon + 1) % 13u, 2);
        date[7] = '-';
        digits(date + 8, (unsigned)tm.tm_mday % 32u, 2);
        date[10] = '\0';
    }
}

size_t time_fixed(smtp_time d, smtp_time unit, int decimals, char *out, size_t cap)
{
    /* by hand, right to left: every JSON transcript line has one or two,
     * and snprintf's format parsing cost more than the digits */
    char b[48];
    size_t i = sizeof b;
    int neg = d < 0;
    uint64_t a = neg ? (uint64_t)(-(d + 1)) + 1 : (uint64_t)d, u = (uint64_t)unit;
    uint64_t div = u / (decimals == 6 ? 1000000 : 1000);
    uint64_t frac = (a % u) / div, whole = a / u;
    for (int k = decimals == 6 ? 6 : 3; k > 0; k--, frac /= 10)
        b[--i] = (char)('0' + frac % 10);
    b[--i] = '.';
    do
        b[--i] = (char)('0' + whole % 10);
    while (whole /= 10);
    if (neg)
        b[--i] = '-';
    if (!cap)
        return 0;
    size_t n = sizeof b - i < cap ? sizeof b - i : cap - 1;
    memcpy(out, b + i, n);
    out[n] = '\0';
    return n;
}

size_t time_seconds(smtp_time d, int decimals, char *out, size_t cap)
{
    return time_fixed(d, SMTP_NS_PER_SEC, decimals, out, cap);
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
