#include "common/event.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const struct rw_field_desc rw_schema[RW_F__COUNT] = {
#define X(id, name, type) [RW_F_##id] = { name, RW_T_##type },
#include "ringward/schema.def"
#undef X
};

int rw_schema__lookup(const char *name)
{
	/* Linear scan: ~80 fields, used when parsing replayed JSON and
	 * content, never per kernel event. */
	for (int i = 0; i < RW_F__COUNT; i++)
		if (strcmp(rw_schema[i].name, name) == 0)
			return i;
	return -1;
}

struct rw_event *rw_event__new(void)
{
	struct rw_event *ev = malloc(sizeof(*ev));

	if (ev)
		rw_event__reset(ev);
	return ev;
}

void rw_event__reset(struct rw_event *ev)
{
	memset(ev->present, 0, sizeof(ev->present));
	ev->arena_used = 0;
	ev->n_truncated = 0;
	ev->strv_open = -1;
}

static void mark(struct rw_event *ev, enum rw_field f)
{
	ev->present[f / 64] |= 1ULL << (f % 64);
}

void rw_event__unset(struct rw_event *ev, enum rw_field f)
{
	if ((unsigned)f < RW_F__COUNT)
		ev->present[f / 64] &= ~(1ULL << (f % 64));
}

/* Copy up to len bytes into the arena; returns bytes copied. */
static uint32_t arena_put(struct rw_event *ev, const void *s, size_t len)
{
	size_t room = RW_EVENT_ARENA - ev->arena_used;

	if (len > room)
		len = room;
	if (len)
		memcpy(ev->arena + ev->arena_used, s, len);
	ev->arena_used += (uint32_t)len;
	return (uint32_t)len;
}

int rw_event__set_str(struct rw_event *ev, enum rw_field f, const char *s, size_t len)
{
	enum rw_ftype t;
	uint32_t n;

	if ((unsigned)f >= RW_F__COUNT)
		return -EINVAL;
	t = rw_schema[f].type;
	if (t != RW_T_STR && t != RW_T_STRA && t != RW_T_RAW)
		return -EINVAL;
	ev->strv_open = -1;
	ev->v[f].off = ev->arena_used;
	n = arena_put(ev, s, len);
	ev->v[f].len = n;
	mark(ev, f);
	if (n < len) {
		ev->n_truncated++;
		return -ENOSPC;
	}
	return 0;
}

int rw_event__set_cstr(struct rw_event *ev, enum rw_field f, const char *s)
{
	return rw_event__set_str(ev, f, s, strlen(s));
}

static int set_num(struct rw_event *ev, enum rw_field f, enum rw_ftype want, int64_t v)
{
	if ((unsigned)f >= RW_F__COUNT || rw_schema[f].type != want)
		return -EINVAL;
	ev->v[f].i = v;
	mark(ev, f);
	return 0;
}

int rw_event__set_int(struct rw_event *ev, enum rw_field f, int64_t v)
{
	return set_num(ev, f, RW_T_INT, v);
}

int rw_event__set_bool(struct rw_event *ev, enum rw_field f, bool v)
{
	return set_num(ev, f, RW_T_BOOL, v);
}

int rw_event__set_time(struct rw_event *ev, enum rw_field f, uint64_t ns)
{
	return set_num(ev, f, RW_T_TIME, (int64_t)ns);
}

/* STRV encoding in the arena: for each element a 4-byte little-endian
 * length followed by the bytes. */
int rw_event__add_strv(struct rw_event *ev, enum rw_field f, const char *s, size_t len)
{
	uint32_t l32;

	if ((unsigned)f >= RW_F__COUNT || rw_schema[f].type != RW_T_STRV)
		return -EINVAL;
	if (ev->strv_open != (int)f) {
		/* a new list; a second list for the same field replaces it */
		ev->strv_open = f;
		ev->v[f].off = ev->arena_used;
		ev->v[f].len = 0;
		ev->v[f].i = 0;
		mark(ev, f);
	}
	if (ev->v[f].off + ev->v[f].len != ev->arena_used)
		return -EINVAL;	/* not contiguous: a caller bug */
	if (RW_EVENT_ARENA - ev->arena_used < sizeof(l32) + len) {
		ev->n_truncated++;
		return -ENOSPC;	/* element dropped whole; list stays well-formed */
	}
	l32 = (uint32_t)len;
	arena_put(ev, &l32, sizeof(l32));
	arena_put(ev, s, len);
	ev->v[f].len += sizeof(l32) + (uint32_t)len;
	ev->v[f].i++;
	return 0;
}

const char *rw_event__str(const struct rw_event *ev, enum rw_field f, size_t *len)
{
	enum rw_ftype t;

	if (!rw_event__has(ev, f))
		return NULL;
	t = rw_schema[f].type;
	if (t != RW_T_STR && t != RW_T_STRA && t != RW_T_RAW)
		return NULL;
	*len = ev->v[f].len;
	return ev->arena + ev->v[f].off;
}

int64_t rw_event__int(const struct rw_event *ev, enum rw_field f, int64_t dflt)
{
	enum rw_ftype t;

	if (!rw_event__has(ev, f))
		return dflt;
	t = rw_schema[f].type;
	if (t != RW_T_INT && t != RW_T_BOOL && t != RW_T_TIME)
		return dflt;
	return ev->v[f].i;
}

const char *rw_event__strv_next(const struct rw_event *ev, enum rw_field f,
				uint32_t *pos, size_t *len)
{
	uint32_t l32;
	const char *base;

	if (!rw_event__has(ev, f) || rw_schema[f].type != RW_T_STRV)
		return NULL;
	if (*pos + sizeof(l32) > ev->v[f].len)
		return NULL;
	base = ev->arena + ev->v[f].off + *pos;
	memcpy(&l32, base, sizeof(l32));
	if (*pos + sizeof(l32) + l32 > ev->v[f].len)
		return NULL;
	*len = l32;
	*pos += sizeof(l32) + l32;
	return base + sizeof(l32);
}

int rw_event__copy_field(struct rw_event *dst, const struct rw_event *src, enum rw_field f)
{
	const char *s;
	size_t len;
	uint32_t pos = 0;
	int err = 0;

	if (!rw_event__has(src, f))
		return 0;
	switch (rw_schema[f].type) {
	case RW_T_STR:
	case RW_T_STRA:
	case RW_T_RAW:
		s = rw_event__str(src, f, &len);
		return rw_event__set_str(dst, f, s, len);
	case RW_T_STRV:
		dst->strv_open = -1;
		while ((s = rw_event__strv_next(src, f, &pos, &len)))
			if ((err = rw_event__add_strv(dst, f, s, len)))
				break;
		dst->strv_open = -1;
		return err;
	default:
		dst->v[f].i = src->v[f].i;
		mark(dst, f);
		return 0;
	}
}
