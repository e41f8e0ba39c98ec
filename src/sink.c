// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "sink.h"

enum service_side sink__service(const struct services *svc, const struct event *ev,
				const char **name)
{
	bool udp = ev->proto == IPPROTO_UDP;
	const char *l = ev->lport ? services__lookup(svc, ev->lport, ev->proto) : NULL;
	const char *r = ev->rport ? services__lookup(svc, ev->rport, ev->proto) : NULL;

	*name = NULL;
	/* UDP has no client or server: the ports alone decide */
	switch (udp ? ST_ROLE_UNKNOWN : ev->role) {
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
