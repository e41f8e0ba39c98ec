// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* libFuzzer target for the DNS answer parser (c-ares' reply parsers, as
 * dnsnames.c calls them) and the name table behind it: any bytes, as the
 * kernel side captures them, must give an answer or -EBADMSG without a
 * crash, a hang or a sanitizer report. Seeds: tests/fuzz/dns-seeds, real
 * answers of dnsmasq. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "dnsnames.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct event ev;
	struct dns_answer a;
	struct dnsnames *d;
	int n;

	if (dnsnames__parse(data, size, &a) == 0) {
		if (a.n_addrs < 0 || a.n_addrs > DNSNAMES_MAX_ADDRS ||
		    strlen(a.qname) > EVENT_NAME_MAX || strlen(a.canonical) > EVENT_NAME_MAX)
			abort();
	}
	/* the table, small enough to evict */
	d = dnsnames__new(4);
	if (!d)
		return 0;
	memset(&ev, 0, sizeof(ev));
	ev.kind = EVENT_DNS_ANSWER;
	ev.netns = 1;
	ev.dns_caplen = size < ST_DNS_CAP ? size : ST_DNS_CAP;
	/* longer than the capture: the records that came whole are parsed */
	ev.dns_len = size < 0xffff ? size : 0xffff;
	memcpy(ev.dns, data, ev.dns_caplen);
	/* the first byte picks the transport: over TCP a 2-byte length comes first */
	ev.proto = size && (data[0] & 1) ? IPPROTO_TCP : IPPROTO_UDP;
	n = dnsnames__learn(d, &ev);
	if (n > 0) {
		ev.kind = EVENT_TCP_STATE;
		ev.family = AF_INET;
		(void)dnsnames__name(d, &ev);
	}
	dnsnames__free(d);
	return 0;
}
