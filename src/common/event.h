/*
 * The user-space event: a set of typed values indexed by schema field id
 * (include/ringward/schema.def). Every source (eBPF ring, fanotify, DNS,
 * replayed JSON) fills one of these; enrichment, the JSON writer and the
 * engine read it. Strings live in a fixed arena inside the event, so an
 * event is one allocation, reusable with rw_event__reset().
 *
 * Errors: setters return 0, or -EINVAL (wrong type for the field) or
 * -ENOSPC (arena full: the value is truncated to what fits and
 * ev->n_truncated is bumped, so the loss is counted, never silent).
 */
#ifndef RINGWARD_EVENT_H
#define RINGWARD_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ringward/schema.h"

#define RW_EVENT_ARENA (96 * 1024)

struct rw_value {
	uint32_t off;	/* STR/STRV/RAW: arena offset of the first byte */
	uint32_t len;	/* STR/RAW: bytes; STRV: bytes of the encoded list */
	int64_t i;	/* INT/BOOL/TIME value; STRV: number of elements */
};

struct rw_event {
	uint64_t present[(RW_F__COUNT + 63) / 64];
	struct rw_value v[RW_F__COUNT];
	uint32_t arena_used;
	uint32_t n_truncated;	/* values cut short because the arena was full */
	int strv_open;		/* field currently being appended to, or -1 */
	char arena[RW_EVENT_ARENA];
};

/* Allocate a cleared event; free with free(). NULL on ENOMEM. */
struct rw_event *rw_event__new(void);
void rw_event__reset(struct rw_event *ev);

int rw_event__set_str(struct rw_event *ev, enum rw_field f, const char *s, size_t len);
int rw_event__set_cstr(struct rw_event *ev, enum rw_field f, const char *s);
int rw_event__set_int(struct rw_event *ev, enum rw_field f, int64_t v);
int rw_event__set_bool(struct rw_event *ev, enum rw_field f, bool v);
int rw_event__set_time(struct rw_event *ev, enum rw_field f, uint64_t ns_since_epoch);
/* Append one element to a STRV field. All elements of one field must be
 * appended before another STRV field is started (the list is contiguous). */
int rw_event__add_strv(struct rw_event *ev, enum rw_field f, const char *s, size_t len);
void rw_event__unset(struct rw_event *ev, enum rw_field f);

static inline bool rw_event__has(const struct rw_event *ev, enum rw_field f)
{
	return (unsigned)f < RW_F__COUNT && (ev->present[f / 64] >> (f % 64)) & 1;
}

/* The string value of a STR/STRA/RAW field (not NUL-terminated; *len set),
 * or NULL when absent. Points into the event. */
const char *rw_event__str(const struct rw_event *ev, enum rw_field f, size_t *len);
/* INT/BOOL/TIME value, or dflt when absent. */
int64_t rw_event__int(const struct rw_event *ev, enum rw_field f, int64_t dflt);

/* Iterate a STRV field: start with *pos = 0; returns the next element
 * (length in *len) or NULL at the end. */
const char *rw_event__strv_next(const struct rw_event *ev, enum rw_field f,
				uint32_t *pos, size_t *len);

/* Copy every field of src that dst lacks (used to attach process context). */
int rw_event__copy_field(struct rw_event *dst, const struct rw_event *src, enum rw_field f);

#endif
