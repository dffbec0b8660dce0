/* path_observer.h - the TCP path's findings, judged when a session ends.
 *
 * The engine hands each session its connection's path counts (s->tcp,
 * tcp_path.h); this observer says what stands out: lossy-path (more than
 * 3 % of the segments retransmitted) and zero-window.
 */
#ifndef SMTPSCOPE_PATH_OBSERVER_H
#define SMTPSCOPE_PATH_OBSERVER_H

#include "observer.h"

extern const struct observer path_observer;

#endif
