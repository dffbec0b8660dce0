/* test_engine_sinks.c - the engine's sink list grows: every sink added
 * gets the end of the run, however many there are (a fifth one was once
 * dropped without a word). */
#include <string.h>

#include "engine.h"
#include "tap.h"

#define NSINKS 9

struct counting_sink {
    struct sink base;
    int finished;
};

static void count_session(struct sink *s, const struct session *ss)
{
    (void)s;
    (void)ss;
}

static void count_finish(struct sink *s)
{
    ((struct counting_sink *)s)->finished++;
}

int main(void)
{
    static struct engine e;
    struct engine_config cfg;
    char err[256];
    engine_config_defaults(&cfg);
    cfg.max_streams = 64;
    if (!CHECK(engine_init(&e, &cfg, err, sizeof err) == 0, "engine_init: %s", err))
        return tap_done();
    struct counting_sink sinks[NSINKS];
    memset(sinks, 0, sizeof sinks);
    int added = 0;
    for (int i = 0; i < NSINKS; i++) {
        sinks[i].base.session = count_session;
        sinks[i].base.finish = count_finish;
        added += engine_add_sink(&e, &sinks[i].base) == 0;
    }
    CHECK(added == NSINKS, "%d sinks added, %d taken", NSINKS, added);
    engine_finish(&e);
    for (int i = 0; i < NSINKS; i++)
        CHECK(sinks[i].finished == 1, "sink %d finished once (%d times)", i + 1,
              sinks[i].finished);
    CHECK(e.nsinks == 0 && e.sinks == NULL, "engine_finish lets go of the list");
    return tap_done();
}
