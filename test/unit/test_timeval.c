/* test_timeval.c - durations and instants written by hand read exactly as
 * printf's. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tap.h"
#include "timeval.h"

static void reference(smtp_time d, int decimals, char *out, size_t cap)
{
    int neg = d < 0;
    uint64_t a = neg ? (uint64_t)(-(d + 1)) + 1 : (uint64_t)d;
    uint64_t frac = (a % SMTP_NS_PER_SEC) / (decimals == 6 ? 1000 : 1000000);
    snprintf(out, cap, "%s%llu.%0*llu", neg ? "-" : "",
             (unsigned long long)(a / SMTP_NS_PER_SEC), decimals == 6 ? 6 : 3,
             (unsigned long long)frac);
}

int main(void)
{
    static const smtp_time fixed[] = {0, 1, 999, 1000, 999999999, 1000000000, -1, -1000,
                                      -1000000001, INT64_MAX, INT64_MIN, 86400 * SMTP_NS_PER_SEC};
    int bad = 0, n = 0;
    uint64_t rng = 7;
    for (int i = 0; i < 20000; i++) {
        smtp_time d;
        if (i < (int)(sizeof fixed / sizeof fixed[0])) {
            d = fixed[i];
        } else {
            rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
            d = (smtp_time)(rng >> (rng & 31)) * ((rng >> 7) & 1 ? -1 : 1);
        }
        for (int dec = 3; dec <= 6; dec += 3) {
            for (size_t cap = 1; cap <= 40; cap += 13) {
                char got[48], want[48];
                memset(got, 'x', sizeof got);
                size_t len = time_seconds(d, dec, got, cap);
                reference(d, dec, want, cap);
                n++;
                if (strcmp(got, want) != 0 || len != strlen(want)) {
                    if (!bad++)
                        printf("#   %lld, %d decimals, cap %zu: \"%s\" want \"%s\"\n",
                               (long long)d, dec, cap, got, want);
                }
            }
        }
    }
    CHECK(bad == 0, "time_seconds matches snprintf on %d cases (%d differ)", n, bad);

    /* milliseconds with microsecond digits, as JSON latencies are written */
    bad = 0;
    for (int i = 0; i < 20000; i++) {
        rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
        smtp_time d = (smtp_time)(rng >> (1 + (rng & 31)));
        char got[48], want[48];
        time_fixed(d, SMTP_NS_PER_SEC / 1000, 3, got, sizeof got);
        snprintf(want, sizeof want, "%lld.%03lld", (long long)(d / 1000000),
                 (long long)(d % 1000000 / 1000));
        if (strcmp(got, want) != 0 && !bad++)
            printf("#   %lld: \"%s\" want \"%s\"\n", (long long)d, got, want);
    }
    CHECK(bad == 0, "milliseconds match snprintf on 20000 durations (%d differ)", bad);
    /* ISO 8601 instants, as JSON records start and end: every field against
     * gmtime_r and snprintf, from before 1970 to the end of int64 ns */
    bad = 0;
    for (int i = 0; i < 20000; i++) {
        rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
        smtp_time t = i == 0 ? 0 : i == 1 ? INT64_MAX : i == 2 ? INT64_MIN
                    : (smtp_time)rng >> (rng & 15);
        int64_t sec = t / SMTP_NS_PER_SEC, ns = t % SMTP_NS_PER_SEC;
        if (ns < 0) {
            ns += SMTP_NS_PER_SEC;
            sec--;
        }
        time_t ts = (time_t)sec;
        struct tm tm;
        gmtime_r(&ts, &tm);
        char got[48], want[48];
        snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, (long long)(ns / 1000));
        size_t cap = i % 3 == 0 ? 20 : sizeof got; /* cut short, too */
        if (cap < sizeof got)
            want[cap - 1] = '\0';
        size_t len = time_iso8601(t, got, cap);
        if ((strcmp(got, want) != 0 || len != strlen(want)) && !bad++)
            printf("#   %lld cap %zu: \"%s\" want \"%s\"\n", (long long)t, cap, got, want);
    }
    CHECK(bad == 0, "ISO 8601 instants match snprintf on 20000 times (%d differ)", bad);
    return tap_done();
}
