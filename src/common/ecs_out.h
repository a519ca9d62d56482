/*
 * Writing events: ECS JSON lines, or one readable text line per record.
 * Both walk the schema table (include/ringward/schema.def), so every field
 * the event carries is written and none is invented here.
 *
 * JSON: strings are escaped per RFC 8259; bytes that are not valid UTF-8
 * are written as \u00XX of the byte (so the output is always valid JSON
 * and the original bytes are recoverable); control characters are escaped.
 */
#ifndef RINGWARD_ECS_OUT_H
#define RINGWARD_ECS_OUT_H

#include <stddef.h>

#include "common/event.h"

/* A growable output buffer. */
struct strbuf {
	char *buf;	/* from malloc(); freed by strbuf__free */
	size_t len, cap;
	int oom;	/* an append failed: contents are incomplete */
};
void strbuf__append(struct strbuf *sb, const char *s, size_t n);
void strbuf__appendf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void strbuf__reset(struct strbuf *sb);
void strbuf__free(struct strbuf *sb);

/* Append s as a JSON string literal (with quotes). */
void json__append_string(struct strbuf *sb, const char *s, size_t n);

/* Append one event as a JSON object followed by '\n'. */
void ecs__write_json(struct strbuf *sb, const struct rw_event *ev);
/* Append one event as a readable line followed by '\n'. */
void ecs__write_text(struct strbuf *sb, const struct rw_event *ev);

#endif
