/*
 * DNS answers seen on the host: packet socket, parser, address -> name cache.
 * See dns.h for the contract. The parser reads hostile bytes: every offset
 * is checked against the end before it is read, and every loop is bounded.
 */
#include "core/dns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "core/sensor.h"

#define DNS_T_A		1
#define DNS_T_CNAME	5
#define DNS_T_AAAA	28
#define DNS_C_IN	1

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ---- names -------------------------------------------------------------- */

/* Append one label byte in presentation form (lower-case, RFC 4343
 * escapes). Returns false when out has no room. */
static bool put_label_byte(char *out, size_t cap, size_t *o, uint8_t c)
{
	if (*o + 5 > cap)
		return false;
	if (c >= 'A' && c <= 'Z')
		c = (uint8_t)(c - 'A' + 'a');
	if (c == '.' || c == '\\') {
		out[(*o)++] = '\\';
		out[(*o)++] = (char)c;
	} else if (c > 0x20 && c < 0x7f) {
		out[(*o)++] = (char)c;
	} else {
		snprintf(out + *o, 5, "\\%03u", c);
		*o += 4;
	}
	return true;
}

/*
 * Decode the name at *off into out (presentation form, NUL-terminated).
 * On success *off is just past the name where it sits (a compression
 * pointer ends it there). Pointers must point backwards (RFC 1035 4.1.4:
 * "a prior occurrence"), at most DNS_MAX_PTRS are followed, and the name
 * may not exceed 255 wire octets: together these bound the work and reject
 * every loop. The root name decodes to ".".
 */
static int read_name(const uint8_t *msg, size_t len, size_t *off, char *out, size_t cap)
{
	size_t pos = *off, o = 0, wire = 1;	/* 1: the root label */
	unsigned ptrs = 0;
	bool jumped = false;

	if (cap < 2)
		return -EINVAL;
	for (;;) {
		uint8_t c;

		if (pos >= len)
			return -EBADMSG;
		c = msg[pos];
		if ((c & 0xc0) == 0xc0) {
			size_t ptr;

			if (len - pos < 2)
				return -EBADMSG;
			ptr = (size_t)(c & 0x3f) << 8 | msg[pos + 1];
			if (ptr >= pos || ++ptrs > DNS_MAX_PTRS)
				return -EBADMSG;
			if (!jumped)
				*off = pos + 2;
			jumped = true;
			pos = ptr;
			continue;
		}
		if (c & 0xc0)	/* 0x40, 0x80: label types never deployed */
			return -EBADMSG;
		if (c == 0) {
			if (!jumped)
				*off = pos + 1;
			break;
		}
		if ((size_t)c > len - pos - 1)
			return -EBADMSG;
		wire += 1 + (size_t)c;
		if (wire > 255)
			return -EBADMSG;
		if (o) {
			if (o + 2 > cap)
				return -EBADMSG;
			out[o++] = '.';
		}
		for (size_t i = 1; i <= c; i++)
			if (!put_label_byte(out, cap, &o, msg[pos + i]))
				return -EBADMSG;
		pos += 1 + (size_t)c;
	}
	if (o == 0)
		out[o++] = '.';
	out[o] = 0;
	return 0;
}

/* ---- messages ----------------------------------------------------------- */

struct rr {
	size_t owner;		/* offset of the owner name */
	uint16_t type, class;
	uint32_t ttl;
	size_t rdata;
	uint16_t rdlen;
};

/* Read the fixed part of the record at *off and check that it fits;
 * *off ends past its data. The owner name is validated into scratch. */
static int read_rr(const uint8_t *msg, size_t len, size_t *off, struct rr *rr, char *scratch)
{
	int err;

	rr->owner = *off;
	err = read_name(msg, len, off, scratch, DNS_NAME_MAX);
	if (err)
		return err;
	if (len - *off < 10)
		return -EBADMSG;
	rr->type = be16(msg + *off);
	rr->class = be16(msg + *off + 2);
	rr->ttl = be32(msg + *off + 4);
	rr->rdlen = be16(msg + *off + 8);
	*off += 10;
	if (rr->rdlen > len - *off)
		return -EBADMSG;
	rr->rdata = *off;
	*off += rr->rdlen;
	return 0;
}

static bool in_chain(char chain[][DNS_NAME_MAX], unsigned n, const char *name)
{
	for (unsigned i = 0; i < n; i++)
		if (strcmp(chain[i], name) == 0)
			return true;
	return false;
}

int dns__parse_msg(const uint8_t *msg, size_t len, struct dns_answer *out)
{
	/* The question name and the names its CNAME chain reaches. */
	char chain[DNS_MAX_CNAMES + 1][DNS_NAME_MAX];
	char scratch[DNS_NAME_MAX];
	struct { size_t owner, target; bool used; } cn[DNS_MAX_CNAMES];
	unsigned n_cn = 0, n_chain = 1, n_rr;
	uint16_t flags;
	size_t off = 12, answers;
	struct rr rr;
	int err;

	out->qname[0] = 0;
	out->n_addrs = out->n_addrs_dropped = 0;
	out->id = out->rcode = out->qtype = out->qclass = 0;
	if (len < 12)
		return -EBADMSG;
	out->id = be16(msg);
	flags = be16(msg + 2);
	if (!(flags & 0x8000) || (flags >> 11 & 0xf) != 0)
		return -ENOMSG;	/* a query, or not a standard query's answer */
	if (be16(msg + 4) != 1)
		return -ENOMSG;
	out->rcode = flags & 0xf;
	n_rr = be16(msg + 6);
	if (n_rr > DNS_MAX_RRS)
		n_rr = DNS_MAX_RRS;

	err = read_name(msg, len, &off, out->qname, sizeof(out->qname));
	if (err)
		return err;
	if (len - off < 4)
		return -EBADMSG;
	out->qtype = be16(msg + off);
	out->qclass = be16(msg + off + 2);
	off += 4;

	/* Pass 1: check every record's bounds, collect the CNAMEs. */
	answers = off;
	for (unsigned i = 0; i < n_rr; i++) {
		err = read_rr(msg, len, &off, &rr, scratch);
		if (err)
			return err;
		if (rr.class != DNS_C_IN)
			continue;
		if (rr.type == DNS_T_CNAME) {
			size_t t = rr.rdata;

			err = read_name(msg, len, &t, scratch, sizeof(scratch));
			if (err)
				return err;
			if (t != rr.rdata + rr.rdlen)
				return -EBADMSG;	/* the name must fill the rdata */
			if (n_cn < DNS_MAX_CNAMES)
				cn[n_cn++] = (typeof(cn[0])){ rr.owner, rr.rdata, false };
		} else if ((rr.type == DNS_T_A && rr.rdlen != 4) ||
			   (rr.type == DNS_T_AAAA && rr.rdlen != 16)) {
			return -EBADMSG;
		}
	}

	/* Follow the chain from the question name, in whatever order the
	 * CNAMEs came; each CNAME is used once, so a loop ends. */
	snprintf(chain[0], DNS_NAME_MAX, "%s", out->qname);
	for (bool grew = true; grew && n_chain <= DNS_MAX_CNAMES;) {
		grew = false;
		for (unsigned j = 0; j < n_cn && n_chain <= DNS_MAX_CNAMES; j++) {
			size_t o = cn[j].owner;

			if (cn[j].used)
				continue;
			if (read_name(msg, len, &o, scratch, sizeof(scratch)) ||
			    strcmp(scratch, chain[n_chain - 1]) != 0)
				continue;
			o = cn[j].target;
			if (read_name(msg, len, &o, chain[n_chain], DNS_NAME_MAX))
				continue;
			cn[j].used = true;
			if (!in_chain(chain, n_chain, chain[n_chain]))
				n_chain++;
			grew = true;
		}
	}

	/* Pass 2: the addresses of names in the chain. */
	off = answers;
	for (unsigned i = 0; i < n_rr; i++) {
		struct dns_addr *a;

		if (read_rr(msg, len, &off, &rr, scratch))
			return -EBADMSG;	/* checked in pass 1; defensive */
		if (rr.class != DNS_C_IN || (rr.type != DNS_T_A && rr.type != DNS_T_AAAA))
			continue;
		if (!in_chain(chain, n_chain, scratch))
			continue;
		if (out->n_addrs == DNS_MAX_ADDRS) {
			out->n_addrs_dropped++;
			continue;
		}
		a = &out->addrs[out->n_addrs++];
		memset(a, 0, sizeof(*a));
		a->family = rr.type == DNS_T_A ? AF_INET : AF_INET6;
		memcpy(a->addr, msg + rr.rdata, rr.rdlen);
		a->ttl = rr.ttl;
	}
	return 0;
}

int dns__parse(const uint8_t *pkt, size_t len, struct dns_answer *out)
{
	size_t l4, ulen;

	out->ip_family = 0;
	out->sport = out->dport = 0;
	memset(out->src, 0, sizeof(out->src));
	memset(out->dst, 0, sizeof(out->dst));
	out->qname[0] = 0;
	out->n_addrs = out->n_addrs_dropped = 0;
	if (len < 1)
		return -EBADMSG;
	switch (pkt[0] >> 4) {
	case 4: {
		size_t ihl, tot;

		if (len < 20)
			return -EBADMSG;
		ihl = (size_t)(pkt[0] & 0xf) * 4;
		tot = be16(pkt + 2);
		if (ihl < 20 || tot < ihl || tot > len)
			return -EBADMSG;
		len = tot;	/* drop link-layer padding */
		if (be16(pkt + 6) & 0x3fff)	/* MF or an offset */
			return -EMSGSIZE;
		if (pkt[9] != IPPROTO_UDP)
			return -ENOMSG;
		out->ip_family = AF_INET;
		memcpy(out->src, pkt + 12, 4);
		memcpy(out->dst, pkt + 16, 4);
		l4 = ihl;
		break;
	}
	case 6: {
		size_t plen;

		if (len < 40)
			return -EBADMSG;
		plen = be16(pkt + 4);
		if (plen > len - 40)
			return -EBADMSG;
		len = 40 + plen;
		if (pkt[6] == 44)	/* fragment header */
			return -EMSGSIZE;
		if (pkt[6] != IPPROTO_UDP)
			return -ENOMSG;	/* extension headers are not walked */
		out->ip_family = AF_INET6;
		memcpy(out->src, pkt + 8, 16);
		memcpy(out->dst, pkt + 24, 16);
		l4 = 40;
		break;
	}
	default:
		return -EBADMSG;
	}
	if (len - l4 < 8)
		return -EBADMSG;
	out->sport = be16(pkt + l4);
	out->dport = be16(pkt + l4 + 2);
	ulen = be16(pkt + l4 + 4);
	if (ulen < 8 || ulen > len - l4)
		return -EBADMSG;
	if (out->sport != 53)
		return -ENOMSG;
	return dns__parse_msg(pkt + l4 + 8, ulen - 8, out);
}

/* ---- the cache ---------------------------------------------------------- */

struct dns_entry {
	struct dns_entry *hnext;	/* bucket chain, or free list */
	struct dns_entry *prev, *next;	/* LRU list, most recent first */
	uint64_t expires_ns;
	char *name;			/* from malloc(); freed on eviction */
	uint8_t family;
	uint8_t addr[16];
};

struct dns_cache {
	size_t max, n, mask, evictions;
	uint64_t seed;			/* random: bucket choice is not predictable */
	struct dns_entry **buckets;
	struct dns_entry *ents, *free_list, *head, *tail;
};

struct dns_cache *dns_cache__new(size_t max)
{
	struct dns_cache *c;
	size_t nb = 16;

	if (max == 0) {
		errno = EINVAL;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	while (nb < 2 * max)
		nb <<= 1;
	c->max = max;
	c->mask = nb - 1;
	c->buckets = calloc(nb, sizeof(*c->buckets));
	c->ents = calloc(max, sizeof(*c->ents));
	if (!c->buckets || !c->ents) {
		dns_cache__free(c);
		errno = ENOMEM;
		return NULL;
	}
	if (getrandom(&c->seed, sizeof(c->seed), GRND_NONBLOCK) != sizeof(c->seed))
		c->seed = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ULL;
	for (size_t i = 0; i < max; i++) {
		c->ents[i].hnext = c->free_list;
		c->free_list = &c->ents[i];
	}
	return c;
}

void dns_cache__free(struct dns_cache *c)
{
	if (!c)
		return;
	for (struct dns_entry *e = c->head; e; e = e->next)
		free(e->name);
	free(c->buckets);
	free(c->ents);
	free(c);
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static size_t addr_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

static struct dns_entry **bucket(struct dns_cache *c, int family, const uint8_t *addr)
{
	uint64_t a = 0, b = 0;

	memcpy(&a, addr, addr_len(family) < 8 ? addr_len(family) : 8);
	if (family == AF_INET6)
		memcpy(&b, addr + 8, 8);
	return &c->buckets[mix64(a ^ mix64(b ^ c->seed ^ (uint64_t)family)) & c->mask];
}

static struct dns_entry **find(struct dns_cache *c, int family, const uint8_t *addr)
{
	struct dns_entry **pp = bucket(c, family, addr);

	for (; *pp; pp = &(*pp)->hnext)
		if ((*pp)->family == family && memcmp((*pp)->addr, addr, addr_len(family)) == 0)
			return pp;
	return pp;
}

static void lru_unlink(struct dns_cache *c, struct dns_entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	e->prev = e->next = NULL;
}

static void lru_push(struct dns_cache *c, struct dns_entry *e)
{
	e->prev = NULL;
	e->next = c->head;
	if (c->head)
		c->head->prev = e;
	c->head = e;
	if (!c->tail)
		c->tail = e;
}

/* Take e out of the cache entirely (pp: the link that points to it). */
static void drop(struct dns_cache *c, struct dns_entry **pp, struct dns_entry *e)
{
	*pp = e->hnext;
	lru_unlink(c, e);
	free(e->name);
	e->name = NULL;
	e->hnext = c->free_list;
	c->free_list = e;
	c->n--;
}

int dns_cache__put(struct dns_cache *c, int family, const uint8_t *addr, const char *name,
		   uint32_t ttl_s, uint64_t now_ns)
{
	struct dns_entry **pp, *e;
	char *dup;

	if (family != AF_INET && family != AF_INET6)
		return -EINVAL;
	if (ttl_s < DNS_TTL_MIN_S)
		ttl_s = DNS_TTL_MIN_S;
	if (ttl_s > DNS_TTL_MAX_S)
		ttl_s = DNS_TTL_MAX_S;
	pp = find(c, family, addr);
	e = *pp;
	if (e && strcmp(e->name, name) == 0) {
		dup = NULL;
	} else {
		dup = strdup(name);
		if (!dup)
			return -ENOMEM;
	}
	if (e) {
		if (dup) {
			free(e->name);
			e->name = dup;
		}
		lru_unlink(c, e);
	} else {
		if (!c->free_list) {
			struct dns_entry *old = c->tail;

			drop(c, find(c, old->family, old->addr), old);
			c->evictions++;
			pp = find(c, family, addr);	/* the chain may have changed */
		}
		e = c->free_list;
		c->free_list = e->hnext;
		e->hnext = NULL;
		e->family = (uint8_t)family;
		memset(e->addr, 0, sizeof(e->addr));
		memcpy(e->addr, addr, addr_len(family));
		e->name = dup;
		*pp = e;
		c->n++;
	}
	e->expires_ns = now_ns + (uint64_t)ttl_s * 1000000000ULL;
	lru_push(c, e);
	return 0;
}

const char *dns_cache__get(struct dns_cache *c, int family, const uint8_t *addr,
			   uint64_t now_ns)
{
	struct dns_entry **pp, *e;

	if (family != AF_INET && family != AF_INET6)
		return NULL;
	pp = find(c, family, addr);
	e = *pp;
	if (!e)
		return NULL;
	if (now_ns >= e->expires_ns) {
		drop(c, pp, e);
		return NULL;
	}
	lru_unlink(c, e);
	lru_push(c, e);
	return e->name;
}

size_t dns_cache__size(const struct dns_cache *c)
{
	return c->n;
}

size_t dns_cache__evictions(const struct dns_cache *c)
{
	return c->evictions;
}

/* ---- the source --------------------------------------------------------- */

#define DNS_CACHE_MAX	8192
#define DNS_PKT_MAX	65536
#define DNS_PENDING	32	/* answers read during enrich, written next tick */
#define DNS_DRAIN_MAX	4096	/* packets per tick; the rest waits in the socket */
#define DNS_RCVBUF	(1 << 20)
#define DNS_HOOK	"packet:dns-udp-53"

struct dns_source {
	struct sensor *s;
	int fd;
	struct dns_cache *cache;
	uint8_t *buf;			/* one packet */
	struct dns_answer *ans;		/* parse scratch */
	struct dns_answer *pending;	/* [DNS_PENDING] */
	unsigned n_pending;
	bool emitting;			/* inside sensor__emit: don't read the socket */
};

static void ip_str(int family, const uint8_t *a, char *buf, size_t cap)
{
	if (!inet_ntop(family, a, buf, (socklen_t)cap))
		snprintf(buf, cap, "?");
}

static void emit_answer(struct dns_source *d, const struct dns_answer *a)
{
	struct rw_event *ev = sensor__scratch(d->s);
	char ip[INET6_ADDRSTRLEN];

	/* the list first: a STRV field must be appended without interruption */
	for (unsigned i = 0; i < a->n_addrs; i++) {
		ip_str(a->addrs[i].family, a->addrs[i].addr, ip, sizeof(ip));
		rw_event__add_strv(ev, RW_F_DNS_RESOLVED_IP, ip, strlen(ip));
	}
	rw_event__set_cstr(ev, RW_F_EVENT_KIND, "event");
	rw_event__set_cstr(ev, RW_F_EVENT_CATEGORY, "network");
	rw_event__set_cstr(ev, RW_F_EVENT_TYPE, "info");
	rw_event__set_cstr(ev, RW_F_EVENT_ACTION, "dns-answer");
	rw_event__set_cstr(ev, RW_F_DNS_QUESTION_NAME, a->qname);
	/* ECS: source is the side that asked, destination the server */
	ip_str(a->ip_family, a->dst, ip, sizeof(ip));
	rw_event__set_cstr(ev, RW_F_SOURCE_IP, ip);
	rw_event__set_int(ev, RW_F_SOURCE_PORT, a->dport);
	ip_str(a->ip_family, a->src, ip, sizeof(ip));
	rw_event__set_cstr(ev, RW_F_DEST_IP, ip);
	rw_event__set_int(ev, RW_F_DEST_PORT, a->sport);
	rw_event__set_cstr(ev, RW_F_NET_TRANSPORT, "udp");
	rw_event__set_cstr(ev, RW_F_NET_TYPE, a->ip_family == AF_INET ? "ipv4" : "ipv6");
	rw_event__set_cstr(ev, RW_F_NET_DIRECTION, "egress");	/* the host asked */
	d->emitting = true;
	sensor__emit(d->s, ev);
	d->emitting = false;
}

/* Parse one packet into a, remember its addresses. Returns true when a
 * holds an answer worth an event. */
static bool take_packet(struct dns_source *d, size_t n, struct dns_answer *a)
{
	uint64_t now;
	int rc = dns__parse(d->buf, n, a);

	if (rc == -ENOMSG)
		return false;	/* well-formed, just not an answer to keep */
	if (rc < 0) {
		sensor__count(d->s, RW_C_DROP_DNS_PARSE, 1);
		return false;
	}
	if (a->n_addrs == 0)
		return false;	/* NXDOMAIN, or a type we don't map */
	now = rw_clock_ns(CLOCK_MONOTONIC);
	for (unsigned i = 0; i < a->n_addrs; i++)
		dns_cache__put(d->cache, a->addrs[i].family, a->addrs[i].addr, a->qname,
			       a->addrs[i].ttl, now);
	return true;
}

/* Read what the socket holds (bounded). defer: called from inside
 * sensor__emit (enrich), so answers are queued for the next tick rather
 * than emitted, and reading stops when that queue is full. */
static void drain(struct dns_source *d, bool defer)
{
	for (int i = 0; i < DNS_DRAIN_MAX; i++) {
		struct dns_answer *a;
		ssize_t n;

		if (defer && d->n_pending == DNS_PENDING)
			return;
		n = recv(d->fd, d->buf, DNS_PKT_MAX, MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return;	/* EAGAIN; other errors show in the socket's stats */
		}
		sensor__count(d->s, RW_C_DNS_PACKETS, 1);
		if (n > DNS_PKT_MAX) {
			sensor__count(d->s, RW_C_DROP_DNS_PARSE, 1);
			continue;
		}
		a = defer ? &d->pending[d->n_pending] : d->ans;
		if (!take_packet(d, (size_t)n, a))
			continue;
		if (defer)
			d->n_pending++;
		else
			emit_answer(d, a);
	}
}

static void on_tick(struct sensor *s, void *ctx)
{
	struct dns_source *d = ctx;

	/* answers read by enrich first, to keep the order they came in */
	for (unsigned i = 0; i < d->n_pending; i++)
		emit_answer(d, &d->pending[i]);
	d->n_pending = 0;
	drain(d, false);
}

static void on_report(struct sensor *s, void *ctx)
{
	struct dns_source *d = ctx;
	struct tpacket_stats st;
	socklen_t len = sizeof(st);

	/* the kernel resets these counts on every read: add them up */
	if (getsockopt(d->fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0)
		sensor__count(s, RW_C_DROP_PKT_KERNEL, st.tp_drops);
}

static int parse_ip(const char *s, size_t len, int *family, uint8_t addr[16])
{
	char buf[INET6_ADDRSTRLEN + 1];

	if (len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = 0;
	if (inet_pton(AF_INET, buf, addr) == 1) {
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, buf, addr) != 1)
		return -EINVAL;
	*family = AF_INET6;
	/* a v4 connect from a v6 socket: ::ffff:a.b.c.d */
	if (memcmp(addr, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0) {
		memmove(addr, addr + 12, 4);
		*family = AF_INET;
	}
	return 0;
}

void dns_source__enrich(struct dns_source *d, struct rw_event *ev)
{
	uint8_t addr[16];
	const char *ip, *name;
	size_t len;
	int family;

	if (!d || rw_event__has(ev, RW_F_DEST_DOMAIN))
		return;
	ip = rw_event__str(ev, RW_F_DEST_IP, &len);
	if (!ip || parse_ip(ip, len, &family, addr) < 0)
		return;
	if (!d->emitting)
		drain(d, true);
	name = dns_cache__get(d->cache, family, addr, rw_clock_ns(CLOCK_MONOTONIC));
	if (name)
		rw_event__set_cstr(ev, RW_F_DEST_DOMAIN, name);
}

/*
 * Only UDP from port 53 that the host receives reaches user space:
 *   drop outgoing copies (a local resolver's answers would count twice),
 *   IPv4: UDP, not a later fragment, source port 53 (first fragments pass
 *         so that they are counted as unparsed, not lost silently);
 *   IPv6: UDP directly after the header, or a first fragment of UDP.
 * Ancillary loads (SKF_AD_*) read the skb's metadata; offset 0 is the
 * network header on a SOCK_DGRAM packet socket.
 */
#define TO(label, at)	((uint8_t)((label) - (at) - 1))
enum { L_V6 = 11, L_V6FRAG = 16, L_ACCEPT = 23, L_DROP = 24 };
static const struct sock_filter dns_filter[] = {
	/* 0 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_PKTTYPE),
	/* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PACKET_OUTGOING, TO(L_DROP, 1), 0),
	/* 2 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_PROTOCOL),
	/* 3 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IP, 0, TO(L_V6, 3)),
	/* 4 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 9),
	/* 5 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_UDP, 0, TO(L_DROP, 5)),
	/* 6 */ BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 6),
	/* 7 */ BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x1fff, TO(L_DROP, 7), 0),
	/* 8 */ BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 0),
	/* 9 */ BPF_STMT(BPF_LD | BPF_H | BPF_IND, 0),
	/* 10 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 53, TO(L_ACCEPT, 10), TO(L_DROP, 10)),
	/* 11 L_V6: A still holds the protocol */
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IPV6, 0, TO(L_DROP, 11)),
	/* 12 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 6),
	/* 13 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_UDP, 0, TO(L_V6FRAG, 13)),
	/* 14 */ BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 40),
	/* 15 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 53, TO(L_ACCEPT, 15), TO(L_DROP, 15)),
	/* 16 L_V6FRAG: A holds the next header */
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 44, 0, TO(L_DROP, 16)),
	/* 17 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 40),
	/* 18 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_UDP, 0, TO(L_DROP, 18)),
	/* 19 */ BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 42),
	/* 20 */ BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0xfff8, TO(L_DROP, 20), 0),
	/* 21 */ BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 48),
	/* 22 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 53, TO(L_ACCEPT, 22), TO(L_DROP, 22)),
	/* 23 L_ACCEPT */ BPF_STMT(BPF_RET | BPF_K, 0x40000),
	/* 24 L_DROP */ BPF_STMT(BPF_RET | BPF_K, 0),
};
#undef TO

static void fail_hook(struct sensor *s, const char *what, int err)
{
	char why[160];

	snprintf(why, sizeof(why), "%s: %s", what, strerror(err));
	sensor__hook(s, DNS_HOOK, false, why);
}

struct dns_source *dns_source__start(struct sensor *s)
{
	struct sock_fprog prog = {
		.len = sizeof(dns_filter) / sizeof(dns_filter[0]),
		.filter = (struct sock_filter *)dns_filter,
	};
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	struct dns_source *d = calloc(1, sizeof(*d));
	int one = 1, rcvbuf = DNS_RCVBUF, err;

	if (!d)
		return NULL;
	d->s = s;
	d->fd = -1;
	d->cache = dns_cache__new(DNS_CACHE_MAX);
	d->buf = malloc(DNS_PKT_MAX);
	d->ans = malloc(sizeof(*d->ans));
	d->pending = calloc(DNS_PENDING, sizeof(*d->pending));
	if (!d->cache || !d->buf || !d->ans || !d->pending) {
		err = ENOMEM;
		fail_hook(s, "allocation", err);
		goto fail;
	}
	/* Protocol 0: nothing is queued until the filter is in place and
	 * the socket is bound to every protocol. */
	d->fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (d->fd < 0) {
		err = errno;
		fail_hook(s, "AF_PACKET socket", err);
		goto fail;
	}
	if (setsockopt(d->fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0) {
		err = errno;
		fail_hook(s, "SO_ATTACH_FILTER", err);
		goto fail;
	}
	/* the filter drops outgoing copies too; this saves cloning them */
	setsockopt(d->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
	if (setsockopt(d->fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		setsockopt(d->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (bind(d->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		err = errno;
		fail_hook(s, "bind packet socket", err);
		goto fail;
	}
	err = -sensor__on_tick(s, on_tick, d);
	if (err) {
		fail_hook(s, "register with the sensor", err);
		goto fail;
	}
	/* past this point the tick holds d: never fail */
	if (sensor__on_report(s, on_report, d) < 0)
		sensor__hook(s, DNS_HOOK, true, "in force, but its kernel drop count is not reported");
	else
		sensor__hook(s, DNS_HOOK, true, NULL);
	return d;
fail:
	dns_source__stop(d);
	errno = err;
	return NULL;
}

void dns_source__stop(struct dns_source *d)
{
	if (!d)
		return;
	if (d->fd >= 0)
		close(d->fd);
	dns_cache__free(d->cache);
	free(d->buf);
	free(d->ans);
	free(d->pending);
	free(d);
}
