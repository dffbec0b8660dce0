/* save_messages.h - --save-messages as an observer of message content:
 * each message into the session config's save_dirfd (see save_messages.c). */
#ifndef SMTPSCOPE_SAVE_MESSAGES_H
#define SMTPSCOPE_SAVE_MESSAGES_H

#include "observer.h"

extern const struct observer save_messages_observer;

#endif
