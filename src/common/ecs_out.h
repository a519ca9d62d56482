/*
 * Writing events: ECS JSON lines, or one readable text line per record.
 * Both walk the schema table (include/ringward/schema.def), so every field
 * the event carries is written and none is invented here.
 *
 * JSON: strings are escaped per RFC 8259; bytes that are not valid UTF-8
 * are written as \u00XX of the byte (so the output is always valid JSON
 * and the original bytes are recoverable); control characters are escaped.
 *
 * In detail: '"' and '\\' as \" and \\; \b \f \n \r \t; other bytes below
 * 0x20 as \u00XX; DEL and '/' as they are. Well-formed UTF-8 (RFC 3629:
 * no overlong forms, no surrogates U+D800..U+DFFF, nothing above U+10FFFF)
 * is copied unchanged. Every other byte is written alone as \u00XX, and
 * decoding resumes at the next byte. A JSON parser reads \u00XX back as the
 * code point U+00XX (byte 0xff becomes "\u00ff", which decodes to "ÿ"), so
 * a consumer that needs the exact bytes looks at the raw line: since valid
 * UTF-8 is never escaped, a \u0080..\u00ff escape there always stands for
 * one raw byte. We chose this over U+FFFD (which loses the byte) and over
 * failing the record (which would let one hostile path hide an event).
 *
 * Text: control bytes (C0, DEL and C1 U+0080..U+009F), backslash and bytes
 * that are not valid UTF-8 are written as \n \t \r \\ or \xHH, so that a
 * hostile file name cannot drive the terminal.
 */
#ifndef RINGWARD_ECS_OUT_H
#define RINGWARD_ECS_OUT_H

#include <stddef.h>

#include "common/event.h"

/* A growable output buffer (not NUL-terminated: use len). Once an append
 * fails, oom is set and every append is a no-op until strbuf__reset. */
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
