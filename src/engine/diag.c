#include "engine/diag.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#define DIAG_DEFAULT_MAX 10000

void diag__init(struct diag *d)
{
	memset(d, 0, sizeof(*d));
}

void diag__free(struct diag *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++) {
		free(d->v[i].file);
		free(d->v[i].rule);
		free(d->v[i].text);
	}
	free(d->v);
	memset(d, 0, sizeof(*d));
}

void diag__vadd(struct diag *d, enum diag_level lvl, const char *file, unsigned line,
		unsigned col, const char *rule, const char *fmt, va_list ap)
{
	size_t max = d->max ? d->max : DIAG_DEFAULT_MAX;
	struct diag_msg *m;
	char *text = NULL;

	if (lvl == DIAG_ERROR)
		d->n_errors++;
	if (d->n >= max)
		goto lost;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;
		struct diag_msg *v = realloc(d->v, cap * sizeof(*v));

		if (!v)
			goto lost;
		d->v = v;
		d->cap = cap;
	}
	if (vasprintf(&text, fmt, ap) < 0)
		goto lost;
	m = &d->v[d->n];
	m->level = lvl;
	m->line = line;
	m->col = col;
	m->text = text;
	m->file = file ? strdup(file) : NULL;
	m->rule = rule ? strdup(rule) : NULL;
	if ((file && !m->file) || (rule && !m->rule)) {
		free(m->file);
		free(m->rule);
		free(text);
		goto lost;
	}
	d->n++;
	return;
lost:
	if (lvl == DIAG_ERROR)
		d->n_lost++;
}

void diag__add(struct diag *d, enum diag_level lvl, const char *file, unsigned line,
	       unsigned col, const char *rule, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag__vadd(d, lvl, file, line, col, rule, fmt, ap);
	va_end(ap);
}

static const char *level_name(enum diag_level l)
{
	switch (l) {
	case DIAG_ERROR: return "error";
	case DIAG_WARNING: return "warning";
	default: return "note";
	}
}

void diag__format(const struct diag_msg *m, char *buf, size_t size)
{
	char where[64] = "";
	int n;

	if (m->line)
		snprintf(where, sizeof(where), ":%u:%u", m->line, m->col);
	n = snprintf(buf, size, "%s%s: %s: ", m->file ? m->file : "ringward", where,
		     level_name(m->level));
	if (n < 0 || (size_t)n >= size)
		return;
	if (m->rule)
		snprintf(buf + n, size - (size_t)n, "rule %s: %s", m->rule, m->text);
	else
		snprintf(buf + n, size - (size_t)n, "%s", m->text);
}

void diag__print(const struct diag *d, FILE *out)
{
	char buf[4096];

	for (size_t i = 0; i < d->n; i++) {
		diag__format(&d->v[i], buf, sizeof(buf));
		fprintf(out, "%s\n", buf);
	}
	if (d->n_lost)
		fprintf(out, "ringward: error: %zu more errors not shown\n", d->n_lost);
}

char *diag__json(const struct diag *d)
{
	json_object *arr = json_object_new_array();
	char *s = NULL;

	if (!arr)
		return NULL;
	for (size_t i = 0; i < d->n; i++) {
		const struct diag_msg *m = &d->v[i];
		json_object *o = json_object_new_object();

		if (!o)
			goto cleanup;
		json_object_object_add(o, "file", m->file ? json_object_new_string(m->file) : NULL);
		json_object_object_add(o, "line", json_object_new_int((int)m->line));
		json_object_object_add(o, "column", json_object_new_int((int)m->col));
		json_object_object_add(o, "level", json_object_new_string(level_name(m->level)));
		json_object_object_add(o, "rule", m->rule ? json_object_new_string(m->rule) : NULL);
		json_object_object_add(o, "message", json_object_new_string(m->text));
		json_object_array_add(arr, o);
	}
	s = strdup(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN |
							JSON_C_TO_STRING_NOSLASHESCAPE));
cleanup:
	json_object_put(arr);
	return s;
}
