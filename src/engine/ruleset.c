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

#include "engine/anti_rollback.h"
#include "engine/bundle.h"
#include "engine/content_sign.h"
#include "engine/fault.h"
#include "engine/guardrails.h"
#include "engine/sigma.h"
#include "engine/sigma_match.h"

/* What matching changes: kept behind a pointer so that matching can take
 * a const rule set. */
struct ruleset_rt {
	struct match_scratch *ms;
	_Atomic uint8_t *disabled;	/* per rule */
	struct ruleset_stats st;
	volatile uint32_t *probe;	/* ruleset__set_probe(), or NULL */
};

struct ruleset {
	struct rule **rules;		/* from the loader */
	struct rule_info *info;		/* parallel to rules */
	size_t n, n_files;
	uint32_t *by_cat[SC__COUNT];	/* rule indexes per category */
	size_t n_by_cat[SC__COUNT];
	struct ruleset_rt *rt;
	struct cmatch *cm;		/* the compiled matcher */
	struct content_info *bundles;	/* from malloc(), strings too */
	size_t n_bundles;
	struct ruleset_signing signing;
};

/* The bundles met while loading. */
struct bundle_list {
	struct content_info *v;
	size_t n, cap;
};

static void bundle_list__free(struct bundle_list *bl)
{
	for (size_t i = 0; i < bl->n; i++)
		content_info__free(&bl->v[i]);
	free(bl->v);
	memset(bl, 0, sizeof(*bl));
}

/* What loading paths needs besides the loader. */
struct load_ctx {
	struct sigma_loader *ld;
	struct bundle_list *bl;
	const struct bundle_policy *pol;
	bool require_signed;	/* trusted keys configured */
	bool *signed_v;		/* per rule: from a bundle signed by a trusted
				 * key; from malloc() */
	size_t signed_cap, signed_rules;
};

/* Rules [from, ld->n_rules) came from content signed (or not). */
static void mark_signed(struct load_ctx *lc, size_t from, bool sig)
{
	size_t n = lc->ld->n_rules;

	if (n > lc->signed_cap) {
		size_t cap = n + 64;
		bool *v = realloc(lc->signed_v, cap * sizeof(*v));

		if (!v) {
			diag__add(lc->ld->diag, DIAG_ERROR, NULL, 0, 0, NULL, "out of memory");
			return;
		}
		memset(v + lc->signed_cap, 0, (cap - lc->signed_cap) * sizeof(*v));
		lc->signed_v = v;
		lc->signed_cap = cap;
	}
	for (size_t i = from; i < n; i++)
		lc->signed_v[i] = sig;
	if (sig)
		lc->signed_rules += n - from;
}

/* A directory holding a manifest is a bundle, wherever it is met: loaded
 * through the manifest (verified before parsed), never file by file. */
static void load_bundle(struct load_ctx *lc, const char *dir)
{
	struct sigma_loader *ld = lc->ld;
	struct bundle_list *bl = lc->bl;
	size_t before = ld->n_rules;
	struct content_info ci;

	bundle__load(ld, dir, lc->pol, &ci);
	mark_signed(lc, before, ci.key_id != NULL);
	if (bl->n == bl->cap) {
		size_t cap = bl->cap ? bl->cap * 2 : 4;
		struct content_info *v = realloc(bl->v, cap * sizeof(*v));

		if (!v) {
			diag__add(ld->diag, DIAG_ERROR, dir, 0, 0, NULL, "out of memory");
			content_info__free(&ci);
			return;
		}
		bl->v = v;
		bl->cap = cap;
	}
	bl->v[bl->n++] = ci;
}

/* Is path, given explicitly, a bundle's manifest? Then the bundle is
 * meant. Returns its directory (from malloc()) or NULL. */
static char *manifest_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;

	if (strcmp(base, BUNDLE_MANIFEST))
		return NULL;
	return slash ? strndup(path, (size_t)(slash - path) ? (size_t)(slash - path) : 1) :
		       strdup(".");
}

static const char *const action_names[] = { "alert", "block", "kill", "quarantine" };

void ruleset__free(struct ruleset *rs)
{
	if (!rs)
		return;
	for (size_t i = 0; i < rs->n; i++)
		rule__free(rs->rules[i]);
	free(rs->rules);
	free(rs->info);
	for (size_t i = 0; i < rs->n_bundles; i++)
		content_info__free(&rs->bundles[i]);
	free(rs->bundles);
	cmatch__free(rs->cm);
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

#define UNSIGNED_REFUSED "unsigned content refused: signed content is required (trusted keys " \
	"are configured), and "

static void load_path(struct load_ctx *lc, const char *path, int depth, bool explicit)
{
	struct sigma_loader *ld = lc->ld;
	struct stat st;
	struct dirent **ents = NULL;
	int n, refused = 0;

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
		char *bdir = explicit ? manifest_dir(path) : NULL;

		if (bdir) {
			load_bundle(lc, bdir);
			free(bdir);
			return;
		}
		if ((explicit || has_rule_ext(path)) && lc->require_signed) {
			/* counted by the directory, reported here when given */
			if (explicit)
				diag__add(ld->diag, DIAG_ERROR, path, 0, 0, NULL, UNSIGNED_REFUSED
					  "this rule file is not in a signed bundle; it is not "
					  "parsed");
			return;
		}
		if (explicit || has_rule_ext(path)) {
			size_t before = ld->n_rules;

			sigma__load_file(ld, path);
			mark_signed(lc, before, false);
		}
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
	if (bundle__is_bundle(path)) {
		load_bundle(lc, path);
		return;
	}
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
			struct stat sst;

			if (lc->require_signed && has_rule_ext(sub) && stat(sub, &sst) == 0 &&
			    S_ISREG(sst.st_mode))
				refused++;
			load_path(lc, sub, depth + 1, false);
			free(sub);
		}
		free(ents[i]);
	}
	free(ents);
	if (refused)
		diag__add(ld->diag, DIAG_ERROR, path, 0, 0, NULL, UNSIGNED_REFUSED "this "
			  "directory holds %d rule file%s outside any signed bundle; %s not parsed",
			  refused, refused == 1 ? "" : "s", refused == 1 ? "it is" : "they are");
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

/* The guardrails over the rules loaded (engine/guardrails.h); the content
 * paths themselves are protected too. 0 or -ENOMEM (refusals are in d). */
static int guard(struct sigma_loader *ld, const struct load_ctx *lc, const char *const paths[],
		 int n, const struct ruleset_opts *opts, bool *downgraded, struct diag *d)
{
	size_t extra = opts ? opts->n_protected_paths : 0, np = 0;
	const char **prot = calloc((size_t)n + extra + 1, sizeof(*prot));
	bool *sig = calloc(ld->n_rules, sizeof(*sig));
	struct guard_opts go = { 0 };
	int r = -ENOMEM;

	if (!prot || !sig)
		goto cleanup;
	for (int i = 0; i < n; i++)
		prot[np++] = paths[i];
	for (size_t i = 0; i < extra; i++)
		prot[np++] = opts->protected_paths[i];
	for (size_t i = 0; i < ld->n_rules && i < lc->signed_cap; i++)
		sig[i] = lc->signed_v[i];
	go.downgrade = opts && opts->guardrails_downgrade;
	go.dpkg_info_dir = opts ? opts->dpkg_info_dir : NULL;
	go.protected_paths = prot;
	go.n_protected_paths = np;
	r = guardrails__check(ld->rules, ld->n_rules, sig, downgraded, &go, d);
cleanup:
	free(prot);
	free(sig);
	return r < 0 ? r : 0;
}

/* Record the version of every bundle of rs as accepted. An older one
 * recorded meanwhile (another load raced this one) refuses the set: -1. */
static int record_versions(const struct ruleset *rs, const char *dir, struct diag *d)
{
	int ret = 0;

	for (size_t i = 0; i < rs->n_bundles; i++) {
		const struct content_info *ci = &rs->bundles[i];
		int e = content_version__check_and_persist(dir, ci->name, ci->version);

		if (e == -ESTALE) {
			diag__add(d, DIAG_ERROR, ci->path, 0, 0, NULL, "bundle '%s' version %lld "
				  "became older than the highest accepted while it loaded "
				  "(anti-rollback): refused", ci->name, (long long)ci->version);
			ret = -1;
		} else if (e) {
			diag__add(d, DIAG_WARNING, dir, 0, 0, NULL, "cannot record version %lld of "
				  "bundle '%s' (anti-rollback): %s", (long long)ci->version, ci->name,
				  strerror(-e));
		}
	}
	return ret;
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
	struct bundle_list bl = { 0 };
	struct sign_trust trust = { 0 };
	struct bundle_policy pol = { 0 };
	struct load_ctx lc = { .ld = &ld, .bl = &bl, .pol = &pol };
	struct ruleset *rs = NULL;
	bool *downgraded = NULL;
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
	if (opts && opts->n_trusted_keys) {
		err = sign_trust__load(&trust, opts->trusted_keys, opts->n_trusted_keys, d);
		if (err)
			goto cleanup;	/* nothing could be checked: nothing loads */
	}
	pol.trust = &trust;
	pol.versions_dir = opts ? opts->versions_dir : NULL;
	pol.last_known_good = opts && opts->last_known_good;
	pol.now = opts ? opts->now : 0;
	lc.require_signed = trust.required;
	if (buf && lc.require_signed) {
		diag__add(d, DIAG_ERROR, name, 0, 0, NULL, UNSIGNED_REFUSED "content held in memory "
			  "is not a signed bundle; it is not parsed");
	} else if (buf) {
		ld.n_files = 1;
		sigma__load_buffer(&ld, name, buf, len);
		mark_signed(&lc, 0, false);
	}
	for (int i = 0; i < n; i++)
		load_path(&lc, paths[i], 0, true);
	if (ld.n_rules > SIGMA_MAX_RULES)
		diag__add(d, DIAG_ERROR, NULL, 0, 0, NULL, "%zu rules, more than the limit of %d "
			  "per rule set", ld.n_rules, SIGMA_MAX_RULES);
	check_ids(&ld);
	if (d->n_errors == errors_before && ld.n_rules) {
		downgraded = calloc(ld.n_rules, sizeof(*downgraded));
		err = downgraded ? guard(&ld, &lc, paths, n, opts, downgraded, d) : -ENOMEM;
		if (err == -ENOMEM)
			diag__add(d, DIAG_ERROR, NULL, 0, 0, NULL, "out of memory");
	}
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
	rs->bundles = bl.v;
	rs->n_bundles = bl.n;
	memset(&bl, 0, sizeof(bl));
	err = build(rs);
	if (err) {
		diag__add(d, DIAG_ERROR, NULL, 0, 0, NULL, "out of memory");
		ruleset__free(rs);
		rs = NULL;
		goto cleanup;
	}
	for (size_t i = 0; i < rs->n; i++) {
		bool sig = i < lc.signed_cap && lc.signed_v[i];

		rs->info[i].fail_closed = rs->rules[i]->fail_closed;
		rs->info[i].kill_group = rs->rules[i]->kill_group;
		rs->info[i].allow_protected = rs->rules[i]->allow_protected && sig;
		rs->info[i].downgraded = downgraded && downgraded[i];
	}
	rs->signing.required = trust.required;
	rs->signing.trusted_keys = trust.n;
	rs->signing.unsigned_rules = rs->n - lc.signed_rules;
	rs->signing.all_signed = rs->n && lc.signed_rules == rs->n;
	/* all rules together: a set the matcher cannot compile does not load */
	rs->cm = cmatch__new(rs->rules, rs->n, rs->rt->ms, d);
	if (!rs->cm) {
		err = -errno;
		ruleset__free(rs);
		rs = NULL;
		goto cleanup;
	}
	/* the set loads: its versions become the floor (anti-rollback) */
	if (pol.versions_dir && !pol.last_known_good && record_versions(rs, pol.versions_dir, d)) {
		err = -ESTALE;
		ruleset__free(rs);
		rs = NULL;
	}
cleanup:
	free(downgraded);
	free(lc.signed_v);
	sign_trust__free(&trust);
	bundle_list__free(&bl);
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

size_t ruleset__kill_rules(struct ruleset *rs, const char *const *ids, size_t n)
{
	size_t hit = 0;

	for (size_t i = 0; rs && i < rs->n; i++) {
		const char *id = rs->rules[i]->id;

		for (size_t k = 0; id && k < n; k++)
			if (!strcmp(id, ids[k])) {
				atomic_store_explicit(&rs->rt->disabled[i], 1, memory_order_relaxed);
				rs->info[i].killed = true;
				hit++;
				break;
			}
	}
	return hit;
}

const struct rule_info *ruleset__rule(const struct ruleset *rs, size_t i)
{
	return rs && i < rs->n ? &rs->info[i] : NULL;
}

void ruleset__signing(const struct ruleset *rs, struct ruleset_signing *out)
{
	memset(out, 0, sizeof(*out));
	if (rs)
		*out = rs->signing;
}

const char *ruleset__signing_state(const struct ruleset *rs)
{
	if (!rs || !rs->n)
		return "no rules";
	/* with trusted keys configured nothing unsigned loads */
	if (rs->signing.all_signed)
		return "signed";
	return "unsigned: no trusted key is configured";
}

size_t ruleset__bundles(const struct ruleset *rs)
{
	return rs ? rs->n_bundles : 0;
}

const struct content_info *ruleset__content_info(const struct ruleset *rs, size_t i)
{
	return rs && i < rs->n_bundles ? &rs->bundles[i] : NULL;
}

struct rule *ruleset__compiled(struct ruleset *rs, size_t i)
{
	return rs && i < rs->n ? rs->rules[i] : NULL;
}

struct cmatch *ruleset__cmatch(const struct ruleset *rs)
{
	return rs ? rs->cm : NULL;
}

/* Evaluate rule i (a candidate) by the compiled matcher or naively; a rule
 * that reads out of range is disabled and counted. 1, 0, or -errno. */
static int eval_rule(const struct ruleset *rs, uint32_t i, const struct rw_event *ev,
		     bool naive)
{
	struct ruleset_rt *rt = rs->rt;
	int m;

	if (i >= rs->n || atomic_load_explicit(&rt->disabled[i], memory_order_relaxed))
		return 0;
	if (rt->probe)
		*rt->probe = i;
	rt->st.evaluations++;
	m = naive ? sigma_match__rule(rs->rules[i], ev, rt->ms) :
		    cmatch__rule(rs->cm, rs->rules[i], ev, rt->ms);
	if (m == -EFAULT) {
		if (fault__switches & FAULT_NO_BOUNDS_CHECK)	/* test only */
			fault__unchecked_access(rs->rules[i]);
		atomic_store_explicit(&rt->disabled[i], 1, memory_order_relaxed);
		rt->st.disabled_oob++;
		return 0;
	}
	if (m > 0)
		rt->st.matches++;
	return m;
}

int ruleset__match(const struct ruleset *rs, const struct rw_event *ev,
		   ruleset_match_fn cb, void *ctx)
{
	const uint32_t *cands;
	const char *action;
	size_t alen;
	int n, matched = 0;

	rs->rt->st.events++;
	action = rw_event__str(ev, RW_F_EVENT_ACTION, &alen);
	if (!action)
		return 0;
	n = cmatch__scan(rs->cm, ev, cmatch__mask(rs->cm, action, alen), rs->rt->ms, &cands);
	if (n < 0)
		return n;
	for (int k = 0; k < n; k++) {
		int m = eval_rule(rs, cands[k], ev, false), stop;

		if (m < 0)
			return m;
		if (!m)
			continue;
		matched++;
		if (cb && (stop = cb(&rs->info[cands[k]], ev, ctx)))
			return stop;
	}
	return matched;
}

int ruleset__match_naive(const struct ruleset *rs, const struct rw_event *ev,
			 ruleset_match_fn cb, void *ctx)
{
	const char *action;
	size_t alen;
	uint32_t mask;
	int matched = 0;

	rs->rt->st.events++;
	action = rw_event__str(ev, RW_F_EVENT_ACTION, &alen);
	if (!action)
		return 0;
	mask = sigma_cat__mask_for_action(action, alen);
	match_scratch__reset(rs->rt->ms, ev);
	for (int c = 0; c < SC__COUNT; c++) {
		if (!(mask & (1u << c)))
			continue;
		for (size_t k = 0; k < rs->n_by_cat[c]; k++) {
			uint32_t i = rs->by_cat[c][k];
			int m = eval_rule(rs, i, ev, true), stop;

			if (m < 0)
				return m;
			if (!m)
				continue;
			matched++;
			if (cb && (stop = cb(&rs->info[i], ev, ctx)))
				return stop;
		}
	}
	return matched;
}

void ruleset__set_probe(const struct ruleset *rs, volatile uint32_t *slot)
{
	if (rs)
		rs->rt->probe = slot;
}

void ruleset__stats(const struct ruleset *rs, struct ruleset_stats *st)
{
	*st = rs->rt->st;
	match_scratch__counts(rs->rt->ms, &st->bad_values, &st->re_errors);
}
