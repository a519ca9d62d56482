/*
 * Rule sets: loading files and directories through the Sigma loader,
 * indexing rules by category, and matching events.
 */
#include "engine/ruleset.h"

#include <dirent.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/sigma.h"

/* What matching changes: kept behind a pointer so that matching can take
 * a const rule set. */
struct ruleset_rt {
	struct match_scratch *ms;
	_Atomic uint8_t *disabled;	/* per rule */
	struct ruleset_stats st;
};

struct ruleset {
	struct rule **rules;		/* from the loader */
	struct rule_info *info;		/* parallel to rules */
	size_t n, n_files;
	uint32_t *by_cat[SC__COUNT];	/* rule indexes per category */
	size_t n_by_cat[SC__COUNT];
	struct ruleset_rt *rt;
};

static const char *const action_names[] = { "alert", "block", "kill" };

void ruleset__free(struct ruleset *rs)
{
	if (!rs)
		return;
	for (size_t i = 0; i < rs->n; i++)
		rule__free(rs->rules[i]);
	free(rs->rules);
	free(rs->info);
	for (int c = 0; c < SC__COUNT; c++)
		free(rs->by_cat[c]);
	if (rs->rt) {
		match_scratch__free(rs->rt->ms);
		free((void *)rs->rt->disabled);
		free(rs->rt);
	}
	free(rs);
}

static bool has_rule_ext(const char *name)
{
	size_t n = strlen(name);

	return (n > 4 && !strcmp(name + n - 4, ".yml")) || (n > 5 && !strcmp(name + n - 5, ".yaml"));
}

static void load_path(struct sigma_loader *ld, const char *path, int depth, bool explicit)
{
	struct stat st;
	struct dirent **ents = NULL;
	int n;

	if ((explicit ? stat(path, &st) : lstat(path, &st)) != 0) {
		diag__add(ld->diag, DIAG_ERROR, path, 0, 0, NULL, "cannot open: %s",
			  strerror(errno));
		return;
	}
	if (S_ISLNK(st.st_mode)) {
		/* follow links to files, never to directories (no loops) */
		if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
			return;
	}
	if (S_ISREG(st.st_mode)) {
		if (explicit || has_rule_ext(path))
			sigma__load_file(ld, path);
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		if (explicit)
			diag__add(ld->diag, DIAG_ERROR, path, 0, 0, NULL,
				  "not a file or directory");
		return;
	}
	if (depth >= SIGMA_MAX_DIR_DEPTH) {
		diag__add(ld->diag, DIAG_ERROR, path, 0, 0, NULL,
			  "directories nested deeper than %d levels", SIGMA_MAX_DIR_DEPTH);
		return;
	}
	if (ld->n_rules > SIGMA_MAX_RULES)
		return;	/* over the limit already: reported by the caller */
	n = scandir(path, &ents, NULL, alphasort);
	if (n < 0) {
		diag__add(ld->diag, DIAG_ERROR, path, 0, 0, NULL, "cannot read directory: %s",
			  strerror(errno));
		return;
	}
	for (int i = 0; i < n; i++) {
		char *sub;

		if (ents[i]->d_name[0] != '.' &&
		    asprintf(&sub, "%s/%s", path, ents[i]->d_name) >= 0) {
			load_path(ld, sub, depth + 1, false);
			free(sub);
		}
		free(ents[i]);
	}
	free(ents);
}

struct idref {
	const struct rule *r;
	size_t order;	/* load order */
};

static int cmp_id(const void *a, const void *b)
{
	const struct idref *x = a, *y = b;
	int c = strcmp(x->r->id, y->r->id);

	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* Rule ids are unique in a set: report every later duplicate against the
 * first one loaded. */
static void check_ids(struct sigma_loader *ld)
{
	struct idref *v = malloc((ld->n_rules + 1) * sizeof(*v));
	size_t n = 0;

	if (!v) {
		diag__add(ld->diag, DIAG_ERROR, NULL, 0, 0, NULL, "out of memory");
		return;
	}
	for (size_t i = 0; i < ld->n_rules; i++)
		if (ld->rules[i]->id)
			v[n++] = (struct idref){ ld->rules[i], i };
	qsort(v, n, sizeof(*v), cmp_id);
	for (size_t i = 1, first = 0; i < n; i++) {
		if (strcmp(v[i].r->id, v[first].r->id)) {
			first = i;
			continue;
		}
		diag__add(ld->diag, DIAG_ERROR, v[i].r->file, v[i].r->line, v[i].r->col,
			  v[i].r->id, "duplicate rule id (first loaded from %s:%u)",
			  v[first].r->file, v[first].r->line);
	}
	free(v);
}

static int build(struct ruleset *rs)
{
	rs->info = calloc(rs->n ? rs->n : 1, sizeof(*rs->info));
	rs->rt = calloc(1, sizeof(*rs->rt));
	if (!rs->info || !rs->rt)
		return -ENOMEM;
	rs->rt->disabled = calloc(rs->n ? rs->n : 1, sizeof(*rs->rt->disabled));
	rs->rt->ms = match_scratch__new();
	if (!rs->rt->disabled || !rs->rt->ms)
		return -ENOMEM;
	for (size_t i = 0; i < rs->n; i++) {
		struct rule *r = rs->rules[i];
		struct rule_info *in = &rs->info[i];

		*in = (struct rule_info){
			.id = r->id, .title = r->title, .description = r->description,
			.author = r->author, .level = r->level, .severity = r->severity,
			.status = r->status, .tags = (const char *const *)r->tags,
			.n_tags = r->n_tags, .category = sigma_cat_names[r->cat],
			.action = action_names[r->action], .file = r->file, .line = r->line,
		};
		rs->n_by_cat[r->cat]++;
		for (uint32_t p = 0; p < r->n_pats; p++)
			if (r->pats[p].re && match_scratch__prepare(rs->rt->ms, r->pats[p].re))
				return -ENOMEM;
	}
	for (int c = 0; c < SC__COUNT; c++) {
		rs->by_cat[c] = malloc((rs->n_by_cat[c] ? rs->n_by_cat[c] : 1) * sizeof(uint32_t));
		if (!rs->by_cat[c])
			return -ENOMEM;
		rs->n_by_cat[c] = 0;
	}
	for (size_t i = 0; i < rs->n; i++) {
		enum sigma_cat c = rs->rules[i]->cat;

		rs->by_cat[c][rs->n_by_cat[c]++] = (uint32_t)i;
	}
	return 0;
}

/* Load from paths, or from one buffer when buf is set. */
static struct ruleset *load(const char *const paths[], int n, const char *name,
			    const char *buf, size_t len, const struct ruleset_opts *opts,
			    struct diag *out)
{
	struct diag local;
	struct diag *d = out ? out : &local;
	struct placeholders ph = { 0 };
	struct sigma_loader ld = { 0 };
	struct ruleset *rs = NULL;
	size_t errors_before;
	int err = 0;

	if (!out)
		diag__init(&local);
	errors_before = d->n_errors;
	ld.diag = d;
	if (hs_valid_platform() != HS_SUCCESS) {
		diag__add(d, DIAG_ERROR, NULL, 0, 0, NULL,
			  "this CPU cannot run Hyperscan (SSSE3 required)");
		err = -ENOTSUP;
		goto cleanup;
	}
	ld.ph = &ph;
	if (opts && opts->placeholders) {
		ld.ph = opts->placeholders;
	} else if (opts && opts->placeholders_path) {
		err = placeholders__load(&ph, opts->placeholders_path, d);
		if (err)
			goto cleanup;
	}
	if (buf) {
		ld.n_files = 1;
		sigma__load_buffer(&ld, name, buf, len);
	}
	for (int i = 0; i < n; i++)
		load_path(&ld, paths[i], 0, true);
	if (ld.n_rules > SIGMA_MAX_RULES)
		diag__add(d, DIAG_ERROR, NULL, 0, 0, NULL, "%zu rules, more than the limit of %d "
			  "per rule set", ld.n_rules, SIGMA_MAX_RULES);
	check_ids(&ld);
	if (d->n_errors != errors_before) {
		err = -EINVAL;
		goto cleanup;
	}
	rs = calloc(1, sizeof(*rs));
	if (!rs) {
		err = -ENOMEM;
		goto cleanup;
	}
	rs->rules = ld.rules;
	rs->n = ld.n_rules;
	rs->n_files = ld.n_files;
	ld.rules = NULL;
	ld.n_rules = 0;
	err = build(rs);
	if (err) {
		diag__add(d, DIAG_ERROR, NULL, 0, 0, NULL, "out of memory");
		ruleset__free(rs);
		rs = NULL;
	}
cleanup:
	sigma_loader__free_rules(&ld);
	placeholders__free(&ph);
	if (!out)
		diag__free(&local);
	if (!rs)
		errno = err ? -err : EINVAL;
	return rs;
}

struct ruleset *ruleset__load_opts(const char *const paths[], int n,
				   const struct ruleset_opts *opts, struct diag *out)
{
	return load(paths, n, NULL, NULL, 0, opts, out);
}

struct ruleset *ruleset__load_buffer(const char *name, const char *buf, size_t len,
				     const struct ruleset_opts *opts, struct diag *out)
{
	return load(NULL, 0, name, buf ? buf : "", len, opts, out);
}

struct ruleset *ruleset__load(const char *const paths[], int n, struct diag *out)
{
	return ruleset__load_opts(paths, n, NULL, out);
}

size_t ruleset__count(const struct ruleset *rs)
{
	return rs ? rs->n : 0;
}

size_t ruleset__files(const struct ruleset *rs)
{
	return rs ? rs->n_files : 0;
}

const struct rule_info *ruleset__rule(const struct ruleset *rs, size_t i)
{
	return rs && i < rs->n ? &rs->info[i] : NULL;
}

struct rule *ruleset__compiled(struct ruleset *rs, size_t i)
{
	return rs && i < rs->n ? rs->rules[i] : NULL;
}

int ruleset__match(const struct ruleset *rs, const struct rw_event *ev,
		   ruleset_match_fn cb, void *ctx)
{
	struct ruleset_rt *rt = rs->rt;
	const char *action;
	size_t alen;
	uint32_t mask;
	int matched = 0;

	rt->st.events++;
	action = rw_event__str(ev, RW_F_EVENT_ACTION, &alen);
	if (!action)
		return 0;
	mask = sigma_cat__mask_for_action(action, alen);
	match_scratch__reset(rt->ms, ev);
	for (int c = 0; c < SC__COUNT; c++) {
		if (!(mask & (1u << c)))
			continue;
		for (size_t k = 0; k < rs->n_by_cat[c]; k++) {
			uint32_t i = rs->by_cat[c][k];
			int m, stop;

			if (atomic_load_explicit(&rt->disabled[i], memory_order_relaxed))
				continue;
			rt->st.evaluations++;
			m = sigma_match__rule(rs->rules[i], ev, rt->ms);
			if (m == -EFAULT) {
				atomic_store_explicit(&rt->disabled[i], 1, memory_order_relaxed);
				rt->st.disabled_oob++;
				continue;
			}
			if (m < 0)
				return m;
			if (!m)
				continue;
			rt->st.matches++;
			matched++;
			if (cb && (stop = cb(&rs->info[i], ev, ctx)))
				return stop;
		}
	}
	return matched;
}

void ruleset__stats(const struct ruleset *rs, struct ruleset_stats *st)
{
	*st = rs->rt->st;
	match_scratch__counts(rs->rt->ms, &st->bad_values, &st->re_errors);
}
