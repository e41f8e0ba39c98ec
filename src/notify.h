/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* systemd's service manager: readiness and reload notifications
 * (sd_notify(3)'s protocol), and journald's priorities on stderr. */
#ifndef ST_NOTIFY_H
#define ST_NOTIFY_H

#include <stdbool.h>

/* Whether a service manager waits for our notifications ($NOTIFY_SOCKET). */
bool notify__enabled(void);
/* Sends one notification, e.g. "READY=1": 0 or -errno (-ENOTCONN without
 * $NOTIFY_SOCKET). */
int notify__send(const char *state);
/* Whether stderr is a stream to the journal ($JOURNAL_STREAM names it). */
bool notify__stderr_is_journal(void);

#endif /* ST_NOTIFY_H */
