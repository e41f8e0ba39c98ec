// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "sink.h"

enum service_side sink__service(const struct services *svc, const struct event *ev,
				const char **name)
{
	const char *l = ev->lport ? services__name(svc, ev->lport) : NULL;
	const char *r = ev->rport ? services__name(svc, ev->rport) : NULL;

	*name = NULL;
	switch (ev->role) {
	case ST_ROLE_CLIENT:
		l = NULL;
		break;
	case ST_ROLE_SERVER:
	case ST_ROLE_LISTENER:
		r = NULL;
		break;
	default:
		if (l && r) {
			if (ev->lport < ev->rport)
				r = NULL;
			else
				l = NULL;
		}
	}
	if (l) {
		*name = l;
		return SERVICE_LOCAL;
	}
	if (r) {
		*name = r;
		return SERVICE_REMOTE;
	}
	return SERVICE_NONE;
}
