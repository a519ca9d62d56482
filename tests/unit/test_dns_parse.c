/*
 * The DNS parser (src/core/dns.c) on packets built byte by byte here:
 * valid answers (A, AAAA, CNAME chains in any order, compression), and
 * hostile ones (pointer loops, forward pointers, truncation at every
 * length, label and name overflows, bad IP/UDP headers). Also the
 * address -> name cache (TTL clamps, LRU eviction).
 *
 * With RW_DNS_CORPUS=<dir> set, every packet built is also written there
 * as a seed for fuzz/fuzz_dns.c (that is how fuzz/corpus/fuzz_dns was made).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/dns.h"

/* ---- building packets --------------------------------------------------- */

struct pkt {
	uint8_t b[8192];
	size_t n;
};

static void put8(struct pkt *p, unsigned v)
{
	assert_true(p->n < sizeof(p->b));
	p->b[p->n++] = (uint8_t)v;
}

static void put16(struct pkt *p, unsigned v)
{
	put8(p, v >> 8);
	put8(p, v & 0xff);
}

static void put32(struct pkt *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p, v & 0xffff);
}

static void putn(struct pkt *p, const void *d, size_t n)
{
	assert_true(p->n + n <= sizeof(p->b));
	memcpy(p->b + p->n, d, n);
	p->n += n;
}

/* "www.example.com" as labels, ending with the root label. */
static void put_name(struct pkt *p, const char *dotted)
{
	while (*dotted) {
		const char *dot = strchr(dotted, '.');
		size_t l = dot ? (size_t)(dot - dotted) : strlen(dotted);

		put8(p, (unsigned)l);
		putn(p, dotted, l);
		dotted += l + (dot ? 1 : 0);
	}
	put8(p, 0);
}

static void put_ptr(struct pkt *p, unsigned off)
{
	put16(p, 0xc000 | off);
}

#define QR_RD_RA	0x8180

static void header(struct pkt *p, unsigned id, unsigned flags, unsigned qd, unsigned an)
{
	p->n = 0;
	put16(p, id);
	put16(p, flags);
	put16(p, qd);
	put16(p, an);
	put16(p, 0);
	put16(p, 0);
}

static void question(struct pkt *p, const char *name, unsigned type)
{
	put_name(p, name);
	put16(p, type);
	put16(p, 1);
}

/* The fixed part of a record after its owner name. */
static void rr_fixed(struct pkt *p, unsigned type, uint32_t ttl, unsigned rdlen)
{
	put16(p, type);
	put16(p, 1);
	put32(p, ttl);
	put16(p, rdlen);
}

static void rr_a(struct pkt *p, const char *ip, uint32_t ttl)
{
	uint8_t a[4];

	assert_int_equal(inet_pton(AF_INET, ip, a), 1);
	rr_fixed(p, 1, ttl, 4);
	putn(p, a, 4);
}

static void rr_aaaa(struct pkt *p, const char *ip, uint32_t ttl)
{
	uint8_t a[16];

	assert_int_equal(inet_pton(AF_INET6, ip, a), 1);
	rr_fixed(p, 28, ttl, 16);
	putn(p, a, 16);
}

static void rr_cname(struct pkt *p, const char *target, uint32_t ttl)
{
	struct pkt t = { .n = 0 };

	put_name(&t, target);
	rr_fixed(p, 5, ttl, (unsigned)t.n);
	putn(p, t.b, t.n);
}

static int seed_no;

/* Write the packet as a fuzz seed when RW_DNS_CORPUS is set. */
static void seed(const struct pkt *p, const char *tag)
{
	const char *dir = getenv("RW_DNS_CORPUS");
	char path[512];
	int fd;

	if (!dir)
		return;
	snprintf(path, sizeof(path), "%s/%02d-%s.bin", dir, seed_no++, tag);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, p->b, p->n), (ssize_t)p->n);
	close(fd);
}

/* msg wrapped in IPv4 + UDP from src:53 to dst:dport. */
static void wrap4(struct pkt *out, const struct pkt *msg, const char *src, const char *dst,
		  unsigned sport, unsigned dport)
{
	uint8_t a[4];

	out->n = 0;
	put8(out, 0x45);
	put8(out, 0);
	put16(out, (unsigned)(20 + 8 + msg->n));
	put16(out, 0x1234);
	put16(out, 0x4000);	/* DF */
	put8(out, 64);
	put8(out, 17);
	put16(out, 0);		/* checksum: not checked by the parser */
	assert_int_equal(inet_pton(AF_INET, src, a), 1);
	putn(out, a, 4);
	assert_int_equal(inet_pton(AF_INET, dst, a), 1);
	putn(out, a, 4);
	put16(out, sport);
	put16(out, dport);
	put16(out, (unsigned)(8 + msg->n));
	put16(out, 0);
	putn(out, msg->b, msg->n);
}

static void wrap6(struct pkt *out, const struct pkt *msg, const char *src, const char *dst,
		  unsigned sport, unsigned dport)
{
	uint8_t a[16];

	out->n = 0;
	put32(out, 0x60000000);
	put16(out, (unsigned)(8 + msg->n));
	put8(out, 17);
	put8(out, 64);
	assert_int_equal(inet_pton(AF_INET6, src, a), 1);
	putn(out, a, 16);
	assert_int_equal(inet_pton(AF_INET6, dst, a), 1);
	putn(out, a, 16);
	put16(out, sport);
	put16(out, dport);
	put16(out, (unsigned)(8 + msg->n));
	put16(out, 0);
	putn(out, msg->b, msg->n);
}

static struct dns_answer ans;

static void assert_addr(const struct dns_addr *a, int family, const char *ip, uint32_t ttl)
{
	char buf[INET6_ADDRSTRLEN];

	assert_int_equal(a->family, family);
	assert_non_null(inet_ntop(family, a->addr, buf, sizeof(buf)));
	assert_string_equal(buf, ip);
	assert_int_equal(a->ttl, ttl);
}

/* ---- valid answers ------------------------------------------------------ */

static void test_a_compressed(void **state)
{
	struct pkt m, p;
	char ip[INET_ADDRSTRLEN];

	header(&m, 0xbeef, QR_RD_RA, 1, 2);
	question(&m, "WWW.Example.COM", 1);
	put_ptr(&m, 12);
	rr_a(&m, "93.184.216.34", 300);
	put_ptr(&m, 12);
	rr_a(&m, "93.184.216.35", 7);
	wrap4(&p, &m, "10.0.0.53", "10.0.0.7", 53, 40000);
	seed(&p, "ipv4-a-compressed");

	assert_int_equal(dns__parse(p.b, p.n, &ans), 0);
	assert_int_equal(ans.ip_family, AF_INET);
	inet_ntop(AF_INET, ans.src, ip, sizeof(ip));
	assert_string_equal(ip, "10.0.0.53");
	inet_ntop(AF_INET, ans.dst, ip, sizeof(ip));
	assert_string_equal(ip, "10.0.0.7");
	assert_int_equal(ans.sport, 53);
	assert_int_equal(ans.dport, 40000);
	assert_int_equal(ans.id, 0xbeef);
	assert_int_equal(ans.rcode, 0);
	assert_int_equal(ans.qtype, 1);
	assert_int_equal(ans.qclass, 1);
	assert_string_equal(ans.qname, "www.example.com");
	assert_int_equal(ans.n_addrs, 2);
	assert_int_equal(ans.n_addrs_dropped, 0);
	assert_addr(&ans.addrs[0], AF_INET, "93.184.216.34", 300);
	assert_addr(&ans.addrs[1], AF_INET, "93.184.216.35", 7);
}

static void test_aaaa_ipv6(void **state)
{
	struct pkt m, p;
	char ip[INET6_ADDRSTRLEN];

	header(&m, 7, QR_RD_RA, 1, 1);
	question(&m, "v6.example.net", 28);
	put_ptr(&m, 12);
	rr_aaaa(&m, "2001:db8::1", 60);
	wrap6(&p, &m, "2001:db8::53", "2001:db8::7", 53, 5555);
	seed(&p, "ipv6-aaaa");

	assert_int_equal(dns__parse(p.b, p.n, &ans), 0);
	assert_int_equal(ans.ip_family, AF_INET6);
	inet_ntop(AF_INET6, ans.src, ip, sizeof(ip));
	assert_string_equal(ip, "2001:db8::53");
	inet_ntop(AF_INET6, ans.dst, ip, sizeof(ip));
	assert_string_equal(ip, "2001:db8::7");
	assert_int_equal(ans.dport, 5555);
	assert_int_equal(ans.qtype, 28);
	assert_string_equal(ans.qname, "v6.example.net");
	assert_int_equal(ans.n_addrs, 1);
	assert_addr(&ans.addrs[0], AF_INET6, "2001:db8::1", 60);
}

/* A CDN-style answer: the chain's records out of order, an unrelated A
 * record that must not be attributed to the question, and an EDNS OPT
 * record in the additional section (not parsed, not an error). */
static void test_cname_chain(void **state)
{
	struct pkt m, p;

	header(&m, 1, QR_RD_RA, 1, 5);
	m.b[11] = 1;	/* arcount */
	question(&m, "shop.example.org", 1);
	put_name(&m, "edge.cdn.example");
	rr_a(&m, "198.51.100.10", 20);
	put_name(&m, "alias.example.org");
	rr_cname(&m, "edge.cdn.example", 300);
	put_ptr(&m, 12);
	rr_cname(&m, "alias.example.org", 300);
	put_name(&m, "unrelated.example");
	rr_a(&m, "203.0.113.66", 20);
	put_name(&m, "edge.cdn.example");
	rr_a(&m, "198.51.100.11", 20);
	put8(&m, 0);		/* OPT: root owner, type 41 */
	put16(&m, 41);
	put16(&m, 1232);
	put32(&m, 0);
	put16(&m, 0);
	wrap4(&p, &m, "192.0.2.53", "192.0.2.7", 53, 33333);
	seed(&p, "ipv4-cname-chain-edns");

	assert_int_equal(dns__parse(p.b, p.n, &ans), 0);
	assert_string_equal(ans.qname, "shop.example.org");
	assert_int_equal(ans.n_addrs, 2);
	assert_addr(&ans.addrs[0], AF_INET, "198.51.100.10", 20);
	assert_addr(&ans.addrs[1], AF_INET, "198.51.100.11", 20);
}

static void test_cname_loop(void **state)
{
	struct pkt m;

	header(&m, 1, QR_RD_RA, 1, 3);
	question(&m, "a.example", 1);
	put_name(&m, "a.example");
	rr_cname(&m, "b.example", 5);
	put_name(&m, "b.example");
	rr_cname(&m, "a.example", 5);
	put_name(&m, "b.example");
	rr_a(&m, "192.0.2.1", 5);
	seed(&m, "msg-cname-loop");

	assert_int_equal(dns__parse_msg(m.b, m.n, &ans), 0);
	assert_int_equal(ans.n_addrs, 1);
	assert_addr(&ans.addrs[0], AF_INET, "192.0.2.1", 5);
}

static void test_nxdomain(void **state)
{
	struct pkt m, p;

	header(&m, 9, 0x8183, 1, 0);
	question(&m, "nope.example", 1);
	wrap4(&p, &m, "10.0.0.53", "10.0.0.7", 53, 1234);
	seed(&p, "ipv4-nxdomain");
	assert_int_equal(dns__parse(p.b, p.n, &ans), 0);
	assert_int_equal(ans.rcode, 3);
	assert_int_equal(ans.n_addrs, 0);
	assert_string_equal(ans.qname, "nope.example");
}

static void test_too_many_addrs(void **state)
{
	struct pkt m;
	char ip[32];

	header(&m, 1, QR_RD_RA, 1, DNS_MAX_ADDRS + 8);
	question(&m, "many.example", 1);
	for (int i = 0; i < DNS_MAX_ADDRS + 8; i++) {
		put_ptr(&m, 12);
		snprintf(ip, sizeof(ip), "10.1.0.%d", i);
		rr_a(&m, ip, 60);
	}
	seed(&m, "msg-many-addrs");
	assert_int_equal(dns__parse_msg(m.b, m.n, &ans), 0);
	assert_int_equal(ans.n_addrs, DNS_MAX_ADDRS);
	assert_int_equal(ans.n_addrs_dropped, 8);
	assert_addr(&ans.addrs[DNS_MAX_ADDRS - 1], AF_INET, "10.1.0.31", 60);
}

/* Bytes that could be mistaken for structure come out escaped. */
static void test_name_escaping(void **state)
{
	static const uint8_t label[] = { 'A', '.', 'b', '\\', 'c', 0x00, 0xff, ' ', '"' };
	struct pkt m;

	header(&m, 1, QR_RD_RA, 1, 0);
	put8(&m, sizeof(label));
	putn(&m, label, sizeof(label));
	put_name(&m, "example");
	put16(&m, 1);
	put16(&m, 1);
	seed(&m, "msg-escaping");
	assert_int_equal(dns__parse_msg(m.b, m.n, &ans), 0);
	assert_string_equal(ans.qname, "a\\.b\\\\c\\000\\255\\032\".example");
}

static void test_root_name(void **state)
{
	struct pkt m;

	header(&m, 1, QR_RD_RA, 1, 0);
	question(&m, "", 2);
	assert_int_equal(dns__parse_msg(m.b, m.n, &ans), 0);
	assert_string_equal(ans.qname, ".");
}

/* ---- hostile messages --------------------------------------------------- */

static void test_pointer_to_itself(void **state)
{
	struct pkt m;

	header(&m, 1, QR_RD_RA, 1, 1);
	question(&m, "x.example", 1);
	put_ptr(&m, (unsigned)m.n);	/* points at its own offset */
	rr_a(&m, "192.0.2.1", 5);
	seed(&m, "msg-ptr-self");
	assert_int_equal(dns__parse_msg(m.b, m.n, &ans), -EBADMSG);
}

static void test_pointer_forward(void **state)
{
	struct pkt m;

	header(&m, 1, QR_RD_RA, 1, 1);
	question(&m, "x.example", 1);
	put_ptr(&m, (unsigned)m.n + 2);	/* to the bytes just after it */
	rr_a(&m, "192.0.2.1", 5);
	assert_int_equal(dns__parse_msg(m.b, m.n, &ans), -EBADMSG);
}

/* A label followed by a pointer back to that label: every jump is
 * backwards, yet the name never ends. */
static void test_pointer_loop_through_label(void **state)
{
	struct pkt m;
	unsigned at;

	header(&m, 1, QR_RD_RA, 1, 1);
	question(&m, "x.example", 1);
	at = (unsigned)m.n;
	put8(&m, 1);
	put8(&m, 'a');
	put_ptr(&m, at);
	rr_a(&m, "192.0.2.1", 5);
	seed(&m, "msg-ptr-loop-label");
	assert_int_equal(dns__parse_msg(m.b, m.n, &ans), -EBADMSG);
}

/* A message whose A record's owner name takes `jumps` compression
 * pointers to reach the question name "x" at offset 12: the pointers sit
 * in the rdata of a record of unknown type, each pointing at the one
 * before it. */
static void pointer_chain(struct pkt *m, int jumps)
{
	int k = jumps - 2;	/* owner -> last, k links, first -> 12 */

	header(m, 1, QR_RD_RA, 1, 2);
	question(m, "x", 1);
	put_ptr(m, 12);
	rr_fixed(m, 99, 0, (unsigned)(2 * (k + 1)));
	put_ptr(m, 12);
	for (int i = 0; i < k; i++)
		put_ptr(m, (unsigned)m->n - 2);
	put_ptr(m, (unsigned)m->n - 2);	/* the A record's owner */
	rr_a(m, "192.0.2.1", 5);
}

static void test_pointer_chain_limit(void **state)
{
	struct pkt m;

	pointer_chain(&m, DNS_MAX_PTRS);
	assert_int_equal(dns__parse_msg(m.b, m.n, &ans), 0);
	assert_int_equal(ans.n_addrs, 1);
	assert_addr(&ans.addrs[0], AF_INET, "192.0.2.1", 5);

	pointer_chain(&m, DNS_MAX_PTRS + 1);
	seed(&m, "msg-ptr-chain-long");
	assert_int_equal(dns__parse_msg(m.b, m.n, &ans), -EBADMSG);
}

/* Cutting a valid answer anywhere before its end never parses. */
static void test_truncated_everywhere(void **state)
{
	struct pkt m, p;

	header(&m, 1, QR_RD_RA, 1, 2);
	question(&m, "t.example.com", 1);
	put_ptr(&m, 12);
	rr_cname(&m, "u.example.com", 5);
	put_name(&m, "u.example.com");
	rr_a(&m, "192.0.2.9", 5);
	assert_int_equal(dns__parse_msg(m.b, m.n, &ans), 0);
	assert_int_equal(ans.n_addrs, 1);
	for (size_t n = 0; n < m.n; n++) {
		int rc = dns__parse_msg(m.b, n, &ans);

		if (rc != -EBADMSG) {
			fprintf(stderr, "truncated at %zu of %zu: rc %d\n", n, m.n, rc);
			fail();
		}
	}
	/* and at the IP/UDP layer: a capture shorter than the headers say */
	wrap4(&p, &m, "10.0.0.53", "10.0.0.7", 53, 1000);
	seed(&p, "ipv4-cname-short");
	assert_int_equal(dns__parse(p.b, p.n, &ans), 0);
	for (size_t n = 0; n < p.n; n++)
		assert_int_equal(dns__parse(p.b, n, &ans), -EBADMSG);
}

static void test_rdata_past_end(void **state)
{
	struct pkt m;

	header(&m, 1, QR_RD_RA, 1, 1);
	question(&m, "x.example", 1);
	put_ptr(&m, 12);
	rr_fixed(&m, 1, 5, 400);	/* rdlen far past the end */
	putn(&m, "\x01\x02\x03\x04", 4);
	seed(&m, "msg-rdlen-past-end");
	assert_int_equal(dns__parse_msg(m.b, m.n, &ans), -EBADMSG);
}

static void test_bad_address_length(void **state)
{
	struct pkt m;

	header(&m, 1, QR_RD_RA, 1, 1);
	question(&m, "x.example", 1);
	put_ptr(&m, 12);
	rr_fixed(&m, 1, 5, 5);
	putn(&m, "\x01\x02\x03\x04\x05", 5);
	assert_int_equal(dns__parse_msg(m.b, m.n, &ans), -EBADMSG);

	header(&m, 1, QR_RD_RA, 1, 1);
	question(&m, "x.example", 28);
	put_ptr(&m, 12);
	rr_fixed(&m, 28, 5, 4);
	putn(&m, "\x01\x02\x03\x04", 4);
	assert_int_equal(dns__parse_msg(m.b, m.n, &ans), -EBADMSG);
}

static void test_cname_rdata_mismatch(void **state)
{
	struct pkt m;

	header(&m, 1, QR_RD_RA, 1, 1);
	question(&m, "x.example", 1);
	put_ptr(&m, 12);
	rr_fixed(&m, 5, 5, 6);		/* rdata 6 bytes, name is 3 */
	put8(&m, 1);
	put8(&m, 'y');
	put8(&m, 0);
	putn(&m, "\0\0\0", 3);
	assert_int_equal(dns__parse_msg(m.b, m.n, &ans), -EBADMSG);
}

static void test_label_overflow(void **state)
{
	struct pkt m;
	char big[64];

	/* a length byte of 64 is label type 01: not a length */
	header(&m, 1, QR_RD_RA, 1, 0);
	put8(&m, 64);
	memset(big, 'a', 64);
	putn(&m, big, 64);
	put8(&m, 0);
	put16(&m, 1);
	put16(&m, 1);
	seed(&m, "msg-label-64");
	assert_int_equal(dns__parse_msg(m.b, m.n, &ans), -EBADMSG);

	/* 0x80: label type 10 */
	header(&m, 1, QR_RD_RA, 1, 0);
	put8(&m, 0x80);
	put8(&m, 0);
	put16(&m, 1);
	put16(&m, 1);
	assert_int_equal(dns__parse_msg(m.b, m.n, &ans), -EBADMSG);

	/* 255 octets in all: the longest legal name */
	header(&m, 1, QR_RD_RA, 1, 0);
	memset(big, 'b', 63);
	for (int i = 0; i < 3; i++) {
		put8(&m, 63);
		putn(&m, big, 63);
	}
	put8(&m, 61);
	putn(&m, big, 61);
	put8(&m, 0);
	put16(&m, 1);
	put16(&m, 1);
	seed(&m, "msg-name-255");
	assert_int_equal(dns__parse_msg(m.b, m.n, &ans), 0);
	assert_int_equal(strlen(ans.qname), 3 * 64 + 61);

	/* 256 octets: one too many */
	header(&m, 1, QR_RD_RA, 1, 0);
	for (int i = 0; i < 3; i++) {
		put8(&m, 63);
		putn(&m, big, 63);
	}
	put8(&m, 62);
	putn(&m, big, 62);
	put8(&m, 0);
	put16(&m, 1);
	put16(&m, 1);
	assert_int_equal(dns__parse_msg(m.b, m.n, &ans), -EBADMSG);
}

static void test_not_a_response(void **state)
{
	struct pkt m;

	header(&m, 1, 0x0100, 1, 0);	/* a query */
	question(&m, "x.example", 1);
	assert_int_equal(dns__parse_msg(m.b, m.n, &ans), -ENOMSG);
	header(&m, 1, 0x8000 | 2 << 11, 1, 0);	/* opcode STATUS */
	question(&m, "x.example", 1);
	assert_int_equal(dns__parse_msg(m.b, m.n, &ans), -ENOMSG);
	header(&m, 1, QR_RD_RA, 0, 0);	/* no question */
	assert_int_equal(dns__parse_msg(m.b, m.n, &ans), -ENOMSG);
	header(&m, 1, QR_RD_RA, 2, 0);	/* two questions */
	question(&m, "x.example", 1);
	question(&m, "y.example", 1);
	assert_int_equal(dns__parse_msg(m.b, m.n, &ans), -ENOMSG);
}

static void test_ip_udp_layer(void **state)
{
	struct pkt m, p;

	header(&m, 1, QR_RD_RA, 1, 1);
	question(&m, "x.example", 1);
	put_ptr(&m, 12);
	rr_a(&m, "192.0.2.1", 5);

	wrap4(&p, &m, "10.0.0.53", "10.0.0.7", 5353, 53);	/* not from 53 */
	assert_int_equal(dns__parse(p.b, p.n, &ans), -ENOMSG);

	wrap4(&p, &m, "10.0.0.53", "10.0.0.7", 53, 1000);
	p.b[9] = 6;						/* TCP */
	assert_int_equal(dns__parse(p.b, p.n, &ans), -ENOMSG);

	wrap4(&p, &m, "10.0.0.53", "10.0.0.7", 53, 1000);
	p.b[6] = 0x20;						/* MF: a first fragment */
	seed(&p, "ipv4-fragment");
	assert_int_equal(dns__parse(p.b, p.n, &ans), -EMSGSIZE);

	wrap4(&p, &m, "10.0.0.53", "10.0.0.7", 53, 1000);
	p.b[0] = 0x44;						/* IHL 4: < 20 bytes */
	assert_int_equal(dns__parse(p.b, p.n, &ans), -EBADMSG);

	wrap4(&p, &m, "10.0.0.53", "10.0.0.7", 53, 1000);
	p.b[24] = 0;
	p.b[25] = 7;						/* UDP length 7 */
	assert_int_equal(dns__parse(p.b, p.n, &ans), -EBADMSG);

	wrap4(&p, &m, "10.0.0.53", "10.0.0.7", 53, 1000);
	p.b[24] = 0xff;						/* UDP length past the end */
	assert_int_equal(dns__parse(p.b, p.n, &ans), -EBADMSG);

	wrap4(&p, &m, "10.0.0.53", "10.0.0.7", 53, 1000);
	memset(p.b + p.n, 0, 6);				/* link-layer padding */
	assert_int_equal(dns__parse(p.b, p.n + 6, &ans), 0);
	assert_int_equal(ans.n_addrs, 1);

	wrap6(&p, &m, "::1", "::1", 53, 1000);
	p.b[6] = 44;						/* fragment header */
	assert_int_equal(dns__parse(p.b, p.n, &ans), -EMSGSIZE);

	wrap6(&p, &m, "::1", "::1", 53, 1000);
	p.b[6] = 0;						/* hop-by-hop options */
	assert_int_equal(dns__parse(p.b, p.n, &ans), -ENOMSG);

	p.b[0] = 0x50;						/* IP version 5 */
	assert_int_equal(dns__parse(p.b, p.n, &ans), -EBADMSG);
	assert_int_equal(dns__parse(p.b, 0, &ans), -EBADMSG);
}

/* ---- the cache ---------------------------------------------------------- */

#define SEC 1000000000ULL

static const uint8_t *v4(const char *ip)
{
	static uint8_t a[4];

	assert_int_equal(inet_pton(AF_INET, ip, a), 1);
	return a;
}

static void test_cache_ttl(void **state)
{
	struct dns_cache *c = dns_cache__new(16);
	uint8_t a6[16];

	assert_non_null(c);
	assert_int_equal(dns_cache__put(c, AF_INET, v4("192.0.2.1"), "short.example", 1, 0), 0);
	assert_int_equal(dns_cache__put(c, AF_INET, v4("192.0.2.2"), "long.example", 999999, 0), 0);
	/* a 1 s TTL is kept DNS_TTL_MIN_S */
	assert_string_equal(dns_cache__get(c, AF_INET, v4("192.0.2.1"), (DNS_TTL_MIN_S - 1) * SEC),
			    "short.example");
	assert_null(dns_cache__get(c, AF_INET, v4("192.0.2.1"), DNS_TTL_MIN_S * SEC));
	assert_int_equal(dns_cache__size(c), 1);	/* the expired one went */
	/* a huge TTL is cut to DNS_TTL_MAX_S */
	assert_string_equal(dns_cache__get(c, AF_INET, v4("192.0.2.2"), (DNS_TTL_MAX_S - 1) * SEC),
			    "long.example");
	assert_null(dns_cache__get(c, AF_INET, v4("192.0.2.2"), DNS_TTL_MAX_S * SEC));
	/* v4 and v6 keys never collide; a new answer replaces the name */
	memset(a6, 0, sizeof(a6));
	memcpy(a6, v4("192.0.2.3"), 4);
	assert_int_equal(dns_cache__put(c, AF_INET6, a6, "six.example", 100, 0), 0);
	assert_null(dns_cache__get(c, AF_INET, v4("192.0.2.3"), 0));
	assert_int_equal(dns_cache__put(c, AF_INET6, a6, "six-again.example", 100, 0), 0);
	assert_string_equal(dns_cache__get(c, AF_INET6, a6, 1), "six-again.example");
	assert_int_equal(dns_cache__size(c), 1);
	assert_int_equal(dns_cache__put(c, 99, a6, "bad", 100, 0), -EINVAL);
	dns_cache__free(c);
}

static void test_cache_lru(void **state)
{
	struct dns_cache *c = dns_cache__new(3);

	assert_non_null(c);
	dns_cache__put(c, AF_INET, v4("10.0.0.1"), "one", 300, 0);
	dns_cache__put(c, AF_INET, v4("10.0.0.2"), "two", 300, 0);
	dns_cache__put(c, AF_INET, v4("10.0.0.3"), "three", 300, 0);
	assert_string_equal(dns_cache__get(c, AF_INET, v4("10.0.0.1"), 1), "one");	/* touch */
	dns_cache__put(c, AF_INET, v4("10.0.0.4"), "four", 300, 2);
	assert_int_equal(dns_cache__size(c), 3);
	assert_int_equal(dns_cache__evictions(c), 1);
	assert_null(dns_cache__get(c, AF_INET, v4("10.0.0.2"), 3));	/* least recent */
	assert_string_equal(dns_cache__get(c, AF_INET, v4("10.0.0.1"), 3), "one");
	assert_string_equal(dns_cache__get(c, AF_INET, v4("10.0.0.3"), 3), "three");
	assert_string_equal(dns_cache__get(c, AF_INET, v4("10.0.0.4"), 3), "four");
	/* many more than fit: still bounded */
	for (int i = 0; i < 1000; i++) {
		uint8_t a[4] = { 172, 16, (uint8_t)(i >> 8), (uint8_t)i };

		assert_int_equal(dns_cache__put(c, AF_INET, a, "bulk", 300, 4), 0);
	}
	assert_int_equal(dns_cache__size(c), 3);
	assert_int_equal(dns_cache__evictions(c), 1001);
	dns_cache__free(c);
	dns_cache__free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_compressed),
		cmocka_unit_test(test_aaaa_ipv6),
		cmocka_unit_test(test_cname_chain),
		cmocka_unit_test(test_cname_loop),
		cmocka_unit_test(test_nxdomain),
		cmocka_unit_test(test_too_many_addrs),
		cmocka_unit_test(test_name_escaping),
		cmocka_unit_test(test_root_name),
		cmocka_unit_test(test_pointer_to_itself),
		cmocka_unit_test(test_pointer_forward),
		cmocka_unit_test(test_pointer_loop_through_label),
		cmocka_unit_test(test_pointer_chain_limit),
		cmocka_unit_test(test_truncated_everywhere),
		cmocka_unit_test(test_rdata_past_end),
		cmocka_unit_test(test_bad_address_length),
		cmocka_unit_test(test_cname_rdata_mismatch),
		cmocka_unit_test(test_label_overflow),
		cmocka_unit_test(test_not_a_response),
		cmocka_unit_test(test_ip_udp_layer),
		cmocka_unit_test(test_cache_ttl),
		cmocka_unit_test(test_cache_lru),
	};

	return cmocka_run_group_tests_name("dns_parse", tests, NULL, NULL);
}
