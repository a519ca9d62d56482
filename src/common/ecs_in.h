/*
 * Reading events back: one ECS JSON line, as ecs__write_json() writes it
 * (src/common/ecs_out.c), into a struct rw_event. Used by `ringward
 * replay`, so that recorded events are evaluated exactly as live ones.
 *
 * Driven by the schema table: nested objects are walked to dotted names
 * ("process": {"parent": {"pid": 1}} is process.parent.pid), each looked up
 * in schema.def and set with its type. It is the writer's inverse, byte for
 * byte: \u0000..\u00ff escapes become the single byte they stand for (the
 * writer escapes bytes that are not valid UTF-8 that way, and copies valid
 * UTF-8 as is), other escapes become UTF-8. This is why the reader has its
 * own small strict JSON parser: json-c decodes \u00e9 to the two bytes of
 * U+00E9, and the original byte would be lost.
 *
 * Fields the schema does not know, and values of the wrong JSON type, are
 * skipped and counted, never guessed at.
 *
 * Errors: 0; -EINVAL when the line is not one JSON object (ev is then
 * partly filled and must be reset); -ENOSPC when a value did not fit the
 * event's arena (it was truncated and counted in ev->n_truncated).
 */
#ifndef RINGWARD_ECS_IN_H
#define RINGWARD_ECS_IN_H

#include <stddef.h>
#include <stdint.h>

#include "common/event.h"

#define ECS_IN_MAX_DEPTH 32	/* nesting of JSON objects and arrays */

struct ecs_in_stats {
	uint64_t unknown_fields;	/* names not in schema.def (skipped) */
	uint64_t bad_types;		/* values of the wrong JSON type (skipped) */
};

/* Parse len bytes of line (one JSON object; a trailing newline is fine)
 * into ev, which the caller has reset. st may be NULL. */
int ecs__read_json(struct rw_event *ev, const char *line, size_t len, struct ecs_in_stats *st);

/* Parse an RFC 3339 time ("2026-11-26T08:12:23.123456789Z", or with a
 * +hh:mm offset) to nanoseconds since the epoch. 0 or -EINVAL. */
int ecs__parse_time(const char *s, size_t len, int64_t *ns);

#endif
