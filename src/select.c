/* select.c - --only and --phase (see select.h). */
#include "select.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const verdict_words[VERDICT__COUNT] = {
    [VERDICT_OK] = "ok",         [VERDICT_FAILED] = "failed",
    [VERDICT_INCOMPLETE] = "incomplete", [VERDICT_ENCRYPTED] = "encrypted",
    [VERDICT_NOT_SMTP] = "not-smtp",     [VERDICT_PARTIAL] = "partial",
};

const char *select_verdict_word(enum verdict v)
{
    return (unsigned)v < VERDICT__COUNT ? verdict_words[v] : "incomplete";
}

/* Each comma-separated word of list through `find` (its index, or -1)
 * into *bits. */
static int parse_list(const char *list, int (*find)(const char *w, size_t n),
                      uint32_t *bits, const char *what, char *err, size_t errlen)
{
    uint32_t set = 0;
    const char *p = list;
    do {
        size_t n = strcspn(p, ",");
        int i = n ? find(p, n) : -1;
        if (i < 0) {
            snprintf(err, errlen, "unknown %s '%.*s'", what, (int)(n > 40 ? 40 : n), p);
            return -1;
        }
        set |= 1u << i;
        p += n;
    } while (*p++ == ',');
    *bits = set;
    return 0;
}

static int find_verdict(const char *w, size_t n)
{
    for (int v = 0; v < VERDICT__COUNT; v++)
        if (strlen(verdict_words[v]) == n && strncasecmp(w, verdict_words[v], n) == 0)
            return v;
    return -1;
}

static int find_phase(const char *w, size_t n)
{
    for (int p = PHASE_CONNECT; p < PHASE__COUNT; p++) {
        const char *name = phase_name((enum smtp_phase)p);
        if (strlen(name) == n && strncasecmp(w, name, n) == 0)
            return p;
    }
    return -1;
}

int select_parse_verdicts(struct session_select *sel, const char *list,
                          char *err, size_t errlen)
{
    return parse_list(list, find_verdict, &sel->verdicts, "verdict", err, errlen);
}

int select_parse_phases(struct session_select *sel, const char *list,
                        char *err, size_t errlen)
{
    return parse_list(list, find_phase, &sel->phases, "phase", err, errlen);
}

bool select_match(const struct session_select *sel, const struct session *s)
{
    if (sel->verdicts && !(sel->verdicts & (1u << s->verdict)))
        return false;
    /* a failed session's phase is where it failed (its failure.phase in
     * JSON: RCPT for a refused recipient, even if QUIT followed); any other
     * session's is the phase it ended in */
    bool failed = s->verdict == VERDICT_FAILED || s->verdict == VERDICT_PARTIAL;
    enum smtp_phase ph = failed ? s->failure.phase : s->end_phase;
    return !sel->phases || (sel->phases & (1u << ph));
}
