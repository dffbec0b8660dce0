/* privdrop.h - giving up root once the capture device is open. */
#ifndef SMTPSCOPE_PRIVDROP_H
#define SMTPSCOPE_PRIVDROP_H

/* When running as root: confine the process to an empty, already deleted
 * directory (chroot), switch to `user` (its uid, gid, no supplementary
 * groups) and forbid regaining privileges (PR_SET_NO_NEW_PRIVS). Does
 * nothing for an unprivileged process. Returns 0, or -1 with a message on
 * stderr (the caller must stop: never go on as root by accident).
 * `jail`, when not NULL, is the directory to confine the process to
 * instead (--log-dir: the only place it still writes). */
int privdrop(const char *user, const char *jail);

#endif
