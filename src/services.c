// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include "services.h"

/* /etc/services lines: "name port/proto [aliases] [# comment]". The first
 * name listed for a port wins, as getservbyport() does. */
struct services *services__load(const char *path, const char *proto)
{
	struct services *s;
	char line[512];
	FILE *f;

	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	f = fopen(path, "re");
	if (!f)
		return s;	/* no names is not an error */
	while (fgets(line, sizeof(line), f)) {
		char name[64], pp[32], *slash, *end;
		unsigned long port;

		if (line[0] == '#' || sscanf(line, "%63s %31s", name, pp) != 2)
			continue;
		slash = strchr(pp, '/');
		if (!slash)
			continue;
		*slash = '\0';
		port = strtoul(pp, &end, 10);
		if (*end || port == 0 || port > 65535)
			continue;
		if (!strcmp(slash + 1, "udp") && !s->udp[port])
			s->udp[port] = strdup(name);
		if (!strcmp(slash + 1, proto) && !s->names[port])
			s->names[port] = strdup(name);
	}
	fclose(f);
	return s;
}

const char *services__name(const struct services *s, uint16_t port)
{
	return s ? s->names[port] : NULL;
}

const char *services__lookup(const struct services *s, uint16_t port, int ipproto)
{
	if (!s)
		return NULL;
	return ipproto == IPPROTO_UDP ? s->udp[port] : s->names[port];
}

void services__free(struct services *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < 65536; i++) {
		free(s->names[i]);
		free(s->udp[i]);
	}
	free(s);
}
