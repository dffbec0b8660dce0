/* tap.h - the smallest test harness that can fail.
 *
 * CHECK(cond, fmt, ...) prints "ok - ..." or "not ok - ..." (the format of
 * every test in this project, counted by test/run.sh); tap_done() prints the
 * tally and gives the exit status.
 */
#ifndef SMTPSCOPE_TAP_H
#define SMTPSCOPE_TAP_H

#include <stdarg.h>
#include <stdio.h>

static unsigned tap_passed, tap_failed;

__attribute__((format(printf, 2, 3))) static int tap_check(int cond,
                                                           const char *fmt, ...)
{
    va_list ap;
    printf(cond ? "ok - " : "not ok - ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    if (cond)
        tap_passed++;
    else
        tap_failed++;
    return cond;
}

#define CHECK(cond, ...) tap_check(!!(cond), __VA_ARGS__)

static int tap_done(void)
{
    printf("# %u passed, %u failed\n", tap_passed, tap_failed);
    return tap_failed ? 1 : 0;
}

#endif
