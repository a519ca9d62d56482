/*
 * The names behind addresses: DNS answers seen on the host.
 *
 * A packet socket (AF_PACKET, SOCK_DGRAM, every protocol) with a classic BPF
 * filter lets through only IPv4/IPv6 UDP packets from port 53 that the host
 * receives. Each is parsed here, in user space (hostile input: every length
 * is checked, name compression is bounded, and the parser is fuzzed by
 * fuzz/fuzz_dns.c), and every A/AAAA address reached from the question name
 * through its CNAME chain is remembered as address -> question name in a
 * bounded LRU cache, so that a later connection to that address carries the
 * host name its process resolved (destination.domain). Each answer is also
 * written as a "dns-answer" event.
 *
 * Not seen: DNS over TCP, DoT/DoH, answers in other network namespaces,
 * IPv4 fragments and IPv6 extension headers (counted as unparsed).
 *
 * Errors: 0 or a negative errno; constructors return NULL and set errno.
 */
#ifndef RINGWARD_DNS_H
#define RINGWARD_DNS_H

#include <stddef.h>
#include <stdint.h>

#include "common/event.h"

struct sensor;
struct dns_source;

/* ---- the source (the sensor calls these) ------------------------------ */

/* Open the packet socket and register the tick drain; reports the hook
 * "packet:dns-udp-53". NULL when it cannot run (reported as a hook not in
 * force, errno set). Free with dns_source__stop. */
struct dns_source *dns_source__start(struct sensor *s);
/* Close everything. NULL-safe. */
void dns_source__stop(struct dns_source *d);
/* Set destination.domain when destination.ip is set and a DNS answer named
 * it. Reads the packets already queued on the socket first, so that an
 * answer the process read just before connecting is known even if the
 * connect event is drained before the DNS tick (their dns-answer events
 * are written on the next tick). NULL-safe. */
void dns_source__enrich(struct dns_source *d, struct rw_event *ev);

/* ---- the parser (pure functions, fuzzed) ------------------------------ */

/* A name in presentation form: lower-case, no trailing dot, bytes outside
 * [!-~] and '.' or '\' inside a label escaped as in RFC 4343 (\DDD, \.),
 * so a name never contains a byte that could be mistaken for structure.
 * 255 wire bytes escape to at most 4 * 253 + 1 characters. */
#define DNS_NAME_MAX	1024
#define DNS_MAX_ADDRS	32	/* addresses kept per answer */
#define DNS_MAX_PTRS	32	/* compression pointers followed per name */
#define DNS_MAX_CNAMES	16	/* CNAME records considered per answer */
#define DNS_MAX_RRS	512	/* answer records examined per message */

struct dns_addr {
	int family;		/* AF_INET or AF_INET6 */
	uint8_t addr[16];	/* network byte order; 4 bytes for AF_INET */
	uint32_t ttl;
};

struct dns_answer {
	/* network layer (dns__parse only) */
	int ip_family;		/* AF_INET or AF_INET6 */
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
	/* message */
	uint16_t id, rcode, qtype, qclass;
	char qname[DNS_NAME_MAX];
	unsigned n_addrs;
	unsigned n_addrs_dropped;	/* more A/AAAA in the chain than DNS_MAX_ADDRS */
	struct dns_addr addrs[DNS_MAX_ADDRS];
};

/*
 * Parse one DNS message (the UDP payload). Keeps every A/AAAA record whose
 * owner is the question name or a name its CNAME chain leads to.
 * Returns 0 (a response to a standard query; n_addrs may be 0),
 * -ENOMSG (well-formed but not a usable response: a query, another opcode,
 * not exactly one question), or -EBADMSG (malformed: truncated, a bad
 * label or pointer, a length that runs past the end). Work is bounded by
 * DNS_MAX_RRS, DNS_MAX_CNAMES and DNS_MAX_PTRS, whatever the input.
 */
int dns__parse_msg(const uint8_t *msg, size_t len, struct dns_answer *out);

/*
 * Parse a network-layer packet (IPv4 or IPv6 header first, as a SOCK_DGRAM
 * packet socket delivers it): IP, UDP from port 53, then the message.
 * Returns as dns__parse_msg, and also -ENOMSG for non-UDP or another source
 * port, -EMSGSIZE for fragments (not reassembled), -EBADMSG for a bad IP or
 * UDP header.
 */
int dns__parse(const uint8_t *pkt, size_t len, struct dns_answer *out);

/* ---- the address -> name cache (exposed for unit tests) --------------- */

struct dns_cache;

/* At most max entries; TTLs are clamped to [DNS_TTL_MIN_S, DNS_TTL_MAX_S]
 * (a short TTL still names an address a process keeps using for a while;
 * a long one must not pin a stale name forever). */
#define DNS_TTL_MIN_S	60
#define DNS_TTL_MAX_S	3600
struct dns_cache *dns_cache__new(size_t max);
void dns_cache__free(struct dns_cache *c);
/* Remember addr -> name (copied). The least recently used entry goes when
 * full. now_ns: a monotonic clock. */
int dns_cache__put(struct dns_cache *c, int family, const uint8_t *addr, const char *name,
		   uint32_t ttl_s, uint64_t now_ns);
/* The name for addr, or NULL (unknown or expired). Points into the cache;
 * valid until the next put. */
const char *dns_cache__get(struct dns_cache *c, int family, const uint8_t *addr,
			   uint64_t now_ns);
size_t dns_cache__size(const struct dns_cache *c);
size_t dns_cache__evictions(const struct dns_cache *c);

#endif
