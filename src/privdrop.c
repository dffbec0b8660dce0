/* privdrop.c - see privdrop.h. */
#define _GNU_SOURCE /* chroot */
#include "privdrop.h"

#include <errno.h>
#include <stdbool.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

int privdrop(const char *user, const char *jail_dir)
{
    if (geteuid() != 0)
        return 0;
    struct passwd *pw = getpwnam(user);
    if (!pw) {
        fprintf(stderr, "smtpscope: -Z %s: no such user\n", user);
        return -1;
    }
    /* Jail: an empty directory that no longer exists. The device and the
     * output are already open; nothing else is needed from the file system
     * (the time zone is loaded first). */
    tzset();
    char jail[] = "/tmp/smtpscope-jail.XXXXXX";
    bool entered = jail_dir ? chdir(jail_dir) == 0
                            : mkdtemp(jail) && chdir(jail) == 0 && rmdir(jail) == 0;
    if (!entered || chroot(".") < 0 || chdir("/") < 0) {
        fprintf(stderr, "smtpscope: -Z %s: cannot chroot: %s\n", user,
                strerror(errno));
        return -1;
    }
    if (setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 ||
        setuid(pw->pw_uid) < 0) {
        fprintf(stderr, "smtpscope: -Z %s: cannot switch user: %s\n", user,
                strerror(errno));
        return -1;
    }
    if (pw->pw_uid != 0 && (setuid(0) == 0 || geteuid() == 0)) {
        fprintf(stderr, "smtpscope: -Z %s: root privileges could be regained\n",
                user);
        return -1;
    }
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    return 0;
}
