/*
 * The rollout document and the choice of a host's content version
 * (update/rollout.h).
 */
#include "update/rollout.h"

#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/bundle.h"

#define fail tuf_err__set	/* the update/ modules' one way to refuse (tuf.h) */


static json_object *get(json_object *o, const char *key)
{
	json_object *v = NULL;

	if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

/* A string without NUL of 1..max bytes, or NULL. */
static const char *str_of(json_object *v, size_t max)
{
	const char *s;
	size_t n;

	if (!json_object_is_type(v, json_type_string))
		return NULL;
	s = json_object_get_string(v);
	n = (size_t)json_object_get_string_len(v);
	if (n == 0 || n > max || strlen(s) != n)
		return NULL;
	return s;
}

static bool int_of(json_object *v, int64_t min, int64_t max, int64_t *out)
{
	int64_t x;

	if (!json_object_is_type(v, json_type_int))
		return false;
	x = json_object_get_int64(v);
	if (x < min || x > max)
		return false;
	*out = x;
	return true;
}

/* Refuse members not in allowed (NULL-terminated): a misspelt
 * "kill-switch" must not pass as a document without a kill switch. */
static int only_keys(json_object *o, const char *const *allowed, const char *name,
		     const char *where, struct tuf_err *e)
{
	json_object_object_foreach(o, k, v) {
		size_t i;

		(void)v;
		for (i = 0; allowed[i]; i++)
			if (!strcmp(allowed[i], k))
				break;
		if (!allowed[i])
			return fail(e, -EINVAL, "%s: %s: unknown member \"%.64s\"", name, where, k);
	}
	return 0;
}

static bool plain_name(const char *s)
{
	return s && strlen(s) <= ROLLOUT_MAX_NAME && tuf__valid_name(s);
}

void rollout__free(struct rollout_doc *doc)
{
	if (!doc)
		return;
	free(doc->salt);
	for (size_t i = 0; i < doc->n_rings; i++)
		free(doc->rings[i].name);
	for (size_t i = 0; i < doc->n_releases; i++) {
		free(doc->releases[i].target);
		free(doc->releases[i].halted);
	}
	free(doc->releases);
	for (size_t i = 0; i < doc->n_groups; i++)
		free(doc->groups[i].name);
	free(doc->groups);
	free(doc->killed_versions);
	for (size_t i = 0; i < doc->n_killed_rules; i++)
		free(doc->killed_rules[i]);
	free(doc->killed_rules);
	memset(doc, 0, sizeof(*doc));
}

static int parse_gates(struct rollout_gates *g, json_object *o, const char *name,
		       const char *ring, struct tuf_err *e)
{
	static const char *const keys[] = { "max_engine_restarts", "max_rule_errors",
		"max_drop_ppm", "max_cpu_permille", "min_hosts", NULL };
	int64_t *slot[] = { &g->max_engine_restarts, &g->max_rule_errors, &g->max_drop_ppm,
			    &g->max_cpu_permille, &g->min_hosts };
	int err;

	g->max_engine_restarts = g->max_rule_errors = g->max_drop_ppm = -1;
	g->max_cpu_permille = -1;
	g->min_hosts = 0;
	if (!o)
		return 0;
	if (!json_object_is_type(o, json_type_object))
		return fail(e, -EINVAL, "%s: ring %s: \"gates\" must be an object", name, ring);
	err = only_keys(o, keys, name, "gates", e);
	if (err)
		return err;
	for (size_t i = 0; keys[i]; i++) {
		json_object *v = get(o, keys[i]);

		if (v && !int_of(v, 0, INT_MAX, slot[i]))
			return fail(e, -EINVAL, "%s: ring %s: gates.%s must be an integer >= 0",
				    name, ring, keys[i]);
	}
	return 0;
}

static int parse_rings(struct rollout_doc *doc, json_object *a, const char *name,
		       struct tuf_err *e)
{
	static const char *const keys[] = { "name", "hosts_bp", "bake_seconds",
		"urgent_bake_seconds", "gates", NULL };
	size_t n;
	int64_t sum = 0;
	int err;

	if (!json_object_is_type(a, json_type_array))
		return fail(e, -EINVAL, "%s: \"rings\" must be an array", name);
	n = json_object_array_length(a);
	if (n < 2 || n > ROLLOUT_MAX_RINGS)
		return fail(e, -EINVAL, "%s: %zu rings: there must be 2 to %d (no release may "
			    "reach every host in one step)", name, n, ROLLOUT_MAX_RINGS);
	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_array_get_idx(a, i);
		struct rollout_ring *r = &doc->rings[i];
		const char *rn = str_of(get(o, "name"), ROLLOUT_MAX_NAME);
		int64_t bp;
		bool last = i + 1 == n;

		if (!json_object_is_type(o, json_type_object) || !plain_name(rn))
			return fail(e, -EINVAL, "%s: rings[%zu] needs a \"name\" (letters, digits, "
				    "'.', '_', '-')", name, i);
		err = only_keys(o, keys, name, rn, e);
		if (err)
			return err;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(doc->rings[j].name, rn))
				return fail(e, -EINVAL, "%s: ring %s is named twice", name, rn);
		r->name = strdup(rn);
		if (!r->name)
			return fail(e, -ENOMEM, "%s: out of memory", name);
		doc->n_rings++;
		if (!int_of(get(o, "hosts_bp"), 1, ROLLOUT_BP_ALL, &bp))
			return fail(e, -EINVAL, "%s: ring %s: \"hosts_bp\" must be an integer from 1 "
				    "to 10000 (basis points of the hosts)", name, rn);
		r->hosts_bp = (unsigned)bp;
		sum += bp;
		if (get(o, "bake_seconds") &&
		    !int_of(get(o, "bake_seconds"), 0, INT64_MAX / 4, &r->bake))
			return fail(e, -EINVAL, "%s: ring %s: \"bake_seconds\" must be an integer",
				    name, rn);
		r->urgent_bake = r->bake;
		if (get(o, "urgent_bake_seconds") &&
		    !int_of(get(o, "urgent_bake_seconds"), 0, INT64_MAX / 4, &r->urgent_bake))
			return fail(e, -EINVAL, "%s: ring %s: \"urgent_bake_seconds\" must be an "
				    "integer", name, rn);
		if (!last && r->bake < ROLLOUT_MIN_BAKE)
			return fail(e, -EINVAL, "%s: ring %s: \"bake_seconds\" must be at least %d: "
				    "a ring must bake before the next one starts", name, rn,
				    ROLLOUT_MIN_BAKE);
		if (!last && (r->urgent_bake < ROLLOUT_MIN_BAKE || r->urgent_bake > r->bake))
			return fail(e, -EINVAL, "%s: ring %s: \"urgent_bake_seconds\" must be from "
				    "%d to bake_seconds: urgent content is shorter-baked, never "
				    "unbaked", name, rn, ROLLOUT_MIN_BAKE);
		err = parse_gates(&r->gates, get(o, "gates"), name, rn, e);
		if (err)
			return err;
	}
	if (sum != ROLLOUT_BP_ALL)
		return fail(e, -EINVAL, "%s: the rings' hosts_bp add up to %lld, not 10000", name,
			    (long long)sum);
	return 0;
}

static int ring_index(const struct rollout_doc *doc, const char *rn)
{
	for (size_t i = 0; i < doc->n_rings; i++)
		if (!strcmp(doc->rings[i].name, rn))
			return (int)i;
	return -1;
}

static int cmp_release(const void *a, const void *b)
{
	const struct rollout_release *x = a, *y = b;

	return x->version < y->version ? -1 : x->version > y->version;
}

static int parse_release(struct rollout_doc *doc, struct rollout_release *r, json_object *o,
			 size_t i, const char *name, struct tuf_err *e)
{
	static const char *const keys[] = { "version", "target", "urgent", "halted", "rings",
		NULL };
	json_object *rings, *v;
	const char *t;
	char where[48];
	int err;

	snprintf(where, sizeof(where), "releases[%zu]", i);
	if (!json_object_is_type(o, json_type_object))
		return fail(e, -EINVAL, "%s: %s must be an object", name, where);
	err = only_keys(o, keys, name, where, e);
	if (err)
		return err;
	if (!int_of(get(o, "version"), 1, INT64_MAX / 2, &r->version))
		return fail(e, -EINVAL, "%s: %s: \"version\" must be an integer >= 1", name, where);
	t = str_of(get(o, "target"), TUF_MAX_NAME);
	if (!t || !tuf__valid_name(t))
		return fail(e, -EINVAL, "%s: %s: \"target\" must be a target name", name, where);
	r->target = strdup(t);
	if (!r->target)
		return fail(e, -ENOMEM, "%s: out of memory", name);
	v = get(o, "urgent");
	if (v && !json_object_is_type(v, json_type_boolean))
		return fail(e, -EINVAL, "%s: %s: \"urgent\" must be true or false", name, where);
	r->urgent = v && json_object_get_boolean(v);
	v = get(o, "halted");
	if (v) {
		const char *h = str_of(v, 512);

		if (!h)
			return fail(e, -EINVAL, "%s: %s: \"halted\" must be the reason (text)", name,
				    where);
		r->halted = strdup(h);
		if (!r->halted)
			return fail(e, -ENOMEM, "%s: out of memory", name);
	}
	rings = get(o, "rings");
	if (!rings)
		return 0;
	if (!json_object_is_type(rings, json_type_object))
		return fail(e, -EINVAL, "%s: %s: \"rings\" must map ring names to times", name,
			    where);
	json_object_object_foreach(rings, rn, tv) {
		int idx = ring_index(doc, rn);
		const char *ts = str_of(tv, 32);

		if (idx < 0)
			return fail(e, -EINVAL, "%s: %s: no ring named \"%.64s\"", name, where, rn);
		if (!ts || bundle__parse_time(ts, strlen(ts), &r->ring_time[idx]) ||
		    r->ring_time[idx] <= 0)
			return fail(e, -EINVAL, "%s: %s: rings.%s must be a time like "
				    "2024-07-19T04:09:00Z", name, where, rn);
	}
	return 0;
}

static int parse_releases(struct rollout_doc *doc, json_object *a, const char *name,
			  struct tuf_err *e)
{
	size_t n;
	int err;

	if (!a)
		return 0;
	if (!json_object_is_type(a, json_type_array))
		return fail(e, -EINVAL, "%s: \"releases\" must be an array", name);
	n = json_object_array_length(a);
	if (n > ROLLOUT_MAX_RELEASES)
		return fail(e, -EINVAL, "%s: more than %d releases", name, ROLLOUT_MAX_RELEASES);
	doc->releases = calloc(n ? n : 1, sizeof(*doc->releases));
	if (!doc->releases)
		return fail(e, -ENOMEM, "%s: out of memory", name);
	for (size_t i = 0; i < n; i++) {
		err = parse_release(doc, &doc->releases[i], json_object_array_get_idx(a, i), i,
				    name, e);
		doc->n_releases++;
		if (err)
			return err;
	}
	qsort(doc->releases, n, sizeof(*doc->releases), cmp_release);
	for (size_t i = 1; i < n; i++)
		if (doc->releases[i].version == doc->releases[i - 1].version)
			return fail(e, -EINVAL, "%s: release version %lld is listed twice", name,
				    (long long)doc->releases[i].version);
	return 0;
}

static bool parse_hhmm(const char *s, int *min)
{
	if (!s || strlen(s) != 5 || s[2] != ':')
		return false;
	for (int i = 0; i < 5; i++)
		if (i != 2 && (s[i] < '0' || s[i] > '9'))
			return false;
	int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');

	if (h > 23 || m > 59)
		return false;
	*min = h * 60 + m;
	return true;
}

static int parse_window(struct rollout_window *w, json_object *o, const char *name,
			const char *group, struct tuf_err *e)
{
	static const char *const keys[] = { "days", "start", "end", NULL };
	static const char *const dn[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };
	json_object *days;
	int err;

	if (!json_object_is_type(o, json_type_object))
		return fail(e, -EINVAL, "%s: group %s: a window must be an object", name, group);
	err = only_keys(o, keys, name, "window", e);
	if (err)
		return err;
	if (!parse_hhmm(str_of(get(o, "start"), 5), &w->start) ||
	    !parse_hhmm(str_of(get(o, "end"), 5), &w->end) || w->start == w->end)
		return fail(e, -EINVAL, "%s: group %s: a window needs \"start\" and \"end\" as "
			    "HH:MM (UTC), not equal", name, group);
	days = get(o, "days");
	if (!days) {
		w->days = 0x7f;
		return 0;
	}
	if (!json_object_is_type(days, json_type_array) || json_object_array_length(days) == 0 ||
	    json_object_array_length(days) > 7)
		return fail(e, -EINVAL, "%s: group %s: \"days\" must list 1 to 7 of sun, mon, tue, "
			    "wed, thu, fri, sat", name, group);
	for (size_t i = 0; i < json_object_array_length(days); i++) {
		const char *d = str_of(json_object_array_get_idx(days, i), 3);
		int k;

		for (k = 0; k < 7; k++)
			if (d && !strcmp(d, dn[k]))
				break;
		if (k == 7)
			return fail(e, -EINVAL, "%s: group %s: \"days\" must list 1 to 7 of sun, mon, "
				    "tue, wed, thu, fri, sat", name, group);
		w->days |= (uint8_t)(1u << k);
	}
	return 0;
}

static int cmp_group(const void *a, const void *b)
{
	return strcmp(((const struct rollout_group *)a)->name,
		      ((const struct rollout_group *)b)->name);
}

static int parse_group(struct rollout_group *g, json_object *o, const char *name,
		       struct tuf_err *e)
{
	static const char *const keys[] = { "policy", "version", "windows", NULL };
	static const struct { const char *s; enum rollout_policy p; } pol[] = {
		{ "latest", ROLLOUT_LATEST }, { "n-1", ROLLOUT_N1 }, { "n-2", ROLLOUT_N2 },
		{ "pin", ROLLOUT_PIN }, { "pause", ROLLOUT_PAUSE },
	};
	json_object *w;
	const char *p;
	size_t i;
	int err;

	if (!json_object_is_type(o, json_type_object))
		return fail(e, -EINVAL, "%s: group %s must be an object", name, g->name);
	err = only_keys(o, keys, name, g->name, e);
	if (err)
		return err;
	p = str_of(get(o, "policy"), 16);
	for (i = 0; i < sizeof(pol) / sizeof(pol[0]); i++)
		if (p && !strcmp(p, pol[i].s))
			break;
	if (i == sizeof(pol) / sizeof(pol[0]))
		return fail(e, -EINVAL, "%s: group %s: \"policy\" must be latest, n-1, n-2, pin or "
			    "pause", name, g->name);
	g->policy = pol[i].p;
	if (g->policy == ROLLOUT_PIN) {
		if (!int_of(get(o, "version"), 1, INT64_MAX / 2, &g->pin))
			return fail(e, -EINVAL, "%s: group %s: \"pin\" needs \"version\" (>= 1)", name,
				    g->name);
	} else if (get(o, "version")) {
		return fail(e, -EINVAL, "%s: group %s: \"version\" goes with \"policy\": \"pin\" "
			    "only", name, g->name);
	}
	w = get(o, "windows");
	if (!w)
		return 0;
	if (!json_object_is_type(w, json_type_array) ||
	    json_object_array_length(w) > ROLLOUT_MAX_WINDOWS)
		return fail(e, -EINVAL, "%s: group %s: \"windows\" must be an array of at most %d",
			    name, g->name, ROLLOUT_MAX_WINDOWS);
	for (i = 0; i < json_object_array_length(w); i++) {
		err = parse_window(&g->windows[i], json_object_array_get_idx(w, i), name, g->name,
				   e);
		if (err)
			return err;
		g->n_windows++;
	}
	return 0;
}

static int parse_groups(struct rollout_doc *doc, json_object *o, const char *name,
			struct tuf_err *e)
{
	size_t n;
	int err;

	if (!o)
		return 0;
	if (!json_object_is_type(o, json_type_object))
		return fail(e, -EINVAL, "%s: \"groups\" must map group names to policies", name);
	n = (size_t)json_object_object_length(o);
	if (n > ROLLOUT_MAX_GROUPS)
		return fail(e, -EINVAL, "%s: more than %d groups", name, ROLLOUT_MAX_GROUPS);
	doc->groups = calloc(n ? n : 1, sizeof(*doc->groups));
	if (!doc->groups)
		return fail(e, -ENOMEM, "%s: out of memory", name);
	json_object_object_foreach(o, gn, go) {
		struct rollout_group *g = &doc->groups[doc->n_groups];

		if (doc->n_groups >= n)
			break;
		if (!plain_name(gn))
			return fail(e, -EINVAL, "%s: group name \"%.64s\" is not valid", name, gn);
		g->name = strdup(gn);
		if (!g->name)
			return fail(e, -ENOMEM, "%s: out of memory", name);
		doc->n_groups++;
		err = parse_group(g, go, name, e);
		if (err)
			return err;
	}
	qsort(doc->groups, doc->n_groups, sizeof(*doc->groups), cmp_group);
	return 0;
}

static int cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int parse_kill(struct rollout_doc *doc, json_object *o, const char *name,
		      struct tuf_err *e)
{
	static const char *const keys[] = { "versions", "rules", NULL };
	json_object *v, *r;
	size_t n;
	int err;

	if (!o)
		return 0;
	if (!json_object_is_type(o, json_type_object))
		return fail(e, -EINVAL, "%s: \"kill_switch\" must be an object", name);
	err = only_keys(o, keys, name, "kill_switch", e);
	if (err)
		return err;
	v = get(o, "versions");
	r = get(o, "rules");
	if ((v && !json_object_is_type(v, json_type_array)) ||
	    (r && !json_object_is_type(r, json_type_array)))
		return fail(e, -EINVAL, "%s: kill_switch.versions and .rules must be arrays", name);
	n = v ? json_object_array_length(v) : 0;
	if (n > ROLLOUT_MAX_KILLED)
		return fail(e, -EINVAL, "%s: more than %d killed versions", name,
			    ROLLOUT_MAX_KILLED);
	doc->killed_versions = calloc(n ? n : 1, sizeof(int64_t));
	if (!doc->killed_versions)
		return fail(e, -ENOMEM, "%s: out of memory", name);
	for (size_t i = 0; i < n; i++)
		if (!int_of(json_object_array_get_idx(v, i), 1, INT64_MAX / 2,
			    &doc->killed_versions[doc->n_killed_versions++]))
			return fail(e, -EINVAL, "%s: kill_switch.versions[%zu] must be a version >= 1",
				    name, i);
	n = r ? json_object_array_length(r) : 0;
	if (n > ROLLOUT_MAX_KILLED)
		return fail(e, -EINVAL, "%s: more than %d killed rules", name, ROLLOUT_MAX_KILLED);
	doc->killed_rules = calloc(n ? n : 1, sizeof(char *));
	if (!doc->killed_rules)
		return fail(e, -ENOMEM, "%s: out of memory", name);
	for (size_t i = 0; i < n; i++) {
		const char *id = str_of(json_object_array_get_idx(r, i), ROLLOUT_MAX_NAME);

		if (!id)
			return fail(e, -EINVAL, "%s: kill_switch.rules[%zu] must be a rule id", name,
				    i);
		doc->killed_rules[i] = strdup(id);
		if (!doc->killed_rules[i])
			return fail(e, -ENOMEM, "%s: out of memory", name);
		doc->n_killed_rules++;
	}
	qsort(doc->killed_rules, doc->n_killed_rules, sizeof(char *), cmp_strp);
	return 0;
}

int rollout__parse(struct rollout_doc *doc, const char *name, const char *buf, size_t len,
		   struct tuf_err *e)
{
	static const char *const keys[] = { "_type", "version", "salt", "rings", "releases",
		"groups", "kill_switch", NULL };
	json_object *o;
	const char *t, *salt;
	int err;

	memset(doc, 0, sizeof(*doc));
	if (len > ROLLOUT_MAX_LEN)
		return fail(e, -EFBIG, "%s: larger than %d bytes", name, ROLLOUT_MAX_LEN);
	o = tuf__parse_json(name, (const uint8_t *)buf, len, e);
	if (!o)
		return -EINVAL;
	if (!json_object_is_type(o, json_type_object)) {
		err = fail(e, -EINVAL, "%s: must be a JSON object", name);
		goto cleanup;
	}
	err = only_keys(o, keys, name, "the document", e);
	if (err)
		goto cleanup;
	t = str_of(get(o, "_type"), 16);
	if (!t || strcmp(t, "rollout")) {
		err = fail(e, -EINVAL, "%s: \"_type\" must be \"rollout\"", name);
		goto cleanup;
	}
	if (!int_of(get(o, "version"), 1, INT64_MAX / 2, &doc->version)) {
		err = fail(e, -EINVAL, "%s: \"version\" must be an integer >= 1", name);
		goto cleanup;
	}
	salt = str_of(get(o, "salt"), ROLLOUT_MAX_NAME);
	if (!salt) {
		err = fail(e, -EINVAL, "%s: \"salt\" must be text of 1 to %d bytes", name,
			   ROLLOUT_MAX_NAME);
		goto cleanup;
	}
	doc->salt = strdup(salt);
	if (!doc->salt) {
		err = fail(e, -ENOMEM, "%s: out of memory", name);
		goto cleanup;
	}
	err = parse_rings(doc, get(o, "rings"), name, e);
	if (!err)
		err = parse_releases(doc, get(o, "releases"), name, e);
	if (!err)
		err = parse_groups(doc, get(o, "groups"), name, e);
	if (!err)
		err = parse_kill(doc, get(o, "kill_switch"), name, e);
cleanup:
	json_object_put(o);
	return err;
}

/* ---- rings and choice ---- */

unsigned rollout__bucket(const char *host_id, const char *salt)
{
	crypto_hash_sha256_state st;
	uint8_t h[32], zero = 0;
	uint64_t v = 0;

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const uint8_t *)salt, strlen(salt));
	crypto_hash_sha256_update(&st, &zero, 1);
	crypto_hash_sha256_update(&st, (const uint8_t *)host_id, strlen(host_id));
	crypto_hash_sha256_final(&st, h);
	for (int i = 0; i < 8; i++)
		v = v << 8 | h[i];
	return (unsigned)(v % ROLLOUT_BP_ALL);
}

size_t rollout__ring(const char *host_id, const char *salt, const struct rollout_ring *rings,
		     size_t n)
{
	unsigned b = rollout__bucket(host_id, salt), cum = 0;

	for (size_t i = 0; i < n; i++) {
		cum += rings[i].hosts_bp;
		if (b < cum)
			return i;
	}
	return n ? n - 1 : 0;
}

int64_t rollout__reach_time(const struct rollout_doc *doc, const struct rollout_release *r,
			    size_t ring)
{
	int64_t t;

	if (ring >= doc->n_rings || !r->ring_time[0])
		return INT64_MAX;
	t = r->ring_time[0];
	for (size_t i = 1; i <= ring; i++) {
		const struct rollout_ring *prev = &doc->rings[i - 1];
		int64_t after = t + (r->urgent ? prev->urgent_bake : prev->bake);

		if (!r->ring_time[i])
			return INT64_MAX;
		t = r->ring_time[i] > after ? r->ring_time[i] : after;
	}
	return t;
}

bool rollout__version_killed(const struct rollout_doc *doc, int64_t version)
{
	for (size_t i = 0; i < doc->n_killed_versions; i++)
		if (doc->killed_versions[i] == version)
			return true;
	return false;
}

bool rollout__rule_killed(const struct rollout_doc *doc, const char *rule_id)
{
	if (!rule_id || !doc->n_killed_rules)
		return false;
	return bsearch(&rule_id, doc->killed_rules, doc->n_killed_rules, sizeof(char *),
		       cmp_strp) != NULL;
}

static const struct rollout_release *release_of(const struct rollout_doc *doc, int64_t v)
{
	struct rollout_release key = { .version = v };

	if (!doc->n_releases)
		return NULL;
	return bsearch(&key, doc->releases, doc->n_releases, sizeof(key), cmp_release);
}

/* Why version v must not run on this host, or NULL. */
static const char *why_bad(const struct rollout_doc *doc, int64_t v,
			   const struct rollout_health *h)
{
	const struct rollout_release *r = release_of(doc, v);

	if (rollout__version_killed(doc, v))
		return "killed";
	if (r && r->halted)
		return "halted";
	for (size_t i = 0; h && i < h->n_bad; i++)
		if (h->bad[i] == v)
			return "rolled back on this host";
	return NULL;
}

static bool in_window(const struct rollout_group *g, int64_t now)
{
	time_t t = (time_t)now;
	struct tm tm;
	int m, dow, yest;

	if (!g || !g->n_windows)
		return true;
	gmtime_r(&t, &tm);
	m = tm.tm_hour * 60 + tm.tm_min;
	dow = tm.tm_wday;
	yest = (dow + 6) % 7;
	for (size_t i = 0; i < g->n_windows; i++) {
		const struct rollout_window *w = &g->windows[i];

		if (w->start < w->end) {
			if ((w->days >> dow & 1) && m >= w->start && m < w->end)
				return true;
		} else if (((w->days >> dow & 1) && m >= w->start) ||
			   ((w->days >> yest & 1) && m < w->end)) {
			return true;
		}
	}
	return false;
}

static const struct rollout_group *group_of(const struct rollout_doc *doc, const char *name)
{
	struct rollout_group key = { .name = (char *)(name ? name : "default") };
	const struct rollout_group *g = NULL;

	if (doc->n_groups)
		g = bsearch(&key, doc->groups, doc->n_groups, sizeof(key), cmp_group);
	if (!g && name && doc->n_groups) {
		key.name = "default";
		g = bsearch(&key, doc->groups, doc->n_groups, sizeof(key), cmp_group);
	}
	return g;
}

/* The newest candidate below version limit (INT64_MAX: any), skipping
 * the `skip` newest ones; NULL when there is none. */
static const struct rollout_release *candidate(const struct rollout_doc *doc, size_t ring,
					       int64_t now, const struct rollout_health *h,
					       int64_t limit, unsigned skip, bool oldest_ok)
{
	const struct rollout_release *last = NULL;

	for (size_t i = doc->n_releases; i-- > 0;) {
		const struct rollout_release *r = &doc->releases[i];

		if (r->version >= limit || why_bad(doc, r->version, h) ||
		    rollout__reach_time(doc, r, ring) > now)
			continue;
		last = r;
		if (skip-- == 0)
			return r;
	}
	return oldest_ok ? last : NULL;
}

static void choose(struct rollout_choice *out, const struct rollout_release *r, int64_t current,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void choose(struct rollout_choice *out, const struct rollout_release *r, int64_t current,
		   const char *fmt, ...)
{
	va_list ap;

	out->version = r ? r->version : 0;
	out->target = r ? r->target : NULL;
	out->change = r && r->version != current;
	va_start(ap, fmt);
	vsnprintf(out->reason, sizeof(out->reason), fmt, ap);
	va_end(ap);
}

int rollout__select(const struct rollout_doc *doc, const char *host_id, const char *group,
		    int64_t now, const struct rollout_health *health,
		    struct rollout_choice *out)
{
	const struct rollout_group *g;
	const struct rollout_release *r;
	int64_t cur = health ? health->current : 0;
	const char *bad, *rn;

	memset(out, 0, sizeof(*out));
	if (!doc || !host_id || doc->n_rings == 0)
		return -EINVAL;
	out->ring = rollout__ring(host_id, doc->salt, doc->rings, doc->n_rings);
	out->ring_name = rn = doc->rings[out->ring].name;
	g = group_of(doc, group);

	/* a halted, killed or locally failed version is left at once, in or
	 * out of a window, whatever the policy */
	bad = cur ? why_bad(doc, cur, health) : NULL;
	if (bad) {
		r = candidate(doc, out->ring, now, health, cur, 0, false);
		if (r) {
			choose(out, r, cur, "current version %lld is %s: back to %lld",
			       (long long)cur, bad, (long long)r->version);
		} else {
			out->current_bad = true;
			choose(out, NULL, cur, "current version %lld is %s and no older release has "
			       "reached ring %s: fall back to the last-known-good", (long long)cur,
			       bad, rn);
		}
		return 0;
	}
	if (!in_window(g, now)) {
		r = release_of(doc, cur);
		choose(out, r, cur, "outside the maintenance windows of group %s: stay on %lld",
		       g->name, (long long)cur);
		out->version = cur;
		out->target = r ? r->target : NULL;
		out->change = false;
		return 0;
	}
	switch (g ? g->policy : ROLLOUT_LATEST) {
	case ROLLOUT_LATEST:
		r = candidate(doc, out->ring, now, health, INT64_MAX, 0, false);
		if (r)
			choose(out, r, cur, "latest release in ring %s", rn);
		else
			choose(out, NULL, cur, "no release has reached ring %s yet", rn);
		break;
	case ROLLOUT_N1:
	case ROLLOUT_N2: {
		unsigned k = g->policy == ROLLOUT_N1 ? 1 : 2;

		r = candidate(doc, out->ring, now, health, INT64_MAX, k, true);
		if (r)
			choose(out, r, cur, "group %s follows N-%u in ring %s", g->name, k, rn);
		else
			choose(out, NULL, cur, "no release has reached ring %s yet", rn);
		break;
	}
	case ROLLOUT_PIN:
		r = release_of(doc, g->pin);
		if (!r) {
			choose(out, NULL, cur, "group %s is pinned to %lld, which is not a release",
			       g->name, (long long)g->pin);
		} else if ((bad = why_bad(doc, g->pin, health))) {
			r = candidate(doc, out->ring, now, health, g->pin, 0, false);
			choose(out, r, cur, "group %s is pinned to %lld, which is %s: %s", g->name,
			       (long long)g->pin, bad, r ? "the newest release below it" :
			       "no release below it has reached this ring");
		} else {
			choose(out, r, cur, "group %s is pinned to %lld", g->name, (long long)g->pin);
		}
		break;
	case ROLLOUT_PAUSE:
		choose(out, release_of(doc, cur), cur, "group %s is paused on %lld", g->name,
		       (long long)cur);
		break;
	}
	if (!out->version && cur) {
		/* nothing to move to: what runs stays */
		r = release_of(doc, cur);
		out->version = cur;
		out->target = r ? r->target : NULL;
		out->change = false;
	}
	return 0;
}

/* ---- writing the document back (the controller's promotions and halts) ---- */

static int add_obj(json_object *o, const char *k, json_object *v)
{
	if (!v)
		return -ENOMEM;
	if (json_object_object_add(o, k, v)) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

static int add_int(json_object *o, const char *k, int64_t v)
{
	return add_obj(o, k, json_object_new_int64(v));
}

static int add_str(json_object *o, const char *k, const char *s)
{
	return add_obj(o, k, json_object_new_string(s));
}

static int add_time(json_object *o, const char *k, int64_t t)
{
	char buf[32];

	bundle__format_time(t, buf, sizeof(buf));
	return add_str(o, k, buf);
}

static json_object *ring_json(const struct rollout_ring *r)
{
	static const char *const gk[] = { "max_engine_restarts", "max_rule_errors",
		"max_drop_ppm", "max_cpu_permille", "min_hosts" };
	const int64_t gv[] = { r->gates.max_engine_restarts, r->gates.max_rule_errors,
			       r->gates.max_drop_ppm, r->gates.max_cpu_permille,
			       r->gates.min_hosts };
	json_object *o = json_object_new_object(), *g = json_object_new_object();
	int err = !o || !g ? -ENOMEM : 0;
	bool any = false;

	if (!err)
		err = add_str(o, "name", r->name);
	if (!err)
		err = add_int(o, "hosts_bp", r->hosts_bp);
	if (!err)
		err = add_int(o, "bake_seconds", r->bake);
	if (!err && r->urgent_bake != r->bake)
		err = add_int(o, "urgent_bake_seconds", r->urgent_bake);
	/* absent gates parse as -1 (min_hosts as 0): write only those set */
	for (size_t i = 0; !err && i < sizeof(gk) / sizeof(gk[0]); i++) {
		if (gv[i] < 0 || (i == 4 && gv[i] == 0))
			continue;
		err = add_int(g, gk[i], gv[i]);
		any = true;
	}
	if (!err && any) {
		err = add_obj(o, "gates", g);
		g = NULL;
	}
	json_object_put(g);
	if (err) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static json_object *release_json(const struct rollout_doc *doc, const struct rollout_release *r)
{
	json_object *o = json_object_new_object(), *rings = json_object_new_object();
	int err = !o || !rings ? -ENOMEM : 0;

	if (!err)
		err = add_int(o, "version", r->version);
	if (!err)
		err = add_str(o, "target", r->target);
	if (!err && r->urgent)
		err = add_obj(o, "urgent", json_object_new_boolean(1));
	if (!err && r->halted)
		err = add_str(o, "halted", r->halted);
	for (size_t i = 0; !err && i < doc->n_rings; i++)
		if (r->ring_time[i])
			err = add_time(rings, doc->rings[i].name, r->ring_time[i]);
	if (!err) {
		err = add_obj(o, "rings", rings);
		rings = NULL;
	}
	json_object_put(rings);
	if (err) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static json_object *group_json(const struct rollout_group *g)
{
	static const char *const pol[] = { [ROLLOUT_LATEST] = "latest", [ROLLOUT_N1] = "n-1",
		[ROLLOUT_N2] = "n-2", [ROLLOUT_PIN] = "pin", [ROLLOUT_PAUSE] = "pause" };
	static const char *const dn[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };
	json_object *o = json_object_new_object(), *ws = NULL;
	int err = o ? add_str(o, "policy", pol[g->policy]) : -ENOMEM;

	if (!err && g->policy == ROLLOUT_PIN)
		err = add_int(o, "version", g->pin);
	if (!err && g->n_windows) {
		ws = json_object_new_array();
		err = ws ? 0 : -ENOMEM;
	}
	for (size_t i = 0; !err && i < g->n_windows; i++) {
		const struct rollout_window *w = &g->windows[i];
		json_object *wo = json_object_new_object(), *days = NULL;
		char hm[8];

		err = wo ? 0 : -ENOMEM;
		if (!err && w->days != 0x7f) {
			days = json_object_new_array();
			for (int d = 0; days && d < 7; d++)
				if (w->days >> d & 1)
					json_object_array_add(days, json_object_new_string(dn[d]));
			err = add_obj(wo, "days", days);
		}
		snprintf(hm, sizeof(hm), "%02d:%02d", w->start / 60, w->start % 60);
		if (!err)
			err = add_str(wo, "start", hm);
		snprintf(hm, sizeof(hm), "%02d:%02d", w->end / 60, w->end % 60);
		if (!err)
			err = add_str(wo, "end", hm);
		if (!err && json_object_array_add(ws, wo))
			err = -ENOMEM;
		if (err)
			json_object_put(wo);
	}
	if (!err && ws) {
		err = add_obj(o, "windows", ws);
		ws = NULL;
	}
	json_object_put(ws);
	if (err) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static int array_add(json_object *a, json_object *v)
{
	if (!v)
		return -ENOMEM;
	if (json_object_array_add(a, v)) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

int rollout__write(const struct rollout_doc *doc, char **out, size_t *len)
{
	json_object *o = json_object_new_object(), *rings = json_object_new_array();
	json_object *rels = json_object_new_array(), *groups = NULL, *ks = NULL;
	const char *s;
	int err = !o || !rings || !rels ? -ENOMEM : 0;

	*out = NULL;
	if (!err)
		err = add_str(o, "_type", "rollout");
	if (!err)
		err = add_int(o, "version", doc->version);
	if (!err)
		err = add_str(o, "salt", doc->salt);
	for (size_t i = 0; !err && i < doc->n_rings; i++)
		err = array_add(rings, ring_json(&doc->rings[i]));
	if (!err) {
		err = add_obj(o, "rings", rings);
		rings = NULL;
	}
	for (size_t i = 0; !err && i < doc->n_releases; i++)
		err = array_add(rels, release_json(doc, &doc->releases[i]));
	if (!err) {
		err = add_obj(o, "releases", rels);
		rels = NULL;
	}
	if (!err && doc->n_groups) {
		groups = json_object_new_object();
		err = groups ? 0 : -ENOMEM;
		for (size_t i = 0; !err && i < doc->n_groups; i++)
			err = add_obj(groups, doc->groups[i].name, group_json(&doc->groups[i]));
		if (!err) {
			err = add_obj(o, "groups", groups);
			groups = NULL;
		}
	}
	if (!err && (doc->n_killed_versions || doc->n_killed_rules)) {
		json_object *v = json_object_new_array(), *r = json_object_new_array();

		ks = json_object_new_object();
		err = ks && v && r ? 0 : -ENOMEM;
		for (size_t i = 0; !err && i < doc->n_killed_versions; i++)
			err = array_add(v, json_object_new_int64(doc->killed_versions[i]));
		for (size_t i = 0; !err && i < doc->n_killed_rules; i++)
			err = array_add(r, json_object_new_string(doc->killed_rules[i]));
		if (!err) {
			err = add_obj(ks, "versions", v);
			v = NULL;
		}
		if (!err) {
			err = add_obj(ks, "rules", r);
			r = NULL;
		}
		json_object_put(v);
		json_object_put(r);
		if (!err) {
			err = add_obj(o, "kill_switch", ks);
			ks = NULL;
		}
	}
	if (err)
		goto cleanup;
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
					   JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!s || !(*out = malloc(strlen(s) + 2))) {
		err = -ENOMEM;
		goto cleanup;
	}
	*len = strlen(s) + 1;
	memcpy(*out, s, *len - 1);
	(*out)[*len - 1] = '\n';
	(*out)[*len] = 0;
cleanup:
	json_object_put(rings);
	json_object_put(rels);
	json_object_put(groups);
	json_object_put(ks);
	json_object_put(o);
	return err;
}
