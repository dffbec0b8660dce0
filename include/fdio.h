/* fdio.h - whole reads and writes on pipes (the worker and --compare
 * frames), EINTR retried. */
#ifndef SMTPSCOPE_FDIO_H
#define SMTPSCOPE_FDIO_H

#include <stdbool.h>
#include <stddef.h>

/* All n bytes written: true; false when the other end is gone. */
bool fd_write_all(int fd, const void *p, size_t n);
/* All n bytes read: 1; 0 at the end of the stream before the first byte;
 * -1 on an error or an end in the middle. */
int fd_read_all(int fd, void *p, size_t n);

#endif
