/*
 * libFuzzer harness for the DNS parser (src/core/dns.c): the bytes a
 * packet socket hands us come from the network, so any of them may be
 * hostile. Each input is parsed twice: as a network-layer packet
 * (IPv4/IPv6 + UDP + DNS) and as a bare DNS message, and what a successful
 * parse returns is checked against the parser's promises. Seeds in
 * fuzz/corpus/fuzz_dns were written by tests/unit/test_dns_parse.c
 * (RW_DNS_CORPUS=fuzz/corpus/fuzz_dns).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/dns.h"

static void check(int rc, const struct dns_answer *a)
{
	size_t n;

	if (rc != 0 && rc != -EBADMSG && rc != -ENOMSG && rc != -EMSGSIZE)
		abort();
	if (rc != 0)
		return;
	n = strnlen(a->qname, sizeof(a->qname));
	if (n == 0 || n == sizeof(a->qname))
		abort();	/* a name always, NUL-terminated inside the buffer */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)a->qname[i] <= 0x20 || (unsigned char)a->qname[i] >= 0x7f)
			abort();	/* escaped to printable ASCII */
	if (a->n_addrs > DNS_MAX_ADDRS)
		abort();
	for (unsigned i = 0; i < a->n_addrs; i++)
		if (a->addrs[i].family != AF_INET && a->addrs[i].family != AF_INET6)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dns_answer a;
	/* a copy of exactly size bytes, so that ASan sees any read past it */
	uint8_t *buf = malloc(size ? size : 1);

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	check(dns__parse(buf, size, &a), &a);
	check(dns__parse_msg(buf, size, &a), &a);
	free(buf);
	return 0;
}
