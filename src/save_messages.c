/* save_messages.c - --save-messages: every message's content as a file.
 *
 * An observer of message content (observer.h). Each message goes to
 * DIR/<session id>-<n>.eml, created anew (never over an existing file,
 * never through a link), mode 0600, cut at save_max bytes; its name is
 * kept with the transaction and noted in the transcript. The session model
 * itself does no file I/O.
 */
#include "save_messages.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "session.h"

enum save_state { SAVE_IDLE = 0, SAVE_WRITING, SAVE_FAILED };

struct message_save {
    int fd;
    uint8_t state;  /* enum save_state of the message in transfer */
    bool cut;       /* longer than save_max: the rest not saved */
    uint64_t bytes;
    char name[32];
};

static bool save_open(struct session *s, struct message_save *m)
{
    snprintf(m->name, sizeof m->name, "%08x-%u.eml", s->id, s->ntxn ? s->ntxn : 1);
    m->fd = openat(s->cfg->save_dirfd, m->name,
                   O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    m->bytes = 0;
    m->cut = false;
    if (m->fd < 0) {
        session_note(s, s->last_activity, "message not saved: %s/%s: %s",
                     s->cfg->save_dir, m->name, strerror(errno));
        m->state = SAVE_FAILED; /* not again for this message */
        return false;
    }
    m->state = SAVE_WRITING;
    return true;
}

static void save_data(void *ctx, struct session *s, void *state, const char *data,
                      size_t n)
{
    struct message_save *m = state;
    (void)ctx;
    if (m->state == SAVE_FAILED || (m->state == SAVE_IDLE && !save_open(s, m)))
        return;
    uint64_t room = s->cfg->save_max - m->bytes;
    if (n > room) {
        n = (size_t)room;
        m->cut = true;
    }
    while (n) {
        ssize_t w = write(m->fd, data, n);
        if (w <= 0) {
            m->cut = true;
            return;
        }
        data += w;
        n -= (size_t)w;
        m->bytes += (uint64_t)w;
    }
}

/* The message ended (or the connection did): its file is complete. */
static void save_close(void *ctx, struct session *s, void *state,
                       const struct smtp_body_end *b)
{
    struct message_save *m = state;
    (void)ctx;
    bool writing = m->state == SAVE_WRITING;
    m->state = SAVE_IDLE;
    if (!writing)
        return;
    close(m->fd);
    char path[PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/%s", s->cfg->save_dir, m->name);
    if (n < 0 || (size_t)n >= sizeof path)
        return;
    if (s->ntxn)
        s->txns[s->ntxn - 1].saved_as = session_keep_str(s, path, (size_t)n);
    session_note(s, b->ts_last, "message saved as %s (%llu bytes%s)", path,
                 (unsigned long long)m->bytes,
                 m->cut ? ", cut at the --save-max limit" : "");
}

static void save_release(void *ctx, struct session *s, void *state)
{
    struct message_save *m = state;
    (void)ctx;
    (void)s;
    if (m->state == SAVE_WRITING)
        close(m->fd);
    m->state = SAVE_IDLE;
}

const struct observer save_messages_observer = {
    .name = "save-messages",
    .state_size = sizeof(struct message_save),
    .body_data = save_data,
    .body_end = save_close,
    .release = save_release,
};
