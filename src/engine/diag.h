/*
 * Diagnostics of the content loader: one message per problem, each with
 * the file, line and column (1-based; 0 when unknown) it is about. The
 * validator prints them as `file:line:col: error: message`, or as JSON.
 *
 * Errors: diag__add() never fails visibly: when memory runs out the
 * message is dropped and d->n_lost is bumped (still counted as an error,
 * so a load never passes because a message could not be stored).
 */
#ifndef RINGWARD_DIAG_H
#define RINGWARD_DIAG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

enum diag_level { DIAG_ERROR, DIAG_WARNING, DIAG_NOTE };

struct diag_msg {
	enum diag_level level;
	char *file;	/* from malloc(); may be NULL */
	unsigned line, col;
	char *rule;	/* rule id, from malloc(); may be NULL */
	char *text;	/* from malloc() */
};

struct diag {
	struct diag_msg *v;	/* from malloc(); freed by diag__free */
	size_t n, cap;
	size_t n_errors;	/* includes n_lost */
	size_t n_lost;		/* messages dropped for lack of memory */
	size_t max;		/* keep at most this many messages (0 = 10000) */
};

void diag__init(struct diag *d);
void diag__free(struct diag *d);	/* frees the messages; d itself is the caller's */

void diag__add(struct diag *d, enum diag_level lvl, const char *file, unsigned line,
	       unsigned col, const char *rule, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));
void diag__vadd(struct diag *d, enum diag_level lvl, const char *file, unsigned line,
		unsigned col, const char *rule, const char *fmt, va_list ap);

/* One line per message: `file:line:col: error: rule ID: text`. */
void diag__print(const struct diag *d, FILE *out);
/* Format one message the same way into buf (truncated to size). */
void diag__format(const struct diag_msg *m, char *buf, size_t size);
/* A JSON array of {"file","line","column","level","rule","message"}; the
 * returned string is from malloc(), caller frees; NULL on ENOMEM. */
char *diag__json(const struct diag *d);

#endif
