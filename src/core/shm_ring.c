/*
 * Shared memory between the core and the engine: two sealed memfds and the
 * single-producer single-consumer rings in them (see shm_ring.h).
 */
#include "core/shm_ring.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif

#define PAGE		4096u
#define ROUND8(n)	(((n) + 7u) & ~(size_t)7u)

static uint32_t schema_tag(void)
{
	return (uint32_t)RW_F__COUNT << 8 | (uint32_t)RW_SCHEMA_VERSION;
}

static uint64_t pow2_at_least(uint64_t n)
{
	uint64_t p = ENGINE_RING_MIN;

	while (p < n && p < ENGINE_RING_MAX)
		p <<= 1;
	return p;
}

static size_t ctl_bytes(void)
{
	size_t n = ENGINE_CTL_HDR + 2u * ENGINE_RULE_SLOTS * sizeof(struct rule_slot);

	n = (n + PAGE - 1) & ~(size_t)(PAGE - 1);
	return n + ENGINE_ALERT_RING;
}

static int new_memfd(const char *name, size_t len)
{
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)len) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

void shm_ring__init(struct shm_ring *r, struct ring_idx *idx, uint8_t *data, uint64_t size,
		    bool producer)
{
	r->idx = idx;
	r->data = data;
	r->size = size;
	r->producer = producer;
	r->mine = atomic_load_explicit(producer ? &idx->prod : &idx->cons, memory_order_acquire);
}

int engine_shm__create(struct engine_shm *m, size_t ring_bytes)
{
	struct engine_ctl *c;
	uint64_t rsize = pow2_at_least(ring_bytes);
	size_t clen = ctl_bytes();
	int err;

	memset(m, 0, sizeof(*m));
	m->ctl_fd = m->ring_fd = -1;
	m->ring_fd = new_memfd("ringward-events", rsize);
	if (m->ring_fd < 0) {
		err = m->ring_fd;
		goto fail;
	}
	m->ctl_fd = new_memfd("ringward-ctl", clen);
	if (m->ctl_fd < 0) {
		err = m->ctl_fd;
		goto fail;
	}
	m->ring = mmap(NULL, rsize, PROT_READ | PROT_WRITE, MAP_SHARED, m->ring_fd, 0);
	if (m->ring == MAP_FAILED) {
		m->ring = NULL;
		err = -errno;
		goto fail;
	}
	m->ring_len = rsize;
	m->ctl = mmap(NULL, clen, PROT_READ | PROT_WRITE, MAP_SHARED, m->ctl_fd, 0);
	if (m->ctl == MAP_FAILED) {
		m->ctl = NULL;
		err = -errno;
		goto fail;
	}
	m->ctl_len = clen;
	/* Sizes are fixed from now on (a shrunk memfd would fault the core),
	 * and the event ring can never again be mapped writable: the engine
	 * reads it and cannot change it. A kernel without FUTURE_WRITE
	 * (before 5.1) keeps the size seals only. */
	if (fcntl(m->ring_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE) < 0)
		fcntl(m->ring_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW);
	fcntl(m->ring_fd, F_ADD_SEALS, F_SEAL_SEAL);
	fcntl(m->ctl_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);

	c = m->ctl;
	c->magic = ENGINE_SHM_MAGIC;
	c->layout = ENGINE_SHM_LAYOUT;
	c->schema = schema_tag();
	c->ring_size = rsize;
	c->rules_off = ENGINE_CTL_HDR;
	c->alert_size = ENGINE_ALERT_RING;
	c->alert_off = clen - ENGINE_ALERT_RING;
	c->ctl_size = clen;
	atomic_store(&c->cur_rule, ENGINE_NO_RULE);
	shm_ring__init(&m->ev, &c->ev, m->ring, rsize, true);
	shm_ring__init(&m->al, &c->al, (uint8_t *)c + c->alert_off, c->alert_size, false);
	return 0;
fail:
	engine_shm__close(m);
	return err;
}

int engine_shm__attach(struct engine_shm *m, int ctl_fd, int ring_fd)
{
	struct engine_ctl *c;
	struct stat cst, rst;
	int err = -EPROTO;

	memset(m, 0, sizeof(*m));
	m->ctl_fd = ctl_fd;
	m->ring_fd = ring_fd;
	if (fstat(ctl_fd, &cst) < 0 || fstat(ring_fd, &rst) < 0)
		return -errno;
	if ((size_t)cst.st_size < ENGINE_CTL_HDR)
		return -EPROTO;
	m->ctl = mmap(NULL, (size_t)cst.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, ctl_fd, 0);
	if (m->ctl == MAP_FAILED) {
		m->ctl = NULL;
		return -errno;
	}
	m->ctl_len = (size_t)cst.st_size;
	c = m->ctl;
	if (c->magic != ENGINE_SHM_MAGIC || c->layout != ENGINE_SHM_LAYOUT ||
	    c->schema != schema_tag() || c->ctl_size != m->ctl_len ||
	    c->ring_size != (uint64_t)rst.st_size || (c->ring_size & (c->ring_size - 1)) ||
	    c->ring_size < ENGINE_RING_MIN || c->rules_off != ENGINE_CTL_HDR ||
	    c->alert_size != ENGINE_ALERT_RING || c->alert_off > m->ctl_len ||
	    c->alert_size > m->ctl_len - c->alert_off ||
	    c->rules_off + 2u * ENGINE_RULE_SLOTS * sizeof(struct rule_slot) > c->alert_off)
		goto fail;
	m->ring = mmap(NULL, c->ring_size, PROT_READ, MAP_SHARED, ring_fd, 0);
	if (m->ring == MAP_FAILED) {
		m->ring = NULL;
		err = -errno;
		goto fail;
	}
	m->ring_len = c->ring_size;
	shm_ring__init(&m->ev, &c->ev, m->ring, c->ring_size, false);
	shm_ring__init(&m->al, &c->al, (uint8_t *)c + c->alert_off, c->alert_size, true);
	return 0;
fail:
	munmap(m->ctl, m->ctl_len);
	m->ctl = NULL;
	return err;
}

void engine_shm__close(struct engine_shm *m)
{
	if (m->ctl)
		munmap(m->ctl, m->ctl_len);
	if (m->ring)
		munmap(m->ring, m->ring_len);
	if (m->ctl_fd >= 0)
		close(m->ctl_fd);
	if (m->ring_fd >= 0)
		close(m->ring_fd);
	m->ctl = NULL;
	m->ring = NULL;
	m->ctl_fd = m->ring_fd = -1;
}

struct rule_slot *engine_shm__rules(struct engine_shm *m, unsigned t)
{
	return (struct rule_slot *)((uint8_t *)m->ctl + m->ctl->rules_off) +
	       (size_t)(t & 1) * ENGINE_RULE_SLOTS;
}

int64_t shm_ring__used(const struct shm_ring *r)
{
	uint64_t other, used;

	if (r->producer) {
		other = atomic_load_explicit(&r->idx->cons, memory_order_acquire);
		used = r->mine - other;
	} else {
		other = atomic_load_explicit(&r->idx->prod, memory_order_acquire);
		used = other - r->mine;
	}
	return used > r->size ? -EPROTO : (int64_t)used;
}

int64_t shm_ring__pending(const struct shm_ring *r, uint16_t type)
{
	int64_t used = shm_ring__used(r);
	uint64_t pos, end = r->mine;
	int64_t n = 0;

	if (!r->producer || used < 0)
		return -EPROTO;
	/* walk from the consumer's position to ours; every length checked:
	 * the consumer's index is the other side's word */
	for (pos = end - (uint64_t)used; pos < end;) {
		uint64_t off = pos & (r->size - 1);
		const struct wire_hdr *h = (const struct wire_hdr *)(r->data + off);

		if (r->size - off < sizeof(uint64_t) || h->len < sizeof(uint64_t) || h->len % 8 ||
		    h->len > r->size - off || h->len > end - pos)
			return -EPROTO;
		if (h->type == type)
			n++;
		pos += h->len;
	}
	return n;
}

/* Room for a contiguous record of need bytes: a PAD to the end first when
 * it would not fit there. Returns where to write it, or NULL with *err. */
static uint8_t *reserve(struct shm_ring *r, size_t need, int *err)
{
	int64_t used = shm_ring__used(r);
	uint64_t off = r->mine & (r->size - 1), tail = r->size - off;

	if (used < 0) {
		*err = -EPROTO;
		return NULL;
	}
	if (need > r->size) {
		*err = -E2BIG;
		return NULL;
	}
	if (tail < need) {
		struct wire_hdr *pad = (struct wire_hdr *)(r->data + off);

		if ((uint64_t)used + tail + need > r->size) {
			*err = -ENOSPC;
			return NULL;
		}
		/* a PAD is at least 8 bytes: every length is a multiple of 8 */
		pad->len = (uint32_t)tail;
		pad->type = WIRE_PAD;
		r->mine += tail;
		off = 0;
	} else if ((uint64_t)used + need > r->size) {
		*err = -ENOSPC;
		return NULL;
	}
	return r->data + off;
}

static void commit(struct shm_ring *r, size_t len)
{
	r->mine += len;
	atomic_store_explicit(&r->idx->prod, r->mine, memory_order_release);
}

static unsigned n_present(const struct rw_event *ev)
{
	unsigned n = 0;

	for (size_t w = 0; w < sizeof(ev->present) / sizeof(ev->present[0]); w++)
		n += (unsigned)__builtin_popcountll(ev->present[w]);
	return n;
}

size_t wire__event_size(const struct rw_event *ev)
{
	return sizeof(struct wire_hdr) + n_present(ev) * sizeof(struct rw_value) +
	       ROUND8((size_t)ev->arena_used);
}

int shm_ring__put_event(struct shm_ring *r, uint16_t type, uint64_t tag, uint32_t tag2,
			const struct rw_event *ev)
{
	size_t need = wire__event_size(ev);
	uint64_t mine = r->mine;
	struct wire_hdr *h;
	struct rw_value *v;
	int err = 0;

	h = (struct wire_hdr *)reserve(r, need, &err);
	if (!h) {
		r->mine = mine;	/* a PAD written but not published is harmless */
		return err;
	}
	h->len = (uint32_t)need;
	h->type = type;
	h->n_values = (uint16_t)n_present(ev);
	h->tag = tag;
	h->tag2 = tag2;
	h->arena_used = ev->arena_used;
	memcpy(h->present, ev->present, sizeof(h->present));
	v = (struct rw_value *)(h + 1);
	for (size_t w = 0; w < sizeof(ev->present) / sizeof(ev->present[0]); w++) {
		uint64_t bits = ev->present[w];

		while (bits) {
			unsigned f = (unsigned)(w * 64) + (unsigned)__builtin_ctzll(bits);

			enum rw_ftype t = rw_schema[f].type;

			bits &= bits - 1;
			*v = ev->v[f];
			/* numbers carry no arena range: send none (no stale bytes) */
			if (t == RW_T_INT || t == RW_T_BOOL || t == RW_T_TIME)
				v->off = v->len = 0;
			v++;
		}
	}
	memcpy(v, ev->arena, ev->arena_used);
	memset((uint8_t *)v + ev->arena_used, 0, ROUND8((size_t)ev->arena_used) - ev->arena_used);
	commit(r, need);
	return 0;
}

int shm_ring__put(struct shm_ring *r, uint16_t type, uint64_t tag, uint32_t tag2,
		  const void *payload, uint32_t n)
{
	size_t need = sizeof(struct wire_hdr) + ROUND8((size_t)n);
	uint64_t mine = r->mine;
	struct wire_hdr *h;
	int err = 0;

	h = (struct wire_hdr *)reserve(r, need, &err);
	if (!h) {
		r->mine = mine;
		return err;
	}
	memset(h, 0, need);
	h->len = (uint32_t)need;
	h->type = type;
	h->tag = tag;
	h->tag2 = tag2;
	h->arena_used = n;
	if (n)
		memcpy(h + 1, payload, n);
	commit(r, need);
	return 0;
}

const struct wire_hdr *shm_ring__peek(struct shm_ring *r, uint64_t *pos, int *err)
{
	*err = 0;
	for (;;) {
		uint64_t prod = atomic_load_explicit(&r->idx->prod, memory_order_acquire);
		uint64_t off = r->mine & (r->size - 1);
		const volatile struct wire_hdr *vh = (const volatile struct wire_hdr *)(r->data + off);
		uint32_t len;
		uint16_t type;

		if (prod == r->mine)
			return NULL;
		if (prod - r->mine > r->size) {
			*err = -EPROTO;
			return NULL;
		}
		len = vh->len;
		type = vh->type;
		if (len < 8 || len % 8 || len > r->size - off || len > prod - r->mine) {
			*err = -EPROTO;
			return NULL;
		}
		if (type != WIRE_PAD) {
			if (len < sizeof(struct wire_hdr)) {
				*err = -EPROTO;
				return NULL;
			}
			*pos = r->mine;
			return (const struct wire_hdr *)(r->data + off);
		}
		r->mine += len;
		atomic_store_explicit(&r->idx->cons, r->mine, memory_order_release);
	}
}

void shm_ring__pop(struct shm_ring *r, const struct wire_hdr *h)
{
	r->mine += h->len;
	atomic_store_explicit(&r->idx->cons, r->mine, memory_order_release);
}

int shm_ring__take(struct shm_ring *r, void *buf, size_t cap, uint64_t *pos)
{
	const volatile struct wire_hdr *vh;
	struct wire_hdr *copy = buf;
	uint32_t len;
	int err;

	vh = (const volatile struct wire_hdr *)shm_ring__peek(r, pos, &err);
	if (!vh)
		return err;
	/* the other side may rewrite the record as we read it: take its
	 * length once, copy, and work on the copy only */
	len = vh->len;
	if (len < sizeof(struct wire_hdr) || len > r->size - (r->mine & (r->size - 1)))
		return -EPROTO;
	r->mine += len;
	if (len > cap) {
		atomic_store_explicit(&r->idx->cons, r->mine, memory_order_release);
		return -E2BIG;
	}
	memcpy(copy, (const void *)vh, len);
	atomic_store_explicit(&r->idx->cons, r->mine, memory_order_release);
	copy->len = len;
	return (int)len;
}

const void *wire__payload(const struct wire_hdr *h, uint32_t *n)
{
	if (h->arena_used > h->len - sizeof(*h))
		return NULL;
	*n = h->arena_used;
	return h + 1;
}

/* A STRV value: length-prefixed elements filling exactly len bytes.
 * Returns the number of elements, or -1. */
static int64_t strv_count(const char *p, uint32_t len)
{
	uint32_t pos = 0, l32;
	int64_t n = 0;

	while (pos < len) {
		if (len - pos < sizeof(l32))
			return -1;
		memcpy(&l32, p + pos, sizeof(l32));
		pos += sizeof(l32);
		if (l32 > len - pos)
			return -1;
		pos += l32;
		n++;
	}
	return n;
}

int wire__decode_event(const struct wire_hdr *h, struct rw_event *ev, unsigned flags)
{
	const size_t words = sizeof(ev->present) / sizeof(ev->present[0]);
	const struct rw_value *v = (const struct rw_value *)(h + 1);
	uint32_t len = h->len, au = h->arena_used;
	unsigned nv = h->n_values, k = 0;

	if (len < sizeof(*h) || au > RW_EVENT_ARENA ||
	    (size_t)len != sizeof(*h) + (size_t)nv * sizeof(*v) + ROUND8((size_t)au))
		return -EPROTO;
	rw_event__reset(ev);
	for (size_t w = 0; w < words; w++) {
		uint64_t bits = h->present[w];

		while (bits) {
			unsigned f = (unsigned)(w * 64) + (unsigned)__builtin_ctzll(bits);
			enum rw_ftype t;
			struct rw_value val;

			bits &= bits - 1;
			if (f >= RW_F__COUNT || k >= nv)
				return -EPROTO;
			val = v[k++];
			t = rw_schema[f].type;
			if (t == RW_T_RAW && (flags & WIRE_NO_RAW))
				return -EPROTO;
			if (t == RW_T_STR || t == RW_T_STRA || t == RW_T_RAW || t == RW_T_STRV) {
				if (val.off > au || val.len > au - val.off)
					return -EPROTO;
			}
			if (t == RW_T_STRV) {
				val.i = strv_count((const char *)(v + nv) + val.off, val.len);
				if (val.i < 0)
					return -EPROTO;
			}
			ev->v[f] = val;
		}
		ev->present[w] = h->present[w];
	}
	if (k != nv)
		return -EPROTO;
	memcpy(ev->arena, v + nv, au);
	ev->arena_used = au;
	return 0;
}
